/*
 * eventlog_internal.h — the SQLite connection behind an indiv_eventlog handle, for the
 * one other module that must speak SQL: rights (src/rights.c). Erasure and export must
 * reach every table that holds a row about one person, including tables added after
 * this code was written, which only a walk over sqlite_master can find
 * (docs/architecture.md §3). Everything else goes through eventlog.h.
 *
 * Rules for a user of this header: values are always bound, never formatted into SQL;
 * identifiers read from sqlite_master are quoted with sqlite3_mprintf("%w"); every
 * statement is finalised before returning; writes happen inside the handle's
 * transaction (indiv_eventlog_begin/commit), never in one of SQL's own.
 */
#ifndef INDIV_EVENTLOG_INTERNAL_H
#define INDIV_EVENTLOG_INTERNAL_H

#include <sqlite3.h>

#include "indiv/eventlog.h"

/* The handle's connection (borrowed; valid until indiv_eventlog_close). */
sqlite3 *indiv_eventlog_sqlite(indiv_eventlog *log);

/* 1 while a transaction opened with indiv_eventlog_begin is open on the handle. */
int indiv_eventlog_in_tx(const indiv_eventlog *log);

/* Records the connection's last error in err as "<path>: <what>: <sqlite message>"
 * (INDIV_EREADONLY for a read-only database, INDIV_EDB otherwise); returns its code. */
int indiv_eventlog_db_error(indiv_eventlog *log, indiv_error *err, const char *what);

#endif /* INDIV_EVENTLOG_INTERNAL_H */
