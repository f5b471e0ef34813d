/*
 * ope.h — off-policy evaluation: the value another policy would have had, estimated
 * from one logged decision run and the outcomes that followed it (docs/ope.md,
 * docs/architecture.md §6).
 *
 * A decision run logs, for every consumer, the action taken a_i (none, or a contact or
 * defer with its set of offers) and its propensity π_0(a_i | x_i) (policy.h "Decision
 * propensity"). For a target policy π_t the run re-evaluates each logged action under
 * π_t on the same profiles, model and decision time (indiv_policy_evaluate: π_t(a_i |
 * x_i), the engine's reward model r̂(x_i, a_i) and its expectation under π_t), reads
 * the outcome r_i from the event log in (as_of, until], and estimates the target's value
 * per consumer (Dudík, Langford & Li, "Doubly robust policy evaluation and learning",
 * ICML 2011), with w_i = π_t(a_i | x_i) / π_0(a_i | x_i):
 *   IPS    V = (1/n) Σ w_i r_i                          (Horvitz & Thompson 1952)
 *   SNIPS  V = Σ w_i r_i / Σ w_i          (Swaminathan & Joachims, NeurIPS 2015)
 *   DR     V = (1/n) Σ [ r̂_t(x_i) + w_i (r_i − r̂(x_i, a_i)) ],
 *          r̂_t(x) = Σ_a π_t(a | x) r̂(x, a)                (Dudík et al. 2011, eq. 2)
 * each with a 95 % percentile bootstrap interval (Poisson bootstrap: every decision
 * weighted by an independent Poisson(1) count per replicate; Hanley & MacGibbon 2006,
 * Chamandy et al. 2012) and Kish's effective sample size (Σ w)² / Σ w².
 *
 * Outcomes of a decision (per consumer): conversions = purchases, in (as_of, until], of
 * the offers it listed, made through a contact channel (email, sms, push: the contact's
 * attribution; web purchases are organic); revenue = their value; contacts = 1 for a
 * `contact` action. The engine's reward model counts only contacts: Σ p_j, Σ p_j ·
 * price_j over the offers sent, and 1.
 *
 * Support: IPS is unbiased only when the logging policy could take every action the
 * target takes. A consumer whose logged decision was certain (π_0(a_i | x_i) = 1) could
 * only have received a_i, so the target's mass 1 − π_t(a_i | x_i) on other actions is
 * unsupported; the run refuses (INDIV_EINVAL, with the share and an example consumer)
 * when the mean of that mass exceeds max_unsupported.
 */
#ifndef INDIV_OPE_H
#define INDIV_OPE_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/policy.h"

#define INDIV_OPE_REPLICATES     1000 /* bootstrap replicates by default */
#define INDIV_OPE_MAX_UNSUPPORTED 0.01 /* refuse above this unsupported share */

/* One logged decision, ready for the estimators. */
typedef struct indiv_ope_sample {
    double w;                  /* π_t(a | x) / π_0(a | x) */
    double r[INDIV_V_COUNT];   /* the outcomes observed */
    double dr[INDIV_V_COUNT];  /* r̂_t(x) + w (r − r̂(x, a)): the DR term */
    double unsupported;        /* 1 − π_t(a | x) when π_0(a | x) = 1, else 0 */
} indiv_ope_sample;

typedef struct indiv_ope_interval {
    double value, lo, hi; /* estimate, 95 % bootstrap interval */
} indiv_ope_interval;

typedef struct indiv_ope_result {
    int64_t n;                      /* logged decisions */
    double logged[INDIV_V_COUNT];   /* mean outcome: the logging policy's own value */
    indiv_ope_interval ips[INDIV_V_COUNT], snips[INDIV_V_COUNT], dr[INDIV_V_COUNT];
    double ess;                     /* Kish: (Σ w)² / Σ w² */
    double mean_weight, max_weight; /* mean w is 1 in expectation under full support */
    double unsupported;             /* mean unsupported mass */
    int64_t unsupported_n;          /* decisions with unsupported mass > 0 */
    int replicates;
    uint64_t seed;
    int64_t as_of, until;           /* set by indiv_ope_run */
    char model_id[128];             /* set by indiv_ope_run */
} indiv_ope_result;

typedef struct indiv_ope_params {
    indiv_policy_params target; /* as_of and seed are taken from the log */
    int64_t until;              /* outcomes in (as_of, until] */
    int replicates;             /* bootstrap replicates, ≥ 1 */
    uint64_t seed;              /* of the bootstrap streams */
    double max_unsupported;     /* in [0, 1] */
    int threads;                /* target evaluation and bootstrap */
} indiv_ope_params;

/* Defaults: the policy's defaults as target, INDIV_OPE_REPLICATES, seed 1,
 * INDIV_OPE_MAX_UNSUPPORTED, 2 threads; until must be set. */
void indiv_ope_params_init(indiv_ope_params *p);

/* The estimators over n samples (n ≥ 1): values, bootstrap intervals (replicates
 * Poisson-weighted resamples, streams seeded by (seed, replicate): the result does not
 * depend on threads), ESS, weights, support. INDIV_EINVAL when n is 0 or replicates < 1,
 * INDIV_ENOMEM. */
int indiv_ope_estimate(const indiv_ope_sample *s, size_t n, int replicates, uint64_t seed,
                       int threads, indiv_ope_result *out /* OUT */, indiv_error *err);

/* The whole evaluation: reads the decisions file (JSON Lines of indiv decide, each line
 * with its decision `propensity`), the outcomes from log, evaluates the target with
 * model m (the model of the logged run: refused when the lines name another) on the
 * stored profiles, and estimates. INDIV_EFORMAT naming the line at fault; INDIV_EINVAL
 * for no support (see above), an `until` not after the decision time, or decisions of
 * several decision times. */
int indiv_ope_run(indiv_eventlog *log, const indiv_model *m, const char *decisions_path,
                  const indiv_ope_params *p, indiv_ope_result *out /* OUT */,
                  indiv_error *err);

/* The result as pretty JSON (sorted keys, reals %.6g); caller frees. */
char *indiv_ope_result_json(const indiv_ope_result *r, const indiv_ope_params *p);

/* Name of value kind v: "conversions", "revenue", "contacts". */
const char *indiv_ope_value_name(int v);

#endif /* INDIV_OPE_H */
