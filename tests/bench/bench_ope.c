/*
 * bench_ope.c — off-policy evaluation of a target policy over 1,000,000 × SCALE logged
 * decisions with 1,000 bootstrap replicates, against one pass over the decisions file.
 *
 * The world is bench_decide's (1,000,000 × SCALE consumers, 1000 offers in 50
 * categories, 60 days, profiles as of the end; the same cache file, built the same way
 * when absent). Untimed: one decision run with the defaults (ε 0.1) writes the logged
 * decisions. Timed, best of RUNS, interleaved:
 *   (a) indiv_ope_run: parse the log, read every consumer's outcomes (one seek each),
 *       evaluate every logged action under the target (ε 0.3: a decision run over the
 *       stored profiles), IPS/SNIPS/DR with 1,000 Poisson-bootstrap replicates, 2
 *       threads;
 *   (b) the reference: one pass over the decisions file, every line read and parsed by
 *       jansson (json_loadb), nothing else.
 * Prints the BENCH line (decisions/s of ope; reference decisions/s of the pass; ratio =
 * ope time / pass time, goal <= 5) and an info line with the time of the bootstrap
 * alone (indiv_ope_estimate on as many samples) and of the target's decision run alone.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <jansson.h>

#include "bench.h"
#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/ope.h"
#include "indiv/profile.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"

#define BASE_CONSUMERS 1000000
#define OFFERS         BENCH_DW_OFFERS
#define CATEGORIES     BENCH_DW_CATEGORIES
#define DAYS           BENCH_DW_DAYS
#define SEED           BENCH_DW_SEED
#define RUNS           2
#define REPLICATES     1000
#define THREADS        2

/* The logged run: the defaults as of the profiles' time. Returns its seconds, or -1. */
static double log_decisions(indiv_eventlog *log, const char *out, int64_t *as_of) {
    indiv_profile_params pp;
    indiv_error err = {0};
    if (indiv_profile_stored_params(log, &pp, NULL, &err) < 0) {
        fprintf(stderr, "bench_ope: %s\n", err.msg);
        return -1;
    }
    *as_of = pp.as_of;
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_opts o;
    indiv_decide_summary sum;
    indiv_decide_opts_init(&o);
    o.policy.as_of = pp.as_of;
    o.out_path = out;
    o.threads = THREADS;
    double t0 = bench_now();
    if (indiv_decide_run(log, &m, &o, NULL, NULL, &sum, &err) < 0) {
        fprintf(stderr, "bench_ope: decide: %s\n", err.msg);
        return -1;
    }
    return bench_now() - t0;
}

/* (a) */
static double run_ope(indiv_eventlog *log, const char *path, int64_t as_of,
                      indiv_ope_result *r) {
    indiv_model m;
    indiv_model_default(&m);
    indiv_ope_params p;
    indiv_ope_params_init(&p);
    p.target.serendipity = 0.3;
    p.until = as_of + 14 * INDIV_SECONDS_PER_DAY;
    p.replicates = REPLICATES;
    p.threads = THREADS;
    indiv_error err = {0};
    double t0 = bench_now();
    if (indiv_ope_run(log, &m, path, &p, r, &err) < 0) {
        fprintf(stderr, "bench_ope: ope: %s\n", err.msg);
        return -1;
    }
    return bench_now() - t0;
}

/* (b) */
static double run_pass(const char *path, int64_t *lines) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    *lines = 0;
    double t0 = bench_now();
    while ((len = getline(&buf, &cap, f)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(buf, (size_t)len, 0, &je);
        *lines += o != NULL;
        json_decref(o);
    }
    double t = bench_now() - t0;
    free(buf);
    fclose(f);
    return t;
}

/* The bootstrap alone, on n samples shaped like a log's (weights near 1, rare rewards).
 */
static double run_bootstrap(int64_t n) {
    indiv_ope_sample *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        double w = i % 10 == 0 ? 3.0 : 0.78, r = i % 37 == 0;
        s[i] = (indiv_ope_sample){w, {r, 20 * r, 1}, {r, 20 * r, 1}, 0};
    }
    indiv_ope_result res;
    double t0 = bench_now();
    int rc = indiv_ope_estimate(s, (size_t)n, REPLICATES, 1, THREADS, &res, NULL);
    double t = bench_now() - t0;
    free(s);
    return rc < 0 ? -1 : t;
}

static double min_pos(double a, double b) {
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* The target's decision run alone (evaluating nothing): what (a) spends deciding. */
static double run_target_decide(indiv_eventlog *log, int64_t as_of) {
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_opts o;
    indiv_decide_summary sum;
    indiv_decide_opts_init(&o);
    o.policy.as_of = as_of;
    o.policy.serendipity = 0.3;
    o.threads = THREADS;
    o.on_decision = NULL;
    char out[] = "/dev/null";
    o.out_path = out;
    indiv_error err = {0};
    double t0 = bench_now();
    return indiv_decide_run(log, &m, &o, NULL, NULL, &sum, &err) < 0 ? -1
                                                                     : bench_now() - t0;
}

int main(void) {
    gsl_set_error_handler_off();
    int64_t consumers = llround(BASE_CONSUMERS * bench_scale());
    if (consumers < 1)
        consumers = 1;
    const char *cache = getenv("BENCH_CACHE"), *tmpdir = getenv("TMPDIR");
    const char *where = cache && *cache ? cache : tmpdir && *tmpdir ? tmpdir : "/tmp";
    char path[1024], dec[1024];
    snprintf(path, sizeof path, "%s/bench-decide-%lld-d%d-s%d.db", where,
             (long long)consumers, DAYS, SEED);
    snprintf(dec, sizeof dec, "%s/bench-ope-%d.jsonl", where, (int)getpid());
    double gen_s;
    indiv_eventlog *log = NULL;
    indiv_error err = {0};
    int64_t as_of = 0, lines = 0;
    if (bench_cached(path, "bench_ope", bench_make_decision_world, &consumers, &gen_s) ||
        indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err) < 0)
        return 1;
    double log_s = log_decisions(log, dec, &as_of);
    double ope_s = -1, pass_s = -1, boot_s = -1, target_s = -1;
    double cpu[2] = {-1, -1};
    indiv_ope_result r;
    for (int k = 0; log_s > 0 && k < RUNS; k++) {
        double c0 = bench_cpu_now();
        ope_s = min_pos(ope_s, run_ope(log, dec, as_of, &r));
        double c1 = bench_cpu_now();
        pass_s = min_pos(pass_s, run_pass(dec, &lines));
        double c2 = bench_cpu_now();
        cpu[0] = min_pos(cpu[0], c1 - c0);
        cpu[1] = min_pos(cpu[1], c2 - c1);
    }
    boot_s = run_bootstrap(consumers);
    target_s = run_target_decide(log, as_of);
    indiv_eventlog_close(log);
    unlink(dec);
    if (log_s <= 0 || ope_s <= 0 || pass_s <= 0 || lines != consumers)
        return 1;
    double n = (double)consumers;
    bench_report("ope", n / ope_s, "decisions/s", "json_pass", n / pass_s,
                 ope_s / pass_s);
    printf(
        "info ope: %lld logged decisions, target serendipity 0.3, %d bootstrap "
        "replicates, %d threads: ope %.2f s (of which the bootstrap alone takes %.2f s "
        "and the target's decision run alone %.2f s), one JSON pass over the file "
        "%.2f s; CPU seconds: ope %.2f, pass %.2f; ESS %.0f; logging decide %.2f s; "
        "%s%.0f s to build the world\n",
        (long long)consumers, REPLICATES, THREADS, ope_s, boot_s, target_s, pass_s,
        cpu[0], cpu[1], r.ess, log_s, gen_s > 0 ? "" : "cached world; ", gen_s);
    return 0;
}
