/*
 * mpi_jobs.c — `indiv-mpi sweep` and `indiv-mpi study`: the simulations of a sweep or a
 * study handed out to the MPI ranks, one at a time, as each rank becomes free
 * (docs/scale.md).
 *
 * Rank 0 runs the library's sweep (or study) exactly as `indiv` does — the same plan,
 * the same resume file results.partial.csv appended as each job ends, the same final
 * files — with one worker thread per rank and a runner (indiv_sweep_run_fn) that sends
 * the job to a free rank: rank 0's own slot runs it in the process, another rank gets
 * the job's parameters and paths, runs indiv_sweep_run_sim, and sends back every round's
 * metrics, which the runner hands to the library as if the job ran here. The rows are
 * therefore computed by the library from the very same doubles, and the files are
 * byte-identical to a one-process run; an interrupted MPI sweep resumes with or without
 * MPI. A rank's failure comes back as the job's error ("rank R: ..."), which the library
 * reports as it reports any job's. When the run ends, rank 0 tells every rank to quit.
 *
 * Ranks exchange the parameters as bytes: every rank runs the same binary on the same
 * architecture (as MPI programs are launched). Work databases and worlds are paths on
 * rank 0's file system, so the ranks must see it (one node, or a shared directory).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "indiv/experiment.h"
#include "indiv/study.h"
#include "mpi_cmd.h"
#include "mpi_util.h"

#define PATH_BYTES 4096

enum { JOB_RUN = 1, JOB_QUIT, REPLY_ROUND, REPLY_DONE };

typedef struct job_msg {
    int kind;    /* JOB_RUN or JOB_QUIT */
    int rc;      /* JOB_QUIT: the run's status, for the rank's exit code */
    long serial; /* names the job in a MPI_TAG_STOP message */
    size_t cell;
    int seed_index;
    indiv_sim_params params;
    char world[PATH_BYTES], work[PATH_BYTES];
} job_msg;

typedef struct reply_msg {
    int kind; /* REPLY_ROUND or REPLY_DONE */
    int rc;
    indiv_round_metrics m;
    char msg[INDIV_ERROR_MSG_MAX];
} reply_msg;

/* Rank 0: which ranks are free. A worker thread of the library calls the runner only
 * when it has a job, and there are as many threads as ranks, so one is always free. */
typedef struct slots {
    pthread_mutex_t mu;
    unsigned char busy[INDIV_SWEEP_JOBS_MAX];
    int n;
    long serial; /* jobs sent so far */
} slots;

static int take_slot(slots *s, long *serial) {
    pthread_mutex_lock(&s->mu);
    int r = 0;
    while (r < s->n - 1 && s->busy[r])
        r++;
    s->busy[r] = 1;
    *serial = ++s->serial;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void give_slot(slots *s, int r) {
    pthread_mutex_lock(&s->mu);
    s->busy[r] = 0;
    pthread_mutex_unlock(&s->mu);
}

/* Runs job on rank r, relaying its rounds to on_round. The rank does not wait for rank
 * 0 between rounds: it sends each round's metrics and goes on. When on_round asks to
 * stop, rank 0 sends MPI_TAG_STOP (the rank looks for it after every round), ignores
 * the rounds already under way and returns what indiv_sim_run returns when its round
 * callback stops it, so a stopped job ends as it would in one process. */
static int run_remote(int r, long serial, const indiv_sweep_job *job,
                      indiv_round_fn on_round, void *rctx, indiv_error *err) {
    static job_msg zero;
    job_msg *jm = malloc(sizeof *jm);
    reply_msg *rp = malloc(sizeof *rp);
    int rc = jm && rp ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK) {
        *jm = zero;
        jm->kind = JOB_RUN;
        jm->serial = serial;
        jm->cell = job->cell;
        jm->seed_index = job->seed_index;
        jm->params = *job->params;
        snprintf(jm->world, sizeof jm->world, "%s", job->world_db);
        snprintf(jm->work, sizeof jm->work, "%s", job->work_db);
        mpi_send(jm, sizeof *jm, MPI_BYTE, r, MPI_TAG_JOB);
    }
    for (int stopped = 0; rc == INDIV_OK || stopped;) {
        mpi_recv(rp, sizeof *rp, MPI_BYTE, r, MPI_TAG_REPLY);
        if (rp->kind == REPLY_DONE) {
            if (!stopped && rp->rc < 0)
                rc = indiv_error_set(err, rp->rc, "rank %d: %s", r, rp->msg);
            break;
        }
        if (stopped)
            continue; /* a round the rank ran before it saw the stop */
        if ((stopped = on_round(rctx, &rp->m)) != 0) {
            rc = stopped;
            indiv_error_set(err, rc, "stopped by the round callback at round %d",
                            rp->m.round);
            mpi_send(&serial, 1, MPI_LONG, r, MPI_TAG_STOP);
        }
    }
    free(jm);
    free(rp);
    return rc;
}

/* The runner of rank 0's library run. */
static int run_job(void *ctx, const indiv_sweep_job *job, indiv_round_fn on_round,
                   void *rctx, indiv_error *err) {
    slots *s = ctx;
    long serial;
    int r = take_slot(s, &serial);
    int rc = r == 0 ? indiv_sweep_run_sim(NULL, job, on_round, rctx, err)
                    : run_remote(r, serial, job, on_round, rctx, err);
    give_slot(s, r);
    return rc;
}

/* ---- the other ranks ---------------------------------------------------------------- */

typedef struct relay {
    reply_msg *rp;
    long serial; /* of the job running */
} relay;

/* Whether rank 0 asked to stop job `serial`; stops of earlier jobs (sent while they
 * ended) are received and dropped. */
static int stop_asked(long serial) {
    for (;;) {
        int flag = 0;
        long s = 0;
        MPI_Iprobe(0, MPI_TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (!flag)
            return 0;
        mpi_recv(&s, 1, MPI_LONG, 0, MPI_TAG_STOP);
        if (s == serial)
            return 1;
    }
}

static int relay_round(void *ctx, const indiv_round_metrics *m) {
    relay *x = ctx;
    x->rp->kind = REPLY_ROUND;
    x->rp->m = *m;
    mpi_send(x->rp, sizeof *x->rp, MPI_BYTE, 0, MPI_TAG_REPLY);
    return stop_asked(x->serial);
}

/* Runs the jobs rank 0 sends until it says quit; returns the run's status. */
static int serve(const indiv_model *model) {
    job_msg *jm = malloc(sizeof *jm);
    reply_msg *rp = calloc(1, sizeof *rp);
    int rc = INDIV_OK;
    if (!jm || !rp) { /* cannot serve: fail the whole run from here */
        fprintf(stderr, "indiv-mpi: rank %d: out of memory\n", mpi_rank());
        MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
    }
    for (;;) {
        mpi_recv(jm, sizeof *jm, MPI_BYTE, 0, MPI_TAG_JOB);
        stop_asked(0); /* drops the stops of earlier jobs */
        if (jm->kind == JOB_QUIT) {
            rc = jm->rc;
            break;
        }
        indiv_sweep_job job = {jm->cell,  jm->seed_index, &jm->params,
                               jm->world, jm->work,       model};
        indiv_error e = {0};
        relay x = {rp, jm->serial};
        int st = indiv_sweep_run_sim(NULL, &job, relay_round, &x, &e);
        rp->kind = REPLY_DONE;
        rp->rc = st;
        snprintf(rp->msg, sizeof rp->msg, "%s", e.code ? e.msg : "failed");
        mpi_send(rp, sizeof *rp, MPI_BYTE, 0, MPI_TAG_REPLY);
    }
    free(jm);
    free(rp);
    return rc;
}

static void quit_all(int rc) {
    job_msg *jm = calloc(1, sizeof *jm);
    if (!jm)
        MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
    jm->kind = JOB_QUIT;
    jm->rc = rc;
    for (int r = 1; r < mpi_size(); r++)
        mpi_send(jm, sizeof *jm, MPI_BYTE, r, MPI_TAG_JOB);
    free(jm);
}

static int ranks_as_jobs(slots *s) {
    s->n = mpi_size() < INDIV_SWEEP_JOBS_MAX ? mpi_size() : INDIV_SWEEP_JOBS_MAX;
    pthread_mutex_init(&s->mu, NULL);
    memset(s->busy, 0, sizeof s->busy);
    s->serial = 0;
    return s->n;
}

/* ---- executors ---------------------------------------------------------------------- */

static int sweep_exec(void *ctx, const indiv_sweep_grid *g, const indiv_sweep_opts *o,
                      indiv_progress_fn progress, void *pctx, indiv_sweep_report *rep,
                      indiv_error *err) {
    (void)ctx;
    memset(rep, 0, sizeof *rep);
    if (mpi_rank() != 0)
        return serve(&o->model);
    slots s;
    indiv_sweep_opts mo = *o;
    mo.jobs = ranks_as_jobs(&s); /* one job per rank at a time */
    mo.run = run_job;
    mo.run_ctx = &s;
    int rc = indiv_sweep_run(g, &mo, progress, pctx, rep, err);
    quit_all(rc);
    pthread_mutex_destroy(&s.mu);
    return rc;
}

static int study_exec(void *ctx, const indiv_study_opts *o, indiv_progress_fn progress,
                      void *pctx, indiv_study_results **out, indiv_error *err) {
    (void)ctx;
    *out = NULL;
    if (mpi_rank() != 0)
        return serve(&o->model);
    slots s;
    indiv_study_opts mo = *o;
    mo.jobs = ranks_as_jobs(&s);
    if (mo.jobs > INDIV_STUDY_JOBS_MAX)
        mo.jobs = s.n = INDIV_STUDY_JOBS_MAX;
    mo.run = run_job;
    mo.run_ctx = &s;
    int rc = indiv_study_run(&mo, progress, pctx, out, err);
    quit_all(rc);
    pthread_mutex_destroy(&s.mu);
    return rc;
}

int mpi_cmd_sweep(int argc, char **argv) {
    cli_exec x = {mpi_rank(), NULL, sweep_exec, study_exec, NULL};
    return cli_sweep_exec(argc, argv, &x);
}

int mpi_cmd_study(int argc, char **argv) {
    cli_exec x = {mpi_rank(), NULL, sweep_exec, study_exec, NULL};
    return cli_study_exec(argc, argv, &x);
}
