/*
 * mpi_combine.c — the ordered join of the ranks' decision parts into one file (see
 * mpi_decide.c): every rank's part is in consumer-id order, and the one-process output is
 * in consumer-id order, so rank 0 merges the parts by id, N heads at a time.
 *
 * Rank r streams its part to rank 0 in chunks of whole lines (at most CHUNK_BYTES, at
 * least one line): a head {lines, bytes, status}, the lines' consumer ids, the bytes; an
 * empty head ends the part, a negative status says the part could not be read. Rank 0
 * reads its own part the same way from its file. Memory on rank 0: one chunk per rank.
 * A rank sends its next chunk only when rank 0 asks for it by receiving (MPI's
 * rendezvous for large messages), so nothing piles up. When anything fails, rank 0 still
 * drains every rank's part (without writing) so that no rank waits forever; the caller's
 * agreement then fails every rank and the output is discarded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_cmd.h"
#include "mpi_util.h"

#define CHUNK_BYTES ((size_t)4 << 20)

typedef struct chunk {
    int64_t head[3]; /* lines, bytes, status */
    int64_t *ids;
    char *buf;
    size_t cap_ids, cap_buf;
    size_t line, pos; /* the next line to merge and its offset */
} chunk;

/* A part file and the ids of its lines, read chunk by chunk. */
typedef struct part_reader {
    FILE *f;
    const char *path;
    const int64_t *ids;
    size_t n, next;
    char *line;
    size_t line_cap;
    ssize_t pending; /* length of a line read but not yet placed, or -1 */
} part_reader;

static int grow(chunk *c, size_t lines, size_t bytes) {
    if (lines > c->cap_ids) {
        int64_t *v = realloc(c->ids, lines * sizeof *v);
        if (!v)
            return INDIV_ENOMEM;
        c->ids = v, c->cap_ids = lines;
    }
    if (bytes > c->cap_buf) {
        char *b = realloc(c->buf, bytes);
        if (!b)
            return INDIV_ENOMEM;
        c->buf = b, c->cap_buf = bytes;
    }
    return INDIV_OK;
}

/* Appends one line of the part to c. */
static int place_line(part_reader *rd, chunk *c, size_t len, indiv_error *err) {
    if (rd->next >= rd->n)
        return indiv_error_set(err, INDIV_EFORMAT, "%s: more lines than decisions",
                               rd->path);
    size_t lines = (size_t)c->head[0], bytes = (size_t)c->head[1];
    if (grow(c, lines + 1 > c->cap_ids ? 2 * lines + 64 : 0,
             bytes + len > c->cap_buf ? 2 * (bytes + len) : 0) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    c->ids[lines] = rd->ids[rd->next++];
    memcpy(c->buf + bytes, rd->line, len);
    c->head[0]++;
    c->head[1] += (int64_t)len;
    return INDIV_OK;
}

/* Fills c with the next whole lines of the part (none at its end). */
static int read_chunk(part_reader *rd, chunk *c, indiv_error *err) {
    c->head[0] = c->head[1] = c->head[2] = 0;
    c->line = c->pos = 0;
    for (;;) {
        ssize_t len =
            rd->pending >= 0 ? rd->pending : getline(&rd->line, &rd->line_cap, rd->f);
        rd->pending = -1;
        if (len < 0)
            break;
        if (len == 0 || rd->line[len - 1] != '\n')
            return indiv_error_set(err, INDIV_EFORMAT, "%s: a line is cut short",
                                   rd->path);
        if (c->head[0] > 0 && (size_t)c->head[1] + (size_t)len > CHUNK_BYTES) {
            rd->pending = len; /* the next chunk's first line */
            return INDIV_OK;
        }
        int rc = place_line(rd, c, (size_t)len, err);
        if (rc < 0)
            return rc;
    }
    if (ferror(rd->f))
        return indiv_error_set(err, INDIV_EIO, "%s: cannot read", rd->path);
    if (c->head[0] == 0 && rd->next != rd->n)
        return indiv_error_set(err, INDIV_EFORMAT, "%s: %zu lines for %zu decisions",
                               rd->path, rd->next, rd->n);
    return INDIV_OK;
}

/* ---- ranks other than 0: send the part --------------------------------------------- */

static int send_part(part_reader *rd, indiv_error *err) {
    chunk c = {0};
    int rc;
    do {
        rc = read_chunk(rd, &c, err);
        if (rc < 0)
            c.head[0] = c.head[1] = 0, c.head[2] = rc;
        mpi_send(c.head, 3, MPI_INT64_T, 0, MPI_TAG_HEAD);
        if (c.head[0] > 0) {
            mpi_send(c.ids, (size_t)c.head[0], MPI_INT64_T, 0, MPI_TAG_IDS);
            mpi_send(c.buf, (size_t)c.head[1], MPI_BYTE, 0, MPI_TAG_BYTES);
        }
    } while (rc == INDIV_OK && c.head[0] > 0);
    free(c.ids);
    free(c.buf);
    return rc;
}

/* ---- rank 0: merge ----------------------------------------------------------------- */

typedef struct source {
    int rank;
    chunk c;
    int done;
} source;

static int recv_chunk(source *s) {
    chunk *c = &s->c;
    mpi_recv(c->head, 3, MPI_INT64_T, s->rank, MPI_TAG_HEAD);
    c->line = c->pos = 0;
    if (c->head[2] < 0 || c->head[0] <= 0)
        return c->head[2] < 0 ? (int)c->head[2] : INDIV_OK;
    if (grow(c, (size_t)c->head[0], (size_t)c->head[1]) < 0) {
        /* the rank is already sending this chunk: no clean way back */
        fprintf(stderr, "indiv-mpi: rank 0: out of memory for a chunk of rank %d\n",
                s->rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    mpi_recv(c->ids, (size_t)c->head[0], MPI_INT64_T, s->rank, MPI_TAG_IDS);
    mpi_recv(c->buf, (size_t)c->head[1], MPI_BYTE, s->rank, MPI_TAG_BYTES);
    return INDIV_OK;
}

/* The next chunk of source s; s->done at the end of its part or on its failure. */
static int refill(source *s, part_reader *own, indiv_error *err) {
    int rc = s->rank == 0 ? read_chunk(own, &s->c, err) : recv_chunk(s);
    if (rc < 0 || s->c.head[0] <= 0)
        s->done = 1;
    if (rc < 0 && s->rank != 0) /* the rank reports its own error */
        return rc == INDIV_ENOMEM ? indiv_error_set(err, rc, "out of memory") : 1;
    return rc;
}

/* The source whose next line has the smallest consumer id, or -1 when all are done. */
static int smallest(const source *src, int n) {
    int best = -1;
    for (int r = 0; r < n; r++)
        if (!src[r].done &&
            (best < 0 || src[r].c.ids[src[r].c.line] < src[best].c.ids[src[best].c.line]))
            best = r;
    return best;
}

static int merge(FILE *out, source *src, int n, part_reader *own, indiv_error *err) {
    int rc = INDIV_OK, r;
    for (r = 0; r < n; r++) {
        int k = src[r].done ? INDIV_OK : refill(&src[r], own, err);
        rc = rc != INDIV_OK ? rc : k;
    }
    while ((r = smallest(src, n)) >= 0) {
        chunk *c = &src[r].c;
        const char *line = c->buf + c->pos;
        const char *end = memchr(line, '\n', (size_t)c->head[1] - c->pos);
        size_t len = (size_t)(end - line) + 1;
        if (rc == INDIV_OK && fwrite(line, 1, len, out) != len)
            rc = indiv_error_set(err, INDIV_EIO, "cannot write the decisions");
        c->pos += len;
        if (++c->line == (size_t)c->head[0]) {
            int k = refill(&src[r], own, err); /* drained even after a failure */
            rc = rc != INDIV_OK ? rc : k;
        }
    }
    return rc < 0 ? rc : INDIV_OK; /* 1: a rank failed, and says so itself */
}

int mpi_combine(FILE *out, const char *part, const int64_t *ids, size_t n,
                indiv_error *err) {
    part_reader rd = {NULL, part, ids, n, 0, NULL, 0, -1};
    int size = mpi_size(), rc = INDIV_OK;
    if (!(rd.f = fopen(part, "r")))
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot open", part);
    if (mpi_rank() != 0) {
        if (rc == INDIV_OK)
            rc = send_part(&rd, err);
        else { /* an empty failing part, so rank 0 does not wait for it */
            int64_t head[3] = {0, 0, rc};
            mpi_send(head, 3, MPI_INT64_T, 0, MPI_TAG_HEAD);
        }
    } else {
        source *src = calloc((size_t)size, sizeof *src);
        for (int r = 0; src && r < size; r++)
            src[r].rank = r;
        if (!src)
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        else if (rc < 0) /* still drain the others */
            src[0].done = 1, merge(out, src, size, &rd, NULL);
        else
            rc = merge(out, src, size, &rd, err);
        for (int r = 0; src && r < size; r++)
            free(src[r].c.ids), free(src[r].c.buf);
        free(src);
    }
    if (rd.f)
        fclose(rd.f);
    free(rd.line);
    return rc;
}
