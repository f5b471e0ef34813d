/*
 * mpi_decide.c — `indiv-mpi decide`: `indiv decide` with the consumers spread over the
 * MPI ranks, one output file byte-identical to the one-process run (docs/scale.md).
 *
 * Rank r of N decides shard r/N of the consumers (indiv_shard_of, the stable hash of
 * `decide --shard`) with the library's run, into its own part file in $TMPDIR (a
 * node-local disk on a cluster), and records the consumer id of every line. Then the
 * ranks stream their parts to rank 0 in chunks (MPI messages, no shared file system
 * needed), and rank 0 merges them by consumer id — the order of the one-process run —
 * into --out, written through fileio.h: a temporary file renamed at the end, so a failed
 * rank or combine leaves no output. Counts are gathered to rank 0 and added in rank
 * order; timings are the slowest rank's.
 *
 * With --db DIR/part-%d.db (indiv partition), rank r opens its own part, which holds
 * exactly its shard's consumers with their original ids and the whole catalogue; the
 * co-purchase counts of the `adjacent` aim, which span every consumer, are added up
 * over the parts, so the decisions equal those of the unpartitioned database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "decide_cli.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/rights.h"
#include "mpi_cmd.h"
#include "mpi_util.h"
#include "policy_opts.h"

#define CHUNK_BYTES (4u << 20) /* decisions per message: at least one line */

/* ---- ids of this rank's lines ------------------------------------------------------ */

typedef struct id_list {
    int64_t *v;
    size_t n, cap;
} id_list;

static int record_id(void *ctx, const indiv_decision *d, const char *ext_id) {
    (void)ext_id;
    id_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4096;
        int64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return INDIV_ENOMEM;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = d->consumer_id;
    return 0;
}

/* ---- the run on every rank --------------------------------------------------------- */

typedef struct mdecide {
    cli_decide_args a;
    char db[4096], part[4096]; /* part: "" when this rank made none */
    int part_track;            /* fileio.h handle of the part */
    int partitioned, rank, size;
    indiv_model m;
    int have_model;
    indiv_eventlog *log;
    indiv_plausibility *plaus;
    id_list ids;
    indiv_decide_summary sum;
    indiv_outfile *out, *summary; /* rank 0 */
} mdecide;

/* DIR/part-%d.db: exactly one %d and no other conversion. */
static int part_path(mdecide *d, indiv_error *err) {
    const char *p = strstr(d->a.db, "%d");
    size_t pct = 0;
    for (const char *c = d->a.db; *c; c++)
        pct += *c == '%';
    if (!p) {
        snprintf(d->db, sizeof d->db, "%s", d->a.db);
        return pct ? indiv_error_set(err, INDIV_EINVAL,
                                     "--db %s: the only conversion allowed is one %%d",
                                     d->a.db)
                   : INDIV_OK;
    }
    if (pct != 1)
        return indiv_error_set(err, INDIV_EINVAL,
                               "--db %s: the only conversion allowed is one %%d",
                               d->a.db);
    d->partitioned = 1;
    snprintf(d->db, sizeof d->db, "%.*s%d%s", (int)(p - d->a.db), d->a.db, d->rank,
             p + 2);
    return INDIV_OK;
}

/* Opens what the run reads: the model, the database, the decision time. */
static int open_inputs(mdecide *d, indiv_error *err) {
    int rc = part_path(d, err);
    if (rc == INDIV_OK && d->a.model)
        rc = indiv_model_load(d->a.model, &d->m, err);
    else if (rc == INDIV_OK)
        indiv_model_default(&d->m);
    d->have_model = rc == INDIV_OK;
    if (rc == INDIV_OK && d->a.tau_pending) /* the model's τ, as indiv decide */
        cli_threshold_note("decide", &d->a.o, &d->m);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(d->db, INDIV_EVENTLOG_READONLY, &d->log, err);
    if (rc == INDIV_OK && d->partitioned)
        rc = mpi_check_part(d->log, d->db, err);
    if (rc == INDIV_OK)
        rc = cli_decide_default_as_of(d->log, &d->a, err);
    return rc;
}

/* With partitions, an output may be no rank's part (rank 0 sees only its own). */
static int check_every_part(const mdecide *d, const char *const *outs,
                            const char *const *names, indiv_error *err) {
    const char *p = strstr(d->a.db, "%d");
    char path[4096];
    int rc = INDIV_OK;
    for (int r = 0; rc == INDIV_OK && d->partitioned && p && r < d->size; r++) {
        snprintf(path, sizeof path, "%.*s%d%s", (int)(p - d->a.db), d->a.db, r, p + 2);
        rc = indiv_path_check_outputs(path, outs, names, 2, err);
    }
    return rc;
}

/* Rank 0 opens --out and --summary before any work: a bad path fails first. */
static int open_outputs(mdecide *d, indiv_error *err) {
    const char *outs[] = {d->a.o.out_path, d->a.summary};
    static const char *const names[] = {"--out", "--summary"};
    if (d->rank != 0)
        return INDIV_OK;
    const char *ins[] = {d->a.model, d->a.config};
    static const char *const in_names[] = {"--model", "--config"};
    int rc = indiv_path_check_io(d->db, outs, names, 2, ins, in_names, 2, err);
    if (rc == INDIV_OK)
        rc = check_every_part(d, outs, names, err);
    if (rc == INDIV_OK)
        rc = indiv_outfile_open(d->a.o.out_path, &d->out, err);
    if (rc == INDIV_OK && d->a.summary)
        rc = indiv_outfile_open(d->a.summary, &d->summary, err);
    return rc;
}

/* Partitions: the co-purchase counts of every part, added up on every rank. */
static int plausibility(mdecide *d, indiv_error *err) {
    int rc = d->partitioned
                 ? indiv_decide_plausibility(d->log, &d->m, &d->a.o, &d->plaus, err)
                 : INDIV_OK;
    int have = d->plaus != NULL;
    if ((rc = mpi_agree(rc, err)) < 0)
        return rc;
    mpi_allreduce(&have, 1, MPI_INT, MPI_MIN); /* the same on every part */
    if (!have)
        return INDIV_OK;
    uint32_t *pair;
    int64_t *people;
    size_t c = indiv_plausibility_categories(d->plaus);
    indiv_plausibility_counts(d->plaus, &pair, &people);
    mpi_allreduce(pair, c * c, MPI_UINT32_T, MPI_SUM);
    mpi_allreduce(people, 1, MPI_INT64_T, MPI_SUM);
    d->a.o.plaus = d->plaus;
    return INDIV_OK;
}

/* Decides this rank's shard. With one rank, straight into --out, as indiv decide does
 * (no part, no join). Otherwise into this rank's part file, recording each line's
 * consumer id: a scratch file read back once by the join and removed, so written
 * without fsync (a signal removes it: fileio.h tracking). */
static int decide_part(mdecide *d, const char *tmpdir, long job, indiv_error *err) {
    indiv_decide_opts o = d->a.o;
    cli_progress_state ps = {0};
    indiv_progress_fn progress = d->rank == 0 ? cli_progress : NULL;
    if (d->size == 1) {
        o.out_stream = indiv_outfile_stream(d->out);
        return indiv_decide_run(d->log, &d->m, &o, progress, &ps, &d->sum, err);
    }
    snprintf(d->part, sizeof d->part, "%s/indiv-mpi-%ld-part-%d.jsonl", tmpdir, job,
             d->rank);
    FILE *f = fopen(d->part, "w");
    if (!f) {
        int rc = indiv_error_set(err, INDIV_EIO, "%s: cannot create: %s", d->part,
                                 strerror(errno));
        d->part[0] = '\0'; /* not ours to remove */
        return rc;
    }
    d->part_track = indiv_fileio_track(d->part);
    o.out_path = d->part;
    o.out_stream = f;
    o.shard_index = d->rank;
    o.shard_count = d->size;
    o.on_decision = record_id;
    o.ctx = &d->ids;
    int rc = indiv_decide_run(d->log, &d->m, &o, progress, &ps, &d->sum, err);
    int bad = fflush(f) != 0 || ferror(f);
    if (fclose(f) != 0 || bad)
        rc = rc < 0 ? rc : indiv_error_set(err, INDIV_EIO, "%s: cannot write", d->part);
    return rc;
}

/* Counts added in rank order on rank 0 (the same sums whatever the timing); consumers
 * in the database added over parts; timings the slowest rank's. */
static void reduce_summary(mdecide *d) {
    indiv_decide_summary *s = &d->sum;
    indiv_decision_counts *all =
        d->rank == 0 ? calloc((size_t)d->size, sizeof *all) : NULL;
    if (d->rank == 0 && !all) { /* a few bytes a rank: the job cannot go on */
        fprintf(stderr, "indiv-mpi: rank 0: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Request req;
    MPI_Igather(&s->counts, (int)sizeof s->counts, MPI_BYTE, all, (int)sizeof s->counts,
                MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    mpi_wait(&req, NULL);
    if (all) {
        memset(&s->counts, 0, sizeof s->counts);
        for (int r = 0; r < d->size; r++)
            indiv_decision_counts_add(&s->counts, &all[r]);
        free(all);
    }
    if (d->partitioned)
        mpi_allreduce(&s->consumers_total, 1, MPI_INT64_T, MPI_SUM);
    double t[3] = {s->seconds_read, s->seconds_decide, s->seconds_write};
    mpi_allreduce(t, 3, MPI_DOUBLE, MPI_MAX);
    s->seconds_read = t[0], s->seconds_decide = t[1], s->seconds_write = t[2];
}

static void mdecide_clear(mdecide *d) {
    if (d->part[0])
        unlink(d->part);
    indiv_fileio_untrack(d->part_track);
    indiv_eventlog_close(d->log);
    indiv_plausibility_free(d->plaus);
    free(d->ids.v);
    if (d->have_model)
        indiv_model_clear(&d->m);
}

/* The summary for people (rank 0, once both files are in place), as indiv decide prints
 * it, and the ranks and the join. */
static void print_summary(mdecide *d, double combine_s, double total_s) {
    const char *outs[] = {d->a.o.out_path, d->a.summary};
    FILE *o = cli_result_stream(outs, 2);
    cli_decide_print_summary(o, &d->sum, &d->m);
    fprintf(o,
            "  %d rank%s: slowest rank decided in %.2f s, combine %.2f s (%.0f%% "
            "of %.2f s)\n",
            d->size, d->size == 1 ? "" : "s",
            d->sum.seconds_read + d->sum.seconds_decide + d->sum.seconds_write, combine_s,
            total_s > 0 ? 100 * combine_s / total_s : 0, total_s);
}

/* --summary (rank 0), whose "shard" is the whole run's. */
static int write_summary(mdecide *d, double total_s, indiv_error *err) {
    d->sum.seconds_total = total_s;
    if (!d->summary)
        return INDIV_OK;
    char *js = indiv_decide_summary_json(&d->a.o, &d->m, &d->sum);
    if (!js)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = fprintf(indiv_outfile_stream(d->summary), "%s\n", js) < 0
                 ? indiv_error_set(err, INDIV_EIO, "%s: cannot write the summary",
                                   d->a.summary)
                 : INDIV_OK;
    free(js);
    return rc;
}

/* ---- the models registry (rights.h, docs/rights.md), as indiv decide keeps it ------- */

/* Collective: a model that may still hold the data of people erased since it was
 * trained is warned about, as by indiv decide. With partitions each part has its own
 * registry (a copy of the source's, plus what was erased in the part since): the count
 * warned is the largest of the parts'. */
static void warn_erased(mdecide *d) {
    int64_t erased = 0;
    if (d->rank == 0 || d->partitioned)
        if (indiv_rights_models_check(d->log, &d->m, &erased, NULL) < 0)
            erased = 0;
    if (d->partitioned)
        mpi_allreduce(&erased, 1, MPI_INT64_T, MPI_MAX);
    if (d->rank == 0 && erased > 0)
        fprintf(
            stderr,
            "indiv decide: warning: model %s (%s) was trained on data that included "
            "%s%lld %s erased since: it still holds what it learnt from them; retrain "
            "it (indiv train) and use the new file\n",
            d->m.id, d->a.model ? d->a.model : "built-in",
            d->partitioned && d->size > 1 ? "at least " : "", (long long)erased,
            erased == 1 ? "person" : "people");
}

/* Collective, after a successful run: records the model used in the database (rank 0),
 * or in every part (each rank its own, so that an erasure in any part marks it). A
 * database that may not be written gets a note, and the decisions stand. */
static void record_use(mdecide *d) {
    indiv_error e = {0};
    int rc = INDIV_OK;
    int64_t now = (int64_t)time(NULL);
    mpi_allreduce(&now, 1, MPI_INT64_T, MPI_MAX); /* one time for every part */
    if (d->rank == 0 || d->partitioned) {
        indiv_eventlog *log = NULL;
        indiv_eventlog_close(d->log); /* read-only: no more reading */
        d->log = NULL;
        rc = indiv_eventlog_open(d->db, 0, &log, &e);
        if (rc == INDIV_OK)
            rc = indiv_rights_model_record(log, &d->m, d->a.model, INDIV_MODEL_USED, now,
                                           &e);
        indiv_eventlog_close(log);
    }
    if (mpi_agree(rc, &e) < 0 && d->rank == 0)
        fprintf(stderr,
                "indiv decide: note: the model used is not recorded in %s (%s): an "
                "erasure there will not mark it\n",
                d->a.db, e.msg);
}

/* Every step ends in an agreement, so a failure anywhere stops every rank there. */
static int run(mdecide *d, indiv_error *err) {
    double t0 = MPI_Wtime();
    long job = (long)getpid();
    mpi_bcast(&job, 1, MPI_LONG, 0); /* names the parts of this run */
    const char *tmpdir =
        getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int rc = mpi_agree(open_inputs(d, err), err);
    if (rc == INDIV_OK && !d->a.have_as_of) /* without profiles: after the last event */
        mpi_allreduce(&d->a.o.policy.as_of, 1, MPI_INT64_T, MPI_MAX);
    if (rc == INDIV_OK && d->rank == 0)
        cli_decide_warn_times(d->log, &d->a);
    if (rc == INDIV_OK)
        warn_erased(d);
    if (rc == INDIV_OK)
        rc = mpi_agree(open_outputs(d, err), err);
    if (rc == INDIV_OK)
        rc = plausibility(d, err);
    if (rc == INDIV_OK)
        rc = mpi_agree(decide_part(d, tmpdir, job, err), err);
    if (rc == INDIV_OK)
        reduce_summary(d);
    double t1 = MPI_Wtime();
    if (rc == INDIV_OK && d->size > 1)
        rc = mpi_agree(mpi_combine(d->rank == 0 ? indiv_outfile_stream(d->out) : NULL,
                                   d->part, d->ids.v, d->ids.n, err),
                       err);
    double t2 = MPI_Wtime();
    if (rc == INDIV_OK && d->rank == 0)
        rc = write_summary(d, t2 - t0, err);
    if (d->rank == 0) { /* both, the summary last, or neither (as indiv decide) */
        indiv_outfile *both[2] = {d->out, d->summary};
        rc = indiv_outfile_finish_all(both, 2, rc, err);
        d->out = d->summary = NULL;
    }
    int ok = rc == INDIV_OK; /* rank 0's outputs are in place: record the model used */
    mpi_bcast(&ok, 1, MPI_INT, 0);
    if (ok && d->rank == 0)
        print_summary(d, t2 - t1, MPI_Wtime() - t0);
    if (ok)
        record_use(d);
    return rc;
}

int mpi_cmd_decide(int argc, char **argv) {
    mdecide d;
    json_t *keep = NULL;
    /* Ranks other than 0 keep stderr silenced: rank 0 prints the notes once, and the
     * failures of every rank (mpi_agree). */
    int rc = cli_decide_args_parse(argc, argv, &d.a, &keep);
    if (rc != CLI_OK) { /* the same on every rank: rank 0 printed it */
        json_decref(keep);
        return rc < 0 ? CLI_OK : rc;
    }
    cli_decide_args a = d.a;
    memset(&d, 0, sizeof d);
    d.a = a;
    d.a.o.out_path = d.a.out_buf;
    d.rank = mpi_rank();
    d.size = mpi_size();
    d.part_track = -1;
    indiv_error err = {0};
    rc = run(&d, &err);
    mdecide_clear(&d);
    json_decref(keep);
    if (rc < 0 && d.rank == 0)
        return cli_fail("decide", &err);
    return rc < 0 ? CLI_FAIL : CLI_OK;
}
