/*
 * test_fault.c — kill -9 at many points of an import and of a profile build (issue 14,
 * item 25): afterwards the database passes PRAGMA integrity_check and holds either all
 * of the interrupted work or none of it. The kill times are a fixed list spread over
 * the run, so every point is a valid one: the assertions hold whenever the kill lands.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SAMPLE "datasets/online-retail-2010-12_2011-02.csv.gz"
#define EVENTS "datasets/events-sample"

static char *dir, *db;

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "f.db");
}

static void teardown(void) {
    free(db);
    tu_rmtree(dir);
}

TestSuite(fault, .init = setup, .fini = teardown);

/* The output of one sqlite3 query on db (owned), asserting success. */
static char *query(const char *sql) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "sqlite3 '%s' \"%s\"", db, sql), 0, "%s: %s", sql, r.err);
    free(r.err);
    return r.out;
}

/* Runs cmd in the background, kills it with SIGKILL after ms milliseconds (if still
 * running), and waits for it. */
static void kill_after(const char *cmd, int ms) {
    tu_run r;
    tu_sh(&r,
          "%s >/dev/null 2>&1 & pid=$!; sleep %d.%03d; kill -9 $pid 2>/dev/null; "
          "wait $pid; exit 0",
          cmd, ms / 1000, ms % 1000);
    tu_run_free(&r);
}

static void expect_intact(void) {
    char *ok = query("PRAGMA integrity_check");
    cr_expect_str_eq(ok, "ok\n", "the database is damaged");
    free(ok);
}

Test(fault, import_killed_anywhere_is_all_or_nothing, .timeout = 300) {
    tu_run r;
    static const int ms[] = {5, 40, 90, 150, 220, 300, 420, 600, 800, 1100, 1500, 2200};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        cr_assert_eq(tu_sh(&r,
                           "rm -f '%s'; \"$INDIV\" import --db '%s' --format events "
                           "--offers " EVENTS "/offers.csv " EVENTS "/events.csv",
                           db, db),
                     0, "%s", r.err);
        tu_run_free(&r);
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "\"$INDIV\" import --db '%s' --format online-retail " SAMPLE, db);
        kill_after(cmd, ms[i]);
        expect_intact();
        char *n = query("SELECT count(*) FROM events");
        long events = strtol(n, NULL, 10);
        free(n);
        cr_expect(events == 449 || events == 449 + 68800,
                  "killed after %d ms: %ld events, neither before nor after", ms[i],
                  events);
        n = query("SELECT count(*) FROM imports");
        cr_expect_eq(strtol(n, NULL, 10), events == 449 ? 1 : 2);
        free(n);
    }
}

Test(fault, new_database_import_killed_leaves_nothing_or_everything, .timeout = 300) {
    static const int ms[] = {5, 60, 200, 500, 900, 1600};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        tu_run r;
        cr_assert_eq(tu_sh(&r, "rm -f '%s'", db), 0);
        tu_run_free(&r);
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "\"$INDIV\" import --db '%s' --format online-retail " SAMPLE, db);
        kill_after(cmd, ms[i]);
        if (tu_sh(&r, "test -e '%s'", db) != 0) {
            tu_run_free(&r);
            continue; /* nothing: the database appears only complete */
        }
        tu_run_free(&r);
        expect_intact();
        char *n = query("SELECT count(*) FROM events");
        cr_expect_str_eq(n, "68800\n", "killed after %d ms", ms[i]);
        free(n);
    }
}

Test(fault, profile_build_killed_anywhere_is_all_or_nothing, .timeout = 300) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' --consumers 3000 --offers 100 "
                       "--categories 10 --days 120 >/dev/null",
                       db),
                 0, "%s", r.err);
    tu_run_free(&r);
    char *before = query("SELECT count(*) FROM profiles");
    char *consenting =
        query("SELECT count(*) FROM consumers WHERE consent_profiling = 1");
    static const int ms[] = {5, 50, 120, 250, 400, 700, 1000};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "\"$INDIV\" profile --db '%s'", db);
        kill_after(cmd, ms[i]);
        expect_intact();
        char *n = query("SELECT count(*) FROM profiles");
        char *meta = query("SELECT count(*) FROM meta WHERE key = 'profile_params'");
        int built = strcmp(meta, "1\n") == 0;
        if (built)
            cr_expect_str_eq(n, consenting, "killed after %d ms: a partial build", ms[i]);
        else
            cr_expect_str_eq(n, before, "killed after %d ms: profiles without params",
                             ms[i]);
        free(n);
        free(meta);
        free(query("DELETE FROM profiles; DELETE FROM meta WHERE key LIKE 'profile%'"));
    }
    free(before);
    free(consenting);
}
