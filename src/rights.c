/*
 * rights.c — access, erasure, consent and retention (rights.h), and the models registry.
 *
 * The second and last file of indiv that speaks SQL (through eventlog_internal.h): an
 * erasure must reach every table that holds a row about the person, and the only way to
 * include the tables someone adds later is to ask sqlite_master which tables have a
 * consumer_id column (docs/architecture.md §3).
 *
 * Invariants:
 * - values are bound, never formatted into SQL; table names read from sqlite_master are
 *   quoted with %w;
 * - every write runs inside one transaction: the caller's when one is open on the
 *   handle, otherwise one of its own (with_tx);
 * - after an erasure or a purge, offer_daily still equals what the remaining events
 *   give (indiv_eventlog_rebuild_offer_daily would change nothing);
 * - the library reads no clock: `now` comes from the caller.
 */
#include "indiv/rights.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog_internal.h"
#include "indiv/catalog.h"
#include "indiv/import.h"
#include "indiv/profile.h"
#include "indiv/timeutil.h"
#include "indiv/vocab.h"

#define DAY_S 86400
/* Longest retention period accepted, in days: far beyond any legal one, far from
 * overflowing a time in seconds. */
#define RETENTION_DAYS_MAX 1e6
/* Most per-person tables an erasure walks (the schema has four; room for growth). */
#define PERSON_TABLES_MAX 64
/* SQL day of a ts, floor(ts / 86400) also for negative ts, as offer_daily keys it. */
#define SQL_DAY "(ts - ((ts % 86400) + 86400) % 86400) / 86400"

/* The tables of the rights module, created when missing (same definitions as
 * datasets/schema.sql, which creates them in new databases; keep the two in step). */
static const char rights_ddl[] =
    "CREATE TABLE IF NOT EXISTS models (key TEXT PRIMARY KEY, id TEXT NOT NULL,"
    " path TEXT, data_before INTEGER, trained_at INTEGER, trained_ts INTEGER,"
    " last_used_ts INTEGER, uses INTEGER NOT NULL DEFAULT 0,"
    " erased INTEGER NOT NULL DEFAULT 0, erased_ts INTEGER);"
    "CREATE TABLE IF NOT EXISTS consent_changes (consumer_id INTEGER NOT NULL"
    " REFERENCES consumers (id), ts INTEGER NOT NULL, consent_profiling INTEGER NOT NULL,"
    " consent_contact INTEGER NOT NULL, channels INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS consent_changes_consumer"
    " ON consent_changes (consumer_id, ts);"
    "CREATE TABLE IF NOT EXISTS erasures (erased_ts INTEGER NOT NULL,"
    " first_event_ts INTEGER);";

/* ---- SQL helpers --------------------------------------------------------------- */

static sqlite3 *db_of(indiv_eventlog *log) {
    return indiv_eventlog_sqlite(log);
}

static int prep(indiv_eventlog *log, const char *sql, sqlite3_stmt **s,
                indiv_error *err) {
    *s = NULL;
    if (sqlite3_prepare_v2(db_of(log), sql, -1, s, NULL) != SQLITE_OK)
        return indiv_eventlog_db_error(log, err, "prepare");
    return INDIV_OK;
}

/* Prepares sql and binds ?1 = a and ?2 = b (those of them the statement has). */
static int prep2(indiv_eventlog *log, const char *sql, int64_t a, int64_t b,
                 sqlite3_stmt **s, indiv_error *err) {
    int rc = prep(log, sql, s, err);
    if (rc < 0)
        return rc;
    int np = sqlite3_bind_parameter_count(*s);
    if (np >= 1)
        sqlite3_bind_int64(*s, 1, a);
    if (np >= 2)
        sqlite3_bind_int64(*s, 2, b);
    return INDIV_OK;
}

/* Runs sql with ?1 = a and ?2 = b (when the statement has them) to completion; *changes
 * (may be NULL) gets the rows it changed. */
static int run2(indiv_eventlog *log, const char *sql, int64_t a, int64_t b,
                int64_t *changes, indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep2(log, sql, a, b, &s, err);
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    rc = rc == SQLITE_DONE ? INDIV_OK : indiv_eventlog_db_error(log, err, "write");
    if (rc == INDIV_OK && changes)
        *changes = sqlite3_changes(db_of(log));
    sqlite3_finalize(s);
    return rc;
}

/* One integer from sql with ?1 = a, ?2 = b; *out = none when the value is NULL or there
 * is no row. */
static int query2(indiv_eventlog *log, const char *sql, int64_t a, int64_t b,
                  int64_t none, int64_t *out, indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep2(log, sql, a, b, &s, err);
    if (rc < 0)
        return rc;
    *out = none;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(s, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE
             ? INDIV_OK
             : indiv_eventlog_db_error(log, err, "read");
    sqlite3_finalize(s);
    return rc;
}

static int table_exists(indiv_eventlog *log, const char *name, int *yes,
                        indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                  &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    *yes = rc == SQLITE_ROW;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? INDIV_OK
                                               : indiv_eventlog_db_error(log, err, name);
    sqlite3_finalize(s);
    return rc;
}

static int ensure_tables(indiv_eventlog *log, indiv_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(db_of(log), rights_ddl, NULL, NULL, &msg) == SQLITE_OK)
        return INDIV_OK;
    sqlite3_free(msg);
    return indiv_eventlog_db_error(log, err, "create the rights tables");
}

/* Sets PRAGMA secure_delete (SQLite overwrites deleted content with zeros instead of
 * leaving it in free pages, where a file viewer would still find the erased data) and
 * returns the previous setting, to be restored afterwards. */
static int secure_delete(indiv_eventlog *log, int on) {
    int64_t prev = 0;
    char sql[40];
    query2(log, "PRAGMA secure_delete", 0, 0, 0, &prev, NULL);
    snprintf(sql, sizeof sql, "PRAGMA secure_delete = %d", on);
    sqlite3_exec(db_of(log), sql, NULL, NULL, NULL);
    return (int)prev;
}

typedef int (*tx_fn)(indiv_eventlog *log, void *ctx, indiv_error *err);

/* Runs fn inside the caller's open transaction, or inside one of its own that commits
 * when fn succeeds and rolls back when it fails. */
static int with_tx(indiv_eventlog *log, tx_fn fn, void *ctx, indiv_error *err) {
    if (indiv_eventlog_in_tx(log))
        return fn(log, ctx, err);
    int rc = indiv_eventlog_begin(log, err);
    if (rc < 0)
        return rc;
    if ((rc = fn(log, ctx, err)) < 0) {
        indiv_eventlog_rollback(log);
        return rc;
    }
    return indiv_eventlog_commit(log, err);
}

/* Our id of the person with source id ext_id (INDIV_ENOTFOUND naming it). */
static int person_id(indiv_eventlog *log, const char *ext_id, int64_t *id,
                     indiv_error *err) {
    if (!ext_id || !*ext_id)
        return indiv_error_set(err, INDIV_EINVAL, "consumer id is empty");
    return indiv_eventlog_consumer_id(log, ext_id, id, err);
}

/* Names of the tables with a consumer_id column, sorted (caller frees each and the
 * array). */
static int person_tables(indiv_eventlog *log, char ***names, size_t *n,
                         indiv_error *err) {
    sqlite3_stmt *s;
    *names = calloc(PERSON_TABLES_MAX, sizeof **names);
    *n = 0;
    if (!*names)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = prep(log,
                  "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS"
                  " (SELECT 1 FROM pragma_table_info(m.name) c"
                  "  WHERE c.name = 'consumer_id') ORDER BY m.name",
                  &s, err);
    while (rc == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == PERSON_TABLES_MAX) {
            rc = indiv_error_set(err, INDIV_EINVAL,
                                 "more than %d tables with a consumer_id column",
                                 PERSON_TABLES_MAX);
            break;
        }
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (!((*names)[(*n)++] = strdup(t ? t : "")))
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        else
            rc = INDIV_OK;
    }
    if (rc == SQLITE_DONE)
        rc = INDIV_OK;
    else if (rc > 0)
        rc = indiv_eventlog_db_error(log, err, "list the per-person tables");
    sqlite3_finalize(s);
    return rc;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- JSON helpers -------------------------------------------------------------- */

/* A JSON string of text that may not be UTF-8 (Latin-1 ids of old imports). */
static json_t *json_text(const char *s) {
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    char *u = indiv_import_utf8(s);
    j = u ? json_string(u) : NULL;
    free(u);
    return j;
}

static json_t *json_time(int64_t ts) {
    char buf[INDIV_ISO_LEN];
    return ts == INDIV_TS_NONE ? json_null() : json_string(indiv_time_format(ts, buf));
}

static json_t *channels_json(unsigned mask) {
    json_t *a = json_array();
    for (int ch = 1; a && ch <= INDIV_CH_MAX; ch++)
        if (mask & INDIV_CH_BIT(ch))
            json_array_append_new(a, json_string(indiv_channel_name(ch)));
    return a;
}

/* Column c of the current row as JSON, by its stored type. */
static json_t *column_json(sqlite3_stmt *s, int c) {
    switch (sqlite3_column_type(s, c)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(s, c));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(s, c));
    case SQLITE_TEXT:
        return json_text((const char *)sqlite3_column_text(s, c));
    case SQLITE_BLOB:
        return json_integer(sqlite3_column_bytes(s, c)); /* size only: binary data */
    default:
        return json_null();
    }
}

/* Every row of sql (?1 = id) as an array of objects column -> value. */
static int rows_json(indiv_eventlog *log, const char *sql, int64_t id, json_t **out,
                     indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log, sql, &s, err);
    json_t *a = rc == INDIV_OK ? json_array() : NULL;
    if (rc == INDIV_OK)
        sqlite3_bind_int64(s, 1, id);
    while (a && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int c = 0; row && c < sqlite3_column_count(s); c++)
            json_object_set_new(row, sqlite3_column_name(s, c), column_json(s, c));
        json_array_append_new(a, row);
    }
    if (a && rc != SQLITE_DONE)
        rc = indiv_eventlog_db_error(log, err, "read rows");
    else if (a)
        rc = INDIV_OK;
    sqlite3_finalize(s);
    if (rc < 0 || !a) {
        json_decref(a);
        return rc < 0 ? rc : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    *out = a;
    return INDIV_OK;
}

/* ---- models whose data may include a person ------------------------------------ */

/* The registered models with data_before > first (the person's first event): as JSON
 * entries appended to arr. */
static int models_after(indiv_eventlog *log, int64_t first, json_t *arr,
                        indiv_error *err) {
    int exists;
    int rc = table_exists(log, "models", &exists, err);
    if (rc < 0 || !exists || first == INDIV_TS_NONE)
        return rc;
    sqlite3_stmt *s;
    if ((rc = prep(log,
                   "SELECT key, id, path, data_before FROM models WHERE data_before > ?1"
                   " ORDER BY rowid",
                   &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, first);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o}", "key",
                                             column_json(s, 0), "id", column_json(s, 1),
                                             "path", column_json(s, 2), "data_before",
                                             json_time(sqlite3_column_int64(s, 3))));
    rc = rc == SQLITE_DONE ? INDIV_OK : indiv_eventlog_db_error(log, err, "read models");
    sqlite3_finalize(s);
    return rc;
}

static int first_event_ts(indiv_eventlog *log, int64_t id, int64_t *ts,
                          indiv_error *err) {
    return query2(log, "SELECT min(ts) FROM events WHERE consumer_id = ?1", id, 0,
                  INDIV_TS_NONE, ts, err);
}

/* ---- access -------------------------------------------------------------------- */

static int consumer_json(indiv_eventlog *log, int64_t id, json_t *o, indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log,
                  "SELECT ext_id, consent_profiling, consent_contact, channels, country,"
                  " unsubscribed_ts FROM consumers WHERE id = ?1",
                  &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t unsub = sqlite3_column_type(s, 5) == SQLITE_NULL
                            ? INDIV_TS_NONE
                            : sqlite3_column_int64(s, 5);
        json_object_set_new(
            o, "consumer",
            json_pack("{s:o, s:b, s:b, s:o, s:o, s:o}", "id", column_json(s, 0),
                      "consent_profiling", sqlite3_column_int(s, 1), "consent_contact",
                      sqlite3_column_int(s, 2), "channels",
                      channels_json((unsigned)sqlite3_column_int(s, 3)), "country",
                      column_json(s, 4), "unsubscribed", json_time(unsub)));
        rc = INDIV_OK;
    } else {
        rc = indiv_eventlog_db_error(log, err, "read consumer");
    }
    sqlite3_finalize(s);
    return rc;
}

static json_t *event_json(sqlite3_stmt *s) {
    int ch = sqlite3_column_type(s, 4) == SQLITE_NULL ? 0 : sqlite3_column_int(s, 4);
    const char *type = indiv_event_type_name(sqlite3_column_int(s, 2));
    return json_pack("{s:I, s:o, s:s?, s:o, s:s?, s:f, s:f}", "id",
                     (json_int_t)sqlite3_column_int64(s, 0), "time",
                     json_time(sqlite3_column_int64(s, 1)), "type", type, "offer",
                     column_json(s, 3), "channel", ch ? indiv_channel_name(ch) : NULL,
                     "quantity", sqlite3_column_double(s, 5), "value",
                     sqlite3_column_double(s, 6));
}

static int events_json(indiv_eventlog *log, int64_t id, json_t *o, indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log,
                  "SELECT e.id, e.ts, e.type, f.ext_id, e.channel, e.quantity, e.value"
                  " FROM events e LEFT JOIN offers f ON f.id = e.offer_id"
                  " WHERE e.consumer_id = ?1 ORDER BY e.ts, e.id",
                  &s, err);
    if (rc < 0)
        return rc;
    json_t *a = json_array();
    sqlite3_bind_int64(s, 1, id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(a, event_json(s));
    rc = rc == SQLITE_DONE ? INDIV_OK : indiv_eventlog_db_error(log, err, "read events");
    sqlite3_finalize(s);
    json_object_set_new(o, "events", a);
    return rc;
}

/* The stored vector: little-endian doubles (docs/profiles.md, storage format). */
static json_t *vector_json(const unsigned char *b, size_t size) {
    json_t *a = json_array();
    for (size_t i = 0; a && i + 8 <= size; i += 8) {
        uint64_t u = 0;
        for (int k = 7; k >= 0; k--)
            u = u << 8 | b[i + (size_t)k];
        double d;
        memcpy(&d, &u, sizeof d);
        json_array_append_new(a, isfinite(d) ? json_real(d) : json_null());
    }
    return a;
}

/* What `indiv profile --show` prints, for a profile in the category feature space (an
 * embedding profile needs its model's offer vectors, which the database does not
 * hold); NULL when it cannot be made. */
static json_t *readable_profile(indiv_eventlog *log, const indiv_profile_row *row,
                                const char *ext_id) {
    indiv_profile_params p;
    indiv_rhythm_prior prior;
    indiv_profile_space space;
    indiv_catalog *cat = NULL;
    indiv_profile pr;
    json_t *j = NULL;
    indiv_profile_init(&pr);
    if (indiv_profile_stored_params(log, &p, &prior, NULL) == INDIV_OK &&
        indiv_profile_stored_space(log, &space, NULL) == INDIV_OK &&
        strcmp(space.source, "category") == 0 &&
        indiv_catalog_load(log, &cat, NULL) == INDIV_OK &&
        indiv_profile_decode(row, &pr, NULL) == INDIV_OK) {
        char *txt = indiv_profile_to_json(&pr, ext_id, cat, &p, &prior, pr.as_of);
        j = txt ? json_loads(txt, 0, NULL) : NULL;
        free(txt);
    }
    indiv_catalog_free(cat);
    indiv_profile_clear(&pr);
    return j;
}

static int profile_json(indiv_eventlog *log, int64_t id, const char *ext_id, json_t *o,
                        indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log,
                  "SELECT consumer_id, as_of, version, n_events, vector FROM profiles"
                  " WHERE consumer_id = ?1",
                  &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    json_t *p = json_null();
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        indiv_profile_row row = {
            sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
            sqlite3_column_int64(s, 3), sqlite3_column_int(s, 2),
            sqlite3_column_blob(s, 4),  (size_t)sqlite3_column_bytes(s, 4)};
        json_decref(p);
        p = json_pack("{s:o, s:i, s:I, s:o}", "as_of", json_time(row.as_of), "version",
                      row.version, "events_used", (json_int_t)row.n_events, "vector",
                      vector_json(row.blob, row.size));
        json_t *r = readable_profile(log, &row, ext_id);
        if (p && r)
            json_object_set_new(p, "readable", r);
        else
            json_decref(r);
    }
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE
             ? INDIV_OK
             : indiv_eventlog_db_error(log, err, "read profile");
    sqlite3_finalize(s);
    json_object_set_new(o, "profile", p);
    return rc;
}

/* Tables covered by a section of their own in the export. */
static int own_section(const char *table) {
    return strcmp(table, "events") == 0 || strcmp(table, "profiles") == 0 ||
           strcmp(table, "consent_changes") == 0;
}

static int other_json(indiv_eventlog *log, int64_t id, json_t *o, indiv_error *err) {
    char **names;
    size_t n;
    json_t *other = json_object();
    json_object_set_new(o, "other", other);
    int rc = person_tables(log, &names, &n, err);
    for (size_t i = 0; rc == INDIV_OK && i < n; i++) {
        if (own_section(names[i]))
            continue;
        char *sql =
            sqlite3_mprintf("SELECT * FROM \"%w\" WHERE consumer_id = ?1", names[i]);
        json_t *rows = NULL;
        rc = sql ? rows_json(log, sql, id, &rows, err)
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        sqlite3_free(sql);
        if (rc == INDIV_OK)
            json_object_set_new(other, names[i], rows);
    }
    free_names(names, n);
    return rc;
}

static int consent_changes_json(indiv_eventlog *log, int64_t id, json_t *o,
                                indiv_error *err) {
    int exists;
    json_t *rows = NULL;
    int rc = table_exists(log, "consent_changes", &exists, err);
    if (rc == INDIV_OK && exists)
        rc = rows_json(log,
                       "SELECT ts, consent_profiling, consent_contact, channels FROM"
                       " consent_changes WHERE consumer_id = ?1 ORDER BY ts, rowid",
                       id, &rows, err);
    json_object_set_new(o, "consent_changes", rows ? rows : json_array());
    return rc;
}

int indiv_rights_export(indiv_eventlog *log, const char *ext_id, json_t **out,
                        indiv_error *err) {
    int64_t id, first;
    *out = NULL;
    int rc = person_id(log, ext_id, &id, err);
    if (rc < 0)
        return rc;
    json_t *o = json_pack("{s:s, s:i}", "format", INDIV_EXPORT_FORMAT, "version",
                          INDIV_EXPORT_VERSION);
    json_t *models = json_array();
    if (!o || !models) {
        json_decref(o);
        json_decref(models);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    json_object_set_new(o, "models", models);
    if ((rc = consumer_json(log, id, o, err)) == INDIV_OK &&
        (rc = events_json(log, id, o, err)) == INDIV_OK &&
        (rc = profile_json(log, id, ext_id, o, err)) == INDIV_OK &&
        (rc = consent_changes_json(log, id, o, err)) == INDIV_OK &&
        (rc = other_json(log, id, o, err)) == INDIV_OK &&
        (rc = first_event_ts(log, id, &first, err)) == INDIV_OK)
        rc = models_after(log, first, models, err);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return INDIV_OK;
}

/* ---- offer_daily and last_event_ts after deletions ----------------------------- */

/* Lowers offer_daily by the purchases of the events selected by `where` (?1, ?2 bound to
 * a, b), and drops the rows that reach zero. *lowered gets how many purchases. */
static int lower_offer_daily(indiv_eventlog *log, const char *where, int64_t a, int64_t b,
                             int64_t *lowered, indiv_error *err) {
    char sql[1024];
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) FROM events WHERE type = %d AND offer_id IS NOT NULL AND %s",
        INDIV_EV_PURCHASE, where);
    int rc = query2(log, sql, a, b, 0, lowered, err);
    if (rc < 0 || *lowered == 0)
        return rc;
    snprintf(sql, sizeof sql,
             "UPDATE offer_daily AS d SET purchases = d.purchases - g.n FROM"
             " (SELECT offer_id, %s AS day, count(*) AS n FROM events"
             "  WHERE type = %d AND offer_id IS NOT NULL AND %s GROUP BY 1, 2) AS g"
             " WHERE d.offer_id = g.offer_id AND d.day = g.day",
             SQL_DAY, INDIV_EV_PURCHASE, where);
    if ((rc = run2(log, sql, a, b, NULL, err)) < 0)
        return rc;
    return run2(log, "DELETE FROM offer_daily WHERE purchases <= 0", 0, 0, NULL, err);
}

/* Sets meta('last_event_ts') to the newest remaining event (removes it when none is
 * left), when the deleted events reached it. */
static int fix_last_event_ts(indiv_eventlog *log, int64_t deleted_max, indiv_error *err) {
    int64_t last;
    int rc = indiv_eventlog_last_event_ts(log, &last, err);
    if (rc < 0 || deleted_max == INDIV_TS_NONE || deleted_max < last)
        return rc;
    if ((rc = query2(log, "SELECT max(ts) FROM events", 0, 0, INDIV_TS_NONE, &last,
                     err)) < 0)
        return rc;
    if (last == INDIV_TS_NONE)
        return run2(log, "DELETE FROM meta WHERE key = 'last_event_ts'", 0, 0, NULL, err);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)last);
    return indiv_eventlog_meta_set(log, "last_event_ts", buf, err);
}

/* ---- erasure ------------------------------------------------------------------- */

struct forget_ctx {
    const char *ext_id;
    int64_t now, id, first, last;
    json_t *report, *removed;
};

/* Marks the registered models whose data may include the person, and records the
 * erasure (naming nobody) for models registered later. */
static int mark_models(indiv_eventlog *log, struct forget_ctx *f, indiv_error *err) {
    json_t *marked = json_array();
    json_object_set_new(f->report, "models_marked", marked);
    int rc = models_after(log, f->first, marked, err);
    if (rc == INDIV_OK && f->first != INDIV_TS_NONE)
        rc = run2(log,
                  "UPDATE models SET erased = erased + 1, erased_ts = ?2"
                  " WHERE data_before > ?1",
                  f->first, f->now, NULL, err);
    if (rc == INDIV_OK)
        rc = run2(
            log,
            f->first == INDIV_TS_NONE
                ? "INSERT INTO erasures (erased_ts, first_event_ts) VALUES (?1, NULL)"
                : "INSERT INTO erasures (erased_ts, first_event_ts) VALUES (?1, ?2)",
            f->now, f->first, NULL, err);
    return rc;
}

static int delete_rows(indiv_eventlog *log, struct forget_ctx *f, indiv_error *err) {
    char **names;
    size_t n;
    int rc = person_tables(log, &names, &n, err);
    for (size_t i = 0; rc == INDIV_OK && i < n; i++) {
        char *sql =
            sqlite3_mprintf("DELETE FROM \"%w\" WHERE consumer_id = ?1", names[i]);
        int64_t k = 0;
        rc = sql ? run2(log, sql, f->id, 0, &k, err)
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        sqlite3_free(sql);
        if (rc == INDIV_OK)
            json_object_set_new(f->removed, names[i], json_integer(k));
    }
    free_names(names, n);
    int64_t k = 0;
    if (rc == INDIV_OK)
        rc = run2(log, "DELETE FROM consumers WHERE id = ?1", f->id, 0, &k, err);
    if (rc == INDIV_OK)
        json_object_set_new(f->removed, "consumers", json_integer(k));
    return rc;
}

static int forget_tx(indiv_eventlog *log, void *ctx, indiv_error *err) {
    struct forget_ctx *f = ctx;
    int64_t lowered = 0;
    int rc = person_id(log, f->ext_id, &f->id, err);
    if (rc == INDIV_OK)
        rc = ensure_tables(log, err);
    if (rc == INDIV_OK)
        rc = first_event_ts(log, f->id, &f->first, err);
    if (rc == INDIV_OK)
        rc = query2(log, "SELECT max(ts) FROM events WHERE consumer_id = ?1", f->id, 0,
                    INDIV_TS_NONE, &f->last, err);
    if (rc == INDIV_OK)
        rc = mark_models(log, f, err);
    if (rc == INDIV_OK)
        rc = lower_offer_daily(log, "consumer_id = ?1", f->id, 0, &lowered, err);
    if (rc == INDIV_OK)
        rc = delete_rows(log, f, err);
    if (rc == INDIV_OK)
        rc = fix_last_event_ts(log, f->last, err);
    json_object_set_new(f->report, "offer_daily_lowered", json_integer(lowered));
    return rc;
}

int indiv_rights_forget(indiv_eventlog *log, const char *ext_id, int64_t now,
                        json_t **report, indiv_error *err) {
    struct forget_ctx f = {ext_id, now, 0, INDIV_TS_NONE, INDIV_TS_NONE, NULL, NULL};
    if (report)
        *report = NULL;
    f.removed = json_object();
    f.report = json_pack("{s:o, s:o}", "consumer", json_text(ext_id ? ext_id : ""),
                         "removed", f.removed);
    if (!f.report)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int prev = secure_delete(log, 1);
    int rc = with_tx(log, forget_tx, &f, err);
    secure_delete(log, prev);
    if (rc == INDIV_OK && report)
        *report = f.report;
    else
        json_decref(f.report);
    return rc;
}

/* ---- consent ------------------------------------------------------------------- */

void indiv_consent_change_init(indiv_consent_change *c) {
    c->profiling = c->contact = c->channels = INDIV_CONSENT_KEEP;
}

int indiv_channels_parse_list(const char *list, unsigned *mask, indiv_error *err) {
    char buf[256];
    *mask = 0;
    if (!list || strlen(list) >= sizeof buf)
        return indiv_error_set(err, INDIV_EINVAL, "channels: list missing or too long");
    if (strcmp(list, "none") == 0)
        return INDIV_OK;
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int ch;
        if (indiv_channel_parse(t, &ch) < 0 || ch == INDIV_CH_NONE)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "channels: unknown channel '%s' (email, sms, push)",
                                   t);
        if (!(INDIV_CH_CONTACTABLE & INDIV_CH_BIT(ch)))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "channels: '%s' is not a contact channel (email, sms, "
                                   "push)",
                                   t);
        *mask |= INDIV_CH_BIT(ch);
    }
    return INDIV_OK;
}

static int json_flag(const json_t *v, const char *key, int *out, indiv_error *err) {
    if (!json_is_boolean(v))
        return indiv_error_set(err, INDIV_EINVAL, "%s: expected true or false", key);
    *out = json_is_true(v);
    return INDIV_OK;
}

static int json_channels(const json_t *v, int *out, indiv_error *err) {
    size_t i;
    json_t *e;
    unsigned mask = 0;
    if (!json_is_array(v))
        return indiv_error_set(err, INDIV_EINVAL,
                               "channels: expected an array of channel names");
    json_array_foreach(v, i, e) {
        int ch;
        if (!json_is_string(e))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "channels[%zu]: expected a channel name", i);
        if (indiv_channel_parse(json_string_value(e), &ch) < 0 ||
            !(INDIV_CH_CONTACTABLE & INDIV_CH_BIT(ch)))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "channels[%zu]: '%s' is not a contact channel (email, "
                                   "sms, push)",
                                   i, json_string_value(e));
        mask |= INDIV_CH_BIT(ch);
    }
    *out = (int)mask;
    return INDIV_OK;
}

int indiv_consent_change_from_json(const json_t *obj, indiv_consent_change *c,
                                   indiv_error *err) {
    const char *key;
    json_t *v;
    int rc = INDIV_OK;
    indiv_consent_change_init(c);
    if (!json_is_object(obj))
        return indiv_error_set(err, INDIV_EINVAL, "consent: expected a JSON object");
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, "profiling") == 0)
            rc = json_flag(v, key, &c->profiling, err);
        else if (strcmp(key, "contact") == 0)
            rc = json_flag(v, key, &c->contact, err);
        else if (strcmp(key, "channels") == 0)
            rc = json_channels(v, &c->channels, err);
        else
            rc = indiv_error_set(err, INDIV_EINVAL,
                                 "%s: unknown field (profiling, contact, channels)", key);
        if (rc < 0)
            return rc;
    }
    if (json_object_size(obj) == 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "consent: no field to change (profiling, contact, "
                               "channels)");
    return INDIV_OK;
}

static int check_change(const indiv_consent_change *c, indiv_error *err) {
    if (c->profiling < INDIV_CONSENT_KEEP || c->profiling > 1)
        return indiv_error_set(err, INDIV_EINVAL, "profiling: %d is not 0, 1 or keep",
                               c->profiling);
    if (c->contact < INDIV_CONSENT_KEEP || c->contact > 1)
        return indiv_error_set(err, INDIV_EINVAL, "contact: %d is not 0, 1 or keep",
                               c->contact);
    if (c->channels != INDIV_CONSENT_KEEP &&
        (c->channels < 0 || ((unsigned)c->channels & ~INDIV_CH_CONTACTABLE)))
        return indiv_error_set(err, INDIV_EINVAL,
                               "channels: mask 0x%x has non-contact channels",
                               (unsigned)c->channels);
    return INDIV_OK;
}

static json_t *state_json(const indiv_consumer_row *r) {
    return json_pack("{s:b, s:b, s:o, s:o}", "consent_profiling", r->consent_profiling,
                     "consent_contact", r->consent_contact, "channels",
                     channels_json(r->channels), "unsubscribed",
                     json_time(r->unsubscribed_ts));
}

struct consent_ctx {
    const char *ext_id;
    const indiv_consent_change *c;
    int64_t now;
    json_t *result;
};

static int update_consumer(indiv_eventlog *log, const indiv_consumer_row *a,
                           indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log,
                  "UPDATE consumers SET consent_profiling = ?2, consent_contact = ?3,"
                  " channels = ?4, unsubscribed_ts = ?5 WHERE id = ?1",
                  &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, a->id);
    sqlite3_bind_int(s, 2, a->consent_profiling);
    sqlite3_bind_int(s, 3, a->consent_contact);
    sqlite3_bind_int(s, 4, (int)a->channels);
    if (a->unsubscribed_ts == INDIV_TS_NONE)
        sqlite3_bind_null(s, 5);
    else
        sqlite3_bind_int64(s, 5, a->unsubscribed_ts);
    rc = sqlite3_step(s) == SQLITE_DONE
             ? INDIV_OK
             : indiv_eventlog_db_error(log, err, "update consent");
    sqlite3_finalize(s);
    return rc;
}

/* The consent_changes row: the state after the change, at time now. */
static int record_change(indiv_eventlog *log, const indiv_consumer_row *a, int64_t now,
                         indiv_error *err) {
    sqlite3_stmt *s;
    int rc;
    if ((rc = prep(log,
                   "INSERT INTO consent_changes (consumer_id, ts, consent_profiling,"
                   " consent_contact, channels) VALUES (?1, ?2, ?3, ?4, ?5)",
                   &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, a->id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, a->consent_profiling);
    sqlite3_bind_int(s, 4, a->consent_contact);
    sqlite3_bind_int(s, 5, (int)a->channels);
    rc = sqlite3_step(s) == SQLITE_DONE
             ? INDIV_OK
             : indiv_eventlog_db_error(log, err, "record consent change");
    sqlite3_finalize(s);
    return rc;
}

static int consent_tx(indiv_eventlog *log, void *ctx, indiv_error *err) {
    struct consent_ctx *k = ctx;
    const indiv_consent_change *c = k->c;
    indiv_consumer_row before, after;
    int64_t id, deleted = 0;
    int rc = person_id(log, k->ext_id, &id, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_consumer_get(log, id, &before, NULL, 0, err);
    if (rc == INDIV_OK)
        rc = ensure_tables(log, err);
    if (rc < 0)
        return rc;
    after = before;
    if (c->profiling != INDIV_CONSENT_KEEP)
        after.consent_profiling = c->profiling;
    if (c->contact != INDIV_CONSENT_KEEP)
        after.consent_contact = c->contact;
    if (c->contact == 1)
        after.unsubscribed_ts = INDIV_TS_NONE; /* a new opt-in lifts the unsubscribe */
    if (c->channels != INDIV_CONSENT_KEEP)
        after.channels = (unsigned)c->channels;
    rc = update_consumer(log, &after, err);
    if (rc == INDIV_OK)
        rc = record_change(log, &after, k->now, err);
    if (rc == INDIV_OK && !after.consent_profiling)
        rc = run2(log, "DELETE FROM profiles WHERE consumer_id = ?1", id, 0, &deleted,
                  err);
    if (rc == INDIV_OK)
        k->result = json_pack("{s:o, s:o, s:o, s:b}", "consumer", json_text(k->ext_id),
                              "before", state_json(&before), "after", state_json(&after),
                              "profile_deleted", deleted > 0);
    return rc;
}

int indiv_rights_consent(indiv_eventlog *log, const char *ext_id,
                         const indiv_consent_change *c, int64_t now, json_t **result,
                         indiv_error *err) {
    struct consent_ctx k = {ext_id, c, now, NULL};
    if (result)
        *result = NULL;
    int rc = check_change(c, err);
    if (rc < 0)
        return rc;
    rc = with_tx(log, consent_tx, &k, err);
    if (rc == INDIV_OK && !k.result)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK && result)
        *result = k.result;
    else
        json_decref(k.result);
    return rc;
}

/* ---- retention ----------------------------------------------------------------- */

struct retention_ctx {
    double days;
    int64_t as_of, now;
    int dry_run;
    indiv_retention_report *r;
};

static int retention_counts(indiv_eventlog *log, indiv_retention_report *r,
                            indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log, "SELECT type, count(*) FROM events WHERE ts < ?1 GROUP BY type",
                  &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, r->cutoff);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int t = sqlite3_column_int(s, 0);
        int64_t n = sqlite3_column_int64(s, 1);
        r->events += n;
        if (t >= 0 && t <= INDIV_EV_MAX)
            r->by_type[t] = n;
    }
    rc = rc == SQLITE_DONE ? INDIV_OK : indiv_eventlog_db_error(log, err, "count events");
    sqlite3_finalize(s);
    if (rc == INDIV_OK)
        rc = query2(log, "SELECT count(DISTINCT consumer_id) FROM events WHERE ts < ?1",
                    r->cutoff, 0, 0, &r->consumers, err);
    if (rc == INDIV_OK)
        rc = query2(log,
                    "SELECT count(*) FROM profiles WHERE consumer_id IN"
                    " (SELECT DISTINCT consumer_id FROM events WHERE ts < ?1)",
                    r->cutoff, 0, 0, &r->profiles, err);
    return rc;
}

static int retention_meta(indiv_eventlog *log, const struct retention_ctx *k,
                          indiv_error *err) {
    const indiv_retention_report *r = k->r;
    json_t *j =
        json_pack("{s:o, s:o, s:f, s:o, s:I, s:I, s:I, s:I}", "ran_at", json_time(k->now),
                  "as_of", json_time(k->as_of), "older_than_days", k->days, "cutoff",
                  json_time(r->cutoff), "events_deleted", (json_int_t)r->events,
                  "consumers", (json_int_t)r->consumers, "profiles_deleted",
                  (json_int_t)r->profiles, "events_remaining", (json_int_t)r->remaining);
    char *txt = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = txt ? indiv_eventlog_meta_set(log, "retention_last_run", txt, err)
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(txt);
    return rc;
}

static int retention_tx(indiv_eventlog *log, void *ctx, indiv_error *err) {
    struct retention_ctx *k = ctx;
    indiv_retention_report *r = k->r;
    int64_t lowered, total;
    int rc = retention_counts(log, r, err);
    if (rc == INDIV_OK)
        rc = query2(log, "SELECT count(*) FROM events", 0, 0, 0, &total, err);
    r->remaining = rc == INDIV_OK ? total - r->events : 0;
    if (rc < 0 || k->dry_run)
        return rc;
    rc = run2(log,
              "DELETE FROM profiles WHERE consumer_id IN"
              " (SELECT DISTINCT consumer_id FROM events WHERE ts < ?1)",
              r->cutoff, 0, NULL, err);
    if (rc == INDIV_OK)
        rc = lower_offer_daily(log, "ts < ?1", r->cutoff, 0, &lowered, err);
    if (rc == INDIV_OK)
        rc = run2(log, "DELETE FROM events WHERE ts < ?1", r->cutoff, 0, NULL, err);
    if (rc == INDIV_OK && r->remaining == 0)
        rc = run2(log, "DELETE FROM meta WHERE key = 'last_event_ts'", 0, 0, NULL, err);
    if (rc == INDIV_OK)
        rc = retention_meta(log, k, err);
    return rc;
}

int indiv_rights_retention(indiv_eventlog *log, double older_days, int64_t as_of,
                           int64_t now, int dry_run, indiv_retention_report *out,
                           indiv_error *err) {
    memset(out, 0, sizeof *out);
    if (!isfinite(older_days) || older_days < 0 || older_days > RETENTION_DAYS_MAX)
        return indiv_error_set(err, INDIV_EINVAL,
                               "older_than_days: %g is not a number of days in [0, %g]",
                               older_days, RETENTION_DAYS_MAX);
    if (!indiv_time_valid(as_of) || !indiv_time_valid(now))
        return indiv_error_set(err, INDIV_EINVAL, "as_of: time %lld is out of range",
                               (long long)(indiv_time_valid(as_of) ? now : as_of));
    out->cutoff = as_of - (int64_t)llround(older_days * DAY_S);
    struct retention_ctx k = {older_days, as_of, now, dry_run, out};
    if (dry_run && !indiv_eventlog_in_tx(log))
        return retention_tx(log, &k, err); /* reads only: no transaction needed */
    int prev = secure_delete(log, 1);
    int rc = with_tx(log, retention_tx, &k, err);
    secure_delete(log, prev);
    return rc;
}

/* ---- models registry ----------------------------------------------------------- */

/* FNV-1a 64 (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/). */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void indiv_rights_model_key(const indiv_model *m, char out[17]) {
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, m->id, strlen(m->id) + 1);
    if (m->provenance)
        h = fnv1a(h, m->provenance, strlen(m->provenance));
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* A time field of the model's provenance (ISO 8601), INDIV_TS_NONE when absent. */
static int64_t provenance_time(const indiv_model *m, const char *key) {
    int64_t ts = INDIV_TS_NONE;
    json_t *j = m->provenance ? json_loads(m->provenance, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(j, key));
    if (!v || indiv_time_parse(v, &ts) < 0)
        ts = INDIV_TS_NONE;
    json_decref(j);
    return ts;
}

static void bind_ts_or_null(sqlite3_stmt *s, int i, int64_t ts) {
    if (ts == INDIV_TS_NONE)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, ts);
}

struct record_ctx {
    const indiv_model *m;
    const char *path;
    indiv_model_role role;
    int64_t now;
};

static int upsert_model(indiv_eventlog *log, const struct record_ctx *k, const char *key,
                        indiv_error *err) {
    sqlite3_stmt *s;
    int used = k->role == INDIV_MODEL_USED;
    int rc =
        prep(log,
             "INSERT INTO models (key, id, path, data_before, trained_at, trained_ts,"
             " last_used_ts, uses) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
             " ON CONFLICT (key) DO UPDATE SET"
             " path = coalesce(excluded.path, models.path),"
             " trained_ts = coalesce(excluded.trained_ts, models.trained_ts),"
             " last_used_ts = coalesce(excluded.last_used_ts, models.last_used_ts),"
             " uses = models.uses + excluded.uses",
             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->m->id, -1, SQLITE_STATIC);
    if (k->path)
        sqlite3_bind_text(s, 3, k->path, -1, SQLITE_STATIC);
    bind_ts_or_null(s, 4, provenance_time(k->m, "as_of"));
    bind_ts_or_null(s, 5, provenance_time(k->m, "trained_at"));
    bind_ts_or_null(s, 6, used ? INDIV_TS_NONE : k->now);
    bind_ts_or_null(s, 7, used ? k->now : INDIV_TS_NONE);
    sqlite3_bind_int(s, 8, used);
    rc = sqlite3_step(s) == SQLITE_DONE
             ? INDIV_OK
             : indiv_eventlog_db_error(log, err, "record model");
    sqlite3_finalize(s);
    return rc;
}

/* A model trained before some erasures and registered only after them: the erasures
 * table says whose data (by their first event) it may hold. */
static int catch_up_erasures(indiv_eventlog *log, const char *key, indiv_error *err) {
    sqlite3_stmt *s;
    int rc = prep(log,
                  "UPDATE models SET erased = (SELECT count(*) FROM erasures x"
                  "  WHERE x.first_event_ts < models.data_before"
                  "  AND x.erased_ts >= models.trained_at),"
                  " erased_ts = (SELECT max(erased_ts) FROM erasures x"
                  "  WHERE x.first_event_ts < models.data_before"
                  "  AND x.erased_ts >= models.trained_at)"
                  " WHERE key = ?1 AND erased = 0 AND data_before IS NOT NULL"
                  " AND trained_at IS NOT NULL",
                  &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? INDIV_OK
                                        : indiv_eventlog_db_error(log, err, "mark model");
    sqlite3_finalize(s);
    return rc;
}

static int record_tx(indiv_eventlog *log, void *ctx, indiv_error *err) {
    const struct record_ctx *k = ctx;
    char key[17];
    indiv_rights_model_key(k->m, key);
    int rc = ensure_tables(log, err);
    if (rc == INDIV_OK)
        rc = upsert_model(log, k, key, err);
    if (rc == INDIV_OK)
        rc = catch_up_erasures(log, key, err);
    return rc;
}

int indiv_rights_model_record(indiv_eventlog *log, const indiv_model *m, const char *path,
                              indiv_model_role role, int64_t now, indiv_error *err) {
    if (role != INDIV_MODEL_TRAINED && role != INDIV_MODEL_USED)
        return indiv_error_set(err, INDIV_EINVAL, "model role %d is unknown", (int)role);
    struct record_ctx k = {m, path, role, now};
    return with_tx(log, record_tx, &k, err);
}

int indiv_rights_models_check(indiv_eventlog *log, const indiv_model *m, int64_t *erased,
                              indiv_error *err) {
    char key[17];
    int exists;
    *erased = 0;
    int rc = table_exists(log, "models", &exists, err);
    if (rc < 0 || !exists)
        return rc;
    indiv_rights_model_key(m, key);
    sqlite3_stmt *s;
    if ((rc = prep(log, "SELECT erased FROM models WHERE key = ?1", &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *erased = sqlite3_column_int64(s, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE
             ? INDIV_OK
             : indiv_eventlog_db_error(log, err, "read models");
    sqlite3_finalize(s);
    return rc;
}

static int64_t column_ts(sqlite3_stmt *s, int c) {
    return sqlite3_column_type(s, c) == SQLITE_NULL ? INDIV_TS_NONE
                                                    : sqlite3_column_int64(s, c);
}

int indiv_rights_each_model(indiv_eventlog *log,
                            int (*fn)(void *ctx, const indiv_model_entry *e), void *ctx,
                            indiv_error *err) {
    int exists;
    int rc = table_exists(log, "models", &exists, err);
    if (rc < 0 || !exists)
        return rc;
    sqlite3_stmt *s;
    if ((rc = prep(log,
                   "SELECT key, id, path, data_before, trained_at, trained_ts,"
                   " last_used_ts, uses, erased, erased_ts FROM models ORDER BY rowid",
                   &s, err)) < 0)
        return rc;
    int res = 0;
    while (res == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        indiv_model_entry e = {(const char *)sqlite3_column_text(s, 0),
                               (const char *)sqlite3_column_text(s, 1),
                               (const char *)sqlite3_column_text(s, 2),
                               column_ts(s, 3),
                               column_ts(s, 4),
                               column_ts(s, 5),
                               column_ts(s, 6),
                               sqlite3_column_int64(s, 7),
                               sqlite3_column_int64(s, 8),
                               column_ts(s, 9)};
        res = fn(ctx, &e);
    }
    if (res == 0 && rc != SQLITE_DONE)
        res = indiv_eventlog_db_error(log, err, "read models");
    sqlite3_finalize(s);
    return res;
}
