/*
 * exec.h — how `indiv-mpi` (src/mpi/) runs `sweep` and `study` with the very parsing,
 * checks and printing of `indiv`: it hands the command an executor that replaces the
 * one library call that does the work. `indiv` passes NULL (the library call itself).
 *
 * Rank 0 runs the library call with the jobs sent to the ranks and then prints and
 * writes as `indiv` does; the other ranks serve jobs inside the executor and return
 * without printing (their errors reach rank 0, which reports them).
 */
#ifndef INDIV_CLI_EXEC_H
#define INDIV_CLI_EXEC_H

#include "indiv/experiment.h"
#include "indiv/study.h"

typedef struct cli_exec {
    int rank; /* this process's rank; only rank 0 prints */
    void *ctx;
    int (*sweep)(void *ctx, const indiv_sweep_grid *g, const indiv_sweep_opts *o,
                 indiv_progress_fn progress, void *pctx,
                 indiv_sweep_report *rep /* OUT */, indiv_error *err);
    int (*study)(void *ctx, const indiv_study_opts *o, indiv_progress_fn progress,
                 void *pctx, indiv_study_results **out /* OUT */, indiv_error *err);
} cli_exec;

/* cli_sweep and cli_study with an executor (NULL: run in this process). */
int cli_sweep_exec(int argc, char **argv, const cli_exec *x);
int cli_study_exec(int argc, char **argv, const cli_exec *x);

#endif /* INDIV_CLI_EXEC_H */
