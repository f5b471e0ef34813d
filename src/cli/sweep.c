/*
 * sweep.c — `indiv sweep`: the simulation over a grid of parameters × seeds, in
 * parallel, resumable, with a summary per cell (mean, 95% CI) and figures.
 *
 * The library (experiment.h) runs the jobs and writes every file, the gnuplot script
 * included; this file parses options, draws the progress line (on a terminal only),
 * runs gnuplot on the script when it is installed, and prints the summary for people.
 * Simulation options (--rounds, --round-days, --policy, --set) go through
 * indiv_sim_params_set in command-line order, so a later one wins and every error names
 * the parameter.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "indiv/experiment.h"

#define CMD "sweep"
#define TABLE_CELLS_MAX                                                                  \
    40 /* cells printed in the final table; all are in summary.csv                       \
        */

enum {
    OPT_DB = 1,
    OPT_OUT,
    OPT_GRID,
    OPT_SEEDS,
    OPT_SEED,
    OPT_ROUNDS,
    OPT_ROUND_DAYS,
    OPT_POLICY,
    OPT_MODEL,
    OPT_SET,
    OPT_JOBS,
    OPT_SHARD,
    OPT_NO_FIGURES,
    OPT_DRY_RUN,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"out", required_argument, NULL, OPT_OUT},
    {"grid", required_argument, NULL, OPT_GRID},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"round-days", required_argument, NULL, OPT_ROUND_DAYS},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"model", required_argument, NULL, OPT_MODEL},
    {"set", required_argument, NULL, OPT_SET},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"no-figures", no_argument, NULL, OPT_NO_FIGURES},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"help", no_argument, NULL, OPT_HELP},
    {0}};

static const char sweep_help[] =
    "usage: indiv sweep --db WORLD --out DIR --grid NAME=LO:HI:STEP [--grid "
    "NAME=V1,V2...]\n"
    "                   [--seeds N] [--seed BASE] [--rounds R] [--round-days D]\n"
    "                   [--policy NAME] [--model FILE] [--set NAME=VALUE ...]\n"
    "                   [--jobs J] [--shard I/N] [--no-figures] [--dry-run]\n\n"
    "Runs the closed-loop simulation (indiv simulate) for every cell of a grid of\n"
    "parameters and every seed, in parallel, and writes into DIR: results.csv (one row\n"
    "per cell and seed), summary.csv (per cell and metric: n, mean, sd, 95% confidence\n"
    "interval, Student t) and figures/ (heatmaps over threshold × serendipity and\n"
    "trade-off frontiers, SVG and PNG, drawn with gnuplot when it is installed).\n"
    "Interrupted? Run the same command again: finished jobs are kept in\n"
    "DIR/results.partial.csv and never run twice. Same world, parameters and seeds give\n"
    "byte-identical files, whatever --jobs. Details: docs/sweep.md.\n\n"
    "  --db WORLD          a generated world (indiv generate); never modified\n"
    "  --out DIR           sweep directory (new or empty, or this same sweep's to "
    "resume)\n"
    "  --grid SPEC         an axis: NAME=LO:HI:STEP (HI included) or NAME=V1,V2,...;\n"
    "                      NAME is any simulation parameter (threshold, serendipity,\n"
    "                      policy, p_leave, ...); repeat for more axes, the last varies\n"
    "                      fastest. Without --grid: one cell, the base parameters\n"
    "  --seeds N           seeds per cell (default 5); every cell uses the same seeds\n"
    "  --seed BASE         seeds are BASE, BASE+1, ... (default 1)\n"
    "  --rounds R          rounds per simulation (default 12)\n"
    "  --round-days D      days per round (default 7)\n"
    "  --policy NAME       indiv | indiv-no-serendipity | indiv-no-threshold | mass |\n"
    "                      persona | random | oracle (default indiv)\n"
    "  --model FILE        model file (default: the built-in models/default.json)\n"
    "  --model trained[:every=R]  the engine trains its own model in the loop\n"
    "                      (simulate --help)\n"
    "  --set NAME=VALUE    any other simulation parameter, for every cell\n"
    "  --jobs J            simulations run at once (default 2, one per core); each runs\n"
    "                      its decisions on one thread (--set threads=T to change)\n"
    "  --shard I/N         run only cells c with c mod N == I (same DIR layout; copy "
    "the\n"
    "                      shards' results.partial.csv lines into one DIR to merge)\n"
    "  --no-figures        do not run gnuplot (figures/ still holds data and script)\n"
    "  --dry-run           list the cells and jobs, run nothing\n"
    "  -h, --help          this help\n";

typedef struct sweep_args {
    const char *model;
    int dry_run, no_figures;
    indiv_sweep_grid *g;
    indiv_sweep_opts o;
} sweep_args;

/* ---- options ----------------------------------------------------------------------- */

static int set_param(sweep_args *a, const char *opt, const char *name, const char *v) {
    indiv_error err = {0};
    if (indiv_sim_params_set(&a->o.base, name, v, &err) < 0)
        return cli_usage(CMD, "%s: %s", opt, err.msg);
    return CLI_OK;
}

static int set_pair(sweep_args *a, const char *v) {
    const char *eq = strchr(v, '=');
    char name[INDIV_SWEEP_NAME_MAX];
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof name)
        return cli_usage(CMD, "--set: '%s' is not NAME=VALUE", v);
    snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
    if (strcmp(name, "seed") == 0)
        return cli_usage(CMD, "--set: seeds are --seeds N and --seed BASE");
    return set_param(a, "--set", name, eq + 1);
}

static int set_shard(sweep_args *a, const char *v) {
    return cli_shard(CMD, "--shard", v, CLI_SHARD_MAX, &a->o.shard_index,
                     &a->o.shard_count);
}

static int set_int(const char *opt, const char *v, int64_t lo, int64_t hi, int *out) {
    int64_t x;
    int rc = cli_int64(CMD, opt, v, lo, hi, &x);
    if (rc == CLI_OK)
        *out = (int)x;
    return rc;
}

static int set_option(sweep_args *a, int c, const char *v) {
    indiv_error err = {0};
    int64_t x;
    switch (c) {
    case OPT_DB:
        a->o.world_db = v;
        return CLI_OK;
    case OPT_OUT:
        a->o.dir = v;
        return CLI_OK;
    case OPT_GRID:
        return indiv_sweep_grid_add(a->g, v, &err) < 0
                   ? cli_usage(CMD, "--grid: %s", err.msg)
                   : CLI_OK;
    case OPT_SEEDS:
        return set_int("--seeds", v, 1, INDIV_SWEEP_SEEDS_MAX, &a->o.seeds);
    case OPT_SEED: {
        int rc = cli_int64(CMD, "--seed", v, 0, INT64_MAX - INDIV_SWEEP_SEEDS_MAX, &x);
        a->o.base_seed = (uint64_t)x;
        return rc;
    }
    case OPT_ROUNDS:
        return set_param(a, "--rounds", "rounds", v);
    case OPT_ROUND_DAYS:
        return set_param(a, "--round-days", "round_days", v);
    case OPT_POLICY:
        return set_param(a, "--policy", "policy", v);
    case OPT_MODEL: {
        indiv_error e = {0};
        int rc = indiv_sim_model_spec(v, &a->o.base, &e);
        if (rc < 0)
            return cli_usage(CMD, "--model: %s", e.msg);
        if (rc == 0)
            a->model = v;
        return CLI_OK;
    }
    case OPT_SET:
        return set_pair(a, v);
    case OPT_JOBS:
        return set_int("--jobs", v, 1, INDIV_SWEEP_JOBS_MAX, &a->o.jobs);
    case OPT_SHARD:
        return set_shard(a, v);
    case OPT_NO_FIGURES:
        a->no_figures = 1;
        return CLI_OK;
    case OPT_DRY_RUN:
        a->dry_run = 1;
        return CLI_OK;
    default:
        return CLI_USAGE;
    }
}

/* CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse_args(int argc, char **argv, sweep_args *a) {
    int c, rc = CLI_OK;
    opterr = 0;
    optind = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == OPT_HELP || c == 'h')
            return -1;
        rc = c == '?' ? cli_bad_option(CMD, argv[optind - 1], long_opts)
                      : set_option(a, c, optarg);
    }
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (rc == CLI_OK && !a->dry_run && (!a->o.world_db || !a->o.dir))
        rc = cli_usage(CMD, "--db WORLD and --out DIR are required");
    return rc;
}

/* Every cell with the base parameters must be a valid simulation. */
static int check_args(sweep_args *a) {
    indiv_error err = {0};
    if (a->model && indiv_model_load(a->model, &a->o.model, &err) < 0)
        return cli_fail(CMD, &err);
    if (indiv_sim_params_validate(&a->o.base, &err) < 0 ||
        indiv_sweep_grid_check(a->g, &a->o.base, &err) < 0)
        return cli_usage(CMD, "%s", err.msg);
    return CLI_OK;
}

/* ---- output ------------------------------------------------------------------------ */

/* Width of an axis column: its name or its longest value. */
static int axis_width(const indiv_sweep_grid *g, size_t a) {
    size_t w = strlen(indiv_sweep_grid_axis(g, a));
    for (size_t i = 0; i < indiv_sweep_grid_values(g, a); i++) {
        size_t n = strlen(indiv_sweep_grid_value(g, a, i));
        w = n > w ? n : w;
    }
    return (int)w;
}

/* A table line under construction: columns padded to their width, counted in
 * characters (UTF-8 continuation bytes, as in '±', take no room). */
typedef struct line {
    char text[1024];
    size_t len;
} line;

static void cell_text(line *l, const char *s, int width) {
    int extra = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        extra += (*p & 0xC0) == 0x80;
    int k =
        snprintf(l->text + l->len, sizeof l->text - l->len, "  %-*s", width + extra, s);
    if (k > 0)
        l->len =
            l->len + (size_t)k < sizeof l->text ? l->len + (size_t)k : sizeof l->text - 1;
}

/* Prints the line without its trailing spaces. */
static void line_print(line *l) {
    while (l->len > 0 && l->text[l->len - 1] == ' ')
        l->len--;
    printf("%.*s\n", (int)l->len, l->text);
    l->len = 0;
}

static void cell_axes(line *l, const indiv_sweep_grid *g, size_t cell) {
    l->len = (size_t)snprintf(l->text, sizeof l->text, "%6zu", cell);
    for (size_t a = 0; a < indiv_sweep_grid_axes(g); a++)
        cell_text(l, indiv_sweep_grid_value(g, a, indiv_sweep_cell_index(g, cell, a)),
                  axis_width(g, a));
}

static void axes_header(line *l, const indiv_sweep_grid *g) {
    l->len = (size_t)snprintf(l->text, sizeof l->text, "%6s", "cell");
    for (size_t a = 0; a < indiv_sweep_grid_axes(g); a++)
        cell_text(l, indiv_sweep_grid_axis(g, a), axis_width(g, a));
}

static int dry_run(const sweep_args *a) {
    const indiv_sweep_grid *g = a->g;
    size_t cells = indiv_sweep_grid_cells(g), shown = 0;
    size_t n = (size_t)a->o.shard_count, i = (size_t)a->o.shard_index;
    printf("sweep: %zu cell%s × %d seed%s (%llu..%llu), %d round%s of %g days each\n",
           cells, cells == 1 ? "" : "s", a->o.seeds, a->o.seeds == 1 ? "" : "s",
           (unsigned long long)a->o.base_seed,
           (unsigned long long)(a->o.base_seed + (uint64_t)a->o.seeds - 1),
           a->o.base.rounds, a->o.base.rounds == 1 ? "" : "s", a->o.base.round_days);
    line l;
    axes_header(&l, g);
    line_print(&l);
    for (size_t c = i; c < cells; c += n, shown++) {
        cell_axes(&l, g, c);
        line_print(&l);
    }
    printf("%zu job%s%s\n", shown * (size_t)a->o.seeds,
           shown * a->o.seeds == 1 ? "" : "s", n > 1 ? " in this shard" : "");
    return CLI_OK;
}

/* The progress line: jobs done of the total, and an ETA from this run's rounds. */
typedef struct sweep_progress {
    double start, last;
    int64_t jobs, jobs_total, rounds, rounds_total;
    int drawn;
} sweep_progress;

#define PROGRESS_PERIOD 0.2 /* seconds between redraws, as cli_progress */

static void draw_progress(void *ctx, const char *stage, int64_t done, int64_t total) {
    sweep_progress *p = ctx;
    if (strcmp(stage, "jobs") == 0)
        p->jobs = done, p->jobs_total = total;
    else
        p->rounds = done, p->rounds_total = total;
    double now = cli_now();
    if (p->start == 0)
        p->start = now;
    int final = p->jobs_total > 0 && p->jobs >= p->jobs_total;
    if (!cli_stderr_is_tty() || p->rounds_total == 0 ||
        (!final && now - p->last < PROGRESS_PERIOD))
        return;
    p->last = now;
    double frac = (double)p->rounds / (double)p->rounds_total, el = now - p->start;
    char eta[32] = "?"; /* unknown until a round has ended */
    if (frac > 0) {
        double left = el * (1 - frac) / frac;
        snprintf(eta, sizeof eta, "%.0fm%02.0fs", floor(left / 60),
                 fmod(floor(left), 60));
    }
    fprintf(stderr, "\rsweep %3.0f%%  jobs %lld/%lld  ETA %s   ", 100 * frac,
            (long long)p->jobs, (long long)p->jobs_total, eta);
    p->drawn = 1;
    if (final)
        fputc('\n', stderr), p->drawn = 0;
    fflush(stderr);
}

#define STAT_WIDTH 18

static void stat_text(line *l, const indiv_sweep_stat *st) {
    char buf[48];
    if (st->n >= 2)
        snprintf(buf, sizeof buf, "%.5g ± %.2g", st->mean, st->half);
    else
        snprintf(buf, sizeof buf, "%.5g", st->mean);
    cell_text(l, buf, STAT_WIDTH);
}

/* Key metrics of the first cells: mean ± 95% CI half-width. */
static void print_table(const indiv_sweep_grid *g, const indiv_sweep_report *r) {
    static const char *const key[] = {"revenue", "conversions", "irrelevant_share",
                                      "diversity", "latent_revealed_total"};
    enum { NKEY = sizeof key / sizeof key[0] };
    size_t col[NKEY] = {0}, printed = 0;
    for (size_t k = 0; k < NKEY; k++)
        for (size_t c = 0; c < r->columns; c++)
            if (strcmp(indiv_sweep_column_name(c), key[k]) == 0)
                col[k] = c;
    line l;
    axes_header(&l, g);
    for (size_t k = 0; k < NKEY; k++)
        cell_text(&l, key[k], STAT_WIDTH);
    line_print(&l);
    for (size_t cell = 0; cell < r->cells && printed < TABLE_CELLS_MAX; cell++) {
        if (r->stat[cell * r->columns].n == 0)
            continue;
        cell_axes(&l, g, cell);
        for (size_t k = 0; k < NKEY; k++)
            stat_text(&l, &r->stat[cell * r->columns + col[k]]);
        line_print(&l);
        printed++;
    }
    if (printed == TABLE_CELLS_MAX)
        printf("  (the first %d cells; every cell is in summary.csv)\n", TABLE_CELLS_MAX);
}

/* Figures line of the summary; CLI_FAIL when gnuplot is there but failed. */
static int figures(const sweep_args *a, const indiv_sweep_report *r) {
    const char *dir = a->o.dir;
    if (!r->heatmaps)
        printf("  heatmaps   none: %s\n", r->heatmap_note);
    if (a->no_figures) {
        printf("  figures    not drawn (--no-figures); to draw: cd %s/figures && gnuplot "
               "figures.gp\n",
               dir);
        return CLI_OK;
    }
    int st = cli_run_gnuplot(dir, "figures.gp");
    if (st == 0)
        printf("  figures    %s/figures/ (%d figures, SVG and PNG)\n", dir, r->figures);
    else if (st == CLI_GNUPLOT_MISSING)
        printf("  figures    skipped: gnuplot is not installed (make deps installs it; "
               "then: cd %s/figures && gnuplot figures.gp)\n",
               dir);
    else
        fprintf(stderr,
                "indiv %s: gnuplot failed drawing the figures (see "
                "%s/figures/gnuplot.log); results.csv and summary.csv are complete\n",
                CMD, dir);
    return st == 0 || st == CLI_GNUPLOT_MISSING ? CLI_OK : CLI_FAIL;
}

static void print_summary(const sweep_args *a, const indiv_sweep_report *r, double secs) {
    printf("sweep %s: %zu cell%s × %d seed%s = %zu job%s%s; %zu run now, %zu done before "
           "(%d worker%s, %.1f s)\n",
           a->o.dir, r->cells, r->cells == 1 ? "" : "s", a->o.seeds,
           a->o.seeds == 1 ? "" : "s", r->jobs_selected, r->jobs_selected == 1 ? "" : "s",
           a->o.shard_count > 1 ? " in this shard" : "", r->jobs_run, r->jobs_before,
           a->o.jobs, a->o.jobs == 1 ? "" : "s", secs);
    print_table(a->g, r);
    printf("  results    %s/results.csv (one row per cell and seed)\n", a->o.dir);
    printf("  summary    %s/summary.csv (n, mean, sd, 95%% CI per cell and metric)\n",
           a->o.dir);
}

static int run(sweep_args *a, const cli_exec *x) {
    indiv_error err = {0};
    indiv_sweep_report rep;
    sweep_progress ps = {0};
    double t0 = cli_now();
    int rc = x ? x->sweep(x->ctx, a->g, &a->o, draw_progress, &ps, &rep, &err)
               : indiv_sweep_run(a->g, &a->o, draw_progress, &ps, &rep, &err);
    if (x && x->rank != 0) { /* a serving rank: rank 0 reports */
        indiv_sweep_report_clear(&rep);
        return rc < 0 ? CLI_FAIL : CLI_OK;
    }
    if (ps.drawn)
        fputc('\n', stderr); /* end a progress line cut short */
    if (rc < 0) {
        indiv_sweep_report_clear(&rep);
        return cli_fail(CMD, &err);
    }
    print_summary(a, &rep, cli_now() - t0);
    rc = figures(a, &rep);
    indiv_sweep_report_clear(&rep);
    return rc;
}

int cli_sweep(int argc, char **argv) {
    return cli_sweep_exec(argc, argv, NULL);
}

int cli_sweep_exec(int argc, char **argv, const cli_exec *x) {
    sweep_args a = {0};
    indiv_sweep_opts_init(&a.o);
    if (!(a.g = indiv_sweep_grid_new())) {
        fprintf(stderr, "indiv %s: out of memory\n", CMD);
        return CLI_FAIL;
    }
    int rc = parse_args(argc, argv, &a);
    if (rc == -1)
        fputs(sweep_help, stdout);
    else if (rc == CLI_OK)
        rc = check_args(&a);
    if (rc == CLI_OK)
        rc = a.dry_run ? dry_run(&a) : run(&a, x);
    indiv_sweep_grid_free(a.g);
    return rc < 0 ? CLI_OK : rc;
}
