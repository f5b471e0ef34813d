/*
 * test_cli_generate.c — end-to-end tests of `indiv generate`: help, usage errors (exit
 * 2), a small world (exit 0, summary, database content), --params, determinism across
 * runs, and a refused rerun into the same database (exit 1, database unchanged).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *dir, *db;

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "world.db");
}

static void teardown(void) {
    free(db);
    tu_rmtree(dir);
}

TestSuite(cli_generate, .init = setup, .fini = teardown);

/* The options of a small world. */
#define SMALL "--consumers 120 --offers 40 --categories 8 --days 60 --seed 11"

Test(cli_generate, help_exits_0_and_lists_every_parameter) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" generate --help"), 0, "%s", r.err);
    static const char *const want[] = {"--db FILE",
                                       "--consumers",
                                       "--offers",
                                       "--categories",
                                       "--days",
                                       "--seed",
                                       "--start",
                                       "--latent-share",
                                       "--p-consent-profiling",
                                       "--p-consent-contact",
                                       "--latent-share 0.3\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "help lacks %s", want[i]);
    tu_run_free(&r);
}

Test(cli_generate, usage_errors_exit_2_and_name_the_option) {
    static const char *const cases[][2] = {
        {SMALL, "--db FILE is required"},
        {"--db x.db --consumers abc", "--consumers: consumers: 'abc' is not an integer"},
        {"--db x.db --latent-share 1.5", "--latent-share: latent_share = 1.5 is out of"},
        {"--db x.db --offers 5 --categories 10", "offers = 5 is less than categories"},
        {"--db x.db --start yesterday", "--start: start_ts: 'yesterday' is not a time"},
        {"--db x.db --bogus 3", "unknown option '--bogus'"},
        {"--db x.db stray", "unexpected argument 'stray'"},
        {"--db", "option '--db' needs a value"},
        {"--like real.db", "--like needs --db FILE"},
        {"--db x.db --like r.db --pilots 99", "--pilots: 99 is out of range"},
        {"--measure r.db --lift-split 1", "--lift-split: '1' is not a number in (0, 1)"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run r;
        /* Relative names: the working directory is the repository root, where nothing
         * may be written; the check below looks at dir for what a bug would write. */
        cr_assert_eq(tu_sh(&r, "\"$INDIV\" generate %s", cases[i][0]), 2, "%s: %s",
                     cases[i][0], r.err);
        cr_assert(strstr(r.err, cases[i][1]), "%s: '%s' lacks '%s'", cases[i][0], r.err,
                  cases[i][1]);
        cr_assert(strstr(r.err, "indiv generate: "), "%s", r.err);
        tu_run_free(&r);
    }
    tu_run r;
    tu_sh(&r, "ls x.db");
    cr_assert_neq(r.status, 0, "a refused command wrote x.db");
    tu_run_free(&r);
}

Test(cli_generate, small_world_exits_0_with_a_summary) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' " SMALL " --latent-share 0.5"
                       " --start 2023-02-01",
                       db),
                 0, "%s", r.err);
    static const char *const want[] = {
        "generated",
        "seed 11",
        "2023-02-01T00:00:00Z to 2023-04-02T00:00:00Z (60 days)",
        "consumers   120",
        "offers      40 in 8 categories",
        "events ",
        "purchase ",
        "latent tastes in",
        "refuse profiling",
        "refuse contact",
        "time "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "summary lacks '%s':\n%s", want[i], r.out);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' \"SELECT count(*) FROM consumers;"
                       " SELECT value FROM meta WHERE key = 'generator';"
                       " SELECT json_extract(value, '$.latent_share') FROM meta"
                       " WHERE key = 'world_params';\"",
                       db),
                 0, "%s", r.err);
    cr_assert_str_eq(r.out, "120\nindiv generate\n0.5\n");
    tu_run_free(&r);
}

Test(cli_generate, params_prints_sorted_json_and_needs_no_db) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" generate --params --consumers 7"), 0, "%s", r.err);
    json_error_t jerr;
    json_t *obj = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(obj, "%s: %s", jerr.text, r.out);
    cr_assert_eq(json_integer_value(json_object_get(obj, "consumers")), 7);
    cr_assert_float_eq(json_real_value(json_object_get(obj, "latent_share")), 0.3, 1e-12);
    cr_assert_lt(strstr(r.out, "\"browse_views_per_week\""),
                 strstr(r.out, "\"consumers\""));
    json_decref(obj);
    tu_run_free(&r);
}

Test(cli_generate, same_options_give_the_same_database_content) {
    tu_run r;
    cr_assert_eq(
        tu_sh(&r,
              "d='%s'; \"$INDIV\" generate --db $d/a.db " SMALL " >/dev/null &&"
              " \"$INDIV\" generate --db $d/b.db " SMALL " >/dev/null &&"
              " sqlite3 $d/a.db .dump > $d/a.sql && sqlite3 $d/b.db .dump > $d/b.sql"
              " && cmp $d/a.sql $d/b.sql && wc -l < $d/a.sql",
              dir),
        0, "%s%s", r.out, r.err);
    cr_assert_gt(atoi(r.out), 1000, "dump of %s lines", r.out);
    tu_run_free(&r);
}

Test(cli_generate, rerun_into_the_same_database_is_refused_and_changes_nothing) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" generate --db '%s' " SMALL, db), 0, "%s", r.err);
    tu_run_free(&r);
    char *copy = tu_path(dir, "before.db");
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", db, copy), 0);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" generate --db '%s' " SMALL " --seed 12", db), 1);
    cr_assert(strstr(r.err, "indiv generate: "), "%s", r.err);
    cr_assert(strstr(r.err, "already holds 120 consumers"), "%s", r.err);
    cr_assert_str_eq(r.out, "");
    tu_run_free(&r);
    cr_assert(tu_same_file(db, copy), "the refused run changed the database");
    free(copy);
}

/* The shipped sample, imported, then a world fitted to it at the sample's size: every
 * statistic of the fit report lies within its stated tolerance (docs/worlds.md, "Worlds
 * like a real log"), checked here from the numbers of the saved report, not only from
 * its "ok" flags; the world has the sample's basket size and is saved with its fitted
 * parameters. */
Test(cli_generate, like_fits_the_shipped_sample_within_tolerance, .timeout = 300) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "d='%s'; \"$INDIV\" import --db $d/real.db --format online-retail"
                       " datasets/online-retail-2010-12_2011-02.csv.gz >/dev/null &&"
                       " \"$INDIV\" generate --like $d/real.db --db $d/like.db"
                       " --report $d/fit.json",
                       dir),
                 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "fit report: "), "%s", r.out);
    tu_run_free(&r);
    char *path = tu_path(dir, "fit.json");
    size_t len;
    char *text = tu_read(path, &len);
    cr_assert_not_null(text);
    json_error_t jerr;
    json_t *rep = json_loads(text, 0, &jerr), *rows = json_object_get(rep, "rows");
    cr_assert(json_is_array(rows), "%s", jerr.text);
    cr_assert_geq(json_array_size(rows), 20);
    size_t i, checked = 0;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *name = json_string_value(json_object_get(row, "statistic"));
        json_t *tol = json_object_get(row, "tolerance");
        if (json_is_null(tol))
            continue; /* scales with the size asked for */
        double real = json_number_value(json_object_get(row, "real"));
        double gen = json_number_value(json_object_get(row, "generated"));
        double allowed =
            json_number_value(tol) *
            (json_is_true(json_object_get(row, "relative")) ? fabs(real) : 1);
        cr_assert_leq(fabs(gen - real), allowed, "%s: real %g, generated %g, allowed %g",
                      name, real, gen, allowed);
        cr_assert(json_is_true(json_object_get(row, "ok")), "%s", name);
        checked++;
    }
    cr_assert_geq(checked, 20);
    json_t *params = json_object_get(rep, "params");
    double single = json_real_value(json_object_get(params, "p_single_line")),
           lines = json_real_value(json_object_get(params, "basket_lines_mean"));
    cr_assert_float_eq(single, 0.078, 0.001, "the sample's share of one-line orders");
    cr_assert_float_eq(single + (1 - single) * lines, 19.95, 0.01);
    cr_assert_float_eq(json_real_value(json_object_get(params, "interval_sigma")), 1.4,
                       0.05);
    cr_assert_gt(json_real_value(json_object_get(params, "taste_locality")), 0);
    json_decref(rep);
    free(text);
    free(path);
}

/* --measure prints the statistics of a log; a log without purchases is refused
 * (exit 1). */
Test(cli_generate, measure_prints_statistics_and_refuses_an_empty_log) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' " SMALL " >/dev/null &&"
                       " \"$INDIV\" generate --measure '%s' --lift-split 0.4",
                       db, db),
                 0, "%s", r.err);
    static const char *const want[] = {"statistics of ", "consumers with purchases",
                                       "orders per consumer (mean)",
                                       "new-category adoption lift", "split at "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "lacks '%s':\n%s", want[i], r.out);
    tu_run_free(&r);
    char *empty = tu_path(dir, "empty.db");
    /* a world whose consumers never buy within its single day */
    cr_assert_eq(
        tu_sh(&r,
              "\"$INDIV\" generate --db '%s' --consumers 3 --offers 4 --categories 2"
              " --days 1 --interval-median-days 36500 --interval-min-days 36500"
              " >/dev/null && \"$INDIV\" generate --measure '%s'",
              empty, empty),
        1, "%s%s", r.out, r.err);
    cr_assert(strstr(r.err, "consumers with purchases; statistics need at least 2"), "%s",
              r.err);
    tu_run_free(&r);
    free(empty);
}
