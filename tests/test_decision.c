/*
 * test_decision.c — the direct line writer against the jansson form it replaces
 * (decision_internal.h): byte for byte, on decisions of every shape, on strings that
 * need escaping or are not UTF-8, and on reals at the edges of the short path (decades,
 * rounding ties, signs, the exponent form).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decision_internal.h"
#include "indiv/catalog.h"
#include "indiv/decision.h"
#include "indiv/eventlog.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
#define T0    INT64_C(1780272000) /* 2026-06-01T00:00:00Z */

static char *dir, *db;

static void setup(void) {
    tu_dir_db_new("log.db", &dir, &db);
}

static void teardown(void) {
    tu_dir_db_free(dir, db);
}

TestSuite(decision, .init = setup, .fini = teardown);

/* ---- reals -------------------------------------------------------------------------- */

/* jansson's bytes for json_real(v). */
static void jansson_real(double v, char *out, size_t cap) {
    json_t *j = json_real(v);
    cr_assert_not_null(j);
    size_t n = json_dumpb(j, out, cap - 1, FLAGS | JSON_ENCODE_ANY);
    cr_assert(n > 0 && n < cap);
    out[n] = '\0';
    json_decref(j);
}

static void assert_real_same(double v) {
    char want[64], got[INDIV_JSON_REAL_LEN];
    jansson_real(v, want, sizeof want);
    size_t n = indiv_json_real6(got, v);
    cr_assert_eq(n, strlen(got), "length of %.17g", v);
    cr_assert_str_eq(got, want, "%.17g", v);
}

Test(decision, reals_at_the_edges_print_as_jansson_prints_them) {
    static const double table[] = {0,
                                   -0.0,
                                   1,
                                   -1,
                                   0.5,
                                   0.1,
                                   0.2,
                                   0.3,
                                   1e-4,
                                   -1e-4,
                                   9.99999e-5,
                                   1e-5,
                                   1e-300,
                                   DBL_MIN,
                                   5e-324,
                                   1e6,
                                   999999.4,
                                   999999.5,
                                   999999.6,
                                   999999.49,
                                   123456.5,
                                   123456.7,
                                   100000,
                                   99999.95,
                                   99999.949,
                                   1e5,
                                   2.385,
                                   0.0974589,
                                   0.912383,
                                   5.68512,
                                   1e21,
                                   -1e21,
                                   DBL_MAX,
                                   -DBL_MAX,
                                   0.0001000005,
                                   0.000999999,
                                   0.0009999995,
                                   0.00099999949,
                                   1.0000005,
                                   1.0000015,
                                   9.9999995,
                                   12345.65,
                                   0.25,
                                   0.125,
                                   0.0625,
                                   1.5,
                                   2.5,
                                   1234.5,
                                   3.14159265358979,
                                   -2.718281828,
                                   1.23456789e8,
                                   7e-7};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        assert_real_same(table[i]);
    /* Each side of every power of ten the short path compares with. */
    for (int e = -6; e <= 8; e++) {
        double p = pow(10, e);
        assert_real_same(p);
        assert_real_same(nextafter(p, 0));
        assert_real_same(nextafter(p, 2 * p));
        assert_real_same(-nextafter(p, 0));
    }
}

Test(decision, many_reals_print_as_jansson_prints_them) {
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) / 9007199254740992.0; /* [0, 1) */
        int e = (int)(s % 15) - 8;                         /* 1e-8 .. 1e6 */
        double v = u * pow(10, e);
        assert_real_same((s >> 7) & 1 ? -v : v);
        /* 7 significant digits ending in 5: the rounding ties of decimal text */
        double t = (floor(u * 9e6) + 1e6 + 0.5) / 1e6 * pow(10, e % 7);
        assert_real_same(t);
        /* 6 digits exactly: trailing zeros are dropped */
        assert_real_same(floor(u * 9e5 + 1e5) * pow(10, e % 7 - 5));
    }
}

/* ---- lines -------------------------------------------------------------------------- */

static const char *const names[] = {"plain name",
                                    "Blue \"scarf\"",
                                    "back\\slash",
                                    "Caf\xe9 cr\xe8me",
                                    "tab\there",
                                    "bell\x01 and \x1f",
                                    "del\x7f",
                                    "caf\xc3\xa9 (UTF-8)",
                                    "\xe2\x82\xac 5",
                                    "/slash/",
                                    "",
                                    "broken \xc3",
                                    "\xf0\x9f\x98\x80 emoji"};
#define N_NAMES (sizeof names / sizeof *names)

/* A catalog whose offers carry the names above (as id, name and category). */
static indiv_catalog *odd_catalog(void) {
    indiv_eventlog *log = tu_open_log(db);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    for (size_t i = 0; i < N_NAMES; i++) {
        char id[64], cat[64];
        snprintf(id, sizeof id, "o-%zu%s", i, i % 3 ? "" : names[i]);
        snprintf(cat, sizeof cat, "cat %s", names[(i + 5) % N_NAMES]);
        indiv_offer_rec o = {id, names[i], cat, 25.0, 0.3, INDIV_TS_NONE, INDIV_TS_NONE};
        int64_t oid;
        indiv_error err = {0};
        cr_assert_eq(indiv_eventlog_add_offer(log, &o, &oid, NULL, &err), 0, "%s",
                     err.msg);
    }
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_catalog *cat;
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load(log, &cat, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
    return cat;
}

/* Decision number i of a sweep over actions, reasons, offers, kinds and reals. */
static indiv_decision sweep_decision(unsigned i, size_t n_offers_in_catalog) {
    static const double reals[] = {0.912383, 1,   0,        -0.0,  1e-7,      123456789,
                                   0.5,      NAN, INFINITY, 2.385, 0.0974589, -3.25};
    const size_t nr = sizeof reals / sizeof *reals;
    indiv_decision d;
    memset(&d, 0, sizeof d);
    d.consumer_id = i;
    d.action = (indiv_action)(i % 3);
    d.reason = (indiv_reason)(i % INDIV_R_COUNT);
    d.personalised = (int)(i / 3 % 2);
    d.channel = d.action == INDIV_NONE ? 0 : (int)(1 + i % 3);
    d.send_at = T0 + (int64_t)(i % 48) * 3600 - (i % 7 == 0 ? 400 * 365 * 86400LL : 0);
    d.readiness = reals[i % nr];
    d.n_offers = (int)(i / 2 % (INDIV_SLOTS_MAX + 1));
    for (int k = 0; k < d.n_offers; k++) {
        indiv_decided_offer *o = &d.offers[k];
        o->offer = (i + 3 * (unsigned)k) % n_offers_in_catalog;
        o->kind = (indiv_offer_kind)((i + (unsigned)k) % 3);
        o->rank = k + 1;
        o->p = reals[(i + (unsigned)k) % nr];
        o->p_channel = reals[(i + 2 * (unsigned)k + 1) % nr];
        o->affinity = reals[(i + 5) % nr];
        o->value = reals[(i * 7 + (unsigned)k) % nr] * 11.5;
        o->logged_p = reals[(i + 3) % nr];
        o->plausibility = (i / 5) % 2 ? reals[(i + 4) % nr] : 0;
    }
    d.has_best = (int)(i % 4 != 0);
    d.best_offer = i % n_offers_in_catalog;
    d.best_p = reals[(i + 6) % nr];
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        d.drivers[t] = reals[(i + (unsigned)t) % nr] * (t % 2 ? -1 : 1);
    d.divergence_drawn = (int)(i % 5 == 1);
    d.divergence_miss = (indiv_divergence_miss)(i / 5 % 4);
    d.contacts_recent = (int)(i % 11) - 1;
    d.control = (int)(i % 9 == 4);
    d.propensity = reals[(i + 1) % nr];
    return d;
}

/* The jansson form's bytes plus the newline. */
static char *jansson_line(const indiv_decision *d, const char *ext,
                          const indiv_decision_ctx *ctx) {
    json_t *o = indiv_decision_json(d, ext, ctx);
    cr_assert_not_null(o);
    char *s = json_dumps(o, FLAGS);
    cr_assert_not_null(s);
    json_decref(o);
    size_t n = strlen(s);
    char *line = malloc(n + 2);
    memcpy(line, s, n);
    memcpy(line + n, "\n", 2);
    free(s);
    return line;
}

Test(decision, lines_are_the_jansson_form_byte_for_byte) {
    indiv_catalog *cat = odd_catalog();
    static const char *const models[] = {"default-category-v1", "m \"quoted\"",
                                         "\xe9t\xe9"};
    static const uint64_t seeds[] = {1, UINT64_C(123456789012345), UINT64_MAX};
    indiv_buf b = {0};
    for (unsigned i = 0; i < 2000; i++) {
        indiv_decision d = sweep_decision(i, indiv_catalog_size(cat));
        indiv_decision_ctx ctx = {cat, models[i % 3], seeds[i / 3 % 3], i % 2 ? T0 : -T0};
        const char *ext = names[i % N_NAMES];
        size_t before = b.len;
        cr_assert_eq(indiv_decision_write_json(&d, ext, &ctx, &b), 0);
        char *want = jansson_line(&d, ext, &ctx);
        size_t n = strlen(want);
        cr_assert_eq(b.len - before, n, "decision %u:\n got %.*s want %s", i,
                     (int)(b.len - before), b.data + before, want);
        cr_assert_eq(memcmp(b.data + before, want, n), 0,
                     "decision %u:\n got %.*s want %s", i, (int)n, b.data + before, want);
        free(want);
    }
    indiv_buf_free(&b);
    indiv_catalog_free(cat);
}
