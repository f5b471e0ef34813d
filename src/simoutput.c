/*
 * simoutput.c — the files of `indiv simulate` (contract: simulate.h, "output
 * directory"): DIR/params.json, DIR/<policy>/rounds.csv, rounds.json and timings.csv,
 * DIR/comparison.csv. Moved out of the command line (issue 13: the CLI is thin) so that
 * a program drives a simulation into a directory the way the command does, and every
 * JSON construction is checked (a failed allocation is an error, not a silent null).
 *
 * Every file goes through fileio.h: written to a temporary file, fsync'ed, renamed
 * (rounds.csv and timings.csv, streamed during the run, are committed together at its
 * end), so a failed or interrupted run leaves no half-written file.
 *
 * Formats are those the command always wrote (tests hold them byte for byte): CSV with
 * %.6g values, rounds.json with one object per round (6 significant digits), params.json
 * with sorted keys and 10 significant digits.
 */
#include "indiv/simulate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "indiv/fileio.h"
#include "indiv/timeutil.h"

/* Rounds collected for one policy, and the files they go to (fileio.h outputs: each
 * appears complete, fsync'ed, or not at all). */
typedef struct collect {
    indiv_outfile *csv_out, *times_out;
    FILE *csv, *times;
    indiv_round_metrics *rounds;
    int n;
    indiv_round_fn next; /* the caller's callback, or NULL */
    void *next_ctx;
} collect;

static char *path2(const char *dir, const char *a, const char *b) {
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 3;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, b ? "%s/%s/%s" : "%s/%s", dir, a, b ? b : "");
    return p;
}

int indiv_sim_output_dir(const char *dir, indiv_error *err) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot create directory: %s", dir,
                               strerror(errno));
    return INDIV_OK;
}

static void csv_header(FILE *f) {
    fputs("round,start,end", f);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        fprintf(f, ",%s", indiv_sim_metric_name(m));
    fputc('\n', f);
}

static int on_round(void *ctx, const indiv_round_metrics *m) {
    collect *c = ctx;
    char a[INDIV_ISO_LEN], b[INDIV_ISO_LEN];
    fprintf(c->csv, "%d,%s,%s", m->round, indiv_time_format(m->round_start, a),
            indiv_time_format(m->round_end, b));
    for (int k = 0; k < INDIV_SIM_NMETRICS; k++)
        fprintf(c->csv, ",%.6g", m->v[k]);
    fputc('\n', c->csv);
    fprintf(c->times, "%d,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", m->round,
            m->seconds[INDIV_SIM_T_PROFILE], m->seconds[INDIV_SIM_T_DECIDE],
            m->seconds[INDIV_SIM_T_RESPOND], m->seconds[INDIV_SIM_T_TRAIN],
            m->cpu_seconds[INDIV_SIM_T_PROFILE], m->cpu_seconds[INDIV_SIM_T_DECIDE],
            m->cpu_seconds[INDIV_SIM_T_RESPOND], m->cpu_seconds[INDIV_SIM_T_TRAIN]);
    indiv_round_metrics *r = realloc(c->rounds, (size_t)(c->n + 1) * sizeof *r);
    if (!r)
        return INDIV_ENOMEM;
    c->rounds = r;
    c->rounds[c->n++] = *m;
    return c->next ? c->next(c->next_ctx, m) : 0;
}

/* rounds.json: one object per round, into f. -1 when out of memory or not written. */
static int put_rounds_json(FILE *f, void *ctx, indiv_error *err) {
    const collect *c = ctx;
    json_t *arr = json_array();
    int ok = arr != NULL;
    for (int r = 0; ok && r < c->n; r++) {
        json_t *o = json_object();
        ok = o && json_array_append_new(arr, o) == 0 &&
             json_object_set_new(o, "round", json_integer(c->rounds[r].round)) == 0;
        for (int k = 0; ok && k < INDIV_SIM_NMETRICS; k++)
            ok = json_object_set_new(o, indiv_sim_metric_name(k),
                                     json_real(c->rounds[r].v[k])) == 0;
    }
    ok = ok && json_dumpf(arr, f, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) == 0;
    json_decref(arr);
    return ok ? INDIV_OK : indiv_error_set(err, INDIV_EIO, "cannot write rounds.json");
}

/* rounds.csv and timings.csv, created before the run (a bad directory fails at once). */
static int open_round_files(collect *col, const char *csv, const char *tm,
                            indiv_error *err) {
    int rc = indiv_outfile_open(csv, &col->csv_out, err);
    if (rc == INDIV_OK)
        rc = indiv_outfile_open(tm, &col->times_out, err);
    if (rc == INDIV_OK) {
        col->csv = indiv_outfile_stream(col->csv_out);
        col->times = indiv_outfile_stream(col->times_out);
        csv_header(col->csv);
        fputs("round,seconds_profile,seconds_decide,seconds_respond,seconds_train,"
              "cpu_profile,cpu_decide,cpu_respond,cpu_train\n",
              col->times);
    }
    return rc;
}

int indiv_sim_run_into(const char *world_db, const char *dir, const indiv_sim_params *p,
                       const indiv_model *m, indiv_progress_fn progress, void *pctx,
                       indiv_round_fn on_each, void *rctx, double tot[INDIV_SIM_NMETRICS],
                       indiv_error *err) {
    const char *name = indiv_sim_policy_name(p->policy);
    char *sub = path2(dir, name, NULL), *db = path2(dir, name, "world.db");
    char *csv = path2(dir, name, "rounds.csv"), *js = path2(dir, name, "rounds.json");
    char *tm = path2(dir, name, "timings.csv");
    collect col = {.next = on_each, .next_ctx = rctx};
    int rc = sub && db && csv && js && tm
                 ? indiv_sim_output_dir(sub, err)
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = open_round_files(&col, csv, tm, err);
    if (rc == INDIV_OK)
        rc = indiv_sim_run(world_db, db, p, m, progress, pctx, on_round, &col, err);
    indiv_outfile *const outs[] = {col.csv_out, col.times_out};
    rc = indiv_outfile_finish_all(outs, 2, rc, err);
    if (rc == INDIV_OK)
        rc = indiv_file_write_atomic(js, put_rounds_json, &col, err);
    if (rc == INDIV_OK)
        indiv_sim_aggregate(col.rounds, col.n, tot);
    free(col.rounds);
    free(sub);
    free(db);
    free(csv);
    free(js);
    free(tm);
    return rc;
}

/* comparison.csv into f; ctx is the totals. */
static int put_comparison(FILE *f, void *ctx, indiv_error *err) {
    const double(*tot)[INDIV_SIM_NMETRICS] = ctx;
    (void)err; /* a write error is caught by indiv_file_write_atomic (ferror) */
    fputs("policy", f);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        fprintf(f, ",%s", indiv_sim_metric_name(m));
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        fprintf(f, ",%s_minus_oracle", indiv_sim_metric_name(m));
    fputc('\n', f);
    for (int p = 0; p < INDIV_SIM_POLICY_COUNT; p++) {
        fputs(indiv_sim_policy_name((indiv_sim_policy)p), f);
        for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
            fprintf(f, ",%.6g", tot[p][m]);
        for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
            fprintf(f, ",%.6g", tot[p][m] - tot[INDIV_SIM_ORACLE][m]);
        fputc('\n', f);
    }
    return INDIV_OK;
}

int indiv_sim_write_comparison(
    const char *dir, const double tot[INDIV_SIM_POLICY_COUNT][INDIV_SIM_NMETRICS],
    indiv_error *err) {
    char *path = path2(dir, "comparison.csv", NULL);
    int rc = path ? indiv_file_write_atomic(path, put_comparison, (void *)tot, err)
                  : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(path);
    return rc;
}

/* The params.json object; NULL when out of memory. json_object_set_new steals its value
 * even when it fails, so no path leaks. */
static json_t *params_object(const char *world_db, const indiv_sim_params *p,
                             const char *model_id, int all) {
    char *sp = indiv_sim_params_json(p);
    json_t *root = json_object(), *sim = sp ? json_loads(sp, 0, NULL) : NULL;
    free(sp);
    if (!root || !sim) {
        json_decref(root);
        json_decref(sim);
        return NULL;
    }
    int ok = json_object_set_new(root, "simulation", sim) == 0 &&
             json_object_set_new(root, "world", json_string(world_db)) == 0 &&
             json_object_set_new(root, "model", json_string(model_id)) == 0 &&
             json_object_set_new(root, "policies", json_string(all ? "all" : "one")) == 0;
    json_t *docs = ok ? json_object() : NULL;
    ok = ok && json_object_set_new(root, "metrics", docs) == 0; /* docs borrowed after */
    for (int k = 0; ok && k < INDIV_SIM_NMETRICS; k++)
        ok = json_object_set_new(docs, indiv_sim_metric_name(k),
                                 json_string(indiv_sim_metric_doc(k))) == 0;
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* params.json into f: sorted keys, 10 significant digits. */
static int put_params(FILE *f, void *root, indiv_error *err) {
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10)) < 0)
        return indiv_error_set(err, INDIV_EIO, "cannot write params.json");
    return INDIV_OK;
}

int indiv_sim_write_params(const char *dir, const char *world_db,
                           const indiv_sim_params *p, const char *model_id, int all,
                           indiv_error *err) {
    char *path = path2(dir, "params.json", NULL);
    json_t *root = path ? params_object(world_db, p, model_id, all) : NULL;
    int rc = INDIV_OK;
    if (!root)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory writing params.json");
    else
        rc = indiv_file_write_atomic(path, put_params, root, err);
    json_decref(root);
    free(path);
    return rc;
}
