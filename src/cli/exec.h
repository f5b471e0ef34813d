/*
 * exec.h — how `indiv-mpi` (src/mpi/) runs `sweep`, `study` and `simulate` with the very
 * parsing, checks and printing of `indiv`: it hands the command an executor that replaces
 * the one library call that does the work. `indiv` passes NULL (the library call itself).
 *
 * Rank 0 runs the library call with the jobs sent to the ranks and then prints and
 * writes as `indiv` does; the other ranks serve jobs inside the executor and return
 * without printing (their errors reach rank 0, which reports them).
 */
#ifndef INDIV_CLI_EXEC_H
#define INDIV_CLI_EXEC_H

#include "indiv/experiment.h"
#include "indiv/simulate.h"
#include "indiv/study.h"

typedef struct cli_exec {
    int rank; /* this process's rank; only rank 0 prints */
    void *ctx;
    int (*sweep)(void *ctx, const indiv_sweep_grid *g, const indiv_sweep_opts *o,
                 indiv_progress_fn progress, void *pctx,
                 indiv_sweep_report *rep /* OUT */, indiv_error *err);
    int (*study)(void *ctx, const indiv_study_opts *o, indiv_progress_fn progress,
                 void *pctx, indiv_study_results **out /* OUT */, indiv_error *err);
    /* simulate: runs policies [first, last) of p over the ranks, each into out/<policy>/,
     * with their totals tot[k] and timings times[k] (the round stages, then the wall
     * clock) on rank 0. Every rank calls it, rc being its status so far (rank 0's: the
     * output directory made), so that a failure anywhere stops all. */
    int (*simulate)(void *ctx, int rc, const char *db, const char *out,
                    const indiv_sim_params *p, const indiv_model *m, int first, int last,
                    double (*tot)[INDIV_SIM_NMETRICS] /* OUT */,
                    double (*times)[INDIV_SIM_NTIMES + 1] /* OUT */, indiv_error *err);
} cli_exec;

/* cli_sweep, cli_study and cli_simulate with an executor (NULL: in this process). */
int cli_sweep_exec(int argc, char **argv, const cli_exec *x);
int cli_study_exec(int argc, char **argv, const cli_exec *x);
int cli_simulate_exec(int argc, char **argv, const cli_exec *x);

#endif /* INDIV_CLI_EXEC_H */
