/*
 * mpi_simulate.c — `indiv-mpi simulate`: the policies of `simulate --policy all` run
 * side by side, policy k on rank k mod N (docs/scale.md).
 *
 * Rank 0 parses, makes the output directory and writes params.json as `indiv simulate`
 * does; then every rank runs its policies with the library (indiv_sim_run_into, which
 * writes DIR/<policy>/), and sends their totals and timings to rank 0, which writes
 * comparison.csv and prints. Each policy's run depends only on the world, the
 * parameters and the seed, so the files are those of one process (timings.csv aside).
 * DIR must be on a file system every rank sees (one node, or a shared directory).
 */
#include <string.h>
#include <time.h>

#include "cli.h"
#include "exec.h"
#include "indiv/simulate.h"
#include "mpi_cmd.h"
#include "mpi_util.h"

enum { TAG_TOTALS = 100 }; /* above mpi_util.h's tags */

static int add_stages(void *ctx, const indiv_round_metrics *m) {
    double *t = ctx;
    for (int k = 0; k < INDIV_SIM_NTIMES; k++)
        t[k] += m->seconds[k];
    return 0;
}

/* This rank's policies of [first, last): those with (k − first) mod N = rank. */
static int run_mine(const char *db, const char *out, const indiv_sim_params *p,
                    const indiv_model *m, int first, int last,
                    double (*tot)[INDIV_SIM_NMETRICS],
                    double (*times)[INDIV_SIM_NTIMES + 1], indiv_error *err) {
    int rank = mpi_rank(), size = mpi_size(), rc = INDIV_OK;
    for (int k = first; rc == INDIV_OK && k < last; k++) {
        if ((k - first) % size != rank)
            continue;
        indiv_sim_params pk = *p;
        pk.policy = (indiv_sim_policy)k;
        cli_progress_state ps = {0};
        if (rank == 0)
            fprintf(stderr, "indiv simulate: policy %s, %d rounds\n",
                    indiv_sim_policy_name(pk.policy), pk.rounds);
        double t0 = MPI_Wtime();
        rc = indiv_sim_run_into(db, out, &pk, m, rank == 0 ? cli_progress : NULL, &ps,
                                add_stages, times[k], tot[k], err);
        times[k][INDIV_SIM_NTIMES] = MPI_Wtime() - t0;
    }
    return rc;
}

static int simulate_exec(void *ctx, int rc, const char *db, const char *out,
                         const indiv_sim_params *p, const indiv_model *m, int first,
                         int last, double (*tot)[INDIV_SIM_NMETRICS],
                         double (*times)[INDIV_SIM_NTIMES + 1], indiv_error *err) {
    (void)ctx;
    int rank = mpi_rank(), size = mpi_size();
    rc = mpi_agree(rc, err); /* rank 0 made DIR before anyone writes into it */
    if (rc == INDIV_OK)
        rc = run_mine(db, out, p, m, first, last, tot, times, err);
    if ((rc = mpi_agree(rc, err)) < 0)
        return rc;
    /* the owner's rows, copied as they are (no arithmetic on them) */
    for (int k = first; k < last; k++) {
        int owner = (k - first) % size;
        if (owner == 0 || (rank != 0 && rank != owner))
            continue;
        if (rank == owner) {
            mpi_send(tot[k], INDIV_SIM_NMETRICS, MPI_DOUBLE, 0, TAG_TOTALS);
            mpi_send(times[k], INDIV_SIM_NTIMES + 1, MPI_DOUBLE, 0, TAG_TOTALS);
        } else {
            mpi_recv(tot[k], INDIV_SIM_NMETRICS, MPI_DOUBLE, owner, TAG_TOTALS);
            mpi_recv(times[k], INDIV_SIM_NTIMES + 1, MPI_DOUBLE, owner, TAG_TOTALS);
        }
    }
    return INDIV_OK;
}

int mpi_cmd_simulate(int argc, char **argv) {
    cli_exec x = {mpi_rank(), NULL, NULL, NULL, simulate_exec};
    return cli_simulate_exec(argc, argv, &x);
}
