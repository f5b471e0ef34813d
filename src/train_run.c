/*
 * train_run.c — indiv_train_run: from an event log to a trained model (contract in
 * train.h; method, defaults and their reasons in docs/evaluation.md).
 *
 * Data flow: a snapshot of the events before as_of (the source log is only read), then
 * one ordered pass over the consenting consumers' events builds two interaction
 * matrices (before the held-back tail, and before as_of) and the tail's purchases and
 * contacts; ALS on the first gives the embedding in which profiles are built at the
 * start of the tail; propensity examples are scored from those profiles; the logistic
 * weights are fitted on one half of the consumers and validated on the other; then the
 * weights are refitted on everyone and ALS on every event before as_of gives the
 * model's embedding.
 *
 * Memory: the sparse matrices (one entry per distinct consumer × offer interaction),
 * the examples, and one consumer's accumulator (a few doubles per offer); never one
 * entry per (consumer, offer) pair of the whole catalogue.
 */
#include "indiv/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/itemsim.h"
#include "indiv/metrics.h"
#include "indiv/rng.h"
#include "indiv/score.h"
#include "indiv/timeutil.h"

/* Defaults (docs/evaluation.md). */
#define DEF_HOLDOUT_DAYS  14.0
#define DEF_NEGATIVES     50
#define DEF_RIDGE         1e-3
#define DEF_K             10
#define DEF_REACTION_DAYS 7.0
#define DEF_POP_HALF_LIFE 30.0
/* EASE for the item-to-item term: lambda 300 is what the validation of `indiv
 * evaluate` chose on the nine-month file, split 2011-08-01 (docs/
 * evaluation.md); 50 neighbours keep the model file to a few MB at 4,000 offers. */
#define DEF_EASE_LAMBDA 300.0
#define DEF_ITEM_K      50
/* logit(any) of the act model's fit is bounded as in indiv_act_apply. */
#define ACT_ANY_MIN 1e-9
/* Offers per contact of the calibration: the policy's default slots. */
#define DEF_CALIBRATION_SLOTS 3
/* Newton iterations and coefficient tolerance of the logistic fits. */
#define LOGIT_MAX_ITER 50
#define LOGIT_TOL      1e-8
/* Raw columns of an example: 1 (intercept), the model's terms in indiv_model_term order
 * (affinity, popularity and item_item only for an offer new to the person), then the
 * affinity, popularity and item_item of an offer the person bought (0 for a new one).
 * Each mode of indiv_new_offers makes its design matrix from them (design_row): one
 * weight set for every offer (shared), item_item split by the repeat indicator (split),
 * or new offers scored by their conditional-logit sub-model (ranked). Splitting
 * affinity and popularity as well in the pointwise fit lowered NDCG when every purchase
 * counts on the validation split (docs/evaluation.md "Offers new to the person"). */
#define NFEAT      (1 + INDIV_TERM_COUNT + 3)
#define COL(t)     (1 + (t))
#define FEAT_B_AFF (1 + INDIV_TERM_COUNT) /* affinity of an offer bought */
#define FEAT_B_POP (2 + INDIV_TERM_COUNT) /* popularity of an offer bought */
#define FEAT_B_II  (3 + INDIV_TERM_COUNT) /* item_item of an offer bought */
/* Features of the conditional-logit sub-models: ranked has the new offers' affinity,
 * popularity and item_item; choice has every offer-level column (rank_cols). */
#define NRANK 9
/* New offers bought in the tail needed to fit the ranked sub-model; below it the
 * split mode is used (the provenance says which mode was). */
#define MIN_RANK_POSITIVES 20
/* The scales of the new offers' affinity and popularity weights tried when
 * new_offer_shrink is chosen on the validation half (docs/evaluation.md "Offers new to
 * the person"). The smallest is 0.01, not 0: at 0 every new offer of a person with no
 * purchase history (a newcomer, someone who only viewed) scores the same, and the
 * policy's tie-break by catalogue index would pick the first offers of the catalogue;
 * at 0.01 their order is still the likelihood's (affinity and popularity), while for a
 * person with a history those two terms weigh a hundredth and the item-to-item term
 * ranks, as at 0. */
#define SHRINK_GRID 5
static const double SHRINK_VALUES[SHRINK_GRID] = {0.01, 0.25, 0.5, 0.75, 1};
/* Consumers scored per block (one dgemm each), as in the decision run. */
#define BLOCK 256
/* A sampled negative that was in fact bought is redrawn at most this many times. */
#define MAX_REDRAWS 16

void indiv_train_params_init(indiv_train_params *p) {
    memset(p, 0, sizeof *p);
    indiv_als_params_init(&p->als);
    p->as_of = INT64_MAX;
    p->holdout_days = DEF_HOLDOUT_DAYS;
    p->negatives = DEF_NEGATIVES;
    p->ridge = DEF_RIDGE;
    p->k = DEF_K;
    p->reaction_days = DEF_REACTION_DAYS;
    p->scratch = ":memory:";
    indiv_profile_params_init(&p->profile);
    p->popularity_half_life_days = DEF_POP_HALF_LIFE;
    p->ease_lambda = DEF_EASE_LAMBDA;
    p->calibration_slots = DEF_CALIBRATION_SLOTS;
    p->act_model = INDIV_ACT_FULL;
    p->item_k = DEF_ITEM_K;
    p->new_offers = INDIV_NEW_OFFERS_SPLIT;
    p->new_offer_shrink = -1;
}

static const char *const NEW_OFFERS_NAMES[] = {"shared", "split", "ranked", "choice"};

const char *indiv_new_offers_name(indiv_new_offers m) {
    return m >= INDIV_NEW_OFFERS_SHARED && m <= INDIV_NEW_OFFERS_CHOICE
               ? NEW_OFFERS_NAMES[m]
               : "?";
}

int indiv_new_offers_parse(const char *s) {
    for (int m = INDIV_NEW_OFFERS_SHARED; s && m <= INDIV_NEW_OFFERS_CHOICE; m++)
        if (strcmp(s, NEW_OFFERS_NAMES[m]) == 0)
            return m;
    return -1;
}

static int validate(const indiv_train_params *p, indiv_error *err) {
    if (!p->id || !*p->id || strlen(p->id) >= INDIV_MODEL_ID_MAX)
        return indiv_error_set(err, INDIV_EINVAL,
                               "a model id (1 to %d bytes) is required",
                               INDIV_MODEL_ID_MAX - 1);
    if (p->as_of == INT64_MAX || p->as_of == INT64_MIN)
        return indiv_error_set(err, INDIV_EINVAL, "training needs an as-of time");
    if (!(p->holdout_days > 0) || !(p->reaction_days > 0) || p->negatives < 1 ||
        !(p->ridge >= 0) || p->k < 1 || !(p->popularity_half_life_days > 0) ||
        !(p->ease_lambda > 0) || p->item_k < 1)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "holdout, reaction days, popularity half-life and EASE lambda must be "
            "> 0, negatives, k and item_k >= 1, ridge >= 0");
    if (!(p->new_offer_shrink == -1 || (p->new_offer_shrink >= 0 && p->new_offer_shrink <= 1)))
        return indiv_error_set(err, INDIV_EINVAL,
                               "new_offer_shrink must be in [0, 1], or -1 (chosen on validation)");
    if (p->act_model < INDIV_ACT_NONE || p->act_model > INDIV_ACT_FULL)
        return indiv_error_set(err, INDIV_EINVAL, "act_model must be none, orders or full");
    if (p->new_offers < INDIV_NEW_OFFERS_SHARED || p->new_offers > INDIV_NEW_OFFERS_CHOICE)
        return indiv_error_set(err, INDIV_EINVAL,
                               "new_offers must be shared, split, ranked or choice");
    if (p->calibration_slots < 1 || p->calibration_slots > INDIV_SLOTS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "calibration slots must be in [1, %d]",
                               INDIV_SLOTS_MAX);
    int rc = indiv_als_params_validate(&p->als, err);
    return rc < 0 ? rc : indiv_profile_params_validate(&p->profile, err);
}

/* ---- growing sparse rows ----------------------------------------------------------- */

/* A CSR matrix filled row by row, in order. */
struct csr {
    indiv_sparse *m;
    size_t cap, rows_cap;
};

static int csr_init(struct csr *c, size_t cols) {
    c->m = calloc(1, sizeof *c->m);
    if (!c->m)
        return INDIV_ENOMEM;
    c->m->cols = cols;
    c->rows_cap = 1024;
    c->cap = 4096;
    c->m->ptr = calloc(c->rows_cap + 1, sizeof *c->m->ptr);
    c->m->idx = malloc(c->cap * sizeof *c->m->idx);
    c->m->val = malloc(c->cap * sizeof *c->m->val);
    return c->m->ptr && c->m->idx && c->m->val ? INDIV_OK : INDIV_ENOMEM;
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return INDIV_OK;
    size_t c = *cap;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return INDIV_ENOMEM;
    *p = q;
    *cap = c;
    return INDIV_OK;
}

/* Appends a row of the entries of val[] (indexed by idx[0..n), ascending) that are > 0.
 */
static int csr_push(struct csr *c, const size_t *idx, const double *val, size_t n) {
    indiv_sparse *m = c->m;
    size_t ptr_cap = c->rows_cap + 1, idx_cap = c->cap, val_cap = c->cap;
    int rc = grow((void **)&m->ptr, &ptr_cap, m->rows + 2, sizeof *m->ptr);
    if (rc == INDIV_OK)
        rc = grow((void **)&m->idx, &idx_cap, m->nnz + n, sizeof *m->idx);
    if (rc == INDIV_OK)
        rc = grow((void **)&m->val, &val_cap, m->nnz + n, sizeof *m->val);
    c->rows_cap = ptr_cap - 1;
    c->cap = idx_cap < val_cap ? idx_cap : val_cap;
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < n; k++)
        if (val[idx[k]] > 0) {
            m->idx[m->nnz] = idx[k];
            m->val[m->nnz++] = val[idx[k]];
        }
    m->ptr[++m->rows] = m->nnz;
    return INDIV_OK;
}

/* ---- reading the events ------------------------------------------------------------ */

struct contact {
    size_t row, offer;
    int64_t ts;
    int channel, answered;
};

/* Everything the pass over the events gives, plus one consumer's accumulator. */
struct data {
    size_t n_offers;
    int64_t *ids;         /* row -> consumer id (consenting consumers, id order) */
    unsigned char *known; /* row had an event before the tail */
    size_t n_rows, ids_cap;
    struct csr before, all, tail; /* tail: offers bought in the tail, value 1 */
    struct contact *contacts;
    size_t n_contacts, contacts_cap;
    uint64_t hash;
    int64_t events;
    /* the current consumer */
    double *acc_before, *acc_all, *acc_tail;
    unsigned char *touched_flag;
    size_t *touched, n_touched;
    size_t pending[INDIV_CH_MAX + 1]; /* contact awaiting a reaction, or SIZE_MAX */
};

static int data_init(struct data *d, size_t n_offers) {
    memset(d, 0, sizeof *d);
    d->n_offers = n_offers;
    d->hash = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
    d->ids_cap = 1024;
    d->contacts_cap = 256;
    d->ids = malloc(d->ids_cap * sizeof *d->ids);
    d->known = malloc(d->ids_cap);
    d->contacts = malloc(d->contacts_cap * sizeof *d->contacts);
    d->acc_before = calloc(n_offers, sizeof(double));
    d->acc_all = calloc(n_offers, sizeof(double));
    d->acc_tail = calloc(n_offers, sizeof(double));
    d->touched_flag = calloc(n_offers, 1);
    d->touched = malloc(n_offers * sizeof *d->touched);
    int rc = d->ids && d->known && d->contacts && d->acc_before && d->acc_all &&
                     d->acc_tail && d->touched_flag && d->touched
                 ? INDIV_OK
                 : INDIV_ENOMEM;
    if (rc == INDIV_OK)
        rc = csr_init(&d->before, n_offers);
    if (rc == INDIV_OK)
        rc = csr_init(&d->all, n_offers);
    return rc == INDIV_OK ? csr_init(&d->tail, n_offers) : rc;
}

static void data_free(struct data *d) {
    free(d->ids);
    free(d->known);
    free(d->contacts);
    free(d->acc_before);
    free(d->acc_all);
    free(d->acc_tail);
    free(d->touched_flag);
    free(d->touched);
    indiv_sparse_free(d->before.m);
    indiv_sparse_free(d->all.m);
    indiv_sparse_free(d->tail.m);
}

/* FNV-1a 64 (Fowler, Noll, Vo) over the bytes of every event read: the data fingerprint.
 */
static void hash_bytes(struct data *d, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->hash = (d->hash ^ b[i]) * 0x100000001b3ULL;
}

static void hash_event(struct data *d, const indiv_event *ev) {
    int64_t ints[4] = {ev->consumer_id, ev->ts, ev->offer_id, (int64_t)ev->type};
    double reals[2] = {ev->quantity, ev->value};
    int64_t ch = ev->channel;
    hash_bytes(d, ints, sizeof ints);
    hash_bytes(d, &ch, sizeof ch);
    hash_bytes(d, reals, sizeof reals);
}

static int start_consumer(struct data *d, int64_t id) {
    size_t cap = d->ids_cap, kcap = d->ids_cap;
    int rc = grow((void **)&d->ids, &cap, d->n_rows + 1, sizeof *d->ids);
    if (rc == INDIV_OK)
        rc = grow((void **)&d->known, &kcap, d->n_rows + 1, 1);
    d->ids_cap = cap < kcap ? cap : kcap;
    if (rc < 0)
        return rc;
    d->ids[d->n_rows] = id;
    d->known[d->n_rows++] = 0;
    for (int ch = 0; ch <= INDIV_CH_MAX; ch++)
        d->pending[ch] = SIZE_MAX;
    return INDIV_OK;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Emits the current consumer's rows and clears the accumulator. */
static int end_consumer(struct data *d) {
    qsort(d->touched, d->n_touched, sizeof *d->touched, cmp_size);
    int rc = csr_push(&d->before, d->touched, d->acc_before, d->n_touched);
    if (rc == INDIV_OK)
        rc = csr_push(&d->all, d->touched, d->acc_all, d->n_touched);
    if (rc == INDIV_OK)
        rc = csr_push(&d->tail, d->touched, d->acc_tail, d->n_touched);
    for (size_t k = 0; k < d->n_touched; k++) {
        size_t i = d->touched[k];
        d->acc_before[i] = d->acc_all[i] = d->acc_tail[i] = 0;
        d->touched_flag[i] = 0;
    }
    d->n_touched = 0;
    return rc;
}

static void touch(struct data *d, size_t i) {
    if (!d->touched_flag[i]) {
        d->touched_flag[i] = 1;
        d->touched[d->n_touched++] = i;
    }
}

/* Contacts of the tail and their answers: an open or click on the contact's channel
 * before the next contact on it and within reaction_days (the profile builder's rule,
 * docs/profiles.md, with a time limit). */
static int add_contact_event(struct data *d, const indiv_event *ev, size_t offer, int has,
                             double reaction_days) {
    int ch = ev->channel >= 0 && ev->channel <= INDIV_CH_MAX ? ev->channel : 0;
    if (ev->type == INDIV_EV_CONTACT && has) {
        int rc = grow((void **)&d->contacts, &d->contacts_cap, d->n_contacts + 1,
                      sizeof *d->contacts);
        if (rc < 0)
            return rc;
        d->contacts[d->n_contacts] =
            (struct contact){d->n_rows - 1, offer, ev->ts, ch, 0};
        d->pending[ch] = d->n_contacts++;
    } else if ((ev->type == INDIV_EV_OPEN || ev->type == INDIV_EV_CLICK) &&
               d->pending[ch] != SIZE_MAX) {
        struct contact *c = &d->contacts[d->pending[ch]];
        c->answered = ev->ts - c->ts <= (int64_t)(reaction_days * INDIV_SECONDS_PER_DAY);
        d->pending[ch] = SIZE_MAX;
    }
    return INDIV_OK;
}

static int add_event(struct data *d, const indiv_catalog *cat,
                     const indiv_train_params *p, int64_t t_tail, const indiv_event *ev) {
    size_t i = 0;
    int has = ev->offer_id > 0 && indiv_catalog_index(cat, ev->offer_id, &i) == INDIV_OK;
    int tail = ev->ts >= t_tail;
    d->events++;
    hash_event(d, ev);
    d->known[d->n_rows - 1] |= !tail;
    double w =
        ev->type >= 1 && ev->type <= INDIV_EV_MAX ? p->profile.type_weight[ev->type] : 0;
    if (has && w != 0) { /* interaction strength: the taste weights of event types */
        touch(d, i);
        d->acc_all[i] += w;
        d->acc_before[i] += tail ? 0 : w;
    }
    if (has && tail && ev->type == INDIV_EV_PURCHASE) {
        touch(d, i);
        d->acc_tail[i] = 1;
    }
    return tail ? add_contact_event(d, ev, i, has, p->reaction_days) : INDIV_OK;
}

static int read_events(indiv_eventlog *snap, const indiv_catalog *cat,
                       const indiv_train_params *p, int64_t t_tail, struct data *d,
                       indiv_error *err) {
    indiv_event_cursor *cur;
    indiv_event ev;
    int rc = indiv_eventlog_scan_consented(snap, INT64_MIN, p->as_of, &cur, err);
    int64_t current = -1;
    while (rc >= 0 && (rc = indiv_event_cursor_next(cur, &ev, err)) == 1) {
        rc = INDIV_OK;
        if (ev.consumer_id != current) {
            if (current >= 0)
                rc = end_consumer(d);
            if (rc == INDIV_OK)
                rc = start_consumer(d, current = ev.consumer_id);
        }
        if (rc == INDIV_OK && ev.type != INDIV_EV_NONE)
            rc = add_event(d, cat, p, t_tail, &ev);
    }
    if (rc == 0 && current >= 0)
        rc = end_consumer(d);
    indiv_event_cursor_free(cur);
    if (rc == INDIV_ENOMEM)
        return indiv_error_set(err, rc, "out of memory reading the events");
    for (size_t i = 0; i < indiv_catalog_size(cat); i++) /* and the catalogue */
        hash_bytes(d, indiv_catalog_offer(cat, i)->ext_id,
                   strlen(indiv_catalog_offer(cat, i)->ext_id) + 1);
    return rc < 0 ? rc : INDIV_OK;
}

/* Row of a consumer id (rows are in id order), or SIZE_MAX. */
static size_t row_of(const struct data *d, int64_t id) {
    size_t lo = 0, hi = d->n_rows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n_rows && d->ids[lo] == id ? lo : SIZE_MAX;
}

/* ---- the run's state --------------------------------------------------------------- */

struct examples {
    double *x, *y, *w;   /* raw columns (NFEAT per example), label, weight */
    size_t *group;       /* the person an example belongs to (consecutive) */
    unsigned char *half; /* 0: fit, 1: validation */
    size_t n, cap, positives, groups;
};

/* The conditional-logit fit of the new-offer sub-model (ranked mode). */
struct rank_fit {
    int nf;                   /* features used: 3 (ranked) or 9 (choice) */
    double beta[NRANK], se[NRANK];
    size_t positives; /* new offers bought with sampled new offers to compare */
    int iterations, converged;
};

struct validation {
    double indiv[4], pop[4]; /* sums of hit, precision, recall, ndcg */
    size_t consumers;
    double auc, log_loss;
    int has_auc;
    size_t examples;
};

/* The validation half's relevance (P(acts) over the first slots offers) and whether each
 * person bought one of those offers in the tail. */
struct cal_pairs {
    double *pred;
    indiv_act_inputs *in; /* the act model's other inputs */
    unsigned char *acted, *half;
    size_t n, cap;
};

struct run {
    indiv_eventlog *log, *snap;
    const indiv_train_params *p;
    indiv_progress_fn progress;
    void *ctx;
    int64_t t_tail;
    indiv_catalog *cat;
    struct data d;
    indiv_rhythm_prior prior;
    indiv_repeat_params repeat;     /* item readiness prior from the tail's profiles */
    indiv_item_neighbours *nb_tail; /* EASE on the purchases before the tail */
    unsigned char *valid; /* offers valid at the start of the tail */
    size_t *valid_list, n_valid;
    struct examples ex;
    struct validation val;
    struct cal_pairs cal;
    indiv_calibration calibration;
    indiv_act_model act;
    double beta_fit[NFEAT], beta[NFEAT], se[NFEAT];
    indiv_logit_stats fit_stats;
    indiv_new_offers mode;              /* in effect (ranked falls back to split) */
    struct rank_fit rank_half, rank;    /* ranked: on half 0, on everyone */
    double shrink;                      /* scale of new offers' affinity and popularity */
    double shrink_ndcg[SHRINK_GRID][2]; /* validation NDCG (all, new) of each grid value */
    size_t shrink_consumers[2];         /* validation buyers (all, new) */
    int shrink_chosen;                  /* 1: chosen on the validation half */
    double loss_tail, loss, sweep_seconds;
    size_t offers_tail, consumers_tail;
    int from_contacts;
};

static void run_free(struct run *r) {
    indiv_item_neighbours_free(r->nb_tail);
    indiv_catalog_free(r->cat);
    data_free(&r->d);
    free(r->valid);
    free(r->valid_list);
    free(r->ex.x);
    free(r->ex.y);
    free(r->ex.w);
    free(r->ex.half);
    free(r->ex.group);
    free(r->cal.pred);
    free(r->cal.acted);
    free(r->cal.in);
    free(r->cal.half);
    if (r->snap) {
        indiv_eventlog_close(r->snap);
        if (strcmp(r->p->scratch, ":memory:") != 0)
            unlink(r->p->scratch);
    }
}

static void report(const struct run *r, const char *stage, int64_t done, int64_t total) {
    if (r->progress)
        r->progress(r->ctx, stage, done, total);
}

/* ---- is there enough to learn from? ------------------------------------------------ */

static size_t nonzero_rows(const indiv_sparse *m) {
    size_t n = 0;
    for (size_t u = 0; u < m->rows; u++)
        n += m->ptr[u + 1] > m->ptr[u];
    return n;
}

static size_t nonzero_cols(const indiv_sparse *m,
                           unsigned char *seen /* cols, zeroed */) {
    size_t n = 0;
    for (size_t e = 0; e < m->nnz; e++)
        if (!seen[m->idx[e]]) {
            seen[m->idx[e]] = 1;
            n++;
        }
    return n;
}

static int check_enough(struct run *r, indiv_error *err) {
    char t[INDIV_ISO_LEN];
    unsigned char *seen = calloc(r->d.n_offers + 1, 1);
    if (!seen)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    r->consumers_tail = nonzero_rows(r->d.before.m);
    r->offers_tail = nonzero_cols(r->d.before.m, seen);
    free(seen);
    indiv_time_format(r->t_tail, t);
    if (r->consumers_tail < INDIV_TRAIN_MIN_CONSUMERS ||
        r->offers_tail < INDIV_TRAIN_MIN_OFFERS)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "the log is too small to learn from: %zu consumers (with "
            "profiling consent) and %zu offers have interactions before "
            "%s, the start of the %g-day held-back tail; at least %d and "
            "%d are needed",
            r->consumers_tail, r->offers_tail, t, r->p->holdout_days,
            INDIV_TRAIN_MIN_CONSUMERS, INDIV_TRAIN_MIN_OFFERS);
    return INDIV_OK;
}

/* ---- the embedding ----------------------------------------------------------------- */

/* Fits ALS on m and writes the whitened offer vectors to f (cols × dims). */
static int factorise(struct run *r, const indiv_sparse *m, const char *stage, double *f,
                     double *loss, indiv_error *err) {
    indiv_als *a;
    int rc = indiv_als_new(m, &r->p->als, &a, err);
    double sweeps = 0;
    for (int it = 0; rc == INDIV_OK && it < r->p->als.iterations; it++) {
        rc = indiv_als_iterate(a, err);
        sweeps += rc == INDIV_OK ? indiv_als_last_sweep_seconds(a) : 0;
        report(r, stage, it + 1, r->p->als.iterations);
    }
    r->sweep_seconds = sweeps / r->p->als.iterations;
    if (rc == INDIV_OK) {
        *loss = indiv_als_loss(a);
        rc = indiv_als_whiten(a, r->p->als.lambda, f, err);
    }
    indiv_als_free(a);
    return rc;
}

/* The model the examples are scored with: every weight 1 and no intercept, so that the
 * scorer's terms are the raw features; with beta (design space, design_row) and rank
 * (the ranked sub-model that beta was fitted with), the fitted model. */
static void feature_model(const struct run *r, const double *beta,
                          const struct rank_fit *rank, indiv_model *m) {
    const indiv_train_params *p = r->p;
    memset(m, 0, sizeof *m);
    m->repeat = r->repeat;
    m->item_item = r->nb_tail; /* borrowed: never cleared (only the run frees it) */
    snprintf(m->id, sizeof m->id, "%s", p->id);
    snprintf(m->feature_space, sizeof m->feature_space, "embedding");
    m->intercept = beta ? beta[0] : 0;
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        m->weight[t] = beta ? beta[COL(t)] : 1;
    /* without beta: no weights_bought, so that the terms are the raw features */
    if (beta && r->mode == INDIV_NEW_OFFERS_SPLIT)
        m->bought = (indiv_bought_weights){1, beta[COL(INDIV_TERM_AFFINITY)],
                                           beta[COL(INDIV_TERM_POPULARITY)],
                                           beta[FEAT_B_II]};
    if (beta && r->mode == INDIV_NEW_OFFERS_RANKED) {
        /* the new offers' score s = rank·(affinity, popularity, item_item) sits in the
         * affinity column with coefficient c: their weights are c · rank */
        double c = beta[COL(INDIV_TERM_AFFINITY)];
        m->weight[INDIV_TERM_AFFINITY] = c * rank->beta[0];
        m->weight[INDIV_TERM_POPULARITY] = c * rank->beta[1];
        m->weight[INDIV_TERM_ITEM_ITEM] = c * rank->beta[2];
        m->bought = (indiv_bought_weights){1, beta[FEAT_B_AFF], beta[FEAT_B_POP],
                                           beta[FEAT_B_II]};
    }
    if (beta && r->mode == INDIV_NEW_OFFERS_CHOICE) {
        /* every offer-level weight is c times the choice model's */
        double c = beta[COL(INDIV_TERM_AFFINITY)], w[NRANK];
        for (int k = 0; k < NRANK; k++)
            w[k] = c * rank->beta[k];
        m->weight[INDIV_TERM_AFFINITY] = w[0];
        m->weight[INDIV_TERM_POPULARITY] = w[1];
        m->weight[INDIV_TERM_ITEM_ITEM] = w[2];
        m->weight[INDIV_TERM_REPEAT] = w[3];
        m->weight[INDIV_TERM_REPEAT_FREQUENCY] = w[4];
        m->weight[INDIV_TERM_REPEAT_READINESS] = w[5];
        m->bought = (indiv_bought_weights){1, w[6], w[7], w[8]};
    }
    if (beta && r->shrink != 1) {
        /* new offers' affinity and popularity scaled; the offers bought keep theirs */
        if (!m->bought.present)
            m->bought = (indiv_bought_weights){1, m->weight[INDIV_TERM_AFFINITY],
                                               m->weight[INDIV_TERM_POPULARITY],
                                               m->weight[INDIV_TERM_ITEM_ITEM]};
        m->weight[INDIV_TERM_AFFINITY] *= r->shrink;
        m->weight[INDIV_TERM_POPULARITY] *= r->shrink;
    }
    m->popularity_half_life_days = p->popularity_half_life_days;
    m->taste_norm = INDIV_TASTE_NORM_L2;
}

static int valid_offers(struct run *r) {
    size_t n = indiv_catalog_size(r->cat);
    r->valid = malloc(n);
    r->valid_list = malloc(n * sizeof *r->valid_list);
    if (!r->valid || !r->valid_list)
        return INDIV_ENOMEM;
    for (size_t j = 0; j < n; j++)
        if ((r->valid[j] = (unsigned char)indiv_catalog_valid_at(r->cat, j, r->t_tail)))
            r->valid_list[r->n_valid++] = j;
    return INDIV_OK;
}

/* The population prior of the repeat terms, from the stored profiles' histories:
 * mean re-buy interval over the (person, offer) pairs with 2+ occasions, mean cv² over
 * those with 3+ (the model's defaults when there are none). */
static int repeat_prior(struct run *r, indiv_error *err) {
    indiv_profile_cursor *cur;
    indiv_profile_row row;
    indiv_profile pr;
    double s1 = 0, s2 = 0, n1 = 0, n2 = 0;
    int rc = indiv_eventlog_profile_scan(r->snap, &cur, err);
    indiv_repeat_params_default(&r->repeat);
    if (rc < 0)
        return rc;
    indiv_profile_init(&pr);
    while ((rc = indiv_profile_cursor_next(cur, &row, err)) == 1) {
        if ((rc = indiv_profile_decode(&row, &pr, err)) < 0)
            break;
        for (size_t i = 0; i < pr.n_history; i++) {
            const indiv_offer_history *h = &pr.history[i];
            double mean = indiv_history_mean_interval_days(h);
            if (h->occasions >= 2 && mean > 0) {
                s1 += mean;
                n1++;
            }
            if (h->occasions >= 3 && mean > 0) {
                s2 += h->interval_m2 / (h->occasions - 2) / (mean * mean);
                n2++;
            }
        }
    }
    indiv_profile_clear(&pr);
    indiv_profile_cursor_free(cur);
    if (n1 > 0)
        r->repeat.prior_mean_days = s1 / n1;
    if (n2 > 0 && s2 > 0)
        r->repeat.prior_cv2 = s2 / n2;
    r->repeat.horizon_days = r->p->holdout_days; /* the labels' horizon */
    return rc < 0 ? rc : INDIV_OK;
}

/* EASE on the purchases (interactions > 0) of m, each offer keeping its item_k largest
 * positive weights, as model neighbours named by the catalog's source ids. */
static int fit_item_item(struct run *r, const indiv_sparse *m, indiv_item_neighbours **out,
                         indiv_error *err) {
    indiv_sparse *x = NULL, *top = NULL;
    size_t *cols = NULL, n = 0;
    int rc = indiv_itemsim_compact(m, &x, &cols, &n, err);
    if (rc < 0)
        return rc;
    double *g = malloc((n * n + 1) * sizeof *g);
    const char **ids = malloc((n + 1) * sizeof *ids);
    indiv_blas_single_thread(); /* the same bits whatever the machine */
    rc = g && ids ? indiv_itemsim_gram(x, g, err)
                  : indiv_error_set(err, INDIV_ENOMEM,
                                    "out of memory for a %zu × %zu item matrix", n, n);
    if (rc == INDIV_OK)
        rc = indiv_itemsim_ease(g, n, r->p->ease_lambda, err);
    if (rc == INDIV_OK)
        rc = indiv_itemsim_topk(g, n, (size_t)r->p->item_k, &top, err);
    for (size_t j = 0; rc == INDIV_OK && j < n; j++)
        ids[j] = indiv_catalog_offer(r->cat, cols[j])->ext_id;
    if (rc == INDIV_OK &&
        !(*out = indiv_item_neighbours_new(n, ids, top->ptr, top->idx, top->val)))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK) {
        (*out)->lambda = r->p->ease_lambda;
        (*out)->k = (size_t)r->p->item_k;
    }
    indiv_sparse_free(top);
    indiv_sparse_free(x);
    free(cols);
    free(g);
    free(ids);
    report(r, "ease", 1, 1);
    return rc;
}

/* The embedding of the events before the tail, in the catalog; profiles at the start of
 * the tail in it; popularity and validity at that time. */
static int tail_space(struct run *r, indiv_error *err) {
    size_t n = indiv_catalog_size(r->cat), k = r->p->als.dims;
    double *f = malloc(n * k * sizeof *f);
    if (!f)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = factorise(r, r->d.before.m, "als-tail", f, &r->loss_tail, err);
    indiv_model fm;
    char src[INDIV_MODEL_ID_MAX + 16];
    feature_model(r, NULL, NULL, &fm);
    indiv_model_feature_source(&fm, src, sizeof src);
    if (rc == INDIV_OK)
        rc = indiv_catalog_set_features(r->cat, f, k, src, err);
    free(f);
    indiv_profile_params pp = r->p->profile;
    pp.as_of = r->t_tail;
    indiv_profile_summary ps = {0};
    if (rc == INDIV_OK)
        rc = indiv_profile_build(r->snap, r->cat, &pp, 0, r->progress, r->ctx, &ps, err);
    r->prior = ps.prior;
    if (rc == INDIV_OK)
        rc = indiv_catalog_load_popularity(r->cat, r->snap, r->t_tail,
                                           r->p->popularity_half_life_days, err);
    if (rc == INDIV_OK && valid_offers(r) < 0)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = repeat_prior(r, err);
    if (rc == INDIV_OK)
        rc = fit_item_item(r, r->d.before.m, &r->nb_tail, err);
    return rc;
}

/* ---- passes over the profiled consumers -------------------------------------------- */

/* A pass scores known consumers (an event before the tail) in blocks and calls fn on
 * each scored slot. */
struct pass {
    struct run *r;
    const indiv_scorer *s;
    indiv_score_block *b;
    gsl_rng *rng;
    size_t rows[BLOCK], n, done;
    int64_t ids[BLOCK];
    unsigned char half[BLOCK];
    indiv_profile prof[BLOCK];
    int (*fn)(struct pass *ps, size_t slot);
    void *ctx;
};

static int pass_flush(struct pass *ps, indiv_error *err) {
    int rc = indiv_score_run(ps->s, ps->b, ps->n, err);
    for (size_t i = 0; rc == INDIV_OK && i < ps->n; i++)
        if ((rc = ps->fn(ps, i)) < 0)
            indiv_error_set(err, rc, "out of memory for the examples");
    ps->done += ps->n;
    ps->n = 0;
    return rc;
}

static double readiness_at(const struct run *r, const indiv_profile *pr, int64_t t) {
    const indiv_profile_params *pp = &r->p->profile;
    if (!(pr->features & INDIV_FEAT_RHYTHM))
        return 1.0;
    return indiv_profile_readiness(pr, &r->prior, pp->rhythm_prior_strength, t,
                                   pp->readiness_horizon_days);
}

static int pass_take(struct pass *ps, const indiv_consumer_row *row,
                     const indiv_profile_row *prow, indiv_error *err) {
    size_t k = row_of(&ps->r->d, row->id), slot = ps->n;
    if (k == SIZE_MAX || !ps->r->d.known[k])
        return INDIV_OK;
    int rc = indiv_profile_decode(prow, &ps->prof[slot], err);
    if (rc < 0)
        return rc;
    indiv_score_set_row(ps->s, ps->b, slot, &ps->prof[slot],
                        readiness_at(ps->r, &ps->prof[slot], ps->r->t_tail));
    indiv_score_set_history(ps->s, ps->b, slot, &ps->prof[slot], ps->r->t_tail);
    ps->rows[slot] = k;
    ps->ids[slot] = row->id;
    ps->half[slot] = (unsigned char)indiv_shard_of(row->ext_id, 2);
    return ++ps->n == BLOCK ? pass_flush(ps, err) : INDIV_OK;
}

static int pass_scan(struct pass *ps, const char *stage, indiv_error *err) {
    indiv_consumer_cursor *cur;
    indiv_consumer_row row;
    indiv_profile_row prow;
    int has, rc = indiv_eventlog_consumer_scan(ps->r->snap, &cur, err);
    while (rc >= 0 &&
           (rc = indiv_consumer_cursor_next(cur, &row, &prow, &has, err)) == 1) {
        size_t before = ps->done;
        rc = has ? pass_take(ps, &row, &prow, err) : INDIV_OK;
        if (ps->done != before)
            report(ps->r, stage, (int64_t)ps->done, (int64_t)ps->r->d.n_rows);
    }
    if (rc == 0 && ps->n)
        rc = pass_flush(ps, err);
    indiv_consumer_cursor_free(cur);
    return rc < 0 ? rc : INDIV_OK;
}

static int pass_run(struct run *r, const indiv_model *m, int (*fn)(struct pass *, size_t),
                    void *ctx, const char *stage, indiv_error *err) {
    struct pass *ps = calloc(1, sizeof *ps);
    indiv_scorer *s = NULL;
    if (!ps)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    *ps = (struct pass){.r = r, .fn = fn, .ctx = ctx};
    for (size_t i = 0; i < BLOCK; i++)
        indiv_profile_init(&ps->prof[i]);
    int rc = indiv_scorer_new(m, r->cat, &s, err);
    ps->s = s;
    if (rc == INDIV_OK && (!(ps->b = indiv_score_block_new(s, BLOCK)) ||
                           !(ps->rng = indiv_rng_new(0, 0, INDIV_RNG_TRAIN_SAMPLE))))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = pass_scan(ps, stage, err);
    for (size_t i = 0; i < BLOCK; i++)
        indiv_profile_clear(&ps->prof[i]);
    indiv_score_block_free(ps->b);
    if (ps->rng)
        gsl_rng_free(ps->rng);
    indiv_scorer_free(s);
    free(ps);
    return rc;
}

/* ---- propensity examples ----------------------------------------------------------- */

/* Doubles the capacity of the four example arrays. */
static int examples_grow(struct examples *e) {
    size_t c = e->cap ? 2 * e->cap : 1024;
    double *x = realloc(e->x, c * NFEAT * sizeof *x);
    if (x)
        e->x = x;
    double *y = realloc(e->y, c * sizeof *y);
    if (y)
        e->y = y;
    double *w = realloc(e->w, c * sizeof *w);
    if (w)
        e->w = w;
    unsigned char *h = realloc(e->half, c);
    if (h)
        e->half = h;
    size_t *g = realloc(e->group, c * sizeof *g);
    if (g)
        e->group = g;
    if (!x || !y || !w || !h || !g)
        return INDIV_ENOMEM;
    e->cap = c;
    return INDIV_OK;
}

static int add_example(struct examples *e, const double *x, double y, double w,
                       unsigned char half) {
    if (e->n == e->cap && examples_grow(e) < 0)
        return INDIV_ENOMEM;
    memcpy(e->x + e->n * NFEAT, x, NFEAT * sizeof *x);
    e->y[e->n] = y;
    e->w[e->n] = w;
    e->group[e->n] = e->groups;
    e->half[e->n++] = half;
    e->positives += y > 0.5;
    return INDIV_OK;
}

/* The raw columns (NFEAT, above) of (slot, offer j): for an offer the person bought
 * (repeat indicator 1) its affinity, popularity and item-to-item sum are in the last
 * three columns and 0 in their own, for an offer new to them the reverse. */
static void features(const struct pass *ps, size_t slot, size_t j, double *x) {
    double t[INDIV_TERM_COUNT];
    indiv_score_terms(ps->s, ps->b, slot, j, t); /* unit weights: the raw features */
    x[0] = 1;
    for (int k = 0; k < INDIV_TERM_COUNT; k++)
        x[COL(k)] = t[k];
    int bought = t[INDIV_TERM_REPEAT] != 0;
    static const int moved[3] = {INDIV_TERM_AFFINITY, INDIV_TERM_POPULARITY,
                                 INDIV_TERM_ITEM_ITEM};
    for (int k = 0; k < 3; k++) {
        x[FEAT_B_AFF + k] = bought ? t[moved[k]] : 0;
        x[COL(moved[k])] = bought ? 0 : t[moved[k]];
    }
}

/* A valid offer the consumer did not buy in the tail, uniformly. */
static size_t draw_negative(gsl_rng *g, const struct run *r, const size_t *pos,
                            size_t npos) {
    for (int t = 0;; t++) {
        size_t j = r->valid_list[gsl_rng_uniform_int(g, r->n_valid)];
        if (!bsearch(&j, pos, npos, sizeof *pos, cmp_size) || t == MAX_REDRAWS)
            return j;
    }
}

/* Every offer bought in the tail (label 1) and `negatives` sampled offers not bought
 * (label 0), each weighing (valid offers not bought) / negatives: the weighted sample
 * stands for every (consumer, offer) pair. */
static int purchase_examples(struct pass *ps, size_t slot) {
    const struct run *r = ps->r;
    const indiv_sparse *tail = r->d.tail.m;
    size_t row = ps->rows[slot], from = tail->ptr[row], npos = tail->ptr[row + 1] - from;
    size_t pos_valid = 0;
    double x[NFEAT];
    int rc = INDIV_OK;
    ps->r->ex.groups++;
    for (size_t e = 0; e < npos && rc == INDIV_OK; e++) {
        features(ps, slot, tail->idx[from + e], x);
        pos_valid += r->valid[tail->idx[from + e]];
        rc = add_example(&ps->r->ex, x, 1, 1, ps->half[slot]);
    }
    if (r->n_valid <= pos_valid)
        return rc;
    double w = (double)(r->n_valid - pos_valid) / r->p->negatives;
    indiv_rng_reseed(ps->rng, r->p->als.seed, (uint64_t)ps->ids[slot],
                     INDIV_RNG_TRAIN_SAMPLE);
    for (int k = 0; k < r->p->negatives && rc == INDIV_OK; k++) {
        features(ps, slot, draw_negative(ps->rng, r, tail->idx + from, npos), x);
        rc = add_example(&ps->r->ex, x, 0, w, ps->half[slot]);
    }
    return rc;
}

/* Every contact of the tail (label: answered), readiness taken at the contact time. */
static int contact_examples(struct pass *ps, size_t slot) {
    const struct data *d = &ps->r->d;
    size_t lo = 0, hi = d->n_contacts, row = ps->rows[slot];
    while (lo < hi) { /* contacts are in row order: the first of this row */
        size_t mid = lo + (hi - lo) / 2;
        if (d->contacts[mid].row < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    double x[NFEAT];
    int rc = INDIV_OK;
    ps->r->ex.groups++;
    for (; lo < d->n_contacts && d->contacts[lo].row == row && rc == INDIV_OK; lo++) {
        const struct contact *c = &d->contacts[lo];
        features(ps, slot, c->offer, x);
        if (ps->prof[slot].features & INDIV_FEAT_RHYTHM)
            x[1 + INDIV_TERM_READINESS] = readiness_at(ps->r, &ps->prof[slot], c->ts);
        rc = add_example(&ps->r->ex, x, c->answered, 1, ps->half[slot]);
    }
    return rc;
}

static int collect_examples(struct run *r, indiv_error *err) {
    indiv_model fm;
    feature_model(r, NULL, NULL, &fm);
    r->from_contacts = r->d.n_contacts >= INDIV_TRAIN_MIN_CONTACTS;
    int rc = pass_run(r, &fm, r->from_contacts ? contact_examples : purchase_examples,
                      NULL, "examples", err);
    char t[INDIV_ISO_LEN];
    if (rc == INDIV_OK && r->ex.positives < INDIV_TRAIN_MIN_POSITIVES)
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "the log is too small to learn from: %zu %s in the %g-day "
                             "held-back tail from %s (of consumers known before it); at "
                             "least %d are needed",
                             r->ex.positives,
                             r->from_contacts ? "answered contacts" : "purchases",
                             r->p->holdout_days, indiv_time_format(r->t_tail, t),
                             INDIV_TRAIN_MIN_POSITIVES);
    return rc;
}

/* ---- the propensity weights -------------------------------------------------------- */

/* Weights restricted to one half (the other half's examples weigh 0). */
static double *half_weights(const struct examples *e, unsigned char half) {
    double *w = malloc((e->n + 1) * sizeof *w);
    for (size_t i = 0; w && i < e->n; i++)
        w[i] = e->half[i] == half ? e->w[i] : 0;
    return w;
}

/* ---- the new-offer sub-model (ranked) ---------------------------------------------- */

/* The design columns of the sub-models, in order: ranked uses the first three (the
 * new offers' affinity, popularity, item_item), choice all nine. */
static const int RANK_COLS[NRANK] = {COL(INDIV_TERM_AFFINITY),
                                     COL(INDIV_TERM_POPULARITY),
                                     COL(INDIV_TERM_ITEM_ITEM),
                                     COL(INDIV_TERM_REPEAT),
                                     COL(INDIV_TERM_REPEAT_FREQUENCY),
                                     COL(INDIV_TERM_REPEAT_READINESS),
                                     FEAT_B_AFF,
                                     FEAT_B_POP,
                                     FEAT_B_II};
static const char *const RANK_NAMES[NRANK] = {
    "affinity", "popularity",       "item_item",        "repeat",          "repeat_frequency",
    "repeat_readiness", "bought_affinity", "bought_popularity", "bought_item_item"};

/* Whether an example enters the sub-model: every offer for choice, only offers new to
 * the person (repeat indicator 0) for ranked. */
static int in_rank(int nf, const double *x) {
    return nf == NRANK || x[COL(INDIV_TERM_REPEAT)] == 0;
}

static void rank_x(int nf, const double *x, double *f) {
    for (int k = 0; k < nf; k++)
        f[k] = x[RANK_COLS[k]];
}

static double dotn(int nf, const double *a, const double *b) {
    double s = 0;
    for (int k = 0; k < nf; k++)
        s += a[k] * b[k];
    return s;
}

/* The conditional log-likelihood (McFadden, "Conditional logit analysis of qualitative
 * choice behavior", 1974) of the new offers each person bought in the tail: for every
 * such positive p of person g, log [e^{z_p} / (e^{z_p} + Σ_n w_n e^{z_n})] over the
 * person's sampled new offers n not bought, each weighing what it stands for (the
 * weighted sum estimates the one over every new offer not bought: a sampled softmax),
 * z = b·(affinity, popularity, item_item), minus ridge/2 |b|²; its gradient g and
 * Hessian h (3 × 3, row-major). People of the other half (half 0 or 1; 2: everyone)
 * are left out. The person's own level (readiness, frequency, intercept) cancels: the
 * fit is about which new offer, not whether. */
static double rank_loglik(const struct examples *e, int nf, int half, const double *b,
                          double ridge, double *g, double *h, size_t *positives) {
    double ll = -0.5 * ridge * dotn(nf, b, b);
    for (int k = 0; k < nf; k++) {
        g[k] = -ridge * b[k];
        for (int l = 0; l < nf; l++)
            h[k * nf + l] = k == l ? -ridge : 0;
    }
    *positives = 0;
    for (size_t a = 0; a < e->n;) {
        size_t z = a;
        while (z < e->n && e->group[z] == e->group[a])
            z++;
        if (half != 2 && e->half[a] != half) {
            a = z;
            continue;
        }
        /* the negatives' sums, shifted by the group's largest score m */
        double m = -INFINITY, f[NRANK];
        for (size_t i = a; i < z; i++)
            if (in_rank(nf, e->x + i * NFEAT)) {
                rank_x(nf, e->x + i * NFEAT, f);
                m = fmax(m, dotn(nf, b, f));
            }
        double sn = 0, sx[NRANK] = {0}, sxx[NRANK * NRANK] = {0};
        for (size_t i = a; i < z; i++) {
            if (!in_rank(nf, e->x + i * NFEAT) || e->y[i] > 0.5)
                continue;
            rank_x(nf, e->x + i * NFEAT, f);
            double q = e->w[i] * exp(dotn(nf, b, f) - m);
            sn += q;
            for (int k = 0; k < nf; k++) {
                sx[k] += q * f[k];
                for (int l = 0; l < nf; l++)
                    sxx[k * nf + l] += q * f[k] * f[l];
            }
        }
        for (size_t i = a; sn > 0 && i < z; i++) {
            if (!in_rank(nf, e->x + i * NFEAT) || e->y[i] < 0.5)
                continue;
            rank_x(nf, e->x + i * NFEAT, f);
            double zp = dotn(nf, b, f) - m, qp = exp(zp), d = qp + sn, mu[NRANK];
            ll += zp - log(d);
            for (int k = 0; k < nf; k++)
                mu[k] = (qp * f[k] + sx[k]) / d;
            for (int k = 0; k < nf; k++) {
                g[k] += f[k] - mu[k];
                for (int l = 0; l < nf; l++)
                    h[k * nf + l] -= (qp * f[k] * f[l] + sxx[k * nf + l]) / d - mu[k] * mu[l];
            }
            (*positives)++;
        }
        a = z;
    }
    return ll;
}

/* Solves the nf × nf system (−h) d = g by Gaussian elimination with partial
 * pivoting; 0 when singular. */
static int solve_n(int nf, const double *h, const double *g, double *d) {
    double a[NRANK][NRANK + 1];
    for (int k = 0; k < nf; k++) {
        for (int l = 0; l < nf; l++)
            a[k][l] = -h[k * nf + l];
        a[k][nf] = g[k];
    }
    for (int c = 0; c < nf; c++) {
        int piv = c;
        for (int k = c + 1; k < nf; k++)
            piv = fabs(a[k][c]) > fabs(a[piv][c]) ? k : piv;
        if (!(fabs(a[piv][c]) > 1e-300))
            return 0;
        for (int l = 0; l <= nf; l++) {
            double t = a[c][l];
            a[c][l] = a[piv][l];
            a[piv][l] = t;
        }
        for (int k = c + 1; k < nf; k++) {
            double q = a[k][c] / a[c][c];
            for (int l = c; l <= nf; l++)
                a[k][l] -= q * a[c][l];
        }
    }
    for (int c = nf - 1; c >= 0; c--) {
        double v = a[c][nf];
        for (int l = c + 1; l < nf; l++)
            v -= a[c][l] * d[l];
        d[c] = v / a[c][c];
    }
    return 1;
}

/* Newton-Raphson with step halving on rank_loglik (concave: a sum of log-softmaxes of
 * linear scores, plus the ridge), from b = 0, on nf features. Standard errors from the
 * Hessian. */
static void fit_rank(const struct run *r, int nf, int half, struct rank_fit *out) {
    double b[NRANK] = {0}, g[NRANK], h[NRANK * NRANK], g2[NRANK], h2[NRANK * NRANK];
    size_t pos;
    double ridge = r->p->ridge, ll = rank_loglik(&r->ex, nf, half, b, ridge, g, h, &pos);
    memset(out, 0, sizeof *out);
    out->nf = nf;
    out->positives = pos;
    for (int it = 0; it < LOGIT_MAX_ITER; it++) {
        double d[NRANK], nb[NRANK] = {0}, step = 1, nll = -INFINITY;
        out->iterations = it + 1;
        if (!solve_n(nf, h, g, d))
            break;
        for (int halving = 0; halving < 30; halving++, step *= 0.5) {
            for (int k = 0; k < nf; k++)
                nb[k] = b[k] + step * d[k];
            nll = rank_loglik(&r->ex, nf, half, nb, ridge, g2, h2, &pos);
            if (nll >= ll - 1e-12 * fabs(ll))
                break;
        }
        double moved = 0;
        for (int k = 0; k < nf; k++)
            moved = fmax(moved, fabs(nb[k] - b[k]));
        memcpy(b, nb, sizeof b);
        memcpy(g, g2, sizeof g);
        memcpy(h, h2, sizeof h);
        ll = nll;
        if (moved < LOGIT_TOL) {
            out->converged = 1;
            break;
        }
    }
    memcpy(out->beta, b, sizeof b);
    for (int k = 0; k < nf; k++) { /* sqrt(diag((−h)⁻¹)) */
        double e[NRANK] = {0}, col[NRANK];
        e[k] = 1;
        out->se[k] = solve_n(nf, h, e, col) && col[k] > 0 ? sqrt(col[k]) : NAN;
    }
}

/* One example's design row (the mode's columns) from its raw columns. */
static void design_row(const struct run *r, const struct rank_fit *rank, const double *raw,
                       double *x) {
    memcpy(x, raw, NFEAT * sizeof *x);
    const int aff = COL(INDIV_TERM_AFFINITY), pop = COL(INDIV_TERM_POPULARITY),
              ii = COL(INDIV_TERM_ITEM_ITEM);
    switch (r->mode) {
    case INDIV_NEW_OFFERS_SHARED:
        x[aff] += x[FEAT_B_AFF];
        x[pop] += x[FEAT_B_POP];
        x[ii] += x[FEAT_B_II];
        x[FEAT_B_AFF] = x[FEAT_B_POP] = x[FEAT_B_II] = 0;
        break;
    case INDIV_NEW_OFFERS_SPLIT:
        x[aff] += x[FEAT_B_AFF];
        x[pop] += x[FEAT_B_POP];
        x[FEAT_B_AFF] = x[FEAT_B_POP] = 0;
        break;
    case INDIV_NEW_OFFERS_RANKED:
    case INDIV_NEW_OFFERS_CHOICE: {
        /* the sub-model's score in the affinity column, its own columns emptied */
        double f[NRANK];
        int nf = rank->nf;
        rank_x(nf, raw, f);
        for (int k = 0; k < nf; k++)
            x[RANK_COLS[k]] = 0;
        x[aff] = in_rank(nf, raw) ? dotn(nf, rank->beta, f) : 0;
        break;
    }
    }
}

/* Whether column k of the design is used by the mode (the others are 0 throughout:
 * the ridge keeps their coefficient at 0, and they have no standard error). */
static int col_used(const struct run *r, int k) {
    if (r->mode == INDIV_NEW_OFFERS_CHOICE)
        return k == 0 || k == COL(INDIV_TERM_AFFINITY) || k == COL(INDIV_TERM_READINESS) ||
               k == COL(INDIV_TERM_FREQUENCY);
    if (k == FEAT_B_AFF || k == FEAT_B_POP)
        return r->mode == INDIV_NEW_OFFERS_RANKED;
    if (k == FEAT_B_II)
        return r->mode != INDIV_NEW_OFFERS_SHARED;
    if (k == COL(INDIV_TERM_POPULARITY) || k == COL(INDIV_TERM_ITEM_ITEM))
        return r->mode != INDIV_NEW_OFFERS_RANKED;
    return 1;
}

static double *design(const struct run *r, const struct rank_fit *rank) {
    const struct examples *e = &r->ex;
    double *x = malloc((e->n * NFEAT + 1) * sizeof *x);
    for (size_t i = 0; x && i < e->n; i++)
        design_row(r, rank, e->x + i * NFEAT, x + i * NFEAT);
    return x;
}

/* AUC and log-loss of the half-fitted weights on the validation half's examples. */
static int validate_propensity(struct run *r, const double *x, const double *wv,
                               indiv_error *err) {
    const struct examples *e = &r->ex;
    double *p = malloc((e->n + 1) * sizeof *p);
    if (!p)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t i = 0; i < e->n; i++) {
        double z = 0;
        for (size_t k = 0; k < NFEAT; k++)
            z += r->beta_fit[k] * x[i * NFEAT + k];
        p[i] = indiv_sigmoid(z);
        r->val.examples += e->half[i] == 1;
    }
    r->val.has_auc = indiv_metrics_auc(p, e->y, wv, e->n, &r->val.auc, NULL) == INDIV_OK;
    r->val.log_loss = indiv_metrics_log_loss(p, e->y, wv, e->n);
    free(p);
    return INDIV_OK;
}

/* The mode in effect: ranked needs purchase labels and enough new offers bought (on
 * each half's fit); otherwise split. Then the sub-model on half 0 and on everyone. */
static void choose_mode(struct run *r) {
    r->mode = r->p->new_offers;
    if (r->mode != INDIV_NEW_OFFERS_RANKED && r->mode != INDIV_NEW_OFFERS_CHOICE)
        return;
    int nf = r->mode == INDIV_NEW_OFFERS_CHOICE ? NRANK : 3;
    if (!r->from_contacts) {
        fit_rank(r, nf, 0, &r->rank_half);
        fit_rank(r, nf, 2, &r->rank);
    }
    if (r->from_contacts || r->rank_half.positives < MIN_RANK_POSITIVES ||
        r->rank.positives < MIN_RANK_POSITIVES)
        r->mode = INDIV_NEW_OFFERS_SPLIT;
}

/* Fit on half 0, validate on half 1, refit on all. */
static int fit_weights(struct run *r, indiv_error *err) {
    const struct examples *e = &r->ex;
    choose_mode(r);
    double *wf = half_weights(e, 0), *wv = half_weights(e, 1);
    double *x = design(r, &r->rank_half);
    int rc = wf && wv && x ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = indiv_logit_fit(x, e->y, wf, e->n, NFEAT, r->p->ridge, LOGIT_MAX_ITER,
                             LOGIT_TOL, r->beta_fit, NULL, NULL, err);
    if (rc == INDIV_OK)
        rc = validate_propensity(r, x, wv, err);
    free(x);
    x = rc == INDIV_OK ? design(r, &r->rank) : NULL;
    if (rc == INDIV_OK && !x)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = indiv_logit_fit(x, e->y, e->w, e->n, NFEAT, r->p->ridge, LOGIT_MAX_ITER,
                             LOGIT_TOL, r->beta, r->se, &r->fit_stats, err);
    free(x);
    free(wf);
    free(wv);
    return rc;
}

/* ---- ranking validation ------------------------------------------------------------ */

struct rank_ws {
    double *score, *pop;
    unsigned char *rel;
    indiv_scored *ws;
};

static void add_topk(double sums[4], const indiv_topk *t) {
    sums[0] += t->hit;
    sums[1] += t->precision;
    sums[2] += t->recall;
    sums[3] += t->ndcg;
}

/* Appends one person's relevance, outcome, purchase occasions and half. */
static int cal_push(struct cal_pairs *c, double pred, unsigned char acted,
                    const indiv_act_inputs *in,
                    unsigned char half) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        double *p = realloc(c->pred, cap * sizeof *p);
        c->pred = p ? p : c->pred;
        indiv_act_inputs *o = realloc(c->in, cap * sizeof *o);
        c->in = o ? o : c->in;
        unsigned char *a = realloc(c->acted, cap);
        c->acted = a ? a : c->acted;
        unsigned char *h = realloc(c->half, cap);
        c->half = h ? h : c->half;
        if (!p || !o || !a || !h)
            return INDIV_ENOMEM;
        c->cap = cap;
    }
    c->pred[c->n] = pred;
    c->in[c->n] = *in;
    c->half[c->n] = half;
    c->acted[c->n++] = acted;
    return INDIV_OK;
}

/* The calibration pair of a person: the first `slots` valid offers by score (ties to
 * the lower index), P(buys at least one) = 1 − Π(1 − p_i) (the policy's `relevance
 * any`), and whether one of them was bought in the tail; with the person's purchase
 * occasions and half (the act model is fitted on half 0, measured on half 1). */
static int calibration_add(struct run *r, const struct pass *ps, size_t slot,
                           const double *score, size_t from, size_t to) {
    const indiv_sparse *tail = r->d.tail.m;
    size_t n = indiv_catalog_size(r->cat), top[INDIV_SLOTS_MAX], m = 0;
    size_t slots = (size_t)r->p->calibration_slots;
    for (size_t j = 0; j < n; j++) {
        if (score[j] == -INFINITY)
            continue;
        size_t at = m < slots ? m++ : slots;
        while (at > 0 && score[top[at - 1]] < score[j]) {
            if (at < slots)
                top[at] = top[at - 1];
            at--;
        }
        if (at < slots)
            top[at] = j;
    }
    double p[INDIV_SLOTS_MAX];
    unsigned char acted = 0;
    for (size_t i = 0; i < m; i++) {
        p[i] = indiv_sigmoid(score[top[i]]);
        acted |= bsearch(&top[i], tail->idx + from, to - from, sizeof(size_t), cmp_size) !=
                 NULL;
    }
    indiv_act_inputs in;
    indiv_score_act_inputs(ps->b, slot, &in);
    return cal_push(&r->cal, indiv_relevance_any(p, m), acted, &in, ps->half[slot]);
}

/* Every known consumer: the calibration pair; for validation consumers who bought in the tail,
 * the fitted model's ranking of the valid offers, and popularity's, against what they
 * bought. */
static int rank_validation(struct pass *ps, size_t slot) {
    struct run *r = ps->r;
    struct rank_ws *w = ps->ctx;
    const indiv_sparse *tail = r->d.tail.m;
    size_t row = ps->rows[slot], from = tail->ptr[row], to = tail->ptr[row + 1];
    size_t n = indiv_catalog_size(r->cat), k = (size_t)r->p->k;
    const double *pop = indiv_catalog_popularity(r->cat);
    for (size_t j = 0; j < n; j++) {
        w->score[j] = r->valid[j] ? indiv_score_logit(ps->s, ps->b, slot, j) : -INFINITY;
        w->pop[j] = r->valid[j] ? pop[j] : -INFINITY;
    }
    if (calibration_add(r, ps, slot, w->score, from, to) < 0)
        return INDIV_ENOMEM;
    if (ps->half[slot] != 1 || from == to)
        return INDIV_OK;
    for (size_t e = from; e < to; e++)
        w->rel[tail->idx[e]] = 1;
    indiv_topk t;
    indiv_metrics_topk(w->score, w->rel, n, to - from, k, w->ws, &t);
    add_topk(r->val.indiv, &t);
    indiv_metrics_topk(w->pop, w->rel, n, to - from, k, w->ws, &t);
    add_topk(r->val.pop, &t);
    for (size_t e = from; e < to; e++)
        w->rel[tail->idx[e]] = 0;
    r->val.consumers++;
    return INDIV_OK;
}

/* The act model's design row of a person: 1, logit(any), log(1 + orders), then with
 * INDIV_ACT_FULL readiness, log(1 + days since the last purchase), log(1 + offers
 * re-bought), log(1 + repeat strength) (model.h). Returns the number of columns. */
#define ACT_COLS_MAX 7
static size_t act_row(int mode, double any, const indiv_act_inputs *in, double *x) {
    double q = fmin(fmax(any, ACT_ANY_MIN), 1 - ACT_ANY_MIN);
    x[0] = 1;
    x[1] = log(q / (1 - q));
    x[2] = log1p(fmax(in->orders, 0));
    if (mode != INDIV_ACT_FULL)
        return 3;
    x[3] = in->readiness;
    x[4] = log1p(fmax(in->recency_days, 0));
    x[5] = log1p(fmax(in->rebought, 0));
    x[6] = log1p(fmax(in->repeat_strength, 0));
    return 7;
}

/* The act model (model.h) on the fitting half's pairs: logistic regression of acted on
 * act_row. None (present = 0) when turned off, when either group has fewer than
 * INDIV_CALIBRATION_MIN_GROUP people, or when the fit fails. */
static int fit_act(struct run *r) {
    const struct cal_pairs *c = &r->cal;
    size_t n = 0, pos = 0, cols = 3;
    memset(&r->act, 0, sizeof r->act);
    double *x = malloc((ACT_COLS_MAX * c->n + 1) * sizeof *x),
           *y = malloc((c->n + 1) * sizeof *y);
    for (size_t i = 0; x && y && i < c->n; i++) {
        if (c->half[i] != 0)
            continue;
        cols = act_row(r->p->act_model, c->pred[i], &c->in[i], x + cols * n);
        y[n] = c->acted[i];
        pos += c->acted[i];
        n++;
    }
    double beta[ACT_COLS_MAX] = {0};
    int rc = x && y ? INDIV_OK : INDIV_ENOMEM;
    if (rc == INDIV_OK && r->p->act_model != INDIV_ACT_NONE &&
        pos >= INDIV_CALIBRATION_MIN_GROUP && n - pos >= INDIV_CALIBRATION_MIN_GROUP &&
        indiv_logit_fit(x, y, NULL, n, cols, r->p->ridge, LOGIT_MAX_ITER, LOGIT_TOL, beta,
                        NULL, NULL, NULL) == INDIV_OK)
        r->act = (indiv_act_model){1,       beta[0], beta[1], beta[2],
                                   beta[3], beta[4], beta[5], beta[6]};
    free(x);
    free(y);
    return rc;
}

/* The calibration (model.h) of the half-fitted model and its act model on the
 * validation half; none when the half is empty. */
static int calibrate(struct run *r, indiv_error *err) {
    char t1[INDIV_ISO_LEN], t2[INDIV_ISO_LEN], src[INDIV_CALIBRATION_SOURCE_MAX];
    struct cal_pairs *c = &r->cal;
    if (fit_act(r) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->half[i] == 1) { /* compacted in place: the fit is done with half 0 */
            c->pred[n] = indiv_act_apply_inputs(&r->act, c->pred[i], &c->in[i]);
            c->acted[n++] = c->acted[i];
        }
    if (n == 0)
        return INDIV_OK;
    snprintf(src, sizeof src,
             "indiv train: the validation half (%zu consumers known before the tail, "
             "weights%s fitted on the other half), relevance at %s, purchases in "
             "[%s, %s)",
             n, r->act.present ? " and act model" : "", indiv_time_format(r->t_tail, t1),
             t1, indiv_time_format(r->p->as_of, t2));
    return indiv_calibration_fit(c->pred, c->acted, n, r->p->calibration_slots,
                                 r->p->holdout_days, src, &r->calibration, err);
}

/* NDCG@k of the validation half's buyers in the tail under the pass's model, every
 * purchase counting (sums[0]) and only offers new to the person (sums[1]: their truth
 * and list without the offers of their history), for the choice of the shrink. */
struct shrink_ws {
    struct rank_ws w;
    unsigned char *hist; /* n: offers of the current person's history */
    double sums[2];
    size_t consumers[2];
};

static int shrink_validation(struct pass *ps, size_t slot) {
    struct run *r = ps->r;
    struct shrink_ws *sw = ps->ctx;
    struct rank_ws *w = &sw->w;
    const indiv_sparse *tail = r->d.tail.m;
    size_t row = ps->rows[slot], from = tail->ptr[row], to = tail->ptr[row + 1];
    size_t n = indiv_catalog_size(r->cat), k = (size_t)r->p->k, j;
    if (ps->half[slot] != 1 || from == to)
        return INDIV_OK;
    const indiv_profile *pr = &ps->prof[slot];
    for (size_t h = 0; (pr->features & INDIV_FEAT_HISTORY) && h < pr->n_history; h++)
        if (indiv_catalog_index(r->cat, pr->history[h].offer_id, &j) == INDIV_OK)
            sw->hist[j] = 1;
    for (int mode = 0; mode < 2; mode++) {
        size_t truth = 0;
        for (size_t e = from; e < to; e++)
            if (mode == 0 || !sw->hist[tail->idx[e]]) {
                w->rel[tail->idx[e]] = 1;
                truth++;
            }
        for (size_t o = 0; o < n; o++)
            w->score[o] = r->valid[o] && (mode == 0 || !sw->hist[o])
                              ? indiv_score_logit(ps->s, ps->b, slot, o)
                              : -INFINITY;
        if (truth) {
            indiv_topk t;
            indiv_metrics_topk(w->score, w->rel, n, truth, k, w->ws, &t);
            sw->sums[mode] += t.ndcg;
            sw->consumers[mode]++;
        }
        for (size_t e = from; e < to; e++)
            w->rel[tail->idx[e]] = 0;
    }
    for (size_t h = 0; (pr->features & INDIV_FEAT_HISTORY) && h < pr->n_history; h++)
        if (indiv_catalog_index(r->cat, pr->history[h].offer_id, &j) == INDIV_OK)
            sw->hist[j] = 0;
    return INDIV_OK;
}

/* The shrink of the new offers' affinity and popularity weights (the likelihood's
 * weights set them for telling plausible offers from the rest, not for which new offer
 * comes first): the grid value with the largest NDCG@k every purchase plus NDCG@k of
 * new offers on the validation half's buyers in the tail under the half-fitted weights
 * (ties to the larger value, nearer the fit), or the parameter's fixed value. */
static int choose_shrink(struct run *r, indiv_error *err) {
    r->shrink = r->p->new_offer_shrink >= 0 ? r->p->new_offer_shrink : 1;
    if (r->p->new_offer_shrink >= 0)
        return INDIV_OK;
    size_t n = indiv_catalog_size(r->cat);
    struct shrink_ws sw = {{malloc(n * sizeof(double)), NULL, calloc(n, 1),
                            malloc((size_t)r->p->k * sizeof(indiv_scored))},
                           calloc(n, 1), {0, 0}, {0, 0}};
    int rc = sw.w.score && sw.w.rel && sw.w.ws && sw.hist
                 ? INDIV_OK
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    double best = -INFINITY;
    for (int g = 0; rc == INDIV_OK && g < SHRINK_GRID; g++) {
        indiv_model fm;
        r->shrink = SHRINK_VALUES[g];
        feature_model(r, r->beta_fit, &r->rank_half, &fm);
        sw.sums[0] = sw.sums[1] = 0;
        sw.consumers[0] = sw.consumers[1] = 0;
        rc = pass_run(r, &fm, shrink_validation, &sw, "shrink", err);
        for (int mode = 0; rc == INDIV_OK && mode < 2; mode++)
            r->shrink_ndcg[g][mode] =
                sw.consumers[mode] ? sw.sums[mode] / (double)sw.consumers[mode] : 0;
        r->shrink_consumers[0] = sw.consumers[0];
        r->shrink_consumers[1] = sw.consumers[1];
    }
    r->shrink = 1;
    for (int g = 0; rc == INDIV_OK && g < SHRINK_GRID; g++)
        if (r->shrink_ndcg[g][0] + r->shrink_ndcg[g][1] >= best) {
            best = r->shrink_ndcg[g][0] + r->shrink_ndcg[g][1];
            r->shrink = SHRINK_VALUES[g];
        }
    r->shrink_chosen = rc == INDIV_OK;
    free(sw.w.score);
    free(sw.w.rel);
    free(sw.w.ws);
    free(sw.hist);
    return rc;
}

static int validate_ranking(struct run *r, indiv_error *err) {
    size_t n = indiv_catalog_size(r->cat);
    int rc = choose_shrink(r, err);
    if (rc < 0)
        return rc;
    struct rank_ws w = {malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                        calloc(n, 1), malloc((size_t)r->p->k * sizeof(indiv_scored))};
    indiv_model fm;
    feature_model(r, r->beta_fit, &r->rank_half, &fm);
    rc = w.score && w.pop && w.rel && w.ws
             ? pass_run(r, &fm, rank_validation, &w, "validation", err)
             : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(w.score);
    free(w.pop);
    free(w.rel);
    free(w.ws);
    return rc == INDIV_OK ? calibrate(r, err) : rc;
}

/* ---- the model --------------------------------------------------------------------- */

/* Offers with an interaction before as_of get their whitened vector; the others none
 * (indiv_model_apply gives them a zero row). */
static int final_embedding(struct run *r, indiv_model *m, indiv_error *err) {
    size_t n = indiv_catalog_size(r->cat), k = r->p->als.dims, used = 0;
    double *f = malloc(n * k * sizeof *f);
    unsigned char *seen = calloc(n + 1, 1);
    int rc = f && seen ? factorise(r, r->d.all.m, "als", f, &r->loss, err)
                       : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    size_t count = rc == INDIV_OK ? nonzero_cols(r->d.all.m, seen) : 0;
    if (rc == INDIV_OK && !(m->embedding = indiv_embedding_new(count, k)))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t j = 0; rc == INDIV_OK && j < n; j++) {
        if (!seen[j])
            continue;
        memcpy(m->embedding->vectors + used * k, f + j * k, k * sizeof *f);
        if (!(m->embedding->offer_ids[used++] =
                  strdup(indiv_catalog_offer(r->cat, j)->ext_id)))
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    if (rc == INDIV_OK)
        rc = indiv_embedding_finish(m->embedding, err);
    free(f);
    free(seen);
    return rc;
}

static json_t *iso(int64_t ts) {
    char b[INDIV_ISO_LEN];
    return json_string(indiv_time_format(ts, b));
}

static json_t *topk_json(const double sums[4], size_t n) {
    double d = n ? (double)n : 1;
    return json_pack("{s:f, s:f, s:f, s:f}", "hit_rate", sums[0] / d, "precision",
                     sums[1] / d, "recall", sums[2] / d, "ndcg", sums[3] / d);
}

static json_t *params_json(const indiv_train_params *p) {
    const indiv_als_params *a = &p->als;
    return json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:i, s:f, s:i, s:f, s:f, s:f, s:i, s:s, s:s}",
                     "dims", (json_int_t)a->dims, "iterations", a->iterations, "alpha",
                     a->alpha, "lambda", a->lambda, "init_sd", a->init_sd, "holdout_days",
                     p->holdout_days, "negatives", p->negatives, "ridge", p->ridge, "k",
                     p->k, "reaction_days", p->reaction_days, "taste_half_life_days",
                     p->profile.half_life_days, "popularity_half_life_days",
                     p->popularity_half_life_days, "threads", a->threads, "new_offers",
                     indiv_new_offers_name(p->new_offers), "act_model",
                     p->act_model == INDIV_ACT_FULL     ? "full"
                     : p->act_model == INDIV_ACT_ORDERS ? "orders"
                                                        : "none");
}

static json_t *validation_json(const struct run *r) {
    const struct validation *v = &r->val;
    json_t *j = json_pack("{s:o, s:I, s:I, s:o, s:o, s:I, s:f}", "from", iso(r->t_tail),
                          "k", (json_int_t)r->p->k, "consumers", (json_int_t)v->consumers,
                          "indiv", topk_json(v->indiv, v->consumers), "popularity",
                          topk_json(v->pop, v->consumers), "propensity_examples",
                          (json_int_t)v->examples, "propensity_log_loss", v->log_loss);
    json_object_set_new(j, "propensity_auc",
                        v->has_auc ? json_real(v->auc) : json_null());
    return j;
}

static json_t *se_json(const struct run *r, int k) {
    return col_used(r, k) ? json_real(r->se[k]) : json_null();
}

static json_t *fit_json(const struct run *r) {
    json_t *se = json_object();
    json_object_set_new(se, "intercept", json_real(r->se[0]));
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        json_object_set_new(se, indiv_model_term_name(t), se_json(r, COL(t)));
    json_object_set_new(se, "bought_affinity", se_json(r, FEAT_B_AFF));
    json_object_set_new(se, "bought_popularity", se_json(r, FEAT_B_POP));
    json_object_set_new(se, "bought_item_item", se_json(r, FEAT_B_II));
    json_t *j = json_pack(
        "{s:s, s:I, s:I, s:i, s:b, s:f, s:o, s:s}", "labels",
        r->from_contacts ? "contacts answered in the tail" : "offers bought in the tail",
        "examples", (json_int_t)r->ex.n, "positives", (json_int_t)r->ex.positives,
        "iterations", r->fit_stats.iterations, "converged", r->fit_stats.converged,
        "deviance", r->fit_stats.deviance, "standard_errors", se, "new_offers",
        indiv_new_offers_name(r->mode));
    if (j) {
        json_t *sh = json_pack("{s:f, s:s}", "value", r->shrink, "how",
                               r->shrink_chosen ? "chosen on the validation half"
                                                : "fixed by the parameter");
        json_t *grid = json_array();
        for (int g = 0; sh && grid && r->shrink_chosen && g < SHRINK_GRID; g++)
            json_array_append_new(grid, json_pack("{s:f, s:f, s:f}", "shrink",
                                                  SHRINK_VALUES[g], "ndcg_all",
                                                  r->shrink_ndcg[g][0], "ndcg_new",
                                                  r->shrink_ndcg[g][1]));
        json_object_set_new(sh, "grid", grid);
        json_object_set_new(sh, "consumers_all", json_integer((json_int_t)r->shrink_consumers[0]));
        json_object_set_new(sh, "consumers_new", json_integer((json_int_t)r->shrink_consumers[1]));
        json_object_set_new(j, "new_offer_shrink", sh);
    }
    if (j && (r->mode == INDIV_NEW_OFFERS_RANKED || r->mode == INDIV_NEW_OFFERS_CHOICE)) {
        const struct rank_fit *k = &r->rank;
        json_t *o = json_pack(
            "{s:s, s:I, s:i, s:b, s:f}", "fit",
            r->mode == INDIV_NEW_OFFERS_CHOICE
                ? "conditional logit of the offers bought in the tail among every offer"
                : "conditional logit of the new offers bought in the tail",
            "positives", (json_int_t)k->positives, "iterations", k->iterations,
            "converged", k->converged, "scale", r->beta[COL(INDIV_TERM_AFFINITY)]);
        json_t *w = json_object(), *sev = json_object();
        for (int i = 0; o && w && sev && i < k->nf; i++) {
            json_object_set_new(w, RANK_NAMES[i], json_real(k->beta[i]));
            json_object_set_new(sev, RANK_NAMES[i],
                                isfinite(k->se[i]) ? json_real(k->se[i]) : json_null());
        }
        json_object_set_new(o, "weights", w);
        json_object_set_new(o, "standard_errors", sev);
        json_object_set_new(j, r->mode == INDIV_NEW_OFFERS_CHOICE ? "choice_model"
                                                                   : "new_offer_ranking",
                            o);
    }
    return j;
}

static json_t *data_json(const struct run *r) {
    char fp[32];
    snprintf(fp, sizeof fp, "fnv1a64:%016llx", (unsigned long long)r->d.hash);
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "database",
                     indiv_eventlog_path(r->log), "fingerprint", fp, "events",
                     (json_int_t)r->d.events, "consumers_profiling_consent",
                     (json_int_t)r->d.n_rows, "consumers_with_interactions",
                     (json_int_t)nonzero_rows(r->d.all.m), "interactions",
                     (json_int_t)r->d.all.m->nnz, "interactions_before_tail",
                     (json_int_t)r->d.before.m->nnz, "offers_in_catalog",
                     (json_int_t)indiv_catalog_size(r->cat));
}

/* The provenance object: data, times, parameters, seed, fits and validation. */
static int set_provenance(struct run *r, indiv_model *m, double seconds,
                          indiv_error *err) {
    json_t *j =
        json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:s?, s:f, s:{s:f, s:f, s:f}, "
                  "s:o, s:o}",
                  "tool", "indiv train", "data", data_json(r), "as_of", iso(r->p->as_of),
                  "holdout_from", iso(r->t_tail), "parameters", params_json(r->p), "seed",
                  (json_int_t)r->p->als.seed, "trained_at", r->p->trained_at,
                  "training_seconds", seconds, "als", "loss", r->loss, "loss_before_tail",
                  r->loss_tail, "seconds_per_sweep", r->sweep_seconds, "propensity_fit",
                  fit_json(r), "validation", validation_json(r));
    char *txt =
        j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    int rc = txt ? indiv_model_set_provenance(m, txt, err)
                 : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(txt);
    return rc;
}

static void fill_summary(const struct run *r, double seconds, indiv_train_summary *sum) {
    memset(sum, 0, sizeof *sum);
    sum->events = r->d.events;
    sum->consumers = (int64_t)nonzero_rows(r->d.all.m);
    sum->interactions = (int64_t)r->d.all.m->nnz;
    unsigned char *seen = calloc(r->d.n_offers + 1, 1);
    sum->offers = seen ? (int64_t)nonzero_cols(r->d.all.m, seen) : 0;
    free(seen);
    sum->examples = (int64_t)r->ex.n;
    sum->positives = (int64_t)r->ex.positives;
    sum->labels_from_contacts = r->from_contacts;
    sum->loss = r->loss;
    sum->seconds_per_sweep = r->sweep_seconds;
    sum->seconds = seconds;
    sum->new_offer_shrink = r->shrink;
    sum->new_offer_shrink_chosen = r->shrink_chosen;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Snapshot, catalogue and the pass over the events. */
static int load_data(struct run *r, indiv_error *err) {
    int rc = indiv_eventlog_snapshot(r->log, r->p->scratch, r->p->as_of, &r->snap, err);
    report(r, "snapshot", 1, 1);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(r->snap, &r->cat, err);
    if (rc == INDIV_OK && data_init(&r->d, indiv_catalog_size(r->cat)) < 0)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = read_events(r->snap, r->cat, r->p, r->t_tail, &r->d, err);
    return rc == INDIV_OK ? check_enough(r, err) : rc;
}

int indiv_train_run(indiv_eventlog *log, const indiv_train_params *p,
                    indiv_progress_fn progress, void *ctx, indiv_model *out,
                    indiv_train_summary *sum, indiv_error *err) {
    double t0 = now_s();
    memset(out, 0, sizeof *out);
    int rc = validate(p, err);
    if (rc < 0)
        return rc;
    struct run r = {.log = log, .p = p, .progress = progress, .ctx = ctx};
    r.t_tail = p->as_of - (int64_t)llround(p->holdout_days * INDIV_SECONDS_PER_DAY);
    rc = load_data(&r, err);
    if (rc == INDIV_OK)
        rc = tail_space(&r, err);
    if (rc == INDIV_OK)
        rc = collect_examples(&r, err);
    if (rc == INDIV_OK)
        rc = fit_weights(&r, err);
    if (rc == INDIV_OK)
        rc = validate_ranking(&r, err);
    feature_model(&r, r.beta, &r.rank, out);
    out->item_item = NULL; /* the final model gets its own, below */
    out->calibration = r.calibration;
    out->act = r.act;
    if (rc == INDIV_OK)
        rc = final_embedding(&r, out, err);
    if (rc == INDIV_OK)
        rc = fit_item_item(&r, r.d.all.m, &out->item_item, err);
    if (rc == INDIV_OK)
        rc = set_provenance(&r, out, now_s() - t0, err);
    if (rc == INDIV_OK && sum)
        fill_summary(&r, now_s() - t0, sum);
    if (rc < 0)
        indiv_model_clear(out);
    run_free(&r);
    return rc;
}
