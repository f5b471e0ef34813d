/*
 * cli.c — option parsing and error printing shared by the subcommands.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "indiv/timeutil.h"

int cli_fail(const char *cmd, const indiv_error *err) {
    fprintf(stderr, "indiv %s: %s\n", cmd,
            err && err->code ? err->msg : "failed (no details)");
    return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "indiv %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'indiv %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_int64(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
              int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
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
