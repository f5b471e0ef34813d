/*
 * metrics.c — accuracy and beyond-accuracy metrics (definitions and sources in
 * metrics.h).
 *
 * indiv_metrics_topk never sorts the whole candidate set: a min-heap of the k best
 * scores gives the k-th best value v, one more pass counts the offers above v and tied
 * with v (and the relevant ones among them), and only the fewer than k offers above v
 * are sorted. The tie-aware formulas then need nothing else.
 */
#include "indiv/metrics.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "indiv/rerank.h" /* the calibration KL */

/* Clamp of probabilities in the log-loss: log(1e-15) ≈ -34.5 bounds one example's loss.
 */
#define LOG_LOSS_EPS 1e-15

static double score_of(const double *score, size_t i) {
    double s = score[i];
    return isnan(s) ? -INFINITY : s;
}

/* ---- the k best scores: a binary min-heap of at most k values ---------------------- */

static void sift_down(indiv_scored *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].score < h[m].score)
            m = l;
        if (l + 1 < n && h[l + 1].score < h[m].score)
            m = l + 1;
        if (m == i)
            return;
        indiv_scored t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(indiv_scored *h, size_t i) {
    while (i > 0 && h[(i - 1) / 2].score > h[i].score) {
        indiv_scored t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* The k-th best finite score, or -INFINITY when fewer than k offers have one. */
static double kth_best(const double *score, size_t n, size_t k, indiv_scored *heap) {
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        double s = score_of(score, i);
        if (s == -INFINITY)
            continue;
        if (used < k) {
            heap[used] = (indiv_scored){s, 0};
            sift_up(heap, used++);
        } else if (s > heap[0].score) {
            heap[0].score = s;
            sift_down(heap, k, 0);
        }
    }
    return used == k ? heap[0].score : -INFINITY;
}

static int by_score_desc(const void *a, const void *b) {
    double x = ((const indiv_scored *)a)->score, y = ((const indiv_scored *)b)->score;
    return (x < y) - (x > y);
}

/* Sum of the discounts 1 / log2(r + 1) of ranks from..to (1-based, inclusive). */
static double discounts(size_t from, size_t to) {
    double s = 0;
    for (size_t r = from; r <= to; r++)
        s += 1.0 / log2((double)r + 1.0);
    return s;
}

/* Expected DCG and hits of the sorted offers above the cut: each tie group spreads its
 * relevant offers evenly over its ranks (McSherry & Najork 2008). */
static void above_gains(const indiv_scored *a, size_t na, double *dcg, double *hits) {
    for (size_t s = 0; s < na;) {
        size_t e = s, rel = 0;
        while (e < na && a[e].score == a[s].score)
            rel += (size_t)a[e++].relevant;
        *dcg += (double)rel / (double)(e - s) * discounts(s + 1, e);
        *hits += (double)rel;
        s = e;
    }
}

/* P(no relevant offer among m drawn without replacement from g holding r): the
 * hypergeometric C(g - r, m) / C(g, m) as a product. */
static double p_no_hit(size_t g, size_t r, size_t m) {
    double p = 1;
    for (size_t i = 0; i < m; i++) {
        if (g - i <= r)
            return 0;
        p *= (double)(g - r - i) / (double)(g - i);
    }
    return p;
}

static void finish_topk(double dcg, double hits, double hit, size_t n_relevant, size_t k,
                        indiv_topk *out) {
    size_t ideal = n_relevant < k ? n_relevant : k;
    out->hits = hits;
    out->hit = hit;
    out->precision = k ? hits / (double)k : 0;
    out->recall = n_relevant ? hits / (double)n_relevant : 0;
    out->ndcg = ideal ? dcg / discounts(1, ideal) : 0;
}

void indiv_metrics_topk(const double *score, const unsigned char *relevant, size_t n,
                        size_t n_relevant, size_t k, indiv_scored *ws, indiv_topk *out) {
    memset(out, 0, sizeof *out);
    if (k == 0)
        return;
    double v = kth_best(score, n, k, ws);
    size_t na = 0, tied = 0, tied_rel = 0;
    for (size_t i = 0; i < n; i++) {
        double s = score_of(score, i);
        if (s == -INFINITY)
            continue;
        if (s > v || v == -INFINITY) /* fewer than k finite scores: all are listed */
            ws[na++] = (indiv_scored){s, relevant[i] != 0};
        else if (s == v) {
            tied++;
            tied_rel += relevant[i] != 0;
        }
    }
    /* only scores above the k-th best are listed before the boundary group, which then
     * starts within the list (k - na below cannot wrap around) */
    assert(na <= k && (tied == 0 || na < k));
    qsort(ws, na, sizeof *ws, by_score_desc);
    double dcg = 0, hits = 0;
    above_gains(ws, na, &dcg, &hits);
    double hit = hits > 0;
    if (tied > 0) { /* the boundary group: ranks na+1 .. na+tied, of which k - na fit */
        size_t fit = k - na < tied ? k - na : tied;
        double share = (double)tied_rel / (double)tied;
        dcg += share * discounts(na + 1, na + fit);
        hits += share * (double)fit;
        if (hit == 0)
            hit = 1 - p_no_hit(tied, tied_rel, fit);
    }
    finish_topk(dcg, hits, hit, n_relevant, k, out);
}

void indiv_metrics_list(const unsigned char *rel, size_t len, size_t n_relevant, size_t k,
                        indiv_topk *out) {
    double dcg = 0, hits = 0;
    for (size_t r = 0; r < len && r < k; r++)
        if (rel[r]) {
            dcg += 1.0 / log2((double)r + 2.0);
            hits++;
        }
    memset(out, 0, sizeof *out);
    finish_topk(dcg, hits, hits > 0, n_relevant, k, out);
}

/* ---- beyond accuracy --------------------------------------------------------------- */

void indiv_metrics_self_information(const double *count, size_t n, double *out) {
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += count[i];
    for (size_t i = 0; i < n; i++)
        out[i] = -log2((count[i] + 1.0) / (total + (double)n));
}

double indiv_metrics_novelty(const size_t *list, size_t len, const double *self_info) {
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += self_info[list[i]];
    return len ? s / (double)len : 0;
}

double indiv_metrics_ild(const size_t *list, size_t len, const size_t *category) {
    if (len < 2)
        return NAN;
    size_t differ = 0;
    for (size_t i = 0; i < len; i++)
        for (size_t j = i + 1; j < len; j++)
            differ += category[list[i]] != category[list[j]];
    return (double)differ / ((double)len * (double)(len - 1) / 2.0);
}

size_t indiv_metrics_unexpected_hits(const size_t *list, size_t len,
                                     const unsigned char *relevant,
                                     const size_t *category, const unsigned char *past) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += relevant[list[i]] && !past[category[list[i]]];
    return n;
}

double indiv_metrics_coverage(const unsigned char *seen, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += seen[i] != 0;
    return n ? (double)c / (double)n : 0;
}

/* ---- propensity models ------------------------------------------------------------- */

/* Sums the weight of positives ranked below each negative, ties counting one half: the
 * Mann-Whitney statistic, over the sorted order (ascending scores). */
static double mann_whitney(const double *score, const double *label, const double *w,
                           const size_t *ord, size_t n) {
    double neg_below = 0, u = 0;
    for (size_t s = 0; s < n;) {
        size_t e = s;
        double pos = 0, neg = 0;
        while (e < n && score[ord[e]] == score[ord[s]]) {
            double wi = w ? w[ord[e]] : 1.0;
            if (label[ord[e]] > 0.5)
                pos += wi;
            else
                neg += wi;
            e++;
        }
        u += pos * (neg_below + 0.5 * neg);
        neg_below += neg;
        s = e;
    }
    return u;
}

int indiv_metrics_auc(const double *score, const double *label, const double *w, size_t n,
                      double *auc, indiv_error *err) {
    double wp = 0, wn = 0;
    for (size_t i = 0; i < n; i++)
        *(label[i] > 0.5 ? &wp : &wn) += w ? w[i] : 1.0;
    if (!(wp > 0 && wn > 0))
        return indiv_error_set(err, INDIV_EINVAL, "AUC needs examples of both classes");
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    gsl_sort_index(ord, score, 1, n);
    *auc = mann_whitney(score, label, w, ord, n) / (wp * wn);
    free(ord);
    return INDIV_OK;
}

double indiv_metrics_log_loss(const double *p, const double *label, const double *w,
                              size_t n) {
    double s = 0, tw = 0;
    for (size_t i = 0; i < n; i++) {
        double q = p[i] < LOG_LOSS_EPS       ? LOG_LOSS_EPS
                   : p[i] > 1 - LOG_LOSS_EPS ? 1 - LOG_LOSS_EPS
                                             : p[i];
        double wi = w ? w[i] : 1.0;
        s -= wi * (label[i] > 0.5 ? log(q) : log(1 - q));
        tw += wi;
    }
    return tw > 0 ? s / tw : 0;
}

void indiv_metrics_mean_se(const double *x, size_t n, double *mean, double *se) {
    *mean = n ? gsl_stats_mean(x, 1, n) : 0;
    *se = n >= 2 ? gsl_stats_sd_m(x, 1, n, *mean) / sqrt((double)n) : 0;
}

/* ---- serendipity and calibration ------------------------------------------------------ */

void indiv_divergent_tally_add(indiv_divergent_tally *t, int hit) {
    t->placed++;
    t->hits += hit != 0;
}

double indiv_divergent_hit_rate(const indiv_divergent_tally *t, double *se) {
    double r = t->placed ? (double)t->hits / (double)t->placed : 0;
    if (se)
        *se = t->placed ? sqrt(r * (1 - r) / (double)t->placed) : 0;
    return r;
}

double indiv_metrics_serendipity_ge(const size_t *list, size_t len,
                                    const unsigned char *expected,
                                    const unsigned char *relevant) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += !expected[list[i]] && relevant[list[i]];
    return len ? (double)n / (double)len : 0;
}

double indiv_metrics_serendipity_zhang(const size_t *list, size_t len,
                                       const size_t *category, const double *history,
                                       const unsigned char *relevant) {
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += (1 - history[category[list[i]]]) * (relevant[list[i]] ? 1 : 0);
    return len ? s / (double)len : 0;
}

double indiv_metrics_miscalibration(const size_t *list, size_t len,
                                    const size_t *category, const double *p, size_t n_cat,
                                    double *work) {
    if (len == 0)
        return 0;
    memset(work, 0, n_cat * sizeof *work);
    for (size_t i = 0; i < len; i++)
        work[category[list[i]]] += 1;
    return indiv_calibration_kl(p, work, (double)len, n_cat, INDIV_CALIBRATION_ALPHA);
}
