/*
 * test_cli_outputs.c — the output files of every command, end to end (issue 14, items
 * 1, 2, 16–18): an output naming the database or another output is refused before any
 * work and the database is unchanged; a symbolic link is followed and stays a link; a
 * FIFO and /dev/null are written through; a failed run leaves a pre-existing output as
 * it was; an output directory that does not exist fails at once with the system's
 * reason; SIGTERM during a run removes the temporary file.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *dir, *db;

#define WORLD "--consumers 200 --offers 40 --categories 6 --days 90"

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "w.db");
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' " WORLD " >/dev/null && "
                       "\"$INDIV\" profile --db '%s' >/dev/null 2>&1",
                       db, db),
                 0, "%s", r.err);
    tu_run_free(&r);
}

static void teardown(void) {
    free(db);
    tu_rmtree(dir);
}

TestSuite(cli_outputs, .init = setup, .fini = teardown);

/* cmd with every '@' replaced by the test directory (owned). */
static char *in_dir(const char *cmd) {
    size_t n = strlen(cmd) + 1;
    for (const char *c = cmd; *c; c++)
        n += *c == '@' ? strlen(dir) : 0;
    char *s = malloc(n), *p = s;
    cr_assert_not_null(s);
    for (const char *c = cmd; *c; c++)
        p = *c == '@' ? stpcpy(p, dir) : (*p = *c, p + 1);
    *p = '\0';
    return s;
}

/* Runs cmd ('@' stands for the test directory), expects exit 1 with every needle in
 * stderr, and the database byte-identical to before. */
static void refused(const char *tmpl, const char *const *needles) {
    char *cmd = in_dir(tmpl);
    char before[17], after[17];
    tu_content_hash(db, before);
    char *copy = tu_path(dir, "copy.db");
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", db, copy), 0);
    tu_run_free(&r);
    int st = tu_sh(&r, "%s", cmd);
    cr_assert_eq(st, 1, "%s: exit %d: %s", cmd, st, r.err);
    for (const char *const *n = needles; *n; n++)
        cr_assert(strstr(r.err, *n), "%s: '%s' not in: %s", cmd, *n, r.err);
    tu_run_free(&r);
    cr_assert(tu_same_file(db, copy), "%s changed the database", cmd);
    tu_content_hash(db, after);
    cr_assert_str_eq(before, after);
    cr_assert_eq(tu_temps_in(dir), 0);
    unlink(copy);
    free(copy);
    free(cmd);
}

Test(cli_outputs, an_output_that_is_the_database_is_refused) {
    static const char *const needles[] = {"database", "w.db", NULL};
    refused("\"$INDIV\" decide --db '@/w.db' --out '@/w.db'", needles);
    refused("\"$INDIV\" decide --db '@/w.db' --out '@/d.jsonl' --summary '@/./w.db'",
            needles);
    refused("\"$INDIV\" train --db '@/w.db' --out '@/w.db' --dims 4", needles);
    refused("\"$INDIV\" evaluate --db '@/w.db' --split-at 2024-03-01 --json '@/w.db'",
            needles);
    refused("\"$INDIV\" evaluate --db '@/w.db' --split-at 2024-03-01 --csv '@/w.db'",
            needles);
}

Test(cli_outputs, two_outputs_naming_one_file_are_refused) {
    static const char *const needles[] = {"--out", "--summary", "same file", NULL};
    refused("\"$INDIV\" decide --db '@/w.db' --out '@/x' --summary '@/x'", needles);
}

Test(cli_outputs, a_symlink_is_followed_and_stays_a_link) {
    char *link = tu_path(dir, "link.jsonl"), *real = tu_path(dir, "real.jsonl");
    cr_assert_eq(symlink("real.jsonl", link), 0);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s' --out '%s'", db, link), 0, "%s",
                 r.err);
    tu_run_free(&r);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "--out replaced the symbolic link");
    cr_assert_eq(stat(real, &st), 0);
    cr_assert_gt(st.st_size, 0);
    free(link);
    free(real);
}

Test(cli_outputs, fifo_and_dev_null_are_written_through) {
    char *fifo = tu_path(dir, "pipe"), *copy = tu_path(dir, "through.jsonl");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "cat '%s' > '%s' & \"$INDIV\" decide --db '%s' --out '%s' && wait",
                       fifo, copy, db, fifo),
                 0, "%s", r.err);
    tu_run_free(&r);
    struct stat st;
    cr_assert_eq(lstat(fifo, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode), "--out replaced the FIFO by a file");
    cr_assert_eq(stat(copy, &st), 0);
    cr_assert_gt(st.st_size, 0, "nothing came through the FIFO");
    cr_assert_eq(
        tu_sh(&r, "\"$INDIV\" decide --db '%s' --out /dev/null --summary /dev/null", db),
        0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_assert(S_ISCHR(st.st_mode));
    free(fifo);
    free(copy);
}

Test(cli_outputs, a_failed_run_keeps_an_existing_output) {
    char *lists = tu_path(dir, "lists.csv");
    tu_write(lists, "old\n");
    tu_run r;
    /* No purchase before the split: evaluate fails after opening --lists. */
    int st = tu_sh(&r, "\"$INDIV\" evaluate --db '%s' --split-at 2000-01-01 --lists '%s'",
                   db, lists);
    cr_assert_eq(st, 1, "%s", r.err);
    tu_run_free(&r);
    char *text = tu_read(lists, NULL);
    cr_assert_not_null(text, "a failed evaluate removed the existing --lists file");
    cr_assert_str_eq(text, "old\n");
    cr_assert_eq(tu_temps_in(dir), 0);
    free(text);
    free(lists);
}

Test(cli_outputs, a_missing_output_directory_fails_before_the_work) {
    tu_run r;
    int st = tu_sh(&r, "\"$INDIV\" train --db '%s' --out '%s/no/such/m.json' --dims 4",
                   db, dir);
    cr_assert_eq(st, 1, "%s", r.err);
    cr_assert(strstr(r.err, "No such file or directory"), "%s", r.err);
    cr_assert_null(strstr(r.err, "ALS"), "trained before checking --out: %s", r.err);
    tu_run_free(&r);
}

/* train opens --out before the database; a FIFO as database blocks its open, so the run
 * is certainly in progress, with its temporary file, when SIGTERM arrives. */
Test(cli_outputs, sigterm_removes_the_temporary_file) {
    char *fifo = tu_path(dir, "blocked.db");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    tu_run r;
    int st =
        tu_sh(&r,
              "\"$INDIV\" train --db '%s' --out '%s/m.json' 2>/dev/null & pid=$!; "
              "i=0; while [ $i -lt 400 ] && ! ls '%s' | grep -q 'm.json.tmp-'; do "
              "sleep 0.05; i=$((i+1)); done; ls '%s' | grep -q 'm.json.tmp-' || exit 9; "
              "kill -TERM $pid; wait $pid; echo $?",
              fifo, dir, dir, dir);
    cr_assert_eq(st, 0, "no temporary file appeared: %s", r.err);
    cr_assert_str_eq(r.out, "143\n", "not ended by SIGTERM: %s", r.out);
    tu_run_free(&r);
    cr_assert_eq(tu_temps_in(dir), 0, "SIGTERM left the temporary file");
    free(fifo);
}

/* A sweep that claims a new directory and fails before any job finishes leaves nothing,
 * so the corrected command is not refused as "another sweep" (issue 14, item 18). */
Test(cli_outputs, a_failed_sweep_leaves_no_directory_for_the_corrected_command) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" import --db '%s/log.db' --format events --offers "
                       "datasets/events-sample/offers.csv "
                       "datasets/events-sample/events.csv >/dev/null",
                       dir),
                 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" sweep --db '%s/log.db' --out '%s/sw' --grid "
                       "threshold=0.1,0.2 --seeds 1 --rounds 1 --no-figures",
                       dir, dir),
                 1, "%s", r.err);
    cr_expect(strstr(r.err, "not a generated world"), "%s", r.err);
    tu_run_free(&r);
    cr_expect_neq(tu_sh(&r, "test -e '%s/sw'", dir), 0,
                  "the failed sweep left its directory");
    tu_run_free(&r);
    cr_expect_eq(
        tu_sh(&r,
              "\"$INDIV\" sweep --db '%s' --out '%s/sw' --grid threshold=0.1,0.2 "
              "--seeds 1 --rounds 1 --no-figures >/dev/null",
              db, dir),
        0, "the corrected command was refused: %s", r.err);
    tu_run_free(&r);
}

/* decide commits its decisions and summary together: a summary that cannot be written
 * (/dev/full) leaves the previous decisions as they were (issue 14 item 16). */
Test(cli_outputs, decisions_and_summary_are_committed_together) {
    char *out = tu_path(dir, "d.jsonl");
    tu_write(out, "old\n");
    tu_run r;
    int st = tu_sh(&r, "\"$INDIV\" decide --db '%s' --out '%s' --summary /dev/full", db,
                   out);
    cr_assert_eq(st, 1, "%s", r.err);
    cr_assert(strstr(r.err, "/dev/full"), "%s", r.err);
    tu_run_free(&r);
    char *text = tu_read(out, NULL);
    cr_assert_str_eq(text, "old\n", "the decisions were replaced without their summary");
    cr_assert_eq(tu_temps_in(dir), 0);
    free(text);
    free(out);
}

/* Results on stdout, diagnostics on stderr; with --out - the decisions alone are on
 * stdout and the summary moves to stderr (issue 14 item 19). */
Test(cli_outputs, decisions_on_stdout_are_not_mixed_with_the_summary) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s' --out - | wc -l", db), 0, "%s",
                 r.err);
    cr_assert_eq(atoi(r.out), 200, "stdout holds more than the 200 decisions: %s", r.out);
    cr_assert(strstr(r.err, "indiv decide: 200 consumers"), "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s' --out /dev/null", db), 0);
    cr_assert(strstr(r.out, "indiv decide: 200 consumers"), "%s", r.out);
    cr_assert_null(strstr(r.err, "consumers in"), "%s", r.err);
    tu_run_free(&r);
}

/* Sends sig to cmd ('@': the test directory) once the shell test `ready` holds, and
 * checks the command died of it (128 + sig). */
static void interrupt(const char *cmd, const char *ready, int sig) {
    char *c = in_dir(cmd), *w = in_dir(ready);
    tu_run r;
    int st = tu_sh(&r,
                   "%s 2>/dev/null >/dev/null & pid=$!; i=0; "
                   "while [ $i -lt 600 ] && ! { %s; }; do sleep 0.05; i=$((i+1)); done; "
                   "{ %s; } || exit 9; kill -%d $pid; wait $pid; echo $?",
                   c, w, w, sig);
    cr_assert_eq(st, 0, "%s: never ready (%s): %s", cmd, ready, r.err);
    cr_assert_eq(atoi(r.out), 128 + sig, "%s: not ended by signal %d: %s", cmd, sig,
                 r.out);
    tu_run_free(&r);
    free(c);
    free(w);
}

/* Ctrl-C while decide runs (its database a FIFO: blocked after both outputs exist)
 * removes both temporary files and keeps the earlier outputs (issue 14 item 18). */
Test(cli_outputs, ctrl_c_during_decide_leaves_no_temporary_file) {
    char *fifo = tu_path(dir, "blocked.db"), *out = tu_path(dir, "d.jsonl");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    tu_write(out, "old\n");
    interrupt("\"$INDIV\" decide --db @/blocked.db --out @/d.jsonl --summary @/s.json",
              "[ $(ls @ | grep -c '\\.tmp-') = 2 ]", 2);
    cr_assert_eq(tu_temps_in(dir), 0, "Ctrl-C left a temporary file");
    char *text = tu_read(out, NULL);
    cr_assert_str_eq(text, "old\n");
    free(text);
    free(out);
    free(fifo);
}

/* Ctrl-C or SIGTERM during simulate (world a FIFO: blocked in the first policy's copy,
 * after params.json and rounds.csv's temporary file were created) leaves no output directory, and an
 * existing directory keeps exactly what it held (issue 14 item 18). */
Test(cli_outputs, a_signal_during_simulate_leaves_no_partial_output) {
    char *fifo = tu_path(dir, "world.db");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    interrupt("\"$INDIV\" simulate --db @/world.db --out @/sim --rounds 2",
              "[ -e @/sim/params.json ] && ls @/sim/indiv | grep -q rounds.csv.tmp-", 2);
    struct stat st;
    char *sim = tu_path(dir, "sim");
    cr_assert_neq(stat(sim, &st), 0, "Ctrl-C left the output directory");
    /* An existing directory with a file of the user's: only the run's files go. */
    cr_assert_eq(mkdir(sim, 0777), 0);
    char *mine = tu_path(sim, "notes.txt");
    tu_write(mine, "mine\n");
    interrupt("\"$INDIV\" simulate --db @/world.db --out @/sim --rounds 2 --policy all",
              "[ -e @/sim/params.json ] && ls @/sim/indiv | grep -q rounds.csv.tmp-", 15);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "ls -A '%s'", sim), 0);
    cr_assert_str_eq(r.out, "notes.txt\n", "SIGTERM left: %s", r.out);
    tu_run_free(&r);
    /* The files of an earlier complete run are kept as they were, not truncated. */
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" simulate --db '%s' --out '%s/sim2' --rounds 2 && "
                           "cp '%s/sim2/indiv/rounds.csv' '%s/rounds.before'",
                       db, dir, dir, dir),
                 0, "%s", r.err);
    tu_run_free(&r);
    interrupt("\"$INDIV\" simulate --db @/world.db --out @/sim2 --rounds 2",
              "ls @/sim2/indiv | grep -q rounds.csv.tmp-", 15);
    char *now = tu_path(dir, "sim2/indiv/rounds.csv"), *before = tu_path(dir, "rounds.before");
    cr_assert(tu_same_file(now, before), "an interrupted run changed an earlier rounds.csv");
    cr_assert_eq(tu_temps_in(dir), 0);
    free(now);
    free(before);
    free(mine);
    free(sim);
    free(fifo);
}

/* SIGTERM during a sweep, as soon as a job's work database exists: no work database
 * and no temporary file remain, and what remains is either nothing or a sweep with
 * finished jobs that the same command resumes (issue 14 item 18). */
Test(cli_outputs, sigterm_during_a_sweep_leaves_nothing_or_a_resumable_sweep) {
    static const char cmd[] = "\"$INDIV\" sweep --db @/w.db --out @/sw --grid "
                              "threshold=0.1,0.2 --seeds 1 --rounds 8 --no-figures "
                              "--jobs 1";
    interrupt(cmd, "ls @/sw/work 2>/dev/null | grep -q cell-", 15);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "find '%s' -name 'cell-*' -o -name '*.tmp-*'", dir), 0);
    cr_assert_str_eq(r.out, "", "SIGTERM left: %s", r.out);
    tu_run_free(&r);
    char *partial = tu_path(dir, "sw/results.partial.csv"), *sw = tu_path(dir, "sw");
    char *text = tu_read(partial, NULL);
    int lines = 0; /* the header, then one per finished job */
    for (const char *t = text; t && (t = strchr(t, '\n')); t++)
        lines++;
    struct stat st;
    cr_assert(stat(sw, &st) != 0 || lines >= 2,
              "a sweep directory without a finished job remains (%d lines)", lines);
    char *c = in_dir(cmd);
    cr_assert_eq(tu_sh(&r, "%s >/dev/null", c), 0, "the rerun was refused: %s", r.err);
    tu_run_free(&r);
    free(c);
    free(text);
    free(partial);
    free(sw);
}

/* Ctrl-C during a study, while its runs' work databases exist: the new output directory
 * is gone, worlds and work databases with it (issue 14 item 18), also with
 * --keep-worlds: only a complete run keeps its worlds (docs/study.md). */
Test(cli_outputs, ctrl_c_during_a_study_leaves_no_directory) {
    interrupt("\"$INDIV\" study --out @/st --quick --consumers 300 --rounds 4 --no-real "
              "--no-figures --keep-worlds",
              "ls @/st/work 2>/dev/null | grep -q run-", 2);
    char *st = tu_path(dir, "st");
    struct stat sb;
    cr_assert_neq(stat(st, &sb), 0, "Ctrl-C left the study directory");
    free(st);
}

/* indiv partition (added after the first probe of issue 14, rerun on it): SIGTERM while
 * the parts are being built leaves no temporary part and no new directory, and an
 * existing directory keeps the parts of its earlier run, never a mix of two runs; a
 * source that is one of the parts is refused before anything is written (items 2, 18).
 */
Test(cli_outputs, partition_replaces_parts_together_and_never_its_source) {
    tu_run r;
    cr_assert_eq(
        tu_sh(&r, "\"$INDIV\" partition --db '%s' --parts 2 --out '%s/p'", db, dir), 0,
        "%s", r.err);
    cr_expect(strstr(r.out, "split into 2 parts"), "the summary is not on stdout: %s",
              r.out);
    tu_run_free(&r);
    cr_assert_eq(
        tu_sh(&r, "cd '%s' && cp p/part-0.db before-0 && cp p/part-1.db before-1", dir),
        0);
    tu_run_free(&r);
    /* 2000 parts of a small world take many seconds: interrupted after the third */
    interrupt("\"$INDIV\" partition --db @/w.db --parts 2000 --out @/p",
              "ls -A @/p | grep -Eq 'part-([3-9]|[0-9][0-9]+).db.tmp-'", 15);
    cr_assert_eq(tu_sh(&r, "cd '%s' && ls -A p", dir), 0);
    cr_expect_str_eq(r.out, "part-0.db\npart-1.db\n", "SIGTERM left: %s", r.out);
    tu_run_free(&r);
    char *p0 = tu_path(dir, "p/part-0.db"), *b0 = tu_path(dir, "before-0");
    cr_expect(tu_same_file(p0, b0), "an interrupted run replaced part 0");
    interrupt("\"$INDIV\" partition --db @/w.db --parts 2000 --out @/new",
              "ls -A @/new 2>/dev/null | grep -Eq 'part-[1-9][0-9]*.db.tmp-'", 2);
    struct stat st;
    char *fresh = tu_path(dir, "new");
    cr_expect_neq(stat(fresh, &st), 0, "Ctrl-C left the new directory");
    /* the source among the parts: refused, unchanged */
    cr_expect_eq(
        tu_sh(&r, "\"$INDIV\" partition --db '%s' --parts 2 --out '%s/p'", p0, dir), 1);
    cr_expect(strstr(r.err, "would replace it"), "%s", r.err);
    tu_run_free(&r);
    cr_expect(tu_same_file(p0, b0), "partition replaced its own source");
    free(fresh);
    free(p0);
    free(b0);
}

/* SIGTERM while train works on its --scratch snapshot: the snapshot is removed, so the
 * same command runs again (it refuses an existing scratch file); evaluate shares the
 * snapshot code (issue 14 item 18, rerun). */
Test(cli_outputs, a_signal_removes_the_scratch_snapshot) {
    interrupt("\"$INDIV\" train --db @/w.db --out @/m.json --scratch @/t.scratch",
              "[ -e @/t.scratch ]", 15);
    tu_expect_no_entry(dir, "scratch", "SIGTERM (the snapshot)");
    cr_assert_eq(tu_temps_in(dir), 0, "SIGTERM left a temporary file");
}

/* Ctrl-C during generate leaves no database (it is built under a temporary name and
 * linked into place when complete, as import does); the same command then runs (issue
 * 14 item 18, rerun). */
Test(cli_outputs, ctrl_c_during_generate_leaves_no_database) {
    interrupt("\"$INDIV\" generate --db @/g.db --consumers 50000 --offers 500",
              "ls -A @ | grep -q '^g\\.db'", 2);
    tu_expect_no_entry(dir, "^g\\.db", "Ctrl-C");
}

/* decide --out naming its own --model: refused before any work, the model unchanged
 * (it was replaced by the decisions, exit 0; issue 14 item 2, rerun). */
Test(cli_outputs, an_output_naming_an_input_is_refused) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp models/default.json '%s/m.json'", dir), 0);
    tu_run_free(&r);
    cr_expect_eq(
        tu_sh(&r, "\"$INDIV\" decide --db '%s' --out '%s/m.json' --model '%s/m.json'", db,
              dir, dir),
        1);
    cr_expect(strstr(r.err, "would overwrite the input --model"), "%s", r.err);
    tu_run_free(&r);
    char *m = tu_path(dir, "m.json");
    cr_expect(tu_same_file(m, "models/default.json"), "the model was overwritten");
    free(m);
}

/* Outputs written only after the work (evaluate's files, ope --json, generate --like's
 * report, demo's decisions) are checked before it: a missing directory fails at once,
 * before the database is even opened, and generate --like / demo leave no world behind
 * (they did the work, then failed, leaving the world; issue 14 item 17, rerun). */
Test(cli_outputs, late_outputs_in_a_missing_directory_fail_before_the_work) {
    static const char *const cmds[] = {
        "evaluate --db @/none.db --split-at 2024-03-01 --json @/missing/e.json",
        "evaluate --db @/none.db --split-at 2024-03-01 --lists @/missing/l.csv",
        "ope --db @/none.db --decisions @/none.jsonl --window-days 7 "
        "--json @/missing/o.json",
        "generate --like @/w.db --db @/g.db --report @/missing/r.json --consumers 100",
        "demo --db @/demo.db --out @/missing/d.jsonl",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *c = in_dir(cmds[i]);
        tu_run r;
        cr_expect_eq(tu_sh(&r, "\"$INDIV\" %s", c), 1, "%s", cmds[i]);
        cr_expect(strstr(r.err, "cannot create a file there: No such file or directory"),
                  "%s: %s", cmds[i], r.err);
        tu_run_free(&r);
        free(c);
    }
    tu_expect_no_entry(dir, "^(g|demo)\\.db", "a failed run");
}
