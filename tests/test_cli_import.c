/*
 * test_cli_import.c — end-to-end tests of `indiv import` through the binary: help, usage
 * errors (exit 2), every kind of bad input (exit code, message on stderr, and the
 * database byte-for-byte unchanged), bad-row reports and their cap, --strict, --force,
 * the events format with companion files, stdin, and the JSON summary.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define OR_HEADER                                                                        \
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"                    \
    "CustomerID,Country\n"
#define OR_ROW(inv, price, cust)                                                         \
    inv ",22041,\"RECORD FRAME 7\"\" SINGLE\",2,2011-01-05 10:00:00," price "," cust     \
        ",UK\n"

/* A row with 6 fields, and one with a quote inside an unquoted field. */
#define SHORT_ROW       "536002,22041,FRAME,2,2011-01-05 10:00:00,2.1\n"
#define STRAY_QUOTE_ROW "536002,22041,FR\"AME,2,2011-01-05 10:00:00,2.1,12347.0,UK\n"

static char *dir, *db, *snap;

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "t.db");
    snap = tu_path(dir, "t.db.before");
}

static void teardown(void) {
    free(db);
    free(snap);
    tu_rmtree(dir);
}

TestSuite(cli_import, .init = setup, .fini = teardown);

/* Writes text to dir/name; returns the path (caller frees). */
static char *input(const char *name, const char *text) {
    char *p = tu_path(dir, name);
    tu_write(p, text);
    return p;
}

/* Creates db with one small import, then keeps a copy of its bytes in snap. */
static void make_db(void) {
    char *in = input("first.csv", OR_HEADER OR_ROW("536001", "2.1", "12346.0"));
    tu_run r;
    cr_assert_eq(
        tu_sh(&r, "\"$INDIV\" import --db '%s' --format online-retail '%s'", db, in), 0,
        "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", db, snap), 0);
    tu_run_free(&r);
    free(in);
}

static void expect_db_unchanged(void) {
    cr_expect(tu_same_file(db, snap), "the database changed");
}

/* Runs `indiv import --db db <args>`; expects status and a stderr containing want. */
static void expect_run(int status, const char *want, const char *args) {
    tu_run r;
    tu_sh(&r, "\"$INDIV\" import --db '%s' %s", db, args);
    cr_expect_eq(r.status, status, "args: %s\nstderr: %s", args, r.err);
    cr_expect(strstr(r.err, want), "args: %s\nstderr lacks '%s':\n%s", args, want, r.err);
    tu_run_free(&r);
}

Test(cli_import, help_prints_usage_on_stdout_and_exits_0) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" import --help"), 0, "%s", r.err);
    static const char *const want[] = {"--db FILE", "--format",   "online-retail",
                                       "events",    "--offers",   "--consumers",
                                       "--consent", "--channels", "--strict",
                                       "--force",   "--json",     "--max-reported"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(r.out, want[i]), "help lacks %s", want[i]);
    cr_expect_str_eq(r.err, "");
    tu_run_free(&r);
}

Test(cli_import, usage_errors_exit_2_and_leave_the_database_unchanged) {
    make_db();
    static const char *const cases[][2] = {
        {"--format xlsx x.csv", "--format: 'xlsx' is not a format"},
        {"x.csv", "--format is required"},
        {"--format online-retail", "expected exactly one input file"},
        {"--format online-retail a.csv b.csv", "expected exactly one input file"},
        {"--format online-retail --offers o.csv x.csv", "go with --format events only"},
        {"--format events --consent maybe x.csv", "--consent: 'maybe' is not a consent"},
        {"--format events --channels web x.csv", "--channels: 'web' is not a contact"},
        {"--format events --max-reported -1 x.csv", "--max-reported"},
        {"--format events --bogus x.csv", "unknown option '--bogus'"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_run(2, cases[i][1], cases[i][0]);
    tu_run r;
    cr_expect_eq(tu_sh(&r, "\"$INDIV\" import --format events x.csv"), 2);
    cr_expect(strstr(r.err, "--db FILE is required"), "%s", r.err);
    tu_run_free(&r);
    expect_db_unchanged();
}

Test(cli_import, missing_input_file_exits_1_and_creates_or_changes_nothing) {
    char *fresh = tu_path(dir, "fresh.db");
    tu_run r;
    tu_sh(&r, "\"$INDIV\" import --db '%s' --format online-retail '%s/missing.csv'",
          fresh, dir);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "indiv import: "), "%s", r.err);
    cr_expect(strstr(r.err, "missing.csv: cannot open"), "%s", r.err);
    cr_expect_neq(access(fresh, F_OK), 0, "a failed import left a new database behind");
    tu_run_free(&r);
    free(fresh);
    make_db();
    expect_run(1, "missing.csv: cannot open", "--format online-retail missing.csv");
    expect_db_unchanged();
}

Test(cli_import, malformed_line_is_reported_with_file_and_line_and_skipped) {
    make_db();
    char *in =
        input("m.csv", OR_HEADER OR_ROW("536002", "2.1", "12347.0")
                           SHORT_ROW STRAY_QUOTE_ROW OR_ROW("536003", "2.1", "12347.0"));
    char args[1024];
    snprintf(args, sizeof args, "--format online-retail --strict '%s'", in);
    expect_run(1, ":3: malformed row '6 fields, the header has 8' (strict", args);
    expect_db_unchanged();
    tu_run r;
    tu_sh(&r, "\"$INDIV\" import --db '%s' --format online-retail '%s'", db, in);
    cr_expect_eq(r.status, 0, "%s", r.err);
    char want[512];
    snprintf(want, sizeof want,
             "indiv import: %s:3: malformed row '6 fields, the header "
             "has 8'\nindiv import: %s:4: malformed row 'stray quote",
             in, in);
    cr_expect(strstr(r.err, want), "%s", r.err);
    cr_expect(strstr(r.out, "rows read               4"), "%s", r.out);
    cr_expect(strstr(r.out, "imported                2"), "%s", r.out);
    cr_expect(strstr(r.out, "malformed row"), "%s", r.out);
    tu_run_free(&r);
    free(in);
}

Test(cli_import, bad_timestamp_is_reported_and_fails_under_strict_unchanged) {
    make_db();
    char *in = input("ev.csv", "consumer,offer,type,ts\n"
                               "c1,,view,2011-01-05T10:00:00Z\n"
                               "c1,,view,yesterday\n");
    char args[1024], want[512];
    snprintf(want, sizeof want, "indiv import: %s:3: bad timestamp 'yesterday'", in);
    snprintf(args, sizeof args, "--format events --strict '%s'", in);
    expect_run(1, want, args);
    expect_db_unchanged();
    snprintf(args, sizeof args, "--format events '%s'", in);
    expect_run(0, want, args);
    free(in);
}

Test(cli_import,
     negative_or_non_numeric_price_is_reported_and_strict_leaves_db_unchanged) {
    make_db();
    char *neg = input("neg.csv", OR_HEADER OR_ROW("536004", "-2.1", "12348.0"));
    char *nan = input("nan.csv", OR_HEADER OR_ROW("536005", "two", "12348.0")
                                     OR_ROW("536005", "nan", "12348.0"));
    char args[1024];
    snprintf(args, sizeof args, "--format online-retail --strict '%s'", neg);
    expect_run(1, ":2: negative unit price '-2.1'", args);
    snprintf(args, sizeof args, "--format online-retail --strict '%s'", nan);
    expect_run(1, ":2: bad unit price 'two'", args);
    expect_db_unchanged();
    snprintf(args, sizeof args, "--format online-retail '%s'", nan);
    expect_run(1, ":3: bad unit price 'nan'",
               args); /* reported; no row usable: refused */
    expect_run(1, "none of its 2 rows could be imported (most were 'bad unit price': 2)",
               args);
    expect_db_unchanged();
    free(neg);
    free(nan);
}

Test(cli_import, read_only_database_is_refused_and_unchanged) {
    make_db();
    char *in = input("ro.csv", OR_HEADER OR_ROW("536006", "2.1", "12349.0"));
    tu_run r;
    cr_assert_eq(tu_sh(&r, "chmod 0444 '%s'", db), 0);
    tu_run_free(&r);
    char args[1024];
    snprintf(args, sizeof args, "--format online-retail '%s'", in);
    expect_run(1, "read-only", args);
    expect_db_unchanged();
    free(in);
}

Test(cli_import, foreign_sqlite_database_is_refused_and_unchanged) {
    char *in = input("f.csv", OR_HEADER OR_ROW("536007", "2.1", "12350.0"));
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' 'CREATE TABLE orders (id INTEGER, total REAL);"
                       " INSERT INTO orders VALUES (1, 9.5);' && cp '%s' '%s'",
                       db, db, snap),
                 0, "%s", r.err);
    tu_run_free(&r);
    char args[1024];
    snprintf(args, sizeof args, "--format online-retail '%s'", in);
    expect_run(1, "not an indiv database", args);
    expect_db_unchanged();
    free(in);
}

Test(cli_import, strict_failure_into_a_new_database_leaves_no_file) {
    char *in = input("s.csv", OR_HEADER OR_ROW("536008", "2.1", "12351.0")
                                  OR_ROW("536008", "0", "12351.0"));
    char args[1024];
    snprintf(args, sizeof args, "--format online-retail --strict '%s'", in);
    expect_run(1, ":3: zero unit price (strict", args);
    cr_expect_neq(access(db, F_OK), 0, "the database created for the import was left");
    free(in);
}

Test(cli_import, same_input_twice_is_refused_naming_the_first_and_force_allows_it) {
    make_db();
    char *again = input("again.csv", OR_HEADER OR_ROW("536001", "2.1", "12346.0"));
    char args[1024], want[512];
    snprintf(args, sizeof args, "--format online-retail '%s'", again);
    snprintf(want, sizeof want,
             "already imported into %s (same content as the earlier "
             "import of '%s/first.csv'",
             db, dir);
    expect_run(1, want, args);
    expect_run(1, "use --force to import it again", args);
    expect_db_unchanged();
    tu_run r;
    cr_expect_eq(tu_sh(&r,
                       "\"$INDIV\" import --db '%s' --format online-retail --force "
                       "--json '%s'",
                       db, again),
                 0, "%s", r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", jerr.text, r.out);
    cr_expect_eq(json_integer_value(json_object_get(j, "rows_imported")), 1);
    json_decref(j);
    tu_run_free(&r);
    free(again);
}

Test(cli_import, events_with_companion_files_and_json_summary) {
    char *offers = input("o.csv", "offer,name,category,price\no1,Mug,mugs,4.5\n");
    char *consumers =
        input("c.csv", "consumer,consent_profiling,consent_contact,channels\n"
                       "c1,1,1,email;sms\nc2,0,0,none\n");
    char *events = input("e.csv", "consumer,offer,type,ts,channel,quantity,value\n"
                                  "c1,o1,purchase,2011-01-05T10:00:00Z,web,1,4.5\n"
                                  "c2,o1,view,1294221600,web,,\n"
                                  "c3,o2,view,1294221600,web,,\n");
    tu_run r;
    tu_sh(&r,
          "\"$INDIV\" import --db '%s' --format events --offers '%s' --consumers '%s' "
          "--consent none --json '%s'",
          db, offers, consumers, events);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.err, ":4: unknown offer 'o2'"), "%s", r.err);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", jerr.text, r.out);
    cr_expect_eq(json_integer_value(json_object_get(j, "rows_read")), 3);
    cr_expect_eq(json_integer_value(json_object_get(j, "rows_imported")), 2);
    cr_expect_eq(json_integer_value(json_object_get(j, "companion_rows")), 3);
    cr_expect_eq(json_integer_value(json_object_get(j, "offers_new")), 1);
    json_t *skipped = json_object_get(j, "skipped");
    cr_expect_eq(json_integer_value(json_object_get(skipped, "unknown offer")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(j, "format")), "events");
    json_decref(j);
    tu_run_free(&r);
    /* c1 and c2 as the file says; c3 (its only row skipped) was never created. */
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' 'SELECT ext_id, consent_profiling, consent_contact,"
                       " channels FROM consumers ORDER BY ext_id'",
                       db),
                 0, "%s", r.err);
    cr_expect_str_eq(r.out, "c1|1|1|6\nc2|0|0|0\n");
    tu_run_free(&r);
    free(offers);
    free(consumers);
    free(events);
}

Test(cli_import, reads_standard_input_plain_or_gzip) {
    char *in = input("stdin.csv", OR_HEADER OR_ROW("536009", "2.1", "12352.0")
                                      OR_ROW("C536010", "2.1", "12352.0"));
    tu_run r;
    tu_sh(&r, "\"$INDIV\" import --db '%s' --format online-retail --json - < '%s'", db,
          in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"source\":\"-\""), "%s", r.out);
    cr_expect(strstr(r.out, "\"rows_imported\":1"), "%s", r.out);
    cr_expect(strstr(r.err, ":3: positive quantity on a cancellation '2'"), "%s", r.err);
    tu_run_free(&r);
    /* The same bytes gzip-compressed: same fingerprint, so refused as a repeat. */
    tu_sh(&r, "gzip -c '%s' | \"$INDIV\" import --db '%s' --format online-retail -", in,
          db);
    cr_expect_eq(r.status, 1, "%s", r.err);
    cr_expect(strstr(r.err, "indiv import: stdin: already imported"), "%s", r.err);
    tu_run_free(&r);
    free(in);
}

Test(cli_import, bad_rows_are_capped_with_a_final_count) {
    char *in =
        input("many.csv", OR_HEADER OR_ROW("1", "x1", "1.0") OR_ROW("1", "x2", "1.0")
                              OR_ROW("1", "x3", "1.0") OR_ROW("1", "x4", "1.0")
                                  OR_ROW("1", "x5", "1.0") OR_ROW("1", "2.1", "1.0"));
    tu_run r;
    tu_sh(&r, "\"$INDIV\" import --db '%s' --format online-retail --max-reported 2 '%s'",
          db, in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.err, ":3: bad unit price 'x2'\n"), "%s", r.err);
    cr_expect_null(strstr(r.err, "'x3'"), "%s", r.err);
    cr_expect(strstr(r.err, "indiv import: ... 3 more bad rows"), "%s", r.err);
    cr_expect(
        strstr(r.out, "bad unit price                                5  (bad rows)"),
        "%s", r.out);
    tu_run_free(&r);
    free(in);
}

Test(cli_import, latin1_file_name_gives_valid_json_and_exit_0) {
    char *in = input("caf\xe9.csv", OR_HEADER OR_ROW("536001", "2.1", "12346.0"));
    tu_run r;
    int st = tu_sh(&r, "\"$INDIV\" import --db '%s' --format online-retail --json '%s'",
                   db, in);
    cr_assert_eq(st, 0, "%s", r.err);
    json_error_t je;
    json_t *o = json_loads(r.out, 0, &je);
    cr_assert_not_null(o, "%s: %s", je.text, r.out);
    const char *src = json_string_value(json_object_get(o, "source"));
    cr_assert_not_null(src);
    cr_expect(strstr(src, "caf\xc3\xa9.csv"), "%s", src);
    json_decref(o);
    tu_run_free(&r);
    free(in);
}

Test(cli_import, uci_original_dates_import_and_an_all_bad_file_is_refused) {
    char *uci = input("uci.csv", OR_HEADER "536365,85123A,HOLDER,6,12/1/2010 8:26,2.55,"
                                           "17850,United Kingdom\n");
    char *bad = input("bad.csv", OR_HEADER "536365,85123A,HOLDER,6,1.12.2010 8:26,2.55,"
                                           "17850,United Kingdom\n");
    char args[1024];
    snprintf(args, sizeof args, "--format online-retail '%s'", bad);
    expect_run(1, "none of its 1 rows could be imported", args);
    struct stat st;
    cr_expect_neq(stat(db, &st), 0, "a database created for a refused import remains");
    snprintf(args, sizeof args, "--format online-retail '%s'", uci);
    expect_run(0, "", args);
    free(uci);
    free(bad);
}

/* Six imports race to create one new database: every one must land in it (before, the
 * losers of the creation race removed the file under the winners, exit 0). */
Test(cli_import, concurrent_imports_into_a_new_database_all_land) {
    char *in[6];
    for (int i = 0; i < 6; i++) {
        char name[32], row[256];
        snprintf(name, sizeof name, "p%d.csv", i);
        snprintf(row, sizeof row,
                 OR_HEADER "53600%d,85123A,HOLDER,6,2010-12-01 08:26,2.55,1234%d.0,UK\n",
                 i, i);
        in[i] = input(name, row);
    }
    for (int round = 0; round < 10; round++) {
        tu_run r;
        cr_assert_eq(tu_sh(&r, "rm -f '%s'", db), 0);
        tu_run_free(&r);
        int st = tu_sh(&r,
                       "fail=0; pids=; for f in '%s' '%s' '%s' '%s' '%s' '%s'; do "
                       "\"$INDIV\" import --db '%s' --format online-retail \"$f\" "
                       ">/dev/null & pids=\"$pids $!\"; done; for p in $pids; do "
                       "wait $p || fail=1; done; exit $fail",
                       in[0], in[1], in[2], in[3], in[4], in[5], db);
        cr_assert_eq(st, 0, "an import failed: %s", r.err);
        tu_run_free(&r);
        cr_assert_eq(tu_sh(&r, "sqlite3 '%s' 'SELECT count(*) FROM imports'", db), 0);
        cr_assert_str_eq(r.out, "6\n", "round %d: imports lost", round);
        tu_run_free(&r);
        cr_assert_eq(tu_sh(&r, "ls '%s' | grep -c tmp- ; true", dir), 0);
        cr_assert_str_eq(r.out, "0\n", "temporary files left: %s", r.out);
        tu_run_free(&r);
    }
    for (int i = 0; i < 6; i++)
        free(in[i]);
}
