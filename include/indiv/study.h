/*
 * study.h — the ethics study (docs/architecture.md §1, §2): the interviews' claims, each
 * tested by an experiment under stated assumptions, with a verdict and a sensitivity
 * line. docs/study.md describes the method and the files; `indiv study` is the command.
 *
 * The claim table is data (indiv_study_claim_at): for each claim an id, its exact
 * words (verbatim substrings of ../shared/interviews.md, with speaker and source id),
 * an English summary, the sources described, the conditions compared (simulation
 * settings), the primary metric with the direction the claim predicts, the verdict rule,
 * and the assumption the verdict rests on, as two sets of parameter overrides: `contra`
 * works against the claim (removes the assumption), `pro` in its favour.
 *
 * Effects. Every condition of a claim runs on the same worlds and seeds: seed s
 * generates world s and drives the simulation's random streams, so two conditions meet
 * the same consumers and, where their paths agree, the same draws (common random
 * numbers; Law, "Simulation Modeling and Analysis", 5th ed., 2015, §11.2). The effect
 * of treatment T against reference R on a metric is the mean of the per-seed
 * differences d_s = x_s(T) − x_s(R), with the paired Student interval
 *     mean(d) ± t_{0.975, n−1} · sd(d) / √n
 * (the CI of a paired comparison, Law §10.2.1), computed with GSL.
 *
 * Verdict rules, with σ = +1 when the claim predicts T > R and −1 when T < R,
 * e = σ·d the effect in the claimed direction with interval [e_lo, e_hi], and the
 * smallest effect of interest δ = delta_abs + delta_rel · |mean x(R)|:
 *   effect claims       supported      iff e_lo > 0 and mean(e) ≥ δ
 *                       not supported  iff e_hi < 0, or −δ ≤ e_lo and e_hi ≤ δ
 *                       inconclusive   otherwise (more seeds would be needed)
 *   non-inferiority     (T is at most δ worse than R, "we don't need all this data")
 *                       supported iff d_lo > −δ; not supported iff d_hi < −δ;
 *                       inconclusive otherwise
 *   descriptive         supported iff the measured quantity is within its bound
 * A claim with several primary comparisons is supported when all are, not supported
 * when one is not, inconclusive otherwise.
 *
 * Sensitivity. A supported claim is run again under `contra`, a not-supported one under
 * `pro`, an inconclusive one under both (its primary comparisons only); each at two
 * levels: "mild" (every overridden parameter halfway between the study's value and the
 * override) and "full". The final verdict is "depends on an assumption" when the mild
 * level already turns a conclusive verdict into the opposite one; otherwise it is the
 * base verdict, and the sensitivity line says whether the full override flips it.
 *
 * Usage:
 *     indiv_study_opts o;
 *     indiv_study_opts_init(&o);             // then dir, quick, seeds, ...
 *     indiv_study_results *r;
 *     indiv_study_run(&o, progress, pctx, &r, &err);   // runs the simulations
 *     indiv_study_write_data(r, &err);                 // results.json, figures data
 *     // draw DIR/figures/study.gp with gnuplot (the CLI does), then:
 *     indiv_study_write_report(r, &err);               // report.md, report.html
 *     indiv_study_results_free(r);
 */
#ifndef INDIV_STUDY_H
#define INDIV_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/experiment.h"
#include "indiv/model.h"
#include "indiv/progress.h"
#include "indiv/sim.h"
#include "indiv/simulate.h"

#define INDIV_STUDY_CMP_MAX   5 /* comparisons of one claim */
#define INDIV_STUDY_SEEDS_MIN 2 /* a confidence interval needs two */
#define INDIV_STUDY_SEEDS_MAX 1000
#define INDIV_STUDY_JOBS_MAX  64
#define INDIV_STUDY_CI_LEVEL  0.95

/* ---- the claim table --------------------------------------------------------------- */

typedef enum indiv_study_kind {
    INDIV_STUDY_EFFECT = 0,      /* the treatment moves the metric in a direction */
    INDIV_STUDY_NONINFERIOR = 1, /* the treatment loses at most δ */
    INDIV_STUDY_DESCRIPTIVE = 2  /* a measurement against a stated bound */
} indiv_study_kind;

typedef enum indiv_verdict {
    INDIV_VERDICT_NONE = 0, /* not run */
    INDIV_VERDICT_SUPPORTED,
    INDIV_VERDICT_NOT_SUPPORTED,
    INDIV_VERDICT_INCONCLUSIVE,
    INDIV_VERDICT_DEPENDS, /* final verdicts only: flips at the mild sensitivity level */
    INDIV_VERDICT_UNDERPOWERED /* not supported at this size, but the run could not
                                  have detected δ (MDE > δ): no conclusion */
} indiv_verdict;

/* A simulated condition: simulation settings ("policy=indiv serendipity=0.3", each
 * NAME=VALUE for indiv_sim_params_set) and the horizon as a multiple of the study's
 * rounds. */
typedef struct indiv_study_condition {
    const char *id;
    const char *settings;
    int rounds_factor;
    const char *doc;
} indiv_study_condition;

typedef struct indiv_study_comparison {
    const char *treatment; /* condition ids */
    const char *reference;
    int primary; /* 1: enters the verdict; 0: reported only */
} indiv_study_comparison;

#define INDIV_STUDY_QUOTES_MAX 2

/* An exact quotation: a verbatim substring of ../shared/interviews.md, shown in « »
 * with its speaker and source id (S1..S4, as there). */
typedef struct indiv_study_quote {
    const char *text; /* without the « » */
    const char *speaker;
    const char *source_id;
} indiv_study_quote;

typedef struct indiv_study_claim {
    const char *id;
    const char *title;
    size_t nquotes; /* 1..INDIV_STUDY_QUOTES_MAX */
    indiv_study_quote quotes[INDIV_STUDY_QUOTES_MAX];
    const char *paraphrase; /* English summary, not a translation */
    const char *source;     /* the sources of the quotations, described */
    const char *design;     /* why these conditions and parameters */
    indiv_study_kind kind;
    const char *metric; /* primary study metric (indiv_study_metric_find) */
    int direction;      /* +1: the claim predicts T − R > 0; −1: < 0 (effect kind) */
    double delta_abs;   /* δ = delta_abs + delta_rel · |mean of the reference| */
    double delta_rel;
    const char *secondary; /* other metrics reported, comma-separated */
    size_t ncmp;
    indiv_study_comparison cmp[INDIV_STUDY_CMP_MAX];
    const char *assumption; /* in words: what the verdict rests on */
    const char *contra;     /* overrides against the claim; "w:": world parameters */
    const char *pro;        /* overrides in its favour */
    const char *figure;     /* "conditions", "rounds", "scatter" or NULL */
} indiv_study_claim;

/* A claim of the interviews the study does not test, and why. */
typedef struct indiv_study_unstudied {
    const char *id; /* as in ../shared/interviews.md */
    const char *why;
} indiv_study_unstudied;

size_t indiv_study_unstudied_count(void);
const indiv_study_unstudied *indiv_study_unstudied_at(size_t i); /* NULL out of range */

size_t indiv_study_claim_count(void);
const indiv_study_claim *indiv_study_claim_at(size_t i); /* NULL out of range */
const indiv_study_claim *indiv_study_claim_find(const char *id);

size_t indiv_study_condition_count(void);
const indiv_study_condition *indiv_study_condition_at(size_t i);
const indiv_study_condition *indiv_study_condition_find(const char *id);

/* Study metrics: simulation metrics aggregated over a run (indiv_sim_aggregate) and a
 * few derived ones (losses, irrelevant contacts, latent tastes in % of the world's). */
typedef struct indiv_study_metric {
    const char *name;
    const char *unit;
    const char *doc;
} indiv_study_metric;

size_t indiv_study_metric_count(void);
const indiv_study_metric *indiv_study_metric_at(size_t i);
const indiv_study_metric *indiv_study_metric_find(const char *name);

/* The value of study metric `name` for one run: agg from indiv_sim_aggregate,
 * latent_tastes the world's number of latent tastes. INDIV_EINVAL on an unknown name. */
int indiv_study_metric_value(const char *name, const double agg[INDIV_SIM_NMETRICS],
                             double latent_tastes, double *out /* OUT */,
                             indiv_error *err);

/* Applies settings ("a=1 w:b=2 ...") to sim and world parameters (either may be NULL:
 * its settings are then only checked by name), then validates both. INDIV_EINVAL naming
 * the setting at fault. */
int indiv_study_apply(const char *settings, indiv_sim_params *sim,
                      indiv_world_params *world, indiv_error *err);

/* Checks the whole table: ids unique, every text present, metrics and conditions
 * known, every condition's and override's settings valid, a rule for every kind.
 * INDIV_EINVAL naming the claim and field at fault. */
int indiv_study_table_check(indiv_error *err);

/* ---- statistics and rules ---------------------------------------------------------- */

typedef struct indiv_study_effect {
    size_t n;
    double mean_t, mean_r; /* means of the treatment's and the reference's values */
    double mean, sd, half; /* of the differences; half-width of the 95% CI */
    double lo, hi;         /* mean ∓ half */
    double mde; /* minimum detectable effect at this n (indiv_study_mde), from sd */
} indiv_study_effect;

/* Power of the paired comparisons: two-sided level 1 − INDIV_STUDY_CI_LEVEL, power
 * INDIV_STUDY_POWER. */
#define INDIV_STUDY_POWER 0.8

/* The minimum detectable effect of a paired comparison of n seeds whose differences
 * have standard deviation sd (from a pilot: the run itself), at level α = 0.05
 * two-sided and power 0.8, with Student quantiles (Bloom, "Minimum detectable
 * effects", Evaluation Review 19(5), 1995; Cohen, "Statistical Power Analysis", 1988):
 *     MDE = (t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n.
 * +∞ when n < 2. */
double indiv_study_mde(double sd, size_t n);

/* The fewest seeds n ≥ 2 with indiv_study_mde(sd, n) ≤ delta; 0 when even
 * INDIV_STUDY_SEEDS_MAX is not enough (or delta ≤ 0 < sd). */
size_t indiv_study_seeds_needed(double sd, double delta);

/* The paired effect of t against r (n values each, seed by seed). INDIV_EINVAL when
 * n < 2 or a value is not finite. */
int indiv_study_paired(const double *t, const double *r, size_t n,
                       indiv_study_effect *out /* OUT */, indiv_error *err);

/* δ of a claim for an effect (see the header comment). */
double indiv_study_delta(const indiv_study_claim *c, const indiv_study_effect *e);

/* The verdict of one comparison by the claim's rule (effect or non-inferiority). An
 * effect claim that is not supported is "not supported" only when the comparison's MDE
 * is at most δ; otherwise it is UNDERPOWERED (the run was too small to tell). */
indiv_verdict indiv_study_rule(const indiv_study_claim *c, const indiv_study_effect *e);

/* Several primary comparisons: all supported → supported; one not supported → not
 * supported; else one underpowered → underpowered; otherwise inconclusive. NONE when
 * n == 0. */
indiv_verdict indiv_study_combine(const indiv_verdict *v, size_t n);

/* The final verdict from the base verdict and the verdict at the mild sensitivity level
 * of the direction that could flip it (NONE when not run): DEPENDS when a conclusive
 * base verdict turns into the opposite conclusive one, else the base verdict. */
indiv_verdict indiv_study_final(indiv_verdict base, indiv_verdict mild);

/* "supported", "not supported", "inconclusive", "depends on an assumption",
 * "underpowered", "not run". */
const char *indiv_verdict_name(indiv_verdict v);

/* ---- the run ----------------------------------------------------------------------- */

typedef struct indiv_study_opts {
    const char *dir;            /* output directory (created) */
    int quick;                  /* quick preset instead of the thorough one */
    int seeds;                  /* 0: the preset's (quick 3, thorough 10) */
    uint64_t base_seed;         /* seed s = base_seed + s, s = 0..seeds−1 */
    int jobs;                   /* worker threads over runs */
    int64_t consumers;          /* 0: the preset's (quick 1,000, thorough 10,000) */
    int rounds;                 /* 0: the preset's (quick 8, thorough 26) */
    const char *claims;         /* comma-separated claim ids, NULL: all */
    const char *world_settings; /* "w:NAME=VALUE ..." applied to every world (NULL) */
    const char *real_csv;       /* Online Retail CSV for the measurements, NULL: none */
    const char *like;           /* an imported event log: every world is fitted to it
                                   (indiv_worldfit_params; indiv generate --like without
                                   pilot rounds), at the study's size; NULL: the
                                   generator's defaults (taste_locality calibrated) */
    int keep_worlds;            /* keep DIR/worlds/ (deleted otherwise) */
    int repeats;                /* timed repetitions of measurements, 0: preset (3 / 5) */
    const char *command;        /* the command line, quoted in the report (may be NULL) */
    int max_seeds;              /* power sizing: when a claim is underpowered and
                                   MDE ≤ δ needs more seeds, up to this many, the study is run again
                                   with that many (the first run is the pilot); 0: never; -1: the
                                   preset's (quick 0, thorough 40) */
    indiv_model model;
    indiv_sweep_run_fn run; /* runs one simulation (a sweep's runner: indiv-mpi sends it
                               to a rank); NULL: indiv_sweep_run_sim, in this process */
    void *run_ctx;
} indiv_study_opts;

typedef struct indiv_study_results indiv_study_results;

/* Defaults: thorough preset, base seed 1, 2 jobs, all claims, no real data, the
 * built-in model. */
void indiv_study_opts_init(indiv_study_opts *o);
int indiv_study_opts_validate(const indiv_study_opts *o, indiv_error *err);

/* Generates the worlds, runs every selected claim's conditions on every seed (on
 * o->jobs threads), then the sensitivity runs its base verdict calls for, and measures
 * profile and decision costs. With power sizing (max_seeds), a run whose claims are
 * underpowered is a pilot: the study runs again with the seeds the pilot's variance
 * says MDE ≤ δ needs (at most max_seeds). Writes nothing but DIR/worlds (deleted
 * unless kept): indiv_study_write_data then writes the data. progress is called from the
 * calling thread with stages "worlds", "runs", "sensitivity worlds", "sensitivity runs",
 * "measurements". On error *out is NULL. */
int indiv_study_run(const indiv_study_opts *o, indiv_progress_fn progress, void *pctx,
                    indiv_study_results **out /* OUT */, indiv_error *err);

/* Writes DIR/results.json and DIR/figures/ (data files and study.gp, a gnuplot script
 * drawing every figure; the library never runs gnuplot): the step between the run and
 * the report. */
int indiv_study_write_data(const indiv_study_results *r, indiv_error *err);

/* Writes DIR/report.md and DIR/report.html (self-contained: figures found in
 * DIR/figures/ inlined, SVG preferred, PNG otherwise; a note where none was drawn). */
int indiv_study_write_report(const indiv_study_results *r, indiv_error *err);

void indiv_study_results_free(indiv_study_results *r);

/* Read access for the command line's summary. */
size_t indiv_study_results_claims(const indiv_study_results *r);
const indiv_study_claim *indiv_study_results_claim(const indiv_study_results *r,
                                                   size_t i);
indiv_verdict indiv_study_results_verdict(const indiv_study_results *r, size_t i,
                                          int final);
/* The primary effect of the claim's first primary comparison (base level); 0 when the
 * claim has none (descriptive). */
int indiv_study_results_primary(const indiv_study_results *r, size_t i,
                                indiv_study_effect *out /* OUT */);
/* One line: the sensitivity result ("flips at ...", "does not flip ..."). */
const char *indiv_study_results_sensitivity(const indiv_study_results *r, size_t i);
/* One line: the measured value of a descriptive claim (empty otherwise). */
const char *indiv_study_results_measured(const indiv_study_results *r, size_t i);
double indiv_study_results_seconds(const indiv_study_results *r);

#endif /* INDIV_STUDY_H */
