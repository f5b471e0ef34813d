/*
 * test_cli_rights.c — end-to-end tests of the data-rights commands (export, consent,
 * forget, retention) and of what train, decide and info do with the models registry:
 * usage errors (exit 2, naming the option), unknown consumers (exit 1, nothing
 * changed), a consent change honoured by the next `indiv decide`, an erasure of several
 * people in one transaction, retention counts and its record in `indiv info`, and a
 * model trained before an erasure that info lists and decide warns about; kill -9
 * during an erasure leaves all of it or none.
 *
 * The ASan-built binary named by $INDIV_BIN is run on small generated worlds.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define WORLD "--consumers 200 --days 120 --seed 3"
/* Commands run in the test's directory; $INDIV may be relative to the repository. */
#define IN_DIR "INDIV=\"$(realpath \"$INDIV\")\" && cd '%s' && "

static char *dir, *db;

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "w.db");
}

static void teardown(void) {
    free(db);
    tu_rmtree(dir);
}

TestSuite(cli_rights, .init = setup, .fini = teardown);

static void sh_ok(const char *what, const char *cmd) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, IN_DIR "%s", dir, cmd), 0, "%s: %s\n%s", what, cmd, r.err);
    tu_run_free(&r);
}

static void make_world(void) {
    sh_ok("world", "\"$INDIV\" generate --db w.db " WORLD " >/dev/null && "
                   "\"$INDIV\" profile --db w.db 2>/dev/null");
}

/* Source id of the profiled consumer with the most events, who accepts contact. */
static char *busiest(void) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' \"SELECT c.ext_id FROM consumers c JOIN events e ON"
                       " e.consumer_id = c.id WHERE c.id IN (SELECT consumer_id FROM"
                       " profiles) GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1\"",
                       db),
                 0, "%s", r.err);
    char *id = strndup(r.out, strcspn(r.out, "\n"));
    tu_run_free(&r);
    return id;
}

/* The decision line of consumer ext in the JSON Lines file at path (caller decrefs). */
static json_t *decision_of(const char *path, const char *ext) {
    char *text = tu_read(path, NULL);
    cr_assert_not_null(text);
    json_t *found = NULL;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (j && json_string_value(json_object_get(j, "consumer")) &&
            strcmp(json_string_value(json_object_get(j, "consumer")), ext) == 0)
            found = j;
        else
            json_decref(j);
    }
    free(text);
    cr_assert_not_null(found, "no decision for %s", ext);
    return found;
}

static int64_t count(const char *sql) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "sqlite3 '%s' \"%s\"", db, sql), 0, "%s", r.err);
    int64_t n = strtoll(r.out, NULL, 10);
    tu_run_free(&r);
    return n;
}

/* ---- usage ------------------------------------------------------------------------- */

Test(cli_rights, usage_errors_name_the_option) {
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"export c1", "--db"},
        {"export --db x.db", "CONSUMER"},
        {"export --db x.db a b", "CONSUMER"},
        {"forget --db x.db", "CONSUMER"},
        {"forget c1", "--db"},
        {"forget --db x.db c1 c2 c1", "'c1' is given twice"},
        {"consent --db x.db c1", "nothing to change"},
        {"consent --db x.db c1 --contact maybe", "--contact"},
        {"consent --db x.db c1 --channels email,store", "'store'"},
        {"consent --db x.db c1 --channels carrier-pigeon", "'carrier-pigeon'"},
        {"retention --db x.db", "--older-than"},
        {"retention --db x.db --older-than -3", "--older-than"},
        {"retention --db x.db --older-than 30 --as-of yesterday", "--as-of"},
        {"retention --db x.db --older-than 30 --dryrun", "--dry-run"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run r;
        cr_expect_eq(tu_sh(&r, "\"$INDIV\" %s", cases[i].args), 2, "%s", cases[i].args);
        cr_expect(strstr(r.err, cases[i].says), "%s: %s", cases[i].args, r.err);
        tu_run_free(&r);
    }
}

Test(cli_rights, unknown_consumers_fail_and_change_nothing) {
    make_world();
    char before[17], after[17];
    tu_content_hash(db, before);
    static const char *const cmds[] = {"export --db w.db ghost",
                                       "consent --db w.db ghost --contact no",
                                       "forget --db w.db ghost"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        tu_run r;
        cr_expect_eq(tu_sh(&r, IN_DIR "\"$INDIV\" %s", dir, cmds[i]), 1, "%s", cmds[i]);
        cr_expect(strstr(r.err, "no consumer with id 'ghost'"), "%s: %s", cmds[i], r.err);
        cr_expect_str_eq(r.out, "");
        tu_run_free(&r);
    }
    tu_content_hash(db, after);
    cr_assert_str_eq(before, after);
}

/* ---- export, forget ---------------------------------------------------------------- */

Test(cli_rights, export_holds_every_event_and_forget_removes_them_all) {
    make_world();
    char *id = busiest();
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events e JOIN consumers c ON c.id = e.consumer_id"
             " WHERE c.ext_id = '%s'",
             id);
    int64_t n = count(sql);
    cr_assert_gt(n, 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "\"$INDIV\" export --db w.db --out x.json %s 2>/dev/null",
             id);
    sh_ok("export", cmd);
    char *xp = tu_path(dir, "x.json");
    json_t *x = json_load_file(xp, 0, NULL);
    cr_assert_not_null(x);
    cr_assert_eq((int64_t)json_array_size(json_object_get(x, "events")), n);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(x, "consumer"), "id")), id);
    json_decref(x);
    free(xp);
    /* an unknown id among them: nobody is erased */
    tu_run r;
    cr_assert_eq(tu_sh(&r, IN_DIR "\"$INDIV\" forget --db w.db %s ghost", dir, id), 1);
    tu_run_free(&r);
    cr_assert_eq(count(sql), n);
    cr_assert_eq(tu_sh(&r, IN_DIR "\"$INDIV\" forget --db w.db %s c001", dir, id), 0,
                 "%s", r.err);
    json_t *rep = json_loads(r.out, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(rep, "%s", r.out);
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(rep, "removed"), "events")),
        n);
    cr_assert(strstr(r.err, "erased 2 people"), "%s", r.err);
    json_decref(rep);
    tu_run_free(&r);
    cr_assert_eq(count(sql), 0);
    cr_assert_eq(count("SELECT count(*) FROM consumers"), 198);
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) FROM truth_tastes t JOIN consumers c ON c.id = t.consumer_id"
        " WHERE c.ext_id IN ('%s', 'c001')",
        id);
    cr_assert_eq(count(sql), 0);
    free(id);
}

/* ---- consent ----------------------------------------------------------------------- */

Test(cli_rights, consent_change_is_honoured_by_the_next_decide) {
    make_world();
    char *id = busiest();
    char cmd[512];
    snprintf(
        cmd, sizeof cmd,
        "\"$INDIV\" consent --db w.db %s --contact yes --channels email >/dev/null &&"
        " \"$INDIV\" decide --db w.db --out d1.jsonl 2>/dev/null &&"
        " \"$INDIV\" consent --db w.db %s --contact no > c.json &&"
        " \"$INDIV\" decide --db w.db --out d2.jsonl 2>/dev/null",
        id, id);
    sh_ok("consent, decide", cmd);
    char *d1 = tu_path(dir, "d1.jsonl"), *d2 = tu_path(dir, "d2.jsonl");
    json_t *a = decision_of(d1, id), *b = decision_of(d2, id);
    cr_assert_str_neq(json_string_value(json_object_get(a, "reason")),
                      "no_contact_consent");
    cr_assert_str_eq(json_string_value(json_object_get(b, "action")), "none");
    cr_assert_str_eq(json_string_value(json_object_get(b, "reason")),
                     "no_contact_consent");
    json_decref(a);
    json_decref(b);
    char *cp = tu_path(dir, "c.json");
    json_t *c = json_load_file(cp, 0, NULL);
    cr_assert(
        json_is_true(json_object_get(json_object_get(c, "before"), "consent_contact")));
    cr_assert(
        json_is_false(json_object_get(json_object_get(c, "after"), "consent_contact")));
    json_decref(c);
    free(cp);
    free(d1);
    free(d2);
    free(id);
}

/* ---- retention --------------------------------------------------------------------- */

Test(cli_rights, retention_counts_purges_and_info_shows_the_run) {
    make_world();
    int64_t total = count("SELECT count(*) FROM events");
    int64_t last = count("SELECT max(ts) FROM events");
    int64_t old = 0;
    char sql[128], as_of[32];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE ts < %lld",
             (long long)(last - 30 * 86400));
    old = count(sql);
    cr_assert_gt(old, 0);
    cr_assert_lt(old, total);
    snprintf(as_of, sizeof as_of, "%lld", (long long)last);
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       IN_DIR "\"$INDIV\" retention --db w.db --older-than 30 --as-of "
                              "%s --dry-run",
                       dir, as_of),
                 0, "%s", r.err);
    char want[64];
    snprintf(want, sizeof want, "): %lld (", (long long)old);
    cr_assert(strstr(r.out, "would purge") && strstr(r.out, want), "%s", r.out);
    tu_run_free(&r);
    cr_assert_eq(count("SELECT count(*) FROM events"), total,
                 "a dry run changes nothing");
    cr_assert_eq(tu_sh(&r,
                       IN_DIR "\"$INDIV\" retention --db w.db --older-than 30 --as-of "
                              "%s && \"$INDIV\" info --db w.db",
                       dir, as_of),
                 0, "%s", r.err);
    cr_assert(strstr(r.out, "purged events before") && strstr(r.out, want), "%s", r.out);
    cr_assert(strstr(r.out, "retention   last run"), "%s", r.out);
    tu_run_free(&r);
    cr_assert_eq(count("SELECT count(*) FROM events"), total - old);
    cr_assert_eq(count(sql), 0);
}

/* ---- models ------------------------------------------------------------------------ */

Test(cli_rights,
     a_model_trained_before_an_erasure_is_listed_by_info_and_warned_by_decide) {
    make_world();
    char *id = busiest();
    sh_ok("train",
          "\"$INDIV\" train --db w.db --out m.json --dims 8 --iterations 3 "
          "2>/dev/null && \"$INDIV\" profile --db w.db --model m.json 2>/dev/null "
          "&& \"$INDIV\" decide --db w.db --model m.json --out d.jsonl "
          "2>/dev/null");
    tu_run r;
    cr_assert_eq(tu_sh(&r, IN_DIR "\"$INDIV\" info --db w.db", dir), 0);
    cr_assert(strstr(r.out, "model m (key ") && strstr(r.out, "trained here on") &&
                  strstr(r.out, "used by 1 decision run"),
              "%s", r.out);
    cr_assert_null(strstr(r.out, "ERASURE PENDING"), "%s", r.out);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, IN_DIR "\"$INDIV\" forget --db w.db %s", dir, id), 0);
    cr_assert(strstr(r.out, "\"models_marked\":[{") && strstr(r.out, "\"id\":\"m\""),
              "%s", r.out);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, IN_DIR "\"$INDIV\" info --db w.db", dir), 0);
    cr_assert(strstr(r.out, "ERASURE PENDING: may still hold the data of 1 person"), "%s",
              r.out);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r,
                       IN_DIR "\"$INDIV\" decide --db w.db --model m.json --out "
                              "d.jsonl",
                       dir),
                 0, "%s", r.err);
    cr_assert(strstr(r.err,
                     "warning: model m (m.json) was trained on data that included 1 "
                     "person erased since"),
              "%s", r.err);
    tu_run_free(&r);
    /* retrained: the new model is clean, and decide no longer warns (times are in
     * seconds: an erasure in the same second as a training run counts as before it) */
    cr_assert_eq(tu_sh(&r,
                       IN_DIR
                       "sleep 1 && \"$INDIV\" train --db w.db --out m.json --dims 8 "
                       "--iterations 3 2>/dev/null && \"$INDIV\" profile --db w.db "
                       "--model m.json 2>/dev/null && \"$INDIV\" decide --db w.db "
                       "--model m.json --out d.jsonl",
                       dir),
                 0, "%s", r.err);
    cr_assert_null(strstr(r.err, "erased since"), "%s", r.err);
    tu_run_free(&r);
    free(id);
}

Test(cli_rights, decide_on_a_read_only_database_still_decides) {
    make_world();
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       IN_DIR "chmod a-w w.db && \"$INDIV\" decide --db w.db --out "
                              "d.jsonl",
                       dir),
                 0, "%s", r.err);
    cr_assert(strstr(r.err, "note: the model used is not recorded"), "%s", r.err);
    tu_run_free(&r);
}

/* ---- all or nothing ---------------------------------------------------------------- */

/* kill -9 at points spread over an erasure of 60 people: the database stays intact and
 * holds all 60 or none of them (one transaction). */
Test(cli_rights, forget_killed_anywhere_is_all_or_nothing) {
    make_world();
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' \"SELECT group_concat(ext_id, ' ') FROM (SELECT"
                       " ext_id FROM consumers ORDER BY id LIMIT 60)\"",
                       db),
                 0);
    char *ids = strndup(r.out, strcspn(r.out, "\n"));
    tu_run_free(&r);
    static const int ms[] = {5, 20, 50, 100, 200, 400, 800};
    for (size_t i = 0; i <= sizeof ms / sizeof ms[0]; i++) {
        int kill = i < sizeof ms / sizeof ms[0];
        cr_assert_eq(tu_sh(&r,
                           IN_DIR "cp w.db f.db && rm -f f.db-journal && "
                                  "(\"$INDIV\" forget --db f.db %s >/dev/null 2>&1 & "
                                  "pid=$!; sleep %d.%03d; %s; wait $pid; exit 0)",
                           dir, ids, kill ? ms[i] / 1000 : 0, kill ? ms[i] % 1000 : 0,
                           kill ? "kill -9 $pid 2>/dev/null" : "true"),
                     0, "%s", r.err);
        tu_run_free(&r);
        cr_assert_eq(tu_sh(&r,
                           IN_DIR "\"$INDIV\" info --db f.db >/dev/null && sqlite3 f.db "
                                  "'PRAGMA integrity_check' && sqlite3 f.db 'SELECT"
                                  " count(*) FROM consumers WHERE id <= 60'",
                           dir),
                     0, "%s", r.err);
        cr_expect(strcmp(r.out, "ok\n60\n") == 0 || strcmp(r.out, "ok\n0\n") == 0,
                  "kill after %d ms: %s", kill ? ms[i] : -1, r.out);
        if (!kill)
            cr_expect_str_eq(r.out, "ok\n0\n", "not killed: all erased");
        tu_run_free(&r);
    }
    free(ids);
}
