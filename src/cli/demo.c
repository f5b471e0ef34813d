/*
 * demo.c — `indiv demo`: the whole pipeline on the embedded default world.
 *
 * generate (only when the database does not exist yet) → profile (full build) →
 * decide → a readable summary and one example decision of each action. The default
 * world and every parameter are fixed, so two demos print the same decisions.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/fileio.h"
#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/sim.h"

/* The embedded default world: small enough to build in about a second. */
#define DEMO_CONSUMERS  2000
#define DEMO_OFFERS     300
#define DEMO_CATEGORIES 20
#define DEMO_DAYS       365
#define DEMO_SEED       42

static const char demo_help[] =
    "usage: indiv demo [--db FILE] [--out FILE]\n\n"
    "Runs indiv on the embedded default world: generates it into FILE when FILE does\n"
    "not exist (2000 consumers, 300 offers in 20 categories, 365 days, seed 42), builds\n"
    "every profile, decides for every consumer with the default model and policy\n"
    "(seed 42), and prints a summary and one example of each action.\n\n"
    "  --db FILE   world database (default: indiv-demo.db)\n"
    "  --out FILE  decisions (default: FILE with .decisions.jsonl appended)\n"
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
    fprintf(stderr, "indiv demo: generating the default world into %s (seed %d)\n", db,
            DEMO_SEED);
    int rc = indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_world_generate(log, &p, cli_progress, &ps, NULL, err);
    indiv_eventlog_close(log);
    if (rc < 0)
        remove(db); /* a half-made default world is useless: the next run starts over */
    return rc;
}

/* Full profile build as of just after the last event. */
static int demo_profile(indiv_eventlog *log, const indiv_eventlog_stats *st,
                        indiv_error *err) {
    indiv_catalog *cat = NULL;
    indiv_profile_params p;
    indiv_profile_summary sum;
    indiv_profile_params_init(&p);
    p.as_of = st->last_ts + 1;
    int rc = indiv_catalog_load(log, &cat, err);
    if (rc == INDIV_OK)
        rc = indiv_profile_build(log, cat, &p, 0, NULL, NULL, &sum, err);
    if (rc == INDIV_OK)
        printf(
            "profiles    %lld built from %lld events; %lld consumers without profiling "
            "consent have none\n",
            (long long)sum.profiled, (long long)sum.events,
            (long long)sum.skipped_consent);
    indiv_catalog_free(cat);
    return rc;
}

/* Every reason of a `none`, so that the counts add up to it: all reasons but those of a
 * contact or a deferral. */
static void print_why_none(const indiv_decision_counts *c) {
    const char *sep = "";
    printf("  why none:");
    for (int r = 0; r < INDIV_R_COUNT; r++) {
        if (r == INDIV_R_RELEVANT || r == INDIV_R_DIVERGENT_ALONE ||
            r == INDIV_R_NOT_READY || c->by_reason[r] == 0)
            continue;
        printf("%s %s %lld", sep, indiv_reason_name((indiv_reason)r),
               (long long)c->by_reason[r]);
        sep = ",";
    }
    printf("\n");
}

static int demo_decide(indiv_eventlog *log, const indiv_eventlog_stats *st,
                       const char *out, indiv_error *err) {
    indiv_model m;
    indiv_decide_opts o;
    indiv_decide_summary sum;
    indiv_model_default(&m);
    indiv_decide_opts_init(&o);
    o.policy.as_of = st->last_ts + 1;
    o.policy.seed = DEMO_SEED;
    o.out_path = out;
    indiv_decide_default_threshold(&o, &m); /* as `indiv decide` without --threshold */
    int rc = indiv_decide_run(log, &m, &o, NULL, NULL, &sum, err);
    if (rc < 0)
        return rc;
    const indiv_decision_counts *c = &sum.counts;
    int64_t contacts = c->by_action[INDIV_CONTACT];
    printf("decisions   %lld in %.2f s: contact %lld, defer %lld, none %lld -> %s\n",
           (long long)c->consumers, sum.seconds_total, (long long)contacts,
           (long long)c->by_action[INDIV_DEFER], (long long)c->by_action[INDIV_NONE],
           out);
    print_why_none(c);
    printf("  programmed serendipity: a divergent offer in %.1f%% of contacts (model %s, "
           "threshold %.4g from the %s, serendipity %.2f, seed %d)\n",
           contacts ? 100.0 * (double)c->contacts_divergent / (double)contacts : 0.0,
           m.id, o.policy.threshold, o.threshold_source, o.policy.serendipity, DEMO_SEED);
    return INDIV_OK;
}

/* Index of an action name in the examples: contact 0, defer 1, none 2; -1 otherwise. */
static int action_index(const json_t *j) {
    const char *a = json_string_value(json_object_get(j, "action"));
    if (!a)
        return -1;
    return !strcmp(a, "contact") ? 0
           : !strcmp(a, "defer") ? 1
           : !strcmp(a, "none")  ? 2
                                 : -1;
}

/* Prints the first decision of each action, preferring the ones that show the two ideas
 * of the engine: a contact carrying a divergent offer, a `none` below the threshold. */
static void print_examples(const char *out) {
    FILE *f = fopen(out, "r");
    char line[16384];
    json_t *pick[3] = {NULL, NULL, NULL};
    int preferred[3] = {0, 1, 0}; /* defer: any is fine */
    while (f && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        int k = action_index(j);
        int pref = k == 0   ? strstr(line, "\"divergent\"") != NULL
                   : k == 2 ? strstr(line, "\"below_threshold\"") != NULL
                            : 1;
        if (k >= 0 && (!pick[k] || (pref && !preferred[k]))) {
            json_decref(pick[k]);
            pick[k] = j;
            preferred[k] = pref;
        } else {
            json_decref(j);
        }
    }
    if (f)
        fclose(f);
    for (int k = 0; k < 3; k++) {
        char *s =
            pick[k] ? json_dumps(pick[k], JSON_INDENT(2) | JSON_REAL_PRECISION(4)) : NULL;
        if (s)
            printf("\nexample %s:\n%s\n",
                   json_string_value(json_object_get(pick[k], "action")), s);
        free(s);
        json_decref(pick[k]);
    }
}

int cli_demo(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *db = "indiv-demo.db", *out = NULL;
    int c;
    opterr = 0; /* our own one-line message */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return fputs(demo_help, stdout), CLI_OK;
        else
            return cli_bad_option("demo", argv[optind - 1], opts);
    }
    if (optind < argc)
        return cli_usage("demo", "unexpected argument '%s'", argv[optind]);
    char outbuf[4096];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s.decisions.jsonl", db);
        out = outbuf;
    }
    indiv_error err = {0};
    struct stat sb;
    const char *outs[] = {out};
    static const char *const names[] = {"--out"};
    /* the decisions come last: a bad --out must fail before the world is generated */
    if (indiv_path_check_outputs(db, outs, names, 1, &err) < 0 ||
        indiv_path_check_creatable(out, &err) < 0)
        return cli_fail("demo", &err);
    if (stat(db, &sb) != 0 && demo_generate(db, &err) < 0)
        return cli_fail("demo", &err);
    indiv_eventlog *log = NULL;
    indiv_eventlog_stats st;
    int rc = indiv_eventlog_open(db, 0, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_stats_get(log, &st, &err);
    if (rc == INDIV_OK) {
        printf("indiv demo — world %s\n\n", db);
        cli_print_stats(stdout, &st);
        rc = demo_profile(log, &st, &err);
    }
    if (rc == INDIV_OK)
        rc = demo_decide(log, &st, out, &err);
    indiv_eventlog_close(log);
    if (rc < 0)
        return cli_fail("demo", &err);
    print_examples(out);
    return CLI_OK;
}
