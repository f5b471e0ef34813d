/*
 * bench_generate.c — speed of the world generator against a bare SQLite insert.
 *
 * Generates 100,000 x SCALE consumers, 1000 offers in 50 categories over 365 days into a
 * new database in a temporary directory, then, in the same run, inserts the same number
 * of rows into an identical events table with sqlite3 directly (one prepared statement,
 * one transaction, the same page cache and synchronous settings, rows in the same
 * clustered order: the events of a consumer in time order, consumers in id order). The
 * reference is the floor for writing that many events; the ratio says what the model,
 * the other tables and the eventlog layer cost on top. The world has the default taste
 * structure (taste_locality 0.14); in the same run the same world with independent
 * tastes (taste_locality 0, the generator before taste structure, draw for draw) is
 * generated too, and the ratio of the two times printed. Prints the BENCH line of
 * docs/architecture.md §10 and two informational lines.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "bench.h"
#include "indiv/eventlog.h"
#include "indiv/sim.h"

#define BASE_CONSUMERS 100000
#define OFFERS         1000
#define CATEGORIES     50
#define DAYS           365
#define SEED           42

/* Same table as datasets/schema.sql (references are not enforced by SQLite by default,
 * so the referenced tables need not exist). */
static const char ref_schema[] =
    "PRAGMA cache_size = -65536; PRAGMA synchronous = NORMAL;"
    "CREATE TABLE events (consumer_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " id INTEGER NOT NULL, offer_id INTEGER, type INTEGER NOT NULL, channel INTEGER,"
    " quantity REAL NOT NULL DEFAULT 1, value REAL NOT NULL DEFAULT 0,"
    " PRIMARY KEY (consumer_id, ts, id)) WITHOUT ROWID";

static int sql_ok(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        fprintf(stderr, "bench_generate: %s: %s\n", what, sqlite3_errmsg(db));
        return 0;
    }
    return 1;
}

/* Inserts n rows for `consumers` consumers; returns the seconds of BEGIN..COMMIT, or a
 * negative number on error. */
static double bare_insert(const char *path, int64_t n, int64_t consumers) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    double t = -1;
    if (!sql_ok(db, sqlite3_open(path, &db), "open") ||
        !sql_ok(db, sqlite3_exec(db, ref_schema, NULL, NULL, NULL), "schema") ||
        !sql_ok(db,
                sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?,?,?,?,?,?,?,?)", -1,
                                   &s, NULL),
                "prepare"))
        goto out;
    double t0 = bench_now();
    if (!sql_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin"))
        goto out;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = i * consumers / n; /* consumers in order, their rows in time order */
        sqlite3_bind_int64(s, 1, c + 1);
        sqlite3_bind_int64(s, 2, 1704067200 + i);
        sqlite3_bind_int64(s, 3, i + 1);
        sqlite3_bind_int64(s, 4, i % OFFERS + 1);
        sqlite3_bind_int(s, 5, 1 + (int)(i % 2));
        sqlite3_bind_int(s, 6, INDIV_CH_WEB);
        sqlite3_bind_double(s, 7, 1.0);
        sqlite3_bind_double(s, 8, 19.99);
        if (!sql_ok(db, sqlite3_step(s), "insert"))
            goto out;
        sqlite3_reset(s);
    }
    if (sql_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit"))
        t = bench_now() - t0;
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return t;
}

/* Generates the world; returns its seconds, or a negative number on error. */
static double generate(const char *path, int64_t consumers, int independent,
                       indiv_world_summary *sum) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    if (independent)
        p.taste_locality = 0;
    p.consumers = consumers;
    p.offers = OFFERS;
    p.categories = CATEGORIES;
    p.days = DAYS;
    p.seed = SEED;
    indiv_eventlog *log;
    indiv_error err = {0};
    if (indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err) < 0) {
        fprintf(stderr, "bench_generate: %s\n", err.msg);
        return -1;
    }
    double t0 = bench_now();
    int rc = indiv_world_generate(log, &p, NULL, NULL, sum, &err);
    double t = bench_now() - t0;
    indiv_eventlog_close(log);
    if (rc < 0)
        fprintf(stderr, "bench_generate: %s\n", err.msg);
    return rc < 0 ? -1 : t;
}

int main(void) {
    gsl_set_error_handler_off();
    const char *base = getenv("TMPDIR");
    char dir[512], world[600], ref[600];
    snprintf(dir, sizeof dir, "%s/indiv-bench-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_generate: mkdtemp");
        return 1;
    }
    snprintf(world, sizeof world, "%s/world.db", dir);
    snprintf(ref, sizeof ref, "%s/ref.db", dir);
    int64_t consumers = llround(BASE_CONSUMERS * bench_scale());
    if (consumers < 1)
        consumers = 1;
    indiv_world_summary sum, isum;
    double ours = generate(world, consumers, 0, &sum);
    unlink(world);
    double indep = ours > 0 ? generate(world, consumers, 1, &isum) : -1;
    unlink(world);
    double theirs = indep > 0 ? bare_insert(ref, sum.events, consumers) : -1;
    unlink(ref);
    rmdir(dir);
    if (ours <= 0 || indep <= 0 || theirs <= 0)
        return 1;
    bench_report("generate", (double)sum.events / ours, "events/s", "bare_sqlite_insert",
                 (double)sum.events / theirs, ours / theirs);
    printf("info generate: %lld consumers, %lld events (%lld purchases) in %.2f s; bare "
           "insert of as many rows %.2f s\n",
           (long long)consumers, (long long)sum.events,
           (long long)sum.by_type[INDIV_EV_PURCHASE], ours, theirs);
    printf("info generate: structured tastes (taste_locality 0.14) %.2f s, independent "
           "(0) %.2f s with %lld events: ratio %.3f\n",
           ours, indep, (long long)isum.events, ours / indep);
    return 0;
}
