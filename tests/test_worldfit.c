/*
 * test_worldfit.c — statistics of a purchase log and the new-category adoption lift
 * (worldfit.h), on small generated worlds: counts against SQL on the same database, the
 * lift at taste_locality 0 (independent tastes: 1 within its 95 % interval) and above
 * (clearly above 1, rising with rho), ρ = 0 being the independent model draw for draw,
 * and the error paths.
 *
 * Worlds have a few thousand consumers in 20 categories: enough pairs that the lift's
 * interval is narrow (the tests check its width, so a vacuous interval cannot pass),
 * small enough for ASan.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/eventlog.h"
#include "indiv/sim.h"
#include "indiv/worldfit.h"
#include "testutil.h"

static char *dir;

static void setup(void) {
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(worldfit, .init = setup, .fini = teardown);

static void lift_params(indiv_world_params *p, double rho) {
    indiv_world_params_init(p);
    p->consumers = 2500;
    p->offers = 60;
    p->categories = 20;
    p->taste_groups = 5;
    p->days = 240;
    p->interval_median_days = 20;
    p->browse_views_per_week = 0;
    p->views_per_purchase = 0;
    p->taste_locality = rho;
    p->seed = 7031;
}

static void measure(const char *path, indiv_log_stats *s) {
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_worldfit_measure(log, NULL, s, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
}

static int64_t q_int(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

Test(worldfit, counts_match_sql_on_the_same_database) {
    indiv_world_params p;
    lift_params(&p, 0);
    p.consumers = 300;
    char *path = tu_world(dir, "w.db", &p, NULL);
    indiv_log_stats s;
    measure(path, &s);
    cr_assert_eq(s.consumers,
                 q_int(path, "SELECT count(DISTINCT consumer_id) FROM events "
                             "WHERE type = 2"));
    cr_assert_eq(s.lines, q_int(path, "SELECT count(*) FROM events WHERE type = 2"));
    cr_assert_eq(s.orders, q_int(path, "SELECT count(*) FROM (SELECT DISTINCT "
                                       "consumer_id, ts FROM events WHERE type = 2)"));
    cr_assert_float_eq(s.orders_mean, (double)s.orders / (double)s.consumers, 1e-12);
    cr_assert_float_eq(s.basket_mean, (double)s.lines / (double)s.orders, 1e-12);
    double hours = 0, days = 0;
    for (int h = 0; h < INDIV_HOURS; h++)
        hours += s.hour[h];
    for (int d = 0; d < INDIV_WEEKDAYS; d++)
        days += s.weekday[d];
    cr_assert_float_eq(hours, 1.0, 1e-9);
    cr_assert_float_eq(days, 1.0, 1e-9);
    cr_assert_float_eq(s.channel[INDIV_CH_WEB], 1.0, 1e-12, "generated orders are web");
    free(path);
}

Test(worldfit, lift_is_one_within_its_interval_when_tastes_are_independent) {
    indiv_world_params p;
    lift_params(&p, 0);
    char *path = tu_world(dir, "w.db", &p, NULL);
    indiv_log_stats s;
    measure(path, &s);
    const indiv_lift *l = &s.lift;
    cr_assert(l->ci_lo <= 1 && 1 <= l->ci_hi, "lift %g [%g, %g] at rho 0", l->lift,
              l->ci_lo, l->ci_hi);
    cr_assert_lt(l->ci_hi / l->ci_lo, 1.5, "interval too wide to test anything: [%g, %g]",
                 l->ci_lo, l->ci_hi);
    cr_assert_gt(l->pairs_near, l->pairs / 3);
    free(path);
}

Test(worldfit, lift_rises_with_taste_locality) {
    double prev = 0;
    const double rho[] = {0, 0.3, 0.7};
    for (size_t i = 0; i < 3; i++) {
        indiv_world_params p;
        lift_params(&p, rho[i]);
        char name[32];
        snprintf(name, sizeof name, "w%zu.db", i);
        char *path = tu_world(dir, name, &p, NULL);
        indiv_log_stats s;
        measure(path, &s);
        cr_assert_gt(s.lift.lift, prev, "rho %g: lift %g not above %g", rho[i],
                     s.lift.lift, prev);
        if (rho[i] > 0)
            cr_assert_gt(s.lift.ci_lo, 1.0, "rho %g: lift %g [%g, %g]", rho[i],
                         s.lift.lift, s.lift.ci_lo, s.lift.ci_hi);
        prev = s.lift.lift;
        free(path);
    }
}

Test(worldfit, measure_refuses_a_log_without_purchases) {
    char *path = tu_path(dir, "empty.db");
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0);
    indiv_log_stats s;
    cr_assert_eq(indiv_worldfit_measure(log, NULL, &s, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "0 consumers with purchases"), "%s", err.msg);
    cr_assert_eq(s.consumers, 0);
    indiv_eventlog_close(log);
    free(path);
}

/* A row within its tolerance is ok, one just past it is not; rows that scale with the
 * size are never judged; relative tolerances are shares of the real value. */
Test(worldfit, compare_applies_each_tolerance_both_ways) {
    indiv_world_params p;
    lift_params(&p, 0);
    p.consumers = 300;
    char *path = tu_world(dir, "w.db", &p, NULL);
    indiv_log_stats real, gen;
    measure(path, &real);
    indiv_fit_row rows[INDIV_FIT_ROWS_MAX];
    size_t n = indiv_worldfit_compare(&real, &real, rows);
    cr_assert_geq(n, 20);
    cr_assert_leq(n, INDIV_FIT_ROWS_MAX);
    for (size_t i = 0; i < n; i++)
        cr_assert(rows[i].ok, "%s differs from itself", rows[i].name);
    gen = real;
    gen.orders_mean = real.orders_mean * 1.19;  /* tolerance 20 % */
    gen.basket_mean = real.basket_mean * 1.151; /* tolerance 15 % */
    gen.consumers = real.consumers * 10;        /* (size): not judged */
    gen.hour[0] += 0.4, gen.hour[1] -= 0.4;     /* distance 0.4 > 0.15 */
    n = indiv_worldfit_compare(&real, &gen, rows);
    for (size_t i = 0; i < n; i++) {
        const char *name = rows[i].name;
        int want = strstr(name, "lines per order") == NULL &&
                   strstr(name, "hour profile") == NULL;
        cr_assert_eq(rows[i].ok, want, "%s: real %g gen %g", name, rows[i].real,
                     rows[i].gen);
        if (strstr(name, "hour profile"))
            cr_assert_float_eq(rows[i].gen, 0.4, 1e-12);
        if (strstr(name, "consumers with purchases"))
            cr_assert(isnan(rows[i].tolerance));
    }
    free(path);
}

/* Fitted parameters are valid, carry the log's size and moments, and a calibration of
 * zero rounds changes nothing. */
Test(worldfit, params_fit_the_statistics_and_validate) {
    indiv_world_params p;
    lift_params(&p, 0.3);
    p.consumers = 400;
    p.basket_lines_mean = 4;
    p.weekday_weight_sat = 0;
    char *path = tu_world(dir, "w.db", &p, NULL);
    indiv_log_stats s;
    measure(path, &s);
    cr_assert_float_eq(s.weekday[5], 0, 1e-12, "no order on a Saturday of weight 0");
    cr_assert_float_eq(s.basket_mean, 4, 0.3);
    indiv_world_params f, g;
    indiv_error err = {0};
    cr_assert_eq(indiv_worldfit_params(&s, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(f.consumers, s.consumers);
    cr_assert_eq(f.categories, s.categories);
    cr_assert_float_eq(f.p_single_line + (1 - f.p_single_line) * f.basket_lines_mean,
                       s.basket_mean, 1e-9, "the fitted baskets keep the mean");
    cr_assert_lt(f.p_single_line, 0.05, "1 + Poisson(3) has its own one-line orders");
    cr_assert_float_eq(f.weekday_weight_sat, 0, 1e-12);
    cr_assert_float_eq(f.views_per_purchase, 0, 1e-12);
    cr_assert_gt(f.taste_locality, 0);
    cr_assert_eq(indiv_world_params_validate(&f, &err), 0, "%s", err.msg);
    g = f;
    char *scratch = tu_path(dir, "pilot.db");
    cr_assert_eq(indiv_worldfit_calibrate(&s, &g, 0, 0, scratch, NULL, NULL, &err), 0);
    cr_assert_eq(memcmp(&f, &g, sizeof f), 0);
    indiv_log_stats empty = {0};
    cr_assert_eq(indiv_worldfit_params(&empty, &g, &err), INDIV_EINVAL);
    free(scratch);
    free(path);
}

/* One world with a given spread of consumers' rates and one-line orders: the fit reads
 * them back from the log alone (interval_sigma from the orders per buyer, the one-line
 * share and the other orders' mean from the baskets). */
static void fit_back(double sigma, indiv_world_params *f, indiv_log_stats *s) {
    indiv_world_params p;
    lift_params(&p, 0);
    p.consumers = 1000, p.days = 120, p.interval_median_days = 40;
    p.interval_sigma = sigma, p.basket_lines_mean = 8, p.p_single_line = 0.25;
    char name[32];
    snprintf(name, sizeof name, "w%g.db", sigma);
    char *path = tu_world(dir, name, &p, NULL);
    measure(path, s);
    indiv_error err = {0};
    cr_assert_eq(indiv_worldfit_params(s, f, &err), 0, "%s", err.msg);
    free(path);
}

Test(worldfit, spread_of_rates_and_one_line_orders_are_fitted) {
    indiv_world_params narrow, wide;
    indiv_log_stats sn, sw;
    fit_back(0.5, &narrow, &sn);
    fit_back(1.2, &wide, &sw);
    cr_assert_gt(sw.one_order_share, sn.one_order_share);
    cr_assert_lt(narrow.interval_sigma, 0.8, "%g", narrow.interval_sigma);
    cr_assert(wide.interval_sigma > 0.9 && wide.interval_sigma < 1.6, "%g",
              wide.interval_sigma);
    cr_assert(wide.interval_median_days > 25 && wide.interval_median_days < 65, "%g",
              wide.interval_median_days);
    for (int k = 0; k < 2; k++) {
        const indiv_world_params *f = k ? &wide : &narrow;
        const indiv_log_stats *s = k ? &sw : &sn;
        cr_assert_float_eq(f->p_single_line, 0.25, 0.04, "%g", f->p_single_line);
        cr_assert_float_eq(f->basket_lines_mean, 8, 0.5, "%g", f->basket_lines_mean);
        cr_assert_float_eq(s->single_line_share, 0.25 + 0.75 * exp(-7), 0.04);
    }
}

/* The report is JSON with sorted keys: the parameters and one object per row. */
Test(worldfit, report_json_holds_params_and_rows) {
    indiv_log_stats s = {0};
    s.orders_mean = 2;
    s.lift.lift = NAN;
    indiv_fit_row rows[INDIV_FIT_ROWS_MAX];
    size_t n = indiv_worldfit_compare(&s, &s, rows);
    indiv_world_params p;
    indiv_world_params_init(&p);
    char *js = indiv_worldfit_report_json(&p, rows, n);
    cr_assert_not_null(js);
    json_error_t jerr;
    json_t *o = json_loads(js, 0, &jerr);
    cr_assert_not_null(o, "%s", jerr.text);
    cr_assert_eq(json_array_size(json_object_get(o, "rows")), n);
    json_t *r0 = json_array_get(json_object_get(o, "rows"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r0, "statistic")),
                     "consumers with purchases");
    cr_assert(json_is_null(json_object_get(r0, "tolerance")));
    cr_assert_float_eq(
        json_real_value(json_object_get(json_object_get(o, "params"), "taste_locality")),
        0.14, 1e-12);
    cr_assert_lt(strstr(js, "\"params\""), strstr(js, "\"rows\""));
    json_decref(o);
    free(js);
}

/* indiv_worldfit_like = measure + params + calibrate: with no pilot it gives exactly
 * the parameters fitted to the statistics; a missing log is an error naming it. */
Test(worldfit, like_is_measure_fit_and_calibrate) {
    indiv_world_params p;
    lift_params(&p, 0);
    p.consumers = 300;
    char *path = tu_world(dir, "w.db", &p, NULL);
    char *scratch = tu_path(dir, "pilot.db");
    indiv_log_stats s, s2;
    indiv_world_params a, b;
    indiv_error err = {0};
    cr_assert_eq(indiv_worldfit_like(path, 0, scratch, &a, &s, &err), 0, "%s", err.msg);
    measure(path, &s2);
    cr_assert_eq(indiv_worldfit_params(&s2, &b, &err), 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_eq(s.lines, s2.lines);
    cr_assert_eq(indiv_worldfit_like(path, 1, scratch, &a, NULL, &err), 0, "%s", err.msg);
    cr_assert_gt(a.consumers, 0);
    char *missing = tu_path(dir, "missing.db");
    cr_assert_lt(indiv_worldfit_like(missing, 0, scratch, &a, NULL, &err), 0);
    free(missing);
    free(scratch);
    free(path);
}
