/*
 * bench_profile.c — a full profile build against a bare ordered scan of the same rows.
 *
 * The world: 145,000 x SCALE consumers over 365 days from the default generator (about
 * 73 events each, so about 10.6 million events at SCALE=1), every consumer consenting
 * to profiling so that the build reads exactly the rows the reference reads. It is
 * generated once (in a child process, so that the generator's memory does not count in
 * this process's peak RSS) and cached next to this binary, or in $BENCH_CACHE, under a
 * name keyed by the consumer count; a later run with the same SCALE reuses it.
 *
 * Timed, best of 2 each, interleaved so that both see the same warm OS cache:
 *   (a) the reference: SELECT of every column of every event in (consumer, ts, id)
 *       order with sqlite3 directly, reading each value and doing nothing with it;
 *   (b) indiv_profile_build, full, with the default parameters, as of just after the
 *       last event: catalogue load, the consent-filtered scan, the accumulators, the
 *       writes of every profile (and the delete of the previous run's) in one
 *       transaction, and the population prior.
 * Prints the BENCH line of docs/architecture.md §10 (events/s of the build, rows/s of the
 * scan, ratio = build time / scan time) and one informational line with counts and
 * seconds.
 */
#include <libgen.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "bench.h"
#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/profile.h"
#include "indiv/sim.h"

#define BASE_CONSUMERS 145000 /* x ~73 events over 365 days: ~10.6M events at SCALE=1 */
#define DAYS           365
#define SEED           7
#define RUNS           2

/* The world: every consumer consents to profiling, so the build reads exactly the rows
 * the reference scan reads. */
static int make_world(const char *tmp, void *ctx) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = *(const int64_t *)ctx;
    p.days = DAYS;
    p.seed = SEED;
    p.p_consent_profiling = 1.0;
    return bench_generate(tmp, &p);
}

static const char scan_sql[] =
    "SELECT consumer_id, ts, id, offer_id, type, channel, quantity, value"
    " FROM events ORDER BY consumer_id, ts, id";

/* The reference: every column of every row, in clustered order. Wall seconds (CPU
 * seconds in *cpu), or < 0. */
static double bare_scan(const char *path, int64_t *rows, double *cpu) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    double t = -1;
    *cpu = -1;
    volatile double sink = 0; /* the values are read, and kept from being optimised out */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA cache_size = -65536", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, scan_sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_profile: scan: %s\n", sqlite3_errmsg(db));
        goto out;
    }
    double t0 = bench_now(), c0 = bench_cpu_now(), acc = 0;
    int rc;
    int64_t n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        acc += (double)(sqlite3_column_int64(s, 0) + sqlite3_column_int64(s, 1) +
                        sqlite3_column_int64(s, 2) + sqlite3_column_int64(s, 3) +
                        sqlite3_column_int(s, 4) + sqlite3_column_int(s, 5)) +
               sqlite3_column_double(s, 6) + sqlite3_column_double(s, 7);
        n++;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "bench_profile: scan: %s\n", sqlite3_errmsg(db));
        goto out;
    }
    t = bench_now() - t0;
    *cpu = bench_cpu_now() - c0;
    sink = acc;
    *rows = n;
out:
    (void)sink;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return t;
}

/* One full build as of as_of. Wall seconds (CPU seconds in *cpu), or < 0. */
static double full_build(const char *path, int64_t as_of, indiv_profile_summary *sum,
                         double *cpu) {
    indiv_eventlog *log = NULL;
    indiv_catalog *cat = NULL;
    indiv_error err = {0};
    indiv_profile_params p;
    indiv_profile_params_init(&p);
    p.as_of = as_of;
    *cpu = -1;
    double t0 = bench_now(), c0 = bench_cpu_now();
    int rc = indiv_eventlog_open(path, 0, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, &err);
    if (rc == INDIV_OK)
        rc = indiv_profile_build(log, cat, &p, 0, NULL, NULL, sum, &err);
    double t = bench_now() - t0;
    *cpu = bench_cpu_now() - c0;
    indiv_catalog_free(cat);
    indiv_eventlog_close(log);
    if (rc < 0) {
        fprintf(stderr, "bench_profile: build: %s\n", err.msg);
        return -1;
    }
    return t;
}

/* Time of the last event, plus one second. */
static int last_event(const char *path, int64_t *as_of, int64_t *consumers) {
    indiv_eventlog *log = NULL;
    indiv_eventlog_stats st;
    indiv_error err = {0};
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_stats_get(log, &st, &err);
    indiv_eventlog_close(log);
    if (rc < 0) {
        fprintf(stderr, "bench_profile: %s\n", err.msg);
        return 1;
    }
    *as_of = st.last_ts + 1;
    *consumers = st.consumers;
    return 0;
}

static double min_pos(double a, double b) {
    return a < 0 ? b : (b < 0 || a < b ? a : b);
}

int main(int argc, char **argv) {
    (void)argc;
    gsl_set_error_handler_off();
    double scale = bench_scale();
    int64_t consumers = (int64_t)(BASE_CONSUMERS * scale + 0.5);
    const char *cache = getenv("BENCH_CACHE");
    char self[1024], path[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(path, sizeof path, "%s/bench-profile-%lld-s%d.db",
             cache && *cache ? cache : dirname(self), (long long)consumers, SEED);
    double gen_s, scan_s = -1, build_s = -1, scan_cpu = -1, build_cpu = -1, cpu;
    int64_t as_of, ncons, rows = 0;
    indiv_profile_summary sum = {0};
    if (bench_cached(path, "bench_profile", make_world, &consumers, &gen_s) ||
        last_event(path, &as_of, &ncons))
        return 1;
    for (int r = 0; r < RUNS; r++) {
        scan_s = min_pos(scan_s, bare_scan(path, &rows, &cpu));
        scan_cpu = min_pos(scan_cpu, cpu);
        build_s = min_pos(build_s, full_build(path, as_of, &sum, &cpu));
        build_cpu = min_pos(build_cpu, cpu);
    }
    if (scan_s <= 0 || build_s <= 0)
        return 1;
    bench_report("profile", (double)sum.events / build_s, "events/s", "bare_scan",
                 (double)rows / scan_s, build_s / scan_s);
    printf("# profile: %lld consumers, %lld profiles, %lld events read (scan %lld rows), "
           "%lld vector bytes; build %.2f s (cpu %.2f), scan %.2f s (cpu %.2f), best of "
           "%d; world %s%s\n",
           (long long)ncons, (long long)sum.profiled, (long long)sum.events,
           (long long)rows, (long long)sum.bytes, build_s, build_cpu, scan_s, scan_cpu,
           RUNS, path, gen_s > 0 ? " (generated now)" : " (cached)");
    return sum.events == rows ? 0 : 1;
}
