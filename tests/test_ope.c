/*
 * test_ope.c — off-policy evaluation (ope.h) checked against simulated truth.
 *
 * For each case and each of SEEDS seeds, on one small generated world: a one-round
 * simulation under the logging policy writes its decisions (indiv_sim_params
 * .log_decisions); indiv_ope_run estimates the target policy's value from that log and
 * the outcomes in the work database; a one-round simulation of the target policy on the
 * same world and seed gives the truth (its round's contacts, conversions and revenue
 * from contacts, per consumer). Cases: ε 0.1 → 0.3; τ 0.2 → 0.1 logged with a 5 %
 * `ungated` control group; and the same τ change without a control group, which must be
 * refused for lack of support.
 *
 * Coverage tolerance: over SEEDS = 20 seeds the truth must lie inside the 95 % interval
 * at least MIN_COVERED times (16 of 20). A correct 95 % interval covers 16 or more of 20
 * with probability 0.984 (binomial); 80 % is "roughly nominal" for an interval that also
 * carries the truth's own simulation noise (common random numbers make most of it
 * shared). And SNIPS must vary less than IPS across the seeds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/ope.h"
#include "indiv/sim.h"
#include "indiv/simulate.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define SEEDS       20
#define MIN_COVERED 16
#define CONSUMERS   300
#define REPLICATES  400
#define DAY_S       INT64_C(86400)

static char *dir, *world;

static void setup(void) {
    dir = tu_tmpdir();
    indiv_world_params wp;
    indiv_world_params_init(&wp);
    wp.consumers = CONSUMERS;
    wp.offers = 60;
    wp.categories = 8;
    wp.days = 120;
    wp.seed = 20261204;
    wp.p_consent_contact = 1.0;
    indiv_world_summary sum;
    world = tu_world(dir, "world.db", &wp, &sum);
}

static void teardown(void) {
    free(world);
    tu_rmtree(dir);
}

TestSuite(ope, .init = setup, .fini = teardown);

/* No Criterion assertion in here: it would jump out of the library's loop. */
static int keep_round(void *ctx, const indiv_round_metrics *m) {
    *(indiv_round_metrics *)ctx = *m;
    return 0;
}

/* One round of policy p into work; the round's metrics into *m. */
static void sim_round(const indiv_sim_params *p, const char *work,
                      indiv_round_metrics *m) {
    indiv_model model;
    indiv_model_default(&model);
    indiv_error err = {0};
    cr_assert_eq(indiv_sim_run(world, work, p, &model, NULL, NULL, keep_round, m, &err),
                 0, "%s", err.msg);
}

static void sim_params(indiv_sim_params *p, uint64_t seed) {
    indiv_sim_params_init(p);
    p->rounds = 1;
    p->seed = seed;
    p->threads = 1;
}

/* The decision time of the logged run: the first line's as_of. */
static int64_t logged_as_of(const char *path) {
    char *text = tu_read(path, NULL), *at = strstr(text, "\"as_of\":\"");
    cr_assert_not_null(at);
    char iso[32] = {0};
    memcpy(iso, at + 9, 20);
    int64_t t;
    cr_assert_eq(indiv_time_parse(iso, &t), 0, "%s", iso);
    free(text);
    return t;
}

typedef struct outcome {
    int rc;
    indiv_ope_result est;
    double truth[INDIV_V_COUNT];
    char msg[INDIV_ERROR_MSG_MAX];
} outcome;

/* Logs `logging` on seed, estimates `target`, simulates `target` for the truth. */
static void one_seed(const indiv_policy_params *logging, const indiv_policy_params *target,
                     uint64_t seed, outcome *o) {
    indiv_sim_params p;
    indiv_round_metrics m;
    char *work = tu_path(dir, "log.db"), *dec = tu_path(dir, "log.jsonl");
    char *truth_db = tu_path(dir, "truth.db");
    sim_params(&p, seed);
    p.policy_params = *logging;
    p.log_decisions = dec;
    sim_round(&p, work, &m);

    indiv_eventlog *log;
    indiv_error err = {0};
    indiv_model model;
    indiv_model_default(&model);
    cr_assert_eq(indiv_eventlog_open(work, 0, &log, &err), 0, "%s", err.msg);
    indiv_ope_params op;
    indiv_ope_params_init(&op);
    op.target = *target;
    op.until = logged_as_of(dec) + 60 * DAY_S;
    op.replicates = REPLICATES;
    op.seed = seed;
    o->rc = indiv_ope_run(log, &model, dec, &op, &o->est, &err);
    snprintf(o->msg, sizeof o->msg, "%s", err.msg);
    indiv_eventlog_close(log);

    sim_params(&p, seed);
    p.policy_params = *target;
    sim_round(&p, truth_db, &m);
    double n = (double)o->est.n;
    o->truth[INDIV_V_CONVERSIONS] = m.v[INDIV_M_conversions] / n;
    o->truth[INDIV_V_REVENUE] = m.v[INDIV_M_revenue_contacts] / n;
    o->truth[INDIV_V_CONTACTS] = m.v[INDIV_M_contacts] / n;
    free(work);
    free(dec);
    free(truth_db);
}

static int inside(const indiv_ope_interval *iv, double x) {
    return iv->lo <= x + 1e-12 && x - 1e-12 <= iv->hi;
}

/* Runs SEEDS seeds and checks coverage of every estimator and value, and SNIPS's
 * smaller spread. */
static void coverage(const indiv_policy_params *logging,
                     const indiv_policy_params *target, const char *name) {
    int covered[3][INDIV_V_COUNT] = {{0}};
    double sum[2][INDIV_V_COUNT] = {{0}}, sum2[2][INDIV_V_COUNT] = {{0}};
    int verbose = getenv("INDIV_OPE_VERBOSE") != NULL;
    for (int k = 0; k < SEEDS; k++) {
        outcome o;
        one_seed(logging, target, (uint64_t)(1000 + k), &o);
        cr_assert_eq(o.rc, 0, "%s, seed %d: %s", name, k, o.msg);
        for (int v = 0; v < INDIV_V_COUNT; v++) {
            covered[0][v] += inside(&o.est.ips[v], o.truth[v]);
            covered[1][v] += inside(&o.est.snips[v], o.truth[v]);
            covered[2][v] += inside(&o.est.dr[v], o.truth[v]);
            double e[2] = {o.est.ips[v].value - o.truth[v],
                           o.est.snips[v].value - o.truth[v]};
            for (int j = 0; j < 2; j++) {
                sum[j][v] += e[j];
                sum2[j][v] += e[j] * e[j];
            }
            if (verbose)
                fprintf(stderr,
                        "%s seed %d %s truth %.4f ips %.4f [%.4f %.4f] snips %.4f "
                        "[%.4f %.4f] dr %.4f [%.4f %.4f] ess %.1f\n",
                        name, k, indiv_ope_value_name(v), o.truth[v], o.est.ips[v].value,
                        o.est.ips[v].lo, o.est.ips[v].hi, o.est.snips[v].value,
                        o.est.snips[v].lo, o.est.snips[v].hi, o.est.dr[v].value,
                        o.est.dr[v].lo, o.est.dr[v].hi, o.est.ess);
        }
    }
    static const char *const est[3] = {"IPS", "SNIPS", "DR"};
    for (int e = 0; e < 3; e++)
        for (int v = 0; v < INDIV_V_COUNT; v++)
            cr_expect_geq(covered[e][v], MIN_COVERED, "%s: %s %s covered %d of %d", name,
                          est[e], indiv_ope_value_name(v), covered[e][v], SEEDS);
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        double var[2];
        for (int j = 0; j < 2; j++)
            var[j] = sum2[j][v] / SEEDS - (sum[j][v] / SEEDS) * (sum[j][v] / SEEDS);
        /* equal when every weight is 1 (IPS and SNIPS coincide): a rounding margin */
        cr_expect_leq(var[1], var[0] * (1 + 1e-9) + 1e-15,
                      "%s %s: SNIPS variance %g, IPS %g", name, indiv_ope_value_name(v),
                      var[1], var[0]);
    }
}

Test(ope, serendipity_from_0_1_to_0_3_is_covered_at_the_nominal_rate, .timeout = 300) {
    indiv_policy_params lo, hi;
    indiv_policy_params_init(&lo);
    lo.serendipity = 0.1;
    hi = lo;
    hi.serendipity = 0.3;
    coverage(&lo, &hi, "serendipity 0.1 -> 0.3");
}

Test(ope, threshold_from_0_2_to_0_1_with_a_control_group_is_covered, .timeout = 300) {
    indiv_policy_params lo, hi;
    indiv_policy_params_init(&lo);
    lo.threshold = 0.2;
    lo.slots = 1; /* under `any`, P(buys) of one offer: spread around τ in this world */
    lo.control_share = 0.05;
    lo.control = INDIV_CONTROL_UNGATED;
    hi = lo;
    hi.threshold = 0.1;
    hi.control_share = 0;
    coverage(&lo, &hi, "threshold 0.2 -> 0.1");
}

Test(ope, a_lower_threshold_without_a_control_group_is_refused_for_lack_of_support) {
    indiv_policy_params lo, hi;
    indiv_policy_params_init(&lo);
    lo.threshold = 0.2;
    lo.slots = 1;
    hi = lo;
    hi.threshold = 0.1;
    outcome o;
    one_seed(&lo, &hi, 7, &o);
    cr_assert_eq(o.rc, INDIV_EINVAL, "%d: %s", o.rc, o.msg);
    cr_assert(strstr(o.msg, "no support"), "%s", o.msg);
    cr_assert(strstr(o.msg, "--control-share"), "%s", o.msg);
    /* ... while the same log supports keeping its own policy: every weight 1 (up to the
     * 6 significant digits the propensities are logged with), IPS the logged value. */
    one_seed(&lo, &lo, 7, &o);
    cr_assert_eq(o.rc, 0, "%s", o.msg);
    cr_assert_float_eq(o.est.mean_weight, 1, 1e-5, "mean weight %.12g", o.est.mean_weight);
    cr_assert_float_eq(o.est.ess, (double)o.est.n, 1e-5 * (double)o.est.n);
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        cr_assert_float_eq(o.est.ips[v].value, o.est.logged[v], 1e-5 * o.truth[v] + 1e-12);
        cr_assert_float_eq(o.est.ips[v].value, o.truth[v], 1e-5 * o.truth[v] + 1e-12,
                           "%s", indiv_ope_value_name(v));
    }
}

/* ---- the estimators on hand-computed samples ---------------------------------------- */

static indiv_ope_sample sample(double w, double r, double dr) {
    indiv_ope_sample s = {w, {r, 10 * r, r > 0}, {dr, 10 * dr, dr}, 0};
    return s;
}

Test(ope, estimators_match_their_formulas) {
    /* w = 0.5, 2, 1.25, 0.25; r = 1, 0, 2, 4; DR terms 0.7, 0.1, 1.9, 0.3 */
    indiv_ope_sample s[4] = {sample(0.5, 1, 0.7), sample(2, 0, 0.1),
                             sample(1.25, 2, 1.9), sample(0.25, 4, 0.3)};
    indiv_ope_result r;
    indiv_error err = {0};
    cr_assert_eq(indiv_ope_estimate(s, 4, 200, 5, 2, &r, &err), 0, "%s", err.msg);
    double swr = 0.5 * 1 + 2 * 0 + 1.25 * 2 + 0.25 * 4, sw = 0.5 + 2 + 1.25 + 0.25;
    cr_assert_float_eq(r.ips[INDIV_V_CONVERSIONS].value, swr / 4, 1e-12);
    cr_assert_float_eq(r.snips[INDIV_V_CONVERSIONS].value, swr / sw, 1e-12);
    cr_assert_float_eq(r.dr[INDIV_V_CONVERSIONS].value, (0.7 + 0.1 + 1.9 + 0.3) / 4,
                       1e-12);
    cr_assert_float_eq(r.ips[INDIV_V_REVENUE].value, 10 * swr / 4, 1e-12);
    cr_assert_float_eq(r.logged[INDIV_V_CONVERSIONS], 7.0 / 4, 1e-12);
    cr_assert_float_eq(r.ess, sw * sw / (0.25 + 4 + 1.5625 + 0.0625), 1e-12);
    cr_assert_float_eq(r.mean_weight, sw / 4, 1e-12);
    cr_assert_float_eq(r.max_weight, 2, 1e-12);
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        cr_assert_leq(r.ips[v].lo, r.ips[v].hi);
        cr_assert_leq(r.snips[v].lo, r.snips[v].hi);
    }
}

Test(ope, bootstrap_does_not_depend_on_threads_and_depends_on_its_seed) {
    enum { N = 3000 };
    indiv_ope_sample *s = malloc(N * sizeof *s);
    for (int i = 0; i < N; i++)
        s[i] = sample(0.5 + (i % 7) * 0.25, (i % 11) == 0, 0.05 + 0.001 * (i % 13));
    indiv_ope_result a, b, c;
    cr_assert_eq(indiv_ope_estimate(s, N, 301, 9, 1, &a, NULL), 0);
    cr_assert_eq(indiv_ope_estimate(s, N, 301, 9, 3, &b, NULL), 0);
    cr_assert_eq(indiv_ope_estimate(s, N, 301, 10, 3, &c, NULL), 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "thread count changed the result");
    cr_assert_neq(a.ips[0].lo, c.ips[0].lo);
    /* The interval of a mean of N draws: about ±1.96 sd/√N around the estimate. */
    double m = a.ips[0].value, sd = 0;
    for (int i = 0; i < N; i++)
        sd += (s[i].w * s[i].r[0] - m) * (s[i].w * s[i].r[0] - m);
    sd = sqrt(sd / (N - 1) / N);
    cr_assert_float_eq(a.ips[0].hi - a.ips[0].lo, 2 * 1.96 * sd, 0.25 * 2 * 1.96 * sd,
                       "width %g, normal %g", a.ips[0].hi - a.ips[0].lo, 2 * 1.96 * sd);
    free(s);
}

Test(ope, estimate_refuses_no_sample_and_no_replicate) {
    indiv_ope_sample s = sample(1, 1, 1);
    indiv_ope_result r;
    indiv_error err = {0};
    cr_assert_eq(indiv_ope_estimate(&s, 0, 10, 1, 1, &r, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "no logged decision"), "%s", err.msg);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_ope_estimate(&s, 1, 0, 1, 1, &r, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "replicates"), "%s", err.msg);
}
