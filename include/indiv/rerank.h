/*
 * rerank.h — diversity re-ranking of a candidate list: greedy choice of k items out of a
 * pool sorted best first, trading relevance against what the list already holds.
 *
 * MMR (Carbonell & Goldstein, "The use of MMR, diversity-based reranking for reordering
 * documents and producing summaries", SIGIR 1998): the next item maximises
 *     λ · rel(i) − (1 − λ) · max over chosen j of sim(i, j),
 * with sim = 1 for two offers of the same category, 0 otherwise. λ = 1 is the plain
 * ranking; λ = 0 takes a new category whenever one is left.
 *
 * Calibrated (Steck, "Calibrated recommendations", RecSys 2018): the list L maximises
 *     (1 − λ) · Σ_{i in L} rel(i) − λ · KL(p ‖ q̃(L)),
 * built greedily, where p is the person's category distribution (their history), q(L)
 * the list's (each item weighs the same), q̃ = (1 − α) q + α p with α =
 * INDIV_CALIBRATION_ALPHA (Steck's 0.01, which keeps the KL finite). λ = 0 is the plain
 * ranking.
 *
 * Ties go to the earlier pool item, so the result depends on the inputs only.
 */
#ifndef INDIV_RERANK_H
#define INDIV_RERANK_H

#include <stddef.h>

#define INDIV_CALIBRATION_ALPHA 0.01
/* Largest candidate pool a re-ranker chooses from (a larger n is cut to it). */
#define INDIV_RERANK_POOL_MAX 64

/* Chooses min(k, n) of the n pool items (relevance rel[i], category cat[i]) by MMR;
 * writes their pool indices in order into order. Returns the number chosen. */
size_t indiv_rerank_mmr(const double *rel, const size_t *cat, size_t n, size_t k,
                        double lambda, size_t *order /* OUT */);

/* Chooses min(k, n) pool items by calibrated re-ranking against p (n_cat values summing
 * to 1; categories cat[i] < n_cat). work holds n_cat doubles of scratch. Returns the
 * number chosen. */
size_t indiv_rerank_calibrated(const double *rel, const size_t *cat, size_t n, size_t k,
                               double lambda, const double *p, size_t n_cat, double *work,
                               size_t *order /* OUT */);

/* KL(p ‖ q̃) with q̃ = (1 − α) q + α p, over the n_cat categories with p > 0 (Steck
 * 2018, eq. 3); q need not be normalised when its total is given (total > 0). */
double indiv_calibration_kl(const double *p, const double *q, double total, size_t n_cat,
                            double alpha);

#endif /* INDIV_RERANK_H */
