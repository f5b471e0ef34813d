/*
 * serve_internal.h — what the files of the service share (serve.c: lifecycle, threads,
 * HTTP glue; serve_routes.c: the routes; serve_metrics.c: the counters). Not installed.
 */
#ifndef INDIV_SERVE_INTERNAL_H
#define INDIV_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"
#include "indiv/plausibility.h"
#include "indiv/profile.h"
#include "indiv/serve.h"

/* A reply being built: HTTP status, JSON body (text: the metrics' text format). */
struct reply {
    int status;
    int text;
    indiv_buf body;
};

/* Routes, as counted by the metrics. */
enum serve_route {
    ROUTE_EVENTS,
    ROUTE_DECISIONS,
    ROUTE_CONSENT,
    ROUTE_CONSUMER,
    ROUTE_ERASE,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_OTHER,
    ROUTE_COUNT
};

#define SERVE_STATUSES 10 /* 200 201 400 404 405 409 413 500 501 503 */
#define SERVE_BUCKETS  12 /* latency histogram bounds, then +Inf */

struct serve_metrics {
    atomic_llong requests[ROUTE_COUNT][SERVE_STATUSES];
    atomic_llong bucket[ROUTE_COUNT][SERVE_BUCKETS + 1]; /* not cumulative */
    atomic_llong nanos[ROUTE_COUNT];
    atomic_llong events_stored, consumers_created, profiles_updated;
    atomic_llong decisions[3]; /* by indiv_action */
};

/* A thread's reading side: its own read-only connection and decision scratch. */
struct reader {
    indiv_eventlog *log;
    indiv_decide_ws *ws;
    uint64_t ws_gen; /* s->dc_gen when ws was last used */
    indiv_buf out;
    struct reader *next;
};

struct indiv_server {
    indiv_serve_opts o;
    char address[64];
    struct MHD_Daemon *d;
    int port;
    pthread_key_t key; /* the thread's struct reader */
    int key_made;
    pthread_mutex_t readers_mu; /* the list below */
    struct reader *readers;
    pthread_mutex_t wmu; /* the one writer */
    pthread_mutex_t qmu; /* the group-commit queue below */
    pthread_cond_t qcond;
    struct job *queue;
    int leading; /* a leader is writing a group */
    indiv_eventlog *wlog;
    pthread_rwlock_t world; /* dc, pl, as_of, dc_gen */
    indiv_decider *dc;
    indiv_plausibility *pl;
    int64_t as_of;   /* the service's time: the default decision time */
    uint64_t dc_gen; /* incremented when dc is replaced */
    int profiles;    /* profiles were built: pp holds their parameters */
    indiv_profile_params pp;
    int64_t model_erased; /* erased people whose data the model may hold (rights.h) */
    atomic_int inflight;
    struct serve_metrics metrics;
};

double serve_now(void);
/* The writer's mutex, or the read side of the world lock, within o.busy_ms; else
 * INDIV_EBUSY. */
int serve_lock_writer(indiv_server *s);
/* Absolute CLOCK_REALTIME time ms from now, for the timed waits. */
struct timespec serve_deadline(int ms);
int serve_lock_read(indiv_server *s);
/* The calling thread's reader, opened on first use. NULL (err set) on failure. */
struct reader *serve_reader(indiv_server *s, indiv_error *err);
/* A decider for the day of as_of, loaded through the writer's handle (hold s->wmu). */
int serve_load_decider(indiv_server *s, int64_t as_of, indiv_decider **out,
                       indiv_error *err);

/* Routes one request (url decoded, without its query; as_of the decoded query value or
 * NULL) into r. Never fails: errors become error replies. */
void serve_dispatch(indiv_server *s, const char *method, const char *url,
                    const char *as_of, const char *body, size_t len, struct reply *r);
enum serve_route serve_route_of(const char *method, const char *url);
/* r becomes the error reply {"error": {"status", "field", "message"}}. field may be
 * NULL. */
void serve_error(struct reply *r, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void serve_metrics_count(struct serve_metrics *m, enum serve_route route, int status,
                         double seconds);
/* The Prometheus text exposition of m into r (status 200). */
void serve_metrics_text(const struct serve_metrics *m, struct reply *r);

#endif /* INDIV_SERVE_INTERNAL_H */
