/*
 * generate.c — `indiv generate`: write a synthetic world with known ground truth.
 *
 * Every world parameter of sim.h is an option (--consumers, --latent-share, ...): the
 * option table is built from indiv_world_param_at, so a parameter added to the library
 * is an option here without a change. The library validates and names the parameter at
 * fault; this file prints, draws the progress line (only on a terminal) and the summary.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "indiv/worldfit.h"

#define CMD "generate"
/* getopt_long values of the parameter options: PARAM_OPT + index in the table. */
#define PARAM_OPT 256
/* Options before the parameter ones in the getopt_long table. */
#define NFIXED 8
enum {
    OPT_DB = 1,
    OPT_PARAMS,
    OPT_HELP,
    OPT_MEASURE,
    OPT_LIKE,
    OPT_REPORT,
    OPT_SPLIT,
    OPT_PILOTS
};
/* Pilot worlds of --like (indiv_worldfit_calibrate). */
#define PILOTS_DEFAULT 6
#define PILOTS_MAX     50
/* Most parameters the table may hold (flags of those given on the command line). */
#define MAX_PARAMS 256

typedef struct gen_opts {
    const char *db;
    const char *measure; /* --measure DB: print its statistics only */
    const char *like;    /* --like DB: fit the world to it */
    const char *report;  /* --report FILE: where the fit report goes */
    indiv_lift_opts lift;
    int64_t pilots;
    unsigned char given[MAX_PARAMS]; /* parameters set on the command line */
    int print_params;
    indiv_world_params p;
} gen_opts;

static void print_help(void) {
    printf(
        "usage: indiv generate --db FILE [--consumers N] [--offers M] [--categories C]\n"
        "                      [--days D] [--seed S] [--start TIME] [--PARAM VALUE...]\n"
        "       indiv generate --params [--PARAM VALUE...]\n"
        "       indiv generate --like REAL.db --db FILE [--report FILE] [--pilots N]\n"
        "                      [--PARAM VALUE...]\n"
        "       indiv generate --measure DB [--lift-split S]\n\n"
        "Writes a synthetic world into a new database FILE: offers in categories, and\n"
        "consumers with true tastes (some latent), rhythms, preferred moments, channel\n"
        "habits and consent, with their history of purchases and views; the ground\n"
        "truth goes to the truth_consumers and truth_tastes tables. Same parameters and\n"
        "seed give the same database content. The model is described in "
        "docs/worlds.md.\n\n"
        "  --db FILE     database to create (refused if it already holds data)\n"
        "  --params      print the parameters as JSON and exit without writing\n"
        "  --like DB     fit the world to the purchases of DB (an imported log): its\n"
        "                popularity, orders, intervals, baskets, hours, weekdays and\n"
        "                adoption lift; parameters given as options are kept as given\n"
        "                (--consumers N: a world of N consumers); prints a fit report\n"
        "  --report FILE where the fit report goes as JSON (default FILE.fit.json)\n"
        "  --pilots N    pilot worlds of the fit (default 6; 0: statistics only)\n"
        "  --measure DB  print the statistics of DB's purchases and exit\n"
        "  --lift-split S  share of the period before the adoption lift's split (0.5)\n"
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
    o[7] = (struct option){"pilots", required_argument, NULL, OPT_PILOTS};
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
        } else if (c == OPT_PILOTS) {
            rc = cli_int64(CMD, "--pilots", optarg, 0, PILOTS_MAX, &g->pilots);
        } else if (c == OPT_PARAMS) {
            g->print_params = 1;
        } else if (c == OPT_HELP || c == 'h') {
            rc = -1;
        } else if (c >= PARAM_OPT) {
            const indiv_world_param *d = indiv_world_param_at((size_t)(c - PARAM_OPT));
            indiv_error err = {0};
            if (indiv_world_params_set(&g->p, d->name, optarg, &err) < 0)
                rc = cli_usage(CMD, "--%s: %s", d->option, err.msg);
            else if ((size_t)(c - PARAM_OPT) < MAX_PARAMS)
                g->given[c - PARAM_OPT] = 1;
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

/* Generates into the database at path (created when missing). */
static int generate_into(const char *path, gen_opts *g, indiv_world_summary *sum,
                         indiv_error *err) {
    indiv_eventlog *log = NULL;
    cli_progress_state ps = {0};
    if (indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, err) < 0)
        return err->code;
    int rc = indiv_world_generate(log, &g->p, cli_progress, &ps, sum, err);
    indiv_eventlog_close(log);
    if (rc < 0 && ps.start != 0)
        fputc('\n', stderr); /* end a progress line cut short by the failure */
    return rc;
}

/* A new database is built under a temporary name and linked into place when complete
 * (as import does): Ctrl-C, SIGTERM or a failure leaves no file, and of several runs
 * racing to create one path the first link wins; the others fail, having written
 * nothing and removed nothing they did not create. */
static int generate_new(gen_opts *g, indiv_world_summary *sum, indiv_error *err) {
    char *tmp = NULL;
    int rc = indiv_file_temp_create(g->db, &tmp, err);
    if (rc == INDIV_OK)
        rc = generate_into(tmp, g, sum, err);
    if (rc == INDIV_OK && link(tmp, g->db) != 0)
        rc = errno == EEXIST
                 ? indiv_error_set(err, INDIV_EINVAL,
                                   "%s was created by another process during this run; "
                                   "a world is generated into a new database only "
                                   "(nothing was written)",
                                   g->db)
                 : indiv_error_set(err, INDIV_EIO, "%s: cannot create: %s", g->db,
                                   strerror(errno));
    indiv_file_temp_release(tmp, 1); /* linked (the name stays) or failed: ours */
    return rc;
}

static int run(gen_opts *g) {
    indiv_error err = {0};
    indiv_world_summary sum;
    double t0 = cli_now();
    struct stat sb;
    int rc = stat(g->db, &sb) != 0 && errno == ENOENT
                 ? generate_new(g, &sum, &err)
                 : generate_into(g->db, g, &sum, &err);
    if (rc < 0)
        return cli_fail(CMD, &err);
    print_summary(g, &sum, cli_now() - t0);
    return CLI_OK;
}

/* ---- --like ------------------------------------------------------------------------ */

static int measure_db(const char *path, const indiv_lift_opts *lift, indiv_log_stats *s,
                      indiv_error *err) {
    indiv_eventlog *log = NULL;
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_measure(log, lift, s, err);
    indiv_eventlog_close(log);
    return rc;
}

/* Parameters given on the command line win over fitted ones; the calibration leaves
 * those it would adjust alone. */
static unsigned apply_given(const gen_opts *g, indiv_world_params *fit) {
    unsigned fixed = 0;
    char buf[64];
    for (size_t i = 0; i < indiv_world_param_count() && i < MAX_PARAMS; i++) {
        if (!g->given[i])
            continue;
        const indiv_world_param *d = indiv_world_param_at(i);
        indiv_world_params_format(&g->p, d, buf, sizeof buf);
        indiv_world_params_set(fit, d->name, buf, NULL); /* valid: it was set once */
        fixed |= strcmp(d->name, "interval_median_days") == 0 ? INDIV_FIT_FIX_INTERVAL
                 : strcmp(d->name, "known_tastes_mean") == 0  ? INDIV_FIT_FIX_TASTES
                 : strcmp(d->name, "taste_locality") == 0     ? INDIV_FIT_FIX_LOCALITY
                 : strcmp(d->name, "category_zipf") == 0 ||
                         strcmp(d->name, "offer_zipf") == 0 ||
                         strcmp(d->name, "price_median") == 0
                     ? INDIV_FIT_FIX_POPULARITY
                     : 0;
    }
    return fixed;
}

static int given(const gen_opts *g, const char *name) {
    for (size_t i = 0; i < indiv_world_param_count() && i < MAX_PARAMS; i++)
        if (g->given[i] && strcmp(indiv_world_param_at(i)->name, name) == 0)
            return 1;
    return 0;
}

static void print_report(const char *real, const char *gen, const indiv_fit_row *rows,
                         size_t n) {
    printf("fit report: %s (real) against %s (generated)\n", real, gen);
    printf("  %-44s %12s %12s %12s  %s\n", "statistic", "real", "generated", "tolerance",
           "");
    for (size_t i = 0; i < n; i++) {
        const indiv_fit_row *r = &rows[i];
        char tol[32];
        if (isnan(r->tolerance)) /* the size, asked for; or a row shown, not compared */
            snprintf(tol, sizeof tol, r->rel ? "(shown)" : "(size)");
        else
            snprintf(tol, sizeof tol, r->rel ? "%.0f%%" : "%.3g",
                     r->rel ? 100 * r->tolerance : r->tolerance);
        printf("  %-44s %12.4g %12.4g %12s  %s\n", r->name, r->real, r->gen, tol,
               isnan(r->tolerance) ? ""
               : r->ok             ? "ok"
                                   : "OFF");
    }
}

typedef struct report_ctx {
    const char *json;
} report_ctx;

static int write_report(FILE *f, void *ctx, indiv_error *err) {
    const report_ctx *r = ctx;
    if (fputs(r->json, f) < 0 || fputc('\n', f) < 0)
        return indiv_error_set(err, INDIV_EIO, "cannot write the fit report");
    return INDIV_OK;
}

/* Measures the generated world, prints the report and saves it as JSON. */
static int report_fit(const gen_opts *g, const indiv_log_stats *real,
                      const char *report_path) {
    indiv_error err = {0};
    indiv_log_stats gen;
    if (measure_db(g->db, &g->lift, &gen, &err) < 0)
        return cli_fail(CMD, &err);
    indiv_fit_row rows[INDIV_FIT_ROWS_MAX];
    size_t n = indiv_worldfit_compare(real, &gen, rows);
    print_report(g->like, g->db, rows, n);
    report_ctx rc = {indiv_worldfit_report_json(&g->p, rows, n)};
    if (!rc.json) {
        fprintf(stderr, "indiv %s: out of memory\n", CMD);
        return CLI_FAIL;
    }
    int st = indiv_file_write_atomic(report_path, write_report, &rc, &err);
    free((void *)rc.json);
    if (st < 0)
        return cli_fail(CMD, &err);
    printf("  report saved to %s\n", report_path);
    return CLI_OK;
}

/* Fits the world's parameters to g->like (statistics, then pilot worlds), generates it
 * into g->db, and reports real against generated. */
static int run_like(gen_opts *g) {
    indiv_error err = {0};
    indiv_log_stats real;
    /* the report is written after the world: a bad path must fail before either */
    if (indiv_path_check_creatable(g->report, &err) < 0)
        return cli_fail(CMD, &err);
    if (measure_db(g->like, &g->lift, &real, &err) < 0)
        return cli_fail(CMD, &err);
    indiv_world_params fit;
    if (indiv_worldfit_params(&real, &fit, &err) < 0)
        return cli_fail(CMD, &err);
    unsigned fixed = apply_given(g, &fit);
    int64_t consumers = fit.consumers;
    if (given(g, "consumers")) /* pilots at the real size; the world at the asked one */
        fit.consumers = real.consumers;
    char *scratch = malloc(strlen(g->db) + 8), *report = NULL;
    if (!scratch)
        return fprintf(stderr, "indiv %s: out of memory\n", CMD), CLI_FAIL;
    sprintf(scratch, "%s.pilot", g->db);
    cli_progress_state ps = {0};
    int rc = indiv_worldfit_calibrate(&real, &fit, fixed, (int)g->pilots, scratch,
                                      cli_progress, &ps, &err);
    free(scratch);
    if (rc < 0)
        return cli_fail(CMD, &err);
    if (given(g, "consumers"))
        fit.consumers = consumers;
    g->p = fit;
    if ((rc = run(g)) != CLI_OK)
        return rc;
    if (!g->report && (report = malloc(strlen(g->db) + 10)))
        sprintf(report, "%s.fit.json", g->db);
    rc = report_fit(g, &real, g->report ? g->report : report);
    free(report);
    return rc;
}

int cli_generate(int argc, char **argv) {
    gen_opts g = {0};
    g.pilots = PILOTS_DEFAULT;
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
    if (g.like && !g.db)
        return cli_usage(CMD, "--like needs --db FILE (the world to write)");
    if (g.like)
        return run_like(&g);
    if (!g.db || !*g.db)
        return cli_usage(CMD, "--db FILE is required");
    return run(&g);
}
