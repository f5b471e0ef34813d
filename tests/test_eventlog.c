/*
 * test_eventlog.c — the SQLite event log: creation, schema version, refusals, writes
 * inside transactions, rollback, ordered scans and the content hash.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "eventlog_internal.h"
#include "indiv/eventlog.h"
#include "testutil.h"

static char *dir, *db;

static void setup(void) {
    tu_dir_db_new("log.db", &dir, &db);
}

static void teardown(void) {
    tu_dir_db_free(dir, db);
}

TestSuite(eventlog, .init = setup, .fini = teardown);

static indiv_eventlog *open_new(void) {
    return tu_open_log(db);
}

/* One consumer, one offer, three events at two times. */
static void fill_small(indiv_eventlog *log) {
    indiv_error err = {0};
    int64_t c1, c2, o;
    indiv_consumer_rec c = {"alice", 1, 0, INDIV_CH_BIT(INDIV_CH_EMAIL), "FR"};
    indiv_offer_rec of = {"sku1", "Red sweater", "SWEATER",    39.5,
                          0.3,    INDIV_TS_NONE, INDIV_TS_NONE};
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &c1, NULL, &err), 0, "%s", err.msg);
    c.ext_id = "bob";
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &c2, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_add_offer(log, &of, &o, NULL, &err), 0, "%s", err.msg);
    indiv_event evs[] = {{c2, 200, 0, o, INDIV_EV_VIEW, INDIV_CH_WEB, 1, 0},
                         {c1, 300, 0, o, INDIV_EV_PURCHASE, INDIV_CH_WEB, 2, 79},
                         {c1, 100, 0, o, INDIV_EV_VIEW, INDIV_CH_WEB, 1, 0}};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(indiv_eventlog_add_event(log, &evs[i], &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
}

Test(eventlog, creates_schema_with_version_and_application_id) {
    indiv_eventlog *log = open_new();
    indiv_eventlog_close(log);
    tu_run r;
    tu_sh(&r, "sqlite3 '%s' 'PRAGMA user_version; PRAGMA application_id;'", db);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char expect[64];
    snprintf(expect, sizeof expect, "%d\n%d\n", INDIV_SCHEMA_VERSION,
             INDIV_APPLICATION_ID);
    cr_assert_str_eq(r.out, expect);
    tu_run_free(&r);
}

Test(eventlog, missing_file_without_create_is_refused) {
    indiv_eventlog *log = (indiv_eventlog *)1;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err), INDIV_EIO);
    cr_assert_null(log);
    cr_assert(strstr(err.msg, "no such database"), "%s", err.msg);
    struct stat sb;
    cr_assert_neq(stat(db, &sb), 0, "a read-only open must not create the file");
}

Test(eventlog, newer_schema_version_is_refused_untouched) {
    indiv_eventlog_close(open_new());
    tu_run r;
    tu_sh(&r, "sqlite3 '%s' 'PRAGMA user_version = 99;'", db);
    tu_run_free(&r);
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err),
                 INDIV_ESCHEMA);
    cr_assert(strstr(err.msg, "schema version 99") && strstr(err.msg, "newer"), "%s",
              err.msg);
    tu_sh(&r, "sqlite3 '%s' 'PRAGMA user_version;'", db);
    cr_assert_str_eq(r.out, "99\n", "the file was changed");
    tu_run_free(&r);
}

Test(eventlog, foreign_database_is_refused_untouched) {
    tu_run r;
    tu_sh(&r, "sqlite3 '%s' 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'", db);
    tu_run_free(&r);
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err),
                 INDIV_ESCHEMA);
    cr_assert(strstr(err.msg, "not an indiv database"), "%s", err.msg);
    tu_sh(&r, "sqlite3 '%s' '.tables'", db);
    cr_assert_str_eq(r.out, "t\n");
    tu_run_free(&r);
}

Test(eventlog, non_sqlite_file_is_refused) {
    tu_write(db, "this is not a database, just some text that is long enough......"
                 "................................................................\n");
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_lt(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err), 0);
    cr_assert_null(log);
    cr_assert_neq(err.msg[0], '\0');
}

Test(eventlog, read_only_file_is_refused_for_writing) {
    indiv_eventlog_close(open_new());
    chmod(db, 0444);
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, 0, &log, &err), INDIV_EREADONLY);
    cr_assert(strstr(err.msg, "read-only"), "%s", err.msg);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err), 0,
                 "read-only open still works: %s", err.msg);
    indiv_eventlog_close(log);
}

Test(eventlog, writes_need_a_transaction) {
    indiv_eventlog *log = open_new();
    indiv_consumer_rec c = {"x", 1, 1, 0, NULL};
    int64_t id;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &id, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "transaction"), "%s", err.msg);
    indiv_eventlog_close(log);
}

Test(eventlog, add_is_idempotent_by_ext_id) {
    indiv_eventlog *log = open_new();
    indiv_consumer_rec c = {"alice", 1, 1, INDIV_CH_CONTACTABLE, NULL};
    int64_t a, b;
    int created;
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &a, &created, NULL), 0);
    cr_assert_eq(created, 1);
    c.consent_contact = 0; /* a second add does not overwrite */
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &b, &created, NULL), 0);
    cr_assert_eq(created, 0);
    cr_assert_eq(a, b);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_stats st;
    cr_assert_eq(indiv_eventlog_stats_get(log, &st, NULL), 0);
    cr_assert_eq(st.consumers, 1);
    cr_assert_eq(st.consent_contact, 1);
    indiv_eventlog_close(log);
}

Test(eventlog, invalid_records_are_refused_with_the_field) {
    indiv_eventlog *log = open_new();
    indiv_error err = {0};
    int64_t id;
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    indiv_offer_rec of = {"o1", "x", "C", -1.0, 0, INDIV_TS_NONE, INDIV_TS_NONE};
    cr_assert_eq(indiv_eventlog_add_offer(log, &of, &id, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "price"), "%s", err.msg);
    indiv_error_clear(&err);
    of.price = 1;
    of.valid_from = 10;
    of.valid_to = 5;
    cr_assert_eq(indiv_eventlog_add_offer(log, &of, &id, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "valid_to"), "%s", err.msg);
    indiv_error_clear(&err);
    indiv_event ev = {1, 0, 0, 0, 99, 0, 1, 0};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "type"), "%s", err.msg);
    indiv_consumer_rec c = {"c", 1, 1, INDIV_CH_BIT(INDIV_CH_WEB), NULL};
    indiv_error_clear(&err);
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &id, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "channels"), "%s", err.msg);
    indiv_eventlog_rollback(log);
    indiv_eventlog_close(log);
}

Test(eventlog, rollback_leaves_the_database_as_it_was) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    char before[17], after[17];
    cr_assert_eq(indiv_eventlog_content_hash(log, before, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    indiv_consumer_rec c = {"carol", 1, 1, 0, NULL};
    int64_t id;
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &id, NULL, NULL), 0);
    indiv_event ev = {id, 5, 0, 0, INDIV_EV_UNSUBSCRIBE, INDIV_CH_EMAIL, 1, 0};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    indiv_eventlog_rollback(log);
    cr_assert_eq(indiv_eventlog_content_hash(log, after, NULL), 0);
    cr_assert_str_eq(before, after);
    indiv_eventlog_close(log);
}

Test(eventlog, scan_is_ordered_by_consumer_then_time_and_bounded) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    indiv_event_cursor *cur;
    indiv_event ev;
    cr_assert_eq(indiv_eventlog_scan(log, INT64_MIN, INT64_MAX, &cur, NULL), 0);
    int64_t want[][2] = {{1, 100}, {1, 300}, {2, 200}};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(indiv_event_cursor_next(cur, &ev, NULL), 1);
        cr_assert_eq(ev.consumer_id, want[i][0]);
        cr_assert_eq(ev.ts, want[i][1]);
    }
    cr_assert_eq(indiv_event_cursor_next(cur, &ev, NULL), 0);
    indiv_event_cursor_free(cur);
    /* [100, 300): the purchase at 300 is excluded, the view at 100 included. */
    cr_assert_eq(indiv_eventlog_scan(log, 100, 300, &cur, NULL), 0);
    int n = 0;
    while (indiv_event_cursor_next(cur, &ev, NULL) == 1) {
        cr_assert(ev.ts >= 100 && ev.ts < 300);
        n++;
    }
    cr_assert_eq(n, 2);
    indiv_event_cursor_free(cur);
    indiv_eventlog_close(log);
}

Test(eventlog, event_ids_are_unique_across_transactions_and_reopens) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    indiv_eventlog_close(log);
    log = open_new();
    indiv_event ev = {1, 50, 0, 1, INDIV_EV_CLICK, INDIV_CH_EMAIL, 1, 0};
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(ev.id, 4, "ids 1-3 were used by the first transaction");
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
}

Test(eventlog, stats_count_by_type_and_span) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    indiv_eventlog_stats st;
    cr_assert_eq(indiv_eventlog_stats_get(log, &st, NULL), 0);
    cr_assert_eq(st.consumers, 2);
    cr_assert_eq(st.offers, 1);
    cr_assert_eq(st.categories, 1);
    cr_assert_eq(st.events, 3);
    cr_assert_eq(st.by_type[INDIV_EV_VIEW], 2);
    cr_assert_eq(st.by_type[INDIV_EV_PURCHASE], 1);
    cr_assert_eq(st.first_ts, 100);
    cr_assert_eq(st.last_ts, 300);
    cr_assert_eq(st.consent_profiling, 2);
    cr_assert_eq(st.consent_contact, 0);
    indiv_eventlog_close(log);
}

Test(eventlog, content_hash_depends_on_content_only) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    char h1[17], h2[17], h3[17];
    cr_assert_eq(indiv_eventlog_content_hash(log, h1, NULL), 0);
    indiv_eventlog_close(log);
    char *db2 = tu_path(dir, "log2.db");
    cr_assert_eq(indiv_eventlog_open(db2, INDIV_EVENTLOG_CREATE, &log, NULL), 0);
    fill_small(log);
    cr_assert_eq(indiv_eventlog_content_hash(log, h2, NULL), 0);
    cr_assert_str_eq(h1, h2, "same content, different files");
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_meta_set(log, "note", "x", NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_content_hash(log, h3, NULL), 0);
    cr_assert_str_neq(h1, h3);
    indiv_eventlog_close(log);
    free(db2);
}

Test(eventlog, names_parse_and_print) {
    int t, c;
    cr_assert_eq(indiv_event_type_parse("Purchase", &t), 0);
    cr_assert_eq(t, INDIV_EV_PURCHASE);
    cr_assert_str_eq(indiv_event_type_name(INDIV_EV_UNSUBSCRIBE), "unsubscribe");
    cr_assert_null(indiv_event_type_name(0));
    cr_assert_eq(indiv_event_type_parse("buy", &t), INDIV_EINVAL);
    cr_assert_eq(indiv_channel_parse("SMS", &c), 0);
    cr_assert_eq(c, INDIV_CH_SMS);
    cr_assert_eq(indiv_channel_parse("fax", &c), INDIV_EINVAL);
}

static int sum_days(void *ctx, int64_t offer_id, int64_t day, int64_t purchases) {
    int64_t *acc = ctx; /* acc[0] = rows, acc[1] = purchases, acc[2] = Σ day·purchases */
    (void)offer_id;
    acc[0]++;
    acc[1] += purchases;
    acc[2] += day * purchases;
    return 0;
}

Test(eventlog, offer_daily_counts_committed_purchases_only) {
    indiv_eventlog *log = open_new();
    fill_small(log); /* one purchase at ts 300: day 0 */
    indiv_event ev = {1, 2 * 86400 + 5, 0, 1, INDIV_EV_PURCHASE, INDIV_CH_WEB, 1, 9};
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    indiv_eventlog_rollback(log); /* discarded: counts too */
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    ev.ts = -1; /* 1969-12-31: day -1, floor division */
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    ev.ts = 2 * 86400 + 5;
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    int64_t acc[3] = {0}, again[3] = {0};
    cr_assert_eq(indiv_eventlog_each_offer_day(log, INT64_MAX, sum_days, acc, NULL), 0);
    cr_assert_eq(acc[0], 3, "rows for days -1, 0 and 2");
    cr_assert_eq(acc[1], 4);
    cr_assert_eq(acc[2], -1 + 0 + 2 * 2);
    cr_assert_eq(indiv_eventlog_each_offer_day(log, 2, sum_days, again, NULL), 0);
    cr_assert_eq(again[1], 2, "before_day excludes day 2");
    /* A rebuild from the events gives the same table. */
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_rebuild_offer_daily(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    int64_t rebuilt[3] = {0};
    cr_assert_eq(indiv_eventlog_each_offer_day(log, INT64_MAX, sum_days, rebuilt, NULL),
                 0);
    cr_assert_eq(memcmp(acc, rebuilt, sizeof acc), 0);
    indiv_eventlog_close(log);
}

Test(eventlog, unsubscribe_event_withdraws_contact_from_its_time) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    indiv_event ev = {1, 5000, 0, 0, INDIV_EV_UNSUBSCRIBE, INDIV_CH_EMAIL, 1, 0};
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    ev.ts = 4000; /* an earlier one, appended later: the earliest wins */
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    ev.ts = 9000;
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_consumer_row row;
    char ext[32];
    cr_assert_eq(indiv_eventlog_consumer_get(log, 1, &row, ext, sizeof ext, NULL), 0);
    cr_assert_eq(row.unsubscribed_ts, 4000);
    cr_assert_eq(indiv_eventlog_consumer_get(log, 2, &row, ext, sizeof ext, NULL), 0);
    cr_assert_eq(row.unsubscribed_ts, INDIV_TS_NONE, "bob did not unsubscribe");
    indiv_eventlog_close(log);
}

Test(eventlog, last_event_time_is_kept_across_commits) {
    indiv_eventlog *log = open_new();
    int64_t ts;
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &ts, NULL), 0);
    cr_assert_eq(ts, INDIV_TS_NONE);
    fill_small(log); /* events at 100, 200, 300 */
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &ts, NULL), 0);
    cr_assert_eq(ts, 300);
    indiv_event ev = {2, 250, 0, 1, INDIV_EV_VIEW, INDIV_CH_WEB, 1, 0};
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &ts, NULL), 0);
    cr_assert_eq(ts, 300, "an earlier event does not move it back");
    ev.ts = 777;
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &ts, NULL), 0);
    cr_assert_eq(ts, 777);
    indiv_eventlog_close(log);
    tu_run r; /* a database written by another tool: the events answer */
    tu_sh(&r, "sqlite3 '%s' \"DELETE FROM meta WHERE key = 'last_event_ts'\"", db);
    tu_run_free(&r);
    log = open_new();
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &ts, NULL), 0);
    cr_assert_eq(ts, 777);
    indiv_eventlog_close(log);
}

/* ---- damaged files (issue 14, items 8 and 11) ----------------------------------------- */

/* Many consumers, so that the file spans a good number of pages. */
static void fill_many(indiv_eventlog *log, int n) {
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "consumer-%06d-with-a-longish-id", i);
        indiv_consumer_rec c = {id, 1, 1, INDIV_CH_BIT(INDIV_CH_EMAIL), "FR"};
        int64_t cid;
        cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &cid, NULL, &err), 0, "%s",
                     err.msg);
    }
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
}

static int64_t consumers_in(indiv_eventlog *log) {
    indiv_eventlog_stats st;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_stats_get(log, &st, &err), 0, "%s", err.msg);
    return st.consumers;
}

/* A writer killed in mid-commit: a small page cache spills changed pages into the
 * database file while the journal holds the originals; the sqlite3 shell then kills
 * itself inside the transaction, leaving a hot journal beside db. */
static void leave_hot_journal(void) {
    tu_run r;
    tu_sh(&r,
          "printf 'PRAGMA cache_size=2;\\nBEGIN;\\nUPDATE consumers SET country = "
          "hex(randomblob(300));\\n.system kill -9 $PPID\\nCOMMIT;\\n' | sqlite3 '%s'",
          db);
    tu_run_free(&r);
}

Test(eventlog, read_only_open_rolls_back_a_hot_journal) {
    indiv_eventlog *log = open_new();
    fill_many(log, 200);
    indiv_eventlog_close(log);
    leave_hot_journal();
    struct stat sb;
    char journal[4096];
    snprintf(journal, sizeof journal, "%s-journal", db);
    cr_assert_eq(stat(journal, &sb), 0, "no hot journal was left");
    cr_assert_gt(sb.st_size, 0);
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err), 0,
                 "a read-only command refuses the database: %s", err.msg);
    cr_expect_eq(consumers_in(log), 200);
    indiv_eventlog_close(log);
}

/* Opens db read-only as a user who may not write it: a child process that drops root
 * to nobody (the tests run as root in CI), or, for another user, with the file's write
 * bits cleared. The exit status: 0 opened with its 200 consumers, 1 refused. */
static int open_as_reader(void) {
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(chmod(db, geteuid() == 0 ? 0644 : 0444), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        if (access(db, R_OK) != 0)
            _exit(4); /* TMPDIR under a directory nobody may enter */
        indiv_eventlog *log = NULL;
        indiv_error err = {0};
        int rc = indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err);
        if (rc != 0)
            fprintf(stderr, "open_as_reader: %s\n", err.msg);
        int n = rc == 0 ? (int)consumers_in(log) : -1;
        indiv_eventlog_close(log);
        _exit(rc != 0 ? 1 : n == 200 ? 0 : 2);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    chmod(db, 0644);
    cr_assert(WIFEXITED(st));
    if (WEXITSTATUS(st) == 4)
        cr_skip_test("the test directory cannot be read by another user");
    return WEXITSTATUS(st);
}

/* A journal that is not hot (its header zeroed: a writer killed before it wrote the
 * database, or one that committed in persistent-journal fashion), or the journal of a
 * writer at work, does not stop a reader who may not write the file: only a hot one
 * does (issue 14 item 8: a killed import usually leaves the first kind). */
Test(eventlog, a_reader_who_cannot_write_reads_past_a_journal_that_is_not_hot) {
    indiv_eventlog *log = open_new();
    fill_many(log, 200);
    indiv_eventlog_close(log);
    char journal[4096];
    snprintf(journal, sizeof journal, "%s-journal", db);
    FILE *f = fopen(journal, "wb");
    cr_assert_not_null(f);
    static const char zeros[4096];
    fwrite(zeros, 1, sizeof zeros, f);
    fclose(f);
    cr_assert_eq(chmod(journal, 0644), 0);
    cr_expect_eq(open_as_reader(), 0, "a reader was refused because of a cold journal");
    /* A hot journal still stops that reader, with the message saying what to run. */
    leave_hot_journal();
    chmod(journal, 0644);
    cr_expect_eq(open_as_reader(), 1, "a hot journal was ignored");
}

static void truncate_to(const char *path, long long size) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "truncate -s %lld '%s'", size, path), 0);
    tu_run_free(&r);
}

Test(eventlog, database_cut_at_its_tail_is_refused) {
    indiv_eventlog *log = open_new();
    fill_many(log, 3000);
    indiv_eventlog_close(log);
    struct stat sb;
    cr_assert_eq(stat(db, &sb), 0);
    char *copy = tu_path(dir, "copy.db");
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", db, copy), 0);
    tu_run_free(&r);
    long long cuts[] = {sb.st_size - 1000, sb.st_size - 4 * 4096};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", copy, db), 0);
        tu_run_free(&r);
        truncate_to(db, cuts[i]);
        indiv_error err = {0};
        cr_expect_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err),
                     INDIV_EDB, "cut to %lld bytes of %lld: opened", cuts[i],
                     (long long)sb.st_size);
        cr_expect(strstr(err.msg, "damaged"), "%s", err.msg);
        indiv_error_clear(&err);
        cr_expect_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err),
                     INDIV_EDB, "a writer must not write into it either");
        struct stat after;
        cr_assert_eq(stat(db, &after), 0);
        cr_expect_eq(after.st_size, cuts[i], "the refused file was changed");
    }
    free(copy);
}

/* PRAGMA cache_size of an open handle (negative: KiB). */
static long long cache_kib(indiv_eventlog *log) {
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(indiv_eventlog_sqlite(log), "PRAGMA cache_size", -1,
                                    &s, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* A simulation's work database is larger than SQLite's 2 GiB map at a million consumers:
 * its page cache must hold it (docs/simulation.md, "Speed"), while ordinary handles keep
 * the 64 MiB cache. */
Test(eventlog, scratch_databases_get_a_page_cache_for_the_whole_work_database) {
    indiv_eventlog *log = open_new();
    cr_assert_eq(cache_kib(log), -65536);
    indiv_eventlog_close(log);
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_SCRATCH, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cache_kib(log), -8388608, "8 GiB ceiling in KiB");
    indiv_eventlog_close(log);
}

/* Events in the file at db, read by another connection. */
static long long events_in_file(void) {
    tu_run r;
    tu_sh(&r, "sqlite3 '%s' 'SELECT count(*) FROM events'", db);
    cr_assert_eq(r.status, 0, "%s", r.err);
    long long n = atoll(r.out);
    tu_run_free(&r);
    return n;
}

/* Appends one view of consumer 1 at ts (the fill_small world). */
static void append_view(indiv_eventlog *log, int64_t ts) {
    indiv_error err = {0};
    indiv_event ev = {1, ts, 0, 1, INDIV_EV_VIEW, INDIV_CH_WEB, 1, 0};
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
}

/* A hold (the simulation's rounds): commits inside it are read back by the handle, and
 * reach the file, with every event id, only at the release. */
Test(eventlog, a_held_scratch_database_writes_its_transactions_at_the_release) {
    indiv_eventlog *log = open_new();
    fill_small(log);
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_hold(log, &err), INDIV_EINVAL, "not a scratch database");
    indiv_eventlog_close(log);
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_SCRATCH, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_hold(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_hold(log, &err), INDIV_EINVAL, "already held");
    append_view(log, 400);
    append_view(log, 500);
    int64_t last = 0;
    cr_assert_eq(indiv_eventlog_last_event_ts(log, &last, &err), 0, "%s", err.msg);
    cr_assert_eq(last, 500, "the handle reads its held commits");
    cr_assert_eq(indiv_eventlog_read_begin(log, &err), 0, "%s", err.msg);
    indiv_eventlog_read_end(log);
    cr_assert_eq(events_in_file(), 3, "nothing reaches the file before the release");
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_release(log, &err), INDIV_EINVAL, "a transaction is open");
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_eventlog_release(log, &err), 0, "%s", err.msg);
    cr_assert_eq(events_in_file(), 5);
    cr_assert_eq(indiv_eventlog_release(log, &err), INDIV_EINVAL, "nothing held");
    append_view(log, 600); /* ordinary transactions again */
    cr_assert_eq(events_in_file(), 6);
    indiv_eventlog_close(log);
    tu_run r;
    tu_sh(&r, "sqlite3 '%s' 'SELECT group_concat(id) FROM (SELECT id FROM events ORDER BY id)'",
          db);
    cr_assert_str_eq(r.out, "1,2,3,4,5,6\n", "ids continue across the hold");
    tu_run_free(&r);
}
