/*
 * bench_train.c — speed of one implicit-ALS sweep (train.h) against the bare BLAS and
 * Cholesky work of that sweep, measured in the same run, on the shipped real sample and
 * on a generated log of 100,000 × SCALE consumers (1000 offers in 50 categories, 365
 * days, seed 42).
 *
 * Ours: indiv_als_iterate with the default parameters (32 dims, 2 threads): Gram matrix,
 * then per consumer and per offer the gather of its interactions, a dsyrk rank update,
 * a Cholesky factorisation and solve. Reference ("bare"): the same calls on the same
 * shapes — one dsyrk for each Gram matrix, and per row a copy of the dims × dims system,
 * a dsyrk of an n_u × dims block that is already contiguous in memory, one dgemv and the
 * Cholesky factorisation and solve — on one thread, without reading the sparse matrix.
 * The ratio ours/bare is below 1 when the two threads pay for more than the gathering
 * costs. One warm-up sweep, then the mean of 3 (ours) and the best of 3 (bare). Also
 * prints, as information, the single-thread ratio and the time of a whole `indiv train`
 * run on the real sample. Run from the repository root.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "bench.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"
#include "indiv/itemsim.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/score.h"
#include "indiv/sim.h"
#include "indiv/train.h"

#define SAMPLE         "datasets/online-retail-2010-12_2011-02.csv.gz"
#define BASE_CONSUMERS 100000
#define OFFERS         1000
#define CATEGORIES     50
#define DAYS           365
#define SEED           42
#define SWEEPS         3

static int fail(const char *what, const indiv_error *err) {
    fprintf(stderr, "bench_train: %s: %s\n", what, err->msg);
    return 1;
}

/* Interactions of consenting consumers as training reads them: the sum of the taste
 * weights of their events per offer (docs/profiles.md), rows in consumer order. */
static indiv_sparse *interactions(indiv_eventlog *log, indiv_error *err) {
    indiv_catalog *cat;
    indiv_event_cursor *cur;
    indiv_event ev;
    indiv_profile_params pp;
    indiv_profile_params_init(&pp);
    size_t n = 0, cap = 1 << 20, rows = 0, j;
    size_t *r = malloc(cap * sizeof *r), *c = malloc(cap * sizeof *c);
    double *v = malloc(cap * sizeof *v);
    int64_t current = -1;
    indiv_sparse *m = NULL;
    if (indiv_catalog_load(log, &cat, err) < 0 ||
        indiv_eventlog_scan_consented(log, INT64_MIN, INT64_MAX, &cur, err) < 0)
        return NULL;
    while (indiv_event_cursor_next(cur, &ev, err) == 1) {
        rows += ev.consumer_id != current;
        current = ev.consumer_id;
        if (ev.type == INDIV_EV_NONE || pp.type_weight[ev.type] == 0 ||
            indiv_catalog_index(cat, ev.offer_id, &j) < 0)
            continue;
        if (n == cap) {
            cap *= 2;
            r = realloc(r, cap * sizeof *r), c = realloc(c, cap * sizeof *c);
            v = realloc(v, cap * sizeof *v);
        }
        r[n] = rows - 1, c[n] = j, v[n++] = pp.type_weight[ev.type];
    }
    indiv_event_cursor_free(cur);
    indiv_sparse_from_triplets(rows, indiv_catalog_size(cat), n, r, c, v, &m, err);
    indiv_catalog_free(cat);
    free(r), free(c), free(v);
    return m;
}

/* Mean seconds of a sweep of our ALS with `threads` threads. */
static double ours(const indiv_sparse *m, int threads, indiv_error *err) {
    indiv_als_params p;
    indiv_als_params_init(&p);
    p.threads = threads;
    indiv_als *a;
    if (indiv_als_new(m, &p, &a, err) < 0 || indiv_als_iterate(a, err) < 0)
        return -1;
    double t = 0;
    for (int s = 0; s < SWEEPS; s++) {
        double t0 = bench_now();
        if (indiv_als_iterate(a, err) < 0)
            return -1;
        t += bench_now() - t0;
    }
    indiv_als_free(a);
    return t / SWEEPS;
}

/* The bare work of one half sweep over the rows of m, with dims k. */
static void bare_half(const indiv_sparse *m, size_t k, const double *z,
                      const gsl_matrix *g, gsl_matrix *a, gsl_vector *b, gsl_vector *x) {
    gsl_vector_const_view one =
        gsl_vector_const_view_array(z, k); /* any vector: a dgemv */
    for (size_t u = 0; u < m->rows; u++) {
        size_t n = m->ptr[u + 1] - m->ptr[u];
        if (n == 0)
            continue;
        gsl_matrix_memcpy(a, g);
        gsl_matrix_const_view zu = gsl_matrix_const_view_array(z, n, k);
        gsl_vector_const_view ones = gsl_vector_const_view_array(z, n);
        gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0, &zu.matrix, 1.0, a);
        gsl_blas_dgemv(CblasTrans, 1.0, &zu.matrix, &ones.vector, 0.0, b);
        gsl_linalg_cholesky_decomp1(a);
        gsl_linalg_cholesky_solve(a, b, x);
    }
    (void)one;
}

static size_t longest(const indiv_sparse *m) {
    size_t mx = 0;
    for (size_t u = 0; u < m->rows; u++)
        mx = m->ptr[u + 1] - m->ptr[u] > mx ? m->ptr[u + 1] - m->ptr[u] : mx;
    return mx;
}

/* Best seconds of the bare work of one sweep (both sides, Gram matrices included). */
static double bare(const indiv_sparse *m, const indiv_sparse *t, size_t k) {
    size_t rows = longest(m) > longest(t) ? longest(m) : longest(t);
    rows = rows > m->rows ? rows : m->rows;
    rows = rows > m->cols ? rows : m->cols;
    double *z = malloc(rows * k * sizeof *z), best = INFINITY;
    for (size_t i = 0; i < rows * k; i++)
        z[i] = 0.01 * (double)((i * 2654435761u) % 1000) / 1000.0;
    gsl_matrix *g = gsl_matrix_alloc(k, k), *a = gsl_matrix_alloc(k, k);
    gsl_vector *b = gsl_vector_alloc(k), *x = gsl_vector_alloc(k);
    for (int s = 0; s <= SWEEPS; s++) {
        double t0 = bench_now();
        const indiv_sparse *side[2] = {m, t};
        for (int h = 0; h < 2; h++) {
            gsl_matrix_const_view f = gsl_matrix_const_view_array(z, side[h]->cols, k);
            gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0, &f.matrix, 0.0, g);
            for (size_t d = 0; d < k; d++)
                gsl_matrix_set(g, d, d, gsl_matrix_get(g, d, d) + 1.0);
            bare_half(side[h], k, z, g, a, b, x);
        }
        double el = bench_now() - t0;
        best = s > 0 && el < best ? el : best; /* s = 0 is the warm-up */
    }
    gsl_matrix_free(g), gsl_matrix_free(a);
    gsl_vector_free(b), gsl_vector_free(x);
    free(z);
    return best;
}

static int bench_log(const char *name, indiv_eventlog *log) {
    indiv_error err = {0};
    indiv_sparse *m = interactions(log, &err), *t = NULL;
    if (!m || indiv_sparse_transpose(m, &t, &err) < 0)
        return fail("interactions", &err);
    double s2 = ours(m, 2, &err), s1 = ours(m, 1, &err), ref = bare(m, t, 32);
    if (s2 < 0 || s1 < 0)
        return fail("als", &err);
    bench_report(name, s2, "s/sweep", "bare_blas_solve", ref, s2 / ref);
    printf("  %s: %zu consumers x %zu offers, %zu interactions, dims 32; 1 thread %.4g "
           "s/sweep (ratio %.3f), 2 threads %.4g s/sweep\n",
           name, m->rows, m->cols, m->nnz, s1, s1 / ref, s2);
    indiv_sparse_free(m);
    indiv_sparse_free(t);
    return 0;
}

/* The whole `indiv train` on the sample (defaults, as of the end of the data). */
static void train_run_info(indiv_eventlog *log) {
    indiv_train_params p;
    indiv_train_params_init(&p);
    indiv_eventlog_stats st;
    indiv_eventlog_stats_get(log, &st, NULL);
    p.id = "bench";
    p.as_of = st.last_ts + 1;
    indiv_model m;
    indiv_train_summary sum;
    indiv_error err = {0};
    double t0 = bench_now();
    if (indiv_train_run(log, &p, NULL, NULL, &m, &sum, &err) < 0) {
        fail("train run", &err);
        return;
    }
    printf("  train_run_retail: whole indiv train (2 ALS fits of 15 sweeps, profiles, "
           "logistic fits, validation) %.3f s\n",
           bench_now() - t0);
    indiv_model_clear(&m);
}

static int retail(const char *dir) {
    char db[600];
    snprintf(db, sizeof db, "%s/retail.db", dir);
    indiv_import_opts o;
    indiv_import_opts_init(&o);
    o.format = INDIV_IMPORT_ONLINE_RETAIL;
    o.path = SAMPLE;
    indiv_eventlog *log;
    indiv_import_summary s;
    indiv_error err = {0};
    if (indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err) < 0 ||
        indiv_import_run(log, &o, &s, &err) < 0)
        return fail(SAMPLE " (run from the repository root)", &err);
    int rc = bench_log("train_als_retail", log);
    if (rc == 0)
        train_run_info(log);
    indiv_eventlog_close(log);
    return rc;
}

static int world(const char *dir) {
    char db[600];
    snprintf(db, sizeof db, "%s/world.db", dir);
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = (int64_t)llround(BASE_CONSUMERS * bench_scale());
    p.offers = OFFERS;
    p.categories = CATEGORIES;
    p.days = DAYS;
    p.seed = SEED;
    indiv_eventlog *log;
    indiv_error err = {0};
    if (indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err) < 0 ||
        indiv_world_generate(log, &p, NULL, NULL, NULL, &err) < 0)
        return fail("generate", &err);
    int rc = bench_log("train_als_100k", log);
    indiv_eventlog_close(log);
    return rc;
}

/* ---- EASE (issue 12): the item-to-item fit on 4,000 offers ----------------------- */

#define EASE_OFFERS    4000
#define EASE_CONSUMERS 40000
#define EASE_PER_ROW   20

/* A purchase matrix of EASE_CONSUMERS × n, EASE_PER_ROW offers each (deterministic). */
static indiv_sparse *ease_matrix(size_t n, indiv_error *err) {
    size_t nnz = (size_t)EASE_CONSUMERS * EASE_PER_ROW;
    size_t *r = malloc(nnz * sizeof *r), *c = malloc(nnz * sizeof *c);
    double *v = malloc(nnz * sizeof *v);
    indiv_sparse *m = NULL;
    uint64_t x = 7;
    for (size_t e = 0; r && c && v && e < nnz; e++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        r[e] = e / EASE_PER_ROW;
        c[e] = (size_t)((x >> 33) % n);
        v[e] = 1;
    }
    if (r && c && v)
        indiv_sparse_from_triplets(EASE_CONSUMERS, n, nnz, r, c, v, &m, err);
    free(r);
    free(c);
    free(v);
    return m;
}

/* indiv_itemsim_ease (Cholesky, inverse, B) against a bare Cholesky factorisation of the
 * same G + lambda I (GSL over single-threaded OpenBLAS). */
static int bench_ease(void) {
    size_t n = (size_t)llround(EASE_OFFERS * (bench_scale() < 1 ? bench_scale() : 1));
    indiv_error err = {0};
    indiv_sparse *x = ease_matrix(n < 10 ? 10 : n, &err);
    n = x ? x->cols : 0;
    double *g = malloc((n * n + 1) * sizeof *g), *h = malloc((n * n + 1) * sizeof *h);
    if (!x || !g || !h || indiv_itemsim_gram(x, g, &err) < 0) {
        free(g);
        free(h);
        indiv_sparse_free(x);
        return fail("ease matrix", &err);
    }
    memcpy(h, g, n * n * sizeof *h);
    for (size_t i = 0; i < n; i++)
        h[i * n + i] += 300;
    double t0 = bench_now();
    gsl_matrix_view hv = gsl_matrix_view_array(h, n, n);
    int rc = gsl_linalg_cholesky_decomp1(&hv.matrix);
    double bare_s = bench_now() - t0;
    t0 = bench_now();
    rc |= indiv_itemsim_ease(g, n, 300, &err);
    double ease_s = bench_now() - t0;
    if (rc == 0 && bare_s > 0) {
        bench_report("train_ease", ease_s, "s", "bare_cholesky", bare_s, ease_s / bare_s);
        printf("info train_ease: EASE (lambda 300) on %zu offers from %d consumers x %d "
               "offers: %.2f s; bare Cholesky of the same %zu x %zu matrix %.2f s; one "
               "OpenBLAS thread\n",
               n, EASE_CONSUMERS, EASE_PER_ROW, ease_s, n, n, bare_s);
    }
    free(g);
    free(h);
    indiv_sparse_free(x);
    return rc == 0 ? 0 : 1;
}

int main(void) {
    gsl_set_error_handler_off();
    indiv_blas_single_thread();
    const char *base = getenv("TMPDIR");
    char dir[512], cmd[600];
    snprintf(dir, sizeof dir, "%s/indiv-bench-train-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_train: mkdtemp");
        return 1;
    }
    int rc = retail(dir);
    if (rc == 0)
        rc = world(dir);
    if (rc == 0)
        rc = bench_ease();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_train: could not remove %s\n", dir);
    return rc;
}
