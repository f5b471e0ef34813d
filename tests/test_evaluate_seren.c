/*
 * test_evaluate_seren.c — the serendipity table of indiv evaluate on a log small enough
 * to compute by hand: the decision run without serendipity, with each aim and each
 * re-ranker, and the divergent hit rate, Ge and Zhang serendipity and miscalibration of
 * the lists sent.
 *
 * Offers o1, o2 (category A), o3, o4 (B). Before the split: c1 buys o1 (twice) and o2;
 * c2 o1; c3 o3. In the window: c1 buys o1 and o3, c2 o2, c3 nothing. Known customers:
 * c1, c2, c3. With τ = 0 and 3 slots every known customer is contacted with three of the
 * four offers (c1, c2: o1 o2 o3; c3: o3 o4 o1), and ε = 1 without the openness group
 * adds the fourth, the only one left outside the bubble, as the divergent offer in an
 * extra slot: o4 (B) for c1 and c2, o2 (A) for c3. Only c1 buys its divergent category
 * (B, new to them) in the window.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>

#include "indiv/evaluate.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define EPS   1e-9
#define DAY   INDIV_SECONDS_PER_DAY
#define SPLIT 1296518400 /* 2011-02-01T00:00:00Z */
#define UNTIL (SPLIT + 28 * DAY)

static char *dir;

static void setup(void) {
    gsl_set_error_handler_off();
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(evaluate_seren, .init = setup, .fini = teardown);

static char *small_log(void) {
    char *path = tu_path(dir, "small.db");
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    int64_t o1 = tu_add_offer(log, "o1", "A"), o2 = tu_add_offer(log, "o2", "A"),
            o3 = tu_add_offer(log, "o3", "B");
    tu_add_offer(log, "o4", "B");
    int64_t c1 = tu_add_consumer(log, "c1", 1), c2 = tu_add_consumer(log, "c2", 1),
            c3 = tu_add_consumer(log, "c3", 1);
    int64_t jan = SPLIT - 31 * DAY;
    tu_buy(log, c1, o1, jan + 4 * DAY);
    tu_buy(log, c1, o1, jan + 11 * DAY);
    tu_buy(log, c1, o2, jan + 11 * DAY);
    tu_buy(log, c2, o1, jan + 7 * DAY);
    tu_buy(log, c3, o3, jan + 8 * DAY);
    tu_buy(log, c1, o1, SPLIT + 4 * DAY);
    tu_buy(log, c1, o3, SPLIT + 5 * DAY);
    tu_buy(log, c2, o2, SPLIT + 6 * DAY);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
    return path;
}

Test(evaluate_seren, table_of_a_small_log_matches_the_hand_computation) {
    char *db = small_log();
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    indiv_eval_params_init(&p);
    p.split = SPLIT;
    p.until = UNTIL;
    p.k = 1; /* popularity's top 1: o1; repeat-buy's: o1 (c1, c2), o3 (c3) */
    p.profile.features = INDIV_FEAT_ALL & ~INDIV_FEAT_OPENNESS; /* openness counts 1 */
    indiv_policy_params *pol = &p.decide.policy;
    pol->threshold = 0;
    pol->serendipity = 1;
    pol->relative_floor = 0;
    pol->min_readiness = 0;
    indiv_eval_result *r = calloc(1, sizeof *r);
    indiv_error err = {0};
    indiv_eventlog *elog;
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &elog, NULL), 0);
    cr_assert_eq(indiv_evaluate_run(elog, &m, &p, NULL, NULL, r, &err), 0, "%s", err.msg);
    indiv_eventlog_close(elog);
    cr_assert_eq(r->n_seren, 5);
    static const char *const names[] = {"no serendipity", "popular aim", "adjacent aim",
                                        "mmr:0.5", "calibrated:0.5"};
    for (size_t i = 0; i < 5; i++) {
        const indiv_eval_seren *v = &r->seren[i];
        cr_assert_str_eq(v->name, names[i]);
        cr_assert_eq(v->contacted, 3, "%s", v->name);
        int diverges = i == 1 || i == 2;
        cr_assert_eq(v->offers, diverges ? 12 : 9, "%s: %lld offers", v->name,
                     (long long)v->offers);
        cr_assert_eq(v->divergent, diverges ? 3 : 0, "%s", v->name);
        cr_assert_eq(v->divergent_hits, diverges ? 1 : 0, "%s", v->name);
        cr_assert_eq(v->divergent_new_hits, diverges ? 1 : 0, "%s", v->name);
    }
    const indiv_eval_seren *plain = &r->seren[0];
    /* hits: c1 o1 and o3, c2 o2 */
    cr_assert_eq(plain->offer_hits, 3);
    /* Ge: c1 o3, c2 o2 unexpected and bought, one of three each; c3 nothing */
    cr_assert_float_eq(plain->ge, (1.0 / 3 + 1.0 / 3 + 0) / 3, EPS);
    /* Zhang: c1's o3 is outside its history (all A): (1 − 0) · 1 of three offers */
    cr_assert_float_eq(plain->zhang, (1.0 / 3 + 0 + 0) / 3, EPS);
    /* miscalibration: every list holds two offers of the person's only category and
     * one of the other: KL = log(1 / (0.99 · 2/3 + 0.01)) */
    cr_assert_float_eq(plain->miscalibration, log(1 / (0.99 * 2.0 / 3 + 0.01)), EPS);
    /* NDCG of the sent lists over c1 and c2 (c3 bought nothing): c1 hits at ranks 1, 3
     * of two relevant, c2 at rank 2 of one */
    double c1 = (1 + 1 / log2(4)) / (1 + 1 / log2(3)), c2 = 1 / log2(3);
    cr_assert_eq(plain->ndcg_consumers, 2);
    cr_assert_float_eq(plain->ndcg, (c1 + c2) / 2, EPS);
    free(r);
    free(db);
}
