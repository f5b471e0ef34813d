/*
 * eventlog.c — the SQLite event log. The only file of indiv that includes sqlite3.h.
 *
 * Invariants:
 * - every statement is prepared once per handle (lazily, cached in log->st[]) and run
 *   with bound parameters; it is reset after each use, finalised on close;
 * - events.id is unique: the next id is kept in meta('next_event_id'), read at the first
 *   append of a transaction and written back at commit, so no index on id is needed;
 * - a database is opened only if it is empty (and may be created), or carries our
 *   application_id and a schema version this build knows.
 */
#include "indiv/eventlog.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "eventlog_internal.h"
#include "indiv/fileio.h"

#define INDIV_DAY_S 86400

/* datasets/schema.sql, embedded at build time (see Makefile). */
extern const char indiv_schema_sql[];

/* Migration from version v to v + 1 is migrations[v]; NULL marks "no path". Version 1
 * is the first release, so nothing migrates into it yet. */
static const char *const migrations[INDIV_SCHEMA_VERSION] = {NULL};

/* Page cache ceiling of a scratch database (KiB; pages are allocated only when used).
 * SQLite maps at most its compile-time SQLITE_MAX_MMAP_SIZE (2 GiB in Debian's build),
 * whatever mmap_size asks; past that, every page goes through this cache. With the
 * default 64 MiB, a simulation's work database larger than the map was re-read from the
 * file several times per round (each pass over profiles or events: the stale query,
 * the build, the prior, the co-purchase counts, the decisions, the appends). Measured
 * on a 100,000-consumer world with the map off: 5.7 GB read in 4 rounds with 64 MiB,
 * 0.59 GB with this ceiling (docs/simulation.md, "Speed"). 8 GiB holds the work
 * database of a 1,000,000-consumer world through 52 rounds. */
#define INDIV_SCRATCH_CACHE_KIB 8388608
/* The journal mode of a scratch database outside a hold (indiv_eventlog_hold). */
#define SCRATCH_JOURNAL "PRAGMA journal_mode = MEMORY"
#define INDIV_STR_(x) #x
#define INDIV_STR(x) INDIV_STR_(x)

enum stmt_id {
    ST_CONSUMER_GET,
    ST_CONSUMER_INS,
    ST_CATEGORY_GET,
    ST_CATEGORY_INS,
    ST_OFFER_GET,
    ST_OFFER_INS,
    ST_OFFER_UPD,
    ST_EVENT_INS,
    ST_META_SET,
    ST_META_GET,
    ST_IMPORT_FIND,
    ST_IMPORT_INS,
    ST_TRUTH_C_INS,
    ST_TRUTH_T_INS,
    ST_CONSUMER_ROW,
    ST_PROFILE_PUT,
    ST_PROFILE_GET,
    ST_COUNT_EVENTS,
    ST_DAILY_ADD,
    ST_SET_CONTACT,
    ST_UNSUBSCRIBED,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_CONSUMER_GET] = "SELECT id FROM consumers WHERE ext_id = ?1",
    [ST_CONSUMER_INS] =
        "INSERT INTO consumers (ext_id, consent_profiling, consent_contact,"
        " channels, country) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CATEGORY_GET] = "SELECT id FROM categories WHERE name = ?1",
    [ST_CATEGORY_INS] = "INSERT INTO categories (name) VALUES (?1)",
    [ST_OFFER_GET] = "SELECT id FROM offers WHERE ext_id = ?1",
    [ST_OFFER_INS] = "INSERT INTO offers (ext_id, name, category_id, price, margin,"
                     " valid_from, valid_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_OFFER_UPD] = "UPDATE offers SET name = ?2, category_id = ?3, price = ?4"
                     " WHERE id = ?1",
    [ST_EVENT_INS] = "INSERT INTO events (consumer_id, ts, id, offer_id, type, channel,"
                     " quantity, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_IMPORT_FIND] = "SELECT source FROM imports WHERE fingerprint = ?1 LIMIT 1",
    [ST_IMPORT_INS] = "INSERT INTO imports (fingerprint, format, source, imported_ts,"
                      " rows_read, rows_imported, rows_skipped)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_TRUTH_C_INS] =
        "INSERT INTO truth_consumers (consumer_id, interval_mean_days,"
        " interval_shape, pref_hour, pref_dow, openness, fatigue_tolerance,"
        " react_email, react_sms, react_push)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_TRUTH_T_INS] =
        "INSERT INTO truth_tastes (consumer_id, category_id, weight, latent)"
        " VALUES (?1, ?2, ?3, ?4)",
    [ST_CONSUMER_ROW] = "SELECT id, ext_id, consent_profiling, consent_contact, channels,"
                        " unsubscribed_ts FROM consumers WHERE id = ?1",
    [ST_PROFILE_PUT] = "INSERT OR REPLACE INTO profiles (consumer_id, as_of, version,"
                       " n_events, vector) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_PROFILE_GET] = "SELECT consumer_id, as_of, version, n_events, vector"
                       " FROM profiles WHERE consumer_id = ?1",
    [ST_COUNT_EVENTS] = "SELECT count(*) FROM events WHERE consumer_id = ?1"
                        " AND ts >= ?2 AND ts < ?3 AND type = ?4",
    [ST_DAILY_ADD] =
        "INSERT INTO offer_daily (offer_id, day, purchases) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (offer_id, day) DO UPDATE SET purchases = purchases + ?3",
    [ST_SET_CONTACT] = "UPDATE consumers SET consent_contact = ?2, unsubscribed_ts = ?3"
                       " WHERE id = ?1",
    [ST_UNSUBSCRIBED] = "UPDATE consumers SET unsubscribed_ts = ?2 WHERE id = ?1"
                        " AND (unsubscribed_ts IS NULL OR unsubscribed_ts > ?2)",
};

/* Open-addressing map (offer, day) -> purchases, flushed into offer_daily at commit. */
struct daily_entry {
    int64_t offer, day, n; /* n == 0: empty slot */
};
struct daily_map {
    struct daily_entry *e;
    size_t cap, used; /* cap is a power of two; load kept <= 1/2 */
};

struct indiv_eventlog {
    sqlite3 *db;
    char *path;
    unsigned flags;
    int in_tx;              /* 1: a write transaction, 2: a read transaction */
    int held;               /* 1: inside indiv_eventlog_hold (one SQL transaction) */
    int attached;           /* 1: a snapshot's source is attached as "src" */
    int64_t next_event_id;  /* 0 until read in this transaction */
    int64_t txn_min_ts;     /* earliest ts appended in this transaction */
    int64_t txn_max_ts;     /* latest ts appended in this transaction */
    int64_t prev_last_ts;   /* last event time before this transaction's appends */
    struct daily_map daily; /* purchases per (offer, day) appended in this transaction */
    sqlite3_stmt *st[ST_COUNT];
    int tracked; /* a snapshot file's registry handle + 1 (fileio.h), 0 when none */
    /* opened at ":memory:" (an in-memory snapshot's path then names its source) */
    int in_memory;
};

struct indiv_event_cursor {
    indiv_eventlog *log;
    sqlite3_stmt *stmt;
    /* bound parameters: (consumer, from, before) instead of (from, before) */
    int per_consumer;
};

struct indiv_profile_cursor {
    indiv_eventlog *log;
    sqlite3_stmt *stmt;
};

struct indiv_consumer_cursor {
    indiv_eventlog *log;
    sqlite3_stmt *stmt;
};

/* ---- helpers ------------------------------------------------------------------- */

static int db_error(indiv_eventlog *log, indiv_error *err, const char *what) {
    int rc = sqlite3_errcode(log->db);
    int code = (rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN) ? INDIV_EREADONLY
               : (rc == SQLITE_NOTADB)                          ? INDIV_ESCHEMA
               : (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)     ? INDIV_EBUSY
                                                                : INDIV_EDB;
    return indiv_error_set(err, code, "%s: %s: %s", log->path, what,
                           sqlite3_errmsg(log->db));
}

/* Returns the cached prepared statement id, preparing it on first use. */
static sqlite3_stmt *stmt(indiv_eventlog *log, enum stmt_id id, indiv_error *err) {
    if (!log->st[id] &&
        sqlite3_prepare_v3(log->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &log->st[id], NULL) != SQLITE_OK) {
        db_error(log, err, "prepare");
        return NULL;
    }
    return log->st[id];
}

/* Steps a write statement to completion and resets it. */
static int step_done(indiv_eventlog *log, sqlite3_stmt *s, indiv_error *err,
                     const char *what) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_error(log, err, what);
    return INDIV_OK;
}

/* Steps a one-column integer lookup: 1 found (*id set), 0 not found, <0 error. */
static int step_id(indiv_eventlog *log, sqlite3_stmt *s, int64_t *id, indiv_error *err) {
    int rc = sqlite3_step(s);
    int res = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        res = 1;
    } else if (rc != SQLITE_DONE) {
        res = db_error(log, err, "lookup");
    }
    sqlite3_reset(s);
    return res;
}

static int exec(indiv_eventlog *log, const char *sql, indiv_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(log->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int ec = sqlite3_errcode(log->db);
        int code = ec == SQLITE_READONLY                        ? INDIV_EREADONLY
                   : (ec == SQLITE_BUSY || ec == SQLITE_LOCKED) ? INDIV_EBUSY
                                                                : INDIV_EDB;
        indiv_error_set(err, code, "%s: %s", log->path, msg ? msg : "exec failed");
        sqlite3_free(msg);
        return code;
    }
    return INDIV_OK;
}

/* Reads a one-integer PRAGMA or query. */
static int query_int(indiv_eventlog *log, const char *sql, int64_t *out,
                     indiv_error *err) {
    sqlite3_stmt *s = NULL;
    int res = INDIV_OK;
    if (sqlite3_prepare_v2(log->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, sql);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        res = db_error(log, err, sql);
    sqlite3_finalize(s);
    return res;
}

/* ---- open / schema ------------------------------------------------------------- */

static int create_schema(indiv_eventlog *log, indiv_error *err) {
    if (exec(log, "BEGIN IMMEDIATE", err) < 0)
        return err ? err->code : INDIV_EDB;
    if (exec(log, indiv_schema_sql, err) < 0) {
        exec(log, "ROLLBACK", NULL);
        return err ? err->code : INDIV_EDB;
    }
    return exec(log, "COMMIT", err);
}

/* Applies migrations from version `from` up to INDIV_SCHEMA_VERSION in one transaction.
 */
static int migrate(indiv_eventlog *log, int64_t from, indiv_error *err) {
    for (int64_t v = from; v < INDIV_SCHEMA_VERSION; v++)
        if (!migrations[v])
            return indiv_error_set(err, INDIV_ESCHEMA,
                                   "%s: schema version %lld has no migration path to %d",
                                   log->path, (long long)from, INDIV_SCHEMA_VERSION);
    if (log->flags & INDIV_EVENTLOG_READONLY)
        return indiv_error_set(err, INDIV_ESCHEMA,
                               "%s: schema version %lld needs a migration to %d, but the "
                               "database was opened read-only",
                               log->path, (long long)from, INDIV_SCHEMA_VERSION);
    int rc = exec(log, "BEGIN IMMEDIATE", err);
    for (int64_t v = from; rc == INDIV_OK && v < INDIV_SCHEMA_VERSION; v++)
        rc = exec(log, migrations[v], err);
    if (rc < 0) {
        exec(log, "ROLLBACK", NULL);
        return rc;
    }
    return exec(log, "COMMIT", err);
}

/* Decides whether the file is empty, ours, foreign or of another version. */
static int check_schema(indiv_eventlog *log, indiv_error *err) {
    int64_t app = 0, ver = 0, nobj = 0;
    int rc;
    if ((rc = query_int(log, "PRAGMA application_id", &app, err)) < 0 ||
        (rc = query_int(log, "PRAGMA user_version", &ver, err)) < 0 ||
        (rc = query_int(log, "SELECT count(*) FROM sqlite_master", &nobj, err)) < 0) {
        if (err && err->code == INDIV_ESCHEMA)
            return rc;
        return rc;
    }
    if (app == 0 && ver == 0 && nobj == 0) {
        if ((log->flags & INDIV_EVENTLOG_CREATE) &&
            !(log->flags & INDIV_EVENTLOG_READONLY))
            return create_schema(log, err);
        return indiv_error_set(err, INDIV_ESCHEMA,
                               "%s: empty database, not an indiv event log (create one "
                               "with `indiv import` or `indiv generate`)",
                               log->path);
    }
    if (app != INDIV_APPLICATION_ID)
        return indiv_error_set(err, INDIV_ESCHEMA,
                               "%s: not an indiv database (application_id 0x%llx, %lld "
                               "schema objects); refusing to touch it",
                               log->path, (unsigned long long)app, (long long)nobj);
    if (ver > INDIV_SCHEMA_VERSION)
        return indiv_error_set(err, INDIV_ESCHEMA,
                               "%s: schema version %lld was written by a newer indiv; "
                               "this build reads versions up to %d",
                               log->path, (long long)ver, INDIV_SCHEMA_VERSION);
    if (ver < INDIV_SCHEMA_VERSION)
        return migrate(log, ver, err);
    return INDIV_OK;
}

/* Size of path + suffix in bytes, -1 when it does not exist. */
static long long side_size(const char *path, const char *suffix) {
    char side[4096];
    struct stat sb;
    snprintf(side, sizeof side, "%s%s", path, suffix);
    return stat(side, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* A writer killed in the middle of a commit leaves a hot journal, which SQLite rolls back
 * on the next read, but only through a handle that may write. A read-only open would
 * fail with "attempt to write a readonly database", which looks like corruption: so the
 * journal is rolled back here, through a short read-write handle, when this process may
 * write the file; otherwise the message says what to do. No data is lost either way.
 * A journal file is not always hot: a writer killed before it touched the database
 * leaves one with a zeroed header, and a writer at work has a live one. So the probe
 * reads through a handle of the kind this process may open, and only SQLite's own
 * verdict (SQLITE_READONLY: a hot journal it may not roll back) stops the open; any
 * other failure is left to the open proper, which names it. */
static int recover_hot_journal(indiv_eventlog *log, indiv_error *err) {
    if (side_size(log->path, "-journal") <= 0)
        return INDIV_OK;
    sqlite3 *db = NULL;
    int writable = access(log->path, W_OK) == 0;
    int rc = sqlite3_open_v2(log->path, &db,
                             (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    }
    int hot =
        rc != SQLITE_OK && db && (sqlite3_extended_errcode(db) & 0xff) == SQLITE_READONLY;
    sqlite3_close(db);
    if (!hot)
        return INDIV_OK;
    return indiv_error_set(err, INDIV_EREADONLY,
                           "%s: a write to this database was interrupted and its journal "
                           "(%s-journal) must be rolled back, which needs write access "
                           "once: run any indiv command that writes it (e.g. indiv "
                           "profile --db %s) as a user who may write the file and its "
                           "directory. No data is lost.",
                           log->path, log->path, log->path);
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 1 when the file is shorter than its own header says (bytes 28-31: size in pages, valid
 * when bytes 92-95 equal the change counter at 24-27; SQLite file format, "The database
 * header") or not a whole number of pages. Cheap: 100 bytes read and one stat. */
static int looks_truncated(const char *path) {
    unsigned char h[100];
    struct stat sb;
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(h, 1, sizeof h, f) : 0;
    if (f)
        fclose(f);
    if (stat(path, &sb) != 0 || sb.st_size == 0 || n < sizeof h ||
        memcmp(h, "SQLite format 3", 16) != 0)
        return 0; /* empty, or not SQLite: check_schema says what it is */
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    page = page == 1 ? 65536 : page;
    if (page < 512)
        return 0;
    uint64_t pages = be32(h + 28), size = (uint64_t)sb.st_size;
    return size % page != 0 || (be32(h + 92) == be32(h + 24) && pages * page > size);
}

/* Refuses a database cut at its tail (a copy stopped short, a full disk) before anything
 * reads wrong numbers from it or writes into it. The header is read under a read
 * transaction, so that no writer is in the middle of a commit. PRAGMA quick_check then
 * confirms (a file can be longer than its header says after some crashes). */
static int check_intact(indiv_eventlog *log, indiv_error *err) {
    if (side_size(log->path, "-wal") > 0 || exec(log, "BEGIN", NULL) < 0)
        return INDIV_OK; /* WAL sizes differ; a busy database is checked next time */
    /* the read takes the shared lock; it may itself fail on a damaged file */
    query_int(log, "SELECT count(*) FROM sqlite_master", &(int64_t){0}, NULL);
    int suspect = looks_truncated(log->path);
    exec(log, "COMMIT", NULL);
    if (!suspect)
        return INDIV_OK;
    sqlite3_stmt *s = NULL;
    const char *verdict = "unreadable";
    int bad = 1;
    if (sqlite3_prepare_v2(log->db, "PRAGMA quick_check(1)", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        verdict = (const char *)sqlite3_column_text(s, 0);
        bad = !verdict || strcmp(verdict, "ok") != 0;
    }
    if (bad)
        indiv_error_set(err, INDIV_EDB,
                        "%s: the database is damaged (cut short at its tail?): SQLite's "
                        "quick_check says '%.200s'; nothing was read or written. Restore "
                        "a copy, or re-create it (indiv import / indiv generate)",
                        log->path, verdict ? verdict : "unreadable");
    sqlite3_finalize(s);
    return bad ? INDIV_EDB : INDIV_OK;
}

static int open_file(indiv_eventlog *log, indiv_error *err) {
    struct stat sb;
    int exists = stat(log->path, &sb) == 0;
    if (!exists && !(log->flags & INDIV_EVENTLOG_CREATE))
        return indiv_error_set(err, INDIV_EIO, "%s: no such database", log->path);
    if (exists && S_ISDIR(sb.st_mode))
        return indiv_error_set(err, INDIV_EIO, "%s: is a directory", log->path);
    if (exists && (log->flags & INDIV_EVENTLOG_READONLY)) {
        int rc = recover_hot_journal(log, err);
        if (rc < 0)
            return rc;
    }
    /* NOMUTEX: a handle is used by one thread at a time (eventlog.h), so SQLite's
     * per-call locking is pure cost (about 6% of a simulation's profile of work). */
    int oflags = SQLITE_OPEN_NOMUTEX | ((log->flags & INDIV_EVENTLOG_READONLY)
                                            ? SQLITE_OPEN_READONLY
                                            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(log->path, &log->db, oflags, NULL) != SQLITE_OK)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot open: %s", log->path,
                               log->db ? sqlite3_errmsg(log->db) : "out of memory");
    /* Write bits are checked as well as access(): root passes access() on any file, but
     * a file with no write bit at all says its owner wants it left alone. */
    if (!(log->flags & INDIV_EVENTLOG_READONLY) && exists &&
        (access(log->path, W_OK) != 0 || !(sb.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))))
        return indiv_error_set(err, INDIV_EREADONLY,
                               "%s: database file is read-only; nothing was written",
                               log->path);
    sqlite3_busy_timeout(log->db, 5000);
    return exists && !(log->flags & INDIV_EVENTLOG_SIBLING) ? check_intact(log, err)
                                                            : INDIV_OK;
}

int indiv_eventlog_open(const char *path, unsigned flags, indiv_eventlog **out,
                        indiv_error *err) {
    *out = NULL;
    if (!path || !*path)
        return indiv_error_set(err, INDIV_EINVAL, "database path is empty");
    indiv_eventlog *log = calloc(1, sizeof *log);
    if (!log || !(log->path = strdup(path))) {
        free(log);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory opening %s", path);
    }
    log->flags = flags;
    log->in_memory = strcmp(path, ":memory:") == 0;
    int rc = open_file(log, err);
    if (rc == INDIV_OK)
        rc = check_schema(log, err);
    /* Bulk appends are the common write; a 64 MiB page cache keeps b-tree pages hot. */
    if (rc == INDIV_OK)
        rc = exec(log, "PRAGMA cache_size = -65536; PRAGMA synchronous = NORMAL", err);
    /* Scratch copies are read and rewritten every round: map them (reads from the page
     * cache without a copy; the mapped pages count in the resident size), and let the
     * page cache hold the rest (see INDIV_SCRATCH_CACHE_KIB). */
    if (rc == INDIV_OK && (flags & INDIV_EVENTLOG_SCRATCH))
        rc = exec(log,
                  "PRAGMA synchronous = OFF; " SCRATCH_JOURNAL ";"
                  " PRAGMA mmap_size = 8589934592;"
                  " PRAGMA cache_size = -" INDIV_STR(INDIV_SCRATCH_CACHE_KIB),
                  err);
    /* The service's writer (docs/service.md): readers on their own connections never
     * wait for it, and a commit is on disk when it returns. */
    if (rc == INDIV_OK && (flags & INDIV_EVENTLOG_WAL))
        rc = exec(log, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", err);
    if (rc < 0) {
        indiv_eventlog_close(log);
        return rc;
    }
    *out = log;
    return INDIV_OK;
}

void indiv_eventlog_busy_timeout(indiv_eventlog *log, int ms) {
    sqlite3_busy_timeout(log->db, ms);
}

void indiv_eventlog_close(indiv_eventlog *log) {
    if (!log)
        return;
    if (log->in_tx)
        indiv_eventlog_rollback(log);
    if (log->held) /* a hold never released: its changes are dropped, as a rollback */
        exec(log, "ROLLBACK", NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(log->st[i]);
    sqlite3_close(log->db);
    indiv_fileio_untrack(log->tracked - 1); /* closed: the caller removes it next */
    free(log->path);
    free(log);
}

const char *indiv_eventlog_path(const indiv_eventlog *log) {
    return log->path;
}

/* ---- offer_daily accumulation -------------------------------------------------- */

static size_t daily_slot(const struct daily_map *m, int64_t offer, int64_t day) {
    uint64_t h =
        (uint64_t)offer * 0x9e3779b97f4a7c15ULL ^ (uint64_t)day * 0xc2b2ae3d27d4eb4fULL;
    size_t i = (size_t)(h ^ (h >> 29)) & (m->cap - 1);
    while (m->e[i].n && (m->e[i].offer != offer || m->e[i].day != day))
        i = (i + 1) & (m->cap - 1); /* linear probing; load <= 1/2 keeps probes short */
    return i;
}

static int daily_grow(struct daily_map *m) {
    struct daily_map bigger = {calloc(m->cap ? 2 * m->cap : 4096, sizeof *m->e),
                               m->cap ? 2 * m->cap : 4096, m->used};
    if (!bigger.e)
        return INDIV_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].n)
            bigger.e[daily_slot(&bigger, m->e[i].offer, m->e[i].day)] = m->e[i];
    free(m->e);
    *m = bigger;
    return INDIV_OK;
}

static int daily_add(struct daily_map *m, int64_t offer, int64_t ts) {
    if (2 * (m->used + 1) > m->cap && daily_grow(m) < 0)
        return INDIV_ENOMEM;
    int64_t day = ts / INDIV_DAY_S - (ts % INDIV_DAY_S < 0);
    struct daily_entry *e = &m->e[daily_slot(m, offer, day)];
    if (!e->n) {
        *e = (struct daily_entry){offer, day, 0};
        m->used++;
    }
    e->n++;
    return INDIV_OK;
}

static void daily_clear(struct daily_map *m) {
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* Adds the transaction's counts to offer_daily. */
static int daily_flush(indiv_eventlog *log, indiv_error *err) {
    struct daily_map *m = &log->daily;
    sqlite3_stmt *s = m->used ? stmt(log, ST_DAILY_ADD, err) : NULL;
    int rc = INDIV_OK;
    if (m->used && !s)
        return INDIV_EDB;
    for (size_t i = 0; rc == INDIV_OK && i < m->cap; i++) {
        if (!m->e[i].n)
            continue;
        sqlite3_bind_int64(s, 1, m->e[i].offer);
        sqlite3_bind_int64(s, 2, m->e[i].day);
        sqlite3_bind_int64(s, 3, m->e[i].n);
        rc = step_done(log, s, err, "update offer_daily");
    }
    daily_clear(m);
    return rc;
}

/* ---- transactions ---------------------------------------------------------------- */

int indiv_eventlog_begin(indiv_eventlog *log, indiv_error *err) {
    if (log->in_tx)
        return indiv_error_set(err, INDIV_EINVAL, "%s: transaction already open",
                               log->path);
    /* Under a hold the SQL transaction is already open: only the logical one starts.
     * With a snapshot's source attached, BEGIN IMMEDIATE would open a write transaction
     * on the source as well: it would lock out the source's writers, and the commit of
     * two write transactions leaves a super-journal (<file>-mjXXXXXXXX) beside the
     * snapshot, which a signal at that moment strands. A deferred BEGIN writes only the
     * snapshot (a new file nobody else opens) and only reads the source. */
    int rc = log->held       ? INDIV_OK
             : log->attached ? exec(log, "BEGIN", err)
                             : exec(log, "BEGIN IMMEDIATE", err);
    if (rc == INDIV_OK) {
        log->in_tx = 1;
        log->next_event_id = 0;
        log->txn_min_ts = INT64_MAX;
        log->txn_max_ts = INT64_MIN;
    }
    return rc;
}

/* Writes back the event id counter (see the invariants at the top of the file). */
static int save_next_event_id(indiv_eventlog *log, indiv_error *err) {
    if (log->next_event_id == 0)
        return INDIV_OK;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)log->next_event_id);
    return indiv_eventlog_meta_set(log, "next_event_id", buf, err);
}

/* Lowers meta('appended_min_ts') to the earliest ts appended in this transaction. */
static int save_appended_min_ts(indiv_eventlog *log, indiv_error *err) {
    if (log->txn_min_ts == INT64_MAX)
        return INDIV_OK;
    char buf[32];
    int64_t prev;
    int rc = indiv_eventlog_appended_min_ts(log, &prev, err);
    if (rc < 0 && rc != INDIV_ENOTFOUND)
        return rc;
    if (rc == INDIV_OK && prev <= log->txn_min_ts)
        return INDIV_OK;
    snprintf(buf, sizeof buf, "%lld", (long long)log->txn_min_ts);
    return indiv_eventlog_meta_set(log, "appended_min_ts", buf, err);
}

/* Raises meta('last_event_ts') to the latest ts appended in this transaction. */
static int save_last_event_ts(indiv_eventlog *log, indiv_error *err) {
    if (log->txn_max_ts == INT64_MIN)
        return INDIV_OK;
    int64_t prev =
        log->prev_last_ts; /* read before the first append (load_next_event_id) */
    if (prev != INDIV_TS_NONE && prev >= log->txn_max_ts)
        return INDIV_OK;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)log->txn_max_ts);
    return indiv_eventlog_meta_set(log, "last_event_ts", buf, err);
}

int indiv_eventlog_commit(indiv_eventlog *log, indiv_error *err) {
    if (log->in_tx != 1)
        return indiv_error_set(err, INDIV_EINVAL, "%s: no transaction to commit",
                               log->path);
    int rc = save_next_event_id(log, err);
    if (rc == INDIV_OK)
        rc = save_appended_min_ts(log, err);
    if (rc == INDIV_OK)
        rc = save_last_event_ts(log, err);
    if (rc == INDIV_OK)
        rc = daily_flush(log, err);
    /* A profile read in the transaction is left un-reset (its blob stays valid until the
     * next read); its row does not outlive the transaction, and an un-reset statement
     * would keep a read transaction open on the file after the commit, so that a
     * snapshot's connection (training in the simulation loop) finds it locked. */
    if (rc == INDIV_OK && log->st[ST_PROFILE_GET])
        sqlite3_reset(log->st[ST_PROFILE_GET]);
    if (rc == INDIV_OK && !log->held)
        rc = exec(log, "COMMIT", err);
    if (rc < 0) {
        indiv_eventlog_rollback(log);
        return rc;
    }
    log->in_tx = 0;
    return INDIV_OK;
}

void indiv_eventlog_rollback(indiv_eventlog *log) {
    if (!log->in_tx)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        if (log->st[i])
            sqlite3_reset(log->st[i]);
    if (log->in_tx == 1 || !log->held)
        exec(log, "ROLLBACK", NULL);
    if (log->in_tx == 1)
        log->held = 0; /* the hold's SQL transaction is gone with it (eventlog.h) */
    log->in_tx = 0;
    log->next_event_id = 0;
    daily_clear(&log->daily);
}

int indiv_eventlog_hold(indiv_eventlog *log, indiv_error *err) {
    if (!(log->flags & INDIV_EVENTLOG_SCRATCH))
        return indiv_error_set(err, INDIV_EINVAL, "%s: only a scratch database is held",
                               log->path);
    if (log->in_tx || log->held)
        return indiv_error_set(err, INDIV_EINVAL, "%s: transaction already open",
                               log->path);
    /* No journal: nothing is copied before a page is first changed, and nothing can be
     * rolled back (a failure ends the hold and leaves the file unspecified). */
    int rc = exec(log, "PRAGMA journal_mode = OFF", err);
    if (rc == INDIV_OK)
        rc = exec(log, "BEGIN IMMEDIATE", err);
    log->held = rc == INDIV_OK;
    return rc;
}

int indiv_eventlog_release(indiv_eventlog *log, indiv_error *err) {
    if (!log->held || log->in_tx)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s: no hold to release, or a transaction is open",
                               log->path);
    for (int i = 0; i < ST_COUNT; i++) /* no statement may keep the file read */
        if (log->st[i])
            sqlite3_reset(log->st[i]);
    log->held = 0;
    int rc = exec(log, "COMMIT", err);
    if (rc < 0) {
        exec(log, "ROLLBACK", NULL);
        return rc;
    }
    return exec(log, SCRATCH_JOURNAL, err);
}

int indiv_eventlog_read_begin(indiv_eventlog *log, indiv_error *err) {
    if (log->in_tx)
        return indiv_error_set(err, INDIV_EINVAL, "%s: transaction already open",
                               log->path);
    if (log->held) { /* reads see the held transaction's state */
        log->in_tx = 2;
        return INDIV_OK;
    }
    int rc = exec(log, "BEGIN", err);
    log->in_tx = rc == INDIV_OK ? 2 : 0;
    return rc;
}

void indiv_eventlog_read_end(indiv_eventlog *log) {
    if (log->in_tx != 2)
        return;
    /* a statement left on a row would keep the snapshot open past the COMMIT */
    for (int i = 0; i < ST_COUNT; i++)
        if (log->st[i])
            sqlite3_reset(log->st[i]);
    if (!log->held)
        exec(log, "COMMIT", NULL);
    log->in_tx = 0;
}

static int need_tx(const indiv_eventlog *log, indiv_error *err) {
    if (log->in_tx != 1) /* 2: a read transaction (indiv_eventlog_read_begin) */
        return indiv_error_set(
            err, INDIV_EINVAL,
            "%s: writes need an open transaction (indiv_eventlog_begin)", log->path);
    return INDIV_OK;
}

/* ---- writes ------------------------------------------------------------------------ */

static int bind_text_or_null(sqlite3_stmt *s, int i, const char *v) {
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

static int bind_ts(sqlite3_stmt *s, int i, int64_t ts) {
    return ts == INDIV_TS_NONE ? sqlite3_bind_null(s, i) : sqlite3_bind_int64(s, i, ts);
}

/* Looks ext_id up with statement `get`; 1 found, 0 absent, <0 error. */
static int lookup_text(indiv_eventlog *log, enum stmt_id get, const char *key,
                       int64_t *id, indiv_error *err) {
    sqlite3_stmt *s = stmt(log, get, err);
    if (!s)
        return err ? err->code : INDIV_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return step_id(log, s, id, err);
}

int indiv_eventlog_add_consumer(indiv_eventlog *log, const indiv_consumer_rec *rec,
                                int64_t *id, int *created, indiv_error *err) {
    if (created)
        *created = 0;
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    if (!rec->ext_id || !*rec->ext_id)
        return indiv_error_set(err, INDIV_EINVAL, "consumer id is empty");
    if ((rec->channels & ~INDIV_CH_CONTACTABLE) != 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "consumer %s: channels mask 0x%x has "
                               "non-contactable bits",
                               rec->ext_id, rec->channels);
    int rc = lookup_text(log, ST_CONSUMER_GET, rec->ext_id, id, err);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    sqlite3_stmt *s = stmt(log, ST_CONSUMER_INS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, rec->ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, rec->consent_profiling != 0);
    sqlite3_bind_int(s, 3, rec->consent_contact != 0);
    sqlite3_bind_int(s, 4, (int)rec->channels);
    bind_text_or_null(s, 5, rec->country);
    if ((rc = step_done(log, s, err, "insert consumer")) < 0)
        return rc;
    *id = sqlite3_last_insert_rowid(log->db);
    if (created)
        *created = 1;
    return INDIV_OK;
}

int indiv_eventlog_add_category(indiv_eventlog *log, const char *name, int64_t *id,
                                indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    if (!name || !*name)
        return indiv_error_set(err, INDIV_EINVAL, "category name is empty");
    int rc = lookup_text(log, ST_CATEGORY_GET, name, id, err);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    sqlite3_stmt *s = stmt(log, ST_CATEGORY_INS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if ((rc = step_done(log, s, err, "insert category")) < 0)
        return rc;
    *id = sqlite3_last_insert_rowid(log->db);
    return INDIV_OK;
}

static int check_offer(const indiv_offer_rec *rec, indiv_error *err) {
    if (!rec->ext_id || !*rec->ext_id)
        return indiv_error_set(err, INDIV_EINVAL, "offer id is empty");
    if (!isfinite(rec->price) || rec->price < 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "offer %s: price %g is not a finite "
                               "non-negative number",
                               rec->ext_id, rec->price);
    if (!isfinite(rec->margin))
        return indiv_error_set(err, INDIV_EINVAL, "offer %s: margin is not finite",
                               rec->ext_id);
    if (rec->valid_from != INDIV_TS_NONE && rec->valid_to != INDIV_TS_NONE &&
        rec->valid_to < rec->valid_from)
        return indiv_error_set(err, INDIV_EINVAL, "offer %s: valid_to before valid_from",
                               rec->ext_id);
    return INDIV_OK;
}

int indiv_eventlog_add_offer(indiv_eventlog *log, const indiv_offer_rec *rec, int64_t *id,
                             int *created, indiv_error *err) {
    if (created)
        *created = 0;
    if (need_tx(log, err) < 0 || check_offer(rec, err) < 0)
        return INDIV_EINVAL;
    int rc = lookup_text(log, ST_OFFER_GET, rec->ext_id, id, err);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    int64_t cat;
    if ((rc = indiv_eventlog_add_category(log, rec->category, &cat, err)) < 0)
        return rc;
    sqlite3_stmt *s = stmt(log, ST_OFFER_INS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, rec->ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, rec->name ? rec->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, cat);
    sqlite3_bind_double(s, 4, rec->price);
    sqlite3_bind_double(s, 5, rec->margin);
    bind_ts(s, 6, rec->valid_from);
    bind_ts(s, 7, rec->valid_to);
    if ((rc = step_done(log, s, err, "insert offer")) < 0)
        return rc;
    *id = sqlite3_last_insert_rowid(log->db);
    if (created)
        *created = 1;
    return INDIV_OK;
}

int indiv_eventlog_update_offer(indiv_eventlog *log, int64_t offer_id, const char *name,
                                const char *category, double price, indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    if (!isfinite(price) || price < 0)
        return indiv_error_set(err, INDIV_EINVAL, "offer %lld: price %g is invalid",
                               (long long)offer_id, price);
    int64_t cat;
    int rc = indiv_eventlog_add_category(log, category, &cat, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = stmt(log, ST_OFFER_UPD, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, offer_id);
    sqlite3_bind_text(s, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, cat);
    sqlite3_bind_double(s, 4, price);
    return step_done(log, s, err, "update offer");
}

/* Reads the next free event id: from meta, or from the events themselves when meta does
 * not have it (a database written by other tools). */
static int load_next_event_id(indiv_eventlog *log, indiv_error *err) {
    char buf[32];
    int rc = indiv_eventlog_meta_get(log, "next_event_id", buf, sizeof buf, err);
    if (rc == INDIV_OK) {
        log->next_event_id = strtoll(buf, NULL, 10);
    } else if (rc == INDIV_ENOTFOUND) {
        int64_t mx = 0;
        if ((rc = query_int(log, "SELECT coalesce(max(id), 0) FROM events", &mx, err)) <
            0)
            return rc;
        log->next_event_id = mx + 1;
    } else {
        return rc;
    }
    if (log->next_event_id < 1)
        log->next_event_id = 1;
    /* Before anything is appended: on a database without the meta key this scan is of
     * the existing events only (none for a new database). */
    return indiv_eventlog_last_event_ts(log, &log->prev_last_ts, err);
}

static int check_event(const indiv_event *ev, indiv_error *err) {
    if (ev->type < 1 || ev->type > INDIV_EV_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "event type code %d is unknown",
                               ev->type);
    if (ev->channel < 0 || ev->channel > INDIV_CH_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "channel code %d is unknown",
                               ev->channel);
    if (!isfinite(ev->quantity) || !isfinite(ev->value))
        return indiv_error_set(err, INDIV_EINVAL, "event quantity/value not finite");
    if (ev->consumer_id <= 0)
        return indiv_error_set(err, INDIV_EINVAL, "event has no consumer");
    return INDIV_OK;
}

/* An unsubscribe event withdraws contact consent from its time on: the earliest one is
 * kept in consumers.unsubscribed_ts, which the policy compares with the decision time
 * (so that a decision as of an earlier date still sees the consent of that date). */
static int mark_unsubscribed(indiv_eventlog *log, const indiv_event *ev,
                             indiv_error *err) {
    sqlite3_stmt *s = stmt(log, ST_UNSUBSCRIBED, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, ev->consumer_id);
    sqlite3_bind_int64(s, 2, ev->ts);
    return step_done(log, s, err, "record unsubscription");
}

int indiv_eventlog_add_event(indiv_eventlog *log, indiv_event *ev, indiv_error *err) {
    if (need_tx(log, err) < 0 || check_event(ev, err) < 0)
        return INDIV_EINVAL;
    int rc;
    if (log->next_event_id == 0 && (rc = load_next_event_id(log, err)) < 0)
        return rc;
    sqlite3_stmt *s = stmt(log, ST_EVENT_INS, err);
    if (!s)
        return INDIV_EDB;
    ev->id = log->next_event_id;
    sqlite3_bind_int64(s, 1, ev->consumer_id);
    sqlite3_bind_int64(s, 2, ev->ts);
    sqlite3_bind_int64(s, 3, ev->id);
    if (ev->offer_id > 0)
        sqlite3_bind_int64(s, 4, ev->offer_id);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int(s, 5, ev->type);
    if (ev->channel != INDIV_CH_NONE)
        sqlite3_bind_int(s, 6, ev->channel);
    else
        sqlite3_bind_null(s, 6);
    sqlite3_bind_double(s, 7, ev->quantity);
    sqlite3_bind_double(s, 8, ev->value);
    if ((rc = step_done(log, s, err, "insert event")) < 0)
        return rc;
    log->next_event_id++;
    if (ev->ts < log->txn_min_ts)
        log->txn_min_ts = ev->ts;
    if (ev->ts > log->txn_max_ts)
        log->txn_max_ts = ev->ts;
    if (ev->type == INDIV_EV_UNSUBSCRIBE && (rc = mark_unsubscribed(log, ev, err)) < 0)
        return rc;
    if (ev->type == INDIV_EV_PURCHASE && ev->offer_id > 0 &&
        daily_add(&log->daily, ev->offer_id, ev->ts) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory counting purchases");
    return INDIV_OK;
}

int indiv_eventlog_meta_set(indiv_eventlog *log, const char *key, const char *value,
                            indiv_error *err) {
    sqlite3_stmt *s = stmt(log, ST_META_SET, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    return step_done(log, s, err, "set meta");
}

int indiv_eventlog_meta_get(indiv_eventlog *log, const char *key, char *buf, size_t cap,
                            indiv_error *err) {
    sqlite3_stmt *s = stmt(log, ST_META_GET, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), res = INDIV_OK;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        snprintf(buf, cap, "%s", v ? v : "");
    } else if (rc == SQLITE_DONE) {
        res = INDIV_ENOTFOUND;
    } else {
        res = db_error(log, err, "get meta");
    }
    sqlite3_reset(s);
    return res;
}

/* ---- imports registry ------------------------------------------------------------- */

int indiv_eventlog_import_find(indiv_eventlog *log, const char *fingerprint, int *found,
                               char *source_buf, size_t cap, indiv_error *err) {
    *found = 0;
    sqlite3_stmt *s = stmt(log, ST_IMPORT_FIND, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, fingerprint, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), res = INDIV_OK;
    if (rc == SQLITE_ROW) {
        *found = 1;
        if (source_buf)
            snprintf(source_buf, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    } else if (rc != SQLITE_DONE) {
        res = db_error(log, err, "find import");
    }
    sqlite3_reset(s);
    return res;
}

int indiv_eventlog_each_import(indiv_eventlog *log,
                               int (*fn)(void *ctx, const indiv_import_rec *rec),
                               void *ctx, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT fingerprint, format, source, imported_ts, rows_read,"
                           " rows_imported, rows_skipped FROM imports ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "read imports");
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        indiv_import_rec r = {(const char *)sqlite3_column_text(s, 0),
                              (const char *)sqlite3_column_text(s, 1),
                              (const char *)sqlite3_column_text(s, 2),
                              sqlite3_column_int64(s, 3),
                              sqlite3_column_int64(s, 4),
                              sqlite3_column_int64(s, 5),
                              sqlite3_column_int64(s, 6)};
        res = fn(ctx, &r);
    }
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read imports");
    sqlite3_finalize(s);
    return res < 0 ? res : INDIV_OK;
}

int indiv_eventlog_import_record(indiv_eventlog *log, const indiv_import_rec *rec,
                                 indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    sqlite3_stmt *s = stmt(log, ST_IMPORT_INS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_text(s, 1, rec->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, rec->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, rec->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, rec->imported_ts);
    sqlite3_bind_int64(s, 5, rec->rows_read);
    sqlite3_bind_int64(s, 6, rec->rows_imported);
    sqlite3_bind_int64(s, 7, rec->rows_skipped);
    return step_done(log, s, err, "record import");
}

/* ---- ground truth ------------------------------------------------------------------ */

int indiv_eventlog_add_truth_consumer(indiv_eventlog *log, const indiv_truth_consumer *t,
                                      indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    sqlite3_stmt *s = stmt(log, ST_TRUTH_C_INS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, t->consumer_id);
    sqlite3_bind_double(s, 2, t->interval_mean_days);
    sqlite3_bind_double(s, 3, t->interval_shape);
    sqlite3_bind_int(s, 4, t->pref_hour);
    sqlite3_bind_int(s, 5, t->pref_dow);
    sqlite3_bind_double(s, 6, t->openness);
    sqlite3_bind_double(s, 7, t->fatigue_tolerance);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_double(s, 8 + i, t->react[i]);
    return step_done(log, s, err, "insert truth_consumers");
}

int indiv_eventlog_add_truth_taste(indiv_eventlog *log, int64_t consumer_id,
                                   int64_t category_id, double weight, int latent,
                                   indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    sqlite3_stmt *s = stmt(log, ST_TRUTH_T_INS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, consumer_id);
    sqlite3_bind_int64(s, 2, category_id);
    sqlite3_bind_double(s, 3, weight);
    sqlite3_bind_int(s, 4, latent != 0);
    return step_done(log, s, err, "insert truth_tastes");
}

int indiv_eventlog_rebuild_offer_daily(indiv_eventlog *log, indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    int rc = exec(log, "DELETE FROM offer_daily", err);
    if (rc == INDIV_OK)
        rc =
            exec(log,
                 "INSERT INTO offer_daily (offer_id, day, purchases)"
                 " SELECT offer_id, (ts - ((ts % 86400) + 86400) % 86400) / 86400 AS day,"
                 " count(*) FROM events WHERE type = 2 AND offer_id IS NOT NULL"
                 " GROUP BY offer_id, day",
                 err);
    return rc;
}

/* ---- reads ------------------------------------------------------------------------- */

int indiv_eventlog_stats_get(indiv_eventlog *log, indiv_eventlog_stats *st,
                             indiv_error *err) {
    memset(st, 0, sizeof *st);
    struct {
        const char *sql;
        int64_t *out;
    } q[] = {
        {"SELECT count(*) FROM consumers", &st->consumers},
        {"SELECT count(*) FROM offers", &st->offers},
        {"SELECT count(*) FROM categories", &st->categories},
        {"SELECT count(*) FROM events", &st->events},
        {"SELECT count(*) FROM profiles", &st->profiles},
        {"SELECT count(*) FROM consumers WHERE consent_profiling",
         &st->consent_profiling},
        {"SELECT count(*) FROM consumers WHERE consent_contact", &st->consent_contact},
        {"SELECT coalesce(min(ts), -9223372036854775807 - 1) FROM events", &st->first_ts},
        {"SELECT coalesce(max(ts), -9223372036854775807 - 1) FROM events", &st->last_ts},
    };
    int rc;
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if ((rc = query_int(log, q[i].sql, q[i].out, err)) < 0)
            return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(log->db, "SELECT type, count(*) FROM events GROUP BY type", -1,
                           &s, NULL) != SQLITE_OK)
        return db_error(log, err, "count events by type");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int t = sqlite3_column_int(s, 0);
        if (t >= 1 && t <= INDIV_EV_MAX)
            st->by_type[t] = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? INDIV_OK : db_error(log, err, "count events by type");
}

int indiv_eventlog_last_event_ts(indiv_eventlog *log, int64_t *ts, indiv_error *err) {
    char buf[32];
    int rc = indiv_eventlog_meta_get(log, "last_event_ts", buf, sizeof buf, err);
    if (rc == INDIV_OK) {
        *ts = strtoll(buf, NULL, 10);
        return INDIV_OK;
    }
    if (rc != INDIV_ENOTFOUND)
        return rc;
    /* Not recorded (events written by other tools): ask the events (the ones appended in
     * the open transaction, if any, are then included too). */
    return query_int(
        log, "SELECT coalesce(max(ts), -9223372036854775807 - 1) FROM events", ts, err);
}

int indiv_eventlog_consumer_counts(indiv_eventlog *log, int64_t *consumers,
                                   int64_t *consent_profiling, indiv_error *err) {
    int rc = query_int(log, "SELECT count(*) FROM consumers", consumers, err);
    if (rc == INDIV_OK)
        rc = query_int(log, "SELECT count(*) FROM consumers WHERE consent_profiling",
                       consent_profiling, err);
    return rc;
}

int indiv_eventlog_consumer_id(indiv_eventlog *log, const char *ext_id, int64_t *id,
                               indiv_error *err) {
    int rc = lookup_text(log, ST_CONSUMER_GET, ext_id, id, err);
    if (rc == 0)
        return indiv_error_set(err, INDIV_ENOTFOUND, "%s: no consumer with id '%s'",
                               log->path, ext_id);
    return rc < 0 ? rc : INDIV_OK;
}

int indiv_eventlog_offer_id(indiv_eventlog *log, const char *ext_id, int64_t *id,
                            indiv_error *err) {
    int rc = lookup_text(log, ST_OFFER_GET, ext_id, id, err);
    if (rc == 0)
        return indiv_error_set(err, INDIV_ENOTFOUND, "%s: no offer with id '%s'",
                               log->path, ext_id);
    return rc < 0 ? rc : INDIV_OK;
}

/* FNV-1a 64 (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/). */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Hashes one column value with its type, so that 1, 1.0, '1' and NULL differ. */
static uint64_t hash_value(uint64_t h, sqlite3_stmt *s, int col) {
    unsigned char type = (unsigned char)sqlite3_column_type(s, col);
    h = fnv1a(h, &type, 1);
    if (type == SQLITE_INTEGER) {
        int64_t v = sqlite3_column_int64(s, col);
        h = fnv1a(h, &v, sizeof v);
    } else if (type == SQLITE_FLOAT) {
        double v = sqlite3_column_double(s, col);
        h = fnv1a(h, &v, sizeof v);
    } else if (type != SQLITE_NULL) {
        const void *b = sqlite3_column_blob(s, col);
        int n = sqlite3_column_bytes(s, col);
        h = fnv1a(h, &n, sizeof n);
        h = fnv1a(h, b, (size_t)n);
    }
    return h;
}

int indiv_eventlog_content_hash(indiv_eventlog *log, char out[17], indiv_error *err) {
    static const char *const tables[] = {
        "SELECT * FROM meta WHERE key <> 'next_event_id' ORDER BY key",
        "SELECT * FROM consumers ORDER BY id",
        "SELECT * FROM categories ORDER BY id",
        "SELECT * FROM offers ORDER BY id",
        "SELECT * FROM events ORDER BY consumer_id, ts, id",
        "SELECT * FROM profiles ORDER BY consumer_id",
        "SELECT * FROM truth_consumers ORDER BY consumer_id",
        "SELECT * FROM truth_tastes ORDER BY consumer_id, category_id",
    };
    uint64_t h = FNV_OFFSET;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(log->db, tables[t], -1, &s, NULL) != SQLITE_OK)
            return db_error(log, err, "content hash");
        int rc, ncol = sqlite3_column_count(s);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            for (int c = 0; c < ncol; c++)
                h = hash_value(h, s, c);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return db_error(log, err, "content hash");
        h = fnv1a(h, &t, sizeof t); /* table boundary */
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return INDIV_OK;
}

/* ---- ordered scan ------------------------------------------------------------------ */

int indiv_eventlog_scan(indiv_eventlog *log, int64_t from_ts, int64_t before_ts,
                        indiv_event_cursor **out, indiv_error *err) {
    *out = NULL;
    indiv_event_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    cur->log = log;
    /* The primary key order is the storage order: no sort step, a sequential read. */
    const char *sql =
        "SELECT consumer_id, ts, id, offer_id, type, channel, quantity, value"
        " FROM events WHERE ts >= ?1 AND ts < ?2"
        " ORDER BY consumer_id, ts, id";
    if (sqlite3_prepare_v2(log->db, sql, -1, &cur->stmt, NULL) != SQLITE_OK) {
        free(cur);
        return db_error(log, err, "scan events");
    }
    sqlite3_bind_int64(cur->stmt, 1, from_ts);
    sqlite3_bind_int64(cur->stmt, 2, before_ts);
    *out = cur;
    return INDIV_OK;
}

static const char scan_cols[] = "SELECT e.consumer_id, e.ts, e.id, e.offer_id, e.type, "
                                "e.channel, e.quantity, e.value";

/* Prepares an event cursor over sql (bounds bound by the caller). */
static int cursor_new(indiv_eventlog *log, const char *sql, indiv_event_cursor **out,
                      indiv_error *err) {
    *out = NULL;
    indiv_event_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    cur->log = log;
    if (sqlite3_prepare_v2(log->db, sql, -1, &cur->stmt, NULL) != SQLITE_OK) {
        free(cur);
        return db_error(log, err, "scan events");
    }
    *out = cur;
    return INDIV_OK;
}

int indiv_eventlog_scan_consented(indiv_eventlog *log, int64_t from_ts, int64_t before_ts,
                                  indiv_event_cursor **out, indiv_error *err) {
    /* The planner walks consumers in id order and seeks into the events b-tree once per
     * consenting consumer (checked with EXPLAIN QUERY PLAN: no sorter): the others'
     * events are never read. LEFT JOIN: a consumer without events still yields a row. */
    const char *sql =
        "SELECT c.id, e.ts, e.id, e.offer_id, e.type, e.channel, e.quantity, e.value"
        " FROM consumers c LEFT JOIN events e"
        "  ON e.consumer_id = c.id AND e.ts >= ?1 AND e.ts < ?2"
        " WHERE c.consent_profiling = 1 ORDER BY c.id, e.ts, e.id";
    int rc = cursor_new(log, sql, out, err);
    if (rc == INDIV_OK) {
        sqlite3_bind_int64((*out)->stmt, 1, from_ts);
        sqlite3_bind_int64((*out)->stmt, 2, before_ts);
    }
    return rc;
}

int indiv_eventlog_scan_consumer(indiv_eventlog *log, int64_t consumer_id,
                                 int64_t from_ts, int64_t before_ts,
                                 indiv_event_cursor **out, indiv_error *err) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "%s FROM events e WHERE e.consumer_id = ?1 AND e.ts >= ?2 AND e.ts < ?3"
             " ORDER BY e.ts, e.id",
             scan_cols);
    int rc = cursor_new(log, sql, out, err);
    if (rc == INDIV_OK) {
        (*out)->per_consumer = 1;
        indiv_event_cursor_rebind(*out, consumer_id, from_ts, before_ts);
    }
    return rc;
}

void indiv_event_cursor_rebind(indiv_event_cursor *cur, int64_t consumer_id,
                               int64_t from_ts, int64_t before_ts) {
    assert(cur->per_consumer);
    sqlite3_reset(cur->stmt);
    sqlite3_bind_int64(cur->stmt, 1, consumer_id);
    sqlite3_bind_int64(cur->stmt, 2, from_ts);
    sqlite3_bind_int64(cur->stmt, 3, before_ts);
}

int indiv_event_cursor_next(indiv_event_cursor *cur, indiv_event *ev, indiv_error *err) {
    int rc = sqlite3_step(cur->stmt);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_error(cur->log, err, "scan events");
    sqlite3_stmt *s = cur->stmt;
    ev->consumer_id = sqlite3_column_int64(s, 0);
    ev->ts = sqlite3_column_int64(s, 1);
    ev->id = sqlite3_column_int64(s, 2);
    ev->offer_id = sqlite3_column_int64(s, 3); /* NULL reads as 0 */
    ev->type = sqlite3_column_int(s, 4);
    ev->channel = sqlite3_column_int(s, 5);
    ev->quantity = sqlite3_column_double(s, 6);
    ev->value = sqlite3_column_double(s, 7);
    return 1;
}

void indiv_event_cursor_free(indiv_event_cursor *cur) {
    if (!cur)
        return;
    sqlite3_finalize(cur->stmt);
    free(cur);
}

/* ---- catalogue reads --------------------------------------------------------------- */

int indiv_eventlog_each_category(indiv_eventlog *log,
                                 int (*fn)(void *ctx, int64_t id, const char *name),
                                 void *ctx, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(log->db, "SELECT id, name FROM categories ORDER BY id", -1, &s,
                           NULL) != SQLITE_OK)
        return db_error(log, err, "read categories");
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        res =
            fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1));
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read categories");
    sqlite3_finalize(s);
    return res;
}

static int64_t column_ts(sqlite3_stmt *s, int col) {
    return sqlite3_column_type(s, col) == SQLITE_NULL ? INDIV_TS_NONE
                                                      : sqlite3_column_int64(s, col);
}

int indiv_eventlog_each_offer(indiv_eventlog *log,
                              int (*fn)(void *ctx, const indiv_offer_row *row), void *ctx,
                              indiv_error *err) {
    sqlite3_stmt *s = NULL;
    const char *sql = "SELECT o.id, o.category_id, o.ext_id, o.name, c.name, o.price,"
                      " o.margin, o.valid_from, o.valid_to"
                      " FROM offers o JOIN categories c ON c.id = o.category_id"
                      " ORDER BY o.id";
    if (sqlite3_prepare_v2(log->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "read offers");
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        indiv_offer_row row = {
            .id = sqlite3_column_int64(s, 0),
            .category_id = sqlite3_column_int64(s, 1),
            .ext_id = (const char *)sqlite3_column_text(s, 2),
            .name = (const char *)sqlite3_column_text(s, 3),
            .category = (const char *)sqlite3_column_text(s, 4),
            .price = sqlite3_column_double(s, 5),
            .margin = sqlite3_column_double(s, 6),
            .valid_from = column_ts(s, 7),
            .valid_to = column_ts(s, 8),
        };
        res = fn(ctx, &row);
    }
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read offers");
    sqlite3_finalize(s);
    return res;
}

int indiv_eventlog_each_offer_day(indiv_eventlog *log, int64_t before_day,
                                  int (*fn)(void *ctx, int64_t offer_id, int64_t day,
                                            int64_t purchases),
                                  void *ctx, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT offer_id, day, purchases FROM offer_daily"
                           " WHERE day < ?1 ORDER BY offer_id, day",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "read offer_daily");
    sqlite3_bind_int64(s, 1, before_day);
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        res = fn(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                 sqlite3_column_int64(s, 2));
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read offer_daily");
    sqlite3_finalize(s);
    return res;
}

/* ---- consumers --------------------------------------------------------------------- */

int indiv_eventlog_consumer_get(indiv_eventlog *log, int64_t id, indiv_consumer_row *row,
                                char *ext_buf, size_t cap, indiv_error *err) {
    sqlite3_stmt *s = stmt(log, ST_CONSUMER_ROW, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s), res = INDIV_OK;
    if (rc == SQLITE_ROW) {
        row->id = sqlite3_column_int64(s, 0);
        if (ext_buf)
            snprintf(ext_buf, cap, "%s", (const char *)sqlite3_column_text(s, 1));
        row->ext_id = ext_buf;
        row->consent_profiling = sqlite3_column_int(s, 2);
        row->consent_contact = sqlite3_column_int(s, 3);
        row->channels = (unsigned)sqlite3_column_int(s, 4);
        row->unsubscribed_ts = column_ts(s, 5);
    } else if (rc == SQLITE_DONE) {
        res = indiv_error_set(err, INDIV_ENOTFOUND, "%s: no consumer with id %lld",
                              log->path, (long long)id);
    } else {
        res = db_error(log, err, "read consumer");
    }
    sqlite3_reset(s);
    return res;
}

/* ---- profiles storage -------------------------------------------------------------- */

static void profile_row_read(sqlite3_stmt *s, indiv_profile_row *row) {
    row->consumer_id = sqlite3_column_int64(s, 0);
    row->as_of = sqlite3_column_int64(s, 1);
    row->version = sqlite3_column_int(s, 2);
    row->n_events = sqlite3_column_int64(s, 3);
    row->blob = sqlite3_column_blob(s, 4);
    row->size = (size_t)sqlite3_column_bytes(s, 4);
}

int indiv_eventlog_profile_put(indiv_eventlog *log, const indiv_profile_row *row,
                               indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    sqlite3_stmt *s = stmt(log, ST_PROFILE_PUT, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, row->consumer_id);
    sqlite3_bind_int64(s, 2, row->as_of);
    sqlite3_bind_int(s, 3, row->version);
    sqlite3_bind_int64(s, 4, row->n_events);
    sqlite3_bind_blob(s, 5, row->blob, (int)row->size, SQLITE_STATIC);
    return step_done(log, s, err, "store profile");
}

int indiv_eventlog_profile_get(indiv_eventlog *log, int64_t consumer_id,
                               indiv_profile_row *row, indiv_error *err) {
    sqlite3_stmt *s = stmt(log, ST_PROFILE_GET, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_reset(s); /* the previous row's blob is released here, as documented */
    sqlite3_bind_int64(s, 1, consumer_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        profile_row_read(s, row);
        return INDIV_OK; /* left un-reset so that the blob stays valid */
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? INDIV_ENOTFOUND : db_error(log, err, "read profile");
}

int indiv_eventlog_profile_clear(indiv_eventlog *log, indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    return exec(log, "DELETE FROM profiles", err);
}

int indiv_eventlog_profile_drop_unconsented(indiv_eventlog *log, int64_t *deleted,
                                            indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    int rc = exec(log,
                  "DELETE FROM profiles WHERE consumer_id IN"
                  " (SELECT id FROM consumers WHERE consent_profiling = 0)",
                  err);
    if (rc == INDIV_OK && deleted)
        *deleted = sqlite3_changes(log->db);
    return rc;
}

/* Appends v to a growing array of ids. */
static int push_id(int64_t **ids, size_t *n, size_t *cap, int64_t v) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 1024;
        int64_t *p = realloc(*ids, c * sizeof *p);
        if (!p)
            return -1;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = v;
    return 0;
}

int indiv_eventlog_profile_stale(indiv_eventlog *log, int64_t before_ts, int64_t window_s,
                                 int64_t **ids, size_t *n, indiv_error *err) {
    /* One b-tree seek per consumer into events (consumer_id, ts): no event is scanned
     * beyond the first match. */
    const char *sql =
        "SELECT c.id FROM consumers c LEFT JOIN profiles p ON p.consumer_id = c.id"
        " WHERE c.consent_profiling = 1 AND (p.consumer_id IS NULL"
        "  OR EXISTS (SELECT 1 FROM events e WHERE e.consumer_id = c.id"
        "             AND e.ts >= p.as_of AND e.ts < ?1)"
        "  OR (?2 > 0 AND EXISTS (SELECT 1 FROM events e WHERE e.consumer_id = c.id"
        "             AND e.ts >= p.as_of - ?2 AND e.ts < ?1 - ?2)))"
        " ORDER BY c.id";
    sqlite3_stmt *s = NULL;
    *ids = NULL;
    *n = 0;
    size_t cap = 0;
    if (sqlite3_prepare_v2(log->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "find stale profiles");
    sqlite3_bind_int64(s, 1, before_ts);
    sqlite3_bind_int64(s, 2, window_s);
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        if (push_id(ids, n, &cap, sqlite3_column_int64(s, 0)) < 0)
            res = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "find stale profiles");
    sqlite3_finalize(s);
    if (res < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return res;
}

int indiv_eventlog_profile_scan(indiv_eventlog *log, indiv_profile_cursor **out,
                                indiv_error *err) {
    *out = NULL;
    indiv_profile_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    cur->log = log;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT consumer_id, as_of, version, n_events, vector"
                           " FROM profiles ORDER BY consumer_id",
                           -1, &cur->stmt, NULL) != SQLITE_OK) {
        free(cur);
        return db_error(log, err, "scan profiles");
    }
    *out = cur;
    return INDIV_OK;
}

int indiv_profile_cursor_next(indiv_profile_cursor *cur, indiv_profile_row *row,
                              indiv_error *err) {
    int rc = sqlite3_step(cur->stmt);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_error(cur->log, err, "scan profiles");
    profile_row_read(cur->stmt, row);
    return 1;
}

void indiv_profile_cursor_free(indiv_profile_cursor *cur) {
    if (!cur)
        return;
    sqlite3_finalize(cur->stmt);
    free(cur);
}

int indiv_eventlog_consumer_scan(indiv_eventlog *log, indiv_consumer_cursor **out,
                                 indiv_error *err) {
    *out = NULL;
    indiv_consumer_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    cur->log = log;
    const char *sql = "SELECT c.id, c.ext_id, c.consent_profiling, c.consent_contact,"
                      " c.channels, c.unsubscribed_ts, p.consumer_id, p.as_of, p.version,"
                      " p.n_events, p.vector"
                      " FROM consumers c LEFT JOIN profiles p ON p.consumer_id = c.id"
                      " ORDER BY c.id";
    if (sqlite3_prepare_v2(log->db, sql, -1, &cur->stmt, NULL) != SQLITE_OK) {
        free(cur);
        return db_error(log, err, "scan consumers");
    }
    *out = cur;
    return INDIV_OK;
}

int indiv_consumer_cursor_next(indiv_consumer_cursor *cur, indiv_consumer_row *row,
                               indiv_profile_row *prof, int *has_profile,
                               indiv_error *err) {
    sqlite3_stmt *s = cur->stmt;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_error(cur->log, err, "scan consumers");
    row->id = sqlite3_column_int64(s, 0);
    row->ext_id = (const char *)sqlite3_column_text(s, 1);
    row->consent_profiling = sqlite3_column_int(s, 2);
    row->consent_contact = sqlite3_column_int(s, 3);
    row->channels = (unsigned)sqlite3_column_int(s, 4);
    row->unsubscribed_ts = column_ts(s, 5);
    *has_profile = sqlite3_column_type(s, 6) != SQLITE_NULL;
    if (*has_profile) {
        prof->consumer_id = sqlite3_column_int64(s, 6);
        prof->as_of = sqlite3_column_int64(s, 7);
        prof->version = sqlite3_column_int(s, 8);
        prof->n_events = sqlite3_column_int64(s, 9);
        prof->blob = sqlite3_column_blob(s, 10);
        prof->size = (size_t)sqlite3_column_bytes(s, 10);
    }
    return 1;
}

void indiv_consumer_cursor_free(indiv_consumer_cursor *cur) {
    if (!cur)
        return;
    sqlite3_finalize(cur->stmt);
    free(cur);
}

int indiv_eventlog_count_events(indiv_eventlog *log, int64_t consumer_id, int type,
                                int64_t from_ts, int64_t before_ts, int64_t *n,
                                indiv_error *err) {
    sqlite3_stmt *s = stmt(log, ST_COUNT_EVENTS, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, consumer_id);
    sqlite3_bind_int64(s, 2, from_ts);
    sqlite3_bind_int64(s, 3, before_ts);
    sqlite3_bind_int(s, 4, type);
    int rc = step_id(log, s, n, err);
    return rc < 0 ? rc : INDIV_OK;
}

/* ---- appends since a mark ---------------------------------------------------------- */

int indiv_eventlog_appended_min_ts(indiv_eventlog *log, int64_t *ts, indiv_error *err) {
    char buf[32];
    int rc = indiv_eventlog_meta_get(log, "appended_min_ts", buf, sizeof buf, err);
    if (rc == INDIV_OK)
        *ts = strtoll(buf, NULL, 10);
    return rc;
}

int indiv_eventlog_appended_reset(indiv_eventlog *log, indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    return exec(log, "DELETE FROM meta WHERE key = 'appended_min_ts'", err);
}

/* ---- simulation support ----------------------------------------------------------- */

int indiv_eventlog_copy(const char *src, const char *dst, indiv_error *err) {
    indiv_eventlog *from = NULL;
    sqlite3 *to = NULL;
    int rc = indiv_eventlog_open(src, INDIV_EVENTLOG_READONLY, &from, err);
    if (rc < 0)
        return rc;
    remove(dst);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot create: %s", dst,
                             to ? sqlite3_errmsg(to) : "out of memory");
    } else {
        sqlite3_backup *b = sqlite3_backup_init(to, "main", from->db, "main");
        int st = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
        sqlite3_backup_finish(b);
        if (st != SQLITE_DONE)
            rc = indiv_error_set(err, INDIV_EIO, "copying %s to %s: %s", src, dst,
                                 sqlite3_errmsg(to));
    }
    sqlite3_close(to);
    indiv_eventlog_close(from);
    return rc;
}

int indiv_eventlog_set_contact_consent(indiv_eventlog *log, int64_t consumer_id,
                                       int consent, int64_t unsubscribed_ts,
                                       indiv_error *err) {
    if (need_tx(log, err) < 0)
        return INDIV_EINVAL;
    sqlite3_stmt *s = stmt(log, ST_SET_CONTACT, err);
    if (!s)
        return INDIV_EDB;
    sqlite3_bind_int64(s, 1, consumer_id);
    sqlite3_bind_int(s, 2, consent != 0);
    bind_ts(s, 3, unsubscribed_ts);
    return step_done(log, s, err, "update consent");
}

int indiv_eventlog_each_truth_consumer(indiv_eventlog *log,
                                       int (*fn)(void *ctx,
                                                 const indiv_truth_consumer *t),
                                       void *ctx, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            log->db,
            "SELECT consumer_id, interval_mean_days, interval_shape, pref_hour,"
            " pref_dow, openness, fatigue_tolerance, react_email, react_sms,"
            " react_push FROM truth_consumers ORDER BY consumer_id",
            -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "read truth_consumers");
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        indiv_truth_consumer t = {sqlite3_column_int64(s, 0),
                                  sqlite3_column_double(s, 1),
                                  sqlite3_column_double(s, 2),
                                  sqlite3_column_int(s, 3),
                                  sqlite3_column_int(s, 4),
                                  sqlite3_column_double(s, 5),
                                  sqlite3_column_double(s, 6),
                                  {sqlite3_column_double(s, 7),
                                   sqlite3_column_double(s, 8),
                                   sqlite3_column_double(s, 9)}};
        res = fn(ctx, &t);
    }
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read truth_consumers");
    sqlite3_finalize(s);
    return res;
}

int indiv_eventlog_each_truth_taste(indiv_eventlog *log,
                                    int (*fn)(void *ctx, int64_t consumer_id,
                                              int64_t category_id, double weight,
                                              int latent),
                                    void *ctx, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            log->db,
            "SELECT consumer_id, category_id, weight, latent FROM truth_tastes"
            " ORDER BY consumer_id, category_id",
            -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "read truth_tastes");
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        res = fn(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                 sqlite3_column_double(s, 2), sqlite3_column_int(s, 3));
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read truth_tastes");
    sqlite3_finalize(s);
    return res;
}

int indiv_eventlog_each_last_purchase(indiv_eventlog *log, int64_t before_ts,
                                      int (*fn)(void *ctx, int64_t consumer_id,
                                                int64_t ts),
                                      void *ctx, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT consumer_id, max(ts) FROM events WHERE type = 2"
                           " AND ts < ?1 GROUP BY consumer_id ORDER BY consumer_id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "read last purchases");
    sqlite3_bind_int64(s, 1, before_ts);
    int rc, res = INDIV_OK;
    while (res == INDIV_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        res = fn(ctx, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1));
    if (res == INDIV_OK && rc != SQLITE_DONE)
        res = db_error(log, err, "read last purchases");
    sqlite3_finalize(s);
    return res;
}

/* ---- snapshots --------------------------------------------------------------------- */

/* What a snapshot copies from the attached source ("src"); ?1 is the cut. Columns are
 * named, so that the copy does not depend on column order. */
static const char *const snapshot_sql[] = {
    "INSERT INTO consumers (id, ext_id, consent_profiling, consent_contact, channels,"
    " country, unsubscribed_ts) SELECT id, ext_id, consent_profiling, consent_contact,"
    " channels, country, CASE WHEN unsubscribed_ts < ?1 THEN unsubscribed_ts END"
    " FROM src.consumers ORDER BY id",
    "INSERT INTO categories (id, name) SELECT id, name FROM src.categories ORDER BY id",
    "INSERT INTO offers (id, ext_id, name, category_id, price, margin, valid_from, "
    "valid_to)"
    " SELECT id, ext_id, name, category_id, price, margin, valid_from, valid_to"
    " FROM src.offers ORDER BY id",
    "INSERT INTO events (consumer_id, ts, id, offer_id, type, channel, quantity, value)"
    " SELECT consumer_id, ts, id, offer_id, type, channel, quantity, value"
    " FROM src.events WHERE ts < ?1 ORDER BY consumer_id, ts, id",
};

/* Runs one statement, binding ?1 to ts when it has a parameter. */
static int run_bound(indiv_eventlog *log, const char *sql, int64_t ts, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(log->db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_error(log, err, "snapshot");
    if (sqlite3_bind_parameter_count(s) >= 1)
        sqlite3_bind_int64(s, 1, ts);
    int rc = step_done(log, s, err, "snapshot");
    sqlite3_finalize(s);
    return rc;
}

/* Attaches the source database as "src" (outside any transaction, as SQLite requires). */
static int attach_source(indiv_eventlog *snap, const char *src_path, indiv_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(snap->db, "ATTACH DATABASE ?1 AS src", -1, &s, NULL) !=
        SQLITE_OK)
        return db_error(snap, err, "attach the source of a snapshot");
    sqlite3_bind_text(s, 1, src_path, -1, SQLITE_STATIC);
    int rc = step_done(snap, s, err, "attach the source of a snapshot");
    sqlite3_finalize(s);
    snap->attached = rc == INDIV_OK;
    return rc;
}

static int snapshot_copy(indiv_eventlog *snap, int64_t before_ts, indiv_error *err) {
    int rc = indiv_eventlog_begin(snap, err);
    for (size_t i = 0; rc == INDIV_OK && i < sizeof snapshot_sql / sizeof *snapshot_sql;
         i++)
        rc = run_bound(snap, snapshot_sql[i], before_ts, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_rebuild_offer_daily(snap, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_commit(snap, err);
    else
        indiv_eventlog_rollback(snap);
    return rc;
}

int indiv_eventlog_snapshot(indiv_eventlog *log, const char *path, int64_t before_ts,
                            indiv_eventlog **out, indiv_error *err) {
    struct stat sb;
    int memory = strcmp(path, ":memory:") == 0;
    *out = NULL;
    if (log->in_memory)
        return indiv_error_set(err, INDIV_EINVAL,
                               "a snapshot needs a database file, not an in-memory one");
    if (!memory && stat(path, &sb) == 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s: exists; a snapshot needs a new file", path);
    indiv_eventlog *snap;
    /* A snapshot file is scratch: Ctrl-C or SIGTERM removes it (the next run with the
     * same --scratch would refuse it), until it is closed. */
    int h = memory ? -1 : indiv_fileio_track(path);
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &snap, err);
    if (rc < 0) {
        indiv_fileio_untrack(h);
        return rc;
    }
    snap->tracked = h + 1;
    rc = attach_source(snap, log->path, err);
    if (rc == INDIV_OK) {
        rc = snapshot_copy(snap, before_ts, err);
        exec(snap, "DETACH DATABASE src", rc == INDIV_OK ? err : NULL);
        snap->attached = 0;
    }
    if (rc < 0) {
        indiv_eventlog_close(snap);
        if (!memory)
            unlink(path);
        return rc;
    }
    /* Messages about an in-memory snapshot name the database the user gave (its every
     * offer and consumer is there), never ":memory:", which they cannot act on. */
    char *name = memory ? strdup(log->path) : NULL;
    if (name) {
        free(snap->path);
        snap->path = name;
    }
    *out = snap;
    return INDIV_OK;
}

/* ---- internals for the rights module (eventlog_internal.h) ------------------------ */

sqlite3 *indiv_eventlog_sqlite(indiv_eventlog *log) {
    return log->db;
}

int indiv_eventlog_in_tx(const indiv_eventlog *log) {
    return log->in_tx;
}

int indiv_eventlog_db_error(indiv_eventlog *log, indiv_error *err, const char *what) {
    return db_error(log, err, what);
}
