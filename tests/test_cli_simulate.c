/*
 * test_cli_simulate.c — end-to-end tests of `indiv simulate`: help, usage errors (exit 2,
 * naming the option or parameter, nothing written), a database that is not a generated
 * world (exit 1, saying it needs one), --policy all (comparison.csv with a row per
 * policy, params.json with every parameter and metric, one directory per policy),
 * rounds.csv reproducible to the byte (and another seed changing it), flags and --set
 * reaching the run, and the world file left as it was.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/simulate.h"
#include "testutil.h"

static char *dir, *world;

static void setup(void) {
    tu_dir_db_new("world.db", &dir, &world);
}

static void teardown(void) {
    tu_dir_db_free(dir, world);
}

TestSuite(cli_simulate, .init = setup, .fini = teardown);

/* A small world: 250 consumers, 40 offers in 8 categories, 90 days. */
static void make_world(void) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' --consumers 250 --offers 40"
                       " --categories 8 --days 90 --seed 3 --latent-share 0.5",
                       world),
                 0, "%s", r.err);
    tu_run_free(&r);
}

/* Lines of a text (the last one ends with a newline). */
static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Runs `indiv simulate ARGS` and asserts its exit status; returns the run (caller frees).
 */
static tu_run simulate(int want, const char *args) {
    tu_run r;
    int st = tu_sh(&r, "\"$INDIV\" simulate %s", args);
    cr_assert_eq(st, want, "simulate %s: exit %d, stderr: %s", args, st, r.err);
    return r;
}

Test(cli_simulate, help_exits_0_and_lists_the_options) {
    tu_run r = simulate(0, "--help");
    static const char *const want[] = {
        "--db WORLD",        "--out DIR",   "--rounds R",       "--policy",
        "oracle, or all",    "--seed S",    "--set NAME=VALUE", "p_leave",
        "leakage_per_round", "--threshold", "--serendipity",    "--model FILE"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "help lacks '%s'", want[i]);
    cr_assert_str_eq(r.err, "");
    tu_run_free(&r);
}

Test(cli_simulate, usage_errors_exit_2_name_what_is_wrong_and_write_nothing) {
    make_world();
    char *out = tu_path(dir, "out");
    char args[1024];
    const struct {
        int db, out; /* whether --db / --out are given */
        const char *extra, *want;
    } cases[] = {
        {0, 1, "", "--db WORLD and --out DIR are required"},
        {1, 0, "", "--db WORLD and --out DIR are required"},
        {1, 1, "--set bogus=1", "unknown simulation parameter 'bogus'"},
        {1, 1, "--set p_leave=1.5", "p_leave = '1.5'"},
        {1, 1, "--set p-leave", "--set: 'p-leave' is not NAME=VALUE"},
        {1, 1, "--set =3", "--set: '=3' is not NAME=VALUE"},
        {1, 1, "--policy greedy", "policy 'greedy' is unknown"},
        {1, 1, "--rounds 0", "rounds = '0'"},
        {1, 1, "--threshold high", "threshold = 'high'"},
        {1, 1, "--divergence sideways", "divergence 'sideways'"},
        {1, 1, "--seed -1", "seed '-1' is not an integer"},
        {1, 1, "--bogus", "unknown option '--bogus'"},
        {1, 1, "--rounds", "option '--rounds' needs a value"},
        {1, 1, "stray", "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "%s%s%s%s%s %s", cases[i].db ? "--db '" : "",
                 cases[i].db ? world : "", cases[i].db ? "' " : "",
                 cases[i].out ? "--out " : "", cases[i].out ? out : "", cases[i].extra);
        tu_run r = simulate(2, args);
        cr_assert(strstr(r.err, cases[i].want), "%s: '%s' lacks '%s'", args, r.err,
                  cases[i].want);
        cr_assert(strncmp(r.err, "indiv simulate: ", 16) == 0, "%s: %s", args, r.err);
        tu_run_free(&r);
        tu_run ls;
        cr_assert_neq(tu_sh(&ls, "ls '%s'", out), 0, "%s created %s", args, out);
        tu_run_free(&ls);
    }
    free(out);
}

Test(cli_simulate, a_database_that_is_not_a_generated_world_exits_1) {
    /* An imported log: real events, but no ground truth and no world parameters. */
    char *csv = tu_path(dir, "e.csv"), *db = tu_path(dir, "shop.db");
    char *out = tu_path(dir, "out");
    tu_write(csv, "consumer,offer,type,ts,channel,quantity,value\n"
                  "c1,o1,purchase,2024-03-05T10:00:00Z,web,1,4.5\n"
                  "c2,o1,view,2024-03-05T11:00:00Z,web,,\n");
    char *offers = tu_path(dir, "o.csv");
    tu_write(offers, "offer,category\no1,mugs\n"); /* an event's offer must be known */
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" import --db '%s' --format events --offers '%s' '%s'",
                       db, offers, csv),
                 0, "%s", r.err);
    free(offers);
    tu_run_free(&r);
    char args[1024];
    snprintf(args, sizeof args, "--db '%s' --out '%s' --rounds 2", db, out);
    r = simulate(1, args);
    cr_assert(strstr(r.err, "indiv simulate: "), "%s", r.err);
    cr_assert(strstr(r.err, "not a generated world"), "%s", r.err);
    cr_assert(strstr(r.err, "indiv generate"), "%s", r.err);
    tu_run_free(&r);
    /* Issue 14 item 18: a failed run leaves nothing behind (it created out). */
    cr_assert_neq(tu_sh(&r, "ls -A '%s'", out), 0, "left behind: %s", r.out);
    tu_run_free(&r);
    /* Into an existing directory: what was there stays, nothing new appears. */
    cr_assert_eq(tu_sh(&r, "mkdir '%s' && echo keep > '%s/mine.txt'", out, out), 0);
    tu_run_free(&r);
    r = simulate(1, args);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "ls -A '%s'", out), 0);
    cr_assert_str_eq(r.out, "mine.txt\n", "left behind: %s", r.out);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "rm -r '%s'", out), 0);
    tu_run_free(&r);
    /* A missing world: exit 1 naming it, and nothing created under its name. */
    snprintf(args, sizeof args, "--db '%s/none.db' --out '%s'", dir, out);
    r = simulate(1, args);
    cr_assert(strstr(r.err, "none.db"), "%s", r.err);
    tu_run_free(&r);
    cr_assert_neq(tu_sh(&r, "ls '%s/none.db'", dir), 0, "a missing world was created");
    tu_run_free(&r);
    free(csv);
    free(db);
    free(out);
}

Test(cli_simulate, policy_all_compares_every_policy_and_records_every_parameter) {
    make_world();
    char *out = tu_path(dir, "out"), *copy = tu_path(dir, "copy.db");
    tu_run r;
    cr_assert_eq(tu_sh(&r, "cp '%s' '%s'", world, copy), 0);
    tu_run_free(&r);
    char args[1024];
    snprintf(args, sizeof args, "--db '%s' --out '%s' --policy all --rounds 3 --seed 9",
             world, out);
    r = simulate(0, args);
    cr_assert(strstr(r.out, "totals over 3 rounds (seed 9)"), "%s", r.out);
    tu_run_free(&r);
    cr_assert(tu_same_file(world, copy), "the world file changed");

    /* comparison.csv: a header, then one row per policy in the documented order. */
    char *path = tu_path(out, "comparison.csv");
    char *csv = tu_read(path, NULL);
    cr_assert_not_null(csv, "no %s", path);
    cr_assert_eq(count_lines(csv), 1 + INDIV_SIM_POLICY_COUNT, "%s", csv);
    cr_assert_eq(strncmp(csv, "policy,contacts,", 16), 0, "%s", csv);
    char last[96];
    snprintf(last, sizeof last, ",%s_minus_oracle\n",
             indiv_sim_metric_name(INDIV_SIM_NMETRICS - 1));
    cr_assert(strstr(csv, last), "%s", csv);
    const char *line = strchr(csv, '\n') + 1;
    for (int p = 0; p < INDIV_SIM_POLICY_COUNT; p++) {
        const char *name = indiv_sim_policy_name((indiv_sim_policy)p);
        cr_assert(strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ',',
                  "row %d is not %s: %.40s", p + 1, name, line);
        int fields = 1;
        const char *end = strchr(line, '\n');
        for (const char *c = line; c < end; c++)
            fields += *c == ',';
        cr_assert_eq(fields, 1 + 2 * INDIV_SIM_NMETRICS, "%s", name);
        line = end + 1;
    }
    /* The oracle's row minus itself is all zeros. */
    const char *orow = strstr(csv, "\noracle,") + 1;
    int zeros = 0;
    for (const char *c = orow; *c && *c != '\n'; c++)
        zeros += c[0] == ',' && c[1] == '0' && (c[2] == ',' || c[2] == '\n');
    cr_assert_geq(zeros, INDIV_SIM_NMETRICS, "%s", orow);
    free(csv);
    free(path);

    /* Each policy: rounds.csv (header + 3 rounds), rounds.json, timings.csv, its own
     * work database. */
    for (int p = 0; p < INDIV_SIM_POLICY_COUNT; p++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s/rounds.csv",
                 indiv_sim_policy_name((indiv_sim_policy)p));
        path = tu_path(out, sub);
        csv = tu_read(path, NULL);
        cr_assert_not_null(csv, "no %s", path);
        cr_assert_eq(count_lines(csv), 4, "%s", path);
        cr_assert_eq(strncmp(csv, "round,start,end,contacts,", 25), 0, "%s", csv);
        free(csv);
        free(path);
        static const char *const others[] = {"rounds.json", "timings.csv", "world.db"};
        for (int k = 0; k < 3; k++) {
            snprintf(sub, sizeof sub, "%s/%s", indiv_sim_policy_name((indiv_sim_policy)p),
                     others[k]);
            path = tu_path(out, sub);
            cr_assert_eq(tu_sh(&r, "test -s '%s'", path), 0, "no %s", path);
            tu_run_free(&r);
            free(path);
        }
    }

    /* params.json: the world, the model, every simulation parameter, every metric;
     * reals with a fixed precision, as written by indiv_sim_params_json. */
    path = tu_path(out, "params.json");
    char *text = tu_read(path, NULL);
    cr_assert_not_null(text);
    cr_assert(strstr(text, "\"annoyance_decay\": 0.9,"), "%s", text);
    cr_assert(strstr(text, "\"p_leave\": 0.3,"), "%s", text);
    free(text);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", path, jerr.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "world")), world);
    cr_assert_str_eq(json_string_value(json_object_get(j, "policies")), "all");
    cr_assert_not_null(json_string_value(json_object_get(j, "model")));
    json_t *sim = json_object_get(j, "simulation");
    cr_assert(json_is_object(sim));
    indiv_sim_params def;
    indiv_sim_params_init(&def);
    char *want = indiv_sim_params_json(&def);
    json_t *wj = json_loads(want, 0, &jerr);
    cr_assert_not_null(wj);
    const char *key;
    json_t *v;
    json_object_foreach(wj, key, v)
        cr_assert_not_null(json_object_get(sim, key), "no %s", key);
    cr_assert_eq(json_object_size(sim), json_object_size(wj));
    cr_assert_eq(json_integer_value(json_object_get(sim, "seed")), 9);
    cr_assert_eq(json_integer_value(json_object_get(sim, "rounds")), 3);
    json_t *metrics = json_object_get(j, "metrics");
    cr_assert_eq(json_object_size(metrics), INDIV_SIM_NMETRICS);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        cr_assert_str_eq(
            json_string_value(json_object_get(metrics, indiv_sim_metric_name(m))),
            indiv_sim_metric_doc(m));
    json_decref(wj);
    free(want);
    json_decref(j);
    free(path);
    free(copy);
    free(out);
}

Test(cli_simulate, rounds_csv_is_reproducible_to_the_byte_and_the_seed_matters) {
    make_world();
    char *a = tu_path(dir, "a"), *b = tu_path(dir, "b"), *c = tu_path(dir, "c");
    char *const outs[3] = {a, b, c};
    static const int seeds[3] = {5, 5, 6};
    for (int i = 0; i < 3; i++) {
        char args[1024];
        snprintf(args, sizeof args,
                 "--db '%s' --out '%s' --rounds 3 --seed %d --serendipity 0.5"
                 " --set p-leave=0.5",
                 world, outs[i], seeds[i]);
        tu_run r = simulate(0, args);
        tu_run_free(&r);
    }
    char *ra = tu_path(a, "indiv/rounds.csv"), *rb = tu_path(b, "indiv/rounds.csv");
    char *rc = tu_path(c, "indiv/rounds.csv");
    cr_assert(tu_same_file(ra, rb), "same seed, different rounds.csv");
    cr_assert(!tu_same_file(ra, rc), "another seed, same rounds.csv");
    char *ja = tu_path(a, "indiv/rounds.json"), *jb = tu_path(b, "indiv/rounds.json");
    cr_assert(tu_same_file(ja, jb), "same seed, different rounds.json");
    char *pa = tu_path(a, "params.json"), *pb = tu_path(b, "params.json");
    json_t *j = json_load_file(pa, 0, NULL);
    cr_assert_not_null(j);
    json_t *sim = json_object_get(j, "simulation");
    /* Flags and --set reached the run and its record. */
    cr_assert_float_eq(json_number_value(json_object_get(sim, "p_leave")), 0.5, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(sim, "serendipity")), 0.5,
                       1e-12);
    cr_assert_str_eq(json_string_value(json_object_get(j, "policies")), "one");
    json_decref(j);
    /* Only the chosen policy ran. */
    tu_run r;
    cr_assert_neq(tu_sh(&r, "ls '%s/mass'", a), 0, "mass ran too");
    tu_run_free(&r);
    char *all[] = {ra, rb, rc, ja, jb, pa, pb, a, b, c};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* With a model trained in the loop and no threshold, simulate says where τ comes from;
 * --threshold silences it, and rounds.csv holds the τ of each round. */
Test(cli_simulate, trained_model_threshold_is_said_and_recorded) {
    make_world();
    char args[1024];
    snprintf(args, sizeof args,
             "--db '%s' --out '%s/t' --rounds 1 --model trained --set train_dims=4"
             " --set train_iterations=3",
             world, dir);
    tu_run r = simulate(0, args);
    cr_assert(strstr(r.err, "indiv simulate: threshold: each round, the recommended "
                            "threshold of the model trained in the loop"),
              "%s", r.err);
    tu_run_free(&r);
    char *csv = tu_path(dir, "t/indiv/rounds.csv");
    size_t n = 0;
    char *text = tu_read(csv, &n);
    cr_assert_not_null(text);
    cr_assert(strstr(text, ",model_version,threshold\n"), "%.200s", text);
    free(text);
    free(csv);
    snprintf(args, sizeof args,
             "--db '%s' --out '%s/u' --rounds 1 --model trained --threshold 0.2"
             " --set train_dims=4 --set train_iterations=3",
             world, dir);
    r = simulate(0, args);
    cr_assert_null(strstr(r.err, "threshold:"), "%s", r.err);
    tu_run_free(&r);
}
