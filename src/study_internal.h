/*
 * study_internal.h — the study's results as study_run.c fills them and study_report.c
 * writes them (not installed, not part of the API).
 *
 * Runs are deduplicated: a cell is one set of settings (a condition plus a sensitivity
 * level's overrides) and horizon, run once per seed whatever the number of claims that
 * use it; a world is one set of world overrides and one seed.
 */
#ifndef INDIV_STUDY_INTERNAL_H
#define INDIV_STUDY_INTERNAL_H

#include "indiv/study.h"

#define STUDY_SETTINGS_MAX 512
#define STUDY_METRICS_MAX  7 /* the primary metric and up to six secondary ones */
#define STUDY_NAME_MAX     32
#define STUDY_LINE_MAX     2048

/* Levels of a claim: the study's values, then the two sensitivity directions. */
enum { LV_BASE = 0, LV_CONTRA_MILD, LV_CONTRA_FULL, LV_PRO_MILD, LV_PRO_FULL, LV_COUNT };

typedef struct study_world {
    char settings[STUDY_SETTINGS_MAX]; /* its "w:" overrides, in order */
    int seed;                          /* seed index s (seed = base + s) */
    char *path;
    int tracked; /* fileio handle: a signal removes the world until cleanup, or -1 */
    double latent_tastes;
    int64_t consumers_with_latent;
} study_world;

typedef struct study_cell {
    char settings[STUDY_SETTINGS_MAX]; /* condition settings, then level overrides */
    int rounds;
    size_t *world;   /* world index per seed */
    double *agg;     /* seeds × INDIV_SIM_NMETRICS: indiv_sim_aggregate of each run */
    double *round_v; /* seeds × rounds × INDIV_SIM_NMETRICS: every round's metrics */
} study_cell;

typedef struct claim_level {
    int run;
    char overrides[STUDY_SETTINGS_MAX];
    size_t cell[INDIV_STUDY_CMP_MAX][2]; /* treatment, reference */
    indiv_study_effect eff[INDIV_STUDY_CMP_MAX][STUDY_METRICS_MAX];
    indiv_verdict cmp_verdict[INDIV_STUDY_CMP_MAX];
    indiv_verdict verdict;
} claim_level;

typedef struct claim_result {
    const indiv_study_claim *c;
    size_t nmetrics; /* metric[0] is the primary one */
    char metric[STUDY_METRICS_MAX][STUDY_NAME_MAX];
    claim_level lv[LV_COUNT];
    indiv_verdict base, final;
    size_t seeds_needed; /* fewest seeds with MDE ≤ δ on every primary comparison at
                            the study's values (0: more than INDIV_STUDY_SEEDS_MAX) */
    char sensitivity[STUDY_LINE_MAX];
    char measured[STUDY_LINE_MAX];
    char ope[STUDY_LINE_MAX]; /* threshold, serendipity: what one logged campaign could
                                 have estimated (off-policy, ope.h), next to the truth */
} claim_result;

/* A profile build's cost for one feature setting. */
typedef struct study_profile_cost {
    char features[64];
    double window_days;
    int64_t bytes, profiled, events;
    double sec_mean, sec_half;
} study_profile_cost;

/* Measurements on one event log (a study world, or the real sample). */
typedef struct study_measure {
    int have;
    char source[96];
    int64_t consumers, offers, events;
    double import_seconds;      /* real sample only */
    study_profile_cost prof[2]; /* all features; tastes only over 90 days */
    double decide_mean, decide_half;
    double candidates; /* consumers × offers × channels of one decision run */
    double cand_per_s, cons_per_s;
    double hours_low, hours_high; /* extrapolated to the target */
} study_measure;

enum { MEAS_WORLD = 0, MEAS_REAL, MEAS_COUNT };

struct indiv_study_results {
    char *dir, *command, *real_csv, *like;
    int quick, seeds, rounds, repeats, jobs, keep_worlds;
    uint64_t base_seed;
    indiv_world_params wp; /* every world starts from these */
    indiv_sim_params sp;   /* every run starts from these */
    indiv_model model;
    indiv_sweep_run_fn run; /* opts.run, or indiv_sweep_run_sim */
    void *run_ctx;
    study_world *worlds;
    size_t nworlds, capworlds;
    int dirs_tracked[4]; /* DIR, worlds/, work/, figures/ when this run created them */
    study_cell *cells;
    size_t ncells, capcells;
    claim_result *claims;
    size_t nclaims;
    study_measure meas[MEAS_COUNT];
    double seconds_total, seconds_runs, seconds_measure;
    size_t runs; /* simulation runs done */
};

/* Target of the scale claim: consumers × offers × channels of one campaign. */
#define STUDY_TARGET_CONSUMERS 1e6
#define STUDY_TARGET_OFFERS    100.0
#define STUDY_CHANNELS         3.0
#define STUDY_BUDGET_HOURS     24.0 /* one daily batch */
#define STUDY_PERSON_PER_S     1.0  /* a person judging one possibility per second */

/* Values of metric `name` of cell `cell`, one per seed, into x (seeds values). */
int study_cell_values(const indiv_study_results *r, size_t cell, const char *name,
                      double *x /* OUT */, indiv_error *err);

/* 1 when comparison k of claim c runs at level lv: every comparison at the study's
 * values, the primary ones only at the sensitivity levels. */
int study_cmp_in_level(const indiv_study_claim *c, int lv, size_t k);

/* Human names of levels ("study values", "mild contra", ...). */
const char *study_level_name(int level);

#endif /* INDIV_STUDY_INTERNAL_H */
