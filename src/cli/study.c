/*
 * study.c — `indiv study`: the ethics study. The library (study.h) generates the worlds,
 * runs every claim's conditions over the seeds, the sensitivity runs and the
 * measurements, and writes results.json and the figures' data and gnuplot script; this
 * file parses options, runs gnuplot on the script when it is installed, has the
 * library write report.md and report.html (which inline the figures drawn), and prints
 * the verdicts for people.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "indiv/study.h"

#define CMD          "study"
#define DEFAULT_REAL "datasets/online-retail-2010-12_2011-02.csv.gz"
#define SETTINGS_MAX 1024
#define COMMAND_MAX  2048

static const char study_help[] =
    "usage: indiv study --out DIR [--quick] [--seeds N] [--seed S] [--jobs J]\n"
    "                   [--claims ID,...] [--consumers N] [--rounds R] [--like DB]\n"
    "                   [--world-set NAME=VALUE ...] [--real FILE | --no-real]\n"
    "                   [--repeats N] [--model FILE] [--keep-worlds] [--no-figures]\n\n"
    "Tests the interviews' claims (serendipity, bubbles, threshold, respect, personas,\n"
    "timing, minimisation, scale, enclosure) on generated worlds, each condition on the\n"
    "same seeds, with 95% confidence intervals, a verdict rule and a sensitivity run;\n"
    "writes DIR/report.md, DIR/report.html (self-contained), DIR/results.json and\n"
    "DIR/figures/ (SVG and PNG, drawn with gnuplot when it is installed). Verdicts hold\n"
    "only under the simulation's assumptions, which the report lists.\n\n"
    "  --out DIR            output directory (created)\n"
    "  --quick              first look in minutes: 1,000 consumers, 8 rounds, 3 seeds\n"
    "                       (default: thorough, 10,000 consumers, 26 rounds, 10 seeds)\n"
    "  --seeds N            seeds (worlds) per condition, at least 2\n"
    "  --max-seeds N        power sizing: when a claim is underpowered (its minimum\n"
    "                       detectable effect is above δ), run again with the seeds\n"
    "                       its variance says are needed, up to N (0: never; default\n"
    "                       0 quick, 40 thorough)\n"
    "  --seed S             first seed (default 1)\n"
    "  --jobs J             worker threads over runs (default 2)\n"
    "  --claims ID,...      only these claims\n"
    "  --consumers N        consumers per world (overrides the preset)\n"
    "  --rounds R           rounds of 7 days (overrides the preset)\n"
    "  --world-set N=V      a world parameter for every world (repeatable)\n"
    "  --like DB            every world fitted to the purchases of an imported log\n"
    "                       (as indiv generate --like, at the study's size)\n"
    "  --real FILE          Online Retail CSV for the measurements "
    "(default: " DEFAULT_REAL "\n"
    "                       when it exists)\n"
    "  --no-real            no real data\n"
    "  --repeats N          timed repetitions of the measurements (default 3 quick, 5)\n"
    "  --model FILE         decision model (default: the built-in default)\n"
    "  --keep-worlds        keep DIR/worlds/ (deleted at the end otherwise)\n"
    "  --no-figures         do not run gnuplot\n"
    "  -h, --help           this help\n";

enum {
    OPT_OUT = 1,
    OPT_QUICK,
    OPT_SEEDS,
    OPT_MAX_SEEDS,
    OPT_SEED,
    OPT_JOBS,
    OPT_CLAIMS,
    OPT_CONSUMERS,
    OPT_ROUNDS,
    OPT_WORLD_SET,
    OPT_REAL,
    OPT_NO_REAL,
    OPT_LIKE,
    OPT_REPEATS,
    OPT_MODEL,
    OPT_KEEP,
    OPT_NO_FIGURES,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"like", required_argument, NULL, OPT_LIKE},
    {"max-seeds", required_argument, NULL, OPT_MAX_SEEDS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"claims", required_argument, NULL, OPT_CLAIMS},
    {"consumers", required_argument, NULL, OPT_CONSUMERS},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"world-set", required_argument, NULL, OPT_WORLD_SET},
    {"real", required_argument, NULL, OPT_REAL},
    {"no-real", no_argument, NULL, OPT_NO_REAL},
    {"repeats", required_argument, NULL, OPT_REPEATS},
    {"model", required_argument, NULL, OPT_MODEL},
    {"keep-worlds", no_argument, NULL, OPT_KEEP},
    {"no-figures", no_argument, NULL, OPT_NO_FIGURES},
    {"help", no_argument, NULL, OPT_HELP},
    {0}};

typedef struct study_args {
    indiv_study_opts o;
    const char *model_path;
    int no_real, no_figures;
    char world[SETTINGS_MAX];
    char command[COMMAND_MAX];
} study_args;

static int int_opt(const char *opt, const char *v, int64_t lo, int64_t hi, int *out) {
    int64_t x;
    int rc = cli_int64(CMD, opt, v, lo, hi, &x);
    if (rc == CLI_OK)
        *out = (int)x;
    return rc;
}

/* --world-set NAME=VALUE: appended as "w:NAME=VALUE", checked by the library. */
static int add_world_set(study_args *a, const char *pair) {
    size_t used = strlen(a->world);
    if (!strchr(pair, '=') || strchr(pair, ' ') ||
        used + strlen(pair) + 4 >= sizeof a->world)
        return cli_usage(CMD, "--world-set: '%s' is not NAME=VALUE", pair);
    snprintf(a->world + used, sizeof a->world - used, "%sw:%s", used ? " " : "", pair);
    indiv_error err = {0};
    if (indiv_study_apply(a->world, NULL, NULL, &err) < 0)
        return cli_usage(CMD, "--world-set: %s", err.msg);
    a->o.world_settings = a->world;
    return CLI_OK;
}

static int parse_opt(study_args *a, int c, const char *v) {
    int64_t x;
    int rc = CLI_OK;
    switch (c) {
    case OPT_OUT:
        a->o.dir = v;
        break;
    case OPT_QUICK:
        a->o.quick = 1;
        break;
    case OPT_SEEDS:
        return int_opt("--seeds", v, INDIV_STUDY_SEEDS_MIN, INDIV_STUDY_SEEDS_MAX,
                       &a->o.seeds);
    case OPT_LIKE:
        a->o.like = v;
        break;
    case OPT_MAX_SEEDS:
        return int_opt("--max-seeds", v, 0, INDIV_STUDY_SEEDS_MAX, &a->o.max_seeds);
    case OPT_SEED:
        if ((rc = cli_int64(CMD, "--seed", v, 0, INT64_MAX, &x)) == CLI_OK)
            a->o.base_seed = (uint64_t)x;
        break;
    case OPT_JOBS:
        return int_opt("--jobs", v, 1, INDIV_STUDY_JOBS_MAX, &a->o.jobs);
    case OPT_CLAIMS:
        a->o.claims = v;
        break;
    case OPT_CONSUMERS:
        rc = cli_int64(CMD, "--consumers", v, 1, 100000000, &a->o.consumers);
        break;
    case OPT_ROUNDS:
        return int_opt("--rounds", v, 1, 5000, &a->o.rounds);
    case OPT_WORLD_SET:
        return add_world_set(a, v);
    case OPT_REAL:
        a->o.real_csv = v;
        break;
    case OPT_NO_REAL:
        a->no_real = 1;
        break;
    case OPT_REPEATS:
        return int_opt("--repeats", v, 1, 64, &a->o.repeats);
    case OPT_MODEL:
        a->model_path = v;
        break;
    case OPT_KEEP:
        a->o.keep_worlds = 1;
        break;
    case OPT_NO_FIGURES:
        a->no_figures = 1;
        break;
    default:
        rc = CLI_USAGE;
    }
    return rc;
}

/* The command line as typed, for the report (arguments with spaces quoted). */
static void record_command(study_args *a, int argc, char **argv) {
    size_t used = (size_t)snprintf(a->command, sizeof a->command, "indiv");
    for (int i = 0; i < argc && used < sizeof a->command; i++)
        used += (size_t)snprintf(a->command + used, sizeof a->command - used,
                                 strchr(argv[i], ' ') ? " '%s'" : " %s", argv[i]);
    a->o.command = a->command;
}

/* Returns -1 after --help, CLI_OK, or CLI_USAGE (message printed). */
static int parse_args(int argc, char **argv, study_args *a) {
    int c, rc = CLI_OK;
    opterr = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP)
            return -1;
        if (c == '?' || c == ':')
            return cli_bad_option(CMD, argv[optind - 1], long_opts);
        rc = parse_opt(a, c, optarg);
    }
    if (rc == CLI_OK && !a->o.dir)
        rc = cli_usage(CMD, "--out DIR is required");
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (rc == CLI_OK && a->no_real && a->o.real_csv)
        rc = cli_usage(CMD, "--real and --no-real contradict each other");
    indiv_error err = {0};
    if (rc == CLI_OK && indiv_study_opts_validate(&a->o, &err) < 0)
        rc = cli_usage(CMD, "%s", err.msg);
    return rc;
}

static int load_model(study_args *a) {
    indiv_error err = {0};
    if (a->model_path && indiv_model_load(a->model_path, &a->o.model, &err) < 0)
        return cli_fail(CMD, &err);
    if (!a->no_real && !a->o.real_csv && access(DEFAULT_REAL, R_OK) == 0)
        a->o.real_csv = DEFAULT_REAL;
    return CLI_OK;
}

static const char *figures(const study_args *a) {
    if (a->no_figures)
        return "not drawn (--no-figures)";
    int st = cli_run_gnuplot(a->o.dir, "study.gp");
    if (st == 0)
        return "drawn (SVG and PNG)";
    if (st == CLI_GNUPLOT_MISSING)
        return "not drawn: gnuplot is not installed (make deps installs it)";
    fprintf(stderr,
            "indiv %s: gnuplot failed (see %s/figures/gnuplot.log); the report is "
            "written without figures\n",
            CMD, a->o.dir);
    return "gnuplot failed (figures/gnuplot.log)";
}

static void print_claim(const indiv_study_results *r, size_t i) {
    const indiv_study_claim *c = indiv_study_results_claim(r, i);
    indiv_study_effect e;
    printf("  %-13s %-25s", c->id,
           indiv_verdict_name(indiv_study_results_verdict(r, i, 1)));
    if (indiv_study_results_primary(r, i, &e))
        printf(" %s %+.4g [%+.4g, %+.4g] (%.4g vs %.4g)\n", c->metric, e.mean, e.lo, e.hi,
               e.mean_t, e.mean_r);
    else
        printf(" %s\n", indiv_study_results_measured(r, i));
}

static void print_summary(const study_args *a, const indiv_study_results *r,
                          const char *fig) {
    printf("study %s: %.0f s (%s)\n", a->o.dir, indiv_study_results_seconds(r),
           a->o.quick ? "quick" : "thorough");
    for (size_t i = 0; i < indiv_study_results_claims(r); i++)
        print_claim(r, i);
    printf("  report     %s/report.md, %s/report.html\n", a->o.dir, a->o.dir);
    printf("  results    %s/results.json\n", a->o.dir);
    printf("  figures    %s/figures/: %s\n", a->o.dir, fig);
    printf("  real data  %s\n", a->o.real_csv ? a->o.real_csv : "not used");
}

static int run(study_args *a, const cli_exec *x) {
    indiv_error err = {0};
    indiv_study_results *r = NULL;
    cli_progress_state ps = {0};
    if (!x || x->rank == 0)
        fprintf(stderr, "indiv %s: %s study into %s\n", CMD,
                a->o.quick ? "quick" : "thorough", a->o.dir);
    int rc = x ? x->study(x->ctx, &a->o, cli_progress, &ps, &r, &err)
               : indiv_study_run(&a->o, cli_progress, &ps, &r, &err);
    if (x && x->rank != 0) { /* a serving rank: rank 0 reports */
        indiv_study_results_free(r);
        return rc < 0 ? CLI_FAIL : CLI_OK;
    }
    if (rc < 0)
        return cli_fail(CMD, &err);
    if (indiv_study_write_data(r, &err) < 0) {
        indiv_study_results_free(r);
        return cli_fail(CMD, &err);
    }
    const char *fig = figures(a);
    rc = indiv_study_write_report(r, &err);
    if (rc == INDIV_OK)
        print_summary(a, r, fig);
    indiv_study_results_free(r);
    return rc == INDIV_OK ? CLI_OK : cli_fail(CMD, &err);
}

int cli_study(int argc, char **argv) {
    return cli_study_exec(argc, argv, NULL);
}

int cli_study_exec(int argc, char **argv, const cli_exec *x) {
    study_args a;
    memset(&a, 0, sizeof a);
    indiv_study_opts_init(&a.o);
    record_command(&a, argc, argv);
    int rc = parse_args(argc, argv, &a);
    if (rc == -1) {
        fputs(study_help, stdout);
        return CLI_OK;
    }
    if (rc == CLI_OK)
        rc = load_model(&a);
    if (rc == CLI_OK)
        rc = run(&a, x);
    indiv_model_clear(&a.o.model);
    return rc;
}
