/*
 * bench_mpi.c — indiv-mpi on this machine: 1 and 2 ranks against one-process indiv, for
 * decide and for a sweep (docs/scale.md "Measured here").
 *
 * Decide: the world of bench_decide (1,000,000 × SCALE consumers, 1000 offers, 50
 * categories, 60 days, profiles; the same cache file, built if missing). Timed once each,
 * wall clock and CPU of the child processes:
 *   (a) indiv decide --threads 1                         the reference
 *   (b) mpirun -np 1 indiv-mpi decide --threads 1        overhead of the MPI layer
 *   (c) mpirun -np 2 indiv-mpi decide --threads 1        speedup, efficiency = (a)/(c)/2
 *   (d) indiv decide --threads 2                         two threads, for comparison
 *   (e) as (c) on the world split by indiv partition --parts 2 (cached beside it): each
 *       rank reads only its own consumers, where in (c) both read every row
 *   (f) the ceiling of (e): two one-process `indiv decide --threads 1` at the same
 *       time, one on each part (no MPI at all): what 2 cores give this work
 * and the combine step's share of (c) and (e), as indiv-mpi prints it. (b), (c) and (e)
 * must write the bytes of (a): checked.
 * Sweep: 40 cells (threshold = 0:0.39:0.01), 1 seed, 3 rounds on a generated world of
 * 10000 × SCALE consumers: indiv sweep --jobs 1; its ceiling, two one-process
 * `indiv sweep --jobs 1 --shard I/2` at the same time (20 cells each, no MPI);
 * indiv sweep --jobs 2 (threads); then indiv-mpi with 1 and 2 ranks. The results.csv
 * of 1 process, 2 threads and 1 and 2 ranks must be equal.
 * BENCH lines: ratio = time / reference time (lower is better): for 2 ranks the inverse
 * of the speedup, for 1 rank the overhead (goal <= 1.05); an info line gives speedups,
 * efficiencies, the ceiling and the share of it MPI reaches, and CPU seconds (user +
 * system of every process of the command). The load average before and after each part
 * is printed: wall-clock ratios mean something only on an idle machine. Open MPI
 * refuses root unless told: when run as root the two OMPI_ALLOW_RUN_AS_ROOT variables
 * are set for the children.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "bench.h"
#include "indiv/catalog.h"
#include "indiv/profile.h"
#include "indiv/timeutil.h"

#define BASE_CONSUMERS  1000000
#define OFFERS          BENCH_DW_OFFERS
#define CATEGORIES      BENCH_DW_CATEGORIES
#define DAYS            BENCH_DW_DAYS
#define SEED            BENCH_DW_SEED
#define SWEEP_CONSUMERS 10000

static double children_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Runs cmd through the shell; wall and CPU seconds, or -1 on failure. */
static double timed(const char *cmd, double *cpu) {
    double c0 = children_cpu(), t0 = bench_now();
    int st = system(cmd);
    double t = bench_now() - t0;
    *cpu = children_cpu() - c0;
    if (st != 0) {
        fprintf(stderr, "bench_mpi: failed (%d): %s\n", st, cmd);
        return -1;
    }
    return t;
}

/* The combine seconds indiv-mpi printed in log ("combine X s"; the summary goes to
 * stdout, which the log holds with stderr). */
static double combine_seconds(const char *log) {
    FILE *f = fopen(log, "r");
    char line[512];
    double s = -1;
    while (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "combine ");
        if (p)
            s = atof(p + 8);
    }
    if (f)
        fclose(f);
    return s;
}

static double load_average(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l) != 1)
        l = -1;
    if (f)
        fclose(f);
    return l;
}

/* Runs a and b at the same time (sh: a in the background); fails when either does. */
static double timed_pair(const char *a, const char *b, double *cpu) {
    char cmd[17000];
    snprintf(cmd, sizeof cmd, "%s & p=$!; %s; b=$?; wait $p && test $b = 0", a, b);
    return timed(cmd, cpu);
}

static int same_files(const char *a, const char *b) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static void report_pair(const char *what, const double t[3], const double cpu[3],
                        const char *ref) {
    char name[64];
    snprintf(name, sizeof name, "mpi_%s_1rank", what);
    bench_report(name, t[1], "s", ref, t[0], t[1] / t[0]);
    snprintf(name, sizeof name, "mpi_%s_2ranks", what);
    bench_report(name, t[2], "s", ref, t[0], t[2] / t[0]);
    printf("info mpi_%s: 1 process %.2f s (cpu %.2f), 1 rank %.2f s (cpu %.2f, "
           "overhead %+.1f%%), 2 ranks %.2f s (cpu %.2f): speedup %.2fx, efficiency "
           "%.0f%%\n",
           what, t[0], cpu[0], t[1], cpu[1], 100 * (t[1] / t[0] - 1), t[2], cpu[2],
           t[0] / t[2], 50 * t[0] / t[2]);
}

static int bench_decide(const char *indiv, const char *mpi, const char *mpirun,
                        const char *where) {
    int64_t consumers = llround(BASE_CONSUMERS * bench_scale());
    char db[1024], parts[1100], cmd[8192], out[5][1024], log[1024], plog[1100];
    snprintf(db, sizeof db, "%s/bench-decide-%lld-d%d-s%d.db", where,
             (long long)(consumers < 1 ? 1 : consumers), DAYS, SEED);
    if (consumers < 1)
        consumers = 1;
    if (bench_cached(db, "bench_mpi", bench_make_decision_world, &consumers, NULL))
        return 1;
    for (int i = 0; i < 5; i++)
        snprintf(out[i], sizeof out[i], "%s/bench-mpi-%d-%d.jsonl", where, (int)getpid(),
                 i);
    snprintf(log, sizeof log, "%s/bench-mpi-%d.log", where, (int)getpid());
    snprintf(plog, sizeof plog, "%s.parts", log);
    snprintf(parts, sizeof parts, "%s.parts-2", db);
    snprintf(cmd, sizeof cmd,
             "test -f '%s/part-1.db' || '%s' partition --db '%s' --parts 2 --out '%s'",
             parts, indiv, db, parts);
    if (system(cmd) != 0)
        return 1;
    double t[6], cpu[6], load0 = load_average();
    snprintf(cmd, sizeof cmd,
             "'%s' decide --db '%s' --out '%s' --threads 1 >/dev/null 2>&1", indiv, db,
             out[0]);
    t[0] = timed(cmd, &cpu[0]);
    snprintf(cmd, sizeof cmd,
             "%s 1 '%s' decide --db '%s' --out '%s' --threads 1 >/dev/null 2>&1", mpirun,
             mpi, db, out[1]);
    t[1] = timed(cmd, &cpu[1]);
    snprintf(cmd, sizeof cmd,
             "%s 2 '%s' decide --db '%s' --out '%s' --threads 1 >'%s' 2>&1", mpirun, mpi,
             db, out[2], log);
    t[2] = timed(cmd, &cpu[2]);
    snprintf(cmd, sizeof cmd,
             "'%s' decide --db '%s' --out '%s' --threads 2 >/dev/null 2>&1", indiv, db,
             out[3]);
    t[3] = timed(cmd, &cpu[3]);
    snprintf(cmd, sizeof cmd,
             "%s 2 '%s' decide --db '%s/part-%%d.db' --out '%s' --threads 1 >'%s' 2>&1",
             mpirun, mpi, parts, out[4], plog);
    t[4] = timed(cmd, &cpu[4]);
    char half[2][4200];
    for (int i = 0; i < 2; i++) /* into out[1] and out[2], compared above */
        snprintf(half[i], sizeof half[i],
                 "'%s' decide --db '%s/part-%d.db' --out '%s' --threads 1 >/dev/null "
                 "2>&1",
                 indiv, parts, i, out[i + 1]);
    int ok = t[0] > 0 && t[1] > 0 && t[2] > 0 && t[3] > 0 && t[4] > 0 &&
             same_files(out[0], out[1]) && same_files(out[0], out[2]) &&
             same_files(out[0], out[4]);
    t[5] = ok ? timed_pair(half[0], half[1], &cpu[5]) : -1;
    ok = ok && t[5] > 0;
    double comb = combine_seconds(log), pcomb = combine_seconds(plog);
    if (ok) {
        report_pair("decide", t, cpu, "indiv_decide_threads1");
        bench_report("mpi_decide_2ranks_partitioned", t[4], "s", "indiv_decide_threads1",
                     t[0], t[4] / t[0]);
        printf("info mpi_decide: %lld consumers; combine %.2f s = %.1f%% of the 2-rank "
               "run; 2 ranks on 2 partitions %.2f s (cpu %.2f): speedup %.2fx, combine "
               "%.2f s = %.1f%%; indiv decide --threads 2: %.2f s (cpu %.2f)\n",
               (long long)consumers, comb, 100 * comb / t[2], t[4], cpu[4], t[0] / t[4],
               pcomb, 100 * pcomb / t[4], t[3], cpu[3]);
        printf("info mpi_decide: ceiling, 2 processes at once on the 2 parts (no MPI): "
               "%.2f s (cpu %.2f): %.2fx; 2 ranks on 2 partitions reach %.0f%% of it; "
               "load average %.2f before, %.2f after\n",
               t[5], cpu[5], t[0] / t[5], 100 * t[5] / t[4], load0, load_average());
    }
    for (int i = 0; i < 5; i++)
        unlink(out[i]);
    unlink(log);
    unlink(plog);
    return !ok;
}

static int bench_sweep(const char *indiv, const char *mpi, const char *mpirun,
                       const char *where) {
    char dir[1024], cmd[8192], a[1200], b[1200];
    snprintf(dir, sizeof dir, "%s/bench-mpi-sweep-%d", where, (int)getpid());
    long consumers = lround(SWEEP_CONSUMERS * bench_scale());
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && '%s' generate --db '%s/w.db' --consumers %ld --offers 200 "
             "--categories 20 --days 120 >/dev/null 2>&1",
             dir, indiv, dir, consumers < 50 ? 50 : consumers);
    if (system(cmd) != 0)
        return 1;
    const char *grid = "--grid threshold=0:0.39:0.01 --seeds 1 --rounds 3 --no-figures";
    double t[3], cpu[3], tc, cc, tt, ct, load0 = load_average();
    snprintf(cmd, sizeof cmd,
             "'%s' sweep --db '%s/w.db' --out '%s/s0' %s --jobs 1 "
             ">/dev/null 2>&1",
             indiv, dir, dir, grid);
    t[0] = timed(cmd, &cpu[0]);
    char half[2][4200];
    for (int i = 0; i < 2; i++)
        snprintf(half[i], sizeof half[i],
                 "'%s' sweep --db '%s/w.db' --out '%s/h%d' %s --jobs 1 --shard %d/2 "
                 ">/dev/null 2>&1",
                 indiv, dir, dir, i, grid, i);
    tc = timed_pair(half[0], half[1], &cc);
    snprintf(cmd, sizeof cmd,
             "'%s' sweep --db '%s/w.db' --out '%s/st' %s --jobs 2 >/dev/null 2>&1", indiv,
             dir, dir, grid);
    tt = timed(cmd, &ct);
    for (int n = 1; n <= 2; n++) {
        snprintf(cmd, sizeof cmd,
                 "%s %d '%s' sweep --db '%s/w.db' --out '%s/s%d' %s "
                 ">/dev/null 2>&1",
                 mpirun, n, mpi, dir, dir, n, grid);
        t[n] = timed(cmd, &cpu[n]);
    }
    int ok = t[0] > 0 && t[1] > 0 && t[2] > 0 && tc > 0 && tt > 0;
    for (int k = 1; ok && k <= 3; k++) {
        snprintf(a, sizeof a, "%s/s0/results.csv", dir);
        snprintf(b, sizeof b, "%s/s%c/results.csv", dir, k == 3 ? 't' : '0' + k);
        ok = same_files(a, b);
    }
    if (ok) {
        report_pair("sweep", t, cpu, "indiv_sweep_jobs1");
        bench_report("mpi_sweep_ceiling_2shards", tc, "s", "indiv_sweep_jobs1", t[0],
                     tc / t[0]);
        printf("info mpi_sweep: ceiling, 2 one-process shards at once (no MPI): %.2f s "
               "(cpu %.2f): %.2fx; 2 ranks reach %.0f%% of it (cpu %+.1f%% over 1 "
               "process, the shards %+.1f%%); indiv sweep --jobs 2: %.2f s (cpu %.2f): "
               "%.2fx; load average %.2f before, %.2f after\n",
               tc, cc, t[0] / tc, 100 * tc / t[2], 100 * (cpu[2] / cpu[0] - 1),
               100 * (cc / cpu[0] - 1), tt, ct, t[0] / tt, load0, load_average());
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_mpi: could not remove %s\n", dir);
    return !ok;
}

int main(void) {
    gsl_set_error_handler_off();
    const char *indiv = getenv("INDIV_BIN");
    char mpi[4200], mpirun[256];
    if (!indiv) {
        fprintf(stderr, "bench_mpi: INDIV_BIN is not set\n");
        return 1;
    }
    snprintf(mpi, sizeof mpi, "%.*s/indiv-mpi",
             (int)(strrchr(indiv, '/') ? strrchr(indiv, '/') - indiv : 1),
             strrchr(indiv, '/') ? indiv : ".");
    if (access(mpi, X_OK) != 0 || system("command -v mpirun >/dev/null 2>&1") != 0) {
        fprintf(stderr, "bench_mpi: no %s or no mpirun (MPI not installed): skipped\n",
                mpi);
        return 0;
    }
    if (geteuid() == 0) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    snprintf(mpirun, sizeof mpirun, "mpirun --oversubscribe --bind-to none -np");
    const char *cache = getenv("BENCH_CACHE"), *tmpdir = getenv("TMPDIR");
    const char *where = cache && *cache ? cache : tmpdir && *tmpdir ? tmpdir : "/tmp";
    int rc = bench_decide(indiv, mpi, mpirun, where);
    return bench_sweep(indiv, mpi, mpirun, where) || rc;
}
