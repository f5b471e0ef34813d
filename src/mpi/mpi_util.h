/*
 * mpi_util.h — the few MPI idioms indiv-mpi is built from (src/mpi/, docs/scale.md).
 *
 * Patient waits: Open MPI's blocking calls spin a core while they wait (and with
 * mpi_yield_when_idle they spin through sched_yield, which on a busy machine still takes
 * a full share of a core: measured in docs/scale.md). Ranks that share cores with
 * working ranks (rank 0's hand-out threads, a rank that finished its part early) must
 * not steal them, so every wait here is a non-blocking call tested, then a sleep. The
 * sleep grows with the time already waited (1/MPI_POLL_FRACTION of it, between
 * MPI_POLL_MIN_US and MPI_POLL_MAX_US): a reply that comes at once is seen at once, and
 * a wait that lasts (rank 0 waiting for a rank's simulation round) wakes at most
 * 1000 times a second and notices the message at most 1 ms late, under 1/8 of the wait.
 *
 * Agreement: a failure on one rank must fail every rank at the same point, or the
 * others would wait forever in the next collective. Every step that can fail ends with
 * mpi_agree, a collective that tells every rank whether some rank failed, and which
 * one's message to report.
 */
#ifndef INDIV_MPI_UTIL_H
#define INDIV_MPI_UTIL_H

#include <mpi.h>
#include <stddef.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"

#define MPI_POLL_MIN_US   20   /* shortest sleep between tests of a pending request */
#define MPI_POLL_MAX_US   1000 /* longest */
#define MPI_POLL_FRACTION 8    /* sleep = time waited so far / this, within the bounds */

/* Message tags of indiv-mpi's point-to-point traffic. */
enum {
    MPI_TAG_JOB = 1, /* rank 0 → worker: a simulation job, or quit */
    MPI_TAG_REPLY,   /* worker → rank 0: a round's metrics, or the job's end */
    MPI_TAG_STOP,    /* rank 0 → worker: stop the job now running */
    MPI_TAG_HEAD,    /* rank r → rank 0: a chunk of decisions: lines, bytes, status */
    MPI_TAG_IDS,     /* ... the chunk's consumer ids */
    MPI_TAG_BYTES    /* ... the chunk's JSON lines */
};

int mpi_rank(void);
int mpi_size(void);

/* Waits for req without spinning. */
void mpi_wait(MPI_Request *req, MPI_Status *st /* OUT, may be NULL */);

/* Blocking point-to-point calls that wait patiently (MPI_Isend/Irecv + mpi_wait). */
void mpi_send(const void *buf, size_t n, MPI_Datatype t, int dest, int tag);
void mpi_recv(void *buf, size_t n, MPI_Datatype t, int src, int tag);

/* Collective: rc is this rank's status (err its message when rc < 0). Returns
 * INDIV_OK on every rank when all succeeded; otherwise, on every rank, the status of the
 * lowest failing rank, with err set to "rank R: <its message>" (when size > 1). */
int mpi_agree(int rc, indiv_error *err);

/* Collective, patient: MPI_Bcast of n values from root. */
void mpi_bcast(void *buf, size_t n, MPI_Datatype t, int root);

/* Collective, patient: MPI_Allreduce of n values in place. */
void mpi_allreduce(void *buf, size_t n, MPI_Datatype t, MPI_Op op);

/* A part (the database at path, opened as log) must be the one indiv partition made
 * for this rank of this many ranks: INDIV_EINVAL naming both otherwise. */
int mpi_check_part(indiv_eventlog *log, const char *path, indiv_error *err);

#endif /* INDIV_MPI_UTIL_H */
