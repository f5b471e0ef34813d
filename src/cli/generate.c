/*
 * generate.c — `indiv generate`: write a synthetic world with known ground truth.
 *
 * Every world parameter of sim.h is an option (--consumers, --latent-share, ...): the
 * option table is built from indiv_world_param_at, so a parameter added to the library
 * is an option here without a change. The library validates and names the parameter at
 * fault; this file prints, draws the progress line (only on a terminal) and the summary.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "indiv/worldfit.h"

#define CMD "generate"
/* getopt_long values of the parameter options: PARAM_OPT + index in the table. */
#define PARAM_OPT 256
/* Options before the parameter ones in the getopt_long table. */
#define NFIXED 7
enum { OPT_DB = 1, OPT_PARAMS, OPT_HELP, OPT_MEASURE, OPT_LIKE, OPT_REPORT, OPT_SPLIT };

typedef struct gen_opts {
    const char *db;
    const char *measure; /* --measure DB: print its statistics only */
    const char *like;    /* --like DB: fit the world to it */
    const char *report;  /* --report FILE: where the fit report goes */
    indiv_lift_opts lift;
    int print_params;
    indiv_world_params p;
} gen_opts;

static void print_help(void) {
    printf(
        "usage: indiv generate --db FILE [--consumers N] [--offers M] [--categories C]\n"
        "                      [--days D] [--seed S] [--start TIME] [--PARAM VALUE...]\n"
        "       indiv generate --params [--PARAM VALUE...]\n\n"
        "Writes a synthetic world into a new database FILE: offers in categories, and\n"
        "consumers with true tastes (some latent), rhythms, preferred moments, channel\n"
        "habits and consent, with their history of purchases and views; the ground\n"
        "truth goes to the truth_consumers and truth_tastes tables. Same parameters and\n"
        "seed give the same database content. The model is described in "
        "docs/worlds.md.\n\n"
        "  --db FILE     database to create (refused if it already holds data)\n"
        "  --params      print the parameters as JSON and exit without writing\n"
        "  --help        this text\n\n"
        "World parameters (docs/worlds.md), each with its default value:\n");
    indiv_world_params defaults;
    indiv_world_params_init(&defaults);
    const char *group = "";
    for (size_t i = 0; i < indiv_world_param_count(); i++) {
        const indiv_world_param *d = indiv_world_param_at(i);
        char def[48];
        if (strcmp(group, d->group) != 0)
            printf("\n%s:\n", group = d->group);
        indiv_world_params_format(&defaults, d, def, sizeof def);
        printf("  --%s %s\n        %s\n", d->option, def, d->doc);
    }
}

/* getopt_long table: the fixed options, then one per parameter. Caller frees. */
static struct option *build_options(void) {
    size_t n = indiv_world_param_count();
    struct option *o = calloc(n + NFIXED + 1, sizeof *o);
    if (!o)
        return NULL;
    o[0] = (struct option){"db", required_argument, NULL, OPT_DB};
    o[1] = (struct option){"params", no_argument, NULL, OPT_PARAMS};
    o[2] = (struct option){"help", no_argument, NULL, OPT_HELP};
    o[3] = (struct option){"measure", required_argument, NULL, OPT_MEASURE};
    o[4] = (struct option){"like", required_argument, NULL, OPT_LIKE};
    o[5] = (struct option){"report", required_argument, NULL, OPT_REPORT};
    o[6] = (struct option){"lift-split", required_argument, NULL, OPT_SPLIT};
    for (size_t i = 0; i < n; i++)
        o[NFIXED + i] = (struct option){indiv_world_param_at(i)->option,
                                        required_argument, NULL, PARAM_OPT + (int)i};
    return o;
}

/* Returns CLI_OK, CLI_USAGE, or -1 after --help (exit 0). */
static int parse_args(int argc, char **argv, gen_opts *g) {
    struct option *opts = build_options();
    if (!opts) {
        fprintf(stderr, "indiv %s: out of memory\n", CMD);
        return CLI_FAIL;
    }
    int c, rc = CLI_OK;
    opterr = 0;
    optind = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == OPT_DB) {
            g->db = optarg;
        } else if (c == OPT_MEASURE) {
            g->measure = optarg;
        } else if (c == OPT_LIKE) {
            g->like = optarg;
        } else if (c == OPT_REPORT) {
            g->report = optarg;
        } else if (c == OPT_SPLIT) {
            char *end;
            g->lift.split = strtod(optarg, &end);
            if (*end || end == optarg || !(g->lift.split > 0 && g->lift.split < 1))
                rc = cli_usage(CMD, "--lift-split: '%s' is not a number in (0, 1)",
                               optarg);
        } else if (c == OPT_PARAMS) {
            g->print_params = 1;
        } else if (c == OPT_HELP || c == 'h') {
            rc = -1;
        } else if (c >= PARAM_OPT) {
            const indiv_world_param *d = indiv_world_param_at((size_t)(c - PARAM_OPT));
            indiv_error err = {0};
            if (indiv_world_params_set(&g->p, d->name, optarg, &err) < 0)
                rc = cli_usage(CMD, "--%s: %s", d->option, err.msg);
        } else {
            rc = cli_bad_option(CMD, argv[optind - 1], opts);
        }
    }
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    free(opts);
    return rc;
}

static int print_params(const indiv_world_params *p) {
    char *s = indiv_world_params_json(p);
    json_t *obj = s ? json_loads(s, 0, NULL) : NULL;
    char *pretty =
        obj ? json_dumps(obj, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(15))
            : NULL;
    if (pretty)
        printf("%s\n", pretty);
    free(pretty);
    json_decref(obj);
    free(s);
    if (!pretty) {
        fprintf(stderr, "indiv %s: out of memory\n", CMD);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void print_summary(const gen_opts *g, const indiv_world_summary *s, double secs) {
    char a[INDIV_ISO_LEN], b[INDIV_ISO_LEN];
    const indiv_world_params *p = &g->p;
    printf("generated %s (seed %llu)\n", g->db, (unsigned long long)p->seed);
    printf("  history     %s to %s (%lld day%s)\n", indiv_time_format(p->start_ts, a),
           indiv_time_format(p->start_ts + p->days * INDIV_SECONDS_PER_DAY, b),
           (long long)p->days, p->days == 1 ? "" : "s");
    printf("  consumers   %lld\n", (long long)s->consumers);
    printf("  offers      %lld in %lld categories (%lld with limited validity)\n",
           (long long)s->offers, (long long)s->categories, (long long)s->limited_offers);
    printf("  events      %lld (view %lld, purchase %lld)\n", (long long)s->events,
           (long long)s->by_type[INDIV_EV_VIEW],
           (long long)s->by_type[INDIV_EV_PURCHASE]);
    printf("  latent      %lld latent tastes in %lld consumers\n",
           (long long)s->latent_tastes, (long long)s->consumers_with_latent);
    printf("  consent     %lld refuse profiling, %lld refuse contact\n",
           (long long)s->no_profiling_consent, (long long)s->no_contact_consent);
    printf("  time        %.2f s (%.0f events/s)\n", secs,
           secs > 0 ? (double)s->events / secs : 0.0);
}

/* Prints one statistic per line: rows from indiv_worldfit_compare(s, s). */
static void print_stats(const char *db, const indiv_log_stats *s) {
    indiv_fit_row rows[INDIV_FIT_ROWS_MAX];
    size_t n = indiv_worldfit_compare(s, s, rows);
    char a[INDIV_ISO_LEN], b[INDIV_ISO_LEN];
    printf("statistics of %s (purchases %s to %s)\n", db,
           indiv_time_format(s->first_ts, a), indiv_time_format(s->last_ts, b));
    for (size_t i = 0; i < n; i++)
        if (strstr(rows[i].name, "distance") == NULL && rows[i].name[0] != 'n')
            printf("  %-44s %.6g\n", rows[i].name, rows[i].real);
    printf("  %-44s %lld lines in %lld orders\n", "lines", (long long)s->lines,
           (long long)s->orders);
    const indiv_lift *l = &s->lift;
    char split[INDIV_ISO_LEN];
    printf("  %-44s %.3f (95%% CI %.3f to %.3f)\n", "new-category adoption lift", l->lift,
           l->ci_lo, l->ci_hi);
    printf(
        "    split at %s; %lld consumers on both sides; %lld new (consumer, category)\n"
        "    pairs, %lld near; adopted %.4f near vs %.4f far (crude)\n",
        indiv_time_format(l->split_ts, split), (long long)l->consumers,
        (long long)l->pairs, (long long)l->pairs_near, l->rate_near, l->rate_far);
}

static int run_measure(const gen_opts *g) {
    indiv_error err = {0};
    indiv_eventlog *log = NULL;
    indiv_log_stats s;
    if (indiv_eventlog_open(g->measure, INDIV_EVENTLOG_READONLY, &log, &err) < 0)
        return cli_fail(CMD, &err);
    int rc = indiv_worldfit_measure(log, &g->lift, &s, &err);
    indiv_eventlog_close(log);
    if (rc < 0)
        return cli_fail(CMD, &err);
    print_stats(g->measure, &s);
    return CLI_OK;
}

static int run(gen_opts *g) {
    indiv_error err = {0};
    indiv_eventlog *log = NULL;
    indiv_world_summary sum;
    cli_progress_state ps = {0};
    double t0 = cli_now();
    if (indiv_eventlog_open(g->db, INDIV_EVENTLOG_CREATE, &log, &err) < 0)
        return cli_fail(CMD, &err);
    int rc = indiv_world_generate(log, &g->p, cli_progress, &ps, &sum, &err);
    indiv_eventlog_close(log);
    if (rc < 0 && ps.start != 0)
        fputc('\n', stderr); /* end a progress line cut short by the failure */
    if (rc < 0)
        return cli_fail(CMD, &err);
    print_summary(g, &sum, cli_now() - t0);
    return CLI_OK;
}

int cli_generate(int argc, char **argv) {
    gen_opts g = {0};
    indiv_world_params_init(&g.p);
    int rc = parse_args(argc, argv, &g);
    if (rc == -1) {
        print_help();
        return CLI_OK;
    }
    if (rc != CLI_OK)
        return rc;
    indiv_error err = {0};
    if (indiv_world_params_validate(&g.p, &err) < 0)
        return cli_usage(CMD, "%s", err.msg);
    if (g.print_params)
        return print_params(&g.p);
    if (g.measure)
        return run_measure(&g);
    if (!g.db)
        return cli_usage(CMD, "--db FILE is required");
    return run(&g);
}
