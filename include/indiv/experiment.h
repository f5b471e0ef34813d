/*
 * experiment.h — sweeps: the closed-loop simulation (simulate.h) over a grid of
 * parameters and seeds, with per-cell means and 95% confidence intervals, run in
 * parallel and resumable (docs/architecture.md §2, §9). docs/sweep.md describes the
 * files.
 *
 * Grid. The cartesian product of axes; each axis is a simulation parameter (any name
 * indiv_sim_params_set accepts) and a list of values, given as
 *     threshold=0:0.4:0.05        lo:hi:step, hi included: value i = lo + i·step for
 *                                 i = 0..n−1, n = floor((hi − lo)/step + 1e-9) + 1,
 *                                 printed with %.10g (no floating drift: 0.15, not
 *                                 0.15000000000000002);
 *     policy=indiv,mass,random    an explicit list (letters, digits, . _ + -).
 * Cells are numbered 0..cells−1 in row-major order of the axes as given: the last axis
 * varies fastest, like nested loops written in that order.
 *
 * Seeds (common random numbers). Seed s = 0..seeds−1 of every cell runs the simulation
 * with seed base_seed + s, so all cells are compared on the same random draws and a
 * difference between two cells comes from their parameters, not from luck.
 *
 * Jobs. One (cell, seed) is a job; its result is one row of columns, each a simulation
 * metric aggregated over the rounds by one rule of a fixed table (indiv_sweep_column_*),
 * the rule of indiv_sim_aggregate: flows are summed, shares among contacts averaged
 * with each round's contacts as weights, everything else taken at the last round.
 * Timings are not metrics and never enter the files: they are not reproducible.
 *
 * Files in the sweep directory DIR (written by indiv_sweep_run):
 *   sweep.json           the sweep: world fingerprint, grid, seeds, parameters, model,
 *                        columns. A DIR whose sweep.json differs is refused.
 *   results.partial.csv  one line per finished job, appended, flushed and fsync'ed as
 *                        each job ends; a new run skips the jobs it holds (resume).
 *   results.csv          one row per cell and seed, sorted by cell then seed
 *   summary.csv          per cell and column: n, mean, sd, 95% CI (Student t)
 *   figures/             cells.dat, frontier data and figures.gp, a gnuplot script;
 *                        the library writes them and never runs gnuplot (the CLI does)
 *   work/                one work database per running job, deleted when it ends
 * results.csv and summary.csv are written (temporary file, then rename) only once every
 * selected job is done, from the rows sorted by (cell, seed); numbers are printed in
 * their shortest exact form, so the files are byte-identical whatever the number of
 * workers, the order in which jobs finished, or how many times the sweep was resumed.
 *
 * Usage:
 *     indiv_sweep_grid *g = indiv_sweep_grid_new();
 *     indiv_sweep_grid_add(g, "threshold=0:0.4:0.05", &err);
 *     indiv_sweep_opts o;
 *     indiv_sweep_opts_init(&o);             // then world_db, dir, seeds, base, ...
 *     indiv_sweep_report rep;
 *     indiv_sweep_run(g, &o, progress, pctx, &rep, &err);
 *     ...
 *     indiv_sweep_report_clear(&rep);
 *     indiv_sweep_grid_free(g);
 * Functions are named indiv_sweep_* (the experiment module's sweep part), as sim.h's are
 * indiv_world_*.
 */
#ifndef INDIV_EXPERIMENT_H
#define INDIV_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/model.h"
#include "indiv/progress.h"
#include "indiv/simulate.h"

#define INDIV_SWEEP_AXES_MAX    16
#define INDIV_SWEEP_VALUES_MAX  10000   /* values of one axis */
#define INDIV_SWEEP_CELLS_MAX   1000000 /* cells of a grid */
#define INDIV_SWEEP_SEEDS_MAX   100000
#define INDIV_SWEEP_JOBS_MAX    64 /* worker threads */
#define INDIV_SWEEP_NAME_MAX    64 /* bytes of an axis name or value, with the NUL */
#define INDIV_SWEEP_COLUMNS_MAX INDIV_SIM_NMETRICS
#define INDIV_SWEEP_CI_LEVEL    0.95

/* ---- grid -------------------------------------------------------------------------- */

typedef struct indiv_sweep_grid indiv_sweep_grid;

/* An empty grid (one cell, no axes); NULL when out of memory. */
indiv_sweep_grid *indiv_sweep_grid_new(void);
void indiv_sweep_grid_free(indiv_sweep_grid *g);

/* Adds the axis of a spec "name=lo:hi:step" or "name=v1,v2,...". INDIV_EINVAL naming
 * the part at fault: a malformed name or value, a non-finite bound, step <= 0, hi < lo,
 * too many values, duplicate values, an axis already in the grid, the name "seed"
 * (seeds come from indiv_sweep_opts), or a grid of more than INDIV_SWEEP_CELLS_MAX
 * cells. The name is not checked against the simulation's parameters here (see
 * indiv_sweep_grid_check). On error the grid is unchanged. */
int indiv_sweep_grid_add(indiv_sweep_grid *g, const char *spec, indiv_error *err);

size_t indiv_sweep_grid_axes(const indiv_sweep_grid *g);
const char *indiv_sweep_grid_axis(const indiv_sweep_grid *g, size_t axis);
size_t indiv_sweep_grid_values(const indiv_sweep_grid *g, size_t axis);
const char *indiv_sweep_grid_value(const indiv_sweep_grid *g, size_t axis, size_t i);
size_t indiv_sweep_grid_cells(const indiv_sweep_grid *g);

/* Index, in axis `axis`, of the value cell `cell` takes (cell < cells). */
size_t indiv_sweep_cell_index(const indiv_sweep_grid *g, size_t cell, size_t axis);

/* "threshold=0.05 serendipity=0.1" (truncated to size, always NUL-terminated). */
void indiv_sweep_cell_label(const indiv_sweep_grid *g, size_t cell, char *buf,
                            size_t size);

/* Sets, in p, the values cell `cell` gives its axes (indiv_sim_params_set). */
int indiv_sweep_cell_params(const indiv_sweep_grid *g, size_t cell,
                            indiv_sim_params *p /* IN/OUT */, indiv_error *err);

/* Checks every cell: its values set on a copy of base, then indiv_sim_params_validate.
 * INDIV_EINVAL naming the cell and the parameter at fault. */
int indiv_sweep_grid_check(const indiv_sweep_grid *g, const indiv_sim_params *base,
                           indiv_error *err);

/* ---- columns: a job's result row --------------------------------------------------- */

typedef enum indiv_sweep_agg {
    INDIV_AGG_SUM = 0,      /* Σ over rounds (flows: contacts, revenue, ...) */
    INDIV_AGG_LAST,         /* value at the last round (stocks, "so far" metrics, and
                               the final state of coverage, Gini, Jaccard) */
    INDIV_AGG_CONTACT_MEAN, /* Σ v·contacts / Σ contacts (shares among contacts; 0
                              when there was no contact) */
    INDIV_AGG_HIT_RATE      /* Σ divergent_hits / Σ divergent_offers (0 without any) */
} indiv_sweep_agg;

/* The result columns, in file order: a fixed table, one entry per simulation metric. */
size_t indiv_sweep_columns(void);
const char *indiv_sweep_column_name(size_t col);
int indiv_sweep_column_metric(size_t col); /* an indiv_sim_metric */
indiv_sweep_agg indiv_sweep_column_agg(size_t col);
const char *indiv_sweep_agg_name(indiv_sweep_agg a); /* "sum", "last", ... */

/* Aggregates a job's rounds into its result row. Plain struct: no allocation. */
typedef struct indiv_sweep_acc {
    int rounds;
    double contacts;                 /* Σ contacts */
    double sum[INDIV_SIM_NMETRICS];  /* Σ v */
    double wsum[INDIV_SIM_NMETRICS]; /* Σ v · contacts */
    double last[INDIV_SIM_NMETRICS];
} indiv_sweep_acc;

void indiv_sweep_acc_init(indiv_sweep_acc *a);
void indiv_sweep_acc_add(indiv_sweep_acc *a, const indiv_round_metrics *m);
/* row[col] for col < indiv_sweep_columns() (all 0 before the first round). */
void indiv_sweep_acc_row(const indiv_sweep_acc *a, double *row /* OUT */);

/* ---- statistics -------------------------------------------------------------------- */

typedef struct indiv_sweep_stat {
    size_t n;
    double mean;
    double sd;   /* sample standard deviation (n − 1); NaN when n < 2 */
    double half; /* CI half-width t_{(1+level)/2, n−1} · sd / √n; NaN when n < 2 */
} indiv_sweep_stat;

/* Mean, sd and the half-width of the two-sided `level` confidence interval of the mean
 * (Student t, gsl_cdf_tdist_Pinv). INDIV_EINVAL when n == 0 or level is not in (0, 1). */
int indiv_sweep_stat_compute(const double *x, size_t n, double level,
                             indiv_sweep_stat *out /* OUT */, indiv_error *err);

/* Shortest decimal form of x that reads back as exactly x ("%.15g" to "%.17g"), "nan",
 * "inf" or "-inf"; 0 for −0. buf holds at least 32 bytes. */
void indiv_sweep_format_double(double x, char *buf);

/* ---- the sweep --------------------------------------------------------------------- */

/* One job, as handed to the runner. */
typedef struct indiv_sweep_job {
    size_t cell;
    int seed_index;                 /* 0..seeds−1 */
    const indiv_sim_params *params; /* base + the cell's values, seed = base_seed + s */
    const char *world_db;
    const char *work_db; /* DIR/work/cell-C-seed-S.db */
    const indiv_model *model;
} indiv_sweep_job;

/* Runs one job, calling on_round(rctx, m) after every round, in order, from the calling
 * thread; stops when on_round returns non-zero. Called concurrently from the worker
 * threads. */
typedef int (*indiv_sweep_run_fn)(void *ctx, const indiv_sweep_job *job,
                                  indiv_round_fn on_round, void *rctx, indiv_error *err);

/* The default runner: indiv_sim_run(job->world_db, job->work_db, ...). */
int indiv_sweep_run_sim(void *ctx, const indiv_sweep_job *job, indiv_round_fn on_round,
                        void *rctx, indiv_error *err);

typedef struct indiv_sweep_opts {
    const char *world_db;
    const char *dir;
    int seeds;                    /* 1..INDIV_SWEEP_SEEDS_MAX */
    uint64_t base_seed;           /* <= INT64_MAX */
    int jobs;                     /* worker threads, 1..INDIV_SWEEP_JOBS_MAX */
    int shard_index, shard_count; /* run only cells c with c mod N == I (0 of 1: all) */
    indiv_sim_params base;        /* every cell starts from these */
    indiv_model model;
    indiv_sweep_run_fn run; /* NULL: indiv_sweep_run_sim */
    void *run_ctx;
} indiv_sweep_opts;

/* What a run did, and the summary of every cell. */
typedef struct indiv_sweep_report {
    size_t cells, columns;
    size_t jobs_selected;   /* jobs of the selected shard */
    size_t jobs_before;     /* of them, already done in results.partial.csv */
    size_t jobs_run;        /* run by this call */
    int complete;           /* every selected job is done; final files written */
    indiv_sweep_stat *stat; /* [cell · columns + col]; n == 0: no row for the cell */
    int heatmaps; /* 1 when figures.gp draws the threshold × serendipity maps */
    char heatmap_note[160]; /* why not, when heatmaps == 0 */
    int figures;            /* figure files figures.gp writes (SVG and PNG each) */
} indiv_sweep_report;

/* Defaults: 5 seeds, base seed 1, 2 jobs, no shard, default simulation parameters with
 * one decision thread per job, the built-in model, the simulation runner. */
void indiv_sweep_opts_init(indiv_sweep_opts *o);

/* Validates the options (seeds, jobs, shard, paths). */
int indiv_sweep_opts_validate(const indiv_sweep_opts *o, indiv_error *err);

/* Runs every job of the selected shard not yet in DIR/results.partial.csv on o->jobs
 * threads, then writes results.csv, summary.csv and figures/. progress is called from
 * the calling thread with stage "jobs" (finished jobs of the shard, counting earlier
 * runs) and stage "rounds" (finished rounds, with their total), when either moves.
 * On error (including a job's), the finished jobs stay recorded for the next run and
 * the final files are not written. rep may be NULL; clear it with
 * indiv_sweep_report_clear. */
int indiv_sweep_run(const indiv_sweep_grid *g, const indiv_sweep_opts *o,
                    indiv_progress_fn progress, void *pctx,
                    indiv_sweep_report *rep /* OUT */, indiv_error *err);

void indiv_sweep_report_clear(indiv_sweep_report *rep);

#endif /* INDIV_EXPERIMENT_H */
