/*
 * test_profile.c — the profile builder (docs/profiles.md is the contract): parameters
 * and feature lists; each feature group on tiny hand-made logs with hand-computed values
 * (taste decay, rhythm and readiness, moments, channels, pressure, openness); the
 * boundaries that protect people (events at or after as_of, consent, the window, groups
 * switched off); the stored vector (decode refuses corruption); and incremental builds,
 * which must equal a full build of an identical copy.
 *
 * Every log is written through the eventlog API in a temporary directory. Times are
 * relative to AS_OF, a fixed Monday midnight UTC.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/plausibility.h"
#include "indiv/policy.h"
#include "indiv/profile.h"
#include "indiv/rng.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define AS_OF INT64_C(1780272000) /* 2026-06-01T00:00:00Z, a Monday */
#define DAY_S INT64_C(86400)
#define EPS   1e-12

static char *dir, *db;

static void setup(void) {
    tu_dir_db_new("log.db", &dir, &db);
}

static void teardown(void) {
    tu_dir_db_free(dir, db);
}

TestSuite(profile, .init = setup, .fini = teardown);

/* ---- tiny logs --------------------------------------------------------------------- */

/* The catalogue of every tiny log: categories ALPHA (two offers), BRAVO and CHARLIE,
 * created in that order, so their dense indexes are 0, 1, 2. */
enum { OA, OA2, OB, OC, NOFFERS, NO_OFFER = -1 };
enum { CAT_A, CAT_B, CAT_C, NCATS };
static int64_t offer[NOFFERS];

static int64_t ago(double days) {
    return AS_OF - (int64_t)llround(days * (double)DAY_S);
}

static int64_t at(const char *iso) {
    int64_t t;
    cr_assert_eq(indiv_time_parse(iso, &t), 0, "%s", iso);
    return t;
}

static indiv_eventlog *open_log(const char *path) {
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    return log;
}

static void begin(indiv_eventlog *log) {
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
}

static void commit(indiv_eventlog *log) {
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
}

/* Inside a transaction. */
static int64_t consumer(indiv_eventlog *log, const char *ext_id, int consent_profiling) {
    indiv_consumer_rec c = {ext_id, consent_profiling, 1, INDIV_CH_CONTACTABLE, "FR"};
    indiv_error err = {0};
    int64_t id;
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &id, NULL, &err), 0, "%s", err.msg);
    return id;
}

static void add_offer(indiv_eventlog *log, int i, const char *ext_id,
                      const char *category) {
    indiv_offer_rec o = {ext_id, ext_id,        category,     19.9,
                         0.3,    INDIV_TS_NONE, INDIV_TS_NONE};
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_offer(log, &o, &offer[i], NULL, &err), 0, "%s",
                 err.msg);
}

/* Inside a transaction. o is an offer index or NO_OFFER. */
static void event(indiv_eventlog *log, int64_t c, int64_t ts, int o, int type,
                  int channel, double value) {
    indiv_event ev = {c, ts, 0, o == NO_OFFER ? 0 : offer[o], type, channel, 1, value};
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, &err), 0, "%s", err.msg);
}

/* A new log at db with the catalogue, and an open transaction for the test's rows. */
static indiv_eventlog *tiny_log(void) {
    indiv_eventlog *log = open_log(db);
    begin(log);
    add_offer(log, OA, "a1", "ALPHA");
    add_offer(log, OA2, "a2", "ALPHA");
    add_offer(log, OB, "b1", "BRAVO");
    add_offer(log, OC, "c1", "CHARLIE");
    return log;
}

static indiv_profile_params params_at(int64_t as_of) {
    indiv_profile_params p;
    indiv_profile_params_init(&p);
    p.as_of = as_of;
    return p;
}

/* Loads the catalogue and builds; the status of indiv_profile_build. */
static int build(indiv_eventlog *log, const indiv_profile_params *p, int incremental,
                 indiv_profile_summary *sum, indiv_error *err) {
    indiv_catalog *cat = NULL;
    int rc = indiv_catalog_load(log, &cat, err);
    if (rc == INDIV_OK)
        rc = indiv_profile_build(log, cat, p, incremental, NULL, NULL, sum, err);
    indiv_catalog_free(cat);
    return rc;
}

static indiv_profile_summary build_ok(indiv_eventlog *log, const indiv_profile_params *p,
                                      int incremental) {
    indiv_profile_summary sum;
    indiv_error err = {0};
    cr_assert_eq(build(log, p, incremental, &sum, &err), 0, "%s", err.msg);
    return sum;
}

static void load_ok(indiv_eventlog *log, int64_t c, indiv_profile *pr) {
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_load(log, c, pr, &err), 0, "consumer %lld: %s",
                 (long long)c, err.msg);
}

/* Commits, builds with the defaults at AS_OF and loads consumer c's profile. */
static void build_and_load(indiv_eventlog *log, int64_t c, indiv_profile *pr) {
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    build_ok(log, &p, 0);
    indiv_profile_init(pr);
    load_ok(log, c, pr);
}

/* ---- comparing profiles ------------------------------------------------------------ */

static int close_rel(double x, double y, double rel) {
    return x == y || fabs(x - y) <= rel * fmax(fabs(x), fabs(y));
}

#define EXPECT_CLOSE(x, y, what)                                                         \
    cr_expect(close_rel((x), (y), rel), "consumer %lld: %s: %.17g vs %.17g",             \
              (long long)a->consumer_id, what, (double)(x), (double)(y))
#define EXPECT_SAME(x, y, what)                                                          \
    cr_expect((x) == (y), "consumer %lld: %s: %lld vs %lld", (long long)a->consumer_id,  \
              what, (long long)(x), (long long)(y))

static void expect_close_array(const indiv_profile *a, const double *x, const double *y,
                               size_t n, double rel, const char *what) {
    for (size_t i = 0; i < n; i++)
        cr_expect(close_rel(x[i], y[i], rel), "consumer %lld: %s[%zu]: %.17g vs %.17g",
                  (long long)a->consumer_id, what, i, x[i], y[i]);
}

static void expect_same_rhythm(const indiv_profile *a, const indiv_profile *b,
                               double rel) {
    EXPECT_CLOSE(a->orders, b->orders, "orders");
    EXPECT_SAME(a->first_purchase_ts, b->first_purchase_ts, "first purchase");
    EXPECT_SAME(a->last_purchase_ts, b->last_purchase_ts, "last purchase");
    EXPECT_CLOSE(a->monetary, b->monetary, "monetary");
    EXPECT_CLOSE(a->n_intervals, b->n_intervals, "intervals");
    EXPECT_CLOSE(a->interval_mean_days, b->interval_mean_days, "interval mean");
    EXPECT_CLOSE(a->interval_sd_days, b->interval_sd_days, "interval sd");
}

static void expect_same_pressure(const indiv_profile *a, const indiv_profile *b) {
    EXPECT_SAME(a->n_slots, b->n_slots, "pressure slots");
    cr_expect_eq(a->contacts_total, b->contacts_total);
    for (int s = 0; s < a->n_slots && s < INDIV_PRESSURE_SLOTS; s++) {
        EXPECT_SAME(a->contact_ts[s], b->contact_ts[s], "contact time");
        EXPECT_SAME(a->contact_channel[s], b->contact_channel[s], "contact channel");
        EXPECT_SAME(a->answered[s], b->answered[s], "answered");
    }
}

/* Every field of the groups in mask agrees within rel (rel = 0: bit for bit). */
static void expect_same_profile(const indiv_profile *a, const indiv_profile *b,
                                unsigned mask, double rel) {
    EXPECT_SAME(a->consumer_id, b->consumer_id, "consumer");
    EXPECT_SAME(a->as_of, b->as_of, "as_of");
    EXPECT_SAME(a->n_events, b->n_events, "events");
    EXPECT_SAME(a->dims, b->dims, "dims");
    if (mask & INDIV_FEAT_TASTE)
        expect_close_array(a, a->taste, b->taste, a->dims, rel, "taste");
    if (mask & INDIV_FEAT_RHYTHM)
        expect_same_rhythm(a, b, rel);
    if (mask & INDIV_FEAT_MOMENTS) {
        EXPECT_CLOSE(a->activity, b->activity, "activity");
        expect_close_array(a, a->hour, b->hour, 24, rel, "hour");
        expect_close_array(a, a->dow, b->dow, 7, rel, "dow");
    }
    if (mask & INDIV_FEAT_CHANNELS) {
        expect_close_array(a, a->contacts, b->contacts, 3, rel, "contacts");
        expect_close_array(a, a->reactions, b->reactions, 3, rel, "reactions");
        expect_close_array(a, a->react_rate, b->react_rate, 3, rel, "reaction rate");
    }
    if (mask & INDIV_FEAT_PRESSURE)
        expect_same_pressure(a, b);
    if (mask & INDIV_FEAT_OPENNESS) {
        EXPECT_CLOSE(a->later_purchases, b->later_purchases, "later purchases");
        EXPECT_CLOSE(a->new_category_purchases, b->new_category_purchases,
                     "new purchases");
        EXPECT_CLOSE(a->openness, b->openness, "openness");
    }
    if (mask & INDIV_FEAT_HISTORY) {
        EXPECT_SAME(a->n_history, b->n_history, "history entries");
        for (size_t i = 0; i < a->n_history && i < b->n_history; i++) {
            const indiv_offer_history *x = &a->history[i], *y = &b->history[i];
            EXPECT_SAME(x->offer_id, y->offer_id, "history offer");
            EXPECT_CLOSE(x->occasions, y->occasions, "history occasions");
            EXPECT_CLOSE(x->decayed, y->decayed, "history decayed count");
            EXPECT_SAME(x->first_ts, y->first_ts, "history first purchase");
            EXPECT_SAME(x->last_ts, y->last_ts, "history last purchase");
            EXPECT_CLOSE(x->interval_m2, y->interval_m2, "history interval m2");
        }
    }
}

/* ---- parameters and feature lists -------------------------------------------------- */

Test(profile, params_defaults_are_the_documented_ones) {
    indiv_profile_params p;
    indiv_profile_params_init(&p);
    cr_assert_eq(p.as_of, INT64_MAX);
    cr_assert_eq(p.half_life_days, 90.0);
    cr_assert_eq(p.window_days, 0.0);
    cr_assert_eq(p.features, (unsigned)INDIV_FEAT_ALL);
    static const double w[INDIV_EV_MAX + 1] = {
        [INDIV_EV_PURCHASE] = 1.0, [INDIV_EV_CLICK] = 0.5,      [INDIV_EV_VIEW] = 0.1,
        [INDIV_EV_OPEN] = 0.1,     [INDIV_EV_RETURN] = -1.0,    [INDIV_EV_DISMISS] = -0.5,
        [INDIV_EV_CONTACT] = 0.0,  [INDIV_EV_UNSUBSCRIBE] = 0.0};
    for (int t = 0; t <= INDIV_EV_MAX; t++)
        cr_expect_eq(p.type_weight[t], w[t], "weight of type %d", t);
    cr_assert_eq(p.moment_alpha, 1.0);
    cr_assert_eq(p.channel_prior_a, 1.0);
    cr_assert_eq(p.channel_prior_b, 9.0);
    cr_assert_eq(p.openness_prior_a, 1.0);
    cr_assert_eq(p.openness_prior_b, 4.0);
    cr_assert_eq(p.pressure_days, 14.0);
    cr_assert_eq(p.rhythm_prior_strength, 2.0);
    cr_assert_eq(p.readiness_horizon_days, 7.0);
    cr_assert_eq(indiv_profile_params_validate(&p, NULL), 0);
}

Test(profile, params_validate_names_the_bad_parameter) {
    indiv_profile_params p;
    indiv_error err;
#define REFUSED(stmt, needle)                                                            \
    do {                                                                                 \
        indiv_profile_params_init(&p);                                                   \
        stmt;                                                                            \
        indiv_error_clear(&err);                                                         \
        cr_expect_eq(indiv_profile_params_validate(&p, &err), INDIV_EINVAL, "%s",        \
                     #stmt);                                                             \
        cr_expect(strstr(err.msg, needle), "%s: '%s' lacks '%s'", #stmt, err.msg,        \
                  needle);                                                               \
    } while (0)
    REFUSED(p.half_life_days = 0, "half-life");
    REFUSED(p.half_life_days = -3.5, "half-life");
    REFUSED(p.half_life_days = NAN, "half-life");
    REFUSED(p.window_days = -1, "window");
    REFUSED(p.window_days = INFINITY, "window");
    REFUSED(p.moment_alpha = 0, "moment_alpha");
    REFUSED(p.channel_prior_b = INFINITY, "channel_prior_b");
    REFUSED(p.openness_prior_a = -1, "openness_prior_a");
    REFUSED(p.pressure_days = 0, "pressure_days");
    REFUSED(p.rhythm_prior_strength = 0, "rhythm_prior_strength");
    REFUSED(p.readiness_horizon_days = -7, "readiness_horizon_days");
    REFUSED(p.type_weight[INDIV_EV_CLICK] = NAN, "click");
    REFUSED(p.features = INDIV_FEAT_ALL + 1, "feature bits");
#undef REFUSED
}

Test(profile, build_refuses_invalid_params_and_a_missing_as_of) {
    indiv_eventlog *log = tiny_log();
    consumer(log, "ann", 1);
    commit(log);
    indiv_profile_params p;
    indiv_profile_params_init(&p); /* as_of = INT64_MAX: "all events" is not a time */
    indiv_profile_summary sum;
    indiv_error err = {0};
    cr_assert_eq(build(log, &p, 0, &sum, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "as_of"), "%s", err.msg);
    p = params_at(AS_OF);
    p.half_life_days = 0;
    indiv_error_clear(&err);
    cr_assert_eq(build(log, &p, 0, &sum, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "half-life"), "%s", err.msg);
    indiv_eventlog_stats st;
    cr_assert_eq(indiv_eventlog_stats_get(log, &st, NULL), 0);
    cr_assert_eq(st.profiles, 0, "a refused build stored %lld profiles",
                 (long long)st.profiles);
    cr_assert_eq(indiv_profile_stored_params(log, &p, NULL, NULL), INDIV_ENOTFOUND);
    indiv_eventlog_close(log);
}

#define F_ALL INDIV_FEAT_ALL
#define F_T   INDIV_FEAT_TASTE
#define F_R   INDIV_FEAT_RHYTHM
#define F_M   INDIV_FEAT_MOMENTS
#define F_C   INDIV_FEAT_CHANNELS
#define F_P   INDIV_FEAT_PRESSURE
#define F_O   INDIV_FEAT_OPENNESS
#define F_H   INDIV_FEAT_HISTORY

Test(profile, features_parse_accepts_lists_and_removals) {
    static const struct {
        const char *list;
        unsigned mask;
    } cases[] = {
        {"all", F_ALL},
        {"none", 0},
        {"taste", F_T},
        {"taste,rhythm", F_T | F_R},
        {"openness,pressure,channels", F_O | F_P | F_C},
        {"all,-moments", F_ALL & ~F_M},
        {"-moments", F_ALL & ~F_M}, /* a list starting with a removal starts from all */
        {"-taste,-openness", F_R | F_M | F_C | F_P | F_H},
        {"none,channels", F_C},
        {"taste,none,rhythm", F_R}, /* "none" clears what came before it */
        {"taste,taste", F_T},
        {"all,-all", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned m = 0xdead;
        indiv_error err = {0};
        cr_expect_eq(indiv_profile_features_parse(cases[i].list, &m, &err), 0, "%s: %s",
                     cases[i].list, err.msg);
        cr_expect_eq(m, cases[i].mask, "%s: 0x%x, expected 0x%x", cases[i].list, m,
                     cases[i].mask);
    }
}

Test(profile, features_parse_refuses_unknown_groups_naming_them) {
    static const struct {
        const char *list, *named;
    } cases[] = {
        {"bogus", "'bogus'"},
        {"taste,rythm", "'rythm'"},
        {"all,-mood", "'mood'"},
        {"taste,,rhythm", "''"},
        {"-", "''"},
        {"tastes", "'tastes'"},
        {"", "empty"}, /* an empty list (an unset shell variable) is not "none" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned m = 0x2a;
        indiv_error err = {0};
        cr_expect_eq(indiv_profile_features_parse(cases[i].list, &m, &err), INDIV_EINVAL,
                     "'%s' was accepted as 0x%x", cases[i].list, m);
        cr_expect(strstr(err.msg, cases[i].named), "'%s': '%s' lacks %s", cases[i].list,
                  err.msg, cases[i].named);
        cr_expect_eq(m, 0x2a, "'%s': a refused list changed the mask", cases[i].list);
    }
}

Test(profile, features_format_round_trips_every_mask) {
    char buf[128];
    indiv_profile_features_format(F_ALL, buf, sizeof buf);
    cr_assert_str_eq(buf, "taste,rhythm,moments,channels,pressure,openness,history");
    indiv_profile_features_format(0, buf, sizeof buf);
    cr_assert_str_eq(buf, "none");
    indiv_profile_features_format(F_R | F_P, buf, sizeof buf);
    cr_assert_str_eq(buf, "rhythm,pressure");
    for (unsigned m = 0; m <= F_ALL; m++) {
        unsigned back = 0xdead;
        indiv_profile_features_format(m, buf, sizeof buf);
        cr_expect_eq(indiv_profile_features_parse(buf, &back, NULL), 0, "%s", buf);
        cr_expect_eq(back, m, "0x%x -> '%s' -> 0x%x", m, buf, back);
    }
}

/* ---- taste ------------------------------------------------------------------------- */

Test(profile, taste_event_one_half_life_old_counts_half) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1), d = consumer(log, "bea", 1);
    event(log, c, ago(90), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, d, ago(30), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, d, ago(60), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.dims, (size_t)NCATS);
    cr_assert_float_eq(pr.taste[CAT_A], 0.5, 1e-15, "%.17g", pr.taste[CAT_A]);
    cr_assert_eq(pr.taste[CAT_B], 0.0);
    cr_assert_eq(pr.taste[CAT_C], 0.0);
    /* With a 30-day half-life, 30 days old counts half and 60 days a quarter. */
    indiv_profile_params p = params_at(AS_OF);
    p.half_life_days = 30;
    build_ok(log, &p, 0);
    load_ok(log, d, &pr);
    cr_assert_float_eq(pr.taste[CAT_B], 0.5, 1e-15, "%.17g", pr.taste[CAT_B]);
    cr_assert_float_eq(pr.taste[CAT_C], 0.25, 1e-15, "%.17g", pr.taste[CAT_C]);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, taste_weights_each_type_and_decays_with_age) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(90), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 25); /* +1 * 1/2 */
    event(log, c, ago(30), OA2, INDIV_EV_RETURN, INDIV_CH_WEB, 25);  /* -1 * 2^(-1/3) */
    event(log, c, ago(45), OB, INDIV_EV_VIEW, INDIV_CH_WEB, 0);      /* 0.1 * 2^(-1/2) */
    event(log, c, ago(180), OB, INDIV_EV_CLICK, INDIV_CH_EMAIL, 0);  /* 0.5 * 1/4 */
    event(log, c, ago(270), OB, INDIV_EV_DISMISS, INDIV_CH_PUSH, 0); /* -0.5 * 1/8 */
    event(log, c, ago(1), OC, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);  /* weight 0 */
    event(log, c, ago(2), NO_OFFER, INDIV_EV_UNSUBSCRIBE, INDIV_CH_EMAIL, 0);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_float_eq(pr.taste[CAT_A], 0.5 - 0.79370052598409974, 1e-15, "%.17g",
                       pr.taste[CAT_A]);
    cr_assert_float_eq(pr.taste[CAT_B], 0.070710678118654752 + 0.125 - 0.0625, 1e-15,
                       "%.17g", pr.taste[CAT_B]);
    cr_assert_eq(pr.taste[CAT_C], 0.0, "a contact moved taste: %g", pr.taste[CAT_C]);
    cr_assert_eq(pr.n_events, 7);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* With an embedding (d = 2) instead of one-hot categories, taste is the decayed sum of
 * the offers' rows: 0.5·(0.5, -1.25) + 0.1·2^(-1/2)·(0, 0.75) + 0.125·(2, 0). */
Test(profile, taste_in_an_embedding_space_is_the_decayed_sum_of_offer_rows) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(90), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(45), OB, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, ago(180), OA2, INDIV_EV_CLICK, INDIV_CH_EMAIL, 0);
    commit(log);
    static const double emb[NOFFERS * 2] = {0.5, -1.25, 2.0, 0.0, 0.0, 0.75, 1.0, 1.0};
    indiv_catalog *cat;
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load(log, &cat, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_catalog_set_features(cat, emb, 2, "model-x", &err), 0, "%s",
                 err.msg);
    indiv_profile_params p = params_at(AS_OF);
    cr_assert_eq(indiv_profile_build(log, cat, &p, 0, NULL, NULL, NULL, &err), 0, "%s",
                 err.msg);
    indiv_catalog_free(cat);
    indiv_profile pr;
    indiv_profile_init(&pr);
    load_ok(log, c, &pr);
    cr_assert_eq(pr.dims, 2);
    cr_assert_float_eq(pr.taste[0], 0.5, 1e-15, "%.17g", pr.taste[0]);
    cr_assert_float_eq(pr.taste[1], -0.625 + 0.75 * 0.070710678118654752, 1e-15, "%.17g",
                       pr.taste[1]);
    /* Back to the category space: an incremental build must start again from scratch. */
    p.as_of = AS_OF + DAY_S;
    indiv_profile_summary sum = build_ok(log, &p, 1);
    cr_assert_eq(sum.incremental, 0, "%s", sum.mode_reason);
    load_ok(log, c, &pr);
    cr_assert_eq(pr.dims, (size_t)NCATS);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, project_decays_taste_and_keeps_the_rest) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(10), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 12.5);
    event(log, c, ago(3), OB, INDIV_EV_CONTACT, INDIV_CH_SMS, 0);
    indiv_profile pr, before;
    build_and_load(log, c, &pr);
    indiv_profile_init(&before);
    load_ok(log, c, &before);
    indiv_profile_project(&pr, AS_OF - DAY_S, 90); /* backwards: nothing happens */
    expect_same_profile(&pr, &before, F_ALL, 0);
    indiv_profile_project(&pr, AS_OF + 45 * DAY_S, 90);
    cr_assert_eq(pr.as_of, AS_OF + 45 * DAY_S);
    /* 2^(-10/90) at as_of, then half a half-life more: 2^(-55/90). */
    cr_assert_float_eq(pr.taste[CAT_B], 0.6546922875874867, 1e-15, "%.17g",
                       pr.taste[CAT_B]);
    /* the history's decayed count decays the same way */
    cr_assert_float_eq(pr.history[0].decayed, 0.6546922875874867, 1e-15, "%.17g",
                       pr.history[0].decayed);
    pr.as_of = before.as_of;
    pr.taste[CAT_B] = before.taste[CAT_B];
    pr.history[0].decayed = before.history[0].decayed;
    expect_same_profile(&pr, &before, F_ALL, 0);
    indiv_profile_clear(&pr);
    indiv_profile_clear(&before);
    indiv_eventlog_close(log);
}

/* ---- offer history ---------------------------------------------------------------- */

Test(profile, history_counts_occasions_decay_and_intervals_per_offer) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    /* a1 bought 90, 80 (two lines of one order), 60 and 45 days ago: intervals 10, 20,
     * 15 days; b1 once, 30 days ago; a view and a return add nothing */
    event(log, c, ago(90), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(80), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(80), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(60), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(45), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(30), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(20), OC, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, ago(10), OB, INDIV_EV_RETURN, INDIV_CH_WEB, 10);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.n_history, 2);
    const indiv_offer_history *a = indiv_profile_history_find(&pr, offer[OA]);
    const indiv_offer_history *b = indiv_profile_history_find(&pr, offer[OB]);
    cr_assert(a && b && !indiv_profile_history_find(&pr, offer[OC]));
    cr_assert_eq(a->occasions, 4.0);
    cr_assert_eq(a->first_ts, ago(90));
    cr_assert_eq(a->last_ts, ago(45));
    cr_assert_float_eq(indiv_history_mean_interval_days(a), 15, 1e-12);
    /* deviations -5, +5, 0 from the mean 15: m2 = 50 */
    cr_assert_float_eq(a->interval_m2, 50, 1e-9);
    double h = 90; /* default half-life */
    cr_assert_float_eq(a->decayed,
                       exp2(-90 / h) + exp2(-80 / h) + exp2(-60 / h) + exp2(-45 / h),
                       1e-12);
    cr_assert_eq(b->occasions, 1.0);
    cr_assert_float_eq(indiv_history_mean_interval_days(b), 0, EPS);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, history_keeps_the_largest_decayed_counts_when_full) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "bob", 1);
    /* a1 three times long ago, a2 once recently, b1 twice recently, c1 once last */
    for (int k = 0; k < 3; k++)
        event(log, c, ago(300 - k), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1);
    event(log, c, ago(20), OA2, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1);
    event(log, c, ago(15), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1);
    event(log, c, ago(12), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1);
    event(log, c, ago(10), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    p.history_max = 2;
    build_ok(log, &p, 0);
    indiv_profile pr;
    indiv_profile_init(&pr);
    load_ok(log, c, &pr);
    /* when a2 came, a1 (3 × ~0.1) still outweighed nothing: kept; b1 then evicted the
     * smaller of a1 (~0.3) and a2 (~0.86): a1; c1 evicted a2 (0.86 < b1's ~1.8) */
    cr_assert_eq(pr.n_history, 2);
    cr_assert_not_null(indiv_profile_history_find(&pr, offer[OB]));
    cr_assert_not_null(indiv_profile_history_find(&pr, offer[OC]));
    p.history_max = 0;
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_params_validate(&p, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "history_max"), "%s", err.msg);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* A profile edited and stored with indiv_profile_store reads back as stored: the edit
 * (here a history entry added, and another group switched off) and everything else. */
Test(profile, store_writes_an_edited_profile_that_loads_back_as_stored) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(30), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    indiv_profile pr, back;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.n_history, 1);
    indiv_offer_history *h = realloc(pr.history, 2 * sizeof *h);
    cr_assert_not_null(h);
    pr.history = h;
    pr.history_cap = 2;
    h[1] = (indiv_offer_history){offer[OB], 3, 2.5, ago(40), ago(5), 12.5};
    pr.n_history = 2;
    pr.features &= ~(unsigned)INDIV_FEAT_MOMENTS;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_profile_store(log, &pr, &err), 0, "%s", err.msg);
    commit(log);
    indiv_profile_init(&back);
    load_ok(log, c, &back);
    cr_assert_eq(back.features, pr.features);
    cr_assert_eq(back.n_history, 2);
    cr_assert_eq(back.history[0].offer_id, offer[OA]);
    cr_assert_eq(back.history[1].offer_id, offer[OB]);
    cr_assert_eq(back.history[1].occasions, 3);
    cr_assert_eq(back.history[1].decayed, 2.5);
    cr_assert_eq(back.history[1].first_ts, ago(40));
    cr_assert_eq(back.history[1].last_ts, ago(5));
    cr_assert_eq(back.history[1].interval_m2, 12.5);
    cr_assert_eq(back.orders, pr.orders);
    cr_assert_eq(back.dims, pr.dims);
    for (size_t d = 0; d < pr.dims; d++)
        cr_assert_eq(back.taste[d], pr.taste[d]);
    indiv_profile_clear(&pr);
    indiv_profile_clear(&back);
    indiv_eventlog_close(log);
}

/* ---- rhythm and readiness ---------------------------------------------------------- */

Test(profile, rhythm_counts_orders_intervals_and_monetary) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    /* Orders 60, 50, 35 and 5 days ago (the first of two lines): gaps 10, 15, 30 days. */
    event(log, c, ago(60), OA, INDIV_EV_PURCHASE, INDIV_CH_STORE, 30);
    event(log, c, ago(60), OB, INDIV_EV_PURCHASE, INDIV_CH_STORE, 12.5);
    event(log, c, ago(50), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 20);
    event(log, c, ago(35), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 7.25);
    event(log, c, ago(20), OB, INDIV_EV_RETURN, INDIV_CH_STORE, 12.5);
    event(log, c, ago(5), OA2, INDIV_EV_PURCHASE, INDIV_CH_WEB, 40);
    event(log, c, ago(4), OA2, INDIV_EV_VIEW, INDIV_CH_WEB, 99); /* a view is no money */
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.orders, 4.0);
    cr_assert_eq(pr.first_purchase_ts, ago(60));
    cr_assert_eq(pr.last_purchase_ts, ago(5));
    cr_assert_float_eq(pr.monetary, 30 + 12.5 + 20 + 7.25 + 40 - 12.5, EPS, "%g",
                       pr.monetary);
    cr_assert_eq(pr.n_intervals, 3.0);
    cr_assert_float_eq(pr.interval_mean_days, 55.0 / 3, EPS, "%.17g",
                       pr.interval_mean_days);
    /* sample sd of 10, 15, 30: sqrt((8.333² + 3.333² + 11.667²) / 2) = sqrt(108.333) */
    cr_assert_float_eq(pr.interval_sd_days, sqrt(325.0 / 3), EPS, "%.17g",
                       pr.interval_sd_days);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, rhythm_prior_is_the_mean_over_consumers_with_intervals) {
    indiv_eventlog *log = tiny_log();
    int64_t x = consumer(log, "xav", 1), y = consumer(log, "yan", 1);
    int64_t z = consumer(log, "zoe", 1), w = consumer(log, "wes", 1);
    consumer(log, "val", 1); /* no events at all */
    static const double xd[] = {60, 50, 35, 5}, yd[] = {90, 70, 30}, zd[] = {40, 28};
    for (int i = 0; i < 4; i++)
        event(log, x, ago(xd[i]), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    for (int i = 0; i < 3; i++)
        event(log, y, ago(yd[i]), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    for (int i = 0; i < 2; i++)
        event(log, z, ago(zd[i]), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, w, ago(3), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    indiv_profile_summary sum = build_ok(log, &p, 0);
    /* means: x 55/3 (gaps 10, 15, 30), y 30 (20, 40), z 12; cv²: x 108.33/(55/3)² =
     * 0.32231, y 200/900 = 0.22222 (z has one gap: no spread) */
    cr_assert_float_eq(sum.prior.mean_days, (55.0 / 3 + 30 + 12) / 3, EPS, "%.17g",
                       sum.prior.mean_days);
    cr_assert_float_eq(sum.prior.cv2, (0.32231404958677686 + 2.0 / 9) / 2, EPS, "%.17g",
                       sum.prior.cv2);
    cr_assert_eq(sum.prior.consumers_mean, 3);
    cr_assert_eq(sum.prior.consumers_cv2, 2);
    cr_assert_eq(sum.empty, 1);
    indiv_profile_params stored;
    indiv_rhythm_prior prior;
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_stored_params(log, &stored, &prior, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(prior.mean_days, sum.prior.mean_days, "meta must round-trip exactly");
    cr_assert_eq(prior.cv2, sum.prior.cv2);
    cr_assert_eq(prior.consumers_mean, 3);
    cr_assert_eq(stored.as_of, AS_OF);
    cr_assert(memcmp(stored.type_weight, p.type_weight, sizeof p.type_weight) == 0);
    indiv_eventlog_close(log);
}

Test(profile, rhythm_prior_falls_back_to_thirty_days_exponential) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(3), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB,
          10); /* one order, no gap */
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    indiv_profile_summary sum = build_ok(log, &p, 0);
    cr_assert_eq(sum.prior.mean_days, 30.0);
    cr_assert_eq(sum.prior.cv2, 1.0);
    cr_assert_eq(sum.prior.consumers_mean, 0);
    cr_assert_eq(sum.prior.consumers_cv2, 0);
    indiv_eventlog_close(log);
}

/* Replaces one key of the stored meta('profile_params') by the JSON text bad. */
static void corrupt_stored(indiv_eventlog *log, const char *key, const char *bad) {
    char buf[4096];
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_meta_get(log, "profile_params", buf, sizeof buf, &err),
                 0);
    json_t *j = json_loads(buf, 0, NULL), *v = json_loads(bad, JSON_DECODE_ANY, NULL);
    cr_assert(j && v);
    cr_assert_eq(json_object_set_new(j, key, v), 0);
    char *txt = json_dumps(j, JSON_COMPACT);
    cr_assert_eq(indiv_eventlog_meta_set(log, "profile_params", txt, &err), 0, "%s",
                 err.msg);
    free(txt);
    json_decref(j);
}

/* Every stored setting that cannot be read is an error naming it, for the parameters
 * and for the feature space alike: none is silently taken as 0 or skipped. */
Test(profile, a_stored_setting_that_cannot_be_read_is_an_error_naming_it) {
    static const struct {
        const char *key, *bad;
    } cases[] = {
        {"half_life_days", "\"ninety\""},
        {"features", "1.5"},
        {"type_weight", "[0, 1, \"x\", 0, 0, 0, 0, 0, 0]"},
        {"type_weight", "[1, 2]"},
        {"as_of", "null"},
        {"history_max", "\"64\""},
        {"dims", "0"},
        {"feature_source", "42"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        indiv_eventlog *log = tiny_log();
        consumer(log, "ann", 1);
        commit(log);
        indiv_profile_params p = params_at(AS_OF), stored;
        build_ok(log, &p, 0);
        corrupt_stored(log, cases[k].key, cases[k].bad);
        indiv_error err = {0};
        cr_assert_eq(indiv_profile_stored_params(log, &stored, NULL, &err), INDIV_EFORMAT,
                     "%s = %s was accepted", cases[k].key, cases[k].bad);
        cr_assert(strstr(err.msg, cases[k].key), "%s", err.msg);
        indiv_profile_space space;
        indiv_error err2 = {0};
        cr_assert_eq(indiv_profile_stored_space(log, &space, &err2), INDIV_EFORMAT);
        /* an incremental build refuses rather than guessing the old settings */
        indiv_profile_summary sum;
        indiv_error err3 = {0};
        cr_assert_eq(build(log, &p, 1, &sum, &err3), INDIV_EFORMAT, "%s", cases[k].key);
        indiv_eventlog_close(log);
        remove(db);
    }
}

/* Builds from before the history group stored no history_max: it reads as the default. */
Test(profile, a_stored_build_without_history_max_reads_as_the_default) {
    indiv_eventlog *log = tiny_log();
    consumer(log, "ann", 1);
    commit(log);
    indiv_profile_params p = params_at(AS_OF), stored, def;
    build_ok(log, &p, 0);
    char buf[4096];
    cr_assert_eq(indiv_eventlog_meta_get(log, "profile_params", buf, sizeof buf, NULL), 0);
    json_t *j = json_loads(buf, 0, NULL);
    cr_assert_eq(json_object_del(j, "history_max"), 0);
    char *txt = json_dumps(j, JSON_COMPACT);
    cr_assert_eq(indiv_eventlog_meta_set(log, "profile_params", txt, NULL), 0);
    free(txt);
    json_decref(j);
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_stored_params(log, &stored, NULL, &err), 0, "%s", err.msg);
    indiv_profile_params_init(&def);
    cr_assert_eq(stored.history_max, def.history_max);
    indiv_eventlog_close(log);
}

Test(profile, the_stored_feature_space_round_trips) {
    indiv_eventlog *log = tiny_log();
    consumer(log, "ann", 1);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    build_ok(log, &p, 0);
    indiv_profile_space space;
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_stored_space(log, &space, &err), 0, "%s", err.msg);
    cr_assert_eq(space.dims, 3); /* one-hot over ALPHA, BRAVO, CHARLIE */
    cr_assert_str_eq(space.source, "category");
    indiv_eventlog_close(log);
}

/* k = 1 is memoryless: 1 - e^(-H/θ) whatever the time since the last order, including
 * times so long that the gamma survival function underflows. */
Test(profile, readiness_gamma_k1_is_memoryless) {
    static const double s[] = {0, 3.7, 41.2, 300, 8000, 1e6};
    const double want = 1 - exp(-7.0 / 10); /* H = 7, θ = 10 */
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        double r = indiv_readiness_gamma(s[i], 7, 1, 10);
        cr_expect_float_eq(r, want, 1e-9, "s = %g: %.17g, expected %.17g", s[i], r, want);
    }
    cr_assert_float_eq(indiv_readiness_gamma(12, 3.5, 1, 23.5), 1 - exp(-3.5 / 23.5),
                       1e-9, "θ = 23.5, H = 3.5");
}

/* k = 2: Q(x) = e^(-x/θ) (1 + x/θ), so with θ = 10, H = 7:
 *   s = 15: 1 - Q(22)/Q(15) = 1 - e^(-0.7) · 3.2/2.5 = 1 - 1.28 e^(-0.7) = 0.364371
 *   s = 0:  1 - Q(7)         = 1 - 1.7 e^(-0.7)                        = 0.155805 */
Test(profile, readiness_gamma_k2_matches_the_closed_form) {
    cr_assert_float_eq(indiv_readiness_gamma(15, 7, 2, 10), 1 - 1.28 * exp(-0.7), 1e-9,
                       "s = 15");
    cr_assert_float_eq(indiv_readiness_gamma(0, 7, 2, 10), 1 - 1.7 * exp(-0.7), 1e-9,
                       "s = 0");
    cr_assert_float_eq(indiv_readiness_gamma(-4, 7, 2, 10), 1 - 1.7 * exp(-0.7), 1e-9,
                       "a negative elapsed time counts as 0");
    /* Increasing hazard: readiness rises as the usual gap is reached, toward the
     * exponential tail's 1 - e^(-H/θ). */
    double prev = 0;
    static const double s[] = {0, 5, 15, 40, 200, 5000};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        double r = indiv_readiness_gamma(s[i], 7, 2, 10);
        cr_expect_gt(r, prev, "s = %g: %g after %g", s[i], r, prev);
        cr_expect_lt(r, 1 - exp(-0.7) + 1e-9, "s = %g: %g", s[i], r);
        prev = r;
    }
}

/* Regular gaps of 20 days (n = 3, sd 0) shrunk toward a prior of 30 days and cv² 1 with
 * κ = 2: mean = (3·20 + 2·30)/5 = 24, cv² = (2·0 + 2·1)/(2 + 2) = 0.5, so k = 2 and
 * θ = 12. Twelve days after the last order: 1 - Q(19)/Q(12) = 1 - (31/24) e^(-7/12). */
Test(profile, readiness_shrinks_toward_the_population_prior) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    for (int i = 0; i < 4; i++)
        event(log, c, ago(72 - 20 * i), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.n_intervals, 3.0);
    cr_assert_float_eq(pr.interval_mean_days, 20.0, EPS);
    cr_assert_float_eq(pr.interval_sd_days, 0.0, EPS);
    indiv_rhythm_prior prior = {30, 1, 100, 100};
    double r = indiv_profile_readiness(&pr, &prior, 2, AS_OF, 7);
    cr_assert_float_eq(r, 1 - 31.0 / 24 * exp(-7.0 / 12), 1e-9, "%.17g", r);
    /* Evaluated later, the same profile is readier: s = 12 + 6 days. */
    double later = indiv_profile_readiness(&pr, &prior, 2, AS_OF + 6 * DAY_S, 7);
    cr_assert_float_eq(later, 1 - (1 + 25.0 / 12) / (1 + 18.0 / 12) * exp(-7.0 / 12),
                       1e-9, "%.17g", later);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* With no gap (n = 0) the consumer is the population: prior 30 days, cv² 0.5 gives k = 2,
 * θ = 15. Ten days after the only order: 1 - Q(17)/Q(10) = 1 - 1.28 e^(-7/15); with no
 * order at all, s = 0: 1 - (1 + 7/15) e^(-7/15). One gap of 12 days (n = 1): mean
 * (12 + 2·30)/3 = 24, cv² the prior's, θ = 12: 1 - Q(17)/Q(10) = 1 - (29/22) e^(-7/12).
 */
Test(profile, readiness_with_zero_intervals_uses_the_population_prior) {
    indiv_eventlog *log = tiny_log();
    int64_t one = consumer(log, "one", 1), none = consumer(log, "none", 1);
    int64_t two = consumer(log, "two", 1);
    event(log, one, ago(10), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, none, ago(10), OB, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, two, ago(22), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, two, ago(10), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    indiv_profile pr;
    build_and_load(log, one, &pr);
    indiv_rhythm_prior prior = {30, 0.5, 10, 10};
    cr_assert_eq(pr.n_intervals, 0.0);
    cr_assert_float_eq(indiv_profile_readiness(&pr, &prior, 2, AS_OF, 7),
                       1 - 1.28 * exp(-7.0 / 15), 1e-9, "one order");
    load_ok(log, none, &pr);
    cr_assert_eq(pr.last_purchase_ts, INDIV_TS_NONE);
    cr_assert_float_eq(indiv_profile_readiness(&pr, &prior, 2, AS_OF, 7),
                       1 - (1 + 7.0 / 15) * exp(-7.0 / 15), 1e-9, "no order");
    load_ok(log, two, &pr);
    cr_assert_eq(pr.n_intervals, 1.0);
    cr_assert_float_eq(indiv_profile_readiness(&pr, &prior, 2, AS_OF, 7),
                       1 - 29.0 / 22 * exp(-7.0 / 12), 1e-9, "one gap");
    /* An exponential prior (cv² 1) and no gap: memoryless at any time. */
    indiv_rhythm_prior expo = {30, 1, 0, 0};
    load_ok(log, one, &pr);
    for (int d = 0; d < 400; d += 57)
        cr_expect_float_eq(indiv_profile_readiness(&pr, &expo, 2, AS_OF + d * DAY_S, 7),
                           1 - exp(-7.0 / 30), 1e-9, "%d days later", d);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- moments ----------------------------------------------------------------------- */

/* Activity at 09:xx three times (Wed, Thu, Thu) and 20:xx twice (Thu, Wed); contacts,
 * a dismissal and a return at 14:00 on Friday are not activity. N = 5, α = 1:
 * hour[9] = 4/29, hour[20] = 3/29, others 1/29; Thursday 4/12, Wednesday 3/12. */
Test(profile, moments_smooth_counts_and_prefer_the_busiest_slot) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, at("2026-05-27T09:10:00Z"), OA, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, at("2026-05-28T09:40:00Z"), OA, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, at("2026-05-21T09:05:00Z"), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 9);
    event(log, c, at("2026-05-28T20:30:00Z"), OB, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    event(log, c, at("2026-05-27T20:00:00Z"), OB, INDIV_EV_CLICK, INDIV_CH_EMAIL, 0);
    for (int i = 0; i < 3; i++)
        event(log, c, at("2026-05-29T14:00:00Z") + i, OC, INDIV_EV_CONTACT, INDIV_CH_SMS,
              0);
    event(log, c, at("2026-05-29T14:00:10Z"), OC, INDIV_EV_DISMISS, INDIV_CH_SMS, 0);
    event(log, c, at("2026-05-29T14:00:20Z"), OA, INDIV_EV_RETURN, INDIV_CH_STORE, 9);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.activity, 5.0);
    for (int h = 0; h < 24; h++) {
        double want = (h == 9 ? 4.0 : h == 20 ? 3.0 : 1.0) / 29;
        cr_expect_float_eq(pr.hour[h], want, EPS, "hour %d: %g", h, pr.hour[h]);
    }
    for (int d = 0; d < 7; d++) {
        double want = (d == 3 ? 4.0 : d == 2 ? 3.0 : 1.0) / 12;
        cr_expect_float_eq(pr.dow[d], want, EPS, "day %d: %g", d, pr.dow[d]);
    }
    cr_assert_eq(indiv_profile_preferred_hour(&pr), 9);
    cr_assert_eq(indiv_profile_preferred_dow(&pr), 3);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, moments_ties_go_to_the_earliest_and_no_activity_is_uniform) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1), quiet = consumer(log, "quiet", 1);
    /* 19:00 on Monday, then 07:00 on Sunday: hours 7 and 19 tie, Monday and Sunday tie.
     */
    event(log, c, at("2026-05-25T19:00:00Z"), OA, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, at("2026-05-31T07:00:00Z"), OA, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, quiet, ago(2), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(indiv_profile_preferred_hour(&pr), 7);
    cr_assert_eq(indiv_profile_preferred_dow(&pr), 0);
    cr_assert_float_eq(pr.hour[7], 2.0 / 26, EPS);
    load_ok(log, quiet, &pr);
    cr_assert_eq(pr.activity, 0.0);
    for (int h = 0; h < 24; h++)
        cr_expect_float_eq(pr.hour[h], 1.0 / 24, EPS, "hour %d", h);
    for (int d = 0; d < 7; d++)
        cr_expect_float_eq(pr.dow[d], 1.0 / 7, EPS, "day %d", d);
    cr_assert_eq(indiv_profile_preferred_hour(&pr), 0);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- channels and pressure --------------------------------------------------------- */

/* email: an open before any contact (no reaction); contact, open, click (one reaction);
 * a contact followed by another contact (unanswered); contact, click (answered).
 * sms: one contact, then an open on push (another channel: no answer). A contact of the
 * consumer before her, left unanswered, is not hers to answer.
 * Beta(1, 9): email (2+1)/(3+10) = 3/13, sms 1/11, push (never contacted) 1/10. */
Test(profile, channels_count_one_reaction_per_contact_and_none_before_a_contact) {
    indiv_eventlog *log = tiny_log();
    /* The consumer before ann leaves an email contact unanswered: not ann's to answer. */
    int64_t prev = consumer(log, "abe", 1), c = consumer(log, "ann", 1);
    event(log, prev, ago(40), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(30), OA, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    event(log, c, ago(20), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(19.9), OA, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    event(log, c, ago(19.8), OA, INDIV_EV_CLICK, INDIV_CH_EMAIL, 0);
    event(log, c, ago(15), OB, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(12), OB, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(11), OB, INDIV_EV_CLICK, INDIV_CH_EMAIL, 0);
    event(log, c, ago(10), OC, INDIV_EV_CONTACT, INDIV_CH_SMS, 0);
    event(log, c, ago(9), OC, INDIV_EV_OPEN, INDIV_CH_PUSH, 0);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    static const double contacts[3] = {3, 1, 0}, reactions[3] = {2, 0, 0};
    static const double rate[3] = {3.0 / 13, 1.0 / 11, 1.0 / 10};
    for (int ch = 0; ch < 3; ch++) {
        cr_expect_eq(pr.contacts[ch], contacts[ch], "channel %d", ch + 1);
        cr_expect_eq(pr.reactions[ch], reactions[ch], "channel %d", ch + 1);
        cr_expect_float_eq(pr.react_rate[ch], rate[ch], EPS, "channel %d: %g", ch + 1,
                           pr.react_rate[ch]);
    }
    static const int answered[4] = {1, 0, 1, 0};
    static const int channel[4] = {INDIV_CH_EMAIL, INDIV_CH_EMAIL, INDIV_CH_EMAIL,
                                   INDIV_CH_SMS};
    const int64_t when[4] = {ago(20), ago(15), ago(12), ago(10)};
    cr_assert_eq(pr.n_slots, 4);
    cr_assert_eq(pr.contacts_total, 4.0);
    for (int s = 0; s < 4; s++) {
        cr_expect_eq(pr.contact_ts[s], when[s], "slot %d", s);
        cr_expect_eq(pr.contact_channel[s], channel[s], "slot %d", s);
        cr_expect_eq(pr.answered[s], answered[s], "slot %d", s);
    }
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, channels_without_contacts_get_the_prior_rate) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(5), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(4), OA, INDIV_EV_CLICK, INDIV_CH_EMAIL,
          0); /* no contact to answer */
    indiv_profile pr;
    build_and_load(log, c, &pr);
    for (int ch = 0; ch < 3; ch++) {
        cr_expect_eq(pr.contacts[ch], 0.0);
        cr_expect_eq(pr.reactions[ch], 0.0);
        cr_expect_float_eq(pr.react_rate[ch], 0.1, EPS, "channel %d", ch + 1);
    }
    indiv_profile_params p = params_at(AS_OF);
    p.channel_prior_a = 2.5;
    p.channel_prior_b = 1.5;
    build_ok(log, &p, 0);
    load_ok(log, c, &pr);
    cr_assert_float_eq(pr.react_rate[1], 2.5 / 4, EPS, "Beta(2.5, 1.5): %g",
                       pr.react_rate[1]);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* Contacts 20 and 14 days (unanswered), 10 days (answered) and one second before as_of
 * (unanswered). The window [t - days, t) includes its start, excludes t. */
Test(profile, pressure_counts_contacts_in_the_window_before_t) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(20), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(14), OA, INDIV_EV_CONTACT, INDIV_CH_SMS, 0);
    event(log, c, ago(10), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(9), OA, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    event(log, c, AS_OF - 1, OA, INDIV_EV_CONTACT, INDIV_CH_PUSH, 0);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    static const struct {
        int64_t t;
        double days;
        int contacts, unanswered;
    } cases[] = {
        {AS_OF, 14, 3, 2},              /* 14 d (start, included), 10 d, 1 s */
        {AS_OF - 1, 14, 2, 1},          /* the last contact is at t: excluded */
        {AS_OF - 10 * DAY_S, 14, 2, 2}, /* [24 d, 10 d): 20 d and 14 d */
        {AS_OF, 30, 4, 3},
        {AS_OF, 13.5, 2, 1},
        {AS_OF - 30 * DAY_S, 14, 0, 0},
        {AS_OF + 30 * DAY_S, 14, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = -1, un = -1;
        indiv_profile_pressure(&pr, cases[i].t, cases[i].days, &n, &un);
        cr_expect_eq(n, cases[i].contacts, "case %zu: %d contacts", i, n);
        cr_expect_eq(un, cases[i].unanswered, "case %zu: %d unanswered", i, un);
    }
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* 20 daily email contacts; opens answer the ones 17.5 and 15.5 days old. Only the last 16
 * are kept (15.5 days old first), with their answered flags shifted along. */
Test(profile, pressure_keeps_the_last_16_contacts_and_saturates) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    for (int k = 19; k >= 0; k--)
        event(log, c, ago(k + 0.5), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(17.4), OA, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    event(log, c, ago(15.4), OA, INDIV_EV_CLICK, INDIV_CH_EMAIL, 0);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.contacts_total, 20.0);
    cr_assert_eq(pr.contacts[0], 20.0);
    cr_assert_eq(pr.reactions[0], 2.0);
    cr_assert_eq(pr.n_slots, INDIV_PRESSURE_SLOTS);
    for (int s = 0; s < INDIV_PRESSURE_SLOTS; s++) {
        cr_expect_eq(pr.contact_ts[s], ago(15 - s + 0.5), "slot %d", s);
        cr_expect_eq(pr.answered[s], s == 0, "slot %d", s);
    }
    int n, un;
    indiv_profile_pressure(&pr, AS_OF, 30, &n, &un);
    cr_assert_eq(n, 16, "20 contacts in the window saturate at 16, got %d", n);
    cr_assert_eq(un, 15);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- openness ---------------------------------------------------------------------- */

/* docs/profiles.md: A | A | B | A | C, one purchase per order: the later purchases are A,
 * B, A, C, of which B and C are new: (2 + 1) / (4 + 5) = 1/3. The second A is another
 * offer of the same category: novelty is by category. */
Test(profile, openness_on_the_documented_sequence_is_one_third) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1), none = consumer(log, "bob", 1);
    static const int seq[5] = {OA, OA2, OB, OA, OC};
    for (int i = 0; i < 5; i++)
        event(log, c, ago(50 - 10 * i), seq[i], INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, none, ago(3), OC, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.later_purchases, 4.0);
    cr_assert_eq(pr.new_category_purchases, 2.0);
    cr_assert_float_eq(pr.openness, 1.0 / 3, EPS, "%.17g", pr.openness);
    load_ok(log, none, &pr);
    cr_assert_float_eq(pr.openness, 0.2, EPS, "no purchase: the prior's 20 %%");
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* Orders {A, B} | {B, C, C} | {C, C}, a view of C before all of them. Lines of the first
 * order are not counted; both C lines of the second order are new (C was not bought at
 * an earlier time), B is not; the third order's C lines were bought at an earlier time:
 * (2 + 1) / (5 + 5) = 3/10. */
Test(profile, openness_counts_lines_of_one_order_at_their_order_time) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(60), OC, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, ago(50), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(50), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(30), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(30), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(30), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(10), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(10), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    indiv_profile pr;
    build_and_load(log, c, &pr);
    cr_assert_eq(pr.orders, 3.0);
    cr_assert_eq(pr.later_purchases, 5.0);
    cr_assert_eq(pr.new_category_purchases, 2.0);
    cr_assert_float_eq(pr.openness, 3.0 / 10, EPS, "%.17g", pr.openness);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- boundaries: as_of, consent, window, groups ------------------------------------ */

/* n events of consumer c in [from, to), drawn from a fixed stream: every type, the three
 * contact channels (so that some contacts are answered), orders of one or two lines. */
static void random_events(indiv_eventlog *log, int64_t c, int64_t from, int64_t to,
                          int n) {
    static const int types[] = {INDIV_EV_VIEW,     INDIV_EV_VIEW,       INDIV_EV_VIEW,
                                INDIV_EV_PURCHASE, INDIV_EV_PURCHASE,   INDIV_EV_PURCHASE,
                                INDIV_EV_RETURN,   INDIV_EV_CONTACT,    INDIV_EV_CONTACT,
                                INDIV_EV_CONTACT,  INDIV_EV_OPEN,       INDIV_EV_CLICK,
                                INDIV_EV_DISMISS,  INDIV_EV_UNSUBSCRIBE};
    gsl_rng *r = indiv_rng_new(20260601, (uint64_t)c * 1000003u + (uint64_t)from,
                               INDIV_RNG_WORLD_HISTORY);
    cr_assert_not_null(r);
    for (int i = 0; i < n; i++) {
        int64_t ts = from + (int64_t)gsl_rng_uniform_int(r, (unsigned long)(to - from));
        int type = types[gsl_rng_uniform_int(r, sizeof types / sizeof types[0])];
        int msg = type >= INDIV_EV_CONTACT && type != INDIV_EV_DISMISS;
        int ch = msg ? 1 + (int)gsl_rng_uniform_int(r, 3) : INDIV_CH_WEB;
        int o = (int)gsl_rng_uniform_int(r, NOFFERS);
        int money = type == INDIV_EV_PURCHASE || type == INDIV_EV_RETURN;
        double value = money ? 5 + floor(gsl_rng_uniform(r) * 9000) / 100 : 0;
        event(log, c, ts, o, type, ch, value);
        if (type == INDIV_EV_PURCHASE && gsl_rng_uniform(r) < 0.3)
            event(log, c, ts, (o + 1) % NOFFERS, type, ch, value / 2);
    }
    gsl_rng_free(r);
}

/* A copy of consumer c's stored row (blob owned by the caller). */
static indiv_profile_row row_copy(indiv_eventlog *log, int64_t c) {
    indiv_profile_row row;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_profile_get(log, c, &row, &err), 0, "%lld: %s",
                 (long long)c, err.msg);
    void *blob = malloc(row.size);
    cr_assert_not_null(blob);
    memcpy(blob, row.blob, row.size);
    row.blob = blob;
    return row;
}

Test(profile, events_at_or_after_as_of_never_influence_the_profile) {
    enum { N = 4 };
    indiv_eventlog *log = tiny_log();
    int64_t c[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "c%d", i);
        c[i] = consumer(log, name, 1);
        if (i < N - 1)
            random_events(log, c[i], ago(200), AS_OF, 30);
    }
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    indiv_profile_summary before = build_ok(log, &p, 0);
    indiv_profile_row rows[N];
    for (int i = 0; i < N; i++)
        rows[i] = row_copy(log, c[i]);
    /* Events at exactly as_of and later, of every kind, for everyone: each would change
     * taste (age 0 weighs most), rhythm, moments, channels, pressure or openness. */
    begin(log);
    for (int i = 0; i < N; i++) {
        event(log, c[i], AS_OF, OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1000);
        event(log, c[i], AS_OF, OB, INDIV_EV_CONTACT, INDIV_CH_SMS, 0);
        event(log, c[i], AS_OF + 1, OB, INDIV_EV_CLICK, INDIV_CH_SMS, 0);
        random_events(log, c[i], AS_OF, AS_OF + 90 * DAY_S, 20);
    }
    commit(log);
    indiv_profile_summary after = build_ok(log, &p, 0);
    cr_assert_eq(after.events, before.events);
    cr_assert_eq(after.empty, 1);
    cr_assert_eq(after.prior.mean_days, before.prior.mean_days);
    cr_assert_eq(after.prior.cv2, before.prior.cv2);
    for (int i = 0; i < N; i++) {
        indiv_profile_row now = row_copy(log, c[i]);
        cr_expect_eq(now.n_events, rows[i].n_events, "consumer %d", i);
        cr_expect(now.size == rows[i].size &&
                      memcmp(now.blob, rows[i].blob, now.size) == 0,
                  "consumer %d: the stored vector changed", i);
        free((void *)now.blob);
        free((void *)rows[i].blob);
    }
    indiv_eventlog_close(log);
}

/* Bob refuses profiling; his purchases every 3 days, if they were read, would pull the
 * population's mean interval from (20 + 25) / 2 = 22.5 days down to 16 and its cv² from
 * 0.72 (Carol's 40 then 10 days: sd² 450 / mean² 625) down to 0.36. */
Test(profile, consumers_without_consent_get_no_profile_and_are_not_read) {
    indiv_eventlog *log = tiny_log();
    int64_t alice = consumer(log, "alice", 1), bob = consumer(log, "bob", 0);
    int64_t carol = consumer(log, "carol", 1);
    event(log, alice, ago(100), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, alice, ago(80), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    for (int d = 90; d > 0; d -= 3)
        event(log, bob, ago(d), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, carol, ago(60), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, carol, ago(20), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, carol, ago(10), OC, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, carol, ago(10), OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    indiv_profile_summary sum = build_ok(log, &p, 0);
    cr_assert_eq(sum.consumers, 3);
    cr_assert_eq(sum.skipped_consent, 1);
    cr_assert_eq(sum.profiled, 2);
    cr_assert_eq(sum.events, 2 + 4, "events read: %lld", (long long)sum.events);
    cr_assert_float_eq(sum.prior.mean_days, 22.5, EPS, "%.17g", sum.prior.mean_days);
    cr_assert_float_eq(sum.prior.cv2, 0.72, EPS, "%.17g", sum.prior.cv2);
    cr_assert_eq(sum.prior.consumers_mean, 2);
    cr_assert_eq(sum.prior.consumers_cv2, 1);
    indiv_profile pr;
    indiv_profile_init(&pr);
    cr_assert_eq(indiv_profile_load(log, bob, &pr, NULL), INDIV_ENOTFOUND);
    load_ok(log, carol, &pr);
    cr_assert_eq(pr.n_events, 4);
    indiv_eventlog_stats st;
    cr_assert_eq(indiv_eventlog_stats_get(log, &st, NULL), 0);
    cr_assert_eq(st.profiles, 2);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* A 30-day window keeps t >= as_of - 30 days: the purchase exactly 30 days old is in,
 * the one a second older (and everything before) is out. */
Test(profile, window_ignores_events_older_than_as_of_minus_window) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(30), OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(30) - 1, OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1000);
    event(log, c, ago(40), OC, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    event(log, c, ago(31), OC, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(10), OA2, INDIV_EV_PURCHASE, INDIV_CH_WEB, 5);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    p.window_days = 30;
    indiv_profile_summary sum = build_ok(log, &p, 0);
    cr_assert_eq(sum.events, 2);
    indiv_profile pr;
    indiv_profile_init(&pr);
    load_ok(log, c, &pr);
    cr_assert_eq(pr.n_events, 2);
    cr_assert_eq(pr.orders, 2.0);
    cr_assert_eq(pr.monetary, 15.0);
    cr_assert_eq(pr.first_purchase_ts, ago(30));
    cr_assert_float_eq(pr.interval_mean_days, 20.0, EPS);
    cr_assert_float_eq(pr.taste[CAT_A], exp2(-30.0 / 90) + exp2(-10.0 / 90), EPS);
    cr_assert_eq(pr.taste[CAT_B], 0.0);
    cr_assert_eq(pr.taste[CAT_C], 0.0);
    cr_assert_eq(pr.contacts_total, 0.0);
    cr_assert_eq(pr.activity, 2.0);
    indiv_profile_params stored;
    cr_assert_eq(indiv_profile_stored_params(log, &stored, NULL, NULL), 0);
    cr_assert_eq(stored.window_days, 30.0);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* Values each group stores, in doubles (docs/profiles.md, "Storage"), with d = 3. */
/* Doubles group g takes in profile pr (docs/profiles.md, "Storage"): fixed sizes, plus
 * 3 per stored contact (pressure) and 1 per category bought (openness). */
static size_t group_doubles(unsigned g, const indiv_profile *pr) {
    switch (g) {
    case INDIV_FEAT_TASTE:
        return NCATS;
    case INDIV_FEAT_RHYTHM:
        return 7;
    case INDIV_FEAT_MOMENTS:
        return 32;
    case INDIV_FEAT_CHANNELS:
        return 9 + 6;
    case INDIV_FEAT_PRESSURE:
        return 2 + 3 * (size_t)pr->n_slots;
    case INDIV_FEAT_HISTORY:
        return 1 + 6 * pr->n_history;
    default:
        return 4 + pr->n_bought; /* openness */
    }
}

/* What a profile without group g holds for it: nothing learnt from events. */
static void expect_neutral(const indiv_profile *pr, unsigned g) {
    if (g == INDIV_FEAT_TASTE)
        for (size_t j = 0; j < pr->dims; j++)
            cr_expect_eq(pr->taste[j], 0.0);
    if (g == INDIV_FEAT_RHYTHM)
        cr_expect(pr->orders == 0 && pr->last_purchase_ts == INDIV_TS_NONE &&
                  pr->n_intervals == 0);
    if (g == INDIV_FEAT_MOMENTS)
        for (int h = 0; h < 24; h++)
            cr_expect_float_eq(pr->hour[h], 1.0 / 24, EPS);
    if (g == INDIV_FEAT_CHANNELS)
        cr_expect(pr->contacts[0] == 0 && pr->reactions[0] == 0);
    if (g == INDIV_FEAT_PRESSURE)
        cr_expect(pr->n_slots == 0 && pr->contacts_total == 0);
    if (g == INDIV_FEAT_OPENNESS)
        cr_expect(pr->later_purchases == 0 && pr->new_category_purchases == 0);
    if (g == INDIV_FEAT_HISTORY)
        cr_expect(pr->n_history == 0);
}

Test(profile, groups_switched_off_take_no_bytes_and_leave_the_others_identical) {
    enum { N = 5 };
    indiv_eventlog *log = tiny_log();
    int64_t c[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "c%d", i);
        c[i] = consumer(log, name, 1);
        if (i > 0)
            random_events(log, c[i], ago(300), AS_OF, 15 * i);
    }
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    indiv_profile_summary all = build_ok(log, &p, 0);
    cr_assert_eq(all.profiled, N);
    indiv_profile ref[N], pr;
    indiv_profile_init(&pr);
    int64_t expect = 0;
    for (int i = 0; i < N; i++) {
        indiv_profile_init(&ref[i]);
        load_ok(log, c[i], &ref[i]);
        expect += 2 * 8;
        for (unsigned g = 1; g <= INDIV_FEAT_HISTORY; g <<= 1)
            expect += (int64_t)group_doubles(g, &ref[i]) * 8;
    }
    cr_assert_eq(all.bytes, expect, "%lld", (long long)all.bytes);
    cr_assert_gt(ref[N - 1].n_bought, 0, "the test needs purchases in the log");
    cr_assert_gt(ref[N - 1].n_history, 0, "the test needs an offer history");
    for (unsigned g = 1; g <= INDIV_FEAT_HISTORY; g <<= 1) {
        p.features = F_ALL & ~g;
        indiv_profile_summary sum = build_ok(log, &p, 0);
        int64_t less = 0;
        for (int i = 0; i < N; i++)
            less += (int64_t)group_doubles(g, &ref[i]) * 8;
        cr_expect_eq(all.bytes - sum.bytes, less, "group 0x%x: %lld bytes less", g,
                     (long long)(all.bytes - sum.bytes));
        for (int i = 0; i < N; i++) {
            load_ok(log, c[i], &pr);
            cr_expect_eq(pr.features, F_ALL & ~g);
            expect_same_profile(&ref[i], &pr, F_ALL & ~g, 0);
            expect_neutral(&pr, g);
        }
    }
    p.features = 0;
    cr_assert_eq(build_ok(log, &p, 0).bytes, N * 2 * 8, "header only");
    for (int i = 0; i < N; i++)
        indiv_profile_clear(&ref[i]);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- storage ----------------------------------------------------------------------- */

/* A stored row of features taste + rhythm whose header (mask, dims) or size is spoilt. */
Test(profile, decode_refuses_a_corrupt_blob) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    random_events(log, c, ago(100), AS_OF, 20);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    p.features = F_T | F_R;
    build_ok(log, &p, 0);
    indiv_profile_row good = row_copy(log, c);
    cr_assert_eq(good.size, (2 + 3 + 7) * sizeof(double));
    indiv_profile pr;
    indiv_profile_init(&pr);
    static const struct {
        const char *what;
        int version;
        long dsize; /* change of size in bytes */
        int slot;   /* header slot to overwrite, -1 none */
        double v;
    } cases[] = {
        {"another version", 2, 0, -1, 0},
        {"size not a multiple of 8", 1, -3, -1, 0},
        {"one value missing", 1, -8, -1, 0},
        {"one value too many", 1, 8, -1, 0},
        {"no header", 1, -(long)((2 + 3 + 7 - 1) * sizeof(double)), -1, 0},
        {"mask of another layout", 1, 0, 0, F_T | F_R | F_M},
        {"unknown feature bit", 1, 0, 0, (F_T | F_R) + 64},
        {"mask not an integer", 1, 0, 0, 3.5},
        {"mask NaN", 1, 0, 0, NAN},
        {"mask negative", 1, 0, 0, -1},
        {"dims of another layout", 1, 0, 1, 4},
        {"dims NaN", 1, 0, 1, NAN},
        {"dims huge", 1, 0, 1, 4.6e18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_profile_row bad = good;
        size_t n = (size_t)((long)good.size + cases[i].dsize);
        double *blob = calloc(1, good.size + 16);
        memcpy(blob, good.blob, good.size);
        if (cases[i].slot >= 0)
            blob[cases[i].slot] = cases[i].v;
        bad.version = cases[i].version;
        bad.size = n;
        bad.blob = blob;
        indiv_error err = {0};
        cr_expect_eq(indiv_profile_decode(&bad, &pr, &err), INDIV_EFORMAT, "%s: accepted",
                     cases[i].what);
        cr_expect(strstr(err.msg, "consumer"), "%s: '%s'", cases[i].what, err.msg);
        free(blob);
    }
    /* A huge dims with taste off must not ask for a huge taste buffer either. */
    double *blob = calloc(1, good.size);
    memcpy(blob, good.blob, good.size);
    blob[0] = F_R;
    blob[1] = 1e15;
    indiv_profile_row bad = good;
    bad.size = (2 + 7) * sizeof(double);
    memmove(blob + 2, blob + 2 + 3, 7 * sizeof(double));
    bad.blob = blob;
    cr_expect_eq(indiv_profile_decode(&bad, &pr, NULL), INDIV_EFORMAT,
                 "taste off, dims 1e15");
    free(blob);
    /* A pressure slot count beyond the 16 slots: readers index the slot arrays with it.
     */
    p.features = F_P;
    build_ok(log, &p, 0);
    indiv_profile_row pres = row_copy(log, c);
    double *v = (double *)pres.blob; /* our copy */
    static const double slots[] = {17, -1, NAN, 1e12};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        v[2] = slots[i];
        cr_expect_eq(indiv_profile_decode(&pres, &pr, NULL), INDIV_EFORMAT, "%g slots",
                     slots[i]);
    }
    free(v);
    /* The profile is still usable after refusals, and decodes the good row. */
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_decode(&good, &pr, &err), 0, "%s", err.msg);
    cr_assert_eq(pr.features, F_T | F_R);
    cr_assert_eq(pr.dims, (size_t)NCATS);
    free((void *)good.blob);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, to_json_names_the_enabled_sections_only) {
    indiv_eventlog *log = tiny_log();
    int64_t c = consumer(log, "ann", 1);
    event(log, c, ago(90), OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 10);
    event(log, c, ago(20), OA, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    event(log, c, ago(19), NO_OFFER, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    commit(log);
    indiv_profile_params p = params_at(AS_OF);
    p.features = F_T | F_C;
    indiv_profile_summary sum = build_ok(log, &p, 0);
    indiv_catalog *cat;
    cr_assert_eq(indiv_catalog_load(log, &cat, NULL), 0);
    indiv_profile pr;
    indiv_profile_init(&pr);
    load_ok(log, c, &pr);
    indiv_profile_project(&pr, AS_OF + 90 * DAY_S, p.half_life_days);
    char *txt =
        indiv_profile_to_json(&pr, "ann", cat, &p, &sum.prior, AS_OF + 90 * DAY_S);
    cr_assert_not_null(txt);
    json_error_t jerr;
    json_t *j = json_loads(txt, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", jerr.text, txt);
    cr_assert_str_eq(json_string_value(json_object_get(j, "consumer")), "ann");
    cr_assert_str_eq(json_string_value(json_object_get(j, "features")), "taste,channels");
    cr_assert_str_eq(json_string_value(json_object_get(j, "as_of")),
                     "2026-08-30T00:00:00Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "events_used")), 3);
    /* 90 days old at as_of, read 90 days later: a quarter; ALPHA only met a contact. */
    json_t *taste = json_object_get(j, "taste");
    cr_assert_float_eq(json_number_value(json_object_get(taste, "BRAVO")), 0.25, 1e-6,
                       "%s", txt);
    cr_assert_null(json_object_get(taste, "ALPHA"), "zero tastes are left out: %s", txt);
    json_t *email = json_object_get(json_object_get(j, "channels"), "email");
    cr_assert_float_eq(json_number_value(json_object_get(email, "reaction_rate")),
                       2.0 / 11, 1e-6, "%s", txt);
    static const char *const off[] = {"rhythm", "moments", "pressure", "openness"};
    for (int i = 0; i < 4; i++)
        cr_expect_null(json_object_get(j, off[i]), "%s is off but shown", off[i]);
    json_decref(j);
    free(txt);
    indiv_catalog_free(cat);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- incremental builds ------------------------------------------------------------ */

/* The world of the incremental tests, with T1 = AS_OF and T2 = T1 + 20 days:
 *   c00..c11 histories by i % 3: "old" in [T1-300d, T1-150d), "recent" in [T1-40d, T1),
 *            "spanning" in [T1-120d, T1) with a purchase at T1-50d (it leaves a 60-day
 *            window between T1 and T2);
 *   c09 never consents, c10 consents but has no events at all.
 * After the build at T1 (incr_appends): c03 gets an event at exactly T1 and more in
 * [T1, T2), c04 and c05 get events in [T1, T2), c06 one at exactly T2 (out of range),
 * c07 withdraws consent, and "late", a new consenting consumer, has events in [T1, T2).
 */
#define T1 AS_OF
#define T2 (AS_OF + 20 * DAY_S)
#define NC 12

static int64_t cid[NC + 1]; /* cid[NC] is "late" */

static indiv_eventlog *incr_world(void) {
    indiv_eventlog *log = tiny_log();
    char name[16];
    for (int i = 0; i < NC; i++) {
        snprintf(name, sizeof name, "c%02d", i);
        cid[i] = consumer(log, name, i != 9);
        if (i == 10)
            continue;
        if (i % 3 == 0)
            random_events(log, cid[i], T1 - 300 * DAY_S, T1 - 150 * DAY_S, 25);
        else if (i % 3 == 1)
            random_events(log, cid[i], T1 - 40 * DAY_S, T1, 25);
        else
            random_events(log, cid[i], T1 - 120 * DAY_S, T1, 25);
        if (i % 3 == 2)
            event(log, cid[i], T1 - 50 * DAY_S, OB, INDIV_EV_PURCHASE, INDIV_CH_WEB, 33);
    }
    commit(log);
    return log;
}

static void set_consent(const char *path, const char *ext_id, int consent) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' \"UPDATE consumers SET consent_profiling = %d"
                       " WHERE ext_id = '%s'\"",
                       path, consent, ext_id),
                 0, "%s", r.err);
    tu_run_free(&r);
}

/* The appends between the builds (log closed on return: the file can be copied). */
static void incr_appends(indiv_eventlog *log) {
    begin(log);
    event(log, cid[3], T1, OA, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    random_events(log, cid[3], T1, T2, 6);
    random_events(log, cid[4], T1, T2, 6);
    random_events(log, cid[5], T1, T2, 6);
    event(log, cid[6], T2, OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 70);
    cid[NC] = consumer(log, "late", 1);
    random_events(log, cid[NC], T1, T2, 8);
    commit(log);
    indiv_eventlog_close(log);
    set_consent(db, "c07", 0);
}

/* Every consumer's profile in a and b, both read at T2, agrees within 1e-12 relative;
 * both have the same consumers. */
static void expect_same_profiles_at_t2(indiv_eventlog *a, indiv_eventlog *b, double hl) {
    indiv_profile pa, pb;
    indiv_profile_init(&pa);
    indiv_profile_init(&pb);
    int compared = 0;
    for (int i = 0; i <= NC; i++) {
        int ra = indiv_profile_load(a, cid[i], &pa, NULL);
        int rb = indiv_profile_load(b, cid[i], &pb, NULL);
        cr_expect_eq(ra, rb, "c%02d: %d vs %d", i, ra, rb);
        if (ra != 0 || rb != 0)
            continue;
        indiv_profile_project(&pa, T2, hl);
        indiv_profile_project(&pb, T2, hl);
        expect_same_profile(&pa, &pb, F_ALL, 1e-12);
        compared++;
    }
    cr_assert_eq(compared, NC - 1, "c07 and c09 have no profile; %d compared", compared);
    indiv_profile_clear(&pa);
    indiv_profile_clear(&pb);
}

/* Consumers whose stored profile is as of t. */
static int count_as_of(indiv_eventlog *log, int64_t t, int *which) {
    indiv_profile pr;
    indiv_profile_init(&pr);
    int n = 0;
    for (int i = 0; i <= NC; i++)
        if (indiv_profile_load(log, cid[i], &pr, NULL) == 0 && pr.as_of == t)
            which[n++] = i;
    indiv_profile_clear(&pr);
    return n;
}

static void incremental_equals_full(double window_days, const int *stale, int nstale) {
    indiv_eventlog *log = incr_world();
    indiv_profile_params p = params_at(T1);
    p.window_days = window_days;
    build_ok(log, &p, 0);
    incr_appends(log);
    char *copy = tu_path(dir, "copy.db");
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", db, copy), 0, "%s", r.err);
    tu_run_free(&r);
    indiv_eventlog *a = open_log(db), *b = open_log(copy);
    p.as_of = T2;
    indiv_profile_summary inc = build_ok(a, &p, 1), full = build_ok(b, &p, 0);
    cr_assert_eq(inc.incremental, 1, "%s", inc.mode_reason);
    cr_assert_eq(full.incremental, 0);
    cr_assert_eq(full.profiled, NC - 1);
    cr_assert_eq(inc.profiled, nstale, "rebuilt %lld, expected %d",
                 (long long)inc.profiled, nstale);
    cr_assert_eq(inc.dropped_consent, 1);
    cr_assert_eq(inc.skipped_consent, 2);
    int rebuilt[NC + 1];
    cr_assert_eq(count_as_of(a, T2, rebuilt), nstale);
    for (int k = 0; k < nstale; k++)
        cr_expect_eq(rebuilt[k], stale[k], "rebuilt c%02d, expected c%02d", rebuilt[k],
                     stale[k]);
    cr_assert(close_rel(inc.prior.mean_days, full.prior.mean_days, 1e-12));
    cr_assert(close_rel(inc.prior.cv2, full.prior.cv2, 1e-12));
    expect_same_profiles_at_t2(a, b, p.half_life_days);
    indiv_eventlog_close(a);
    indiv_eventlog_close(b);
    free(copy);
}

Test(profile, incremental_equals_full_and_rebuilds_only_stale_consumers) {
    static const int stale[] = {3, 4, 5, NC}; /* new events, and the new consumer */
    incremental_equals_full(0, stale, 4);
}

Test(profile, incremental_equals_full_with_a_window) {
    /* ... and the "spanning" consumers, whose purchase at T1-50d leaves the window. */
    static const int stale[] = {2, 3, 4, 5, 8, 11, NC};
    incremental_equals_full(60, stale, 7);
}

Test(profile, incremental_drops_the_profile_of_withdrawn_consent) {
    indiv_eventlog *log = incr_world();
    indiv_profile_params p = params_at(T1);
    build_ok(log, &p, 0);
    indiv_eventlog_close(log);
    set_consent(db, "c07", 0);
    log = open_log(db);
    p.as_of = T2;
    indiv_profile_summary sum = build_ok(log, &p, 1);
    cr_assert_eq(sum.incremental, 1, "%s", sum.mode_reason);
    cr_assert_eq(sum.profiled, 0, "nothing is stale");
    cr_assert_eq(sum.dropped_consent, 1);
    indiv_profile pr;
    indiv_profile_init(&pr);
    cr_assert_eq(indiv_profile_load(log, cid[7], &pr, NULL), INDIV_ENOTFOUND);
    load_ok(log, cid[8], &pr);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, incremental_refuses_other_parameters_and_leaves_profiles_alone) {
    indiv_eventlog *log = incr_world();
    indiv_profile_params p = params_at(T1);
    build_ok(log, &p, 0);
    indiv_profile_params q[6];
    for (int i = 0; i < 6; i++)
        q[i] = params_at(T2);
    q[0].half_life_days = 60;
    q[1].window_days = 30;
    q[2].features = F_ALL & ~F_M;
    q[3].type_weight[INDIV_EV_VIEW] = 0.2;
    q[4].channel_prior_b = 19;
    q[5].as_of = T1 - DAY_S; /* same parameters, but back in time */
    for (int i = 0; i < 6; i++) {
        indiv_profile_summary sum;
        indiv_error err = {0};
        cr_expect_eq(build(log, &q[i], 1, &sum, &err), INDIV_EINVAL, "case %d accepted",
                     i);
        cr_expect(strstr(err.msg, i < 5 ? "parameters" : "back in time"), "case %d: %s",
                  i, err.msg);
    }
    int which[NC + 1];
    cr_assert_eq(count_as_of(log, T1, which), NC - 1, "refused builds touched profiles");
    indiv_profile_params stored;
    cr_assert_eq(indiv_profile_stored_params(log, &stored, NULL, NULL), 0);
    cr_assert_eq(stored.as_of, T1);
    cr_assert_eq(stored.half_life_days, 90.0);
    indiv_eventlog_close(log);
}

Test(profile, incremental_falls_back_to_full_when_older_events_were_appended) {
    indiv_eventlog *log = incr_world();
    indiv_profile_params p = params_at(T1);
    indiv_profile pr;
    indiv_profile_init(&pr);
    build_ok(log, &p, 0);
    load_ok(log, cid[1], &pr);
    int64_t before = pr.n_events;
    begin(log);
    event(log, cid[1], T1 - 5 * DAY_S, OC, INDIV_EV_PURCHASE, INDIV_CH_STORE, 12);
    commit(log);
    p.as_of = T2;
    indiv_profile_summary sum = build_ok(log, &p, 1);
    cr_assert_eq(sum.incremental, 0);
    cr_assert(strstr(sum.mode_reason, "older"), "%s", sum.mode_reason);
    cr_assert_eq(sum.profiled, NC - 1);
    load_ok(log, cid[1], &pr);
    cr_assert_eq(pr.n_events, before + 1);
    cr_assert_eq(pr.as_of, T2);
    /* The mark is reset by that build: the next incremental build is incremental. */
    sum = build_ok(log, &p, 1);
    cr_assert_eq(sum.incremental, 1, "%s", sum.mode_reason);
    cr_assert_eq(sum.profiled, 0);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

Test(profile, incremental_without_a_previous_build_or_after_a_catalog_change_is_full) {
    indiv_eventlog *log = incr_world();
    indiv_profile_params p = params_at(T1);
    indiv_profile_summary sum = build_ok(log, &p, 1);
    cr_assert_eq(sum.incremental, 0);
    cr_assert(strstr(sum.mode_reason, "no previous build"), "%s", sum.mode_reason);
    cr_assert_eq(sum.profiled, NC - 1);
    begin(log);
    indiv_offer_rec o = {"d1", "d1", "DELTA", 5, 0.2, INDIV_TS_NONE, INDIV_TS_NONE};
    int64_t id;
    cr_assert_eq(indiv_eventlog_add_offer(log, &o, &id, NULL, NULL), 0);
    commit(log);
    p.as_of = T2;
    sum = build_ok(log, &p, 1);
    cr_assert_eq(sum.incremental, 0);
    cr_assert(strstr(sum.mode_reason, "feature space"), "%s", sum.mode_reason);
    indiv_profile pr;
    indiv_profile_init(&pr);
    load_ok(log, cid[0], &pr);
    cr_assert_eq(pr.dims, (size_t)NCATS + 1);
    indiv_profile_clear(&pr);
    indiv_eventlog_close(log);
}

/* ---- builds in a session (the simulation's loop) ------------------------------------ */

/* A session build; its summary. */
static indiv_profile_summary session_ok(indiv_eventlog *log, const indiv_profile_params *p,
                                        indiv_profile_session *ses, const int64_t *touched,
                                        size_t n) {
    indiv_catalog *cat = NULL;
    indiv_profile_summary sum;
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load(log, &cat, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_profile_build_session(log, cat, p, ses, touched, n, NULL, NULL, &sum, &err), 0,
                 "%s", err.msg);
    indiv_catalog_free(cat);
    return sum;
}

/* Every stored vector of a and b is the same bytes, with the same as_of; and the stored
 * priors are the same text. */
static void expect_identical_profiles(indiv_eventlog *a, indiv_eventlog *b) {
    for (int i = 0; i <= NC; i++) {
        indiv_profile_row ra, rb;
        int ka = indiv_eventlog_profile_get(a, cid[i], &ra, NULL);
        int kb = indiv_eventlog_profile_get(b, cid[i], &rb, NULL);
        cr_assert_eq(ka, kb, "c%02d", i);
        if (ka != 0)
            continue;
        cr_expect_eq(ra.as_of, rb.as_of, "c%02d", i);
        cr_assert_eq(ra.size, rb.size, "c%02d", i);
        cr_expect_eq(memcmp(ra.blob, rb.blob, ra.size), 0, "c%02d: bytes differ", i);
    }
    char pa[512], pb[512];
    cr_assert_eq(indiv_eventlog_meta_get(a, "profile_prior", pa, sizeof pa, NULL), 0);
    cr_assert_eq(indiv_eventlog_meta_get(b, "profile_prior", pb, sizeof pb, NULL), 0);
    cr_expect_str_eq(pa, pb);
}

static void copy_db(const char *to) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", db, to), 0, "%s", r.err);
    tu_run_free(&r);
}

Test(profile, a_session_with_touched_consumers_writes_what_the_plain_build_writes) {
    /* a: session builds told which consumers got events (with one that got none); b:
     * plain incremental builds. Same bytes, same prior, same consumers rebuilt, over
     * three builds; an event at a build's time waits for the next one. */
    indiv_eventlog *log = incr_world();
    indiv_profile_session *ses = indiv_profile_session_new();
    indiv_profile_params p = params_at(T1);
    cr_assert_eq(session_ok(log, &p, ses, NULL, 0).incremental, 0);
    begin(log);
    random_events(log, cid[3], T1, T2, 6);
    random_events(log, cid[5], T1, T2, 6);
    event(log, cid[6], T2, OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 70);
    commit(log);
    indiv_eventlog_close(log);
    char *copy = tu_path(dir, "copy.db");
    copy_db(copy);
    indiv_eventlog *a = open_log(db), *b = open_log(copy);
    p.as_of = T2;
    int64_t touched[] = {cid[1], cid[3], cid[5], cid[6]};
    indiv_profile_summary sa = session_ok(a, &p, ses, touched, 4), sb = build_ok(b, &p, 1);
    cr_assert_eq(sa.incremental, 1, "%s", sa.mode_reason);
    cr_assert_eq(sa.profiled, 2, "c03 and c05; c01 has no event, c06's is at T2");
    cr_assert_eq(sb.profiled, 2);
    cr_assert_eq(sa.prior.mean_days, sb.prior.mean_days);
    cr_assert_eq(sa.prior.cv2, sb.prior.cv2);
    expect_identical_profiles(a, b);
    p.as_of = T2 + 10 * DAY_S;
    int64_t later[] = {cid[6]};
    sa = session_ok(a, &p, ses, later, 1);
    sb = build_ok(b, &p, 1);
    cr_assert_eq(sa.profiled, 1, "c06's purchase at T2");
    cr_assert_eq(sb.profiled, 1);
    expect_identical_profiles(a, b);
    indiv_eventlog_close(a);
    indiv_eventlog_close(b);
    indiv_profile_session_free(ses);
    free(copy);
}

Test(profile, a_session_after_a_build_made_elsewhere_finds_the_stale_consumers_itself) {
    indiv_eventlog *log = incr_world();
    indiv_profile_session *ses = indiv_profile_session_new();
    indiv_profile_params p = params_at(T1);
    session_ok(log, &p, ses, NULL, 0);
    begin(log);
    random_events(log, cid[4], T1, T2, 6);
    commit(log);
    p.as_of = T2;
    cr_assert_eq(build_ok(log, &p, 1).profiled, 1); /* not through the session */
    begin(log);
    random_events(log, cid[5], T2, T2 + 5 * DAY_S, 6);
    commit(log);
    indiv_eventlog_close(log);
    char *copy = tu_path(dir, "copy.db");
    copy_db(copy);
    indiv_eventlog *a = open_log(db), *b = open_log(copy);
    p.as_of = T2 + 5 * DAY_S;
    /* an empty list: the session's last build is not the stored one, so it is not used */
    indiv_profile_summary sa = session_ok(a, &p, ses, cid, 0), sb = build_ok(b, &p, 1);
    cr_assert_eq(sa.profiled, 1, "c05, found by the stale query");
    cr_assert_eq(sa.prior.mean_days, sb.prior.mean_days, "the prior is not the session's");
    expect_identical_profiles(a, b);
    indiv_eventlog_close(a);
    indiv_eventlog_close(b);
    indiv_profile_session_free(ses);
    free(copy);
}

/* The co-purchase counts of every stored profile, counted again (as decide does). */
static indiv_plausibility *count_all(indiv_eventlog *log, const indiv_catalog *cat) {
    indiv_plausibility *pl = indiv_plausibility_new(NCATS, 1);
    indiv_profile pr;
    int32_t buf[NCATS];
    const int32_t *kc;
    indiv_profile_init(&pr);
    for (int i = 0; i <= NC; i++) {
        if (indiv_profile_load(log, cid[i], &pr, NULL) != 0)
            continue;
        size_t n = indiv_policy_known_categories(&pr, cat, buf, NCATS, &kc);
        if (n)
            indiv_plausibility_add(pl, kc, n);
    }
    indiv_profile_clear(&pr);
    return pl;
}

struct kept {
    indiv_plausibility *pl;
    const indiv_catalog *cat;
    int told;
};

static void keep_counts(void *ctx, const indiv_profile *before, const indiv_profile *after) {
    struct kept *k = ctx;
    int32_t buf[NCATS];
    const int32_t *kc;
    size_t n;
    if (before && (n = indiv_policy_known_categories(before, k->cat, buf, NCATS, &kc)))
        indiv_plausibility_remove(k->pl, kc, n);
    if ((n = indiv_policy_known_categories(after, k->cat, buf, NCATS, &kc)))
        indiv_plausibility_add(k->pl, kc, n);
    k->told++;
}

Test(profile, a_session_tells_each_rewritten_profile_so_counts_can_be_kept) {
    /* The simulation keeps the adjacent aim's co-purchase counts this way: what the
     * callback sees of the profiles before and after must move the counts to a recount. */
    indiv_eventlog *log = incr_world();
    indiv_profile_session *ses = indiv_profile_session_new();
    indiv_profile_params p = params_at(T1);
    session_ok(log, &p, ses, NULL, 0);
    indiv_catalog *cat = NULL;
    cr_assert_eq(indiv_catalog_load(log, &cat, NULL), 0);
    struct kept k = {count_all(log, cat), cat, 0};
    begin(log);
    event(log, cid[3], T1 + DAY_S, OC, INDIV_EV_PURCHASE, INDIV_CH_WEB, 70);
    event(log, cid[4], T1 + DAY_S, OA, INDIV_EV_PURCHASE, INDIV_CH_WEB, 20);
    random_events(log, cid[5], T1, T2, 6);
    commit(log);
    p.as_of = T2;
    int64_t touched[] = {cid[3], cid[4], cid[5]};
    indiv_profile_summary sum;
    cr_assert_eq(indiv_profile_build_session(log, cat, &p, ses, touched, 3, keep_counts, &k,
                                             &sum, NULL),
                 0);
    cr_assert_eq(k.told, 3);
    cr_assert_eq(sum.profiled, 3);
    indiv_plausibility *again = count_all(log, cat);
    uint32_t *pa, *pb;
    int64_t *na, *nb;
    indiv_plausibility_counts(k.pl, &pa, &na);
    indiv_plausibility_counts(again, &pb, &nb);
    cr_assert_eq(*na, *nb);
    cr_assert_eq(memcmp(pa, pb, NCATS * NCATS * sizeof *pa), 0, "pair counts differ");
    indiv_plausibility_free(k.pl);
    indiv_plausibility_free(again);
    indiv_catalog_free(cat);
    indiv_profile_session_free(ses);
    indiv_eventlog_close(log);
}
