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

#include <stdint.h>

#include "indiv/error.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Subcommands: argv[0] is the subcommand name. */
int cli_import(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_demo(int argc, char **argv);

/* Prints "indiv <cmd>: <err->msg>" to stderr and returns CLI_FAIL. */
int cli_fail(const char *cmd, const indiv_error *err);

/* Prints "indiv <cmd>: <message>" and a hint to run --help; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option value parsers: on a bad value they print a usage error naming the option and
 * return CLI_USAGE; on success they return CLI_OK. Ranges are inclusive. */
int cli_int64(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
              int64_t *out);
int cli_double(const char *cmd, const char *opt, const char *s, double min, double max,
               double *out);
int cli_time(const char *cmd, const char *opt, const char *s, int64_t *out);

/* 1 when stderr is a terminal (progress lines are drawn only then). */
int cli_stderr_is_tty(void);

#endif /* INDIV_CLI_H */
