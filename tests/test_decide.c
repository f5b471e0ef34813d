/*
 * test_decide.c — decision records and the decision run (decision.h, decide.h and
 * docs/decisions.md are the contract).
 *
 * Decision lines: every documented field for each action, in the documented order,
 * parseable by jansson, reals finite and short; counts. The run, on a tiny hand-built
 * log: consent, unsubscribe, channels and the pressure cap (from the profile and from
 * the log), validity, non-personal consumers. The run on generated worlds: byte-identical
 * output whatever the thread count and block size, the callback sees the file's order,
 * shards partition the run, the divergent share matches ε × openness, and every error
 * leaves no output file (an existing one untouched, no temporary file behind).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_cdf.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/decision.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define EPS        1e-12
#define T0         INT64_C(1780272000) /* 2026-06-01T00:00:00Z, a Monday */
#define DAY_S      INT64_C(86400)
#define CONFIDENCE 0.999 /* two-sided, normal approximation */

static char *dir, *db, *out;

static void setup(void) {
    tu_dir_db_new("log.db", &dir, &db);
    out = tu_path(dir, "decisions.jsonl");
}

static void teardown(void) {
    free(out);
    tu_dir_db_free(dir, db);
}

TestSuite(decide, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

static indiv_eventlog *open_log(void) {
    return tu_open_log(db);
}

static int64_t add_consumer(indiv_eventlog *log, const char *ext, int profiling,
                            int contact, unsigned channels) {
    indiv_consumer_rec c = {ext, profiling, contact, channels, NULL};
    int64_t id;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &id, NULL, &err), 0, "%s", err.msg);
    return id;
}

static int64_t add_offer(indiv_eventlog *log, const char *ext, const char *name,
                         const char *category, int64_t valid_to) {
    indiv_offer_rec o = {ext, name, category, 25.0, 0.3, INDIV_TS_NONE, valid_to};
    int64_t id;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_offer(log, &o, &id, NULL, &err), 0, "%s", err.msg);
    return id;
}

static void add_event(indiv_eventlog *log, int64_t c, int64_t ts, int64_t offer, int type,
                      int channel) {
    indiv_event ev = {c,    ts,      0, offer,
                      type, channel, 1, type == INDIV_EV_PURCHASE ? 25 : 0};
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, &err), 0, "%s", err.msg);
}

/* A generated world of n consumers with profiles as of the end of its history. */
static indiv_eventlog *world(int64_t n, uint64_t seed, int64_t *as_of) {
    indiv_eventlog *log = open_log();
    indiv_world_params wp;
    indiv_world_params_init(&wp);
    wp.consumers = n;
    wp.offers = 60;
    wp.categories = 8;
    wp.days = 120;
    wp.seed = seed;
    indiv_error err = {0};
    cr_assert_eq(indiv_world_generate(log, &wp, NULL, NULL, NULL, &err), 0, "%s",
                 err.msg);
    *as_of = wp.start_ts + wp.days * DAY_S;
    tu_build_profiles(log, *as_of);
    return log;
}

static indiv_decide_opts opts_at(int64_t as_of, const char *path) {
    indiv_decide_opts o;
    indiv_decide_opts_init(&o);
    o.policy.as_of = as_of;
    o.out_path = path;
    return o;
}

static void run_ok(indiv_eventlog *log, const indiv_decide_opts *o,
                   indiv_decide_summary *sum) {
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_summary s;
    indiv_error err = {0};
    cr_assert_eq(indiv_decide_run(log, &m, o, NULL, NULL, sum ? sum : &s, &err), 0, "%s",
                 err.msg);
}

/* Parses a JSON Lines file into an array of objects (asserting every line parses). */
static json_t *read_lines(const char *path) {
    size_t len;
    char *text = tu_read(path, &len);
    cr_assert_not_null(text, "%s is missing", path);
    json_t *a = json_array();
    char *line = text;
    for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        json_error_t je;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        cr_assert_not_null(o, "line %zu: %s: %s", json_array_size(a) + 1, je.text, line);
        cr_assert(json_is_object(o));
        json_array_append_new(a, o);
    }
    cr_assert_eq(*line, '\0', "the last line is not terminated");
    free(text);
    return a;
}

static json_t *by_consumer(json_t *lines, const char *ext) {
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "consumer")), ext))
            return o;
    }
    cr_assert_fail("no line for consumer %s", ext);
    return NULL;
}

static const char *str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    cr_assert_not_null(s, "field %s is missing or not a string", key);
    return s;
}

/* Number of entries of dir other than those listed (NULL-terminated). */
static int extra_files(const char *const *keep) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int known = e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."));
        for (const char *const *k = keep; *k && !known; k++)
            known = !strcmp(e->d_name, *k);
        n += !known;
    }
    closedir(d);
    return n;
}

/* ---- the decision line ------------------------------------------------------------- */

/* A catalog of three offers (one with a name that is not valid UTF-8). */
static indiv_catalog *tiny_catalog(void) {
    indiv_eventlog *log = open_log();
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    add_offer(log, "o-1", "Red sweater", "SWEATER", INDIV_TS_NONE);
    add_offer(log, "o-2", "Blue \"scarf\"", "SCARF", INDIV_TS_NONE);
    add_offer(log, "o-3", "Caf\xe9 cr\xe8me", "DRINK", INDIV_TS_NONE); /* Latin-1 */
    char long_name[701];
    memset(long_name, 'x', 700);
    long_name[700] = '\0';
    add_offer(log, "o-4", long_name, "LONG", INDIV_TS_NONE);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_catalog *cat;
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load(log, &cat, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
    return cat;
}

static indiv_decision base_decision(indiv_action a, indiv_reason r) {
    indiv_decision d;
    memset(&d, 0, sizeof d);
    d.consumer_id = 42;
    d.action = a;
    d.reason = r;
    d.personalised = 1;
    d.send_at = a == INDIV_NONE ? INDIV_TS_NONE : T0 + 19 * 3600;
    d.channel = a == INDIV_NONE ? 0 : INDIV_CH_SMS;
    d.readiness = 0.123456789;
    d.contacts_recent = 2;
    return d;
}

static void add_decided(indiv_decision *d, size_t offer, indiv_offer_kind kind, double p,
                        double aff) {
    indiv_decided_offer *o = &d->offers[d->n_offers++];
    o->offer = offer;
    o->kind = kind;
    o->rank = d->n_offers;
    o->p = p;
    o->p_channel = p * 0.25;
    o->affinity = aff;
    o->value = p * 7.5;
    /* as the policy logs them: 1 for a relevant pick, ε · openness · P(pick) and the
     * category's lift for a divergent one */
    o->logged_p = kind == INDIV_KIND_DIVERGENT ? 0.0125 : 1;
    o->plausibility = kind == INDIV_KIND_DIVERGENT ? 2.385 : 0;
}

static json_t *line_of(const indiv_decision *d, const indiv_catalog *cat, const char *ext,
                       char **raw) {
    indiv_decision_ctx ctx = {cat, "model-x", UINT64_C(123456789012345), T0};
    indiv_buf b = {0};
    cr_assert_eq(indiv_decision_write_json(d, ext, &ctx, &b), 0);
    cr_assert_gt(b.len, 0);
    cr_assert_eq(b.data[b.len - 1], '\n', "a line ends with a newline");
    cr_assert_null(memchr(b.data, '\n', b.len - 1), "one line per decision");
    json_error_t je;
    json_t *o = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    cr_assert_not_null(o, "%s: %.*s", je.text, (int)b.len, b.data);
    if (raw) {
        *raw = strndup(b.data, b.len);
    }
    indiv_buf_free(&b);
    return o;
}

/* Asserts the keys of the raw line appear exactly as listed, in that order. */
static void assert_keys_in_order(const char *raw, const json_t *o,
                                 const char *const *keys) {
    size_t n = 0;
    const char *prev = raw;
    for (; keys[n]; n++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\":", keys[n]);
        const char *at = strstr(prev, quoted);
        cr_assert_not_null(at, "field %s missing or out of order in %s", keys[n], raw);
        prev = at;
    }
    cr_assert_eq(json_object_size(o), n, "%zu fields, documented %zu: %s",
                 json_object_size(o), n, raw);
}

/* Every real of a value, recursively, is finite (jansson cannot even hold others, but a
 * writer could print them). */
static void assert_numbers_finite(const json_t *v) {
    if (json_is_real(v))
        cr_assert(isfinite(json_real_value(v)));
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v))
        json_array_foreach(v, i, x) assert_numbers_finite(x);
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k, x) assert_numbers_finite(x);
}

static void assert_offer_fields(const json_t *offers, const indiv_decision *d) {
    cr_assert(json_is_array(offers));
    cr_assert_eq(json_array_size(offers), (size_t)d->n_offers);
    static const char *const rel[] = {
        "offer",         "name",     "category",       "rank",       "kind", "score",
        "channel_score", "affinity", "expected_value", "propensity", NULL};
    for (int k = 0; k < d->n_offers; k++) {
        json_t *o = json_array_get(offers, (size_t)k);
        size_t want = 10 + 2 * (d->offers[k].kind == INDIV_KIND_DIVERGENT);
        cr_assert_eq(json_object_size(o), want, "offer %d", k);
        for (const char *const *key = rel; *key; key++)
            cr_assert_not_null(json_object_get(o, *key), "offer %d lacks %s", k, *key);
        cr_assert_eq(json_integer_value(json_object_get(o, "rank")), k + 1);
        cr_assert_float_eq(json_number_value(json_object_get(o, "score")), d->offers[k].p,
                           1e-6 * d->offers[k].p);
        if (d->offers[k].kind == INDIV_KIND_DIVERGENT) {
            cr_assert_str_eq(str(o, "kind"), "divergent");
            cr_assert_float_eq(json_number_value(json_object_get(o, "distance")),
                               1 - d->offers[k].affinity, 1e-6);
            cr_assert_float_eq(json_number_value(json_object_get(o, "plausibility")),
                               2.385, 1e-6);
        } else {
            cr_assert_str_eq(str(o, "kind"), "relevant");
        }
        cr_assert_float_eq(json_number_value(json_object_get(o, "propensity")),
                           d->offers[k].logged_p, 1e-9);
    }
}

Test(decide, contact_line_has_every_documented_field_in_order) {
    indiv_catalog *cat = tiny_catalog();
    indiv_decision d = base_decision(INDIV_CONTACT, INDIV_R_RELEVANT);
    add_decided(&d, 1, INDIV_KIND_RELEVANT, 0.6123456789, 0.75);
    add_decided(&d, 0, INDIV_KIND_DIVERGENT, 0.07, 0.01);
    d.drivers[INDIV_TERM_AFFINITY] = 3.0;
    d.drivers[INDIV_TERM_POPULARITY] = 0.5;
    d.drivers[INDIV_TERM_READINESS] = -1.25;
    d.drivers[INDIV_TERM_FREQUENCY] = 0.1;
    d.divergence_drawn = 1;
    char *raw;
    json_t *o = line_of(&d, cat, "alice", &raw);
    static const char *const keys[] = {
        "consumer",     "action",  "reason",     "channel",   "send_at",
        "offers",       "drivers", "divergence", "propensity", "readiness", "contacts_recent",
        "personalised", "as_of",   "model",      "seed",      NULL};
    assert_keys_in_order(raw, o, keys);
    cr_assert_str_eq(str(o, "consumer"), "alice");
    cr_assert_str_eq(str(o, "action"), "contact");
    cr_assert_str_eq(str(o, "reason"), "relevant_offers");
    cr_assert_str_eq(str(o, "channel"), "sms");
    cr_assert_str_eq(str(o, "send_at"), "2026-06-01T19:00:00Z");
    cr_assert_str_eq(str(o, "as_of"), "2026-06-01T00:00:00Z");
    cr_assert_str_eq(str(o, "model"), "model-x");
    cr_assert_eq(json_integer_value(json_object_get(o, "seed")), 123456789012345);
    cr_assert_eq(json_integer_value(json_object_get(o, "contacts_recent")), 2);
    cr_assert(json_is_true(json_object_get(o, "personalised")));
    assert_offer_fields(json_object_get(o, "offers"), &d);
    json_t *o0 = json_array_get(json_object_get(o, "offers"), 0);
    cr_assert_str_eq(str(o0, "offer"), "o-2");
    cr_assert_str_eq(str(o0, "name"), "Blue \"scarf\"");
    cr_assert_str_eq(str(o0, "category"), "SCARF");
    /* Drivers: the three largest contributions by absolute value, largest first. */
    json_t *dr = json_object_get(o, "drivers");
    cr_assert_eq(json_array_size(dr), 3);
    static const char *const terms[] = {"affinity", "readiness", "popularity"};
    for (size_t k = 0; k < 3; k++)
        cr_assert_str_eq(str(json_array_get(dr, k), "term"), terms[k]);
    cr_assert_float_eq(
        json_number_value(json_object_get(json_array_get(dr, 1), "contribution")), -1.25,
        EPS);
    json_t *dv = json_object_get(o, "divergence");
    cr_assert(json_is_true(json_object_get(dv, "drawn")));
    cr_assert(json_is_true(json_object_get(dv, "placed")));
    cr_assert_null(json_object_get(dv, "why"));
    /* Reals have 6 significant digits. */
    cr_assert(strstr(raw, "\"readiness\":0.123457,"), "%s", raw);
    cr_assert(strstr(raw, "\"score\":0.612346,"), "%s", raw);
    assert_numbers_finite(o);
    free(raw);
    json_decref(o);
    indiv_catalog_free(cat);
}

Test(decide, defer_line_has_every_documented_field_in_order) {
    indiv_catalog *cat = tiny_catalog();
    indiv_decision d = base_decision(INDIV_DEFER, INDIV_R_NOT_READY);
    add_decided(&d, 0, INDIV_KIND_RELEVANT, 0.5, 0.9);
    d.drivers[INDIV_TERM_AFFINITY] = 3.6;
    char *raw;
    json_t *o = line_of(&d, cat, "bob", &raw);
    static const char *const keys[] = {"consumer",     "action",      "reason",
                                       "channel",      "defer_until", "offers",
                                       "drivers",      "propensity", "readiness",   "contacts_recent",
                                       "personalised", "as_of",       "model",
                                       "seed",         NULL};
    assert_keys_in_order(raw, o, keys);
    cr_assert_str_eq(str(o, "action"), "defer");
    cr_assert_str_eq(str(o, "reason"), "not_ready");
    cr_assert_str_eq(str(o, "defer_until"), "2026-06-01T19:00:00Z");
    cr_assert_null(json_object_get(o, "send_at"));
    assert_offer_fields(json_object_get(o, "offers"), &d);
    assert_numbers_finite(o);
    free(raw);
    json_decref(o);
    indiv_catalog_free(cat);
}

Test(decide, none_line_has_the_best_offer_or_nothing) {
    indiv_catalog *cat = tiny_catalog();
    indiv_decision d = base_decision(INDIV_NONE, INDIV_R_BELOW_THRESHOLD);
    d.has_best = 1;
    d.best_offer = 2;
    d.best_p = 0.2;
    d.divergence_drawn = 1;
    d.divergence_miss = INDIV_DIVMISS_NO_COMPANION;
    char *raw;
    json_t *o = line_of(&d, cat, "carol", &raw);
    static const char *const keys[] = {"consumer",   "action",          "reason",
                                       "best_offer", "best_score",      "divergence",
                                       "propensity", "readiness",  "contacts_recent", "personalised",
                                       "as_of",      "model",           "seed",
                                       NULL};
    assert_keys_in_order(raw, o, keys);
    cr_assert_str_eq(str(o, "action"), "none");
    cr_assert_str_eq(str(o, "reason"), "below_threshold");
    cr_assert_str_eq(str(o, "best_offer"), "o-3");
    cr_assert_float_eq(json_number_value(json_object_get(o, "best_score")), 0.2, EPS);
    json_t *dv = json_object_get(o, "divergence");
    cr_assert(json_is_false(json_object_get(dv, "placed")));
    cr_assert_str_eq(str(dv, "why"), "no_relevant_offer_to_ride_along");
    free(raw);
    json_decref(o);

    /* Ineligible: no score at all. */
    d = base_decision(INDIV_NONE, INDIV_R_NO_CONTACT_CONSENT);
    d.personalised = 0;
    d.readiness = 1;
    o = line_of(&d, cat, "dave", &raw);
    static const char *const bare[] = {
        "consumer",     "action", "reason", "propensity", "readiness", "contacts_recent",
        "personalised", "as_of",  "model",  "seed",      NULL};
    assert_keys_in_order(raw, o, bare);
    cr_assert(json_is_false(json_object_get(o, "personalised")));
    cr_assert_str_eq(str(o, "reason"), "no_contact_consent");
    free(raw);
    json_decref(o);

    /* Never ready: the offers it would have sent, but no channel and no time. */
    d = base_decision(INDIV_NONE, INDIV_R_NEVER_READY);
    d.channel = INDIV_CH_EMAIL;
    add_decided(&d, 0, INDIV_KIND_RELEVANT, 0.5, 0.9);
    o = line_of(&d, cat, "erin", &raw);
    static const char *const late[] = {
        "consumer",        "action",       "reason", "offers", "drivers", "propensity", "readiness",
        "contacts_recent", "personalised", "as_of",  "model",  "seed",    NULL};
    assert_keys_in_order(raw, o, late);
    cr_assert_str_eq(str(o, "reason"), "not_ready_within_horizon");
    free(raw);
    json_decref(o);
    indiv_catalog_free(cat);
}

Test(decide, non_finite_numbers_are_never_written) {
    indiv_catalog *cat = tiny_catalog();
    indiv_decision d = base_decision(INDIV_CONTACT, INDIV_R_RELEVANT);
    add_decided(&d, 0, INDIV_KIND_RELEVANT, 0.5, 0.9);
    d.readiness = NAN;
    d.offers[0].value = INFINITY;
    d.drivers[INDIV_TERM_AFFINITY] = -INFINITY;
    char *raw;
    json_t *o = line_of(&d, cat, "frank", &raw);
    cr_assert_not_null(json_object_get(o, "readiness"), "%s", raw);
    cr_assert_not_null(json_object_get(json_array_get(json_object_get(o, "offers"), 0),
                                       "expected_value"),
                       "%s", raw);
    assert_numbers_finite(o);
    free(raw);
    json_decref(o);
    indiv_catalog_free(cat);
}

Test(decide, ids_and_names_that_are_not_utf8_still_give_a_complete_line) {
    /* Imported logs are not always UTF-8 (Latin-1 product names); a line must still
     * name its consumer and offer rather than lose the field or the whole run. */
    indiv_catalog *cat = tiny_catalog();
    indiv_decision d = base_decision(INDIV_CONTACT, INDIV_R_RELEVANT);
    add_decided(&d, 2, INDIV_KIND_RELEVANT, 0.5, 0.9);
    char *raw;
    json_t *o = line_of(&d, cat, "J\xfcrgen", &raw);
    cr_assert_not_null(json_object_get(o, "consumer"), "%s", raw);
    cr_assert(!strncmp(str(o, "consumer"), "J", 1));
    json_t *o0 = json_array_get(json_object_get(o, "offers"), 0);
    cr_assert_not_null(json_object_get(o0, "name"), "%s", raw);
    cr_assert(!strncmp(str(o0, "name"), "Caf", 3));
    free(raw);
    json_decref(o);
    indiv_catalog_free(cat);
}

Test(decide, lines_of_any_length_append_whole_to_one_buffer) {
    /* 16 offers with a 700-byte name: a line of over 11 kB, far beyond the room the
     * writer first tries; short lines before and after it. */
    indiv_catalog *cat = tiny_catalog();
    indiv_decision_ctx ctx = {cat, "m", 1, T0};
    indiv_buf b = {0};
    size_t want_lines = 0;
    for (int i = 0; i < 40; i++) {
        indiv_decision d = base_decision(INDIV_CONTACT, INDIV_R_RELEVANT);
        int n = i % 7 == 3 ? INDIV_SLOTS_MAX : 1;
        for (int k = 0; k < n; k++)
            add_decided(&d, i % 7 == 3 ? 3 : 0, INDIV_KIND_RELEVANT, 0.5, 0.5);
        char ext[16];
        snprintf(ext, sizeof ext, "c%d", i);
        cr_assert_eq(indiv_decision_write_json(&d, ext, &ctx, &b), 0);
        want_lines++;
    }
    cr_assert_gt(b.len, 5 * 11000);
    size_t lines = 0;
    char *p = b.data, *end = b.data + b.len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        cr_assert_not_null(nl, "the last line is not terminated");
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        cr_assert_not_null(o, "line %zu: %s", lines + 1, je.text);
        char ext[16];
        snprintf(ext, sizeof ext, "c%zu", lines);
        cr_assert_str_eq(str(o, "consumer"), ext);
        json_decref(o);
        lines++;
        p = nl + 1;
    }
    cr_assert_eq(lines, want_lines);
    indiv_buf_free(&b);
    indiv_catalog_free(cat);
}

Test(decide, counts_add_up_by_action_and_reason) {
    indiv_decision_counts a = {0}, b = {0};
    indiv_decision d = base_decision(INDIV_CONTACT, INDIV_R_RELEVANT);
    add_decided(&d, 0, INDIV_KIND_RELEVANT, 0.5, 0.9);
    add_decided(&d, 1, INDIV_KIND_DIVERGENT, 0.1, 0.0);
    d.divergence_drawn = 1;
    indiv_decision_count(&a, &d);
    indiv_decision n = base_decision(INDIV_NONE, INDIV_R_BELOW_THRESHOLD);
    n.has_best = 1;
    n.best_p = 0.25;
    n.divergence_drawn = 1;
    n.divergence_miss = INDIV_DIVMISS_NO_COMPANION;
    indiv_decision_count(&b, &n);
    n.best_p = 0.15;
    indiv_decision_count(&b, &n);
    indiv_decision_counts_add(&a, &b);
    cr_assert_eq(a.consumers, 3);
    cr_assert_eq(a.by_action[INDIV_CONTACT], 1);
    cr_assert_eq(a.by_action[INDIV_NONE], 2);
    cr_assert_eq(a.by_reason[INDIV_R_BELOW_THRESHOLD], 2);
    cr_assert_eq(a.offers_sent, 2);
    cr_assert_eq(a.contacts_divergent, 1);
    cr_assert_eq(a.divergence_drawn, 3);
    cr_assert_eq(a.divergence_missed[INDIV_DIVMISS_NO_COMPANION], 2);
    cr_assert_eq(a.n_best_p_none, 2);
    cr_assert_float_eq(a.sum_best_p_none, 0.4, EPS);
    cr_assert_eq(a.personalised, 3);
}

Test(decide, shard_is_fnv1a_of_the_source_id) {
    /* FNV-1a 64 of "c001" = 5510194352750417545, of "alice" = 5803779529149266183. */
    cr_assert_eq(indiv_shard_of("c001", 3), 1);
    cr_assert_eq(indiv_shard_of("c001", 7), 5);
    cr_assert_eq(indiv_shard_of("alice", 3), 2);
    cr_assert_eq(indiv_shard_of("alice", 7), 1);
    cr_assert_eq(indiv_shard_of("alice", 1), 0);
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        int s = indiv_shard_of(id, 5);
        cr_assert(s >= 0 && s < 5);
    }
}

/* ---- the run on a tiny hand-built log ---------------------------------------------- */

/* Consumers, each with one reason to be (or not be) contacted. All of them bought ALPHA
 * offers (A0 scores p ≈ 0.8 for a pure ALPHA taste); A-old expired before T0. */
static void eligibility_log(void) {
    indiv_eventlog *log = open_log();
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    int64_t a0 = add_offer(log, "A0", "a zero", "ALPHA", INDIV_TS_NONE);
    int64_t old = add_offer(log, "A-old", "expired", "ALPHA", T0 - DAY_S);
    add_offer(log, "B0", "b zero", "BRAVO", INDIV_TS_NONE);
    static const struct {
        const char *ext;
        int profiling, contact;
        unsigned channels;
        int contacts;       /* contact events ... */
        double contact_age; /* ... this many days before T0 */
    } people[] = {
        {"ok", 1, 1, INDIV_CH_CONTACTABLE, 2, 3},
        {"no-contact", 1, 0, INDIV_CH_CONTACTABLE, 0, 0},
        {"no-channel", 1, 1, 0, 0, 0},
        {"unsub", 1, 1, INDIV_CH_CONTACTABLE, 0, 0},
        {"pressed", 1, 1, INDIV_CH_CONTACTABLE, 3, 2},
        {"pressed-np", 0, 1, INDIV_CH_CONTACTABLE, 3, 2},
        {"old-contacts", 1, 1, INDIV_CH_CONTACTABLE, 5, 20},
        {"np", 0, 1, INDIV_CH_BIT(INDIV_CH_PUSH), 0, 0},
        {"flooded", 1, 1, INDIV_CH_CONTACTABLE, 20, 5},
    };
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        int64_t c = add_consumer(log, people[i].ext, people[i].profiling,
                                 people[i].contact, people[i].channels);
        for (int k = 0; k < 4; k++)
            add_event(log, c, T0 - (40 - 7 * k) * DAY_S, k % 2 ? old : a0,
                      INDIV_EV_PURCHASE, INDIV_CH_WEB);
        for (int k = 0; k < people[i].contacts; k++)
            add_event(log, c, T0 - (int64_t)(people[i].contact_age * DAY_S) + k * 600, a0,
                      INDIV_EV_CONTACT, INDIV_CH_EMAIL);
    }
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    tu_build_profiles(log, T0);
    indiv_eventlog_close(log);
    /* Nothing in the API sets the unsubscribe time yet: set the column directly. */
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' \"UPDATE consumers SET unsubscribed_ts = %lld "
                       "WHERE ext_id = 'unsub'\"",
                       db, (long long)(T0 - DAY_S)),
                 0, "%s", r.err);
    tu_run_free(&r);
}

static json_t *run_eligibility(int max_contacts, int threads) {
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err), 0, "%s",
                 err.msg);
    indiv_decide_opts o = opts_at(T0, out);
    o.policy.max_contacts = max_contacts;
    o.policy.min_readiness = 0; /* nobody deferred: this test is about eligibility */
    o.policy.threshold = 0.1;   /* without a profile, A0 scores p = sigmoid(-2) = 0.12 */
    o.threads = threads;
    o.block = 2;
    indiv_decide_summary sum;
    run_ok(log, &o, &sum);
    indiv_eventlog_close(log);
    json_t *lines = read_lines(out);
    cr_assert_eq(json_array_size(lines), 9);
    cr_assert_eq(sum.counts.consumers, 9);
    cr_assert_eq(sum.offers, 3);
    cr_assert_eq(sum.offers_valid, 2, "A-old expired before the decision time");
    return lines;
}

static void expect(json_t *lines, const char *ext, const char *action,
                   const char *reason) {
    json_t *o = by_consumer(lines, ext);
    cr_assert_str_eq(str(o, "action"), action, "%s", ext);
    cr_assert_str_eq(str(o, "reason"), reason, "%s", ext);
    if (strcmp(action, "none") != 0)
        return;
    cr_assert_null(json_object_get(o, "channel"), "%s", ext);
    cr_assert_null(json_object_get(o, "send_at"), "%s", ext);
}

Test(decide, consent_unsubscribe_channels_and_pressure_are_respected) {
    eligibility_log();
    json_t *lines = run_eligibility(3, 2);
    expect(lines, "ok", "contact", "relevant_offers");
    expect(lines, "no-contact", "none", "no_contact_consent");
    expect(lines, "no-channel", "none", "no_accepted_channel");
    expect(lines, "unsub", "none", "unsubscribed");
    expect(lines, "pressed", "none", "pressure_cap");
    expect(lines, "pressed-np", "none", "pressure_cap"); /* counted from the log */
    expect(lines, "old-contacts", "contact", "relevant_offers");
    expect(lines, "np", "contact", "relevant_offers");
    expect(lines, "flooded", "none", "pressure_cap");
    json_t *ok = by_consumer(lines, "ok");
    cr_assert_eq(json_integer_value(json_object_get(ok, "contacts_recent")), 2);
    cr_assert_eq(json_integer_value(json_object_get(by_consumer(lines, "pressed-np"),
                                                    "contacts_recent")),
                 3);
    cr_assert_eq(json_integer_value(json_object_get(by_consumer(lines, "old-contacts"),
                                                    "contacts_recent")),
                 0);
    /* Only valid offers are proposed. */
    size_t i;
    json_t *o, *of;
    json_array_foreach(lines, i, o) {
        size_t k;
        json_array_foreach(json_object_get(o, "offers"), k, of)
            cr_assert_str_neq(str(of, "offer"), "A-old");
    }
    json_t *np = by_consumer(lines, "np");
    cr_assert(json_is_false(json_object_get(np, "personalised")));
    cr_assert_str_eq(str(np, "channel"), "push");
    cr_assert_float_eq(json_number_value(json_object_get(np, "readiness")), 1.0, EPS);
    cr_assert(json_is_true(json_object_get(ok, "personalised")));
    json_decref(lines);
}

Test(decide, the_cap_holds_beyond_the_contacts_a_profile_keeps) {
    /* "flooded" got 20 contacts five days ago; a profile keeps the last
     * INDIV_PRESSURE_SLOTS of them. A cap above that must still count all 20. */
    cr_assert_lt(INDIV_PRESSURE_SLOTS, 18);
    eligibility_log();
    json_t *lines = run_eligibility(18, 1);
    json_t *f = by_consumer(lines, "flooded");
    cr_assert_str_eq(str(f, "reason"), "pressure_cap");
    cr_assert_eq(json_integer_value(json_object_get(f, "contacts_recent")), 20);
    json_decref(lines);
    lines = run_eligibility(21, 1);
    f = by_consumer(lines, "flooded");
    cr_assert_str_eq(str(f, "action"), "contact");
    cr_assert_eq(json_integer_value(json_object_get(f, "contacts_recent")), 20);
    json_decref(lines);
}

/* ---- the run on generated worlds --------------------------------------------------- */

Test(decide, output_is_the_same_whatever_threads_and_block_size) {
    int64_t as_of;
    indiv_eventlog *log = world(300, 3, &as_of);
    static const struct {
        int threads;
        size_t block;
    } runs[] = {{1, 256}, {2, 256}, {2, 7},  {3, 1},
                {1, 1000}, {4, 64},  {2, 75}, {3, 100}}; /* the last two: whole rounds */
    char *first = NULL;
    indiv_decide_summary s0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%zu.jsonl", i);
        char *path = tu_path(dir, name);
        indiv_decide_opts o = opts_at(as_of, path);
        o.policy.serendipity = 0.5;
        o.threads = runs[i].threads;
        o.block = runs[i].block;
        indiv_decide_summary s;
        run_ok(log, &o, &s);
        if (!first) {
            first = path;
            s0 = s;
            continue;
        }
        cr_assert(tu_same_file(first, path), "threads %d block %zu differ",
                  runs[i].threads, runs[i].block);
        /* Block sums are added in block order: exact whatever the threads; another block
         * size groups the floating-point sum differently. */
        if (runs[i].block == runs[0].block)
            cr_assert_eq(memcmp(&s.counts, &s0.counts, sizeof s.counts), 0,
                         "threads %d: the counts differ", runs[i].threads);
        cr_assert_float_eq(s.counts.sum_best_p_none, s0.counts.sum_best_p_none, 1e-9);
        s.counts.sum_best_p_none = s0.counts.sum_best_p_none;
        cr_assert_eq(memcmp(&s.counts, &s0.counts, sizeof s.counts), 0,
                     "threads %d block %zu: the counts differ", runs[i].threads,
                     runs[i].block);
        free(path);
    }
    json_t *lines = read_lines(first);
    cr_assert_eq(json_array_size(lines), 300);
    cr_assert_gt(s0.counts.contacts_divergent, 0, "ε = 0.5 must give divergent offers");
    json_decref(lines);
    free(first);
    indiv_eventlog_close(log);
}

/* Collects the divergent pick of every consumer (or "-"). */
typedef struct picks {
    char **ids;
    size_t n, cap;
    int64_t last_id;
} picks;

static int collect(void *ctx, const indiv_decision *d, const char *ext_id) {
    picks *p = ctx;
    cr_assert_gt(d->consumer_id, p->last_id, "decisions come in consumer order");
    p->last_id = d->consumer_id;
    char buf[64] = "-";
    for (int k = 0; k < d->n_offers; k++)
        if (d->offers[k].kind == INDIV_KIND_DIVERGENT)
            snprintf(buf, sizeof buf, "%zu", d->offers[k].offer);
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->ids = realloc(p->ids, p->cap * sizeof *p->ids);
    }
    size_t n = strlen(ext_id) + strlen(buf) + 2;
    p->ids[p->n] = malloc(n);
    snprintf(p->ids[p->n++], n, "%s %s", ext_id, buf);
    return 0;
}

static void picks_free(picks *p) {
    for (size_t i = 0; i < p->n; i++)
        free(p->ids[i]);
    free(p->ids);
}

Test(decide, another_seed_changes_divergent_picks_and_the_same_seed_does_not) {
    int64_t as_of;
    indiv_eventlog *log = world(300, 4, &as_of);
    picks runs[3] = {{0}, {0}, {0}};
    static const uint64_t seeds[3] = {7, 7, 8};
    for (int k = 0; k < 3; k++) {
        indiv_decide_opts o = opts_at(as_of, NULL);
        o.on_decision = collect;
        o.ctx = &runs[k];
        o.policy.serendipity = 1;
        o.policy.seed = seeds[k];
        o.threads = k + 1;
        run_ok(log, &o, NULL);
        cr_assert_eq(runs[k].n, 300);
    }
    int changed = 0, divergent = 0;
    for (size_t i = 0; i < 300; i++) {
        cr_assert_str_eq(runs[0].ids[i], runs[1].ids[i]);
        changed += strcmp(runs[0].ids[i], runs[2].ids[i]) != 0;
        divergent += strcmp(strrchr(runs[0].ids[i], ' ') + 1, "-") != 0;
    }
    cr_assert_gt(divergent, 20, "the world must have divergent picks to compare");
    cr_assert_gt(changed, 0, "seed 8 picked exactly as seed 7");
    for (int k = 0; k < 3; k++)
        picks_free(&runs[k]);
    indiv_eventlog_close(log);
}

Test(decide, the_callback_sees_what_the_file_holds_in_order) {
    int64_t as_of;
    indiv_eventlog *log = world(150, 5, &as_of);
    picks p = {0};
    indiv_decide_opts o = opts_at(as_of, out);
    o.on_decision = collect;
    o.ctx = &p;
    o.block = 16;
    o.policy.serendipity = 0.5;
    run_ok(log, &o, NULL);
    json_t *lines = read_lines(out);
    cr_assert_eq(json_array_size(lines), p.n);
    for (size_t i = 0; i < p.n; i++) {
        const char *ext = str(json_array_get(lines, i), "consumer");
        cr_assert_eq(strncmp(p.ids[i], ext, strlen(ext)), 0, "line %zu: %s vs %s", i, ext,
                     p.ids[i]);
    }
    json_decref(lines);
    picks_free(&p);
    indiv_eventlog_close(log);
}

static int stop_at_ten(void *ctx, const indiv_decision *d, const char *ext_id) {
    (void)d;
    (void)ext_id;
    return ++*(int *)ctx == 10 ? 1 : 0;
}

Test(decide, a_callback_that_stops_leaves_no_file_behind) {
    int64_t as_of;
    indiv_eventlog *log = world(100, 6, &as_of);
    tu_write(out, "previous run\n");
    int seen = 0;
    indiv_decide_opts o = opts_at(as_of, out);
    o.on_decision = stop_at_ten;
    o.ctx = &seen;
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_summary sum;
    indiv_error err = {0};
    cr_assert_neq(indiv_decide_run(log, &m, &o, NULL, NULL, &sum, &err), 0);
    cr_assert_eq(seen, 10);
    char *text = tu_read(out, NULL);
    cr_assert_str_eq(text, "previous run\n");
    free(text);
    static const char *const keep[] = {"log.db", "decisions.jsonl", NULL};
    cr_assert_eq(extra_files(keep), 0, "a temporary file was left behind");
    indiv_eventlog_close(log);
}

Test(decide, shards_partition_the_run) {
    int64_t as_of;
    indiv_eventlog *log = world(300, 9, &as_of);
    indiv_decide_opts o = opts_at(as_of, out);
    o.policy.serendipity = 0.5;
    indiv_decide_summary all;
    run_ok(log, &o, &all);
    json_t *whole = read_lines(out);
    json_t *seen = json_object();
    int64_t total = 0;
    for (int s = 0; s < 3; s++) {
        char name[32];
        snprintf(name, sizeof name, "shard%d.jsonl", s);
        char *path = tu_path(dir, name);
        indiv_decide_opts so = opts_at(as_of, path);
        so.policy.serendipity = 0.5;
        so.shard_index = s;
        so.shard_count = 3;
        indiv_decide_summary sum;
        run_ok(log, &so, &sum);
        json_t *part = read_lines(path);
        cr_assert_gt(json_array_size(part), 50, "shard %d holds %zu lines", s,
                     json_array_size(part));
        total += sum.counts.consumers;
        size_t i;
        json_t *line;
        json_array_foreach(part, i, line) {
            const char *ext = str(line, "consumer");
            cr_assert_eq(indiv_shard_of(ext, 3), s);
            cr_assert_null(json_object_get(seen, ext), "%s in two shards", ext);
            json_object_set(seen, ext, line);
        }
        json_decref(part);
        free(path);
    }
    cr_assert_eq(total, all.counts.consumers);
    cr_assert_eq(json_object_size(seen), json_array_size(whole));
    size_t i;
    json_t *line;
    json_array_foreach(whole, i, line) {
        json_t *twin = json_object_get(seen, str(line, "consumer"));
        cr_assert_not_null(twin);
        cr_assert(json_equal(line, twin), "%s differs in its shard",
                  str(line, "consumer"));
    }
    json_decref(seen);
    json_decref(whole);
    indiv_eventlog_close(log);
}

/* Over a generated world, the number of successful divergence draws matches Σ ε·openness
 * over the consumers who reach the divergence step (personalised, eligible, some valid
 * offer), a Poisson-binomial count, within the CONFIDENCE normal interval. */
typedef struct share {
    indiv_eventlog *log;
    double eps, mean, var;
    int64_t drawn, reached;
} share;

static int tally(void *ctx, const indiv_decision *d, const char *ext_id) {
    (void)ext_id;
    share *s = ctx;
    int reached = d->personalised && d->has_best;
    cr_assert(reached || !d->divergence_drawn);
    if (!reached)
        return 0;
    indiv_profile pr;
    indiv_profile_init(&pr);
    indiv_error err = {0};
    cr_assert_eq(indiv_profile_load(s->log, d->consumer_id, &pr, &err), 0, "%s", err.msg);
    cr_assert(pr.features & INDIV_FEAT_OPENNESS);
    double q = s->eps * pr.openness;
    s->mean += q;
    s->var += q * (1 - q);
    s->drawn += d->divergence_drawn;
    s->reached++;
    indiv_profile_clear(&pr);
    return 0;
}

Test(decide, divergence_draws_match_epsilon_times_openness) {
    int64_t as_of;
    indiv_eventlog *log = world(600, 10, &as_of);
    static const double eps[] = {0.3, 0.9};
    for (size_t k = 0; k < 2; k++) {
        share s = {log, eps[k], 0, 0, 0, 0};
        indiv_decide_opts o = opts_at(as_of, NULL);
        o.on_decision = tally;
        o.ctx = &s;
        o.policy.serendipity = eps[k];
        o.policy.seed = 100 + k;
        run_ok(log, &o, NULL);
        cr_assert_gt(s.reached, 200);
        double hw = gsl_cdf_ugaussian_Pinv(1 - (1 - CONFIDENCE) / 2) * sqrt(s.var);
        cr_assert(fabs((double)s.drawn - s.mean) <= hw,
                  "ε %.1f: %lld draws among %lld consumers, expected %.1f ± %.1f", eps[k],
                  (long long)s.drawn, (long long)s.reached, s.mean, hw);
    }
    indiv_eventlog_close(log);
}

/* ---- errors ------------------------------------------------------------------------ */

static void assert_refused(indiv_eventlog *log, const indiv_model *m,
                           const indiv_decide_opts *o, const char *what) {
    indiv_decide_summary sum;
    indiv_error err = {0};
    int rc = indiv_decide_run(log, m, o, NULL, NULL, &sum, &err);
    cr_assert_lt(rc, 0, "%s was accepted", what);
    cr_assert(strstr(err.msg, what), "'%s' lacks '%s'", err.msg, what);
    char *text = tu_read(out, NULL);
    cr_assert_str_eq(text, "previous run\n", "%s: the output was touched", what);
    free(text);
    static const char *const keep[] = {"log.db", "decisions.jsonl", NULL};
    cr_assert_eq(extra_files(keep), 0, "%s: a temporary file was left behind", what);
}

Test(decide, every_refusal_leaves_the_output_untouched) {
    int64_t as_of;
    indiv_eventlog *log = world(60, 11, &as_of);
    tu_write(out, "previous run\n");
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_opts o = opts_at(as_of, out);
    o.threads = 0;
    assert_refused(log, &m, &o, "threads");
    o = opts_at(as_of, out);
    o.block = 0;
    assert_refused(log, &m, &o, "block");
    o = opts_at(as_of, out);
    o.shard_index = 3;
    o.shard_count = 3;
    assert_refused(log, &m, &o, "shard 3/3");
    o = opts_at(as_of, out);
    o.policy.threshold = NAN;
    assert_refused(log, &m, &o, "threshold");
    o = opts_at(as_of, out);
    o.policy.slots = 0;
    assert_refused(log, &m, &o, "slots");
    o = opts_at(as_of - DAY_S, out); /* before the profiles were built */
    assert_refused(log, &m, &o, "after the decision time");
    o = opts_at(as_of, out);
    m.weight[INDIV_TERM_AFFINITY] = INFINITY;
    assert_refused(log, &m, &o, "affinity");
    indiv_model_default(&m);
    snprintf(m.feature_space, sizeof m.feature_space, "emb");
    assert_refused(log, &m, &o, "feature_space");
    indiv_eventlog_close(log);
}

static int count_seen(void *ctx, const indiv_decision *d, const char *ext_id) {
    (void)d;
    (void)ext_id;
    ++*(int *)ctx;
    return 0;
}

/* With 2+ threads the next round is read while the current one is worked: a profile
 * that cannot be read there still stops the run after exactly the rounds before its
 * own, as reading in turn does (1 thread), with its own message and no output. */
Test(decide, an_unreadable_profile_stops_the_run_after_the_rounds_before_it) {
    int64_t as_of;
    indiv_eventlog *log = world(60, 12, &as_of);
    indiv_consumer_cursor *cur;
    indiv_consumer_row row;
    indiv_profile_row prow;
    int has, at = -1, i = 0;
    int64_t id = 0;
    cr_assert_eq(indiv_eventlog_consumer_scan(log, &cur, NULL), 0);
    for (; indiv_consumer_cursor_next(cur, &row, &prow, &has, NULL) > 0; i++)
        if (has && i < 50) { /* a later round, not the last */
            at = i;
            id = row.id;
        }
    indiv_consumer_cursor_free(cur);
    cr_assert_geq(at, 20, "the world must have profiles in later rounds");
    double blob[2] = {0, 0};
    indiv_profile_row bad = {id, as_of, 1, INDIV_PROFILE_VERSION + 1, blob, sizeof blob};
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_profile_put(log, &bad, NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_model m;
    indiv_model_default(&m);
    for (int t = 1; t <= 3; t++) {
        tu_write(out, "previous run\n");
        int seen = 0;
        indiv_decide_opts o = opts_at(as_of, out);
        o.threads = t;
        o.block = 4;
        o.on_decision = count_seen;
        o.ctx = &seen;
        o.policy.serendipity = 0; /* no pass over the profiles before the rounds */
        indiv_decide_summary sum;
        indiv_error err = {0};
        cr_assert_lt(indiv_decide_run(log, &m, &o, NULL, NULL, &sum, &err), 0);
        cr_assert(strstr(err.msg, "profile of consumer"), "%s", err.msg);
        int round = 4 * t;
        cr_assert_eq(seen, at / round * round, "%d threads: %d decisions seen", t, seen);
        char *text = tu_read(out, NULL);
        cr_assert_str_eq(text, "previous run\n", "%d threads: the output was touched", t);
        free(text);
    }
    indiv_eventlog_close(log);
}

/* The feature space of the stored profiles is read by the same reader as the profile
 * builder's: a value it cannot read stops the run instead of letting it pass. */
Test(decide, profiles_whose_feature_space_cannot_be_read_are_refused) {
    int64_t as_of;
    indiv_eventlog *log = world(30, 11, &as_of);
    tu_write(out, "previous run\n");
    char buf[4096];
    cr_assert_eq(indiv_eventlog_meta_get(log, "profile_params", buf, sizeof buf, NULL),
                 0);
    json_t *j = json_loads(buf, 0, NULL);
    cr_assert_eq(json_object_set_new(j, "feature_source", json_integer(42)), 0);
    char *txt = json_dumps(j, JSON_COMPACT);
    cr_assert_eq(indiv_eventlog_meta_set(log, "profile_params", txt, NULL), 0);
    free(txt);
    json_decref(j);
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_opts o = opts_at(as_of, out);
    assert_refused(log, &m, &o, "feature_source");
    indiv_eventlog_close(log);
}

Test(decide, an_unwritable_output_place_is_an_error_naming_it) {
    int64_t as_of;
    indiv_eventlog *log = world(30, 12, &as_of);
    char *bad = tu_path(dir, "missing-dir/d.jsonl");
    indiv_decide_opts o = opts_at(as_of, bad);
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_summary sum;
    indiv_error err = {0};
    cr_assert_eq(indiv_decide_run(log, &m, &o, NULL, NULL, &sum, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, bad), "%s", err.msg);
    free(bad);
    indiv_eventlog_close(log);
}

Test(decide, summary_json_records_parameters_and_counts) {
    int64_t as_of;
    indiv_eventlog *log = world(100, 13, &as_of);
    indiv_decide_opts o = opts_at(as_of, out);
    o.policy.threshold = 0.25;
    o.policy.slots = 2;
    o.policy.rank_by_value = 1;
    o.policy.serendipity = 0.4;
    o.policy.divergence = INDIV_DIV_STANDALONE;
    o.policy.seed = 77;
    o.shard_index = 1;
    o.shard_count = 2;
    o.threads = 1;
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_summary sum;
    run_ok(log, &o, &sum);
    char *txt = indiv_decide_summary_json(&o, &m, &sum);
    cr_assert_not_null(txt);
    json_error_t je;
    json_t *root = json_loads(txt, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    json_t *p = json_object_get(root, "parameters");
    cr_assert_float_eq(json_number_value(json_object_get(p, "threshold")), 0.25, EPS);
    cr_assert_eq(json_integer_value(json_object_get(p, "slots")), 2);
    cr_assert_str_eq(str(p, "rank_by"), "value");
    cr_assert_float_eq(json_number_value(json_object_get(p, "serendipity")), 0.4, EPS);
    cr_assert_str_eq(str(p, "divergence"), "standalone");
    cr_assert_eq(json_integer_value(json_object_get(p, "seed")), 77);
    cr_assert_str_eq(str(p, "shard"), "1/2");
    cr_assert_eq(json_integer_value(json_object_get(p, "threads")), 1);
    char iso[INDIV_ISO_LEN];
    cr_assert_str_eq(str(p, "as_of"), indiv_time_format(as_of, iso));
    cr_assert_str_eq(str(root, "model"), "default-category-v1");
    json_t *c = json_object_get(root, "counts");
    cr_assert_eq(json_integer_value(json_object_get(c, "consumers")),
                 sum.counts.consumers);
    json_t *lines = read_lines(out);
    cr_assert_eq((size_t)sum.counts.consumers, json_array_size(lines));
    int64_t by_action = 0, by_reason = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(c, "by_action"), k, v) by_action +=
        json_integer_value(v);
    json_object_foreach(json_object_get(c, "by_reason"), k, v) by_reason +=
        json_integer_value(v);
    cr_assert_eq(by_action, sum.counts.consumers);
    cr_assert_eq(by_reason, sum.counts.consumers);
    json_t *d = json_object_get(root, "data");
    cr_assert_eq(json_integer_value(json_object_get(d, "consumers_in_database")), 100);
    cr_assert(json_is_true(json_object_get(d, "profiles_built")));
    json_decref(lines);
    json_decref(root);
    free(txt);
    indiv_eventlog_close(log);
}

/* ---- --exclude-bought ------------------------------------------------------------------ */

struct bought_check {
    indiv_eventlog *log;
    indiv_catalog *cat;
    indiv_profile pr;
    int64_t offers, bought_offers;
};

/* Counts the decided offers, and those in the person's purchase history. */
static int check_bought(void *ctx, const indiv_decision *d, const char *ext) {
    struct bought_check *c = ctx;
    (void)ext;
    if (indiv_profile_load(c->log, d->consumer_id, &c->pr, NULL) != INDIV_OK)
        return 0;
    for (int k = 0; k < d->n_offers; k++) {
        c->offers++;
        c->bought_offers += indiv_profile_history_find(
                                &c->pr, indiv_catalog_offer(c->cat, d->offers[k].offer)->id) != NULL;
    }
    return 0;
}

Test(decide, exclude_bought_never_proposes_an_offer_the_person_bought) {
    int64_t as_of;
    indiv_eventlog *log = world(300, 11, &as_of);
    struct bought_check c = {.log = log};
    indiv_profile_init(&c.pr);
    cr_assert_eq(indiv_catalog_load(log, &c.cat, NULL), 0);
    indiv_decide_opts o = opts_at(as_of, NULL);
    o.on_decision = check_bought;
    o.ctx = &c;
    o.policy.threshold = 0.05;
    o.policy.serendipity = 1; /* divergent offers too */
    run_ok(log, &o, NULL);
    cr_assert_gt(c.bought_offers, 0, "without the flag, bought offers are proposed");
    c.offers = c.bought_offers = 0;
    o.policy.exclude_bought = 1;
    run_ok(log, &o, NULL);
    cr_assert_gt(c.offers, 0);
    cr_assert_eq(c.bought_offers, 0, "%lld of %lld offers were bought before",
                 (long long)c.bought_offers, (long long)c.offers);
    indiv_profile_clear(&c.pr);
    indiv_catalog_free(c.cat);
    indiv_eventlog_close(log);
}
