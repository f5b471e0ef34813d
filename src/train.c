/*
 * train.c — the numerical core of training: sparse interaction matrices, implicit-
 * feedback ALS (Hu, Koren & Volinsky 2008) and logistic regression by IRLS (the
 * contracts and formulas are in train.h; the training run itself is train_run.c).
 *
 * With score.c, the only BLAS caller of indiv: per row, one dsyrk (the rank-n_u
 * confidence correction), one Cholesky factorisation and solve of a dims × dims system;
 * per sweep, one dsyrk for the Gram matrix. Nothing is allocated inside a sweep: each
 * worker thread owns its workspace (a dims × dims system and a gather buffer as large as
 * the longest row), made once per factorisation. Rows are split among threads in
 * contiguous ranges of about equal cost; a row's result depends only on its own data and
 * the other side's factors, so any split gives the same bits.
 */
#include "indiv/train.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "indiv/rng.h"

/* ALS defaults (docs/evaluation.md). Hu et al. use alpha = 40 on TV watching times;
 * purchase counts are far smaller numbers, and 10 did better on the validation tail of
 * the shipped sample. */
#define DEF_DIMS       32
#define DEF_ITERATIONS 15
#define DEF_ALPHA      10.0
#define DEF_LAMBDA     1.0
#define DEF_INIT_SD    0.01
#define DEF_THREADS    2

/* ---- sparse matrices --------------------------------------------------------------- */

void indiv_sparse_free(indiv_sparse *m) {
    if (!m)
        return;
    free(m->ptr);
    free(m->idx);
    free(m->val);
    free(m);
}

static indiv_sparse *sparse_alloc(size_t rows, size_t cols, size_t nnz) {
    indiv_sparse *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->rows = rows;
    m->cols = cols;
    m->nnz = nnz;
    m->ptr = calloc(rows + 1, sizeof *m->ptr);
    m->idx = malloc((nnz + 1) * sizeof *m->idx);
    m->val = malloc((nnz + 1) * sizeof *m->val);
    if (!m->ptr || !m->idx || !m->val) {
        indiv_sparse_free(m);
        return NULL;
    }
    return m;
}

/* Counting sort of the triplets by row into m (columns unsorted within a row). */
static void bucket_rows(indiv_sparse *m, size_t n, const size_t *r, const size_t *c,
                        const double *v, size_t *fill) {
    for (size_t k = 0; k < n; k++)
        m->ptr[r[k] + 1]++;
    for (size_t i = 0; i < m->rows; i++)
        m->ptr[i + 1] += m->ptr[i];
    memcpy(fill, m->ptr, m->rows * sizeof *fill);
    for (size_t k = 0; k < n; k++) {
        size_t at = fill[r[k]]++;
        m->idx[at] = c[k];
        m->val[at] = v[k];
    }
}

/* Sorts each row by column (insertion sort: rows are short) and sums duplicates,
 * dropping entries that are not > 0; compacts in place. */
static void merge_rows(indiv_sparse *m) {
    size_t out = 0;
    for (size_t i = 0; i < m->rows; i++) {
        size_t from = m->ptr[i], to = m->ptr[i + 1], start = out;
        for (size_t a = from + 1; a < to; a++)
            for (size_t b = a; b > from && m->idx[b - 1] > m->idx[b]; b--) {
                size_t ti = m->idx[b];
                double tv = m->val[b];
                m->idx[b] = m->idx[b - 1];
                m->val[b] = m->val[b - 1];
                m->idx[b - 1] = ti;
                m->val[b - 1] = tv;
            }
        for (size_t a = from; a < to;) {
            size_t col = m->idx[a];
            double sum = 0;
            for (; a < to && m->idx[a] == col; a++)
                sum += m->val[a];
            if (sum > 0) {
                /* strictly increasing columns: the transpose and the solves rely on it */
                assert(out == start || m->idx[out - 1] < col);
                m->idx[out] = col;
                m->val[out++] = sum;
            }
        }
        m->ptr[i] = start;
    }
    m->ptr[m->rows] = m->nnz = out;
}

int indiv_sparse_from_triplets(size_t rows, size_t cols, size_t n, const size_t *r,
                               const size_t *c, const double *v, indiv_sparse **out,
                               indiv_error *err) {
    *out = NULL;
    for (size_t k = 0; k < n; k++)
        if (r[k] >= rows || c[k] >= cols || !isfinite(v[k]))
            return indiv_error_set(
                err, INDIV_EINVAL,
                "interaction %zu: (%zu, %zu) outside %zu × %zu, or not "
                "finite",
                k, r[k], c[k], rows, cols);
    indiv_sparse *m = sparse_alloc(rows, cols, n);
    size_t *fill = malloc((rows + 1) * sizeof *fill);
    if (!m || !fill) {
        indiv_sparse_free(m);
        free(fill);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory for %zu interactions",
                               n);
    }
    bucket_rows(m, n, r, c, v, fill);
    free(fill);
    merge_rows(m);
    *out = m;
    return INDIV_OK;
}

int indiv_sparse_transpose(const indiv_sparse *m, indiv_sparse **out, indiv_error *err) {
    *out = NULL;
    indiv_sparse *t = sparse_alloc(m->cols, m->rows, m->nnz);
    size_t *fill = malloc((m->cols + 1) * sizeof *fill);
    if (!t || !fill) {
        indiv_sparse_free(t);
        free(fill);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory transposing");
    }
    for (size_t k = 0; k < m->nnz; k++)
        t->ptr[m->idx[k] + 1]++;
    for (size_t j = 0; j < m->cols; j++)
        t->ptr[j + 1] += t->ptr[j];
    memcpy(fill, t->ptr, m->cols * sizeof *fill);
    for (size_t i = 0; i < m->rows; i++) /* rows in order: columns of t come out sorted */
        for (size_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
            size_t at = fill[m->idx[k]]++;
            t->idx[at] = i;
            t->val[at] = m->val[k];
        }
    free(fill);
    *out = t;
    return INDIV_OK;
}

/* ---- ALS: parameters --------------------------------------------------------------- */

void indiv_als_params_init(indiv_als_params *p) {
    memset(p, 0, sizeof *p);
    p->dims = DEF_DIMS;
    p->iterations = DEF_ITERATIONS;
    p->alpha = DEF_ALPHA;
    p->lambda = DEF_LAMBDA;
    p->init_sd = DEF_INIT_SD;
    p->seed = 1;
    p->threads = DEF_THREADS;
}

int indiv_als_params_validate(const indiv_als_params *p, indiv_error *err) {
    if (p->dims < 1 || p->dims > INDIV_EMBEDDING_DIMS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "dims %zu is not in [1, %d]", p->dims,
                               INDIV_EMBEDDING_DIMS_MAX);
    if (p->iterations < 1)
        return indiv_error_set(err, INDIV_EINVAL, "iterations must be >= 1");
    if (!(p->alpha >= 0) || !isfinite(p->alpha))
        return indiv_error_set(err, INDIV_EINVAL, "alpha must be a finite number >= 0");
    if (!(p->lambda > 0) || !isfinite(p->lambda))
        return indiv_error_set(err, INDIV_EINVAL, "lambda must be a finite number > 0");
    if (!(p->init_sd > 0) || !isfinite(p->init_sd))
        return indiv_error_set(err, INDIV_EINVAL, "init_sd must be > 0");
    if (p->threads < 1 || p->threads > INDIV_TRAIN_THREADS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "threads must be in 1..%d",
                               INDIV_TRAIN_THREADS_MAX);
    return INDIV_OK;
}

/* ---- ALS: the handle --------------------------------------------------------------- */

/* One worker's workspace: the system A, its right-hand side b, the solution, and the
 * gather buffer z (longest row × dims). */
struct ws {
    gsl_matrix *a;
    gsl_vector *b, *x;
    double *z;
};

struct indiv_als {
    const indiv_sparse *r; /* consumers × offers */
    indiv_sparse *rt;      /* offers × consumers */
    indiv_als_params p;
    double *x, *y; /* rows × K, cols × K */
    double *gram;  /* K × K */
    struct ws ws[INDIV_TRAIN_THREADS_MAX];
    double last_sweep;
};

static size_t longest_row(const indiv_sparse *m) {
    size_t mx = 0;
    for (size_t i = 0; i < m->rows; i++)
        if (m->ptr[i + 1] - m->ptr[i] > mx)
            mx = m->ptr[i + 1] - m->ptr[i];
    return mx;
}

static int ws_init(struct ws *w, size_t k, size_t zrows) {
    w->a = gsl_matrix_alloc(k, k);
    w->b = gsl_vector_alloc(k);
    w->x = gsl_vector_alloc(k);
    w->z = malloc((zrows * k + 1) * sizeof *w->z);
    return w->a && w->b && w->x && w->z ? INDIV_OK : INDIV_ENOMEM;
}

static void ws_free(struct ws *w) {
    if (w->a)
        gsl_matrix_free(w->a);
    if (w->b)
        gsl_vector_free(w->b);
    if (w->x)
        gsl_vector_free(w->x);
    free(w->z);
}

void indiv_als_free(indiv_als *a) {
    if (!a)
        return;
    for (int t = 0; t < INDIV_TRAIN_THREADS_MAX; t++)
        ws_free(&a->ws[t]);
    indiv_sparse_free(a->rt);
    free(a->x);
    free(a->y);
    free(a->gram);
    free(a);
}

/* Offer factors N(0, init_sd^2), one stream per offer: independent of everything else. */
static int init_items(indiv_als *a) {
    gsl_rng *rng = indiv_rng_new(a->p.seed, 0, INDIV_RNG_TRAIN);
    if (!rng)
        return INDIV_ENOMEM;
    size_t k = a->p.dims;
    for (size_t i = 0; i < a->r->cols; i++) {
        indiv_rng_reseed(rng, a->p.seed, (uint64_t)i, INDIV_RNG_TRAIN);
        for (size_t d = 0; d < k; d++)
            a->y[i * k + d] = gsl_ran_gaussian(rng, a->p.init_sd);
    }
    gsl_rng_free(rng);
    return INDIV_OK;
}

static int als_alloc(indiv_als *a, indiv_error *err) {
    size_t k = a->p.dims;
    int rc = indiv_sparse_transpose(a->r, &a->rt, err);
    if (rc < 0)
        return rc;
    a->x = calloc(a->r->rows * k + 1, sizeof *a->x);
    a->y = calloc(a->r->cols * k + 1, sizeof *a->y);
    a->gram = calloc(k * k, sizeof *a->gram);
    size_t zrows =
        longest_row(a->r) > longest_row(a->rt) ? longest_row(a->r) : longest_row(a->rt);
    rc = a->x && a->y && a->gram ? INDIV_OK : INDIV_ENOMEM;
    for (int t = 0; rc == INDIV_OK && t < a->p.threads; t++)
        rc = ws_init(&a->ws[t], k, zrows);
    if (rc == INDIV_OK)
        rc = init_items(a);
    if (rc < 0)
        return indiv_error_set(err, rc, "out of memory for a %zu × %zu factorisation",
                               a->r->rows, a->r->cols);
    return INDIV_OK;
}

int indiv_als_new(const indiv_sparse *r, const indiv_als_params *p, indiv_als **out,
                  indiv_error *err) {
    *out = NULL;
    int rc = indiv_als_params_validate(p, err);
    if (rc < 0)
        return rc;
    indiv_als *a = calloc(1, sizeof *a);
    if (!a)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    a->r = r;
    a->p = *p;
    if ((rc = als_alloc(a, err)) < 0) {
        indiv_als_free(a);
        return rc;
    }
    *out = a;
    return INDIV_OK;
}

/* ---- ALS: one half-sweep ----------------------------------------------------------- */

/* Solving the rows of m from the fixed factors of the other side. */
struct half {
    const indiv_sparse *m;
    const double *fixed; /* m->cols × K */
    double *out;         /* m->rows × K */
    const double *gram;  /* fixed^T fixed */
    const indiv_als_params *p;
};

struct job {
    const struct half *h;
    struct ws *ws;
    size_t from, to;
    int rc;
};

/* x_u = (G + lambda I + Z^T Z)^-1 b, Z's rows sqrt(alpha r_ui) y_i, b = sum c_ui y_i
 * (Hu et al. 2008, eq. 4). */
static int solve_row(const struct half *h, struct ws *w, size_t u) {
    size_t k = h->p->dims, from = h->m->ptr[u], n = h->m->ptr[u + 1] - from;
    double *x = h->out + u * k;
    if (n == 0) { /* no interaction: the minimiser is 0 */
        memset(x, 0, k * sizeof *x);
        return GSL_SUCCESS;
    }
    memcpy(w->a->data, h->gram, k * k * sizeof(double));
    for (size_t d = 0; d < k; d++)
        w->a->data[d * k + d] += h->p->lambda;
    gsl_vector_set_zero(w->b);
    for (size_t j = 0; j < n; j++) {
        const double *yi = h->fixed + h->m->idx[from + j] * k;
        double r = h->m->val[from + j], s = sqrt(h->p->alpha * r),
               c = 1 + h->p->alpha * r;
        for (size_t d = 0; d < k; d++) {
            w->z[j * k + d] = s * yi[d];
            w->b->data[d] += c * yi[d];
        }
    }
    gsl_matrix_const_view z = gsl_matrix_const_view_array(w->z, n, k);
    int rc = gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0, &z.matrix, 1.0, w->a);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_decomp1(w->a);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_solve(w->a, w->b, w->x);
    if (rc == GSL_SUCCESS)
        memcpy(x, w->x->data, k * sizeof *x);
    return rc;
}

static void *run_job(void *arg) {
    struct job *j = arg;
    j->rc = GSL_SUCCESS;
    for (size_t u = j->from; u < j->to && j->rc == GSL_SUCCESS; u++)
        j->rc = solve_row(j->h, j->ws, u);
    return NULL;
}

/* G = F^T F (lower triangle by dsyrk, then mirrored: the loss reads it whole). */
static int gram(const double *f, size_t n, size_t k, double *g) {
    gsl_matrix_const_view F = gsl_matrix_const_view_array(f, n, k);
    gsl_matrix_view G = gsl_matrix_view_array(g, k, k);
    int rc = n ? gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0, &F.matrix, 0.0, &G.matrix)
               : (memset(g, 0, k * k * sizeof *g), GSL_SUCCESS);
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++)
            g[a * k + b] = g[b * k + a];
    return rc;
}

/* Splits rows into `parts` contiguous ranges of about equal cost (n_u + dims per row:
 * the gather and rank update, plus the solve). */
static void split_rows(const indiv_sparse *m, size_t k, int parts, size_t *bounds) {
    double total = (double)m->nnz + (double)m->rows * (double)k, acc = 0;
    int p = 1;
    bounds[0] = 0;
    for (size_t u = 0; u < m->rows && p < parts; u++) {
        acc += (double)(m->ptr[u + 1] - m->ptr[u]) + (double)k;
        if (acc >= total * p / parts)
            bounds[p++] = u + 1;
    }
    while (p <= parts)
        bounds[p++] = m->rows;
}

static int half_sweep(indiv_als *a, const struct half *h, indiv_error *err) {
    int nt = a->p.threads, rc = gram(h->fixed, h->m->cols, a->p.dims, a->gram);
    size_t bounds[INDIV_TRAIN_THREADS_MAX + 1];
    struct job jobs[INDIV_TRAIN_THREADS_MAX];
    pthread_t tid[INDIV_TRAIN_THREADS_MAX];
    int started[INDIV_TRAIN_THREADS_MAX] = {0};
    if (rc != GSL_SUCCESS)
        return indiv_error_set(err, INDIV_EINVAL, "ALS Gram matrix: %s",
                               gsl_strerror(rc));
    split_rows(h->m, a->p.dims, nt, bounds);
    for (int t = 0; t < nt; t++) {
        jobs[t] = (struct job){h, &a->ws[t], bounds[t], bounds[t + 1], 0};
        started[t] = nt > 1 && pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
    }
    for (int t = 0; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            run_job(&jobs[t]); /* one thread, or creation failed: work here */
    }
    for (int t = 0; t < nt; t++)
        if (jobs[t].rc != GSL_SUCCESS)
            return indiv_error_set(err, INDIV_EINVAL, "ALS solve failed: %s",
                                   gsl_strerror(jobs[t].rc));
    return INDIV_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int indiv_als_iterate(indiv_als *a, indiv_error *err) {
    double t0 = now_s();
    struct half users = {a->r, a->y, a->x, a->gram, &a->p};
    struct half items = {a->rt, a->x, a->y, a->gram, &a->p};
    int rc = half_sweep(a, &users, err);
    if (rc == INDIV_OK)
        rc = half_sweep(a, &items, err);
    a->last_sweep = now_s() - t0;
    return rc;
}

int indiv_als_fit(indiv_als *a, indiv_progress_fn progress, void *ctx, indiv_error *err) {
    int rc = INDIV_OK;
    for (int it = 0; it < a->p.iterations && rc == INDIV_OK; it++) {
        rc = indiv_als_iterate(a, err);
        if (progress)
            progress(ctx, "als", it + 1, a->p.iterations);
    }
    return rc;
}

/* ---- ALS: results ------------------------------------------------------------------ */

static double dot(const double *a, const double *b, size_t k) {
    double s = 0;
    for (size_t d = 0; d < k; d++)
        s += a[d] * b[d];
    return s;
}

/* sum over all pairs of (x_u · y_i)^2 = trace(X^T X Y^T Y), then the observed pairs'
 * correction c (1 - s)^2 - s^2, then the ridge. */
double indiv_als_loss(const indiv_als *a) {
    size_t k = a->p.dims;
    double *gx = malloc(k * k * sizeof *gx), *gy = malloc(k * k * sizeof *gy), l = 0;
    if (!gx || !gy) {
        free(gx);
        free(gy);
        return NAN;
    }
    gram(a->x, a->r->rows, k, gx);
    gram(a->y, a->r->cols, k, gy);
    for (size_t d = 0; d < k * k; d++)
        l += gx[d] * gy[d];
    for (size_t u = 0; u < a->r->rows; u++)
        for (size_t e = a->r->ptr[u]; e < a->r->ptr[u + 1]; e++) {
            double s = dot(a->x + u * k, a->y + a->r->idx[e] * k, k);
            l += (1 + a->p.alpha * a->r->val[e]) * (1 - s) * (1 - s) - s * s;
        }
    for (size_t d = 0; d < k; d++)
        l += a->p.lambda * (gx[d * k + d] + gy[d * k + d]);
    free(gx);
    free(gy);
    return l;
}

const double *indiv_als_users(const indiv_als *a) {
    return a->x;
}

const double *indiv_als_items(const indiv_als *a) {
    return a->y;
}

double indiv_als_last_sweep_seconds(const indiv_als *a) {
    return a->last_sweep;
}

int indiv_als_whiten(const indiv_als *a, double lambda, double *f, indiv_error *err) {
    size_t k = a->p.dims, n = a->r->cols;
    gsl_matrix *l = gsl_matrix_alloc(k, k);
    if (!l)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    gram(a->y, n, k, l->data);
    for (size_t d = 0; d < k; d++)
        l->data[d * k + d] += lambda;
    memcpy(f, a->y, n * k * sizeof *f);
    gsl_matrix_view F = gsl_matrix_view_array(f, n, k);
    int rc = gsl_linalg_cholesky_decomp1(l); /* L in the lower triangle */
    if (rc == GSL_SUCCESS && n)
        rc = gsl_blas_dtrsm(CblasRight, CblasLower, CblasTrans, CblasNonUnit, 1.0, l,
                            &F.matrix); /* F L^T = Y */
    gsl_matrix_free(l);
    if (rc != GSL_SUCCESS)
        return indiv_error_set(err, INDIV_EINVAL, "whitening failed: %s",
                               gsl_strerror(rc));
    return INDIV_OK;
}

/* ---- logistic regression ----------------------------------------------------------- */

/* Workspace of one fit. */
struct logit_ws {
    const double *x, *y, *w;
    size_t n, p;
    double ridge;
    double *eta, *v, *xs; /* n, n, n × p */
    gsl_matrix *h;        /* p × p */
    gsl_vector *g, *delta;
};

static double sigmoid(double z) {
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* log(1 + e^z) without overflow. */
static double log1pexp(double z) {
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* Penalised objective: weighted negative log-likelihood + ridge/2 |beta|^2; fills eta. */
static double logit_objective(struct logit_ws *s, const double *beta) {
    gsl_matrix_const_view X = gsl_matrix_const_view_array(s->x, s->n, s->p);
    gsl_vector_const_view b = gsl_vector_const_view_array(beta, s->p);
    gsl_vector_view e = gsl_vector_view_array(s->eta, s->n);
    gsl_blas_dgemv(CblasNoTrans, 1.0, &X.matrix, &b.vector, 0.0, &e.vector);
    double nll = 0;
    for (size_t i = 0; i < s->n; i++) /* -[y z - log(1 + e^z)] */
        nll += (s->w ? s->w[i] : 1.0) * (log1pexp(s->eta[i]) - s->y[i] * s->eta[i]);
    return nll + 0.5 * s->ridge * dot(beta, beta, s->p);
}

/* Hessian H = X^T W X + ridge I and gradient g = X^T (w (y - mu)) - ridge beta at the
 * eta left by logit_objective. */
static int logit_newton_system(struct logit_ws *s, const double *beta) {
    for (size_t i = 0; i < s->n; i++) {
        double mu = sigmoid(s->eta[i]), wi = s->w ? s->w[i] : 1.0;
        double r = sqrt(wi * mu * (1 - mu));
        for (size_t j = 0; j < s->p; j++)
            s->xs[i * s->p + j] = r * s->x[i * s->p + j];
        s->v[i] = wi * (s->y[i] - mu);
    }
    gsl_matrix_const_view X = gsl_matrix_const_view_array(s->x, s->n, s->p);
    gsl_matrix_const_view Xs = gsl_matrix_const_view_array(s->xs, s->n, s->p);
    gsl_vector_const_view v = gsl_vector_const_view_array(s->v, s->n);
    gsl_matrix_set_identity(s->h);
    gsl_matrix_scale(s->h, s->ridge);
    int rc = gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0, &Xs.matrix, 1.0, s->h);
    if (rc == GSL_SUCCESS)
        rc = gsl_blas_dgemv(CblasTrans, 1.0, &X.matrix, &v.vector, 0.0, s->g);
    for (size_t j = 0; j < s->p; j++)
        s->g->data[j] -= s->ridge * beta[j];
    return rc;
}

/* Step-halving bound: a Newton step that does not lower the objective is halved at most
 * this many times (the log-likelihood is concave, so this only guards round-off). */
#define LOGIT_MAX_HALVINGS 30

/* One Newton step with step halving; *moved gets the largest coefficient change. */
static int logit_step(struct logit_ws *s, double *beta, double *obj, double *moved) {
    int rc = logit_newton_system(s, beta);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_decomp1(s->h);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_solve(s->h, s->g, s->delta);
    if (rc != GSL_SUCCESS)
        return rc;
    double step = 1, *old = s->v; /* v is free until the next system */
    memcpy(old, beta, s->p * sizeof *old);
    for (int h = 0; h <= LOGIT_MAX_HALVINGS; h++, step /= 2) {
        for (size_t j = 0; j < s->p; j++)
            beta[j] = old[j] + step * s->delta->data[j];
        double o = logit_objective(s, beta);
        if (o <= *obj || h == LOGIT_MAX_HALVINGS) {
            *obj = o;
            break;
        }
    }
    *moved = 0;
    for (size_t j = 0; j < s->p; j++)
        *moved = fmax(*moved, fabs(beta[j] - old[j]));
    return GSL_SUCCESS;
}

static void logit_ws_free(struct logit_ws *s) {
    free(s->eta);
    free(s->v);
    free(s->xs);
    if (s->h)
        gsl_matrix_free(s->h);
    if (s->g)
        gsl_vector_free(s->g);
    if (s->delta)
        gsl_vector_free(s->delta);
}

/* Standard errors from the (penalised) Hessian at beta: sqrt(diag(H^-1)). */
static int logit_se(struct logit_ws *s, const double *beta, double *se) {
    logit_objective(s, beta);
    int rc = logit_newton_system(s, beta);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_decomp1(s->h);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_invert(s->h);
    for (size_t j = 0; rc == GSL_SUCCESS && j < s->p; j++)
        se[j] = sqrt(gsl_matrix_get(s->h, j, j));
    return rc;
}

int indiv_logit_fit(const double *x, const double *y, const double *w, size_t n, size_t p,
                    double ridge, int max_iter, double tol, double *beta, double *se,
                    indiv_logit_stats *st, indiv_error *err) {
    if (n == 0 || p == 0 || !(ridge >= 0) || max_iter < 1 || !(tol > 0))
        return indiv_error_set(err, INDIV_EINVAL, "logistic fit: bad arguments");
    struct logit_ws s = {x,
                         y,
                         w,
                         n,
                         p,
                         ridge,
                         malloc(n * sizeof(double)),
                         malloc((n > p ? n : p) * sizeof(double)),
                         malloc(n * p * sizeof(double)),
                         gsl_matrix_alloc(p, p),
                         gsl_vector_alloc(p),
                         gsl_vector_alloc(p)};
    indiv_logit_stats local = {0};
    int rc = s.eta && s.v && s.xs && s.h && s.g && s.delta ? GSL_SUCCESS : GSL_ENOMEM;
    memset(beta, 0, p * sizeof *beta);
    double obj = rc == GSL_SUCCESS ? logit_objective(&s, beta) : 0, moved = INFINITY;
    while (rc == GSL_SUCCESS && local.iterations < max_iter && !(moved < tol)) {
        rc = logit_step(&s, beta, &obj, &moved);
        local.iterations++;
    }
    local.converged = moved < tol;
    local.deviance = 2 * (obj - 0.5 * ridge * dot(beta, beta, p));
    if (rc == GSL_SUCCESS && se)
        rc = logit_se(&s, beta, se);
    logit_ws_free(&s);
    if (st)
        *st = local;
    if (rc == GSL_ENOMEM)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory for %zu examples", n);
    if (rc != GSL_SUCCESS)
        return indiv_error_set(err, INDIV_EINVAL,
                               "logistic fit: the Hessian is singular (%s); a feature is "
                               "constant or collinear, or a ridge > 0 is needed",
                               gsl_strerror(rc));
    return INDIV_OK;
}
