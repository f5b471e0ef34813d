/*
 * rerank.c — MMR and calibrated greedy re-ranking (contract and sources in rerank.h).
 *
 * Both are greedy over a pool of at most a few dozen items: O(k · n) steps, each O(k)
 * for MMR (the chosen items' categories) and O(n_cat) for the calibrated KL.
 */
#include "indiv/rerank.h"

#include <math.h>
#include <string.h>

double indiv_calibration_kl(const double *p, const double *q, double total, size_t n_cat,
                            double alpha) {
    double kl = 0;
    for (size_t c = 0; c < n_cat; c++) {
        if (!(p[c] > 0))
            continue;
        double qc = total > 0 ? q[c] / total : 0;
        kl += p[c] * log(p[c] / ((1 - alpha) * qc + alpha * p[c]));
    }
    return kl;
}

size_t indiv_rerank_mmr(const double *rel, const size_t *cat, size_t n, size_t k,
                        double lambda, size_t *order) {
    unsigned char used[INDIV_RERANK_POOL_MAX] = {0};
    size_t chosen = 0;
    if (n > INDIV_RERANK_POOL_MAX)
        n = INDIV_RERANK_POOL_MAX;
    while (chosen < k && chosen < n) {
        size_t best = n;
        double best_v = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (used[i])
                continue;
            double sim = 0;
            for (size_t j = 0; j < chosen && sim < 1; j++)
                sim = cat[order[j]] == cat[i] ? 1 : sim;
            double v = lambda * rel[i] - (1 - lambda) * sim;
            if (v > best_v) {
                best_v = v;
                best = i;
            }
        }
        used[best] = 1;
        order[chosen++] = best;
    }
    return chosen;
}

size_t indiv_rerank_calibrated(const double *rel, const size_t *cat, size_t n, size_t k,
                               double lambda, const double *p, size_t n_cat, double *work,
                               size_t *order) {
    unsigned char used[INDIV_RERANK_POOL_MAX] = {0};
    size_t chosen = 0;
    double sum_rel = 0;
    if (n > INDIV_RERANK_POOL_MAX)
        n = INDIV_RERANK_POOL_MAX;
    memset(work, 0, n_cat * sizeof *work); /* q: items of the list per category */
    while (chosen < k && chosen < n) {
        size_t best = n;
        double best_v = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (used[i])
                continue;
            work[cat[i]] += 1;
            double kl = indiv_calibration_kl(p, work, (double)(chosen + 1), n_cat,
                                             INDIV_CALIBRATION_ALPHA);
            work[cat[i]] -= 1;
            double v = (1 - lambda) * (sum_rel + rel[i]) - lambda * kl;
            if (v > best_v) {
                best_v = v;
                best = i;
            }
        }
        used[best] = 1;
        work[cat[best]] += 1;
        sum_rel += rel[best];
        order[chosen++] = best;
    }
    return chosen;
}
