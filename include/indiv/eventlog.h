/*
 * eventlog.h — the SQLite event log: open/create, schema version, writes, ordered reads.
 *
 * The event log is the source of truth of indiv (docs/architecture.md §4): consumers with
 * per-purpose consent, offers in categories, typed events, built profiles and, for
 * simulated worlds, ground truth. This module is the only one that talks to SQLite; the
 * others see an opaque handle and plain C records.
 *
 * Usage:
 *     indiv_eventlog *log;
 *     if (indiv_eventlog_open("world.db", INDIV_EVENTLOG_CREATE, &log, &err) < 0) ...
 *     indiv_eventlog_begin(log, &err);
 *     indiv_eventlog_add_consumer(log, &c, &cid, &err);
 *     indiv_eventlog_add_event(log, &ev, &err);
 *     indiv_eventlog_commit(log, &err);      (or indiv_eventlog_rollback(log))
 *     indiv_eventlog_close(log);
 *
 * Writes happen inside an explicit transaction (begin/commit): a failed import or
 * generation rolls back and leaves the database exactly as it was. A handle is used by
 * one thread at a time.
 */
#ifndef INDIV_EVENTLOG_H
#define INDIV_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/progress.h"
#include "indiv/vocab.h"

/* Schema version this build reads and writes (PRAGMA user_version). */
#define INDIV_SCHEMA_VERSION 1
/* PRAGMA application_id of indiv databases: "INDV". */
#define INDIV_APPLICATION_ID 0x494E4456
/* Event types, channels and their names, INDIV_TS_NONE, the handle's name: vocab.h. */

typedef struct indiv_consumer_rec {
    const char *ext_id;    /* required, non-empty */
    int consent_profiling; /* 0 or 1 */
    int consent_contact;   /* 0 or 1 */
    unsigned channels;     /* mask of INDIV_CH_BIT of contactable channels */
    const char *country;   /* may be NULL */
} indiv_consumer_rec;

typedef struct indiv_offer_rec {
    const char *ext_id;   /* required, non-empty */
    const char *name;     /* may be NULL (stored as '') */
    const char *category; /* required; created in categories if new */
    double price;         /* >= 0, finite */
    double margin;        /* finite */
    int64_t valid_from;   /* INDIV_TS_NONE when unbounded */
    int64_t valid_to;     /* INDIV_TS_NONE when unbounded */
} indiv_offer_rec;

typedef struct indiv_event {
    int64_t consumer_id; /* our id (consumers.id) */
    int64_t ts;          /* UTC seconds */
    int64_t id;          /* assigned by indiv_eventlog_add_event */
    int64_t offer_id;    /* 0 when the event is about no offer */
    int type;            /* indiv_event_type */
    int channel;         /* indiv_channel, INDIV_CH_NONE when unknown */
    double quantity;
    double value;
} indiv_event;

/* Aggregate counts of a database, for summaries and tests. */
typedef struct indiv_eventlog_stats {
    int64_t consumers, offers, categories, events, profiles;
    int64_t consent_profiling, consent_contact; /* consumers who gave each consent */
    int64_t by_type[INDIV_EV_MAX + 1];          /* events per type code */
    int64_t first_ts, last_ts;                  /* INDIV_TS_NONE when no events */
} indiv_eventlog_stats;

/* Open flags. */
enum {
    INDIV_EVENTLOG_READONLY = 1 << 0, /* never write; fails on a missing file */
    INDIV_EVENTLOG_CREATE = 1 << 1,   /* create the file and schema when missing/empty */
    INDIV_EVENTLOG_SCRATCH = 1 << 2,  /* a scratch copy (simulation work database): no
                                         fsync, rollback journal in memory. Transactions
                                         still roll back, but a crash may lose the file */
    INDIV_EVENTLOG_WAL = 1 << 3,      /* switch the file to write-ahead logging with a
                                         full fsync at every commit (the service's
                                         writer: readers on other connections never wait
                                         for it; a committed write survives a crash) */
    INDIV_EVENTLOG_SIBLING = 1 << 4   /* another handle of this process has the file
                                         open: skip the truncation check, which reads
                                         the file directly (closing any descriptor of a
                                         file drops every POSIX lock the process holds
                                         on it, and SQLite's other handles rely on them:
                                         another process would then think itself the
                                         last one and delete the write-ahead log) */
};

/* ---- lifecycle ---------------------------------------------------------------- */

/* Opens (and with INDIV_EVENTLOG_CREATE creates) the database at path. A database of an
 * older schema version is migrated; one of a newer version, a file that is not an indiv
 * database, or a file that is not SQLite at all is refused with INDIV_ESCHEMA and left
 * untouched. On error *out is NULL. */
int indiv_eventlog_open(const char *path, unsigned flags, indiv_eventlog **out /* OUT */,
                        indiv_error *err);

/* Closes the handle, rolling back an open transaction. Accepts NULL. */
void indiv_eventlog_close(indiv_eventlog *log);

/* How long a statement waits for another connection's lock before failing with
 * INDIV_EBUSY (default 5000 ms). */
void indiv_eventlog_busy_timeout(indiv_eventlog *log, int ms);

/* Path the handle was opened with (borrowed). */
const char *indiv_eventlog_path(const indiv_eventlog *log);

/* ---- transactions ------------------------------------------------------------- */

int indiv_eventlog_begin(indiv_eventlog *log, indiv_error *err);
int indiv_eventlog_commit(indiv_eventlog *log, indiv_error *err);
/* Rolls back the open transaction, if any. Cannot fail in a way the caller can act on. */
void indiv_eventlog_rollback(indiv_eventlog *log);

/* A hold: many transactions of a scratch database (INDIV_EVENTLOG_SCRATCH) in one SQL
 * transaction, without a journal, so that a page changed in every transaction (the
 * simulation's rounds) is written to the file once, at indiv_eventlog_release, instead
 * of at each commit. Inside a hold, begin/commit do their logical work (event ids,
 * meta, offer_daily) and this handle reads what they wrote; other connections (a
 * snapshot) see nothing of it until the release. A rollback inside a hold ends it and
 * leaves the file in an unspecified state: a held database is one whose failure means
 * discarding it. INDIV_EINVAL on a non-scratch database or with a transaction open. */
int indiv_eventlog_hold(indiv_eventlog *log, indiv_error *err);
/* Writes the hold's changes to the file; INDIV_EINVAL when none is held or a
 * transaction is open. */
int indiv_eventlog_release(indiv_eventlog *log, indiv_error *err);

/* A read transaction: every read until indiv_eventlog_read_end sees the database as it
 * was at the first read (one snapshot), whatever other connections commit meanwhile.
 * read_end resets the handle's statements (borrowed rows become invalid) and accepts a
 * handle with no read transaction open. */
int indiv_eventlog_read_begin(indiv_eventlog *log, indiv_error *err);
void indiv_eventlog_read_end(indiv_eventlog *log);

/* ---- writes (inside a transaction) -------------------------------------------- */

/* Inserts the consumer if its ext_id is new; otherwise leaves the row as it is. *id is
 * our id either way. *created (may be NULL) tells which. */
int indiv_eventlog_add_consumer(indiv_eventlog *log, const indiv_consumer_rec *rec,
                                int64_t *id /* OUT */, int *created /* OUT */,
                                indiv_error *err);

/* Returns the id of category name, creating it if new. */
int indiv_eventlog_add_category(indiv_eventlog *log, const char *name,
                                int64_t *id /* OUT */, indiv_error *err);

/* Inserts the offer (and its category) if its ext_id is new; otherwise leaves it. */
int indiv_eventlog_add_offer(indiv_eventlog *log, const indiv_offer_rec *rec,
                             int64_t *id /* OUT */, int *created /* OUT */,
                             indiv_error *err);

/* Overwrites name, category and price of an existing offer (importers that learn them
 * only at the end of a file). */
int indiv_eventlog_update_offer(indiv_eventlog *log, int64_t offer_id, const char *name,
                                const char *category, double price, indiv_error *err);

/* Appends an event; ev->id is ignored and set to the next free id (OUT). The consumer
 * and offer must exist; type and channel must be valid codes. An unsubscribe event also
 * sets the consumer's unsubscribed_ts (the earliest one wins): contact consent is
 * withdrawn from that time on. */
int indiv_eventlog_add_event(indiv_eventlog *log, indiv_event *ev, indiv_error *err);

/* Sets a meta key (insert or replace). */
int indiv_eventlog_meta_set(indiv_eventlog *log, const char *key, const char *value,
                            indiv_error *err);

/* Copies the value of a meta key into buf (NUL-terminated, truncated to cap).
 * Returns INDIV_ENOTFOUND (without setting err) when the key is absent. */
int indiv_eventlog_meta_get(indiv_eventlog *log, const char *key, char *buf, size_t cap,
                            indiv_error *err);

/* ---- imports registry ---------------------------------------------------------- */

typedef struct indiv_import_rec {
    const char *fingerprint; /* 16 hex digits */
    const char *format;
    const char *source; /* file name as given */
    int64_t imported_ts;
    int64_t rows_read, rows_imported, rows_skipped;
} indiv_import_rec;

/* *found = 1 when an import with this fingerprint is recorded, with its source copied
 * into source_buf (may be NULL). */
int indiv_eventlog_import_find(indiv_eventlog *log, const char *fingerprint,
                               int *found /* OUT */, char *source_buf, size_t cap,
                               indiv_error *err);
/* Calls fn for every recorded import, oldest first (strings borrowed for the call). fn
 * returns 0 to go on, non-zero to stop (a negative value is returned). */
int indiv_eventlog_each_import(indiv_eventlog *log,
                               int (*fn)(void *ctx, const indiv_import_rec *rec),
                               void *ctx, indiv_error *err);

int indiv_eventlog_import_record(indiv_eventlog *log, const indiv_import_rec *rec,
                                 indiv_error *err);

/* ---- ground truth of simulated worlds ------------------------------------------ */

typedef struct indiv_truth_consumer {
    int64_t consumer_id;
    double interval_mean_days, interval_shape;
    int pref_hour, pref_dow;
    double openness, fatigue_tolerance;
    double react[3]; /* email, sms, push */
} indiv_truth_consumer;

int indiv_eventlog_add_truth_consumer(indiv_eventlog *log, const indiv_truth_consumer *t,
                                      indiv_error *err);
int indiv_eventlog_add_truth_taste(indiv_eventlog *log, int64_t consumer_id,
                                   int64_t category_id, double weight, int latent,
                                   indiv_error *err);

/* ---- reads -------------------------------------------------------------------- */

int indiv_eventlog_stats_get(indiv_eventlog *log, indiv_eventlog_stats *st /* OUT */,
                             indiv_error *err);

/* Time of the last event (*ts = INDIV_TS_NONE when there is none). Kept in
 * meta('last_event_ts') by every commit that appends events, so this is a lookup; a
 * database written by other tools costs one scan. */
int indiv_eventlog_last_event_ts(indiv_eventlog *log, int64_t *ts /* OUT */,
                                 indiv_error *err);

/* Consumers, and how many gave profiling consent: two cheap counts, no event scan (the
 * per-round path of decisions and profile builds uses this, not stats_get). */
int indiv_eventlog_consumer_counts(indiv_eventlog *log, int64_t *consumers /* OUT */,
                                   int64_t *consent_profiling /* OUT */,
                                   indiv_error *err);

/* Looks up our id of a consumer from its source id. INDIV_ENOTFOUND when absent. */
int indiv_eventlog_consumer_id(indiv_eventlog *log, const char *ext_id,
                               int64_t *id /* OUT */, indiv_error *err);

/* Looks up our id of an offer from its source id. INDIV_ENOTFOUND when absent. */
int indiv_eventlog_offer_id(indiv_eventlog *log, const char *ext_id,
                            int64_t *id /* OUT */, indiv_error *err);

/* FNV-1a 64 over the content of every data table, in primary-key order, as 16 hex
 * digits plus NUL: equal databases give equal hashes (determinism tests, model
 * provenance). The imports table (which records wall-clock times) is left out. */
int indiv_eventlog_content_hash(indiv_eventlog *log, char out[17], indiv_error *err);

/* Ordered pass over events: by consumer, then time, then id; only events with
 * from_ts <= ts < before_ts (use INT64_MIN / INT64_MAX for no bound). */
typedef struct indiv_event_cursor indiv_event_cursor;

int indiv_eventlog_scan(indiv_eventlog *log, int64_t from_ts, int64_t before_ts,
                        indiv_event_cursor **out /* OUT */, indiv_error *err);
/* Returns 1 and fills *ev when a row was read, 0 at the end, negative on error. */
int indiv_event_cursor_next(indiv_event_cursor *cur, indiv_event *ev /* OUT */,
                            indiv_error *err);
void indiv_event_cursor_free(indiv_event_cursor *cur);

/* ---- catalogue reads ------------------------------------------------------------- */

/* One offer as stored, with its category's name (strings borrowed during the callback).
 */
typedef struct indiv_offer_row {
    int64_t id, category_id;
    const char *ext_id, *name, *category;
    double price, margin;
    int64_t valid_from, valid_to; /* INDIV_TS_NONE when unbounded */
} indiv_offer_row;

/* Calls fn for every category (id order) with its id and name. A non-zero return of fn
 * stops the walk and is returned. */
int indiv_eventlog_each_category(indiv_eventlog *log,
                                 int (*fn)(void *ctx, int64_t id, const char *name),
                                 void *ctx, indiv_error *err);

/* Calls fn for every offer in id order. A non-zero return of fn stops and is returned. */
int indiv_eventlog_each_offer(indiv_eventlog *log,
                              int (*fn)(void *ctx, const indiv_offer_row *row), void *ctx,
                              indiv_error *err);

/* Recomputes offer_daily from the events (for databases written by other tools), inside
 * a transaction. */
int indiv_eventlog_rebuild_offer_daily(indiv_eventlog *log, indiv_error *err);

/* Calls fn(ctx, offer_id, day, purchases) for every offer_daily row with day < before_day
 * (days since 1970-01-01, UTC), in (offer, day) order. */
int indiv_eventlog_each_offer_day(indiv_eventlog *log, int64_t before_day,
                                  int (*fn)(void *ctx, int64_t offer_id, int64_t day,
                                            int64_t purchases),
                                  void *ctx, indiv_error *err);

/* ---- consent-aware event scans ---------------------------------------------------- */

/* Ordered pass over the events of consumers who gave profiling consent only: events of
 * the others are never read. Bounds as in indiv_eventlog_scan. A consenting consumer
 * with no event in the bounds yields one row with type INDIV_EV_NONE, so that every
 * consenting consumer is seen exactly once or more. */
int indiv_eventlog_scan_consented(indiv_eventlog *log, int64_t from_ts, int64_t before_ts,
                                  indiv_event_cursor **out /* OUT */, indiv_error *err);

/* Ordered pass over one consumer's events in [from_ts, before_ts). The cursor can be
 * re-aimed at another consumer with indiv_event_cursor_rebind (no new statement). */
int indiv_eventlog_scan_consumer(indiv_eventlog *log, int64_t consumer_id,
                                 int64_t from_ts, int64_t before_ts,
                                 indiv_event_cursor **out /* OUT */, indiv_error *err);
void indiv_event_cursor_rebind(indiv_event_cursor *cur, int64_t consumer_id,
                               int64_t from_ts, int64_t before_ts);

/* ---- consumers --------------------------------------------------------------------- */

/* indiv_consumer_row, the record of a consumer this section returns: vocab.h. */

/* Looks a consumer up by our id. INDIV_ENOTFOUND when absent. ext_id is copied into
 * ext_buf (may be NULL) and row->ext_id points there. */
int indiv_eventlog_consumer_get(indiv_eventlog *log, int64_t id,
                                indiv_consumer_row *row /* OUT */, char *ext_buf,
                                size_t cap, indiv_error *err);

/* ---- profiles storage ------------------------------------------------------------- */

typedef struct indiv_profile_row {
    int64_t consumer_id, as_of, n_events;
    int version;
    const void *blob; /* borrowed: valid until the next call on the same handle/cursor */
    size_t size;
} indiv_profile_row;

/* Inserts or replaces the profile of row->consumer_id (inside a transaction). */
int indiv_eventlog_profile_put(indiv_eventlog *log, const indiv_profile_row *row,
                               indiv_error *err);

/* Reads one profile; INDIV_ENOTFOUND (err not set) when there is none. */
int indiv_eventlog_profile_get(indiv_eventlog *log, int64_t consumer_id,
                               indiv_profile_row *row /* OUT */, indiv_error *err);

/* Deletes every profile (inside a transaction). */
int indiv_eventlog_profile_clear(indiv_eventlog *log, indiv_error *err);

/* Deletes the profiles of consumers who have not (or no longer) given profiling consent
 * (inside a transaction); *deleted (may be NULL) gets how many. */
int indiv_eventlog_profile_drop_unconsented(indiv_eventlog *log, int64_t *deleted,
                                            indiv_error *err);

/* Consumers whose profile must be rebuilt for a build as of before_ts: consenting
 * consumers without a profile, and those with an event in [profile.as_of, before_ts) or,
 * when window_s > 0, in [profile.as_of - window_s, before_ts - window_s) (events leaving
 * the window). *ids (caller frees) is sorted. */
int indiv_eventlog_profile_stale(indiv_eventlog *log, int64_t before_ts, int64_t window_s,
                                 int64_t **ids /* OUT */, size_t *n /* OUT */,
                                 indiv_error *err);

/* Profiles in consumer order. */
typedef struct indiv_profile_cursor indiv_profile_cursor;
int indiv_eventlog_profile_scan(indiv_eventlog *log, indiv_profile_cursor **out /* OUT */,
                                indiv_error *err);
/* 1 with *row filled (blob borrowed until the next call), 0 at the end, <0 error. */
int indiv_profile_cursor_next(indiv_profile_cursor *cur, indiv_profile_row *row /* OUT */,
                              indiv_error *err);
void indiv_profile_cursor_free(indiv_profile_cursor *cur);

/* Every consumer in id order, with their stored profile when they have one (the
 * decision engine's read). */
typedef struct indiv_consumer_cursor indiv_consumer_cursor;
int indiv_eventlog_consumer_scan(indiv_eventlog *log,
                                 indiv_consumer_cursor **out /* OUT */, indiv_error *err);
/* 1 with *row filled (ext_id borrowed until the next call) and *has_profile set (and
 * *prof filled, blob borrowed, when 1); 0 at the end; negative on error. */
int indiv_consumer_cursor_next(indiv_consumer_cursor *cur,
                               indiv_consumer_row *row /* OUT */,
                               indiv_profile_row *prof /* OUT */,
                               int *has_profile /* OUT */, indiv_error *err);
void indiv_consumer_cursor_free(indiv_consumer_cursor *cur);

/* Number of events of one type for one consumer in [from_ts, before_ts): one b-tree
 * seek. */
int indiv_eventlog_count_events(indiv_eventlog *log, int64_t consumer_id, int type,
                                int64_t from_ts, int64_t before_ts, int64_t *n /* OUT */,
                                indiv_error *err);

/* ---- appends since a mark ---------------------------------------------------------- */

/* Every commit that appended events lowers meta('appended_min_ts') to the earliest ts it
 * appended. A profile build resets the mark, so an incremental build can tell whether
 * events older than the profiles arrived since (then it must rebuild everything).
 * INDIV_ENOTFOUND (err not set) when nothing was appended since the mark. */
int indiv_eventlog_appended_min_ts(indiv_eventlog *log, int64_t *ts /* OUT */,
                                   indiv_error *err);
int indiv_eventlog_appended_reset(indiv_eventlog *log, indiv_error *err);

/* ---- simulation support ------------------------------------------------------------ */

/* Copies the database at src to dst (created or overwritten) with SQLite's online backup,
 * so that a simulation works on a copy and the world stays as it was. */
int indiv_eventlog_copy(const char *src, const char *dst, indiv_error *err);

/* Sets contact consent (and the unsubscription time, INDIV_TS_NONE to clear it) of one
 * consumer, inside a transaction. */
int indiv_eventlog_set_contact_consent(indiv_eventlog *log, int64_t consumer_id,
                                       int consent, int64_t unsubscribed_ts,
                                       indiv_error *err);

/* Ground truth, in consumer order: fn is called once per truth_consumers row, and
 * taste_fn once per truth_tastes row. A non-zero return of a callback stops the walk. */
int indiv_eventlog_each_truth_consumer(indiv_eventlog *log,
                                       int (*fn)(void *ctx,
                                                 const indiv_truth_consumer *t),
                                       void *ctx, indiv_error *err);
int indiv_eventlog_each_truth_taste(indiv_eventlog *log,
                                    int (*fn)(void *ctx, int64_t consumer_id,
                                              int64_t category_id, double weight,
                                              int latent),
                                    void *ctx, indiv_error *err);

/* Time of each consumer's last purchase before before_ts (one pass over the events). */
int indiv_eventlog_each_last_purchase(indiv_eventlog *log, int64_t before_ts,
                                      int (*fn)(void *ctx, int64_t consumer_id,
                                                int64_t ts),
                                      void *ctx, indiv_error *err);

/* ---- snapshots (training, evaluation) ---------------------------------------------- */

/* Creates at path a new indiv database holding what was known strictly before
 * before_ts: every consumer (an unsubscription at or after before_ts cleared), category
 * and offer, the events with ts < before_ts, and offer_daily rebuilt from them; no meta,
 * profile, import or truth row is copied. path must not exist, or be ":memory:" (the
 * snapshot then lives in *out only); log must be a database file. Training and
 * evaluation build their profiles in a snapshot, so that no event at or after their cut
 * can reach them and the source log is only read. On error *out is NULL and nothing is
 * left at path. */
int indiv_eventlog_snapshot(indiv_eventlog *log, const char *path, int64_t before_ts,
                            indiv_eventlog **out /* OUT */, indiv_error *err);

/* Splits the database at src into dir/part-0.db ... dir/part-(parts−1).db (indiv
 * partition, docs/scale.md): part r holds the consumers whose source id shard_of maps to
 * r (with their original ids) and every row keyed by them (events, profiles, truth), and
 * the rest whole (catalogue, offer_daily, meta, imports), plus meta('partition') =
 * "r/parts". Each part is a complete indiv database, written to a temporary file and
 * renamed; an existing part of the same name is replaced. progress (may be NULL) gets
 * stage "partition" after each part. */
int indiv_eventlog_partition(const char *src, const char *dir, int parts,
                             int (*shard_of)(const char *ext_id, int n),
                             indiv_progress_fn progress, void *pctx, indiv_error *err);

#endif /* INDIV_EVENTLOG_H */
