/*
 * rights.h — the data rights of the people in an event log: access (export), erasure
 * (forget), consent changes and retention; and the registry of the models trained on or
 * used with a database, which erasure marks (docs/rights.md).
 *
 * Every operation names the person by their source id (consumers.ext_id) and fails with
 * INDIV_ENOTFOUND ("no consumer with id '...'") when the database has no such person.
 * Writes run in one transaction: the operation's own, or the caller's when one is open
 * on the handle (indiv_eventlog_begin), so that several people can be erased together
 * and all-or-nothing. Times are UTC seconds handed in by the caller (`now`): the library
 * never reads the clock.
 *
 * What a "per-person row" is: a row of any table with a column named consumer_id (found
 * in sqlite_master at run time, so a table added later is covered without a change
 * here), and the person's row of consumers. Erasure deletes them all; export returns
 * them all. A module that stores something about one person must give it such a column.
 *
 * Models: `indiv train` records each model it writes in the database's `models` table
 * (created when missing; older databases stay readable), and `indiv decide` records the
 * model it used. A model is identified by its key (indiv_rights_model_key). Erasing a
 * person marks every registered model whose training data may have included them (the
 * model's provenance says it learnt from events before T, and the person had an event
 * before T): such a model keeps what it learnt from them until it is retrained.
 * indiv_rights_models_check tells a caller that is about to decide with a model.
 *
 * Usage (serve, the CLI):
 *     json_t *j;
 *     indiv_rights_export(log, "17850", &j, &err);           GET    /v1/consumers/{id}
 *     indiv_rights_forget(log, "17850", now, &j, &err);      DELETE /v1/consumers/{id}
 *     indiv_consent_change c;
 *     indiv_consent_change_from_json(body, &c, &err);
 *     indiv_rights_consent(log, "17850", &c, now, &j, &err); PUT  .../{id}/consent
 *     indiv_rights_models_check(log, &model, &erased, &err);
 */
#ifndef INDIV_RIGHTS_H
#define INDIV_RIGHTS_H

#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"

struct json_t;

/* ---- access ------------------------------------------------------------------------ */

/* Format name and version of an export object. */
#define INDIV_EXPORT_FORMAT  "indiv-export"
#define INDIV_EXPORT_VERSION 1

/* Everything the database holds on one person, as a new JSON object (caller decrefs):
 *   "format", "version";
 *   "consumer": id, consent_profiling, consent_contact (booleans), channels (names),
 *               country (or null), unsubscribed (ISO 8601 or null);
 *   "events":   every event of theirs, in time order: id, time, type, offer (source id
 *               or null), channel (name or null), quantity, value;
 *   "profile":  null, or as_of, version, events_used, vector (the stored numbers) and,
 *               when the profile is in the category feature space, "readable" (what
 *               indiv profile --show prints);
 *   "consent_changes": the changes made through indiv_rights_consent, oldest first;
 *   "other":    every other per-person table (truth_* of generated worlds, tables added
 *               later), table name -> array of rows (column -> value);
 *   "models":   the registered models whose training data may include their events.
 * Only reads. INDIV_ENOTFOUND for an unknown id. */
int indiv_rights_export(indiv_eventlog *log, const char *ext_id,
                        struct json_t **out /* OUT */, indiv_error *err);

/* ---- erasure ----------------------------------------------------------------------- */

/* Erases the person: every per-person row (events, profile, consent changes, truth rows,
 * any table with a consumer_id column) and their consumers row, in one transaction.
 * offer_daily (the offers' purchase counts per day) is lowered by their purchases, so
 * that it still equals what the remaining events give, and meta('last_event_ts') is
 * corrected when their event was the last. Marks every registered model whose training
 * data may include their events (models.erased + 1, models.erased_ts = now).
 * *report (may be NULL; caller decrefs) is a new object:
 *   {"consumer": id, "removed": {table: rows, ...}, "offer_daily_lowered": purchases,
 *    "models_marked": [{"key", "id", "path", "data_before"}, ...]}
 * INDIV_ENOTFOUND for an unknown id (nothing changed). */
int indiv_rights_forget(indiv_eventlog *log, const char *ext_id, int64_t now,
                        struct json_t **report /* OUT, may be NULL */, indiv_error *err);

/* ---- consent ----------------------------------------------------------------------- */

/* A field left at INDIV_CONSENT_KEEP is not changed. */
#define INDIV_CONSENT_KEEP (-1)

typedef struct indiv_consent_change {
    int profiling; /* 0, 1 or KEEP: may a profile be built from their events? */
    int contact;   /* 0, 1 or KEEP: may they be contacted? 1 also lifts an unsubscribe */
    int channels;  /* mask of INDIV_CH_BIT of contactable channels, or KEEP */
} indiv_consent_change;

/* Every field INDIV_CONSENT_KEEP. */
void indiv_consent_change_init(indiv_consent_change *c);

/* Reads {"profiling": bool, "contact": bool, "channels": ["email", "sms", ...]} (every
 * key optional, no other key allowed, at least one present). INDIV_EINVAL naming the
 * field on a wrong type, an unknown key or channel, or a non-contactable channel. */
int indiv_consent_change_from_json(const struct json_t *obj,
                                   indiv_consent_change *c /* OUT */, indiv_error *err);

/* Parses "email,sms" (contactable channel names, comma-separated, case-insensitive) or
 * "none" into a channel mask. INDIV_EINVAL naming the bad name. */
int indiv_channels_parse_list(const char *list, unsigned *mask /* OUT */,
                              indiv_error *err);

/* Applies the change to the person, in one transaction, and records it in the
 * consent_changes table (time now, state after the change). Withdrawing profiling
 * consent deletes their stored profile at once, so that the next decision, whoever
 * makes it, no longer uses it; granting contact consent clears an unsubscription. The
 * next decision honours the new state (the policy reads the consumers row).
 * *result (may be NULL; caller decrefs): {"consumer", "before": {...}, "after": {...},
 * "profile_deleted": bool}, states with consent_profiling, consent_contact, channels,
 * unsubscribed. INDIV_ENOTFOUND for an unknown id; INDIV_EINVAL for a bad field. */
int indiv_rights_consent(indiv_eventlog *log, const char *ext_id,
                         const indiv_consent_change *c, int64_t now,
                         struct json_t **result /* OUT, may be NULL */, indiv_error *err);

/* ---- retention --------------------------------------------------------------------- */

typedef struct indiv_retention_report {
    int64_t cutoff;                    /* events with ts < cutoff are purged */
    int64_t events;                    /* events deleted (or that would be, dry run) */
    int64_t by_type[INDIV_EV_MAX + 1]; /* of which, per event type code */
    int64_t consumers;                 /* people who had events deleted */
    int64_t profiles;                  /* their profiles (built from purged data) */
    int64_t remaining;                 /* events left */
} indiv_retention_report;

/* Purges the events older than older_days before as_of (ts < as_of - older_days days;
 * as_of is normally the present, now), in one transaction: offer_daily is lowered by
 * the purged purchases, the profiles of the people concerned are deleted (they were
 * built from purged events; the next `indiv profile --incremental` rebuilds them from
 * what is left), and meta('retention_last_run') records the run as JSON (ran_at = now,
 * as_of, older_than_days, cutoff, counts). Consumer rows stay (their consent is still
 * needed). dry_run = 1 counts and changes nothing. INDIV_EINVAL for a negative,
 * non-finite or too large (> 1e6) older_days. */
int indiv_rights_retention(indiv_eventlog *log, double older_days, int64_t as_of,
                           int64_t now, int dry_run,
                           indiv_retention_report *out /* OUT */, indiv_error *err);

/* ---- models registry --------------------------------------------------------------- */

/* Identity of a model: FNV-1a 64 of its id and provenance text, as 16 hex digits plus
 * NUL. Every training run gives a new key (its provenance records when it ran); the same
 * file loaded twice gives the same key. */
void indiv_rights_model_key(const indiv_model *m, char out[17]);

typedef enum indiv_model_role {
    INDIV_MODEL_TRAINED = 1, /* trained from this database (indiv train) */
    INDIV_MODEL_USED = 2     /* decided with on this database (indiv decide, serve) */
} indiv_model_role;

/* Records the model in the models table (created when missing), in one transaction:
 * key, id, path (may be NULL), data_before (the provenance's "as_of", when it has one),
 * trained_ts or last_used_ts = now (and uses + 1) by role. */
int indiv_rights_model_record(indiv_eventlog *log, const indiv_model *m, const char *path,
                              indiv_model_role role, int64_t now, indiv_error *err);

/* *erased = how many erased people's data the model may still hold (0 when the model is
 * not registered, or was never marked). Only reads; a database without a models table
 * gives 0. A caller about to decide warns when *erased > 0 (retrain the model). */
int indiv_rights_models_check(indiv_eventlog *log, const indiv_model *m,
                              int64_t *erased /* OUT */, indiv_error *err);

/* One registered model, as indiv_rights_each_model reports it (strings borrowed for the
 * call; times INDIV_TS_NONE when unknown). */
typedef struct indiv_model_entry {
    const char *key, *id, *path;
    int64_t data_before;  /* provenance as_of: trained on events before it */
    int64_t trained_at;   /* provenance trained_at: when it was trained */
    int64_t trained_ts;   /* when `indiv train` wrote it from this database */
    int64_t last_used_ts; /* when a decision run last used it here */
    int64_t uses;         /* decision runs that recorded it */
    int64_t erased;       /* erased people whose data it may hold */
    int64_t erased_ts;    /* last erasure that marked it */
} indiv_model_entry;

/* Calls fn for every registered model, oldest first (none when the table is missing).
 * A non-zero return of fn stops the walk and is returned. */
int indiv_rights_each_model(indiv_eventlog *log,
                            int (*fn)(void *ctx, const indiv_model_entry *e), void *ctx,
                            indiv_error *err);

#endif /* INDIV_RIGHTS_H */
