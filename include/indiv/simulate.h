/*
 * simulate.h — the closed loop (docs/architecture.md §8): simulated consumers answer the
 * engine's decisions, their answers are appended to the event log, profiles are rebuilt,
 * next round.
 *
 * A simulation runs on a generated world (truth_* tables) copied to a work database, so
 * the world itself is never changed and every policy starts from the same state. Each
 * round of `round_days` days:
 *   1. organic purchases from each active consumer's known tastes (gamma renewal, as the
 *      generator), appended as events;
 *   2. latent needs not yet revealed may be met elsewhere (leakage);
 *   3. the policy decides: the indiv engine (profiles rebuilt incrementally, then the
 *      same decide code as `indiv decide`), or a reference policy (mass campaign,
 *      persona, random, oracle);
 *   4. each contacted consumer reacts by the stated response model (true utility of the
 *      offers, right or wrong moment, readiness, accumulated fatigue); contacts, opens,
 *      purchases, dismissals and unsubscriptions are appended as events; a purchase in a
 *      latent category reveals it; irrelevant contacts raise annoyance, which leads to
 *      unsubscribing or leaving;
 *   5. the round's metrics are computed.
 * Every assumption is a named parameter (indiv_response_params) with a default, printed
 * into the output. Same world, parameters and seed → identical metrics.
 */
#ifndef INDIV_SIMULATE_H
#define INDIV_SIMULATE_H

#include <stdint.h>

#include "indiv/error.h"
#include "indiv/model.h"
#include "indiv/policy.h"
#include "indiv/profile.h"
#include "indiv/progress.h"

typedef enum indiv_sim_policy {
    INDIV_SIM_INDIV = 0,      /* threshold + serendipity, as configured */
    INDIV_SIM_NO_SERENDIPITY, /* indiv with ε = 0 */
    INDIV_SIM_NO_THRESHOLD,   /* indiv with τ = 0 */
    INDIV_SIM_MASS,           /* everyone eligible gets the same best offers */
    INDIV_SIM_PERSONA,        /* k segments of profiles, each its segment's best offers */
    INDIV_SIM_RANDOM,         /* random offers to every eligible consumer */
    INDIV_SIM_ORACLE,         /* knows true utility (Chaney, Stewart & Engelhardt 2018) */
    INDIV_SIM_POLICY_COUNT
} indiv_sim_policy;

/* The response model's assumptions (docs/simulation.md gives each formula). */
typedef struct indiv_response_params {
    double irrelevant_utility;  /* a contact whose best offer has true utility below
                                   this is irrelevant */
    double conversion_max;      /* P(buy offer | opened) = conversion_max · utility */
    double wrong_moment_factor; /* open probability × this when sent far from the
                                   preferred hour */
    double moment_window_hours; /* "right moment": within this of the preferred hour */
    double not_ready_factor; /* purchase probability × this shortly after a purchase */
    double ready_fraction;   /* "shortly": before this fraction of the mean interval */
    double annoyance_per_irrelevant; /* annoyance added by an irrelevant contact */
    double annoyance_per_contact;    /* added by any contact (pressure) */
    double annoyance_decay;          /* annoyance × this each round */
    double fatigue_open_effect;      /* open probability × exp(−effect · annoyance) */
    double p_leave;                  /* when annoyance reaches tolerance: leave with this
                                        probability, otherwise unsubscribe */
    double leakage_per_round;        /* P(an unrevealed latent need is met elsewhere) */
    double organic_latent_discovery; /* P(per round) of finding a latent taste alone */
    double reveal_on_engagement;     /* P that an opened, unbought offer of a latent
                                        category is clicked and reveals the taste */
    double annoyance_per_unwanted_divergent; /* added per divergent offer below the
                                                irrelevant utility */
    int perfect_aim; /* 1: every divergent offer is replaced by one of the person's
                        best unrevealed latent category (the ceiling of aiming) */
} indiv_response_params;

typedef struct indiv_sim_params {
    int rounds;
    double round_days;
    uint64_t seed;
    indiv_sim_policy policy;
    indiv_policy_params policy_params;   /* threshold, serendipity, slots, ... (as_of set
                                            each round) */
    indiv_profile_params profile_params; /* half-life, window, features */
    int persona_k;                       /* segments of the persona policy */
    int threads;                         /* decision threads */
    indiv_response_params response;
    int trained;       /* 1: the engine trains its own model on the log (indiv_train_run)
                          before round 1, replacing the given one */
    int retrain_every; /* with trained: retrain every R rounds (rounds 1, 1+R, 1+2R, ...)
                          on everything logged so far, its own contacts and outcomes
                          included; 0: train once */
    int train_dims;    /* embedding dimension of the trained model */
    int train_iterations; /* ALS sweeps of each training */
    int threshold_set;    /* 1 once `threshold` was given (indiv_sim_params_set); until
                             then, with `trained`, each round uses the recommended τ of
                             the model trained in the loop (indiv_sim_threshold_rule) */
    int relevance_set;    /* 1 once `relevance` was given */
    const char *log_decisions; /* when set (policy indiv): the last round's decisions
                                  are also written there (JSON Lines, as indiv decide),
                                  for off-policy evaluation (ope.h); NULL by default */
} indiv_sim_params;

/* Metrics of one round: one X-macro so that CSV headers, JSON keys and sweeps share the
 * list. X(name, description) */
#define INDIV_SIM_METRICS(X)                                                             \
    X(contacts, "contacts sent this round")                                              \
    X(conversions, "purchases caused by contacts")                                       \
    X(conversion_rate, "conversions per contact")                                        \
    X(irrelevant_share, "share of contacts whose best offer is below the irrelevant "    \
                        "utility")                                                       \
    X(revenue, "value of all purchases this round (organic and from contacts)")          \
    X(revenue_contacts, "value of purchases caused by contacts")                         \
    X(unsubscribes, "consumers who withdrew contact consent this round")                 \
    X(departures, "consumers who left this round")                                       \
    X(active, "consumers still active at the end of the round")                          \
    X(leakage, "latent needs met elsewhere this round")                                  \
    X(latent_revealed, "latent tastes revealed by a contact (purchase or engagement)")   \
    X(latent_revealed_total, "latent tastes revealed by contacts since the start")       \
    X(latent_revealed_engaged, "of latent_revealed: by engagement without a purchase")   \
    X(diversity, "mean category entropy (bits) of each consumer's purchases so far")     \
    X(coverage, "share of offers bought at least once this round")                       \
    X(exposure_gini, "Gini coefficient of contacts over offers this round")              \
    X(jaccard_items, "mean Jaccard similarity of consumed offers, sampled pairs")        \
    X(jaccard_categories, "mean Jaccard similarity of consumed categories, pairs")       \
    X(jaccard_matched,                                                                   \
      "mean Jaccard similarity of consumed offers, taste-matched pairs")                 \
    X(contacts_p50, "median contacts per eligible consumer so far")                      \
    X(contacts_p90, "90th percentile of contacts per eligible consumer so far")          \
    X(contacts_max, "most contacts received by one consumer so far")                     \
    X(never_contacted_share, "share of eligible consumers never contacted so far")       \
    X(bubble_share, "share of contacted offers inside the person's known tastes")        \
    X(divergent_share, "share of contacts carrying a divergent offer")                   \
    X(divergent_offers, "divergent offers sent this round")                              \
    X(divergent_hits, "divergent offers of a latent, unrevealed taste of the person")    \
    X(divergent_hit_rate, "divergent_hits per divergent offer")                          \
    X(unwanted_divergent, "divergent offers below the irrelevant utility")               \
    X(model_version, "trainings of the engine's model so far (0: the given model)")    \
    X(threshold, "τ of the engine's decisions this round (0 for the other policies)")

#define INDIV_SIM_ENUM(name, doc) INDIV_M_##name,
typedef enum indiv_sim_metric {
    INDIV_SIM_METRICS(INDIV_SIM_ENUM) INDIV_SIM_NMETRICS
} indiv_sim_metric;
#undef INDIV_SIM_ENUM

/* Wall-clock and CPU seconds of a round's stages. Kept apart from the metrics, which
 * are reproducible to the byte while timings are not. CPU seconds are the process's
 * (every thread: the decisions' threads add up), so that a stage's share does not
 * depend on the machine's load. */
enum {
    INDIV_SIM_T_PROFILE = 0,
    INDIV_SIM_T_DECIDE,
    INDIV_SIM_T_RESPOND,
    INDIV_SIM_T_TRAIN,
    INDIV_SIM_NTIMES
};

typedef struct indiv_round_metrics {
    int round; /* 1-based */
    int64_t round_start, round_end;
    double v[INDIV_SIM_NMETRICS];
    /* profile rebuild, decisions, responses, training */
    double seconds[INDIV_SIM_NTIMES];
    double cpu_seconds[INDIV_SIM_NTIMES];
} indiv_round_metrics;

/* Called after every round (from the calling thread). Non-zero stops the run. */
typedef int (*indiv_round_fn)(void *ctx, const indiv_round_metrics *m);

/* One row of the simulation parameter table (src/simloop.c): every parameter settable
 * by name, with its range, default and meaning. The defaults, indiv_sim_params_set /
 * _validate / _json, the study's assumption table and `indiv simulate --help` read it.
 * Besides these, "policy", "divergence", "seed" and "features" are set by name too,
 * and so is every other parameter of the policy's table (policy.h: "divergence_aim",
 * "divergence_temperature", ...), parsed and checked by that table. */
typedef struct indiv_sim_param {
    const char *name;
    int is_int;
    double lo, hi; /* inclusive range */
    double def;    /* default (indiv_sim_params_init) */
    const char *doc;
} indiv_sim_param;

size_t indiv_sim_param_count(void);
/* Row i of the table; INDIV_EINVAL past the end. */
int indiv_sim_param_at(size_t i, indiv_sim_param *out /* OUT */);

/* Defaults: every row of the table; seed 1, policy indiv; the policy's and the profile's
 * own defaults for their parameters. */
void indiv_sim_params_init(indiv_sim_params *p);
int indiv_sim_params_validate(const indiv_sim_params *p, indiv_error *err);

/* Sets a parameter by name ("threshold", "serendipity", "rounds", "p_leave", ...; the
 * names of the response model and of the policy flags with '-' or '_'), for sweeps and
 * config files. INDIV_EINVAL naming the parameter or the value at fault. */
int indiv_sim_params_set(indiv_sim_params *p, const char *name, const char *value,
                         indiv_error *err);

/* Where the engine's τ comes from in a run under p, as a sentence for people (static),
 * or NULL when it is simply p's threshold. Without a threshold given and with a model
 * trained in the loop (p->trained), the engine's policies (indiv, indiv-no-serendipity)
 * decide each round at that model's recommended τ when its calibration fits, as decide
 * does with a model file (indiv_decide_default_threshold): relevance `any`, unless a
 * relevance was given (the calibration is for `any`: under a given `best` the policy
 * default applies). The round's τ is the metric `threshold`. */
const char *indiv_sim_threshold_rule(const indiv_sim_params *p);

/* A --model argument: "trained" or "trained:every=R" sets p->trained (and
 * p->retrain_every) and returns 1; anything else is a model file path: 0, p unchanged.
 * INDIV_EINVAL on a malformed "trained:..." spec. */
int indiv_sim_model_spec(const char *spec, indiv_sim_params *p, indiv_error *err);

/* Every parameter as a JSON object with sorted keys (caller frees). */
char *indiv_sim_params_json(const indiv_sim_params *p);

const char *indiv_sim_policy_name(indiv_sim_policy p);
int indiv_sim_policy_parse(const char *name, indiv_sim_policy *out);
const char *indiv_sim_metric_name(int metric);
const char *indiv_sim_metric_doc(int metric);

/* How a run's rounds sum up into one value per metric (results tables, sweeps,
 * comparisons): counts (contacts, conversions, revenue, unsubscribes, departures,
 * leakage, latent_revealed, seconds) are summed over rounds; conversion_rate is
 * conversions / contacts overall; irrelevant, divergent and bubble shares are averaged
 * over rounds weighted by contacts; everything else (active, latent_revealed_total,
 * diversity, coverage, Gini, Jaccard, contact distribution) is the last round's value. */
void indiv_sim_aggregate(const indiv_round_metrics *rounds, int n,
                         double out[INDIV_SIM_NMETRICS] /* OUT */);

/* 1 when metric m is summed over rounds by indiv_sim_aggregate. */
int indiv_sim_metric_is_count(int m);

/* Copies the world database world_db to work_db (overwritten) and runs the loop there.
 * The model is the decide model (used by the indiv policies and for persona/mass
 * scoring). on_round may be NULL. */
int indiv_sim_run(const char *world_db, const char *work_db, const indiv_sim_params *p,
                  const indiv_model *m, indiv_progress_fn progress, void *pctx,
                  indiv_round_fn on_round, void *rctx, indiv_error *err);

/* ---- an output directory, as `indiv simulate` writes it (src/simoutput.c) --------- */

/* Creates directory dir unless it exists. INDIV_EIO naming it. */
int indiv_sim_output_dir(const char *dir, indiv_error *err);

/* Runs p (its policy) on world_db into dir/<policy>/: world.db (the work database),
 * rounds.csv (one row per round, every metric, %.6g), rounds.json and timings.csv (the
 * stage seconds, the only non-reproducible file); tot gets indiv_sim_aggregate of the
 * rounds. on_each (may be NULL) is called after each round, after the files. dir must
 * exist. */
int indiv_sim_run_into(const char *world_db, const char *dir, const indiv_sim_params *p,
                       const indiv_model *m, indiv_progress_fn progress, void *pctx,
                       indiv_round_fn on_each, void *rctx,
                       double tot[INDIV_SIM_NMETRICS] /* OUT */, indiv_error *err);

/* dir/comparison.csv: one row per policy (tot[policy]), then each value minus the
 * oracle's. */
int indiv_sim_write_comparison(
    const char *dir, const double tot[INDIV_SIM_POLICY_COUNT][INDIV_SIM_NMETRICS],
    indiv_error *err);

/* dir/params.json: every simulation parameter, the world, the model id, "all" or "one"
 * policy, and every metric's meaning (sorted keys). */
int indiv_sim_write_params(const char *dir, const char *world_db,
                           const indiv_sim_params *p, const char *model_id, int all,
                           indiv_error *err);

#endif /* INDIV_SIMULATE_H */
