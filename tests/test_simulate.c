/*
 * test_simulate.c — the closed-loop simulation (simulate.h is the contract).
 *
 * Parameters: setting by name (with '-' or '_'), errors naming the parameter and the
 * value, validation, the JSON form holding every parameter and reading back; metric and
 * policy names; the aggregation rule on a hand-made table.
 *
 * The loop, on small generated worlds (a few hundred to 1500 consumers, a few rounds, so
 * that the suite stays fast under ASan): serendipity is the only way a contact reveals a
 * latent taste; a world without latent tastes shows no discovery; the mass campaign
 * reaches exactly the eligible consumers every round; fatigue exits at the stated rates;
 * leakage at the stated rate; the oracle never sends an irrelevant contact; indiv never
 * contacts without consent; same world, parameters and seed give the same metrics (and
 * another seed other ones) whatever the thread count; the world is never changed, even
 * when the work database names it by another path; refusals and the round callback.
 *
 * Statistical checks use fixed seeds, so they are deterministic; their bounds are still
 * computed confidence intervals (two-sided 99.9 %), not loose guesses, so that a change
 * of seed or of the model cannot pass by luck.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_cdf.h>

#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/sim.h"
#include "indiv/simulate.h"
#include "testutil.h"

#define EPS        1e-12
#define CONFIDENCE 0.999 /* two-sided */
#define MAX_ROUNDS 16
#define DAY_S      INT64_C(86400)

static char *dir;

static void setup(void) {
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(simulate, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

/* The two-sided normal quantile of CONFIDENCE (3.29). */
static double z_conf(void) {
    return gsl_cdf_ugaussian_Pinv(1 - (1 - CONFIDENCE) / 2);
}

/* |k − n p| within the CONFIDENCE interval of a binomial(n, p) (normal approximation,
 * fine for the n p (1 − p) of tens and more used here). */
static void assert_binomial(double k, double n, double p, const char *what) {
    double mean = n * p, half = z_conf() * sqrt(n * p * (1 - p));
    cr_assert(fabs(k - mean) <= half + 1e-9, "%s: %.0f of %.0f, expected %.1f +- %.1f",
              what, k, n, mean, half);
}

/* A small world: 60 offers in only 8 categories (so that a divergent offer often lands
 * in a latent category), 120 days of history, every consumer consenting to contact. */
static void world_params(indiv_world_params *p, int64_t consumers) {
    indiv_world_params_init(p);
    p->consumers = consumers;
    p->offers = 60;
    p->categories = 8;
    p->days = 120;
    p->seed = 20240611;
    p->p_consent_contact = 1.0;
}

static sqlite3 *sql_open(const char *path) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static void sql_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
}

/* The first column of the first row of sql, as an integer. */
static int64_t q_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int64_t q_int_at(const char *path, const char *sql) {
    sqlite3 *db = sql_open(path);
    int64_t v = q_int(db, sql);
    sqlite3_close(db);
    return v;
}

/* Rounds collected by the round callback. */
typedef struct run {
    indiv_round_metrics r[MAX_ROUNDS];
    int n;
    int stop_after;   /* > 0: return 7 from the callback after this many rounds */
    int64_t max_id[MAX_ROUNDS]; /* event ids only grow: what each round appended */
} run;

/* The largest event id in the database at path, or -1. */
static int64_t max_event_id(const char *path) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT max(id) FROM events", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* No Criterion assertion in here: it would jump out of the library's loop and leak. */
static int collect(void *ctx, const indiv_round_metrics *m) {
    run *x = ctx;
    if (x->n >= MAX_ROUNDS || m->round != x->n + 1)
        return 99;
    x->r[x->n++] = *m;
    return x->stop_after > 0 && x->n >= x->stop_after ? 7 : 0;
}

static void sim_params(indiv_sim_params *p, indiv_sim_policy policy, int rounds) {
    indiv_sim_params_init(p);
    p->policy = policy;
    p->rounds = rounds;
    p->seed = 4242;
}

/* Runs p on world into dir/work with the default model (track_ids: see run); returns
 * the status. */
static int run_sim(const char *world, const char *work, const indiv_sim_params *p,
                   run *out, indiv_error *err) {
    indiv_model m;
    indiv_model_default(&m);
    char *path = tu_path(dir, work);
    int stop_after = out->stop_after;
    memset(out, 0, sizeof *out);
    out->stop_after = stop_after;
    int rc = indiv_sim_run(world, path, p, &m, NULL, NULL, collect, out, err);
    free(path);
    return rc;
}

static int try_simulate(const char *world, const char *work, const indiv_sim_params *p,
                        run *out, indiv_error *err) {
    memset(out, 0, sizeof *out);
    return run_sim(world, work, p, out, err);
}

/* Runs p and asserts success and one callback per round. */
static void simulate_ids(const char *world, const char *work, const indiv_sim_params *p,
                         int track_ids, run *out) {
    indiv_error err = {0};
    int64_t ids[MAX_ROUNDS] = {0};
    /* track_ids: the run is repeated, stopped after round k = 1, 2, ... by the callback
     * (a stopped run writes the rounds it ran, and the rounds are the same whatever the
     * length of the run), and the work database's largest event id read after each:
     * the rounds reach the file at the end of a run, not round by round. */
    for (int k = track_ids ? 1 : p->rounds; k <= p->rounds; k++) {
        out->stop_after = k < p->rounds ? k : 0;
        int rc = run_sim(world, work, p, out, &err);
        cr_assert_eq(rc, k < p->rounds ? 7 : 0, "%s: %s", indiv_sim_policy_name(p->policy),
                     err.msg);
        cr_assert_eq(out->n, k);
        if (track_ids) {
            char *path = tu_path(dir, work);
            ids[k - 1] = max_event_id(path);
            free(path);
        }
    }
    memcpy(out->max_id, ids, sizeof ids);
}

static void simulate(const char *world, const char *work, const indiv_sim_params *p,
                     run *out) {
    simulate_ids(world, work, p, 0, out);
}

/* Metric m summed over the rounds. */
static double total(const run *x, int m) {
    double s = 0;
    for (int r = 0; r < x->n; r++)
        s += x->r[r].v[m];
    return s;
}

/* ---- parameters -------------------------------------------------------------------- */

Test(simulate, defaults_are_valid) {
    indiv_sim_params p;
    indiv_sim_params_init(&p);
    indiv_error err = {0};
    cr_assert_eq(indiv_sim_params_validate(&p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.rounds, 12);
    cr_assert_float_eq(p.round_days, 7, EPS);
    cr_assert_eq(p.policy, INDIV_SIM_INDIV);
    cr_assert_float_eq(p.response.p_leave, 0.3, EPS);
    cr_assert_float_eq(p.response.irrelevant_utility, 0.05, EPS);
    cr_assert_float_eq(p.policy_params.threshold, 0.3, EPS);
}

Test(simulate, params_set_by_name_with_dashes_or_underscores) {
    indiv_sim_params p;
    indiv_sim_params_init(&p);
    indiv_error err = {0};
    struct {
        const char *name, *value;
        const double *field;
        double want;
    } reals[] = {
        {"p_leave", "0.45", &p.response.p_leave, 0.45},
        {"p-leave", "0.55", &p.response.p_leave, 0.55},
        {"round-days", "3.5", &p.round_days, 3.5},
        {"annoyance_per_irrelevant", "2.25", &p.response.annoyance_per_irrelevant, 2.25},
        {"annoyance-per-contact", "0.125", &p.response.annoyance_per_contact, 0.125},
        {"organic-latent-discovery", "0.015", &p.response.organic_latent_discovery,
         0.015},
        {"leakage_per_round", "0.035", &p.response.leakage_per_round, 0.035},
        {"conversion-max", "0.65", &p.response.conversion_max, 0.65},
        {"threshold", "0.385", &p.policy_params.threshold, 0.385},
        {"serendipity", "0.775", &p.policy_params.serendipity, 0.775},
        {"min-readiness", "0.0625", &p.policy_params.min_readiness, 0.0625},
        {"per_days", "10.5", &p.policy_params.per_days, 10.5},
        {"half-life", "45.5", &p.profile_params.half_life_days, 45.5},
        {"window", "200", &p.profile_params.window_days, 200},
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        cr_assert_eq(indiv_sim_params_set(&p, reals[i].name, reals[i].value, &err), 0,
                     "%s: %s", reals[i].name, err.msg);
        cr_assert_float_eq(*reals[i].field, reals[i].want, EPS, "%s", reals[i].name);
    }
    cr_assert_eq(indiv_sim_params_set(&p, "rounds", "9", &err), 0, "%s", err.msg);
    cr_assert_eq(p.rounds, 9);
    cr_assert_eq(indiv_sim_params_set(&p, "persona-k", "4", &err), 0, "%s", err.msg);
    cr_assert_eq(p.persona_k, 4);
    cr_assert_eq(indiv_sim_params_set(&p, "max_contacts", "5", &err), 0, "%s", err.msg);
    cr_assert_eq(p.policy_params.max_contacts, 5);
    cr_assert_eq(indiv_sim_params_set(&p, "slots", "2", &err), 0, "%s", err.msg);
    cr_assert_eq(p.policy_params.slots, 2);
    cr_assert_eq(indiv_sim_params_set(&p, "policy", "indiv-no-threshold", &err), 0);
    cr_assert_eq(p.policy, INDIV_SIM_NO_THRESHOLD);
    cr_assert_eq(indiv_sim_params_set(&p, "divergence", "standalone", &err), 0);
    cr_assert_eq(p.policy_params.divergence, INDIV_DIV_STANDALONE);
    /* The rest of the policy's table, through the table. */
    cr_assert_eq(p.policy_params.divergence_aim, INDIV_AIM_ADJACENT);
    cr_assert_eq(indiv_sim_params_set(&p, "divergence_aim", "popular", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(p.policy_params.divergence_aim, INDIV_AIM_POPULAR);
    char *js = indiv_sim_params_json(&p);
    cr_assert(strstr(js, "\"divergence_aim\": \"popular\""), "%s", js);
    free(js);
    cr_assert_eq(indiv_sim_params_set(&p, "divergence-aim", "adjacent", &err), 0);
    cr_assert_eq(p.policy_params.divergence_aim, INDIV_AIM_ADJACENT);
    cr_assert_eq(indiv_sim_params_set(&p, "seed", "9223372036854775807", &err), 0);
    cr_assert_eq(p.seed, (uint64_t)INT64_MAX);
    cr_assert_eq(indiv_sim_params_set(&p, "features", "taste,rhythm", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(p.profile_params.features, INDIV_FEAT_TASTE | INDIV_FEAT_RHYTHM);
    cr_assert_eq(indiv_sim_params_validate(&p, &err), 0, "%s", err.msg);
}

Test(simulate, params_set_errors_name_the_parameter_and_value_and_change_nothing) {
    static const char *const cases[][3] = {
        /* name, value, what the message must name */
        {"no_such_knob", "1", "unknown simulation parameter 'no_such_knob'"},
        {"p_leave", "abc", "p_leave = 'abc'"},
        {"p-leave", "1.5", "p_leave = '1.5'"},
        {"p_leave", "nan", "p_leave = 'nan'"},
        {"p_leave", "", "p_leave = ''"},
        {"p_leave", "0.3x", "p_leave = '0.3x'"},
        {"rounds", "2.5", "rounds = '2.5' is not an integer"},
        {"rounds", "0", "rounds = '0'"},
        {"threshold", "-0.1", "threshold = '-0.1'"},
        {"slots", "17", "slots = '17'"},
        {"annoyance_decay", "1.01", "annoyance_decay = '1.01'"},
        {"policy", "greedy", "policy 'greedy' is unknown"},
        {"divergence", "sideways", "divergence 'sideways' is unknown"},
        {"seed", "-", "seed '-' is not an integer"},
        {"seed", "12ab", "seed '12ab' is not an integer"},
        /* strtoull would take these as 2^64 - 1 or 2^63: the JSON record is an int64. */
        {"seed", "-1", "seed '-1' is not an integer in [0, 2^63-1]"},
        {"seed", "9223372036854775808", "seed '9223372036854775808'"},
        {"seed", "99999999999999999999999", "seed '99999999999999999999999'"},
        {"features", "taste,smell", "smell"},
        {"divergence_aim", "sideways", "divergence-aim: "},
    };
    indiv_sim_params p, before;
    indiv_sim_params_init(&p);
    before = p;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_error err = {0};
        cr_assert_eq(indiv_sim_params_set(&p, cases[i][0], cases[i][1], &err),
                     INDIV_EINVAL, "%s=%s accepted", cases[i][0], cases[i][1]);
        cr_assert(strstr(err.msg, cases[i][2]), "%s=%s: '%s' lacks '%s'", cases[i][0],
                  cases[i][1], err.msg, cases[i][2]);
        cr_assert_eq(memcmp(&p, &before, sizeof p), 0, "%s=%s changed the parameters",
                     cases[i][0], cases[i][1]);
    }
}

typedef struct spoil_case {
    void (*spoil)(indiv_sim_params *p);
    const char *named;
} spoil_case;

static void spoil_rounds(indiv_sim_params *p) {
    p->rounds = 0;
}
static void spoil_days(indiv_sim_params *p) {
    p->round_days = 0;
}
static void spoil_leave(indiv_sim_params *p) {
    p->response.p_leave = NAN;
}
static void spoil_decay(indiv_sim_params *p) {
    p->response.annoyance_decay = 1.5;
}
static void spoil_threshold(indiv_sim_params *p) {
    p->policy_params.threshold = 2;
}
static void spoil_threads(indiv_sim_params *p) {
    p->threads = 0;
}
static void spoil_half_life(indiv_sim_params *p) {
    p->profile_params.half_life_days = 0;
}
static void spoil_policy(indiv_sim_params *p) {
    p->policy = INDIV_SIM_POLICY_COUNT;
}
static void spoil_conversion(indiv_sim_params *p) {
    p->response.conversion_max = -0.25;
}
static void spoil_seed(indiv_sim_params *p) {
    p->seed = UINT64_MAX; /* would be written as -1 in the JSON record */
}

Test(simulate, validate_names_the_parameter_at_fault) {
    static const spoil_case cases[] = {{spoil_rounds, "rounds"},
                                       {spoil_days, "round_days"},
                                       {spoil_leave, "p_leave"},
                                       {spoil_decay, "annoyance_decay"},
                                       {spoil_threshold, "threshold"},
                                       {spoil_threads, "threads"},
                                       {spoil_half_life, "half_life"},
                                       {spoil_policy, "policy"},
                                       {spoil_conversion, "conversion_max"},
                                       {spoil_seed, "seed"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_sim_params p;
        indiv_sim_params_init(&p);
        cases[i].spoil(&p);
        indiv_error err = {0};
        cr_assert_eq(indiv_sim_params_validate(&p, &err), INDIV_EINVAL, "case %zu", i);
        cr_assert(strstr(err.msg, cases[i].named), "case %zu: '%s' does not name %s", i,
                  err.msg, cases[i].named);
    }
}

/* Every parameter settable by name, as documented in simulate.h and `simulate --help`. */
static const char *const every_param[] = {"rounds",
                                          "round_days",
                                          "seed",
                                          "policy",
                                          "persona_k",
                                          "threads",
                                          "threshold",
                                          "serendipity",
                                          "bubble",
                                          "floor",
                                          "divergence",
                                          "min_readiness",
                                          "per_days",
                                          "slots",
                                          "max_contacts",
                                          "half_life",
                                          "window",
                                          "features",
                                          "divergence_aim",
                                          "irrelevant_utility",
                                          "conversion_max",
                                          "wrong_moment_factor",
                                          "moment_window_hours",
                                          "not_ready_factor",
                                          "ready_fraction",
                                          "annoyance_per_irrelevant",
                                          "annoyance_per_contact",
                                          "annoyance_decay",
                                          "fatigue_open_effect",
                                          "p_leave",
                                          "leakage_per_round",
                                          "organic_latent_discovery",
                                          "reveal_on_engagement",
                                          "annoyance_per_unwanted_divergent",
                                          "perfect_aim",
                                          "trained",
                                          "retrain_every",
                                          "train_dims",
                                          "train_iterations"};
#define N_EVERY_PARAM (sizeof every_param / sizeof every_param[0])

/* The JSON value of a key as the text indiv_sim_params_set reads. */
static void json_text(const json_t *v, char *buf, size_t cap) {
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, cap, "%.17g", json_number_value(v));
}

Test(simulate, params_json_holds_every_parameter_and_reads_back) {
    indiv_sim_params p, q;
    indiv_sim_params_init(&p);
    indiv_error err = {0};
    /* Values off their defaults, so that reading back proves something. */
    static const char *const set[][2] = {
        {"p_leave", "0.35"},          {"rounds", "7"},
        {"seed", "9007199254740993"}, {"policy", "persona"},
        {"divergence", "standalone"}, {"features", "taste,moments"},
        {"half_life", "33.25"},       {"threshold", "0.42"},
        {"ready_fraction", "0.6"},     {"divergence_aim", "popular"}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        cr_assert_eq(indiv_sim_params_set(&p, set[i][0], set[i][1], &err), 0, "%s",
                     err.msg);
    char *js = indiv_sim_params_json(&p);
    cr_assert_not_null(js);
    json_error_t jerr;
    json_t *o = json_loads(js, 0, &jerr);
    cr_assert_not_null(o, "%s: %s", jerr.text, js);
    cr_assert_eq(json_object_size(o), N_EVERY_PARAM, "%s", js);
    for (size_t i = 0; i < N_EVERY_PARAM; i++)
        cr_assert_not_null(json_object_get(o, every_param[i]), "no %s in %s",
                           every_param[i], js);
    cr_assert_str_eq(json_string_value(json_object_get(o, "policy")), "persona");
    cr_assert_eq(json_integer_value(json_object_get(o, "seed")), 9007199254740993LL);
    cr_assert_float_eq(json_number_value(json_object_get(o, "p_leave")), 0.35, EPS);
    /* Every key sets back, by name, to the same parameters. */
    indiv_sim_params_init(&q);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        char text[128];
        json_text(v, text, sizeof text);
        cr_assert_eq(indiv_sim_params_set(&q, key, text, &err), 0, "%s=%s: %s", key, text,
                     err.msg);
    }
    char *again = indiv_sim_params_json(&q);
    cr_assert_str_eq(again, js);
    /* Sorted keys. */
    char *k1 = strstr(js, "\"annoyance_decay\""), *k2 = strstr(js, "\"window\"");
    cr_assert(k1 && k2 && k1 < k2, "keys are not sorted: %s", js);
    json_decref(o);
    free(again);
    free(js);
}

Test(simulate, metric_and_policy_names_cover_every_value) {
    cr_assert_eq(INDIV_SIM_NMETRICS, 31);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++) {
        const char *name = indiv_sim_metric_name(m), *doc = indiv_sim_metric_doc(m);
        cr_assert(name && *name && strcmp(name, "?") != 0, "metric %d has no name", m);
        cr_assert(doc && strlen(doc) > 10 && strcmp(doc, "?") != 0, "%s has no doc",
                  name);
        for (int k = 0; k < m; k++)
            cr_assert_str_neq(indiv_sim_metric_name(k), name, "%s twice", name);
    }
    cr_assert_str_eq(indiv_sim_metric_name(INDIV_M_contacts), "contacts");
    cr_assert_str_eq(indiv_sim_metric_name(INDIV_M_latent_revealed_total),
                     "latent_revealed_total");
    cr_assert_str_eq(indiv_sim_metric_name(INDIV_M_divergent_share), "divergent_share");
    cr_assert_str_eq(indiv_sim_metric_name(INDIV_SIM_NMETRICS), "?");
    cr_assert_str_eq(indiv_sim_metric_name(-1), "?");
    cr_assert_str_eq(indiv_sim_metric_doc(INDIV_SIM_NMETRICS), "?");
    static const char *const policies[INDIV_SIM_POLICY_COUNT] = {"indiv",
                                                                 "indiv-no-serendipity",
                                                                 "indiv-no-threshold",
                                                                 "mass",
                                                                 "persona",
                                                                 "random",
                                                                 "oracle"};
    for (int i = 0; i < INDIV_SIM_POLICY_COUNT; i++) {
        indiv_sim_policy got = INDIV_SIM_POLICY_COUNT;
        cr_assert_str_eq(indiv_sim_policy_name((indiv_sim_policy)i), policies[i]);
        cr_assert_eq(indiv_sim_policy_parse(policies[i], &got), 0);
        cr_assert_eq(got, (indiv_sim_policy)i);
    }
    indiv_sim_policy got = INDIV_SIM_MASS;
    cr_assert_eq(indiv_sim_policy_parse("all", &got), INDIV_EINVAL);
    cr_assert_eq(indiv_sim_policy_parse("Indiv", &got), INDIV_EINVAL);
    cr_assert_eq(got, INDIV_SIM_MASS);
    cr_assert_str_eq(indiv_sim_policy_name(INDIV_SIM_POLICY_COUNT), "?");
}

Test(simulate, aggregate_sums_counts_weights_shares_and_keeps_the_last_round) {
    indiv_round_metrics r[3];
    memset(r, 0, sizeof r);
    /* contacts 100, 0, 300: the empty round must weigh nothing in the shares. */
    static const double contacts[3] = {100, 0, 300}, conversions[3] = {7, 0, 5},
                        irrelevant[3] = {0.25, 0.9, 0.125},
                        divergent[3] = {0.1, 0.8, 0.3}, bubble[3] = {0.6, 0.0, 0.2},
                        revenue[3] = {1234.5, 2000.25, 17.75},
                        active[3] = {980, 960, 955}, diversity[3] = {0.5, 0.75, 1.125},
                        revealed_total[3] = {3, 3, 11}, unsub[3] = {4, 1, 2},
                        gini[3] = {0.4, 0.5, 0.6125}, leak[3] = {2, 3, 4},
                        revealed[3] = {3, 0, 8}, p90[3] = {1, 2, 5};
    for (int i = 0; i < 3; i++) {
        r[i].round = i + 1;
        r[i].v[INDIV_M_contacts] = contacts[i];
        r[i].v[INDIV_M_conversions] = conversions[i];
        r[i].v[INDIV_M_conversion_rate] = contacts[i] ? conversions[i] / contacts[i] : 0;
        r[i].v[INDIV_M_irrelevant_share] = irrelevant[i];
        r[i].v[INDIV_M_divergent_share] = divergent[i];
        r[i].v[INDIV_M_divergent_offers] = 10 * (i + 1);
        r[i].v[INDIV_M_divergent_hits] = i + 1 + (i == 2);
        r[i].v[INDIV_M_divergent_hit_rate] = 0.123; /* recomputed from the sums */
        r[i].v[INDIV_M_bubble_share] = bubble[i];
        r[i].v[INDIV_M_revenue] = revenue[i];
        r[i].v[INDIV_M_revenue_contacts] = revenue[i] / 4;
        r[i].v[INDIV_M_active] = active[i];
        r[i].v[INDIV_M_diversity] = diversity[i];
        r[i].v[INDIV_M_latent_revealed_total] = revealed_total[i];
        r[i].v[INDIV_M_latent_revealed] = revealed[i];
        r[i].v[INDIV_M_unsubscribes] = unsub[i];
        r[i].v[INDIV_M_departures] = 10 - unsub[i];
        r[i].v[INDIV_M_exposure_gini] = gini[i];
        r[i].v[INDIV_M_leakage] = leak[i];
        r[i].v[INDIV_M_contacts_p90] = p90[i];
    }
    double out[INDIV_SIM_NMETRICS];
    indiv_sim_aggregate(r, 3, out);
    cr_assert_float_eq(out[INDIV_M_contacts], 400, EPS);
    cr_assert_float_eq(out[INDIV_M_conversions], 12, EPS);
    cr_assert_float_eq(out[INDIV_M_conversion_rate], 12.0 / 400, EPS);
    cr_assert_float_eq(out[INDIV_M_irrelevant_share], (100 * 0.25 + 300 * 0.125) / 400,
                       EPS);
    cr_assert_float_eq(out[INDIV_M_divergent_share], (100 * 0.1 + 300 * 0.3) / 400, EPS);
    cr_assert_float_eq(out[INDIV_M_divergent_hit_rate], 7.0 / 60, EPS);
    cr_assert_float_eq(out[INDIV_M_bubble_share], (100 * 0.6 + 300 * 0.2) / 400, EPS);
    cr_assert_float_eq(out[INDIV_M_revenue], 3252.5, EPS);
    cr_assert_float_eq(out[INDIV_M_revenue_contacts], 3252.5 / 4, EPS);
    cr_assert_float_eq(out[INDIV_M_unsubscribes], 7, EPS);
    cr_assert_float_eq(out[INDIV_M_departures], 23, EPS);
    cr_assert_float_eq(out[INDIV_M_leakage], 9, EPS);
    cr_assert_float_eq(out[INDIV_M_latent_revealed], 11, EPS);
    cr_assert_float_eq(out[INDIV_M_active], 955, EPS);
    cr_assert_float_eq(out[INDIV_M_diversity], 1.125, EPS);
    cr_assert_float_eq(out[INDIV_M_latent_revealed_total], 11, EPS);
    cr_assert_float_eq(out[INDIV_M_exposure_gini], 0.6125, EPS);
    cr_assert_float_eq(out[INDIV_M_contacts_p90], 5, EPS);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        cr_assert_eq(indiv_sim_metric_is_count(m),
                     m == INDIV_M_contacts || m == INDIV_M_conversions ||
                         m == INDIV_M_revenue || m == INDIV_M_revenue_contacts ||
                         m == INDIV_M_unsubscribes || m == INDIV_M_departures ||
                         m == INDIV_M_leakage || m == INDIV_M_latent_revealed ||
                         m == INDIV_M_latent_revealed_engaged ||
                         m == INDIV_M_divergent_offers || m == INDIV_M_divergent_hits ||
                         m == INDIV_M_unwanted_divergent,
                     "%s", indiv_sim_metric_name(m));
    /* No contacts at all: shares 0, not NaN; no rounds: all zero. */
    indiv_sim_aggregate(r + 1, 1, out);
    cr_assert_float_eq(out[INDIV_M_irrelevant_share], 0, EPS);
    cr_assert_float_eq(out[INDIV_M_conversion_rate], 0, EPS);
    cr_assert_float_eq(out[INDIV_M_revenue], 2000.25, EPS);
    indiv_sim_aggregate(r, 0, out);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        cr_assert_float_eq(out[m], 0, EPS, "%s", indiv_sim_metric_name(m));
}

/* ---- discovery --------------------------------------------------------------------- */

/* A world where most consumers have latent tastes, quick to react (Beta(8, 2) reaction
 * rates, mean 0.8), so that contacts are opened and tastes can be revealed often. */
static char *latent_world(void) {
    indiv_world_params wp;
    world_params(&wp, 800);
    wp.latent_share = 1.0;
    wp.latent_tastes_mean = 2;
    wp.react_alpha = 8;
    wp.react_beta = 2;
    indiv_world_summary sum;
    char *w = tu_world(dir, "latent.db", &wp, &sum);
    cr_assert_gt(sum.latent_tastes, 1000);
    return w;
}

Test(simulate, without_serendipity_no_contact_reveals_a_latent_taste) {
    char *world = latent_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 5);
    p.response.conversion_max = 1; /* every opened relevant offer may convert */
    /* τ = 0.4, not the default 0.3: a latent category has no history, so its affinity is
     * 0, but with the default model an offer outside the person's tastes can still clear
     * τ = 0.3 on popularity, readiness and frequency alone: the largest logit at
     * affinity 0 is −3.2 + 1.2 + 1.0 + 0.5 = −0.5, p = 0.378. Above that, only a
     * divergent offer can carry a latent category, and with ε = 0 there is none. */
    p.policy_params.threshold = 0.4;
    p.policy_params.serendipity = 0;
    run none, forced;
    simulate(world, "eps0.db", &p, &none);
    /* indiv-no-serendipity forces ε = 0 whatever is configured. */
    p.policy = INDIV_SIM_NO_SERENDIPITY;
    p.policy_params.serendipity = 1;
    simulate(world, "noser.db", &p, &forced);
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_eq(none.r[r].v[INDIV_M_latent_revealed], 0, "round %d", r + 1);
        cr_assert_eq(none.r[r].v[INDIV_M_latent_revealed_total], 0, "round %d", r + 1);
        cr_assert_eq(none.r[r].v[INDIV_M_divergent_share], 0, "round %d", r + 1);
        cr_assert_eq(forced.r[r].v[INDIV_M_latent_revealed], 0, "round %d", r + 1);
        cr_assert_eq(forced.r[r].v[INDIV_M_divergent_share], 0, "round %d", r + 1);
    }
    /* Not vacuous: contacts were sent and converted. */
    cr_assert_gt(total(&none, INDIV_M_contacts), 1000);
    cr_assert_gt(total(&none, INDIV_M_conversions), 100);
    /* The contrast, same world and seed: with ε = 1 latent tastes are revealed, riding
     * along and standing alone. Each run reveals about 18 here; a Poisson count of that
     * mean is 0 with probability e^-18 (1.5e-8), so > 0 neither passes by luck nor
     * fails by bad luck under another seed. */
    static const indiv_divergence_mode modes[] = {INDIV_DIV_RIDE_ALONG,
                                                  INDIV_DIV_STANDALONE};
    for (size_t i = 0; i < 2; i++) {
        run with;
        p.policy = INDIV_SIM_INDIV;
        p.policy_params.serendipity = 1;
        p.policy_params.divergence = modes[i];
        simulate(world, i ? "standalone.db" : "ride.db", &p, &with);
        double revealed = total(&with, INDIV_M_latent_revealed);
        cr_assert_gt(revealed, 0, "%s: no latent taste revealed",
                     indiv_divergence_name(modes[i]));
        cr_assert_float_eq(with.r[p.rounds - 1].v[INDIV_M_latent_revealed_total],
                           revealed, EPS);
        cr_assert_gt(total(&with, INDIV_M_divergent_share), 0);
    }
    free(world);
}

Test(simulate, world_without_latent_tastes_shows_no_discovery) {
    indiv_world_params wp;
    world_params(&wp, 500);
    wp.latent_share = 0;
    wp.react_alpha = 8;
    wp.react_beta = 2;
    indiv_world_summary sum;
    char *world = tu_world(dir, "nolatent.db", &wp, &sum);
    cr_assert_eq(sum.latent_tastes, 0);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 4);
    p.policy_params.serendipity = 1; /* divergent offers go out, but find nothing */
    p.policy_params.divergence = INDIV_DIV_STANDALONE;
    p.response.conversion_max = 1;
    static const indiv_sim_policy pols[] = {INDIV_SIM_INDIV, INDIV_SIM_NO_SERENDIPITY,
                                            INDIV_SIM_ORACLE};
    for (size_t i = 0; i < sizeof pols / sizeof pols[0]; i++) {
        run x;
        char work[32];
        snprintf(work, sizeof work, "work%zu.db", i);
        p.policy = pols[i];
        simulate(world, work, &p, &x);
        for (int r = 0; r < p.rounds; r++) {
            const double *v = x.r[r].v;
            cr_assert_eq(v[INDIV_M_latent_revealed], 0, "%s round %d",
                         indiv_sim_policy_name(pols[i]), r + 1);
            cr_assert_eq(v[INDIV_M_latent_revealed_total], 0, "%s round %d",
                         indiv_sim_policy_name(pols[i]), r + 1);
            cr_assert_eq(v[INDIV_M_leakage], 0, "%s round %d",
                         indiv_sim_policy_name(pols[i]), r + 1);
        }
        cr_assert_gt(total(&x, INDIV_M_conversions), 0, "%s",
                     indiv_sim_policy_name(pols[i]));
        if (pols[i] == INDIV_SIM_INDIV)
            cr_assert_gt(total(&x, INDIV_M_divergent_share), 0);
    }
    free(world);
}

Test(simulate, leakage_follows_the_stated_rate) {
    /* No contact converts (conversion_max 0) and nobody exits (no annoyance), so every
     * latent taste stays latent until it leaks, independently with probability q per
     * round: after R rounds, Binomial(L, 1 − (1 − q)^R) of the L latent tastes leaked. */
    indiv_world_params wp;
    world_params(&wp, 600);
    wp.latent_share = 0.8;
    wp.latent_tastes_mean = 2;
    indiv_world_summary sum;
    char *world = tu_world(dir, "leak.db", &wp, &sum);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_MASS, 4);
    p.response.conversion_max = 0;
    p.response.annoyance_per_contact = 0;
    p.response.annoyance_per_irrelevant = 0;
    p.response.leakage_per_round = 0.15;
    p.response.reveal_on_engagement = 0;
    run x;
    simulate(world, "work.db", &p, &x);
    double q = p.response.leakage_per_round, left = (double)sum.latent_tastes;
    /* Round by round too: round r draws from the tastes still latent. */
    for (int r = 0; r < p.rounds; r++) {
        char what[64];
        snprintf(what, sizeof what, "leakage in round %d", r + 1);
        assert_binomial(x.r[r].v[INDIV_M_leakage], left, q, what);
        left -= x.r[r].v[INDIV_M_leakage];
    }
    assert_binomial(total(&x, INDIV_M_leakage), (double)sum.latent_tastes,
                    1 - pow(1 - q, p.rounds), "leakage over all rounds");
    cr_assert_eq(total(&x, INDIV_M_latent_revealed), 0);
    free(world);
}

Test(simulate, no_event_is_written_before_the_round_that_writes_it) {
    /* Round r's profiles and decisions are made as of its start: an event written in
     * round r with an earlier time would rewrite the history the engine already used
     * (and forces a full profile rebuild). Checked by event id, which grows with every
     * append: the ids a round added all have times at or after its start. With 2.5-day
     * rounds the starts fall at noon, where moving a purchase to the person's hour could
     * go back before the start. */
    indiv_world_params wp;
    world_params(&wp, 400);
    char *world = tu_world(dir, "w.db", &wp, NULL);
    int64_t first_id = q_int_at(world, "SELECT max(id) FROM events");
    static const double days[] = {7, 2.5};
    for (size_t i = 0; i < 2; i++) {
        indiv_sim_params p;
        sim_params(&p, INDIV_SIM_INDIV, 4);
        p.round_days = days[i];
        run x;
        char work[32];
        snprintf(work, sizeof work, "work%zu.db", i);
        simulate_ids(world, work, &p, 1, &x);
        char *path = tu_path(dir, work);
        sqlite3 *db = sql_open(path);
        int64_t from = first_id;
        for (int r = 0; r < x.n; r++) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM events WHERE id > %lld AND id <= %lld AND ts "
                     "< %lld",
                     (long long)from, (long long)x.max_id[r],
                     (long long)x.r[r].round_start);
            cr_assert_eq(q_int(db, sql), 0,
                         "round_days %.1f: round %d wrote into the past", days[i], r + 1);
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM events WHERE id > %lld AND id <= %lld",
                     (long long)from, (long long)x.max_id[r]);
            cr_assert_gt(q_int(db, sql), 100, "round %d wrote little", r + 1);
            from = x.max_id[r];
        }
        sqlite3_close(db);
        free(path);
    }
    free(world);
}

/* ---- reference policies ------------------------------------------------------------ */

/* Breaks the generated world's regularity: some consenting consumers accept no channel,
 * some unsubscribed before the simulation, some have no ground truth. */
static void spoil_world(const char *world) {
    sqlite3 *db = sql_open(world);
    sql_exec(db, "UPDATE consumers SET channels = 0 WHERE id % 7 = 3");
    sql_exec(db, "UPDATE consumers SET unsubscribed_ts = (SELECT min(ts) FROM events)"
                 " WHERE id % 11 = 5");
    sql_exec(db, "DELETE FROM truth_consumers WHERE consumer_id % 13 = 6");
    sqlite3_close(db);
}

/* Consumers the reference policies may contact at the start: with ground truth, contact
 * consent, not unsubscribed, an accepted contact channel (e-mail, SMS, push). */
static const char eligible_sql[] =
    "SELECT count(*) FROM consumers c JOIN truth_consumers t ON t.consumer_id = c.id"
    " WHERE c.consent_contact = 1 AND c.unsubscribed_ts IS NULL AND (c.channels & 14) != "
    "0";

Test(simulate, mass_campaign_contacts_every_eligible_consumer_every_round) {
    indiv_world_params wp;
    world_params(&wp, 700);
    wp.p_consent_contact = 0.7;
    wp.fatigue_mean = 2; /* so that some unsubscribe and the eligible set shrinks */
    char *world = tu_world(dir, "mass.db", &wp, NULL);
    spoil_world(world);
    int64_t eligible = q_int_at(world, eligible_sql);
    int64_t all = q_int_at(world, "SELECT count(*) FROM consumers");
    cr_assert(eligible > all / 3 && eligible < all * 2 / 3, "eligible %lld of %lld",
              (long long)eligible, (long long)all);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_MASS, 5);
    run x;
    simulate(world, "work.db", &p, &x);
    double unsubscribed = 0;
    for (int r = 0; r < p.rounds; r++) {
        /* Departed consumers still get the campaign (the shop does not know they left);
         * only a withdrawn consent takes one out of the list. */
        cr_assert_float_eq(x.r[r].v[INDIV_M_contacts], (double)eligible - unsubscribed,
                           EPS, "round %d", r + 1);
        unsubscribed += x.r[r].v[INDIV_M_unsubscribes];
    }
    cr_assert_gt(unsubscribed, 10, "the eligible set never shrank: the test is vacuous");
    /* Everyone gets the same `slots` offers, equally: the Gini coefficient of k equal
     * exposures among n offers is 1 − k/n. */
    for (int r = 0; r < p.rounds; r++)
        cr_assert_float_eq(x.r[r].v[INDIV_M_exposure_gini],
                           1 - (double)p.policy_params.slots / (double)wp.offers, 1e-9,
                           "round %d", r + 1);
    free(world);
}

/* The mass campaign sends the most popular offers whatever the model's popularity
 * weight (a trained model fits it: 0 would tie every offer, a negative one invert the
 * order). Compared through the offer each contact event of one round names: the first,
 * the same for everyone. */
Test(simulate, mass_campaign_ranks_by_popularity_not_by_the_models_weight) {
    indiv_world_params wp;
    world_params(&wp, 300);
    char *world = tu_world(dir, "massw.db", &wp, NULL);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_MASS, 1);
    static const double w_pop[] = {1.2, 0, -1.2};
    int64_t sum[3], distinct[3], first = q_int_at(world, "SELECT max(id) FROM events");
    char q_sum[256], q_n[256]; /* the contacts of the round, not the world's history */
    snprintf(q_sum, sizeof q_sum,
             "SELECT sum(offer_id) FROM (SELECT DISTINCT offer_id FROM events"
             " WHERE type = 4 AND id > %lld)", (long long)first);
    snprintf(q_n, sizeof q_n,
             "SELECT count(DISTINCT offer_id) FROM events WHERE type = 4 AND id > %lld",
             (long long)first);
    for (int k = 0; k < 3; k++) {
        indiv_model m;
        indiv_model_default(&m);
        m.weight[INDIV_TERM_POPULARITY] = w_pop[k];
        char name[32];
        snprintf(name, sizeof name, "mass-%d.db", k);
        char *path = tu_path(dir, name);
        run x = {0};
        indiv_error err = {0};
        cr_assert_eq(indiv_sim_run(world, path, &p, &m, NULL, NULL, collect, &x, &err), 0,
                     "%s", err.msg);
        sum[k] = q_int_at(path, q_sum);
        distinct[k] = q_int_at(path, q_n);
        free(path);
    }
    cr_assert_eq(distinct[0], 1, "%lld offers", /* a contact event names its first offer */
                 (long long)distinct[0]);
    for (int k = 1; k < 3; k++) {
        cr_assert_eq(distinct[k], distinct[0], "weight %g", w_pop[k]);
        cr_assert_eq(sum[k], sum[0], "weight %g: other offers", w_pop[k]);
    }
    free(world);
}

/* A world where patience is short (mean tolerance 2), so that exits are many. */
static char *fatigue_world(void) {
    indiv_world_params wp;
    world_params(&wp, 1500);
    wp.fatigue_mean = 2;
    return tu_world(dir, "fatigue.db", &wp, NULL);
}

Test(simulate, fatigue_exits_leave_at_the_stated_rate) {
    char *world = fatigue_world();
    static const double p_leave[] = {0.3, 0.8};
    for (size_t i = 0; i < 2; i++) {
        indiv_sim_params p;
        sim_params(&p, INDIV_SIM_RANDOM, 4);
        p.response.p_leave = p_leave[i];
        run x;
        char work[32];
        snprintf(work, sizeof work, "work%zu.db", i);
        simulate(world, work, &p, &x);
        double left = total(&x, INDIV_M_departures),
               unsub = total(&x, INDIV_M_unsubscribes);
        /* Each exit is a Bernoulli(p_leave) between leaving and unsubscribing. */
        cr_assert_gt(left + unsub, 300, "too few exits (%.0f) to test the rate",
                     left + unsub);
        char what[64];
        snprintf(what, sizeof what, "departures among exits, p_leave %.1f", p_leave[i]);
        assert_binomial(left, left + unsub, p_leave[i], what);
        /* Active consumers: the initial ones minus the departed. */
        cr_assert_float_eq(x.r[p.rounds - 1].v[INDIV_M_active], 1500 - left, EPS);
        /* Irrelevant contacts are what drives it (about one random contact in five). */
        cr_assert_gt(x.r[0].v[INDIV_M_irrelevant_share], 0);
    }
    free(world);
}

Test(simulate, random_offers_drive_more_exits_than_the_oracle) {
    char *world = fatigue_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_RANDOM, 4);
    run rnd, orc;
    simulate(world, "random.db", &p, &rnd);
    p.policy = INDIV_SIM_ORACLE;
    simulate(world, "oracle.db", &p, &orc);
    double er = total(&rnd, INDIV_M_departures) + total(&rnd, INDIV_M_unsubscribes);
    double eo = total(&orc, INDIV_M_departures) + total(&orc, INDIV_M_unsubscribes);
    /* Exit counts as Poisson: the difference has variance er + eo. */
    cr_assert_gt(er - eo, z_conf() * sqrt(er + eo), "random %.0f exits, oracle %.0f", er,
                 eo);
    /* And the oracle sent at least as many contacts, so it is not mere silence. */
    cr_assert_gt(total(&orc, INDIV_M_contacts), 0.5 * total(&rnd, INDIV_M_contacts));
    free(world);
}

Test(simulate, without_annoyance_nobody_exits) {
    char *world = fatigue_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_RANDOM, 4);
    p.response.annoyance_per_irrelevant = 0;
    p.response.annoyance_per_contact = 0;
    run x;
    simulate(world, "work.db", &p, &x);
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_eq(x.r[r].v[INDIV_M_unsubscribes], 0, "round %d", r + 1);
        cr_assert_eq(x.r[r].v[INDIV_M_departures], 0, "round %d", r + 1);
        cr_assert_eq(x.r[r].v[INDIV_M_active], 1500, "round %d", r + 1);
        /* Random contacts to everyone, some irrelevant, as in the tests above where
         * hundreds exit. */
        cr_assert_float_eq(x.r[r].v[INDIV_M_contacts], 1500, EPS, "round %d", r + 1);
        cr_assert_gt(x.r[r].v[INDIV_M_irrelevant_share], 0, "round %d", r + 1);
    }
    free(world);
}

Test(simulate, oracle_never_sends_an_irrelevant_contact) {
    indiv_world_params wp;
    world_params(&wp, 600);
    char *world = tu_world(dir, "w.db", &wp, NULL);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_ORACLE, 4);
    p.response.irrelevant_utility = 0.2; /* a demanding bar: many tastes fall below it */
    run orc, rnd;
    simulate(world, "oracle.db", &p, &orc);
    p.policy = INDIV_SIM_RANDOM;
    simulate(world, "random.db", &p, &rnd);
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_gt(orc.r[r].v[INDIV_M_contacts], 100, "round %d", r + 1);
        cr_assert_eq(orc.r[r].v[INDIV_M_irrelevant_share], 0, "round %d", r + 1);
        /* The metric does see irrelevant contacts when there are some. */
        cr_assert_gt(rnd.r[r].v[INDIV_M_irrelevant_share], 0.3, "round %d", r + 1);
    }
    double to[INDIV_SIM_NMETRICS], tr[INDIV_SIM_NMETRICS];
    indiv_sim_aggregate(orc.r, orc.n, to);
    indiv_sim_aggregate(rnd.r, rnd.n, tr);
    cr_assert_gt(to[INDIV_M_conversion_rate], tr[INDIV_M_conversion_rate]);
    free(world);
}

/* ---- consent ----------------------------------------------------------------------- */

Test(simulate, indiv_contacts_respect_contact_consent) {
    indiv_world_params wp;
    world_params(&wp, 700);
    wp.p_consent_contact = 0.6;
    wp.fatigue_mean = 2;
    char *world = tu_world(dir, "w.db", &wp, NULL);
    spoil_world(world);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 5);
    p.policy_params.threshold = 0.2;        /* more contacts ... */
    p.response.annoyance_per_contact = 1.5; /* ... and short patience: unsubscriptions */
    run x;
    simulate(world, "work.db", &p, &x);
    cr_assert_gt(total(&x, INDIV_M_contacts), 300);
    cr_assert_gt(total(&x, INDIV_M_unsubscribes), 10);
    char *work = tu_path(dir, "work.db");
    sqlite3 *db = sql_open(work);
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS w", world);
    sql_exec(db, sql);
    /* No contact to anyone not contactable at the start ... */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events e JOIN w.consumers c"
                           " ON c.id = e.consumer_id WHERE e.type = 4 AND"
                           " (c.consent_contact = 0 OR c.unsubscribed_ts IS NOT NULL"
                           "  OR (c.channels & 14) = 0)"),
                 0);
    /* ... nor on a channel they did not accept ... */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events e JOIN w.consumers c"
                           " ON c.id = e.consumer_id WHERE e.type = 4 AND"
                           " ((c.channels >> e.channel) & 1) = 0"),
                 0);
    /* ... nor at or after their unsubscription. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events e JOIN events u"
                           " ON u.consumer_id = e.consumer_id AND u.type = 8"
                           " WHERE e.type = 4 AND e.ts >= u.ts"),
                 0);
    /* Every unsubscription is in the log and withdraws the consent. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events WHERE type = 8"),
                 (int64_t)total(&x, INDIV_M_unsubscribes));
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events u JOIN consumers c ON c.id ="
                           " u.consumer_id WHERE u.type = 8 AND (c.consent_contact = 1"
                           " OR c.unsubscribed_ts IS NULL)"),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM events WHERE type = 4 AND ts >= (SELECT"
                           " min(ts) FROM events WHERE type = 4)"),
                 (int64_t)total(&x, INDIV_M_contacts));
    sqlite3_close(db);
    free(work);
    free(world);
}

/* ---- reproducibility and the world ------------------------------------------------- */

static void assert_same_rounds(const run *a, const run *b, const char *what) {
    cr_assert_eq(a->n, b->n, "%s", what);
    for (int r = 0; r < a->n; r++) {
        cr_assert_eq(a->r[r].round_start, b->r[r].round_start, "%s", what);
        cr_assert_eq(a->r[r].round_end, b->r[r].round_end, "%s", what);
        for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
            cr_assert(memcmp(&a->r[r].v[m], &b->r[r].v[m], sizeof(double)) == 0,
                      "%s: round %d %s %.17g != %.17g", what, r + 1,
                      indiv_sim_metric_name(m), a->r[r].v[m], b->r[r].v[m]);
    }
}

Test(simulate, same_seed_same_metrics_whatever_the_threads_and_another_seed_differs) {
    indiv_world_params wp;
    world_params(&wp, 500);
    wp.p_consent_contact = 0.7;
    char *world = tu_world(dir, "w.db", &wp, NULL);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 4);
    p.policy_params.serendipity = 0.5;
    p.threads = 2;
    run a, b, c, d;
    simulate(world, "a.db", &p, &a);
    simulate(world, "b.db", &p, &b);
    assert_same_rounds(&a, &b, "same seed");
    p.threads = 1;
    simulate(world, "c.db", &p, &c);
    assert_same_rounds(&a, &c, "one thread");
    /* The work databases too: identical content for the same parameters, and event
     * for event whatever the threads (the recorded parameters name the thread count,
     * so the whole content differs there by design). */
    char ha[17], hb[17];
    char *pa = tu_path(dir, "a.db"), *pb = tu_path(dir, "b.db"),
         *pc = tu_path(dir, "c.db");
    tu_content_hash(pa, ha);
    tu_content_hash(pb, hb);
    cr_assert_str_eq(ha, hb);
    sqlite3 *db = sql_open(pa);
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS c", pc);
    sql_exec(db, sql);
    static const char cols[] =
        "consumer_id, ts, offer_id, type, channel, quantity, value";
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM (SELECT %s FROM main.events EXCEPT SELECT %s"
             " FROM c.events)) + (SELECT count(*) FROM (SELECT %s FROM c.events EXCEPT"
             " SELECT %s FROM main.events))",
             cols, cols, cols, cols);
    cr_assert_eq(q_int(db, sql), 0, "the events differ with one thread");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM main.events"),
                 q_int(db, "SELECT count(*) FROM c.events"));
    sqlite3_close(db);
    p.seed = 4243;
    simulate(world, "d.db", &p, &d);
    int differs = 0;
    for (int r = 0; r < p.rounds; r++)
        differs |= memcmp(a.r[r].v, d.r[r].v, sizeof a.r[r].v) != 0;
    cr_assert(differs, "another seed gave the same metrics");
    free(pa);
    free(pb);
    free(pc);
    free(world);
}

Test(simulate, every_policy_leaves_the_world_unchanged) {
    indiv_world_params wp;
    world_params(&wp, 300);
    char *world = tu_world(dir, "w.db", &wp, NULL);
    char *copy = tu_path(dir, "copy.db");
    tu_run sh;
    cr_assert_eq(tu_sh(&sh, "cp '%s' '%s'", world, copy), 0);
    tu_run_free(&sh);
    char before[17], after[17];
    tu_content_hash(world, before);
    for (int pol = 0; pol < INDIV_SIM_POLICY_COUNT; pol++) {
        indiv_sim_params p;
        sim_params(&p, (indiv_sim_policy)pol, 2);
        run x;
        simulate(world, "work.db", &p, &x);
        tu_content_hash(world, after);
        cr_assert_str_eq(before, after, "%s changed the world",
                         indiv_sim_policy_name((indiv_sim_policy)pol));
        cr_assert(tu_same_file(world, copy), "%s changed the world file",
                  indiv_sim_policy_name((indiv_sim_policy)pol));
        cr_assert_gt(total(&x, INDIV_M_revenue), 0);
    }
    free(copy);
    free(world);
}

Test(simulate, the_world_itself_is_refused_as_work_database_under_any_name) {
    indiv_world_params wp;
    world_params(&wp, 100);
    char *world = tu_world(dir, "w.db", &wp, NULL);
    char before[17], after[17];
    tu_content_hash(world, before);
    char *alias = tu_path(dir, "./w.db"), *link = tu_path(dir, "link.db");
    cr_assert_eq(symlink(world, link), 0);
    const char *const works[] = {world, alias, link};
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_MASS, 2);
    indiv_model m;
    indiv_model_default(&m);
    for (size_t i = 0; i < 3; i++) {
        indiv_error err = {0};
        run x = {0};
        cr_assert_eq(
            indiv_sim_run(world, works[i], &p, &m, NULL, NULL, collect, &x, &err),
            INDIV_EINVAL, "%s accepted as the work database", works[i]);
        cr_assert(strstr(err.msg, "the world is never changed"), "%s", err.msg);
        cr_assert_eq(x.n, 0);
        struct stat st;
        cr_assert_eq(lstat(world, &st), 0, "%s: the world is gone", works[i]);
        tu_content_hash(world, after);
        cr_assert_str_eq(before, after, "%s changed the world", works[i]);
    }
    free(alias);
    free(link);
    free(world);
}

/* ---- refusals and the callback ----------------------------------------------------- */

Test(simulate, a_database_that_is_not_a_generated_world_is_refused) {
    char *empty = tu_path(dir, "empty.db"), *missing = tu_path(dir, "missing.db");
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(empty, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    indiv_eventlog_close(log);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 2);
    run x;
    cr_assert_eq(try_simulate(empty, "work.db", &p, &x, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "not a generated world"), "%s", err.msg);
    cr_assert_eq(x.n, 0);
    indiv_error_clear(&err);
    cr_assert_lt(try_simulate(missing, "work2.db", &p, &x, &err), 0);
    cr_assert(strstr(err.msg, "missing.db"), "%s", err.msg);
    cr_assert_eq(x.n, 0);
    struct stat st;
    cr_assert_neq(stat(missing, &st), 0, "a missing world was created");
    free(empty);
    free(missing);
}

Test(simulate, invalid_parameters_are_refused_before_anything_is_written) {
    indiv_world_params wp;
    world_params(&wp, 100);
    char *world = tu_world(dir, "w.db", &wp, NULL);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 2);
    p.response.p_leave = 1.5;
    run x;
    indiv_error err = {0};
    cr_assert_eq(try_simulate(world, "work.db", &p, &x, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "p_leave"), "%s", err.msg);
    char *work = tu_path(dir, "work.db");
    struct stat st;
    cr_assert_neq(stat(work, &st), 0, "work database written despite bad parameters");
    /* A bad model is refused too. */
    sim_params(&p, INDIV_SIM_INDIV, 2);
    indiv_model m;
    indiv_model_default(&m);
    m.weight[INDIV_TERM_AFFINITY] = NAN;
    indiv_error_clear(&err);
    cr_assert_lt(indiv_sim_run(world, work, &p, &m, NULL, NULL, collect, &x, &err), 0);
    cr_assert(strstr(err.msg, "affinity"), "%s", err.msg);
    cr_assert_neq(stat(work, &st), 0, "work database written despite a bad model");
    free(work);
    free(world);
}

Test(simulate, the_round_callback_can_stop_the_run) {
    indiv_world_params wp;
    world_params(&wp, 150);
    char *world = tu_world(dir, "w.db", &wp, NULL);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_RANDOM, 5);
    indiv_model m;
    indiv_model_default(&m);
    char *work = tu_path(dir, "work.db");
    run x = {.stop_after = 2};
    indiv_error err = {0};
    cr_assert_eq(indiv_sim_run(world, work, &p, &m, NULL, NULL, collect, &x, &err), 7);
    cr_assert_eq(x.n, 2);
    cr_assert(strstr(err.msg, "round 2"), "%s", err.msg);
    /* Rounds follow each other without gaps, round_days apart. */
    cr_assert_eq(x.r[0].round_end, x.r[1].round_start);
    cr_assert_eq(x.r[1].round_end - x.r[1].round_start, 7 * DAY_S);
    cr_assert_eq(x.r[0].round_start % DAY_S, 0, "the simulation starts at midnight");
    free(work);
    free(world);
}

/* ---- both sides of divergence (issue 11 item 4) ------------------------------------ */

/* Engagement alone reveals: with no purchase possible (conversion_max 0), opened
 * divergent offers of latent categories reveal them at rate reveal_on_engagement; at 0
 * nothing is revealed. Every revelation then counts as engaged. */
Test(simulate, engagement_without_purchase_reveals_at_the_stated_probability) {
    char *world = latent_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 3);
    p.response.conversion_max = 0;
    p.policy_params.serendipity = 1;
    p.response.reveal_on_engagement = 0;
    run none, all;
    simulate(world, "r0.db", &p, &none);
    cr_assert_eq(total(&none, INDIV_M_latent_revealed), 0);
    cr_assert_gt(total(&none, INDIV_M_divergent_hits), 50, "not vacuous");
    p.response.reveal_on_engagement = 1;
    simulate(world, "r1.db", &p, &all);
    double rev = total(&all, INDIV_M_latent_revealed);
    cr_assert_gt(rev, 0);
    cr_assert_float_eq(total(&all, INDIV_M_latent_revealed_engaged), rev, EPS);
    cr_assert_eq(total(&all, INDIV_M_conversions), 0);
    /* Each revelation needs an opened offer of a latent category, divergent or not (an
     * engine's own top offers can fall in a latent category too): never more than the
     * offers sent. */
    cr_assert_leq(rev, total(&all, INDIV_M_contacts) * p.policy_params.slots);
    free(world);
}

/* An unwanted divergent offer annoys: with every other source of annoyance off, nobody
 * exits when it costs nothing, and people exit when it costs more than their tolerance.
 */
Test(simulate, unwanted_divergent_offers_add_annoyance) {
    char *world = latent_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 3);
    p.policy_params.serendipity = 1;
    p.response.annoyance_per_contact = 0;
    p.response.annoyance_per_irrelevant = 0;
    p.response.annoyance_per_unwanted_divergent = 0;
    run free_, costly;
    simulate(world, "a0.db", &p, &free_);
    cr_assert_gt(total(&free_, INDIV_M_unwanted_divergent), 20, "not vacuous");
    cr_assert_eq(total(&free_, INDIV_M_unsubscribes) + total(&free_, INDIV_M_departures),
                 0);
    p.response.annoyance_per_unwanted_divergent = 1e3; /* above any tolerance */
    simulate(world, "a1.db", &p, &costly);
    cr_assert_gt(
        total(&costly, INDIV_M_unsubscribes) + total(&costly, INDIV_M_departures), 0);
    free(world);
}

/* The perfect-aim ceiling: aimed at the truth, divergent offers hit latent tastes far
 * more often than the engine's own aim (rates compared with their binomial CIs). */
Test(simulate, perfect_aim_hits_latent_tastes_more_often) {
    char *world = latent_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 2);
    p.policy_params.serendipity = 1;
    run own, perfect;
    simulate(world, "own.db", &p, &own);
    p.response.perfect_aim = 1;
    simulate(world, "perfect.db", &p, &perfect);
    double n1 = total(&own, INDIV_M_divergent_offers),
           n2 = total(&perfect, INDIV_M_divergent_offers);
    double r1 = total(&own, INDIV_M_divergent_hits) / n1,
           r2 = total(&perfect, INDIV_M_divergent_hits) / n2;
    double half = z_conf() * sqrt(r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2);
    cr_assert_gt(r2 - r1, half, "own %.3f (n %.0f), perfect %.3f (n %.0f)", r1, n1, r2,
                 n2);
    free(world);
}

/* Homogenisation as Chaney, Stewart & Engelhardt 2018 measure it: consumers paired by
 * similar true tastes consume more alike than random pairs (under the oracle, which
 * serves true tastes); both Jaccard indices stay in [0, 1]. */
Test(simulate, taste_matched_pairs_consume_more_alike_than_random_pairs) {
    char *world = latent_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_ORACLE, 3);
    run x;
    simulate(world, "work.db", &p, &x);
    for (int r = 0; r < p.rounds; r++) {
        double m = x.r[r].v[INDIV_M_jaccard_matched], a = x.r[r].v[INDIV_M_jaccard_items];
        cr_assert(m >= 0 && m <= 1 && a >= 0 && a <= 1, "round %d: %g %g", r + 1, m, a);
    }
    const double *last = x.r[p.rounds - 1].v;
    cr_assert_gt(last[INDIV_M_jaccard_matched], 1.5 * last[INDIV_M_jaccard_items],
                 "matched %g, random %g", last[INDIV_M_jaccard_matched],
                 last[INDIV_M_jaccard_items]);
    free(world);
}

/* The oracle breaks ties among a category's offers at random: the first offers of its
 * contacts are spread over many offers, not the top offer of each category. */
Test(simulate, oracle_breaks_ties_at_random) {
    char *world = latent_world();
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_ORACLE, 2);
    run x;
    simulate(world, "work.db", &p, &x);
    char *work = tu_path(dir, "work.db");
    /* type 4: contact */
    int64_t distinct =
        q_int_at(work, "SELECT count(DISTINCT offer_id) FROM events WHERE type = 4");
    cr_assert_gt(distinct, 3 * 8, "%lld distinct first offers over 8 categories",
                 (long long)distinct);
    free(work);
    free(world);
}

/* ---- the engine learns in the loop (issue 11 item 3) --------------------------------- */

Test(simulate, model_spec_parses_trained_and_every) {
    indiv_sim_params p;
    indiv_sim_params_init(&p);
    indiv_error err = {0};
    cr_assert_eq(indiv_sim_model_spec("models/default.json", &p, &err), 0);
    cr_assert_eq(indiv_sim_model_spec("trainedx", &p, &err), 0);
    cr_assert_eq(p.trained, 0);
    cr_assert_eq(indiv_sim_model_spec("trained", &p, &err), 1);
    cr_assert(p.trained == 1 && p.retrain_every == 0);
    cr_assert_eq(indiv_sim_model_spec("trained:every=3", &p, &err), 1);
    cr_assert_eq(p.retrain_every, 3);
    static const char *const bad[] = {"trained:every=", "trained:every=-1",
                                      "trained:every=2.5", "trained:each=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        indiv_sim_params q = p;
        cr_assert_eq(indiv_sim_model_spec(bad[i], &q, &err), INDIV_EINVAL, "%s", bad[i]);
        cr_assert_eq(q.retrain_every, 3, "%s changed the parameters", bad[i]);
    }
}

/* Without a threshold given, the engine decides at the recommended τ of the model it
 * trained (relevance any, as decide does with a model file): the same rounds as with
 * that τ and relevance any given; a given threshold, or a given relevance best (the
 * calibration is for any), keeps the policy's own. */
Test(simulate, trained_model_decides_at_its_recommended_threshold_unless_one_is_given) {
    indiv_world_params wp;
    world_params(&wp, 600);
    indiv_world_summary sum;
    char *world = tu_world(dir, "tau.db", &wp, &sum);
    indiv_sim_params p, q;
    sim_params(&p, INDIV_SIM_INDIV, 3);
    p.trained = 1;
    p.train_dims = 4;
    p.train_iterations = 3;
    q = p;
    const char *rule = indiv_sim_threshold_rule(&p);
    cr_assert(rule && strstr(rule, "recommended threshold of the model"));
    run a, b, c, d;
    simulate(world, "a.db", &p, &a);
    double tau = a.r[0].v[INDIV_M_threshold];
    cr_assert(tau > 0 && tau < 1 && fabs(tau - 0.3) > 1e-6, "τ %g: not the model's", tau);
    for (int r = 1; r < p.rounds; r++) /* trained once: one τ */
        cr_assert_float_eq(a.r[r].v[INDIV_M_threshold], tau, EPS, "round %d", r + 1);
    char text[64];
    snprintf(text, sizeof text, "%.17g", tau);
    indiv_sim_params given = q;
    cr_assert_eq(indiv_sim_params_set(&given, "threshold", text, NULL), 0);
    cr_assert_eq(indiv_sim_params_set(&given, "relevance", "any", NULL), 0);
    cr_assert(given.threshold_set && given.relevance_set);
    cr_assert_null(indiv_sim_threshold_rule(&given), "a threshold was given");
    simulate(world, "b.db", &given, &b);
    for (int r = 0; r < p.rounds; r++)
        cr_assert_eq(memcmp(a.r[r].v, b.r[r].v, sizeof a.r[r].v), 0, "round %d", r + 1);
    indiv_sim_params best = q;
    cr_assert_eq(indiv_sim_params_set(&best, "relevance", "best", NULL), 0);
    rule = indiv_sim_threshold_rule(&best);
    cr_assert(rule && strstr(rule, "relevance best was given"));
    simulate(world, "c.db", &best, &c);
    indiv_sim_params fixed = q;
    cr_assert_eq(indiv_sim_params_set(&fixed, "threshold", "0.2385", NULL), 0);
    simulate(world, "d.db", &fixed, &d);
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_float_eq(c.r[r].v[INDIV_M_threshold], 0.3, EPS, "the policy default");
        cr_assert_float_eq(d.r[r].v[INDIV_M_threshold], 0.2385, EPS, "the given τ");
    }
    p.trained = 0; /* the given model: its τ as configured, no rule to state */
    cr_assert_null(indiv_sim_threshold_rule(&p));
    free(world);
}

/* Trained before round 1 and every R = 2 rounds: the model changes at rounds 1, 3, 5
 * only, decisions differ from those of the given model, and two runs with the same
 * seed give the same metrics to the byte. */
Test(simulate, retraining_every_r_rounds_changes_the_model_only_then_reproducibly) {
    indiv_world_params wp;
    world_params(&wp, 400);
    indiv_world_summary sum;
    char *world = tu_world(dir, "trained.db", &wp, &sum);
    indiv_sim_params p;
    sim_params(&p, INDIV_SIM_INDIV, 5);
    p.trained = 1;
    p.retrain_every = 2;
    p.train_dims = 4;
    p.train_iterations = 3;
    run a, b, given;
    simulate(world, "a.db", &p, &a);
    p.threads = 1; /* the thread count changes nothing either */
    simulate(world, "b.db", &p, &b);
    static const double version[5] = {1, 1, 2, 2, 3};
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_float_eq(a.r[r].v[INDIV_M_model_version], version[r], EPS, "round %d",
                           r + 1);
        cr_assert_eq(memcmp(a.r[r].v, b.r[r].v, sizeof a.r[r].v), 0, "round %d", r + 1);
        cr_assert_eq(a.r[r].seconds[INDIV_SIM_T_TRAIN] > 0,
                     version[r] != (r ? version[r - 1] : 0),
                     "round %d: training time outside a training round", r + 1);
    }
    p.trained = 0;
    simulate(world, "given.db", &p, &given);
    int differ = 0;
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_float_eq(given.r[r].v[INDIV_M_model_version], 0, EPS);
        differ |= memcmp(a.r[r].v, given.r[r].v, INDIV_M_model_version * sizeof(double));
    }
    cr_assert(differ, "the trained model decided exactly as the given one");
    p.trained = 1;
    p.rounds = 3;
    p.policy = INDIV_SIM_ORACLE; /* never reads the model: never trains */
    run oracle;
    simulate(world, "oracle.db", &p, &oracle);
    for (int r = 0; r < p.rounds; r++) {
        cr_assert_float_eq(oracle.r[r].v[INDIV_M_model_version], 0, EPS);
        cr_assert_float_eq(oracle.r[r].seconds[INDIV_SIM_T_TRAIN], 0, EPS);
    }
    free(world);
}
