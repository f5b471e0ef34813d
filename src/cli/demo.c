/*
 * demo.c — `indiv demo`: the pipeline on the embedded default world.
 *
 * The default world is generated (with fixed parameters and seed) when the database does
 * not exist yet, so that a fresh clone has something to show; later stages of the
 * pipeline (profiles, decisions) are added here as they land.
 */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/sim.h"

/* The embedded default world: small enough to build in about a second. */
#define DEMO_CONSUMERS 2000
#define DEMO_OFFERS 300
#define DEMO_CATEGORIES 20
#define DEMO_DAYS 365
#define DEMO_SEED 42

static const char demo_help[] =
    "usage: indiv demo [--db FILE]\n\n"
    "Runs indiv on the embedded default world: generates it into FILE when FILE does\n"
    "not exist (2000 consumers, 300 offers in 20 categories, 365 days, seed 42), then\n"
    "prints what it holds.\n\n"
    "  --db FILE   world database (default: indiv-demo.db)\n"
    "  -h, --help  this help\n";

static int demo_generate(const char *db, indiv_error *err) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = DEMO_CONSUMERS;
    p.offers = DEMO_OFFERS;
    p.categories = DEMO_CATEGORIES;
    p.days = DEMO_DAYS;
    p.seed = DEMO_SEED;
    indiv_eventlog *log = NULL;
    cli_progress_state ps = {0};
    indiv_world_summary sum;
    fprintf(stderr, "indiv demo: generating the default world into %s (seed %d)\n", db,
            DEMO_SEED);
    int rc = indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_world_generate(log, &p, cli_progress, &ps, &sum, err);
    indiv_eventlog_close(log);
    if (rc < 0)
        remove(db); /* a half-made default world is useless: the next run starts over */
    return rc;
}

int cli_demo(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *db = "indiv-demo.db";
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'h')
            return fputs(demo_help, stdout), CLI_OK;
        else
            return cli_usage("demo", "unknown option");
    }
    if (optind < argc)
        return cli_usage("demo", "unexpected argument '%s'", argv[optind]);
    indiv_error err = {0};
    struct stat sb;
    if (stat(db, &sb) != 0 && demo_generate(db, &err) < 0)
        return cli_fail("demo", &err);
    indiv_eventlog *log = NULL;
    indiv_eventlog_stats st;
    if (indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err) < 0 ||
        indiv_eventlog_stats_get(log, &st, &err) < 0) {
        indiv_eventlog_close(log);
        return cli_fail("demo", &err);
    }
    printf("indiv demo — world %s\n\n", db);
    cli_print_stats(stdout, &st);
    printf("\nnext: indiv info --db %s; the profile, decide and simulate stages come with\n"
           "the next milestones (see README.md).\n",
           db);
    indiv_eventlog_close(log);
    return CLI_OK;
}
