/*
 * test_mpi.c — end-to-end tests of indiv-mpi (src/mpi/, docs/scale.md) under
 * `mpirun --oversubscribe -np N`: decisions byte-identical to one-process `indiv decide`
 * whatever the ranks (3 and 1), on one database or on its partitions (indiv partition);
 * a failing rank fails the whole job with its message and leaves no output; a sweep
 * interrupted under MPI finishes without it (and the reverse) with the one-process
 * files; a quick study's claims equal the one-process study's; simulate --policy all
 * writes the files of one process (timings aside); a failing sweep job stops the
 * other ranks' jobs and the sweep resumes under MPI; decide records the model used and
 * warns about one trained on people erased since; on one node the shared-memory
 * layer is selected unless the user chose one. Suite partition (no MPI needed): a
 * partition made after an erasure holds nobody erased and carries the marks.
 *
 * Skipped, with a message, when make check found no MPI (INDIV_MPI_BIN unset). Open MPI
 * refuses root unless told: the two OMPI_ALLOW_RUN_AS_ROOT variables are set here, in
 * the test harness only. Open MPI keeps memory until exit by design, so LeakSanitizer
 * runs with tests/lsan-mpi.supp (and the slow unwinder, which can walk through Open
 * MPI's frames) in the one-rank decide test, and is off in the others, which check
 * behaviour; ASan's other checks stay on everywhere.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;

#define WORLD "--consumers 200 --offers 50 --categories 8 --days 120"

#define MPIRUN                                                                           \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "                         \
    "OMPI_MCA_mca_base_component_disable_dlclose=1 ASAN_OPTIONS=detect_leaks=0 "         \
    "mpirun --oversubscribe -np "
#define MPIRUN_LEAKS                                                                     \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "                         \
    "OMPI_MCA_mca_base_component_disable_dlclose=1 "                                     \
    "ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 "                               \
    "LSAN_OPTIONS=suppressions=tests/lsan-mpi.supp:print_suppressions=0 "                \
    "mpirun --oversubscribe -np "

static void setup(void) {
    if (!getenv("INDIV_MPI_BIN") || !*getenv("INDIV_MPI_BIN"))
        cr_skip_test("indiv-mpi not built (no MPI found by make): MPI tests skipped; "
                     "make deps installs Open MPI");
    dir = tu_tmpdir();
}

static void teardown(void) {
    if (dir)
        tu_rmtree(dir);
    dir = NULL;
}

TestSuite(mpi, .init = setup, .fini = teardown);

/* Runs a shell command (printf-style), asserting exit 0. */
#define SH_OK(...)                                                                       \
    do {                                                                                 \
        tu_run r_;                                                                       \
        int st_ = tu_sh(&r_, __VA_ARGS__);                                               \
        cr_assert_eq(st_, 0, "exit %d: %s", st_, r_.err);                                \
        tu_run_free(&r_);                                                                \
    } while (0)

static void make_world(void) {
    SH_OK("\"$INDIV\" generate --db '%s/w.db' " WORLD " >/dev/null && "
          "\"$INDIV\" profile --db '%s/w.db' >/dev/null",
          dir, dir);
}

static int same(const char *a, const char *b) {
    char *pa = tu_path(dir, a), *pb = tu_path(dir, b);
    int eq = tu_same_file(pa, pb);
    free(pa);
    free(pb);
    return eq;
}

/* The summary without its timings (the one part that cannot be reproduced). */
static json_t *summary_sans_seconds(const char *name) {
    char *p = tu_path(dir, name);
    json_t *j = json_load_file(p, 0, NULL);
    cr_assert_not_null(j, "%s", p);
    free(p);
    cr_assert_not_null(json_object_get(j, "seconds"));
    json_object_del(j, "seconds");
    return j;
}

Test(mpi, decide_equals_one_process_whatever_the_ranks) {
    make_world();
    SH_OK("\"$INDIV\" decide --db '%s/w.db' --out '%s/d.jsonl' --summary '%s/s.json' "
          "--serendipity 0.3 2>/dev/null",
          dir, dir, dir);
    SH_OK(MPIRUN "3 \"$INDIV_MPI_BIN\" decide --db '%s/w.db' --out '%s/d3.jsonl' "
                 "--summary '%s/s3.json' --serendipity 0.3",
          dir, dir, dir);
    SH_OK(MPIRUN_LEAKS "1 \"$INDIV_MPI_BIN\" decide --db '%s/w.db' --out '%s/d1.jsonl' "
                       "--summary '%s/s1.json' --serendipity 0.3",
          dir, dir, dir);
    cr_assert(same("d.jsonl", "d3.jsonl"), "3 ranks: decisions differ from indiv decide");
    cr_assert(same("d.jsonl", "d1.jsonl"), "1 rank: decisions differ from indiv decide");
    char *p = tu_path(dir, "d.jsonl"), *text = tu_read(p, NULL);
    /* not trivial: contacts, and divergent offers (the adjacent aim's counts) */
    cr_assert(text && strstr(text, "\"contact\"") &&
              strstr(text, "\"kind\":\"divergent\""));
    free(text);
    free(p);
    json_t *s = summary_sans_seconds("s.json"), *s3 = summary_sans_seconds("s3.json"),
           *s1 = summary_sans_seconds("s1.json");
    cr_assert(json_equal(s, s3), "3 ranks: the summary differs beyond its timings");
    cr_assert(json_equal(s, s1), "1 rank: the summary differs beyond its timings");
    json_decref(s), json_decref(s3), json_decref(s1);
}

/* Parts hold every consumer once, the whole catalogue, and decide to the same bytes. */
Test(mpi, partitioned_decide_equals_the_whole_database) {
    make_world();
    SH_OK("\"$INDIV\" partition --db '%s/w.db' --parts 3 --out '%s/parts' 2>/dev/null",
          dir, dir);
    int64_t total = 0;
    for (int r = 0; r < 3; r++) {
        char name[64], tag[16];
        snprintf(name, sizeof name, "parts/part-%d.db", r);
        char *p = tu_path(dir, name);
        indiv_eventlog *log = NULL;
        indiv_eventlog_stats st;
        cr_assert_eq(indiv_eventlog_open(p, INDIV_EVENTLOG_READONLY, &log, NULL), 0, "%s",
                     p);
        cr_assert_eq(indiv_eventlog_stats_get(log, &st, NULL), 0);
        cr_assert_eq(indiv_eventlog_meta_get(log, "partition", tag, sizeof tag, NULL), 0);
        char want[16];
        snprintf(want, sizeof want, "%d/3", r);
        cr_assert_str_eq(tag, want);
        cr_assert_eq(st.offers, 50, "part %d: %lld offers", r, (long long)st.offers);
        cr_assert(st.consumers > 30 && st.consumers < 120, "part %d: %lld consumers", r,
                  (long long)st.consumers);
        total += st.consumers;
        indiv_eventlog_close(log);
        free(p);
    }
    cr_assert_eq(total, 200);
    SH_OK("\"$INDIV\" decide --db '%s/w.db' --out '%s/d.jsonl' 2>/dev/null", dir, dir);
    SH_OK(MPIRUN "3 \"$INDIV_MPI_BIN\" decide --db '%s/parts/part-%%d.db' "
                 "--out '%s/dp.jsonl'",
          dir, dir);
    cr_assert(same("d.jsonl", "dp.jsonl"), "partitioned decisions differ");
    /* as many ranks as parts, or a refusal that says so */
    tu_run r;
    int st = tu_sh(&r,
                   MPIRUN "2 \"$INDIV_MPI_BIN\" decide --db '%s/parts/part-%%d.db' "
                          "--out '%s/d2.jsonl'",
                   dir, dir);
    cr_assert_neq(st, 0);
    cr_assert(strstr(r.err, "--parts 2"), "%s", r.err);
    tu_run_free(&r);
    char *d2 = tu_path(dir, "d2.jsonl");
    cr_assert_eq(access(d2, F_OK), -1, "a failed run left %s", d2);
    free(d2);
    /* profile too: 2 ranks on 3 parts would leave part 2 without profiles */
    st = tu_sh(&r, MPIRUN "2 \"$INDIV_MPI_BIN\" profile --db '%s/parts/part-%%d.db'", dir);
    cr_assert_neq(st, 0);
    cr_assert(strstr(r.err, "--parts 2"), "%s", r.err);
    tu_run_free(&r);
}

/* Rank 2's part is not a database: the job fails with rank 2's message, the existing
 * output is untouched, and no part file is left behind. */
Test(mpi, a_failing_rank_fails_the_job_and_leaves_no_output) {
    make_world();
    SH_OK("\"$INDIV\" partition --db '%s/w.db' --parts 3 --out '%s/parts' 2>/dev/null",
          dir, dir);
    char *bad = tu_path(dir, "parts/part-2.db"), *out = tu_path(dir, "d.jsonl");
    tu_write(bad, "not a database\n");
    tu_write(out, "old\n");
    tu_run r;
    int st = tu_sh(&r,
                   "TMPDIR='%s' " MPIRUN "3 \"$INDIV_MPI_BIN\" decide --db "
                   "'%s/parts/part-%%d.db' --out '%s'",
                   dir, dir, out);
    cr_assert_neq(st, 0);
    cr_assert(strstr(r.err, "rank 2: ") && strstr(r.err, "part-2.db"), "%s", r.err);
    tu_run_free(&r);
    char *text = tu_read(out, NULL);
    cr_assert_str_eq(text, "old\n");
    free(text);
    SH_OK("! ls '%s' | grep -q indiv-mpi", dir); /* the ranks' parts are removed */
    free(bad);
    free(out);
}

#define SWEEP "--grid threshold=0.2,0.5 --seeds 2 --rounds 2 --no-figures"

/* Half a sweep under MPI, the rest without (and the reverse): the files of one process.
 */
Test(mpi, sweep_resumes_with_or_without_mpi_to_the_one_process_files) {
    make_world();
    SH_OK("\"$INDIV\" sweep --db '%s/w.db' --out '%s/one' " SWEEP " >/dev/null 2>&1", dir,
          dir);
    SH_OK(MPIRUN "3 \"$INDIV_MPI_BIN\" sweep --db '%s/w.db' --out '%s/a' " SWEEP
                 " --shard 0/2 >/dev/null && "
                 "\"$INDIV\" sweep --db '%s/w.db' --out '%s/a' " SWEEP " >/dev/null 2>&1",
          dir, dir, dir, dir);
    SH_OK("\"$INDIV\" sweep --db '%s/w.db' --out '%s/b' " SWEEP
          " --shard 1/2 >/dev/null 2>&1 && " MPIRUN "2 \"$INDIV_MPI_BIN\" sweep --db "
          "'%s/w.db' --out '%s/b' " SWEEP " >/dev/null",
          dir, dir, dir, dir);
    const char *files[] = {"results.csv", "summary.csv", "sweep.json"};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++) {
            char x[64], y[64];
            snprintf(x, sizeof x, "one/%s", files[i]);
            snprintf(y, sizeof y, "%s/%s", k ? "b" : "a", files[i]);
            cr_assert(same(x, y), "%s differs from the one-process run", y);
        }
}

#define SWEEP6 "--grid threshold=0:0.5:0.1 --seeds 1 --rounds 3 --no-figures"

/* A job that fails on some rank stops the jobs running on the others (rank 0 tells them
 * after their next round): the sweep fails naming the job, keeps the jobs finished
 * before, and, the cause removed, resumes under MPI to the one-process files. Cell 1's
 * work database is blocked by a non-empty directory of its name. */
Test(mpi, a_failing_sweep_job_stops_the_ranks_and_the_sweep_resumes) {
    make_world();
    SH_OK("\"$INDIV\" sweep --db '%s/w.db' --out '%s/one' " SWEEP6 " >/dev/null 2>&1",
          dir, dir);
    SH_OK("\"$INDIV\" sweep --db '%s/w.db' --out '%s/m' " SWEEP6
          " --shard 0/2 >/dev/null 2>&1 && mkdir '%s/m/work/cell-1-seed-0.db' && "
          "touch '%s/m/work/cell-1-seed-0.db/x'",
          dir, dir, dir, dir);
    tu_run r;
    int st = tu_sh(&r,
                   MPIRUN "3 \"$INDIV_MPI_BIN\" sweep --db '%s/w.db' --out '%s/m' " SWEEP6
                          " >/dev/null",
                   dir, dir);
    cr_assert_neq(st, 0);
    cr_assert(strstr(r.err, "cell 1 (threshold=0.1)"), "%s", r.err);
    tu_run_free(&r);
    char *partial = tu_path(dir, "m/results.partial.csv");
    char *text = tu_read(partial, NULL);
    for (const char *c = "024"; *c; c++) { /* shard 0/2's cells stay done */
        char row[8] = {'\n', *c, ',', '1', ',', 0};
        cr_assert(strstr(text, row), "cell %c missing from %s", *c, text);
    }
    cr_assert_null(strstr(text, "\n1,1,"), "the failed job has a row: %s", text);
    free(text);
    free(partial);
    SH_OK("rm -r '%s/m/work/cell-1-seed-0.db' && " MPIRUN "3 \"$INDIV_MPI_BIN\" sweep "
          "--db '%s/w.db' --out '%s/m' " SWEEP6 " >/dev/null",
          dir, dir, dir);
    cr_assert(same("one/results.csv", "m/results.csv"));
    cr_assert(same("one/summary.csv", "m/summary.csv"));
}

#define STUDY                                                                            \
    "--quick --claims threshold --consumers 60 --rounds 1 --seeds 2 --no-real "          \
    "--no-figures --repeats 1"

Test(mpi, quick_study_claims_equal_one_process) {
    SH_OK("\"$INDIV\" study --out '%s/one' " STUDY " >/dev/null 2>&1", dir);
    SH_OK(MPIRUN "3 \"$INDIV_MPI_BIN\" study --out '%s/three' " STUDY " >/dev/null", dir);
    json_t *a = tu_json_member(dir, "one/results.json", "claims"),
           *b = tu_json_member(dir, "three/results.json", "claims");
    cr_assert_eq(json_array_size(a), 1);
    cr_assert(json_equal(a, b), "results.json claims differ between indiv and 3 ranks");
    json_decref(a);
    json_decref(b);
}

/* simulate --policy all, a policy per rank: every file but the timings is the same. */
Test(mpi, simulate_all_policies_equal_one_process) {
    make_world();
    SH_OK("\"$INDIV\" simulate --db '%s/w.db' --out '%s/one' --rounds 2 --policy all "
          ">/dev/null 2>&1",
          dir, dir);
    SH_OK(MPIRUN "3 \"$INDIV_MPI_BIN\" simulate --db '%s/w.db' --out '%s/three' "
                 "--rounds 2 --policy all >/dev/null",
          dir, dir);
    SH_OK("cd '%s' && test -s one/comparison.csv && diff -r -q -x timings.csv one three",
          dir);
    SH_OK("cd '%s' && test $(ls three/*/rounds.csv | wc -l) -ge 6", dir);
}

/* Profiles built part by part under MPI, with the population's prior added up in
 * consumer order, decide to the bytes of the whole database profiled in one process. */
Test(mpi, profiles_of_partitions_decide_as_the_whole_database) {
    SH_OK("D='%s' && \"$INDIV\" generate --db \"$D/raw.db\" " WORLD " >/dev/null 2>&1 && "
          "cp \"$D/raw.db\" \"$D/w.db\" && \"$INDIV\" profile --db \"$D/w.db\" "
          ">/dev/null 2>&1 && \"$INDIV\" decide --db \"$D/w.db\" --out \"$D/d.jsonl\" "
          ">/dev/null 2>&1 && \"$INDIV\" partition --db \"$D/raw.db\" --parts 3 "
          "--out \"$D/parts\" 2>/dev/null",
          dir);
    tu_run r;
    int st = tu_sh(&r,
                   "D='%s' && " MPIRUN "3 \"$INDIV_MPI_BIN\" profile --db "
                   "\"$D/parts/part-%%d.db\" && " MPIRUN "3 \"$INDIV_MPI_BIN\" decide "
                   "--db \"$D/parts/part-%%d.db\" --out \"$D/dp.jsonl\"",
                   dir);
    cr_assert_eq(st, 0, "%s", r.err);
    cr_assert(strstr(r.out, "rhythm prior of all of them"), "%s", r.out);
    tu_run_free(&r);
    cr_assert(same("d.jsonl", "dp.jsonl"), "decisions on MPI-profiled parts differ");
    /* one database has one writer: refused, saying what to run instead */
    st = tu_sh(&r, MPIRUN "2 \"$INDIV_MPI_BIN\" profile --db '%s/w.db'", dir);
    cr_assert_neq(st, 0);
    cr_assert(strstr(r.err, "indiv profile"), "%s", r.err);
    tu_run_free(&r);
}

/* ---- the models registry and erasures (docs/rights.md) ----------------------------- */

/* The consumer with the most events among those profiled, in dir/db. */
static char *busiest(const char *db) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s/%s' \"SELECT c.ext_id FROM consumers c JOIN events e"
                       " ON e.consumer_id = c.id WHERE c.id IN (SELECT consumer_id FROM"
                       " profiles) GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1\"",
                       dir, db),
                 0, "%s", r.err);
    char *id = strndup(r.out, strcspn(r.out, "\n"));
    tu_run_free(&r);
    cr_assert(*id);
    return id;
}

/* Runs in dir, with absolute paths to the binaries. */
#define IN_DIR "INDIV=\"$(realpath \"$INDIV\")\" && cd '%s' && "
#define MPI_IN_DIR                                                                       \
    "M=\"$(realpath \"$INDIV_MPI_BIN\")\" && INDIV=\"$(realpath \"$INDIV\")\" && cd "    \
    "'%s' && "

#define TRAIN                                                                            \
    "\"$INDIV\" train --db w.db --out m.json --dims 8 --iterations 3 "                   \
    "2>/dev/null && \"$INDIV\" profile --db w.db --model m.json >/dev/null 2>&1"

/* indiv-mpi decide keeps the registry as indiv decide does: the model used is recorded
 * in each part (or in the one database), and a model trained on someone erased since
 * (in any part) is warned about. */
Test(mpi, decide_records_the_model_and_warns_after_an_erasure) {
    make_world();
    SH_OK(IN_DIR TRAIN
          " && \"$INDIV\" partition --db w.db --parts 3 --out parts 2>/dev/null",
          dir);
    tu_run r;
#define DECIDE3                                                                          \
    MPI_IN_DIR MPIRUN "3 \"$M\" decide --db "                                            \
                      "'parts/part-%%d.db' --model m.json --out d.jsonl >/dev/null"
    cr_assert_eq(tu_sh(&r, DECIDE3, dir), 0, "%s", r.err);
    cr_assert_null(strstr(r.err, "erased since"), "%s", r.err);
    tu_run_free(&r);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(tu_sh(&r, "\"$INDIV\" info --db '%s/parts/part-%d.db'", dir, k), 0);
        cr_assert(strstr(r.out, "model m (key ") &&
                      strstr(r.out, "used by 1 decision run"),
                  "part %d: %s", k, r.out);
        tu_run_free(&r);
    }
    /* erased in the part that holds them (indiv forget refuses the others) */
    char *id = busiest("w.db");
    SH_OK(IN_DIR "n=0 && for p in parts/part-*.db; do \"$INDIV\" forget --db \"$p\" "
                 "'%s' >/dev/null 2>&1 && n=$((n + 1)); done; test $n = 1",
          dir, id);
    free(id);
    cr_assert_eq(tu_sh(&r, DECIDE3, dir), 0, "%s", r.err);
    cr_assert(strstr(r.err, "warning: model m (m.json) was trained on data that included "
                            "at least 1 person erased since"),
              "%s", r.err);
    tu_run_free(&r);
    /* one database: rank 0 records the use */
    SH_OK(MPI_IN_DIR MPIRUN "2 \"$M\" decide --db w.db "
                            "--model m.json --out d1.jsonl >/dev/null 2>&1",
          dir);
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" info --db '%s/w.db'", dir), 0);
    cr_assert(strstr(r.out, "used by 1 decision run"), "%s", r.out);
    tu_run_free(&r);
}

/* ---- indiv partition after an erasure (needs no MPI) ------------------------------- */

static char *pdir;

static void psetup(void) {
    pdir = tu_tmpdir();
}

static void pteardown(void) {
    tu_rmtree(pdir);
    pdir = NULL;
}

TestSuite(partition, .init = psetup, .fini = pteardown);

/* A person erased from the source is in no part, not even as bytes of the files; the
 * parts carry the erasure's record, so the model trained before it is marked in every
 * part (indiv info says so, and indiv decide on a part warns). */
Test(partition, copies_nobody_erased_and_carries_the_marks) {
    dir = pdir;
    make_world();
    SH_OK(IN_DIR TRAIN, dir);
    char *id = busiest("w.db");
    SH_OK(IN_DIR "\"$INDIV\" forget --db w.db '%s' >/dev/null && \"$INDIV\" partition "
                 "--db w.db --parts 3 --out parts 2>/dev/null",
          dir, id);
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "cd '%s' && for p in w.db parts/part-0.db parts/part-1.db "
                       "parts/part-2.db; do sqlite3 \"$p\" \"SELECT count(*) FROM "
                       "consumers; SELECT count(*) FROM consumers WHERE ext_id = '%s'; "
                       "SELECT count(*) FROM erasures\" | tr '\\n' ' '; echo; done",
                       dir, id),
                 0, "%s", r.err);
    long all, hit, erasures, sum = 0;
    char *line = r.out;
    cr_assert_eq(sscanf(line, "%ld %ld %ld", &all, &hit, &erasures), 3, "%s", r.out);
    cr_assert_eq(hit, 0);
    cr_assert_eq(erasures, 1);
    for (int k = 0; k < 3; k++) {
        long n, h, e;
        line = strchr(line, '\n') + 1;
        cr_assert_eq(sscanf(line, "%ld %ld %ld", &n, &h, &e), 3, "%s", r.out);
        cr_assert_eq(h, 0, "part %d holds the erased person", k);
        cr_assert_eq(e, 1, "part %d lacks the erasure's record", k);
        sum += n;
    }
    cr_assert_eq(sum, all, "%s", r.out);
    tu_run_free(&r);
    SH_OK("cd '%s' && ! grep -l -a -F '%s' parts/part-*.db", dir, id);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(tu_sh(&r, "\"$INDIV\" info --db '%s/parts/part-%d.db'", dir, k), 0);
        cr_assert(strstr(r.out, "ERASURE PENDING: may still hold the data of 1 person"),
                  "part %d: %s", k, r.out);
        tu_run_free(&r);
    }
    cr_assert_eq(tu_sh(&r,
                       IN_DIR "\"$INDIV\" decide --db parts/part-1.db --model m.json "
                              "--out d.jsonl >/dev/null",
                       dir),
                 0, "%s", r.err);
    cr_assert(strstr(r.err, "included 1 person erased since"), "%s", r.err);
    tu_run_free(&r);
    free(id);
}

/* --out naming another rank's part (rank 0 opens only its own) is refused before any
 * work, the part unchanged: it was replaced by the decisions, exit 0 (issue 14 item 2,
 * rerun on indiv-mpi). */
Test(mpi, an_output_naming_any_rank_s_part_is_refused) {
    make_world();
    SH_OK("\"$INDIV\" partition --db '%s/w.db' --parts 2 --out '%s/parts' >/dev/null",
          dir, dir);
    SH_OK("cp '%s/parts/part-1.db' '%s/before-1.db'", dir, dir);
    tu_run r;
    int st = tu_sh(&r,
                   MPIRUN "2 \"$INDIV_MPI_BIN\" decide --db '%s/parts/part-%%d.db' "
                          "--out '%s/parts/part-1.db'",
                   dir, dir);
    cr_expect_neq(st, 0);
    cr_expect(strstr(r.err, "would overwrite the database"), "%s", r.err);
    tu_run_free(&r);
    cr_expect(same("parts/part-1.db", "before-1.db"), "rank 1's part was overwritten");
}

/* Every rank on this node: indiv-mpi selects Open MPI's ob1 layer (shared memory), so
 * Open MPI neither loads its cm layer nor probes the network libraries behind it; an
 * OMPI_MCA_pml of the user's, even empty, is left to Open MPI, which then loads cm. */
Test(mpi, one_node_selects_the_shared_memory_layer_unless_told_otherwise) {
    tu_run r;
    int st = tu_sh(&r, "OMPI_MCA_pml_base_verbose=10 " MPIRUN
                       "2 \"$INDIV_MPI_BIN\" --help >/dev/null");
    cr_assert_eq(st, 0, "%s", r.err);
    cr_expect(strstr(r.err, "component ob1 selected"), "%s", r.err);
    cr_expect_null(strstr(r.err, "component cm"), "%s", r.err);
    tu_run_free(&r);
    st = tu_sh(&r, "OMPI_MCA_pml= OMPI_MCA_pml_base_verbose=10 " MPIRUN
                   "1 \"$INDIV_MPI_BIN\" --help >/dev/null");
    cr_assert_eq(st, 0, "%s", r.err);
    cr_expect(strstr(r.err, "found loaded component cm"), "%s", r.err);
    tu_run_free(&r);
}
