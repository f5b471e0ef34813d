/*
 * bench_mpi.c — indiv-mpi on this machine: 1 and 2 ranks against one-process indiv, for
 * decide and for a sweep (docs/scale.md "Measured here"), with the goals of issue 16:
 * a sweep on 2 ranks at least GOAL_SPEEDUP times faster than indiv, and `indiv-mpi -np
 * 1` at most GOAL_OVERHEAD slower than indiv.
 *
 * Decide: the world of bench_decide (1,000,000 × SCALE consumers, 1000 offers, 50
 * categories, 60 days, profiles; the same cache file, built if missing), and its split
 * by indiv partition --parts 2 (cached beside it):
 *   (a) indiv decide --threads 1                         the reference
 *   (b) mpirun -np 1 indiv-mpi decide --threads 1        overhead of the MPI layer
 *   (c) mpirun -np 2 indiv-mpi decide --threads 1        speedup, efficiency = (a)/(c)/2
 *   (d) indiv decide --threads 2                         two threads, for comparison
 *   (e) as (c) on the partitions: each rank reads only its own consumers, where in (c)
 *       both read every row
 *   (f) the ceiling of (e): two one-process `indiv decide --threads 1` at the same
 *       time, one on each part (no MPI at all): what 2 cores give this work
 * and the combine step's share of (c) and (e), as indiv-mpi prints it. (b), (c) and (e)
 * must write the bytes of (a): checked.
 * Sweep: 40 cells (threshold = 0:0.39:0.01) × 2 seeds, 3 rounds, on a generated world of
 * 10000 × SCALE consumers: indiv sweep --jobs 1 (the reference); indiv-mpi with 1 and 2
 * ranks; the ceiling, two one-process `indiv sweep --jobs 1 --shard I/2` at the same time
 * (20 cells each, no MPI); indiv sweep --jobs 2 (threads). The results.csv of 1 process,
 * 2 threads and 1 and 2 ranks must be equal.
 *
 * BENCH_MPI_ONLY=decide or sweep runs one part only.
 * Repetitions: every command runs REPS times (environment BENCH_MPI_REPS, default 3),
 * round-robin (all commands once, then again), so that a change of load touches them
 * alike. Times are medians; ratios are the median of the per-repetition ratios, with
 * their smallest and largest. Wall clock and CPU (user + system of every process of the
 * command) are printed, and the load average before and after each part: wall-clock
 * ratios mean something only on an idle machine.
 * BENCH lines: ratio = median time / median reference time (lower is better): for 2
 * ranks the inverse of the speedup, for 1 rank 1 + the overhead. "goal" lines say
 * whether each goal is met. Open MPI refuses root unless told: when run as root the two
 * OMPI_ALLOW_RUN_AS_ROOT variables are set for the children.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "bench.h"

#define BASE_CONSUMERS  1000000
#define OFFERS          BENCH_DW_OFFERS
#define CATEGORIES      BENCH_DW_CATEGORIES
#define DAYS            BENCH_DW_DAYS
#define SEED            BENCH_DW_SEED
#define SWEEP_CONSUMERS 10000
#define SWEEP_GRID      "--grid threshold=0:0.39:0.01 --seeds 2 --rounds 3 --no-figures"
#define REPS_DEFAULT    3
#define REPS_MAX        20
#define GOAL_SPEEDUP    1.8  /* sweep, 2 ranks over one indiv process */
#define GOAL_OVERHEAD   0.05 /* indiv-mpi -np 1 over indiv */
#define CMD_BYTES       16384

/* One timed command, run reps times. */
typedef struct run {
    char cmd[CMD_BYTES];  /* timed */
    char prep[CMD_BYTES]; /* run untimed before each timing ("": none) */
    char log[1200];       /* where indiv-mpi's output goes, for its combine time */
    double t[REPS_MAX], cpu[REPS_MAX], comb[REPS_MAX];
} run;

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
 * stdout, which the log holds with stderr); -1 when absent. */
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

/* The command "a and b at the same time" (sh: a in the background); fails when either
 * does. */
static void pair_cmd(char *out, const char *a, const char *b) {
    snprintf(out, CMD_BYTES, "%s & p=$!; %s; b=$?; wait $p && test $b = 0", a, b);
}

static int same_files(const char *a, const char *b) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

/* Runs the n commands reps times, round-robin; 0 when every run succeeded. */
static int run_all(run *r, int n, int reps) {
    for (int k = 0; k < reps; k++)
        for (int i = 0; i < n; i++) {
            if (r[i].prep[0] && system(r[i].prep) != 0)
                return 1;
            if ((r[i].t[k] = timed(r[i].cmd, &r[i].cpu[k])) < 0)
                return 1;
            r[i].comb[k] = r[i].log[0] ? combine_seconds(r[i].log) : -1;
        }
    return 0;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, smallest and largest of x[0..n-1] (n >= 1). */
static double median(const double *x, int n, double *lo, double *hi) {
    double s[REPS_MAX];
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, by_value);
    if (lo)
        *lo = s[0];
    if (hi)
        *hi = s[n - 1];
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Per-repetition ratios num[k] / den[k] into out; their median, smallest, largest. */
static double ratio(const double *num, const double *den, int n, double *lo, double *hi) {
    double q[REPS_MAX];
    for (int k = 0; k < n; k++)
        q[k] = num[k] / den[k];
    return median(q, n, lo, hi);
}

static void print_run(const char *bench, const char *what, const run *r, int reps) {
    double lo, hi, t = median(r->t, reps, &lo, &hi);
    printf("info %s: %-34s wall %6.2f s (%.2f-%.2f), cpu %6.2f s\n", bench, what, t, lo,
           hi, median(r->cpu, reps, NULL, NULL));
}

/* "speedup of <what>: X.XXx (lo-hi), efficiency E%" of run a over the reference. */
static double print_speedup(const char *bench, const char *what, const run *ref,
                            const run *a, int reps) {
    double lo, hi, s = ratio(ref->t, a->t, reps, &lo, &hi);
    printf("info %s: speedup of %s: %.2fx (%.2f-%.2f), efficiency %.0f%%\n", bench, what,
           s, lo, hi, 50 * s);
    return s;
}

/* The overhead of run a over the reference, as a fraction (median of the repetitions). */
static double print_overhead(const char *bench, const run *ref, const run *a, int reps) {
    double lo, hi, o = ratio(a->t, ref->t, reps, &lo, &hi) - 1;
    printf("info %s: overhead of indiv-mpi -np 1 over indiv: %+.1f%% (%+.1f%% to "
           "%+.1f%%), cpu %+.1f%%\n",
           bench, 100 * o, 100 * (lo - 1), 100 * (hi - 1),
           100 * (ratio(a->cpu, ref->cpu, reps, NULL, NULL) - 1));
    return o;
}

/* The combine step's share of run a, median over the repetitions. */
static void print_combine(const char *what, const run *a, int reps) {
    double lo, hi, share = 100 * ratio(a->comb, a->t, reps, &lo, &hi);
    printf("info mpi_decide: combine step of %s: %.2f s, %.1f%% of its time (%.1f-%.1f%%)"
           "\n",
           what, median(a->comb, reps, NULL, NULL), share, 100 * lo, 100 * hi);
}

static void print_goal(const char *bench, const char *what, int met, const char *value) {
    printf("goal %s: %s: %s: %s\n", bench, what, value, met ? "met" : "NOT met");
}

/* The goal on the overhead of indiv-mpi -np 1 (o, a fraction). */
static void overhead_goal(const char *bench, double o) {
    char v[32];
    snprintf(v, sizeof v, "%+.1f%%", 100 * o);
    print_goal(bench, "indiv-mpi -np 1 overhead <= 5%", o <= GOAL_OVERHEAD, v);
}

static void report(const char *name, const run *a, const run *ref, const char *ref_name,
                   int reps) {
    double t = median(a->t, reps, NULL, NULL), t0 = median(ref->t, reps, NULL, NULL);
    bench_report(name, t, "s", ref_name, t0, t / t0);
}

/* ---- decide ------------------------------------------------------------------------ */

enum { D_ONE, D_RANK1, D_RANKS2, D_THREADS2, D_PARTS2, D_CEILING, D_RUNS };

/* The commands of the decide part; out[i] is where run i writes (out[5], out[6]: the
 * ceiling's two halves). */
static void decide_runs(run *r, const char *indiv, const char *mpi, const char *mpirun,
                        const char *db, const char *parts, char out[7][1024],
                        const char *where) {
    const char *q = ">/dev/null 2>&1";
    snprintf(r[D_ONE].cmd, CMD_BYTES, "'%s' decide --db '%s' --out '%s' --threads 1 %s",
             indiv, db, out[0], q);
    snprintf(r[D_RANK1].cmd, CMD_BYTES,
             "%s 1 '%s' decide --db '%s' --out '%s' --threads 1 %s", mpirun, mpi, db,
             out[1], q);
    snprintf(r[D_RANKS2].log, sizeof r->log, "%s/bench-mpi-%d.log", where, (int)getpid());
    snprintf(r[D_RANKS2].cmd, CMD_BYTES,
             "%s 2 '%s' decide --db '%s' --out '%s' --threads 1 >'%s' 2>&1", mpirun, mpi,
             db, out[2], r[D_RANKS2].log);
    snprintf(r[D_THREADS2].cmd, CMD_BYTES,
             "'%s' decide --db '%s' --out '%s' --threads 2 %s", indiv, db, out[3], q);
    snprintf(r[D_PARTS2].log, sizeof r->log, "%s/bench-mpi-%d.parts.log", where,
             (int)getpid());
    snprintf(r[D_PARTS2].cmd, CMD_BYTES,
             "%s 2 '%s' decide --db '%s/part-%%d.db' --out '%s' --threads 1 >'%s' 2>&1",
             mpirun, mpi, parts, out[4], r[D_PARTS2].log);
    char half[2][4200];
    for (int i = 0; i < 2; i++)
        snprintf(half[i], sizeof half[i],
                 "'%s' decide --db '%s/part-%d.db' --out '%s' --threads 1 %s", indiv,
                 parts, i, out[5 + i], q);
    pair_cmd(r[D_CEILING].cmd, half[0], half[1]);
    /* the first repetition must not be the only one to read the database from disk */
    snprintf(r[D_ONE].prep, CMD_BYTES, "cat '%s' '%s'/part-*.db >/dev/null", db, parts);
}

static void decide_report(const run *r, int reps, long long consumers, double load0) {
    const char *b = "mpi_decide";
    report("mpi_decide_1rank", &r[D_RANK1], &r[D_ONE], "indiv_decide_threads1", reps);
    report("mpi_decide_2ranks", &r[D_RANKS2], &r[D_ONE], "indiv_decide_threads1", reps);
    report("mpi_decide_2ranks_partitioned", &r[D_PARTS2], &r[D_ONE],
           "indiv_decide_threads1", reps);
    printf("info %s: %lld consumers, %d repetitions; medians (smallest-largest):\n", b,
           consumers, reps);
    print_run(b, "indiv decide --threads 1", &r[D_ONE], reps);
    print_run(b, "indiv-mpi -np 1", &r[D_RANK1], reps);
    print_run(b, "indiv-mpi -np 2, one database", &r[D_RANKS2], reps);
    print_run(b, "indiv-mpi -np 2, 2 partitions", &r[D_PARTS2], reps);
    print_run(b, "ceiling: 2 indiv on the 2 parts", &r[D_CEILING], reps);
    print_run(b, "indiv decide --threads 2", &r[D_THREADS2], reps);
    print_speedup(b, "2 ranks, one database, over indiv", &r[D_ONE], &r[D_RANKS2], reps);
    double s = print_speedup(b, "2 ranks on partitions over indiv", &r[D_ONE],
                             &r[D_PARTS2], reps);
    double c = print_speedup(b, "the ceiling over indiv", &r[D_ONE], &r[D_CEILING], reps);
    printf("info %s: 2 ranks on partitions reach %.0f%% of the ceiling\n", b,
           100 * s / c);
    print_speedup(b, "indiv --threads 2 over indiv", &r[D_ONE], &r[D_THREADS2], reps);
    print_combine("2 ranks, one database", &r[D_RANKS2], reps);
    print_combine("2 ranks on partitions", &r[D_PARTS2], reps);
    double o = print_overhead(b, &r[D_ONE], &r[D_RANK1], reps);
    overhead_goal(b, o);
    printf("info %s: load average %.2f before, %.2f after\n", b, load0, load_average());
}

static int bench_decide(const char *indiv, const char *mpi, const char *mpirun,
                        const char *where, int reps) {
    long long consumers = llround(BASE_CONSUMERS * bench_scale());
    if (consumers < 1)
        consumers = 1;
    char db[1024], parts[1100], cmd[4400], out[7][1024];
    snprintf(db, sizeof db, "%s/bench-decide-%lld-d%d-s%d.db", where, consumers, DAYS,
             SEED);
    int64_t n = consumers;
    if (bench_cached(db, "bench_mpi", bench_make_decision_world, &n, NULL))
        return 1;
    for (int i = 0; i < 7; i++)
        snprintf(out[i], sizeof out[i], "%s/bench-mpi-%d-%d.jsonl", where, (int)getpid(),
                 i);
    snprintf(parts, sizeof parts, "%s.parts-2", db);
    snprintf(cmd, sizeof cmd,
             "test -f '%s/part-1.db' || '%s' partition --db '%s' --parts 2 --out '%s'",
             parts, indiv, db, parts);
    if (system(cmd) != 0)
        return 1;
    run *r = calloc(D_RUNS, sizeof *r);
    if (!r)
        return 1;
    decide_runs(r, indiv, mpi, mpirun, db, parts, out, where);
    double load0 = load_average();
    int ok = run_all(r, D_RUNS, reps) == 0 && same_files(out[0], out[1]) &&
             same_files(out[0], out[2]) && same_files(out[0], out[4]);
    if (ok)
        decide_report(r, reps, consumers, load0);
    else
        fprintf(stderr, "bench_mpi: decide failed, or an output differs from indiv's\n");
    for (int i = 0; i < 7; i++)
        unlink(out[i]);
    unlink(r[D_RANKS2].log);
    unlink(r[D_PARTS2].log);
    free(r);
    return !ok;
}

/* ---- sweep ------------------------------------------------------------------------- */

enum { S_ONE, S_RANK1, S_RANKS2, S_CEILING, S_JOBS2, S_RUNS };

/* Each run writes into a new directory (a finished sweep's directory would rerun
 * nothing), removed before each timing. */
static void sweep_runs(run *r, const char *indiv, const char *mpi, const char *mpirun,
                       const char *dir) {
    const char *q = ">/dev/null 2>&1", *g = SWEEP_GRID;
    snprintf(r[S_ONE].cmd, CMD_BYTES,
             "'%s' sweep --db '%s/w.db' --out '%s/s0' %s --jobs 1 %s", indiv, dir, dir, g,
             q);
    for (int n = 1; n <= 2; n++)
        snprintf(r[n == 1 ? S_RANK1 : S_RANKS2].cmd, CMD_BYTES,
                 "%s %d '%s' sweep --db '%s/w.db' --out '%s/s%d' %s %s", mpirun, n, mpi,
                 dir, dir, n, g, q);
    char half[2][4200];
    for (int i = 0; i < 2; i++)
        snprintf(half[i], sizeof half[i],
                 "'%s' sweep --db '%s/w.db' --out '%s/h%d' %s --jobs 1 --shard %d/2 %s",
                 indiv, dir, dir, i, g, i, q);
    pair_cmd(r[S_CEILING].cmd, half[0], half[1]);
    snprintf(r[S_JOBS2].cmd, CMD_BYTES,
             "'%s' sweep --db '%s/w.db' --out '%s/st' %s --jobs 2 %s", indiv, dir, dir, g,
             q);
    static const char *const outs[S_RUNS] = {"s0", "s1", "s2", "h0", "st"};
    for (int i = 0; i < S_RUNS; i++)
        snprintf(r[i].prep, CMD_BYTES, "rm -rf '%s/%s' '%s/h1'", dir, outs[i], dir);
}

static void sweep_report(const run *r, int reps, long consumers, double load0) {
    const char *b = "mpi_sweep";
    report("mpi_sweep_1rank", &r[S_RANK1], &r[S_ONE], "indiv_sweep_jobs1", reps);
    report("mpi_sweep_2ranks", &r[S_RANKS2], &r[S_ONE], "indiv_sweep_jobs1", reps);
    report("mpi_sweep_ceiling_2shards", &r[S_CEILING], &r[S_ONE], "indiv_sweep_jobs1",
           reps);
    printf("info %s: 40 cells x 2 seeds, 3 rounds, %ld consumers, %d repetitions; "
           "medians (smallest-largest):\n",
           b, consumers, reps);
    print_run(b, "indiv sweep --jobs 1", &r[S_ONE], reps);
    print_run(b, "indiv-mpi -np 1", &r[S_RANK1], reps);
    print_run(b, "indiv-mpi -np 2", &r[S_RANKS2], reps);
    print_run(b, "ceiling: 2 indiv --shard I/2", &r[S_CEILING], reps);
    print_run(b, "indiv sweep --jobs 2", &r[S_JOBS2], reps);
    double s = print_speedup(b, "2 ranks over indiv", &r[S_ONE], &r[S_RANKS2], reps);
    print_speedup(b, "2 ranks over 1 rank", &r[S_RANK1], &r[S_RANKS2], reps);
    double c = print_speedup(b, "the ceiling over indiv", &r[S_ONE], &r[S_CEILING], reps);
    printf("info %s: 2 ranks reach %.0f%% of the ceiling\n", b, 100 * s / c);
    print_speedup(b, "indiv --jobs 2 over indiv", &r[S_ONE], &r[S_JOBS2], reps);
    double o = print_overhead(b, &r[S_ONE], &r[S_RANK1], reps);
    char v[32];
    snprintf(v, sizeof v, "%.2fx", s);
    print_goal(b, "2 ranks >= 1.8x over indiv", s >= GOAL_SPEEDUP, v);
    overhead_goal(b, o);
    printf("info %s: load average %.2f before, %.2f after\n", b, load0, load_average());
}

static int sweep_outputs_equal(const char *dir) {
    static const char *const other[] = {"s1", "s2", "st"};
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/s0/results.csv", dir);
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        snprintf(b, sizeof b, "%s/%s/results.csv", dir, other[i]);
        if (!same_files(a, b))
            return 0;
    }
    return 1;
}

static int bench_sweep(const char *indiv, const char *mpi, const char *mpirun,
                       const char *where, int reps) {
    char dir[1024], cmd[4400];
    snprintf(dir, sizeof dir, "%s/bench-mpi-sweep-%d", where, (int)getpid());
    long consumers = lround(SWEEP_CONSUMERS * bench_scale());
    consumers = consumers < 50 ? 50 : consumers;
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && '%s' generate --db '%s/w.db' --consumers %ld --offers 200 "
             "--categories 20 --days 120 >/dev/null 2>&1",
             dir, indiv, dir, consumers);
    run *r = calloc(S_RUNS, sizeof *r);
    int ok = r && system(cmd) == 0;
    if (ok) {
        sweep_runs(r, indiv, mpi, mpirun, dir);
        double load0 = load_average();
        ok = run_all(r, S_RUNS, reps) == 0 && sweep_outputs_equal(dir);
        if (ok)
            sweep_report(r, reps, consumers, load0);
        else
            fprintf(stderr, "bench_mpi: sweep failed, or results differ from indiv's\n");
    }
    free(r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_mpi: could not remove %s\n", dir);
    return !ok;
}

static int repetitions(void) {
    const char *s = getenv("BENCH_MPI_REPS");
    int n = s && *s ? atoi(s) : REPS_DEFAULT;
    return n < 1 ? 1 : n > REPS_MAX ? REPS_MAX : n;
}

int main(void) {
    gsl_set_error_handler_off();
    const char *indiv = getenv("INDIV_BIN");
    char mpi[4200];
    if (!indiv) {
        fprintf(stderr, "bench_mpi: INDIV_BIN is not set\n");
        return 1;
    }
    const char *slash = strrchr(indiv, '/');
    snprintf(mpi, sizeof mpi, "%.*s/indiv-mpi", slash ? (int)(slash - indiv) : 1,
             slash ? indiv : ".");
    if (access(mpi, X_OK) != 0 || system("command -v mpirun >/dev/null 2>&1") != 0) {
        fprintf(stderr, "bench_mpi: no %s or no mpirun (MPI not installed): skipped\n",
                mpi);
        return 0;
    }
    if (geteuid() == 0) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    const char *mpirun = "mpirun --oversubscribe --bind-to none -np";
    const char *cache = getenv("BENCH_CACHE"), *tmpdir = getenv("TMPDIR");
    const char *where = cache && *cache ? cache : tmpdir && *tmpdir ? tmpdir : "/tmp";
    int reps = repetitions();
    const char *only = getenv("BENCH_MPI_ONLY"); /* decide or sweep; unset: both */
    int rc = 0;
    if (!only || !*only || strcmp(only, "decide") == 0)
        rc = bench_decide(indiv, mpi, mpirun, where, reps);
    if (!only || !*only || strcmp(only, "sweep") == 0)
        rc = bench_sweep(indiv, mpi, mpirun, where, reps) || rc;
    return rc;
}
