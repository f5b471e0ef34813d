/*
 * test_cli_sweep.c — end-to-end tests of `indiv sweep` on a tiny generated world (200
 * consumers, 3 rounds, a 2 × 2 grid, 2 seeds): help, usage errors (exit 2, naming the
 * option or parameter, nothing written), --dry-run, a real sweep (files, summary,
 * figures, world untouched), a rerun that runs nothing, a refused different sweep, the
 * same files whatever --jobs, and a resume after deleting results.csv and cutting the
 * partial file mid-line that gives byte-identical files.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "indiv/experiment.h"
#include "testutil.h"

static char *dir, *world;

static void setup(void) {
    tu_dir_db_new("world.db", &dir, &world);
}

static void teardown(void) {
    tu_dir_db_free(dir, world);
}

TestSuite(cli_sweep, .init = setup, .fini = teardown);

static void make_world(void) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' --consumers 200 --offers 40"
                       " --categories 8 --days 90 --seed 5 --latent-share 0.5",
                       world),
                 0, "%s", r.err);
    tu_run_free(&r);
}

/* The tiny sweep: 2 × 2 grid, 2 seeds, 3 rounds, into dir/NAME. */
#define TINY "--grid threshold=0.1,0.3 --grid serendipity=0:0.2:0.2 --seeds 2 --rounds 3"

static tu_run sweep(int want, const char *name, const char *more) {
    tu_run r;
    int st = tu_sh(&r, "\"$INDIV\" sweep --db '%s' --out '%s/%s' " TINY " %s", world, dir,
                   name, more);
    cr_assert_eq(st, want, "sweep %s %s: exit %d, stderr: %s", name, more, st, r.err);
    return r;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static char *file_in(const char *sub, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    return strdup(path);
}

static void assert_same(const char *a, const char *b, const char *name) {
    char *pa = file_in(a, name), *pb = file_in(b, name);
    cr_assert(tu_same_file(pa, pb), "%s differs between %s and %s", name, a, b);
    free(pa);
    free(pb);
}

Test(cli_sweep, help_exits_0_and_lists_the_options) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" sweep --help"), 0, "%s", r.err);
    static const char *const want[] = {
        "--db WORLD",   "--out DIR",        "--grid SPEC",    "--seeds N",
        "--seed BASE",  "--rounds R",       "--round-days D", "--policy NAME",
        "--model FILE", "--set NAME=VALUE", "--jobs J",       "--shard I/N",
        "--dry-run",    "--no-figures"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "help lacks %s", want[i]);
    cr_assert_str_eq(r.err, "");
    tu_run_free(&r);
}

Test(cli_sweep, usage_errors_exit_2_name_the_option_and_write_nothing) {
    static const char *const cases[][2] = {
        {"", "--db WORLD and --out DIR are required"},
        {"--grid threshold=0:1", "--grid: grid 'threshold=0:1': a range is lo:hi:step"},
        {"--grid bogus=1,2",
         "grid axis 'bogus', value '1': unknown simulation parameter"},
        {"--grid threshold=0,1.5",
         "value '1.5': threshold = '1.5' is not a number in [0, 1]"},
        {"--grid seed=1,2", "seeds are not a grid axis"},
        {"--seeds 0", "--seeds: 0 is out of range"},
        {"--jobs 0", "--jobs: 0 is out of range"},
        {"--set p_leave", "--set: 'p_leave' is not NAME=VALUE"},
        {"--set seed=4", "--set: seeds are --seeds N and --seed BASE"},
        {"--set p_leave=2", "--set: p_leave = '2' is not a number in [0, 1]"},
        {"--policy nope", "--policy: policy 'nope' is unknown"},
        {"--rounds 0", "--rounds: rounds = '0' is not an integer number"},
        {"--shard 2/2", "--shard: '2/2' is not I/N"},
        {"--bogus", "unknown option '--bogus'"},
        {"stray", "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run r;
        char args[512] = "";
        if (i > 0)
            snprintf(args, sizeof args, "--db '%s/w.db' --out '%s/out'", dir, dir);
        cr_assert_eq(tu_sh(&r, "\"$INDIV\" sweep %s %s", args, cases[i][0]), 2, "%s: %s",
                     cases[i][0], r.err);
        cr_assert(strstr(r.err, "indiv sweep: ") && strstr(r.err, cases[i][1]),
                  "%s: '%s' lacks '%s'", cases[i][0], r.err, cases[i][1]);
        tu_run_free(&r);
    }
    char *out = tu_path(dir, "out");
    cr_assert_neq(access(out, F_OK), 0, "a refused command created %s", out);
    free(out);
}

Test(cli_sweep, dry_run_lists_the_cells_in_order_and_runs_nothing) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" sweep --grid threshold=0:0.1:0.05 "
                           "--grid serendipity=0,0.2 --seeds 3 --seed 10 --rounds 4 "
                           "--dry-run"),
                 0, "%s", r.err);
    cr_assert_str_eq(r.out, "sweep: 6 cells × 3 seeds (10..12), 4 rounds of 7 days each\n"
                            "  cell  threshold  serendipity\n     0  0          0\n"
                            "     1  0          0.2\n     2  0.05       0\n"
                            "     3  0.05       0.2\n     4  0.1        0\n"
                            "     5  0.1        0.2\n18 jobs\n");
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" sweep --grid threshold=0:0.1:0.05 --seeds 2 "
                           "--shard 1/2 --dry-run"),
                 0, "%s", r.err);
    cr_assert(strstr(r.out, "     1  0.05\n2 jobs in this shard\n"), "%s", r.out);
    tu_run_free(&r);
}

Test(cli_sweep, tiny_sweep_writes_every_file_and_a_rerun_runs_nothing) {
    make_world();
    char *copy = tu_path(dir, "world-before.db");
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", world, copy), 0);
    tu_run_free(&r);
    r = sweep(0, "s", "--jobs 2");
    cr_assert(strstr(r.out, "4 cells × 2 seeds = 8 jobs; 8 run now, 0 done before"), "%s",
              r.out);
    cr_assert(strstr(r.out, "     3  0.3        0.2  "), "the table has every cell:\n%s",
              r.out);
    cr_assert_str_eq(r.err, "", "no progress line when stderr is not a terminal");
    tu_run_free(&r);
    char *res = file_in("s", "results.csv"), *sum = file_in("s", "summary.csv");
    char *rt = tu_read(res, NULL), *st = tu_read(sum, NULL);
    cr_assert_eq(count_lines(rt), 9, "%s", rt);
    cr_assert(strstr(rt, "\n3,2,0.3,0.2,"), "last row: cell 3, seed 2:\n%s", rt);
    cr_assert_eq(count_lines(st), 1 + 4 * (int)indiv_sweep_columns());
    cr_assert(strstr(st, "\n2,0.3,0,revenue,2,"), "%s", st);
    cr_assert(tu_same_file(world, copy), "the world is never changed");
    /* figures: drawn when gnuplot is installed (make deps installs it) */
    int have_gnuplot = tu_sh(&r, "command -v gnuplot") == 0;
    tu_run_free(&r);
    char *png = file_in("s", "figures/heat_revenue.png");
    char *svg = file_in("s", "figures/frontier_revenue_irrelevant.svg");
    if (have_gnuplot) {
        char *p = tu_read(png, NULL), *v = tu_read(svg, NULL);
        cr_assert(p && memcmp(p, "\x89PNG", 4) == 0, "heat_revenue.png is a PNG");
        cr_assert(v && strstr(v, "<svg"), "frontier svg");
        free(p);
        free(v);
    }
    /* the same command again: every job is done, the files are rewritten identically */
    r = sweep(0, "s", "--jobs 2");
    cr_assert(strstr(r.out, "0 run now, 8 done before"), "%s", r.out);
    tu_run_free(&r);
    char *rt2 = tu_read(res, NULL), *st2 = tu_read(sum, NULL);
    cr_assert_str_eq(rt2, rt);
    cr_assert_str_eq(st2, st);
    /* another sweep into the same directory is refused */
    r = sweep(1, "s", "--seed 7");
    cr_assert(strstr(r.err, "this directory holds another sweep: its base seed (--seed) "
                            "differs"),
              "%s", r.err);
    tu_run_free(&r);
    free(copy);
    free(res);
    free(sum);
    free(rt);
    free(st);
    free(rt2);
    free(st2);
    free(png);
    free(svg);
}

Test(cli_sweep, files_do_not_depend_on_jobs_and_a_resume_gives_the_same_bytes) {
    make_world();
    tu_run r = sweep(0, "one", "--jobs 1 --no-figures");
    tu_run_free(&r);
    r = sweep(0, "two", "--jobs 2 --no-figures");
    tu_run_free(&r);
    assert_same("one", "two", "results.csv");
    assert_same("one", "two", "summary.csv");
    /* interrupt "two" after the fact: no final files, and the partial file keeps its
     * header, 3 jobs and half of a fourth line */
    char *pp = file_in("two", "results.partial.csv");
    char *text = tu_read(pp, NULL);
    const char *p = text;
    for (int k = 0; k < 4; k++)
        p = strchr(p, '\n') + 1;
    size_t keep = (size_t)(p - text) + (strchr(p, '\n') - p) / 2;
    cr_assert_eq(truncate(pp, (off_t)keep), 0);
    cr_assert_eq(tu_sh(&r, "rm '%s/two/results.csv' '%s/two/summary.csv'", dir, dir), 0);
    tu_run_free(&r);
    r = sweep(0, "two", "--jobs 2 --no-figures");
    cr_assert(strstr(r.out, "5 run now, 3 done before"), "%s", r.out);
    tu_run_free(&r);
    assert_same("one", "two", "results.csv");
    assert_same("one", "two", "summary.csv");
    assert_same("one", "two", "figures/cells.dat");
    free(text);
    free(pp);
}

Test(cli_sweep, a_missing_world_fails_with_exit_1_and_creates_nothing) {
    tu_run r = sweep(1, "s", "");
    cr_assert(strstr(r.err, "indiv sweep: ") &&
                  strstr(r.err, "world.db: cannot read the world database"),
              "%s", r.err);
    tu_run_free(&r);
    char *out = tu_path(dir, "s");
    cr_assert_neq(access(out, F_OK), 0);
    free(out);
}
