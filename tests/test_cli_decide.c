/*
 * test_cli_decide.c — end-to-end tests of `indiv decide` on small generated worlds:
 * help; usage errors (exit 2) and failures (exit 1) that name what is wrong and leave no
 * output file (an existing one untouched, nothing else written); byte-identical output
 * whatever the threads and block size, and divergent picks that change with the seed;
 * shards that together equal the unsharded run; the config file (keys override
 * defaults, flags override keys, unknown keys refused) and the summary that records the
 * parameters used; ride-along against standalone; ε = 0; consent as stored in the
 * database.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/model.h"
#include "testutil.h"

static char *dir, *db, *out;

/* A world of 300 consumers with profiles (about 1 s under ASan). */
#define WORLD "--consumers 300 --offers 60 --categories 8 --days 120"

static void setup(void) {
    dir = tu_tmpdir();
    db = tu_path(dir, "w.db");
    out = tu_path(dir, "d.jsonl");
}

static void teardown(void) {
    free(out);
    free(db);
    tu_rmtree(dir);
}

TestSuite(cli_decide, .init = setup, .fini = teardown);

static void make_world(const char *extra) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' " WORLD " %s >/dev/null && "
                       "\"$INDIV\" profile --db '%s' >/dev/null",
                       db, extra, db),
                 0, "%s", r.err);
    tu_run_free(&r);
}

/* Runs decide with the given options (after --db and --out); returns the exit code. */
static int decide(tu_run *r, const char *path, const char *opts) {
    return tu_sh(r, "\"$INDIV\" decide --db '%s' --out '%s' %s", db, path, opts);
}

static void decide_ok(const char *path, const char *opts) {
    tu_run r;
    cr_assert_eq(decide(&r, path, opts), 0, "%s: %s", opts, r.err);
    tu_run_free(&r);
}

static json_t *read_lines(const char *path) {
    char *text = tu_read(path, NULL);
    cr_assert_not_null(text, "%s is missing", path);
    json_t *a = json_array();
    char *line = text;
    for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        json_error_t je;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        cr_assert_not_null(o, "%s: %s", je.text, line);
        json_array_append_new(a, o);
    }
    cr_assert_eq(*line, '\0', "the last line is not terminated");
    free(text);
    return a;
}

static json_t *read_json(const char *path) {
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    cr_assert_not_null(o, "%s: %s", path, je.text);
    return o;
}

static const char *str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    cr_assert_not_null(s, "field %s is missing", key);
    return s;
}

static int n_kind(const json_t *line, const char *kind) {
    int n = 0;
    size_t i;
    json_t *of;
    json_array_foreach(json_object_get(line, "offers"), i, of) n +=
        !strcmp(str(of, "kind"), kind);
    return n;
}

/* Number of files in dir besides the world, the output and the inputs tests write
 * (m.json, cfg.json). */
static int other_files(void) {
    tu_run r;
    tu_sh(&r, "ls -A '%s' | grep -v -x -e w.db -e d.jsonl -e m.json -e cfg.json | wc -l",
          dir);
    int n = atoi(r.out);
    tu_run_free(&r);
    return n;
}

Test(cli_decide, help_exits_0_and_lists_the_options) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --help"), 0, "%s", r.err);
    static const char *const want[] = {
        "--db FILE",    "--out FILE",     "--model",     "--summary",
        "--config",     "--as-of",        "--threshold", "--slots",
        "--rank-by",    "--serendipity",  "--bubble",    "--floor",
        "--divergence", "--max-contacts", "--per-days",  "--min-readiness",
        "--seed",       "--threads",      "--shard"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "help lacks %s", want[i]);
    tu_run_free(&r);
}

/* ---- refusals ---------------------------------------------------------------------- */

typedef struct refusal {
    const char *opts;   /* after --db and --out, or the whole line when no_db_out */
    const char *config; /* written to cfg.json first when not NULL */
    const char *says;   /* must appear on stderr */
} refusal;

static void check_refusals(const refusal *cases, size_t n, int code) {
    char *cfg = tu_path(dir, "cfg.json");
    for (size_t i = 0; i < n; i++) {
        tu_write(out, "previous run\n");
        if (cases[i].config)
            tu_write(cfg, cases[i].config);
        tu_run r;
        int st = decide(&r, out, cases[i].opts);
        cr_assert_eq(st, code, "%s: exit %d, want %d (%s)", cases[i].opts, st, code,
                     r.err);
        cr_assert(strstr(r.err, cases[i].says), "%s: '%s' lacks '%s'", cases[i].opts,
                  r.err, cases[i].says);
        cr_assert(strstr(r.err, "indiv decide: "), "%s", r.err);
        cr_assert_str_eq(r.out, "", "%s: printed on stdout", cases[i].opts);
        char *text = tu_read(out, NULL);
        cr_assert_str_eq(text, "previous run\n", "%s: the output was touched",
                         cases[i].opts);
        free(text);
        if (cases[i].config)
            remove(cfg);
        cr_assert_eq(other_files(), 0, "%s: something else was written", cases[i].opts);
        tu_run_free(&r);
    }
    free(cfg);
}

Test(cli_decide, usage_errors_exit_2_name_the_option_and_write_nothing) {
    make_world("--seed 3");
    char cfgopt[600];
    snprintf(cfgopt, sizeof cfgopt, "--config '%s/cfg.json'", dir);
    const refusal cases[] = {
        {"--threshold 1.5", NULL, "--threshold"},
        {"--threshold abc", NULL, "--threshold"},
        {"--slots 0", NULL, "--slots"},
        {"--slots 17", NULL, "--slots"},
        {"--rank-by margin", NULL, "--rank-by: 'margin'"},
        {"--serendipity 2", NULL, "--serendipity"},
        {"--bubble -0.1", NULL, "--bubble"},
        {"--floor x", NULL, "--floor"},
        {"--divergence sideways", NULL, "--divergence: 'sideways'"},
        {"--max-contacts -1", NULL, "--max-contacts"},
        {"--per-days -3", NULL, "--per-days"},
        {"--min-readiness 1.01", NULL, "--min-readiness"},
        {"--seed -1", NULL, "--seed"},
        {"--threads 0", NULL, "--threads"},
        {"--threads 65", NULL, "--threads"},
        {"--block 0", NULL, "--block"},
        {"--shard 3/3", NULL, "--shard: '3/3'"},
        {"--shard 1/0", NULL, "--shard: '1/0'"},
        {"--shard 1/3x", NULL, "--shard: '1/3x'"},
        {"--as-of yesterday", NULL, "--as-of"},
        {"--bogus 3", NULL, "bogus"},
        {"--set threshold=1.5", NULL, "--set threshold: 1.5 is out of range"},
        {"--set rank_by=margin", NULL, "--set rank-by: 'margin'"},
        {"--set treshold=0.2", NULL, "--set: unknown policy parameter 'treshold'"},
        {"--set threshold", NULL, "--set: 'threshold' is not NAME=VALUE"},
        {"--set =0.2", NULL, "--set: '=0.2' is not NAME=VALUE"},
        {"--set seed=3", NULL, "--set: unknown policy parameter 'seed'"},
        {"stray", NULL, "unexpected argument 'stray'"},
        {cfgopt, "{\"treshold\": 0.4}", "unknown key 'treshold'"},
        {cfgopt, "{\"threshold\": 0.4,", "--config"},
        {cfgopt, "[1, 2]", "not a JSON object"},
        {cfgopt, "{\"slots\": true}", "'slots' must be a number or a string"},
        {cfgopt, "{\"threshold\": 7}", "--threshold"},
        {cfgopt, "{\"divergence\": \"sideways\"}", "--divergence"},
        {cfgopt, "{\"help\": 1}", "unknown key 'help'"},
    };
    check_refusals(cases, sizeof cases / sizeof cases[0], 2);
    /* Without --db or --out there is nothing to decide. */
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s'", db), 2);
    cr_assert(strstr(r.err, "--db FILE and --out FILE are required"), "%s", r.err);
    tu_run_free(&r);
}

Test(cli_decide, failures_exit_1_name_the_cause_and_write_nothing) {
    make_world("--seed 3");
    char *bad_model = tu_path(dir, "m.json");
    tu_write(bad_model, "{\"format\": \"indiv-model\", \"version\": 9}");
    char opts[5][1200];
    snprintf(opts[0], sizeof opts[0], "--model '%s/absent.json'", dir);
    snprintf(opts[1], sizeof opts[1], "--model '%s'", bad_model);
    snprintf(opts[2], sizeof opts[2], "--as-of 2024-01-02");
    snprintf(opts[3], sizeof opts[3], "--summary '%s/no/such/dir/s.json'", dir);
    snprintf(opts[4], sizeof opts[4], "--serendipity 0.5 --summary '%s'", dir);
    const refusal cases[] = {
        {opts[0], NULL, "absent.json"},
        {opts[1], NULL, "'version'"},
        {opts[2], NULL, "rebuild profiles"},
        {opts[3], NULL, "s.json"},
        {opts[4], NULL, dir},
    };
    check_refusals(cases, sizeof cases / sizeof cases[0], 1);
    remove(bad_model);
    free(bad_model);
    /* A missing database, and an output in a missing directory. */
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s/absent.db' --out '%s'", dir, out),
                 1);
    cr_assert(strstr(r.err, "absent.db"), "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s' --out '%s/no/d.jsonl'", db, dir),
                 1);
    cr_assert(strstr(r.err, "/no/d.jsonl"), "%s", r.err);
    tu_run_free(&r);
}

/* ---- determinism and shards -------------------------------------------------------- */

Test(cli_decide, same_seed_gives_identical_bytes_whatever_threads_and_blocks) {
    make_world("--seed 4");
    static const char *const runs[] = {"--threads 1", "--threads 2",
                                       "--threads 2 --block 7", "--threads 1 --block 1",
                                       "--threads 3 --block 100"};
    char *first = tu_path(dir, "first.jsonl");
    /* τ 0.3 rather than the model's: more contacts, so more divergent offers to compare */
    decide_ok(first, "--seed 42 --serendipity 0.5 --threads 1 --threshold 0.3");
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char opts[128];
        snprintf(opts, sizeof opts, "--seed 42 --serendipity 0.5 --threshold 0.3 %s",
                 runs[i]);
        decide_ok(out, opts);
        cr_assert(tu_same_file(first, out), "%s differs from --threads 1", runs[i]);
    }
    json_t *lines = read_lines(first);
    cr_assert_eq(json_array_size(lines), 300);
    int divergent = 0;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) divergent += n_kind(l, "divergent");
    cr_assert_gt(divergent, 10, "the world must have divergent offers to compare");
    json_decref(lines);
    free(first);
}

Test(cli_decide, another_seed_changes_divergent_picks) {
    make_world("--seed 4");
    char *other = tu_path(dir, "other.jsonl");
    decide_ok(out, "--seed 42 --serendipity 1");
    decide_ok(other, "--seed 43 --serendipity 1");
    json_t *a = read_lines(out), *b = read_lines(other);
    cr_assert_eq(json_array_size(a), json_array_size(b));
    int changed = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
        cr_assert_str_eq(str(x, "consumer"), str(y, "consumer"));
        json_t *xo = json_object_get(x, "offers"), *yo = json_object_get(y, "offers");
        size_t n = json_array_size(xo);
        if (n && n == json_array_size(yo))
            changed += strcmp(str(json_array_get(xo, n - 1), "offer"),
                              str(json_array_get(yo, n - 1), "offer")) != 0;
    }
    cr_assert_gt(changed, 0, "seeds 42 and 43 made the same divergent picks");
    cr_assert(!tu_same_file(out, other));
    json_decref(a);
    json_decref(b);
    free(other);
}

Test(cli_decide, three_shards_together_equal_the_unsharded_run) {
    make_world("--seed 5");
    decide_ok(out, "--serendipity 0.4 --seed 9");
    for (int s = 0; s < 3; s++) {
        char path[600], opts[64];
        snprintf(path, sizeof path, "%s/s%d.jsonl", dir, s);
        snprintf(opts, sizeof opts, "--serendipity 0.4 --seed 9 --shard %d/3", s);
        decide_ok(path, opts);
        json_t *part = read_lines(path);
        cr_assert_gt(json_array_size(part), 40, "shard %d/3 has %zu lines", s,
                     json_array_size(part));
        json_decref(part);
    }
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "cd '%s' && cat s0.jsonl s1.jsonl s2.jsonl | LC_ALL=C sort > a && "
                       "LC_ALL=C sort d.jsonl > b && cmp a b && wc -l < a",
                       dir),
                 0, "the shards differ from the whole run: %s%s", r.out, r.err);
    cr_assert_eq(atoi(r.out), 300);
    tu_run_free(&r);
}

/* ---- config and summary ------------------------------------------------------------ */

Test(cli_decide, config_overrides_defaults_and_flags_override_config) {
    make_world("--seed 6");
    char *cfg = tu_path(dir, "policy.json"), *sum = tu_path(dir, "summary.json");
    /* with a UTF-8 byte order mark, as Windows Notepad saves it: ignored */
    tu_write(cfg, "\xef\xbb\xbf{\"threshold\": 0.4, \"slots\": 2, \"serendipity\": 0.2, "
                  "\"divergence\": \"standalone\", \"seed\": 123456789012345678, "
                  "\"rank-by\": \"value\", \"per-days\": 7, \"threads\": 1}");
    char opts[1400];
    snprintf(opts, sizeof opts, "--config '%s' --slots 4 --summary '%s' --threads 2", cfg,
             sum);
    decide_ok(out, opts);
    json_t *s = read_json(sum);
    json_t *p = json_object_get(s, "parameters");
    cr_assert_float_eq(json_number_value(json_object_get(p, "threshold")), 0.4, 1e-12);
    cr_assert_str_eq(str(p, "threshold_source"), "config");
    cr_assert_eq(json_integer_value(json_object_get(p, "slots")), 4, "the flag wins");
    cr_assert_eq(json_integer_value(json_object_get(p, "threads")), 2, "the flag wins");
    cr_assert_float_eq(json_number_value(json_object_get(p, "serendipity")), 0.2, 1e-12);
    cr_assert_str_eq(str(p, "divergence"), "standalone");
    cr_assert_str_eq(str(p, "rank_by"), "value");
    cr_assert_float_eq(json_number_value(json_object_get(p, "per_days")), 7, 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(p, "seed")), 123456789012345678,
                 "seed %lld", (long long)json_integer_value(json_object_get(p, "seed")));
    /* Defaults where neither says anything. */
    cr_assert_float_eq(json_number_value(json_object_get(p, "bubble")), 0.05, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(p, "floor")), 0, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(p, "relative_floor")), 0.1,
                       1e-12);
    cr_assert_str_eq(str(p, "divergence_aim"), "adjacent");
    cr_assert_str_eq(str(p, "divergent_slot"), "extra");
    cr_assert_str_eq(str(p, "rerank"), "none");
    cr_assert_eq(json_integer_value(json_object_get(p, "max_contacts")), 3);
    cr_assert_str_eq(str(p, "shard"), "0/1");
    /* The lines agree with the summary. */
    json_t *lines = read_lines(out);
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        cr_assert_eq(json_integer_value(json_object_get(l, "seed")), 123456789012345678);
        /* 4 slots, and one more for a divergent offer (extra slot by default) */
        cr_assert_leq(json_array_size(json_object_get(l, "offers")), 5);
    }
    json_t *c = json_object_get(s, "counts");
    cr_assert_eq(json_integer_value(json_object_get(c, "consumers")), 300);
    cr_assert_str_eq(str(s, "model"), "default-category-v1");
    json_decref(lines);
    json_decref(s);
    free(cfg);
    free(sum);
}

Test(cli_decide, summary_records_defaults_and_counts_match_the_lines) {
    make_world("--seed 7");
    char *sum = tu_path(dir, "summary.json");
    char opts[700];
    snprintf(opts, sizeof opts, "--summary '%s'", sum);
    tu_run r;
    cr_assert_eq(decide(&r, out, opts), 0, "%s", r.err);
    /* The short summary is a result: stdout (issue 14 item 19). */
    cr_assert(strstr(r.out, "indiv decide: 300 consumers"), "short summary: %s", r.out);
    cr_assert_null(strstr(r.err, "indiv decide: 300 consumers"), "%s", r.err);
    /* No --threshold: the default model's recommended τ, said on stderr and written. */
    indiv_model m;
    indiv_model_default(&m);
    cr_assert(strstr(r.err, "threshold 0.9986: the model's recommended threshold"),
              "note: %s", r.err);
    tu_run_free(&r);
    json_t *s = read_json(sum);
    json_t *p = json_object_get(s, "parameters");
    cr_assert_float_eq(json_number_value(json_object_get(p, "threshold")),
                       m.calibration.threshold, 1e-6);
    cr_assert_str_eq(str(p, "threshold_source"), "model");
    cr_assert_eq(json_integer_value(json_object_get(p, "slots")), 3);
    cr_assert_str_eq(str(p, "divergence"), "ride-along");
    cr_assert_eq(json_integer_value(json_object_get(p, "seed")), 1);
    /* as_of defaults to the profiles' time. */
    json_t *d = json_object_get(s, "data");
    cr_assert_str_eq(str(p, "as_of"), str(d, "profiles_as_of"));
    json_t *lines = read_lines(out);
    json_t *by_reason = json_object_get(json_object_get(s, "counts"), "by_reason");
    size_t i;
    json_t *l;
    json_t *tally = json_object();
    json_array_foreach(lines, i, l) {
        const char *why = str(l, "reason");
        json_object_set_new(
            tally, why,
            json_integer(json_integer_value(json_object_get(tally, why)) + 1));
        cr_assert_str_eq(str(l, "as_of"), str(p, "as_of"));
    }
    const char *k;
    json_t *v;
    json_object_foreach(by_reason, k, v)
        cr_assert_eq(json_integer_value(v), json_integer_value(json_object_get(tally, k)),
                     "reason %s", k);
    json_decref(tally);
    json_decref(lines);
    json_decref(s);
    free(sum);
}

/* ---- policy end to end ------------------------------------------------------------- */

Test(cli_decide, ride_along_never_sends_a_divergent_offer_alone_but_standalone_does) {
    make_world("--seed 8");
    /* Per-offer relevance, so that some people have no offer above τ. */
    decide_ok(out, "--serendipity 1 --threshold 0.8 --floor 0.02 --relevance best");
    json_t *lines = read_lines(out);
    size_t i;
    json_t *l;
    int contacts = 0, missed = 0;
    json_array_foreach(lines, i, l) {
        cr_assert_str_neq(str(l, "reason"), "divergent_offer_alone");
        if (strcmp(str(l, "action"), "none") != 0) {
            contacts++;
            cr_assert_geq(n_kind(l, "relevant"), 1, "%s", str(l, "consumer"));
        }
        json_t *dv = json_object_get(l, "divergence");
        if (dv && json_is_false(json_object_get(dv, "placed")))
            missed += !strcmp(str(dv, "why"), "no_relevant_offer_to_ride_along");
    }
    cr_assert_gt(contacts, 0);
    cr_assert_gt(missed, 0, "the world must have people with nothing relevant");
    json_decref(lines);
    decide_ok(out, "--serendipity 1 --threshold 0.8 --floor 0.02 --divergence standalone "
                   "--relevance best");
    lines = read_lines(out);
    int alone = 0;
    json_array_foreach(lines, i, l) {
        if (strcmp(str(l, "reason"), "divergent_offer_alone") != 0)
            continue;
        alone++;
        cr_assert_str_eq(str(l, "action"), "contact"); /* a deferral says not_ready */
        cr_assert_eq(json_array_size(json_object_get(l, "offers")), 1);
        cr_assert_eq(n_kind(l, "divergent"), 1);
    }
    cr_assert_gt(alone, 0, "standalone never contacted on a divergent offer alone");
    json_decref(lines);
}

Test(cli_decide, epsilon_zero_never_diverges) {
    make_world("--seed 8");
    char *sum = tu_path(dir, "s.json");
    char opts[700];
    snprintf(opts, sizeof opts,
             "--serendipity 0 --divergence standalone --floor 0 "
             "--bubble 1 --summary '%s'",
             sum);
    decide_ok(out, opts);
    char *text = tu_read(out, NULL);
    cr_assert_null(strstr(text, "divergent"), "a divergent offer with ε = 0");
    cr_assert_null(strstr(text, "\"divergence\""));
    free(text);
    json_t *s = read_json(sum);
    json_t *c = json_object_get(s, "counts");
    cr_assert_eq(json_integer_value(json_object_get(c, "divergence_drawn")), 0);
    cr_assert_gt(
        json_integer_value(json_object_get(json_object_get(c, "by_action"), "contact")),
        50);
    json_decref(s);
    free(sum);
}

Test(cli_decide, contact_consent_as_stored_is_respected) {
    make_world("--seed 9 --p-consent-contact 0.5");
    decide_ok(out, "--serendipity 1 --threshold 0.05");
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "sqlite3 '%s' 'SELECT ext_id FROM consumers WHERE "
                       "consent_contact = 0 ORDER BY ext_id'",
                       db),
                 0, "%s", r.err);
    json_t *lines = read_lines(out), *refused = json_object();
    for (char *p = r.out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        json_object_set_new(refused, p, json_true());
    }
    cr_assert_gt(json_object_size(refused), 80);
    cr_assert_lt(json_object_size(refused), 220);
    size_t i;
    json_t *l;
    int contacted = 0;
    json_array_foreach(lines, i, l) {
        int no = json_object_get(refused, str(l, "consumer")) != NULL;
        if (no) {
            cr_assert_str_eq(str(l, "action"), "none");
            cr_assert_str_eq(str(l, "reason"), "no_contact_consent");
            cr_assert_null(json_object_get(l, "offers"));
        } else {
            cr_assert_str_neq(str(l, "reason"), "no_contact_consent");
            contacted += !strcmp(str(l, "action"), "contact");
        }
    }
    cr_assert_gt(contacted, 50);
    json_decref(refused);
    json_decref(lines);
    tu_run_free(&r);
}

Test(cli_decide, without_profiles_nobody_is_personalised_and_it_says_so) {
    tu_run r;
    cr_assert_eq(
        tu_sh(&r, "\"$INDIV\" generate --db '%s' " WORLD " --seed 2 >/dev/null", db), 0,
        "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(decide(&r, out, "--serendipity 1 --divergence standalone"), 0, "%s",
                 r.err);
    cr_assert(strstr(r.out, "run indiv profile first"), "%s", r.out);
    cr_assert(strstr(r.err, "warning: ") && strstr(r.err, "has no profiles"), "%s", r.err);
    tu_run_free(&r);
    json_t *lines = read_lines(out);
    cr_assert_eq(json_array_size(lines), 300);
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        cr_assert(json_is_false(json_object_get(l, "personalised")));
        cr_assert_eq(n_kind(l, "divergent"), 0);
    }
    json_decref(lines);
}

/* Every aim, slot and re-ranker: the same bytes with 1 and 2 threads, and each run
 * differs from the plain one (so the flags reach the policy). */
Test(cli_decide, aims_slots_and_rerankers_give_identical_bytes_with_1_and_2_threads) {
    make_world("--seed 4");
    static const char *const variants[] = {
        "--divergence-aim adjacent --divergence-temperature 0.5",
        "--divergence-aim adjacent --divergence-temperature 0 --divergent-slot replace",
        "--divergence-aim popular --divergent-slot extra",
        "--plausibility conditional --divergence standalone",
        "--rerank mmr:0.3",
        "--rerank calibrated:0.7 --serendipity 0"};
    char *first = tu_path(dir, "first.jsonl"), *plain = tu_path(dir, "plain.jsonl");
    decide_ok(plain, "--seed 42 --serendipity 0.5 --threads 1");
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char opts[256];
        snprintf(opts, sizeof opts, "--seed 42 --serendipity 0.5 %s --threads 1",
                 variants[i]);
        decide_ok(first, opts);
        snprintf(opts, sizeof opts,
                 "--seed 42 --serendipity 0.5 %s --threads 2 --block 9", variants[i]);
        decide_ok(out, opts);
        cr_assert(tu_same_file(first, out), "%s: 2 threads differ from 1", variants[i]);
        cr_assert(!tu_same_file(first, plain), "%s: same as the plain run", variants[i]);
    }
    free(first);
    free(plain);
}

/* The table's new parameters reach the summary from --config (with '_' or '-' in their
 * names) and from flags alike. */
Test(cli_decide, serendipity_parameters_come_from_config_and_flags) {
    make_world("--seed 5");
    char *cfg = tu_path(dir, "cfg.json"), *sum = tu_path(dir, "summary.json");
    tu_write(cfg, "{\"divergence_aim\": \"popular\", \"relative-floor\": 0.2, "
                  "\"rerank\": \"mmr:0.3\", \"divergent_slot\": \"replace\"}");
    char opts[1400];
    snprintf(opts, sizeof opts,
             "--config '%s' --summary '%s' --divergence-temperature 0.25 --rerank-pool 7",
             cfg, sum);
    decide_ok(out, opts);
    json_t *s = read_json(sum), *p = json_object_get(s, "parameters");
    cr_assert_str_eq(str(p, "divergence_aim"), "popular");
    cr_assert_str_eq(str(p, "divergent_slot"), "replace");
    cr_assert_str_eq(str(p, "rerank"), "mmr:0.3");
    cr_assert_float_eq(json_number_value(json_object_get(p, "relative_floor")), 0.2, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(p, "divergence_temperature")),
                       0.25, 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(p, "rerank_pool")), 7);
    json_t *c = json_object_get(s, "counts");
    cr_assert_geq(json_integer_value(json_object_get(c, "divergence_drawn")),
                  json_integer_value(json_object_get(c, "divergence_placed")));
    json_decref(s);
    free(cfg);
    free(sum);
}

Test(cli_decide, set_name_value_equals_the_flag_and_the_last_one_wins) {
    make_world("--seed 5");
    char *sum = tu_path(dir, "summary.json"), *out2 = tu_path(dir, "d2.jsonl");
    char opts[1400];
    snprintf(opts, sizeof opts,
             "--summary '%s' --set threshold=0.9 --set threshold=0.2 --set "
             "divergence_aim=popular --set rerank=mmr:0.3 --set relative-floor=0.25 "
             "--set serendipity=0.5",
             sum);
    decide_ok(out, opts);
    decide_ok(out2, "--threshold 0.2 --divergence-aim popular --rerank mmr:0.3 "
                    "--relative-floor 0.25 --serendipity 0.5");
    json_t *s = read_json(sum), *p = json_object_get(s, "parameters");
    cr_assert_float_eq(json_number_value(json_object_get(p, "threshold")), 0.2, 1e-12);
    cr_assert_str_eq(str(p, "divergence_aim"), "popular");
    cr_assert_str_eq(str(p, "rerank"), "mmr:0.3");
    cr_assert_float_eq(json_number_value(json_object_get(p, "relative_floor")), 0.25,
                       1e-12);
    json_decref(s);
    size_t n1 = 0, n2 = 0;
    char *a = tu_read(out, &n1), *b = tu_read(out2, &n2);
    cr_assert(a && b && n1 > 0 && n1 == n2 && memcmp(a, b, n1) == 0,
              "--set and the flags decide the same bytes");
    free(a), free(b), free(sum), free(out2);
}

/* A model trained on another catalogue (20 offer ids of 60 in common) is refused with the fix
 * in the message; --force uses it, saying how many offers lack a vector (issue 14 item
 * 21). */
Test(cli_decide, a_model_of_another_catalogue_is_refused_unless_forced) {
    make_world("");
    char *other = tu_path(dir, "other.db"), *model = tu_path(dir, "m.json");
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" generate --db '%s' --consumers 200 --offers 20 "
                       "--categories 4 --days 90 >/dev/null && \"$INDIV\" train --db '%s' "
                       "--out '%s' --dims 4 --iterations 3 >/dev/null",
                       other, other, model),
                 0, "%s", r.err);
    tu_run_free(&r);
    char opts[600];
    snprintf(opts, sizeof opts, "--model '%s'", model);
    cr_assert_eq(decide(&r, out, opts), 1, "%s", r.err);
    cr_assert(strstr(r.err, "has no vector for 40 of the 60 offers"), "%s", r.err);
    cr_assert(strstr(r.err, "trained on another catalogue"), "%s", r.err);
    cr_assert(strstr(r.err, "indiv train --db") && strstr(r.err, "--force"), "%s", r.err);
    tu_run_free(&r);
    cr_assert_null(tu_read(out, NULL), "a refused run wrote decisions");
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" profile --db '%s' --model '%s' >/dev/null", db,
                       model),
                 0, "%s", r.err);
    tu_run_free(&r);
    snprintf(opts, sizeof opts, "--model '%s' --force", model);
    cr_assert_eq(decide(&r, out, opts), 0, "%s", r.err);
    cr_assert(strstr(r.err, "40 offers have no vector"), "%s", r.err);
    tu_run_free(&r);
    free(other);
    free(model);
}

/* Where τ comes from: a flag (or --set) wins; without one, the model's recommended τ when
 * its calibration fits the policy (relevance any, the same slots), else the default. */
Test(cli_decide, threshold_comes_from_the_flag_else_the_model_else_the_default) {
    make_world("--seed 8");
    char *sum = tu_path(dir, "summary.json"), *plain = tu_path(dir, "plain.json");
    indiv_model m;
    indiv_error err = {0};
    indiv_model_default(&m);
    double model_tau = m.calibration.threshold;
    memset(&m.calibration, 0, sizeof m.calibration);
    cr_assert_eq(indiv_model_save(&m, plain, &err), 0, "%s", err.msg);
    char plain_opt[600];
    snprintf(plain_opt, sizeof plain_opt, "--model '%s'", plain);
    const struct {
        const char *opts, *source, *note;
        double tau;
    } cases[] = {
        {"", "model", "the model's recommended threshold", model_tau},
        {"--threshold 0.25", "flag", NULL, 0.25},
        {"--set threshold=0.35", "flag", NULL, 0.35},
        {plain_opt, "default", "carries no recommended threshold", 0.3},
        {"--slots 2", "default", "another number of slots", 0.3},
        {"--relevance best", "default", "for relevance any", 0.3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char opts[1400];
        snprintf(opts, sizeof opts, "%s --summary '%s'", cases[i].opts, sum);
        tu_run r;
        cr_assert_eq(decide(&r, out, opts), 0, "%s: %s", opts, r.err);
        cr_assert(cases[i].note ? strstr(r.err, cases[i].note) != NULL
                                : strstr(r.err, "--threshold overrides") == NULL,
                  "%s: %s", opts, r.err);
        tu_run_free(&r);
        json_t *s = read_json(sum), *p = json_object_get(s, "parameters");
        cr_assert_str_eq(str(p, "threshold_source"), cases[i].source, "%s", opts);
        cr_assert_float_eq(json_number_value(json_object_get(p, "threshold")),
                           cases[i].tau, 1e-6, "%s", opts);
        json_decref(s);
    }
    free(sum);
    free(plain);
}
