/*
 * decide_cli.h — the parts of `indiv decide` (src/cli/decide.c) that `indiv-mpi decide`
 * (src/mpi/mpi_decide.c) reuses, so that both take the same flags, config keys, defaults
 * and warnings: the parsed arguments, the default decision time, the warnings on stale
 * times and the summary printed on stderr.
 */
#ifndef INDIV_CLI_DECIDE_H
#define INDIV_CLI_DECIDE_H

#include <stdio.h>

#include <jansson.h>

#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"

typedef struct cli_decide_args {
    const char *db, *model, *summary, *config;
    int have_as_of;
    int tau_pending; /* no --threshold anywhere: the model's τ or the default, in run() */
    char out_buf[4096];
    indiv_decide_opts o;
} cli_decide_args;

/* Parses and validates decide's command line (argv[0] is "decide"). Returns CLI_OK,
 * CLI_USAGE (message printed) or -1 when --help was printed. *keep holds the --config
 * object whose strings a's fields borrow: json_decref it after the run. */
int cli_decide_args_parse(int argc, char **argv, cli_decide_args *a /* OUT */,
                          json_t **keep /* OUT */);

/* Sets a->o.policy.as_of unless --as-of was given: the profiles' time, else just after
 * the last event of log. */
int cli_decide_default_as_of(indiv_eventlog *log, cli_decide_args *a, indiv_error *err);

/* Warnings on stderr for stale profiles or an --as-of far from the data. */
void cli_decide_warn_times(indiv_eventlog *log, const cli_decide_args *a);

/* The run's summary for people, on o (cli_result_stream). */
void cli_decide_print_summary(FILE *o, const indiv_decide_summary *s, const indiv_model *m);

#endif /* INDIV_CLI_DECIDE_H */
