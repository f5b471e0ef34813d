/*
 * test_cli_profile.c — end-to-end tests of `indiv profile`: help, usage errors (exit 2,
 * naming the option or the feature group), a build whose summary counts the consumers
 * skipped for consent, --show as JSON (named sections, values), --as-of before and after
 * the events, unknown consumers and consumers without a profile (exit 1), and
 * incremental rebuilds.
 *
 * The database is written through the eventlog API (a tiny log with hand-computable
 * profiles); the ASan-built binary named by $INDIV_BIN is run on it.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/eventlog.h"
#include "testutil.h"

#define AS_OF INT64_C(1780272000) /* 2026-06-01T00:00:00Z */
#define DAY_S INT64_C(86400)

static char *dir, *db;

static void setup(void) {
    tu_dir_db_new("log.db", &dir, &db);
}

static void teardown(void) {
    tu_dir_db_free(dir, db);
}

TestSuite(cli_profile, .init = setup, .fini = teardown);

static int64_t ago(double days) {
    return AS_OF - (int64_t)llround(days * (double)DAY_S);
}

static int64_t add_consumer(indiv_eventlog *log, const char *ext_id, int consent) {
    indiv_consumer_rec c = {ext_id, consent, 1, INDIV_CH_CONTACTABLE, NULL};
    int64_t id;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &id, NULL, &err), 0, "%s", err.msg);
    return id;
}

static int64_t add_offer(indiv_eventlog *log, const char *ext_id, const char *category) {
    indiv_offer_rec o = {ext_id, ext_id, category, 20, 0.3, INDIV_TS_NONE, INDIV_TS_NONE};
    int64_t id;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_offer(log, &o, &id, NULL, &err), 0, "%s", err.msg);
    return id;
}

static void add_event(indiv_eventlog *log, int64_t c, int64_t ts, int64_t offer, int type,
                      int channel, double value) {
    indiv_event ev = {c, ts, 0, offer, type, channel, 1, value};
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, &err), 0, "%s", err.msg);
}

/* alice (consent): SHOES bought 90 days before AS_OF for 20, BOOKS 30 days before for
 * 15, an email contact 20 days before, opened a day later. bob refuses profiling.
 * carol (consent) only viewed BOOKS. The last event is the open, 19 days before AS_OF. */
static void tiny_db(void) {
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_begin(log, &err), 0, "%s", err.msg);
    int64_t shoes = add_offer(log, "s1", "SHOES"), books = add_offer(log, "b1", "BOOKS");
    int64_t alice = add_consumer(log, "alice", 1), bob = add_consumer(log, "bob", 0);
    int64_t carol = add_consumer(log, "carol", 1);
    add_event(log, alice, ago(90), shoes, INDIV_EV_PURCHASE, INDIV_CH_WEB, 20);
    add_event(log, alice, ago(30), books, INDIV_EV_PURCHASE, INDIV_CH_WEB, 15);
    add_event(log, alice, ago(20), books, INDIV_EV_CONTACT, INDIV_CH_EMAIL, 0);
    add_event(log, alice, ago(19), 0, INDIV_EV_OPEN, INDIV_CH_EMAIL, 0);
    add_event(log, bob, ago(50), shoes, INDIV_EV_PURCHASE, INDIV_CH_STORE, 99);
    add_event(log, bob, ago(40), shoes, INDIV_EV_PURCHASE, INDIV_CH_STORE, 99);
    add_event(log, carol, ago(25), books, INDIV_EV_VIEW, INDIV_CH_WEB, 0);
    cr_assert_eq(indiv_eventlog_commit(log, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
}

/* Runs "$INDIV" profile with args; asserts the exit status. */
static void run(tu_run *r, int status, const char *args) {
    tu_sh(r, "\"$INDIV\" profile %s", args);
    cr_assert_eq(r->status, status, "profile %s: exit %d\nstdout: %s\nstderr: %s", args,
                 r->status, r->out, r->err);
}

/* --show of consumer (at --as-of when given) parsed as JSON (caller decrefs). */
static json_t *show(const char *consumer, const char *as_of) {
    tu_run r;
    char args[1024];
    snprintf(args, sizeof args, "--db '%s' --show %s%s%s", db, consumer,
             as_of ? " --as-of " : "", as_of ? as_of : "");
    run(&r, 0, args);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(j, "not JSON (%s): %s", jerr.text, r.out);
    tu_run_free(&r);
    return j;
}

static double num(const json_t *j, const char *section, const char *key) {
    const json_t *v = json_object_get(json_object_get(j, section), key);
    cr_assert(json_is_number(v), "%s.%s is not a number", section, key);
    return json_number_value(v);
}

Test(cli_profile, help_exits_0_and_describes_every_option) {
    tu_run r;
    run(&r, 0, "--help");
    static const char *const want[] = {
        "usage: indiv profile", "--db FILE",       "--as-of",
        "--half-life",          "--window",        "--features",
        "--incremental",        "--show CONSUMER", "consent"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(r.out, want[i]), "help lacks %s", want[i]);
    cr_assert_str_eq(r.err, "");
    tu_run_free(&r);
}

Test(cli_profile, usage_errors_exit_2_and_name_the_option) {
    static const char *const cases[][2] = {
        {"", "--db FILE is required"},
        {"--features taste", "--db FILE is required"},
        {"--db x.db --features taste,bogus", "--features: unknown feature group 'bogus'"},
        {"--db x.db --features all,-mood", "unknown feature group 'mood'"},
        {"--db x.db --features ''", "--features: empty feature list"},
        {"--db x.db --as-of yesterday", "--as-of: 'yesterday' is not a time"},
        {"--db x.db --window -1", "--window"},
        {"--db x.db --half-life 0", "--half-life"},
        {"--db x.db --half-life many", "--half-life"},
        {"--db x.db stray", "unexpected argument 'stray'"},
        {"--db x.db --bogus", "unknown option '--bogus'"},
        {"--db", "option '--db' needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run r;
        tu_sh(&r, "\"$INDIV\" profile %s", cases[i][0]);
        cr_expect_eq(r.status, 2, "'%s': exit %d: %s", cases[i][0], r.status, r.err);
        cr_expect(strstr(r.err, cases[i][1]), "'%s': '%s' lacks '%s'", cases[i][0], r.err,
                  cases[i][1]);
        cr_expect(strstr(r.err, "indiv profile: "), "'%s': %s", cases[i][0], r.err);
        tu_run_free(&r);
    }
    tu_run r;
    tu_sh(&r, "ls x.db");
    cr_assert_neq(r.status, 0, "a refused command wrote x.db");
    tu_run_free(&r);
}

Test(cli_profile, missing_database_exits_1_naming_it) {
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s/none.db'", dir);
    run(&r, 1, args);
    cr_assert(strstr(r.err, "none.db"), "%s", r.err);
    tu_run_free(&r);
}

Test(cli_profile, build_summary_counts_consent_skips_then_show_prints_json) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-01", db);
    run(&r, 0, args);
    /* The build's summary is a result: stdout, nothing on stderr (issue 14 item 19). */
    cr_assert_str_eq(r.err, "", "a build prints no diagnostics: %s", r.err);
    cr_assert(strstr(r.out, "2 profiles built (0 without events in range) from 5 events"),
              "%s", r.out);
    cr_assert(strstr(r.out, "consumers: 3; skipped for lack of profiling consent: 1"),
              "%s", r.out);
    cr_assert(strstr(r.out, "full build requested"), "%s", r.out);
    tu_run_free(&r);

    json_t *j = show("alice", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "consumer")), "alice");
    cr_assert_str_eq(json_string_value(json_object_get(j, "as_of")),
                     "2026-06-01T00:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "evaluated_at")),
                     "2026-06-01T00:00:00Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "events_used")), 4);
    static const char *const sections[] = {"taste",    "rhythm",   "moments",
                                           "channels", "pressure", "openness"};
    for (int i = 0; i < 6; i++)
        cr_expect(json_is_object(json_object_get(j, sections[i])), "no section %s",
                  sections[i]);
    /* SHOES one half-life old: 0.5; BOOKS 30 days: 2^(-1/3) = 0.793701 */
    cr_assert_float_eq(num(j, "taste", "SHOES"), 0.5, 1e-6);
    cr_assert_float_eq(num(j, "taste", "BOOKS"), 0.793701, 1e-6);
    cr_assert_eq(num(j, "rhythm", "orders"), 2.0);
    cr_assert_float_eq(num(j, "rhythm", "monetary"), 35.0, 1e-9);
    cr_assert_float_eq(num(j, "rhythm", "interval_mean_days"), 60.0, 1e-9);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "rhythm"), "last_purchase")),
        "2026-05-02T00:00:00Z");
    json_t *email = json_object_get(json_object_get(j, "channels"), "email");
    cr_assert_float_eq(json_number_value(json_object_get(email, "reaction_rate")),
                       2.0 / 11, 1e-6); /* one reaction to one contact, Beta(1, 9) */
    /* pressure over the last 14 days: the contact was 20 days ago */
    cr_assert_eq(num(j, "pressure", "contacts"), 0.0);
    cr_assert_eq(num(j, "pressure", "contacts_total"), 1.0);
    /* openness: BOOKS after SHOES is new: (1 + 1) / (1 + 5) */
    cr_assert_float_eq(num(j, "openness", "openness"), 1.0 / 3, 1e-6);
    json_decref(j);
}

Test(cli_profile, show_at_a_later_time_decays_taste_and_refuses_an_earlier_one) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-01", db);
    run(&r, 0, args);
    tu_run_free(&r);
    /* 90 days later (one half-life): SHOES 0.25; the contact is then 110 days old */
    json_t *j = show("alice", "2026-08-30");
    cr_assert_str_eq(json_string_value(json_object_get(j, "evaluated_at")),
                     "2026-08-30T00:00:00Z");
    cr_assert_float_eq(num(j, "taste", "SHOES"), 0.25, 1e-6);
    json_decref(j);
    snprintf(args, sizeof args, "--db '%s' --show alice --as-of 2026-05-31", db);
    run(&r, 1, args);
    cr_assert(strstr(r.err, "indiv profile: --as-of is before the profile's time"), "%s",
              r.err);
    cr_assert_str_eq(r.out, "");
    tu_run_free(&r);
}

Test(cli_profile, build_as_of_in_the_past_gives_empty_profiles_and_future_all_events) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s' --as-of 2020-01-01", db);
    run(&r, 0, args);
    cr_assert(strstr(r.out, "2 profiles built (2 without events in range) from 0 events"),
              "%s", r.out);
    tu_run_free(&r);
    json_t *j = show("alice", NULL);
    cr_assert_eq(json_integer_value(json_object_get(j, "events_used")), 0);
    cr_assert_eq(num(j, "rhythm", "orders"), 0.0);
    cr_assert_eq(json_object_size(json_object_get(j, "taste")), 0);
    json_decref(j);
    snprintf(args, sizeof args, "--db '%s' --as-of 2030-01-01T12:00:00Z", db);
    run(&r, 0, args);
    cr_assert(strstr(r.out, "2 profiles built (0 without events in range) from 5 events"),
              "%s", r.out);
    tu_run_free(&r);
    j = show("carol", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "as_of")),
                     "2030-01-01T12:00:00Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "events_used")), 1);
    json_decref(j);
}

Test(cli_profile, default_as_of_is_just_after_the_last_event) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s'", db);
    run(&r, 0, args);
    tu_run_free(&r);
    json_t *j = show("alice", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "as_of")),
                     "2026-05-13T00:00:01Z");
    cr_assert_eq(json_integer_value(json_object_get(j, "events_used")), 4);
    json_decref(j);
}

Test(cli_profile, show_of_unknown_or_unprofiled_consumers_exits_1) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s' --show alice", db);
    run(&r, 1, args);
    cr_assert(strstr(r.err, "no profiles yet"), "%s", r.err);
    tu_run_free(&r);
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-01", db);
    run(&r, 0, args);
    tu_run_free(&r);
    snprintf(args, sizeof args, "--db '%s' --show zed", db);
    run(&r, 1, args);
    cr_assert(strstr(r.err, "indiv profile: "), "%s", r.err);
    cr_assert(strstr(r.err, "no consumer with id 'zed'"), "%s", r.err);
    cr_assert_str_eq(r.out, "");
    tu_run_free(&r);
    snprintf(args, sizeof args, "--db '%s' --show bob", db);
    run(&r, 1, args);
    cr_assert(strstr(r.err, "consumer bob has no profile (no profiling consent"), "%s",
              r.err);
    cr_assert_str_eq(r.out, "");
    tu_run_free(&r);
}

Test(cli_profile, features_subset_shows_only_those_sections) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-01 --features taste,openness",
             db);
    run(&r, 0, args);
    /* header 2 + taste 2 + openness 4 doubles for each of the 2 profiles (alice, carol),
     * plus one per category bought: alice bought SHOES and BOOKS, carol nothing */
    cr_assert(strstr(r.out, "vector bytes written: 144 "), "%s", r.out);
    tu_run_free(&r);
    json_t *j = show("alice", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "features")), "taste,openness");
    cr_assert_not_null(json_object_get(j, "taste"));
    cr_assert_not_null(json_object_get(j, "openness"));
    static const char *const off[] = {"rhythm", "moments", "channels", "pressure"};
    for (int i = 0; i < 4; i++)
        cr_expect_null(json_object_get(j, off[i]), "%s is off but shown", off[i]);
    json_decref(j);
}

Test(cli_profile, incremental_needs_the_same_parameters) {
    tiny_db();
    tu_run r;
    char args[600];
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-01 --window 120", db);
    run(&r, 0, args);
    tu_run_free(&r);
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-08 --window 120 --incremental",
             db);
    run(&r, 0, args);
    cr_assert(strstr(r.out, "0 profiles built"), "nothing is stale: %s", r.out);
    cr_assert(strstr(r.out, "[incremental"), "%s", r.out);
    tu_run_free(&r);
    snprintf(args, sizeof args, "--db '%s' --as-of 2026-06-15 --incremental", db);
    run(&r, 1, args);
    cr_assert(strstr(r.err, "indiv profile: an incremental build needs the parameters"),
              "%s", r.err);
    tu_run_free(&r);
    /* alice's profile is as of 2026-06-01 and read at 2026-06-08: a week of decay */
    json_t *j = show("alice", "2026-06-08");
    cr_assert_float_eq(num(j, "taste", "SHOES"), 0.5 * exp2(-7.0 / 90), 1e-6);
    json_decref(j);
}

/* A Latin-1 log is stored as UTF-8 (import): --show finds its consumer whether the id
 * is typed in UTF-8 or in Latin-1, and prints it as UTF-8 (issue 14 item 9). */
Test(cli_profile, show_finds_a_latin1_id_typed_either_way) {
    char *ev = tu_path(dir, "ev.csv"), *off = tu_path(dir, "off.csv");
    tu_write(ev, "consumer,offer,type,ts,channel,quantity,value\n"
                 "Ren\xe9,o1,purchase,2024-01-01T01:56:35Z,web,1,5.78\n");
    tu_write(off, "offer,name,category,price\no1,Caf\xe9,Cat\xe9gorie,5.78\n");
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" import --db '%s' --format events --offers '%s' '%s' "
                       ">/dev/null && \"$INDIV\" profile --db '%s' >/dev/null",
                       db, off, ev, db),
                 0, "%s", r.err);
    tu_run_free(&r);
    static const char *const typed[] = {"Ren\xe9", "Ren\xc3\xa9"};
    for (int i = 0; i < 2; i++) {
        char args[600];
        snprintf(args, sizeof args, "--db '%s' --show '%s'", db, typed[i]);
        run(&r, 0, args);
        cr_assert(strstr(r.out, "\"consumer\": \"Ren\xc3\xa9\""), "%s", r.out);
        cr_assert(strstr(r.out, "\"Cat\xc3\xa9gorie\""), "%s", r.out);
        tu_run_free(&r);
    }
    free(ev);
    free(off);
}
