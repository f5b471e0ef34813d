/*
 * test_experiment.c — sweeps without a simulator: grid parsing (ranges without drift,
 * lists, every error naming its part), cell order, the aggregation table against
 * indiv_sim_aggregate, confidence intervals against values computed by hand, the exact
 * number format, and the sweep runner with a fake job function: sorted results,
 * summary values, resume after an interruption or a torn line (byte-identical files,
 * finished jobs never run again), worker count independence, refusals, shards and the
 * figures' data (Pareto frontier).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "indiv/experiment.h"
#include "testutil.h"

#define EPS 1e-9

/* Index of the result column of a metric. */
static size_t col_named(const char *name) {
    for (size_t c = 0; c < indiv_sweep_columns(); c++)
        if (strcmp(indiv_sweep_column_name(c), name) == 0)
            return c;
    cr_assert_fail("no column %s", name);
    return 0;
}

/* ---- grid -------------------------------------------------------------------------- */

static indiv_sweep_grid *grid_of(const char *const *specs, size_t n) {
    indiv_sweep_grid *g = indiv_sweep_grid_new();
    cr_assert_not_null(g);
    for (size_t i = 0; i < n; i++) {
        indiv_error err = {0};
        cr_assert_eq(indiv_sweep_grid_add(g, specs[i], &err), 0, "%s: %s", specs[i],
                     err.msg);
    }
    return g;
}

static void assert_values(const indiv_sweep_grid *g, size_t axis, const char *const *want,
                          size_t n) {
    cr_assert_eq(indiv_sweep_grid_values(g, axis), n, "axis %zu has %zu values", axis,
                 indiv_sweep_grid_values(g, axis));
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(indiv_sweep_grid_value(g, axis, i), want[i], "value %zu", i);
}

Test(experiment, range_includes_hi_without_floating_drift) {
    static const char *const specs[] = {"threshold=0:0.4:0.05", "p_leave=-0.3:0.3:0.1",
                                        "serendipity=0:1:0.3", "rounds=2:2:1"};
    indiv_sweep_grid *g = grid_of(specs, 4);
    /* 0.05·3 is 0.15000000000000002 and −0.3 + 3·0.1 is −5.6e-17 in binary floating
     * point: the values are printed as a person typed them. */
    static const char *const t[] = {"0",    "0.05", "0.1",  "0.15", "0.2",
                                    "0.25", "0.3",  "0.35", "0.4"};
    static const char *const p[] = {"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"};
    static const char *const s[] = {"0", "0.3", "0.6", "0.9"}; /* 1 is not a step away */
    static const char *const r[] = {"2"};
    assert_values(g, 0, t, 9);
    assert_values(g, 1, p, 7);
    assert_values(g, 2, s, 4);
    assert_values(g, 3, r, 1);
    cr_assert_eq(indiv_sweep_grid_cells(g), 9 * 7 * 4);
    cr_assert_str_eq(indiv_sweep_grid_axis(g, 1), "p_leave");
    indiv_sweep_grid_free(g);
}

Test(experiment, list_keeps_the_values_in_order) {
    static const char *const specs[] = {"policy=indiv,mass,random",
                                        "divergence=standalone"};
    indiv_sweep_grid *g = grid_of(specs, 2);
    static const char *const v[] = {"indiv", "mass", "random"};
    assert_values(g, 0, v, 3);
    cr_assert_str_eq(indiv_sweep_grid_value(g, 1, 0), "standalone");
    cr_assert_eq(indiv_sweep_grid_cells(g), 3);
    indiv_sweep_grid_free(g);
}

Test(experiment, grid_errors_name_the_part_and_leave_the_grid_unchanged) {
    static const char *const cases[][2] = {
        {"threshold", "grid 'threshold': expected name=lo:hi:step"},
        {"=0:1:0.5", "expected name=lo:hi:step"},
        {"thr eshold=1", "expected name=lo:hi:step"},
        {"threshold=0:1", "grid 'threshold=0:1': a range is lo:hi:step"},
        {"threshold=0:1:0.1:4", "step '0.1:4' is not a number"},
        {"threshold=0:x:0.1", "hi 'x' is not a number"},
        {"threshold=a:1:0.1", "lo 'a' is not a number"},
        {"threshold=0:1:inf", "step 'inf' is not a number"},
        {"threshold=0:1:0", "step must be > 0"},
        {"threshold=0:1:-0.1", "step must be > 0"},
        {"threshold=1:0:0.1", "hi is below lo"},
        {"threshold=0:1:0.00001", "more than 10000 values"},
        {"x=1:1.0000000001:0.00000000001", "value '1' appears twice"},
        {"policy=indiv,,mass", "value 2 '' is empty"},
        {"policy=", "value 1 '' is empty"},
        {"policy=a b", "value 1 'a b' is empty, too long or has characters"},
        {"policy=mass,mass", "value 'mass' appears twice"},
        {"seed=1,2", "seeds are not a grid axis"},
        {"round-days=1,2", "axis 'round_days' is already in the grid"},
        {"big=0:9999:1", "more than 1000000 cells"},
    };
    static const char *const base[] = {"round_days=7,14", "other=0:199:1"};
    indiv_sweep_grid *g = grid_of(base, 2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_error err = {0};
        cr_assert_eq(indiv_sweep_grid_add(g, cases[i][0], &err), INDIV_EINVAL, "%s",
                     cases[i][0]);
        cr_assert(strstr(err.msg, cases[i][1]), "%s: '%s' lacks '%s'", cases[i][0],
                  err.msg, cases[i][1]);
        cr_assert_eq(indiv_sweep_grid_axes(g), 2, "%s changed the grid", cases[i][0]);
        cr_assert_eq(indiv_sweep_grid_cells(g), 400);
    }
    indiv_sweep_grid_free(g);
}

Test(experiment, cells_are_row_major_with_the_last_axis_fastest) {
    static const char *const specs[] = {"threshold=0.1,0.2,0.3", "serendipity=0,0.5"};
    indiv_sweep_grid *g = grid_of(specs, 2);
    static const size_t want[6][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 1}};
    cr_assert_eq(indiv_sweep_grid_cells(g), 6);
    for (size_t c = 0; c < 6; c++)
        for (size_t a = 0; a < 2; a++)
            cr_assert_eq(indiv_sweep_cell_index(g, c, a), want[c][a], "cell %zu axis %zu",
                         c, a);
    char label[64];
    indiv_sweep_cell_label(g, 3, label, sizeof label);
    cr_assert_str_eq(label, "threshold=0.2 serendipity=0.5");
    indiv_sweep_cell_label(g, 3, label, 12);
    cr_assert_str_eq(label, "threshold=0", "truncated, NUL-terminated");
    indiv_sim_params p;
    indiv_sim_params_init(&p);
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_cell_params(g, 5, &p, &err), 0, "%s", err.msg);
    cr_assert_float_eq(p.policy_params.threshold, 0.3, EPS);
    cr_assert_float_eq(p.policy_params.serendipity, 0.5, EPS);
    indiv_sweep_grid_free(g);
}

Test(experiment, grid_check_names_the_axis_value_or_cell_at_fault) {
    static const char *const cases[][2] = {
        {"threshold=0,1.5",
         "grid axis 'threshold', value '1.5': threshold = '1.5' is not"},
        {"bogus=1,2",
         "grid axis 'bogus', value '1': unknown simulation parameter 'bogus'"},
        {"policy=indiv,nope", "value 'nope': policy 'nope' is unknown"},
        {"rounds=0:2:1", "grid axis 'rounds', value '0'"},
    };
    indiv_sim_params base;
    indiv_sim_params_init(&base);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_sweep_grid *g = grid_of(&cases[i][0], 1);
        indiv_error err = {0};
        cr_assert_eq(indiv_sweep_grid_check(g, &base, &err), INDIV_EINVAL, "%s",
                     cases[i][0]);
        cr_assert(strstr(err.msg, cases[i][1]), "'%s' lacks '%s'", err.msg, cases[i][1]);
        indiv_sweep_grid_free(g);
    }
    static const char *const ok[] = {"threshold=0:0.4:0.05", "serendipity=0:0.3:0.05",
                                     "policy=indiv,mass"};
    indiv_sweep_grid *g = grid_of(ok, 3);
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_grid_check(g, &base, &err), 0, "%s", err.msg);
    indiv_sweep_grid_free(g);
}

/* ---- columns ----------------------------------------------------------------------- */

Test(experiment, every_metric_is_one_column) {
    cr_assert_eq(indiv_sweep_columns(), INDIV_SIM_NMETRICS);
    int seen[INDIV_SIM_NMETRICS] = {0};
    for (size_t c = 0; c < indiv_sweep_columns(); c++) {
        int m = indiv_sweep_column_metric(c);
        cr_assert(m >= 0 && m < INDIV_SIM_NMETRICS);
        seen[m]++;
        cr_assert_str_eq(indiv_sweep_column_name(c), indiv_sim_metric_name(m));
    }
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        cr_assert_eq(seen[m], 1, "metric %s appears %d times", indiv_sim_metric_name(m),
                     seen[m]);
}

/* Round r's value of metric k: non-trivial, different in every round. */
static double round_value(int k, int r) {
    return k == INDIV_M_contacts ? 40.0 + 13.0 * r - 3.0 * (r == 2)
                                 : 0.37 * (k + 1) + 0.113 * r * r + 0.01 * k * r;
}

Test(experiment, aggregation_is_the_rule_of_indiv_sim_aggregate) {
    enum { R = 4 };
    indiv_round_metrics rounds[R];
    indiv_sweep_acc acc;
    indiv_sweep_acc_init(&acc);
    for (int r = 0; r < R; r++) {
        memset(&rounds[r], 0, sizeof rounds[r]);
        rounds[r].round = r + 1;
        for (int k = 0; k < INDIV_SIM_NMETRICS; k++)
            rounds[r].v[k] = round_value(k, r + 1);
        rounds[r].v[INDIV_M_conversion_rate] =
            rounds[r].v[INDIV_M_conversions] / rounds[r].v[INDIV_M_contacts];
        indiv_sweep_acc_add(&acc, &rounds[r]);
    }
    double want[INDIV_SIM_NMETRICS], row[INDIV_SWEEP_COLUMNS_MAX];
    indiv_sim_aggregate(rounds, R, want);
    indiv_sweep_acc_row(&acc, row);
    for (size_t c = 0; c < indiv_sweep_columns(); c++) {
        int m = indiv_sweep_column_metric(c);
        cr_assert(fabs(row[c] - want[m]) <= 1e-12 * fabs(want[m]) + 1e-15,
                  "%s (%s): %.17g, indiv_sim_aggregate %.17g", indiv_sweep_column_name(c),
                  indiv_sweep_agg_name(indiv_sweep_column_agg(c)), row[c], want[m]);
    }
    /* spot checks by hand: contacts are summed, active is the last round's */
    cr_assert_float_eq(row[col_named("contacts")], 53 + 63 + 79 + 92, EPS);
    cr_assert_float_eq(row[col_named("active")], round_value(INDIV_M_active, 4), EPS);
}

Test(experiment, no_contact_gives_zero_shares) {
    indiv_sweep_acc acc;
    indiv_round_metrics m = {0};
    indiv_sweep_acc_init(&acc);
    m.v[INDIV_M_irrelevant_share] = 0.5; /* meaningless without contacts */
    indiv_sweep_acc_add(&acc, &m);
    double row[INDIV_SWEEP_COLUMNS_MAX];
    indiv_sweep_acc_row(&acc, row);
    cr_assert_eq(row[col_named("irrelevant_share")], 0);
    cr_assert_eq(row[col_named("conversion_rate")], 0);
}

/* ---- statistics -------------------------------------------------------------------- */

Test(experiment, confidence_interval_matches_the_hand_computation) {
    /* x = 2.1, 2.5, 3.3, 2.9: mean 10.8 / 4 = 2.7; squared deviations 0.36, 0.04, 0.36,
     * 0.04 sum to 0.8, s² = 0.8 / 3, s = 0.5163977795; t_{0.975, 3} = 3.182446305
     * (Student t table), half = 3.182446305 · 0.5163977795 / √4 = 0.8217041027;
     * at 90%: t_{0.95, 3} = 2.353363435, half = 0.6076358260. */
    static const double x[] = {2.1, 2.5, 3.3, 2.9};
    indiv_sweep_stat st;
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_stat_compute(x, 4, 0.95, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.n, 4);
    cr_assert_float_eq(st.mean, 2.7, 1e-12);
    cr_assert_float_eq(st.sd, 0.5163977795, 1e-9);
    cr_assert_float_eq(st.half, 0.8217041027, 1e-8);
    cr_assert_eq(indiv_sweep_stat_compute(x, 4, 0.90, &st, &err), 0);
    cr_assert_float_eq(st.half, 0.6076358260, 1e-8);
    /* two runs 10.5 and 11.25: s = 0.75 / √2 = 0.5303300859, t_{0.975, 1} = 12.70620474,
     * half = 12.70620474 · 0.5303300859 / √2 = 4.764826777 */
    static const double y[] = {10.5, 11.25};
    cr_assert_eq(indiv_sweep_stat_compute(y, 2, 0.95, &st, &err), 0);
    cr_assert_float_eq(st.mean, 10.875, 1e-12);
    cr_assert_float_eq(st.half, 4.764826777, 1e-8);
}

Test(experiment, one_run_has_no_interval_and_none_is_an_error) {
    static const double x[] = {3.25};
    indiv_sweep_stat st;
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_stat_compute(x, 1, 0.95, &st, &err), 0);
    cr_assert_float_eq(st.mean, 3.25, 1e-15);
    cr_assert(isnan(st.sd) && isnan(st.half), "sd and CI are undefined for n = 1");
    cr_assert_eq(indiv_sweep_stat_compute(x, 0, 0.95, &st, &err), INDIV_EINVAL);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_sweep_stat_compute(x, 1, 1.0, &st, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "level 1 is not in (0, 1)"), "%s", err.msg);
}

Test(experiment, numbers_are_printed_shortest_and_exact) {
    static const struct {
        double x;
        const char *text;
    } cases[] = {{0.1, "0.1"},
                 {2.7, "2.7"},
                 {4811.259999999998, "4811.259999999998"},
                 {1.0 / 3.0, "0.3333333333333333"},
                 {-0.0, "0"},
                 {0.1 + 0.2, "0.30000000000000004"}, /* 17 digits needed */
                 {123456789012345678.0, "1.2345678901234568e+17"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_sweep_format_double(cases[i].x, buf);
        cr_assert_str_eq(buf, cases[i].text);
        cr_assert_eq(strtod(buf, NULL), cases[i].x, "%s reads back", buf);
    }
    indiv_sweep_format_double(NAN, buf);
    cr_assert_str_eq(buf, "nan");
    indiv_sweep_format_double(-INFINITY, buf);
    cr_assert_str_eq(buf, "-inf");
}

/* ---- the runner, with a fake simulation -------------------------------------------- */

/* A fake job: `rounds` rounds whose metrics depend on the cell's parameters, the seed
 * and the round, or tables per cell / per seed when given. It records every call and
 * can fail from a given call on (an interruption). */
typedef struct fake {
    pthread_mutex_t mu;
    int calls, fail_from; /* fail_from < 0: never */
    int bad_seed;         /* a job's seed was not base + index (checked by the test) */
    int rounds;
    int cell_calls[64];
    size_t order[64];              /* [call] = cell · 10 + seed index, first 64 calls */
    const double *revenue_by_seed; /* [seed index], 1 round */
    const double (*irr_rev)[2];    /* [cell] = {irrelevant_share, revenue}, 1 round */
} fake;

static void fake_init(fake *f, int rounds) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->fail_from = -1;
    f->rounds = rounds;
}

static double fake_value(const indiv_sweep_job *j, int k, int r) {
    const indiv_sim_params *p = j->params;
    return (k + 1) * 1.5 + 10 * p->policy_params.threshold * r +
           3.7 * p->policy_params.serendipity + 0.25 * (double)p->seed + 0.125 * r;
}

static void fake_round(const fake *f, const indiv_sweep_job *j, int r,
                       indiv_round_metrics *m) {
    memset(m, 0, sizeof *m);
    m->round = r;
    for (int k = 0; k < INDIV_SIM_NMETRICS; k++)
        m->v[k] = fake_value(j, k, r);
    if (f->revenue_by_seed)
        m->v[INDIV_M_revenue] = f->revenue_by_seed[j->seed_index];
    if (f->irr_rev) {
        m->v[INDIV_M_contacts] = 8; /* a power of 2: share · 8 / 8 is exact */
        m->v[INDIV_M_irrelevant_share] = f->irr_rev[j->cell][0];
        m->v[INDIV_M_revenue] = f->irr_rev[j->cell][1];
    }
}

static int fake_run(void *ctx, const indiv_sweep_job *j, indiv_round_fn on_round,
                    void *rctx, indiv_error *err) {
    fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    int call = f->calls++;
    f->cell_calls[j->cell % 64]++;
    f->order[call % 64] = j->cell * 10 + (size_t)j->seed_index;
    pthread_mutex_unlock(&f->mu);
    /* no Criterion assertion here: this runs on the sweep's worker threads */
    if (j->params->seed != 100 + (uint64_t)j->seed_index)
        f->bad_seed = 1;
    if (f->fail_from >= 0 && call >= f->fail_from)
        return indiv_error_set(err, INDIV_EIO, "simulated crash");
    FILE *w = fopen(j->work_db, "w"); /* the sweep must remove it */
    if (w)
        fclose(w);
    for (int r = 1; r <= f->rounds; r++) {
        indiv_round_metrics m;
        fake_round(f, j, r, &m);
        if (on_round(rctx, &m))
            return 1;
    }
    return 0;
}

static char *dir, *world;

static void setup(void) {
    dir = tu_tmpdir();
    world = tu_path(dir, "world.db");
    tu_write(world, "a world's bytes");
}

static void teardown(void) {
    free(world);
    tu_rmtree(dir);
}

TestSuite(sweep, .init = setup, .fini = teardown);

static void opts_for(indiv_sweep_opts *o, const char *out, fake *f, int seeds, int jobs) {
    indiv_sweep_opts_init(o);
    o->world_db = world;
    o->dir = out;
    o->seeds = seeds;
    o->base_seed = 100;
    o->jobs = jobs;
    o->base.rounds = f->rounds;
    o->run = fake_run;
    o->run_ctx = f;
}

static const char *const grid2x2[] = {"threshold=0,0.5", "serendipity=0:0.1:0.1"};

/* Runs a sweep of grid2x2 (3 seeds, base 100) into dir/name with the fake. */
static int sweep_into(const char *name, fake *f, int jobs, indiv_sweep_report *rep,
                      indiv_error *err) {
    indiv_sweep_grid *g = grid_of(grid2x2, 2);
    char *out = tu_path(dir, name);
    indiv_sweep_opts o;
    opts_for(&o, out, f, 3, jobs);
    int rc = indiv_sweep_run(g, &o, NULL, NULL, rep, err);
    free(out);
    indiv_sweep_grid_free(g);
    return rc;
}

static char *read_in(const char *sub, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    return tu_read(path, NULL);
}

static int count_lines(const char *text) {
    int n = 0;
    for (const char *p = text; p && *p; p++)
        n += *p == '\n';
    return n;
}

static void assert_same_files(const char *a, const char *b) {
    static const char *const files[] = {"results.csv", "summary.csv", "figures/cells.dat",
                                        "figures/figures.gp",
                                        "figures/frontier_revenue_irrelevant.dat"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/%s/%s", dir, a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s/%s", dir, b, files[i]);
        cr_assert(tu_same_file(pa, pb), "%s differs between %s and %s", files[i], a, b);
    }
}

Test(sweep, results_are_sorted_by_cell_then_seed_with_the_job_values) {
    fake f;
    fake_init(&f, 2);
    indiv_sweep_report rep;
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &f, 2, &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.complete);
    cr_assert_eq(rep.jobs_selected, 12);
    cr_assert_eq(rep.jobs_run, 12);
    cr_assert_eq(f.calls, 12);
    cr_assert_not(f.bad_seed, "seed s of every cell is base + s");
    char *res = read_in("s", "results.csv");
    cr_assert_not_null(res);
    cr_assert_eq(count_lines(res), 13);
    cr_assert(strncmp(res, "cell,seed,threshold,serendipity,contacts,conversions,", 52) ==
                  0,
              "%.80s", res);
    /* cell 3 = threshold 0.5, serendipity 0.1; seed 102: contacts (k = 0) summed over
     * rounds 1, 2: Σ 1.5 + 5r + 0.37 + 25.5 + 0.125r = 2·27.37 + 15.375 = 70.115 */
    const char *row = strstr(res, "\n3,102,0.5,0.1,");
    cr_assert_not_null(row, "%s", res);
    cr_assert_float_eq(strtod(row + strlen("\n3,102,0.5,0.1,"), NULL), 70.115, 1e-9);
    const char *prev = res;
    static const char *const order[] = {"\n0,100,", "\n0,101,", "\n0,102,", "\n1,100,",
                                        "\n2,100,", "\n3,101,", "\n3,102,"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *at = strstr(res, order[i]);
        cr_assert(at && at > prev, "%s out of order", order[i] + 1);
        prev = at;
    }
    free(res);
    char *work = tu_path(dir, "s/work");
    tu_run r;
    tu_sh(&r, "ls -A '%s' | wc -l", work);
    cr_assert_str_eq(r.out, "0\n", "work databases are removed");
    tu_run_free(&r);
    free(work);
    indiv_sweep_report_clear(&rep);
}

Test(sweep, summary_holds_mean_sd_and_ci_of_each_cell) {
    /* revenue of the 4 seeds of every cell: 2.1, 2.5, 3.3, 2.9, one round: the hand
     * computation above (mean 2.7, sd 0.5163977795, half 0.8217041027) */
    static const double revenue[] = {2.1, 2.5, 3.3, 2.9};
    fake f;
    fake_init(&f, 1);
    f.revenue_by_seed = revenue;
    indiv_sweep_grid *g = grid_of(grid2x2, 1);
    char *out = tu_path(dir, "s");
    indiv_sweep_opts o;
    opts_for(&o, out, &f, 4, 2);
    indiv_sweep_report rep;
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, &rep, &err), 0, "%s", err.msg);
    const indiv_sweep_stat *st = &rep.stat[1 * rep.columns + col_named("revenue")];
    cr_assert_eq(st->n, 4);
    cr_assert_float_eq(st->mean, 2.7, 1e-12);
    cr_assert_float_eq(st->half, 0.8217041027, 1e-8);
    char *sum = read_in("s", "summary.csv");
    static const char header[] =
        "cell,threshold,metric,n,mean,sd,ci95_half,ci95_low,ci95_high\n";
    cr_assert(strncmp(sum, header, strlen(header)) == 0, "%.80s", sum);
    const char *line = strstr(sum, "\n1,0.5,revenue,4,");
    cr_assert_not_null(line, "%s", sum);
    double v[5];
    cr_assert_eq(sscanf(line, "\n1,0.5,revenue,4,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1],
                        &v[2], &v[3], &v[4]),
                 5, "%.120s", line);
    static const double want[] = {2.7, 0.5163977795, 0.8217041027, 1.8782958973,
                                  3.5217041027};
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(v[i], want[i], 1e-8, "field %d", i);
    cr_assert_eq(count_lines(sum), 1 + 2 * (int)indiv_sweep_columns());
    free(sum);
    free(out);
    indiv_sweep_grid_free(g);
    indiv_sweep_report_clear(&rep);
}

Test(sweep, one_seed_leaves_sd_and_ci_empty) {
    fake f;
    fake_init(&f, 1);
    indiv_sweep_grid *g = grid_of(grid2x2, 1);
    char *out = tu_path(dir, "s");
    indiv_sweep_opts o;
    opts_for(&o, out, &f, 1, 1);
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    char *sum = read_in("s", "summary.csv");
    /* contacts of cell 0 (threshold 0, default serendipity 0.1), seed 100, one round:
     * 1.5 + 3.7 · 0.1 + 0.25 · 100 + 0.125 */
    cr_assert(strstr(sum, "\n0,0,contacts,1,26.995,,,,\n"), "%s", sum);
    free(sum);
    free(out);
    indiv_sweep_grid_free(g);
}

Test(sweep, interrupted_sweep_resumes_without_redoing_jobs_and_gives_identical_files) {
    fake whole, cut, rest;
    fake_init(&whole, 3);
    fake_init(&cut, 3);
    fake_init(&rest, 3);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("whole", &whole, 2, NULL, &err), 0, "%s", err.msg);
    cut.fail_from = 5; /* jobs from the 6th call on crash */
    indiv_sweep_report rep;
    cr_assert_eq(sweep_into("cut", &cut, 2, &rep, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, "), seed 1") && strstr(err.msg, "simulated crash"), "%s",
              err.msg);
    cr_assert_not(rep.complete);
    char *results = read_in("cut", "results.csv"),
         *partial = read_in("cut", "results.partial.csv");
    cr_assert_null(results, "no results.csv before every job is done");
    /* calls 0-4 succeed; a job still running on the other worker when call 5 fails is
     * stopped at its next round and not recorded, so 4 or 5 jobs are done */
    int done = count_lines(partial) - 1;
    cr_assert(done == 4 || done == 5, "the jobs before the crash are recorded:\n%s",
              partial);
    free(partial);
    indiv_error_clear(&err);
    cr_assert_eq(sweep_into("cut", &rest, 2, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(rest.calls, 12 - done, "finished jobs are never run again");
    cr_assert_eq(rep.jobs_before, (size_t)done);
    cr_assert_eq(rep.jobs_run, (size_t)(12 - done));
    assert_same_files("whole", "cut");
    indiv_sweep_report_clear(&rep);
}

Test(sweep, torn_last_line_is_cut_and_its_job_rerun) {
    fake a, b;
    fake_init(&a, 2);
    fake_init(&b, 2);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &a, 2, NULL, &err), 0, "%s", err.msg);
    char *ref = read_in("s", "results.csv");
    char *pp = tu_path(dir, "s/results.partial.csv"), *rp = tu_path(dir, "s/results.csv");
    size_t len;
    char *partial = tu_read(pp, &len);
    cr_assert_eq(truncate(pp, (off_t)(len - 20)), 0); /* a write cut by a crash */
    cr_assert_eq(unlink(rp), 0);
    cr_assert_eq(sweep_into("s", &b, 1, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(b.calls, 1, "only the torn job runs again");
    char *again = read_in("s", "results.csv"), *partial2 = tu_read(pp, NULL);
    cr_assert_str_eq(again, ref);
    cr_assert_eq(count_lines(partial2), 13, "the torn bytes are gone:\n%s", partial2);
    free(ref);
    free(again);
    free(partial);
    free(partial2);
    free(pp);
    free(rp);
}

Test(sweep, files_do_not_depend_on_the_number_of_workers) {
    fake one, four;
    fake_init(&one, 2);
    fake_init(&four, 2);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("one", &one, 1, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(sweep_into("four", &four, 4, NULL, &err), 0, "%s", err.msg);
    assert_same_files("one", "four");
}

Test(sweep, a_complete_sweep_reruns_nothing) {
    fake a, b;
    fake_init(&a, 1);
    fake_init(&b, 1);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &a, 2, NULL, &err), 0, "%s", err.msg);
    char *ref = read_in("s", "summary.csv");
    indiv_sweep_report rep;
    cr_assert_eq(sweep_into("s", &b, 2, &rep, &err), 0, "%s", err.msg);
    cr_assert_eq(b.calls, 0);
    cr_assert_eq(rep.jobs_before, 12);
    char *again = read_in("s", "summary.csv");
    cr_assert_str_eq(again, ref);
    free(ref);
    free(again);
    indiv_sweep_report_clear(&rep);
}

static void progress_rec(void *ctx, const char *stage, int64_t done, int64_t total) {
    int64_t *last = ctx; /* jobs done, jobs total, rounds done, rounds total */
    int i = strcmp(stage, "jobs") == 0 ? 0 : 2;
    cr_assert(i == 0 || strcmp(stage, "rounds") == 0, "stage %s", stage);
    cr_assert(done <= total && done >= last[i], "%s %lld/%lld", stage, (long long)done,
              (long long)total);
    last[i] = done;
    last[i + 1] = total;
}

Test(sweep, progress_counts_jobs_and_rounds_up_to_their_totals) {
    fake f;
    fake_init(&f, 3);
    indiv_sweep_grid *g = grid_of(grid2x2, 2);
    char *out = tu_path(dir, "s");
    indiv_sweep_opts o;
    opts_for(&o, out, &f, 3, 2);
    int64_t last[4] = {0};
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_run(g, &o, progress_rec, last, NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(last[0], 12);
    cr_assert_eq(last[1], 12);
    cr_assert_eq(last[2], 36);
    cr_assert_eq(last[3], 36);
    free(out);
    indiv_sweep_grid_free(g);
}

Test(sweep, another_sweep_in_the_directory_is_refused) {
    fake f;
    fake_init(&f, 1);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &f, 2, NULL, &err), 0, "%s", err.msg);
    indiv_sweep_grid *g = grid_of(grid2x2, 2);
    char *out = tu_path(dir, "s");
    indiv_sweep_opts o;
    static const char *const want[] = {"its number of seeds (--seeds) differs",
                                       "its simulation parameter 'rounds' (was 1, now 4) "
                                       "differs",
                                       "its world database (size or content) differs",
                                       "its grid differs"};
    for (int i = 0; i < 4; i++) {
        opts_for(&o, out, &f, i == 0 ? 4 : 3, 2);
        if (i == 1)
            o.base.rounds = 4;
        tu_write(world, i == 2 ? "another world" : "a world's bytes");
        indiv_sweep_grid *h = i == 3 ? grid_of(grid2x2, 1) : g;
        indiv_error_clear(&err);
        cr_assert_eq(indiv_sweep_run(h, &o, NULL, NULL, NULL, &err), INDIV_EINVAL);
        cr_assert(strstr(err.msg, "this directory holds another sweep") &&
                      strstr(err.msg, want[i]),
                  "'%s' lacks '%s'", err.msg, want[i]);
        if (h != g)
            indiv_sweep_grid_free(h);
    }
    cr_assert_eq(f.calls, 12, "a refused sweep runs nothing");
    free(out);
    indiv_sweep_grid_free(g);
}

Test(sweep, a_second_run_in_the_same_directory_is_refused_while_one_runs) {
    fake f;
    fake_init(&f, 1);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &f, 2, NULL, &err), 0, "%s", err.msg);
    char *lock = tu_path(dir, "s/sweep.lock");
    int fd = open(lock, O_RDWR); /* as the running sweep holds it */
    cr_assert(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    cr_assert_eq(sweep_into("s", &f, 2, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "another indiv sweep is running in this directory"), "%s",
              err.msg);
    close(fd);
    indiv_error_clear(&err);
    cr_assert_eq(sweep_into("s", &f, 2, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(f.calls, 12, "nothing ran twice");
    free(lock);
}

Test(sweep, decision_threads_do_not_make_another_sweep) {
    fake f;
    fake_init(&f, 1);
    indiv_sweep_grid *g = grid_of(grid2x2, 2);
    char *out = tu_path(dir, "s");
    indiv_sweep_opts o;
    indiv_error err = {0};
    for (int threads = 1; threads <= 2; threads++) {
        opts_for(&o, out, &f, 3, 2);
        o.base.threads = threads; /* decisions do not depend on it (decide.h) */
        cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(f.calls, 12);
    free(out);
    indiv_sweep_grid_free(g);
}

Test(sweep, a_directory_that_is_not_a_sweep_is_refused) {
    fake f;
    fake_init(&f, 1);
    char *other = tu_path(dir, "other");
    char *file = tu_path(other, "notes.txt");
    cr_assert_eq(mkdir(other, 0777), 0);
    tu_write(file, "mine");
    indiv_error err = {0};
    cr_assert_eq(sweep_into("other", &f, 2, NULL, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "exists and is not a sweep directory (no sweep.json)"),
              "%s", err.msg);
    indiv_error_clear(&err);
    char *missing = tu_path(dir, "nope.db");
    indiv_sweep_grid *g = grid_of(grid2x2, 2);
    char *out = tu_path(dir, "never");
    indiv_sweep_opts o;
    opts_for(&o, out, &f, 2, 2);
    o.world_db = missing;
    cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, NULL, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, "nope.db: cannot read the world database"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0, "nothing is created for a missing world");
    cr_assert_eq(f.calls, 0);
    free(other);
    free(file);
    free(missing);
    free(out);
    indiv_sweep_grid_free(g);
}

Test(sweep, a_corrupt_partial_line_is_an_error_naming_the_line) {
    fake f;
    fake_init(&f, 1);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &f, 2, NULL, &err), 0, "%s", err.msg);
    char *pp = tu_path(dir, "s/results.partial.csv");
    char *text = tu_read(pp, NULL);
    char fields[64];
    snprintf(fields, sizeof fields, "fewer fields, expected %zu",
             4 + indiv_sweep_columns());
    const struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\n2,101,0.5,0,", "\n2,107,0.5,0,", "seed '107' is not one of this sweep's"},
        {"\n2,101,0.5,0,", "\n9,101,0.5,0,", "cell '9' is not a cell of this grid"},
        {"\n2,101,0.5,0,", "\n2,101,0.4,0,",
         "threshold '0.4' is not the value of cell 2"},
        {"\n2,101,0.5,0,", "\n2,101,0.5,0,x", "contacts 'x"},
        {"\n2,101,0.5,0,", "\n2,101,0.5,", fields},
        {"cell,seed,", "cell,seeds,", "not this sweep's header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(text, cases[i].from);
        cr_assert_not_null(at, "%s", cases[i].from);
        char *bad = malloc(strlen(text) + 16);
        size_t k = (size_t)(at - text);
        memcpy(bad, text, k);
        strcpy(bad + k, cases[i].to);
        strcat(bad, at + strlen(cases[i].from));
        /* lines are in completion order: find the number of the changed one */
        int lineno = at == text ? 1 : 2;
        for (const char *p = text; p < at; p++)
            lineno += *p == '\n';
        char want[160];
        snprintf(want, sizeof want, "results.partial.csv:%d: %s", lineno, cases[i].want);
        tu_write(pp, bad);
        indiv_error_clear(&err);
        int rc = sweep_into("s", &f, 2, NULL, &err);
        cr_assert_eq(rc, INDIV_EFORMAT, "%s: %s", cases[i].to, err.msg);
        cr_assert(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
        free(bad);
    }
    free(text);
    free(pp);
}

Test(sweep, shards_run_their_cells_and_together_complete_the_sweep) {
    fake whole, s0, s1;
    fake_init(&whole, 2);
    fake_init(&s0, 2);
    fake_init(&s1, 2);
    indiv_error err = {0};
    cr_assert_eq(sweep_into("whole", &whole, 2, NULL, &err), 0, "%s", err.msg);
    indiv_sweep_grid *g = grid_of(grid2x2, 2);
    char *out = tu_path(dir, "sharded");
    indiv_sweep_opts o;
    fake *f[2] = {&s0, &s1};
    for (int i = 0; i < 2; i++) {
        opts_for(&o, out, f[i], 3, 2);
        o.shard_index = i;
        o.shard_count = 2;
        indiv_sweep_report rep;
        cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, &rep, &err), 0, "%s", err.msg);
        cr_assert_eq(rep.jobs_selected, 6);
        cr_assert_eq(f[i]->calls, 6);
        for (int c = 0; c < 4; c++)
            cr_assert_eq(f[i]->cell_calls[c], c % 2 == i ? 3 : 0, "shard %d cell %d", i,
                         c);
        indiv_sweep_report_clear(&rep);
    }
    assert_same_files("whole", "sharded");
    free(out);
    indiv_sweep_grid_free(g);
}

/* Jobs start longest first (rounds, and trainings counted as SWEEP_TRAIN_ROUNDS = 15
 * rounds each), ties in (cell, seed) order; the files stay in cell order. */
Test(sweep, the_longest_jobs_start_first) {
    static const char *const axes[] = {"rounds=2,6,4", "retrain_every=0,1"};
    indiv_sweep_grid *g = grid_of(axes, 2);
    fake f;
    fake_init(&f, 1);
    char *out = tu_path(dir, "longest");
    indiv_sweep_opts o;
    opts_for(&o, out, &f, 2, 1);
    o.base.trained = 1;
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    /* cost of cell (rounds, trainings): 0 (2, 1) 17, 1 (2, 2) 32, 2 (6, 1) 21,
     * 3 (6, 6) 96, 4 (4, 1) 19, 5 (4, 4) 64 */
    static const size_t want[] = {30, 31, 50, 51, 10, 11, 20, 21, 40, 41, 0, 1};
    cr_assert_eq(f.calls, 12);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(f.order[i], want[i], "call %d ran cell %zu seed %zu, not cell %zu "
                     "seed %zu", i, f.order[i] / 10, f.order[i] % 10, want[i] / 10,
                     want[i] % 10);
    char *res = read_in("longest", "results.csv");
    cr_assert(res && strstr(res, "\n0,100,") < strstr(res, "\n5,101,"), "%s", res);
    free(res);
    free(out);
    indiv_sweep_grid_free(g);
}

Test(sweep, figures_draw_heatmaps_and_the_pareto_frontier) {
    /* (irrelevant_share, revenue) per cell: cell 2 is beaten by cell 0 (more irrelevant,
     * less revenue), cell 3 by cell 1 (more irrelevant, same revenue); the frontier is
     * cells 0 and 1, in increasing irrelevant share. */
    static const double irr_rev[4][2] = {{0.1, 10}, {0.2, 12}, {0.15, 9}, {0.3, 12}};
    fake f;
    fake_init(&f, 1);
    f.irr_rev = irr_rev;
    indiv_sweep_report rep;
    indiv_error err = {0};
    cr_assert_eq(sweep_into("s", &f, 2, &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.heatmaps, "%s", rep.heatmap_note);
    cr_assert_eq(rep.figures, 8);
    char *front = read_in("s", "figures/frontier_revenue_irrelevant.dat");
    cr_assert_str_eq(front,
                     "# cell label irrelevant_share revenue (the Pareto frontier of "
                     "cells.dat)\n0 \"0/0\" 0.1 10\n1 \"0/0.1\" 0.2 12\n");
    char *gp = read_in("s", "figures/figures.gp");
    static const char *const want[] = {
        "set output 'heat_revenue.svg'", "set output 'heat_revenue.png'",
        "set output 'heat_losses.png'", "set output 'frontier_conversions_diversity.svg'",
        "set terminal pngcairo"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(gp, want[i]), "figures.gp lacks %s", want[i]);
    char *cells = read_in("s", "figures/cells.dat");
    cr_assert_eq(count_lines(cells), 5);
    cr_assert(strstr(cells, "\n3 \"0.5/0.1\" 1 1 "), "%s", cells);
    free(front);
    free(gp);
    free(cells);
    indiv_sweep_report_clear(&rep);
}

Test(sweep, heatmaps_need_threshold_and_serendipity_axes) {
    fake f;
    fake_init(&f, 1);
    static const char *const specs[] = {"threshold=0,0.5", "p_leave=0.1,0.2"};
    indiv_sweep_grid *g = grid_of(specs, 2);
    char *out = tu_path(dir, "s");
    indiv_sweep_opts o;
    opts_for(&o, out, &f, 2, 2);
    indiv_sweep_report rep;
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_run(g, &o, NULL, NULL, &rep, &err), 0, "%s", err.msg);
    cr_assert_not(rep.heatmaps);
    cr_assert_str_eq(rep.heatmap_note,
                     "the grid does not have both a threshold and a serendipity axis");
    cr_assert_eq(rep.figures, 2);
    char *gp = read_in("s", "figures/figures.gp");
    cr_assert_null(strstr(gp, "heat_"), "no heatmap in the script");
    free(gp);
    free(out);
    indiv_sweep_grid_free(g);
    indiv_sweep_report_clear(&rep);
}
