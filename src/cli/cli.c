/*
 * cli.c — option parsing and error printing shared by the subcommands.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "indiv/fileio.h"
#include "indiv/timeutil.h"

int cli_fail(const char *cmd, const indiv_error *err) {
    fprintf(stderr, "indiv %s: %s\n", cmd,
            err && err->code ? err->msg : "failed (no details)");
    return CLI_FAIL;
}

static const char *usage_where;

void cli_usage_where(const char *where) {
    usage_where = where;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "indiv %s: ", cmd);
    if (usage_where)
        fprintf(stderr, "%s: ", usage_where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'indiv %s --help'.\n", cmd);
    return CLI_USAGE;
}

/* Edit distance (Levenshtein) between a[0..na) and b[0..nb), capped at 9: enough to
 * rank option names, which are short. */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    int row[64];
    if (na >= 64 || nb >= 64)
        return 9;
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb] < 9 ? row[nb] : 9;
}

int cli_bad_option(const char *cmd, const char *arg, const struct option *opts) {
    const char *name = arg ? arg : "";
    while (*name == '-')
        name++;
    size_t len = strcspn(name, "=");
    const char *best = NULL;
    int best_d = 3; /* suggest only names within two edits */
    for (const struct option *o = opts; o->name; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) {
            fprintf(stderr, "indiv %s: option '--%s' needs a value (indiv %s --help)\n",
                    cmd, o->name, cmd);
            return CLI_USAGE;
        }
        int d = edit_distance(name, len, o->name, strlen(o->name));
        if (d < best_d || (len >= 3 && !best && strncmp(o->name, name, len) == 0))
            best = o->name, best_d = d < best_d ? d : best_d;
    }
    if (best)
        fprintf(stderr,
                "indiv %s: unknown option '%s'; did you mean --%s? (indiv %s --help)\n",
                cmd, arg ? arg : "", best, cmd);
    else
        fprintf(stderr, "indiv %s: unknown option '%s' (indiv %s --help lists them)\n",
                cmd, arg ? arg : "", cmd);
    return CLI_USAGE;
}

/* Digits only, at most 18 of them (no sign, blank or '+', which strtoll would take). */
static int all_digits(const char *s, size_t n) {
    return n > 0 && n <= 18 && strspn(s, "0123456789") >= n;
}

int cli_shard(const char *cmd, const char *opt, const char *s, int max, int *i, int *n) {
    const char *slash = strchr(s, '/');
    if (slash && all_digits(s, (size_t)(slash - s)) &&
        all_digits(slash + 1, strlen(slash + 1))) {
        long long a = strtoll(s, NULL, 10), b = strtoll(slash + 1, NULL, 10);
        if (b >= 1 && b <= max && a < b) {
            *i = (int)a;
            *n = (int)b;
            return CLI_OK;
        }
    }
    return cli_usage(cmd, "%s: '%s' is not I/N with 0 <= I < N <= %d", opt, s, max);
}

int cli_int64(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
              int64_t *out) {
    char *end;
    errno = 0;
    const char *d = *s == '-' ? s + 1 : s;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || !all_digits(d, strlen(d)))
        return cli_usage(cmd, "%s: '%s' is not an integer", opt, s);
    if (v < min || v > max)
        return cli_usage(cmd, "%s: %lld is out of range [%lld, %lld]", opt, v,
                         (long long)min, (long long)max);
    *out = v;
    return CLI_OK;
}

int cli_double(const char *cmd, const char *opt, const char *s, double min, double max,
               double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return cli_usage(cmd, "%s: '%s' is not a finite number", opt, s);
    if (v < min || v > max)
        return cli_usage(cmd, "%s: %g is out of range [%g, %g]", opt, v, min, max);
    *out = v;
    return CLI_OK;
}

int cli_time(const char *cmd, const char *opt, const char *s, int64_t *out) {
    if (indiv_time_parse(s, out) < 0)
        return cli_usage(cmd,
                         "%s: '%s' is not a time (ISO 8601 like 2011-02-01 or "
                         "2011-02-01T00:00:00Z, or Unix seconds)",
                         opt, s);
    return CLI_OK;
}

/* 1 when path names what stdout is. */
static int is_stdout(const char *path) {
    struct stat so, sp;
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0 ||
        strcmp(path, "/dev/fd/1") == 0 || strcmp(path, "/proc/self/fd/1") == 0)
        return 1;
    /* A regular file only: two writers to /dev/null or a terminal do not mix data. */
    return fstat(STDOUT_FILENO, &so) == 0 && S_ISREG(so.st_mode) &&
           stat(path, &sp) == 0 && so.st_dev == sp.st_dev && so.st_ino == sp.st_ino;
}

FILE *cli_result_stream(const char *const *outs, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (outs[i] && is_stdout(outs[i]))
            return stderr;
    return stdout;
}

int cli_stderr_is_tty(void) {
    return isatty(STDERR_FILENO);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Redraws at most every PROGRESS_PERIOD seconds: a terminal line is cheap, but not
 * free, and a faster refresh is unreadable anyway. */
#define PROGRESS_PERIOD 0.2

void cli_progress(void *ctx, const char *stage, int64_t done, int64_t total) {
    cli_progress_state *ps = ctx;
    if (!cli_stderr_is_tty())
        return;
    double now = cli_now();
    if (ps->start == 0)
        ps->start = now;
    int final = total > 0 && done >= total;
    if (!final && now - ps->last < PROGRESS_PERIOD)
        return;
    ps->last = now;
    if (total > 0) {
        double frac = (double)done / (double)total, el = now - ps->start;
        double eta = frac > 0 ? el * (1 - frac) / frac : 0;
        fprintf(stderr, "\r%-10s %3.0f%% (%lld/%lld)  ETA %.0fs   ", stage, 100 * frac,
                (long long)done, (long long)total, eta);
    } else {
        fprintf(stderr, "\r%-10s %lld   ", stage, (long long)done);
    }
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

int cli_run_gnuplot(const char *dir, const char *script) {
    char fig[4096];
    snprintf(fig, sizeof fig, "%s/figures", dir);
    fflush(NULL); /* the child must not write our buffered output twice */
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        int fd = chdir(fig) == 0 ? open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0666)
                                 : -1;
        if (fd < 0)
            _exit(1);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(CLI_GNUPLOT_MISSING);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return 1;
    return WEXITSTATUS(st);
}

/* SA_RESETHAND restores the default action, so raise() ends the program as the signal
 * would have. */
static void on_signal(int sig) {
    indiv_fileio_remove_temps();
    raise(sig);
}

void cli_install_signal_cleanup(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}
