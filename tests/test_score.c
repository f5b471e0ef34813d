/*
 * test_score.c — the block scorer (score.h is the contract): the affinity block is X·F^T
 * with X the tastes normalised to shares of their positive mass, checked against values
 * computed by hand on a tiny catalog (three categories, d = 3, one-hot and a non-trivial
 * feature matrix); logits equal the model's formula term by term with non-trivial
 * weights; neutral rows; refusals; the logistic function and its inverse, including
 * extreme values.
 *
 * Catalogs are loaded from tiny event logs written through the eventlog API.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/score.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define EPS   1e-12
#define T0    INT64_C(1780272000) /* 2026-06-01T00:00:00Z */
#define DAY_S INT64_C(86400)

static char *dir, *db;
static indiv_eventlog *log_;
static indiv_catalog *cat;

/* Offers o0 (ALPHA), o1 (BRAVO), o2 (CHARLIE), o3 (ALPHA): categories 0, 1, 2. Purchases
 * by one consumer give the offers different popularities. */
static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "log.db");
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log_, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_begin(log_, &err), 0, "%s", err.msg);
    static const char *const cats[] = {"ALPHA", "BRAVO", "CHARLIE", "ALPHA"};
    int64_t oid[4], cid;
    for (int j = 0; j < 4; j++) {
        char ext[16];
        snprintf(ext, sizeof ext, "o%d", j);
        indiv_offer_rec o = {ext,  ext,           cats[j],      10.0 + j,
                             0.25, INDIV_TS_NONE, INDIV_TS_NONE};
        cr_assert_eq(indiv_eventlog_add_offer(log_, &o, &oid[j], NULL, &err), 0, "%s",
                     err.msg);
    }
    indiv_consumer_rec c = {"buyer", 1, 1, INDIV_CH_CONTACTABLE, NULL};
    cr_assert_eq(indiv_eventlog_add_consumer(log_, &c, &cid, NULL, &err), 0, "%s",
                 err.msg);
    static const int buys[] = {1, 1, 1, 0, 3}; /* o1 three times, o0 and o3 once */
    for (size_t k = 0; k < sizeof buys / sizeof buys[0]; k++) {
        indiv_event ev = {cid,
                          T0 - (int64_t)(k + 1) * DAY_S,
                          0,
                          oid[buys[k]],
                          INDIV_EV_PURCHASE,
                          INDIV_CH_WEB,
                          1,
                          10};
        cr_assert_eq(indiv_eventlog_add_event(log_, &ev, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(indiv_eventlog_commit(log_, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_load(log_, &cat, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_size(cat), 4);
    cr_assert_eq(indiv_catalog_dims(cat), 3);
}

static void teardown(void) {
    indiv_catalog_free(cat);
    indiv_eventlog_close(log_);
    free(db);
    tu_rmtree(dir);
}

TestSuite(score, .init = setup, .fini = teardown);

/* A model with weights far from the defaults, so that a swapped term shows. */
static indiv_model odd_model(void) {
    indiv_model m;
    indiv_model_default(&m);
    snprintf(m.id, sizeof m.id, "odd");
    m.intercept = -1.7;
    m.weight[INDIV_TERM_AFFINITY] = 2.385;
    m.weight[INDIV_TERM_POPULARITY] = 0.75;
    m.weight[INDIV_TERM_READINESS] = 1.3;
    m.weight[INDIV_TERM_FREQUENCY] = -0.4;
    m.popularity_half_life_days = 3.5;
    return m;
}

/* A hand-made profile with every group on, taste t (3 values, borrowed). */
static indiv_profile profile_with(double *t, double orders) {
    indiv_profile pr;
    indiv_profile_init(&pr);
    pr.features = INDIV_FEAT_ALL;
    pr.dims = 3;
    pr.taste = t;
    pr.orders = orders;
    return pr;
}

static indiv_scorer *scorer_for(const indiv_model *m) {
    indiv_scorer *s;
    indiv_error err = {0};
    cr_assert_eq(indiv_scorer_new(m, cat, &s, &err), 0, "%s", err.msg);
    return s;
}

/* ---- the affinity block ------------------------------------------------------------ */

Test(score, affinity_block_equals_hand_computed_product) {
    static const double F[4 * 3] = {0.5,  1.25, -0.75, 2.0, 0.0, 0.5,
                                    -1.5, 0.25, 3.0,   0.1, 0.2, 0.3};
    indiv_error err = {0};
    /* Named "category" so that the default model's feature space still matches. */
    cr_assert_eq(indiv_catalog_set_features(cat, F, 3, "category", &err), 0, "%s",
                 err.msg);
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 4);
    cr_assert_not_null(b);
    double t0[3] = {2.385, -0.5, 1.115}, t1[3] = {0, 0, 0}, t2[3] = {1, 1, 2};
    indiv_profile p0 = profile_with(t0, 1), p1 = profile_with(t1, 1),
                  p2 = profile_with(t2, 1);
    indiv_score_set_row(s, b, 0, &p0, 0.5);
    indiv_score_set_row(s, b, 1, &p1, 0.5);
    indiv_score_set_row(s, b, 2, &p2, 0.5);
    indiv_score_set_row(s, b, 3, NULL, 0.5);
    cr_assert_eq(indiv_score_run(s, b, 4, &err), 0, "%s", err.msg);
    /* x0 = (2.385, 0, 1.115) / 3.5 (the negative taste does not count); x2 = (1,1,2)/4.
     */
    static const double want[4][4] = {{0.10178571428571426, 1.522142857142857,
                                       -0.06642857142857128, 0.1637142857142857},
                                      {0, 0, 0, 0},
                                      {0.0625, 0.75, 1.1875, 0.225},
                                      {0, 0, 0, 0}};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            cr_assert_float_eq(indiv_score_affinity(b, i)[j], want[i][j], EPS,
                               "A(%zu, %zu) = %.17g, want %.17g", i, j,
                               indiv_score_affinity(b, i)[j], want[i][j]);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, one_hot_affinity_is_the_share_of_taste_in_the_category) {
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 2);
    double t[3] = {0.3, 1.2, 0.0};
    indiv_profile pr = profile_with(t, 2);
    indiv_score_set_row(s, b, 1, &pr, 0.2); /* row 0 left as allocated: zero */
    cr_assert_eq(indiv_score_run(s, b, 2, NULL), 0);
    const double *a = indiv_score_affinity(b, 1);
    cr_assert_float_eq(a[0], 0.2, EPS); /* o0 is ALPHA: 0.3 / 1.5 */
    cr_assert_float_eq(a[1], 0.8, EPS); /* o1 is BRAVO */
    cr_assert_float_eq(a[2], 0.0, EPS); /* o2 is CHARLIE */
    cr_assert_float_eq(a[3], 0.2, EPS); /* o3 is ALPHA again */
    for (size_t j = 0; j < 4; j++)
        cr_assert_float_eq(indiv_score_affinity(b, 0)[j], 0.0, EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, rows_can_be_reused_without_leftovers) {
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 1);
    double t[3] = {0, 0, 5};
    indiv_profile pr = profile_with(t, 40);
    indiv_score_set_row(s, b, 0, &pr, 0.9);
    cr_assert_eq(indiv_score_run(s, b, 1, NULL), 0);
    cr_assert_float_eq(indiv_score_affinity(b, 0)[2], 1.0, EPS);
    indiv_score_set_row(s, b, 0, NULL, 0.9); /* the next consumer has no profile */
    cr_assert_eq(indiv_score_run(s, b, 1, NULL), 0);
    cr_assert_float_eq(indiv_score_affinity(b, 0)[2], 0.0, EPS);
    cr_assert_float_eq(indiv_score_consumer_term(b, 0), 0.0, EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

/* ---- logits ------------------------------------------------------------------------ */

Test(score, logit_equals_the_model_formula_term_by_term) {
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load_popularity(cat, log_, T0, 3.5, &err), 0, "%s",
                 err.msg);
    const double *pop = indiv_catalog_popularity(cat);
    cr_assert(pop[1] > 0 && pop[0] > 0 && pop[0] < 1, "popularity must be non-trivial");
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 1);
    double t[3] = {0.6, 0.9, 1.5}; /* shares 0.2, 0.3, 0.5 */
    indiv_profile pr = profile_with(t, 7);
    indiv_score_set_row(s, b, 0, &pr, 0.37);
    cr_assert_eq(indiv_score_run(s, b, 1, &err), 0, "%s", err.msg);
    static const double share[4] = {0.2, 0.3, 0.5, 0.2};
    double freq = log(8.0) / log(51.0); /* log(1 + 7) / log(1 + 50) */
    double u = 1.3 * 0.37 - 0.4 * freq;
    cr_assert_float_eq(indiv_score_consumer_term(b, 0), u, EPS);
    cr_assert_float_eq(indiv_scorer_affinity_weight(s), 2.385, EPS);
    for (size_t j = 0; j < 4; j++) {
        double c = -1.7 + 0.75 * pop[j];
        double z = c + 2.385 * share[j] + u;
        cr_assert_float_eq(indiv_scorer_offer_terms(s)[j], c, EPS);
        cr_assert_float_eq(indiv_score_logit(s, b, 0, j), z, EPS, "offer %zu", j);
        cr_assert_float_eq(indiv_score_propensity(s, b, 0, j), 1 / (1 + exp(-z)), EPS);
        double terms[INDIV_TERM_COUNT];
        indiv_score_terms(s, b, 0, j, terms);
        cr_assert_float_eq(terms[INDIV_TERM_AFFINITY], 2.385 * share[j], EPS);
        cr_assert_float_eq(terms[INDIV_TERM_POPULARITY], 0.75 * pop[j], EPS);
        cr_assert_float_eq(terms[INDIV_TERM_READINESS], 1.3 * 0.37, EPS);
        cr_assert_float_eq(terms[INDIV_TERM_FREQUENCY], -0.4 * freq, EPS);
        double sum = m.intercept;
        for (int k = 0; k < INDIV_TERM_COUNT; k++)
            sum += terms[k];
        cr_assert_float_eq(sum, z, EPS, "terms + intercept must give the logit");
    }
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, frequency_is_capped_at_one) {
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 2);
    double t[3] = {1, 0, 0};
    indiv_profile at_scale = profile_with(t, INDIV_FREQUENCY_SCALE),
                  beyond = profile_with(t, 500);
    indiv_score_set_row(s, b, 0, &at_scale, 0);
    indiv_score_set_row(s, b, 1, &beyond, 0);
    cr_assert_float_eq(indiv_score_consumer_term(b, 0), -0.4, EPS);
    cr_assert_float_eq(indiv_score_consumer_term(b, 1), -0.4, EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, groups_switched_off_give_neutral_terms) {
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 3);
    double t[3] = {0, 2, 0};
    indiv_profile no_rhythm = profile_with(t, 9), no_taste = profile_with(t, 9);
    no_rhythm.features = INDIV_FEAT_ALL & ~INDIV_FEAT_RHYTHM;
    no_taste.features = INDIV_FEAT_ALL & ~INDIV_FEAT_TASTE;
    indiv_score_set_row(s, b, 0, &no_rhythm, 0.8);
    indiv_score_set_row(s, b, 1, &no_taste, 0.8);
    indiv_score_set_row(s, b, 2, NULL, 0.8);
    cr_assert_eq(indiv_score_run(s, b, 3, NULL), 0);
    /* Without rhythm: readiness and frequency are ignored, taste still counts. */
    cr_assert_float_eq(indiv_score_consumer_term(b, 0), 0.0, EPS);
    cr_assert_float_eq(indiv_score_affinity(b, 0)[1], 1.0, EPS);
    /* Without taste: no affinity, rhythm still counts. */
    cr_assert_float_eq(indiv_score_affinity(b, 1)[1], 0.0, EPS);
    cr_assert_float_eq(indiv_score_consumer_term(b, 1),
                       1.3 * 0.8 - 0.4 * log(10) / log(51), EPS);
    /* No profile: popularity only. */
    cr_assert_float_eq(indiv_score_consumer_term(b, 2), 0.0, EPS);
    cr_assert_float_eq(indiv_score_logit(s, b, 2, 1), indiv_scorer_offer_terms(s)[1],
                       EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, a_taste_of_another_dimension_is_ignored) {
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 1);
    double t[5] = {1, 1, 1, 1, 1};
    indiv_profile pr = profile_with(t, 1);
    pr.dims = 5; /* built against another catalog */
    indiv_score_set_row(s, b, 0, &pr, 0);
    cr_assert_eq(indiv_score_run(s, b, 1, NULL), 0);
    for (size_t j = 0; j < 4; j++)
        cr_assert_float_eq(indiv_score_affinity(b, 0)[j], 0.0, EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

/* ---- refusals ---------------------------------------------------------------------- */

Test(score, more_rows_than_the_block_holds_are_refused) {
    indiv_model m = odd_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 2);
    indiv_error err = {0};
    cr_assert_eq(indiv_score_run(s, b, 3, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "3 rows") && strstr(err.msg, "capacity 2"), "%s", err.msg);
    cr_assert_eq(indiv_score_run(s, b, 0, NULL), 0, "an empty block is not an error");
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, a_feature_space_mismatch_is_refused_naming_both) {
    static const double F[4 * 2] = {1, 0, 0, 1, 1, 1, 0.5, 0.5};
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_set_features(cat, F, 2, "emb-7", &err), 0, "%s", err.msg);
    indiv_model m = odd_model();
    indiv_scorer *s = (indiv_scorer *)1;
    cr_assert_eq(indiv_scorer_new(&m, cat, &s, &err), INDIV_EINVAL);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "'category'") && strstr(err.msg, "'emb-7'"), "%s", err.msg);
}

Test(score, free_functions_accept_null) {
    indiv_scorer_free(NULL);
    indiv_score_block_free(NULL);
}

/* ---- the logistic link ------------------------------------------------------------- */

Test(score, sigmoid_and_logit_are_inverse) {
    static const double ps[] = {1e-12, 0.001, 0.05, 0.3, 0.5, 0.77, 0.95, 0.999999};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        cr_assert_float_eq(indiv_sigmoid(indiv_logit(ps[i])), ps[i],
                           1e-12 * ps[i] + 1e-15, "p = %g", ps[i]);
    /* Up to z = 12: beyond, 1 - sigmoid(z) has too few significant bits left in a
     * double for any logit to recover z. */
    static const double zs[] = {-30, -2.385, -0.1, 0, 0.1, 4.2, 12};
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++)
        cr_assert_float_eq(indiv_logit(indiv_sigmoid(zs[i])), zs[i], 1e-9, "z = %g",
                           zs[i]);
    cr_assert_float_eq(indiv_sigmoid(0), 0.5, 1e-15);
    cr_assert_float_eq(indiv_logit(0.5), 0.0, 1e-15);
    cr_assert_float_eq(indiv_sigmoid(1.5) + indiv_sigmoid(-1.5), 1.0, 1e-15);
}

Test(score, extreme_values_stay_finite_and_ordered) {
    cr_assert_eq(indiv_sigmoid(800), 1.0);
    cr_assert_eq(indiv_sigmoid(-800), 0.0);
    cr_assert(!isnan(indiv_sigmoid(INFINITY)) && !isnan(indiv_sigmoid(-INFINITY)));
    cr_assert_eq(indiv_sigmoid(INFINITY), 1.0);
    cr_assert_eq(indiv_sigmoid(-INFINITY), 0.0);
    /* No cancellation in the far left tail: sigmoid(-40) ~ e^-40 to full precision. */
    cr_assert_float_eq(indiv_sigmoid(-40) / exp(-40), 1.0, 1e-12);
    cr_assert(indiv_sigmoid(-700) > 0);
    cr_assert(isinf(indiv_logit(0)) && indiv_logit(0) < 0);
    cr_assert(isinf(indiv_logit(1)) && indiv_logit(1) > 0);
    cr_assert(isinf(indiv_logit(-0.2)) && indiv_logit(-0.2) < 0);
    cr_assert(isinf(indiv_logit(1.2)) && indiv_logit(1.2) > 0);
    cr_assert(isfinite(indiv_logit(1e-300)));
    cr_assert_float_eq(indiv_logit(1e-300), log(1e-300), 1e-9);
}

/* ---- the history terms --------------------------------------------------------------- */

/* Only the repeat-readiness term, a 2-day horizon and a 30-day prior. */
static indiv_model repeat_model(void) {
    indiv_model m;
    indiv_model_default(&m);
    snprintf(m.id, sizeof m.id, "repeat");
    m.intercept = 0;
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        m.weight[t] = 0;
    m.weight[INDIV_TERM_REPEAT_READINESS] = 1;
    m.repeat = (indiv_repeat_params){30, 1, 2, 2};
    return m;
}

/* A person who bought o0 on 21 occasions exactly 10 days apart, the last at `last`. */
static indiv_profile every_ten_days(double *taste, indiv_offer_history *h, int64_t last) {
    indiv_profile pr = profile_with(taste, 21);
    *h = (indiv_offer_history){
        indiv_catalog_offer(cat, 0)->id, 21, 5.0, last - 200 * DAY_S, last, 0};
    pr.history = h;
    pr.n_history = 1;
    return pr;
}

Test(score, repeat_readiness_peaks_at_the_persons_cycle_and_is_low_just_after) {
    indiv_model m = repeat_model();
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 1);
    double taste[3] = {0, 0, 0}, terms[INDIV_TERM_COUNT], best = -1, day1 = 0;
    indiv_offer_history h;
    indiv_profile pr = every_ten_days(taste, &h, T0);
    int best_day = 0;
    for (int d = 1; d <= 40; d++) {
        indiv_score_set_row(s, b, 0, &pr, 0);
        indiv_score_set_history(s, b, 0, &pr, T0 + d * DAY_S);
        indiv_score_terms(s, b, 0, 0, terms);
        double r = terms[INDIV_TERM_REPEAT_READINESS];
        cr_assert_float_eq(indiv_score_logit(s, b, 0, 0), r, EPS);
        if (d == 1)
            day1 = r;
        if (r > best) {
            best = r;
            best_day = d;
        }
    }
    /* mean shrunk to (2·30 + 20·10) / 22 = 11.8 days, cv² to 2 / 22: the window of two
     * days most likely to hold the next purchase starts around day 10 */
    cr_assert(best_day >= 8 && best_day <= 12, "peak on day %d", best_day);
    cr_assert_gt(best, 0.15, "%g", best);
    cr_assert_lt(day1, 0.01 * best, "day 1: %g", day1);
    /* long overdue: low again */
    indiv_score_set_row(s, b, 0, &pr, 0);
    indiv_score_set_history(s, b, 0, &pr, T0 + 40 * DAY_S);
    indiv_score_terms(s, b, 0, 0, terms);
    cr_assert_lt(terms[INDIV_TERM_REPEAT_READINESS], 0.01 * best);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, a_person_with_no_history_gets_no_repeat_or_item_term) {
    indiv_model m = repeat_model();
    m.weight[INDIV_TERM_REPEAT] = 2.385;
    m.weight[INDIV_TERM_REPEAT_FREQUENCY] = 0.7;
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 2);
    double taste[3] = {1, 0, 0}, terms[INDIV_TERM_COUNT];
    indiv_offer_history h;
    indiv_profile with = every_ten_days(taste, &h, T0), none = profile_with(taste, 3);
    indiv_score_set_row(s, b, 0, &with, 0);
    indiv_score_set_history(s, b, 0, &with, T0 + 10 * DAY_S);
    /* the same block row reused for a person without history: nothing stays behind */
    indiv_score_set_row(s, b, 0, &none, 0);
    indiv_score_set_history(s, b, 0, &none, T0 + 10 * DAY_S);
    indiv_score_set_row(s, b, 1, NULL, 0);
    indiv_score_set_history(s, b, 1, NULL, T0);
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 4; j++) {
            indiv_score_terms(s, b, i, j, terms);
            for (int t = INDIV_TERM_REPEAT; t < INDIV_TERM_COUNT; t++)
                cr_assert_eq(terms[t], 0, "row %zu offer %zu term %d", i, j, t);
            cr_assert_eq(indiv_score_extra(b, i)[j], 0);
        }
    /* and with it: the indicator and log(1 + 21) occasions */
    indiv_score_set_row(s, b, 0, &with, 0);
    indiv_score_set_history(s, b, 0, &with, T0 + 10 * DAY_S);
    indiv_score_terms(s, b, 0, 0, terms);
    cr_assert_float_eq(terms[INDIV_TERM_REPEAT], 2.385, EPS);
    cr_assert_float_eq(terms[INDIV_TERM_REPEAT_FREQUENCY], 0.7 * log(22.0), EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
}

Test(score, item_term_sums_the_neighbours_of_the_offers_bought) {
    indiv_model m = repeat_model();
    m.weight[INDIV_TERM_REPEAT_READINESS] = 0;
    m.weight[INDIV_TERM_ITEM_ITEM] = 1.5;
    /* o9 -> o0 (7); o0 -> o2 (0.4), o0 -> o9 (0.3); o9 is not in the catalog: its row
     * and the neighbour o9 are dropped */
    const char *ids[3] = {"o9", "o0", "o2"};
    size_t ptr[4] = {0, 1, 3, 3}, idx[3] = {1, 2, 0};
    double w[3] = {7, 0.4, 0.3};
    m.item_item = indiv_item_neighbours_new(3, ids, ptr, idx, w);
    cr_assert_not_null(m.item_item);
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 1);
    double taste[3] = {0, 0, 0}, terms[INDIV_TERM_COUNT];
    indiv_offer_history h;
    indiv_profile pr = every_ten_days(taste, &h, T0);
    indiv_score_set_row(s, b, 0, &pr, 0);
    indiv_score_set_history(s, b, 0, &pr, T0);
    indiv_score_terms(s, b, 0, 2, terms);
    cr_assert_float_eq(terms[INDIV_TERM_ITEM_ITEM], 1.5 * 0.4, EPS);
    cr_assert_float_eq(indiv_score_logit(s, b, 0, 2), 1.5 * 0.4, EPS);
    indiv_score_terms(s, b, 0, 1, terms);
    cr_assert_float_eq(terms[INDIV_TERM_ITEM_ITEM], 0, EPS);
    indiv_score_terms(s, b, 0, 0, terms); /* o9's weight to o0 is not o0's neighbour */
    cr_assert_float_eq(terms[INDIV_TERM_ITEM_ITEM], 0, EPS);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
    indiv_model_clear(&m);
}

/* Offers new to the person keep model.weight[]; the offers they bought use
 * weights_bought for affinity, popularity and item_item, in the logit, in the terms and
 * in the policy's path (offer terms + affinity weight · affinity + extra). */
Test(score, bought_weights_apply_only_to_the_offers_in_the_history) {
    indiv_model m = repeat_model();
    m.weight[INDIV_TERM_REPEAT_READINESS] = 0;
    m.weight[INDIV_TERM_AFFINITY] = 2.385;
    m.weight[INDIV_TERM_POPULARITY] = 0.75;
    m.weight[INDIV_TERM_ITEM_ITEM] = 1.5;
    /* o0 -> o1 (0.2), o0 -> o2 (0.4); o2 -> o0 (0.3) */
    const char *ids[3] = {"o0", "o1", "o2"};
    size_t ptr[4] = {0, 2, 2, 3}, idx[3] = {1, 2, 0};
    double w[3] = {0.2, 0.4, 0.3};
    m.item_item = indiv_item_neighbours_new(3, ids, ptr, idx, w);
    cr_assert_not_null(m.item_item);
    indiv_model mb = m;
    mb.bought = (indiv_bought_weights){1, 0.5, -0.25, 4.0};
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load_popularity(cat, log_, T0, 3.5, &err), 0, "%s",
                 err.msg);
    indiv_scorer *s = scorer_for(&m), *sb = scorer_for(&mb);
    indiv_score_block *b = indiv_score_block_new(s, 1),
                      *bb = indiv_score_block_new(sb, 1);
    double taste[3] = {1, 0.5, 0.25}, terms[INDIV_TERM_COUNT];
    indiv_offer_history h[2];
    indiv_profile pr = every_ten_days(taste, &h[0], T0); /* bought o0 ... */
    h[1] = h[0];
    h[1].offer_id = indiv_catalog_offer(cat, 2)->id; /* ... and o2 */
    pr.n_history = 2;
    indiv_score_set_row(s, b, 0, &pr, 0);
    indiv_score_set_history(s, b, 0, &pr, T0);
    indiv_score_set_row(sb, bb, 0, &pr, 0);
    indiv_score_set_history(sb, bb, 0, &pr, T0);
    cr_assert_eq(indiv_score_run(s, b, 1, NULL), 0);
    cr_assert_eq(indiv_score_run(sb, bb, 1, NULL), 0);
    const double *aff = indiv_score_affinity(bb, 0), *pop = indiv_catalog_popularity(cat);
    cr_assert_gt(aff[0] * pop[0], 0); /* both terms show in o0's logit */
    /* new to the person: o1 (item sum 0.2) and o3 (none), the same under both models */
    cr_assert_float_eq(indiv_score_logit(sb, bb, 0, 1),
                       2.385 * aff[1] + 0.75 * pop[1] + 1.5 * 0.2, EPS);
    for (size_t j = 1; j < 4; j += 2)
        cr_assert_float_eq(indiv_score_logit(sb, bb, 0, j), indiv_score_logit(s, b, 0, j),
                           EPS);
    /* bought: o0 (item sum 0.3 from o2) and o2 (0.4 from o0), with weights_bought */
    const double isum[3] = {0.3, 0, 0.4};
    for (size_t j = 0; j < 3; j += 2) {
        double want = 0.5 * aff[j] - 0.25 * pop[j] + 4.0 * isum[j];
        cr_assert_float_eq(indiv_score_logit(sb, bb, 0, j), want, EPS, "offer %zu", j);
        double old = 2.385 * aff[j] + 0.75 * pop[j] + 1.5 * isum[j];
        cr_assert_float_eq(indiv_score_logit(s, b, 0, j), old, EPS, "offer %zu", j);
        indiv_score_terms(sb, bb, 0, j, terms);
        cr_assert_float_eq(terms[INDIV_TERM_AFFINITY], 0.5 * aff[j], EPS);
        cr_assert_float_eq(terms[INDIV_TERM_POPULARITY], -0.25 * pop[j], EPS);
        cr_assert_float_eq(terms[INDIV_TERM_ITEM_ITEM], 4.0 * isum[j], EPS);
    }
    for (size_t j = 0; j < 4; j++) /* the policy's path gives the same logits */
        cr_assert_float_eq(
            indiv_scorer_offer_terms(sb)[j] + indiv_score_consumer_term(bb, 0) +
                indiv_scorer_affinity_weight(sb) * aff[j] + indiv_score_extra(bb, 0)[j],
            indiv_score_logit(sb, bb, 0, j), EPS, "offer %zu", j);
    /* the row reused for a person without history: no correction stays behind */
    indiv_profile none = profile_with(taste, 3);
    indiv_score_set_row(sb, bb, 0, &none, 0);
    indiv_score_set_history(sb, bb, 0, &none, T0);
    for (size_t j = 0; j < 4; j++)
        cr_assert_eq(indiv_score_extra(bb, 0)[j], 0, "offer %zu", j);
    /* and scored again: the same logits (the scratch item sums were cleared) */
    indiv_score_set_row(sb, bb, 0, &pr, 0);
    indiv_score_set_history(sb, bb, 0, &pr, T0);
    cr_assert_eq(indiv_score_run(sb, bb, 1, NULL), 0);
    cr_assert_float_eq(indiv_score_logit(sb, bb, 0, 2),
                       0.5 * aff[2] - 0.25 * pop[2] + 4.0 * 0.4, EPS);
    indiv_score_block_free(b);
    indiv_score_block_free(bb);
    indiv_scorer_free(s);
    indiv_scorer_free(sb);
    indiv_model_clear(&m);
}

/* The scorer reads the item readiness from a table of the incomplete gamma function
 * (score.c): within its stated bound (3e-7) of the exact function, over shapes from
 * the prior's to the sharpest (cv² 0.05) and the flattest (cv² well above 2, where the
 * exact function is used), means from half a day to a year, times from the instant of
 * the last purchase to long overdue, for four sets of repeat parameters. */
Test(score, item_readiness_is_within_its_bound_of_the_exact_function) {
    /* the prior shapes 1, 1.03 and 3.3 have their own finer row (score.c); 1/3 is below
     * the table (exact everywhere) */
    static const indiv_repeat_params rp[] = {
        {60, 1, 2, 14}, {15.8, 0.97, 2, 14}, {30, 0.3, 5, 2}, {20, 3, 2, 14}};
    static const double occ[] = {1, 2, 3, 5, 10, 30};
    static const double mean[] = {0.5, 3, 10, 30, 90, 365};
    static const double cv2[] = {0, 0.01, 0.1, 0.5, 1, 2, 5};
    double worst = 0;
    long n = 0;
    for (size_t p = 0; p < sizeof rp / sizeof rp[0]; p++) {
        indiv_model m = repeat_model();
        m.repeat = rp[p];
        indiv_scorer *s = scorer_for(&m);
        for (size_t a = 0; a < sizeof occ / sizeof occ[0]; a++)
            for (size_t b = 0; b < sizeof mean / sizeof mean[0]; b++)
                for (size_t c = 0; c < sizeof cv2 / sizeof cv2[0]; c++)
                    for (double t = 0; t < 800; t = t < 0.05 ? t + 0.01 : t * 1.07) {
                        double got =
                            indiv_score_item_readiness(s, occ[a], mean[b], cv2[c], t);
                        double want =
                            indiv_repeat_readiness(&rp[p], occ[a], mean[b], cv2[c], t);
                        double e = fabs(got - want);
                        worst = e > worst ? e : worst;
                        cr_assert_leq(e, 3e-7,
                                      "occasions %g mean %g cv2 %g since %g: %.17g "
                                      "against %.17g",
                                      occ[a], mean[b], cv2[c], t, got, want);
                        n++;
                    }
        cr_assert_eq(indiv_score_item_readiness(s, 3, 10, 0.1, -1), 0,
                     "before the purchase");
        indiv_scorer_free(s);
    }
    cr_log_info("item readiness: %ld values, worst error %.3g", n, worst);
}

/* The item term of rows of four or more neighbours (the scatter takes them four at a
 * time) and of a row that names an offer twice (a model file may: both count). */
Test(score, item_term_adds_long_rows_and_repeated_neighbours) {
    for (int dup = 0; dup < 2; dup++) {
        indiv_model m = repeat_model();
        m.weight[INDIV_TERM_REPEAT_READINESS] = 0;
        m.weight[INDIV_TERM_ITEM_ITEM] = 1.5;
        /* o0 -> o1 (0.1), o2 (0.2), o3 (0.3), o0 (0.4), then o2 (0.5) again or o1 (0.6)
         * twice; o3 -> o0 (0.7) */
        const char *ids[4] = {"o0", "o1", "o2", "o3"};
        size_t ptr[5] = {0, 6, 6, 6, 7}, idx[7] = {1, 2, 3, 0, 2, 1, 0};
        double w[7] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7};
        if (!dup)
            ptr[1] = 4, ptr[2] = ptr[3] = 4, ptr[4] = 5, idx[4] = 0, w[4] = 0.7;
        m.item_item = indiv_item_neighbours_new(4, ids, ptr, idx, w);
        cr_assert_not_null(m.item_item);
        indiv_scorer *s = scorer_for(&m);
        indiv_score_block *b = indiv_score_block_new(s, 1);
        double taste[3] = {0, 0, 0};
        indiv_offer_history h[2];
        indiv_profile pr = every_ten_days(taste, &h[0], T0); /* bought o0 and o3 */
        h[1] = h[0];
        h[1].offer_id = indiv_catalog_offer(cat, 3)->id;
        pr.n_history = 2;
        indiv_score_set_row(s, b, 0, &pr, 0);
        indiv_score_set_history(s, b, 0, &pr, T0);
        const double *x = indiv_score_extra(b, 0);
        double want[4] = {0.4 + 0.7, 0.1, 0.2, 0.3};
        if (dup)
            want[1] += 0.6, want[2] += 0.5;
        for (size_t j = 0; j < 4; j++) {
            double terms[INDIV_TERM_COUNT];
            indiv_score_terms(s, b, 0, j, terms);
            cr_assert_float_eq(x[j], 1.5 * want[j], EPS, "dup %d offer %zu", dup, j);
            cr_assert_float_eq(terms[INDIV_TERM_ITEM_ITEM], 1.5 * want[j], EPS,
                               "dup %d offer %zu", dup, j);
        }
        /* with weights_bought: the bought offers o0 and o3 get 4 · their item sums (1.1
         * and 0.3) through the second scatter; the others keep 1.5 · theirs */
        indiv_model mb = m;
        mb.bought = (indiv_bought_weights){1, 0, 0, 4.0};
        indiv_scorer *sb = scorer_for(&mb);
        indiv_score_block *bb = indiv_score_block_new(sb, 1);
        indiv_score_set_row(sb, bb, 0, &pr, 0);
        indiv_score_set_history(sb, bb, 0, &pr, T0);
        const double *xb = indiv_score_extra(bb, 0);
        for (size_t j = 0; j < 4; j++)
            cr_assert_float_eq(xb[j], (j == 0 || j == 3 ? 4.0 : 1.5) * want[j], EPS,
                               "bought weights, dup %d offer %zu", dup, j);
        indiv_score_block_free(bb);
        indiv_scorer_free(sb);
        indiv_score_block_free(b);
        indiv_scorer_free(s);
        indiv_model_clear(&m);
    }
}

/* The act model's inputs of a row (model.h indiv_act_inputs): purchase occasions and
 * readiness from set_row, days since the last purchase, offers bought on 2+ occasions
 * and the repeat strength (the three largest decayed counts) from set_history; and the
 * relevance is the act model of them. */
Test(score, act_inputs_of_a_constructed_person_and_the_relevance_uses_them) {
    indiv_model m = repeat_model();
    m.act = (indiv_act_model){1, -2, 0.5, 0.25, 1.5, -0.3, 0.7, 0.45};
    indiv_scorer *s = scorer_for(&m);
    indiv_score_block *b = indiv_score_block_new(s, 2);
    double taste[3] = {0, 0, 0};
    indiv_offer_history h[4];
    indiv_profile pr = every_ten_days(taste, &h[0], T0); /* o0: 21 occasions */
    h[1] = h[0];
    h[1].offer_id = indiv_catalog_offer(cat, 1)->id;
    h[1].occasions = 1; /* bought once: not re-bought */
    h[2] = h[0];
    h[2].offer_id = indiv_catalog_offer(cat, 2)->id;
    h[2].occasions = 2;
    h[3] = h[0];
    h[3].offer_id = indiv_catalog_offer(cat, 3)->id;
    h[3].occasions = 1;
    h[0].decayed = 2.5, h[1].decayed = 0.75, h[2].decayed = 1.25, h[3].decayed = 0.5;
    pr.n_history = 4;
    pr.orders = 23;
    pr.last_purchase_ts = T0 - 2 * DAY_S;
    indiv_score_set_row(s, b, 0, &pr, 0.4);
    indiv_score_set_history(s, b, 0, &pr, T0 + 3 * DAY_S);
    indiv_act_inputs in;
    indiv_score_act_inputs(b, 0, &in);
    cr_assert_float_eq(in.orders, 23, EPS);
    cr_assert_float_eq(in.readiness, 0.4, EPS);
    cr_assert_float_eq(in.recency_days, 5, EPS, "5 days since the last purchase");
    cr_assert_float_eq(in.rebought, 2, EPS, "o0 and o2 were bought twice or more");
    cr_assert_float_eq(in.repeat_strength, 2.5 + 1.25 + 0.75, EPS, "o3 is the fourth");
    double z = -2 + 0.5 * log(0.2 / 0.8) + 0.25 * log(24) + 1.5 * 0.4 - 0.3 * log(6) +
               0.7 * log(3) + 0.45 * log(5.5);
    cr_assert_float_eq(indiv_score_relevance(s, b, 0, 0.2), 1 / (1 + exp(-z)), EPS);
    /* a person with no purchase: every input 0, recency included */
    indiv_profile none = profile_with(taste, 0);
    indiv_score_set_row(s, b, 1, &none, 0);
    indiv_score_set_history(s, b, 1, &none, T0);
    indiv_score_act_inputs(b, 1, &in);
    cr_assert(in.orders == 0 && in.readiness == 0 && in.recency_days == 0 &&
              in.rebought == 0 && in.repeat_strength == 0);
    /* the row reused: set_row clears what set_history had put there */
    indiv_score_set_row(s, b, 0, &none, 0);
    indiv_score_act_inputs(b, 0, &in);
    cr_assert(in.recency_days == 0 && in.rebought == 0 && in.repeat_strength == 0);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
    indiv_model_clear(&m);
}

/* ---- the history terms against a plain computation, bit for bit ---------------------
 *
 * score.c computes the history terms in stages (all entries' inputs, then shapes, then
 * readiness), sums the neighbour weights of the offers bought only where they are read,
 * and takes the dot products of weights_bought eight offers at a time, or as one
 * product when the features are one-hot (then dense features). None of that may change
 * a bit: the reference below is the plain computation, entry by entry
 * in history order (the order score.c documents), and the two rows must be equal. */

#define BIG_OFFERS 40
#define BIG_CATS   5

/* A catalog of BIG_OFFERS offers in BIG_CATS categories (o<j> in category j mod
 * BIG_CATS), with purchases that give them different popularities. */
static indiv_catalog *big_catalog(const char *path) {
    indiv_eventlog *lg = NULL;
    indiv_catalog *c = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &lg, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_begin(lg, &err), 0, "%s", err.msg);
    static const char *const cats[BIG_CATS] = {"A", "B", "C", "D", "E"};
    int64_t oid[BIG_OFFERS], cid;
    for (int j = 0; j < BIG_OFFERS; j++) {
        char ext[16];
        snprintf(ext, sizeof ext, "o%d", j);
        indiv_offer_rec o = {ext,  ext,           cats[j % BIG_CATS], 10.0 + j,
                             0.25, INDIV_TS_NONE, INDIV_TS_NONE};
        cr_assert_eq(indiv_eventlog_add_offer(lg, &o, &oid[j], NULL, &err), 0, "%s",
                     err.msg);
    }
    indiv_consumer_rec cr = {"buyer", 1, 1, INDIV_CH_CONTACTABLE, NULL};
    cr_assert_eq(indiv_eventlog_add_consumer(lg, &cr, &cid, NULL, &err), 0, "%s",
                 err.msg);
    for (int k = 0; k < 60; k++) {
        indiv_event ev = {cid,
                          T0 - (int64_t)(k % 17 + 1) * DAY_S,
                          0,
                          oid[(k * 7) % 23],
                          INDIV_EV_PURCHASE,
                          INDIV_CH_WEB,
                          1,
                          10};
        cr_assert_eq(indiv_eventlog_add_event(lg, &ev, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(indiv_eventlog_commit(lg, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_load(lg, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_load_popularity(c, lg, T0, 3.5, &err), 0, "%s", err.msg);
    indiv_eventlog_close(lg);
    cr_assert_eq(indiv_catalog_size(c), BIG_OFFERS);
    return c;
}

/* Neighbour rows of 0 to 9 offers (rows of 4 and more take score.c's grouped scatter);
 * with dup, row 3 names an offer twice. Weights are not round numbers. */
static indiv_item_neighbours *big_neighbours(int dup) {
    const char *ids[BIG_OFFERS];
    char names[BIG_OFFERS][8];
    size_t ptr[BIG_OFFERS + 1], idx[BIG_OFFERS * 10];
    double w[BIG_OFFERS * 10];
    ptr[0] = 0;
    for (size_t r = 0; r < BIG_OFFERS; r++) {
        snprintf(names[r], sizeof names[r], "o%zu", r);
        ids[r] = names[r];
        size_t len = (r * 5) % 10, at = ptr[r];
        for (size_t e = 0; e < len; e++, at++) {
            idx[at] = (r + 1 + e * 3) % BIG_OFFERS;
            w[at] = 0.0137 * (double)(e + 1) + 0.001 * (double)r;
        }
        if (dup && r == 3 && len >= 2)
            idx[at - 1] = idx[ptr[r]];
        ptr[r + 1] = at;
    }
    return indiv_item_neighbours_new(BIG_OFFERS, ids, ptr, idx, w);
}

/* The reference: score.h's x(i, ·) of one person, entry by entry in history order. */
static void plain_history_row(const indiv_model *m, const indiv_scorer *s,
                              const indiv_catalog *c, const indiv_profile *pr, int64_t t,
                              double *x /* OUT: n values */,
                              double *iis /* OUT: n item sums, Σ_k S(k, ·) */) {
    size_t n = indiv_catalog_size(c), d = indiv_catalog_dims(c);
    const double *w = m->weight, *pop = indiv_catalog_popularity(c);
    const indiv_item_neighbours *nb = m->item_item;
    double share[BIG_CATS] = {0}, mass = 0;
    memset(iis, 0, n * sizeof *iis);
    size_t cj[BIG_OFFERS];
    for (size_t k = 0; k < d; k++)
        mass += pr->taste[k] > 0 ? pr->taste[k] : 0;
    for (size_t k = 0; k < d; k++)
        share[k] = pr->taste[k] > 0 ? pr->taste[k] / mass : 0;
    memset(x, 0, n * sizeof *x);
    for (size_t k = 0; k < pr->n_history; k++) {
        const indiv_offer_history *h = &pr->history[k];
        cr_assert_eq(indiv_catalog_index(c, h->offer_id, &cj[k]), 0);
        double mean = indiv_history_mean_interval_days(h), n_iv = h->occasions - 1;
        double var = n_iv > 1 ? h->interval_m2 / (n_iv - 1) : 0;
        double cv2 = mean > 0 && var != 0 ? var / (mean * mean) : 0;
        double since = (double)(t - h->last_ts) / INDIV_SECONDS_PER_DAY;
        double ready = indiv_score_item_readiness(s, h->occasions, mean, cv2, since);
        x[cj[k]] += w[INDIV_TERM_REPEAT] * 1 +
                    w[INDIV_TERM_REPEAT_FREQUENCY] * log1p(h->occasions) +
                    w[INDIV_TERM_REPEAT_READINESS] * ready;
        size_t r = indiv_item_neighbours_find(nb, indiv_catalog_offer(c, cj[k])->ext_id);
        for (size_t e = r == SIZE_MAX ? 0 : nb->ptr[r];
             r != SIZE_MAX && e < nb->ptr[r + 1]; e++) {
            size_t to = SIZE_MAX;
            for (size_t q = 0; q < n; q++)
                if (strcmp(indiv_catalog_offer(c, q)->ext_id,
                           nb->offer_ids[nb->idx[e]]) == 0)
                    to = q;
            cr_assert_neq(to, SIZE_MAX);
            x[to] += w[INDIV_TERM_ITEM_ITEM] * nb->w[e];
            iis[to] += nb->w[e];
        }
    }
    double d_aff = m->bought.affinity - w[INDIV_TERM_AFFINITY],
           d_pop = m->bought.popularity - w[INDIV_TERM_POPULARITY],
           d_ii = m->bought.item_item - w[INDIV_TERM_ITEM_ITEM];
    for (size_t k = 0; m->bought.present && k < pr->n_history; k++) {
        const double *f = indiv_catalog_features(c, cj[k]);
        double a = 0;
        for (size_t q = 0; q < d; q++)
            a += share[q] * f[q];
        x[cj[k]] += d_aff * a + d_pop * pop[cj[k]] + d_ii * iis[cj[k]];
    }
}

Test(score, history_terms_equal_the_plain_computation_bit_for_bit) {
    char *path = tu_path(dir, "big.db");
    indiv_catalog *c = big_catalog(path);
    /* 13 offers bought: once (the prior's shape), twice, a fractional count, many
     * times with and without spread; bought at t (the exact function's corner) and
     * after t (no readiness) */
    static const double occ[] = {1, 2, 3, 5, 1, 1.5, 8, 2, 1, 4, 12, 1, 3};
    enum { H = sizeof occ / sizeof occ[0] };
    indiv_offer_history h[H], other[2];
    for (size_t k = 0; k < H; k++) {
        int64_t last = T0 - (int64_t)((k * 5) % 31) * DAY_S - (int64_t)k * 3607;
        h[k] = (indiv_offer_history){indiv_catalog_offer(c, (k * 7 + 2) % BIG_OFFERS)->id,
                                     occ[k],
                                     0.8 * occ[k],
                                     last - (int64_t)(occ[k] * 9.5 * DAY_S),
                                     last,
                                     k % 3 ? 17.25 * (double)k : 0};
    }
    h[3].last_ts = T0;             /* x1 = 0: below the table */
    h[5].last_ts = T0 + 2 * DAY_S; /* after t */
    for (int k = 0; k < 2; k++)
        other[k] = h[k + 4], other[k].offer_id = indiv_catalog_offer(c, 39 - k)->id;
    double taste[BIG_CATS] = {0.31, -0.2, 1.7, 0.05, 0.6}, ref[BIG_OFFERS], iis[BIG_OFFERS];
    for (int variant = 0; variant < 16; variant++) {
        int dup = variant & 1, with_ii = variant & 2, bought = variant & 4;
        if (variant == 8) { /* then dense features: weights_bought's full dot products */
            double dense[BIG_OFFERS * BIG_CATS];
            for (size_t q = 0; q < BIG_OFFERS * BIG_CATS; q++)
                dense[q] = 0.37 * sin(1.0 + (double)q) - 0.05;
            indiv_error ferr = {0};
            cr_assert_eq(
                indiv_catalog_set_features(c, dense, BIG_CATS, "category", &ferr), 0,
                "%s", ferr.msg);
        }
        indiv_model m = repeat_model();
        m.weight[INDIV_TERM_AFFINITY] = 2.385;
        m.weight[INDIV_TERM_POPULARITY] = 0.75;
        m.weight[INDIV_TERM_REPEAT] = 0.9;
        m.weight[INDIV_TERM_REPEAT_FREQUENCY] = 0.31;
        m.weight[INDIV_TERM_REPEAT_READINESS] = 1.7;
        m.weight[INDIV_TERM_ITEM_ITEM] = with_ii ? 1.5 : 0;
        m.item_item = big_neighbours(dup);
        cr_assert_not_null(m.item_item);
        if (bought)
            m.bought = (indiv_bought_weights){1, 0.5, -0.25, 4.0};
        indiv_scorer *s;
        indiv_error err = {0};
        cr_assert_eq(indiv_scorer_new(&m, c, &s, &err), 0, "%s", err.msg);
        indiv_score_block *b = indiv_score_block_new(s, 3);
        cr_assert_not_null(b);
        indiv_profile pr;
        indiv_profile_init(&pr);
        pr.features = INDIV_FEAT_ALL;
        pr.dims = BIG_CATS;
        pr.taste = taste;
        pr.orders = 30;
        /* row 1 first holds another person: nothing of theirs may stay behind */
        pr.history = other;
        pr.n_history = 2;
        indiv_score_set_row(s, b, 1, &pr, 0.4);
        indiv_score_set_history(s, b, 1, &pr, T0);
        pr.history = h;
        pr.n_history = H;
        for (int64_t dt = 0; dt <= 20 * DAY_S; dt += 10 * DAY_S) {
            indiv_score_set_row(s, b, 1, &pr, 0.4);
            indiv_score_set_history(s, b, 1, &pr, T0 + dt);
            plain_history_row(&m, s, c, &pr, T0 + dt, ref, iis);
            const double *x = indiv_score_extra(b, 1);
            for (size_t j = 0; j < BIG_OFFERS; j++)
                cr_assert(x[j] == ref[j], "variant %d, t + %lld s, offer %zu: %a, not %a",
                          variant, (long long)dt, j, x[j], ref[j]);
            /* the drivers' item term: the same item sums (the rows are sorted by offer
             * for a binary search when no offer repeats in a row) */
            for (size_t j = 0; j < BIG_OFFERS; j++) {
                int in_hist = 0;
                for (size_t k = 0; k < H; k++)
                    in_hist |= h[k].offer_id == indiv_catalog_offer(c, j)->id;
                double wi = m.weight[INDIV_TERM_ITEM_ITEM] +
                            (bought && in_hist
                                 ? m.bought.item_item - m.weight[INDIV_TERM_ITEM_ITEM]
                                 : 0);
                double terms[INDIV_TERM_COUNT];
                indiv_score_terms(s, b, 1, j, terms);
                cr_assert(terms[INDIV_TERM_ITEM_ITEM] == wi * iis[j],
                          "variant %d, offer %zu: item term %a, not %a", variant, j,
                          terms[INDIV_TERM_ITEM_ITEM], wi * iis[j]);
            }
        }
        indiv_score_block_free(b);
        indiv_scorer_free(s);
        indiv_model_clear(&m);
    }
    indiv_catalog_free(c);
    free(path);
}
