/*
 * score.c — the block scorer: taste block × offer features with one dgemm (OpenBLAS).
 *
 * With src/train.c, the only file of indiv that calls BLAS. Memory per block: B × d
 * (tastes) + 2 B × n (affinities, sparse history terms) doubles, the rows' histories
 * and a scratch row per offer, allocated once per workspace; nothing is allocated
 * while scoring. The history terms are computed with the same operations in the same
 * order whatever the shortcuts taken (tests/test_score.c compares them bit for bit
 * with a plain computation), so decisions do not depend on them.
 */
#include "indiv/score.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_sf_gamma.h>

#include "indiv/timeutil.h"

/* OpenBLAS's own control (cblas.h of OpenBLAS declares it; GSL's headers do not). */
void openblas_set_num_threads(int num_threads);

/* Counts of purchase occasions whose log1p the scorer keeps (the same bits as log1p). */
#define SCORE_LOG1P_N 256

struct indiv_scorer {
    const indiv_catalog *cat;
    indiv_model model;
    size_t n, d;
    double *offer_term; /* c_j */
    indiv_repeat_params repeat;
    /* P(k0, x) of the prior's shape k0 (offers bought on fewer than 3 occasions: most
     * of a history) on its own finer grid in √x, or NULL (score.c, the item readiness) */
    double k0;
    double *p0;
    int shape1; /* the shape of an offer bought once exists (k0, it1 = 1 / scale) */
    double it1;
    double log1p_n[SCORE_LOG1P_N]; /* log1p(n): the repeat_frequency of n occasions */
    /* item-to-item neighbours by catalog index (CSR), when the model has them; 32-bit
     * indices (the catalog has fewer than 2^32 offers): the scatter's loads are smaller
     */
    size_t *nb_ptr;
    uint32_t *nb_idx;
    double *nb_w;
    double *nb_wi; /* w_item_item · nb_w, or NULL when the term is 0 or absent */
    int nb_unique; /* no offer twice in a row of neighbours (scatter_unique applies) */
    /* the model's weights_bought minus weight[] (affinity, popularity, item_item):
     * added to the offers of a person's history; has_bought 0 when all three are 0 */
    int has_bought;
    double d_aff, d_pop, d_ii;
    /* when every row of F has at most one nonzero (the one-hot category features): its
     * column, for the dot products of weights_bought (bought_affinities); else NULL.
     * onehot_of is the matrix it was read from. */
    uint32_t *onehot;
    const double *onehot_of;
};

/* Repeat features of one offer of a row's history. */
struct hist_feat {
    size_t j;
    double f[3]; /* repeat, repeat_frequency, repeat_readiness */
};

/* One entry of a row's history on its way to its repeat features (history_features). */
struct hist_work {
    double occ, mean, cv2, since, k, it;
    int shaped; /* indiv_repeat_shape gave a shape */
};

struct indiv_score_block {
    size_t cap, n, d;
    double *x;                  /* cap × d */
    double *aff;                /* cap × n */
    double *u;                  /* cap: per-consumer logit term (owns the 6 below) */
    double *ready, *freq;       /* cap: its inputs, kept for the drivers */
    double *orders;             /* cap: purchase occasions (the act model's input) */
    double *recency, *rebought; /* cap: the act model's other inputs (set_history) */
    double *strength;           /* cap: ... and the repeat strength (set_history) */
    double *xr;             /* cap × n: the weighted sparse terms (repeat, item-item) */
    struct hist_feat *hist; /* cap × hcap */
    size_t *n_hist, hcap;
    struct hist_work *work; /* hcap: one row's history entries (history_features) */
    double *iis;            /* n: Σ S(k, ·) over one row's history, zero between rows */
    unsigned char *mark;    /* n: the offers of one row's history, zero between rows */
};

/* History entries scored per person: the profile keeps at most history_max (default
 * 64); a larger stored history is truncated to its first entries here. */
#define SCORE_HISTORY_MAX 256

struct nb_entry {
    uint32_t idx;
    double w;
};

static int nb_entry_cmp(const void *a, const void *b) {
    uint32_t x = ((const struct nb_entry *)a)->idx, y = ((const struct nb_entry *)b)->idx;
    return (x > y) - (x < y);
}

/* When no row names an offer twice, each row of neighbours in increasing offer index:
 * item_sum then finds an offer by binary search, and the scatter writes the score row
 * in address order. Each x(i, j) still gets one addition per past offer, in history
 * order, whatever the order inside a row: the same bits. */
static int sort_neighbours(indiv_scorer *s) {
    size_t len = 0;
    for (size_t j = 0; s->nb_unique && j < s->n; j++)
        len = s->nb_ptr[j + 1] - s->nb_ptr[j] > len ? s->nb_ptr[j + 1] - s->nb_ptr[j] : len;
    if (!s->nb_unique || len < 2)
        return INDIV_OK;
    struct nb_entry *t = malloc(len * sizeof *t);
    if (!t)
        return INDIV_ENOMEM;
    for (size_t j = 0; j < s->n; j++) {
        size_t a = s->nb_ptr[j], m = s->nb_ptr[j + 1] - a;
        for (size_t e = 0; e < m; e++)
            t[e] = (struct nb_entry){s->nb_idx[a + e], s->nb_w[a + e]};
        qsort(t, m, sizeof *t, nb_entry_cmp);
        for (size_t e = 0; e < m; e++) {
            s->nb_idx[a + e] = t[e].idx;
            s->nb_w[a + e] = t[e].w;
        }
    }
    free(t);
    return INDIV_OK;
}

/* The model's neighbours (by offer source id) as a CSR by catalog index; neighbours
 * that are not in the catalog are dropped. n binary searches, no hash table. */
static int map_neighbours(indiv_scorer *s, const indiv_item_neighbours *nb) {
    size_t *to_cat = malloc((nb->n + 1) * sizeof *to_cat),
           *row = malloc((s->n + 1) * sizeof *row);
    s->nb_ptr = calloc(s->n + 1, sizeof *s->nb_ptr);
    s->nb_idx = malloc((nb->ptr[nb->n] + 1) * sizeof *s->nb_idx);
    s->nb_w = malloc((nb->ptr[nb->n] + 1) * sizeof *s->nb_w);
    int ok = to_cat && row && s->nb_ptr && s->nb_idx && s->nb_w;
    for (size_t r = 0; ok && r < nb->n; r++)
        to_cat[r] = SIZE_MAX;
    for (size_t j = 0; ok && j < s->n; j++)
        if ((row[j] = indiv_item_neighbours_find(
                 nb, indiv_catalog_offer(s->cat, j)->ext_id)) != SIZE_MAX)
            to_cat[row[j]] = j;
    for (size_t j = 0, at = 0; ok && j < s->n; j++) {
        for (size_t e = row[j] == SIZE_MAX ? 0 : nb->ptr[row[j]];
             row[j] != SIZE_MAX && e < nb->ptr[row[j] + 1]; e++)
            if (to_cat[nb->idx[e]] != SIZE_MAX) {
                s->nb_idx[at] = (uint32_t)to_cat[nb->idx[e]];
                s->nb_w[at++] = nb->w[e];
            }
        s->nb_ptr[j + 1] = at;
    }
    /* Whether some row names an offer twice (a model file may): row[] is reused as the
     * last row in which each offer was seen. */
    s->nb_unique = ok;
    for (size_t j = 0; ok && j < s->n; j++)
        row[j] = SIZE_MAX;
    for (size_t j = 0; ok && j < s->n; j++)
        for (size_t e = s->nb_ptr[j]; e < s->nb_ptr[j + 1]; e++) {
            s->nb_unique &= row[s->nb_idx[e]] != j;
            row[s->nb_idx[e]] = j;
        }
    free(to_cat);
    free(row);
    return ok ? sort_neighbours(s) : INDIV_ENOMEM;
}

/* The neighbour weights times the term's weight, once: the per-person scatter then only
 * adds (the same products, so the same bits as multiplying there). */
static int weigh_neighbours(indiv_scorer *s) {
    double wi = s->model.weight[INDIV_TERM_ITEM_ITEM];
    size_t nnz = s->nb_ptr[s->n];
    if (wi == 0)
        return INDIV_OK;
    if (!(s->nb_wi = malloc((nnz + 1) * sizeof *s->nb_wi)))
        return INDIV_ENOMEM;
    for (size_t e = 0; e < nnz; e++)
        s->nb_wi[e] = wi * s->nb_w[e];
    return INDIV_OK;
}

/* The corrections of the offers bought (indiv_bought_weights): none for older models. */
static void set_bought(indiv_scorer *s, const indiv_model *m) {
    if (!m->bought.present)
        return;
    s->d_aff = m->bought.affinity - m->weight[INDIV_TERM_AFFINITY];
    s->d_pop = m->bought.popularity - m->weight[INDIV_TERM_POPULARITY];
    s->d_ii = m->bought.item_item - m->weight[INDIV_TERM_ITEM_ITEM];
    s->has_bought = s->d_aff != 0 || s->d_pop != 0 || s->d_ii != 0;
}

/* The one nonzero column of each row of F, when no row has two (s->onehot, left NULL
 * otherwise); only weights_bought's affinities use it. 0 on success. */
static int onehot_columns(indiv_scorer *s) {
    const double *F = indiv_catalog_matrix(s->cat);
    if (!s->has_bought || s->d_aff == 0 || s->d > UINT32_MAX)
        return INDIV_OK;
    if (!(s->onehot = malloc((s->n + 1) * sizeof *s->onehot)))
        return INDIV_ENOMEM;
    for (size_t j = 0; j < s->n; j++) {
        size_t nz = 0;
        s->onehot[j] = 0;
        for (size_t c = 0; c < s->d; c++)
            if (F[j * s->d + c] != 0)
                s->onehot[j] = (uint32_t)c, nz++;
        if (nz > 1) {
            free(s->onehot);
            s->onehot = NULL;
            return INDIV_OK;
        }
    }
    s->onehot_of = F;
    return INDIV_OK;
}

static void prior_shape_table(indiv_scorer *s);

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
    s->repeat = indiv_model_repeat(m);
    prior_shape_table(s);
    for (int i = 0; i < SCORE_LOG1P_N; i++)
        s->log1p_n[i] = log1p((double)i);
    set_bought(s, m);
    if (m->item_item && s->n > UINT32_MAX) {
        size_t n = s->n;
        indiv_scorer_free(s);
        return indiv_error_set(
            err, INDIV_EINVAL,
            "catalog of %zu offers: item-to-item scoring takes at most "
            "%u",
            n, (unsigned)UINT32_MAX);
    }
    if (m->item_item &&
        (map_neighbours(s, m->item_item) < 0 || weigh_neighbours(s) < 0)) {
        indiv_scorer_free(s);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    if (onehot_columns(s) < 0) {
        indiv_scorer_free(s);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    indiv_blas_single_thread();
    *out = s;
    return INDIV_OK;
}

void indiv_scorer_free(indiv_scorer *s) {
    if (!s)
        return;
    free(s->offer_term);
    free(s->nb_ptr);
    free(s->nb_idx);
    free(s->nb_w);
    free(s->nb_wi);
    free(s->p0);
    free(s->onehot);
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
    b->u = calloc(7 * b->cap, sizeof *b->u); /* and the six per-row inputs after it */
    if (b->u) {
        b->ready = b->u + b->cap, b->freq = b->ready + b->cap;
        b->orders = b->freq + b->cap, b->recency = b->orders + b->cap;
        b->rebought = b->recency + b->cap, b->strength = b->rebought + b->cap;
    }
    b->xr = calloc(b->cap * b->n + 1, sizeof *b->xr);
    b->hcap = SCORE_HISTORY_MAX;
    b->hist = malloc(b->cap * b->hcap * sizeof *b->hist);
    b->n_hist = calloc(b->cap, sizeof *b->n_hist);
    b->iis = calloc(b->n + 1, sizeof *b->iis);
    b->mark = calloc(b->n + 1, sizeof *b->mark);
    b->work = malloc(b->hcap * sizeof *b->work);
    if (!b->iis || !b->mark || !b->work || !b->x || !b->aff || !b->u || !b->xr ||
        !b->hist || !b->n_hist) {
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
    free(b->xr);
    free(b->hist);
    free(b->n_hist);
    free(b->iis);
    free(b->mark);
    free(b->work);
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
    b->ready[i] = b->freq[i] = b->orders[i] = b->recency[i] = b->rebought[i] = 0;
    b->strength[i] = 0;
    if (pr && (pr->features & INDIV_FEAT_TASTE) && pr->dims == b->d) {
        if (indiv_model_taste_norm(&s->model) == INDIV_TASTE_NORM_L2)
            taste_l2(pr->taste, b->d, x);
        else
            taste_share(pr->taste, b->d, x);
    }
    if (pr && (pr->features & INDIV_FEAT_RHYTHM)) {
        b->ready[i] = readiness;
        b->freq[i] = frequency(pr);
        b->orders[i] = pr->orders;
    }
    const double *w = s->model.weight;
    b->u[i] =
        w[INDIV_TERM_READINESS] * b->ready[i] + w[INDIV_TERM_FREQUENCY] * b->freq[i];
    b->n_hist[i] = 0; /* no history terms until indiv_score_set_history */
    memset(b->xr + i * b->n, 0, b->n * sizeof *b->xr);
}

/* ---- the item readiness from a table of P(k, x) ------------------------------------
 *
 * The readiness of an offer bought before (model.h, indiv_repeat_readiness) is
 * P(k, x2) − P(k, x1), P the regularised lower incomplete gamma function, k the shape
 * of the person's re-buy cycle of the offer and x1, x2 the two ends of the horizon in
 * units of its scale (indiv_repeat_shape). Evaluated exactly (series and continued
 * fraction, an exp, a log and log Γ(k) per bound) it cost about 65 ns per past offer,
 * half the cost of the history terms in decide. Here P is read from a table of
 * P(k, x) on a grid uniform in v = √k (step RT_HV over [√RT_K_MIN, √RT_K_MAX]) and
 * w = √x (step RT_HW over [0, RT_W_MAX]): in those variables P is smooth enough for a
 * cubic (Lagrange, 4 × 4 nodes) interpolation in both, except where k < RT_K_MIN or
 * x < RT_X_MIN (P behaves like x^k there, steep at 0), where the exact function is used
 * instead. Beyond x = RT_W_MAX² = 64, P is 1 to within Q(20, 64) < 1e-10. Offers bought
 * on fewer than 3 occasions (most of a history) have the prior's shape k0: the scorer
 * keeps P(k0, ·) as one row of its own (step RT_HW0 in w, 4 nodes per value instead
 * of 16, no interpolation in k).
 *
 * Accuracy: over a dense sample of the domain (k in [0.5, 20], x in [0.04, 64]) the
 * interpolated P is within 1.3e-7 of GSL's gsl_sf_gamma_inc_P, so the readiness (a
 * difference of two P) within RT_MAX_ERROR = 3e-7 of the exact one: a logit moves by at
 * most 3e-7 · |w_repeat_readiness|. tests/test_score.c checks the bound against
 * indiv_repeat_readiness on a grid of shapes, intervals and times. The table (0.8 MB)
 * is computed once per process, on the first readiness asked for, from GSL's
 * gsl_sf_gamma_inc_P (about 100,000 values); the same table, hence the same bits, on
 * every run and thread. Cubic interpolation: Abramowitz & Stegun, "Handbook of
 * Mathematical Functions", 1964, 25.2.13 (four-point Lagrange). */
#define RT_K_MIN 0.5
#define RT_K_MAX 20.0 /* 1 / MIN_REPEAT_CV2 of model.c: no larger shape is made */
#define RT_X_MIN 0.04
#define RT_W_MAX 8.0
#define RT_HV    0.015
#define RT_HW    0.02
#define RT_HW0   0.01 /* the prior shape's own row (one row: finer at no cost) */

static struct {
    double *p; /* nv rows (v) × nw columns (w), row-major; NULL: not usable */
    size_t nv, nw;
    double v0; /* v of row 0 */
} rt;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;

static void rt_build(void) {
    rt.v0 = sqrt(RT_K_MIN) - RT_HV;
    rt.nv = (size_t)ceil((sqrt(RT_K_MAX) - rt.v0) / RT_HV) + 3;
    rt.nw = (size_t)ceil(RT_W_MAX / RT_HW) + 3;
    double *p = malloc(rt.nv * rt.nw * sizeof *p);
    int ok = p != NULL;
    for (size_t i = 0; ok && i < rt.nv; i++) {
        double v = rt.v0 + (double)i * RT_HV;
        for (size_t j = 0; ok && j < rt.nw; j++) {
            double w = (double)j * RT_HW;
            gsl_sf_result r;
            ok = gsl_sf_gamma_inc_P_e(v * v, w * w, &r) == GSL_SUCCESS;
            p[i * rt.nw + j] = r.val;
        }
    }
    if (!ok) { /* the exact function everywhere */
        free(p);
        p = NULL;
    }
    rt.p = p;
}

/* The four Lagrange weights of nodes -1, 0, 1, 2 at f in [0, 1) (no division: they
 * are the slow instructions here). */
static inline void lagrange4(double f, double c[4]) {
    double fm1 = f - 1, fm2 = f - 2, fp1 = f + 1, a = f * fm1 * (1.0 / 6),
           b = fp1 * fm2 * 0.5;
    c[0] = -a * fm2;
    c[1] = b * fm1;
    c[2] = -b * f;
    c[3] = a * fp1;
}

/* The column j of √x on a grid of step 1/inv_h in w = √x, and the Lagrange weights cw
 * there; 0 when √x is at or past RT_W_MAX, where P is 1. */
static inline size_t w_node(double x, double inv_h, double cw[4]) {
    double w = sqrt(x) * inv_h;
    if (w >= RT_W_MAX * inv_h)
        return 0;
    size_t j = (size_t)w; /* >= 1: x >= RT_X_MIN */
    lagrange4(w - (double)j, cw);
    return j;
}

/* The cubic interpolation in one row: nodes q[0..3] with weights cw. */
static inline double row_at(const double *q, const double cw[4]) {
    return cw[0] * q[0] + cw[1] * q[1] + cw[2] * q[2] + cw[3] * q[3];
}

/* P(k, x) for x >= RT_X_MIN, from the rows r[0..3] around k (weights cv). */
static inline double rt_p(const double *r, const double cv[4], double x) {
    double cw[4];
    size_t j = w_node(x, 1 / RT_HW, cw);
    if (!j)
        return 1;
    const double *q = r + j - 1;
    double sum = 0;
    for (int a = 0; a < 4; a++, q += rt.nw)
        sum += cv[a] * row_at(q, cw);
    return sum;
}

/* The prior shape's table (s->p0): when k0 is in the table's range, P(k0, w²) at steps
 * RT_HW0 of w, from GSL; left NULL otherwise or out of memory (the general path then
 * applies, which is as exact). Also the shape of an offer bought once (k0, and
 * 1 / theta in s->it1; s->shape1 0 when there is none), the same for every such offer. */
static void prior_shape_table(indiv_scorer *s) {
    double theta;
    size_t nw = (size_t)ceil(RT_W_MAX / RT_HW0) + 3;
    s->shape1 = indiv_repeat_shape(&s->repeat, 1, 0, 0, &s->k0, &theta);
    s->it1 = s->shape1 ? 1 / theta : 0;
    if (!s->shape1 || !(s->k0 >= RT_K_MIN && s->k0 <= RT_K_MAX) ||
        !(s->p0 = malloc(nw * sizeof *s->p0)))
        return;
    for (size_t j = 0; j < nw; j++) {
        gsl_sf_result r;
        double w = (double)j * RT_HW0;
        if (gsl_sf_gamma_inc_P_e(s->k0, w * w, &r) != GSL_SUCCESS) {
            free(s->p0);
            s->p0 = NULL;
            return;
        }
        s->p0[j] = r.val;
    }
}

/* P(k0, x) for x >= RT_X_MIN from the prior shape's table: one row, 4 nodes. */
static inline double p0_p(const double *p0, double x) {
    double cw[4];
    size_t j = w_node(x, 1 / RT_HW0, cw);
    return j ? row_at(p0 + j - 1, cw) : 1;
}

/* The readiness of shape k and 1 / scale it at since_days >= 0 from the tables, or NAN
 * where they do not reach (the caller then evaluates the exact function). */
static inline double table_readiness(const indiv_scorer *s, double k, double it,
                                     double since_days) {
    double x1 = since_days * it, x2 = (since_days + s->repeat.horizon_days) * it;
    if (k == s->k0 && s->p0 && x1 >= RT_X_MIN)
        return p0_p(s->p0, x2) - p0_p(s->p0, x1);
    /* rt.p last: read only past pthread_once (history_features asks for it whenever
     * an entry can get this far) */
    if (!(x1 >= RT_X_MIN) || !(k >= RT_K_MIN && k <= RT_K_MAX) || !rt.p)
        return NAN;
    double v = (sqrt(k) - rt.v0) * (1 / RT_HV), cv[4];
    size_t i = (size_t)v; /* >= 1: k >= RT_K_MIN */
    lagrange4(v - (double)i, cv);
    const double *r = rt.p + (i - 1) * rt.nw;
    return rt_p(r, cv, x2) - rt_p(r, cv, x1);
}

double indiv_score_item_readiness(const indiv_scorer *s, double occasions,
                                  double mean_days, double cv2_own, double since_days) {
    double k, theta;
    if (since_days < 0 ||
        !indiv_repeat_shape(&s->repeat, occasions, mean_days, cv2_own, &k, &theta))
        return 0;
    pthread_once(&rt_once, rt_build);
    double r = table_readiness(s, k, 1 / theta, since_days);
    return !isnan(r) ? r
                     : indiv_repeat_readiness(&s->repeat, occasions, mean_days, cv2_own,
                                              since_days);
}

/* The entries of pr's history that are in the catalog (at most b->hcap): their offers
 * in hf[].j and their raw inputs in wk. Returns how many. */
static size_t history_inputs(const indiv_scorer *s, const indiv_score_block *b,
                             const indiv_profile *pr, int64_t t, struct hist_feat *hf,
                             struct hist_work *wk) {
    size_t n = 0;
    for (size_t k = 0; k < pr->n_history && n < b->hcap; k++) {
        const indiv_offer_history *h = &pr->history[k];
        if (indiv_catalog_index(s->cat, h->offer_id, &hf[n].j) < 0)
            continue;
        double n_iv = h->occasions - 1;
        double mean = indiv_history_mean_interval_days(h);
        double var = n_iv > 1 ? h->interval_m2 / (n_iv - 1) : 0;
        wk[n].occ = h->occasions;
        wk[n].mean = mean;
        wk[n].cv2 =
            mean > 0 && var != 0 ? var / (mean * mean) : 0; /* no division for 0 */
        wk[n].since = (double)(t - h->last_ts) / INDIV_SECONDS_PER_DAY;
        n++;
    }
    return n;
}

/* The repeat features of the n entries of hf at time t: repeat, log(1 + occasions)
 * and the item readiness (indiv_score_item_readiness's value, bit for bit). In stages,
 * each a loop over the entries with no call in the long chains of divisions, so the
 * processor overlaps the entries; an offer bought once has the scorer's shape k0. */
static void history_features(const indiv_scorer *s, struct hist_feat *hf,
                             struct hist_work *wk, size_t n) {
    int tables = 0;
    for (size_t k = 0; k < n; k++) {
        struct hist_work *e = &wk[k];
        double theta;
        if (e->occ <= 1) /* n = 0 intervals: the prior's shape, computed once */
            e->shaped = s->shape1, e->k = s->k0, e->it = s->it1;
        else if ((e->shaped = indiv_repeat_shape(&s->repeat, e->occ, e->mean, e->cv2,
                                                 &e->k, &theta)))
            e->it = 1 / theta;
        tables |= e->shaped && !(e->k == s->k0 && s->p0);
    }
    if (tables)
        pthread_once(&rt_once, rt_build);
    for (size_t k = 0; k < n; k++) {
        const struct hist_work *e = &wk[k];
        double r =
            e->since < 0 || !e->shaped ? 0 : table_readiness(s, e->k, e->it, e->since);
        hf[k].f[2] = !isnan(r) ? r
                               : indiv_repeat_readiness(&s->repeat, e->occ, e->mean,
                                                        e->cv2, e->since);
        hf[k].f[0] = 1;
        hf[k].f[1] =
            e->occ >= 0 && e->occ < SCORE_LOG1P_N && e->occ == (double)(int)e->occ
                ? s->log1p_n[(int)e->occ]
                : log1p(e->occ);
    }
}

/* The item sums bought_correction reads, gathered while a neighbour list is scattered:
 * iis[j] += w[e] for the neighbours j = idx[e] that are marked (the offers of the row's
 * history), in the order of the list. */
struct item_sums {
    double *iis;
    const unsigned char *mark;
    const double *w; /* the list's raw weights S(k, ·) */
};

static inline void sum_marked(const struct item_sums *m, const uint32_t *restrict idx,
                              size_t from, size_t to) {
    for (size_t e = from; e < to; e++)
        if (m->mark[idx[e]])
            m->iis[idx[e]] += m->w[e];
}

/* x[idx[e]] += v[e] for e < n, in order; then m's item sums of the list (m may be
 * NULL). */
static void scatter(double *restrict x, const uint32_t *restrict idx,
                    const double *restrict v, size_t n, const struct item_sums *m) {
    for (size_t e = 0; e < n; e++)
        x[idx[e]] += v[e];
    if (m)
        sum_marked(m, idx, 0, n);
}

/* The same when no two idx are equal: four loads before four stores, an order the
 * compiler cannot choose itself (for all it knows two indices are equal), so that the
 * loads of the next four need not wait for the stores; and m's item sums in the same
 * pass (the indices loaded once), tested four at a time. Each x[j] and each item sum
 * gets the same additions in the same order as in scatter: the same bits. */
static void scatter_unique(double *restrict x, const uint32_t *restrict idx,
                           const double *restrict v, size_t n,
                           const struct item_sums *m) {
    const unsigned char *restrict mark = m ? m->mark : NULL;
    size_t e = 0;
    for (; e + 4 <= n; e += 4) {
        uint32_t i0 = idx[e], i1 = idx[e + 1], i2 = idx[e + 2], i3 = idx[e + 3];
        double x0 = x[i0] + v[e], x1 = x[i1] + v[e + 1], x2 = x[i2] + v[e + 2],
               x3 = x[i3] + v[e + 3];
        x[i0] = x0;
        x[i1] = x1;
        x[i2] = x2;
        x[i3] = x3;
        if (mark && (mark[i0] | mark[i1] | mark[i2] | mark[i3]))
            sum_marked(m, idx, e, e + 4);
    }
    for (size_t f = e; f < n; f++)
        x[idx[f]] += v[f];
    if (m)
        sum_marked(m, idx, e, n);
}

/* The dot products of bought_affinities when every row of F has at most one nonzero
 * (s->onehot) and x is finite: the other products are then all ±0, and a sum from +0
 * of ±0 and one value v is exactly 0 + v (it is never -0, and adding ±0 to a nonzero
 * leaves it), so 0 + x[c] · F_j[c] is the dot product to the bit. 0 when it does not
 * apply (a[] untouched). */
static int onehot_dots(const indiv_scorer *s, const double *x, const struct hist_feat *hf,
                       size_t n, double *a) {
    const double *F = indiv_catalog_matrix(s->cat);
    if (!s->onehot || F != s->onehot_of)
        return 0;
    for (size_t c = 0; c < s->d; c++)
        if (!isfinite(x[c]))
            return 0;
    for (size_t k = 0; k < n; k++) {
        size_t c = s->onehot[hf[k].j];
        a[k] = 0 + x[c] * F[hf[k].j * s->d + c];
    }
    return 1;
}

/* a[k] = x · F_j of the offers j of hf[0..n): the affinity the dgemm of indiv_score_run
 * will compute, but with the products and sums of one plain dot product each, in its
 * order (c = 0 .. d-1, from 0). Eight offers at a time (the last group padded with
 * the last offer, whose extra results are dropped): eight independent chains of
 * additions instead of one, which the processor runs side by side; each chain is the
 * same sequence of operations as alone, so the same bits. */
static void bought_affinities(const indiv_scorer *s, const double *x,
                              const struct hist_feat *hf, size_t n, double *a) {
    const double *F = indiv_catalog_matrix(s->cat);
    size_t d = s->d;
    if (onehot_dots(s, x, hf, n, a))
        return;
    for (size_t k = 0; k < n; k += 8) {
        const double *f[8];
        for (size_t r = 0; r < 8; r++)
            f[r] = F + hf[k + r < n ? k + r : n - 1].j * d;
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        for (size_t c = 0; c < d; c++) {
            double xc = x[c];
            a0 += xc * f[0][c];
            a1 += xc * f[1][c];
            a2 += xc * f[2][c];
            a3 += xc * f[3][c];
            a4 += xc * f[4][c];
            a5 += xc * f[5][c];
            a6 += xc * f[6][c];
            a7 += xc * f[7][c];
        }
        double g[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
        for (size_t r = 0; r < 8 && k + r < n; r++)
            a[k + r] = g[r];
    }
}

/* Moves the offers of row i's history from the weights of offers new to the person to
 * the model's weights_bought: adds d_aff · affinity + d_pop · popularity + d_ii · Σ_k
 * S(k, j) to each. The item sums were gathered in the block's scratch row at the
 * marked offers (indiv_score_set_history); both are cleared again here. */
static void bought_correction(const indiv_scorer *s, indiv_score_block *b, size_t i) {
    const struct hist_feat *hf = b->hist + i * b->hcap;
    const double *pop = indiv_catalog_popularity(s->cat);
    double *xr = b->xr + i * b->n, a[SCORE_HISTORY_MAX];
    size_t n = b->n_hist[i];
    if (s->d_aff != 0)
        bought_affinities(s, b->x + i * b->d, hf, n, a);
    for (size_t k = 0; k < n; k++) {
        size_t j = hf[k].j;
        double ak = s->d_aff != 0 ? s->d_aff * a[k] : 0;
        xr[j] += ak + s->d_pop * pop[j] + s->d_ii * b->iis[j];
    }
    for (size_t k = 0; k < n; k++) {
        b->iis[hf[k].j] = 0;
        b->mark[hf[k].j] = 0;
    }
}

/* Adds entry k of the n in hf to row xr: its repeat terms, then the scatter of its
 * neighbour list (wi · S(j, ·)), with the item sums of weights_bought when sums is set;
 * the next entry's list is prefetched. */
static void entry_terms(const indiv_scorer *s, indiv_score_block *b, double *xr,
                        const struct hist_feat *hf, size_t k, size_t n, int sums) {
    const double *w = s->model.weight;
    size_t j = hf[k].j;
    xr[j] += w[INDIV_TERM_REPEAT] * hf[k].f[0] +
             w[INDIV_TERM_REPEAT_FREQUENCY] * hf[k].f[1] +
             w[INDIV_TERM_REPEAT_READINESS] * hf[k].f[2];
    if (!s->nb_ptr)
        return;
    const double *v = s->nb_wi ? s->nb_wi : s->nb_w;
    if (k + 1 < n) {
        size_t e = s->nb_ptr[hf[k + 1].j];
        __builtin_prefetch(s->nb_idx + e);
        __builtin_prefetch(v + e);
        __builtin_prefetch(v + e + 8);
    }
    const uint32_t *idx = s->nb_idx + s->nb_ptr[j];
    size_t len = s->nb_ptr[j + 1] - s->nb_ptr[j];
    struct item_sums m = {b->iis, b->mark, s->nb_w + s->nb_ptr[j]};
    if (s->nb_wi)
        (s->nb_unique ? scatter_unique : scatter)(xr, idx, s->nb_wi + s->nb_ptr[j], len,
                                                  sums ? &m : NULL);
    else if (sums)
        sum_marked(&m, idx, 0, len);
}

/* The act model's repeat strength (model.h): the sum of the INDIV_ACT_TOP_OFFERS
 * largest decayed counts of a history (kept in a sorted array of that size). */
static double repeat_strength(const indiv_offer_history *h, size_t n) {
    double top[INDIV_ACT_TOP_OFFERS] = {0}, sum = 0;
    for (size_t k = 0; k < n; k++) {
        double v = h[k].decayed;
        size_t at = INDIV_ACT_TOP_OFFERS;
        for (; at > 0 && top[at - 1] < v; at--)
            if (at < INDIV_ACT_TOP_OFFERS)
                top[at] = top[at - 1];
        if (at < INDIV_ACT_TOP_OFFERS)
            top[at] = v;
    }
    for (size_t k = 0; k < INDIV_ACT_TOP_OFFERS; k++)
        sum += top[k];
    return sum;
}

void indiv_score_set_history(const indiv_scorer *s, indiv_score_block *b, size_t i,
                             const indiv_profile *pr, int64_t t) {
    double *xr = b->xr + i * b->n;
    struct hist_feat *hf = b->hist + i * b->hcap;
    if (pr && (pr->features & INDIV_FEAT_RHYTHM) && pr->orders > 0 &&
        pr->last_purchase_ts != INDIV_TS_NONE && t > pr->last_purchase_ts)
        b->recency[i] = (double)(t - pr->last_purchase_ts) / INDIV_SECONDS_PER_DAY;
    if (!pr || !(pr->features & INDIV_FEAT_HISTORY))
        return;
    for (size_t k = 0; k < pr->n_history; k++)
        b->rebought[i] += pr->history[k].occasions >= 2;
    b->strength[i] = repeat_strength(pr->history, pr->n_history);
    /* The features of every entry first (in stages: independent computations, which
     * the processor overlaps), then, entry by entry in history order, the repeat terms
     * and the scatters: every x(i, j) gets the same additions in the same order as one
     * pass entry by entry would make, so the same bits. */
    size_t n = history_inputs(s, b, pr, t, hf, b->work);
    history_features(s, hf, b->work, n);
    b->n_hist[i] = n;
    /* weights_bought needs Σ_k S(k, j) at the offers j of the history only: they are
     * marked, and the scatters add the raw weights there (bought_correction clears) */
    int sums = s->has_bought && s->nb_ptr;
    for (size_t k = 0; sums && k < n; k++)
        b->mark[hf[k].j] = 1;
    for (size_t k = 0; k < n; k++)
        entry_terms(s, b, xr, hf, k, n, sums);
    if (s->has_bought)
        bought_correction(s, b, i);
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
           s->model.weight[INDIV_TERM_AFFINITY] * b->aff[i * b->n + j] +
           b->xr[i * b->n + j];
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

/* Σ over the offers k of row i's history of S(k, j): recomputed from the neighbour lists
 * (O(history × neighbours)), since only drivers and training features need it apart. */
static double item_sum(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                       size_t j) {
    const struct hist_feat *hf = b->hist + i * b->hcap;
    double sum = 0;
    for (size_t k = 0; s->nb_ptr && k < b->n_hist[i]; k++) {
        size_t lo = s->nb_ptr[hf[k].j], hi = s->nb_ptr[hf[k].j + 1];
        if (!s->nb_unique) {
            for (size_t e = lo; e < hi; e++)
                sum += s->nb_idx[e] == j ? s->nb_w[e] : 0;
            continue;
        }
        while (lo < hi) { /* rows sorted by offer (sort_neighbours): at most one j */
            size_t mid = lo + (hi - lo) / 2;
            if (s->nb_idx[mid] < j)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < s->nb_ptr[hf[k].j + 1] && s->nb_idx[lo] == j)
            sum += s->nb_w[lo];
    }
    return sum;
}

void indiv_score_terms(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                       size_t j, double terms[INDIV_TERM_COUNT]) {
    const double *w = s->model.weight;
    const struct hist_feat *hf = b->hist + i * b->hcap;
    int bought = 0;
    for (size_t k = 0; k < b->n_hist[i]; k++)
        bought |= hf[k].j == j;
    double wa = w[INDIV_TERM_AFFINITY] + (bought ? s->d_aff : 0);
    double wp = w[INDIV_TERM_POPULARITY] + (bought ? s->d_pop : 0);
    double wi = w[INDIV_TERM_ITEM_ITEM] + (bought ? s->d_ii : 0);
    terms[INDIV_TERM_AFFINITY] = wa * b->aff[i * b->n + j];
    terms[INDIV_TERM_POPULARITY] = wp * indiv_catalog_popularity(s->cat)[j];
    terms[INDIV_TERM_READINESS] = w[INDIV_TERM_READINESS] * b->ready[i];
    terms[INDIV_TERM_FREQUENCY] = w[INDIV_TERM_FREQUENCY] * b->freq[i];
    terms[INDIV_TERM_REPEAT] = terms[INDIV_TERM_REPEAT_FREQUENCY] =
        terms[INDIV_TERM_REPEAT_READINESS] = 0;
    for (size_t k = 0; k < b->n_hist[i]; k++)
        if (hf[k].j == j) {
            terms[INDIV_TERM_REPEAT] = w[INDIV_TERM_REPEAT] * hf[k].f[0];
            terms[INDIV_TERM_REPEAT_FREQUENCY] =
                w[INDIV_TERM_REPEAT_FREQUENCY] * hf[k].f[1];
            terms[INDIV_TERM_REPEAT_READINESS] =
                w[INDIV_TERM_REPEAT_READINESS] * hf[k].f[2];
        }
    terms[INDIV_TERM_ITEM_ITEM] = wi * item_sum(s, b, i, j);
}

const double *indiv_scorer_offer_terms(const indiv_scorer *s) {
    return s->offer_term;
}

double indiv_scorer_affinity_weight(const indiv_scorer *s) {
    return s->model.weight[INDIV_TERM_AFFINITY];
}

double indiv_score_relevance(const indiv_scorer *s, const indiv_score_block *b, size_t i,
                             double any) {
    indiv_act_inputs in;
    indiv_score_act_inputs(b, i, &in);
    return indiv_act_apply_inputs(&s->model.act, any, &in);
}

void indiv_score_act_inputs(const indiv_score_block *b, size_t i, indiv_act_inputs *out) {
    *out = (indiv_act_inputs){b->orders[i], b->ready[i], b->recency[i], b->rebought[i],
                              b->strength[i]};
}

double indiv_score_consumer_term(const indiv_score_block *b, size_t i) {
    return b->u[i];
}

const double *indiv_score_extra(const indiv_score_block *b, size_t i) {
    return b->xr + i * b->n;
}

void indiv_blas_single_thread(void) {
    openblas_set_num_threads(1);
}
