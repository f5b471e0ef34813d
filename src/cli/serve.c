/*
 * serve.c — `indiv serve`: the decision service over HTTP (docs/service.md).
 *
 * Parses the options (the policy table's as in `indiv decide`), starts the server,
 * prints where it listens, and waits for SIGTERM or SIGINT (or --duration), then stops
 * it: no new connection, the requests in flight answered, exit 0. The signals are
 * blocked in every thread and taken here with sigtimedwait, so that no handler runs
 * inside the server's threads.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "indiv/model.h"
#include "indiv/serve.h"
#include "policy_opts.h"

#define DEFAULT_LISTEN "127.0.0.1:8787"

static const char serve_usage[] =
    "usage: indiv serve --db FILE [--model FILE] [--listen ADDR:PORT] [policy options]\n"
    "                   [--seed S] [--threads T] [--duration SECONDS]\n\n"
    "Serves decisions over HTTP, one consumer at a time, and takes events as they\n"
    "happen (docs/service.md): POST /v1/events, GET /v1/decisions/{consumer}[?as_of=],\n"
    "GET|DELETE /v1/consumers/{id}, PUT /v1/consumers/{id}/consent, GET /healthz,\n"
    "GET /metrics. A decision is byte for byte the line indiv decide\n"
    "writes for that consumer on the same database, model, parameters and seed. The\n"
    "database is switched to write-ahead logging; an event answered 2xx is on disk.\n\n"
    "  --db FILE            event log (profiles built by indiv profile)\n"
    "  --model FILE         model file (default: the built-in models/default.json)\n"
    "  --listen ADDR:PORT   IPv4 address and port (default " DEFAULT_LISTEN ", loopback\n"
    "                       only; port 0 takes any free port, printed at start)\n"
    "  --threads T          HTTP worker threads, each with its own reader (default 2)\n"
    "  --body-limit BYTES   larger request bodies get 413 (default 1048576)\n"
    "  --busy-ms MS         longest wait for the writer or the database, then 503\n"
    "                       (default 2000)\n"
    "  --duration SECONDS   stop by itself after this long (default 0: until SIGTERM)\n"
    "  --seed S             seed of the divergence draws (default 1)\n";

static const char serve_usage_end[] = "  -h, --help           this help\n";

enum {
    OPT_DB = 1,
    OPT_MODEL,
    OPT_LISTEN,
    OPT_THREADS,
    OPT_BODY,
    OPT_BUSY,
    OPT_DURATION,
    OPT_SEED,
    OPT_SET
};

static const struct option fixed_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"model", required_argument, NULL, OPT_MODEL},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"body-limit", required_argument, NULL, OPT_BODY},
    {"busy-ms", required_argument, NULL, OPT_BUSY},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"set", required_argument, NULL, OPT_SET},
    {"help", no_argument, NULL, 'h'},
    {0}};

#define MAX_OPTS 64

struct serve_args {
    const char *model;
    int tau_pending; /* no --threshold: the model's τ or the default, as decide */
    char address[64];
    double duration;
    indiv_serve_opts o;
};

static void print_help(void) {
    fputs(serve_usage, stdout);
    cli_policy_set_help(stdout);
    cli_policy_help(stdout);
    fputs(serve_usage_end, stdout);
}

/* "ADDR:PORT" into a->address and a->o.port. */
static int parse_listen(struct serve_args *a, const char *v) {
    const char *colon = strrchr(v, ':');
    int64_t port;
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof a->address)
        return cli_usage("serve", "--listen: '%s' is not ADDR:PORT (e.g. %s)", v,
                         DEFAULT_LISTEN);
    snprintf(a->address, sizeof a->address, "%.*s", (int)(colon - v), v);
    if (cli_int64("serve", "--listen port", colon + 1, 0, 65535, &port) != CLI_OK)
        return CLI_USAGE;
    a->o.port = (int)port;
    return CLI_OK;
}

static int set_option(struct serve_args *a, int code, const char *v) {
    indiv_policy_params *p = &a->o.decide.policy;
    int64_t x;
    int rc;
    if (cli_policy_is_code(code))
        return cli_policy_set("serve", p, code, NULL, v);
    switch (code) {
    case OPT_SET:
        return cli_policy_assign("serve", p, v);
    case OPT_DB:
        a->o.db_path = v;
        return CLI_OK;
    case OPT_MODEL:
        a->model = v;
        return CLI_OK;
    case OPT_LISTEN:
        return parse_listen(a, v);
    case OPT_THREADS:
        rc = cli_int64("serve", "--threads", v, 1, INDIV_SERVE_THREADS_MAX, &x);
        a->o.threads = (int)x;
        return rc;
    case OPT_BODY:
        rc = cli_int64("serve", "--body-limit", v, 1, 1 << 30, &x);
        a->o.body_limit = (size_t)x;
        return rc;
    case OPT_BUSY:
        rc = cli_int64("serve", "--busy-ms", v, 1, 600000, &x);
        a->o.busy_ms = (int)x;
        return rc;
    case OPT_DURATION:
        return cli_double("serve", "--duration", v, 0, 1e9, &a->duration);
    case OPT_SEED:
        rc = cli_int64("serve", "--seed", v, 0, INT64_MAX, &x);
        p->seed = (uint64_t)x;
        return rc;
    default:
        return CLI_USAGE;
    }
}

static int parse_args(int argc, char **argv, struct serve_args *a) {
    struct option long_opts[MAX_OPTS];
    int c, rc = CLI_OK;
    if (!cli_policy_options(fixed_opts, long_opts, MAX_OPTS))
        return cli_usage("serve", "too many options (raise MAX_OPTS)");
    opterr = 0;
    optind = 0;
    cli_threshold_state ts;
    cli_threshold_begin(&ts, &a->o.decide.policy);
    cli_threshold_after_config(&ts, &a->o.decide.policy); /* serve takes no --config */
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h')
            return print_help(), -1;
        rc = c == '?' ? cli_bad_option("serve", argv[optind - 1], long_opts)
                      : set_option(a, c, optarg);
    }
    if (rc != CLI_OK)
        return rc;
    a->o.decide.threshold_source = cli_threshold_end(&ts, &a->o.decide.policy);
    a->tau_pending = a->o.decide.threshold_source == NULL;
    if (optind < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (!a->o.db_path)
        return cli_usage("serve", "--db FILE is required");
    return CLI_OK;
}

/* Waits for SIGTERM or SIGINT, or the end of --duration (0: no end). */
static int wait_for_stop(const sigset_t *set, double duration) {
    double end = cli_now() + duration;
    for (;;) {
        double left = duration > 0 ? end - cli_now() : 3600;
        if (duration > 0 && left <= 0)
            return 0;
        struct timespec t = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        int sig = sigtimedwait(set, NULL, &t);
        if (sig > 0)
            return sig;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

static int run(struct serve_args *a, indiv_error *err) {
    indiv_model m;
    int rc =
        a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    if (rc < 0)
        return rc;
    if (a->tau_pending) /* as indiv decide chooses it: the same decisions */
        cli_threshold_note("serve", &a->o.decide, &m);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread: they inherit it */
    a->o.model = &m;
    a->o.model_path = a->model;
    a->o.address = a->address;
    indiv_server *s = NULL;
    if ((rc = indiv_server_start(&a->o, &s, err)) == INDIV_OK) {
        printf("indiv serve: listening on http://%s:%d (model %s, %d threads)\n",
               a->address, indiv_server_port(s), m.id, a->o.threads);
        fflush(stdout);
        if (indiv_server_model_erased(s) > 0)
            fprintf(stderr,
                    "indiv serve: warning: model %s was trained on data that included "
                    "%lld people erased since: it still holds what it learnt from them; "
                    "retrain it (indiv train) and restart with the new file\n",
                    m.id, (long long)indiv_server_model_erased(s));
        int sig = wait_for_stop(&set, a->duration);
        fprintf(stderr, "indiv serve: %s: draining the requests in flight\n",
                sig > 0 ? strsignal(sig) : "--duration reached");
        indiv_server_stop(s);
    }
    indiv_model_clear(&m);
    return rc;
}

int cli_serve(int argc, char **argv) {
    struct serve_args a;
    memset(&a, 0, sizeof a);
    indiv_serve_opts_init(&a.o);
    snprintf(a.address, sizeof a.address, "127.0.0.1");
    a.o.port = 8787;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    return run(&a, &err) == INDIV_OK ? CLI_OK : cli_fail("serve", &err);
}
