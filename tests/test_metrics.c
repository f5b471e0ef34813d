/*
 * test_metrics.c — ranking and beyond-accuracy metrics against hand-computed values on
 * tiny cases, and the tie-aware formulas against brute force over every tie order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "indiv/metrics.h"

#define EPS   1e-12
#define L2(x) (1.0 / log2(x)) /* discount of rank x - 1 */

static indiv_topk topk(const double *s, const unsigned char *rel, size_t n, size_t n_rel,
                       size_t k) {
    indiv_scored ws[16];
    indiv_topk t;
    cr_assert_leq(k, 16);
    indiv_metrics_topk(s, rel, n, n_rel, k, ws, &t);
    return t;
}

Test(metrics, ndcg_of_a_list_without_ties_matches_the_hand_computation) {
    /* ranks 1..3: miss, hit, miss; a third relevant offer could not be ranked */
    double s[] = {0.9, 0.8, 0.7, 0.6, 0.5};
    unsigned char rel[] = {0, 1, 0, 1, 0};
    indiv_topk t = topk(s, rel, 5, 3, 3);
    double idcg = 1 + L2(3) + L2(4);               /* min(k, 3) = 3 hits at the top */
    cr_assert_float_eq(t.ndcg, L2(3) / idcg, EPS); /* 0.63093 / 2.13093 = 0.29608 */
    cr_assert_float_eq(t.ndcg, 0.296082, 1e-6);
    cr_assert_float_eq(t.hits, 1, EPS);
    cr_assert_float_eq(t.hit, 1, EPS);
    cr_assert_float_eq(t.precision, 1.0 / 3, EPS);
    cr_assert_float_eq(t.recall, 1.0 / 3, EPS);
}

Test(metrics, ndcg_with_ties_averages_over_the_orders_of_the_tied_offers) {
    /* rank 1 is a miss; ranks 2-4 are a tie holding one hit; k = 2 keeps rank 2 only,
     * which is the hit one time in three */
    double s[] = {1.0, 0.5, 0.5, 0.5, 0.2};
    unsigned char rel[] = {0, 1, 0, 0, 1};
    indiv_topk t = topk(s, rel, 5, 2, 2);
    cr_assert_float_eq(t.ndcg, (L2(3) / 3) / (1 + L2(3)), EPS); /* 0.128960 */
    cr_assert_float_eq(t.ndcg, 0.128950, 1e-6);
    cr_assert_float_eq(t.hits, 1.0 / 3, EPS);
    cr_assert_float_eq(t.hit, 1.0 / 3, EPS);
    /* k = 4: the whole tie is in, each of its ranks gains 1/3 */
    t = topk(s, rel, 5, 2, 4);
    cr_assert_float_eq(t.ndcg, (L2(3) + L2(4) + L2(5)) / 3 / (1 + L2(3)),
                       EPS); /* 0.319165 */
    cr_assert_float_eq(t.hit, 1, EPS);
    cr_assert_float_eq(t.recall, 0.5, EPS);
}

Test(metrics, hit_probability_in_a_cut_tie_is_hypergeometric) {
    /* four tied offers, two relevant, two ranks: P(no hit) = C(2,2)/C(4,2) = 1/6 */
    double s[] = {0.5, 0.5, 0.5, 0.5};
    unsigned char rel[] = {1, 1, 0, 0};
    indiv_topk t = topk(s, rel, 4, 2, 2);
    cr_assert_float_eq(t.hit, 5.0 / 6, EPS);
    cr_assert_float_eq(t.hits, 1, EPS);
    cr_assert_float_eq(t.ndcg, 0.5, EPS); /* (1 + 0.63093) / 2 over 1 + 0.63093 */
}

Test(metrics, offers_scored_minus_infinity_or_nan_are_never_listed) {
    double s[] = {-INFINITY, 0.3, NAN, -INFINITY};
    unsigned char rel[] = {1, 1, 1, 0};
    indiv_topk t = topk(s, rel, 4, 3, 3);
    cr_assert_float_eq(t.hits, 1, EPS);
    cr_assert_float_eq(t.precision, 1.0 / 3, EPS); /* k stays 3 for a shorter list */
    cr_assert_float_eq(t.recall, 1.0 / 3, EPS);
    cr_assert_float_eq(t.ndcg, 1 / (1 + L2(3) + L2(4)), EPS);
    t = topk(s, rel, 4, 0, 3); /* nothing relevant: all zero, no division by zero */
    cr_assert_float_eq(t.ndcg, 0, EPS);
    cr_assert_float_eq(t.recall, 0, EPS);
}

/* Plain (tie-free) metrics of the order perm, for the brute force below. */
static void plain(const int *perm, size_t n, const unsigned char *rel, size_t n_rel,
                  size_t k, double *ndcg, double *hit, double *hits) {
    double dcg = 0, idcg = 0;
    *hits = 0;
    for (size_t r = 0; r < n && r < k; r++)
        if (rel[perm[r]]) {
            dcg += L2(r + 2.0);
            (*hits)++;
        }
    for (size_t r = 0; r < n_rel && r < k; r++)
        idcg += L2(r + 2.0);
    *ndcg = idcg > 0 ? dcg / idcg : 0;
    *hit = *hits > 0;
}

/* Next permutation in lexicographic order; 0 after the last. */
static int next_perm(int *a, size_t n) {
    size_t i = n - 1;
    while (i > 0 && a[i - 1] >= a[i])
        i--;
    if (i == 0)
        return 0;
    size_t j = n - 1;
    while (a[j] <= a[i - 1])
        j--;
    int t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
    for (size_t l = i, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return 1;
}

Test(metrics, tie_formulas_equal_the_mean_over_every_valid_order) {
    /* table of small cases: scores with many ties, relevance, k */
    static const struct {
        double s[7];
        unsigned char rel[7];
        size_t k;
    } cases[] = {
        {{3, 2, 2, 2, 1, 1, 0}, {0, 1, 0, 1, 1, 0, 1}, 3},
        {{1, 1, 1, 1, 1, 1, 1}, {1, 0, 0, 1, 0, 0, 0}, 2},
        {{5, 4, 4, 3, 3, 3, 3}, {1, 1, 0, 0, 0, 1, 0}, 5},
        {{2, 2, 1, 1, 1, 0, 0}, {0, 0, 0, 0, 1, 1, 1}, 4},
        {{9, 8, 7, 6, 5, 4, 3}, {0, 0, 1, 0, 0, 0, 1}, 6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = 7, n_rel = 0, orders = 0;
        for (size_t i = 0; i < n; i++)
            n_rel += cases[c].rel[i];
        int perm[7] = {0, 1, 2, 3, 4, 5, 6};
        double sum_ndcg = 0, sum_hit = 0, sum_hits = 0;
        do { /* keep the orders that respect the scores: each order of the ties */
            int ok = 1;
            for (size_t r = 1; r < n; r++)
                ok &= cases[c].s[perm[r - 1]] >= cases[c].s[perm[r]];
            if (!ok)
                continue;
            double nd, h, hs;
            plain(perm, n, cases[c].rel, n_rel, cases[c].k, &nd, &h, &hs);
            sum_ndcg += nd, sum_hit += h, sum_hits += hs;
            orders++;
        } while (next_perm(perm, n));
        indiv_topk t = topk(cases[c].s, cases[c].rel, n, n_rel, cases[c].k);
        cr_assert_float_eq(t.ndcg, sum_ndcg / orders, 1e-12, "case %zu ndcg", c);
        cr_assert_float_eq(t.hit, sum_hit / orders, 1e-12, "case %zu hit", c);
        cr_assert_float_eq(t.hits, sum_hits / orders, 1e-12, "case %zu hits", c);
    }
}

Test(metrics, explicit_lists_use_their_order) {
    unsigned char rel[] = {0, 1, 1};
    indiv_topk t;
    indiv_metrics_list(rel, 3, 4, 2, &t); /* only the first two count */
    cr_assert_float_eq(t.hits, 1, EPS);
    cr_assert_float_eq(t.precision, 0.5, EPS);
    cr_assert_float_eq(t.recall, 0.25, EPS);
    cr_assert_float_eq(t.ndcg, L2(3) / (1 + L2(3)), EPS);
}

Test(metrics, coverage_is_the_share_of_offers_ever_listed) {
    unsigned char seen[] = {1, 0, 1, 1, 0};
    cr_assert_float_eq(indiv_metrics_coverage(seen, 5), 0.6, EPS);
    cr_assert_float_eq(indiv_metrics_coverage(seen, 0), 0, EPS);
}

Test(metrics, novelty_is_the_mean_self_information_with_add_one_smoothing) {
    /* counts 3, 1, 0, 0 over 4 offers: p = (c + 1) / (4 + 4) = 1/2, 1/4, 1/8, 1/8 */
    double count[] = {3, 1, 0, 0}, si[4];
    indiv_metrics_self_information(count, 4, si);
    cr_assert_float_eq(si[0], 1, EPS);
    cr_assert_float_eq(si[1], 2, EPS);
    cr_assert_float_eq(si[2], 3, EPS);
    size_t list[] = {0, 2}, one[] = {1};
    cr_assert_float_eq(indiv_metrics_novelty(list, 2, si), 2, EPS);
    cr_assert_float_eq(indiv_metrics_novelty(one, 1, si), 2, EPS);
    cr_assert_float_eq(indiv_metrics_novelty(one, 0, si), 0, EPS);
}

Test(metrics, intra_list_diversity_counts_pairs_across_categories) {
    size_t cat[] = {0, 0, 1, 2}, all[] = {0, 1, 2, 3}, same[] = {0, 1};
    cr_assert_float_eq(indiv_metrics_ild(all, 4, cat), 5.0 / 6,
                       EPS); /* only (0,1) alike */
    cr_assert_float_eq(indiv_metrics_ild(same, 2, cat), 0, EPS);
    cr_assert(isnan(indiv_metrics_ild(all, 1, cat)));
}

Test(metrics, serendipitous_hits_are_hits_outside_past_categories) {
    size_t list[] = {0, 1, 2, 3}, cat[] = {0, 0, 1, 2};
    unsigned char rel[] = {1, 0, 1, 1}, past[] = {1, 0, 0};
    cr_assert_eq(indiv_metrics_unexpected_hits(list, 4, rel, cat, past), 2);
}

Test(metrics, auc_counts_pairs_and_half_ties_with_weights) {
    double s[] = {0.1, 0.4, 0.35, 0.8}, y[] = {0, 0, 1, 1}, auc;
    cr_assert_eq(indiv_metrics_auc(s, y, NULL, 4, &auc, NULL), 0);
    cr_assert_float_eq(auc, 0.75, EPS);
    double w[] = {2, 1, 1, 1}; /* negatives weigh 2 and 1; U = 2 + 3 over 2 x 3 */
    cr_assert_eq(indiv_metrics_auc(s, y, w, 4, &auc, NULL), 0);
    cr_assert_float_eq(auc, 5.0 / 6, EPS);
    double ts[] = {0.5, 0.5}, ty[] = {0, 1};
    cr_assert_eq(indiv_metrics_auc(ts, ty, NULL, 2, &auc, NULL), 0);
    cr_assert_float_eq(auc, 0.5, EPS);
    indiv_error err = {0};
    double ones[] = {1, 1};
    cr_assert_eq(indiv_metrics_auc(ts, ones, NULL, 2, &auc, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "both classes"), "%s", err.msg);
}

Test(metrics, log_loss_and_mean_with_standard_error) {
    double p[] = {0.8, 0.3}, y[] = {1, 0};
    cr_assert_float_eq(indiv_metrics_log_loss(p, y, NULL, 2), -(log(0.8) + log(0.7)) / 2,
                       EPS);
    double x[] = {1, 2, 3, 4}, mean, se;
    indiv_metrics_mean_se(x, 4, &mean, &se);
    cr_assert_float_eq(mean, 2.5, EPS);
    cr_assert_float_eq(se, sqrt(5.0 / 3) / 2, EPS); /* sd 1.29099 / sqrt(4) */
    indiv_metrics_mean_se(x, 1, &mean, &se);
    cr_assert_float_eq(se, 0, EPS);
}

/* ---- serendipity and calibration ------------------------------------------------------ */

Test(metrics, divergent_hit_rate_and_its_standard_error) {
    indiv_divergent_tally t = {0, 0};
    double se = 1;
    cr_assert_float_eq(indiv_divergent_hit_rate(&t, &se), 0, 1e-12);
    cr_assert_float_eq(se, 0, 1e-12);
    for (int i = 0; i < 8; i++)
        indiv_divergent_tally_add(&t, i % 4 == 0);
    cr_assert_eq(t.placed, 8);
    cr_assert_eq(t.hits, 2);
    cr_assert_float_eq(indiv_divergent_hit_rate(&t, &se), 0.25, 1e-12);
    cr_assert_float_eq(se, sqrt(0.25 * 0.75 / 8), 1e-12);
    cr_assert_float_eq(indiv_divergent_hit_rate(&t, NULL), 0.25, 1e-12);
}

/* Offers 0..5; categories 0 0 1 1 2 3. */
static const size_t scat[] = {0, 0, 1, 1, 2, 3};

Test(metrics, ge_serendipity_counts_unexpected_and_useful_offers) {
    const size_t list[] = {0, 2, 4, 5};
    const unsigned char expected[] = {1, 0, 0, 1, 0, 0}, relevant[] = {1, 0, 1, 0, 0, 1};
    /* 0: expected; 2: unexpected and bought; 4: not bought; 5: unexpected and bought */
    cr_assert_float_eq(indiv_metrics_serendipity_ge(list, 4, expected, relevant), 0.5,
                       1e-12);
    cr_assert_float_eq(indiv_metrics_serendipity_ge(list, 0, expected, relevant), 0,
                       1e-12);
}

Test(metrics, zhang_serendipity_is_distance_to_history_times_relevance) {
    const size_t list[] = {0, 2, 5};
    const double history[] = {0.6, 0.3, 0.1, 0};
    const unsigned char relevant[] = {1, 0, 1, 0, 0, 0};
    /* (1 − 0.6) · 1 + (1 − 0.3) · 1 + (1 − 0) · 0, over 3 */
    cr_assert_float_eq(indiv_metrics_serendipity_zhang(list, 3, scat, history, relevant),
                       (0.4 + 0.7) / 3, 1e-12);
}

Test(metrics, miscalibration_is_stecks_kl_with_alpha_mixing) {
    const size_t list[] = {0, 1, 2, 4};
    const double p[] = {0.5, 0.5, 0, 0};
    double work[4];
    /* q = (2/4, 1/4, 1/4, 0); q̃ = 0.99 q + 0.01 p */
    double q0 = 0.99 * 0.5 + 0.005, q1 = 0.99 * 0.25 + 0.005;
    double want = 0.5 * log(0.5 / q0) + 0.5 * log(0.5 / q1);
    cr_assert_float_eq(indiv_metrics_miscalibration(list, 4, scat, p, 4, work), want,
                       1e-12);
    const size_t calibrated[] = {0, 2};
    cr_assert_float_eq(indiv_metrics_miscalibration(calibrated, 2, scat, p, 4, work), 0,
                       1e-12, "the list has p's own proportions");
    cr_assert_float_eq(indiv_metrics_miscalibration(list, 0, scat, p, 4, work), 0, 1e-12);
}
