/*
 * test_policy.c — one consumer's decision (policy.h is the contract), on a hand-built
 * catalog, the default model and hand-built profiles, one step at a time: eligibility
 * (consent, unsubscribe, channels, pressure cap, each boundary both ways), validity and
 * the relevance threshold, ranking (order, tie-break by catalog index, slots, rank by
 * value), divergence (ε = 0, ε = 1, the share against ε × openness within a binomial
 * confidence interval, draws proportional to propensity, ride-along against standalone,
 * every reason a drawn divergence is not placed), channel choice, timing (next preferred
 * slot, defer with its date, never ready), parameters and names.
 *
 * Catalog (dense index: ext id, category, price, margin): 0 A0, 1 A1, 2 A2 (ALPHA),
 * 3 B0, 4 B1 (BRAVO), 5 C0 (CHARLIE), 6 D0 (DELTA), 7 E0 (ECHO); d = 5. Only D0 was ever
 * bought, so its normalised popularity is 1 and every other offer's 0. With the default
 * model (logit = -3.2 + 4·affinity + 1.2·popularity + readiness + 0.5·frequency) and
 * profiles without the rhythm group, an offer's logit is -3.2 + 4·share + 1.2·[D0].
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>

#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/plausibility.h"
#include "indiv/policy.h"
#include "indiv/profile.h"
#include "indiv/rng.h"
#include "indiv/score.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define EPS    1e-12
#define T0     INT64_C(1780272000) /* 2026-06-01T00:00:00Z, a Monday */
#define DAY_S  INT64_C(86400)
#define HOUR_S INT64_C(3600)
#define NOFF   8
#define DIMS   5
/* Two-sided 99.9% normal quantile: a correct engine fails a share test once in 1000. */
#define CONFIDENCE 0.999

enum { A0, A1, A2, B0, B1, C0, D0, E0 };
enum { ALPHA, BRAVO, CHARLIE, DELTA, ECHO };

static char *dir, *db;
static indiv_eventlog *log_;
static indiv_catalog *cat;
static indiv_model model;
static indiv_scorer *scorer;
static indiv_score_block *block;
static gsl_rng *rng;
static unsigned char valid[NOFF];
static indiv_policy_params P;
static const indiv_plausibility *plaus_; /* population counts of the adjacent aim tests */
static const indiv_rhythm_prior prior0 = {30.0, 0.5, 100, 100};

static void add_offers(void) {
    static const struct {
        const char *ext, *category;
        double price, margin;
    } offers[NOFF] = {{"A0", "ALPHA", 10, 0.5}, {"A1", "ALPHA", 40, 0.1},
                      {"A2", "ALPHA", 20, 0.4}, {"B0", "BRAVO", 100, 0.3},
                      {"B1", "BRAVO", 5, 0.2},  {"C0", "CHARLIE", 12, 0.3},
                      {"D0", "DELTA", 8, 0.3},  {"E0", "ECHO", 9, 0.3}};
    indiv_error err = {0};
    int64_t id[NOFF], cid;
    for (int j = 0; j < NOFF; j++) {
        indiv_offer_rec o = {offers[j].ext,   offers[j].ext,    offers[j].category,
                             offers[j].price, offers[j].margin, INDIV_TS_NONE,
                             INDIV_TS_NONE};
        cr_assert_eq(indiv_eventlog_add_offer(log_, &o, &id[j], NULL, &err), 0, "%s",
                     err.msg);
    }
    indiv_consumer_rec c = {"shopper", 1, 1, INDIV_CH_CONTACTABLE, NULL};
    cr_assert_eq(indiv_eventlog_add_consumer(log_, &c, &cid, NULL, &err), 0, "%s",
                 err.msg);
    indiv_event ev = {cid, T0 - 2 * DAY_S, 0, id[E0], INDIV_EV_PURCHASE, INDIV_CH_WEB, 1,
                      8};
    cr_assert_eq(indiv_eventlog_add_event(log_, &ev, &err), 0, "%s", err.msg);
    ev.offer_id = id[D0]; /* twice, so it is the most popular */
    for (int k = 0; k < 2; k++) {
        ev.ts = T0 - (3 + k) * DAY_S;
        cr_assert_eq(indiv_eventlog_add_event(log_, &ev, &err), 0, "%s", err.msg);
    }
}

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "log.db");
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log_, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_begin(log_, &err), 0, "%s", err.msg);
    add_offers();
    cr_assert_eq(indiv_eventlog_commit(log_, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_load(log_, &cat, &err), 0, "%s", err.msg);
    /* A half-life far longer than the history: D0 (2 buys) ≈ 1, E0 (1 buy) ≈ 0.63. */
    cr_assert_eq(indiv_catalog_load_popularity(cat, log_, T0, 1e9, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_catalog_size(cat), NOFF);
    cr_assert_eq(indiv_catalog_dims(cat), DIMS);
    indiv_model_default(&model);
    cr_assert_eq(indiv_scorer_new(&model, cat, &scorer, &err), 0, "%s", err.msg);
    block = indiv_score_block_new(scorer, 1);
    rng = indiv_rng_new(0, 0, INDIV_RNG_DIVERGENCE);
    cr_assert(block && rng);
    memset(valid, 1, sizeof valid);
    indiv_policy_params_init(&P);
    P.as_of = T0;
    /* The tests of the first divergence rule run under it: drawn ∝ propensity above an
     * absolute floor, taking the last slot; the aim, floor and slot tests set theirs. */
    P.divergence_aim = INDIV_AIM_POPULAR;
    P.divergent_slot = INDIV_SLOT_REPLACE;
    P.floor = 0.05;
    P.relative_floor = 0;
    /* The per-offer threshold tests run under `best`; the `any` tests set theirs. */
    P.relevance = INDIV_REL_BEST;
    plaus_ = NULL;
}

static void teardown(void) {
    gsl_rng_free(rng);
    indiv_score_block_free(block);
    indiv_scorer_free(scorer);
    indiv_catalog_free(cat);
    indiv_eventlog_close(log_);
    free(db);
    tu_rmtree(dir);
}

TestSuite(policy, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

/* A profile with taste t (DIMS values, borrowed) and the given feature groups; neutral
 * moments, reaction rates 0.1, openness 1. */
static indiv_profile person(double *t, unsigned features) {
    indiv_profile pr;
    indiv_profile_init(&pr);
    pr.features = features;
    pr.dims = DIMS;
    pr.taste = t;
    pr.first_purchase_ts = pr.last_purchase_ts = INDIV_TS_NONE;
    for (int h = 0; h < 24; h++)
        pr.hour[h] = 1.0 / 24;
    for (int d = 0; d < 7; d++)
        pr.dow[d] = 1.0 / 7;
    for (int c = 0; c < INDIV_CONTACT_CHANNELS; c++)
        pr.react_rate[c] = 0.1;
    pr.openness = 1.0;
    return pr;
}

/* The usual groups: no rhythm (no deferral, no readiness term), no moments. */
#define PLAIN (INDIV_FEAT_TASTE | INDIV_FEAT_CHANNELS | INDIV_FEAT_PRESSURE)

static indiv_consumer_row consumer(int64_t id) {
    indiv_consumer_row c = {id, "c", 1, 1, INDIV_CH_CONTACTABLE, INDIV_TS_NONE};
    return c;
}

static indiv_decision decide_full(const indiv_profile *pr, const indiv_consumer_row *c,
                                  double readiness, int contacts_recent) {
    indiv_score_set_row(scorer, block, 0, pr, readiness);
    cr_assert_eq(indiv_score_run(scorer, block, 1, NULL), 0);
    indiv_policy_input in = {c, pr, readiness, contacts_recent, plaus_};
    indiv_decision d;
    indiv_policy_decide(&P, scorer, block, 0, cat, valid, &in, &prior0, rng, &d);
    return d;
}

static indiv_decision decide(const indiv_profile *pr, int64_t id) {
    indiv_consumer_row c = consumer(id);
    return decide_full(pr, &c, 1.0, 0);
}

static double p_of(double share, int j) {
    double pop = indiv_catalog_popularity(cat)[j];
    return indiv_sigmoid(model.intercept + 4.0 * share + 1.2 * pop);
}

static int n_divergent(const indiv_decision *d) {
    int n = 0;
    for (int k = 0; k < d->n_offers; k++)
        n += d->offers[k].kind == INDIV_KIND_DIVERGENT;
    return n;
}

/* Half-width of the two-sided CONFIDENCE normal interval of a count with variance v. */
static double half_width(double v) {
    return gsl_cdf_ugaussian_Pinv(1 - (1 - CONFIDENCE) / 2) * sqrt(v);
}

/* ---- eligibility ------------------------------------------------------------------- */

Test(policy, no_contact_consent_gives_none_before_anything_else) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    indiv_consumer_row c = consumer(7);
    c.consent_contact = 0;
    c.unsubscribed_ts = T0 - DAY_S; /* also unsubscribed, over the cap, no channel: */
    c.channels = INDIV_CH_BIT(INDIV_CH_WEB); /* consent is the first reason */
    indiv_decision d = decide_full(&pr, &c, 1.0, 99);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_NO_CONTACT_CONSENT);
    cr_assert_eq(d.n_offers, 0);
    cr_assert_eq(d.consumer_id, 7);
    cr_assert_eq(d.send_at, INDIV_TS_NONE);
}

Test(policy, unsubscribed_at_or_before_as_of_gives_none) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    static const struct {
        int64_t ts;
        int unsubscribed;
    } cases[] = {
        {T0 - 30 * DAY_S, 1}, {T0 - 1, 1}, {T0, 1}, {T0 + 1, 0}, {INDIV_TS_NONE, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_consumer_row c = consumer(3);
        c.unsubscribed_ts = cases[i].ts;
        indiv_decision d = decide_full(&pr, &c, 1.0, 0);
        if (cases[i].unsubscribed) {
            cr_assert_eq(d.action, INDIV_NONE, "case %zu", i);
            cr_assert_eq(d.reason, INDIV_R_UNSUBSCRIBED, "case %zu", i);
        } else {
            cr_assert_eq(d.action, INDIV_CONTACT, "case %zu: %s", i,
                         indiv_reason_name(d.reason));
        }
    }
}

Test(policy, no_accepted_contact_channel_gives_none) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    static const unsigned masks[] = {0, INDIV_CH_BIT(INDIV_CH_WEB),
                                     INDIV_CH_BIT(INDIV_CH_WEB) |
                                         INDIV_CH_BIT(INDIV_CH_STORE)};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        indiv_consumer_row c = consumer(3);
        c.channels = masks[i];
        indiv_decision d = decide_full(&pr, &c, 1.0, 0);
        cr_assert_eq(d.action, INDIV_NONE);
        cr_assert_eq(d.reason, INDIV_R_NO_CHANNEL, "mask %u", masks[i]);
    }
    indiv_consumer_row c = consumer(3);
    c.channels = INDIV_CH_BIT(INDIV_CH_WEB) | INDIV_CH_BIT(INDIV_CH_PUSH);
    indiv_decision d = decide_full(&pr, &c, 1.0, 0);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.channel, INDIV_CH_PUSH);
}

Test(policy, pressure_cap_holds_at_max_contacts_and_not_below) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    indiv_consumer_row c = consumer(3);
    P.max_contacts = 3;
    P.per_days = 14;
    indiv_decision d = decide_full(&pr, &c, 1.0, 3);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_PRESSURE_CAP);
    cr_assert_eq(d.contacts_recent, 3);
    d = decide_full(&pr, &c, 1.0, 7);
    cr_assert_eq(d.reason, INDIV_R_PRESSURE_CAP);
    d = decide_full(&pr, &c, 1.0, 2);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.contacts_recent, 2);
    P.max_contacts = 0; /* at most 0 contacts: nobody */
    d = decide_full(&pr, &c, 1.0, 0);
    cr_assert_eq(d.reason, INDIV_R_PRESSURE_CAP);
}

Test(policy, zero_day_window_disables_the_cap) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    indiv_consumer_row c = consumer(3);
    P.per_days = 0;
    P.max_contacts = 0;
    indiv_decision d = decide_full(&pr, &c, 1.0, 50);
    cr_assert_eq(d.action, INDIV_CONTACT, "%s", indiv_reason_name(d.reason));
}

/* ---- validity and threshold -------------------------------------------------------- */

Test(policy, all_scores_below_threshold_give_none_with_the_best_score) {
    double t[DIMS] = {0.2, 0.8, 0, 0, 0}; /* BRAVO: logit -3.2 + 3.2 = 0, p = 0.5 */
    indiv_profile pr = person(t, PLAIN);
    P.threshold = 0.6;
    P.serendipity = 0;
    indiv_decision d = decide(&pr, 11);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD);
    cr_assert_eq(d.n_offers, 0);
    cr_assert(d.has_best);
    cr_assert_eq(d.best_offer, B0, "best %zu: ties go to the lower catalog index",
                 d.best_offer);
    cr_assert_float_eq(d.best_p, 0.5, EPS);
    cr_assert_eq(d.send_at, INDIV_TS_NONE);
    /* The same person just above the threshold is contacted. */
    P.threshold = 0.5 - 1e-9;
    d = decide(&pr, 11);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.offers[0].offer, B0);
}

/* Issue 14 item 21: a consumer who consented to profiling but has no profile yet is told
 * apart from one whose profile scores too low; without consent nothing changes. */
Test(policy, a_consenting_consumer_without_a_profile_gets_no_profile) {
    P.threshold = 0.6; /* without a profile the best p is about 0.12 */
    P.serendipity = 0;
    indiv_consumer_row c = consumer(12);
    cr_assert_eq(c.consent_profiling, 1);
    indiv_decision d = decide_full(NULL, &c, 1.0, 0);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_NO_PROFILE, "%s", indiv_reason_name(d.reason));
    cr_assert(d.has_best, "the best score is still reported");
    c.consent_profiling = 0;
    d = decide_full(NULL, &c, 1.0, 0);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD, "%s", indiv_reason_name(d.reason));
    /* With a profile that scores too low, below_threshold as before. */
    double t[DIMS] = {0.2, 0.8, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    c.consent_profiling = 1;
    d = decide_full(&pr, &c, 1.0, 0);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD, "%s", indiv_reason_name(d.reason));
    /* Above the threshold, a consenting consumer without a profile is still contacted. */
    P.threshold = 0.1;
    d = decide_full(NULL, &c, 1.0, 0);
    cr_assert_eq(d.action, INDIV_CONTACT);
}

Test(policy, the_threshold_boundary_is_inclusive_both_ways) {
    double t[DIMS] = {0.6, 0.25, 0.15, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    double pa = p_of(0.6, A0);
    P.serendipity = 0;
    P.slots = 8;
    P.threshold = pa - 1e-9;
    indiv_decision d = decide(&pr, 1);
    cr_assert_eq(d.n_offers, 3, "the three ALPHA offers are just above τ");
    P.threshold = pa + 1e-9;
    d = decide(&pr, 1);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD);
    cr_assert_float_eq(d.best_p, pa, EPS);
}

Test(policy, relevance_any_is_one_minus_the_product_of_misses) {
    double p[3] = {0.5, 0.2, 0.1};
    /* 1 - 0.5 * 0.8 * 0.9 = 0.64, by hand */
    cr_assert_float_eq(indiv_relevance_any(p, 3), 0.64, EPS);
    cr_assert_float_eq(indiv_relevance_any(p, 1), 0.5, EPS);
    cr_assert_float_eq(indiv_relevance_any(p, 0), 0, EPS);
    double sure[2] = {1, 0.3};
    cr_assert_float_eq(indiv_relevance_any(sure, 2), 1, EPS);
}

/* τ is compared with 1 − Π(1 − p_i) over the offers that would be sent: a person whose
 * best offer is below τ is contacted with all `slots` offers when together they reach
 * it, and nobody is contacted just above that value. */
Test(policy, relevance_any_compares_tau_with_p_of_buying_at_least_one) {
    double t[DIMS] = {0.6, 0.25, 0.15, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 0;
    P.slots = 3;
    P.relevance = INDIV_REL_BEST;
    P.threshold = 0;
    indiv_decision d = decide(&pr, 1);
    cr_assert_eq(d.n_offers, 3);
    double p[3], hand = 1;
    for (int k = 0; k < 3; k++) {
        p[k] = d.offers[k].p;
        hand *= 1 - p[k];
    }
    hand = 1 - hand;
    cr_assert_float_eq(indiv_relevance_any(p, 3), hand, EPS);
    cr_assert(hand > d.best_p + 0.01, "the case needs P(any) well above the best p");
    P.relevance = INDIV_REL_ANY;
    P.threshold = (hand + d.best_p) / 2; /* above the best p, below P(any) */
    indiv_decision a = decide(&pr, 1);
    cr_assert_eq(a.action, INDIV_CONTACT);
    cr_assert_eq(a.reason, INDIV_R_RELEVANT);
    cr_assert_eq(a.n_offers, 3, "every offer is sent, even those below τ");
    for (int k = 0; k < 3; k++)
        cr_assert_eq(a.offers[k].offer, d.offers[k].offer);
    P.relevance = INDIV_REL_BEST; /* the same τ under `best`: nobody */
    d = decide(&pr, 1);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD);
    P.relevance = INDIV_REL_ANY;
    P.threshold = hand - 1e-9;
    cr_assert_eq(decide(&pr, 1).action, INDIV_CONTACT);
    P.threshold = hand + 1e-9;
    a = decide(&pr, 1);
    cr_assert_eq(a.action, INDIV_NONE);
    cr_assert_eq(a.reason, INDIV_R_BELOW_THRESHOLD);
    cr_assert_eq(a.n_offers, 0);
}

Test(policy, no_valid_offer_gives_none) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    memset(valid, 0, sizeof valid);
    indiv_decision d = decide(&pr, 4);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_NO_VALID_OFFER);
    cr_assert_eq(d.has_best, 0);
}

Test(policy, invalid_offers_are_never_proposed_nor_best) {
    double t[DIMS] = {0.7, 0.3, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    valid[A0] = valid[A2] = valid[D0] = 0;
    P.serendipity = 1;
    P.floor = 0.001;
    P.threshold = 0.35;
    for (int64_t id = 1; id <= 200; id++) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(d.action, INDIV_CONTACT);
        cr_assert_eq(d.offers[0].offer, A1);
        for (int k = 0; k < d.n_offers; k++)
            cr_assert(valid[d.offers[k].offer], "invalid offer %zu proposed",
                      d.offers[k].offer);
    }
    P.threshold = 0.99;
    indiv_decision d = decide(&pr, 1);
    cr_assert_eq(d.best_offer, A1);
}

/* ---- ranking ----------------------------------------------------------------------- */

Test(policy, ranking_orders_by_propensity_and_ties_by_catalog_index) {
    /* Logits: ALPHA -0.8 (three tied offers), DELTA -2.0, BRAVO -2.2, CHARLIE -2.6,
     * ECHO -3.2 + 1.2·pop(E0). */
    double t[DIMS] = {0.6, 0.25, 0.15, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.threshold = 0;
    P.slots = NOFF;
    P.serendipity = 0;
    indiv_decision d = decide(&pr, 1);
    static const size_t want[NOFF] = {A0, A1, A2, D0, B0, B1, E0, C0};
    cr_assert_eq(d.n_offers, NOFF);
    for (int k = 0; k < NOFF; k++) {
        cr_assert_eq(d.offers[k].offer, want[k], "rank %d: offer %zu, want %zu", k + 1,
                     d.offers[k].offer, want[k]);
        cr_assert_eq(d.offers[k].rank, k + 1);
        cr_assert_eq(d.offers[k].kind, INDIV_KIND_RELEVANT);
        cr_assert_float_eq(d.offers[k].p,
                           indiv_score_propensity(scorer, block, 0, want[k]), EPS);
        if (k > 0)
            cr_assert(d.offers[k].p <= d.offers[k - 1].p);
    }
    cr_assert_float_eq(d.offers[0].p, p_of(0.6, A0), EPS);
    cr_assert_float_eq(d.offers[0].affinity, 0.6, EPS);
}

Test(policy, slots_limit_the_offers_and_keep_the_best) {
    double t[DIMS] = {0.6, 0.25, 0.15, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.threshold = 0;
    P.serendipity = 0;
    static const size_t want[NOFF] = {A0, A1, A2, D0, B0, B1, E0, C0};
    for (int slots = 1; slots <= NOFF + 2; slots++) {
        P.slots = slots;
        indiv_decision d = decide(&pr, 1);
        int expect = slots < NOFF ? slots : NOFF;
        cr_assert_eq(d.n_offers, expect, "slots %d: %d offers", slots, d.n_offers);
        for (int k = 0; k < d.n_offers; k++)
            cr_assert_eq(d.offers[k].offer, want[k], "slots %d rank %d", slots, k + 1);
    }
}

Test(policy, rank_by_value_orders_by_expected_margin) {
    double t[DIMS] = {0.6, 0.25, 0.15, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.threshold = 0;
    P.slots = NOFF;
    P.serendipity = 0;
    P.rank_by_value = 1;
    indiv_decision d = decide(&pr, 1);
    cr_assert_eq(d.n_offers, NOFF);
    for (int k = 0; k < NOFF; k++) {
        const indiv_offer *o = indiv_catalog_offer(cat, d.offers[k].offer);
        cr_assert_float_eq(d.offers[k].value, d.offers[k].p * o->price * o->margin, EPS);
        if (k > 0)
            cr_assert(d.offers[k].value <= d.offers[k - 1].value, "rank %d", k + 1);
    }
    /* B0 (p 0.10 × 100 × 0.3 = 3.0) beats A2 (0.31 × 20 × 0.4 = 2.5) though less likely.
     */
    cr_assert_eq(d.offers[0].offer, B0);
    cr_assert_eq(d.offers[1].offer, A2);
    cr_assert_eq(d.offers[2].offer, A0);
    /* With a threshold, value only orders what passed it. */
    P.threshold = 0.3;
    d = decide(&pr, 1);
    cr_assert_eq(d.n_offers, 3);
    cr_assert_eq(d.offers[0].offer, A2);
    cr_assert_eq(d.offers[1].offer, A0);
    cr_assert_eq(d.offers[2].offer, A1);
}

/* ---- channel ----------------------------------------------------------------------- */

Test(policy, channel_is_the_best_reaction_rate_among_accepted_channels) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    pr.react_rate[0] = 0.2; /* email */
    pr.react_rate[1] = 0.5; /* sms */
    pr.react_rate[2] = 0.3; /* push */
    static const struct {
        unsigned mask;
        int want;
        double rate;
    } cases[] = {
        {INDIV_CH_CONTACTABLE, INDIV_CH_SMS, 0.5},
        {INDIV_CH_BIT(INDIV_CH_EMAIL) | INDIV_CH_BIT(INDIV_CH_PUSH), INDIV_CH_PUSH, 0.3},
        {INDIV_CH_BIT(INDIV_CH_EMAIL) | INDIV_CH_BIT(INDIV_CH_WEB), INDIV_CH_EMAIL, 0.2},
        {INDIV_CH_BIT(INDIV_CH_PUSH), INDIV_CH_PUSH, 0.3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_consumer_row c = consumer(5);
        c.channels = cases[i].mask;
        indiv_decision d = decide_full(&pr, &c, 1.0, 0);
        cr_assert_eq(d.action, INDIV_CONTACT);
        cr_assert_eq(d.channel, cases[i].want, "case %zu: channel %d", i, d.channel);
        for (int k = 0; k < d.n_offers; k++)
            cr_assert_float_eq(d.offers[k].p_channel, d.offers[k].p * cases[i].rate, EPS);
    }
}

Test(policy, equal_rates_go_to_email_then_sms_then_push) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    pr.react_rate[0] = pr.react_rate[1] = pr.react_rate[2] = 0.25;
    indiv_consumer_row c = consumer(5);
    indiv_decision d = decide_full(&pr, &c, 1.0, 0);
    cr_assert_eq(d.channel, INDIV_CH_EMAIL);
    c.channels = INDIV_CH_BIT(INDIV_CH_SMS) | INDIV_CH_BIT(INDIV_CH_PUSH);
    d = decide_full(&pr, &c, 1.0, 0);
    cr_assert_eq(d.channel, INDIV_CH_SMS);
}

Test(policy, without_channel_features_the_first_accepted_channel_is_used) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, INDIV_FEAT_TASTE);
    pr.react_rate[2] = 0.9; /* ignored: the group is off */
    indiv_consumer_row c = consumer(5);
    c.channels = INDIV_CH_BIT(INDIV_CH_SMS) | INDIV_CH_BIT(INDIV_CH_PUSH);
    indiv_decision d = decide_full(&pr, &c, 1.0, 0);
    cr_assert_eq(d.channel, INDIV_CH_SMS);
    P.threshold = 0.1; /* without a profile, D0 at p 0.12 is the best */
    d = decide_full(NULL, &c, 1.0, 0);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.channel, INDIV_CH_SMS);
    cr_assert_eq(d.personalised, 0);
}

/* ---- divergence -------------------------------------------------------------------- */

/* Tastes that cycle over consumers: each leaves at least one category at zero. */
static void taste_of(int64_t id, double t[DIMS]) {
    static const double tastes[4][DIMS] = {{0.7, 0.3, 0, 0, 0},
                                           {0, 0.9, 0.1, 0, 0},
                                           {0.5, 0, 0.5, 0, 0},
                                           {0.2, 0.2, 0.2, 0.2, 0}};
    memcpy(t, tastes[id % 4], DIMS * sizeof *t);
}

Test(policy, epsilon_zero_never_diverges) {
    P.serendipity = 0;
    P.floor = 0.001;
    P.bubble = 0.5;
    for (P.divergence = INDIV_DIV_RIDE_ALONG; (int)P.divergence <= INDIV_DIV_STANDALONE;
         P.divergence++) {
        int contacts = 0;
        for (int64_t id = 1; id <= 3000; id++) {
            double t[DIMS];
            taste_of(id, t);
            indiv_profile pr = person(t, PLAIN | INDIV_FEAT_OPENNESS);
            indiv_decision d = decide(&pr, id);
            cr_assert_eq(d.divergence_drawn, 0);
            cr_assert_eq(n_divergent(&d), 0, "consumer %lld", (long long)id);
            cr_assert_neq(d.reason, INDIV_R_DIVERGENT_ALONE);
            contacts += d.action == INDIV_CONTACT;
        }
        cr_assert_gt(contacts, 1000, "the test needs contacts to mean anything");
    }
}

/* ε = 1, openness 1: every contact carries exactly one divergent offer, outside the
 * bubble and above the floor, in the last rank, after the best relevant ones. */
static void check_always_diverges(unsigned features) {
    P.serendipity = 1;
    P.floor = 0.03;
    P.bubble = 0.05;
    /* Ride-along with a single slot has no room (tested on its own below). */
    for (P.slots = P.divergence == INDIV_DIV_STANDALONE ? 1 : 2; P.slots <= 4;
         P.slots++) {
        for (int64_t id = 1; id <= 400; id++) {
            double t[DIMS];
            taste_of(id, t);
            indiv_profile pr = person(t, features);
            indiv_decision d = decide(&pr, id);
            cr_assert(d.divergence_drawn, "consumer %lld", (long long)id);
            if (d.action != INDIV_CONTACT)
                continue;
            cr_assert_eq(n_divergent(&d), 1, "slots %d consumer %lld: %d divergent",
                         P.slots, (long long)id, n_divergent(&d));
            cr_assert_leq(d.n_offers, P.slots);
            const indiv_decided_offer *o = &d.offers[d.n_offers - 1];
            cr_assert_eq(o->kind, INDIV_KIND_DIVERGENT, "the divergent offer is last");
            cr_assert_lt(o->affinity, P.bubble);
            cr_assert_geq(o->p, P.floor - EPS);
            cr_assert_float_eq(o->affinity, indiv_score_affinity(block, 0)[o->offer],
                               EPS);
            for (int k = 0; k < d.n_offers; k++)
                cr_assert_eq(d.offers[k].rank, k + 1);
        }
    }
}

Test(policy, epsilon_one_with_openness_one_always_diverges) {
    check_always_diverges(PLAIN); /* no openness group: openness counts as 1 */
    check_always_diverges(PLAIN | INDIV_FEAT_OPENNESS); /* person() sets openness 1 */
    P.divergence = INDIV_DIV_STANDALONE;
    check_always_diverges(PLAIN);
}

Test(policy, ride_along_takes_the_last_slot_when_all_are_full) {
    double t[DIMS] = {0.7, 0.3, 0, 0, 0}; /* ALPHA p 0.40: three relevant offers */
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.03;
    P.slots = 3;
    indiv_decision d = decide(&pr, 9);
    cr_assert_eq(d.reason, INDIV_R_RELEVANT);
    cr_assert_eq(d.n_offers, 3);
    cr_assert_eq(d.offers[0].offer, A0);
    cr_assert_eq(d.offers[1].offer, A1);
    cr_assert_eq(d.offers[2].kind, INDIV_KIND_DIVERGENT);
    cr_assert(d.offers[2].offer >= C0, "picked %zu, not out of the bubble",
              d.offers[2].offer);
    P.slots = 4; /* room left: the divergent offer is added after the three */
    d = decide(&pr, 9);
    cr_assert_eq(d.n_offers, 4);
    cr_assert_eq(d.offers[2].offer, A2);
    cr_assert_eq(d.offers[3].kind, INDIV_KIND_DIVERGENT);
}

/* Count of placed divergent offers over n consumers with openness o(i), compared with
 * the Poisson-binomial mean Σ ε·o(i) within the CONFIDENCE normal interval. */
static void check_share(double eps, double (*openness)(int64_t), int64_t n) {
    P.serendipity = eps;
    P.floor = 0.03;
    double mean = 0, var = 0;
    int64_t placed = 0, drawn = 0;
    for (int64_t id = 1; id <= n; id++) {
        double t[DIMS] = {0.7, 0.3, 0, 0, 0};
        indiv_profile pr = person(t, PLAIN | INDIV_FEAT_OPENNESS);
        pr.openness = openness(id);
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(d.action, INDIV_CONTACT);
        placed += n_divergent(&d);
        drawn += d.divergence_drawn;
        double q = eps * pr.openness;
        mean += q;
        var += q * (1 - q);
    }
    cr_assert_eq(placed, drawn, "a candidate and a companion always exist here");
    double hw = half_width(var);
    cr_assert(fabs((double)placed - mean) <= hw,
              "ε %.2f: %lld divergent contacts of %lld, expected %.1f ± %.1f", eps,
              (long long)placed, (long long)n, mean, hw);
}

static double openness_one(int64_t id) {
    (void)id;
    return 1.0;
}

static double openness_varied(int64_t id) {
    return 0.05 + 0.9 * (double)(id % 10) / 9.0;
}

Test(policy, divergent_share_matches_epsilon_times_openness) {
    check_share(0.3, openness_one, 20000);
    check_share(0.1, openness_varied, 20000);
    check_share(0.75, openness_varied, 20000);
}

Test(policy, divergent_draws_are_proportional_to_propensity) {
    /* Candidates outside the bubble: C0 (p 0.039), D0 (popular) and E0 (bought once). */
    double t[DIMS] = {0.7, 0.3, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.03;
    const int64_t n = 20000;
    int64_t picks[NOFF] = {0};
    for (int64_t id = 1; id <= n; id++) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(n_divergent(&d), 1);
        picks[d.offers[d.n_offers - 1].offer]++;
    }
    double pc = p_of(0, C0), pd = p_of(0, D0), pe = p_of(0, E0), tot = pc + pd + pe;
    cr_assert(pd > 2 * pc && pe > pc, "the candidates must differ for the test to bite");
    const int cand[3] = {C0, D0, E0};
    const double share[3] = {pc / tot, pd / tot, pe / tot};
    int64_t sum = 0;
    for (int k = 0; k < 3; k++) {
        double mean = (double)n * share[k], hw = half_width(mean * (1 - share[k]));
        cr_assert(fabs((double)picks[cand[k]] - mean) <= hw,
                  "offer %d picked %lld times, expected %.1f ± %.1f", cand[k],
                  (long long)picks[cand[k]], mean, hw);
        sum += picks[cand[k]];
    }
    cr_assert_eq(sum, n, "only out-of-bubble offers above the floor may be drawn");
}

Test(policy, ride_along_never_contacts_on_a_divergent_offer_alone) {
    double t[DIMS] = {1, 0, 0, 0, 0}; /* ALPHA p 0.69; nothing else above 0.12 */
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.03;
    P.threshold = 0.9; /* nothing relevant */
    indiv_decision d = decide(&pr, 21);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD);
    cr_assert_eq(d.n_offers, 0);
    cr_assert(d.divergence_drawn);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NO_COMPANION);
    cr_assert(d.has_best);
    cr_assert_eq(d.best_offer, A0);
    cr_assert_float_eq(d.best_p, p_of(1, A0), EPS);
    /* Over many consumers and tastes: every contact has a relevant offer. */
    P.threshold = 0.3;
    for (int64_t id = 1; id <= 2000; id++) {
        double tt[DIMS];
        taste_of(id, tt);
        indiv_profile q = person(tt, PLAIN);
        d = decide(&q, id);
        cr_assert_neq(d.reason, INDIV_R_DIVERGENT_ALONE);
        if (d.action == INDIV_CONTACT)
            cr_assert_eq(d.offers[0].kind, INDIV_KIND_RELEVANT, "consumer %lld",
                         (long long)id);
    }
}

Test(policy, standalone_contacts_on_a_plausible_offer_outside_the_bubble) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.03;
    P.threshold = 0.9;
    P.divergence = INDIV_DIV_STANDALONE;
    indiv_decision d = decide(&pr, 21);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.reason, INDIV_R_DIVERGENT_ALONE);
    cr_assert_eq(d.n_offers, 1);
    cr_assert_eq(d.offers[0].kind, INDIV_KIND_DIVERGENT);
    cr_assert_eq(d.offers[0].rank, 1);
    cr_assert_lt(d.offers[0].affinity, P.bubble);
    cr_assert_geq(d.offers[0].p, P.floor);
    cr_assert_lt(d.offers[0].p, P.threshold);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NONE);
    /* The drivers describe the offer actually sent. */
    double terms[INDIV_TERM_COUNT];
    indiv_score_terms(scorer, block, 0, d.offers[0].offer, terms);
    for (int k = 0; k < INDIV_TERM_COUNT; k++)
        cr_assert_float_eq(d.drivers[k], terms[k], EPS);
    /* Without any plausible offer outside the bubble, standalone has nothing to send. */
    P.floor = 0.5;
    d = decide(&pr, 21);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_BELOW_THRESHOLD);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NO_CANDIDATE);
}

Test(policy, standalone_single_slot_contact_with_only_a_divergent_offer_says_so) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.03;
    P.slots = 1;
    P.divergence = INDIV_DIV_STANDALONE;
    indiv_decision d = decide(&pr, 21);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.n_offers, 1);
    cr_assert_eq(d.offers[0].kind, INDIV_KIND_DIVERGENT, "standalone may replace it");
    cr_assert_eq(d.reason, INDIV_R_DIVERGENT_ALONE,
                 "the contact carries no relevant offer, yet says %s",
                 indiv_reason_name(d.reason));
}

Test(policy, ride_along_with_a_single_slot_has_no_room) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.03;
    P.slots = 1;
    indiv_decision d = decide(&pr, 21);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.reason, INDIV_R_RELEVANT);
    cr_assert_eq(d.n_offers, 1);
    cr_assert_eq(d.offers[0].offer, A0);
    cr_assert(d.divergence_drawn);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NO_ROOM);
}

Test(policy, no_candidate_above_the_floor_leaves_the_relevant_offers) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 1;
    P.floor = 0.2; /* out of the bubble, the best is D0 at p 0.12 */
    indiv_decision d = decide(&pr, 21);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(n_divergent(&d), 0);
    cr_assert_eq(d.n_offers, 3);
    cr_assert(d.divergence_drawn);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NO_CANDIDATE);
    P.floor = 0.03;
    P.bubble = 0.0; /* nothing has an affinity below 0: no bubble to leave */
    d = decide(&pr, 21);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NO_CANDIDATE);
}

Test(policy, consumers_without_a_profile_never_diverge) {
    P.serendipity = 1;
    P.floor = 0.001;
    P.threshold = 0.1;
    P.divergence = INDIV_DIV_STANDALONE;
    for (int64_t id = 1; id <= 300; id++) {
        indiv_decision d = decide(NULL, id);
        cr_assert_eq(d.personalised, 0);
        cr_assert_eq(d.divergence_drawn, 0);
        cr_assert_eq(n_divergent(&d), 0);
        /* Popularity only: D0 then E0, p = sigmoid(-3.2 + 1.2 pop). */
        cr_assert_eq(d.action, INDIV_CONTACT);
        cr_assert_eq(d.offers[0].offer, D0);
        cr_assert_eq(d.send_at, T0);
    }
}

Test(policy, divergent_picks_depend_on_seed_and_consumer_only) {
    P.serendipity = 1;
    P.floor = 0.03;
    enum { N = 300 };
    size_t pick[N], pick2[N];
    double t[DIMS] = {0.7, 0.3, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    for (int64_t id = 1; id <= N; id++) {
        indiv_decision d = decide(&pr, id);
        pick[id - 1] = d.offers[d.n_offers - 1].offer;
    }
    gsl_rng_set(rng, 12345); /* a dirty generator and the reverse order change nothing */
    for (int64_t id = N; id >= 1; id--) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(d.offers[d.n_offers - 1].offer, pick[id - 1], "consumer %lld",
                     (long long)id);
    }
    P.seed = 2;
    int changed = 0;
    for (int64_t id = 1; id <= N; id++) {
        indiv_decision d = decide(&pr, id);
        pick2[id - 1] = d.offers[d.n_offers - 1].offer;
        changed += pick2[id - 1] != pick[id - 1];
    }
    cr_assert_gt(changed, 0, "another seed must change some picks");
}

/* ---- timing ------------------------------------------------------------------------ */

/* Active at 19:00 on Wednesdays and Saturdays. */
static indiv_profile evening_person(double *t) {
    indiv_profile pr = person(t, PLAIN | INDIV_FEAT_MOMENTS);
    for (int h = 0; h < 24; h++)
        pr.hour[h] = 0.5 / 23;
    pr.hour[19] = 0.5;
    for (int d = 0; d < 7; d++)
        pr.dow[d] = 0.4 / 5;
    pr.dow[2] = pr.dow[5] = 0.3; /* 0 = Monday */
    return pr;
}

static int64_t at(const char *iso) {
    int64_t ts;
    cr_assert_eq(indiv_time_parse(iso, &ts), 0, "%s", iso);
    return ts;
}

Test(policy, next_slot_is_the_preferred_hour_on_an_active_day) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = evening_person(t);
    static const char *const cases[][2] = {
        {"2026-06-01T00:00:00Z", "2026-06-03T19:00:00Z"}, /* Monday → Wednesday */
        {"2026-06-03T18:59:59Z", "2026-06-03T19:00:00Z"},
        {"2026-06-03T19:00:00Z", "2026-06-03T19:00:00Z"}, /* at the slot: itself */
        {"2026-06-03T19:00:01Z", "2026-06-06T19:00:00Z"}, /* just missed: Saturday */
        {"2026-06-06T20:00:00Z", "2026-06-10T19:00:00Z"}, /* Saturday late: Wednesday */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = indiv_policy_next_slot(&pr, at(cases[i][0]));
        char buf[INDIV_ISO_LEN];
        cr_assert_eq(got, at(cases[i][1]), "from %s: %s, want %s", cases[i][0],
                     indiv_time_format(got, buf), cases[i][1]);
    }
    /* A decision carries it as its send time. */
    P.as_of = at("2026-06-01T08:30:00Z");
    indiv_decision d = decide(&pr, 3);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.send_at, at("2026-06-03T19:00:00Z"));
}

Test(policy, next_slot_without_moments_is_the_time_itself) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = evening_person(t);
    pr.features &= ~(unsigned)INDIV_FEAT_MOMENTS;
    cr_assert_eq(indiv_policy_next_slot(&pr, T0 + 17), T0 + 17);
    cr_assert_eq(indiv_policy_next_slot(NULL, T0 + 17), T0 + 17);
}

/* A regular buyer (intervals of 30 ± 3 days over 20 purchases) who bought yesterday. */
static indiv_profile regular_buyer(double *t, double mean, double sd, double days_since) {
    indiv_profile pr = person(t, PLAIN | INDIV_FEAT_RHYTHM);
    pr.orders = 21;
    pr.n_intervals = 20;
    pr.interval_mean_days = mean;
    pr.interval_sd_days = sd;
    pr.first_purchase_ts = T0 - 600 * DAY_S;
    pr.last_purchase_ts = T0 - (int64_t)llround(days_since * (double)DAY_S);
    return pr;
}

static double readiness_at(const indiv_profile *pr, const indiv_rhythm_prior *prior,
                           int64_t t) {
    return indiv_profile_readiness(pr, prior, P.rhythm_prior_strength, t,
                                   P.readiness_horizon_days);
}

static indiv_decision decide_ready(const indiv_profile *pr,
                                   const indiv_rhythm_prior *prior) {
    indiv_consumer_row c = consumer(8);
    double r = readiness_at(pr, prior, P.as_of);
    indiv_score_set_row(scorer, block, 0, pr, r);
    cr_assert_eq(indiv_score_run(scorer, block, 1, NULL), 0);
    indiv_policy_input in = {&c, pr, r, 0, NULL};
    indiv_decision d;
    indiv_policy_decide(&P, scorer, block, 0, cat, valid, &in, prior, rng, &d);
    cr_assert_float_eq(d.readiness, r, EPS);
    return d;
}

Test(policy, not_ready_defers_to_the_first_ready_day) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_rhythm_prior prior = {30, 0.01, 100, 100};
    /* Bought 1 to 4 days ago: the first ready day moves, whatever its parity. */
    for (int since = 1; since <= 4; since++) {
        indiv_profile pr = regular_buyer(t, 30, 3, since);
        cr_assert_lt(readiness_at(&pr, &prior, T0), P.min_readiness);
        indiv_decision d = decide_ready(&pr, &prior);
        cr_assert_eq(d.action, INDIV_DEFER);
        cr_assert_eq(d.reason, INDIV_R_NOT_READY);
        cr_assert_gt(d.n_offers, 0, "a deferral says what it would send");
        cr_assert_neq(d.channel, 0);
        /* Without moments the deferral is a whole number of days after as_of, and that
         * day is the first on which readiness reaches the minimum. */
        int64_t days = (d.send_at - T0) / DAY_S;
        cr_assert_eq(d.send_at, T0 + days * DAY_S);
        cr_assert(days >= 1 && days <= INDIV_DEFER_MAX_DAYS);
        cr_assert_geq(readiness_at(&pr, &prior, d.send_at), P.min_readiness);
        cr_assert_lt(readiness_at(&pr, &prior, d.send_at - DAY_S), P.min_readiness,
                     "bought %d days ago: day %lld is not the first ready day", since,
                     (long long)days);
        /* Intervals of 30 ± 3 days: the 7-day horizon reaches 5% about 30 - 1.645·3 - 7
         * ≈ 18 days after the last purchase. */
        cr_assert(days + since >= 15 && days + since <= 22, "deferred %lld days",
                  (long long)days);
    }
}

Test(policy, a_deferral_goes_to_the_preferred_slot_of_that_day_or_after) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_rhythm_prior prior = {30, 0.01, 100, 100};
    indiv_profile pr = regular_buyer(t, 30, 3, 1);
    indiv_profile ev = evening_person(t);
    memcpy(pr.hour, ev.hour, sizeof pr.hour);
    memcpy(pr.dow, ev.dow, sizeof pr.dow);
    pr.features |= INDIV_FEAT_MOMENTS;
    indiv_decision d = decide_ready(&pr, &prior);
    cr_assert_eq(d.action, INDIV_DEFER);
    cr_assert_eq(indiv_time_hour(d.send_at), 19);
    int dow = indiv_time_dow(d.send_at);
    cr_assert(dow == 2 || dow == 5, "deferred to day %d", dow);
    int64_t day = 1;
    while (readiness_at(&pr, &prior, T0 + day * DAY_S) < P.min_readiness)
        day++;
    cr_assert_eq(d.send_at, indiv_policy_next_slot(&pr, T0 + day * DAY_S));
}

Test(policy, readiness_that_only_falls_gives_none_not_ready_within_horizon) {
    /* Gamma shape k = 1 / cv² = 0.25 < 1: the hazard falls with time since the last
     * purchase, so readiness never rises again. */
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_rhythm_prior prior = {30, 4.0, 100, 100};
    indiv_profile pr = regular_buyer(t, 30, 60, 100);
    P.min_readiness = 0.5;
    cr_assert_lt(readiness_at(&pr, &prior, T0), 0.5);
    cr_assert_lt(readiness_at(&pr, &prior, T0 + 60 * DAY_S),
                 readiness_at(&pr, &prior, T0));
    indiv_decision d = decide_ready(&pr, &prior);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_NEVER_READY);
    cr_assert_eq(d.send_at, INDIV_TS_NONE);
}

Test(policy, a_huge_interval_gives_none_not_ready_within_horizon) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_rhythm_prior prior = {10000, 1e-4, 100, 100};
    indiv_profile pr = regular_buyer(t, 10000, 100, 1);
    indiv_decision d = decide_ready(&pr, &prior);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_NEVER_READY);
    cr_assert_lt(readiness_at(&pr, &prior, T0 + INDIV_DEFER_MAX_DAYS * DAY_S),
                 P.min_readiness);
}

Test(policy, ready_or_without_rhythm_is_contacted_now) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_rhythm_prior prior = {30, 0.01, 100, 100};
    indiv_profile pr = regular_buyer(t, 30, 3, 27); /* due now */
    cr_assert_geq(readiness_at(&pr, &prior, T0), P.min_readiness);
    indiv_decision d = decide_ready(&pr, &prior);
    cr_assert_eq(d.action, INDIV_CONTACT);
    cr_assert_eq(d.send_at, T0);
    /* The same low readiness without the rhythm group defers nobody. */
    indiv_profile plain = person(t, PLAIN);
    indiv_consumer_row c = consumer(8);
    d = decide_full(&plain, &c, 0.0, 0);
    cr_assert_eq(d.action, INDIV_CONTACT);
}

/* ---- parameters and names ---------------------------------------------------------- */

Test(policy, params_init_gives_the_documented_defaults) {
    indiv_policy_params p;
    indiv_policy_params_init(&p);
    cr_assert_float_eq(p.threshold, 0.30, EPS);
    cr_assert_eq(p.slots, 3);
    cr_assert_eq(p.rank_by_value, 0);
    cr_assert_float_eq(p.serendipity, 0.10, EPS);
    cr_assert_float_eq(p.bubble, 0.05, EPS);
    cr_assert_float_eq(p.floor, 0, EPS);
    cr_assert_float_eq(p.relative_floor, 0.1, EPS);
    cr_assert_eq(p.divergence_aim, INDIV_AIM_ADJACENT);
    cr_assert_float_eq(p.divergence_temperature, 1, EPS);
    cr_assert_float_eq(p.plausibility_smoothing, 10, EPS);
    cr_assert_eq(p.plausibility, INDIV_PLAUS_AUTO);
    cr_assert_eq(p.divergent_slot, INDIV_SLOT_EXTRA);
    cr_assert_eq(p.rerank, INDIV_RERANK_NONE);
    cr_assert_float_eq(p.rerank_lambda, 0.5, EPS);
    cr_assert_eq(p.rerank_pool, 20);
    cr_assert_eq(p.divergence, INDIV_DIV_RIDE_ALONG);
    cr_assert_eq(p.max_contacts, 3);
    cr_assert_float_eq(p.per_days, 14, EPS);
    cr_assert_float_eq(p.min_readiness, 0.05, EPS);
    cr_assert_float_eq(p.readiness_horizon_days, 7, EPS);
    cr_assert_eq(p.relevance, INDIV_REL_ANY);
    cr_assert_eq(p.seed, 1);
    cr_assert_eq(indiv_policy_params_validate(&p, NULL), 0);
}

Test(policy, params_validate_names_each_bad_parameter) {
    static const struct {
        const char *name;
        double v;
    } cases[] = {{"threshold", -0.1},
                 {"threshold", 1.1},
                 {"threshold", NAN},
                 {"slots", 0},
                 {"slots", INDIV_SLOTS_MAX + 1},
                 {"serendipity", 1.5},
                 {"serendipity", -0.01},
                 {"bubble", -1},
                 {"floor", 2},
                 {"max-contacts", -1},
                 {"per-days", -1},
                 {"per-days", INFINITY},
                 {"min-readiness", 1.1},
                 {"readiness-horizon-days", 0},
                 {"divergence", 7},
                 {"rhythm-prior-strength", 0},
                 {"rhythm-prior-strength", NAN}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_policy_params p;
        indiv_policy_params_init(&p);
        const char *n = cases[i].name;
        double v = cases[i].v;
        if (!strcmp(n, "threshold"))
            p.threshold = v;
        else if (!strcmp(n, "slots"))
            p.slots = (int)v;
        else if (!strcmp(n, "serendipity"))
            p.serendipity = v;
        else if (!strcmp(n, "bubble"))
            p.bubble = v;
        else if (!strcmp(n, "floor"))
            p.floor = v;
        else if (!strcmp(n, "max-contacts"))
            p.max_contacts = (int)v;
        else if (!strcmp(n, "per-days"))
            p.per_days = v;
        else if (!strcmp(n, "min-readiness"))
            p.min_readiness = v;
        else if (!strcmp(n, "readiness-horizon-days"))
            p.readiness_horizon_days = v;
        else if (!strcmp(n, "divergence"))
            p.divergence = (indiv_divergence_mode)v;
        else
            p.rhythm_prior_strength = v;
        indiv_error err = {0};
        cr_assert_eq(indiv_policy_params_validate(&p, &err), INDIV_EINVAL,
                     "case %zu (%s = %g) accepted", i, n, v);
        cr_assert(strstr(err.msg, n), "case %zu: '%s' lacks %s", i, err.msg, n);
    }
}

Test(policy, names_are_stable) {
    static const char *const reasons[INDIV_R_COUNT] = {
        "relevant_offers", "divergent_offer_alone",
        "not_ready",       "no_contact_consent",
        "unsubscribed",    "no_accepted_channel",
        "pressure_cap",    "no_valid_offer",
        "below_threshold", "not_ready_within_horizon",
        "no_profile",      "control_group"};
    for (int r = 0; r < INDIV_R_COUNT; r++)
        cr_assert_str_eq(indiv_reason_name((indiv_reason)r), reasons[r]);
    cr_assert_str_eq(indiv_reason_name(INDIV_R_COUNT), "?");
    cr_assert_str_eq(indiv_action_name(INDIV_NONE), "none");
    cr_assert_str_eq(indiv_action_name(INDIV_CONTACT), "contact");
    cr_assert_str_eq(indiv_action_name(INDIV_DEFER), "defer");
    cr_assert_str_eq(indiv_action_name((indiv_action)3), "?");
    cr_assert_str_eq(indiv_divergence_miss_name(INDIV_DIVMISS_NO_CANDIDATE),
                     "no_plausible_offer_outside_bubble");
    cr_assert_str_eq(indiv_divergence_miss_name(INDIV_DIVMISS_NO_COMPANION),
                     "no_relevant_offer_to_ride_along");
    cr_assert_str_eq(indiv_divergence_miss_name(INDIV_DIVMISS_NO_ROOM),
                     "no_room_in_a_single_slot");
    indiv_divergence_mode m = INDIV_DIV_RIDE_ALONG;
    cr_assert_eq(indiv_divergence_parse("standalone", &m), 0);
    cr_assert_eq(m, INDIV_DIV_STANDALONE);
    cr_assert_str_eq(indiv_divergence_name(m), "standalone");
    cr_assert_eq(indiv_divergence_parse("ride-along", &m), 0);
    cr_assert_eq(m, INDIV_DIV_RIDE_ALONG);
    cr_assert_str_eq(indiv_divergence_name(m), "ride-along");
    cr_assert_eq(indiv_divergence_parse("Standalone", &m), INDIV_EINVAL);
    cr_assert_eq(indiv_divergence_parse("", &m), INDIV_EINVAL);
    cr_assert_eq(m, INDIV_DIV_RIDE_ALONG, "a refused name leaves the value");
}

/* ---- the parameter table ------------------------------------------------------------ */

Test(policy, every_table_row_round_trips_its_default_through_text) {
    indiv_policy_params p, q;
    indiv_policy_params_init(&p);
    memset(&q, 0, sizeof q);
    q.seed = 1;
    cr_assert_gt(indiv_policy_param_count(), 10);
    cr_assert_null(indiv_policy_param_at(indiv_policy_param_count()));
    for (size_t i = 0; i < indiv_policy_param_count(); i++) {
        const indiv_policy_param *d = indiv_policy_param_at(i);
        char text[64];
        indiv_policy_params_format(&p, d, text, sizeof text);
        indiv_error err = {0};
        cr_assert_eq(indiv_policy_params_set(&q, d->name, text, &err), 0, "%s = %s: %s",
                     d->name, text, err.msg);
        cr_assert_eq(indiv_policy_param_find(d->name), d);
        cr_assert(strchr(d->key, '-') == NULL, "%s: JSON keys use '_'", d->key);
    }
    /* every field the table does not describe is as_of or seed, zero and 1 */
    cr_assert_eq(memcmp(&p, &q, sizeof p), 0, "init and the table's defaults differ");
}

Test(policy, set_parses_checks_ranges_and_names_the_parameter) {
    static const struct {
        const char *name, *text, *says;
    } bad[] = {
        {"threshold", "1.5", "threshold: 1.5 is out of range [0, 1]"},
        {"threshold", "abc", "threshold: 'abc' is not a finite number"},
        {"threshold", "inf", "threshold: 'inf' is not a finite number"},
        {"slots", "2.5", "slots: '2.5' is not an integer"},
        {"slots", "17", "slots: 17 is out of range [1, 16]"},
        {"rank-by", "margin", "rank-by: 'margin' is not propensity or value"},
        {"divergence", "sideways",
         "divergence: 'sideways' is not ride-along or standalone"},
        {"readiness-horizon-days", "0", "readiness-horizon-days: 0 is out of range (0,"},
        {"colour", "3", "unknown policy parameter 'colour'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        indiv_policy_params p, before;
        indiv_policy_params_init(&p);
        before = p;
        indiv_error err = {0};
        cr_assert_eq(indiv_policy_params_set(&p, bad[i].name, bad[i].text, &err),
                     INDIV_EINVAL, "%s = %s accepted", bad[i].name, bad[i].text);
        cr_assert(strstr(err.msg, bad[i].says), "'%s' lacks '%s'", err.msg, bad[i].says);
        cr_assert_eq(memcmp(&p, &before, sizeof p), 0, "a refused value changed p");
    }
    indiv_policy_params p;
    indiv_policy_params_init(&p);
    cr_assert_eq(indiv_policy_params_set(&p, "max_contacts", "7", NULL), 0);
    cr_assert_eq(p.max_contacts, 7, "'_' and '-' are alike");
    cr_assert_eq(indiv_policy_params_set(&p, "rank-by", "value", NULL), 0);
    cr_assert_eq(p.rank_by_value, 1);
    cr_assert_eq(indiv_policy_params_set(&p, "divergence", "standalone", NULL), 0);
    cr_assert_eq(p.divergence, INDIV_DIV_STANDALONE);
    cr_assert_eq(indiv_policy_params_set(&p, "per-days", "2.385", NULL), 0);
    cr_assert_float_eq(p.per_days, 2.385, EPS);
    char text[64];
    indiv_policy_params_format(&p, indiv_policy_param_find("rank_by"), text, sizeof text);
    cr_assert_str_eq(text, "value");
}

/* ---- aims, floors, slots and logged propensities ----------------------------------- */

/* A population in which BRAVO is always bought with ALPHA and never without it, and
 * the other categories go alone or together: 20 {ALPHA, BRAVO}, 20 {CHARLIE}, 20
 * {DELTA}, 20 {ECHO}, 20 {CHARLIE, DELTA}. */
static indiv_plausibility *bravo_follows_alpha(void) {
    indiv_plausibility *pl = indiv_plausibility_new(5, 10);
    static const int32_t ab[] = {ALPHA, BRAVO}, c[] = {CHARLIE}, d[] = {DELTA},
                         e[] = {ECHO}, cd[] = {CHARLIE, DELTA};
    cr_assert_not_null(pl);
    for (int k = 0; k < 20; k++) {
        indiv_plausibility_add(pl, ab, 2);
        indiv_plausibility_add(pl, c, 1);
        indiv_plausibility_add(pl, d, 1);
        indiv_plausibility_add(pl, e, 1);
        indiv_plausibility_add(pl, cd, 2);
    }
    return pl;
}

/* A person who bought only ALPHA (taste all ALPHA, bought list [ALPHA]). */
static indiv_profile alpha_buyer(double *t, int32_t *bought) {
    indiv_profile pr = person(t, PLAIN | INDIV_FEAT_OPENNESS);
    bought[0] = ALPHA;
    pr.bought = bought;
    pr.n_bought = 1;
    return pr;
}

Test(policy, adjacent_aim_at_temperature_zero_picks_the_co_bought_category) {
    indiv_plausibility *pl = bravo_follows_alpha();
    double t[DIMS] = {1, 0, 0, 0, 0};
    int32_t bought[1];
    indiv_profile pr = alpha_buyer(t, bought);
    plaus_ = pl;
    P.serendipity = 1;
    P.floor = 0.03;
    P.divergence_aim = INDIV_AIM_ADJACENT;
    P.divergence_temperature = 0;
    for (int64_t id = 1; id <= 50; id++) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(n_divergent(&d), 1, "consumer %lld", (long long)id);
        const indiv_decided_offer *o = &d.offers[d.n_offers - 1];
        /* B0 and B1 tie on lift and propensity: the smaller index */
        cr_assert_eq(o->offer, B0, "consumer %lld got offer %zu", (long long)id,
                     o->offer);
        cr_assert_float_eq(o->logged_p, 1.0, EPS, "greedy: ε · openness · 1");
        /* lift(BRAVO | ALPHA) = ((20 + 10 · 21/102) / 30) / (21/102) */
        double base = 21.0 / 102, lift = (20 + 10 * base) / 30 / base;
        cr_assert_float_eq(o->plausibility, lift, 1e-9);
    }
    indiv_plausibility_free(pl);
}

/* The weights' scale is taken over every candidate above the absolute floor, before the
 * relative floor removes some: here the largest plausibility is BRAVO's (lift ≈ 4.3 on
 * p 0.039), which F = 0.5 removes, far above the kept DELTA and ECHO (lift 1/3). At
 * T = 0.001 their weights on that scale vanish (e^(−860)); the draw must take its scale
 * again over the kept ones and still place the most plausible, with its whole share. */
Test(policy, relative_floor_rescales_weights_it_would_otherwise_lose) {
    indiv_plausibility *pl = bravo_follows_alpha();
    double t[DIMS] = {1, 0, 0, 0, 0};
    int32_t bought[1];
    indiv_profile pr = alpha_buyer(t, bought);
    plaus_ = pl;
    P.serendipity = 1;
    P.floor = 0;
    P.relative_floor = 0.5; /* keeps D0 (0.119) and E0 (0.080), not B0, B1, C0 */
    P.divergence_aim = INDIV_AIM_ADJACENT;
    P.divergent_slot = INDIV_SLOT_EXTRA;
    P.divergence_temperature = 0.001;
    for (int64_t id = 1; id <= 50; id++) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(n_divergent(&d), 1, "consumer %lld", (long long)id);
        const indiv_decided_offer *o = &d.offers[d.n_offers - 1];
        cr_assert_eq(o->offer, D0, "consumer %lld got offer %zu", (long long)id, o->offer);
        cr_assert_float_eq(o->logged_p, 1.0, 1e-9, "ε · openness · 1");
    }
    indiv_plausibility_free(pl);
}

/* A population in which ALPHA's buyers often take the common CHARLIE and, fewer of
 * them, the rare BRAVO: 5 {ALPHA, BRAVO}, 40 {ALPHA, CHARLIE}, 60 {CHARLIE}. For an ALPHA
 * buyer BRAVO has the larger lift (≈ 1.80 against 0.95 for CHARLIE), CHARLIE the larger
 * P(c | A) (≈ 0.90 against 0.10): the two plausibilities pick different categories. */
static indiv_plausibility *charlie_common_bravo_rare(void) {
    indiv_plausibility *pl = indiv_plausibility_new(5, 10);
    static const int32_t ab[] = {ALPHA, BRAVO}, ac[] = {ALPHA, CHARLIE}, c[] = {CHARLIE};
    cr_assert_not_null(pl);
    for (int k = 0; k < 5; k++)
        indiv_plausibility_add(pl, ab, 2);
    for (int k = 0; k < 40; k++)
        indiv_plausibility_add(pl, ac, 2);
    for (int k = 0; k < 60; k++)
        indiv_plausibility_add(pl, c, 1);
    return pl;
}

/* Puts the catalog's categories as an embedding of a model "tiny" (the same one-hot
 * rows, so every score stays the same) and rebuilds the scorer with a model of feature
 * space "embedding": what decide does with a trained model, only the feature space's
 * name differs. */
static void as_embedding(void) {
    indiv_error err = {0};
    double f[NOFF * DIMS];
    memcpy(f, indiv_catalog_matrix(cat), sizeof f);
    cr_assert_eq(indiv_catalog_set_features(cat, f, DIMS, "embedding:tiny", &err), 0, "%s",
                 err.msg);
    snprintf(model.id, sizeof model.id, "tiny");
    snprintf(model.feature_space, sizeof model.feature_space, "embedding");
    indiv_score_block_free(block);
    indiv_scorer_free(scorer);
    cr_assert_eq(indiv_scorer_new(&model, cat, &scorer, &err), 0, "%s", err.msg);
    block = indiv_score_block_new(scorer, 1);
    cr_assert_not_null(block);
}

/* The most plausible divergent offer of an ALPHA buyer under P's plausibility, with the
 * plausibility it was drawn by in *pl. */
static size_t most_plausible_for_alpha(double *pl) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    int32_t bought[1];
    indiv_profile pr = alpha_buyer(t, bought);
    indiv_decision d = decide(&pr, 1);
    cr_assert_eq(n_divergent(&d), 1);
    *pl = d.offers[d.n_offers - 1].plausibility;
    return d.offers[d.n_offers - 1].offer;
}

/* The default plausibility follows the model's feature space: the lift with the
 * categories, P(c | A) with an embedding (a trained model, docs/decisions.md); a
 * plausibility given explicitly is used with either. */
Test(policy, default_plausibility_is_lift_for_categories_and_conditional_for_embeddings) {
    indiv_plausibility *pl = charlie_common_bravo_rare();
    double base_b = 6.0 / 107, base_c = 101.0 / 107; /* P(c) = (n_c + 1) / (N + 2) */
    double cond_b = (5 + 10 * base_b) / 55, cond_c = (40 + 10 * base_c) / 55, got;
    static const indiv_plausibility_kind kinds[] = {INDIV_PLAUS_AUTO, INDIV_PLAUS_LIFT,
                                                    INDIV_PLAUS_CONDITIONAL};
    /* expected pick per kind: with categories, then with the embedding */
    static const size_t want[2][3] = {{B0, B0, C0}, {C0, B0, C0}};
    plaus_ = pl;
    P.serendipity = 1;
    P.floor = 0;
    P.divergence_aim = INDIV_AIM_ADJACENT;
    P.divergent_slot = INDIV_SLOT_EXTRA;
    P.divergence_temperature = 0;
    cr_assert_eq(P.plausibility, INDIV_PLAUS_AUTO, "the default is auto");
    for (int space = 0; space < 2; space++) {
        if (space == 1)
            as_embedding();
        for (size_t k = 0; k < 3; k++) {
            P.plausibility = kinds[k];
            size_t j = most_plausible_for_alpha(&got);
            cr_assert_eq(j, want[space][k], "space %d, kind %d: offer %zu", space,
                         (int)kinds[k], j);
            double expect = j == B0 ? cond_b / base_b : cond_c;
            cr_assert_float_eq(got, expect, 1e-9, "space %d, kind %d", space,
                               (int)kinds[k]);
        }
    }
    indiv_plausibility_free(pl);
}

Test(policy, plausibility_used_resolves_auto_by_feature_space_only) {
    indiv_policy_params p;
    indiv_policy_params_init(&p);
    cr_assert_eq(indiv_policy_plausibility_used(&p, "category"), INDIV_PLAUS_LIFT);
    cr_assert_eq(indiv_policy_plausibility_used(&p, "embedding"), INDIV_PLAUS_CONDITIONAL);
    cr_assert_eq(indiv_policy_plausibility_used(&p, "embedding:retail-2011-02"),
                 INDIV_PLAUS_CONDITIONAL);
    static const indiv_plausibility_kind given[] = {INDIV_PLAUS_LIFT,
                                                    INDIV_PLAUS_CONDITIONAL,
                                                    INDIV_PLAUS_COSINE};
    for (size_t k = 0; k < 3; k++) {
        p.plausibility = given[k];
        cr_assert_eq(indiv_policy_plausibility_used(&p, "category"), given[k]);
        cr_assert_eq(indiv_policy_plausibility_used(&p, "embedding"), given[k]);
    }
    cr_assert_eq(indiv_policy_params_set(&p, "plausibility", "auto", NULL), 0);
    cr_assert_eq(p.plausibility, INDIV_PLAUS_AUTO);
    char text[32];
    indiv_policy_params_format(&p, indiv_policy_param_find("plausibility"), text,
                               sizeof text);
    cr_assert_str_eq(text, "auto");
}

Test(policy, popular_aim_ignores_the_co_purchase_structure) {
    indiv_plausibility *pl = bravo_follows_alpha();
    double t[DIMS] = {1, 0, 0, 0, 0};
    int32_t bought[1];
    indiv_profile pr = alpha_buyer(t, bought);
    P.serendipity = 1;
    P.floor = 0.03;
    P.divergence_aim = INDIV_AIM_POPULAR;
    int64_t bravo = 0;
    for (int64_t id = 1; id <= 2000; id++) {
        plaus_ = pl;
        indiv_decision with = decide(&pr, id);
        plaus_ = NULL;
        indiv_decision without = decide(&pr, id);
        cr_assert_eq(with.offers[with.n_offers - 1].offer,
                     without.offers[without.n_offers - 1].offer,
                     "consumer %lld: the counts changed a popular pick", (long long)id);
        cr_assert_float_eq(with.offers[with.n_offers - 1].plausibility, 0, EPS);
        size_t j = with.offers[with.n_offers - 1].offer;
        bravo += j == B0 || j == B1;
    }
    /* ∝ propensity: BRAVO's two offers weigh 2 p(B) out of the five candidates */
    double pb = p_of(0, B0), tot = 2 * pb + p_of(0, C0) + p_of(0, D0) + p_of(0, E0);
    double mean = 2000 * 2 * pb / tot, hw = half_width(mean * (1 - 2 * pb / tot));
    cr_assert(fabs((double)bravo - mean) <= hw, "BRAVO %lld times, expected %.1f ± %.1f",
              (long long)bravo, mean, hw);
    indiv_plausibility_free(pl);
}

Test(policy, adjacent_never_aims_at_a_category_the_person_bought) {
    double t[DIMS] = {0.97, 0, 0, 0.03, 0}; /* DELTA bought, below the bubble */
    int32_t bought[2] = {ALPHA, DELTA};
    indiv_profile pr = person(t, PLAIN | INDIV_FEAT_OPENNESS);
    pr.bought = bought;
    pr.n_bought = 2;
    P.serendipity = 1;
    P.floor = 0.03;
    P.divergence_aim = INDIV_AIM_ADJACENT;
    for (int64_t id = 1; id <= 500; id++) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(n_divergent(&d), 1);
        size_t c = indiv_catalog_offer(cat, d.offers[d.n_offers - 1].offer)->category;
        cr_assert(c != ALPHA && c != DELTA, "consumer %lld: category %zu", (long long)id,
                  c);
    }
}

/* Outside ALPHA's bubble, for taste {1, 0, 0, 0, 0}: D0 0.119 (popular), E0 0.080, and
 * B0, B1, C0 0.039 each. The relative floor keeps the candidates within F of the most
 * likely one (D0); the absolute floor can still leave none. */
Test(policy, relative_floor_scales_with_the_most_likely_candidate) {
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN);
    double p_d0 = p_of(0, D0), p_e0 = p_of(0, E0), p_c0 = p_of(0, C0);
    cr_assert(p_d0 > p_e0 && p_e0 > 0.5 * p_d0 && p_c0 < 0.5 * p_d0); /* the premise */
    P.serendipity = 1;
    P.floor = 0;
    static const struct {
        double f;
        int d0, e0, others; /* may each be drawn */
    } cases[] = {{1, 1, 0, 0}, {0.5, 1, 1, 0}, {0.1, 1, 1, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int seen[NOFF] = {0};
        P.relative_floor = cases[c].f;
        for (int64_t id = 1; id <= 400; id++) {
            indiv_decision d = decide(&pr, id);
            cr_assert_eq(n_divergent(&d), 1, "F %g consumer %lld", cases[c].f,
                         (long long)id);
            const indiv_decided_offer *o = &d.offers[d.n_offers - 1];
            cr_assert_geq(o->p, cases[c].f * p_d0 - EPS);
            seen[o->offer]++;
        }
        cr_assert_eq(seen[D0] > 0, cases[c].d0, "F %g", cases[c].f);
        cr_assert_eq(seen[E0] > 0, cases[c].e0, "F %g", cases[c].f);
        cr_assert_eq(seen[B0] + seen[B1] + seen[C0] > 0, cases[c].others, "F %g",
                     cases[c].f);
    }
    P.relative_floor = 0.1;
    P.floor = 0.2; /* above every candidate: the absolute floor leaves none */
    indiv_decision d = decide(&pr, 7);
    cr_assert_eq(d.divergence_miss, INDIV_DIVMISS_NO_CANDIDATE);
}

/* A habit term (a trained model's repeat weight) puts the offer the person re-buys far
 * above anything new: the relative floor does not scale with it, else no discovery is
 * ever plausible enough. */
Test(policy, relative_floor_ignores_the_persons_best_offer) {
    indiv_model habit = model;
    habit.weight[INDIV_TERM_REPEAT] = 6; /* A0, bought: logit -3.2 + 4 + 6, p 0.9989 */
    indiv_scorer *hs = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_scorer_new(&habit, cat, &hs, &err), 0, "%s", err.msg);
    double t[DIMS] = {1, 0, 0, 0, 0};
    indiv_profile pr = person(t, PLAIN | INDIV_FEAT_HISTORY);
    indiv_offer_history h = {indiv_catalog_offer(cat, A0)->id, 3, 2.5, T0 - 30 * DAY_S,
                             T0 - 3 * DAY_S, 0};
    pr.history = &h;
    pr.n_history = pr.history_cap = 1;
    indiv_consumer_row c = consumer(1);
    indiv_policy_input in = {&c, &pr, 1.0, 0, NULL};
    P.serendipity = 1;
    P.floor = 0;
    P.relative_floor = 0.5; /* D0 and E0; 0.5 x 0.9989 would leave nothing */
    for (int64_t id = 1; id <= 200; id++) {
        c.id = id;
        indiv_score_set_row(hs, block, 0, &pr, 1.0);
        indiv_score_set_history(hs, block, 0, &pr, T0);
        cr_assert_eq(indiv_score_run(hs, block, 1, NULL), 0);
        indiv_decision d;
        indiv_policy_decide(&P, hs, block, 0, cat, valid, &in, &prior0, rng, &d);
        cr_assert_gt(d.best_p, 0.998, "the re-purchase is the best offer");
        cr_assert_eq(d.offers[0].offer, A0);
        cr_assert_eq(n_divergent(&d), 1, "consumer %lld: %d", (long long)id,
                     d.divergence_miss);
        size_t j = d.offers[d.n_offers - 1].offer;
        cr_assert(j == D0 || j == E0, "consumer %lld: offer %zu", (long long)id, j);
    }
    indiv_scorer_free(hs);
}

Test(policy, extra_slot_never_removes_a_relevant_offer) {
    P.serendipity = 1;
    P.floor = 0.03;
    P.divergent_slot = INDIV_SLOT_EXTRA;
    for (P.slots = 1; P.slots <= 4; P.slots++)
        for (int64_t id = 1; id <= 300; id++) {
            double t[DIMS];
            taste_of(id, t);
            indiv_profile pr = person(t, PLAIN);
            indiv_decision d = decide(&pr, id);
            P.serendipity = 0;
            indiv_decision plain = decide(&pr, id);
            P.serendipity = 1;
            int rel = 0;
            for (int k = 0; k < d.n_offers; k++)
                if (d.offers[k].kind == INDIV_KIND_RELEVANT) {
                    cr_assert_eq(d.offers[k].offer, plain.offers[rel].offer);
                    cr_assert_float_eq(d.offers[k].logged_p, 1, EPS);
                    rel++;
                }
            cr_assert_eq(rel, plain.n_offers, "slots %d consumer %lld", P.slots,
                         (long long)id);
            cr_assert_leq(d.n_offers, P.slots + 1);
            if (plain.n_offers > 0) /* ride-along: a companion exists */
                cr_assert_eq(n_divergent(&d), 1, "slots %d consumer %lld", P.slots,
                             (long long)id);
        }
}

/* The logged propensity of each divergent offer is the probability of listing it:
 * across many consumers with the same scores, offer j is listed about Σ logged_p(j)
 * times, and the logged propensities of the candidates add up to ε · openness. */
static void check_logged(indiv_divergence_aim aim, double eps, double temperature) {
    indiv_plausibility *pl = bravo_follows_alpha();
    double t[DIMS] = {1, 0, 0, 0, 0};
    int32_t bought[1];
    indiv_profile pr = alpha_buyer(t, bought);
    plaus_ = pl;
    P.serendipity = eps;
    P.floor = 0.03;
    P.divergence_aim = aim;
    P.divergence_temperature = temperature;
    const int64_t n = 20000;
    int64_t count[NOFF] = {0};
    double logged[NOFF] = {0};
    for (int64_t id = 1; id <= n; id++) {
        indiv_decision d = decide(&pr, id);
        for (int k = 0; k < d.n_offers; k++) {
            const indiv_decided_offer *o = &d.offers[k];
            if (o->kind != INDIV_KIND_DIVERGENT)
                continue;
            count[o->offer]++;
            if (logged[o->offer] > 0)
                cr_assert_float_eq(o->logged_p, logged[o->offer], 1e-12);
            logged[o->offer] = o->logged_p;
        }
    }
    double sum = 0;
    for (int j = 0; j < NOFF; j++) {
        double mean = (double)n * logged[j], hw = half_width(mean * (1 - logged[j]));
        cr_assert(fabs((double)count[j] - mean) <= hw,
                  "offer %d listed %lld times, logged %.5f: expected %.1f ± %.1f", j,
                  (long long)count[j], logged[j], mean, hw);
        sum += logged[j];
    }
    cr_assert_float_eq(sum, eps, 1e-9, "the candidates' logged propensities add up to ε");
    indiv_plausibility_free(pl);
}

Test(policy, logged_propensities_of_divergent_picks_match_their_frequency) {
    check_logged(INDIV_AIM_ADJACENT, 0.4, 1);
    check_logged(INDIV_AIM_ADJACENT, 0.4, 0.5);
    check_logged(INDIV_AIM_POPULAR, 0.25, 1);
}

Test(policy, replace_slot_logs_the_last_relevant_offer_at_one_minus_epsilon) {
    double t[DIMS] = {0.7, 0.3, 0, 0, 0}; /* three relevant offers, slots full */
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 0.3;
    P.floor = 0.03;
    P.slots = 3;
    P.divergent_slot = INDIV_SLOT_REPLACE;
    int64_t kept = 0;
    const int64_t n = 20000;
    for (int64_t id = 1; id <= n; id++) {
        indiv_decision d = decide(&pr, id);
        cr_assert_eq(d.n_offers, 3);
        for (int k = 0; k < 2; k++)
            cr_assert_float_eq(d.offers[k].logged_p, 1, EPS);
        if (d.offers[2].kind == INDIV_KIND_RELEVANT) {
            cr_assert_float_eq(d.offers[2].logged_p, 0.7, EPS);
            kept++;
        }
    }
    double hw = half_width(n * 0.3 * 0.7);
    cr_assert(fabs((double)kept - 0.7 * n) <= hw, "kept %lld of %lld", (long long)kept,
              (long long)n);
}

Test(policy, mmr_with_lambda_one_is_the_plain_ranking) {
    P.rerank = INDIV_RERANK_MMR;
    P.rerank_lambda = 1;
    P.serendipity = 0;
    for (int64_t id = 1; id <= 300; id++) {
        double t[DIMS];
        taste_of(id, t);
        indiv_profile pr = person(t, PLAIN);
        indiv_decision d = decide(&pr, id);
        P.rerank = INDIV_RERANK_NONE;
        indiv_decision plain = decide(&pr, id);
        P.rerank = INDIV_RERANK_MMR;
        cr_assert_eq(d.n_offers, plain.n_offers);
        for (int k = 0; k < d.n_offers; k++)
            cr_assert_eq(d.offers[k].offer, plain.offers[k].offer);
    }
}

Test(policy, mmr_with_lambda_zero_spreads_the_list_over_categories) {
    double t[DIMS] = {0.5, 0.5, 0, 0, 0}; /* ALPHA and BRAVO, 5 offers above τ */
    indiv_profile pr = person(t, PLAIN);
    P.serendipity = 0;
    P.threshold = 0.1;
    P.slots = 2;
    indiv_decision plain = decide(&pr, 3);
    size_t c0 = indiv_catalog_offer(cat, plain.offers[0].offer)->category,
           c1 = indiv_catalog_offer(cat, plain.offers[1].offer)->category;
    cr_assert_eq(c0, c1, "the plain top 2 share a category, or the test cannot bite");
    P.rerank = INDIV_RERANK_MMR;
    P.rerank_lambda = 0;
    indiv_decision d = decide(&pr, 3);
    cr_assert_eq(d.n_offers, 2);
    cr_assert_neq(indiv_catalog_offer(cat, d.offers[0].offer)->category,
                  indiv_catalog_offer(cat, d.offers[1].offer)->category);
    cr_assert_eq(d.offers[0].offer, plain.offers[0].offer, "the first is the best");
}
