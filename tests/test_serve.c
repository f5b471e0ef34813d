/*
 * test_serve.c — the decision service (issue 15 items 1, 3, 4): decisions over HTTP
 * equal to `indiv decide`'s lines before and after events arrive; the error model;
 * 503 while another writer holds the database; metrics; an event answered 2xx survives
 * kill -9; SIGTERM drains and exits 0.
 *
 * The server runs in this process on a free loopback port (port 0) and is spoken to
 * over a socket by the small client below (no HTTP library needed); the kill -9 and
 * SIGTERM tests run the ASan-built `indiv serve` as a child. Every socket read has a
 * timeout, every wait a bound: nothing here can hang `make check`.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "indiv/serve.h"
#include "testutil.h"

static char *dir, *db;
static indiv_model model;
static indiv_server *srv;

/* A world of 150 consumers with profiles built, and a server on it. */
static void setup(void) {
    dir = tu_tmpdir();
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = 150;
    p.offers = 60;
    p.categories = 8;
    p.days = 120;
    p.seed = 11;
    db = tu_world(dir, "w.db", &p, NULL);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" profile --db '%s'", db), 0, "%s", r.err);
    tu_run_free(&r);
    indiv_model_default(&model);
}

static void teardown(void) {
    indiv_server_stop(srv);
    srv = NULL;
    free(db);
    tu_rmtree(dir);
}

TestSuite(serve, .init = setup, .fini = teardown, .timeout = 120);

static void start(size_t body_limit, int busy_ms) {
    indiv_serve_opts o;
    indiv_serve_opts_init(&o);
    o.db_path = db;
    o.model = &model;
    o.port = 0;
    o.body_limit = body_limit;
    o.busy_ms = busy_ms;
    indiv_decide_default_threshold(&o.decide, &model); /* as indiv decide without τ */
    indiv_error err = {0};
    cr_assert_eq(indiv_server_start(&o, &srv, &err), 0, "%s", err.msg);
    cr_assert_gt(indiv_server_port(srv), 0);
}

/* ---- a minimal HTTP/1.1 client --------------------------------------------------- */

/* Sends one request to 127.0.0.1:port and returns the status; *body (may be NULL) gets
 * the response body (owned). Reads time out after 10 s. */
static int http(int port, const char *method, const char *path, const char *data,
                char **body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %m");
    size_t n = data ? strlen(data) : 0;
    char head[1024];
    int h = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, n);
    cr_assert_eq(write(fd, head, (size_t)h), h);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, data + off, n - off);
        if (w <= 0)
            break; /* the server may answer 413 and close before reading it all */
        off += (size_t)w;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = read(fd, buf + len, cap - len - 1)) > 0)
        if ((len += (size_t)got) + 1 == cap)
            buf = realloc(buf, cap *= 2);
    close(fd);
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    char *sep = strstr(buf, "\r\n\r\n");
    if (body)
        *body = strdup(sep ? sep + 4 : "");
    free(buf);
    return status;
}

/* ---- helpers ------------------------------------------------------------------------ */

/* `indiv decide` on db into dir/name; returns the path (owned). */
static char *decide_file(const char *name) {
    char *out = tu_path(dir, name);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" decide --db '%s' --out '%s'", db, out), 0, "%s",
                 r.err);
    tu_run_free(&r);
    return out;
}

/* Every line of the decide file equals the service's answer for its consumer. */
static void expect_same_as_decide(const char *name) {
    char *path = decide_file(name);
    size_t len;
    char *all = tu_read(path, &len), *save = NULL;
    int port = indiv_server_port(srv), lines = 0;
    for (char *line = strtok_r(all, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert(j);
        char url[256], *body;
        snprintf(url, sizeof url, "/v1/decisions/%s",
                 json_string_value(json_object_get(j, "consumer")));
        cr_assert_eq(http(port, "GET", url, NULL, &body), 200, "%s: %s", url, body);
        size_t n = strlen(body);
        cr_expect(n > 0 && body[n - 1] == '\n');
        body[n ? n - 1 : 0] = '\0';
        cr_expect_str_eq(body, line, "%s differs from indiv decide's line", url);
        free(body);
        json_decref(j);
        lines++;
    }
    cr_expect_gt(lines, 100);
    free(all);
    free(path);
}

static int64_t count(const char *sql) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "sqlite3 '%s' \"%s\"", db, sql), 0, "%s", r.err);
    int64_t n = strtoll(r.out, NULL, 10);
    tu_run_free(&r);
    return n;
}

/* ---- decisions ----------------------------------------------------------------------- */

Test(serve, decisions_equal_indiv_decide_before_and_after_events) {
    start(INDIV_SERVE_BODY_LIMIT, INDIV_SERVE_BUSY_MS);
    expect_same_as_decide("d0.jsonl");
    int64_t before = count("SELECT count(*) FROM events");
    /* a purchase after the data, a brand-new consumer, and a late purchase (a day the
     * popularity already counted, before the profiles' time) */
    char *body;
    int st = http(indiv_server_port(srv), "POST", "/v1/events",
                  "[{\"consumer\":\"c001\",\"offer\":\"o03\",\"type\":\"purchase\","
                  "\"ts\":\"2024-05-02T10:00:00Z\",\"value\":12.5,\"channel\":\"web\"},"
                  "{\"consumer\":\"walk-in\",\"offer\":\"o02\",\"type\":\"view\","
                  "\"ts\":1714644000},"
                  "{\"consumer\":\"c002\",\"offer\":\"o07\",\"type\":\"purchase\","
                  "\"ts\":\"2024-03-20T09:00:00Z\",\"value\":3,\"quantity\":2}]",
                  &body);
    cr_assert_eq(st, 201, "%s", body);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert(j, "%s", body);
    cr_expect_eq(json_integer_value(json_object_get(j, "stored")), 3);
    cr_expect_eq(json_integer_value(json_object_get(j, "consumers_created")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(j, "as_of")),
                     "2024-05-02T10:00:01Z");
    json_decref(j);
    free(body);
    int64_t after = count("SELECT count(*) FROM events");
    cr_expect_eq(after, before + 3, "%lld events, %lld before", (long long)after,
                 (long long)before);
    cr_expect_eq(count("SELECT count(*) FROM consumers WHERE ext_id = 'walk-in'"), 1);
    /* the new consumer got a profile (default consent), updated in the same write */
    cr_expect_eq(count("SELECT count(*) FROM profiles p JOIN consumers c ON "
                       "c.id = p.consumer_id WHERE c.ext_id = 'walk-in'"),
                 1);
    expect_same_as_decide("d1.jsonl");
}

Test(serve, a_decision_at_another_time_equals_decide_at_that_time) {
    start(INDIV_SERVE_BODY_LIMIT, INDIV_SERVE_BUSY_MS);
    char *out = tu_path(dir, "later.jsonl");
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" decide --db '%s' --out '%s' --as-of "
                       "2024-06-03T08:30:00Z >/dev/null && head -n 3 '%s'",
                       db, out, out),
                 0, "%s", r.err);
    char *save = NULL;
    for (char *line = strtok_r(r.out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        char url[256], *body;
        snprintf(url, sizeof url, "/v1/decisions/%s?as_of=2024-06-03T08%%3A30%%3A00Z",
                 json_string_value(json_object_get(j, "consumer")));
        cr_assert_eq(http(indiv_server_port(srv), "GET", url, NULL, &body), 200, "%s",
                     body);
        body[strlen(body) - 1] = '\0';
        cr_expect_str_eq(body, line);
        free(body);
        json_decref(j);
    }
    tu_run_free(&r);
    free(out);
}

/* ---- concurrent writers and readers --------------------------------------------------- */

#define POSTERS    4
#define POSTS_EACH 20

struct poster {
    int port, id, ok;
};

/* One POST or GET without Criterion asserts (they are for the test's own thread): the
 * status, or -1. */
static int raw_request(int port, const char *head, const char *data) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    char buf[8192];
    int status = -1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, head, strlen(head)) == (ssize_t)strlen(head) &&
        write(fd, data, strlen(data)) == (ssize_t)strlen(data)) {
        ssize_t got = read(fd, buf, sizeof buf - 1);
        buf[got > 0 ? got : 0] = '\0';
        sscanf(buf, "HTTP/1.%*d %d", &status);
    }
    if (fd >= 0)
        close(fd);
    return status;
}

static void *poster_work(void *arg) {
    struct poster *p = arg;
    for (int k = 0; k < POSTS_EACH; k++) {
        char body[256], head[512];
        snprintf(body, sizeof body,
                 "{\"consumer\":\"c%03d\",\"offer\":\"o%02d\",\"type\":\"view\","
                 "\"ts\":\"2024-05-03T%02d:%02d:00Z\"}",
                 1 + (p->id * 7 + k) % 150, 1 + k % 60, p->id, k);
        snprintf(head, sizeof head,
                 "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 strlen(body));
        p->ok += raw_request(p->port, head, body) == 201;
        snprintf(
            head, sizeof head,
            "GET /v1/decisions/c%03d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            1 + k);
        p->ok += raw_request(p->port, head, "") == 200;
    }
    return NULL;
}

Test(serve, concurrent_posts_and_decisions_lose_nothing_and_agree_with_decide) {
    start(INDIV_SERVE_BODY_LIMIT, 10000);
    int64_t before = count("SELECT count(*) FROM events");
    pthread_t tid[POSTERS];
    struct poster ps[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        ps[i] = (struct poster){indiv_server_port(srv), i, 0};
        cr_assert_eq(pthread_create(&tid[i], NULL, poster_work, &ps[i]), 0);
    }
    for (int i = 0; i < POSTERS; i++) {
        pthread_join(tid[i], NULL);
        cr_expect_eq(ps[i].ok, 2 * POSTS_EACH, "poster %d: %d of %d answered 2xx", i,
                     ps[i].ok, 2 * POSTS_EACH);
    }
    cr_expect_eq(count("SELECT count(*) FROM events"), before + POSTERS * POSTS_EACH);
    expect_same_as_decide("after-concurrent.jsonl");
}

/* ---- the error model ------------------------------------------------------------------ */

static const struct bad_case {
    const char *method, *path, *body;
    int status;
    const char *field; /* NULL: no field named */
    const char *says;  /* a part of the message */
} bad_cases[] = {
    {"POST", "/v1/events", "{\"consumer\":", 400, "body", "not valid JSON"},
    {"POST", "/v1/events", "[]", 400, "body", "1 to"},
    {"POST", "/v1/events", "42", 400, "body", "JSON object"},
    {"POST", "/v1/events", "{\"consumer\":7,\"type\":\"view\",\"ts\":1}", 400, "consumer",
     "source id"},
    {"POST", "/v1/events", "{\"consumer\":\"c001\",\"type\":\"view\"}", 400, "ts",
     "required"},
    {"POST", "/v1/events", "{\"consumer\":\"c001\",\"type\":\"look\",\"ts\":1}", 400,
     "type", "bad event type 'look'"},
    {"POST", "/v1/events", "{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":\"soon\"}",
     400, "ts", "bad timestamp 'soon'"},
    {"POST", "/v1/events", "{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":[1]}", 400,
     "ts", "Unix seconds"},
    {"POST", "/v1/events",
     "{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":1,\"quantity\":\"2\"}", 400,
     "quantity", "a number"},
    {"POST", "/v1/events",
     "{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":1,\"quantity\":0}", 400, "quantity",
     "quantity not positive"},
    {"POST", "/v1/events",
     "{\"consumer\":\"c001\",\"type\":\"purchase\",\"ts\":1,\"value\":0}", 400, "value",
     "zero value on a purchase"},
    {"POST", "/v1/events", "{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":1,\"x\":1}",
     400, "x", "unknown field"},
    /* the second event is bad: nothing of the first is written either */
    {"POST", "/v1/events",
     "[{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":1},"
     "{\"consumer\":\"c001\",\"type\":\"view\",\"ts\":1,\"channel\":\"fax\"}]",
     400, "[1].channel", "bad channel 'fax'"},
    {"POST", "/v1/events",
     "[{\"consumer\":\"newcomer\",\"type\":\"view\",\"ts\":1},"
     "{\"consumer\":\"c001\",\"offer\":\"nope\",\"type\":\"view\",\"ts\":1}]",
     400, "[1].offer", "unknown offer 'nope'"},
    {"GET", "/v1/decisions/nobody", NULL, 404, "consumer", "no consumer 'nobody'"},
    {"GET", "/v1/decisions/c001?as_of=yesterday", NULL, 400, "as_of", "bad timestamp"},
    {"GET", "/v1/decisions/c001?as_of=2023-12-01", NULL, 400, "as_of",
     "after the decision"},
    {"GET", "/v1/nothing", NULL, 404, NULL, "no route"},
    {"DELETE", "/v1/events", NULL, 405, "method", "use POST"},
    {"POST", "/v1/decisions/c001", "{}", 405, "method", "use GET"},
};

Test(serve, bad_requests_get_the_documented_status_and_write_nothing) {
    start(4096, INDIV_SERVE_BUSY_MS);
    int64_t events = count("SELECT count(*) FROM events");
    int64_t consumers = count("SELECT count(*) FROM consumers");
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const struct bad_case *c = &bad_cases[i];
        char *body;
        int st = http(indiv_server_port(srv), c->method, c->path, c->body, &body);
        cr_expect_eq(st, c->status, "%s %s %s: %d %s", c->method, c->path,
                     c->body ? c->body : "", st, body);
        json_t *j = json_loads(body, 0, NULL), *e = json_object_get(j, "error");
        cr_expect(e, "%s %s: not an error object: %s", c->method, c->path, body);
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (c->field)
            cr_expect(field && strcmp(field, c->field) == 0, "%s: field %s, want %s",
                      c->path, field ? field : "(none)", c->field);
        cr_expect(msg && strstr(msg, c->says), "%s %s: '%s' lacks '%s'", c->method,
                  c->path, msg ? msg : "", c->says);
        cr_expect_eq(json_integer_value(json_object_get(e, "status")), c->status);
        json_decref(j);
        free(body);
    }
    cr_expect_eq(count("SELECT count(*) FROM events"), events, "a bad request wrote");
    cr_expect_eq(count("SELECT count(*) FROM consumers"), consumers);
}

Test(serve, a_body_over_the_limit_gets_413) {
    start(4096, INDIV_SERVE_BUSY_MS);
    size_t n = 64 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = '\0';
    char *body;
    cr_expect_eq(http(indiv_server_port(srv), "POST", "/v1/events", big, &body), 413,
                 "%s", body);
    cr_expect(strstr(body, "4096 bytes"), "%s", body);
    free(body);
    /* the same through the in-process entry point */
    int st;
    char *reply;
    size_t len;
    cr_assert_eq(
        indiv_server_request(srv, "POST", "/v1/events", big, n, &st, &reply, &len), 0);
    cr_expect_eq(st, 413);
    free(reply);
    free(big);
}

Test(serve, another_writer_holding_the_database_gets_503_then_it_goes_through) {
    start(INDIV_SERVE_BODY_LIMIT, 300);
    indiv_eventlog *other;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_SIBLING, &other, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_begin(other, &err), 0, "%s", err.msg); /* write lock */
    const char *ev = "{\"consumer\":\"c003\",\"type\":\"view\",\"offer\":\"o01\","
                     "\"ts\":\"2024-05-05\"}";
    char *body;
    cr_expect_eq(http(indiv_server_port(srv), "POST", "/v1/events", ev, &body), 503, "%s",
                 body);
    free(body);
    /* readers are not blocked by a writer (WAL) */
    cr_expect_eq(http(indiv_server_port(srv), "GET", "/v1/decisions/c003", NULL, &body),
                 200);
    free(body);
    indiv_eventlog_rollback(other);
    indiv_eventlog_close(other);
    cr_expect_eq(http(indiv_server_port(srv), "POST", "/v1/events", ev, &body), 201, "%s",
                 body);
    free(body);
}

Test(serve, health_and_metrics_count_what_was_answered) {
    start(INDIV_SERVE_BODY_LIMIT, INDIV_SERVE_BUSY_MS);
    int port = indiv_server_port(srv);
    char *body;
    cr_expect_eq(http(port, "GET", "/healthz", NULL, &body), 200);
    cr_expect(strstr(body, "\"status\":\"ok\""), "%s", body);
    free(body);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(http(port, "GET", "/v1/decisions/c004", NULL, &body), 200);
        free(body);
    }
    cr_expect_eq(http(port, "GET", "/v1/decisions/nobody", NULL, &body), 404);
    free(body);
    cr_expect_eq(http(port, "POST", "/v1/events",
                      "[{\"consumer\":\"c005\",\"type\":\"view\",\"offer\":\"o01\","
                      "\"ts\":\"2024-05-05\"},{\"consumer\":\"c006\",\"type\":\"view\","
                      "\"ts\":\"2024-05-05\"}]",
                      &body),
                 201, "%s", body);
    free(body);
    cr_expect_eq(http(port, "GET", "/metrics", NULL, &body), 200);
    static const char *const want[] = {
        "indiv_requests_total{route=\"decisions\",status=\"200\"} 3\n",
        "indiv_requests_total{route=\"decisions\",status=\"404\"} 1\n",
        "indiv_requests_total{route=\"events\",status=\"201\"} 1\n",
        "indiv_requests_total{route=\"healthz\",status=\"200\"} 1\n",
        "indiv_request_seconds_count{route=\"decisions\"} 4\n",
        "indiv_request_seconds_bucket{route=\"decisions\",le=\"+Inf\"} 4\n",
        "indiv_events_stored_total 2\n",
        "# TYPE indiv_request_seconds histogram\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_expect(strstr(body, want[i]), "/metrics lacks %s", want[i]);
    free(body);
}

/* ---- durability and shutdown (the binary as a child) ------------------------------ */

/* Starts `indiv serve` on a free port in the background; returns its pid and port. */
static int start_child(int *port) {
    char *out = tu_path(dir, "serve.out"), *pidf = tu_path(dir, "serve.pid");
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       "\"$INDIV\" serve --db '%s' --listen 127.0.0.1:0 --duration 60 "
                       ">'%s' 2>'%s.err' </dev/null & echo $! >'%s'",
                       db, out, out, pidf),
                 0, "%s", r.err);
    tu_run_free(&r);
    *port = 0;
    for (int i = 0; i < 600 && !*port; i++) { /* at most 30 s under ASan */
        char *txt = tu_read(out, NULL);
        char *at = txt ? strstr(txt, "http://127.0.0.1:") : NULL;
        if (at)
            *port = atoi(at + strlen("http://127.0.0.1:"));
        free(txt);
        if (!*port)
            usleep(50000);
    }
    char *pidtxt = tu_read(pidf, NULL);
    int pid = pidtxt ? atoi(pidtxt) : 0;
    free(pidtxt);
    free(out);
    free(pidf);
    cr_assert_gt(*port, 0, "indiv serve did not say where it listens");
    cr_assert_gt(pid, 0);
    return pid;
}

/* Waits (at most 30 s) for pid to be gone. */
static int gone(int pid) {
    for (int i = 0; i < 600; i++) {
        if (kill(pid, 0) != 0)
            return 1;
        usleep(50000);
    }
    return 0;
}

Test(serve, an_event_answered_2xx_survives_kill_9) {
    int port, pid = start_child(&port);
    char *body;
    int st = http(port, "POST", "/v1/events",
                  "{\"consumer\":\"after-crash\",\"type\":\"view\",\"offer\":\"o04\","
                  "\"ts\":\"2024-05-06T12:00:00Z\"}",
                  &body);
    kill(pid, SIGKILL);
    cr_assert_eq(st, 201, "%s", body);
    free(body);
    cr_assert(gone(pid));
    cr_expect_eq(count("SELECT count(*) FROM events e JOIN consumers c ON "
                       "c.id = e.consumer_id WHERE c.ext_id = 'after-crash'"),
                 1);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "sqlite3 '%s' 'PRAGMA integrity_check'", db), 0);
    cr_expect_str_eq(r.out, "ok\n");
    tu_run_free(&r);
}

Test(serve, sigterm_stops_it_cleanly_with_exit_0) {
    int port, pid = start_child(&port);
    char *body;
    cr_assert_eq(http(port, "GET", "/healthz", NULL, &body), 200);
    free(body);
    char *err = tu_path(dir, "serve.out.err");
    tu_run r;
    kill(pid, SIGTERM);
    cr_assert(gone(pid), "indiv serve did not stop on SIGTERM");
    char *txt = tu_read(err, NULL);
    cr_expect(txt && strstr(txt, "draining the requests in flight"), "%s",
              txt ? txt : "");
    cr_expect(txt && !strstr(txt, "ERROR"), "%s", txt ? txt : "");
    free(txt);
    free(err);
    /* the background child is not ours to wait for: the exit code of a stop is read
     * from one in the foreground, stopped by --duration through the same path */
    cr_expect_eq(tu_sh(&r,
                       "\"$INDIV\" serve --db '%s' --listen 127.0.0.1:0 --duration 0.2 "
                       ">/dev/null",
                       db),
                 0, "%s", r.err);
    tu_run_free(&r);
}

/* ---- data rights over HTTP ------------------------------------------------------------ */

/* The first consumer whose decision is a contact (owned). */
static char *a_contacted_consumer(void) {
    char *path = decide_file("pick.jsonl");
    size_t len;
    char *all = tu_read(path, &len), *save = NULL, *id = NULL;
    for (char *line = strtok_r(all, "\n", &save); line && !id;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        if (strcmp(json_string_value(json_object_get(j, "action")), "contact") == 0)
            id = strdup(json_string_value(json_object_get(j, "consumer")));
        json_decref(j);
    }
    free(all);
    free(path);
    cr_assert(id, "nobody is contacted in the test world");
    return id;
}

/* The decision of id as a JSON object (owned), asserting 200. */
static json_t *decision_of(const char *id) {
    char url[256], *body;
    snprintf(url, sizeof url, "/v1/decisions/%s", id);
    cr_assert_eq(http(indiv_server_port(srv), "GET", url, NULL, &body), 200, "%s", body);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

Test(serve, a_consent_change_is_honoured_by_the_next_decision) {
    start(INDIV_SERVE_BODY_LIMIT, INDIV_SERVE_BUSY_MS);
    char *id = a_contacted_consumer(), url[256], *body;
    int port = indiv_server_port(srv);
    snprintf(url, sizeof url, "/v1/consumers/%s/consent", id);
    cr_assert_eq(http(port, "PUT", url, "{\"contact\": false}", &body), 200, "%s", body);
    free(body);
    json_t *d = decision_of(id);
    cr_expect_str_eq(json_string_value(json_object_get(d, "action")), "none");
    cr_expect_str_eq(json_string_value(json_object_get(d, "reason")),
                     "no_contact_consent");
    json_decref(d);
    /* profiling withdrawn: the profile goes at once, the decision is no longer personal
     */
    cr_assert_eq(
        http(port, "PUT", url, "{\"profiling\": false, \"contact\": true}", &body), 200,
        "%s", body);
    cr_expect(strstr(body, "\"profile_deleted\":true"), "%s", body);
    free(body);
    d = decision_of(id);
    cr_expect(json_is_false(json_object_get(d, "personalised")));
    json_decref(d);
    cr_expect_eq(http(port, "PUT", url, "{\"contact\": \"no\"}", &body), 400, "%s", body);
    cr_expect(strstr(body, "\"field\":\"consent\""), "%s", body);
    free(body);
    cr_expect_eq(
        http(port, "PUT", "/v1/consumers/nobody/consent", "{\"contact\": false}", &body),
        404);
    free(body);
    expect_same_as_decide("after-consent.jsonl"); /* the counts of the others followed */
    free(id);
}

Test(serve, export_holds_every_event_of_the_person) {
    start(INDIV_SERVE_BODY_LIMIT, INDIV_SERVE_BUSY_MS);
    char *body;
    cr_assert_eq(http(indiv_server_port(srv), "GET", "/v1/consumers/c007", NULL, &body),
                 200, "%s", body);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert(j, "%s", body);
    cr_expect_eq((int64_t)json_array_size(json_object_get(j, "events")),
                 count("SELECT count(*) FROM events e JOIN consumers c ON "
                       "c.id = e.consumer_id WHERE c.ext_id = 'c007'"));
    cr_expect(json_is_object(json_object_get(j, "consumer")));
    json_decref(j);
    free(body);
    cr_expect_eq(http(indiv_server_port(srv), "GET", "/v1/consumers/nobody", NULL, &body),
                 404);
    free(body);
}

Test(serve, erasure_leaves_no_row_mentioning_the_person) {
    start(INDIV_SERVE_BODY_LIMIT, INDIV_SERVE_BUSY_MS);
    char url[] = "/v1/consumers/c001", *body;
    int port = indiv_server_port(srv);
    int64_t cid = count("SELECT id FROM consumers WHERE ext_id = 'c001'");
    cr_assert_eq(http(port, "DELETE", url, NULL, &body), 200, "%s", body);
    cr_expect(strstr(body, "\"removed\""), "%s", body);
    free(body);
    /* every table with a consumer_id column, and the consumers row */
    tu_run r;
    cr_assert_eq(
        tu_sh(&r,
              "for t in $(sqlite3 '%s' \"SELECT m.name FROM sqlite_master m, "
              "pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = "
              "'consumer_id'\"); do sqlite3 '%s' \"SELECT '$t', count(*) FROM $t "
              "WHERE consumer_id = %lld\"; done",
              db, db, (long long)cid),
        0, "%s", r.err);
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n"))
        cr_expect(strstr(line, "|0"), "rows left: %s", line);
    tu_run_free(&r);
    cr_expect_eq(count("SELECT count(*) FROM consumers WHERE ext_id = 'c001'"), 0);
    cr_expect_eq(http(port, "GET", "/v1/decisions/c001", NULL, &body), 404);
    free(body);
    cr_expect_eq(http(port, "DELETE", url, NULL, &body), 404);
    free(body);
    expect_same_as_decide("after-erasure.jsonl");
}
