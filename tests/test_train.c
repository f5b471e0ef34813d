/*
 * test_train.c — training: sparse matrices, implicit ALS (monotone objective, thread
 * independence, recovery of a planted low-rank structure, the whitened fold-in),
 * logistic regression by IRLS (recovery of known weights, weighted case-control
 * sampling, singular designs), the training run on a generated world (provenance,
 * determinism, no event at or after as_of, logs too small), and the embedding part of
 * model files (round trip, refusals naming the field, application to a catalog).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/rng.h"
#include "indiv/score.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "indiv/train.h"
#include "testutil.h"

static char *dir;

static void setup(void) {
    gsl_set_error_handler_off();
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(train, .init = setup, .fini = teardown);

/* ---- sparse ------------------------------------------------------------------------ */

Test(train, sparse_rows_are_sorted_summed_and_keep_positive_entries) {
    size_t r[] = {0, 0, 0, 1, 1, 2}, c[] = {2, 0, 2, 1, 1, 3};
    double v[] = {1, 2, 0.5, -1, 0.5, 4};
    indiv_sparse *m, *t;
    indiv_error err = {0};
    cr_assert_eq(indiv_sparse_from_triplets(3, 4, 6, r, c, v, &m, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(m->nnz, 3); /* (1,1) sums to -0.5 and is dropped */
    size_t want_ptr[] = {0, 2, 2, 3}, want_idx[] = {0, 2, 3};
    double want_val[] = {2, 1.5, 4};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(m->ptr[i], want_ptr[i]);
    for (size_t e = 0; e < 3; e++) {
        cr_assert_eq(m->idx[e], want_idx[e]);
        cr_assert_float_eq(m->val[e], want_val[e], 1e-15);
    }
    cr_assert_eq(indiv_sparse_transpose(m, &t, &err), 0);
    cr_assert_eq(t->rows, 4);
    cr_assert_eq(t->ptr[1] - t->ptr[0], 1); /* column 0: row 0 */
    cr_assert_eq(t->idx[t->ptr[3]], 2);     /* column 3: row 2 */
    cr_assert_float_eq(t->val[t->ptr[2]], 1.5, 1e-15);
    indiv_sparse_free(m);
    indiv_sparse_free(t);
    size_t bad_r[] = {3};
    cr_assert_eq(indiv_sparse_from_triplets(3, 4, 1, bad_r, c, v, &m, &err),
                 INDIV_EINVAL);
    cr_assert(strstr(err.msg, "outside"), "%s", err.msg);
}

/* ---- a planted low-rank world ------------------------------------------------------ */

#define PU      400 /* consumers */
#define PI      500 /* offers */
#define PGROUPS 10  /* taste groups, each owning PI / PGROUPS offers */
#define PBUYS   20  /* interactions per consumer */
#define PHELD   4   /* of which held out */

/* Each consumer belongs to one group and buys mostly (85 %) its offers, the rest among
 * globally popular offers; popularity inside a group is Zipf-like, so that popularity
 * is a real baseline. held[] gets the held-out offers: the last 4 distinct ones drawn. */
static indiv_sparse *planted(size_t held[PU][PHELD], uint64_t seed) {
    gsl_rng *g = indiv_rng_new(seed, 0, INDIV_RNG_TRAIN);
    size_t *r = malloc(PU * PBUYS * sizeof *r), *c = malloc(PU * PBUYS * sizeof *c),
           n = 0;
    double *v = malloc(PU * PBUYS * sizeof *v), w[PI / PGROUPS];
    for (size_t k = 0; k < PI / PGROUPS; k++)
        w[k] = 1.0 / (1.0 + (double)k);
    gsl_ran_discrete_t *zipf = gsl_ran_discrete_preproc(PI / PGROUPS, w);
    for (size_t u = 0; u < PU; u++) {
        size_t group = u % PGROUPS, seen[PBUYS], ns = 0;
        while (ns < PBUYS) {
            size_t rank = gsl_ran_discrete(g, zipf);
            size_t i = gsl_rng_uniform(g) < 0.85
                           ? group * (PI / PGROUPS) + rank
                           : rank % 10 * (PI / PGROUPS); /* popular */
            int dup = 0;
            for (size_t s = 0; s < ns; s++)
                dup |= seen[s] == i;
            if (!dup)
                seen[ns++] = i;
        }
        for (size_t s = 0; s < PBUYS; s++) {
            if (s >= PBUYS - PHELD) { /* the last drawn: mostly not the group's top */
                held[u][s - (PBUYS - PHELD)] = seen[s];
                continue;
            }
            r[n] = u, c[n] = seen[s], v[n++] = 1 + (double)gsl_rng_uniform_int(g, 3);
        }
    }
    indiv_sparse *m;
    cr_assert_eq(indiv_sparse_from_triplets(PU, PI, n, r, c, v, &m, NULL), 0);
    gsl_ran_discrete_free(zipf);
    gsl_rng_free(g);
    free(r), free(c), free(v);
    return m;
}

/* Share of consumers with a held-out offer in their top 10 of score (offers they
 * interacted with in training excluded). */
static double hit_rate(const indiv_sparse *m, size_t held[PU][PHELD],
                       double (*score)(const void *, size_t, size_t), const void *ctx) {
    size_t hits = 0;
    for (size_t u = 0; u < PU; u++) {
        double s[PI];
        for (size_t i = 0; i < PI; i++)
            s[i] = score(ctx, u, i);
        for (size_t e = m->ptr[u]; e < m->ptr[u + 1]; e++)
            s[m->idx[e]] = -INFINITY;
        int hit = 0;
        for (int k = 0; k < 10; k++) {
            size_t best = 0;
            for (size_t i = 1; i < PI; i++)
                best = s[i] > s[best] ? i : best;
            for (int h = 0; h < PHELD; h++)
                hit |= held[u][h] == best;
            s[best] = -INFINITY;
        }
        hits += (size_t)hit;
    }
    return (double)hits / PU;
}

struct als_ctx {
    const double *x, *y, *f, *taste;
    const double *pop;
    size_t k;
};

static double score_als(const void *ctx, size_t u, size_t i) {
    const struct als_ctx *a = ctx;
    double s = 0;
    for (size_t d = 0; d < a->k; d++)
        s += a->x[u * a->k + d] * a->y[i * a->k + d];
    return s;
}

static double score_fold_in(const void *ctx, size_t u, size_t i) {
    const struct als_ctx *a = ctx;
    double s = 0;
    for (size_t d = 0; d < a->k; d++)
        s += a->taste[u * a->k + d] * a->f[i * a->k + d];
    return s;
}

static double score_pop(const void *ctx, size_t u, size_t i) {
    (void)u;
    return ((const struct als_ctx *)ctx)->pop[i];
}

static indiv_als_params small_params(size_t dims, int threads) {
    indiv_als_params p;
    indiv_als_params_init(&p);
    p.dims = dims;
    p.threads = threads;
    p.iterations = 10;
    return p;
}

Test(train, als_recovers_a_planted_low_rank_structure_better_than_popularity) {
    static size_t held[PU][PHELD];
    indiv_sparse *m = planted(held, 11);
    indiv_als_params p = small_params(8, 2);
    indiv_als *a;
    indiv_error err = {0};
    cr_assert_eq(indiv_als_new(m, &p, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_als_fit(a, NULL, NULL, &err), 0, "%s", err.msg);
    double pop[PI] = {0}, *f = malloc(PI * 8 * sizeof *f),
           *taste = calloc(PU * 8, sizeof *taste);
    for (size_t e = 0; e < m->nnz; e++)
        pop[m->idx[e]]++;
    cr_assert_eq(indiv_als_whiten(a, p.lambda, f, &err), 0, "%s", err.msg);
    for (size_t u = 0; u < PU;
         u++) /* a profile's taste: the sum of its offers' vectors */
        for (size_t e = m->ptr[u]; e < m->ptr[u + 1]; e++)
            for (size_t d = 0; d < 8; d++)
                taste[u * 8 + d] += m->val[e] * f[m->idx[e] * 8 + d];
    struct als_ctx c = {indiv_als_users(a), indiv_als_items(a), f, taste, pop, 8};
    double hr_als = hit_rate(m, held, score_als, &c),
           hr_pop = hit_rate(m, held, score_pop, &c);
    double hr_fold = hit_rate(m, held, score_fold_in, &c);
    cr_log_info("HitRate@10 held out: ALS %.3f, fold-in %.3f, popularity %.3f", hr_als,
                hr_fold, hr_pop);
    /* measured: ALS 0.917, fold-in 0.905, popularity 0.605 (data and seeds fixed) */
    cr_assert_gt(hr_als, hr_pop + 0.25, "ALS %.3f vs popularity %.3f", hr_als, hr_pop);
    cr_assert_gt(hr_fold, hr_pop + 0.25, "fold-in %.3f vs popularity %.3f", hr_fold,
                 hr_pop);
    free(f);
    free(taste);
    indiv_als_free(a);
    indiv_sparse_free(m);
}

Test(train, als_objective_never_increases_and_results_ignore_the_thread_count) {
    static size_t held[PU][PHELD];
    indiv_sparse *m = planted(held, 5);
    indiv_als_params p1 = small_params(6, 1), p3 = small_params(6, 3);
    indiv_als *a1, *a3;
    cr_assert_eq(indiv_als_new(m, &p1, &a1, NULL), 0);
    cr_assert_eq(indiv_als_new(m, &p3, &a3, NULL), 0);
    double prev = INFINITY;
    for (int it = 0; it < 8; it++) {
        cr_assert_eq(indiv_als_iterate(a1, NULL), 0);
        cr_assert_eq(indiv_als_iterate(a3, NULL), 0);
        double l = indiv_als_loss(a1);
        /* each half-sweep solves its block exactly: coordinate descent cannot go up */
        cr_assert_leq(l, prev * (1 + 1e-12), "sweep %d: %.9g after %.9g", it, l, prev);
        prev = l;
    }
    cr_assert_eq(
        memcmp(indiv_als_users(a1), indiv_als_users(a3), PU * 6 * sizeof(double)), 0);
    cr_assert_eq(
        memcmp(indiv_als_items(a1), indiv_als_items(a3), PI * 6 * sizeof(double)), 0);
    indiv_als_free(a1);
    indiv_als_free(a3);
    indiv_sparse_free(m);
}

Test(train, whitened_vectors_give_the_ridge_fold_in_kernel) {
    static size_t held[PU][PHELD];
    indiv_sparse *m = planted(held, 7);
    indiv_als_params p = small_params(5, 1);
    indiv_als *a;
    cr_assert_eq(indiv_als_new(m, &p, &a, NULL), 0);
    cr_assert_eq(indiv_als_fit(a, NULL, NULL, NULL), 0);
    double lambda = 2.5, *f = malloc(PI * 5 * sizeof *f);
    cr_assert_eq(indiv_als_whiten(a, lambda, f, NULL), 0);
    /* independent computation: G = Y^T Y + lambda I by loops, solve G z = y_j by LU */
    const double *y = indiv_als_items(a);
    gsl_matrix *g = gsl_matrix_calloc(5, 5);
    for (size_t i = 0; i < PI; i++)
        for (size_t r = 0; r < 5; r++)
            for (size_t c = 0; c < 5; c++)
                g->data[r * 5 + c] += y[i * 5 + r] * y[i * 5 + c];
    for (size_t d = 0; d < 5; d++)
        g->data[d * 5 + d] += lambda;
    gsl_permutation *perm = gsl_permutation_alloc(5);
    gsl_vector *z = gsl_vector_alloc(5);
    int sign;
    gsl_linalg_LU_decomp(g, perm, &sign);
    size_t pairs[][2] = {{0, 1}, {3, 3}, {17, 150}, {499, 42}};
    for (size_t q = 0; q < 4; q++) {
        size_t i = pairs[q][0], j = pairs[q][1];
        gsl_vector_const_view yj = gsl_vector_const_view_array(y + j * 5, 5);
        gsl_linalg_LU_solve(g, perm, &yj.vector, z);
        double want = 0, got = 0;
        for (size_t d = 0; d < 5; d++) {
            want += y[i * 5 + d] * z->data[d];
            got += f[i * 5 + d] * f[j * 5 + d];
        }
        cr_assert_float_eq(got, want, 1e-9 * (1 + fabs(want)), "pair (%zu, %zu)", i, j);
    }
    gsl_vector_free(z);
    gsl_permutation_free(perm);
    gsl_matrix_free(g);
    free(f);
    indiv_als_free(a);
    indiv_sparse_free(m);
}

Test(train, als_parameters_are_checked) {
    indiv_als_params p;
    indiv_als_params_init(&p);
    cr_assert_eq(p.dims, 32);
    p.lambda = 0;
    indiv_error err = {0};
    cr_assert_eq(indiv_als_params_validate(&p, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "lambda"), "%s", err.msg);
    indiv_als_params_init(&p);
    p.dims = 0;
    cr_assert_eq(indiv_als_params_validate(&p, NULL), INDIV_EINVAL);
}

/* ---- logistic regression ----------------------------------------------------------- */

#define LN 20000
#define LP 4

/* x = (1, N(0,1), N(0,1), N(0,1)), y ~ Bernoulli(sigmoid(x . beta)). */
static void simulate_logit(const double *beta, double *x, double *y, uint64_t seed) {
    gsl_rng *g = indiv_rng_new(seed, 1, INDIV_RNG_TRAIN);
    for (size_t i = 0; i < LN; i++) {
        double z = 0;
        x[i * LP] = 1;
        for (size_t j = 1; j < LP; j++)
            x[i * LP + j] = gsl_ran_gaussian(g, 1.0);
        for (size_t j = 0; j < LP; j++)
            z += beta[j] * x[i * LP + j];
        y[i] = gsl_rng_uniform(g) < 1 / (1 + exp(-z));
    }
    gsl_rng_free(g);
}

Test(train, logistic_fit_recovers_known_weights) {
    static double x[LN * LP], y[LN];
    const double beta[LP] = {-1.2, 0.8, -0.5, 1.7};
    simulate_logit(beta, x, y, 3);
    double b[LP], se[LP];
    indiv_logit_stats st;
    indiv_error err = {0};
    cr_assert_eq(indiv_logit_fit(x, y, NULL, LN, LP, 0, 50, 1e-10, b, se, &st, &err), 0,
                 "%s", err.msg);
    cr_assert(st.converged);
    cr_assert_lt(st.iterations, 15); /* Newton: quadratic convergence */
    for (size_t j = 0; j < LP; j++) {
        cr_log_info("beta %zu: %.4f (true %.2f, se %.4f)", j, b[j], beta[j], se[j]);
        cr_assert_lt(fabs(b[j] - beta[j]), 4 * se[j],
                     "beta %zu = %.4f, true %.2f, se %.4f", j, b[j], beta[j], se[j]);
        cr_assert_lt(fabs(b[j] - beta[j]), 0.1);
        cr_assert(se[j] > 0.01 && se[j] < 0.05, "se %zu = %g", j, se[j]);
    }
}

Test(train, weighted_case_control_sample_recovers_the_same_weights) {
    /* keep every positive and one negative in five, each kept negative weighing 5: the
     * weighted likelihood estimates the full-sample weights (how training samples
     * non-bought offers) */
    static double x[LN * LP], y[LN], xs[LN * LP], ys[LN], ws[LN];
    const double beta[LP] = {-2.0, 1.0, 0.6, -0.9};
    simulate_logit(beta, x, y, 9);
    size_t n = 0;
    for (size_t i = 0; i < LN; i++) {
        if (y[i] < 0.5 && i % 5 != 0)
            continue;
        memcpy(xs + n * LP, x + i * LP, LP * sizeof *x);
        ys[n] = y[i];
        ws[n++] = y[i] > 0.5 ? 1 : 5;
    }
    double b[LP];
    cr_assert_eq(indiv_logit_fit(xs, ys, ws, n, LP, 0, 50, 1e-10, b, NULL, NULL, NULL),
                 0);
    for (size_t j = 0; j < LP; j++)
        cr_assert_lt(fabs(b[j] - beta[j]), 0.15, "beta %zu = %.4f, true %.2f", j, b[j],
                     beta[j]);
}

Test(train, logistic_fit_names_a_singular_design_and_a_ridge_fixes_it) {
    static double x[200 * 3], y[200];
    for (size_t i = 0; i < 200; i++) { /* third column = second: collinear */
        x[i * 3] = 1;
        x[i * 3 + 1] = x[i * 3 + 2] = (double)(i % 7);
        y[i] = i % 3 == 0;
    }
    double b[3];
    indiv_error err = {0};
    cr_assert_eq(indiv_logit_fit(x, y, NULL, 200, 3, 0, 50, 1e-10, b, NULL, NULL, &err),
                 INDIV_EINVAL);
    cr_assert(strstr(err.msg, "singular"), "%s", err.msg);
    cr_assert_eq(
        indiv_logit_fit(x, y, NULL, 200, 3, 1e-3, 50, 1e-10, b, NULL, NULL, NULL), 0);
    cr_assert_float_eq(b[1], b[2], 1e-9); /* the ridge splits the weight evenly */
}

/* ---- the training run -------------------------------------------------------------- */

#define WORLD_START 1704067200 /* 2024-01-01T00:00:00Z, the generator's default */
#define DAY         INDIV_SECONDS_PER_DAY

static char *make_world(const char *name, int64_t consumers, uint64_t seed) {
    char *path = tu_path(dir, name);
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = consumers;
    p.offers = 80;
    p.categories = 8;
    p.days = 120;
    p.seed = seed;
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_world_generate(log, &p, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
    return path;
}

static void train_params(indiv_train_params *p, int threads) {
    indiv_train_params_init(p);
    p->id = "t1";
    p->as_of = WORLD_START + 90 * DAY;
    p->als.dims = 8;
    p->als.iterations = 6;
    p->als.threads = threads;
}

static int train(const char *db, const indiv_train_params *p, indiv_model *m,
                 indiv_error *err) {
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, err), 0);
    int rc = indiv_train_run(log, p, NULL, NULL, m, NULL, err);
    indiv_eventlog_close(log);
    return rc;
}

static void assert_same_trained(const indiv_model *a, const indiv_model *b) {
    cr_assert_eq(a->intercept, b->intercept);
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        cr_assert_eq(a->weight[t], b->weight[t], "weight %d", t);
    cr_assert_eq(a->embedding->n, b->embedding->n);
    cr_assert_eq(a->embedding->dims, b->embedding->dims);
    for (size_t i = 0; i < a->embedding->n; i++)
        cr_assert_str_eq(a->embedding->offer_ids[i], b->embedding->offer_ids[i]);
    cr_assert_eq(memcmp(a->embedding->vectors, b->embedding->vectors,
                        a->embedding->n * a->embedding->dims * sizeof(double)),
                 0);
}

static json_t *provenance(const indiv_model *m) {
    json_t *j = json_loads(m->provenance, 0, NULL);
    cr_assert_not_null(j);
    return j;
}

Test(train, run_writes_an_embedding_model_with_its_provenance) {
    char *db = make_world("w.db", 300, 3);
    indiv_train_params p;
    train_params(&p, 2);
    indiv_model m;
    indiv_error err = {0};
    cr_assert_eq(train(db, &p, &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.feature_space, "embedding");
    cr_assert_eq(indiv_model_taste_norm(&m), INDIV_TASTE_NORM_L2);
    cr_assert_eq(m.embedding->dims, 8);
    cr_assert_gt(m.embedding->n, 40);
    cr_assert_eq(indiv_model_validate(&m, &err), 0, "%s", err.msg);
    cr_assert_gt(m.bought.affinity, 0, "taste should raise the propensity");
    /* item_item fitted apart for the offers bought; affinity and popularity shared, then
     * the new offers' scaled by the shrink chosen on the validation half */
    json_t *pv = provenance(&m);
    double shrink = json_real_value(json_object_get(
        json_object_get(json_object_get(pv, "propensity_fit"), "new_offer_shrink"), "value"));
    cr_assert(shrink > 0 && shrink <= 1);
    cr_assert_eq(m.bought.present, 1);
    cr_assert_float_eq(m.weight[INDIV_TERM_AFFINITY], shrink * m.bought.affinity, 1e-12);
    cr_assert_float_eq(m.weight[INDIV_TERM_POPULARITY], shrink * m.bought.popularity, 1e-12);
    cr_assert(isfinite(m.bought.item_item));
    cr_assert_not_null(json_object_get(json_object_get(json_object_get(pv, "propensity_fit"),
                                                       "standard_errors"),
                                       "bought_item_item"));
    cr_assert_str_eq(json_string_value(json_object_get(pv, "as_of")),
                     "2024-03-31T00:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(pv, "holdout_from")),
                     "2024-03-17T00:00:00Z");
    cr_assert_eq(json_integer_value(json_object_get(pv, "seed")), 1);
    const char *fp =
        json_string_value(json_object_get(json_object_get(pv, "data"), "fingerprint"));
    cr_assert(fp && strncmp(fp, "fnv1a64:", 8) == 0);
    json_t *v = json_object_get(pv, "validation");
    double ndcg = json_real_value(json_object_get(json_object_get(v, "indiv"), "ndcg"));
    double pop =
        json_real_value(json_object_get(json_object_get(v, "popularity"), "ndcg"));
    cr_assert_gt(json_integer_value(json_object_get(v, "consumers")), 10);
    cr_assert_gt(ndcg, pop, "validation NDCG: indiv %.3f, popularity %.3f", ndcg, pop);
    cr_assert_gt(json_real_value(json_object_get(v, "propensity_auc")), 0.6);
    cr_assert(
        json_is_object(json_object_get(json_object_get(pv, "parameters"), "dims")) ||
        json_integer_value(json_object_get(json_object_get(pv, "parameters"), "dims")) ==
            8);
    json_decref(pv);
    /* the calibration of the validation half: deciles adding up to its people, and a
     * recommended τ where the relevances are */
    const indiv_calibration *c = &m.calibration;
    cr_assert(c->present);
    cr_assert_eq(c->slots, 3);
    cr_assert_float_eq(c->horizon_days, 14, 1e-12);
    cr_assert_eq(c->n_bins, INDIV_CALIBRATION_BINS);
    int64_t people = 0;
    for (size_t b = 0; b < c->n_bins; b++) {
        people += c->bins[b].n;
        cr_assert(b == 0 || c->bins[b].lo >= c->bins[b - 1].hi, "bins ascend");
    }
    cr_assert_eq(people, c->people);
    cr_assert_gt(c->acted, 0);
    cr_assert(!isnan(c->threshold), "a τ is chosen (%lld acted of %lld)",
              (long long)c->acted, (long long)c->people);
    cr_assert(c->threshold >= c->bins[0].lo && c->threshold <= c->bins[9].hi);
    cr_assert_gt(c->tpr, c->fpr, "the model ranks who acts above who does not");
    cr_assert_float_eq(indiv_model_threshold(&m, 3), c->threshold, 0);
    cr_assert(m.act.present, "the act model is fitted by default");
    cr_assert(isfinite(m.act.intercept + m.act.relevance + m.act.orders));
    cr_assert_gt(m.act.relevance, 0, "P(acts) rises with the offers' relevance");
    cr_assert(isnan(indiv_model_threshold(&m, 2)), "calibrated for 3 slots only");
    /* the file round-trips: same vectors, same provenance */
    char *path = tu_path(dir, "m.json");
    indiv_model back;
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    assert_same_trained(&m, &back);
    cr_assert_str_eq(m.provenance, back.provenance);
    cr_assert_eq(memcmp(&m.calibration, &back.calibration, sizeof m.calibration), 0,
                 "the calibration round-trips exactly");
    cr_assert(back.act.present && back.act.intercept == m.act.intercept &&
              back.act.relevance == m.act.relevance && back.act.orders == m.act.orders);
    indiv_model_clear(&back);
    indiv_model_clear(&m);
    free(path);
    free(db);
}

/* --new-offers: shared has no weights_bought and no bought columns in the fit; ranked
 * fits the new-offer sub-model (conditional logit) and its weights are the sub-model's
 * scaled by one coefficient; both round-trip through a file. --act-model orders leaves
 * the rhythm weights of the act model at 0, full fits them. */
Test(train, new_offers_modes_and_act_model_inputs) {
    char *db = make_world("modes.db", 300, 3);
    indiv_train_params p;
    train_params(&p, 1);
    indiv_model m, back;
    indiv_error err = {0};
    char *path = tu_path(dir, "modes.json");

    p.new_offers = INDIV_NEW_OFFERS_SHARED;
    p.act_model = INDIV_ACT_ORDERS;
    p.new_offer_shrink = 1; /* the weights as fitted */
    cr_assert_eq(train(db, &p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m.bought.present, 0, "shared: one weight set for every offer");
    cr_assert(m.act.present && isfinite(m.act.orders));
    cr_assert(m.act.readiness == 0 && m.act.recency == 0 && m.act.rebought == 0 &&
              m.act.repeat_strength == 0);
    json_t *pv = provenance(&m), *fit = json_object_get(pv, "propensity_fit");
    cr_assert_str_eq(json_string_value(json_object_get(fit, "new_offers")), "shared");
    cr_assert(json_is_null(
        json_object_get(json_object_get(fit, "standard_errors"), "bought_item_item")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(pv, "parameters"),
                                                       "act_model")),
                     "orders");
    json_decref(pv);
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(back.bought.present, 0);
    indiv_model_clear(&back);
    indiv_model_clear(&m);

    p.new_offers = INDIV_NEW_OFFERS_RANKED;
    p.act_model = INDIV_ACT_FULL;
    p.new_offer_shrink = 1;
    cr_assert_eq(train(db, &p, &m, &err), 0, "%s", err.msg);
    pv = provenance(&m);
    fit = json_object_get(pv, "propensity_fit");
    cr_assert_str_eq(json_string_value(json_object_get(fit, "new_offers")), "ranked");
    json_t *rk = json_object_get(fit, "new_offer_ranking");
    cr_assert(json_is_true(json_object_get(rk, "converged")));
    cr_assert_gt(json_integer_value(json_object_get(rk, "positives")), 20);
    double c = json_real_value(json_object_get(rk, "scale"));
    static const char *const names[3] = {"affinity", "popularity", "item_item"};
    static const int terms[3] = {INDIV_TERM_AFFINITY, INDIV_TERM_POPULARITY,
                                 INDIV_TERM_ITEM_ITEM};
    for (int k = 0; k < 3; k++)
        cr_assert_float_eq(m.weight[terms[k]],
                           c * json_real_value(json_object_get(
                                   json_object_get(rk, "weights"), names[k])),
                           1e-12,
                           "%s: the sub-model's weight times the scale", names[k]);
    cr_assert_gt(json_real_value(json_object_get(json_object_get(rk, "weights"), "affinity")), 0,
                 "taste ranks the new offers a person buys");
    json_decref(pv);
    cr_assert(m.bought.present && isfinite(m.bought.affinity + m.bought.popularity +
                                           m.bought.item_item));
    cr_assert(m.act.present && isfinite(m.act.readiness + m.act.recency + m.act.rebought +
                                        m.act.repeat_strength));
    cr_assert(m.act.readiness != 0 || m.act.recency != 0 || m.act.rebought != 0,
              "full: the rhythm inputs are fitted");
    cr_assert(m.act.repeat_strength != 0, "full: the repeat strength is fitted");
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    assert_same_trained(&m, &back);
    cr_assert(back.bought.present && back.bought.affinity == m.bought.affinity &&
              back.bought.popularity == m.bought.popularity &&
              back.bought.item_item == m.bought.item_item);
    cr_assert(back.act.present && back.act.intercept == m.act.intercept &&
              back.act.relevance == m.act.relevance && back.act.orders == m.act.orders &&
              back.act.readiness == m.act.readiness &&
              back.act.recency == m.act.recency && back.act.rebought == m.act.rebought &&
              back.act.repeat_strength == m.act.repeat_strength);
    indiv_model_clear(&back);
    indiv_model_clear(&m);
    free(path);
    free(db);
}

/* --new-offer-shrink: a fixed scale multiplies the new offers' affinity and popularity
 * weights and leaves everything else (the offers bought included) as fitted; auto
 * picks a grid value and records the grid's validation NDCG; choice gives every
 * offer-level weight as the choice model's times one scale. */
Test(train, new_offer_shrink_and_the_choice_model) {
    char *db = make_world("shrink.db", 300, 3);
    indiv_train_params p;
    train_params(&p, 1);
    indiv_model full, half, aut, ch;
    indiv_error err = {0};
    p.new_offer_shrink = 1;
    cr_assert_eq(train(db, &p, &full, &err), 0, "%s", err.msg);
    p.new_offer_shrink = 0.5;
    cr_assert_eq(train(db, &p, &half, &err), 0, "%s", err.msg);
    cr_assert_float_eq(half.weight[INDIV_TERM_AFFINITY],
                       0.5 * full.weight[INDIV_TERM_AFFINITY], 1e-12);
    cr_assert_float_eq(half.weight[INDIV_TERM_POPULARITY],
                       0.5 * full.weight[INDIV_TERM_POPULARITY], 1e-12);
    for (int t = INDIV_TERM_READINESS; t < INDIV_TERM_COUNT; t++)
        if (t != INDIV_TERM_AFFINITY && t != INDIV_TERM_POPULARITY)
            cr_assert_eq(half.weight[t], full.weight[t], "term %d as fitted", t);
    cr_assert_eq(half.bought.affinity, full.bought.affinity, "the offers bought keep theirs");
    cr_assert_eq(half.bought.popularity, full.bought.popularity);
    cr_assert_eq(half.bought.item_item, full.bought.item_item);
    p.new_offer_shrink = -1;
    cr_assert_eq(train(db, &p, &aut, &err), 0, "%s", err.msg);
    json_t *pv = provenance(&aut),
           *sh = json_object_get(json_object_get(pv, "propensity_fit"), "new_offer_shrink");
    double v = json_real_value(json_object_get(sh, "value"));
    json_t *grid = json_object_get(sh, "grid");
    cr_assert_eq(json_array_size(grid), 5);
    double best = -1, at = -1;
    for (size_t g = 0; g < 5; g++) {
        json_t *e = json_array_get(grid, g);
        /* never 0: a newcomer's new offers would all score the same (train_run.c) */
        cr_assert_gt(json_real_value(json_object_get(e, "shrink")), 0, "grid entry %zu", g);
        double sum = json_real_value(json_object_get(e, "ndcg_all")) +
                     json_real_value(json_object_get(e, "ndcg_new"));
        if (sum >= best) {
            best = sum;
            at = json_real_value(json_object_get(e, "shrink"));
        }
    }
    cr_assert_float_eq(v, at, 0, "the grid's best (ties to the larger)");
    cr_assert_float_eq(aut.weight[INDIV_TERM_AFFINITY], v * full.weight[INDIV_TERM_AFFINITY],
                       1e-12);
    json_decref(pv);
    p.new_offer_shrink = 1;
    p.new_offers = INDIV_NEW_OFFERS_CHOICE;
    cr_assert_eq(train(db, &p, &ch, &err), 0, "%s", err.msg);
    pv = provenance(&ch);
    json_t *cm = json_object_get(json_object_get(pv, "propensity_fit"), "choice_model"),
           *w = json_object_get(cm, "weights");
    cr_assert(json_is_true(json_object_get(cm, "converged")));
    double c = json_real_value(json_object_get(cm, "scale"));
    cr_assert_float_eq(ch.weight[INDIV_TERM_REPEAT],
                       c * json_real_value(json_object_get(w, "repeat")), 1e-12);
    cr_assert_float_eq(ch.weight[INDIV_TERM_ITEM_ITEM],
                       c * json_real_value(json_object_get(w, "item_item")), 1e-12);
    cr_assert_float_eq(ch.bought.affinity,
                       c * json_real_value(json_object_get(w, "bought_affinity")), 1e-12);
    cr_assert_gt(json_real_value(json_object_get(w, "repeat")), 0,
                 "buyers pick offers they bought before");
    json_decref(pv);
    indiv_model_clear(&ch);
    p.new_offer_shrink = 1.5;
    cr_assert_eq(train(db, &p, &ch, &err), INDIV_EINVAL);
    indiv_model_clear(&full);
    indiv_model_clear(&half);
    indiv_model_clear(&aut);
    free(db);
}

Test(train, same_seed_same_model_whatever_the_thread_count) {
    char *db = make_world("w.db", 300, 4);
    indiv_train_params p1, p2;
    train_params(&p1, 1);
    train_params(&p2, 3);
    indiv_model a, b;
    cr_assert_eq(train(db, &p1, &a, NULL), 0);
    cr_assert_eq(train(db, &p2, &b, NULL), 0);
    assert_same_trained(&a, &b);
    indiv_model_clear(&a);
    indiv_model_clear(&b);
    free(db);
}

/* Appends, for every 3rd consumer, 5 purchases of offer 1 at time ts. */
static void plant(const char *db, int64_t ts) {
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(db, 0, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    for (int64_t c = 1; c <= 300; c += 3)
        for (int k = 0; k < 5; k++) {
            indiv_event ev = {.consumer_id = c,
                              .ts = ts + k,
                              .offer_id = 1,
                              .type = INDIV_EV_PURCHASE,
                              .channel = INDIV_CH_WEB,
                              .quantity = 1,
                              .value = 1};
            cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
        }
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
}

Test(train, no_event_at_or_after_as_of_reaches_the_model) {
    char *db = make_world("w.db", 300, 5);
    indiv_train_params p;
    train_params(&p, 2);
    indiv_model before, after, later;
    cr_assert_eq(train(db, &p, &before, NULL), 0);
    plant(db, p.as_of); /* exactly at as_of, and after */
    plant(db, p.as_of + 3 * DAY);
    cr_assert_eq(train(db, &p, &after, NULL), 0);
    assert_same_trained(&before, &after);
    json_t *a = provenance(&before), *b = provenance(&after);
    cr_assert(json_equal(json_object_get(a, "data"), json_object_get(b, "data")));
    cr_assert(
        json_equal(json_object_get(a, "validation"), json_object_get(b, "validation")));
    /* and the planted events do matter once they are before as_of */
    p.as_of += 4 * DAY;
    cr_assert_eq(train(db, &p, &later, NULL), 0);
    cr_assert_neq(later.weight[INDIV_TERM_POPULARITY],
                  after.weight[INDIV_TERM_POPULARITY]);
    json_decref(a);
    json_decref(b);
    indiv_model_clear(&before);
    indiv_model_clear(&after);
    indiv_model_clear(&later);
    free(db);
}

/* Two e-mail contacts (offer 1 + c % 60) per consumer in the tail; consumers with an
 * even id open the first within a day. */
static void plant_contacts(const char *db, int64_t tail) {
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(db, 0, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    for (int64_t c = 1; c <= 300; c++) {
        indiv_event ev = {.consumer_id = c,
                          .ts = tail + DAY,
                          .offer_id = 1 + c % 60,
                          .type = INDIV_EV_CONTACT,
                          .channel = INDIV_CH_EMAIL};
        cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
        ev.ts = tail + 5 * DAY;
        cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
        if (c % 2)
            continue;
        ev.ts = tail + DAY + 3600;
        ev.type = INDIV_EV_OPEN;
        cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
    }
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
}

Test(train, contacts_and_reactions_are_the_labels_when_the_log_has_them) {
    char *db = make_world("w.db", 300, 12);
    indiv_train_params p;
    train_params(&p, 2);
    plant_contacts(db, p.as_of - 14 * DAY);
    indiv_model m;
    indiv_train_summary sum;
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_train_run(log, &p, NULL, NULL, &m, &sum, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
    cr_assert(sum.labels_from_contacts);
    /* two contacts per known consumer with profiling consent, the first answered by the
     * even ids only: half the first contacts, a quarter of all */
    cr_assert_gt(sum.examples, 300);
    cr_assert_eq(sum.examples % 2, 0);
    double share = (double)sum.positives / (double)sum.examples;
    cr_assert(share > 0.2 && share < 0.3, "answered share %.3f", share);
    json_t *pv = provenance(&m);
    const char *labels = json_string_value(
        json_object_get(json_object_get(pv, "propensity_fit"), "labels"));
    cr_assert_str_eq(labels, "contacts answered in the tail");
    json_decref(pv);
    indiv_model_clear(&m);
    free(db);
}

Test(train, a_log_too_small_to_learn_from_is_refused_clearly) {
    char *db = make_world("tiny.db", 12, 6);
    indiv_train_params p;
    train_params(&p, 1);
    indiv_model m;
    indiv_error err = {0};
    cr_assert_eq(train(db, &p, &m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "too small to learn from"), "%s", err.msg);
    cr_assert(strstr(err.msg, "at least 20"), "%s", err.msg);
    cr_assert_null(m.embedding);
    /* a tail with almost no purchase: too few positives */
    free(db);
    db = make_world("w.db", 300, 6);
    p.holdout_days = 0.05;
    err = (indiv_error){0};
    cr_assert_eq(train(db, &p, &m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "purchases in the 0.05-day held-back tail"), "%s", err.msg);
    free(db);
}

Test(train, the_scratch_snapshot_file_is_removed_and_the_log_untouched) {
    char *db = make_world("w.db", 300, 8), *scratch = tu_path(dir, "scratch.db");
    indiv_eventlog *log;
    char h1[17], h2[17];
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_content_hash(log, h1, NULL), 0);
    indiv_eventlog_close(log);
    indiv_train_params p;
    train_params(&p, 2);
    p.scratch = scratch;
    indiv_model m;
    cr_assert_eq(train(db, &p, &m, NULL), 0);
    cr_assert_null(tu_read(scratch, NULL), "the snapshot file was left behind");
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_content_hash(log, h2, NULL), 0);
    indiv_eventlog_close(log);
    cr_assert_str_eq(h1, h2);
    indiv_model_clear(&m);
    free(scratch);
    free(db);
}

/* ---- embedding models: file format, application ------------------------------------ */

static const char emb_head[] =
    "{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"e1\", \"feature_space\": "
    "\"embedding\", \"propensity\": {\"intercept\": -1, \"weights\": {\"affinity\": 2, "
    "\"popularity\": 1, \"readiness\": 0.5, \"frequency\": 0.25}, "
    "\"popularity_half_life_days\": 30}";

static void write_model(const char *path, const char *tail) {
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s}", emb_head, tail);
    tu_write(path, buf);
}

Test(train, embedding_model_files_are_checked_field_by_field) {
    static const struct {
        const char *tail, *field;
    } bad[] = {
        {"", "'embedding'"},
        {", \"embedding\": []", "'embedding'"},
        {", \"embedding\": {\"dims\": 0, \"offers\": {\"a\": []}}", "'embedding.dims'"},
        {", \"embedding\": {\"dims\": 2.5, \"offers\": {\"a\": [1, 2]}}",
         "'embedding.dims'"},
        {", \"embedding\": {\"dims\": 2, \"offers\": {}}", "'embedding.offers'"},
        {", \"embedding\": {\"dims\": 2, \"offers\": {\"a\": [1]}}",
         "'embedding.offers.a'"},
        {", \"embedding\": {\"dims\": 2, \"offers\": {\"a\": [1, \"x\"]}}",
         "'embedding.offers.a[1]'"},
        {", \"embedding\": {\"dims\": 2, \"offers\": {\"a\": [1, 2]}, \"bias\": 1}",
         "'embedding.bias'"},
        {", \"embedding\": {\"dims\": 2, \"offers\": {\"a\": [1, 2]}}, \"taste_norm\": "
         "\"l1\"",
         "'taste_norm'"},
        {", \"embedding\": {\"dims\": 2, \"offers\": {\"a\": [1, 2]}}, \"provenance\": 3",
         "'provenance'"},
    };
    char *path = tu_path(dir, "e.json");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_model(path, bad[i].tail);
        indiv_model m;
        indiv_error err = {0};
        cr_assert_lt(indiv_model_load(path, &m, &err), 0, "case %zu accepted", i);
        cr_assert(strstr(err.msg, bad[i].field), "case %zu: '%s' lacks %s", i, err.msg,
                  bad[i].field);
        cr_assert(strstr(err.msg, path), "case %zu: '%s' does not name the file", i,
                  err.msg);
        cr_assert_null(m.embedding);
    }
    /* a category model may not carry an embedding */
    tu_write(path,
             "{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"c\", "
             "\"feature_space\": \"category\", \"embedding\": {\"dims\": 1, \"offers\": "
             "{\"a\": [1]}}, \"propensity\": {\"intercept\": -1, \"weights\": "
             "{\"affinity\": 2, \"popularity\": 1, \"readiness\": 0.5, \"frequency\": "
             "0.25}, \"popularity_half_life_days\": 30}}");
    indiv_model m;
    indiv_error err = {0};
    cr_assert_lt(indiv_model_load(path, &m, &err), 0);
    cr_assert(strstr(err.msg, "'embedding'"), "%s", err.msg);
    free(path);
}

Test(train, an_embedding_is_applied_to_the_catalog_with_zero_rows_for_missing_offers) {
    char *db = make_world("w.db", 30, 9), *path = tu_path(dir, "e.json");
    /* offers o01 and o02 have vectors, and one offer unknown to the catalog */
    write_model(path,
                ", \"taste_norm\": \"l2\", \"embedding\": {\"dims\": 2, \"offers\": "
                "{\"o02\": [0.5, -1.5], \"zzz\": [9, 9], \"o01\": [1, 2]}}, "
                "\"provenance\": {\"as_of\": \"2024-03-01\", \"note\": [1, 2]}");
    indiv_model m;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_load(path, &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.embedding->offer_ids[0], "o01"); /* sorted */
    cr_assert_str_eq(m.provenance, "{\"as_of\":\"2024-03-01\",\"note\":[1,2]}");
    indiv_eventlog *log;
    indiv_catalog *cat;
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_catalog_load(log, &cat, NULL), 0);
    size_t missing, i1, i2;
    cr_assert_eq(indiv_model_apply(&m, cat, &missing, &err), 0, "%s", err.msg);
    cr_assert_eq(missing, 78);
    cr_assert_eq(indiv_catalog_dims(cat), 2);
    cr_assert_str_eq(indiv_catalog_feature_source(cat), "embedding:e1");
    int64_t id1, id2;
    cr_assert_eq(indiv_eventlog_offer_id(log, "o01", &id1, NULL), 0);
    cr_assert_eq(indiv_eventlog_offer_id(log, "o02", &id2, NULL), 0);
    cr_assert_eq(indiv_catalog_index(cat, id1, &i1), 0);
    cr_assert_eq(indiv_catalog_index(cat, id2, &i2), 0);
    cr_assert_float_eq(indiv_catalog_features(cat, i1)[1], 2, 1e-15);
    cr_assert_float_eq(indiv_catalog_features(cat, i2)[1], -1.5, 1e-15);
    cr_assert_float_eq(indiv_catalog_features(cat, (i1 + 5) % 80)[0], 0, 1e-15);
    /* the scorer accepts the model on this catalog, and refuses the default model */
    indiv_scorer *s;
    indiv_model def;
    indiv_model_default(&def);
    cr_assert_eq(
        indiv_catalog_load_popularity(cat, log, WORLD_START + 60 * DAY, 30, NULL), 0);
    cr_assert_eq(indiv_scorer_new(&m, cat, &s, &err), 0, "%s", err.msg);
    indiv_scorer_free(s);
    cr_assert_eq(indiv_scorer_new(&def, cat, &s, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "embedding:e1"), "%s", err.msg);
    indiv_catalog_free(cat);
    indiv_eventlog_close(log);
    indiv_model_clear(&m);
    free(path);
    free(db);
}

Test(train, l2_taste_norm_scores_the_cosine_direction) {
    char *db = make_world("w.db", 30, 10), *path = tu_path(dir, "e.json");
    write_model(path, ", \"embedding\": {\"dims\": 2, \"offers\": {\"o01\": [3, 4]}}");
    indiv_model m;
    cr_assert_eq(indiv_model_load(path, &m, NULL), 0);
    indiv_eventlog *log;
    indiv_catalog *cat;
    indiv_scorer *s;
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_catalog_load(log, &cat, NULL), 0);
    cr_assert_eq(indiv_model_apply(&m, cat, NULL, NULL), 0);
    cr_assert_eq(indiv_scorer_new(&m, cat, &s, NULL), 0);
    indiv_score_block *b = indiv_score_block_new(s, 1);
    indiv_profile pr;
    indiv_profile_init(&pr);
    double taste[2] = {-6, 8}; /* length 10: normalised to (-0.6, 0.8) */
    pr.features = INDIV_FEAT_TASTE;
    pr.dims = 2;
    pr.taste = taste;
    indiv_score_set_row(s, b, 0, &pr, 0);
    cr_assert_eq(indiv_score_run(s, b, 1, NULL), 0);
    int64_t id;
    size_t j;
    cr_assert_eq(indiv_eventlog_offer_id(log, "o01", &id, NULL), 0);
    cr_assert_eq(indiv_catalog_index(cat, id, &j), 0);
    cr_assert_float_eq(indiv_score_affinity(b, 0)[j], -0.6 * 3 + 0.8 * 4, 1e-12);
    indiv_score_block_free(b);
    indiv_scorer_free(s);
    indiv_catalog_free(cat);
    indiv_eventlog_close(log);
    indiv_model_clear(&m);
    free(path);
    free(db);
}
