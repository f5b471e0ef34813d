/*
 * bench_simulate.c — the closed loop at the size: a world of 100,000 x SCALE
 * consumers (default generator otherwise: 1000 offers in 50 categories, 365 days of
 * history) run for 52 weekly rounds with the indiv policy and default parameters, two
 * decision threads. Goal at SCALE=1: under 2 minutes on the project's 2-core machine.
 *
 * The world is generated once (in a child process, so that the generator's memory does
 * not count in this process's peak RSS) and cached next to this binary, or in
 * $BENCH_CACHE, under a name keyed by the consumer count; the work database goes to a
 * temporary directory ($TMPDIR) and is removed at the end.
 *
 * Timed: indiv_sim_run from start to end (copy of the world, setup, every round), and
 * within it each round's profile rebuild, decisions, responses and training
 * (indiv_round_metrics.seconds), whose sums give the shares; the rest ("other") is the
 * copy, the setup and the metrics. BENCH_SIM_RETRAIN=R (default 0: the built-in model)
 * makes the engine train its own model before round 1 and every R rounds
 * (--model trained:every=R), so that the retraining share is measured too.
 *
 * Reference, measured in the same run (the BENCH line's ref): the same simulation on the
 * same-sized world generated with independent tastes (taste_locality 0, the generator
 * before taste structure), so that the ratio says what the structured world costs the
 * loop (the measure). Also measured and printed on an info line: what
 * rebuilding every profile from scratch each round would cost, the design the
 * incremental loop replaces. A full build
 * (indiv_profile_build, full, default parameters) is timed on the log as the first round
 * sees it (the world, as of the simulation start) and on the log as the last round
 * leaves it (the work database, as of the end); the log grows by about the same number
 * of events each round and a full build is linear in the events it reads (see
 * bench_profile), so rounds x the mean of the two is the naive loop's profile stage. It
 * leaves out the naive loop's decisions and responses, so ratio < 1 does not by itself
 * mean the loop is fast; it says how the whole loop compares to that one stage done
 * naively. (A bare scan of the events would be a floor for reading them, but the loop
 * does far more than read, so that ratio would say little.)
 *
 * Prints the BENCH line of docs/architecture.md §10 (seconds of the run, ratio = run /
 * reference) and an info line with the shares, the counts and the reference's parts.
 */
#include <libgen.h>
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
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/sim.h"
#include "indiv/simulate.h"

#define BASE_CONSUMERS 100000
#define ROUNDS         52
#define ROUND_DAYS     7
#define SEED           7

/* What the run reports back, round by round. */
typedef struct tally {
    double stage[INDIV_SIM_NTIMES], stage_cpu[INDIV_SIM_NTIMES];
    double contacts, conversions;
    int64_t start, end;
    int rounds;
} tally;

/* What a world is: its size, and structured (default taste_locality) or not (0). */
typedef struct world_spec {
    int64_t consumers;
    int independent;
} world_spec;

/* The world: the generator's defaults with this many consumers. */
static int make_world(const char *tmp, void *ctx) {
    const world_spec *w = ctx;
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = w->consumers;
    p.seed = SEED;
    if (w->independent)
        p.taste_locality = 0;
    return bench_generate(tmp, &p);
}

static int on_round(void *ctx, const indiv_round_metrics *m) {
    tally *t = ctx;
    for (int k = 0; k < INDIV_SIM_NTIMES; k++)
        t->stage[k] += m->seconds[k], t->stage_cpu[k] += m->cpu_seconds[k];
    t->contacts += m->v[INDIV_M_contacts];
    t->conversions += m->v[INDIV_M_conversions];
    if (t->rounds++ == 0)
        t->start = m->round_start;
    t->end = m->round_end;
    return 0;
}

/* The simulation. Seconds, or < 0; *cpu gets its CPU seconds. */
static double simulate(const char *world, const char *work, tally *t, double *cpu) {
    indiv_sim_params p;
    indiv_sim_params_init(&p);
    p.rounds = ROUNDS;
    p.round_days = ROUND_DAYS;
    p.seed = SEED;
    const char *retrain = getenv("BENCH_SIM_RETRAIN");
    if (retrain && atoi(retrain) > 0) {
        p.trained = 1;
        p.retrain_every = atoi(retrain);
    }
    indiv_model m;
    indiv_model_default(&m);
    indiv_error err = {0};
    double c0 = bench_cpu_now(), t0 = bench_now();
    int rc = indiv_sim_run(world, work, &p, &m, NULL, NULL, on_round, t, &err);
    double s = bench_now() - t0;
    *cpu = bench_cpu_now() - c0;
    if (rc < 0) {
        fprintf(stderr, "bench_simulate: %s\n", err.msg);
        return -1;
    }
    return s;
}

/* Events in the log at path, or -1. */
static int64_t count_events(const char *path) {
    indiv_eventlog *log = NULL;
    indiv_eventlog_stats st;
    indiv_error err = {0};
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_stats_get(log, &st, &err);
    indiv_eventlog_close(log);
    if (rc < 0)
        fprintf(stderr, "bench_simulate: %s\n", err.msg);
    return rc < 0 ? -1 : st.events;
}

/* One full profile build of the log at path as of as_of (open and catalogue load
 * included, as in a round). Seconds, or < 0. */
static double full_build(const char *path, int64_t as_of) {
    indiv_eventlog *log = NULL;
    indiv_catalog *cat = NULL;
    indiv_error err = {0};
    indiv_profile_params p;
    indiv_profile_params_init(&p);
    p.as_of = as_of;
    double t0 = bench_now();
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_SCRATCH, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, &err);
    if (rc == INDIV_OK)
        rc = indiv_profile_build(log, cat, &p, 0, NULL, NULL, NULL, &err);
    double t = bench_now() - t0;
    indiv_catalog_free(cat);
    indiv_eventlog_close(log);
    if (rc < 0) {
        fprintf(stderr, "bench_simulate: build of %s: %s\n", path, err.msg);
        return -1;
    }
    return t;
}

/* The first round's full build, on a copy of the world (which must stay as it is). */
static double first_build(const char *world, const char *copy, int64_t as_of) {
    indiv_error err = {0};
    if (indiv_eventlog_copy(world, copy, &err) < 0) {
        fprintf(stderr, "bench_simulate: %s\n", err.msg);
        return -1;
    }
    double t = full_build(copy, as_of);
    unlink(copy);
    return t;
}

/* The cached world of spec w in world (a path of size n); 0, or -1 with a message. */
static int cached_world(const char *dir, const world_spec *w, char *world, size_t n,
                        double *gen_s) {
    snprintf(world, n, "%s/bench-simulate-%lld-s%d%s.db", dir, (long long)w->consumers,
             SEED, w->independent ? "-rho0" : "");
    return bench_cached(world, "bench_simulate", make_world, (void *)w, gen_s) ? -1 : 0;
}

int main(int argc, char **argv) {
    (void)argc;
    gsl_set_error_handler_off();
    world_spec spec = {(int64_t)(BASE_CONSUMERS * bench_scale() + 0.5), 0};
    world_spec spec0 = {spec.consumers, 1};
    int64_t consumers = spec.consumers;
    const char *cache = getenv("BENCH_CACHE"), *base = getenv("TMPDIR");
    char self[1024], world[1200], world0[1200], tmpdir[600], work[700], copy[700];
    snprintf(self, sizeof self, "%s", argv[0]);
    const char *dir = cache && *cache ? cache : dirname(self);
    snprintf(tmpdir, sizeof tmpdir, "%s/indiv-bench-XXXXXX",
             base && *base ? base : "/tmp");
    double gen_s, gen0_s;
    if (cached_world(dir, &spec, world, sizeof world, &gen_s) < 0 ||
        cached_world(dir, &spec0, world0, sizeof world0, &gen0_s) < 0 || !mkdtemp(tmpdir))
        return 1;
    snprintf(work, sizeof work, "%s/work.db", tmpdir);
    snprintf(copy, sizeof copy, "%s/first.db", tmpdir);
    tally t = {0}, t0 = {0};
    double cpu_s = 0, cpu0_s = 0;
    int64_t world_events = count_events(world);
    double run_s = simulate(world, work, &t, &cpu_s);
    int64_t work_events = run_s > 0 ? count_events(work) : -1;
    double last_s = work_events > 0 ? full_build(work, t.end) : -1;
    double first_s = last_s > 0 ? first_build(world, copy, t.start) : -1;
    unlink(work);
    double run0_s = first_s > 0 ? simulate(world0, work, &t0, &cpu0_s) : -1;
    unlink(work);
    rmdir(tmpdir);
    if (run_s <= 0 || first_s <= 0 || last_s <= 0 || world_events < 0 || run0_s <= 0)
        return 1;
    double ref = ROUNDS * (first_s + last_s) / 2, staged = 0;
    for (int k = 0; k < INDIV_SIM_NTIMES; k++)
        staged += t.stage[k];
    bench_report("simulate", run_s, "s", "same_loop_on_independent_tastes_world", run0_s,
                 run_s / run0_s);
    printf("info simulate: structured world (taste_locality default) %.1f s, cpu %.1f s; "
           "independent tastes (0) %.1f s, cpu %.1f s: ratio %.3f wall, %.3f cpu\n",
           run_s, cpu_s, run0_s, cpu0_s, run_s / run0_s, cpu_s / cpu0_s);
    printf(
        "info simulate: %lld consumers, %d rounds of %d days: %.1f s, cpu %.1f s (goal "
        "120 s at SCALE=1); profile rebuild %.1f s (%.0f%%), decisions %.1f s (%.0f%%), "
        "responses %.1f s (%.0f%%), training %.1f s (%.0f%%), other (copy, setup, "
        "metrics) %.1f s (%.0f%%)\n",
        (long long)consumers, t.rounds, ROUND_DAYS, run_s, cpu_s,
        t.stage[INDIV_SIM_T_PROFILE], 100 * t.stage[INDIV_SIM_T_PROFILE] / run_s,
        t.stage[INDIV_SIM_T_DECIDE], 100 * t.stage[INDIV_SIM_T_DECIDE] / run_s,
        t.stage[INDIV_SIM_T_RESPOND], 100 * t.stage[INDIV_SIM_T_RESPOND] / run_s,
        t.stage[INDIV_SIM_T_TRAIN], 100 * t.stage[INDIV_SIM_T_TRAIN] / run_s,
        run_s - staged, 100 * (run_s - staged) / run_s);
    double cpu_staged = 0;
    for (int k = 0; k < INDIV_SIM_NTIMES; k++)
        cpu_staged += t.stage_cpu[k];
    printf("info simulate: cpu by stage (all threads): profile rebuild %.1f s (%.0f%%), "
           "decisions %.1f s (%.0f%%), responses %.1f s (%.0f%%), training %.1f s "
           "(%.0f%%), other %.1f s (%.0f%%)\n",
           t.stage_cpu[INDIV_SIM_T_PROFILE], 100 * t.stage_cpu[INDIV_SIM_T_PROFILE] / cpu_s,
           t.stage_cpu[INDIV_SIM_T_DECIDE], 100 * t.stage_cpu[INDIV_SIM_T_DECIDE] / cpu_s,
           t.stage_cpu[INDIV_SIM_T_RESPOND], 100 * t.stage_cpu[INDIV_SIM_T_RESPOND] / cpu_s,
           t.stage_cpu[INDIV_SIM_T_TRAIN], 100 * t.stage_cpu[INDIV_SIM_T_TRAIN] / cpu_s,
           cpu_s - cpu_staged, 100 * (cpu_s - cpu_staged) / cpu_s);
    printf("info simulate: events %lld in the world, %lld after the run; %.0f contacts, "
           "%.0f conversions; reference: full build %.2f s on the first round's log, "
           "%.2f s on the last, x %d rounds; world %s%s\n",
           (long long)world_events, (long long)work_events, t.contacts, t.conversions,
           first_s, last_s, ROUNDS, world, gen_s > 0 ? " (generated now)" : " (cached)");
    printf("info simulate: naive loop's profile stage (a full build each round) %.1f s: "
           "run / that = %.3f\n",
           ref, run_s / ref);
    return t.rounds == ROUNDS && t0.rounds == ROUNDS ? 0 : 1;
}
