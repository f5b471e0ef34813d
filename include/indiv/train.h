/*
 * train.h — training of model files from an event log (part of the `model` module,
 * docs/architecture.md §3): offer embeddings by implicit-feedback matrix factorisation,
 * propensity weights by logistic regression, and the run that puts both in a model file.
 *
 * Embeddings: alternating least squares with confidence weights (Hu, Koren & Volinsky,
 * "Collaborative filtering for implicit feedback datasets", ICDM 2008). With r_ui the
 * interaction strength of consumer u with offer i, preference p_ui = [r_ui > 0] and
 * confidence c_ui = 1 + alpha · r_ui, it minimises
 *
 *   sum_{u,i} c_ui (p_ui - x_u · y_i)^2 + lambda (sum_u |x_u|^2 + sum_i |y_i|^2)
 *
 * by solving, in turn for every consumer and every offer, the ridge system (their eq. 4)
 *
 *   x_u = (Y^T Y + Y^T (C^u - I) Y + lambda I)^-1 Y^T C^u p(u)
 *
 * where Y^T Y is computed once per sweep and the correction only touches the offers u
 * interacted with: a rank-n_u update (dsyrk) and a Cholesky solve of a dims × dims
 * system per consumer. This file and score.c are the BLAS callers of indiv
 * (docs/architecture.md §3 gives that role to the scorer; training needs gemm, syrk and
 * Cholesky too). Sweeps run on `threads` POSIX threads over disjoint rows; every row's
 * solve depends only on the other side's factors, so the result does not depend on the
 * thread count.
 *
 * The embedding written to the model is not Y itself but F = Y L^-T, with L L^T =
 * Y^T Y + lambda I (whitening). Then F_i · F_j = y_i^T (Y^T Y + lambda I)^-1 y_j, and
 * a profile's taste t = sum_j w_j F_j (the decayed sum of the offers of its history,
 * docs/profiles.md) gives t · F_i = x~ · y_i with x~ = (Y^T Y + lambda I)^-1 Y^T w: the
 * least-squares fold-in of the person's history with unit confidence, i.e. the model's
 * own user update with C^u replaced by I (Hu et al. §5 write every prediction this way,
 * as a sum over the person's items of y_i^T W^u y_j). So the profile builder and the
 * scorer, which only know linear tastes, compute the factorisation's predictions.
 *
 * Propensity: logistic regression by iteratively reweighted least squares (Newton-
 * Raphson on the log-likelihood; McCullagh & Nelder, "Generalized Linear Models", 2nd
 * ed., 1989, §4.4), with optional example weights and a small ridge.
 */
#ifndef INDIV_TRAIN_H
#define INDIV_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/progress.h"

/* ---- sparse interactions ----------------------------------------------------------- */

/* A rows × cols matrix in compressed sparse rows: row r holds idx/val[ptr[r]..ptr[r+1]),
 * column indices ascending, values > 0. */
typedef struct indiv_sparse {
    size_t rows, cols, nnz;
    size_t *ptr; /* rows + 1 */
    size_t *idx; /* nnz */
    double *val; /* nnz */
} indiv_sparse;

/* Builds a matrix from n triplets (r[k], c[k], v[k]); duplicates are summed and entries
 * whose sum is not > 0 dropped. INDIV_EINVAL on an index out of range. */
int indiv_sparse_from_triplets(size_t rows, size_t cols, size_t n, const size_t *r,
                               const size_t *c, const double *v,
                               indiv_sparse **out /* OUT */, indiv_error *err);
/* The transpose (cols × rows). */
int indiv_sparse_transpose(const indiv_sparse *m, indiv_sparse **out /* OUT */,
                           indiv_error *err);
void indiv_sparse_free(indiv_sparse *m);

/* ---- alternating least squares ----------------------------------------------------- */

typedef struct indiv_als_params {
    size_t dims;    /* K, factors per consumer and offer */
    int iterations; /* sweeps (consumers, then offers) */
    double alpha;   /* confidence slope: c = 1 + alpha · r */
    double lambda;  /* ridge on the factors (and of the whitening) */
    double init_sd; /* offer factors start as N(0, init_sd^2) */
    uint64_t seed;
    int threads; /* 1..INDIV_TRAIN_THREADS_MAX */
} indiv_als_params;

#define INDIV_TRAIN_THREADS_MAX 64

/* Defaults: dims 32, 15 iterations, alpha 10, lambda 1, init_sd 0.01, seed 1,
 * 2 threads (docs/evaluation.md explains the choice). */
void indiv_als_params_init(indiv_als_params *p);
int indiv_als_params_validate(const indiv_als_params *p, indiv_error *err);

typedef struct indiv_als indiv_als;

/* A factorisation of r (borrowed; it must outlive the handle). Offer factors are drawn
 * from one stream per offer (seed, offer index, INDIV_RNG_TRAIN); consumer factors are
 * zero until the first sweep. */
int indiv_als_new(const indiv_sparse *r, const indiv_als_params *p,
                  indiv_als **out /* OUT */, indiv_error *err);
void indiv_als_free(indiv_als *a);

/* One sweep: every consumer's factors, then every offer's. */
int indiv_als_iterate(indiv_als *a, indiv_error *err);

/* p->iterations sweeps, reporting progress as "als" (sweeps done / total). */
int indiv_als_fit(indiv_als *a, indiv_progress_fn progress, void *ctx, indiv_error *err);

/* The objective above (O(nnz · dims + (rows + cols) · dims^2)). */
double indiv_als_loss(const indiv_als *a);

/* Factors, row-major: consumers rows × dims, offers cols × dims. */
const double *indiv_als_users(const indiv_als *a);
const double *indiv_als_items(const indiv_als *a);

/* Whitened offer vectors F = Y L^-T (cols × dims), L L^T = Y^T Y + lambda I. */
int indiv_als_whiten(const indiv_als *a, double lambda, double *f /* OUT */,
                     indiv_error *err);

/* Seconds spent in the last sweep's solves, for benchmarks. */
double indiv_als_last_sweep_seconds(const indiv_als *a);

/* ---- logistic regression ----------------------------------------------------------- */

typedef struct indiv_logit_stats {
    int iterations;
    int converged;
    double deviance; /* -2 log-likelihood (weighted) at the solution */
} indiv_logit_stats;

/* Fits P(y = 1 | x) = 1 / (1 + exp(-x · beta)) to n examples x (n × p, row-major; add a
 * column of ones for an intercept), y in {0, 1}, weights w (NULL: 1), with penalty
 * ridge/2 · |beta|^2 (0 for plain maximum likelihood). Stops when no coefficient moves
 * more than tol, or after max_iter Newton steps (converged = 0; beta is the last
 * iterate). se (may be NULL) gets the standard errors sqrt(diag(H^-1)). */
int indiv_logit_fit(const double *x, const double *y, const double *w, size_t n, size_t p,
                    double ridge, int max_iter, double tol, double *beta /* OUT, p */,
                    double *se /* OUT, p, may be NULL */,
                    indiv_logit_stats *st /* OUT, may be NULL */, indiv_error *err);

/* ---- the training run -------------------------------------------------------------- */

/* How the propensity weights treat offers new to the person (docs/evaluation.md
 * "Offers new to the person"):
 *  - SHARED: one weight per term for every offer (no "weights_bought");
 *  - SPLIT: item_item has its own weight for the offers the person bought (the
 *    interaction with the repeat indicator, "weights_bought"."item_item"), affinity and
 *    popularity are shared;
 *  - RANKED: a sub-model for new offers: their affinity, popularity and item_item
 *    weights are fitted first by a conditional logit (McFadden 1974) of which new
 *    offer each person bought in the tail among their sampled new offers (a ranking
 *    objective: the person's own level cancels), then the logistic fit scales that
 *    score, and the offers bought get their own three weights ("weights_bought").
 *  - CHOICE: purchase incidence times choice (Guadagni & Little 1983; Chintagunta
 *    1993): every offer-level weight (affinity, popularity, item_item for new offers,
 *    the repeat terms, the three weights of offers bought) comes from a conditional
 *    logit of which offers each buyer bought in the tail among all their sampled
 *    offers, bought before or new; the logistic fit then gives the intercept, the
 *    person's terms (readiness, frequency) and one scale of that choice score.
 *    With labels from contacts, RANKED and CHOICE fall back to SPLIT. */
typedef enum indiv_new_offers {
    INDIV_NEW_OFFERS_SHARED = 0,
    INDIV_NEW_OFFERS_SPLIT = 1,
    INDIV_NEW_OFFERS_RANKED = 2,
    INDIV_NEW_OFFERS_CHOICE = 3
} indiv_new_offers;

/* "shared", "split", "ranked", "choice"; and the reverse (-1 when s names none). */
const char *indiv_new_offers_name(indiv_new_offers m);
int indiv_new_offers_parse(const char *s);

/* The person-level act model (model.h) `indiv train` fits: none, the one on logit(any)
 * and the purchase occasions (orders), or with readiness, recency and re-bought offers
 * as well (full, the default; docs/evaluation.md "The act model"). */
#define INDIV_ACT_NONE   0
#define INDIV_ACT_ORDERS 1
#define INDIV_ACT_FULL   2

typedef struct indiv_train_params {
    const char *id;      /* model id (required) */
    int64_t as_of;       /* train on events with ts < as_of (required) */
    double holdout_days; /* the tail [as_of - holdout, as_of): labels and validation */
    indiv_als_params als;
    int negatives; /* non-bought offers sampled per consumer for the logistic fit */
    double ridge;  /* logistic penalty */
    int k;         /* cut-off of the validation metrics */
    double reaction_days;   /* a contact is answered by an open/click within this time */
    const char *scratch;    /* where the snapshot lives: ":memory:" or a new file path */
    const char *trained_at; /* wall-clock time to record (ISO 8601), or NULL */
    indiv_profile_params profile; /* profile parameters (as_of is set by training) */
    double popularity_half_life_days;
    double ease_lambda; /* EASE's lambda of the item-to-item term (itemsim.h) */
    int item_k;         /* neighbours kept per offer in the model file */
    int calibration_slots; /* offers per contact of the calibration (model.h) */
    int act_model;         /* INDIV_ACT_*: which person-level act model (model.h) */
    indiv_new_offers new_offers; /* how offers new to the person are weighted */
    /* scale in [0, 1] of the new offers' affinity and popularity weights (the offers
     * bought keep theirs), or -1 (default): chosen among 0, 0.25, 0.5, 0.75, 1 by
     * NDCG@k (every purchase + new offers) on the validation half's tail */
    double new_offer_shrink;
} indiv_train_params;

/* What the run did (all of it is also in the model's provenance). */
typedef struct indiv_train_summary {
    int64_t events;              /* events read (consenting consumers, ts < as_of) */
    int64_t consumers, offers;   /* with at least one interaction before as_of */
    int64_t interactions;        /* distinct (consumer, offer) pairs before as_of */
    int64_t examples, positives; /* propensity examples */
    int labels_from_contacts;    /* 1: contacts and reactions; 0: "bought in the tail" */
    double loss;                 /* ALS objective after the final fit */
    double seconds_per_sweep;    /* mean over the final fit */
    double seconds;
    double new_offer_shrink;     /* the scale applied (train params) */
    int new_offer_shrink_chosen; /* 1: chosen on the validation half */
} indiv_train_summary;

/* Defaults (docs/evaluation.md): holdout 14 days, negatives 50, ridge 1e-3, k 10,
 * reaction 7 days, scratch ":memory:", profile defaults, popularity half-life 30 days,
 * EASE lambda 300 and 50 neighbours per offer for the item-to-item term, calibration
 * slots 3 (the policy's default), act model on. */
void indiv_train_params_init(indiv_train_params *p);

/* Trains a model from log (only read: the work happens in a snapshot of the events
 * before as_of, see indiv_eventlog_snapshot):
 *  1. factorise the interactions before as_of - holdout; with profiles built at that
 *     time in the resulting embedding, fit the logistic weights on half of the
 *     consumers (by a stable hash of their id) and measure, on the other half, ranking
 *     (HitRate, NDCG, Recall at k, against popularity) and propensity (AUC, log-loss)
 *     metrics of the tail: the validation recorded in the provenance; and the model's
 *     calibration (model.h): every validation consumer's P(acts) over their first
 *     calibration_slots valid offers against whether they bought one of them in the
 *     tail, its reliability table and the recommended τ; before it, unless
 *     act_model is 0, the person-level act model (model.h) fitted on the same kind of
 *     pairs of the fitting half, which the calibration then measures;
 *  2. refit the weights on every consumer, and the factorisation on every event before
 *     as_of: the model's embedding.
 * The repeat terms' prior (model.h, indiv_repeat_params) is the population's: the mean
 * re-buy interval of the (person, offer) pairs of the profiles at the start of the tail
 * with two occasions or more, and the mean cv² of those with three or more. The
 * item-to-item term is EASE (itemsim.h) on the purchases before the tail for the fit,
 * on every purchase before as_of for the model, each offer keeping its item_k largest
 * positive weights.
 * Labels: contacts (with an offer) in the tail, answered or not, when the log holds at
 * least INDIV_TRAIN_MIN_CONTACTS of them; otherwise whether the consumer bought the
 * offer in the tail, against `negatives` sampled offers per consumer weighted to stand
 * for all the offers they did not buy. Fails (INDIV_EINVAL, saying what is missing) on
 * a log too small to learn from. *out is a model to release with indiv_model_clear. */
int indiv_train_run(indiv_eventlog *log, const indiv_train_params *p,
                    indiv_progress_fn progress, void *ctx, indiv_model *out /* OUT */,
                    indiv_train_summary *sum /* OUT, may be NULL */, indiv_error *err);

/* Minimum amounts of data (named in the errors). */
#define INDIV_TRAIN_MIN_CONSUMERS 20  /* consumers with interactions before the tail */
#define INDIV_TRAIN_MIN_OFFERS    10  /* offers with interactions before the tail */
#define INDIV_TRAIN_MIN_POSITIVES 20  /* positive examples for the logistic fit */
#define INDIV_TRAIN_MIN_CONTACTS  200 /* contacts in the tail to learn from reactions */

#endif /* INDIV_TRAIN_H */
