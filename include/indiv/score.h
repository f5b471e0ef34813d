/*
 * score.h — propensity of every (consumer, offer) in a block: one BLAS gemm per block.
 *
 * For a block of B consumers, the scorer builds X (B × d: each consumer's taste,
 * normalised to shares of its positive mass, or to unit length for models whose
 * taste_norm is "l2", see model.h), multiplies it by the catalog's feature
 * matrix F (n × d) with one gsl_blas_dgemm into the affinity block A = X F^T (B × n), and
 * gives the model's logit of each pair on demand:
 *
 *   z(i, j) = c_j + u_i + w_affinity · A(i, j) + x(i, j)
 *   c_j     = intercept + w_popularity · popularity_j                (per offer)
 *   u_i     = w_readiness · readiness_i + w_frequency · frequency_i  (per consumer)
 *   x(i, j) = w_repeat · [j bought] + w_repeat_frequency · log(1 + occasions_ij)
 *             + w_repeat_readiness · item_readiness_ij(t)            (offers bought)
 *             + w_item_item · sum over offers k bought of S(k, j)    (S: model.h)
 *   p(i, j) = 1 / (1 + e^(-z))
 *
 * x is sparse: the person's history (at most the profile's history_max offers) and the
 * neighbours of those offers in S (k per offer); it is added per person into a row of
 * n values by indiv_score_set_history, next to the dense gemm block.
 *
 * The policy selects on z (monotone in p), so the exponential is paid only for the few
 * offers it keeps. A channel's reaction rate turns p into a propensity per (consumer,
 * offer, channel): p · rate. This module is the only BLAS caller of the decision path
 * (training, src/train.c, is the other one); it runs
 * OpenBLAS single-threaded, because the decision engine parallelises over blocks (one
 * block per thread), which is faster (docs/architecture.md §6) and keeps results
 * independent of the thread count.
 */
#ifndef INDIV_SCORE_H
#define INDIV_SCORE_H

#include <stddef.h>

#include "indiv/catalog.h"
#include "indiv/error.h"
#include "indiv/model.h"
#include "indiv/profile.h"

/* Frequency feature: log(1 + orders) / log(1 + INDIV_FREQUENCY_SCALE), capped at 1. */
#define INDIV_FREQUENCY_SCALE 50.0

typedef struct indiv_scorer indiv_scorer;
typedef struct indiv_score_block indiv_score_block;

/* A scorer for the model and catalog (both borrowed; the catalog's popularity must be
 * loaded). Fails when the model's feature space (indiv_model_feature_source: "category",
 * or "embedding:<id>" once indiv_model_apply has run) does not match the catalog's. */
int indiv_scorer_new(const indiv_model *m, const indiv_catalog *cat,
                     indiv_scorer **out /* OUT */, indiv_error *err);
void indiv_scorer_free(indiv_scorer *s);

/* A workspace for up to `rows` consumers (one per thread). NULL when out of memory. */
indiv_score_block *indiv_score_block_new(const indiv_scorer *s, size_t rows);
void indiv_score_block_free(indiv_score_block *b);

/* Sets row i of the block: pr may be NULL (no profile: zero taste, neutral terms),
 * readiness in [0, 1] (ignored, like frequency, when pr has no rhythm features). */
void indiv_score_set_row(const indiv_scorer *s, indiv_score_block *b, size_t i,
                         const indiv_profile *pr, double readiness);

/* The item readiness the scorer uses (indiv_repeat_readiness of the model's repeat
 * parameters, model.h), from a table of the incomplete gamma function: within 3e-7 of
 * the exact value (score.c explains the table and its bound). */
double indiv_score_item_readiness(const indiv_scorer *s, double occasions, double mean_days,
                                  double cv2_own, double since_days);

/* Adds the sparse terms x(i, ·) of row i (after indiv_score_set_row, which clears
 * them): pr's offer history (group "history"; nothing without it) at decision time t,
 * and the model's item-to-item similarities of the offers in it. */
void indiv_score_set_history(const indiv_scorer *s, indiv_score_block *b, size_t i,
                             const indiv_profile *pr, int64_t t);

/* Computes the affinity block for rows [0, nrows) with one dgemm. */
int indiv_score_run(const indiv_scorer *s, indiv_score_block *b, size_t nrows,
                    indiv_error *err);

/* Row i of the affinity block (n values). */
const double *indiv_score_affinity(const indiv_score_block *b, size_t i);

/* Logit and propensity of (row i, offer j). */
double indiv_score_logit(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                         size_t j);
double indiv_score_propensity(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                              size_t j);

/* Contribution of each model term to the logit of (i, j), in indiv_model_term order. */
void indiv_score_terms(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                       size_t j, double terms[INDIV_TERM_COUNT] /* OUT */);

/* Per-offer constant c_j (n values) and the affinity weight, for selection loops. */
const double *indiv_scorer_offer_terms(const indiv_scorer *s);
double indiv_scorer_affinity_weight(const indiv_scorer *s);
/* Per-consumer term u_i of row i. */
double indiv_score_consumer_term(const indiv_score_block *b, size_t i);

/* The relevance τ is compared with under `relevance any`, for row i whose offers sent
 * have P(buys at least one) = any: the model's act model of it and the row's inputs
 * (model.h indiv_act_apply_inputs), or any itself when the model has none. */
double indiv_score_relevance(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                             double any);
/* Row i's inputs of the act model: purchase occasions and readiness (set_row, with
 * the rhythm group), days since the last purchase at t, offers re-bought and the
 * repeat strength (set_history, with the rhythm and history groups); 0 when unknown. */
void indiv_score_act_inputs(const indiv_score_block *b, size_t i,
                            indiv_act_inputs *out /* OUT */);
/* The sparse terms x(i, ·) of row i (n values, mostly 0). */
const double *indiv_score_extra(const indiv_score_block *b, size_t i);

/* Makes OpenBLAS single-threaded (indiv parallelises over blocks itself). Programs call
 * it once at start: OpenBLAS otherwise keeps a pool of spinning threads that costs CPU
 * even in commands that never call BLAS. */
void indiv_blas_single_thread(void);

/* Logistic function and its inverse (logit), exposed for thresholds. */
double indiv_sigmoid(double z);
double indiv_logit(double p);

#endif /* INDIV_SCORE_H */
