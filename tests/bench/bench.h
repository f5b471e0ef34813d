/*
 * bench.h — what every benchmark needs: a wall clock, peak memory, the SCALE knob, and
 * the one-line result format of docs/architecture.md §10:
 *   BENCH <name> <value> <unit> ref=<reference>:<value> ratio=<x> peak_rss_mb=<m>
 * Header-only (static functions) so that each bench_*.c stays a single file.
 */
#ifndef INDIV_BENCH_H
#define INDIV_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/profile.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Peak resident set size of this process, in MiB. */
static inline double bench_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* CPU seconds of this process, every thread: on a shared machine the wall clock also
 * counts other people's work, the CPU time does not. */
static inline double bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Builds a cached input file: make(tmp, ctx) writes it under a temporary name in a child
 * process (so its memory does not count in this process's peak), then it is renamed into
 * place (an interrupted run never leaves a partial cache). Nothing happens when path
 * exists. *seconds (may be NULL) gets the time spent, 0 when cached. 0 on success. */
static inline int bench_cached(const char *path, const char *who,
                               int (*make)(const char *tmp, void *ctx), void *ctx,
                               double *seconds) {
    struct stat sb;
    if (seconds)
        *seconds = 0;
    if (stat(path, &sb) == 0)
        return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    unlink(tmp);
    fprintf(stderr, "%s: building %s (cached for later runs)\n", who, path);
    double t0 = bench_now();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        _exit(make(tmp, ctx) != 0 || rename(tmp, path) != 0);
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    if (seconds)
        *seconds = bench_now() - t0;
    return 0;
}

/* Generates a world with parameters p into path (for bench_cached). 0 on success. */
static inline int bench_generate(const char *path, const indiv_world_params *p) {
    indiv_eventlog *log = NULL;
    indiv_error err = {0};
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_world_generate(log, p, NULL, NULL, NULL, &err);
    indiv_eventlog_close(log);
    if (rc < 0)
        fprintf(stderr, "generating %s: %s\n", path, err.msg);
    return rc < 0;
}

/* The decision benches' world (bench_decide, bench_serve, bench_mpi, bench_ope share its
 * cache file): consumers x 1,000 offers in 50 categories over 60 days, seed 11, profiled
 * as of its last day. */
#define BENCH_DW_OFFERS     1000
#define BENCH_DW_CATEGORIES 50
#define BENCH_DW_DAYS       60
#define BENCH_DW_SEED       11

/* Generates the decision benches' world with *(const int64_t *)ctx consumers into tmp and
 * builds its profiles (for bench_cached). 0 on success. */
static inline int bench_make_decision_world(const char *tmp, void *ctx) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = *(const int64_t *)ctx;
    p.offers = BENCH_DW_OFFERS;
    p.categories = BENCH_DW_CATEGORIES;
    p.days = BENCH_DW_DAYS;
    p.seed = BENCH_DW_SEED;
    if (bench_generate(tmp, &p) != 0)
        return 1;
    indiv_eventlog *log = NULL;
    indiv_catalog *cat = NULL;
    indiv_error err = {0};
    indiv_profile_params pp;
    indiv_profile_params_init(&pp);
    pp.as_of = p.start_ts + p.days * INDIV_SECONDS_PER_DAY;
    int rc = indiv_eventlog_open(tmp, 0, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, &err);
    if (rc == INDIV_OK)
        rc = indiv_profile_build(log, cat, &pp, 0, NULL, NULL, NULL, &err);
    indiv_catalog_free(cat);
    indiv_eventlog_close(log);
    if (rc < 0)
        fprintf(stderr, "profiling %s: %s\n", tmp, err.msg);
    return rc < 0;
}

/* The SCALE environment variable (default 1, clamped to (0, 100]). */
static inline double bench_scale(void) {
    const char *s = getenv("SCALE");
    double v = s ? atof(s) : 1.0;
    return v > 0 && v <= 100 ? v : 1.0;
}

/* Prints the result line. ratio = ours_s / ref_s (time ratio: lower is better). */
static inline void bench_report(const char *name, double value, const char *unit,
                                const char *ref_name, double ref_value, double ratio) {
    printf("BENCH %s %.6g %s ref=%s:%.6g ratio=%.3f peak_rss_mb=%.1f\n", name, value,
           unit, ref_name, ref_value, ratio, bench_peak_rss_mb());
    fflush(stdout);
}

#endif /* INDIV_BENCH_H */
