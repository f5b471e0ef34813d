/*
 * mpi_util.c — patient waits and the agreement on failures (contract in mpi_util.h).
 */
#include "mpi_util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int mpi_rank(void) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int mpi_size(void) {
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e6 * (double)t.tv_sec + 1e-3 * (double)t.tv_nsec;
}

void mpi_wait(MPI_Request *req, MPI_Status *st) {
    int done = 0;
    double t0 = 0;
    for (;;) {
        MPI_Test(req, &done, st ? st : MPI_STATUS_IGNORE);
        if (done)
            return;
        double t = now_us();
        if (t0 == 0)
            t0 = t;
        double us = (t - t0) / MPI_POLL_FRACTION;
        us = us < MPI_POLL_MIN_US   ? MPI_POLL_MIN_US
             : us > MPI_POLL_MAX_US ? MPI_POLL_MAX_US
                                    : us;
        const struct timespec pause = {0, 1000L * (long)us};
        nanosleep(&pause, NULL);
    }
}

/* Counts are int in MPI; every message of indiv-mpi is far below INT_MAX elements (the
 * largest is a chunk of decisions, a few MiB). */
static int count_of(size_t n) {
    return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}

void mpi_send(const void *buf, size_t n, MPI_Datatype t, int dest, int tag) {
    MPI_Request req;
    MPI_Isend(buf, count_of(n), t, dest, tag, MPI_COMM_WORLD, &req);
    mpi_wait(&req, NULL);
}

void mpi_recv(void *buf, size_t n, MPI_Datatype t, int src, int tag) {
    MPI_Request req;
    MPI_Irecv(buf, count_of(n), t, src, tag, MPI_COMM_WORLD, &req);
    mpi_wait(&req, NULL);
}

void mpi_bcast(void *buf, size_t n, MPI_Datatype t, int root) {
    MPI_Request req;
    MPI_Ibcast(buf, count_of(n), t, root, MPI_COMM_WORLD, &req);
    mpi_wait(&req, NULL);
}

void mpi_allreduce(void *buf, size_t n, MPI_Datatype t, MPI_Op op) {
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, buf, count_of(n), t, op, MPI_COMM_WORLD, &req);
    mpi_wait(&req, NULL);
}

int mpi_agree(int rc, indiv_error *err) {
    int size = mpi_size(), first = rc < 0 ? mpi_rank() : size;
    mpi_allreduce(&first, 1, MPI_INT, MPI_MIN);
    if (first == size)
        return INDIV_OK;
    struct {
        int code;
        char msg[INDIV_ERROR_MSG_MAX];
    } m = {rc, ""};
    if (mpi_rank() == first)
        snprintf(m.msg, sizeof m.msg, "%s", err && err->code ? err->msg : "failed");
    MPI_Request req;
    MPI_Ibcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD, &req);
    mpi_wait(&req, NULL);
    indiv_error_clear(err); /* the first error wins: this one replaces the rank's own */
    if (size > 1)
        indiv_error_set(err, m.code, "rank %d: %s", first, m.msg);
    else
        indiv_error_set(err, m.code, "%s", m.msg);
    return m.code;
}

int mpi_check_part(indiv_eventlog *log, const char *path, indiv_error *err) {
    char have[64], want[64];
    int rc = indiv_eventlog_meta_get(log, "partition", have, sizeof have, err);
    snprintf(want, sizeof want, "%d/%d", mpi_rank(), mpi_size());
    if (rc == INDIV_ENOTFOUND || (rc == INDIV_OK && strcmp(have, want) != 0))
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s is %s%s, not part %s: run with as many ranks as "
                               "parts (indiv partition --parts %d)",
                               path, rc == INDIV_OK ? "part " : "not a partition",
                               rc == INDIV_OK ? have : "", want, mpi_size());
    return rc;
}
