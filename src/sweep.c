/*
 * sweep.c — running a sweep (contract in experiment.h): the sweep directory and its
 * sweep.json, the resume file results.partial.csv, the worker threads, and the final
 * results.csv and summary.csv.
 *
 * Threads: o->jobs workers take the next unfinished job from one shared list under one
 * mutex, the longest jobs first (job_cost: the last job to end is then a short one, so
 * no worker idles long while another finishes a long tail); each runs its job on its own work database, then, under the mutex, appends the
 * job's line to results.partial.csv (flushed and fsync'ed before the job counts as done)
 * and stores its row in memory. The calling thread only waits and reports progress.
 * The final files are written by the calling thread from the rows in (cell, seed)
 * order, so their bytes depend neither on the number of workers nor on the order in
 * which jobs finished. A resumed run reads the rows back from their shortest exact text
 * (indiv_sweep_format_double), which gives the very same doubles.
 *
 * Resume: a line of results.partial.csv is either complete (it ends with '\n') or the
 * torn tail of an interrupted write, which is cut off before appending. A complete line
 * that does not parse, or names a cell or seed this sweep does not have, is an error:
 * the file is not this sweep's, and nothing is guessed.
 */
#include "indiv/experiment.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "experiment_internal.h"
#include "indiv/fileio.h"

#define SWEEP_FORMAT  "indiv-sweep"
#define SWEEP_VERSION 1
/* A result line holds 2 ids, at most 16 axis values of < 64 bytes and at most
 * INDIV_SIM_NMETRICS numbers of < 32 bytes: well under this. */
#define LINE_BYTES  8192
#define WORK_PREFIX "cell-"
#define CLAIM_TRACKED 6 /* DIR, sweep.json, work/, figures/, sweep.lock, the partial file */
/* What one training of the engine's own model (--model trained) costs, in rounds of an
 * untrained simulation: 11 to 21 measured on a 10,000-consumer world (indiv sweep
 * --rounds 3 and 6, with and without --model trained[:every=1], CPU seconds; docs/
 * scale.md). Only the order of the jobs depends on it, never a result. */
#define SWEEP_TRAIN_ROUNDS 15

struct sweep {
    const indiv_sweep_grid *g;
    const indiv_sweep_opts *o;
    indiv_sweep_run_fn run;
    void *run_ctx;
    size_t ncols, cells, seeds, njobs;
    char *json, *partial, *results, *summary, *work, *figures; /* paths */
    unsigned char *done; /* [job], job = cell · seeds + seed index */
    double *rows;        /* [job · ncols] */
    size_t *todo, ntodo, selected, before;
    int64_t rounds_total;
    int pfd;     /* results.partial.csv, O_APPEND; -1 before */
    int lock_fd; /* DIR/sweep.lock, held (flock) for the whole run; -1 before */
    int claimed; /* this run made DIR a sweep directory (it was new or empty) */
    /* fileio handles of what a claim creates, removed by a signal until the first job
     * finishes (then the directory is a resumable sweep); -1 when not tracked */
    int tracked[CLAIM_TRACKED];
    /* shared with the workers, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next, finished, exited;
    int64_t rounds_done;
    int stop, rc;
    int append_failed; /* no more lines: one could follow a torn one */
    indiv_error err;
};

struct worker {
    struct sweep *s;
    pthread_t th;
    indiv_sweep_acc acc;
};

/* ---- options and paths ------------------------------------------------------------- */

void indiv_sweep_opts_init(indiv_sweep_opts *o) {
    memset(o, 0, sizeof *o);
    o->seeds = 5;
    o->base_seed = 1;
    o->jobs = 2;
    o->shard_count = 1;
    indiv_sim_params_init(&o->base);
    o->base.threads = 1; /* the jobs, not the decisions, use the cores */
    indiv_model_default(&o->model);
}

int indiv_sweep_opts_validate(const indiv_sweep_opts *o, indiv_error *err) {
    if (!o->world_db || !*o->world_db || !o->dir || !*o->dir)
        return indiv_error_set(err, INDIV_EINVAL,
                               "a sweep needs a world database and a directory");
    if (o->seeds < 1 || o->seeds > INDIV_SWEEP_SEEDS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "seeds = %d is out of [1, %d]",
                               o->seeds, INDIV_SWEEP_SEEDS_MAX);
    if (o->base_seed > (uint64_t)INT64_MAX - (uint64_t)o->seeds)
        return indiv_error_set(
            err, INDIV_EINVAL, "base seed %llu + %d seeds exceeds %lld",
            (unsigned long long)o->base_seed, o->seeds, (long long)INT64_MAX);
    if (o->jobs < 1 || o->jobs > INDIV_SWEEP_JOBS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "jobs = %d is out of [1, %d]", o->jobs,
                               INDIV_SWEEP_JOBS_MAX);
    if (o->shard_count < 1 || o->shard_index < 0 || o->shard_index >= o->shard_count)
        return indiv_error_set(err, INDIV_EINVAL,
                               "shard %d/%d is not I/N with 0 <= I < N", o->shard_index,
                               o->shard_count);
    int rc = indiv_model_validate(&o->model, err);
    return rc < 0 ? rc : indiv_sim_params_validate(&o->base, err);
}

static void sweep_free(struct sweep *s) {
    if (s->pfd >= 0)
        close(s->pfd);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s->json);
    free(s->partial);
    free(s->results);
    free(s->summary);
    free(s->work);
    free(s->figures);
    free(s->done);
    free(s->rows);
    free(s->todo);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static int sweep_init(struct sweep *s, const indiv_sweep_grid *g,
                      const indiv_sweep_opts *o, indiv_error *err) {
    memset(s, 0, sizeof *s);
    s->lock_fd = s->pfd = -1;
    for (int k = 0; k < CLAIM_TRACKED; k++)
        s->tracked[k] = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->g = g;
    s->o = o;
    s->run = o->run ? o->run : indiv_sweep_run_sim;
    s->run_ctx = o->run_ctx;
    s->ncols = indiv_sweep_columns();
    s->cells = indiv_sweep_grid_cells(g);
    s->seeds = (size_t)o->seeds;
    if (s->cells > INDIV_SWEEP_CELLS_MAX / s->seeds)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%zu cells × %zu seeds is more than %d jobs", s->cells,
                               s->seeds, INDIV_SWEEP_CELLS_MAX);
    s->njobs = s->cells * s->seeds;
    s->json = indiv_path_join(o->dir, "sweep.json");
    s->partial = indiv_path_join(o->dir, "results.partial.csv");
    s->results = indiv_path_join(o->dir, "results.csv");
    s->summary = indiv_path_join(o->dir, "summary.csv");
    s->work = indiv_path_join(o->dir, "work");
    s->figures = indiv_path_join(o->dir, "figures");
    s->done = calloc(s->njobs, 1);
    s->rows = calloc(s->njobs * s->ncols, sizeof *s->rows);
    s->todo = calloc(s->njobs, sizeof *s->todo);
    if (!s->json || !s->partial || !s->results || !s->summary || !s->work ||
        !s->figures || !s->done || !s->rows || !s->todo)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    return INDIV_OK;
}

/* ---- sweep.json -------------------------------------------------------------------- */

/* FNV-1a 64 (Fowler, Noll, Vo) of the world's bytes: a resumed sweep must run on the
 * same world, whatever path names it. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL
#define READ_CHUNK (1 << 16)

static json_t *world_json(const char *path, indiv_error *err) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(READ_CHUNK);
    uint64_t h = FNV_OFFSET, bytes = 0;
    size_t n;
    while (f && buf && (n = fread(buf, 1, READ_CHUNK, f)) > 0) {
        bytes += n;
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * FNV_PRIME;
    }
    int ok = f && buf && !ferror(f);
    int e = errno;
    if (f)
        fclose(f);
    free(buf);
    if (!ok) {
        indiv_error_set(err, INDIV_EIO, "%s: cannot read the world database: %s", path,
                        strerror(e));
        return NULL;
    }
    char hex[20];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return json_pack("{s:s, s:I, s:s}", "path", path, "bytes", (json_int_t)bytes,
                     "fnv1a64", hex);
}

static json_t *grid_json(const indiv_sweep_grid *g) {
    json_t *axes = json_array();
    for (size_t a = 0; axes && a < indiv_sweep_grid_axes(g); a++) {
        json_t *values = json_array();
        for (size_t i = 0; values && i < indiv_sweep_grid_values(g, a); i++)
            json_array_append_new(values, json_string(indiv_sweep_grid_value(g, a, i)));
        json_array_append_new(axes,
                              json_pack("{s:s, s:o*}", "name",
                                        indiv_sweep_grid_axis(g, a), "values", values));
    }
    return axes;
}

static json_t *model_json(const indiv_model *m) {
    json_t *w = json_object();
    for (int t = 0; w && t < INDIV_TERM_COUNT; t++)
        json_object_set_new(w, indiv_model_term_name(t), json_real(m->weight[t]));
    return json_pack("{s:s, s:s, s:f, s:o*, s:f}", "id", m->id, "feature_space",
                     m->feature_space, "intercept", m->intercept, "weights", w,
                     "popularity_half_life_days", m->popularity_half_life_days);
}

static json_t *columns_json(void) {
    json_t *cols = json_array();
    for (size_t c = 0; cols && c < indiv_sweep_columns(); c++) {
        const char *agg = indiv_sweep_agg_name(indiv_sweep_column_agg(c));
        json_array_append_new(cols,
                              json_pack("{s:s, s:s}", "name", indiv_sweep_column_name(c),
                                        "aggregation", agg));
    }
    return cols;
}

static json_t *params_json(const indiv_sweep_opts *o) {
    indiv_sim_params base = o->base;
    base.seed = o->base_seed;
    char *text = indiv_sim_params_json(&base);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

#define SWEEP_KEYS 10

/* The description of the sweep that sweep.json holds. json_object_set_new steals the
 * value even when it is NULL, so a failed part shows as a missing key. */
static json_t *sweep_describe(const struct sweep *s, indiv_error *err) {
    json_t *world = world_json(s->o->world_db, err);
    if (!world)
        return NULL;
    json_t *d = json_object();
    if (!d) {
        json_decref(world);
        indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        return NULL;
    }
    json_object_set_new(d, "format", json_string(SWEEP_FORMAT));
    json_object_set_new(d, "version", json_integer(SWEEP_VERSION));
    json_object_set_new(d, "world", world);
    json_object_set_new(d, "grid", grid_json(s->g));
    json_object_set_new(d, "cells", json_integer((json_int_t)s->cells));
    json_object_set_new(d, "seeds", json_integer((json_int_t)s->seeds));
    json_object_set_new(d, "base_seed", json_integer((json_int_t)s->o->base_seed));
    json_object_set_new(d, "params", params_json(s->o));
    json_object_set_new(d, "model", model_json(&s->o->model));
    json_object_set_new(d, "columns", columns_json());
    if (json_object_size(d) != SWEEP_KEYS) {
        json_decref(d);
        indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        return NULL;
    }
    return d;
}

/* What a key of sweep.json stands for, in a refusal message. */
static const struct {
    const char *key, *what;
} sweep_keys[SWEEP_KEYS] = {
    {"format", "file format"},
    {"version", "file format version"},
    {"world", "world database (size or content)"},
    {"grid", "grid"},
    {"cells", "grid"},
    {"seeds", "number of seeds (--seeds)"},
    {"base_seed", "base seed (--seed)"},
    {"params", "simulation parameters"},
    {"model", "model"},
    {"columns", "result columns (another version of indiv)"},
};

/* Equal values of a key of sweep.json, except what cannot change the results: the path
 * naming the world (the same bytes may be reached by another path) and the number of
 * decision threads (decisions do not depend on it, decide.h). */
static int same_value(const char *key, json_t *was, json_t *now) {
    const char *ignore = strcmp(key, "world") == 0    ? "path"
                         : strcmp(key, "params") == 0 ? "threads"
                                                      : NULL;
    if (!ignore)
        return json_equal(was, now);
    json_t *a = json_deep_copy(was), *b = json_deep_copy(now);
    json_object_del(a, ignore);
    json_object_del(b, ignore);
    int same = a && b && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return same;
}

/* "simulation parameter 'rounds' (was 3, now 5)" for the first differing parameter. */
static void param_diff(json_t *was, json_t *now, char *buf, size_t size) {
    const char *key;
    json_t *v;
    snprintf(buf, size, "simulation parameters");
    json_object_foreach(now, key, v) {
        json_t *w = json_object_get(was, key);
        if ((w && json_equal(v, w)) || strcmp(key, "threads") == 0)
            continue;
        char *a = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
        char *b = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(buf, size, "simulation parameter '%s' (was %s, now %s)", key,
                 a ? a : "absent", b ? b : "?");
        free(a);
        free(b);
        return;
    }
}

static int check_same(const struct sweep *s, json_t *was, json_t *now, indiv_error *err) {
    for (size_t k = 0; k < SWEEP_KEYS; k++) {
        const char *key = sweep_keys[k].key;
        json_t *a = json_object_get(was, key), *b = json_object_get(now, key);
        if (a && same_value(key, a, b))
            continue;
        char what[320];
        if (strcmp(key, "params") == 0 && a)
            param_diff(a, b, what, sizeof what);
        else
            snprintf(what, sizeof what, "%s", sweep_keys[k].what);
        return indiv_error_set(
            err, INDIV_EINVAL,
            "%s: this directory holds another sweep: its %s differs; use "
            "another --out directory, or delete %s to start again",
            s->json, what, s->o->dir);
    }
    return INDIV_OK;
}

static int write_json(FILE *f, void *ctx, indiv_error *err) {
    char *text =
        json_dumps(ctx, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    int ok = text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    free(text);
    return ok ? INDIV_OK : indiv_error_set(err, INDIV_EIO, "cannot write sweep.json");
}

/* ---- the directory ----------------------------------------------------------------- */

/* 1 when dir has no entry but . and .. (or cannot be listed: then mkdir said it is
 * there and a later open names the problem). */
static int dir_empty(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    while (d && empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    if (d)
        closedir(d);
    return empty;
}

/* Work databases left by an interrupted run: only our own names are removed. */
static void clean_work(const char *work) {
    DIR *d = opendir(work);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, WORK_PREFIX, strlen(WORK_PREFIX)) != 0)
            continue;
        char *p = indiv_path_join(work, e->d_name);
        if (p)
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
}

/* Tracks what a claim of DIR creates (fileio.h), so that Ctrl-C or SIGTERM before the
 * first finished job leaves no directory that would refuse a corrected command. */
static void track_claim(struct sweep *s, int dir_created) {
    static const char *const names[] = {"sweep.lock", "results.partial.csv"};
    char *p;
    int k = 0;
    if (dir_created)
        s->tracked[k++] = indiv_fileio_track(s->o->dir);
    s->tracked[k++] = indiv_fileio_track(s->json);
    s->tracked[k++] = indiv_fileio_track(s->work);
    s->tracked[k++] = indiv_fileio_track(s->figures);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((p = indiv_path_join(s->o->dir, names[i])))
            s->tracked[k++] = indiv_fileio_track(p);
        free(p);
    }
}

static void untrack_claim(struct sweep *s) {
    for (int k = 0; k < CLAIM_TRACKED; k++) {
        indiv_fileio_untrack(s->tracked[k]);
        s->tracked[k] = -1;
    }
}

/* A new or empty DIR gets sweep.json; an existing sweep must be the same sweep. */
static int claim_dir(struct sweep *s, json_t *desc, indiv_error *err) {
    int created = 0;
    int rc = indiv_dir_make(s->o->dir, &created, err);
    if (rc < 0)
        return rc;
    struct stat st;
    if (stat(s->json, &st) != 0) {
        if (!dir_empty(s->o->dir))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "%s exists and is not a sweep directory (no "
                                   "sweep.json); give a new or empty directory",
                                   s->o->dir);
        track_claim(s, created);
        rc = indiv_file_write_atomic(s->json, write_json, desc, err);
        s->claimed = rc == INDIV_OK;
        return rc;
    }
    json_error_t je;
    json_t *was = json_load_file(s->json, 0, &je);
    if (!was)
        return indiv_error_set(err, INDIV_EFORMAT, "%s:%d: not a sweep description: %s",
                               s->json, je.line, je.text);
    rc = check_same(s, was, desc, err);
    json_decref(was);
    return rc;
}

/* Two runs of one sweep at once would run every job twice and could cut each other's
 * lines: the second one is refused. The lock is released when the file is closed, even
 * by a crash. */
static int lock_dir(struct sweep *s, indiv_error *err) {
    char *path = indiv_path_join(s->o->dir, "sweep.lock");
    if (!path)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    s->lock_fd = open(path, O_RDWR | O_CREAT, 0666);
    int rc = s->lock_fd < 0 ? indiv_error_set(err, INDIV_EIO, "%s: cannot open: %s", path,
                                              strerror(errno))
             : flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0
                 ? indiv_error_set(err, INDIV_EINVAL,
                                   "%s: another indiv sweep is running "
                                   "in this directory",
                                   s->o->dir)
                 : INDIV_OK;
    free(path);
    return rc;
}

/* sweep.json first (an empty DIR is claimed, another sweep's refused), then the lock,
 * and only then anything that changes files of a running sweep. */
static int prepare_dir(struct sweep *s, indiv_error *err) {
    json_t *desc = sweep_describe(s, err);
    if (!desc)
        return err && err->code ? err->code : INDIV_ENOMEM;
    int rc = claim_dir(s, desc, err);
    json_decref(desc);
    if (rc == INDIV_OK)
        rc = lock_dir(s, err);
    if (rc == INDIV_OK)
        rc = indiv_dir_make(s->work, NULL, err);
    if (rc == INDIV_OK)
        clean_work(s->work);
    return rc == INDIV_OK ? indiv_dir_make(s->figures, NULL, err) : rc;
}

/* ---- rows and results.partial.csv -------------------------------------------------- */

static size_t put(char *buf, size_t size, size_t at, const char *s) {
    size_t n = strlen(s);
    if (at + n < size)
        memcpy(buf + at, s, n + 1);
    return at + n;
}

/* "cell,seed,<axes>,<columns>\n" (the header of both result files). */
static size_t format_header(const struct sweep *s, char *buf, size_t size) {
    size_t at = put(buf, size, 0, "cell,seed");
    for (size_t a = 0; a < indiv_sweep_grid_axes(s->g); a++) {
        at = put(buf, size, at, ",");
        at = put(buf, size, at, indiv_sweep_grid_axis(s->g, a));
    }
    for (size_t c = 0; c < s->ncols; c++) {
        at = put(buf, size, at, ",");
        at = put(buf, size, at, indiv_sweep_column_name(c));
    }
    at = put(buf, size, at, "\n");
    assert(at < size); /* LINE_BYTES bounds every line (see its definition) */
    return at;
}

static size_t format_row(const struct sweep *s, size_t job, char *buf, size_t size) {
    size_t cell = job / s->seeds;
    char num[32];
    snprintf(buf, size, "%zu,%llu", cell,
             (unsigned long long)(s->o->base_seed + job % s->seeds));
    size_t at = strlen(buf);
    for (size_t a = 0; a < indiv_sweep_grid_axes(s->g); a++) {
        at = put(buf, size, at, ",");
        at = put(buf, size, at,
                 indiv_sweep_grid_value(s->g, a, indiv_sweep_cell_index(s->g, cell, a)));
    }
    for (size_t c = 0; c < s->ncols; c++) {
        indiv_sweep_format_double(s->rows[job * s->ncols + c], num);
        at = put(buf, size, at, ",");
        at = put(buf, size, at, num);
    }
    at = put(buf, size, at, "\n");
    assert(at < size);
    return at;
}

static int parse_u64(const char *t, unsigned long long *out) {
    char *end;
    errno = 0;
    *out = strtoull(t, &end, 10);
    return errno == 0 && end != t && *end == '\0' && t[0] != '-';
}

/* Splits line at ',' in place into at most max fields; returns the count, or max + 1
 * when there are more. */
static size_t split(char *line, char **field, size_t max) {
    size_t n = 0;
    for (char *p = line;; p++) {
        if (n == max)
            return max + 1;
        field[n++] = p;
        p += strcspn(p, ",");
        if (*p == '\0')
            return n;
        *p = '\0';
    }
}

/* The job a line is about, after checking its cell, seed and axis values. */
static int line_job(const struct sweep *s, char **f, size_t lineno, size_t *job,
                    indiv_error *err) {
    unsigned long long cell, seed;
    if (!parse_u64(f[0], &cell) || cell >= s->cells)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s:%zu: cell '%s' is not a cell of this grid", s->partial,
                               lineno, f[0]);
    if (!parse_u64(f[1], &seed) || seed < s->o->base_seed ||
        seed - s->o->base_seed >= s->seeds)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s:%zu: seed '%s' is not one of this sweep's seeds",
                               s->partial, lineno, f[1]);
    for (size_t a = 0; a < indiv_sweep_grid_axes(s->g); a++) {
        const char *want = indiv_sweep_grid_value(
            s->g, a, indiv_sweep_cell_index(s->g, (size_t)cell, a));
        if (strcmp(f[2 + a], want) != 0)
            return indiv_error_set(
                err, INDIV_EFORMAT, "%s:%zu: %s '%s' is not the value of cell %llu (%s)",
                s->partial, lineno, indiv_sweep_grid_axis(s->g, a), f[2 + a], cell, want);
    }
    *job = (size_t)cell * s->seeds + (size_t)(seed - s->o->base_seed);
    return INDIV_OK;
}

/* Reads one complete line (NUL-terminated, without its '\n') into its job's row. */
static int parse_line(struct sweep *s, char *line, size_t lineno, indiv_error *err) {
    size_t naxes = indiv_sweep_grid_axes(s->g), want = 2 + naxes + s->ncols, job = 0;
    char *f[2 + INDIV_SWEEP_AXES_MAX + INDIV_SWEEP_COLUMNS_MAX];
    size_t n = split(line, f, want);
    if (n != want)
        return indiv_error_set(err, INDIV_EFORMAT, "%s:%zu: %s fields, expected %zu",
                               s->partial, lineno, n > want ? "more" : "fewer", want);
    int rc = line_job(s, f, lineno, &job, err);
    double row[INDIV_SWEEP_COLUMNS_MAX];
    for (size_t c = 0; rc == INDIV_OK && c < s->ncols; c++) {
        char *end;
        row[c] = strtod(f[2 + naxes + c], &end);
        if (end == f[2 + naxes + c] || *end)
            rc = indiv_error_set(err, INDIV_EFORMAT, "%s:%zu: %s '%s' is not a number",
                                 s->partial, lineno, indiv_sweep_column_name(c),
                                 f[2 + naxes + c]);
    }
    double *dst = rc == INDIV_OK ? &s->rows[job * s->ncols] : NULL;
    if (rc == INDIV_OK && s->done[job] && memcmp(dst, row, s->ncols * sizeof *row) != 0)
        rc = indiv_error_set(err, INDIV_EFORMAT,
                             "%s:%zu: cell %s seed %s is recorded twice "
                             "with different results",
                             s->partial, lineno, f[0], f[1]);
    if (rc == INDIV_OK && !s->done[job]) {
        memcpy(dst, row, s->ncols * sizeof *row);
        s->done[job] = 1;
    }
    return rc;
}

/* Parses text (len bytes, modified in place); *keep is the length of its complete
 * lines, 0 when even the header is torn. */
static int parse_partial(struct sweep *s, char *text, size_t len, size_t *keep,
                         indiv_error *err) {
    char header[LINE_BYTES];
    size_t hlen = format_header(s, header, sizeof header);
    char *nl = memchr(text, '\n', len), *end = text + len;
    *keep = 0;
    if (!nl)
        return INDIV_OK;
    if ((size_t)(nl + 1 - text) != hlen || memcmp(text, header, hlen) != 0)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s:1: not this sweep's header (expected '%.*s')",
                               s->partial, (int)hlen - 1, header);
    char *p = nl + 1;
    for (size_t lineno = 2; p < end && (nl = memchr(p, '\n', (size_t)(end - p)));
         lineno++) {
        *nl = '\0';
        int rc = parse_line(s, p, lineno, err);
        if (rc < 0)
            return rc;
        p = nl + 1;
    }
    *keep = (size_t)(p - text);
    return INDIV_OK;
}

static int read_all(const char *path, char **text, size_t *len, indiv_error *err) {
    FILE *f = fopen(path, "rb");
    *text = NULL;
    *len = 0;
    if (!f)
        return errno == ENOENT ? INDIV_OK
                               : indiv_error_set(err, INDIV_EIO, "%s: cannot read: %s",
                                                 path, strerror(errno));
    struct stat st;
    int rc = fstat(fileno(f), &st) == 0 ? INDIV_OK : INDIV_EIO;
    if (rc == INDIV_OK && !(*text = malloc((size_t)st.st_size + 1)))
        rc = INDIV_ENOMEM;
    if (rc == INDIV_OK &&
        (*len = fread(*text, 1, (size_t)st.st_size, f)) != (size_t)st.st_size)
        rc = INDIV_EIO;
    fclose(f);
    if (rc < 0) {
        free(*text);
        *text = NULL;
        return indiv_error_set(err, rc, "%s: cannot read", path);
    }
    return INDIV_OK;
}

/* Appends n bytes and syncs them; on failure cuts the file back to its former length,
 * so that a half-written line never precedes the next one. */
static int append_synced(int fd, const char *buf, size_t n) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return INDIV_EIO;
    for (size_t done = 0; done < n;) {
        ssize_t k = write(fd, buf + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            int cut = ftruncate(fd, st.st_size); /* if not, the next load cuts it */
            (void)cut;
            errno = e;
            return INDIV_EIO;
        }
        done += (size_t)k;
    }
    return fsync(fd) == 0 ? INDIV_OK : INDIV_EIO;
}

/* Opens results.partial.csv for appending after its first keep bytes (a torn tail is
 * cut off); a new or headless file gets the header. */
static int open_partial(struct sweep *s, size_t keep, indiv_error *err) {
    s->pfd = open(s->partial, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (s->pfd < 0 || ftruncate(s->pfd, (off_t)keep) != 0)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot open for appending: %s",
                               s->partial, strerror(errno));
    if (keep > 0)
        return INDIV_OK;
    char header[LINE_BYTES];
    size_t n = format_header(s, header, sizeof header);
    if (append_synced(s->pfd, header, n) < 0)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot write: %s", s->partial,
                               strerror(errno));
    return INDIV_OK;
}

static int load_partial(struct sweep *s, indiv_error *err) {
    char *text;
    size_t len, keep = 0;
    int rc = read_all(s->partial, &text, &len, err);
    if (rc == INDIV_OK && text)
        rc = parse_partial(s, text, len, &keep, err);
    if (rc == INDIV_OK)
        rc = open_partial(s, keep, err);
    free(text);
    return rc;
}

/* Under s->mu: stores a finished job's row and appends its line, synced to disk before
 * the job counts as done. */
static int record_row(struct sweep *s, size_t job, const double *row, indiv_error *err) {
    char line[LINE_BYTES];
    memcpy(&s->rows[job * s->ncols], row, s->ncols * sizeof *row);
    size_t n = format_row(s, job, line, sizeof line);
    if (s->append_failed)
        return indiv_error_set(err, INDIV_EIO, "%s: an earlier append failed",
                               s->partial);
    if (append_synced(s->pfd, line, n) < 0) {
        s->append_failed = 1;
        return indiv_error_set(err, INDIV_EIO, "%s: cannot append a result: %s",
                               s->partial, strerror(errno));
    }
    s->done[job] = 1;
    return INDIV_OK;
}

/* ---- jobs -------------------------------------------------------------------------- */

/* A job's estimated cost in rounds of simulation: its rounds, and its trainings (rounds
 * 1, 1 + R, 1 + 2R, ... with retrain_every R; round 1 alone when R = 0). The world, and so
 * the number of consumers, is the same for every job of a sweep. */
static double job_cost(const indiv_sim_params *p) {
    int trainings = !p->trained            ? 0
                    : p->retrain_every > 0 ? 1 + (p->rounds - 1) / p->retrain_every
                                           : 1;
    return (double)p->rounds + SWEEP_TRAIN_ROUNDS * (double)trainings;
}

typedef struct costed {
    double cost;
    size_t job;
} costed;

static int longest_first(const void *a, const void *b) {
    const costed *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? 1 : -1;
    return (x->job > y->job) - (x->job < y->job); /* ties in (cell, seed) order */
}

/* Fills s->todo with the jobs of c by decreasing cost, ties in (cell, seed) order, so
 * the order is the same on every run. */
static void order_todo(struct sweep *s, costed *c) {
    qsort(c, s->ntodo, sizeof *c, longest_first);
    for (size_t i = 0; i < s->ntodo; i++)
        s->todo[i] = c[i].job;
}

/* The jobs of the selected shard not done yet, longest first (job_cost). */
static int plan(struct sweep *s, indiv_error *err) {
    costed *c = malloc((s->njobs ? s->njobs : 1) * sizeof *c);
    if (!c)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t cell = 0; cell < s->cells; cell++) {
        if (cell % (size_t)s->o->shard_count != (size_t)s->o->shard_index)
            continue;
        indiv_sim_params p = s->o->base;
        int rc = indiv_sweep_cell_params(s->g, cell, &p, err);
        if (rc < 0) {
            free(c);
            return rc;
        }
        for (size_t k = 0; k < s->seeds; k++) {
            size_t job = cell * s->seeds + k;
            s->selected++;
            if (s->done[job])
                s->before++;
            else
                c[s->ntodo++] = (costed){job_cost(&p), job}, s->rounds_total += p.rounds;
        }
    }
    order_todo(s, c);
    free(c);
    return INDIV_OK;
}

int indiv_sweep_run_sim(void *ctx, const indiv_sweep_job *job, indiv_round_fn on_round,
                        void *rctx, indiv_error *err) {
    (void)ctx;
    return indiv_sim_run(job->world_db, job->work_db, job->params, job->model, NULL, NULL,
                         on_round, rctx, err);
}

static int on_round(void *ctx, const indiv_round_metrics *m) {
    struct worker *w = ctx;
    struct sweep *s = w->s;
    indiv_sweep_acc_add(&w->acc, m);
    pthread_mutex_lock(&s->mu);
    s->rounds_done++;
    int stop = s->stop;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return stop; /* another job failed: do not start the next round */
}

static void remove_db(const char *path) {
    static const char *const suffix[] = {"", "-journal", "-wal", "-shm"};
    char p[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* Runs one job on its own work database (removed afterwards) into row. */
static int run_job(struct worker *w, size_t job, double *row, indiv_error *err) {
    const struct sweep *s = w->s;
    size_t cell = job / s->seeds;
    int k = (int)(job % s->seeds);
    indiv_sim_params p = s->o->base;
    int rc = indiv_sweep_cell_params(s->g, cell, &p, err);
    p.seed = s->o->base_seed + (uint64_t)k;
    char name[64];
    snprintf(name, sizeof name, WORK_PREFIX "%zu-seed-%d.db", cell, k);
    char *work = indiv_path_join(s->work, name);
    if (!work)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    indiv_sweep_job j = {cell, k, &p, s->o->world_db, work, &s->o->model};
    indiv_sweep_acc_init(&w->acc);
    int h = indiv_fileio_track(work); /* a signal removes the work database */
    if (rc == INDIV_OK)
        rc = s->run(s->run_ctx, &j, on_round, w, err);
    remove_db(work);
    indiv_fileio_untrack(h);
    free(work);
    if (rc == INDIV_OK)
        indiv_sweep_acc_row(&w->acc, row);
    return rc;
}

/* Under s->mu: the first failure stops the sweep and names its job. */
static void fail(struct sweep *s, size_t job, int rc, const indiv_error *e) {
    if (s->rc == 0) {
        char label[256];
        indiv_sweep_cell_label(s->g, job / s->seeds, label, sizeof label);
        s->rc = rc < 0 ? rc : INDIV_EINVAL;
        indiv_error_set(&s->err, s->rc, "cell %zu (%s), seed %llu: %s", job / s->seeds,
                        label, (unsigned long long)(s->o->base_seed + job % s->seeds),
                        e->code ? e->msg : "failed");
    }
    s->stop = 1;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct sweep *s = w->s;
    pthread_mutex_lock(&s->mu);
    while (!s->stop && s->next < s->ntodo) {
        size_t job = s->todo[s->next++];
        double row[INDIV_SWEEP_COLUMNS_MAX];
        indiv_error e = {0};
        pthread_mutex_unlock(&s->mu);
        int rc = run_job(w, job, row, &e);
        pthread_mutex_lock(&s->mu);
        if (rc == INDIV_OK)
            rc = record_row(s, job, row, &e);
        if (rc != INDIV_OK)
            fail(s, job, rc, &e);
        else if (s->finished++ == 0)
            untrack_claim(s); /* a resumable sweep now: a signal keeps it */
        pthread_cond_broadcast(&s->cv);
    }
    s->exited++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The calling thread: reports progress whenever a job or a round ends, until every
 * started worker has exited. */
static void wait_workers(struct sweep *s, size_t started, indiv_progress_fn progress,
                         void *pctx) {
    size_t seen_jobs = (size_t)-1;
    int64_t seen_rounds = -1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        size_t jobs = s->finished;
        int64_t rounds = s->rounds_done;
        int exited = s->exited == started;
        if (progress && (jobs != seen_jobs || rounds != seen_rounds)) {
            pthread_mutex_unlock(&s->mu);
            if (rounds != seen_rounds)
                progress(pctx, "rounds", rounds, s->rounds_total);
            if (jobs != seen_jobs)
                progress(pctx, "jobs", (int64_t)(s->before + jobs), (int64_t)s->selected);
            seen_jobs = jobs;
            seen_rounds = rounds;
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (exited)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

static int run_jobs(struct sweep *s, indiv_progress_fn progress, void *pctx,
                    indiv_error *err) {
    size_t n = s->ntodo < (size_t)s->o->jobs ? s->ntodo : (size_t)s->o->jobs, started = 0;
    struct worker *w = calloc(n ? n : 1, sizeof *w);
    if (!w)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (; started < n; started++) {
        w[started].s = s;
        if (pthread_create(&w[started].th, NULL, worker_main, &w[started]) != 0)
            break;
    }
    if (started < n) {
        pthread_mutex_lock(&s->mu);
        if (s->rc == 0)
            s->rc = indiv_error_set(&s->err, INDIV_ENOMEM,
                                    "cannot start worker thread "
                                    "%zu of %zu",
                                    started + 1, n);
        s->stop = 1;
        pthread_mutex_unlock(&s->mu);
    }
    wait_workers(s, started, progress, pctx);
    for (size_t i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    free(w);
    if (s->rc < 0)
        indiv_error_set(err, s->rc, "%s", s->err.msg);
    return s->rc;
}

/* ---- final files ------------------------------------------------------------------- */

static int write_results(FILE *f, void *ctx, indiv_error *err) {
    const struct sweep *s = ctx;
    char line[LINE_BYTES];
    format_header(s, line, sizeof line);
    int ok = fputs(line, f) >= 0;
    for (size_t job = 0; ok && job < s->njobs; job++)
        if (s->done[job]) {
            format_row(s, job, line, sizeof line);
            ok = fputs(line, f) >= 0;
        }
    return ok ? INDIV_OK
              : indiv_error_set(err, INDIV_EIO, "%s: %s", s->results, strerror(errno));
}

struct summary_ctx {
    const struct sweep *s;
    const indiv_sweep_stat *stat;
};

/* n, mean, sd, half-width, low, high; the last four empty when n < 2 (no spread can be
 * estimated from one run). */
static int summary_line(FILE *f, const struct sweep *s, size_t cell, size_t col,
                        const indiv_sweep_stat *st) {
    char v[4][32];
    fprintf(f, "%zu", cell);
    for (size_t a = 0; a < indiv_sweep_grid_axes(s->g); a++)
        fprintf(f, ",%s",
                indiv_sweep_grid_value(s->g, a, indiv_sweep_cell_index(s->g, cell, a)));
    indiv_sweep_format_double(st->mean, v[0]);
    fprintf(f, ",%s,%zu,%s", indiv_sweep_column_name(col), st->n, v[0]);
    if (st->n < 2)
        return fputs(",,,,\n", f) >= 0;
    indiv_sweep_format_double(st->sd, v[0]);
    indiv_sweep_format_double(st->half, v[1]);
    indiv_sweep_format_double(st->mean - st->half, v[2]);
    indiv_sweep_format_double(st->mean + st->half, v[3]);
    return fprintf(f, ",%s,%s,%s,%s\n", v[0], v[1], v[2], v[3]) > 0;
}

static int write_summary(FILE *f, void *ctx, indiv_error *err) {
    const struct summary_ctx *c = ctx;
    const struct sweep *s = c->s;
    fputs("cell", f);
    for (size_t a = 0; a < indiv_sweep_grid_axes(s->g); a++)
        fprintf(f, ",%s", indiv_sweep_grid_axis(s->g, a));
    int ok = fputs(",metric,n,mean,sd,ci95_half,ci95_low,ci95_high\n", f) >= 0;
    for (size_t cell = 0; ok && cell < s->cells; cell++)
        for (size_t col = 0; ok && col < s->ncols; col++)
            if (c->stat[cell * s->ncols + col].n > 0)
                ok = summary_line(f, s, cell, col, &c->stat[cell * s->ncols + col]);
    return ok ? INDIV_OK
              : indiv_error_set(err, INDIV_EIO, "%s: %s", s->summary, strerror(errno));
}

/* stat[cell · ncols + col] over the cell's finished seeds; n == 0 without any. */
static int compute_stats(const struct sweep *s, indiv_sweep_stat *stat,
                         indiv_error *err) {
    double *x = malloc(s->seeds * sizeof *x);
    if (!x)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = INDIV_OK;
    for (size_t cell = 0; rc == INDIV_OK && cell < s->cells; cell++)
        for (size_t col = 0; rc == INDIV_OK && col < s->ncols; col++) {
            size_t n = 0;
            for (size_t k = 0; k < s->seeds; k++)
                if (s->done[cell * s->seeds + k])
                    x[n++] = s->rows[(cell * s->seeds + k) * s->ncols + col];
            if (n > 0)
                rc = indiv_sweep_stat_compute(x, n, INDIV_SWEEP_CI_LEVEL,
                                              &stat[cell * s->ncols + col], err);
        }
    free(x);
    return rc;
}

static int finish(struct sweep *s, indiv_sweep_report *rep, indiv_error *err) {
    indiv_sweep_stat *stat = calloc(s->cells * s->ncols, sizeof *stat);
    if (!stat)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    struct summary_ctx sc = {s, stat};
    int rc = compute_stats(s, stat, err);
    if (rc == INDIV_OK)
        rc = indiv_file_write_atomic(s->results, write_results, s, err);
    if (rc == INDIV_OK)
        rc = indiv_file_write_atomic(s->summary, write_summary, &sc, err);
    if (rc == INDIV_OK)
        rc = indiv_sweep_figures_write(s->g, s->figures, stat, rep, err);
    if (rc == INDIV_OK)
        rep->stat = stat;
    else
        free(stat);
    return rc;
}

/* ---- the run ----------------------------------------------------------------------- */

/* A run that claimed DIR and failed before any job finished leaves nothing behind: the
 * corrected command must not be refused as "another sweep". Only the names this run
 * created are removed (rmdir removes a directory only when empty). Called with the lock
 * still held. */
static void unclaim_dir(const struct sweep *s) {
    static const char *const names[] = {"sweep.lock", "results.partial.csv"};
    unlink(s->json);
    clean_work(s->work);
    rmdir(s->work);
    rmdir(s->figures);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = indiv_path_join(s->o->dir, names[i]);
        if (p)
            unlink(p);
        free(p);
    }
    rmdir(s->o->dir);
}

static int sweep_body(struct sweep *s, indiv_progress_fn progress, void *pctx,
                      indiv_sweep_report *rep, indiv_error *err) {
    int rc = prepare_dir(s, err);
    if (rc == INDIV_OK)
        rc = load_partial(s, err);
    if (rc == INDIV_OK)
        rc = plan(s, err);
    rep->jobs_selected = s->selected;
    rep->jobs_before = s->before;
    if (rc == INDIV_OK && progress)
        progress(pctx, "jobs", (int64_t)s->before, (int64_t)s->selected);
    if (rc == INDIV_OK && s->ntodo > 0)
        rc = run_jobs(s, progress, pctx, err);
    rep->jobs_run = s->finished;
    if (rc == INDIV_OK) {
        rep->complete = 1;
        rc = finish(s, rep, err);
    }
    if (rc < 0 && s->claimed && s->finished == 0 && s->before == 0)
        unclaim_dir(s);
    untrack_claim(s);
    return rc;
}

int indiv_sweep_run(const indiv_sweep_grid *g, const indiv_sweep_opts *o,
                    indiv_progress_fn progress, void *pctx, indiv_sweep_report *rep,
                    indiv_error *err) {
    indiv_sweep_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->cells = indiv_sweep_grid_cells(g);
    rep->columns = indiv_sweep_columns();
    int rc = indiv_sweep_opts_validate(o, err);
    if (rc < 0)
        return rc;
    struct sweep s;
    rc = sweep_init(&s, g, o, err);
    if (rc == INDIV_OK)
        rc = sweep_body(&s, progress, pctx, rep, err);
    sweep_free(&s);
    if (rc < 0)
        rep->complete = 0;
    if (rep == &local)
        indiv_sweep_report_clear(rep);
    return rc;
}

void indiv_sweep_report_clear(indiv_sweep_report *rep) {
    if (!rep)
        return;
    free(rep->stat);
    rep->stat = NULL;
}
