/*
 * score.c — the block scorer: taste block × offer features with one dgemm (OpenBLAS).
 *
 * With src/train.c, the only file of indiv that calls BLAS. Memory per block: B × d
 * (tastes) + B × n (affinities) doubles, allocated once per workspace; nothing is
 * allocated while scoring.
 */
#include "indiv/score.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>

/* OpenBLAS's own control (cblas.h of OpenBLAS declares it; GSL's headers do not). */
void openblas_set_num_threads(int num_threads);

struct indiv_scorer {
    const indiv_catalog *cat;
    indiv_model model;
    size_t n, d;
    double *offer_term; /* c_j */
};

struct indiv_score_block {
    size_t cap, n, d;
    double *x;            /* cap × d */
    double *aff;          /* cap × n */
    double *u;            /* cap: per-consumer logit term */
    double *ready, *freq; /* cap: its inputs, kept for the drivers */
};

int indiv_scorer_new(const indiv_model *m, const indiv_catalog *cat, indiv_scorer **out,
                     indiv_error *err) {
    *out = NULL;
    char want[INDIV_MODEL_ID_MAX + 16]; /* "category" or "embedding:<model id>" */
    indiv_model_feature_source(m, want, sizeof want);
    if (strcmp(want, indiv_catalog_feature_source(cat)) != 0)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "model %s uses feature space '%s' but the catalog has '%s'", m->id, want,
            indiv_catalog_feature_source(cat));
    indiv_scorer *s = calloc(1, sizeof *s);
    if (!s || !(s->offer_term = malloc(indiv_catalog_size(cat) * sizeof(double)))) {
        free(s);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    s->cat = cat;
    s->model = *m;
    s->n = indiv_catalog_size(cat);
    s->d = indiv_catalog_dims(cat);
    const double *pop = indiv_catalog_popularity(cat);
    for (size_t j = 0; j < s->n; j++)
        s->offer_term[j] = m->intercept + m->weight[INDIV_TERM_POPULARITY] * pop[j];
    indiv_blas_single_thread();
    *out = s;
    return INDIV_OK;
}

void indiv_scorer_free(indiv_scorer *s) {
    if (!s)
        return;
    free(s->offer_term);
    free(s);
}

indiv_score_block *indiv_score_block_new(const indiv_scorer *s, size_t rows) {
    indiv_score_block *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = rows ? rows : 1;
    b->n = s->n;
    b->d = s->d;
    b->x = calloc(b->cap * (b->d ? b->d : 1), sizeof *b->x);
    b->aff = calloc(b->cap * b->n, sizeof *b->aff);
    b->u = calloc(b->cap, sizeof *b->u);
    b->ready = calloc(b->cap, sizeof *b->ready);
    b->freq = calloc(b->cap, sizeof *b->freq);
    if (!b->x || !b->aff || !b->u || !b->ready || !b->freq) {
        indiv_score_block_free(b);
        return NULL;
    }
    return b;
}

void indiv_score_block_free(indiv_score_block *b) {
    if (!b)
        return;
    free(b->x);
    free(b->aff);
    free(b->u);
    free(b->ready);
    free(b->freq);
    free(b);
}

static double frequency(const indiv_profile *pr) {
    double f = log1p(pr->orders) / log1p(INDIV_FREQUENCY_SCALE);
    return f > 1 ? 1 : f;
}

/* Taste as shares of its positive mass: affinity to a one-hot category is then the share
 * of the person's (decayed) interest that goes to that category. */
static void taste_share(const double *t, size_t d, double *x) {
    double mass = 0;
    for (size_t k = 0; k < d; k++)
        mass += t[k] > 0 ? t[k] : 0;
    for (size_t k = 0; mass > 0 && k < d; k++)
        x[k] = t[k] > 0 ? t[k] / mass : 0;
}

/* Taste scaled to unit length: embedding coordinates have no sign to keep, and the
 * product with an offer's vector is then its projection on the direction of the
 * person's tastes, whatever the length of their history. */
static void taste_l2(const double *t, size_t d, double *x) {
    double norm = 0;
    for (size_t k = 0; k < d; k++)
        norm += t[k] * t[k];
    norm = sqrt(norm);
    for (size_t k = 0; norm > 0 && k < d; k++)
        x[k] = t[k] / norm;
}

void indiv_score_set_row(const indiv_scorer *s, indiv_score_block *b, size_t i,
                         const indiv_profile *pr, double readiness) {
    assert(i < b->cap && b->d == s->d && b->n == s->n); /* a block of this scorer */
    double *x = b->x + i * b->d;
    memset(x, 0, b->d * sizeof *x);
    b->ready[i] = b->freq[i] = 0;
    if (pr && (pr->features & INDIV_FEAT_TASTE) && pr->dims == b->d) {
        if (indiv_model_taste_norm(&s->model) == INDIV_TASTE_NORM_L2)
            taste_l2(pr->taste, b->d, x);
        else
            taste_share(pr->taste, b->d, x);
    }
    if (pr && (pr->features & INDIV_FEAT_RHYTHM)) {
        b->ready[i] = readiness;
        b->freq[i] = frequency(pr);
    }
    const double *w = s->model.weight;
    b->u[i] =
        w[INDIV_TERM_READINESS] * b->ready[i] + w[INDIV_TERM_FREQUENCY] * b->freq[i];
}

int indiv_score_run(const indiv_scorer *s, indiv_score_block *b, size_t nrows,
                    indiv_error *err) {
    if (nrows == 0)
        return INDIV_OK;
    if (nrows > b->cap)
        return indiv_error_set(err, INDIV_EINVAL, "block of %zu rows > capacity %zu",
                               nrows, b->cap);
    /* The block and the catalog's matrix still have the shape the scorer was made for:
     * features replaced after indiv_scorer_new would be multiplied with the wrong d. */
    assert(b->d == s->d && b->n == s->n);
    assert(indiv_catalog_dims(s->cat) == s->d && indiv_catalog_size(s->cat) == s->n);
    gsl_matrix_const_view X = gsl_matrix_const_view_array(b->x, nrows, s->d);
    gsl_matrix_const_view F =
        gsl_matrix_const_view_array(indiv_catalog_matrix(s->cat), s->n, s->d);
    gsl_matrix_view A = gsl_matrix_view_array(b->aff, nrows, s->n);
    int rc = gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, &X.matrix, &F.matrix, 0.0,
                            &A.matrix);
    if (rc != GSL_SUCCESS)
        return indiv_error_set(err, INDIV_EINVAL, "dgemm failed: %s", gsl_strerror(rc));
    return INDIV_OK;
}

const double *indiv_score_affinity(const indiv_score_block *b, size_t i) {
    return b->aff + i * b->n;
}

double indiv_score_logit(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                         size_t j) {
    assert(i < b->cap && j < b->n);
    return s->offer_term[j] + b->u[i] +
           s->model.weight[INDIV_TERM_AFFINITY] * b->aff[i * b->n + j];
}

double indiv_sigmoid(double z) {
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

double indiv_logit(double p) {
    if (p <= 0)
        return -INFINITY;
    if (p >= 1)
        return INFINITY;
    return log(p / (1 - p));
}

double indiv_score_propensity(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                              size_t j) {
    return indiv_sigmoid(indiv_score_logit(s, b, i, j));
}

void indiv_score_terms(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                       size_t j, double terms[INDIV_TERM_COUNT]) {
    const double *w = s->model.weight;
    terms[INDIV_TERM_AFFINITY] = w[INDIV_TERM_AFFINITY] * b->aff[i * b->n + j];
    terms[INDIV_TERM_POPULARITY] =
        w[INDIV_TERM_POPULARITY] * indiv_catalog_popularity(s->cat)[j];
    terms[INDIV_TERM_READINESS] = w[INDIV_TERM_READINESS] * b->ready[i];
    terms[INDIV_TERM_FREQUENCY] = w[INDIV_TERM_FREQUENCY] * b->freq[i];
}

const double *indiv_scorer_offer_terms(const indiv_scorer *s) {
    return s->offer_term;
}

double indiv_scorer_affinity_weight(const indiv_scorer *s) {
    return s->model.weight[INDIV_TERM_AFFINITY];
}

double indiv_score_consumer_term(const indiv_score_block *b, size_t i) {
    return b->u[i];
}

void indiv_blas_single_thread(void) {
    openblas_set_num_threads(1);
}
