/*
 * metrics.h — accuracy and beyond-accuracy metrics of recommendation lists.
 *
 * Accuracy of one consumer's top-k list against what they really bought next (the
 * "relevant" offers), with binary gains:
 *
 *   hits@k      relevant offers among the first k
 *   HitRate@k   1 when hits@k >= 1
 *   Precision@k hits@k / k            (k fixed, even when the list is shorter)
 *   Recall@k    hits@k / |relevant|   (relevant offers that could not be ranked count)
 *   NDCG@k      DCG@k / IDCG@k, DCG = sum over ranks r <= k of rel(r) / log2(r + 1),
 *               IDCG the DCG of min(k, |relevant|) hits at the top
 *               (Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR
 *               techniques", ACM TOIS 20(4), 2002).
 *
 * Ties: a scorer that gives several offers the same score does not say in which order
 * they come, so indiv_metrics_topk returns the expected value of every metric over a
 * uniformly random order of the tied offers, computed in closed form: inside a group of
 * g tied offers holding r relevant ones, every position has expected gain r / g
 * (McSherry & Najork, "Computing information retrieval performance measures efficiently
 * in the presence of tied scores", ECIR 2008); the probability of at least one hit when
 * only m of the g tied offers fit in the list is 1 - C(g - r, m) / C(g, m)
 * (hypergeometric). Offers scored -INFINITY (or NaN) are not in the list at all.
 *
 * Beyond accuracy, over the lists themselves:
 *   novelty     mean self-information -log2 p(o) of the listed offers, p(o) the offer's
 *               share of purchases with add-one smoothing (Zhou et al., "Solving the
 *               apparent diversity-accuracy dilemma of recommender systems", PNAS 107,
 *               2010);
 *   diversity   intra-list diversity: the share of pairs of listed offers in different
 *               categories (Ziegler et al., "Improving recommendation lists through topic
 *               diversification", WWW 2005, with a 0/1 category distance);
 *   coverage    share of the candidate offers that appear in at least one list;
 *   serendipity share of hits whose category the consumer had never bought.
 * And for propensity models: weighted ROC AUC (Mann-Whitney, ties count 1/2) and
 * log-loss. Means and standard errors over consumers use GSL's statistics.
 */
#ifndef INDIV_METRICS_H
#define INDIV_METRICS_H

#include <stddef.h>

#include "indiv/error.h"

/* Accuracy of one list (expected values over random orders of tied scores). */
typedef struct indiv_topk {
    double hits;      /* relevant offers among the first k */
    double hit;       /* probability of at least one hit (HitRate@k of one consumer) */
    double precision; /* hits / k */
    double recall;    /* hits / n_relevant (0 when n_relevant is 0) */
    double ndcg;      /* DCG@k / IDCG@k (0 when n_relevant is 0) */
} indiv_topk;

/* Workspace element of indiv_metrics_topk. */
typedef struct indiv_scored {
    double score;
    int relevant;
} indiv_scored;

/* Tie-aware accuracy at k of the ranking given by score[0..n) (higher first) against
 * relevant[0..n) (1 = bought). n_relevant is the size of the whole truth set, which may
 * exceed the relevant candidates (offers that could not be ranked). ws holds k elements.
 * O(n log k). */
void indiv_metrics_topk(const double *score, const unsigned char *relevant, size_t n,
                        size_t n_relevant, size_t k, indiv_scored *ws,
                        indiv_topk *out /* OUT */);

/* Accuracy at k of an explicit list (no ties): rel[i] = 1 when list item i is relevant,
 * len items (only the first k count). */
void indiv_metrics_list(const unsigned char *rel, size_t len, size_t n_relevant, size_t k,
                        indiv_topk *out /* OUT */);

/* Self-information of each offer: out[i] = -log2((count[i] + 1) / (sum + n)). */
void indiv_metrics_self_information(const double *count, size_t n, double *out /* OUT */);

/* Mean of self_info over the listed offers; 0 for an empty list. */
double indiv_metrics_novelty(const size_t *list, size_t len, const double *self_info);

/* Share of the len·(len-1)/2 pairs of listed offers whose categories differ; NaN when
 * len < 2 (diversity is undefined for one offer). */
double indiv_metrics_ild(const size_t *list, size_t len, const size_t *category);

/* Hits of the list whose category is not in past (past[c] = 1: the consumer had bought
 * category c): the serendipitous hits. */
size_t indiv_metrics_unexpected_hits(const size_t *list, size_t len,
                                     const unsigned char *relevant,
                                     const size_t *category, const unsigned char *past);

/* Share of n offers marked in seen. */
double indiv_metrics_coverage(const unsigned char *seen, size_t n);

/* Weighted ROC AUC of scores against 0/1 labels (w may be NULL: unit weights), ties
 * counting one half. INDIV_EINVAL when a class has no weight. */
int indiv_metrics_auc(const double *score, const double *label, const double *w, size_t n,
                      double *auc /* OUT */, indiv_error *err);

/* Weighted mean log-loss -[y log p + (1 - y) log(1 - p)], p clamped to [1e-15, 1 -
 * 1e-15]. */
double indiv_metrics_log_loss(const double *p, const double *label, const double *w,
                              size_t n);

/* ---- serendipity and calibration (docs/decisions.md, "What it costs and buys") --- */

/* Divergent hit rate: of the divergent offers placed, the share that hit (evaluate: the
 * person bought the offer's category in the truth window; simulate: the offer revealed
 * a latent taste). Tallies add up over consumers, blocks or rounds. */
typedef struct indiv_divergent_tally {
    long long placed, hits;
} indiv_divergent_tally;

void indiv_divergent_tally_add(indiv_divergent_tally *t, int hit);

/* hits / placed (0 when nothing was placed), with its binomial standard error
 * sqrt(r (1 − r) / placed) in *se when se is not NULL. */
double indiv_divergent_hit_rate(const indiv_divergent_tally *t, double *se /* OUT */);

/* Serendipity in the sense of Ge, Delgado-Battenfeld & Jannach ("Beyond accuracy:
 * evaluating recommender systems by coverage and serendipity", RecSys 2010): the share
 * of the len listed offers that are unexpected — absent from a primitive model's list,
 * expected[j] = 0 — and useful — relevant[j] = 1. 0 for an empty list. */
double indiv_metrics_serendipity_ge(const size_t *list, size_t len,
                                    const unsigned char *expected,
                                    const unsigned char *relevant);

/* Serendipity in the history-distance form of Zhang, Séaghdha, Quercia & Jambor
 * ("Auralist: introducing serendipity into music recommendation", WSDM 2012): the mean
 * over listed offers of (1 − similarity to the person's history) × relevance, the
 * similarity being the share history[c] of the offer's category c in the person's history
 * (the mean 0/1 category similarity to the items of the history). 0 for an empty list. */
double indiv_metrics_serendipity_zhang(const size_t *list, size_t len,
                                       const size_t *category, const double *history,
                                       const unsigned char *relevant);

/* Miscalibration of a list (Steck, "Calibrated recommendations", RecSys 2018):
 * KL(p ‖ q̃) between the person's category distribution p (n_cat values summing to 1)
 * and the list's q (each listed offer weighs the same), q̃ = (1 − α) q + α p with α =
 * INDIV_CALIBRATION_ALPHA. work holds n_cat doubles. 0 when p is empty or len is 0. */
double indiv_metrics_miscalibration(const size_t *list, size_t len,
                                    const size_t *category, const double *p, size_t n_cat,
                                    double *work);

/* Mean and standard error (sd / sqrt(n)) of x[0..n); se is 0 when n < 2. */
void indiv_metrics_mean_se(const double *x, size_t n, double *mean /* OUT */,
                           double *se /* OUT */);

#endif /* INDIV_METRICS_H */
