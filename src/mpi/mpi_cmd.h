/*
 * mpi_cmd.h — the commands of indiv-mpi (src/mpi/, docs/scale.md) and the pieces they
 * share. Every rank runs the same command with the same arguments; rank 0 prints.
 */
#ifndef INDIV_MPI_CMD_H
#define INDIV_MPI_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "indiv/error.h"
#include "indiv/model.h"

int mpi_cmd_decide(int argc, char **argv);
int mpi_cmd_profile(int argc, char **argv);
int mpi_cmd_sweep(int argc, char **argv);
int mpi_cmd_study(int argc, char **argv);
int mpi_cmd_simulate(int argc, char **argv);

/* Ranks other than 0 parse their arguments with stderr silenced (rank 0 prints the
 * usage errors once); this gives them their stderr back. */
void mpi_quiet_end(void);

/* Collective: joins the ranks' parts (each in consumer-id order, ids[i] the consumer of
 * line i of the part file) into out, on rank 0, in consumer-id order (mpi_combine.c).
 * out is NULL on the other ranks. */
int mpi_combine(FILE *out, const char *part, const int64_t *ids, size_t n,
                indiv_error *err);

#endif /* INDIV_MPI_CMD_H */
