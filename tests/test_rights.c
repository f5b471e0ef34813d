/*
 * test_rights.c — the data rights (rights.h): erasure leaves no row about the person in
 * any table (every table of sqlite_master checked, per-person tables and text columns)
 * and keeps offer_daily equal to what the remaining events give; export holds every
 * event of the person; a consent change is honoured by the next decision; retention
 * counts, purges and records its run; models trained on erased data are marked (also
 * when registered after the erasure); unknown ids and bad fields are refused with
 * nothing changed.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/profile.h"
#include "indiv/rights.h"
#include "indiv/sim.h"
#include "testutil.h"

#define DAY_S INT64_C(86400)
#define NOW   INT64_C(1780272000) /* 2026-06-01T00:00:00Z, the caller's clock */

static char *dir, *db;

static void setup(void) {
    tu_dir_db_new("log.db", &dir, &db);
}

static void teardown(void) {
    tu_dir_db_free(dir, db);
}

TestSuite(rights, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

static indiv_eventlog *open_rw(void) {
    return tu_open_log(db);
}

/* A generated world of 40 consumers (truth tables filled) with profiles. */
static indiv_eventlog *world(int64_t *start, int64_t *end) {
    indiv_eventlog *log = open_rw();
    indiv_world_params wp;
    indiv_world_params_init(&wp);
    wp.consumers = 40;
    wp.offers = 30;
    wp.categories = 5;
    wp.days = 90;
    wp.seed = 11;
    indiv_error err = {0};
    cr_assert_eq(indiv_world_generate(log, &wp, NULL, NULL, NULL, &err), 0, "%s",
                 err.msg);
    *start = wp.start_ts;
    *end = wp.start_ts + wp.days * DAY_S;
    tu_build_profiles(log, *end);
    return log;
}

static int64_t count_sql(indiv_eventlog *log, const char *sql, int64_t id) {
    sqlite3 *h;
    sqlite3_stmt *s;
    cr_assert_eq(
        sqlite3_open_v2(indiv_eventlog_path(log), &h, SQLITE_OPEN_READONLY, NULL),
        SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(h));
    if (sqlite3_bind_parameter_count(s) > 0)
        sqlite3_bind_int64(s, 1, id);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

/* The profiled consumer with the most events (a person worth erasing), and its id. */
static const char *busiest(indiv_eventlog *log, char buf[64], int64_t *id) {
    *id = count_sql(log,
                    "SELECT consumer_id FROM events WHERE consumer_id IN"
                    " (SELECT consumer_id FROM profiles) GROUP BY consumer_id"
                    " ORDER BY count(*) DESC, consumer_id LIMIT 1",
                    0);
    indiv_consumer_row row;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_consumer_get(log, *id, &row, buf, 64, &err), 0, "%s",
                 err.msg);
    return buf;
}

/* Rows of any table, any column, that could name the person: a consumer_id (or
 * consumers.id) equal to id, or any text equal to ext_id. Walks sqlite_master. */
static int64_t rows_mentioning(const char *path, int64_t id, const char *ext_id,
                               int report) {
    sqlite3 *h;
    sqlite3_stmt *t, *c;
    int64_t found = 0;
    cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h,
                                    "SELECT m.name, c.name FROM sqlite_master m,"
                                    " pragma_table_info(m.name) c WHERE m.type = 'table'",
                                    -1, &t, NULL),
                 SQLITE_OK);
    while (sqlite3_step(t) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(t, 0);
        const char *col = (const char *)sqlite3_column_text(t, 1);
        int id_col = strcmp(col, "consumer_id") == 0 ||
                     (strcmp(table, "consumers") == 0 && strcmp(col, "id") == 0);
        char *sql =
            sqlite3_mprintf("SELECT count(*) FROM \"%w\" WHERE (%d AND \"%w\" = ?1)"
                            " OR CAST(\"%w\" AS TEXT) = ?2",
                            table, id_col, col, col);
        cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &c, NULL), SQLITE_OK, "%s", sql);
        sqlite3_bind_int64(c, 1, id);
        sqlite3_bind_text(c, 2, ext_id, -1, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(c), SQLITE_ROW);
        int64_t n = sqlite3_column_int64(c, 0);
        if (n && report)
            cr_log_error("%s.%s: %lld rows", table, col, (long long)n);
        found += n;
        sqlite3_finalize(c);
        sqlite3_free(sql);
    }
    sqlite3_finalize(t);
    sqlite3_close(h);
    return found;
}

static void consent(indiv_eventlog *log, const char *ext, int profiling, int contact,
                    int channels) {
    indiv_consent_change c = {profiling, contact, channels};
    indiv_error err = {0};
    cr_assert_eq(indiv_rights_consent(log, ext, &c, NOW, NULL, &err), 0, "%s", err.msg);
}

/* A model as `indiv train` writes it: provenance with as_of and trained_at. */
static void fake_model(indiv_model *m, const char *id, const char *as_of,
                       const char *trained_at) {
    char prov[256];
    indiv_model_default(m);
    snprintf(m->id, sizeof m->id, "%s", id);
    snprintf(prov, sizeof prov, "{\"as_of\": \"%s\", \"trained_at\": \"%s\"}", as_of,
             trained_at);
    indiv_error err = {0};
    cr_assert_eq(indiv_model_set_provenance(m, prov, &err), 0, "%s", err.msg);
}

/* ---- erasure ----------------------------------------------------------------------- */

Test(rights, forget_leaves_no_row_mentioning_the_consumer_in_any_table) {
    int64_t start, end, id;
    char ext[64];
    indiv_eventlog *log = world(&start, &end);
    busiest(log, ext, &id);
    consent(log, ext, 1, 1, INDIV_CH_CONTACTABLE); /* a consent_changes row too */
    cr_assert_gt(rows_mentioning(db, id, ext, 0), 10, "the person is there before");
    int64_t profiles = count_sql(log, "SELECT count(*) FROM profiles", 0);
    int64_t events =
        count_sql(log, "SELECT count(*) FROM events WHERE consumer_id = ?1", id);
    json_t *rep = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_rights_forget(log, ext, NOW, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(rows_mentioning(db, id, ext, 1), 0);
    json_t *removed = json_object_get(rep, "removed");
    cr_assert_eq(json_integer_value(json_object_get(removed, "events")), events);
    cr_assert_eq(json_integer_value(json_object_get(removed, "profiles")), 1);
    cr_assert_eq(json_integer_value(json_object_get(removed, "consumers")), 1);
    cr_assert_eq(json_integer_value(json_object_get(removed, "truth_consumers")), 1);
    cr_assert_gt(json_integer_value(json_object_get(removed, "truth_tastes")), 0);
    cr_assert_eq(json_integer_value(json_object_get(removed, "consent_changes")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "consumer")), ext);
    json_decref(rep);
    /* the other 39 are untouched */
    cr_assert_eq(count_sql(log, "SELECT count(*) FROM consumers", 0), 39);
    cr_assert_eq(count_sql(log, "SELECT count(*) FROM profiles", 0), profiles - 1);
    indiv_eventlog_close(log);
}

Test(rights, forget_keeps_offer_daily_equal_to_the_remaining_events) {
    int64_t start, end, id;
    char ext[64], before[17], after[17];
    indiv_eventlog *log = world(&start, &end);
    busiest(log, ext, &id);
    int64_t bought = count_sql(
        log, "SELECT count(*) FROM events WHERE consumer_id = ?1 AND type = 2", id);
    cr_assert_gt(bought, 0);
    json_t *rep = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_rights_forget(log, ext, NOW, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(json_integer_value(json_object_get(rep, "offer_daily_lowered")), bought);
    json_decref(rep);
    indiv_eventlog_close(log);
    tu_content_hash(db, before);
    log = open_rw();
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_rebuild_offer_daily(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
    tu_content_hash(db, after);
    cr_assert_str_eq(before, after, "a rebuild from the events changes nothing");
}

/* 1 when the bytes of s appear anywhere in the file at path. */
static int file_contains(const char *path, const char *s) {
    size_t n;
    char *data = tu_read(path, &n);
    cr_assert_not_null(data);
    size_t k = strlen(s);
    int found = 0;
    for (size_t i = 0; !found && i + k <= n; i++)
        found = memcmp(data + i, s, k) == 0;
    free(data);
    return found;
}

Test(rights, forget_leaves_no_trace_of_the_person_in_the_file_bytes) {
    indiv_eventlog *log = open_rw();
    indiv_error err = {0};
    indiv_eventlog_begin(log, &err);
    int64_t a = tu_add_consumer(log, "erase-me-17850", 1);
    tu_add_consumer(log, "keep-me-12748", 1);
    int64_t o = tu_add_offer(log, "o1", "cat");
    tu_buy(log, a, o, NOW - 10 * DAY_S);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0);
    indiv_eventlog_close(log);
    cr_assert(file_contains(db, "erase-me-17850"));
    log = open_rw();
    cr_assert_eq(indiv_rights_forget(log, "erase-me-17850", NOW, NULL, &err), 0, "%s",
                 err.msg);
    indiv_eventlog_close(log);
    cr_assert_not(file_contains(db, "erase-me-17850"),
                  "deleted content is overwritten, not left in free pages");
    cr_assert(file_contains(db, "keep-me-12748"));
}

Test(rights, forget_of_the_last_event_moves_last_event_ts_back) {
    indiv_eventlog *log = open_rw();
    indiv_error err = {0};
    indiv_eventlog_begin(log, &err);
    int64_t a = tu_add_consumer(log, "a", 1), b = tu_add_consumer(log, "b", 1);
    int64_t o = tu_add_offer(log, "o1", "cat");
    tu_buy(log, a, o, NOW - 10 * DAY_S);
    tu_buy(log, b, o, NOW - 2 * DAY_S);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_rights_forget(log, "b", NOW, NULL, &err), 0, "%s", err.msg);
    int64_t last;
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &last, &err), 0);
    cr_assert_eq(last, NOW - 10 * DAY_S);
    cr_assert_eq(indiv_rights_forget(log, "a", NOW, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &last, &err), 0);
    cr_assert_eq(last, INDIV_TS_NONE, "no event left");
    indiv_eventlog_close(log);
}

Test(rights, forget_of_an_unknown_id_fails_and_changes_nothing) {
    int64_t start, end;
    char before[17], after[17];
    indiv_eventlog *log = world(&start, &end);
    indiv_eventlog_close(log);
    tu_content_hash(db, before);
    log = open_rw();
    indiv_error err = {0};
    json_t *rep = (json_t *)1;
    cr_assert_eq(indiv_rights_forget(log, "nobody-here", NOW, &rep, &err),
                 INDIV_ENOTFOUND);
    cr_assert_null(rep);
    cr_assert(strstr(err.msg, "'nobody-here'"), "%s", err.msg);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_rights_forget(log, "", NOW, NULL, &err), INDIV_EINVAL);
    indiv_eventlog_close(log);
    tu_content_hash(db, after);
    cr_assert_str_eq(before, after);
}

Test(rights, forget_of_several_in_the_callers_transaction_is_all_or_nothing) {
    int64_t start, end, id;
    char ext[64];
    indiv_eventlog *log = world(&start, &end);
    busiest(log, ext, &id);
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0);
    cr_assert_eq(indiv_rights_forget(log, ext, NOW, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_rights_forget(log, "unknown", NOW, NULL, &err), INDIV_ENOTFOUND);
    indiv_eventlog_rollback(log);
    cr_assert_eq(count_sql(log, "SELECT count(*) FROM consumers", 0), 40);
    cr_assert_gt(rows_mentioning(db, id, ext, 0), 0, "the rollback kept the person");
    indiv_eventlog_close(log);
}

/* ---- access ------------------------------------------------------------------------ */

Test(rights, export_contains_every_event_of_the_person_and_nothing_of_others) {
    int64_t start, end, id;
    char ext[64];
    indiv_eventlog *log = world(&start, &end);
    busiest(log, ext, &id);
    json_t *x = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_rights_export(log, ext, &x, &err), 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(x, "format")), "indiv-export");
    json_t *ev = json_object_get(x, "events");
    int64_t n = count_sql(log, "SELECT count(*) FROM events WHERE consumer_id = ?1", id);
    cr_assert_gt(n, 0);
    cr_assert_eq((int64_t)json_array_size(ev), n);
    /* every id of theirs is there once: the sum of ids matches too */
    int64_t sum = 0;
    for (size_t i = 0; i < json_array_size(ev); i++)
        sum += json_integer_value(json_object_get(json_array_get(ev, i), "id"));
    cr_assert_eq(sum,
                 count_sql(log, "SELECT sum(id) FROM events WHERE consumer_id = ?1", id));
    json_t *c = json_object_get(x, "consumer");
    cr_assert_str_eq(json_string_value(json_object_get(c, "id")), ext);
    cr_assert(json_is_boolean(json_object_get(c, "consent_profiling")));
    json_t *p = json_object_get(x, "profile");
    cr_assert(json_is_object(p));
    cr_assert_gt(json_array_size(json_object_get(p, "vector")), 0);
    cr_assert(json_is_object(json_object_get(p, "readable")));
    json_t *other = json_object_get(x, "other");
    cr_assert_eq(json_array_size(json_object_get(other, "truth_consumers")), 1);
    cr_assert_gt(json_array_size(json_object_get(other, "truth_tastes")), 0);
    json_decref(x);
    indiv_eventlog_close(log);
}

Test(rights, export_of_an_unknown_id_is_not_found) {
    indiv_eventlog *log = open_rw();
    json_t *x = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_rights_export(log, "ghost", &x, &err), INDIV_ENOTFOUND);
    cr_assert_null(x);
    cr_assert(strstr(err.msg, "'ghost'"), "%s", err.msg);
    indiv_eventlog_close(log);
}

/* ---- consent ----------------------------------------------------------------------- */

struct one {
    const char *ext;
    indiv_decision d;
    int seen;
};

static int catch_one(void *ctx, const indiv_decision *d, const char *ext_id) {
    struct one *o = ctx;
    if (strcmp(ext_id, o->ext) == 0) {
        o->d = *d;
        o->seen = 1;
    }
    return 0;
}

static indiv_decision decide_for(indiv_eventlog *log, const char *ext, int64_t as_of) {
    struct one o = {ext, {0}, 0};
    indiv_decide_opts opts;
    indiv_decide_opts_init(&opts);
    opts.policy.as_of = as_of;
    opts.on_decision = catch_one;
    opts.ctx = &o;
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_summary sum;
    indiv_error err = {0};
    cr_assert_eq(indiv_decide_run(log, &m, &opts, NULL, NULL, &sum, &err), 0, "%s",
                 err.msg);
    cr_assert(o.seen);
    return o.d;
}

Test(rights, consent_change_is_honoured_by_the_next_decision) {
    int64_t start, end, id;
    char ext[64];
    indiv_eventlog *log = world(&start, &end);
    busiest(log, ext, &id);
    consent(log, ext, 1, 1, INDIV_CH_BIT(INDIV_CH_EMAIL));
    indiv_decision d = decide_for(log, ext, end);
    cr_assert_neq(d.reason, INDIV_R_NO_CONTACT_CONSENT);
    cr_assert(d.personalised);
    consent(log, ext, INDIV_CONSENT_KEEP, 0, INDIV_CONSENT_KEEP);
    d = decide_for(log, ext, end);
    cr_assert_eq(d.action, INDIV_NONE);
    cr_assert_eq(d.reason, INDIV_R_NO_CONTACT_CONSENT);
    consent(log, ext, INDIV_CONSENT_KEEP, 1, 0);
    d = decide_for(log, ext, end);
    cr_assert_eq(d.reason, INDIV_R_NO_CHANNEL, "contact again, but no channel accepted");
    consent(log, ext, 0, 1, INDIV_CH_CONTACTABLE);
    d = decide_for(log, ext, end);
    cr_assert_not(d.personalised, "profiling withdrawn: the profile is no longer used");
    cr_assert_eq(
        count_sql(log, "SELECT count(*) FROM profiles WHERE consumer_id = ?1", id), 0);
    cr_assert_eq(
        count_sql(log, "SELECT count(*) FROM consent_changes WHERE consumer_id = ?1", id),
        4);
    indiv_eventlog_close(log);
}

Test(rights, granting_contact_lifts_an_unsubscription) {
    indiv_eventlog *log = open_rw();
    indiv_error err = {0};
    indiv_eventlog_begin(log, &err);
    int64_t a = tu_add_consumer(log, "a", 1);
    indiv_event ev = {a, NOW - DAY_S, 0, 0, INDIV_EV_UNSUBSCRIBE, INDIV_CH_EMAIL, 1, 0};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0);
    indiv_consumer_row row;
    cr_assert_eq(indiv_eventlog_consumer_get(log, a, &row, NULL, 0, &err), 0);
    cr_assert_eq(row.unsubscribed_ts, NOW - DAY_S);
    json_t *res = NULL;
    indiv_consent_change c = {INDIV_CONSENT_KEEP, 1, INDIV_CONSENT_KEEP};
    cr_assert_eq(indiv_rights_consent(log, "a", &c, NOW, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_consumer_get(log, a, &row, NULL, 0, &err), 0);
    cr_assert_eq(row.unsubscribed_ts, INDIV_TS_NONE);
    cr_assert(
        json_is_string(json_object_get(json_object_get(res, "before"), "unsubscribed")));
    cr_assert(
        json_is_null(json_object_get(json_object_get(res, "after"), "unsubscribed")));
    json_decref(res);
    indiv_eventlog_close(log);
}

Test(rights, consent_errors_name_the_field_and_change_nothing) {
    indiv_eventlog *log = open_rw();
    indiv_error err = {0};
    indiv_eventlog_begin(log, &err);
    tu_add_consumer(log, "a", 1);
    indiv_eventlog_commit(log, &err);
    indiv_consent_change c = {INDIV_CONSENT_KEEP, INDIV_CONSENT_KEEP,
                              (int)INDIV_CH_BIT(INDIV_CH_WEB)};
    cr_assert_eq(indiv_rights_consent(log, "a", &c, NOW, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "channels"), "%s", err.msg);
    indiv_error_clear(&err);
    c.channels = INDIV_CONSENT_KEEP;
    c.contact = 0;
    cr_assert_eq(indiv_rights_consent(log, "b", &c, NOW, NULL, &err), INDIV_ENOTFOUND);
    cr_assert(strstr(err.msg, "'b'"), "%s", err.msg);
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"profiling\": 1}", "profiling"},
        {"{\"contact\": \"yes\"}", "contact"},
        {"{\"channels\": \"email\"}", "channels"},
        {"{\"channels\": [\"email\", \"web\"]}", "channels[1]"},
        {"{\"channels\": [3]}", "channels[0]"},
        {"{\"colour\": true}", "colour"},
        {"{}", "consent"},
        {"[]", "consent"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i].json, 0, NULL);
        indiv_error_clear(&err);
        cr_assert_eq(indiv_consent_change_from_json(j, &c, &err), INDIV_EINVAL, "%s",
                     bad[i].json);
        cr_assert(strncmp(err.msg, bad[i].field, strlen(bad[i].field)) == 0, "%s: %s",
                  bad[i].json, err.msg);
        json_decref(j);
    }
    json_t *j =
        json_loads("{\"profiling\": false, \"channels\": [\"sms\", \"push\"]}", 0, NULL);
    cr_assert_eq(indiv_consent_change_from_json(j, &c, &err), 0);
    cr_assert_eq(c.profiling, 0);
    cr_assert_eq(c.contact, INDIV_CONSENT_KEEP);
    cr_assert_eq(c.channels,
                 (int)(INDIV_CH_BIT(INDIV_CH_SMS) | INDIV_CH_BIT(INDIV_CH_PUSH)));
    json_decref(j);
    cr_assert_eq(count_sql(log, "SELECT count(*) FROM consent_changes", 0), 0);
    indiv_eventlog_close(log);
}

Test(rights, channel_lists_parse_and_refuse_non_contact_channels) {
    unsigned m;
    indiv_error err = {0};
    cr_assert_eq(indiv_channels_parse_list("email,SMS", &m, &err), 0);
    cr_assert_eq(m, INDIV_CH_BIT(INDIV_CH_EMAIL) | INDIV_CH_BIT(INDIV_CH_SMS));
    cr_assert_eq(indiv_channels_parse_list("none", &m, &err), 0);
    cr_assert_eq(m, 0);
    cr_assert_eq(indiv_channels_parse_list("email,store", &m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "'store'"), "%s", err.msg);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_channels_parse_list("pigeon", &m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "'pigeon'"), "%s", err.msg);
}

/* ---- retention --------------------------------------------------------------------- */

Test(rights, retention_purges_counts_and_records_its_run) {
    indiv_eventlog *log = open_rw();
    indiv_error err = {0};
    indiv_eventlog_begin(log, &err);
    int64_t a = tu_add_consumer(log, "a", 1), b = tu_add_consumer(log, "b", 1);
    int64_t o = tu_add_offer(log, "o1", "cat");
    tu_buy(log, a, o, NOW - 400 * DAY_S); /* old */
    tu_buy(log, a, o, NOW - 366 * DAY_S); /* old */
    tu_buy(log, a, o, NOW - 10 * DAY_S);
    tu_buy(log, b, o, NOW - 364 * DAY_S);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0);
    tu_build_profiles(log, NOW);
    indiv_retention_report r;
    cr_assert_eq(indiv_rights_retention(log, 365, NOW, NOW + 7, 1, &r, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(r.events, 2, "dry run counts");
    cr_assert_eq(count_sql(log, "SELECT count(*) FROM events", 0), 4, "and keeps");
    cr_assert_eq(indiv_rights_retention(log, 365, NOW, NOW + 7, 0, &r, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(r.cutoff, NOW - 365 * DAY_S);
    cr_assert_eq(r.events, 2);
    cr_assert_eq(r.by_type[INDIV_EV_PURCHASE], 2);
    cr_assert_eq(r.consumers, 1);
    cr_assert_eq(r.profiles, 1);
    cr_assert_eq(r.remaining, 2);
    cr_assert_eq(
        count_sql(log, "SELECT count(*) FROM events WHERE ts < ?1", NOW - 365 * DAY_S),
        0);
    cr_assert_eq(
        count_sql(log, "SELECT count(*) FROM profiles WHERE consumer_id = ?1", a), 0,
        "a's profile was built from purged events");
    cr_assert_eq(
        count_sql(log, "SELECT count(*) FROM profiles WHERE consumer_id = ?1", b), 1);
    cr_assert_eq(count_sql(log, "SELECT sum(purchases) FROM offer_daily", 0), 2);
    char buf[1024];
    cr_assert_eq(
        indiv_eventlog_meta_get(log, "retention_last_run", buf, sizeof buf, &err), 0);
    json_t *j = json_loads(buf, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "ran_at")),
                     "2026-06-01T00:00:07Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "as_of")),
                     "2026-06-01T00:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "cutoff")),
                     "2025-06-01T00:00:00Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "events_deleted")), 2);
    cr_assert_float_eq(json_real_value(json_object_get(j, "older_than_days")), 365, 1e-9);
    json_decref(j);
    indiv_eventlog_close(log);
}

Test(rights, retention_refuses_bad_periods) {
    indiv_eventlog *log = open_rw();
    indiv_retention_report r;
    indiv_error err = {0};
    cr_assert_eq(indiv_rights_retention(log, -1, NOW, NOW, 0, &r, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "older_than_days"), "%s", err.msg);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_rights_retention(log, 1.0 / 0.0, NOW, NOW, 0, &r, &err),
                 INDIV_EINVAL);
    indiv_eventlog_close(log);
}

/* ---- models ------------------------------------------------------------------------ */

Test(rights, a_model_trained_before_an_erasure_is_marked_and_listed) {
    indiv_eventlog *log = open_rw();
    indiv_error err = {0};
    indiv_eventlog_begin(log, &err);
    int64_t a = tu_add_consumer(log, "a", 1), b = tu_add_consumer(log, "b", 1);
    int64_t o = tu_add_offer(log, "o1", "cat");
    tu_buy(log, a, o, NOW - 100 * DAY_S);
    tu_buy(log, b, o, NOW - 10 * DAY_S);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0);
    indiv_model old, late;
    /* old learnt from events before NOW - 50 days: a's, not b's */
    fake_model(&old, "old", "2026-04-12T00:00:00Z", "2026-04-12T01:00:00Z");
    cr_assert_eq(indiv_rights_model_record(log, &old, "old.json", INDIV_MODEL_TRAINED,
                                           NOW - 50 * DAY_S, &err),
                 0, "%s", err.msg);
    int64_t erased = -1;
    cr_assert_eq(indiv_rights_models_check(log, &old, &erased, &err), 0);
    cr_assert_eq(erased, 0);
    json_t *rep = NULL;
    cr_assert_eq(indiv_rights_forget(log, "b", NOW, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(json_object_get(rep, "models_marked")), 0,
                 "b's events came after the model's data");
    json_decref(rep);
    cr_assert_eq(indiv_rights_forget(log, "a", NOW, &rep, &err), 0, "%s", err.msg);
    json_t *marked = json_object_get(rep, "models_marked");
    cr_assert_eq(json_array_size(marked), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(marked, 0), "id")),
                     "old");
    json_decref(rep);
    cr_assert_eq(indiv_rights_models_check(log, &old, &erased, &err), 0);
    cr_assert_eq(erased, 1);
    /* trained before the erasure, first registered after it (a read-only database at
     * training time): the erasures table still marks it */
    fake_model(&late, "late", "2026-04-20T00:00:00Z", "2026-04-20T01:00:00Z");
    cr_assert_eq(
        indiv_rights_model_record(log, &late, NULL, INDIV_MODEL_USED, NOW + 1, &err), 0);
    cr_assert_eq(indiv_rights_models_check(log, &late, &erased, &err), 0);
    cr_assert_eq(erased, 1);
    /* a retrained model (new provenance) is clean */
    indiv_model fresh;
    fake_model(&fresh, "old", "2026-06-01T00:00:00Z", "2026-06-01T02:00:00Z");
    cr_assert_eq(indiv_rights_model_record(log, &fresh, "old.json", INDIV_MODEL_TRAINED,
                                           NOW + 2, &err),
                 0);
    cr_assert_eq(indiv_rights_models_check(log, &fresh, &erased, &err), 0);
    cr_assert_eq(erased, 0);
    cr_assert_eq(count_sql(log, "SELECT count(*) FROM models", 0), 3);
    indiv_model_clear(&old);
    indiv_model_clear(&late);
    indiv_model_clear(&fresh);
    indiv_eventlog_close(log);
}

Test(rights, model_uses_are_counted_and_keys_are_stable) {
    indiv_eventlog *log = open_rw();
    indiv_model m, d;
    indiv_error err = {0};
    fake_model(&m, "m", "2026-04-12T00:00:00Z", "2026-04-12T01:00:00Z");
    indiv_model_default(&d);
    char k1[17], k2[17];
    indiv_rights_model_key(&m, k1);
    indiv_rights_model_key(&d, k2);
    cr_assert_str_neq(k1, k2);
    cr_assert_eq(strlen(k1), 16);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(
            indiv_rights_model_record(log, &m, "m.json", INDIV_MODEL_USED, NOW + i, &err),
            0, "%s", err.msg);
    cr_assert_eq(count_sql(log, "SELECT uses FROM models", 0), 3);
    cr_assert_eq(count_sql(log, "SELECT last_used_ts FROM models", 0), NOW + 2);
    cr_assert_eq(indiv_rights_model_record(log, &m, NULL, 7, NOW, &err), INDIV_EINVAL);
    indiv_model_clear(&m);
    indiv_eventlog_close(log);
}
