/*
 * test_ope_policy.c — the propensity of whole decisions (policy.h "Decision
 * propensity") and the evaluation of any action under a policy, against Monte Carlo
 * frequencies.
 *
 * Many consumers (distinct ids) share one profile and so the same scores; only the two
 * random parts of the policy differ between them: the control hash and the divergence
 * stream. Over N of them, each distinct action must occur with a frequency within the
 * CONFIDENCE binomial interval of its logged propensity; every consumer's logged
 * propensity must equal indiv_policy_evaluate's probability of its own action; the
 * probabilities of the distinct actions seen must sum to 1 (every action was seen); and
 * the mean of the reward model over the actions taken must match the evaluation's
 * expectation. Catalog: 8 offers in 5 categories, as in test_policy.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/policy.h"
#include "indiv/profile.h"
#include "indiv/rng.h"
#include "indiv/score.h"
#include "testutil.h"

#define T0         INT64_C(1780272000) /* 2026-06-01T00:00:00Z */
#define NOFF       8
#define DIMS       5
#define N          20000
#define MAX_KEYS   64
#define CONFIDENCE 0.999 /* a correct policy fails one check in 1000 */

static char *dir;
static indiv_eventlog *log_;
static indiv_catalog *cat;
static indiv_model model;
static indiv_scorer *scorer;
static indiv_score_block *block;
static gsl_rng *rng;
static unsigned char valid[NOFF];
static const indiv_rhythm_prior prior0 = {30.0, 0.5, 100, 100};

static void add_offers(void) {
    static const char *const ext[NOFF] = {"A0", "A1", "A2", "B0", "B1", "C0", "D0", "E0"};
    static const char *const cats[NOFF] = {"ALPHA", "ALPHA", "ALPHA", "BRAVO",
                                           "BRAVO", "CHARLIE", "DELTA", "ECHO"};
    indiv_error err = {0};
    int64_t id;
    for (int j = 0; j < NOFF; j++) {
        indiv_offer_rec o = {ext[j], ext[j], cats[j], 10.0 + j, 0.3, INDIV_TS_NONE,
                             INDIV_TS_NONE};
        cr_assert_eq(indiv_eventlog_add_offer(log_, &o, &id, NULL, &err), 0, "%s",
                     err.msg);
    }
}

static void setup(void) {
    dir = tu_tmpdir();
    char *db = tu_path(dir, "log.db");
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log_, &err), 0, "%s",
                 err.msg);
    free(db);
    cr_assert_eq(indiv_eventlog_begin(log_, &err), 0, "%s", err.msg);
    add_offers();
    cr_assert_eq(indiv_eventlog_commit(log_, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_load(log_, &cat, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_load_popularity(cat, log_, T0, 1e9, &err), 0, "%s",
                 err.msg);
    indiv_model_default(&model);
    cr_assert_eq(indiv_scorer_new(&model, cat, &scorer, &err), 0, "%s", err.msg);
    block = indiv_score_block_new(scorer, 1);
    rng = indiv_rng_new(0, 0, INDIV_RNG_DIVERGENCE);
    memset(valid, 1, sizeof valid);
}

static void teardown(void) {
    gsl_rng_free(rng);
    indiv_score_block_free(block);
    indiv_scorer_free(scorer);
    indiv_catalog_free(cat);
    indiv_eventlog_close(log_);
    tu_rmtree(dir);
}

TestSuite(ope_policy, .init = setup, .fini = teardown);

/* A profile of taste t: ALPHA-heavy, a little BRAVO, nothing elsewhere (so C0, D0, E0
 * are outside the bubble), openness o. */
static indiv_profile person(double *t, double o) {
    indiv_profile pr;
    indiv_profile_init(&pr);
    pr.features = INDIV_FEAT_TASTE | INDIV_FEAT_CHANNELS | INDIV_FEAT_PRESSURE |
                  INDIV_FEAT_OPENNESS;
    pr.dims = DIMS;
    pr.taste = t;
    pr.first_purchase_ts = pr.last_purchase_ts = INDIV_TS_NONE;
    for (int h = 0; h < 24; h++)
        pr.hour[h] = 1.0 / 24;
    for (int d = 0; d < 7; d++)
        pr.dow[d] = 1.0 / 7;
    for (int c = 0; c < INDIV_CONTACT_CHANNELS; c++)
        pr.react_rate[c] = 0.1;
    pr.openness = o;
    return pr;
}

typedef struct tally {
    indiv_action_key key[MAX_KEYS];
    double p[MAX_KEYS];
    int count[MAX_KEYS];
    int n;
    double reward[INDIV_V_COUNT]; /* Σ r̂ of the actions taken */
    double expected[INDIV_V_COUNT];
} tally;

static int same_key(const indiv_action_key *a, const indiv_action_key *b) {
    if (a->action != b->action || a->n != b->n)
        return 0;
    for (int q = 0; q < a->n; q++) {
        int found = 0;
        for (int r = 0; r < b->n; r++)
            found |= a->offer[q] == b->offer[r];
        if (!found)
            return 0;
    }
    return 1;
}

/* Decides for N consumers of profile pr under p and tallies their actions. */
static void run(const indiv_policy_params *p, const indiv_profile *pr, tally *t) {
    memset(t, 0, sizeof *t);
    indiv_score_set_row(scorer, block, 0, pr, 1.0);
    cr_assert_eq(indiv_score_run(scorer, block, 1, NULL), 0);
    for (int64_t id = 1; id <= N; id++) {
        indiv_consumer_row c = {id, "c", 1, 1, INDIV_CH_CONTACTABLE, INDIV_TS_NONE};
        indiv_policy_input in = {&c, pr, 1.0, 0, NULL};
        indiv_decision d;
        indiv_policy_eval ev;
        indiv_action_key k;
        indiv_policy_decide(p, scorer, block, 0, cat, valid, &in, &prior0, rng, &d);
        indiv_action_key_of(&d, &k);
        indiv_policy_evaluate(p, scorer, block, 0, cat, valid, &in, &prior0, &k, &ev);
        cr_assert_float_eq(ev.p, d.propensity, 1e-12, "consumer %lld: logged %g, "
                           "evaluated %g", (long long)id, d.propensity, ev.p);
        cr_assert_gt(d.propensity, 0);
        int i = 0;
        while (i < t->n && !same_key(&t->key[i], &k))
            i++;
        cr_assert_lt(i, MAX_KEYS);
        if (i == t->n) {
            t->key[t->n] = k;
            t->p[t->n++] = d.propensity;
        }
        cr_assert_float_eq(t->p[i], d.propensity, 1e-12, "same action, same π");
        t->count[i]++;
        for (int v = 0; v < INDIV_V_COUNT; v++) {
            t->reward[v] += ev.reward_hat[v];
            t->expected[v] = ev.expected[v]; /* the same for every id */
        }
    }
}

static void check(const tally *t, const char *what) {
    double z = gsl_cdf_ugaussian_Pinv(1 - (1 - CONFIDENCE) / 2), total = 0;
    for (int i = 0; i < t->n; i++) {
        double mean = N * t->p[i], half = z * sqrt(N * t->p[i] * (1 - t->p[i]));
        cr_expect(fabs(t->count[i] - mean) <= half + 1e-9,
                  "%s: action %d (%d offers) seen %d times, π = %g expects %.1f ± %.1f",
                  what, i, t->key[i].n, t->count[i], t->p[i], mean, half);
        total += t->p[i];
    }
    cr_expect_float_eq(total, 1, 1e-9, "%s: π over the %d actions seen sums to %.12g",
                       what, t->n, total);
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        double mean = t->reward[v] / N, scale = v == INDIV_V_REVENUE ? 20 : 1;
        cr_expect_float_eq(mean, t->expected[v], 0.02 * scale,
                           "%s: value %d: mean r̂ %g, expected %g", what, v, mean,
                           t->expected[v]);
    }
}

static indiv_policy_params base(void) {
    indiv_policy_params p;
    indiv_policy_params_init(&p);
    p.as_of = T0;
    p.seed = 77;
    p.slots = 2;
    p.relevance = INDIV_REL_BEST;
    p.threshold = 0.2;
    p.divergence_aim = INDIV_AIM_POPULAR;
    p.floor = 0.01;
    p.relative_floor = 0;
    p.bubble = 0.05;
    return p;
}

Test(ope_policy, divergence_replacing_a_slot_with_a_control_group_of_none) {
    double taste[DIMS] = {0.8, 0.2, 0, 0, 0};
    indiv_profile pr = person(taste, 0.8);
    indiv_policy_params p = base();
    p.serendipity = 0.5;
    p.divergent_slot = INDIV_SLOT_REPLACE;
    p.control_share = 0.2;
    tally t;
    run(&p, &pr, &t);
    cr_assert_geq(t.n, 4, "R, R with C0/D0/E0 in the last slot, none");
    check(&t, "replace + control none");
}

Test(ope_policy, extra_slot_with_a_control_group_of_random_offers) {
    double taste[DIMS] = {0.7, 0.3, 0, 0, 0};
    indiv_profile pr = person(taste, 0.6);
    indiv_policy_params p = base();
    p.serendipity = 0.4;
    p.divergent_slot = INDIV_SLOT_EXTRA;
    p.divergence_aim = INDIV_AIM_ADJACENT;
    p.control_share = 0.3;
    p.control = INDIV_CONTROL_RANDOM;
    tally t;
    run(&p, &pr, &t);
    cr_assert_geq(t.n, 8, "the random offers each make an action");
    check(&t, "extra + control random");
}

Test(ope_policy, ungated_control_group_contacts_below_the_threshold) {
    double taste[DIMS] = {0.3, 0.2, 0, 0, 0};
    indiv_profile pr = person(taste, 1.0);
    indiv_policy_params p = base();
    p.threshold = 0.9; /* nobody is relevant: the treatment is none or standalone */
    p.divergence = INDIV_DIV_STANDALONE;
    p.serendipity = 0.3;
    p.control_share = 0.25;
    p.control = INDIV_CONTROL_UNGATED;
    tally t;
    run(&p, &pr, &t);
    check(&t, "ungated control, standalone");
    /* The control group's share of contacts with the relevant top 2 is about c. */
    int ungated = 0;
    for (int i = 0; i < t.n; i++)
        ungated += t.key[i].n == 2 ? t.count[i] : 0;
    cr_expect_gt(ungated, N * 0.25 * 0.6, "%d ungated contacts", ungated);
}

Test(ope_policy, control_membership_is_a_stable_hash_at_the_stated_share) {
    double taste[DIMS] = {0.8, 0.2, 0, 0, 0};
    indiv_profile pr = person(taste, 0.0);
    indiv_policy_params p = base();
    p.control_share = 0.05;
    indiv_score_set_row(scorer, block, 0, &pr, 1.0);
    cr_assert_eq(indiv_score_run(scorer, block, 1, NULL), 0);
    int members = 0, again = 0;
    for (int64_t id = 1; id <= N; id++) {
        indiv_consumer_row c = {id, "c", 1, 1, INDIV_CH_CONTACTABLE, INDIV_TS_NONE};
        indiv_policy_input in = {&c, &pr, 1.0, 0, NULL};
        indiv_decision d, e;
        indiv_policy_decide(&p, scorer, block, 0, cat, valid, &in, &prior0, rng, &d);
        indiv_policy_decide(&p, scorer, block, 0, cat, valid, &in, &prior0, rng, &e);
        members += d.control;
        again += d.control == e.control;
        if (d.control) {
            cr_assert_eq(d.reason, INDIV_R_CONTROL_GROUP);
            cr_assert_eq(d.action, INDIV_NONE);
            cr_assert_float_eq(d.propensity, 0.05, 1e-12, "none only through control");
        } else {
            cr_assert_float_eq(d.propensity, 0.95, 1e-12, "ε · openness = 0");
        }
    }
    double half = 3.29 * sqrt(N * 0.05 * 0.95);
    cr_expect(fabs(members - N * 0.05) <= half, "%d members of %d", members, N);
    cr_assert_eq(again, N, "membership is a hash, not a draw");
    /* Another campaign (decision time) draws another group. */
    p.as_of = T0 + 86400;
    int moved = 0;
    for (int64_t id = 1; id <= 2000; id++) {
        indiv_consumer_row c = {id, "c", 1, 1, INDIV_CH_CONTACTABLE, INDIV_TS_NONE};
        indiv_policy_input in = {&c, &pr, 1.0, 0, NULL};
        indiv_decision d;
        indiv_policy_decide(&p, scorer, block, 0, cat, valid, &in, &prior0, rng, &d);
        moved += d.control;
    }
    cr_expect_gt(moved, 0);
}

Test(ope_policy, evaluation_of_impossible_and_ineligible_actions) {
    double taste[DIMS] = {0.8, 0.2, 0, 0, 0};
    indiv_profile pr = person(taste, 0.5);
    indiv_policy_params p = base();
    indiv_score_set_row(scorer, block, 0, &pr, 1.0);
    cr_assert_eq(indiv_score_run(scorer, block, 1, NULL), 0);
    indiv_consumer_row c = {9, "c", 1, 0, INDIV_CH_CONTACTABLE, INDIV_TS_NONE};
    indiv_policy_input in = {&c, &pr, 1.0, 0, NULL};
    indiv_action_key k = {INDIV_CONTACT, 1, {3}};
    indiv_policy_eval ev;
    /* no contact consent: none with certainty, so any contact has probability 0 */
    indiv_policy_evaluate(&p, scorer, block, 0, cat, valid, &in, &prior0, &k, &ev);
    cr_assert_eq(ev.p, 0);
    cr_assert_float_eq(ev.reward_hat[INDIV_V_CONTACTS], 1, 1e-12);
    cr_assert_eq(ev.expected[INDIV_V_CONTACTS], 0);
    k.action = INDIV_NONE;
    indiv_policy_evaluate(&p, scorer, block, 0, cat, valid, &in, &prior0, &k, &ev);
    cr_assert_eq(ev.p, 1);
    /* eligible: a contact with three offers is impossible with two slots */
    c.consent_contact = 1;
    k = (indiv_action_key){INDIV_CONTACT, 3, {0, 1, 2}};
    indiv_policy_evaluate(&p, scorer, block, 0, cat, valid, &in, &prior0, &k, &ev);
    cr_assert_eq(ev.p, 0);
}
