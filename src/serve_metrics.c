/*
 * serve_metrics.c — the service's counters and their Prometheus text exposition
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): requests by route and
 * status, a latency histogram per route, events stored, decisions by action.
 *
 * Counters are relaxed atomics bumped by the handler threads: a scrape may see one
 * counter a request ahead of another, never a torn value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve_internal.h"

static const int statuses[SERVE_STATUSES] = {200, 201, 400, 404, 405,
                                             409, 413, 500, 501, 503};

/* Upper bounds of the latency buckets, seconds: 100 µs (an in-process decision is tens
 * of µs) to 1 s. */
static const double bounds[SERVE_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};

static const char *const route_names[ROUTE_COUNT] = {
    "events", "decisions", "consent", "consumer", "erase", "healthz", "metrics", "other"};

static int status_index(int status) {
    for (int i = 0; i < SERVE_STATUSES; i++)
        if (statuses[i] == status)
            return i;
    return 7; /* an unexpected status counts as 500 */
}

void serve_metrics_count(struct serve_metrics *m, enum serve_route route, int status,
                         double seconds) {
    atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1,
                              memory_order_relaxed);
    int b = 0;
    while (b < SERVE_BUCKETS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&m->bucket[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->nanos[route], (long long)(seconds * 1e9),
                              memory_order_relaxed);
}

static long long get(const atomic_llong *a) {
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void put(struct reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(struct reply *r, const char *fmt, ...) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        indiv_buf_append(&r->body, line,
                         (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void requests_text(const struct serve_metrics *m, struct reply *r) {
    put(r, "# HELP indiv_requests_total Requests answered, by route and status.\n"
           "# TYPE indiv_requests_total counter\n");
    for (int k = 0; k < ROUTE_COUNT; k++)
        for (int i = 0; i < SERVE_STATUSES; i++)
            if (get(&m->requests[k][i]))
                put(r, "indiv_requests_total{route=\"%s\",status=\"%d\"} %lld\n",
                    route_names[k], statuses[i], get(&m->requests[k][i]));
}

static void latency_text(const struct serve_metrics *m, struct reply *r) {
    put(r, "# HELP indiv_request_seconds Time to answer a request, by route.\n"
           "# TYPE indiv_request_seconds histogram\n");
    for (int k = 0; k < ROUTE_COUNT; k++) {
        long long cum = 0;
        for (int b = 0; b <= SERVE_BUCKETS; b++) {
            cum += get(&m->bucket[k][b]);
            if (b < SERVE_BUCKETS)
                put(r, "indiv_request_seconds_bucket{route=\"%s\",le=\"%g\"} %lld\n",
                    route_names[k], bounds[b], cum);
        }
        put(r, "indiv_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lld\n",
            route_names[k], cum);
        put(r, "indiv_request_seconds_sum{route=\"%s\"} %.6f\n", route_names[k],
            1e-9 * (double)get(&m->nanos[k]));
        put(r, "indiv_request_seconds_count{route=\"%s\"} %lld\n", route_names[k], cum);
    }
}

void serve_metrics_text(const struct serve_metrics *m, struct reply *r) {
    r->status = 200;
    r->text = 1;
    requests_text(m, r);
    latency_text(m, r);
    put(r,
        "# HELP indiv_events_stored_total Events appended by POST /v1/events.\n"
        "# TYPE indiv_events_stored_total counter\n"
        "indiv_events_stored_total %lld\n",
        get(&m->events_stored));
    put(r,
        "# HELP indiv_consumers_created_total Consumers first met in a posted event.\n"
        "# TYPE indiv_consumers_created_total counter\n"
        "indiv_consumers_created_total %lld\n",
        get(&m->consumers_created));
    put(r,
        "# HELP indiv_profiles_updated_total Profiles updated on event arrival.\n"
        "# TYPE indiv_profiles_updated_total counter\n"
        "indiv_profiles_updated_total %lld\n",
        get(&m->profiles_updated));
    put(r, "# HELP indiv_decisions_total Decisions answered, by action.\n"
           "# TYPE indiv_decisions_total counter\n");
    for (int a = 0; a < 3; a++)
        put(r, "indiv_decisions_total{action=\"%s\"} %lld\n",
            indiv_action_name((indiv_action)a), get(&m->decisions[a]));
}
