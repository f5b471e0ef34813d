/*
 * test_itemsim.c — item-to-item similarities: the Gram matrix of a small purchase
 * matrix counted by hand, EASE against its closed form computed by hand on a 3 × 3
 * case (Steck 2019, eq. 8), cosine similarities, top-k neighbours with ties, scoring.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>

#include "indiv/itemsim.h"

#define EPS 1e-12

static void setup(void) {
    gsl_set_error_handler_off();
}

TestSuite(itemsim, .init = setup);

/* Consumers × offers: u0 {0, 1}, u1 {0, 1, 2}, u2 {1, 2}, u3 {0} (values are counts:
 * the Gram matrix ignores them). */
static indiv_sparse *small(void) {
    size_t r[] = {0, 0, 1, 1, 1, 2, 2, 3}, c[] = {0, 1, 0, 1, 2, 1, 2, 0};
    double v[] = {2, 1, 1, 3, 1, 1, 5, 1};
    indiv_sparse *m;
    cr_assert_eq(indiv_sparse_from_triplets(4, 3, 8, r, c, v, &m, NULL), 0);
    return m;
}

Test(itemsim, gram_counts_consumers_who_bought_both) {
    indiv_sparse *x = small();
    double g[9];
    cr_assert_eq(indiv_itemsim_gram(x, g, NULL), 0);
    double want[9] = {3, 2, 1, 2, 3, 2, 1, 2, 2};
    for (int k = 0; k < 9; k++)
        cr_assert_float_eq(g[k], want[k], EPS, "entry %d", k);
    indiv_sparse_free(x);
}

/* 3 × 3 inverse by cofactors: P = adj(A) / det(A). */
static void inverse3(const double *a, double *p) {
    double det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                 a[2] * (a[3] * a[7] - a[4] * a[6]);
    p[0] = (a[4] * a[8] - a[5] * a[7]) / det;
    p[1] = (a[2] * a[7] - a[1] * a[8]) / det;
    p[2] = (a[1] * a[5] - a[2] * a[4]) / det;
    p[3] = (a[5] * a[6] - a[3] * a[8]) / det;
    p[4] = (a[0] * a[8] - a[2] * a[6]) / det;
    p[5] = (a[2] * a[3] - a[0] * a[5]) / det;
    p[6] = (a[3] * a[7] - a[4] * a[6]) / det;
    p[7] = (a[1] * a[6] - a[0] * a[7]) / det;
    p[8] = (a[0] * a[4] - a[1] * a[3]) / det;
}

Test(itemsim, ease_matches_the_closed_form_computed_by_hand) {
    indiv_sparse *x = small();
    double g[9], a[9], p[9];
    const double lambda = 2.385;
    cr_assert_eq(indiv_itemsim_gram(x, g, NULL), 0);
    memcpy(a, g, sizeof a);
    for (int i = 0; i < 3; i++)
        a[i * 3 + i] += lambda;
    inverse3(a, p);
    cr_assert_eq(indiv_itemsim_ease(g, 3, lambda, NULL), 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double want = i == j ? 0 : -p[i * 3 + j] / p[j * 3 + j];
            cr_assert_float_eq(g[i * 3 + j], want, 1e-12, "B[%d][%d]", i, j);
        }
    /* B minimises |X - XB|^2 + lambda |B|^2 with diag 0: for column j, the gradient
     * (G + lambda I) b_j - G e_j vanishes off the diagonal */
    double g0[9];
    cr_assert_eq(indiv_itemsim_gram(x, g0, NULL), 0);
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 3; i++) {
            if (i == j)
                continue;
            double grad = -g0[i * 3 + j];
            for (int k = 0; k < 3; k++)
                grad += (g0[i * 3 + k] + (i == k ? lambda : 0)) * g[k * 3 + j];
            cr_assert_float_eq(grad, 0, 1e-12, "gradient (%d, %d)", i, j);
        }
    cr_assert_eq(indiv_itemsim_ease(g, 3, 0, NULL), INDIV_EINVAL);
    indiv_sparse_free(x);
}

Test(itemsim, cosine_topk_and_scores) {
    indiv_sparse *x = small();
    double g[9];
    cr_assert_eq(indiv_itemsim_gram(x, g, NULL), 0);
    indiv_itemsim_cosine(g, 3);
    cr_assert_float_eq(g[0 * 3 + 1], 2 / sqrt(9.0), EPS);
    cr_assert_float_eq(g[0 * 3 + 2], 1 / sqrt(6.0), EPS);
    cr_assert_float_eq(g[1 * 3 + 2], 2 / sqrt(6.0), EPS);
    cr_assert_float_eq(g[1 * 3 + 1], 0, EPS);
    indiv_sparse *nb;
    cr_assert_eq(indiv_itemsim_topk(g, 3, 1, &nb, NULL), 0);
    /* offer 0's best neighbour is 1; offer 1's is 2 (0.816 > 0.667); offer 2's is 1 */
    cr_assert_eq(nb->ptr[1] - nb->ptr[0], 1);
    cr_assert_eq(nb->idx[nb->ptr[0]], 1);
    cr_assert_eq(nb->idx[nb->ptr[1]], 2);
    cr_assert_eq(nb->idx[nb->ptr[2]], 1);
    /* a history {0, 2} scores offer 1 with s01 (offer 0's neighbour) + s21 */
    size_t hist[2] = {0, 2};
    double score[3] = {0};
    indiv_itemsim_score(NULL, nb, 3, hist, 2, score);
    cr_assert_float_eq(score[1], 2 / 3.0 + 2 / sqrt(6.0), EPS);
    cr_assert_float_eq(score[0], 0, EPS);
    double dense[3] = {0};
    indiv_itemsim_score(g, NULL, 3, hist, 2, dense);
    cr_assert_float_eq(dense[0], g[2 * 3 + 0], EPS);
    indiv_sparse_free(nb);
    /* ties go to the lower column: a row of equal values keeps columns 0 and 1 */
    double flat[9] = {0, 1, 1, 1, 0, 1, 1, 1, 0};
    cr_assert_eq(indiv_itemsim_topk(flat, 3, 1, &nb, NULL), 0);
    cr_assert_eq(nb->idx[nb->ptr[0]], 1);
    cr_assert_eq(nb->idx[nb->ptr[1]], 0);
    cr_assert_eq(nb->idx[nb->ptr[2]], 0);
    indiv_sparse_free(nb);
    indiv_sparse_free(x);
}
