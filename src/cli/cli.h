/*
 * cli.h — shared helpers of the indiv command-line program (src/cli/).
 *
 * The CLI is thin: each subcommand parses its options with getopt_long, calls the
 * library, and prints for people. Errors go to stderr as
 * "indiv <cmd>: <what went wrong> (<where>)"; exit codes are CLI_OK (0), CLI_FAIL (1)
 * and CLI_USAGE (2).
 */
#ifndef INDIV_CLI_H
#define INDIV_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "indiv/error.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Subcommands: argv[0] is the subcommand name. */
int cli_import(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_consent(int argc, char **argv);
int cli_forget(int argc, char **argv);
int cli_retention(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_profile(int argc, char **argv);
int cli_decide(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_simulate(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_study(int argc, char **argv);
int cli_ope(int argc, char **argv);
int cli_partition(int argc, char **argv);

/* Prints "indiv <cmd>: <err->msg>" to stderr and returns CLI_FAIL. */
int cli_fail(const char *cmd, const indiv_error *err);

/* While where is set (not NULL), cli_usage names it before its message: "indiv decide:
 * --config p.json: --threshold: ..." for an error found in a file rather than on the
 * command line. The CLI is single-threaded; this is its one piece of mutable state. */
void cli_usage_where(const char *where);

/* Prints "indiv <cmd>: <message>" and a hint to run --help; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For getopt_long's '?': prints one line, "indiv <cmd>: unknown option '--treshold';
 * did you mean --threshold? (indiv <cmd> --help)", or "option '--db' needs a value",
 * for arg (the argument getopt stopped at) against opts; returns CLI_USAGE. */
int cli_bad_option(const char *cmd, const char *arg, const struct option *opts);

/* Most shards a run may be split into: far more machines than anyone has, far from
 * int overflow. */
#define CLI_SHARD_MAX 1000000

/* Parses "I/N" (0 <= I < N <= max, digits only) for --shard; CLI_USAGE with a message
 * naming opt otherwise. */
int cli_shard(const char *cmd, const char *opt, const char *s, int max, int *i /* OUT */,
              int *n /* OUT */);

/* Option value parsers: on a bad value they print a usage error naming the option and
 * return CLI_USAGE; on success they return CLI_OK. Ranges are inclusive. */
int cli_int64(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
              int64_t *out);
int cli_double(const char *cmd, const char *opt, const char *s, double min, double max,
               double *out);
int cli_time(const char *cmd, const char *opt, const char *s, int64_t *out);

/* Where a command prints its results for people (summaries, tables): stdout, so that a
 * user may redirect them, unless one of its n output files (NULL entries skipped) is
 * stdout itself ("-", /dev/stdout, /dev/fd/1, or the file stdout is redirected to):
 * then stderr, so that the text never mixes into the data. Progress, warnings and
 * errors always go to stderr (README "Output streams"). */
FILE *cli_result_stream(const char *const *outs, size_t n);

/* Prints the counts of an event log for people (indiv info, indiv demo). */
struct indiv_eventlog_stats;
void cli_print_stats(FILE *out, const struct indiv_eventlog_stats *st);

/* An indiv_progress_fn: on a terminal, redraws "stage  42% (done/total)  ETA 3s" on
 * stderr at most a few times per second; prints nothing when stderr is not a terminal.
 * ctx is a cli_progress_state. A final call with done == total ends the line. */
typedef struct cli_progress_state {
    double start, last;
} cli_progress_state;
void cli_progress(void *ctx, const char *stage, int64_t done, int64_t total);

/* Runs gnuplot on DIR/figures/<script> with DIR/figures as its working directory and
 * its output in DIR/figures/gnuplot.log. Returns 0 when it drew, CLI_GNUPLOT_MISSING
 * when gnuplot is not installed, another code when it failed (sweep and study). */
#define CLI_GNUPLOT_MISSING                                                              \
    127 /* the shell's "command not found", from the child's exec */
int cli_run_gnuplot(const char *dir, const char *script);

/* Monotonic wall clock in seconds. */
double cli_now(void);

/* 1 when stderr is a terminal (progress lines are drawn only then). */
int cli_stderr_is_tty(void);

#endif /* INDIV_CLI_H */
