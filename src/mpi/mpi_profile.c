/*
 * mpi_profile.c — `indiv-mpi profile --db DIR/part-%d.db`: the profiles of a
 * partitioned event log (indiv partition), each rank building its own part's, with the
 * rhythm prior of the whole population (docs/scale.md).
 *
 * Rank r runs `indiv profile` (cli_profile, the same flags) on DIR/part-r.db, with the
 * decision time every part shares: --as-of as given, else just after the last event of
 * all the parts. A consumer's profile depends only on their own events and the
 * catalogue, so the parts then hold the very vectors of a whole-database build; the one
 * population quantity, the rhythm prior, is recomputed: every rank sends the prior terms
 * of its profiles (indiv_profile_prior_terms, with the consumer ids) to rank 0, which
 * adds them in consumer-id order — the order of the one-process sum, so the doubles are
 * the same — and every rank stores the result in its part. Decisions on the parts then
 * equal those of the whole database profiled in one process (a test).
 *
 * One database is refused: SQLite has one writer, so N ranks could not write their
 * profiles into one file at once; `indiv profile` builds it in one process.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/profile.h"
#include "mpi_cmd.h"
#include "mpi_util.h"

#define ARGS_MAX 256

/* One profile's terms, as sent to rank 0. */
typedef struct term {
    int64_t id;
    double mean, cv2;
} term;

typedef struct terms {
    term *v;
    size_t n, cap;
} terms;

/* The value of --db (both forms), its index in argv (the value's), and whether
 * --as-of, --show or --help is among the arguments. */
static int find_args(int argc, char **argv, int *db_at, int *as_of, int *show) {
    *db_at = -1;
    *as_of = *show = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            *db_at = ++i;
        else if (strncmp(argv[i], "--db=", 5) == 0)
            *db_at = i;
        *as_of |= strncmp(argv[i], "--as-of", 7) == 0;
        *show |= strncmp(argv[i], "--show", 6) == 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

/* DIR/part-%d.db of this rank into path; INDIV_EINVAL with the reason otherwise. */
static int part_of(const char *arg, char *path, size_t cap, indiv_error *err) {
    const char *db = strncmp(arg, "--db=", 5) == 0 ? arg + 5 : arg;
    const char *p = strstr(db, "%d");
    size_t pct = 0;
    for (const char *c = db; *c; c++)
        pct += *c == '%';
    if (!p || pct != 1)
        return indiv_error_set(err, INDIV_EINVAL,
                               "--db %s: indiv-mpi profile builds the parts of indiv "
                               "partition (--db DIR/part-%%d.db); one database has one "
                               "writer: build it with indiv profile",
                               db);
    snprintf(path, cap, "%.*s%d%s", (int)(p - db), db, mpi_rank(), p + 2);
    return INDIV_OK;
}

/* Just after the last event of every part (indiv profile's default, over all parts). */
static int shared_as_of(const char *path, int64_t *as_of, indiv_error *err) {
    indiv_eventlog *log = NULL;
    int64_t last = INDIV_TS_NONE;
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK) /* as decide: a part of as many parts as ranks, or nothing */
        rc = mpi_check_part(log, path, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_last_event_ts(log, &last, err);
    indiv_eventlog_close(log);
    *as_of = last != INDIV_TS_NONE ? last + 1 : 0;
    rc = mpi_agree(rc, err);
    if (rc == INDIV_OK)
        mpi_allreduce(as_of, 1, MPI_INT64_T, MPI_MAX);
    return rc;
}

static int read_terms(const char *path, terms *t, indiv_error *err) {
    indiv_eventlog *log = NULL;
    indiv_profile_cursor *cur = NULL;
    indiv_profile_row row;
    indiv_profile pr;
    indiv_profile_init(&pr);
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_profile_scan(log, &cur, err);
    while (rc == INDIV_OK && (rc = indiv_profile_cursor_next(cur, &row, err)) == 1) {
        if ((rc = indiv_profile_decode(&row, &pr, err)) < 0)
            break;
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 4096;
            term *v = realloc(t->v, cap * sizeof *v);
            if (!v) {
                rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
                break;
            }
            t->v = v, t->cap = cap;
        }
        term *x = &t->v[t->n++];
        x->id = row.consumer_id;
        indiv_profile_prior_terms(&pr, &x->mean, &x->cv2);
        rc = INDIV_OK;
    }
    indiv_profile_clear(&pr);
    indiv_profile_cursor_free(cur);
    indiv_eventlog_close(log);
    return rc < 0 ? rc : INDIV_OK;
}

/* Rank 0: the terms of all ranks (each in id order) added in consumer-id order. */
static void sum_in_order(const term *all, const int *count, int size,
                         indiv_rhythm_prior *prior) {
    size_t at[ARGS_MAX] = {0}, start[ARGS_MAX] = {0};
    for (int r = 1; r < size; r++)
        start[r] = start[r - 1] + (size_t)count[r - 1];
    double s1 = 0, s2 = 0;
    int64_t n1 = 0, n2 = 0;
    for (;;) {
        int best = -1;
        for (int r = 0; r < size; r++)
            if (at[r] < (size_t)count[r] &&
                (best < 0 || all[start[r] + at[r]].id < all[start[best] + at[best]].id))
                best = r;
        if (best < 0)
            break;
        const term *x = &all[start[best] + at[best]++];
        if (!isnan(x->mean))
            s1 += x->mean, n1++;
        if (!isnan(x->cv2))
            s2 += x->cv2, n2++;
    }
    indiv_profile_prior_from_sums(s1, n1, s2, n2, prior);
}

/* The population prior from every part, stored in every part. */
static int shared_prior(const char *path, indiv_rhythm_prior *prior, indiv_error *err) {
    terms t = {0};
    int size = mpi_size(), rank = mpi_rank(), n;
    int rc = mpi_agree(read_terms(path, &t, err), err);
    int *count = calloc((size_t)size, sizeof *count),
        *displ = calloc((size_t)size, sizeof *displ);
    term *all = NULL;
    if (rc == INDIV_OK && size > ARGS_MAX)
        rc = indiv_error_set(err, INDIV_EINVAL, "more than %d ranks", ARGS_MAX);
    n = (int)(t.n * sizeof(term)); /* bytes: well below INT_MAX per rank for 10^7 */
    MPI_Request req;
    if (rc == INDIV_OK) {
        MPI_Igather(&n, 1, MPI_INT, count, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
        mpi_wait(&req, NULL);
        size_t total = 0;
        for (int r = 0; rank == 0 && r < size; r++)
            displ[r] = (int)total, total += (size_t)count[r];
        all = rank == 0 ? malloc(total ? total : 1) : NULL;
        MPI_Igatherv(t.v, n, MPI_BYTE, all, count, displ, MPI_BYTE, 0, MPI_COMM_WORLD,
                     &req);
        mpi_wait(&req, NULL);
        for (int r = 0; rank == 0 && r < size; r++)
            count[r] /= (int)sizeof(term);
        if (rank == 0)
            sum_in_order(all, count, size, prior);
        MPI_Ibcast(prior, (int)sizeof *prior, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
        mpi_wait(&req, NULL);
        indiv_eventlog *log = NULL;
        int st = indiv_eventlog_open(path, 0, &log, err);
        if (st == INDIV_OK)
            st = indiv_profile_store_prior(log, prior, err);
        indiv_eventlog_close(log);
        rc = mpi_agree(st, err);
    }
    free(all);
    free(count);
    free(displ);
    free(t.v);
    return rc;
}

int mpi_cmd_profile(int argc, char **argv) {
    int db_at, has_as_of, show;
    if (find_args(argc, argv, &db_at, &has_as_of, &show))
        return cli_profile(argc, argv); /* --help */
    mpi_quiet_end(); /* each rank's indiv profile reports its own errors */
    char path[4096], when[32], *args[ARGS_MAX + 4];
    indiv_error err = {0};
    int rc = argc > ARGS_MAX ? indiv_error_set(&err, INDIV_EINVAL, "too many arguments")
             : db_at < 0     ? indiv_error_set(&err, INDIV_EINVAL, "--db is required")
             : show ? indiv_error_set(&err, INDIV_EINVAL, "--show: use indiv profile")
                    : part_of(argv[db_at], path, sizeof path, &err);
    int64_t as_of = 0;
    if ((rc = mpi_agree(rc, &err)) == INDIV_OK)
        rc = shared_as_of(path, &as_of, &err);
    if (rc < 0)
        return mpi_rank() == 0 ? cli_fail("profile", &err) : CLI_FAIL;
    char db_opt[4200], as_of_opt[] = "--as-of";
    snprintf(db_opt, sizeof db_opt, "--db=%s", path);
    int n = 0;
    for (int i = 0; i < argc; i++)
        args[n++] = i != db_at                                          ? argv[i]
                    : db_at > 0 && strcmp(argv[db_at - 1], "--db") == 0 ? path
                                                                        : db_opt;
    snprintf(when, sizeof when, "%lld", (long long)as_of);
    if (!has_as_of)
        args[n++] = as_of_opt, args[n++] = when;
    args[n] = NULL;
    int st = cli_profile(n, args);
    rc = mpi_agree(st == CLI_OK ? INDIV_OK : INDIV_EINVAL, &err);
    indiv_rhythm_prior prior;
    if (rc == INDIV_OK)
        rc = shared_prior(path, &prior, &err);
    if (rc < 0)
        return mpi_rank() == 0 && st == CLI_OK ? cli_fail("profile", &err) : CLI_FAIL;
    if (mpi_rank() == 0)
        printf("indiv-mpi profile: %d parts; rhythm prior of all of them: mean interval "
               "%.1f days (%lld consumers), cv² %.2f (%lld consumers)\n",
               mpi_size(), prior.mean_days, (long long)prior.consumers_mean, prior.cv2,
               (long long)prior.consumers_cv2);
    return CLI_OK;
}
