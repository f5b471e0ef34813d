/*
 * mpi_main.c — the indiv-mpi program: the commands of indiv that scale, run as N MPI
 * ranks of one job (mpirun -np N, srun; docs/scale.md). Every rank runs the same command
 * with the same arguments and the same parsing as indiv; the work is split by consumer
 * (decide) or by simulation (sweep, study); rank 0 prints and writes the outputs.
 *
 * Output of the other ranks: stdout is silenced for the whole run (rank 0 prints the
 * results once) and stderr while the arguments are parsed (a usage error is printed
 * once, by rank 0); a rank's failure reaches rank 0, which reports it with its rank.
 *
 * Transport on one node: see single_node_defaults.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "cli.h"
#include "indiv/score.h"
#include "mpi_cmd.h"
#include "mpi_util.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"decide", mpi_cmd_decide,
     "decisions, consumers split over the ranks (--db FILE, or "
     "DIR/part-%d.db: one partition per rank)"},
    {"profile", mpi_cmd_profile,
     "profiles of a partitioned log (--db DIR/part-%d.db), "
     "one part per rank, the population's prior"},
    {"sweep", mpi_cmd_sweep, "a sweep, its cells × seeds handed out to the ranks"},
    {"study", mpi_cmd_study, "the ethics study, its simulations handed out to the ranks"},
    {"simulate", mpi_cmd_simulate,
     "the closed loop; with --policy all, a policy per rank"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out,
            "usage: mpirun -np N indiv-mpi <command> [options of indiv <command>]\n\n"
            "Runs a command of indiv as N MPI ranks: the same options, the same "
            "output\nfiles, byte for byte (docs/scale.md).\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nexamples:\n"
            "  mpirun -np 4 indiv-mpi decide --db shop.db --out decisions.jsonl\n"
            "  indiv partition --db shop.db --parts 4 --out parts &&\n"
            "    mpirun -np 4 indiv-mpi decide --db parts/part-%%d.db --out d.jsonl\n"
            "  mpirun -np 8 indiv-mpi sweep --db world.db --out sweep "
            "--grid threshold=0:0.4:0.1\n");
}

static int saved_stderr = -1;

void mpi_quiet_end(void) {
    if (saved_stderr >= 0) {
        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
}

/* Ranks other than 0: stdout to /dev/null, stderr too until mpi_quiet_end. */
static void quiet_start(void) {
    int null = open("/dev/null", O_WRONLY);
    if (null < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
}

static int dispatch(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return usage(stderr), CLI_USAGE;
        return usage(stdout), CLI_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "indiv-mpi: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

/* When Open MPI's mpirun started every rank on this node (OMPI_COMM_WORLD_SIZE equals
 * OMPI_COMM_WORLD_LOCAL_SIZE, both set by mpirun in each rank's environment) and the
 * user chose no point-to-point layer (OMPI_MCA_pml unset), selects Open MPI's ob1 layer,
 * whose shared-memory transport (btl vader) is how ranks on one node talk anyway. Left
 * to itself, Open MPI first tries its cm layer and the network libraries behind it
 * (libfabric, PSM, PSM2), which on a machine without such a network costs about 0.25 s
 * per run (docs/scale.md). The same setting as `mpirun --mca pml ob1`, the documented
 * way (Open MPI FAQ, "tuning"), set here because every rank must make the same choice
 * before MPI_Init reads its parameters. Across nodes (the sizes differ), under other
 * launchers (the variables are absent) or with any OMPI_MCA_pml in the environment, even
 * empty, nothing is changed and Open MPI chooses. */
static void single_node_defaults(void) {
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (size && local && *size && strcmp(size, local) == 0 && !getenv("OMPI_MCA_pml"))
        setenv("OMPI_MCA_pml", "ob1", 0);
}

int main(int argc, char **argv) {
    int provided = 0;
    single_node_defaults();
    /* sweep and study call MPI from rank 0's worker threads */
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "indiv-mpi: MPI_Init_thread failed\n");
        return CLI_FAIL;
    }
    if (provided < MPI_THREAD_MULTIPLE) {
        if (mpi_rank() == 0)
            fprintf(stderr, "indiv-mpi: this MPI library does not support "
                            "MPI_THREAD_MULTIPLE, which indiv-mpi needs\n");
        MPI_Finalize();
        return CLI_FAIL;
    }
    cli_install_signal_cleanup();
    gsl_set_error_handler_off();
    indiv_blas_single_thread();
    if (mpi_rank() != 0)
        quiet_start();
    int rc = dispatch(argc, argv);
    mpi_quiet_end();
    MPI_Finalize();
    return rc;
}
