/*
 * test_fileio.c — the one output writer: complete files or nothing, the old content
 * kept on failure, no temporary file left, symbolic links followed (not replaced),
 * devices and FIFOs written through (never replaced), directories refused; the output
 * path checks (the database, its journal, two outputs naming one file); the temporary
 * files a signal handler removes.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "indiv/fileio.h"
#include "testutil.h"

static char *dir;

static void setup(void) {
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(fileio, .init = setup, .fini = teardown);

static int put_hello(FILE *f, void *ctx, indiv_error *err) {
    (void)ctx;
    (void)err;
    return fputs("hello\n", f) < 0 ? INDIV_EIO : INDIV_OK;
}

static int put_then_fail(FILE *f, void *ctx, indiv_error *err) {
    (void)ctx;
    fputs("half", f);
    return indiv_error_set(err, INDIV_EFORMAT, "stopped on purpose");
}

Test(fileio, regular_file_replaced_complete_and_no_temp_left) {
    char *p = tu_path(dir, "out.txt");
    tu_write(p, "old\n");
    indiv_error err = {0};
    cr_assert_eq(indiv_file_write_atomic(p, put_hello, NULL, &err), 0, "%s", err.msg);
    char *text = tu_read(p, NULL);
    cr_assert_str_eq(text, "hello\n");
    cr_assert_eq(tu_temps_in(dir), 0);
    free(text);
    free(p);
}

Test(fileio, failure_keeps_the_old_content_and_removes_the_temp) {
    char *p = tu_path(dir, "out.txt"), *q = tu_path(dir, "new.txt");
    tu_write(p, "old\n");
    indiv_error err = {0};
    cr_assert_eq(indiv_file_write_atomic(p, put_then_fail, NULL, &err), INDIV_EFORMAT);
    cr_assert_str_eq(err.msg, "stopped on purpose");
    char *text = tu_read(p, NULL);
    cr_assert_str_eq(text, "old\n");
    cr_assert_eq(indiv_file_write_atomic(q, put_then_fail, NULL, NULL), INDIV_EFORMAT);
    cr_assert_null(tu_read(q, NULL), "a failed output must not appear");
    cr_assert_eq(tu_temps_in(dir), 0);
    free(text);
    free(p);
    free(q);
}

Test(fileio, positive_status_discards_and_passes_through) {
    char *p = tu_path(dir, "out.txt");
    indiv_outfile *o;
    cr_assert_eq(indiv_outfile_open(p, &o, NULL), 0);
    fputs("x", indiv_outfile_stream(o));
    cr_assert_eq(indiv_outfile_finish(o, 7, NULL), 7);
    cr_assert_null(tu_read(p, NULL));
    cr_assert_eq(indiv_outfile_finish(NULL, 3, NULL), 3);
    free(p);
}

Test(fileio, symlink_is_followed_not_replaced) {
    char *target = tu_path(dir, "real.txt"), *link = tu_path(dir, "link.txt");
    char *dangling = tu_path(dir, "dangling.txt"), *later = tu_path(dir, "later.txt");
    tu_write(target, "old\n");
    cr_assert_eq(symlink("real.txt", link), 0);
    cr_assert_eq(symlink("later.txt", dangling), 0);
    cr_assert_eq(indiv_file_write_atomic(link, put_hello, NULL, NULL), 0);
    cr_assert_eq(indiv_file_write_atomic(dangling, put_hello, NULL, NULL), 0);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link was replaced by a file");
    cr_assert_eq(lstat(dangling, &st), 0);
    cr_assert(S_ISLNK(st.st_mode));
    char *a = tu_read(target, NULL), *b = tu_read(later, NULL);
    cr_assert_str_eq(a, "hello\n");
    cr_assert_str_eq(b, "hello\n");
    free(a);
    free(b);
    free(target);
    free(link);
    free(dangling);
    free(later);
}

Test(fileio, dev_null_is_written_through) {
    indiv_error err = {0};
    cr_assert_eq(indiv_file_write_atomic("/dev/null", put_hello, NULL, &err), 0, "%s",
                 err.msg);
    struct stat st;
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_assert(S_ISCHR(st.st_mode), "/dev/null is no longer a device");
    cr_assert_eq(tu_temps_in("/dev"), 0);
}

Test(fileio, fifo_is_written_through) {
    char *p = tu_path(dir, "pipe");
    cr_assert_eq(mkfifo(p, 0600), 0);
    int rd = open(p, O_RDONLY | O_NONBLOCK); /* a reader, so the writer's open returns */
    cr_assert_geq(rd, 0);
    cr_assert_eq(indiv_file_write_atomic(p, put_hello, NULL, NULL), 0);
    char buf[16] = {0};
    cr_assert_eq(read(rd, buf, sizeof buf - 1), 6);
    cr_assert_str_eq(buf, "hello\n");
    close(rd);
    struct stat st;
    cr_assert_eq(lstat(p, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode), "the FIFO was replaced by a file");
    cr_assert_eq(tu_temps_in(dir), 0);
    free(p);
}

Test(fileio, directory_and_missing_parent_refused_with_reason) {
    indiv_error err = {0};
    cr_assert_eq(indiv_file_write_atomic(dir, put_hello, NULL, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, "is a directory"), "%s", err.msg);
    char *p = tu_path(dir, "no/such/file");
    indiv_error_clear(&err);
    cr_assert_eq(indiv_file_write_atomic(p, put_hello, NULL, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, "No such file or directory"), "%s", err.msg);
    cr_assert(strstr(err.msg, p), "%s", err.msg);
    free(p);
}

Test(fileio, existing_mode_is_kept) {
    char *p = tu_path(dir, "out.txt");
    tu_write(p, "old\n");
    cr_assert_eq(chmod(p, 0640), 0);
    cr_assert_eq(indiv_file_write_atomic(p, put_hello, NULL, NULL), 0);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640);
    free(p);
}

Test(fileio, remove_temps_removes_unfinished_outputs_only) {
    char *p = tu_path(dir, "a.txt"), *q = tu_path(dir, "b.txt");
    indiv_outfile *a, *b;
    cr_assert_eq(indiv_outfile_open(p, &a, NULL), 0);
    cr_assert_eq(indiv_outfile_open(q, &b, NULL), 0);
    cr_assert_eq(tu_temps_in(dir), 2);
    cr_assert_eq(indiv_outfile_finish(b, 0, NULL), 0);
    indiv_fileio_remove_temps();
    cr_assert_eq(tu_temps_in(dir), 0);
    indiv_outfile_finish(a, INDIV_EIO, NULL);
    char *text = tu_read(q, NULL);
    cr_assert_not_null(text, "a finished output must survive");
    free(text);
    free(p);
    free(q);
}

/* Two outputs of one run (decisions and summary) are committed together: when the
 * second cannot be written, the first keeps its old content too (issue 14 item 16). */
Test(fileio, a_pair_is_committed_both_or_neither) {
    char *p = tu_path(dir, "d.jsonl"), *q = tu_path(dir, "s.json");
    tu_write(p, "old d\n");
    tu_write(q, "old s\n");
    indiv_outfile *o[2];
    cr_assert_eq(indiv_outfile_open(p, &o[0], NULL), 0);
    cr_assert_eq(indiv_outfile_open("/dev/full", &o[1], NULL), 0); /* ENOSPC on flush */
    fputs("new d\n", indiv_outfile_stream(o[0]));
    fputs("new s\n", indiv_outfile_stream(o[1]));
    indiv_error err = {0};
    cr_assert_eq(indiv_outfile_finish_all(o, 2, 0, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, "/dev/full"), "%s", err.msg);
    char *text = tu_read(p, NULL);
    cr_assert_str_eq(text, "old d\n", "the first file was replaced alone");
    free(text);
    /* Both writable: both replaced; a failed run (rc != 0): neither. */
    for (int fail = 1; fail >= 0; fail--) {
        cr_assert_eq(indiv_outfile_open(p, &o[0], NULL), 0);
        cr_assert_eq(indiv_outfile_open(q, &o[1], NULL), 0);
        fputs("new d\n", indiv_outfile_stream(o[0]));
        fputs("new s\n", indiv_outfile_stream(o[1]));
        cr_assert_eq(indiv_outfile_finish_all(o, 2, fail ? INDIV_EFORMAT : 0, NULL),
                     fail ? INDIV_EFORMAT : 0);
        char *a = tu_read(p, NULL), *b = tu_read(q, NULL);
        cr_assert_str_eq(a, fail ? "old d\n" : "new d\n");
        cr_assert_str_eq(b, fail ? "old s\n" : "new s\n");
        free(a);
        free(b);
    }
    cr_assert_eq(tu_temps_in(dir), 0);
    free(p);
    free(q);
}

/* Tracked outputs (a command's new directory and its files) are removed by the signal
 * cleanup, files before directories, deepest first; untracked ones stay. */
Test(fileio, tracked_outputs_are_removed_files_then_directories) {
    char *top = tu_path(dir, "out"), *sub = tu_path(top, "indiv");
    char *f = tu_path(sub, "rounds.csv"), *db = tu_path(sub, "world.db");
    char *wal = tu_path(sub, "world.db-wal"), *kept = tu_path(dir, "kept.txt");
    int h[5];
    h[0] = indiv_fileio_track(top); /* registered before its contents, as commands do */
    cr_assert_eq(mkdir(top, 0777), 0);
    h[1] = indiv_fileio_track(sub);
    cr_assert_eq(mkdir(sub, 0777), 0);
    h[2] = indiv_fileio_track(f);
    h[3] = indiv_fileio_track(db);
    h[4] = indiv_fileio_track(kept);
    tu_write(f, "round\n");
    tu_write(db, "x");
    tu_write(wal, "x");
    tu_write(kept, "x");
    for (int i = 0; i < 5; i++)
        cr_assert_geq(h[i], 0);
    indiv_fileio_untrack(h[4]); /* complete: no longer removed */
    indiv_fileio_remove_temps();
    struct stat st;
    cr_assert_neq(stat(top, &st), 0, "the tracked directory tree is still there");
    cr_assert_eq(stat(kept, &st), 0, "an untracked file was removed");
    for (int i = 0; i < 4; i++)
        indiv_fileio_untrack(h[i]);
    indiv_fileio_untrack(-1);
    free(top);
    free(sub);
    free(f);
    free(db);
    free(wal);
    free(kept);
}

Test(fileio, outputs_that_name_the_database_are_refused) {
    char *db = tu_path(dir, "w.db"), *journal = tu_path(dir, "w.db-journal");
    tu_write(db, "data");
    char *other = tu_path(dir, "./w.db");
    static const char *const names[] = {"--out", "--summary"};
    const char *outs[] = {other, NULL};
    indiv_error err = {0};
    cr_assert_eq(indiv_path_check_outputs(db, outs, names, 2, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "--out") && strstr(err.msg, "database"), "%s", err.msg);
    outs[0] = journal;
    indiv_error_clear(&err);
    cr_assert_eq(indiv_path_check_outputs(db, outs, names, 2, &err), INDIV_EINVAL);
    char *text = tu_read(db, NULL);
    cr_assert_str_eq(text, "data");
    free(text);
    free(db);
    free(journal);
    free(other);
}

Test(fileio, two_outputs_naming_one_file_are_refused) {
    char *a = tu_path(dir, "x.json"), *b = tu_path(dir, "sub/../x.json");
    char *sub = tu_path(dir, "sub");
    cr_assert_eq(mkdir(sub, 0700), 0);
    static const char *const names[] = {"--out", "--summary"};
    const char *outs[] = {a, b};
    indiv_error err = {0};
    cr_assert_eq(indiv_path_check_outputs(NULL, outs, names, 2, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "--out") && strstr(err.msg, "--summary"), "%s", err.msg);
    const char *devs[] = {"/dev/null", "/dev/null"};
    cr_assert_eq(indiv_path_check_outputs(NULL, devs, names, 2, NULL), 0);
    const char *fine[] = {a, sub};
    indiv_error_clear(&err);
    cr_assert_eq(indiv_path_check_outputs(NULL, fine, names, 2, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "is a directory"), "%s", err.msg);
    free(a);
    free(b);
    free(sub);
}

/* Two outputs written through to one stream interleave their data: `decide --out -
 * --summary -` gave a stdout of JSON lines with the pretty-printed summary in the middle
 * of them (85 lines no JSON reader could parse). Refused like two outputs naming one
 * file; /dev/null twice stays fine. */
Test(fileio, two_outputs_written_through_to_one_stream_are_refused) {
    static const char *const names[] = {"--out", "--summary"};
    static const char *const same[][2] = {{"-", "-"},
                                          {"-", "/dev/stdout"},
                                          {"/dev/fd/1", "-"},
                                          {"/dev/stderr", "/dev/fd/2"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        indiv_error err = {0};
        cr_expect_eq(indiv_path_check_outputs(NULL, same[i], names, 2, &err),
                     INDIV_EINVAL, "%s and %s", same[i][0], same[i][1]);
        cr_expect(strstr(err.msg, "--out") && strstr(err.msg, "--summary") &&
                      strstr(err.msg, "same stream"),
                  "%s", err.msg);
        indiv_error_clear(&err);
    }
    char *fifo = tu_path(dir, "f.pipe");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *pipes[] = {fifo, fifo};
    cr_expect_eq(indiv_path_check_outputs(NULL, pipes, names, 2, NULL), INDIV_EINVAL);
    const char *fine[][2] = {{"/dev/null", "/dev/null"}, {"-", NULL}};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        cr_expect_eq(indiv_path_check_outputs(NULL, fine[i], names, 2, NULL), 0, "%s",
                     fine[i][0]);
    free(fifo);
}

Test(fileio, dir_make_reports_creation_and_refuses_a_file) {
    char *d = tu_path(dir, "made"), *f = tu_path(dir, "file");
    int created = -1;
    cr_assert_eq(indiv_dir_make(d, &created, NULL), 0);
    cr_assert_eq(created, 1);
    cr_assert_eq(indiv_dir_make(d, &created, NULL), 0);
    cr_assert_eq(created, 0);
    tu_write(f, "x");
    indiv_error err = {0};
    cr_assert_eq(indiv_dir_make(f, NULL, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, "not a directory"), "%s", err.msg);
    free(d);
    free(f);
}

/* The registry has no fixed size: a thorough study tracks one world per settings and
 * seed (hundreds), indiv partition a temporary part per rank (up to 100,000). Every one
 * of them is removed, and each handle untracks its own path (issue 14, leftovers). */
Test(fileio, a_thousand_tracked_paths_are_all_removed) {
    enum { N = 1000 };
    char *top = tu_path(dir, "many");
    int htop = indiv_fileio_track(top), h[N];
    cr_assert_geq(htop, 0);
    cr_assert_eq(mkdir(top, 0777), 0);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "world-%d.db", i);
        char *p = tu_path(top, name);
        h[i] = indiv_fileio_track(p);
        cr_assert_geq(h[i], 0, "path %d was not tracked", i);
        tu_write(p, "x");
        free(p);
    }
    indiv_fileio_untrack(h[N - 1]); /* the last one is complete: it must stay */
    char *last = tu_path(top, "world-999.db");
    indiv_fileio_remove_temps();
    struct stat st;
    cr_assert_eq(stat(last, &st), 0, "an untracked path was removed");
    for (int i = 0; i < N - 1; i += 97) {
        snprintf(name, sizeof name, "world-%d.db", i);
        char *p = tu_path(top, name);
        cr_assert_neq(stat(p, &st), 0, "%s survived", p);
        free(p);
    }
    unlink(last);
    indiv_fileio_remove_temps(); /* now empty: the directory goes too */
    cr_assert_neq(stat(top, &st), 0, "the tracked directory is still there");
    free(last);
    free(top);
}

/* An output that is one of the command's input files (decide --out m.json --model
 * m.json replaced the model with decisions, exit 0) is refused, naming both; a symbolic
 * link to the input is the input; /dev/null as both is fine (issue 14 item 2, rerun). */
Test(fileio, outputs_that_name_an_input_are_refused) {
    char *model = tu_path(dir, "m.json"), *link = tu_path(dir, "link.json");
    char *out = tu_path(dir, "d.jsonl");
    tu_write(model, "{}");
    cr_assert_eq(symlink("m.json", link), 0);
    static const char *const names[] = {"--out", "--summary"};
    static const char *const in_names[] = {"--model", "--config"};
    const char *outs[] = {out, link}, *ins[] = {NULL, model};
    indiv_error err = {0};
    cr_assert_eq(indiv_path_check_io(NULL, outs, names, 2, ins, in_names, 2, &err),
                 INDIV_EINVAL);
    char want[1024];
    snprintf(want, sizeof want,
             "--summary %s would overwrite the input --config %s: give another path",
             link, model);
    cr_expect_str_eq(err.msg, want);
    ins[1] = NULL; /* no input: the same outputs are fine */
    cr_expect_eq(indiv_path_check_io(NULL, outs, names, 2, ins, in_names, 2, NULL), 0);
    const char *devnull[] = {"/dev/null", NULL}, *devin[] = {"/dev/null", NULL};
    cr_expect_eq(indiv_path_check_io(NULL, devnull, names, 2, devin, in_names, 2, NULL),
                 0, "/dev/null is written through, never replaced");
    char *text = tu_read(model, NULL);
    cr_expect_str_eq(text, "{}");
    free(text);
    free(model);
    free(link);
    free(out);
}

/* An output written at the end of a long run (evaluate --json, generate --like's
 * report) is checked first: a missing or unwritable directory fails with the system's
 * reason, a directory is refused, /dev/null passes; nothing is created. */
Test(fileio, creatable_fails_early_with_the_reason) {
    char *missing = tu_path(dir, "no/such/e.json"), *fine = tu_path(dir, "e.json");
    indiv_error err = {0};
    cr_assert_eq(indiv_path_check_creatable(missing, &err), INDIV_EIO);
    cr_expect(strstr(err.msg, "cannot create a file there: No such file or directory"),
              "%s", err.msg);
    cr_expect_eq(indiv_path_check_creatable(fine, NULL), 0);
    cr_expect_eq(indiv_path_check_creatable(dir, NULL), INDIV_EIO);
    cr_expect_eq(indiv_path_check_creatable("/dev/null", NULL), 0);
    cr_expect_eq(indiv_path_check_creatable(NULL, NULL), 0);
    struct stat st;
    cr_expect_neq(stat(fine, &st), 0, "the check created the file");
    free(missing);
    free(fine);
}
