/*
 * bench.h — what every benchmark needs: a wall clock, peak memory, the SCALE knob, and
 * the one-line result format of DESIGN.md §10:
 *   BENCH <name> <value> <unit> ref=<reference>:<value> ratio=<x> peak_rss_mb=<m>
 * Header-only (static functions) so that each bench_*.c stays a single file.
 */
#ifndef INDIV_BENCH_H
#define INDIV_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

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

/* The SCALE environment variable (default 1, clamped to (0, 100]). */
static inline double bench_scale(void) {
    const char *s = getenv("SCALE");
    double v = s ? atof(s) : 1.0;
    return v > 0 && v <= 100 ? v : 1.0;
}

/* Prints the result line. ratio = ours_s / ref_s (time ratio: lower is better). */
static inline void bench_report(const char *name, double value, const char *unit,
                                const char *ref_name, double ref_value, double ratio) {
    printf("BENCH %s %.6g %s ref=%s:%.6g ratio=%.3f peak_rss_mb=%.1f\n", name, value, unit,
           ref_name, ref_value, ratio, bench_peak_rss_mb());
    fflush(stdout);
}

#endif /* INDIV_BENCH_H */
