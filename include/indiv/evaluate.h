/*
 * evaluate.h — offline evaluation on a real or simulated log: profiles as of a split
 * time, decisions and rankings, compared with what each consumer did between the split
 * and `until` (docs/architecture.md §2). Definitions of every figure: docs/evaluation.md.
 *
 * Who is evaluated: the "known customers", consumers with profiling consent and at
 * least one purchase before the split (consumers without consent have no profile and
 * their purchases are not read; buyers with no history are counted apart as cold).
 * Truth: the offers each bought in [split, until). Two ways to count, both reported:
 * every purchase counts ("all": retail repeats a lot), or only offers the person had
 * not bought before the split ("new": those are then also removed from every ranked
 * list, except the mass campaign's, which by definition ignores the person).
 *
 * Methods, on the same consumers in the same run:
 *   indiv       the scorer's top k of the valid offers, whatever the threshold τ;
 *   random      k valid offers in a random order (one stream per consumer);
 *   popularity  the most bought offers before the split (all consumers, non-personal);
 *   mass        the model's non-personal score (intercept + popularity term): the same
 *               best offers for everyone;
 *   repeat      repeat-buy with the standard tie-breaking: the offers the person bought
 *               on the most purchase occasions (distinct purchase times) before the
 *               split, ties to the most recently bought, then the rest of the list
 *               filled by popularity;
 *   item-knn    cosine item-kNN (Deshpande & Karypis 2004), k = knn_k neighbours;
 *   ease        EASE (Steck 2019) on who bought what before the split, its lambda
 *               chosen on a validation split before the split (itemsim.h).
 * Ranking accuracy (HitRate, Precision, Recall, NDCG at k, tie-aware, metrics.h) is
 * averaged over the known customers who bought something in the window; coverage,
 * novelty and diversity over every known customer's list; serendipity over the hits.
 * The decision run (indiv_decide_run, with the given policy) gives "indiv as decided":
 * who is contacted, deferred or left alone, and with which offers; it is compared with
 * sending each method's first `slots` offers to everyone. The threshold curve gives, for
 * each τ, the share of known customers whose relevance (the policy's `relevance`: best
 * offer's p, or P(buys at least one of the first `slots`)) reaches τ (contacted) and the
 * precision among them (the share who bought one of the offers sent).
 *
 * No event at or after the split reaches profiles, scores, decisions or baselines: they
 * are computed in a snapshot of the log cut at the split (indiv_eventlog_snapshot); only
 * the truth is read from the log itself. A model whose provenance says it was trained
 * on events up to after the split is refused.
 */
#ifndef INDIV_EVALUATE_H
#define INDIV_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/decide.h"
#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/progress.h"

typedef enum indiv_eval_method {
    INDIV_EVAL_INDIV = 0,
    INDIV_EVAL_RANDOM,
    INDIV_EVAL_POPULARITY,
    INDIV_EVAL_MASS,
    INDIV_EVAL_REPEAT,
    INDIV_EVAL_ITEMKNN,
    INDIV_EVAL_EASE,
    INDIV_EVAL_METHODS
} indiv_eval_method;

/* Row of "indiv as decided" in the contact table (after the methods). */
#define INDIV_EVAL_DECIDED INDIV_EVAL_METHODS

typedef enum indiv_eval_mode {
    INDIV_EVAL_ALL = 0, /* every purchase in the window counts */
    INDIV_EVAL_NEW = 1, /* only offers not bought before the split */
    INDIV_EVAL_MODES
} indiv_eval_mode;

#define INDIV_EVAL_TAUS_MAX 64
/* Candidate lambdas of EASE tried on the validation split. */
#define INDIV_EVAL_EASE_GRID 5

typedef struct indiv_eval_params {
    int64_t split, until;             /* truth window [split, until) */
    int k;                            /* list length of the ranking metrics */
    uint64_t seed;                    /* random baseline and tie-breaks */
    indiv_decide_opts decide;         /* policy of the decision run (as_of = split) */
    indiv_profile_params profile;     /* profiles (as_of = split) */
    double taus[INDIV_EVAL_TAUS_MAX]; /* threshold curve */
    size_t n_taus;
    const char *scratch;    /* the snapshot: ":memory:" or a new file path */
    const char *lists_path; /* per-consumer lists as CSV, or NULL */
    int knn_k;              /* neighbours per offer of item-kNN */
    double ease_lambda;     /* EASE's lambda; 0: chosen on the validation split */
    double ease_validation_days; /* EASE validation: the days just before the split */
    int serendipity_table;       /* 1: the decision run again under each policy variant */
} indiv_eval_params;

/* The serendipity table: the decision run repeated on the same snapshot under policy
 * variants of the given policy (no serendipity; the popular aim; the adjacent aim; MMR
 * and calibrated re-ranking without serendipity), each measured on the lists it sends to
 * the known customers it contacts (docs/decisions.md, "What it costs and buys"). */
#define INDIV_EVAL_SEREN_MAX 8
typedef struct indiv_eval_seren {
    char name[48];
    indiv_policy_params policy;      /* the variant's parameters */
    int64_t contacted, offers, offer_hits; /* offers bought in the window */
    int64_t divergent, divergent_hits;     /* placed; their category bought in the window */
    int64_t divergent_new_hits; /* ... a category the person had never bought before */
    int64_t ndcg_consumers;                /* contacted who bought something */
    double ndcg;           /* mean NDCG of the sent list over ndcg_consumers */
    double ge, zhang;      /* mean serendipity (Ge 2010; Zhang 2012) over the contacted */
    double miscalibration; /* mean Steck KL over the contacted with a history */
    double ild;            /* mean intra-list diversity over lists of 2+ offers */
} indiv_eval_seren;

/* One method in one mode. Means over consumers with standard errors; diff_* are the
 * paired differences indiv − this method on the same consumers (0 for indiv). */
typedef struct indiv_eval_metrics {
    int64_t consumers; /* consumers the accuracy is averaged over */
    double hit_rate, precision, recall, ndcg;
    double hit_rate_se, precision_se, recall_se, ndcg_se;
    double diff_hit_rate, diff_hit_rate_se, diff_ndcg, diff_ndcg_se;
    double coverage, novelty, diversity, serendipity;
    int64_t hits, unexpected_hits; /* on the concrete lists (ties broken at random) */
} indiv_eval_metrics;

/* Contacting with a method's first `slots` offers. */
typedef struct indiv_eval_contacts {
    int64_t contacted;
    int64_t with_hit[INDIV_EVAL_MODES]; /* contacted who bought one of their offers */
    int64_t offers;
    int64_t offer_hits[INDIV_EVAL_MODES];
} indiv_eval_contacts;

typedef struct indiv_eval_curve_point {
    double tau;
    indiv_eval_contacts c;
    /* precision (every purchase counting) minus the naive rule's at the same count, and
     * the standard error of that paired difference: with d_i = (contacted by the curve
     * and hit) − (contacted by the rule and hit) over the N known customers and n
     * contacted by each, the difference is Σ d_i / n and its SE √(N · s²_d) / n (s²_d
     * the sample variance of d): the people contacted by both count once, so the
     * overlap of the two groups does not inflate it (0 and 0 when n = 0) */
    double naive_diff, naive_diff_se;
} indiv_eval_curve_point;

typedef struct indiv_eval_result {
    int64_t consumers;   /* known customers */
    int64_t cold_buyers; /* buyers in the window with no purchase before the split */
    int64_t buyers[INDIV_EVAL_MODES];
    int64_t truth_purchases; /* (consumer, offer) pairs bought in the window */
    int64_t candidates;      /* offers valid at the split */
    int64_t offers_without_embedding;
    indiv_eval_metrics m[INDIV_EVAL_MODES][INDIV_EVAL_METHODS];
    indiv_decision_counts decisions;                      /* known customers only */
    indiv_eval_contacts contacts[INDIV_EVAL_METHODS + 1]; /* + INDIV_EVAL_DECIDED */
    indiv_eval_curve_point curve[INDIV_EVAL_TAUS_MAX];
    size_t n_curve;
    int slots;
    indiv_relevance relevance; /* what the curve's τ is compared with */
    /* EASE's lambda: the grid, the validation NDCG@k of each (consumers who bought in
     * [split - validation days, split) and before), and the one used */
    double ease_grid[INDIV_EVAL_EASE_GRID], ease_val_ndcg[INDIV_EVAL_EASE_GRID];
    int64_t ease_val_consumers;
    double ease_lambda;
    /* the naive rule at each point of the curve: contact the same number of known
     * customers, the most active first (most purchase occasions before the split, ties
     * to the lower id), each with their repeat-buy top `slots` */
    indiv_eval_contacts naive[INDIV_EVAL_TAUS_MAX];
    indiv_eval_seren seren[INDIV_EVAL_SEREN_MAX];
    size_t n_seren;
    /* the model's calibration on this window (model.h): every known customer's P(acts)
     * over indiv's first `slots` offers against whether they bought one of them in
     * [split, until); a diagnostic of how the model's τ transfers, never a way to
     * choose it (that would tune τ on the truth) */
    indiv_calibration calibration;
    double seconds;
} indiv_eval_result;

/* Defaults: k 10, seed 1, decide and profile defaults, taus 0, 0.01, 0.02, 0.05, 0.1,
 * 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9; scratch ":memory:"; knn_k 100; EASE
 * lambda chosen among 10, 30, 100, 300, 1000 on the 28 days before the split. split
 * and until must be set. */
void indiv_eval_params_init(indiv_eval_params *p);

const char *indiv_eval_method_name(indiv_eval_method m);
const char *indiv_eval_mode_name(indiv_eval_mode m);

/* Runs the evaluation of model m on log (only read). */
int indiv_evaluate_run(indiv_eventlog *log, const indiv_model *m,
                       const indiv_eval_params *p, indiv_progress_fn progress, void *ctx,
                       indiv_eval_result *out /* OUT */, indiv_error *err);

/* Everything as pretty JSON with sorted keys: parameters (and `command` when not NULL),
 * model, counts, metrics, decisions, contacts, curve; no timing, so that the same run
 * gives the same bytes. Caller frees; NULL out of memory. */
char *indiv_eval_result_json(const indiv_eval_params *p, const indiv_model *m,
                             const indiv_eval_result *r, const char *command);

/* The metrics table as CSV (one row per mode and method). */
int indiv_eval_write_metrics_csv(const indiv_eval_result *r, const char *path,
                                 indiv_error *err);

/* The threshold curve as CSV (one row per mode and τ). */
int indiv_eval_write_curve_csv(const indiv_eval_result *r, const char *path,
                               indiv_error *err);

#endif /* INDIV_EVALUATE_H */
