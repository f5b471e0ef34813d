/*
 * bench_serve.c — the decision service under load (issue 15, "Speed"), against the
 * in-process work of one decision.
 *
 * The world: 100,000 x SCALE consumers, 1000 offers in 50 categories, 60 days, profiles
 * built at the end of the history; generated once in a child process and cached (as
 * bench_decide does) in $BENCH_CACHE, else $TMPDIR, else /tmp. Each run works on a copy
 * (the server switches its database to write-ahead logging and writes events into it).
 *
 * Measured, in this order, all on 127.0.0.1 only:
 *   (r) the reference: indiv_decide_one in this process, one thread, on REF_N consumers
 *       drawn at random: one consumer row and profile read, ~1,000 offers scored, the
 *       policy, the JSON line — the work of one decision without HTTP or locks;
 *   (u) the incremental profile update on event arrival: one view appended and
 *       indiv_profile_update on its consumer, for UPD_N consumers in one transaction
 *       (rolled back), per update;
 *   (a) the server (2 threads, in this process) driven by wrk (1 thread, CONNS
 *       connections, DURATION s) with a Lua script: decisions only, random consumers;
 *   (b) the same with 80 % single-event POSTs (a view at the service's time, so every
 *       one is a commit with its fsync) and 20 % decisions.
 * wrk's own Lua done() prints requests, errors and the latency percentiles (p50, p99,
 * p99.9); the server's CPU time during each run is read from this process.
 * BENCH lines: serve_decisions (decisions/s; ref = in-process decisions/s on one thread;
 * ratio = server CPU per answered decision / in-process time per decision: what HTTP
 * and locking multiply the work by, goal <= 3), serve_mixed (requests/s, same ref and
 * ratio definition per request), serve_profile_update (µs per update; ref = the
 * in-process decision, µs; goal <= 100 µs). The machine is shared: wall-clock numbers
 * move with the other jobs, the CPU ratios much less. SERVE_THREADS sets the server's
 * threads (default 2, the service's default).
 */
#include <math.h>
#include <signal.h>
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
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/plausibility.h"
#include "indiv/profile.h"
#include "indiv/serve.h"
#include "indiv/timeutil.h"

#define BASE_CONSUMERS 100000
#define OFFERS         1000
#define CATEGORIES     50
#define DAYS           60
#define SEED           11
#define REF_N          20000 /* in-process decisions timed */
#define UPD_N          2000  /* profile updates timed */
#define CONNS          16
#define DURATION_S     10 /* per wrk run at SCALE >= 1 */

/* ---- the world (as bench_decide's, smaller) -------------------------------------- */

static int make_world(const char *tmp, void *ctx) {
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = *(const int64_t *)ctx;
    p.offers = OFFERS;
    p.categories = CATEGORIES;
    p.days = DAYS;
    p.seed = SEED;
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
        fprintf(stderr, "bench_serve: profiling %s: %s\n", tmp, err.msg);
    return rc < 0;
}

/* Consumer ids of generated worlds: "c" and the number, zero-padded to the width of the
 * count (c000001 ... c100000). */
static void consumer_id(int64_t i, int64_t n, char *buf, size_t cap) {
    int width = snprintf(NULL, 0, "%lld", (long long)n);
    snprintf(buf, cap, "c%0*lld", width, (long long)i);
}

static int copy_file(const char *from, const char *to) {
    char cmd[4 * 1024 + 64];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'", from, to, to,
             to);
    return system(cmd) != 0;
}

/* ---- (r) one decision in process --------------------------------------------------- */

static int reference(indiv_eventlog *log, const indiv_model *m, int64_t as_of, int64_t n,
                     double *us) {
    indiv_decide_opts o;
    indiv_decide_opts_init(&o);
    indiv_decide_default_threshold(&o, m);
    o.policy.as_of = as_of;
    indiv_decider *dc = NULL;
    indiv_plausibility *pl = NULL;
    indiv_decide_ws *ws = NULL;
    indiv_buf out = {0};
    indiv_error err = {0};
    int rc = indiv_decider_new(log, m, &o, &dc, &err);
    if (rc == INDIV_OK)
        rc = indiv_decider_plausibility(log, dc, &pl, &err);
    srand48(SEED);
    double t0 = bench_cpu_now();
    for (int k = 0; rc == INDIV_OK && k < REF_N; k++) {
        char id[32];
        consumer_id(1 + (int64_t)(drand48() * (double)n), n, id, sizeof id);
        out.len = 0;
        rc = indiv_decide_one(dc, pl, &ws, log, as_of, id, &out, NULL, &err);
    }
    *us = 1e6 * (bench_cpu_now() - t0) / REF_N;
    if (rc < 0)
        fprintf(stderr, "bench_serve: reference: %s\n", err.msg);
    indiv_buf_free(&out);
    indiv_decide_ws_free(ws);
    indiv_plausibility_free(pl);
    indiv_decider_free(dc);
    return rc < 0;
}

/* ---- (u) profile update on event arrival ------------------------------------------- */

static int profile_updates(indiv_eventlog *log, const indiv_model *m, int64_t as_of,
                           int64_t n, double *us) {
    indiv_decide_opts o;
    indiv_decide_opts_init(&o);
    o.policy.as_of = as_of;
    indiv_decider *dc = NULL;
    indiv_profile_params pp;
    indiv_error err = {0};
    int rc = indiv_decider_new(log, m, &o, &dc, &err);
    if (rc == INDIV_OK)
        rc = indiv_profile_stored_params(log, &pp, NULL, &err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_begin(log, &err);
    pp.as_of = as_of + 1;
    double spent = 0;
    for (int k = 0; rc == INDIV_OK && k < UPD_N; k++) {
        int64_t id = 1 + (int64_t)((double)k / UPD_N * (double)n), since = as_of;
        indiv_event ev = {.consumer_id = id,
                          .ts = as_of,
                          .offer_id = 1,
                          .type = INDIV_EV_VIEW,
                          .channel = INDIV_CH_NONE,
                          .quantity = 1};
        rc = indiv_eventlog_add_event(log, &ev, &err);
        double t0 = bench_cpu_now();
        if (rc == INDIV_OK)
            rc = indiv_profile_update(log, indiv_decider_catalog(dc), &pp, &id, &since, 1,
                                      NULL, NULL, &err);
        spent += bench_cpu_now() - t0;
    }
    indiv_eventlog_rollback(log);
    *us = 1e6 * spent / UPD_N;
    if (rc < 0)
        fprintf(stderr, "bench_serve: profile update: %s\n", err.msg);
    indiv_decider_free(dc);
    return rc < 0;
}

/* ---- (a), (b) wrk against the server ---------------------------------------------- */

/* Writes the Lua script: share of POSTs (0 or 0.8), consumer count and id width, the
 * events' time; done() prints one parseable line. */
static int write_script(const char *path, double posts, int64_t n, int64_t ts) {
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    int width = snprintf(NULL, 0, "%lld", (long long)n);
    fprintf(
        f,
        "-- generated by bench_serve.c\n"
        "local n, posts, ts = %lld, %g, %lld\n"
        "math.randomseed(%d)\n"
        "request = function()\n"
        "  local c = string.format('c%%0%dd', math.random(1, n))\n"
        "  if math.random() < posts then\n"
        "    local body = '{\"consumer\":\"' .. c .. '\",\"offer\":\"o' ..\n"
        "      string.format('%%04d', math.random(1, %d)) ..\n"
        "      '\",\"type\":\"view\",\"ts\":' .. ts .. '}'\n"
        "    return wrk.format('POST', '/v1/events', nil, body)\n"
        "  end\n"
        "  return wrk.format('GET', '/v1/decisions/' .. c)\n"
        "end\n"
        "done = function(s, latency, requests)\n"
        "  local e = s.errors\n"
        "  io.write(string.format('WRK requests=%%d duration_us=%%d p50_us=%%d "
        "p99_us=%%d p999_us=%%d non2xx=%%d errors=%%d\\n', s.requests, s.duration,\n"
        "    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),\n"
        "    e.status, e.connect + e.read + e.write + e.timeout))\n"
        "end\n",
        (long long)n, posts, (long long)ts, SEED, width, OFFERS);
    return fclose(f) != 0;
}

typedef struct wrk_result {
    double requests, seconds, p50, p99, p999, non2xx, errors, cpu_s;
} wrk_result;

/* Runs wrk for secs seconds against the server; parses its WRK line. */
static int run_wrk(int port, const char *script, int secs, wrk_result *w) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "timeout %d wrk -t1 -c%d -d%ds --timeout 5s -s '%s' http://127.0.0.1:%d/ "
             "2>&1",
             secs + 30, CONNS, secs, script, port);
    double c0 = bench_cpu_now();
    FILE *p = popen(cmd, "r");
    if (!p)
        return 1;
    char line[1024];
    int found = 0;
    long long rq = 0, dur = 0, p50 = 0, p99 = 0, p999 = 0, bad = 0, err = 0;
    while (fgets(line, sizeof line, p))
        found |= sscanf(line,
                        "WRK requests=%lld duration_us=%lld p50_us=%lld p99_us=%lld "
                        "p999_us=%lld non2xx=%lld errors=%lld",
                        &rq, &dur, &p50, &p99, &p999, &bad, &err) == 7;
    int st = pclose(p);
    w->cpu_s = bench_cpu_now() - c0; /* this process: the server's threads */
    *w = (wrk_result){(double)rq,   1e-6 * (double)dur, (double)p50, (double)p99,
                      (double)p999, (double)bad,        (double)err, w->cpu_s};
    if (!found || st != 0)
        fprintf(stderr, "bench_serve: wrk failed (status %d)\n", st);
    return !found || st != 0;
}

static void info_line(const char *what, const wrk_result *w, double ref_us) {
    printf(
        "info serve %s: %.0f requests in %.1f s = %.0f/s; latency p50 %.0f us, p99 "
        "%.0f us, p99.9 %.0f us; non-2xx %.0f, socket errors %.0f; server CPU %.1f s = "
        "%.0f us per request (in-process decision %.1f us)\n",
        what, w->requests, w->seconds, w->requests / w->seconds, w->p50, w->p99, w->p999,
        w->non2xx, w->errors, w->cpu_s, 1e6 * w->cpu_s / w->requests, ref_us);
}

static int serve_runs(const char *db, const indiv_model *m, int64_t as_of, int64_t n,
                      const char *dir, double ref_us) {
    indiv_serve_opts o;
    indiv_serve_opts_init(&o);
    o.db_path = db;
    o.model = m;
    o.port = 0;
    const char *th = getenv("SERVE_THREADS");
    o.threads = th && atoi(th) > 0 ? atoi(th) : 2;
    indiv_decide_default_threshold(&o.decide, m); /* as indiv decide and serve */
    indiv_server *s = NULL;
    indiv_error err = {0};
    if (indiv_server_start(&o, &s, &err) < 0) {
        fprintf(stderr, "bench_serve: %s\n", err.msg);
        return 1;
    }
    int secs = bench_scale() >= 1 ? DURATION_S : 3;
    char script[1024];
    wrk_result a, b;
    snprintf(script, sizeof script, "%s/bench-serve-%d.lua", dir, (int)getpid());
    int rc = write_script(script, 0, n, as_of) ||
             run_wrk(indiv_server_port(s), script, secs, &a) ||
             write_script(script, 0.8, n, as_of) ||
             run_wrk(indiv_server_port(s), script, secs, &b);
    unlink(script);
    indiv_server_stop(s);
    if (rc)
        return 1;
    double ref_rate = 1e6 / ref_us;
    bench_report("serve_decisions", a.requests / a.seconds, "decisions/s",
                 "inprocess_decisions_1thread", ref_rate,
                 1e6 * a.cpu_s / a.requests / ref_us);
    info_line("decisions only", &a, ref_us);
    bench_report("serve_mixed", b.requests / b.seconds, "requests/s",
                 "inprocess_decisions_1thread", ref_rate,
                 1e6 * b.cpu_s / b.requests / ref_us);
    info_line("80% events, 20% decisions", &b, ref_us);
    return 0;
}

int main(void) {
    gsl_set_error_handler_off();
    signal(SIGPIPE, SIG_IGN);
    int64_t n = llround(BASE_CONSUMERS * bench_scale());
    n = n < 10 ? 10 : n;
    const char *cache = getenv("BENCH_CACHE"), *tmpdir = getenv("TMPDIR");
    const char *where = cache && *cache ? cache : tmpdir && *tmpdir ? tmpdir : "/tmp";
    char path[1024], work[1024];
    snprintf(path, sizeof path, "%s/bench-serve-%lld-d%d-s%d.db", where, (long long)n,
             DAYS, SEED);
    snprintf(work, sizeof work, "%s/bench-serve-work-%d.db", where, (int)getpid());
    double gen_s;
    if (bench_cached(path, "bench_serve", make_world, &n, &gen_s) ||
        copy_file(path, work))
        return 1;
    indiv_model m;
    indiv_model_default(&m);
    indiv_eventlog *log = NULL;
    indiv_profile_params pp;
    indiv_error err = {0};
    double ref_us = 0, upd_us = 0;
    int rc = indiv_eventlog_open(work, 0, &log, &err) < 0 ||
             indiv_profile_stored_params(log, &pp, NULL, &err) < 0 ||
             reference(log, &m, pp.as_of, n, &ref_us) ||
             profile_updates(log, &m, pp.as_of, n, &upd_us);
    indiv_eventlog_close(log);
    if (!rc) {
        bench_report("serve_profile_update", upd_us, "us", "inprocess_decision_us",
                     ref_us, upd_us / ref_us);
        rc = serve_runs(work, &m, pp.as_of, n, where, ref_us);
    } else if (err.code)
        fprintf(stderr, "bench_serve: %s\n", err.msg);
    char side[1100];
    unlink(work);
    snprintf(side, sizeof side, "%s-wal", work);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", work);
    unlink(side);
    indiv_model_clear(&m);
    return rc;
}
