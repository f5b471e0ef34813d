/*
 * serve.c — the decision service: server lifecycle, threads, locks and the HTTP glue
 * (the contract is in serve.h; the routes are in serve_routes.c, the metrics in
 * serve_metrics.c, their shared state in serve_internal.h).
 *
 * Invariants:
 * - SQLite: one writer handle (s->wlog), used under s->wmu only; one read-only handle per
 *   thread (struct reader), used by that thread only, one read transaction per request.
 * - s->dc, s->pl, s->as_of and s->dc_gen change under the write side of s->world, only
 *   from the writer (holding s->wmu) or at start; readers hold the read side while they
 *   use them.
 * - Every request is answered (never a crash, never a partial write): a failure inside a
 *   write transaction rolls it back before the error reply.
 */
#include "indiv/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "indiv/plausibility.h"
#include "indiv/profile.h"
#include "indiv/rights.h"
#include "serve_internal.h"

void indiv_serve_opts_init(indiv_serve_opts *o) {
    memset(o, 0, sizeof *o);
    indiv_decide_opts_init(&o->decide);
    o->address = "127.0.0.1";
    o->threads = 2;
    o->body_limit = INDIV_SERVE_BODY_LIMIT;
    o->busy_ms = INDIV_SERVE_BUSY_MS;
    indiv_import_opts io;
    indiv_import_opts_init(&io); /* a consumer first met in an event: as import says */
    o->consent_profiling = io.default_consent_profiling;
    o->consent_contact = io.default_consent_contact;
    o->channels = io.default_channels;
}

double serve_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Absolute CLOCK_REALTIME time ms from now (the timed pthread locks take it). */
struct timespec serve_deadline(int ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int serve_lock_writer(indiv_server *s) {
    struct timespec t = serve_deadline(s->o.busy_ms);
    return pthread_mutex_timedlock(&s->wmu, &t) == 0 ? INDIV_OK : INDIV_EBUSY;
}

int serve_lock_read(indiv_server *s) {
    struct timespec t = serve_deadline(s->o.busy_ms);
    return pthread_rwlock_timedrdlock(&s->world, &t) == 0 ? INDIV_OK : INDIV_EBUSY;
}

/* ---- per-thread readers ----------------------------------------------------------- */

struct reader *serve_reader(indiv_server *s, indiv_error *err) {
    struct reader *r = pthread_getspecific(s->key);
    if (r)
        return r;
    if (!(r = calloc(1, sizeof *r)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory"), NULL;
    /* SIBLING: the writer's handle is open in this process (eventlog.h) */
    int rc = indiv_eventlog_open(
        s->o.db_path, INDIV_EVENTLOG_READONLY | INDIV_EVENTLOG_SIBLING, &r->log, err);
    if (rc < 0 || pthread_setspecific(s->key, r) != 0) {
        indiv_eventlog_close(r->log);
        free(r);
        return rc < 0 ? NULL
                      : (indiv_error_set(err, INDIV_ENOMEM, "out of memory"), NULL);
    }
    indiv_eventlog_busy_timeout(r->log, s->o.busy_ms);
    pthread_mutex_lock(&s->readers_mu);
    r->next = s->readers;
    s->readers = r;
    pthread_mutex_unlock(&s->readers_mu);
    return r;
}

static void readers_free(indiv_server *s) {
    for (struct reader *r = s->readers, *next; r; r = next) {
        next = r->next;
        indiv_decide_ws_free(r->ws);
        indiv_eventlog_close(r->log);
        indiv_buf_free(&r->out);
        free(r);
    }
    s->readers = NULL;
}

/* ---- the HTTP glue ------------------------------------------------------------------ */

/* One request in progress: its body so far. */
struct request {
    double t0;
    indiv_buf body;
    int too_big;
};

static enum MHD_Result send_reply(struct MHD_Connection *c, const struct reply *r) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->body.len, r->body.data ? r->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->text ? "text/plain; version=0.0.4" : "application/json");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Answers 413 at once, before the body is read, when Content-Length says too much. */
static enum MHD_Result refuse_big(indiv_server *s, struct MHD_Connection *c,
                                  struct request *rq, const char *method,
                                  const char *url) {
    struct reply r = {0};
    serve_error(&r, 413, "body",
                "the request body is larger than the limit of %zu bytes (--body-limit)",
                s->o.body_limit);
    serve_metrics_count(&s->metrics, serve_route_of(method, url), r.status,
                        serve_now() - rq->t0);
    enum MHD_Result ok = send_reply(c, &r);
    indiv_buf_free(&r.body);
    return ok;
}

static enum MHD_Result first_call(indiv_server *s, struct MHD_Connection *c,
                                  const char *method, const char *url, void **con_cls) {
    struct request *rq = calloc(1, sizeof *rq);
    if (!rq)
        return MHD_NO;
    rq->t0 = serve_now();
    *con_cls = rq;
    atomic_fetch_add(&s->inflight, 1);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->o.body_limit) {
        rq->too_big = 2; /* answered */
        return refuse_big(s, c, rq, method, url);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size,
                                  void **con_cls) {
    (void)version;
    indiv_server *s = cls;
    struct request *rq = *con_cls;
    if (!rq)
        return first_call(s, c, method, url, con_cls);
    if (rq->too_big == 2) { /* already answered: drop the rest */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->body.len + *upload_size > s->o.body_limit)
            rq->too_big = 1;
        else if (indiv_buf_append(&rq->body, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return refuse_big(s, c, rq, method, url);
    struct reply r = {0};
    const char *as_of = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "as_of");
    serve_dispatch(s, method, url, as_of, rq->body.data, rq->body.len, &r);
    serve_metrics_count(&s->metrics, serve_route_of(method, url), r.status,
                        serve_now() - rq->t0);
    enum MHD_Result ok = send_reply(c, &r);
    indiv_buf_free(&r.body);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    indiv_server *s = cls;
    struct request *rq = *con_cls;
    if (!rq)
        return;
    indiv_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static int check_opts(const indiv_serve_opts *o, struct sockaddr_in *sa,
                      indiv_error *err) {
    if (!o->db_path || !o->model)
        return indiv_error_set(err, INDIV_EINVAL,
                               "serve: a database and a model are "
                               "needed");
    if (o->threads < 1 || o->threads > INDIV_SERVE_THREADS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "threads must be in 1..%d",
                               INDIV_SERVE_THREADS_MAX);
    if (o->port < 0 || o->port > 65535)
        return indiv_error_set(err, INDIV_EINVAL, "port %d is not in 0..65535", o->port);
    if (o->body_limit < 1 || o->busy_ms < 1)
        return indiv_error_set(err, INDIV_EINVAL,
                               "body limit and busy time must be >= 1");
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->address ? o->address : "", &sa->sin_addr) != 1)
        return indiv_error_set(err, INDIV_EINVAL,
                               "listen address '%s' is not an IPv4 address",
                               o->address ? o->address : "");
    return indiv_policy_params_validate(&o->decide.policy, err);
}

/* The service's time at start: the stored profiles' time, else just after the last
 * event (the default of `indiv decide`). */
static int start_time(indiv_server *s, indiv_error *err) {
    int rc = indiv_profile_stored_params(s->wlog, &s->pp, NULL, err);
    s->profiles = rc == INDIV_OK;
    if (rc == INDIV_OK) {
        s->as_of = s->pp.as_of;
        return INDIV_OK;
    }
    if (rc != INDIV_ENOTFOUND)
        return rc;
    int64_t last;
    rc = indiv_eventlog_last_event_ts(s->wlog, &last, err);
    s->as_of = rc == INDIV_OK && last != INDIV_TS_NONE ? last + 1 : 0;
    return rc;
}

int serve_load_decider(indiv_server *s, int64_t as_of, indiv_decider **out,
                       indiv_error *err) {
    indiv_decide_opts o = s->o.decide;
    o.policy.as_of = as_of;
    return indiv_decider_new(s->wlog, s->o.model, &o, out, err);
}

/* Records the model as used here (an erasure then marks it) and reads how many erased
 * people's data it may hold. */
static int record_model(indiv_server *s, indiv_error *err) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* when it was used: a fact, not an input */
    int rc = indiv_rights_model_record(s->wlog, s->o.model, s->o.model_path,
                                       INDIV_MODEL_USED, (int64_t)ts.tv_sec, err);
    return rc == INDIV_OK
               ? indiv_rights_models_check(s->wlog, s->o.model, &s->model_erased, err)
               : rc;
}

static int open_world(indiv_server *s, indiv_error *err) {
    int rc = indiv_eventlog_open(s->o.db_path, INDIV_EVENTLOG_WAL, &s->wlog, err);
    if (rc == INDIV_OK) {
        indiv_eventlog_busy_timeout(s->wlog, s->o.busy_ms);
        rc = start_time(s, err);
    }
    if (rc == INDIV_OK)
        rc = serve_load_decider(s, s->as_of, &s->dc, err);
    if (rc == INDIV_OK)
        rc = indiv_decider_plausibility(s->wlog, s->dc, &s->pl, err);
    if (rc == INDIV_OK)
        rc = record_model(s, err);
    return rc;
}

static int start_daemon(indiv_server *s, const struct sockaddr_in *sa, indiv_error *err) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
    s->d = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    if (!s->d)
        return indiv_error_set(err, INDIV_EIO, "cannot listen on %s:%d: %s", s->o.address,
                               s->o.port,
                               errno ? strerror(errno) : "libmicrohttpd refused");
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    return INDIV_OK;
}

int indiv_server_start(const indiv_serve_opts *o, indiv_server **out, indiv_error *err) {
    struct sockaddr_in sa;
    *out = NULL;
    int rc = check_opts(o, &sa, err);
    if (rc < 0)
        return rc;
    indiv_server *s = calloc(1, sizeof *s);
    if (!s)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    s->o = *o;
    snprintf(s->address, sizeof s->address, "%s", o->address);
    s->o.address = s->address;
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_mutex_init(&s->readers_mu, NULL);
    pthread_rwlock_init(&s->world, NULL);
    s->key_made = pthread_key_create(&s->key, NULL) == 0;
    rc = s->key_made ? open_world(s, err)
                     : indiv_error_set(err, INDIV_ENOMEM, "no thread-local key left");
    if (rc == INDIV_OK)
        rc = start_daemon(s, &sa, err);
    if (rc < 0) {
        indiv_server_stop(s);
        return rc;
    }
    *out = s;
    return INDIV_OK;
}

int indiv_server_port(const indiv_server *s) {
    return s->port;
}

int64_t indiv_server_model_erased(const indiv_server *s) {
    return s->model_erased;
}

/* Lets the requests in flight finish: at most INDIV_SERVE_DRAIN_MS. */
static void drain(indiv_server *s) {
    double end = serve_now() + INDIV_SERVE_DRAIN_MS / 1000.0;
    struct timespec nap = {0, 10 * 1000000L};
    while (atomic_load(&s->inflight) > 0 && serve_now() < end)
        nanosleep(&nap, NULL);
}

void indiv_server_stop(indiv_server *s) {
    if (!s)
        return;
    if (s->d) {
        MHD_quiesce_daemon(s->d); /* no new connection from here on */
        drain(s);
        MHD_stop_daemon(s->d);
    }
    readers_free(s);
    indiv_plausibility_free(s->pl);
    indiv_decider_free(s->dc);
    indiv_eventlog_close(s->wlog);
    if (s->key_made)
        pthread_key_delete(s->key);
    pthread_rwlock_destroy(&s->world);
    pthread_mutex_destroy(&s->readers_mu);
    pthread_mutex_destroy(&s->wmu);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->qmu);
    free(s);
}

/* ---- requests without HTTP ---------------------------------------------------------- */

static int hex(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes [s, s + n) into out (NUL-terminated; room for n + 1 bytes), as
 * libmicrohttpd does for paths and, with plus set, for query values ('+' is a blank). */
static void url_decode(const char *s, size_t n, int plus, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out[k++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else
            out[k++] = plus && s[i] == '+' ? ' ' : s[i];
    }
    out[k] = '\0';
}

/* The value of parameter name in query q (decoded into buf), or NULL. */
static const char *query_param(const char *q, const char *name, char *buf, size_t cap) {
    size_t len = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, len) != 0 || p[len] != '=')
            continue;
        const char *v = p + len + 1;
        size_t n = strcspn(v, "&");
        if (n >= cap)
            n = cap - 1;
        url_decode(v, n, 1, buf);
        return buf;
    }
    return NULL;
}

int indiv_server_request(indiv_server *s, const char *method, const char *path,
                         const char *body, size_t len, int *status, char **reply,
                         size_t *reply_len) {
    double t0 = serve_now();
    size_t n = strcspn(path, "?");
    char *url = malloc(n + 1), qbuf[256];
    if (!url)
        return INDIV_ENOMEM;
    url_decode(path, n, 0, url);
    const char *as_of =
        path[n] ? query_param(path + n + 1, "as_of", qbuf, sizeof qbuf) : NULL;
    struct reply r = {0};
    if (len > s->o.body_limit)
        serve_error(&r, 413, "body",
                    "the request body is larger than the limit of %zu bytes "
                    "(--body-limit)",
                    s->o.body_limit);
    else
        serve_dispatch(s, method, url, as_of, body, len, &r);
    serve_metrics_count(&s->metrics, serve_route_of(method, url), r.status,
                        serve_now() - t0);
    free(url);
    *status = r.status;
    *reply_len = r.body.len;
    *reply = r.body.data ? r.body.data : strdup("");
    return *reply ? INDIV_OK : INDIV_ENOMEM;
}
