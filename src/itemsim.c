/*
 * itemsim.c — EASE and cosine item-kNN similarities (formulas and references in
 * itemsim.h).
 *
 * BLAS callers besides score.c and train.c: the Cholesky factorisation and inversion of
 * an n × n matrix (GSL's recursive level-3 algorithms over OpenBLAS). Everything else is
 * plain loops over the sparse rows.
 */
#include "indiv/itemsim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

int indiv_itemsim_compact(const indiv_sparse *x, indiv_sparse **out, size_t **cols,
                          size_t *n_cols, indiv_error *err) {
    size_t *map = malloc((x->cols + 1) * sizeof *map), n = 0;
    size_t *r = malloc((x->nnz + 1) * sizeof *r), *c = malloc((x->nnz + 1) * sizeof *c);
    *out = NULL;
    *cols = NULL;
    int rc = map && r && c ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t j = 0; rc == INDIV_OK && j < x->cols; j++)
        map[j] = SIZE_MAX;
    for (size_t e = 0; rc == INDIV_OK && e < x->nnz; e++)
        map[x->idx[e]] = 0;
    for (size_t j = 0; rc == INDIV_OK && j < x->cols; j++)
        if (map[j] == 0)
            map[n++] = j; /* map[k] = k-th active column (k <= j: in place is safe) */
    size_t *inv = rc == INDIV_OK ? calloc(x->cols + 1, sizeof *inv) : NULL;
    if (rc == INDIV_OK && !inv)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t k = 0; rc == INDIV_OK && k < n; k++)
        inv[map[k]] = k;
    for (size_t u = 0; rc == INDIV_OK && u < x->rows; u++)
        for (size_t e = x->ptr[u]; e < x->ptr[u + 1]; e++) {
            r[e] = u;
            c[e] = inv[x->idx[e]];
        }
    if (rc == INDIV_OK)
        rc = indiv_sparse_from_triplets(x->rows, n, x->nnz, r, c, x->val, out, err);
    free(inv);
    free(r);
    free(c);
    if (rc < 0) {
        free(map);
        return rc;
    }
    *cols = map;
    *n_cols = n;
    return INDIV_OK;
}

int indiv_itemsim_gram(const indiv_sparse *x, double *g, indiv_error *err) {
    size_t n = x->cols;
    if (!g)
        return indiv_error_set(err, INDIV_EINVAL, "no Gram matrix buffer");
    memset(g, 0, n * n * sizeof *g);
    for (size_t u = 0; u < x->rows; u++)
        for (size_t a = x->ptr[u]; a < x->ptr[u + 1]; a++) {
            double *row = g + x->idx[a] * n;
            for (size_t b = x->ptr[u]; b < x->ptr[u + 1]; b++)
                row[x->idx[b]] += 1;
        }
    return INDIV_OK;
}

int indiv_itemsim_ease(double *g, size_t n, double lambda, indiv_error *err) {
    if (!(lambda > 0) || !isfinite(lambda))
        return indiv_error_set(err, INDIV_EINVAL, "EASE lambda %g must be > 0", lambda);
    if (n == 0)
        return INDIV_OK;
    for (size_t i = 0; i < n; i++)
        g[i * n + i] += lambda;
    gsl_matrix_view m = gsl_matrix_view_array(g, n, n);
    int rc = gsl_linalg_cholesky_decomp1(&m.matrix);
    if (rc == GSL_SUCCESS)
        rc = gsl_linalg_cholesky_invert(&m.matrix); /* P = (G + lambda I)^-1, full */
    if (rc != GSL_SUCCESS)
        return indiv_error_set(err, INDIV_EINVAL, "EASE: G + %g I is not positive "
                               "definite (%s)", lambda, gsl_strerror(rc));
    /* B_ij = -P_ij / P_jj: column j divided by its diagonal (Steck 2019, eq. 8). */
    double *inv_diag = malloc(n * sizeof *inv_diag);
    if (!inv_diag)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t j = 0; j < n; j++)
        inv_diag[j] = 1.0 / g[j * n + j];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            g[i * n + j] = i == j ? 0 : -g[i * n + j] * inv_diag[j];
    free(inv_diag);
    return INDIV_OK;
}

void indiv_itemsim_cosine(double *g, size_t n) {
    double *norm = malloc((n + 1) * sizeof *norm);
    if (!norm) { /* cannot normalise: leave a matrix that scores nothing */
        memset(g, 0, n * n * sizeof *g);
        return;
    }
    for (size_t i = 0; i < n; i++)
        norm[i] = g[i * n + i] > 0 ? 1.0 / sqrt(g[i * n + i]) : 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            g[i * n + j] = i == j ? 0 : g[i * n + j] * norm[i] * norm[j];
    free(norm);
}

/* Min-heap of (value, column) by value, ties: the higher column is "smaller" (evicted
 * first), so the lower column index wins a tie. */
struct hv {
    double v;
    size_t j;
};

static int hv_less(const struct hv *a, const struct hv *b) {
    return a->v < b->v || (a->v == b->v && a->j > b->j);
}

static void hv_down(struct hv *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && hv_less(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && hv_less(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        struct hv t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void hv_up(struct hv *h, size_t i) {
    while (i > 0 && hv_less(&h[i], &h[(i - 1) / 2])) {
        struct hv t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int cmp_col(const void *a, const void *b) {
    size_t x = ((const struct hv *)a)->j, y = ((const struct hv *)b)->j;
    return (x > y) - (x < y);
}

/* The k largest positive values of one row, sorted by column, into h; returns count. */
static size_t row_topk(const double *row, size_t n, size_t k, struct hv *h) {
    size_t used = 0;
    for (size_t j = 0; j < n && k > 0; j++) {
        if (!(row[j] > 0))
            continue;
        struct hv c = {row[j], j};
        if (used < k) {
            h[used] = c;
            hv_up(h, used++);
        } else if (hv_less(&h[0], &c)) {
            h[0] = c;
            hv_down(h, k, 0);
        }
    }
    qsort(h, used, sizeof *h, cmp_col);
    return used;
}

int indiv_itemsim_topk(const double *s, size_t n, size_t k, indiv_sparse **out,
                       indiv_error *err) {
    *out = NULL;
    size_t kk = k < n ? k : n;
    indiv_sparse *m = calloc(1, sizeof *m);
    struct hv *h = malloc((kk + 1) * sizeof *h);
    if (m) {
        m->rows = m->cols = n;
        m->ptr = calloc(n + 1, sizeof *m->ptr);
        m->idx = malloc((n * kk + 1) * sizeof *m->idx);
        m->val = malloc((n * kk + 1) * sizeof *m->val);
    }
    if (!m || !h || !m->ptr || !m->idx || !m->val) {
        free(h);
        indiv_sparse_free(m);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory for %zu × %zu "
                               "neighbours", n, kk);
    }
    for (size_t i = 0; i < n; i++) {
        size_t used = row_topk(s + i * n, n, kk, h);
        for (size_t a = 0; a < used; a++) {
            m->idx[m->nnz] = h[a].j;
            m->val[m->nnz++] = h[a].v;
        }
        m->ptr[i + 1] = m->nnz;
    }
    free(h);
    *out = m;
    return INDIV_OK;
}

void indiv_itemsim_score(const double *s, const indiv_sparse *sp, size_t n,
                         const size_t *hist, size_t n_hist, double *score) {
    for (size_t a = 0; a < n_hist; a++) {
        size_t i = hist[a];
        if (s) {
            const double *row = s + i * n;
            for (size_t j = 0; j < n; j++)
                score[j] += row[j];
        } else if (sp && i < sp->rows) {
            for (size_t e = sp->ptr[i]; e < sp->ptr[i + 1]; e++)
                score[sp->idx[e]] += sp->val[e];
        }
    }
}
