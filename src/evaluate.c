/*
 * evaluate.c — the offline evaluation run (contract in evaluate.h, definitions in
 * docs/evaluation.md).
 *
 * Order of work: a snapshot of the log cut at the split (so that nothing at or after
 * it can reach profiles, scores or baselines), the model applied to its catalogue and
 * profiles built in it; the known customers' purchase history (from the snapshot) and
 * their truth (from the log, [split, until)); the decision run with a callback; then one
 * pass over the known customers in blocks of 256 (one dgemm each) that ranks the offers
 * by every method and accumulates every metric, so that memory is a few values per
 * known customer, never one per (consumer, offer) pair.
 *
 * Randomness (the random baseline, the order of tied offers in the concrete lists) comes
 * from SplitMix64 hashes of (seed, consumer id, offer): the same whatever the order of
 * work.
 */
#include "indiv/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/fileio.h"
#include "indiv/itemsim.h"
#include "indiv/metrics.h"
#include "indiv/rng.h"
#include "indiv/score.h"
#include "indiv/timeutil.h"
#include "indiv/train.h"

#define DEF_K 10
#define BLOCK INDIV_DECIDE_BLOCK
/* Accuracy values kept per consumer: hit, precision, recall, ndcg. */
#define NACC 4
/* Salts of the two hashes drawn per (consumer, offer). */
#define SALT_RANDOM 1
#define SALT_TIE    2

static const double default_taus[] = {0,   0.01, 0.02, 0.05, 0.1, 0.15, 0.2,
                                      0.3, 0.4,  0.5,  0.6,  0.7, 0.8,  0.9};
static const char *const method_names[INDIV_EVAL_METHODS] = {
    "indiv", "random", "popularity", "mass", "repeat", "item-knn", "ease"};
/* Baseline defaults (docs/evaluation.md): k = 100 is Deshpande & Karypis' usual size;
 * EASE's lambda is searched on a half-decade grid around the values Steck (2019) reports
 * (200 to 3000 on far larger data; smaller data needs less shrinkage, hence from 10). */
#define DEF_KNN_K           100
#define DEF_EASE_VALID_DAYS 28.0
static const double ease_grid[INDIV_EVAL_EASE_GRID] = {10, 30, 100, 300, 1000};
static const char *const mode_names[INDIV_EVAL_MODES] = {"all", "new"};

void indiv_eval_params_init(indiv_eval_params *p) {
    memset(p, 0, sizeof *p);
    p->split = p->until = INT64_MIN;
    p->k = DEF_K;
    p->seed = 1;
    indiv_decide_opts_init(&p->decide);
    indiv_profile_params_init(&p->profile);
    p->n_taus = sizeof default_taus / sizeof *default_taus;
    memcpy(p->taus, default_taus, sizeof default_taus);
    p->scratch = ":memory:";
    p->knn_k = DEF_KNN_K;
    p->ease_lambda = 0;
    p->ease_validation_days = DEF_EASE_VALID_DAYS;
    p->serendipity_table = 1;
}

const char *indiv_eval_method_name(indiv_eval_method m) {
    return (unsigned)m < INDIV_EVAL_METHODS ? method_names[m]
           : m == INDIV_EVAL_DECIDED        ? "indiv-decided"
                                            : "?";
}

const char *indiv_eval_mode_name(indiv_eval_mode m) {
    return (unsigned)m < INDIV_EVAL_MODES ? mode_names[m] : "?";
}

static int check_params(const indiv_eval_params *p, indiv_error *err) {
    if (p->split == INT64_MIN || p->until == INT64_MIN || p->until <= p->split)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "evaluation needs a split time and an until time after it");
    if (p->k < 1 || p->n_taus < 1 || p->n_taus > INDIV_EVAL_TAUS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "k must be >= 1 and 1 to %d taus",
                               INDIV_EVAL_TAUS_MAX);
    if (p->knn_k < 1 || !(p->ease_lambda >= 0) || !(p->ease_validation_days > 0))
        return indiv_error_set(err, INDIV_EINVAL,
                               "knn_k must be >= 1, ease_lambda >= 0 (0: chosen on the "
                               "validation split), ease_validation_days > 0");
    for (size_t t = 0; t < p->n_taus; t++)
        if (!(p->taus[t] >= 0 && p->taus[t] <= 1))
            return indiv_error_set(err, INDIV_EINVAL, "tau %g is not in [0, 1]",
                                   p->taus[t]);
    int rc = indiv_policy_params_validate(&p->decide.policy, err);
    return rc < 0 ? rc : indiv_profile_params_validate(&p->profile, err);
}

/* A model trained on events at or after the split would carry the future into the
 * evaluation: refused when its provenance says so. */
static int check_model_time(const indiv_model *m, int64_t split, indiv_error *err) {
    json_t *j = m->provenance ? json_loads(m->provenance, 0, NULL) : NULL;
    json_t *v = json_object_get(j, "as_of");
    const char *s = json_string_value(v);
    int64_t as_of;
    int rc = INDIV_OK;
    char t[INDIV_ISO_LEN];
    /* a provenance that names a time must name a valid one, or the check is blind */
    if (v && (!s || indiv_time_parse(s, &as_of) != INDIV_OK))
        rc = indiv_error_set(err, INDIV_EFORMAT,
                             "model %s: provenance.as_of is not a time in the years 1 to "
                             "9999, so whether it learnt from after the split cannot be "
                             "checked: correct it, or remove it from the model file",
                             m->id);
    else if (s && as_of > split)
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "model %s was trained on events before %s, after the split "
                             "%s: train it with --as-of at or before the split",
                             m->id, s, indiv_time_format(split, t));
    json_decref(j);
    return rc;
}

/* ---- state ------------------------------------------------------------------------- */

/* The concrete list: top k by score, ties in a random order (hash of the consumer's
 * stream and the offer). A binary heap whose root is the worst kept candidate. */
struct cand {
    double s;
    uint64_t tie;
    size_t j;
};

struct triplets {
    size_t *r, *c;
    double *v;
    size_t n, cap;
};

struct eval {
    indiv_eventlog *log, *snap;
    const indiv_model *m;
    const indiv_eval_params *p;
    indiv_progress_fn progress;
    void *ctx;
    indiv_eval_result *out;
    indiv_catalog *cat;
    size_t n; /* offers */
    unsigned char *valid;
    size_t *category;
    double *pop_count, *self_info;
    int64_t *ids; /* known customers, ascending */
    size_t n_known, ids_cap;
    indiv_sparse *hist, *truth; /* hist: purchase occasions before the split */
    indiv_sparse *last;         /* time of the last purchase of each history offer */
    indiv_sparse *hist_train, *val_truth; /* EASE validation: before / in the window */
    double *occasions;                    /* per known customer: purchase occasions */
    indiv_sparse *knn;                    /* item-kNN neighbours (n × n, k per row) */
    double *ease;                         /* EASE's B (n × n) */
    unsigned char *rep_hit[INDIV_EVAL_MODES]; /* hits among repeat's top `slots` */
    unsigned char *rep_len;                   /* offers in repeat's top `slots` */
    double *cal_pred;         /* per known customer: P(acts) over indiv's top `slots` */
    unsigned char *cal_acted; /* ... and whether one of those offers was bought */
    /* per known customer, on the curve's scale (τ under `any`, logit τ under `best`):
     * contacted with a hit at a point when hit_key >= it */
    double *hit_key;
    /* the consumer being ranked: its scorer row, for the act model of the curve */
    const indiv_scorer *cur_s;
    const indiv_score_block *cur_b;
    size_t cur_slot;
    indiv_rhythm_prior prior;
    /* decisions of the known customers */
    unsigned char *action;
    int *n_dec;
    size_t *dec_offers; /* n_known × slots */
    /* per consumer accuracy [mode][method][NACC][row], and who counts in each mode */
    double *vals;
    unsigned char *counted[INDIV_EVAL_MODES];
    /* beyond accuracy */
    unsigned char *seen[INDIV_EVAL_MODES][INDIV_EVAL_METHODS];
    double nov_sum[INDIV_EVAL_MODES][INDIV_EVAL_METHODS];
    double ild_sum[INDIV_EVAL_MODES][INDIV_EVAL_METHODS];
    int64_t nov_n[INDIV_EVAL_MODES][INDIV_EVAL_METHODS];
    int64_t ild_n[INDIV_EVAL_MODES][INDIV_EVAL_METHODS];
    /* per consumer work buffers */
    double *score[INDIV_EVAL_METHODS];
    unsigned char *rel, *hflag, *past_cat;
    indiv_scored *ws;
    struct cand *heap;
    size_t *list, *list_hist;
    FILE *lists;              /* the stream of lists_out */
    indiv_outfile *lists_out; /* --lists: appears only when the run succeeds */
};

static double *val_at(struct eval *e, int mode, int method, int acc) {
    return e->vals +
           (((size_t)mode * INDIV_EVAL_METHODS + (size_t)method) * NACC + (size_t)acc) *
               e->n_known;
}

static void eval_free(struct eval *e) {
    indiv_catalog_free(e->cat);
    free(e->valid);
    free(e->category);
    free(e->pop_count);
    free(e->self_info);
    free(e->ids);
    indiv_sparse_free(e->hist);
    indiv_sparse_free(e->truth);
    indiv_sparse_free(e->last);
    indiv_sparse_free(e->hist_train);
    indiv_sparse_free(e->val_truth);
    indiv_sparse_free(e->knn);
    free(e->occasions);
    free(e->ease);
    for (int mo = 0; mo < INDIV_EVAL_MODES; mo++)
        free(e->rep_hit[mo]);
    free(e->rep_len);
    free(e->cal_pred);
    free(e->cal_acted);
    free(e->hit_key);
    free(e->action);
    free(e->n_dec);
    free(e->dec_offers);
    free(e->vals);
    for (int mo = 0; mo < INDIV_EVAL_MODES; mo++) {
        free(e->counted[mo]);
        for (int me = 0; me < INDIV_EVAL_METHODS; me++)
            free(e->seen[mo][me]);
    }
    for (int me = 0; me < INDIV_EVAL_METHODS; me++)
        free(e->score[me]);
    free(e->rel);
    free(e->hflag);
    free(e->past_cat);
    free(e->ws);
    free(e->heap);
    free(e->list);
    free(e->list_hist);
    indiv_outfile_finish(e->lists_out, INDIV_EIO, NULL); /* unfinished: removed */
    if (e->snap) {
        indiv_eventlog_close(e->snap);
        if (strcmp(e->p->scratch, ":memory:") != 0)
            remove(e->p->scratch);
    }
}

static void report(const struct eval *e, const char *stage, int64_t done, int64_t total) {
    if (e->progress)
        e->progress(e->ctx, stage, done, total);
}

/* ---- growing arrays ---------------------------------------------------------------- */

static int triplet_add(struct triplets *t, size_t r, size_t c) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4096;
        size_t *nr = realloc(t->r, cap * sizeof *nr);
        if (nr)
            t->r = nr;
        size_t *nc = realloc(t->c, cap * sizeof *nc);
        if (nc)
            t->c = nc;
        double *nv = realloc(t->v, cap * sizeof *nv);
        if (nv)
            t->v = nv;
        if (!nr || !nc || !nv)
            return INDIV_ENOMEM;
        t->cap = cap;
    }
    t->r[t->n] = r;
    t->c[t->n] = c;
    t->v[t->n++] = 1;
    return INDIV_OK;
}

static void triplets_free(struct triplets *t) {
    free(t->r);
    free(t->c);
    free(t->v);
}

static int add_known(struct eval *e, int64_t id) {
    if (e->n_known == e->ids_cap) {
        size_t cap = e->ids_cap ? 2 * e->ids_cap : 1024;
        int64_t *ids = realloc(e->ids, cap * sizeof *ids);
        if (!ids)
            return INDIV_ENOMEM;
        e->ids = ids;
        e->ids_cap = cap;
    }
    e->ids[e->n_known++] = id;
    return INDIV_OK;
}

/* Row of a known customer, or SIZE_MAX. */
static size_t row_of(const struct eval *e, int64_t id) {
    size_t lo = 0, hi = e->n_known;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->n_known && e->ids[lo] == id ? lo : SIZE_MAX;
}

/* ---- history and truth ------------------------------------------------------------- */

/* One purchase line before the split. */
struct line {
    size_t row, offer;
    int64_t ts;
};

struct lines {
    struct line *v;
    size_t n, cap;
};

static int line_add(struct lines *l, size_t row, size_t offer, int64_t ts) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4096;
        struct line *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return INDIV_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct line){row, offer, ts};
    return INDIV_OK;
}

static int line_cmp(const void *a, const void *b) {
    const struct line *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    if (x->offer != y->offer)
        return x->offer < y->offer ? -1 : 1;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* The matrices of the history, from the lines sorted by (row, offer, time): purchase
 * occasions (distinct times) and last time per offer; occasions before the EASE
 * validation window and purchases in it. */
struct hist_t {
    struct triplets occ, last, train, val;
};

static int hist_offer(struct hist_t *h, const struct line *v, size_t n, int64_t t_val) {
    double occ = 0, occ_train = 0;
    int in_val = 0;
    for (size_t a = 0; a < n; a++) {
        int fresh = a == 0 || v[a].ts != v[a - 1].ts;
        occ += fresh;
        occ_train += fresh && v[a].ts < t_val;
        in_val |= v[a].ts >= t_val;
    }
    int rc = triplet_add(&h->occ, v->row, v->offer);
    if (rc == INDIV_OK)
        rc = triplet_add(&h->last, v->row, v->offer);
    if (rc == INDIV_OK && occ_train > 0)
        rc = triplet_add(&h->train, v->row, v->offer);
    if (rc == INDIV_OK && in_val)
        rc = triplet_add(&h->val, v->row, v->offer);
    if (rc == INDIV_OK) {
        h->occ.v[h->occ.n - 1] = occ;
        h->last.v[h->last.n - 1] = (double)v[n - 1].ts;
        if (occ_train > 0)
            h->train.v[h->train.n - 1] = occ_train;
    }
    return rc;
}

/* Occasions per known customer: distinct purchase times over every offer. */
static void count_occasions(struct eval *e, struct lines *l) {
    for (size_t a = 0; a < l->n; a++)
        if (a == 0 || l->v[a].row != l->v[a - 1].row || l->v[a].ts != l->v[a - 1].ts)
            e->occasions[l->v[a].row]++;
}

static int build_history(struct eval *e, struct lines *l, indiv_error *err) {
    struct hist_t h = {0};
    int64_t t_val =
        e->p->split - (int64_t)llround(e->p->ease_validation_days * INDIV_SECONDS_PER_DAY);
    int rc = (e->occasions = calloc(e->n_known + 1, sizeof *e->occasions))
                 ? INDIV_OK
                 : INDIV_ENOMEM;
    if (rc == INDIV_OK) { /* by row and time: occasions */
        count_occasions(e, l);
        if (l->n > 1) /* qsort's array may not be NULL, even empty (C11 7.22.5) */
            qsort(l->v, l->n, sizeof *l->v, line_cmp);
    }
    for (size_t a = 0, b; rc == INDIV_OK && a < l->n; a = b) {
        for (b = a + 1; b < l->n && l->v[b].row == l->v[a].row &&
                        l->v[b].offer == l->v[a].offer;
             b++)
            ;
        rc = hist_offer(&h, l->v + a, b - a, t_val);
    }
    if (rc == INDIV_ENOMEM)
        rc = indiv_error_set(err, rc, "out of memory reading the history");
    struct triplets *t[4] = {&h.occ, &h.last, &h.train, &h.val};
    indiv_sparse **m[4] = {&e->hist, &e->last, &e->hist_train, &e->val_truth};
    for (int k = 0; k < 4; k++) {
        if (rc == INDIV_OK)
            rc = indiv_sparse_from_triplets(e->n_known, e->n, t[k]->n, t[k]->r, t[k]->c,
                                            t[k]->v, m[k], err);
        triplets_free(t[k]);
    }
    return rc;
}

/* Purchases before the split (snapshot): a row per consumer with at least one. Events
 * come in (consumer, time) order. */
static int read_history(struct eval *e, indiv_error *err) {
    indiv_event_cursor *cur;
    indiv_event ev;
    struct lines l = {0};
    int64_t current = -1;
    size_t i;
    int rc = indiv_eventlog_scan_consented(e->snap, INT64_MIN, e->p->split, &cur, err);
    while (rc >= 0 && (rc = indiv_event_cursor_next(cur, &ev, err)) == 1) {
        rc = INDIV_OK;
        if (ev.type != INDIV_EV_PURCHASE || ev.offer_id <= 0 ||
            indiv_catalog_index(e->cat, ev.offer_id, &i) < 0)
            continue;
        if (ev.consumer_id != current &&
            (rc = add_known(e, current = ev.consumer_id)) < 0)
            break;
        rc = line_add(&l, e->n_known - 1, i, ev.ts);
    }
    indiv_event_cursor_free(cur);
    if (rc == INDIV_ENOMEM)
        indiv_error_set(err, rc, "out of memory reading the history");
    if (rc >= 0)
        rc = build_history(e, &l, err);
    free(l.v);
    return rc < 0 ? rc : INDIV_OK;
}

/* Purchases in [split, until) (the log itself): the truth of known customers; the
 * other buyers are counted as cold. */
static int read_truth(struct eval *e, indiv_error *err) {
    indiv_event_cursor *cur;
    indiv_event ev;
    struct triplets t = {0};
    int64_t last_cold = -1;
    size_t i, row;
    int rc = indiv_eventlog_scan_consented(e->log, e->p->split, e->p->until, &cur, err);
    while (rc >= 0 && (rc = indiv_event_cursor_next(cur, &ev, err)) == 1) {
        rc = INDIV_OK;
        if (ev.type != INDIV_EV_PURCHASE || ev.offer_id <= 0 ||
            indiv_catalog_index(e->cat, ev.offer_id, &i) < 0)
            continue;
        if ((row = row_of(e, ev.consumer_id)) != SIZE_MAX)
            rc = triplet_add(&t, row, i);
        else if (ev.consumer_id != last_cold) {
            e->out->cold_buyers++;
            last_cold = ev.consumer_id;
        }
    }
    indiv_event_cursor_free(cur);
    if (rc == INDIV_ENOMEM)
        indiv_error_set(err, rc, "out of memory reading the truth");
    if (rc >= 0)
        rc = indiv_sparse_from_triplets(e->n_known, e->n, t.n, t.r, t.c, t.v, &e->truth,
                                        err);
    triplets_free(&t);
    if (rc >= 0)
        e->out->truth_purchases = (int64_t)e->truth->nnz;
    return rc < 0 ? rc : INDIV_OK;
}

static int add_offer_day(void *ctx, int64_t offer_id, int64_t day, int64_t purchases) {
    struct eval *e = ctx;
    size_t i;
    (void)day;
    if (indiv_catalog_index(e->cat, offer_id, &i) == INDIV_OK)
        e->pop_count[i] += (double)purchases;
    return INDIV_OK;
}

/* ---- set-up ------------------------------------------------------------------------ */

/* Catalogue of the snapshot with the model applied, validity, categories, purchase
 * counts before the split and their self-information. */
static int load_catalog(struct eval *e, indiv_error *err) {
    size_t missing = 0;
    int rc = indiv_catalog_load(e->snap, &e->cat, err);
    if (rc == INDIV_OK)
        rc = indiv_model_apply(e->m, e->cat, &missing, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load_popularity(e->cat, e->snap, e->p->split,
                                           e->m->popularity_half_life_days, err);
    if (rc < 0)
        return rc;
    e->out->offers_without_embedding = (int64_t)missing;
    e->n = indiv_catalog_size(e->cat);
    e->valid = malloc(e->n);
    e->category = malloc(e->n * sizeof *e->category);
    e->pop_count = calloc(e->n, sizeof *e->pop_count);
    e->self_info = malloc(e->n * sizeof *e->self_info);
    if (!e->valid || !e->category || !e->pop_count || !e->self_info)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t j = 0; j < e->n; j++) {
        e->out->candidates += e->valid[j] =
            (unsigned char)indiv_catalog_valid_at(e->cat, j, e->p->split);
        e->category[j] = indiv_catalog_offer(e->cat, j)->category;
    }
    rc = indiv_eventlog_each_offer_day(e->snap, INT64_MAX, add_offer_day, e, err);
    if (rc == INDIV_OK)
        indiv_metrics_self_information(e->pop_count, e->n, e->self_info);
    return rc;
}

/* ---- item-to-item baselines ------------------------------------------------------- */

/* Offer indices of row `row` of m (valid or not: history counts whatever is on sale). */
static size_t row_items(const indiv_sparse *m, size_t row, size_t *out) {
    size_t n = 0;
    for (size_t k = m->ptr[row]; k < m->ptr[row + 1]; k++)
        out[n++] = m->idx[k];
    return n;
}

/* Mean NDCG@k of EASE's B on the validation window: consumers who bought in it and
 * before it, every purchase counting, among the offers valid at the split. */
static double ease_validation(struct eval *e, const double *b, size_t *items,
                              double *score, int64_t *consumers) {
    double sum = 0;
    int64_t n_val = 0;
    for (size_t row = 0; row < e->n_known; row++) {
        size_t v0 = e->val_truth->ptr[row], v1 = e->val_truth->ptr[row + 1];
        size_t h = row_items(e->hist_train, row, items);
        if (v0 == v1 || h == 0)
            continue;
        memset(score, 0, e->n * sizeof *score);
        indiv_itemsim_score(b, NULL, e->n, items, h, score);
        for (size_t j = 0; j < e->n; j++)
            score[j] = e->valid[j] ? score[j] : -INFINITY;
        for (size_t k = v0; k < v1; k++)
            e->rel[e->val_truth->idx[k]] = 1;
        indiv_topk t;
        indiv_metrics_topk(score, e->rel, e->n, v1 - v0, (size_t)e->p->k, e->ws, &t);
        for (size_t k = v0; k < v1; k++)
            e->rel[e->val_truth->idx[k]] = 0;
        sum += t.ndcg;
        n_val++;
    }
    *consumers = n_val;
    return n_val ? sum / (double)n_val : 0;
}

/* EASE's lambda: the given one, or the grid's best on the validation window (the
 * smaller lambda on a tie). */
static int ease_choose(struct eval *e, size_t *items, double *score, indiv_error *err) {
    indiv_eval_result *o = e->out;
    double best = -1;
    memcpy(o->ease_grid, ease_grid, sizeof ease_grid);
    o->ease_lambda = e->p->ease_lambda;
    for (int g = 0; e->p->ease_lambda == 0 && g < INDIV_EVAL_EASE_GRID; g++) {
        int rc = indiv_itemsim_gram(e->hist_train, e->ease, err);
        if (rc == INDIV_OK)
            rc = indiv_itemsim_ease(e->ease, e->n, ease_grid[g], err);
        if (rc < 0)
            return rc;
        o->ease_val_ndcg[g] =
            ease_validation(e, e->ease, items, score, &o->ease_val_consumers);
        if (o->ease_val_ndcg[g] > best) {
            best = o->ease_val_ndcg[g];
            o->ease_lambda = ease_grid[g];
        }
        report(e, "ease-validation", g + 1, INDIV_EVAL_EASE_GRID);
    }
    return INDIV_OK;
}

/* Item-kNN's neighbours and EASE's B from the history before the split. */
static int fit_item_models(struct eval *e, indiv_error *err) {
    size_t n = e->n;
    size_t *items = malloc((n + 1) * sizeof *items);
    double *score = malloc((n + 1) * sizeof *score);
    e->ease = malloc((n * n + 1) * sizeof *e->ease);
    int rc = items && score && e->ease && e->rel && e->ws
                 ? INDIV_OK
                 : indiv_error_set(err, INDIV_ENOMEM,
                                   "out of memory for a %zu × %zu item matrix", n, n);
    if (rc == INDIV_OK)
        rc = indiv_itemsim_gram(e->hist, e->ease, err);
    if (rc == INDIV_OK) {
        indiv_itemsim_cosine(e->ease, n);
        rc = indiv_itemsim_topk(e->ease, n, (size_t)e->p->knn_k, &e->knn, err);
    }
    if (rc == INDIV_OK)
        rc = ease_choose(e, items, score, err);
    if (rc == INDIV_OK)
        rc = indiv_itemsim_gram(e->hist, e->ease, err);
    if (rc == INDIV_OK)
        rc = indiv_itemsim_ease(e->ease, n, e->out->ease_lambda, err);
    free(items);
    free(score);
    return rc;
}

static int build_profiles(struct eval *e, indiv_error *err) {
    indiv_profile_params pp = e->p->profile;
    indiv_profile_summary sum = {0};
    pp.as_of = e->p->split;
    int rc = indiv_profile_build(e->snap, e->cat, &pp, 0, e->progress, e->ctx, &sum, err);
    e->prior = sum.prior;
    return rc;
}

/* Offers kept per decision: the slots and one divergent offer in an extra slot. */
static size_t dec_stride(const struct eval *e) {
    return (size_t)e->p->decide.policy.slots + 1;
}

static int alloc_work(struct eval *e, indiv_error *err) {
    size_t nk = e->n_known + 1, slots = dec_stride(e);
    int ok =
        (e->action = calloc(nk, 1)) && (e->n_dec = calloc(nk, sizeof *e->n_dec)) &&
        (e->dec_offers = calloc(nk * slots, sizeof *e->dec_offers)) &&
        (e->vals = calloc(nk * INDIV_EVAL_MODES * INDIV_EVAL_METHODS * NACC,
                          sizeof *e->vals)) &&
        (e->rel = calloc(e->n, 1)) && (e->hflag = calloc(e->n, 1)) &&
        (e->past_cat = calloc(indiv_catalog_categories(e->cat) + 1, 1)) &&
        (e->ws = malloc((size_t)e->p->k * sizeof *e->ws)) &&
        (e->heap = malloc((size_t)e->p->k * sizeof *e->heap)) &&
        (e->list = malloc((size_t)e->p->k * sizeof *e->list)) &&
        (e->list_hist = malloc((e->n + 1) * sizeof *e->list_hist)) &&
        (e->rep_len = calloc(nk, 1)) && (e->cal_pred = calloc(nk, sizeof *e->cal_pred)) &&
        (e->cal_acted = calloc(nk, 1)) && (e->hit_key = calloc(nk, sizeof *e->hit_key));
    for (int mo = 0; ok && mo < INDIV_EVAL_MODES; mo++) {
        ok = (e->counted[mo] = calloc(nk, 1)) && (e->rep_hit[mo] = calloc(nk, 1));
        for (int me = 0; ok && me < INDIV_EVAL_METHODS; me++)
            ok = (e->seen[mo][me] = calloc(e->n, 1)) != NULL;
    }
    for (int me = 0; ok && me < INDIV_EVAL_METHODS; me++)
        ok = (e->score[me] = malloc(e->n * sizeof(double))) != NULL;
    return ok ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
}

static int open_lists(struct eval *e, indiv_error *err) {
    if (!e->p->lists_path)
        return INDIV_OK;
    int rc = indiv_outfile_open(e->p->lists_path, &e->lists_out, err);
    if (rc < 0)
        return rc;
    e->lists = indiv_outfile_stream(e->lists_out);
    fputs("consumer,mode,method,rank,offer,score,bought\n", e->lists);
    return INDIV_OK;
}

static int setup(struct eval *e, indiv_error *err) {
    int rc = indiv_eventlog_snapshot(e->log, e->p->scratch, e->p->split, &e->snap, err);
    report(e, "snapshot", 1, 1);
    if (rc == INDIV_OK)
        rc = load_catalog(e, err);
    if (rc == INDIV_OK)
        rc = build_profiles(e, err);
    if (rc == INDIV_OK)
        rc = read_history(e, err);
    if (rc == INDIV_OK)
        rc = read_truth(e, err);
    if (rc == INDIV_OK)
        rc = alloc_work(e, err);
    if (rc == INDIV_OK)
        rc = fit_item_models(e, err);
    if (rc == INDIV_OK)
        rc = open_lists(e, err);
    e->out->consumers = (int64_t)e->n_known;
    return rc;
}

/* ---- the decisions ----------------------------------------------------------------- */

static int on_decision(void *ctx, const indiv_decision *d, const char *ext_id) {
    struct eval *e = ctx;
    size_t row = row_of(e, d->consumer_id), slots = dec_stride(e);
    (void)ext_id;
    if (row == SIZE_MAX)
        return 0;
    indiv_decision_count(&e->out->decisions, d);
    e->action[row] = (unsigned char)d->action;
    e->n_dec[row] = d->action == INDIV_CONTACT ? d->n_offers : 0;
    for (int k = 0; k < e->n_dec[row] && (size_t)k < slots; k++)
        e->dec_offers[row * slots + (size_t)k] = d->offers[k].offer;
    return 0;
}

static int decide(struct eval *e, indiv_error *err) {
    indiv_decide_opts o = e->p->decide;
    indiv_decide_summary sum;
    o.policy.as_of = e->p->split;
    o.out_path = NULL;
    o.on_decision = on_decision;
    o.ctx = e;
    return indiv_decide_run(e->snap, e->m, &o, e->progress, e->ctx, &sum, err);
}

/* ---- one consumer, every method ---------------------------------------------------- */

/* Repeat-buy: occasions, ties to the most recent (the fraction orders times before the
 * split within one occasion count), then every other valid offer by popularity, below
 * any offer bought (scores in [-1, 0)). */
static void repeat_scores(struct eval *e, size_t row, double *sc) {
    double top = 0;
    for (size_t j = 0; j < e->n; j++)
        top = fmax(top, e->pop_count[j]);
    for (size_t j = 0; j < e->n; j++)
        sc[j] = e->valid[j] ? -1 + 0.5 * e->pop_count[j] / (top + 1) : -INFINITY;
    for (size_t k = e->hist->ptr[row]; k < e->hist->ptr[row + 1]; k++) {
        size_t j = e->hist->idx[k];
        double recency = 0.5 * e->last->val[k] / (double)e->p->split; /* in (0, 0.5) */
        if (e->valid[j])
            sc[j] = e->hist->val[k] + recency;
    }
}

/* Item-kNN and EASE: sums of the similarities of the offers bought before the split. */
static void item_scores(struct eval *e, size_t row) {
    double *knn = e->score[INDIV_EVAL_ITEMKNN], *ease = e->score[INDIV_EVAL_EASE];
    size_t *items = e->list_hist, h = row_items(e->hist, row, items);
    memset(knn, 0, e->n * sizeof *knn);
    memset(ease, 0, e->n * sizeof *ease);
    indiv_itemsim_score(NULL, e->knn, e->n, items, h, knn);
    indiv_itemsim_score(e->ease, NULL, e->n, items, h, ease);
    for (size_t j = 0; j < e->n; j++)
        if (!e->valid[j])
            knn[j] = ease[j] = -INFINITY;
}

/* Scores in the "all" mode; -INFINITY for offers that cannot be listed. */
static void method_scores(struct eval *e, const indiv_scorer *s,
                          const indiv_score_block *b, size_t slot, size_t row,
                          uint64_t base) {
    /* mass: the model's decayed popularity, the non-personal term of its logit; ranked
     * by itself (not intercept + w · it) so that a model whose new offers' popularity
     * weight is 0 (train --new-offer-shrink) still has a mass campaign */
    const double *c = indiv_catalog_popularity(e->cat);
    double **sc = e->score;
    for (size_t j = 0; j < e->n; j++) {
        int v = e->valid[j];
        sc[INDIV_EVAL_INDIV][j] = v ? indiv_score_logit(s, b, slot, j) : -INFINITY;
        sc[INDIV_EVAL_RANDOM][j] =
            v ? (double)(indiv_rng_derive(base, j, SALT_RANDOM) >> 11) * 0x1.0p-53
              : -INFINITY;
        sc[INDIV_EVAL_POPULARITY][j] = v ? e->pop_count[j] : -INFINITY;
        sc[INDIV_EVAL_MASS][j] = v ? c[j] : -INFINITY;
    }
    repeat_scores(e, row, sc[INDIV_EVAL_REPEAT]);
    item_scores(e, row);
}

/* "new" mode: what the person bought before leaves every list but the mass campaign's
 * (which ignores the person) and stops counting as a hit. Returns the new truth size. */
static size_t drop_history(struct eval *e, size_t row) {
    size_t n_rel = e->truth->ptr[row + 1] - e->truth->ptr[row];
    for (size_t k = e->hist->ptr[row]; k < e->hist->ptr[row + 1]; k++) {
        size_t j = e->hist->idx[k];
        n_rel -= e->rel[j];
        e->rel[j] = 0;
        for (int me = 0; me < INDIV_EVAL_METHODS; me++)
            if (me != INDIV_EVAL_MASS)
                e->score[me][j] = -INFINITY;
    }
    return n_rel;
}

/* Marks (on = 1) or clears the consumer's truth, history and past categories. */
static void mark(struct eval *e, size_t row, unsigned char on) {
    for (size_t k = e->truth->ptr[row]; k < e->truth->ptr[row + 1]; k++)
        e->rel[e->truth->idx[k]] = on;
    for (size_t k = e->hist->ptr[row]; k < e->hist->ptr[row + 1]; k++) {
        e->hflag[e->hist->idx[k]] = on;
        e->past_cat[e->category[e->hist->idx[k]]] = on;
    }
}

static int worse(const struct cand *a, const struct cand *b) {
    return a->s < b->s || (a->s == b->s && a->tie > b->tie);
}

static void heap_down(struct cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && worse(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && worse(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        struct cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int cand_desc(const void *a, const void *b) {
    return worse(a, b) ? 1 : worse(b, a) ? -1 : 0;
}

static size_t top_list(const double *score, size_t n, size_t k, uint64_t base,
                       struct cand *h, size_t *list) {
    size_t used = 0;
    for (size_t j = 0; j < n; j++) {
        if (score[j] == -INFINITY || (used == k && score[j] < h[0].s))
            continue;
        struct cand c = {score[j], indiv_rng_derive(base, j, SALT_TIE), j};
        if (used < k) {
            h[used++] = c;
            if (used == k)
                for (size_t i = k / 2 + 1; i-- > 0;)
                    heap_down(h, k, i);
        } else if (worse(&h[0], &c)) {
            h[0] = c;
            heap_down(h, k, 0);
        }
    }
    qsort(h, used, sizeof *h, cand_desc);
    for (size_t i = 0; i < used; i++)
        list[i] = h[i].j;
    return used;
}

/* Coverage, novelty, diversity and (for hits) serendipity of one list. */
static void list_stats(struct eval *e, int mode, int me, const size_t *list, size_t len) {
    indiv_eval_metrics *m = &e->out->m[mode][me];
    for (size_t i = 0; i < len; i++) {
        e->seen[mode][me][list[i]] = 1;
        m->hits += e->rel[list[i]];
    }
    if (len > 0) {
        e->nov_sum[mode][me] += indiv_metrics_novelty(list, len, e->self_info);
        e->nov_n[mode][me]++;
    }
    if (len > 1) {
        e->ild_sum[mode][me] += indiv_metrics_ild(list, len, e->category);
        e->ild_n[mode][me]++;
    }
    m->unexpected_hits += (int64_t)indiv_metrics_unexpected_hits(
        list, len, e->rel, e->category, e->past_cat);
}

/* Contacting with the first min(len, slots) offers of list; hits under both truths
 * (rel still holds every purchase: called in the "all" mode). */
static void contact_with(const struct eval *e, indiv_eval_contacts *c, const size_t *list,
                         size_t len) {
    size_t slots = (size_t)e->p->decide.policy.slots, n = len < slots ? len : slots;
    int any[INDIV_EVAL_MODES] = {0};
    if (n == 0)
        return;
    c->contacted++;
    c->offers += (int64_t)n;
    for (size_t i = 0; i < n; i++) {
        int hit = e->rel[list[i]], fresh = hit && !e->hflag[list[i]];
        c->offer_hits[INDIV_EVAL_ALL] += hit;
        c->offer_hits[INDIV_EVAL_NEW] += fresh;
        any[INDIV_EVAL_ALL] |= hit;
        any[INDIV_EVAL_NEW] |= fresh;
    }
    for (int mo = 0; mo < INDIV_EVAL_MODES; mo++)
        c->with_hit[mo] += any[mo];
}

/* Row's key of the paired difference to the naive rule (struct eval): under `any` it
 * is contacted with a hit when P(acts) reaches τ and one of its first `slots` offers
 * was bought; under `best` when the first bought offer among its first `slots` has
 * a logit that reaches logit τ (the list is sorted: every offer before it is sent). */
static void curve_key(struct eval *e, size_t row, double any, const size_t *list,
                      size_t len) {
    const double *z = e->score[INDIV_EVAL_INDIV];
    size_t slots = (size_t)e->p->decide.policy.slots;
    e->hit_key[row] = -INFINITY;
    if (e->p->decide.policy.relevance == INDIV_REL_ANY) {
        e->hit_key[row] = e->cal_acted[row] ? any : -INFINITY;
        return;
    }
    for (size_t i = 0; i < len && i < slots && e->hit_key[row] == -INFINITY; i++)
        if (e->rel[list[i]])
            e->hit_key[row] = z[list[i]];
}

/* The threshold curve, with decide's relevance: at each τ, under `best` the offers of
 * the indiv list with p >= τ (a prefix: the list is sorted by p) are sent when there is
 * at least one; under `any` its first `slots` offers are sent when the probability of
 * buying at least one of them, 1 − Π(1 − p_i), reaches τ. That probability and whether
 * one of those offers was bought are the row's calibration pair. */
static void curve_add(struct eval *e, size_t row, const size_t *list, size_t len) {
    const double *z = e->score[INDIV_EVAL_INDIV];
    size_t slots = (size_t)e->p->decide.policy.slots, m = len < slots ? len : slots;
    double pr[INDIV_SLOTS_MAX], any;
    for (size_t i = 0; i < m; i++)
        pr[i] = indiv_sigmoid(z[list[i]]);
    any = indiv_relevance_any(pr, m);
    if (e->p->decide.policy.relevance == INDIV_REL_ANY) /* decide's relevance */
        any = indiv_score_relevance(e->cur_s, e->cur_b, e->cur_slot, any);
    e->cal_pred[row] = any;
    for (size_t i = 0; i < m; i++)
        e->cal_acted[row] |= e->rel[list[i]];
    curve_key(e, row, any, list, len);
    for (size_t t = 0; t < e->p->n_taus; t++) {
        double zt = indiv_logit(e->p->taus[t]);
        size_t n = 0;
        if (e->p->decide.policy.relevance == INDIV_REL_ANY)
            n = any >= e->p->taus[t] ? m : 0;
        else
            while (n < len && z[list[n]] >= zt)
                n++;
        contact_with(e, &e->out->curve[t].c, list, n);
    }
}

/* A CSV field: quoted (quotes doubled) when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* What sending repeat-buy's first `slots` offers to this consumer would hit (the naive
 * rule of the threshold curve; called in the "all" mode, rel holding every purchase). */
static void note_repeat(struct eval *e, size_t row, const size_t *list, size_t len) {
    size_t slots = (size_t)e->p->decide.policy.slots, n = len < slots ? len : slots;
    e->rep_len[row] = (unsigned char)n;
    for (size_t i = 0; i < n; i++) {
        e->rep_hit[INDIV_EVAL_ALL][row] += e->rel[list[i]];
        e->rep_hit[INDIV_EVAL_NEW][row] += e->rel[list[i]] && !e->hflag[list[i]];
    }
}

static void write_list(struct eval *e, const char *ext, int mode, int me,
                       const size_t *list, size_t len) {
    for (size_t i = 0; e->lists && i < len; i++) {
        csv_field(e->lists, ext);
        fprintf(e->lists, ",%s,%s,%zu,", mode_names[mode], method_names[me], i + 1);
        csv_field(e->lists, indiv_catalog_offer(e->cat, list[i])->ext_id);
        double sc = e->score[me][list[i]]; /* indiv: the propensity, as in decide */
        fprintf(e->lists, ",%.9g,%d\n", me == INDIV_EVAL_INDIV ? indiv_sigmoid(sc) : sc,
                e->rel[list[i]]);
    }
}

static void rank_method(struct eval *e, int mode, int me, size_t row, const char *ext,
                        size_t n_rel, uint64_t base) {
    size_t k = (size_t)e->p->k, len;
    if (n_rel > 0) {
        indiv_topk t;
        indiv_metrics_topk(e->score[me], e->rel, e->n, n_rel, k, e->ws, &t);
        val_at(e, mode, me, 0)[row] = t.hit;
        val_at(e, mode, me, 1)[row] = t.precision;
        val_at(e, mode, me, 2)[row] = t.recall;
        val_at(e, mode, me, 3)[row] = t.ndcg;
    }
    len = top_list(e->score[me], e->n, k, base, e->heap, e->list);
    list_stats(e, mode, me, e->list, len);
    write_list(e, ext, mode, me, e->list, len);
    if (mode == INDIV_EVAL_ALL)
        contact_with(e, &e->out->contacts[me], e->list, len);
    if (mode == INDIV_EVAL_ALL && me == INDIV_EVAL_REPEAT)
        note_repeat(e, row, e->list, len);
    if (mode == INDIV_EVAL_ALL && me == INDIV_EVAL_INDIV)
        curve_add(e, row, e->list, len);
}

static void eval_consumer(struct eval *e, const indiv_scorer *s,
                          const indiv_score_block *b, size_t slot, size_t row,
                          const char *ext) {
    uint64_t base =
        indiv_rng_derive(e->p->seed, (uint64_t)e->ids[row], INDIV_RNG_EVALUATE);
    size_t slots = dec_stride(e);
    size_t n_rel = e->truth->ptr[row + 1] - e->truth->ptr[row];
    mark(e, row, 1);
    e->cur_s = s;
    e->cur_b = b;
    e->cur_slot = slot;
    method_scores(e, s, b, slot, row, base);
    for (int mode = 0; mode < INDIV_EVAL_MODES; mode++) {
        if (mode == INDIV_EVAL_NEW)
            n_rel = drop_history(e, row);
        e->counted[mode][row] = n_rel > 0;
        e->out->buyers[mode] += n_rel > 0;
        for (int me = 0; me < INDIV_EVAL_METHODS; me++)
            rank_method(e, mode, me, row, ext, n_rel, base);
        if (mode == INDIV_EVAL_ALL && e->action[row] == INDIV_CONTACT)
            contact_with(e, &e->out->contacts[INDIV_EVAL_DECIDED],
                         e->dec_offers + row * slots, (size_t)e->n_dec[row]);
    }
    mark(e, row, 0);
}

/* ---- the pass over the known customers --------------------------------------------- */

struct block {
    struct eval *e;
    const indiv_scorer *s;
    indiv_score_block *b;
    indiv_profile prof[BLOCK];
    size_t rows[BLOCK], n, done;
    char *ext[BLOCK];
};

static int block_flush(struct block *bl, indiv_error *err) {
    int rc = indiv_score_run(bl->s, bl->b, bl->n, err);
    for (size_t i = 0; i < bl->n; i++) {
        if (rc == INDIV_OK)
            eval_consumer(bl->e, bl->s, bl->b, i, bl->rows[i], bl->ext[i]);
        free(bl->ext[i]);
        bl->ext[i] = NULL;
    }
    bl->done += bl->n;
    bl->n = 0;
    report(bl->e, "evaluate", (int64_t)bl->done, (int64_t)bl->e->n_known);
    return rc;
}

/* Readiness at the split, as the decision run computes it. */
static double readiness(const struct eval *e, const indiv_profile *pr) {
    const indiv_policy_params *pol = &e->p->decide.policy;
    if (!(pr->features & INDIV_FEAT_RHYTHM))
        return 1.0;
    return indiv_profile_readiness(pr, &e->prior, pol->rhythm_prior_strength, e->p->split,
                                   pol->readiness_horizon_days);
}

static int block_take(struct block *bl, const indiv_consumer_row *row,
                      const indiv_profile_row *prow, indiv_error *err) {
    size_t r = row_of(bl->e, row->id), i = bl->n;
    if (r == SIZE_MAX)
        return INDIV_OK;
    int rc = indiv_profile_decode(prow, &bl->prof[i], err);
    if (rc < 0)
        return rc;
    indiv_score_set_row(bl->s, bl->b, i, &bl->prof[i], readiness(bl->e, &bl->prof[i]));
    indiv_score_set_history(bl->s, bl->b, i, &bl->prof[i], bl->e->p->split);
    bl->rows[i] = r;
    if (!(bl->ext[i] = strdup(row->ext_id)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    return ++bl->n == BLOCK ? block_flush(bl, err) : INDIV_OK;
}

static int scan_known(struct block *bl, indiv_error *err) {
    indiv_consumer_cursor *cur;
    indiv_consumer_row row;
    indiv_profile_row prow;
    int has, rc = indiv_eventlog_consumer_scan(bl->e->snap, &cur, err);
    while (rc >= 0 && (rc = indiv_consumer_cursor_next(cur, &row, &prow, &has, err)) == 1)
        rc = has ? block_take(bl, &row, &prow, err) : INDIV_OK;
    if (rc == 0 && bl->n)
        rc = block_flush(bl, err);
    indiv_consumer_cursor_free(cur);
    return rc < 0 ? rc : INDIV_OK;
}

static int rank_all(struct eval *e, indiv_error *err) {
    struct block *bl = calloc(1, sizeof *bl);
    indiv_scorer *s = NULL;
    if (!bl)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    bl->e = e;
    for (size_t i = 0; i < BLOCK; i++)
        indiv_profile_init(&bl->prof[i]);
    int rc = indiv_scorer_new(e->m, e->cat, &s, err);
    bl->s = s;
    if (rc == INDIV_OK && !(bl->b = indiv_score_block_new(s, BLOCK)))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = scan_known(bl, err);
    for (size_t i = 0; i < BLOCK; i++) {
        indiv_profile_clear(&bl->prof[i]);
        free(bl->ext[i]);
    }
    indiv_score_block_free(bl->b);
    indiv_scorer_free(s);
    free(bl);
    return rc;
}


/* ---- serendipity: the decision run under policy variants -------------------------- */

/* What the variant runs share: the primitive lists of Ge et al. (popularity's top k,
 * global), and per-consumer scratch. */
struct seren {
    struct eval *e;
    indiv_eval_seren *v;
    unsigned char *pop_top;   /* n: in popularity's top k */
    unsigned char *expected;  /* n: in popularity's or the person's repeat-buy top k */
    unsigned char *truth_cat; /* categories: bought in the window */
    unsigned char *past_cat;  /* categories: bought before the split */
    double *dist, *work;      /* categories: the person's history distribution, scratch */
    size_t *list;
    double sum_ndcg, sum_ge, sum_zhang, sum_kl, sum_ild;
    int64_t n_kl, n_ild;
};

/* Marks the person's repeat-buy top k (history offers by occasions, ties to the lower
 * index) in s->expected, or clears them (on = 0). */
static void mark_repeat(struct seren *s, size_t row, unsigned char on) {
    const indiv_sparse *h = s->e->hist;
    size_t k = (size_t)s->e->p->k, from = h->ptr[row], to = h->ptr[row + 1];
    for (size_t a = from; a < to; a++) {
        size_t better = 0;
        for (size_t b = from; b < to && better < k; b++)
            better += h->val[b] > h->val[a] || (h->val[b] == h->val[a] && b < a);
        if (better < k)
            s->expected[h->idx[a]] = on ? 1 : s->pop_top[h->idx[a]];
    }
}

/* The person's category distribution of purchase occasions before the split. */
static int history_dist(struct seren *s, size_t row) {
    const indiv_sparse *h = s->e->hist;
    size_t nc = indiv_catalog_categories(s->e->cat);
    double tot = 0;
    memset(s->dist, 0, nc * sizeof *s->dist);
    for (size_t a = h->ptr[row]; a < h->ptr[row + 1]; a++) {
        tot += h->val[a];
        s->dist[s->e->category[h->idx[a]]] += h->val[a];
    }
    for (size_t c = 0; tot > 0 && c < nc; c++)
        s->dist[c] /= tot;
    return tot > 0;
}

static void truth_marks(struct seren *s, size_t row, unsigned char on) {
    const indiv_sparse *t = s->e->truth, *h = s->e->hist;
    for (size_t a = h->ptr[row]; a < h->ptr[row + 1]; a++)
        s->past_cat[s->e->category[h->idx[a]]] = on;
    for (size_t a = t->ptr[row]; a < t->ptr[row + 1]; a++) {
        s->e->rel[t->idx[a]] = on;
        s->truth_cat[s->e->category[t->idx[a]]] = on;
    }
}

/* One contacted known customer's list, measured. */
static void seren_measure(struct seren *s, size_t row, const indiv_decision *d) {
    struct eval *e = s->e;
    indiv_eval_seren *v = s->v;
    size_t len = (size_t)d->n_offers, n_rel = e->truth->ptr[row + 1] - e->truth->ptr[row];
    unsigned char relv[INDIV_SLOTS_MAX];
    for (size_t i = 0; i < len; i++) {
        s->list[i] = d->offers[i].offer;
        relv[i] = e->rel[s->list[i]];
        v->offer_hits += relv[i];
        if (d->offers[i].kind == INDIV_KIND_DIVERGENT) {
            v->divergent++;
            size_t c = e->category[s->list[i]];
            v->divergent_hits += s->truth_cat[c];
            v->divergent_new_hits += s->truth_cat[c] && !s->past_cat[c];
        }
    }
    v->contacted++;
    v->offers += (int64_t)len;
    if (n_rel > 0) {
        indiv_topk tk;
        indiv_metrics_list(relv, len, n_rel, len, &tk);
        s->sum_ndcg += tk.ndcg;
        v->ndcg_consumers++;
    }
    s->sum_ge += indiv_metrics_serendipity_ge(s->list, len, s->expected, e->rel);
    int has_hist = history_dist(s, row);
    s->sum_zhang += indiv_metrics_serendipity_zhang(s->list, len, e->category, s->dist,
                                                    e->rel);
    if (has_hist) {
        s->sum_kl += indiv_metrics_miscalibration(s->list, len, e->category, s->dist,
                                                  indiv_catalog_categories(e->cat),
                                                  s->work);
        s->n_kl++;
    }
    if (len >= 2) {
        s->sum_ild += indiv_metrics_ild(s->list, len, e->category);
        s->n_ild++;
    }
}

static int on_variant(void *ctx, const indiv_decision *d, const char *ext_id) {
    struct seren *s = ctx;
    size_t row = row_of(s->e, d->consumer_id);
    (void)ext_id;
    if (row == SIZE_MAX || d->action != INDIV_CONTACT || d->n_offers == 0)
        return 0;
    truth_marks(s, row, 1);
    mark_repeat(s, row, 1);
    seren_measure(s, row, d);
    mark_repeat(s, row, 0);
    truth_marks(s, row, 0);
    return 0;
}

/* Runs the decisions under pol and fills the table's row v. */
static int seren_variant(struct seren *s, const char *name, const indiv_policy_params *pol,
                         indiv_error *err) {
    indiv_decide_opts o = s->e->p->decide;
    indiv_decide_summary sum;
    memset(s->v, 0, sizeof *s->v);
    snprintf(s->v->name, sizeof s->v->name, "%s", name);
    s->sum_ndcg = s->sum_ge = s->sum_zhang = s->sum_kl = s->sum_ild = 0;
    s->n_kl = s->n_ild = 0;
    o.policy = *pol;
    o.policy.as_of = s->e->p->split;
    o.out_path = NULL;
    o.on_decision = on_variant;
    o.ctx = s;
    s->v->policy = o.policy;
    int rc = indiv_decide_run(s->e->snap, s->e->m, &o, NULL, NULL, &sum, err);
    indiv_eval_seren *v = s->v;
    v->ndcg = v->ndcg_consumers ? s->sum_ndcg / (double)v->ndcg_consumers : 0;
    v->ge = v->contacted ? s->sum_ge / (double)v->contacted : 0;
    v->zhang = v->contacted ? s->sum_zhang / (double)v->contacted : 0;
    v->miscalibration = s->n_kl ? s->sum_kl / (double)s->n_kl : 0;
    v->ild = s->n_ild ? s->sum_ild / (double)s->n_ild : 0;
    return rc;
}

/* Popularity's top k of the valid offers (ties to the lower index). */
static void popularity_top(struct seren *s) {
    const struct eval *e = s->e;
    size_t k = (size_t)e->p->k;
    for (size_t j = 0; j < e->n; j++) {
        size_t better = 0;
        for (size_t i = 0; i < e->n && better < k && e->valid[j]; i++)
            better += e->valid[i] && (e->pop_count[i] > e->pop_count[j] ||
                                      (e->pop_count[i] == e->pop_count[j] && i < j));
        s->pop_top[j] = s->expected[j] = e->valid[j] && better < k;
    }
}

/* The variants: the given policy without serendipity, with each aim, and with each
 * re-ranker (λ as given, else its default) without serendipity. */
static size_t seren_variants(const indiv_policy_params *given, indiv_policy_params *v,
                             const char **names, char (*buf)[48]) {
    double lambda = given->rerank != INDIV_RERANK_NONE ? given->rerank_lambda : 0.5;
    for (size_t i = 0; i < 5; i++) {
        v[i] = *given;
        v[i].rerank = INDIV_RERANK_NONE;
    }
    v[0].serendipity = 0;
    names[0] = "no serendipity";
    v[1].divergence_aim = INDIV_AIM_POPULAR;
    names[1] = "popular aim";
    v[2].divergence_aim = INDIV_AIM_ADJACENT;
    names[2] = "adjacent aim";
    for (size_t i = 3; i < 5; i++) {
        v[i].serendipity = 0;
        v[i].rerank = i == 3 ? INDIV_RERANK_MMR : INDIV_RERANK_CALIBRATED;
        v[i].rerank_lambda = lambda;
        snprintf(buf[i], 48, "%s:%g", i == 3 ? "mmr" : "calibrated", lambda);
        names[i] = buf[i];
    }
    return 5;
}

static int seren_all(struct eval *e, indiv_error *err) {
    size_t nc = indiv_catalog_categories(e->cat) + 1;
    struct seren s = {.e = e};
    s.pop_top = calloc(e->n + 1, 1);
    s.expected = calloc(e->n + 1, 1);
    s.truth_cat = calloc(nc, 1);
    s.past_cat = calloc(nc, 1);
    s.dist = calloc(nc, sizeof *s.dist);
    s.work = calloc(nc, sizeof *s.work);
    s.list = calloc(INDIV_SLOTS_MAX, sizeof *s.list);
    int rc = s.pop_top && s.expected && s.truth_cat && s.past_cat && s.dist && s.work && s.list
                 ? INDIV_OK
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    indiv_policy_params v[INDIV_EVAL_SEREN_MAX];
    const char *names[INDIV_EVAL_SEREN_MAX];
    char buf[INDIV_EVAL_SEREN_MAX][48];
    size_t n = seren_variants(&e->p->decide.policy, v, names, buf);
    if (rc == INDIV_OK)
        popularity_top(&s);
    for (size_t i = 0; rc == INDIV_OK && i < n; i++) {
        s.v = &e->out->seren[i];
        rc = seren_variant(&s, names[i], &v[i], err);
        e->out->n_seren = i + 1;
        report(e, "serendipity variants", (int64_t)i + 1, (int64_t)n);
    }
    free(s.pop_top);
    free(s.expected);
    free(s.truth_cat);
    free(s.past_cat);
    free(s.dist);
    free(s.work);
    free(s.list);
    return rc;
}

/* ---- the figures ------------------------------------------------------------------- */

/* Mean and standard error over the consumers counted in mode of x - y (y may be NULL). */
static void mean_over(const struct eval *e, int mode, const double *x, const double *y,
                      double *buf, double *mean, double *se) {
    size_t n = 0;
    for (size_t r = 0; r < e->n_known; r++)
        if (e->counted[mode][r])
            buf[n++] = x[r] - (y ? y[r] : 0);
    indiv_metrics_mean_se(buf, n, mean, se);
}

static void finish_method(struct eval *e, int mo, int me, double *buf) {
    indiv_eval_metrics *m = &e->out->m[mo][me];
    double *v[NACC], *ind_hit = val_at(e, mo, INDIV_EVAL_INDIV, 0);
    double *ind_ndcg = val_at(e, mo, INDIV_EVAL_INDIV, 3), seen = 0;
    for (int a = 0; a < NACC; a++)
        v[a] = val_at(e, mo, me, a);
    m->consumers = e->out->buyers[mo];
    mean_over(e, mo, v[0], NULL, buf, &m->hit_rate, &m->hit_rate_se);
    mean_over(e, mo, v[1], NULL, buf, &m->precision, &m->precision_se);
    mean_over(e, mo, v[2], NULL, buf, &m->recall, &m->recall_se);
    mean_over(e, mo, v[3], NULL, buf, &m->ndcg, &m->ndcg_se);
    mean_over(e, mo, ind_hit, v[0], buf, &m->diff_hit_rate, &m->diff_hit_rate_se);
    mean_over(e, mo, ind_ndcg, v[3], buf, &m->diff_ndcg, &m->diff_ndcg_se);
    for (size_t j = 0; j < e->n; j++)
        seen += e->seen[mo][me][j];
    m->coverage = e->out->candidates ? seen / (double)e->out->candidates : 0;
    m->novelty = e->nov_n[mo][me] ? e->nov_sum[mo][me] / (double)e->nov_n[mo][me] : 0;
    m->diversity = e->ild_n[mo][me] ? e->ild_sum[mo][me] / (double)e->ild_n[mo][me] : 0;
    m->serendipity = m->hits ? (double)m->unexpected_hits / (double)m->hits : 0;
}

/* Known customers by purchase occasions before the split, most first (ties: lower id,
 * i.e. lower row). */
struct active {
    double occ;
    size_t row;
};

static int by_activity(const void *a, const void *b) {
    const struct active *x = a, *y = b;
    if (x->occ != y->occ)
        return x->occ > y->occ ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Curve point t minus the naive rule, paired over the known customers
 * (indiv_eval_curve_point): rank[r] is r's place among the most active. */
static void naive_paired(struct eval *e, size_t t, const size_t *rank) {
    indiv_eval_curve_point *pt = &e->out->curve[t];
    double thr = e->p->decide.policy.relevance == INDIV_REL_ANY
                     ? e->p->taus[t]
                     : indiv_logit(e->p->taus[t]);
    size_t n = (size_t)pt->c.contacted, big_n = e->n_known;
    double sum = 0, sum2 = 0;
    for (size_t r = 0; r < big_n; r++) {
        double d = (double)(e->hit_key[r] > -INFINITY && e->hit_key[r] >= thr) -
                   (double)(rank[r] < n && e->rep_hit[INDIV_EVAL_ALL][r] > 0);
        sum += d;
        sum2 += d * d;
    }
    pt->naive_diff = pt->naive_diff_se = 0;
    if (n == 0 || big_n < 2)
        return;
    double var = (sum2 - sum * sum / (double)big_n) / (double)(big_n - 1);
    pt->naive_diff = sum / (double)n;
    pt->naive_diff_se = sqrt((double)big_n * fmax(var, 0)) / (double)n;
}

/* The naive rule at each curve point: as many of the most active customers as the
 * curve contacts there, each sent their repeat-buy top `slots`. */
static int naive_rows(struct eval *e, indiv_error *err) {
    struct active *order = malloc((e->n_known + 1) * sizeof *order);
    size_t *rank = malloc((e->n_known + 1) * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < e->n_known; r++)
        order[r] = (struct active){e->occasions[r], r};
    qsort(order, e->n_known, sizeof *order, by_activity);
    for (size_t i = 0; i < e->n_known; i++)
        rank[order[i].row] = i;
    for (size_t t = 0; t < e->p->n_taus; t++) {
        indiv_eval_contacts *c = &e->out->naive[t];
        for (int64_t i = 0; i < e->out->curve[t].c.contacted; i++) {
            size_t r = order[i].row;
            c->contacted++;
            c->offers += e->rep_len[r];
            for (int mo = 0; mo < INDIV_EVAL_MODES; mo++) {
                c->with_hit[mo] += e->rep_hit[mo][r] > 0;
                c->offer_hits[mo] += e->rep_hit[mo][r];
            }
        }
        naive_paired(e, t, rank);
    }
    free(order);
    free(rank);
    return INDIV_OK;
}

static int finish(struct eval *e, indiv_error *err) {
    double *buf = malloc((e->n_known + 1) * sizeof *buf);
    if (!buf)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (int mo = 0; mo < INDIV_EVAL_MODES; mo++)
        for (int me = 0; me < INDIV_EVAL_METHODS; me++)
            finish_method(e, mo, me, buf);
    free(buf);
    e->out->n_curve = e->p->n_taus;
    for (size_t t = 0; t < e->p->n_taus; t++)
        e->out->curve[t].tau = e->p->taus[t];
    e->out->relevance = e->p->decide.policy.relevance;
    e->out->slots = e->p->decide.policy.slots;
    if (naive_rows(e, err) < 0)
        return err ? err->code : INDIV_ENOMEM;
    char t1[INDIV_ISO_LEN], t2[INDIV_ISO_LEN], src[INDIV_CALIBRATION_SOURCE_MAX];
    snprintf(src, sizeof src,
             "indiv evaluate: the %zu known customers, relevance at %s, purchases in "
             "[%s, %s)",
             e->n_known, indiv_time_format(e->p->split, t1), t1,
             indiv_time_format(e->p->until, t2));
    int rc = indiv_calibration_fit(e->cal_pred, e->cal_acted, e->n_known, e->out->slots,
                                   (double)(e->p->until - e->p->split) /
                                       INDIV_SECONDS_PER_DAY,
                                   src, &e->out->calibration, err);
    if (rc < 0)
        return rc;
    rc = indiv_outfile_finish(e->lists_out, INDIV_OK, err);
    e->lists_out = NULL;
    e->lists = NULL;
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int indiv_evaluate_run(indiv_eventlog *log, const indiv_model *m,
                       const indiv_eval_params *p, indiv_progress_fn progress, void *ctx,
                       indiv_eval_result *out, indiv_error *err) {
    double t0 = now_s();
    memset(out, 0, sizeof *out);
    int rc = check_params(p, err);
    if (rc == INDIV_OK)
        rc = indiv_model_validate(m, err);
    if (rc == INDIV_OK)
        rc = check_model_time(m, p->split, err);
    if (rc < 0)
        return rc;
    struct eval e = {
        .log = log, .m = m, .p = p, .progress = progress, .ctx = ctx, .out = out};
    rc = setup(&e, err);
    if (rc == INDIV_OK && e.n_known == 0)
        rc = indiv_error_set(
            err, INDIV_EINVAL,
            "no consumer with profiling consent bought anything before the "
            "split: nothing to evaluate");
    if (rc == INDIV_OK)
        rc = decide(&e, err);
    if (rc == INDIV_OK)
        rc = rank_all(&e, err);
    if (rc == INDIV_OK && p->serendipity_table)
        rc = seren_all(&e, err);
    if (rc == INDIV_OK)
        rc = finish(&e, err);
    eval_free(&e);
    out->seconds = now_s() - t0;
    return rc;
}

/* ---- output ------------------------------------------------------------------------ */

static double ratio(int64_t a, int64_t b) {
    return b ? (double)a / (double)b : 0;
}

static json_t *metrics_json(const indiv_eval_metrics *m) {
    return json_pack(
        "{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
        "s:f, "
        "s:f, s:I, s:I}",
        "consumers", (json_int_t)m->consumers, "hit_rate", m->hit_rate, "hit_rate_se",
        m->hit_rate_se, "precision", m->precision, "precision_se", m->precision_se,
        "recall", m->recall, "recall_se", m->recall_se, "ndcg", m->ndcg, "ndcg_se",
        m->ndcg_se, "indiv_minus_this_hit_rate", m->diff_hit_rate,
        "indiv_minus_this_hit_rate_se", m->diff_hit_rate_se, "indiv_minus_this_ndcg",
        m->diff_ndcg, "indiv_minus_this_ndcg_se", m->diff_ndcg_se, "coverage",
        m->coverage, "novelty", m->novelty, "diversity", m->diversity, "serendipity",
        m->serendipity, "hits", (json_int_t)m->hits, "unexpected_hits",
        (json_int_t)m->unexpected_hits);
}

static json_t *contacts_json(const indiv_eval_contacts *c, int64_t consumers) {
    return json_pack("{s:I, s:f, s:I, s:I, s:f, s:I, s:f, s:f, s:f}", "contacted",
                     (json_int_t)c->contacted, "share_contacted",
                     ratio(c->contacted, consumers), "offers", (json_int_t)c->offers,
                     "contacted_with_hit", (json_int_t)c->with_hit[INDIV_EVAL_ALL],
                     "precision", ratio(c->with_hit[INDIV_EVAL_ALL], c->contacted),
                     "contacted_with_new_hit", (json_int_t)c->with_hit[INDIV_EVAL_NEW],
                     "precision_new", ratio(c->with_hit[INDIV_EVAL_NEW], c->contacted),
                     "offer_precision", ratio(c->offer_hits[INDIV_EVAL_ALL], c->offers),
                     "offer_precision_new",
                     ratio(c->offer_hits[INDIV_EVAL_NEW], c->offers));
}

static json_t *decisions_json(const indiv_decision_counts *c) {
    json_t *why = json_object();
    for (int r = 0; r < INDIV_R_COUNT; r++)
        if (c->by_reason[r])
            json_object_set_new(why, indiv_reason_name((indiv_reason)r),
                                json_integer(c->by_reason[r]));
    return json_pack("{s:I, s:I, s:I, s:I, s:o}", "consumers", (json_int_t)c->consumers,
                     "contact", (json_int_t)c->by_action[INDIV_CONTACT], "defer",
                     (json_int_t)c->by_action[INDIV_DEFER], "none",
                     (json_int_t)c->by_action[INDIV_NONE], "by_reason", why);
}

static json_t *params_json(const indiv_eval_params *p) {
    const indiv_policy_params *pol = &p->decide.policy;
    char a[INDIV_ISO_LEN], b[INDIV_ISO_LEN];
    json_t *taus = json_array(), *policy = json_object();
    for (size_t t = 0; t < p->n_taus; t++)
        json_array_append_new(taus, json_real(p->taus[t]));
    if (!policy || indiv_policy_params_to_json(pol, policy) != INDIV_OK ||
        json_object_set_new(policy, "seed", json_integer((json_int_t)pol->seed)) < 0 ||
        json_object_set_new(policy, "threshold_source",
                            json_string(p->decide.threshold_source
                                            ? p->decide.threshold_source
                                            : "default")) < 0) {
        json_decref(taus);
        json_decref(policy);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:i, s:I, s:o, s:o, s:f}", "split",
                     indiv_time_format(p->split, a), "until",
                     indiv_time_format(p->until, b), "k", p->k, "seed",
                     (json_int_t)p->seed, "taus", taus, "policy", policy,
                     "taste_half_life_days", p->profile.half_life_days);
}

static json_t *model_json(const indiv_model *m, const indiv_eval_result *r) {
    json_t *prov = m->provenance ? json_loads(m->provenance, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", m->id, "feature_space",
                     m->feature_space, "taste_norm",
                     indiv_taste_norm_name(indiv_model_taste_norm(m)),
                     "offers_without_embedding", (json_int_t)r->offers_without_embedding,
                     "provenance", prov ? prov : json_null());
}

static json_t *seren_json(const indiv_eval_result *r) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->n_seren; i++) {
        const indiv_eval_seren *v = &r->seren[i];
        json_t *pol = json_object();
        if (pol)
            indiv_policy_params_to_json(&v->policy, pol);
        json_t *row = json_pack("{s:s, s:o, s:I, s:I, s:I, s:f, s:I, s:I, s:f, s:f, s:f, s:f, "
                         "s:f, s:f}",
                         "variant", v->name, "policy", pol ? pol : json_null(),
                         "contacted", (json_int_t)v->contacted, "offers",
                         (json_int_t)v->offers, "offer_hits", (json_int_t)v->offer_hits,
                         "offer_hit_rate", ratio(v->offer_hits, v->offers), "divergent",
                         (json_int_t)v->divergent, "divergent_hits",
                         (json_int_t)v->divergent_hits, "divergent_hit_rate",
                         ratio(v->divergent_hits, v->divergent), "ndcg", v->ndcg,
                         "serendipity_ge", v->ge, "serendipity_zhang", v->zhang,
                         "miscalibration", v->miscalibration, "ild", v->ild);
        json_object_set_new(row, "divergent_new_category_hits",
                            json_integer((json_int_t)v->divergent_new_hits));
        json_object_set_new(row, "divergent_new_category_hit_rate",
                            json_real(ratio(v->divergent_new_hits, v->divergent)));
        json_array_append_new(a, row);
    }
    return a;
}

static json_t *curve_json(const indiv_eval_result *r) {
    json_t *a = json_array();
    for (size_t t = 0; t < r->n_curve; t++) {
        json_t *c = contacts_json(&r->curve[t].c, r->consumers);
        json_object_set_new(c, "tau", json_real(r->curve[t].tau));
        json_object_set_new(c, "naive_most_active_repeat",
                            contacts_json(&r->naive[t], r->consumers));
        json_object_set_new(c, "precision_minus_naive",
                            json_real(r->curve[t].naive_diff));
        json_object_set_new(c, "precision_minus_naive_se",
                            json_real(r->curve[t].naive_diff_se));
        json_array_append_new(a, c);
    }
    return a;
}

static json_t *tables_json(const indiv_eval_result *r, json_t **contacts) {
    json_t *metrics = json_object();
    *contacts = json_object();
    for (int mo = 0; mo < INDIV_EVAL_MODES; mo++) {
        json_t *one = json_object();
        for (int me = 0; me < INDIV_EVAL_METHODS; me++)
            json_object_set_new(one, method_names[me], metrics_json(&r->m[mo][me]));
        json_object_set_new(metrics, mode_names[mo], one);
    }
    for (int me = 0; me <= INDIV_EVAL_METHODS; me++)
        json_object_set_new(*contacts, indiv_eval_method_name((indiv_eval_method)me),
                            contacts_json(&r->contacts[me], r->consumers));
    return metrics;
}

/* How the item-to-item baselines were fitted (EASE's lambda and its validation). */
static json_t *baselines_json(const indiv_eval_params *p, const indiv_eval_result *r) {
    json_t *grid = json_array(), *ndcg = json_array();
    for (int g = 0; p->ease_lambda == 0 && g < INDIV_EVAL_EASE_GRID; g++) {
        json_array_append_new(grid, json_real(r->ease_grid[g]));
        json_array_append_new(ndcg, json_real(r->ease_val_ndcg[g]));
    }
    return json_pack("{s:{s:i}, s:{s:f, s:s, s:f, s:o, s:o, s:I}}", "item_knn", "k",
                     p->knn_k, "ease", "lambda", r->ease_lambda, "lambda_from",
                     p->ease_lambda > 0 ? "given" : "validation split before the split",
                     "validation_days", p->ease_validation_days, "grid", grid,
                     "validation_ndcg", ndcg, "validation_consumers",
                     (json_int_t)r->ease_val_consumers);
}

char *indiv_eval_result_json(const indiv_eval_params *p, const indiv_model *m,
                             const indiv_eval_result *r, const char *command) {
    json_t *contacts, *metrics = tables_json(r, &contacts);
    json_t *root = json_pack(
        "{s:s?, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:i}, s:o, s:o, s:o, s:o}",
        "command", command, "parameters", params_json(p), "model", model_json(m, r),
        "data", "known_customers", (json_int_t)r->consumers, "cold_buyers_not_evaluated",
        (json_int_t)r->cold_buyers, "buyers_all", (json_int_t)r->buyers[INDIV_EVAL_ALL],
        "buyers_new", (json_int_t)r->buyers[INDIV_EVAL_NEW], "truth_purchases",
        (json_int_t)r->truth_purchases, "candidate_offers", (json_int_t)r->candidates,
        "slots", r->slots, "metrics", metrics, "decisions", decisions_json(&r->decisions),
        "contacts", contacts, "curve", curve_json(r));
    json_object_set_new(root, "baselines", baselines_json(p, r));
    char *cal = indiv_calibration_json_text(&r->calibration);
    json_object_set_new(root, "calibration", cal ? json_loads(cal, 0, NULL) : json_null());
    free(cal);
    if (r->n_seren)
        json_object_set_new(root, "serendipity", seren_json(r));
    char *txt =
        root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6))
             : NULL;
    json_decref(root);
    return txt;
}

int indiv_eval_write_metrics_csv(const indiv_eval_result *r, const char *path,
                                 indiv_error *err) {
    indiv_outfile *o;
    int rc = indiv_outfile_open(path, &o, err);
    if (rc < 0)
        return rc;
    FILE *f = indiv_outfile_stream(o);
    fputs("mode,method,consumers,hit_rate,hit_rate_se,precision,precision_se,recall,"
          "recall_se,ndcg,ndcg_se,indiv_minus_ndcg,indiv_minus_ndcg_se,coverage,novelty,"
          "diversity,serendipity\n",
          f);
    for (int mo = 0; mo < INDIV_EVAL_MODES; mo++)
        for (int me = 0; me < INDIV_EVAL_METHODS; me++) {
            const indiv_eval_metrics *m = &r->m[mo][me];
            fprintf(f,
                    "%s,%s,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
                    "%.6g,%.6g,%.6g\n",
                    mode_names[mo], method_names[me], (long long)m->consumers,
                    m->hit_rate, m->hit_rate_se, m->precision, m->precision_se, m->recall,
                    m->recall_se, m->ndcg, m->ndcg_se, m->diff_ndcg, m->diff_ndcg_se,
                    m->coverage, m->novelty, m->diversity, m->serendipity);
        }
    return indiv_outfile_finish(
        o,
        ferror(f) ? indiv_error_set(err, INDIV_EIO, "%s: write failed", path) : INDIV_OK,
        err);
}

int indiv_eval_write_curve_csv(const indiv_eval_result *r, const char *path,
                               indiv_error *err) {
    indiv_outfile *o;
    int rc = indiv_outfile_open(path, &o, err);
    if (rc < 0)
        return rc;
    FILE *f = indiv_outfile_stream(o);
    fputs("tau,contacted,share_contacted,precision,precision_new,offers,offer_precision,"
          "offer_precision_new,naive_precision,naive_precision_new,"
          "precision_minus_naive,precision_minus_naive_se\n",
          f);
    for (size_t t = 0; t < r->n_curve; t++) {
        const indiv_eval_contacts *c = &r->curve[t].c, *nv = &r->naive[t];
        fprintf(f, "%.6g,%lld,%.6g,%.6g,%.6g,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                r->curve[t].tau, (long long)c->contacted,
                ratio(c->contacted, r->consumers),
                ratio(c->with_hit[INDIV_EVAL_ALL], c->contacted),
                ratio(c->with_hit[INDIV_EVAL_NEW], c->contacted), (long long)c->offers,
                ratio(c->offer_hits[INDIV_EVAL_ALL], c->offers),
                ratio(c->offer_hits[INDIV_EVAL_NEW], c->offers),
                ratio(nv->with_hit[INDIV_EVAL_ALL], nv->contacted),
                ratio(nv->with_hit[INDIV_EVAL_NEW], nv->contacted),
                r->curve[t].naive_diff, r->curve[t].naive_diff_se);
    }
    return indiv_outfile_finish(
        o,
        ferror(f) ? indiv_error_set(err, INDIV_EIO, "%s: write failed", path) : INDIV_OK,
        err);
}
