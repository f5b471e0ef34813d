/*
 * serve.h — the decision service: an HTTP server (libmicrohttpd, JSON with jansson) that
 * takes events as they happen and answers one consumer's decision at a time
 * (docs/service.md has the API, the error model and the threading model).
 *
 *   POST /v1/events                  one event or an array (the `events` import format's
 *                                    fields), appended in one transaction; the touched
 *                                    consumers' profiles updated incrementally
 *   GET  /v1/decisions/{consumer}    the line `indiv decide` writes for them on the
 *                                    same database state (?as_of=TIME)
 *   GET  /healthz, GET /metrics      liveness; Prometheus text format
 *
 * Threads: libmicrohttpd's pool of `threads` threads runs the handlers. Each thread reads
 * through its own read-only SQLite connection (one read transaction per request: one
 * snapshot); writes go through one writer connection, one request at a time, in
 * write-ahead-log mode with a full fsync at each commit, so that an event answered with
 * a 2xx survives a crash of the process. What deciding shares (catalog, scorer, the
 * co-purchase counts of the `adjacent` aim) sits behind a read-write lock that only the
 * writer takes for writing, after its commit.
 *
 * Usage:
 *     indiv_serve_opts o;
 *     indiv_serve_opts_init(&o);
 *     o.db_path = "shop.db";
 *     o.model = &m;
 *     indiv_server *s;
 *     if (indiv_server_start(&o, &s, &err) < 0) ...
 *     ... indiv_server_port(s) ...
 *     indiv_server_stop(s);       (stops accepting, drains the requests in flight)
 */
#ifndef INDIV_SERVE_H
#define INDIV_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/decide.h"
#include "indiv/error.h"
#include "indiv/model.h"

#define INDIV_SERVE_BODY_LIMIT  (1 << 20) /* default largest request body, bytes */
#define INDIV_SERVE_EVENTS_MAX  10000     /* most events in one POST */
#define INDIV_SERVE_BUSY_MS     2000      /* default wait for the writer: 503 after it */
#define INDIV_SERVE_DRAIN_MS    10000     /* most a stop waits for requests in flight */
#define INDIV_SERVE_THREADS_MAX 64

typedef struct indiv_serve_opts {
    const char *db_path;      /* the event log (switched to write-ahead logging) */
    const indiv_model *model; /* borrowed; must outlive the server */
    const char *model_path;   /* its file, recorded as used (NULL: the built-in) */
    indiv_decide_opts decide; /* policy parameters and seed (as_of is per request) */
    const char *address;      /* IPv4 address to bind (default "127.0.0.1") */
    int port;                 /* 0: any free port (indiv_server_port tells it) */
    int threads;              /* HTTP worker threads, 1..INDIV_SERVE_THREADS_MAX */
    size_t body_limit;        /* larger bodies get 413 */
    int busy_ms;              /* longest wait for the writer or a lock, then 503 */
    int consent_profiling;    /* consent and channels of a consumer first met in */
    int consent_contact;      /* an event (as `indiv import` gives them) */
    unsigned channels;
} indiv_serve_opts;

typedef struct indiv_server indiv_server;

/* Defaults above; 2 threads; the import defaults for new consumers. */
void indiv_serve_opts_init(indiv_serve_opts *o);

/* Opens the database (one writer, readers opened by each thread), loads what deciding
 * needs, binds and starts serving. The service's time (the default as_of) is the stored
 * profiles' time, else just after the last event, as for `indiv decide`; it moves to
 * just after the newest event posted. On error *out is NULL and nothing is listening. */
int indiv_server_start(const indiv_serve_opts *o, indiv_server **out /* OUT */,
                       indiv_error *err);

/* The TCP port the server listens on. */
int indiv_server_port(const indiv_server *s);

/* How many erased people's data the model may still hold (rights.h): a model to
 * retrain when > 0. Updated by every erasure. */
int64_t indiv_server_model_erased(const indiv_server *s);

/* Stops accepting connections, waits (at most INDIV_SERVE_DRAIN_MS) for the requests in
 * flight to be answered, stops and frees everything. Accepts NULL. */
void indiv_server_stop(indiv_server *s);

/* Answers one request without HTTP, through the same routing and handlers as the
 * socket (tests and the in-process benchmark): method ("GET", ...), path with its
 * query ("/v1/decisions/c1?as_of=..."), body (may be NULL). *status gets the HTTP
 * status; *reply (caller frees) the body. Callable from any thread. INDIV_ENOMEM only. */
int indiv_server_request(indiv_server *s, const char *method, const char *path,
                         const char *body, size_t len, int *status /* OUT */,
                         char **reply /* OUT */, size_t *reply_len /* OUT */);

#endif /* INDIV_SERVE_H */
