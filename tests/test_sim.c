/*
 * test_sim.c — the synthetic world generator: parameters (defaults, validation, text
 * and JSON forms), determinism, and the invariants of a generated world checked on the
 * database itself with SQL (latent tastes never in the history, purchases only in known
 * tastes, events in the window and of valid offers, truth tables, moments, rhythm,
 * consent proportions within binomial intervals), plus refusal and rollback.
 *
 * Worlds are small (a few hundred consumers) so that the suite stays fast under ASan.
 * Statistical checks use fixed seeds, so they are deterministic; their bounds are still
 * real confidence intervals (z = 3.29, two-sided 99.9 %), not loose guesses, so that a
 * change of seed or of the model cannot pass by luck.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/eventlog.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "testutil.h"

/* Two-sided 99.9 % normal quantile. */
#define Z999 3.29

static char *dir;

static void setup(void) {
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(sim, .init = setup, .fini = teardown);

/* A small world: 300 consumers, 80 offers in 12 categories, 120 days. */
static void small_params(indiv_world_params *p) {
    indiv_world_params_init(p);
    p->consumers = 300;
    p->offers = 80;
    p->categories = 12;
    p->days = 120;
    p->seed = 20240607;
}

static sqlite3 *sql_open(const char *path) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

/* The first column of the first row of sql, as an integer / a real. */
static int64_t q_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static double q_real(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    double v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* |k - n p| within z standard deviations of a binomial(n, p). */
static void assert_binomial(int64_t k, int64_t n, double p, const char *what) {
    double mean = (double)n * p, sd = sqrt((double)n * p * (1 - p));
    cr_assert(fabs((double)k - mean) <= Z999 * sd + 1e-9,
              "%s: %lld of %lld, expected %.1f +- %.1f", what, (long long)k, (long long)n,
              mean, Z999 * sd);
}

/* ---- parameters ------------------------------------------------------------------- */

Test(sim, defaults_are_valid_and_every_parameter_is_described) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    indiv_error err = {0};
    cr_assert_eq(indiv_world_params_validate(&p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.consumers, 10000);
    cr_assert_float_eq(p.latent_share, 0.3, 1e-12);
    cr_assert_eq(p.start_ts, 1704067200); /* 2024-01-01T00:00:00Z */
    size_t n = indiv_world_param_count();
    cr_assert_gt(n, 40);
    for (size_t i = 0; i < n; i++) {
        const indiv_world_param *d = indiv_world_param_at(i);
        cr_assert(d->name && *d->name && d->option && *d->option && d->doc && *d->doc);
        cr_assert_eq(indiv_world_param_find(d->name), d);
        cr_assert_eq(indiv_world_param_find(d->option), d);
    }
    cr_assert_null(indiv_world_param_at(n));
    cr_assert_null(indiv_world_param_find("no_such_parameter"));
}

typedef struct bad_case {
    void (*spoil)(indiv_world_params *p);
    const char *named; /* what the message must name */
} bad_case;

static void bad_consumers(indiv_world_params *p) {
    p->consumers = 0;
}
static void bad_latent(indiv_world_params *p) {
    p->latent_share = 1.25;
}
static void bad_offers(indiv_world_params *p) {
    p->offers = p->categories - 1;
}
static void bad_margins(indiv_world_params *p) {
    p->margin_min = 0.6;
    p->margin_max = 0.4;
}
static void bad_shape(indiv_world_params *p) {
    p->interval_shape_min = 0;
}
static void bad_channels(indiv_world_params *p) {
    p->p_channel_email = p->p_channel_sms = p->p_channel_push = 0;
}
static void bad_nan(indiv_world_params *p) {
    p->hour_sd = NAN;
}
static void bad_seed(indiv_world_params *p) {
    p->seed = UINT64_MAX;
}
static void bad_validity(indiv_world_params *p) {
    p->validity_days_min = 100;
    p->validity_days_max = 10;
}

Test(sim, validation_names_the_parameter_at_fault) {
    static const bad_case cases[] = {{bad_consumers, "consumers"},
                                     {bad_latent, "latent_share"},
                                     {bad_offers, "offers"},
                                     {bad_margins, "margin_min"},
                                     {bad_shape, "interval_shape_min"},
                                     {bad_channels, "p_channel_email"},
                                     {bad_nan, "hour_sd"},
                                     {bad_seed, "seed"},
                                     {bad_validity, "validity_days_min"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_world_params p;
        indiv_world_params_init(&p);
        cases[i].spoil(&p);
        indiv_error err = {0};
        cr_assert_eq(indiv_world_params_validate(&p, &err), INDIV_EINVAL, "case %zu", i);
        cr_assert(strstr(err.msg, cases[i].named), "case %zu: '%s' does not name %s", i,
                  err.msg, cases[i].named);
    }
}

Test(sim, set_parses_by_name_or_option_and_checks_the_range) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    indiv_error err = {0};
    cr_assert_eq(indiv_world_params_set(&p, "latent-share", "0.45", &err), 0, "%s",
                 err.msg);
    cr_assert_float_eq(p.latent_share, 0.45, 1e-15);
    cr_assert_eq(indiv_world_params_set(&p, "consumers", "1234", &err), 0, "%s", err.msg);
    cr_assert_eq(p.consumers, 1234);
    cr_assert_eq(indiv_world_params_set(&p, "start", "2023-06-01T12:00:00Z", &err), 0);
    cr_assert_eq(p.start_ts, 1685620800);
    cr_assert_eq(indiv_world_params_set(&p, "seed", "9223372036854775807", &err), 0);
    cr_assert_eq(p.seed, (uint64_t)INT64_MAX);

    static const char *const bad[][3] = {
        {"latent_share", "1.5", "latent_share = 1.5 is out of range [0, 1]"},
        {"consumers", "12x", "consumers: '12x' is not an integer"},
        {"price-median", "0", "price_median = 0 is out of range (0, "},
        {"seed", "-3", "seed: '-3' is not a non-negative integer"},
        {"start", "2023-13-01", "start_ts: '2023-13-01' is not a time"},
        {"hour_sd", "abc", "hour_sd: 'abc' is not a number"},
        {"no_such", "1", "unknown world parameter 'no_such'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        indiv_world_params before = p;
        indiv_error e = {0};
        cr_assert_eq(indiv_world_params_set(&p, bad[i][0], bad[i][1], &e), INDIV_EINVAL);
        cr_assert(strstr(e.msg, bad[i][2]), "'%s' lacks '%s'", e.msg, bad[i][2]);
        cr_assert_eq(memcmp(&before, &p, sizeof p), 0, "p changed by a refused value");
    }
}

Test(sim, format_writes_what_set_reads_back) {
    indiv_world_params p, q;
    small_params(&p);
    p.hour_sd = 2.385;
    indiv_world_params_init(&q);
    indiv_error err = {0};
    char buf[64];
    for (size_t i = 0; i < indiv_world_param_count(); i++) {
        const indiv_world_param *d = indiv_world_param_at(i);
        indiv_world_params_format(&p, d, buf, sizeof buf);
        cr_assert_eq(indiv_world_params_set(&q, d->name, buf, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(memcmp(&p, &q, sizeof p), 0);
}

Test(sim, params_json_has_sorted_keys_and_round_trips) {
    indiv_world_params p, q;
    small_params(&p);
    p.latent_share = 0.35;
    p.seed = 9007199254740993ULL; /* not representable as a double */
    char *js = indiv_world_params_json(&p);
    cr_assert_not_null(js);
    json_t *obj = json_loads(js, 0, NULL);
    cr_assert_not_null(obj);
    cr_assert_eq(json_object_size(obj), indiv_world_param_count());
    cr_assert(strstr(js, "\"latent_share\":0.35,"), "%s", js);
    cr_assert(strstr(js, "\"seed\":9007199254740993,"), "%s", js);
    /* Every value is a number, so every quoted string is a key: in text order, they
     * must be strictly increasing. */
    char prev[64] = "", key[64];
    for (const char *at = strchr(js, '"'); at; at = strchr(at + 1, '"')) {
        const char *end = strchr(at + 1, '"');
        snprintf(key, sizeof key, "%.*s", (int)(end - at - 1), at + 1);
        cr_assert_lt(strcmp(prev, key), 0, "key %s after %s", key, prev);
        memcpy(prev, key, sizeof prev);
        at = end;
    }
    json_decref(obj);
    indiv_error err = {0};
    cr_assert_eq(indiv_world_params_from_json(js, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(&p, &q, sizeof p), 0);
    free(js);
}

Test(sim, params_from_json_refuses_unknown_keys_types_and_values) {
    static const char *const bad[][2] = {
        {"{\"consumers\": 10, \"colour\": 3}", "unknown key 'colour'"},
        {"{\"consumers\": 1.5}", "consumers is not an integer"},
        {"{\"latent_share\": \"high\"}", "latent_share is not a number"},
        {"{\"latent_share\": 2}", "latent_share = 2 is out of range"},
        {"{\"offers\": 3, \"categories\": 5}", "offers = 3 is less than categories"},
        {"[1, 2]", "not a JSON object"},
        {"{\"consumers\": ", "world_params:"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        indiv_world_params p;
        indiv_error err = {0};
        cr_assert_lt(indiv_world_params_from_json(bad[i][0], &p, &err), 0, "%s",
                     bad[i][0]);
        cr_assert(strstr(err.msg, bad[i][1]), "'%s' lacks '%s'", err.msg, bad[i][1]);
    }
    indiv_world_params p;
    indiv_error err = {0};
    cr_assert_eq(indiv_world_params_from_json("{\"consumers\": 77}", &p, &err), 0);
    cr_assert_eq(p.consumers, 77);
    cr_assert_float_eq(p.latent_share, 0.3, 1e-12); /* the rest are defaults */
}

/* ---- determinism ------------------------------------------------------------------- */

Test(sim, same_seed_gives_same_content_and_another_seed_differs) {
    indiv_world_params p;
    small_params(&p);
    char *a = tu_world(dir, "a.db", &p, NULL), *b = tu_world(dir, "b.db", &p, NULL);
    p.seed++;
    char *c = tu_world(dir, "c.db", &p, NULL);
    char ha[17], hb[17], hc[17];
    tu_content_hash(a, ha);
    tu_content_hash(b, hb);
    tu_content_hash(c, hc);
    cr_assert_str_eq(ha, hb);
    cr_assert_str_neq(ha, hc);
    free(a);
    free(b);
    free(c);
}

/* Consumer i's traits and history come from its own streams: the first 150 consumers of
 * a 300-consumer world are those of a 150-consumer world, row for row. */
Test(sim, a_consumer_does_not_depend_on_the_others) {
    indiv_world_params p;
    small_params(&p);
    p.consumers = 150;
    char *a = tu_world(dir, "a.db", &p, NULL);
    p.consumers = 300;
    char *b = tu_world(dir, "b.db", &p, NULL);
    sqlite3 *db = sql_open(a);
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS b", b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    static const char *const diffs[] = {
        "SELECT count(*) FROM (SELECT * FROM main.events EXCEPT"
        " SELECT * FROM b.events WHERE consumer_id <= 150)",
        "SELECT count(*) FROM (SELECT * FROM main.truth_consumers EXCEPT"
        " SELECT * FROM b.truth_consumers)",
        "SELECT count(*) FROM (SELECT * FROM main.truth_tastes EXCEPT"
        " SELECT * FROM b.truth_tastes)",
        "SELECT count(*) FROM (SELECT * FROM main.consumers EXCEPT"
        " SELECT * FROM b.consumers)"};
    for (size_t i = 0; i < sizeof diffs / sizeof diffs[0]; i++)
        cr_assert_eq(q_int(db, diffs[i]), 0, "%s", diffs[i]);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM main.events"),
                 q_int(db, "SELECT count(*) FROM b.events WHERE consumer_id <= 150"));
    sqlite3_close(db);
    free(a);
    free(b);
}

/* Traits and history come from separate streams: a history-only parameter changes the
 * events, never the catalogue, the consumers or their truth. */
Test(sim, traits_do_not_depend_on_history_parameters) {
    indiv_world_params p;
    small_params(&p);
    char *a = tu_world(dir, "a.db", &p, NULL);
    p.views_per_purchase = 0.5;
    p.browse_views_per_week = 3;
    p.p_on_pref_dow = 0.9;
    p.quantity_mean = 4;
    char *b = tu_world(dir, "b.db", &p, NULL);
    sqlite3 *db = sql_open(a);
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS b", b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    static const char *const tables[] = {"offers", "categories", "consumers",
                                         "truth_consumers", "truth_tastes"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM b.%s)",
                 tables[i], tables[i]);
        cr_assert_eq(q_int(db, sql), 0, "%s differ", tables[i]);
    }
    cr_assert_neq(q_int(db, "SELECT count(*) FROM main.events"),
                  q_int(db, "SELECT count(*) FROM b.events"));
    sqlite3_close(db);
    free(a);
    free(b);
}

/* At taste_locality 0 the groups are neither built nor drawn from: the world is the
 * independent model's, whatever taste_groups says, and no taste_groups meta is written.
 */
Test(sim, zero_taste_locality_is_the_independent_model) {
    indiv_world_params p;
    small_params(&p);
    p.taste_locality = 0;
    char *a = tu_world(dir, "a.db", &p, NULL);
    p.taste_groups = 3;
    char *b = tu_world(dir, "b.db", &p, NULL);
    sqlite3 *db = sql_open(a);
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS b", b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    static const char *const tables[] = {"offers", "consumers", "truth_consumers",
                                         "truth_tastes", "events"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM b.%s)",
                 tables[i], tables[i]);
        cr_assert_eq(q_int(db, sql), 0, "%s differ", tables[i]);
    }
    cr_assert_eq(q_int(db, "SELECT count(*) FROM meta WHERE key = 'taste_groups'"), 0);
    sqlite3_close(db);
    free(a);
    free(b);
}

/* Share of a consumer's taste pairs (known and latent together) in the same group. */
static double same_group_share(const char *path) {
    sqlite3 *db = sql_open(path);
    const char *sql =
        "WITH g(cat, grp) AS (SELECT c.id, j.value FROM meta m, json_each(m.value) j "
        "JOIN categories c ON c.name = printf('cat-%02d', j.key + 1) "
        "WHERE m.key = 'taste_groups') "
        "SELECT avg(ga.grp = gb.grp) FROM truth_tastes a JOIN truth_tastes b "
        "ON a.consumer_id = b.consumer_id AND a.category_id < b.category_id "
        "JOIN g ga ON ga.cat = a.category_id JOIN g gb ON gb.cat = b.category_id";
    double v = q_real(db, sql);
    sqlite3_close(db);
    return v;
}

/* With rho > 0 a consumer's tastes gather in groups: pairs of tastes share a group far
 * more often than the 1/G (about) of independent draws, and more so as rho grows. */
Test(sim, taste_locality_gathers_tastes_in_groups) {
    indiv_world_params p;
    small_params(&p);
    p.taste_groups = 4; /* 12 categories: groups of 3 */
    double prev = 0;
    const double rho[] = {0.01, 0.5, 1.0};
    for (size_t i = 0; i < 3; i++) {
        p.taste_locality = rho[i];
        char name[16];
        snprintf(name, sizeof name, "r%zu.db", i);
        char *path = tu_world(dir, name, &p, NULL);
        double share = same_group_share(path);
        cr_assert_gt(share, prev + 0.05, "rho %g: same-group share %g", rho[i], share);
        prev = share;
        free(path);
    }
    /* independent draws: about (3 - 1) / (12 - 1) = 0.18 of pairs share a group */
    cr_assert_gt(prev, 0.4, "rho 1: tastes stay near each other (share %g)", prev);
}

/* Variance of the number of known tastes per consumer. */
static double known_count_variance(const char *path) {
    sqlite3 *db = sql_open(path);
    double v =
        q_real(db, "SELECT avg(n * n) - avg(n) * avg(n) FROM (SELECT count(*) AS n "
                   "FROM truth_tastes WHERE latent = 0 GROUP BY consumer_id)");
    sqlite3_close(db);
    return v;
}

/* taste_breadth_dispersion d mixes the Poisson count of further known tastes with a
 * Gamma(1/d, d) factor: variance m + d m^2 instead of m (m = known_tastes_mean - 1 = 2:
 * 2 against 10, less the cap at the 12 categories). */
Test(sim, taste_breadth_dispersion_widens_taste_counts) {
    indiv_world_params p;
    small_params(&p);
    p.taste_locality = 0;
    char *a = tu_world(dir, "a.db", &p, NULL);
    p.taste_breadth_dispersion = 2;
    char *b = tu_world(dir, "b.db", &p, NULL);
    double va = known_count_variance(a), vb = known_count_variance(b);
    cr_assert(va > 1.4 && va < 2.8, "d = 0: variance %g, Poisson says 2", va);
    cr_assert_gt(vb, 2 * va, "d = 2: variance %g against %g", vb, va);
    free(a);
    free(b);
}

/* ---- consent, channels, latent share ---------------------------------------------- */

Test(sim, consent_and_latent_shares_lie_in_binomial_intervals) {
    indiv_world_params p;
    small_params(&p);
    p.consumers = 2000;
    p.days = 7; /* traits only matter here: a short history keeps it fast */
    p.p_consent_profiling = 0.7;
    p.p_consent_contact = 0.45;
    p.latent_share = 0.25;
    indiv_world_summary s;
    char *path = tu_world(dir, "w.db", &p, &s);
    sqlite3 *db = sql_open(path);
    int64_t n = p.consumers;
    int64_t prof = q_int(db, "SELECT count(*) FROM consumers WHERE consent_profiling");
    int64_t cont = q_int(db, "SELECT count(*) FROM consumers WHERE consent_contact");
    int64_t lat = q_int(db, "SELECT count(DISTINCT consumer_id) FROM truth_tastes"
                            " WHERE latent");
    assert_binomial(prof, n, 0.7, "profiling consent");
    assert_binomial(cont, n, 0.45, "contact consent");
    assert_binomial(lat, n, 0.25, "consumers with latent tastes");
    cr_assert_eq(s.no_profiling_consent, n - prof);
    cr_assert_eq(s.no_contact_consent, n - cont);
    cr_assert_eq(s.consumers_with_latent, lat);
    /* Channels: never none; each accepted with p_i / P(at least one). */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM consumers WHERE channels = 0"), 0);
    double none =
        (1 - p.p_channel_email) * (1 - p.p_channel_sms) * (1 - p.p_channel_push);
    assert_binomial(q_int(db, "SELECT count(*) FROM consumers WHERE channels & 2"), n,
                    p.p_channel_email / (1 - none), "e-mail accepted");
    assert_binomial(q_int(db, "SELECT count(*) FROM consumers WHERE channels & 8"), n,
                    p.p_channel_push / (1 - none), "push accepted");
    sqlite3_close(db);
    free(path);
}

/* ---- the history ------------------------------------------------------------------- */

Test(sim, latent_categories_have_no_history_at_all) {
    indiv_world_params p;
    small_params(&p);
    p.latent_share = 0.6;
    p.latent_tastes_mean = 2.5;
    p.p_browse_explore = 0.5; /* exploring views must still avoid latent categories */
    char *path = tu_world(dir, "w.db", &p, NULL);
    sqlite3 *db = sql_open(path);
    cr_assert_gt(q_int(db, "SELECT count(*) FROM truth_tastes WHERE latent"), 100);
    cr_assert_eq(q_int(db,
                       "SELECT count(*) FROM events e JOIN offers o ON o.id = e.offer_id"
                       " JOIN truth_tastes t ON t.consumer_id = e.consumer_id"
                       " AND t.category_id = o.category_id WHERE t.latent"),
                 0);
    sqlite3_close(db);
    free(path);
}

Test(sim, purchases_are_only_in_known_categories) {
    indiv_world_params p;
    small_params(&p);
    char *path = tu_world(dir, "w.db", &p, NULL);
    sqlite3 *db = sql_open(path);
    cr_assert_gt(q_int(db, "SELECT count(*) FROM events WHERE type = 2"), 1000);
    cr_assert_eq(q_int(db,
                       "SELECT count(*) FROM events e JOIN offers o ON o.id = e.offer_id"
                       " WHERE e.type = 2 AND NOT EXISTS (SELECT 1 FROM truth_tastes t"
                       " WHERE t.consumer_id = e.consumer_id"
                       " AND t.category_id = o.category_id AND NOT t.latent)"),
                 0);
    /* Views explore beyond known tastes (p_browse_explore), so they are not all known. */
    cr_assert_gt(q_int(db,
                       "SELECT count(*) FROM events e JOIN offers o ON o.id = e.offer_id"
                       " WHERE e.type = 1 AND NOT EXISTS (SELECT 1 FROM truth_tastes t"
                       " WHERE t.consumer_id = e.consumer_id"
                       " AND t.category_id = o.category_id)"),
                 0);
    sqlite3_close(db);
    free(path);
}

Test(sim, events_lie_in_the_history_window) {
    indiv_world_params p;
    small_params(&p);
    p.start_ts = 1678023000; /* 2023-03-05T13:30:00Z: not a midnight */
    p.p_on_pref_dow = 0.9;   /* many moves towards the week's edges */
    indiv_world_summary s;
    char *path = tu_world(dir, "w.db", &p, &s);
    sqlite3 *db = sql_open(path);
    int64_t end = p.start_ts + p.days * INDIV_SECONDS_PER_DAY;
    cr_assert_geq(q_int(db, "SELECT min(ts) FROM events"), p.start_ts);
    cr_assert_lt(q_int(db, "SELECT max(ts) FROM events"), end);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events"), s.events);
    sqlite3_close(db);
    free(path);
}

Test(sim, events_are_only_of_offers_valid_at_their_time) {
    indiv_world_params p;
    small_params(&p);
    p.p_limited_validity = 0.8;
    p.validity_days_min = 5;
    p.validity_days_max = 30;
    indiv_world_summary s;
    char *path = tu_world(dir, "w.db", &p, &s);
    sqlite3 *db = sql_open(path);
    cr_assert_gt(s.limited_offers, 30);
    cr_assert_gt(q_int(db,
                       "SELECT count(*) FROM events e JOIN offers o ON o.id = e.offer_id"
                       " WHERE o.valid_from IS NOT NULL"),
                 100, "the check below would be vacuous");
    cr_assert_eq(q_int(db,
                       "SELECT count(*) FROM events e JOIN offers o ON o.id = e.offer_id"
                       " WHERE e.ts < coalesce(o.valid_from, e.ts)"
                       " OR e.ts >= coalesce(o.valid_to, e.ts + 1)"),
                 0);
    sqlite3_close(db);
    free(path);
}

Test(sim, catalogue_keeps_its_invariants) {
    indiv_world_params p;
    small_params(&p);
    indiv_world_summary s;
    char *path = tu_world(dir, "w.db", &p, &s);
    sqlite3 *db = sql_open(path);
    int64_t end = p.start_ts + p.days * INDIV_SECONDS_PER_DAY;
    char sql[512];
    cr_assert_eq(q_int(db, "SELECT count(*) FROM offers"), p.offers);
    cr_assert_eq(q_int(db, "SELECT count(DISTINCT category_id) FROM offers"),
                 p.categories);
    /* Each category's first (most popular) offer is always valid. */
    cr_assert_eq(q_int(db,
                       "SELECT count(*) FROM offers WHERE id IN (SELECT min(id)"
                       " FROM offers GROUP BY category_id) AND valid_from IS NOT NULL"),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM offers WHERE price < 0.01"
                           " OR abs(price * 100 - round(price * 100)) > 1e-6"),
                 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM offers WHERE margin < %.17g OR margin > %.17g",
             p.margin_min, p.margin_max);
    cr_assert_eq(q_int(db, sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM offers WHERE valid_from IS NOT NULL AND (valid_from < "
             "%lld OR valid_to > %lld OR valid_to - valid_from < %.0f"
             " OR valid_to - valid_from > %.0f)",
             (long long)p.start_ts, (long long)end, p.validity_days_min * 86400,
             p.validity_days_max * 86400 + 1);
    cr_assert_eq(q_int(db, sql), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM offers WHERE valid_from IS NOT NULL"),
                 s.limited_offers);
    sqlite3_close(db);
    free(path);
}

Test(sim, values_are_quantity_times_price_on_the_web) {
    indiv_world_params p;
    small_params(&p);
    p.quantity_mean = 2.5;
    char *path = tu_world(dir, "w.db", &p, NULL);
    sqlite3 *db = sql_open(path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events WHERE channel IS NOT 4"), 0);
    cr_assert_eq(q_int(db,
                       "SELECT count(*) FROM events e JOIN offers o ON o.id = e.offer_id"
                       " WHERE abs(e.value - e.quantity * o.price) > 1e-9"),
                 0);
    cr_assert_eq(q_int(db,
                       "SELECT count(*) FROM events WHERE quantity < 1"
                       " OR quantity <> round(quantity) OR (type = 1 AND quantity <> 1)"),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events WHERE type NOT IN (1, 2)"), 0);
    /* Quantity is 1 + Poisson(1.5): mean 2.5. */
    double q = q_real(db, "SELECT avg(quantity) FROM events WHERE type = 2");
    cr_assert(fabs(q - 2.5) < 0.1, "mean quantity %g", q);
    sqlite3_close(db);
    free(path);
}

Test(sim, events_are_appended_in_storage_order) {
    indiv_world_params p;
    small_params(&p);
    char *path = tu_world(dir, "w.db", &p, NULL);
    sqlite3 *db = sql_open(path);
    /* Ids follow (consumer_id, ts) order exactly, from 1 without gaps. */
    cr_assert_eq(
        q_int(db, "SELECT count(*) FROM (SELECT id, row_number() OVER"
                  " (ORDER BY consumer_id, ts, id) AS rn FROM events) WHERE id <> rn"),
        0);
    sqlite3_close(db);
    free(path);
}

Test(sim, truth_tables_are_complete_and_weights_sum_to_one) {
    indiv_world_params p;
    small_params(&p);
    indiv_world_summary s;
    char *path = tu_world(dir, "w.db", &p, &s);
    sqlite3 *db = sql_open(path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM truth_consumers"), p.consumers);
    cr_assert_eq(
        q_int(db, "SELECT count(*) FROM consumers c WHERE NOT EXISTS (SELECT 1"
                  " FROM truth_tastes t WHERE t.consumer_id = c.id AND NOT t.latent)"),
        0, "a consumer without a known taste");
    cr_assert_lt(q_real(db, "SELECT max(abs(s - 1)) FROM (SELECT sum(weight) AS s"
                            " FROM truth_tastes GROUP BY consumer_id)"),
                 1e-9);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM truth_tastes WHERE latent"),
                 s.latent_tastes);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM truth_consumers WHERE interval_mean_days"
                           " < 1 OR interval_shape < 1 OR interval_shape > 4"
                           " OR openness NOT BETWEEN 0 AND 1 OR fatigue_tolerance <= 0"
                           " OR react_email NOT BETWEEN 0 AND 1"
                           " OR react_push NOT BETWEEN 0 AND 1"),
                 0);
    /* Known tastes: 1 + Poisson(2), so a mean of 3 (a little less: capped at 12). */
    double k = q_real(db, "SELECT avg(n) FROM (SELECT count(*) AS n FROM truth_tastes"
                          " WHERE NOT latent GROUP BY consumer_id)");
    cr_assert(fabs(k - 3) < Z999 * sqrt(2.0 / 300), "mean known tastes %g", k);
    sqlite3_close(db);
    free(path);
}

Test(sim, preferred_hour_and_day_dominate_event_times) {
    indiv_world_params p;
    small_params(&p);
    p.days = 365; /* most consumers then have 30 events or more */
    char *path = tu_world(dir, "w.db", &p, NULL);
    sqlite3 *db = sql_open(path);
    /* Per consumer with >= 30 events: events within 2 hours of the preferred hour,
     * against the 5/24 a uniform hour would give. */
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(
                     db,
                     "SELECT count(*), sum(min(abs(((e.ts / 3600) % 24) - t.pref_hour),"
                     " 24 - abs(((e.ts / 3600) % 24) - t.pref_hour)) <= 2)"
                     " FROM events e JOIN truth_consumers t USING (consumer_id)"
                     " GROUP BY consumer_id HAVING count(*) >= 30",
                     -1, &s, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    int consumers = 0, dominant = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        double n = sqlite3_column_double(s, 0), k = sqlite3_column_double(s, 1);
        double u = 5.0 / 24;
        consumers++;
        dominant += k > n * u + Z999 * sqrt(n * u * (1 - u));
    }
    sqlite3_finalize(s);
    cr_assert_gt(consumers, 100);
    cr_assert_geq(dominant, 0.95 * consumers, "%d of %d", dominant, consumers);
    /* Day of week: p + (1 - p) / 7 of the events on the preferred day, overall.
     * 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t n = q_int(db, "SELECT count(*) FROM events");
    int64_t on =
        q_int(db, "SELECT count(*) FROM events e JOIN truth_consumers t"
                  " USING (consumer_id) WHERE (e.ts / 86400 + 3) % 7 = t.pref_dow");
    double share = (double)on / (double)n,
           expect = p.p_on_pref_dow + (1 - p.p_on_pref_dow) / 7;
    cr_assert(share > expect - 0.05 && share < expect + 0.05, "%g vs %g", share, expect);
    sqlite3_close(db);
    free(path);
}

/* For an equilibrium renewal process E N(t) = t / mu exactly; Var N(t) ~ t s^2 / mu^3
 * with s^2 = mu^2 / k for gamma intervals (Cox, Renewal Theory, 1962). */
Test(sim, purchase_counts_follow_the_renewal_rate) {
    indiv_world_params p;
    small_params(&p);
    p.consumers = 1000;
    p.days = 365;
    p.views_per_purchase = 0;
    p.browse_views_per_week = 0;
    char *path = tu_world(dir, "w.db", &p, NULL);
    sqlite3 *db = sql_open(path);
    double t = (double)p.days;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT sum(%g / interval_mean_days) FROM truth_consumers",
             t);
    double expect = q_real(db, sql);
    snprintf(
        sql, sizeof sql,
        "SELECT sum(%g / (interval_shape * interval_mean_days)) FROM truth_consumers", t);
    double var = q_real(db, sql);
    double got = (double)q_int(db, "SELECT count(*) FROM events WHERE type = 2");
    cr_assert(fabs(got - expect) < Z999 * sqrt(var), "%g purchases, expected %g +- %g",
              got, expect, Z999 * sqrt(var));
    sqlite3_close(db);
    free(path);
}

/* ---- refusal, rollback, progress, summary ------------------------------------------ */

Test(sim, refuses_a_database_that_holds_data) {
    indiv_world_params p;
    small_params(&p);
    p.consumers = 40;
    char *path = tu_world(dir, "w.db", &p, NULL);
    char before[17], after[17];
    tu_content_hash(path, before);
    indiv_eventlog *log;
    indiv_error err = {0};
    indiv_world_summary s;
    cr_assert_eq(indiv_eventlog_open(path, 0, &log, &err), 0, "%s", err.msg);
    p.seed++;
    cr_assert_eq(indiv_world_generate(log, &p, NULL, NULL, &s, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "already holds 40 consumers"), "%s", err.msg);
    cr_assert_eq(s.consumers, 0);
    indiv_eventlog_close(log);
    tu_content_hash(path, after);
    cr_assert_str_eq(before, after);
    free(path);
}

Test(sim, a_failure_midway_writes_nothing) {
    char *path = tu_path(dir, "w.db");
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0);
    indiv_eventlog_close(log);
    /* A trigger makes the insert of consumer 50's first event fail. */
    sqlite3 *db = sql_open(path);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TRIGGER boom BEFORE INSERT ON events"
                              " WHEN NEW.consumer_id = 50 BEGIN"
                              " SELECT RAISE(ABORT, 'injected failure'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    indiv_world_params p;
    small_params(&p);
    indiv_world_summary s;
    cr_assert_eq(indiv_eventlog_open(path, 0, &log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_world_generate(log, &p, NULL, NULL, &s, &err), INDIV_EDB);
    cr_assert(strstr(err.msg, "injected failure"), "%s", err.msg);
    cr_assert_eq(s.events, 0);
    indiv_eventlog_close(log);
    static const char *const tables[] = {"consumers", "offers",          "categories",
                                         "events",    "truth_consumers", "truth_tastes",
                                         "meta"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        cr_assert_eq(q_int(db, sql), 0, "%s", tables[i]);
    }
    sqlite3_close(db);
    free(path);
}

typedef struct progress_log {
    int calls, offers_seen, bad;
    int64_t last_done, last_total;
} progress_log;

static void on_progress(void *ctx, const char *stage, int64_t done, int64_t total) {
    progress_log *pl = ctx;
    pl->calls++;
    if (strcmp(stage, "offers") == 0) {
        pl->offers_seen = 1;
        return;
    }
    if (strcmp(stage, "consumers") != 0 || !pl->offers_seen || done < pl->last_done ||
        done > total)
        pl->bad++;
    pl->last_done = done;
    pl->last_total = total;
}

Test(sim, reports_progress_in_order_and_sums_up_the_world) {
    indiv_world_params p;
    small_params(&p);
    p.consumers = 2500;
    p.days = 10;
    char *path = tu_path(dir, "w.db");
    indiv_eventlog *log;
    indiv_error err = {0};
    indiv_world_summary s;
    progress_log pl = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0);
    cr_assert_eq(indiv_world_generate(log, &p, on_progress, &pl, &s, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(pl.bad, 0);
    cr_assert_eq(pl.calls, 1 + 3); /* offers, then consumers at 1024, 2048 and 2500 */
    cr_assert_eq(pl.last_done, 2500);
    cr_assert_eq(pl.last_total, 2500);
    indiv_eventlog_stats st;
    cr_assert_eq(indiv_eventlog_stats_get(log, &st, &err), 0);
    cr_assert_eq(s.consumers, st.consumers);
    cr_assert_eq(s.offers, st.offers);
    cr_assert_eq(s.categories, st.categories);
    cr_assert_eq(s.events, st.events);
    for (int t = 1; t <= INDIV_EV_MAX; t++)
        cr_assert_eq(s.by_type[t], st.by_type[t], "type %d", t);
    cr_assert_eq(s.no_profiling_consent, st.consumers - st.consent_profiling);
    cr_assert_eq(s.no_contact_consent, st.consumers - st.consent_contact);
    indiv_eventlog_close(log);
    free(path);
}

Test(sim, meta_records_generator_seed_and_parameters) {
    indiv_world_params p, q;
    small_params(&p);
    p.consumers = 20;
    p.latent_share = 0.55;
    char *path = tu_world(dir, "w.db", &p, NULL);
    indiv_eventlog *log;
    indiv_error err = {0};
    char buf[4096];
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err), 0);
    cr_assert_eq(indiv_eventlog_meta_get(log, "generator", buf, sizeof buf, &err), 0);
    cr_assert_str_eq(buf, "indiv generate");
    cr_assert_eq(indiv_eventlog_meta_get(log, "seed", buf, sizeof buf, &err), 0);
    cr_assert_str_eq(buf, "20240607");
    cr_assert_eq(indiv_eventlog_meta_get(log, "world_params", buf, sizeof buf, &err), 0);
    cr_assert_eq(indiv_world_params_from_json(buf, &q, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(&p, &q, sizeof p), 0, "world_params does not give back p");
    indiv_eventlog_close(log);
    free(path);
}
