/*
 * test_rerank.c — the re-rankers and the plausibility counts on hand-built cases: MMR's
 * two ends, the calibrated re-ranker lowering Steck's KL, the KL itself, and the
 * smoothed lift against a hand computation.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "indiv/plausibility.h"
#include "indiv/rerank.h"

#define EPS 1e-12

/* Pool best first: three of category 0, then one each of 1 and 2. */
static const double rel[] = {0.9, 0.85, 0.8, 0.5, 0.4};
static const size_t cats[] = {0, 0, 0, 1, 2};

Test(rerank, mmr_lambda_one_keeps_the_order_and_lambda_zero_spreads) {
    size_t order[5];
    cr_assert_eq(indiv_rerank_mmr(rel, cats, 5, 3, 1.0, order), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(order[i], i);
    cr_assert_eq(indiv_rerank_mmr(rel, cats, 5, 3, 0.0, order), 3);
    /* every category once, the earlier pool item on ties: 0, 3, 4 */
    cr_assert_eq(order[0], 0);
    cr_assert_eq(order[1], 3);
    cr_assert_eq(order[2], 4);
    /* λ = 0.7: 0.7·0.85 − 0.3 = 0.295 < 0.7·0.5 = 0.35, so category 1 comes second */
    cr_assert_eq(indiv_rerank_mmr(rel, cats, 5, 2, 0.7, order), 2);
    cr_assert_eq(order[1], 3);
    /* more wanted than the pool holds */
    cr_assert_eq(indiv_rerank_mmr(rel, cats, 2, 5, 0.5, order), 2);
}

Test(rerank, kl_matches_the_hand_computation) {
    double p[3] = {0.5, 0.5, 0}, q[3] = {2, 0, 1};
    /* q̃ = 0.99 · (2/3, 0, 1/3) + 0.01 · p */
    double q0 = 0.99 * 2.0 / 3 + 0.005, q1 = 0.005;
    double want = 0.5 * log(0.5 / q0) + 0.5 * log(0.5 / q1);
    cr_assert_float_eq(indiv_calibration_kl(p, q, 3, 3, 0.01), want, EPS);
    double same[3] = {1, 1, 0};
    cr_assert_float_eq(indiv_calibration_kl(p, same, 2, 3, 0.01), 0, EPS);
}

Test(rerank, calibrated_lowers_the_kl_and_lambda_zero_is_plain) {
    double p[3] = {0.34, 0.33, 0.33}, work[3], q[3];
    size_t order[5];
    cr_assert_eq(indiv_rerank_calibrated(rel, cats, 5, 3, 0.0, p, 3, work, order), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(order[i], i, "λ = 0 is the plain ranking");
    double kl_plain = indiv_calibration_kl(p, (double[]){3, 0, 0}, 3, 3, 0.01);
    cr_assert_eq(indiv_rerank_calibrated(rel, cats, 5, 3, 0.5, p, 3, work, order), 3);
    q[0] = q[1] = q[2] = 0;
    for (size_t i = 0; i < 3; i++)
        q[cats[order[i]]] += 1;
    double kl = indiv_calibration_kl(p, q, 3, 3, 0.01);
    cr_assert_lt(kl, kl_plain - 1, "KL %g, plain %g", kl, kl_plain);
    cr_assert_float_eq(q[0], 1, EPS, "one of each category matches p best");
}

Test(rerank, lift_is_the_smoothed_hand_computation) {
    indiv_plausibility *pl = indiv_plausibility_new(3, 2);
    const int32_t ab[] = {0, 1, 1}, a[] = {0}, c[] = {2, 7, -1};
    for (int k = 0; k < 3; k++)
        indiv_plausibility_add(pl, ab, 3); /* duplicates count once */
    indiv_plausibility_add(pl, a, 1);
    indiv_plausibility_add(pl, c, 3);     /* out-of-range categories are ignored */
    indiv_plausibility_add(pl, c + 1, 2); /* nothing in range: not a person */
    cr_assert_eq(indiv_plausibility_people(pl), 5);
    double lift[3];
    indiv_plausibility_lift(pl, a, 1, 0, lift);
    /* N 5; n_a 4, n_b 3, n_c 1; n_ab 3, n_ac 0; m 2 */
    double pb = 4.0 / 7, pc = 2.0 / 7, pa = 5.0 / 7;
    cr_assert_float_eq(lift[1], (3 + 2 * pb) / 6 / pb, EPS);
    cr_assert_float_eq(lift[2], (0 + 2 * pc) / 6 / pc, EPS);
    cr_assert_float_eq(lift[0], (4 + 2 * pa) / 6 / pa, EPS);
    const int32_t both[] = {0, 2};
    indiv_plausibility_lift(pl, both, 2, 0, lift);
    double b_given_c = (0 + 2 * pb) / 3 / pb;
    cr_assert_float_eq(lift[1], ((3 + 2 * pb) / 6 / pb + b_given_c) / 2, EPS);
    indiv_plausibility_lift(pl, a, 1, 1, lift);
    cr_assert_float_eq(lift[1], (3 + 2 * pb) / 6, EPS, "P(b | a), smoothed");
    indiv_plausibility_lift(pl, NULL, 0, 0, lift);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(lift[i], 1, EPS, "no known category: lift 1");
    indiv_plausibility_free(pl);
    cr_assert_null(indiv_plausibility_new(0, 1));
    cr_assert_null(indiv_plausibility_new(INDIV_PLAUS_MAX_CATEGORIES + 1, 1));
    indiv_plausibility_free(NULL);
}
