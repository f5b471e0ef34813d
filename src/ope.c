/*
 * ope.c — off-policy evaluation (the contract and the formulas are in ope.h).
 *
 * The run: (1) the decisions file is parsed into compact records (offers as catalog
 * indices in one shared pool), with an index sorted by consumer source id; (2) a
 * decision run of the target policy over the stored profiles evaluates each logged
 * action (decide.h `logged`) and gives each consumer's id; (3) the outcomes of every
 * decision with offers are read from the event log, one seek each; (4) the estimators
 * and the bootstrap. Memory: about 120 bytes a
 * decision plus its offers.
 *
 * The bootstrap is a Poisson bootstrap: replicate b weighs decision i by a count k_bi ~
 * Poisson(1), drawn by inverse CDF from 16 random bits (a 65,536-entry table: each
 * count's probability is off by less than 2^-16), from a stream seeded by (seed, b). So
 * it is one sequential pass over the samples per block of replicates, parallel over
 * replicates, and its result does not depend on the thread count.
 */
#include "indiv/ope.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/rng.h"
#include "indiv/timeutil.h"

/* Stream purpose of the bootstrap (rng.h purposes are the library's; this one is
 * derived from the user's bootstrap seed only, so it cannot collide with a run's). */
#define BOOT_PURPOSE UINT64_C(0x6f7065) /* "ope" */
#define BOOT_BLOCK   4096                /* samples per pass of a thread's replicates */
#define POISSON_BITS 16
#define MAX_THREADS  64

/* Sums of one replicate: Σk, Σkw, Σkw², Σkwr[v], Σk·dr[v]. */
enum { S_K, S_KW, S_KWR, S_KDR = S_KWR + INDIV_V_COUNT, S_N = S_KDR + INDIV_V_COUNT };

static const char *const value_names[INDIV_V_COUNT] = {"conversions", "revenue",
                                                       "contacts"};

const char *indiv_ope_value_name(int v) {
    return v >= 0 && v < INDIV_V_COUNT ? value_names[v] : "?";
}

void indiv_ope_params_init(indiv_ope_params *p) {
    memset(p, 0, sizeof *p);
    indiv_policy_params_init(&p->target);
    p->until = INDIV_TS_NONE;
    p->replicates = INDIV_OPE_REPLICATES;
    p->seed = 1;
    p->max_unsupported = INDIV_OPE_MAX_UNSUPPORTED;
    p->threads = 2;
}

/* ---- the estimators ---------------------------------------------------------------- */

/* table[u] = the Poisson(1) count of the 16-bit uniform u: the smallest k with
 * F(k) > (u + 1/2) / 2^16. */
static void poisson_table(unsigned char *table) {
    double cdf = exp(-1.0), term = cdf;
    int k = 0;
    for (unsigned u = 0; u < (1u << POISSON_BITS); u++) {
        double q = (u + 0.5) / (double)(1u << POISSON_BITS);
        while (cdf < q && k < 255) {
            k++;
            term /= k;
            cdf += term;
        }
        table[u] = (unsigned char)k;
    }
}

static void add_sample(double *S, const indiv_ope_sample *x, double k) {
    double kw = k * x->w;
    S[S_K] += k;
    S[S_KW] += kw;
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        S[S_KWR + v] += kw * x->r[v];
        S[S_KDR + v] += k * x->dr[v];
    }
}

typedef struct boot {
    const indiv_ope_sample *s;
    size_t n;
    int r0, r1; /* replicates of this thread */
    uint64_t seed;
    const unsigned char *table;
    double *sums; /* S_N per replicate, all replicates */
    int rc;
} boot;

static void *boot_work(void *arg) {
    boot *b = arg;
    int nr = b->r1 - b->r0;
    gsl_rng **g = calloc((size_t)(nr > 0 ? nr : 1), sizeof *g);
    b->rc = g ? INDIV_OK : INDIV_ENOMEM;
    for (int r = 0; b->rc == INDIV_OK && r < nr; r++)
        if (!(g[r] = indiv_rng_new(b->seed, (uint64_t)(b->r0 + r), BOOT_PURPOSE)))
            b->rc = INDIV_ENOMEM;
    for (size_t i0 = 0; b->rc == INDIV_OK && i0 < b->n; i0 += BOOT_BLOCK) {
        size_t i1 = i0 + BOOT_BLOCK < b->n ? i0 + BOOT_BLOCK : b->n;
        for (int r = 0; r < nr; r++) {
            double *S = b->sums + (size_t)(b->r0 + r) * S_N;
            for (size_t i = i0; i < i1; i += 2) { /* 32 bits: two counts */
                unsigned long u = gsl_rng_get(g[r]);
                unsigned k0 = b->table[u & 0xffff], k1 = b->table[(u >> 16) & 0xffff];
                if (k0)
                    add_sample(S, &b->s[i], k0);
                if (k1 && i + 1 < i1)
                    add_sample(S, &b->s[i + 1], k1);
            }
        }
    }
    for (int r = 0; g && r < nr; r++)
        gsl_rng_free(g[r]);
    free(g);
    return NULL;
}

/* Runs the replicates on up to `threads` threads; sums[r * S_N + ...] per replicate. */
static int bootstrap(const indiv_ope_sample *s, size_t n, int reps, uint64_t seed,
                     int threads, double *sums) {
    unsigned char *table = malloc(1u << POISSON_BITS);
    if (!table)
        return INDIV_ENOMEM;
    poisson_table(table);
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    threads = threads > reps ? reps : threads;
    boot b[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0}, rc = INDIV_OK;
    for (int t = 0; t < threads; t++) {
        b[t] = (boot){s, n, reps * t / threads, reps * (t + 1) / threads, seed, table,
                      sums, INDIV_OK};
        started[t] = threads > 1 && pthread_create(&tid[t], NULL, boot_work, &b[t]) == 0;
        if (!started[t])
            boot_work(&b[t]);
    }
    for (int t = 0; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        rc = rc < 0 ? rc : b[t].rc;
    }
    free(table);
    return rc;
}

/* The three estimates of value kind v from sums S. */
static void estimates(const double *S, int v, double *ips, double *snips, double *dr) {
    *ips = S[S_K] > 0 ? S[S_KWR + v] / S[S_K] : 0;
    *snips = S[S_KW] > 0 ? S[S_KWR + v] / S[S_KW] : 0;
    *dr = S[S_K] > 0 ? S[S_KDR + v] / S[S_K] : 0;
}

/* 2.5 % and 97.5 % quantiles of x[0..n) (sorted in place; Hyndman & Fan type 7). */
static void interval(double *x, size_t n, indiv_ope_interval *out) {
    gsl_sort(x, 1, n);
    out->lo = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.025);
    out->hi = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.975);
}

static void intervals(const double *sums, int reps, indiv_ope_result *out, double *x) {
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        indiv_ope_interval *iv[3] = {&out->ips[v], &out->snips[v], &out->dr[v]};
        for (int e = 0; e < 3; e++) {
            for (int r = 0; r < reps; r++) {
                double est[3];
                estimates(sums + (size_t)r * S_N, v, &est[0], &est[1], &est[2]);
                x[r] = est[e];
            }
            interval(x, (size_t)reps, iv[e]);
        }
    }
}

/* Point estimates, weights and support from one pass. */
static void point(const indiv_ope_sample *s, size_t n, indiv_ope_result *out) {
    double S[S_N] = {0}, w2 = 0, unsup = 0, logged[INDIV_V_COUNT] = {0};
    out->max_weight = 0;
    out->unsupported_n = 0;
    for (size_t i = 0; i < n; i++) {
        add_sample(S, &s[i], 1);
        w2 += s[i].w * s[i].w;
        unsup += s[i].unsupported;
        out->unsupported_n += s[i].unsupported > 0;
        out->max_weight = s[i].w > out->max_weight ? s[i].w : out->max_weight;
        for (int v = 0; v < INDIV_V_COUNT; v++)
            logged[v] += s[i].r[v];
    }
    for (int v = 0; v < INDIV_V_COUNT; v++) {
        estimates(S, v, &out->ips[v].value, &out->snips[v].value, &out->dr[v].value);
        out->logged[v] = logged[v] / (double)n;
    }
    out->n = (int64_t)n;
    out->ess = w2 > 0 ? S[S_KW] * S[S_KW] / w2 : 0;
    out->mean_weight = S[S_KW] / (double)n;
    out->unsupported = unsup / (double)n;
}

int indiv_ope_estimate(const indiv_ope_sample *s, size_t n, int replicates, uint64_t seed,
                       int threads, indiv_ope_result *out, indiv_error *err) {
    memset(out, 0, sizeof *out);
    if (n == 0)
        return indiv_error_set(err, INDIV_EINVAL, "no logged decision to evaluate");
    if (replicates < 1)
        return indiv_error_set(err, INDIV_EINVAL, "replicates must be >= 1 (got %d)",
                               replicates);
    point(s, n, out);
    out->replicates = replicates;
    out->seed = seed;
    double *sums = calloc((size_t)replicates * S_N, sizeof *sums);
    double *x = malloc((size_t)replicates * sizeof *x);
    int rc = sums && x ? bootstrap(s, n, replicates, seed, threads, sums) : INDIV_ENOMEM;
    if (rc == INDIV_OK)
        intervals(sums, replicates, out, x);
    free(sums);
    free(x);
    return rc < 0 ? indiv_error_set(err, rc, "out of memory for %d bootstrap replicates",
                                    replicates)
                  : INDIV_OK;
}

/* ---- the logged decisions ---------------------------------------------------------- */

typedef struct rec {
    size_t ext;      /* offset of the consumer's source id in the text pool */
    size_t off;      /* first offer in the offer pool */
    int n;           /* offers (0 for none) */
    indiv_action action;
    double p0;       /* π_0(a | x), logged */
    double r[INDIV_V_COUNT];
    int evaluated;
    int64_t id;             /* our id of the consumer, from the target's run */
    indiv_policy_eval eval; /* the logged action under the target */
} rec;

typedef struct by_ext {
    const char *ext;
    size_t i;
} by_ext;

typedef struct logged {
    rec *recs;
    size_t n, cap;
    char *text; /* source ids, NUL-terminated */
    size_t text_len, text_cap;
    size_t *offers;
    size_t n_offers, offers_cap;
    by_ext *index; /* sorted by source id */
    int64_t as_of;
    uint64_t seed;
    char model[128];
} logged;

static void logged_free(logged *L) {
    free(L->recs);
    free(L->text);
    free(L->offers);
    free(L->index);
}

/* Grows *buf (of *cap elements of size sz) to hold need elements. */
static int grow(void **buf, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap)
        return INDIV_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *p = realloc(*buf, c * sz);
    if (!p)
        return INDIV_ENOMEM;
    *buf = p;
    *cap = c;
    return INDIV_OK;
}

static int cmp_ext(const void *a, const void *b) {
    return strcmp(((const by_ext *)a)->ext, ((const by_ext *)b)->ext);
}

/* Offers by source id, for the lines' "offer" fields. */
static by_ext *offer_index(const indiv_catalog *cat) {
    size_t n = indiv_catalog_size(cat);
    by_ext *ix = malloc((n ? n : 1) * sizeof *ix);
    for (size_t j = 0; ix && j < n; j++)
        ix[j] = (by_ext){indiv_catalog_offer(cat, j)->ext_id, j};
    if (ix)
        qsort(ix, n, sizeof *ix, cmp_ext);
    return ix;
}

static const char *line_str(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

/* The run-wide fields of a line: the same decision time, seed and model on every line. */
static int line_run(logged *L, json_t *o, const char *path, size_t line, indiv_error *err) {
    int64_t t;
    const char *asof = line_str(o, "as_of"), *model = line_str(o, "model");
    json_t *seed = json_object_get(o, "seed");
    if (!asof || indiv_time_parse(asof, &t) < 0 || !model || !json_is_integer(seed))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s:%zu: as_of, model or seed missing or malformed", path,
                               line);
    if (L->n == 0) {
        L->as_of = t;
        L->seed = (uint64_t)json_integer_value(seed);
        snprintf(L->model, sizeof L->model, "%s", model);
    } else if (t != L->as_of || strcmp(model, L->model) != 0) {
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s:%zu: decisions of another run (as_of %s, model %s); "
                               "evaluate one decision run at a time",
                               path, line, asof, model);
    }
    return INDIV_OK;
}

/* The offers of a line into the pool (catalog indices). */
static int line_offers(logged *L, rec *r, json_t *o, const by_ext *offers, size_t n_cat,
                       const char *path, size_t line, indiv_error *err) {
    json_t *arr = json_object_get(o, "offers"), *of;
    size_t k;
    r->off = L->n_offers;
    r->n = 0;
    if (r->action == INDIV_NONE || !arr)
        return INDIV_OK;
    if (!json_is_array(arr) || json_array_size(arr) > INDIV_SLOTS_MAX ||
        grow((void **)&L->offers, &L->offers_cap, L->n_offers + json_array_size(arr),
             sizeof *L->offers) < 0)
        return indiv_error_set(err, INDIV_EFORMAT, "%s:%zu: malformed offers", path, line);
    json_array_foreach(arr, k, of) {
        by_ext key = {line_str(of, "offer"), 0}, *hit;
        if (!key.ext || !(hit = bsearch(&key, offers, n_cat, sizeof key, cmp_ext)))
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "%s:%zu: offer %s is not in the database's catalog",
                                   path, line, key.ext ? key.ext : "(missing)");
        L->offers[L->n_offers++] = hit->i;
        r->n++;
    }
    return INDIV_OK;
}

static int parse_action(const char *s, indiv_action *a) {
    for (int k = 0; k < 3; k++)
        if (s && strcmp(s, indiv_action_name((indiv_action)k)) == 0) {
            *a = (indiv_action)k;
            return 1;
        }
    return 0;
}

/* One decision line into a new record. */
static int take_line(logged *L, json_t *o, const by_ext *offers, size_t n_cat,
                     const char *path, size_t line, indiv_error *err) {
    const char *who = line_str(o, "consumer");
    json_t *pj = json_object_get(o, "propensity");
    rec r = {0};
    if (!who || !parse_action(line_str(o, "action"), &r.action))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s:%zu: consumer or action missing or malformed", path,
                               line);
    r.p0 = json_number_value(pj);
    if (!json_is_number(pj) || !(r.p0 > 0 && r.p0 <= 1))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s:%zu: no decision propensity in (0, 1] (decisions "
                               "logged before propensities were; decide again)",
                               path, line);
    int rc = line_run(L, o, path, line, err);
    if (rc == INDIV_OK)
        rc = line_offers(L, &r, o, offers, n_cat, path, line, err);
    size_t len = strlen(who) + 1;
    if (rc == INDIV_OK &&
        (grow((void **)&L->text, &L->text_cap, L->text_len + len, 1) < 0 ||
         grow((void **)&L->recs, &L->cap, L->n + 1, sizeof *L->recs) < 0))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc < 0)
        return rc;
    r.ext = L->text_len;
    memcpy(L->text + L->text_len, who, len);
    L->text_len += len;
    L->recs[L->n++] = r;
    return INDIV_OK;
}

static int sort_index(logged *L, const char *path, indiv_error *err) {
    if (!(L->index = malloc((L->n ? L->n : 1) * sizeof *L->index)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t i = 0; i < L->n; i++)
        L->index[i] = (by_ext){L->text + L->recs[i].ext, i};
    qsort(L->index, L->n, sizeof *L->index, cmp_ext);
    for (size_t i = 1; i < L->n; i++)
        if (strcmp(L->index[i - 1].ext, L->index[i].ext) == 0)
            return indiv_error_set(err, INDIV_EFORMAT, "%s: consumer %s is logged twice",
                                   path, L->index[i].ext);
    return INDIV_OK;
}

/* Reads every line of path (the index is built once all lines are in, since the text
 * pool moves while it grows). */
static int read_decisions(logged *L, const char *path, const indiv_catalog *cat,
                          indiv_error *err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot open", path);
    by_ext *offers = offer_index(cat);
    char *buf = NULL;
    size_t cap = 0, line = 0;
    ssize_t len;
    int rc = offers ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    while (rc == INDIV_OK && (len = getline(&buf, &cap, f)) > 0) {
        json_error_t je;
        line++;
        if (len == 1 && buf[0] == '\n')
            continue;
        json_t *o = json_loadb(buf, (size_t)len, 0, &je);
        rc = o ? take_line(L, o, offers, indiv_catalog_size(cat), path, line, err)
               : indiv_error_set(err, INDIV_EFORMAT, "%s:%zu: %s", path, line, je.text);
        json_decref(o);
    }
    if (rc == INDIV_OK && ferror(f))
        rc = indiv_error_set(err, INDIV_EIO, "%s: read error", path);
    if (rc == INDIV_OK && L->n == 0)
        rc = indiv_error_set(err, INDIV_EFORMAT, "%s: no decision in the file", path);
    fclose(f);
    free(buf);
    free(offers);
    return rc == INDIV_OK ? sort_index(L, path, err) : rc;
}

/* ---- outcomes ---------------------------------------------------------------------- */

static int contact_channel(int ch) {
    return ch == INDIV_CH_EMAIL || ch == INDIV_CH_SMS || ch == INDIV_CH_PUSH;
}

static int listed(const logged *L, const rec *r, size_t j) {
    for (int q = 0; q < r->n; q++)
        if (L->offers[r->off + q] == j)
            return 1;
    return 0;
}

/* The outcomes of record r (evaluated: its id is known), from its consumer's events
 * in (as_of, until]: one seek, and none for a decision without offers. */
static int outcome(indiv_eventlog *log, const indiv_catalog *cat, logged *L, rec *r,
                   int64_t until, indiv_event_cursor **cur, indiv_error *err) {
    indiv_event ev;
    int rc;
    r->r[INDIV_V_CONTACTS] = r->action == INDIV_CONTACT;
    if (r->n == 0)
        return INDIV_OK;
    if (*cur)
        indiv_event_cursor_rebind(*cur, r->id, L->as_of + 1, until + 1);
    else if ((rc = indiv_eventlog_scan_consumer(log, r->id, L->as_of + 1, until + 1, cur,
                                                err)) < 0)
        return rc;
    while ((rc = indiv_event_cursor_next(*cur, &ev, err)) > 0) {
        size_t j;
        if (ev.type != INDIV_EV_PURCHASE || !contact_channel(ev.channel) ||
            indiv_catalog_index(cat, ev.offer_id, &j) != INDIV_OK || !listed(L, r, j))
            continue;
        r->r[INDIV_V_CONVERSIONS] += 1;
        r->r[INDIV_V_REVENUE] += ev.value;
    }
    return rc < 0 ? rc : INDIV_OK;
}

static int outcomes(indiv_eventlog *log, const indiv_catalog *cat, logged *L,
                    int64_t until, indiv_error *err) {
    indiv_event_cursor *cur = NULL;
    int rc = INDIV_OK;
    for (size_t i = 0; rc == INDIV_OK && i < L->n; i++)
        rc = outcome(log, cat, L, &L->recs[i], until, &cur, err);
    indiv_event_cursor_free(cur);
    return rc;
}

/* ---- the target's evaluation ------------------------------------------------------- */

static const by_ext *find(const logged *L, const char *ext) {
    by_ext key = {ext, 0};
    return bsearch(&key, L->index, L->n, sizeof key, cmp_ext);
}

/* decide.h indiv_logged_fn: reads only. */
static int logged_action(void *ctx, const char *ext, indiv_action_key *k) {
    const logged *L = ctx;
    const by_ext *hit = find(L, ext);
    if (!hit)
        return 0;
    const rec *r = &L->recs[hit->i];
    memset(k, 0, sizeof *k);
    k->action = r->action;
    k->n = r->n;
    for (int q = 0; q < r->n; q++)
        k->offer[q] = L->offers[r->off + q];
    return 1;
}

static int on_target(void *ctx, const indiv_decision *d, const char *ext) {
    logged *L = ctx;
    const by_ext *hit = d->evaluated ? find(L, ext) : NULL;
    if (hit) {
        L->recs[hit->i].evaluated = 1;
        L->recs[hit->i].id = d->consumer_id;
        L->recs[hit->i].eval = d->eval;
    }
    return 0;
}

static int evaluate_target(indiv_eventlog *log, const indiv_model *m, logged *L,
                           const indiv_ope_params *p, indiv_error *err) {
    indiv_decide_opts o;
    indiv_decide_summary sum;
    indiv_decide_opts_init(&o);
    o.policy = p->target;
    o.policy.as_of = L->as_of;
    o.policy.seed = L->seed;
    o.threads = p->threads;
    o.on_decision = on_target;
    o.ctx = L;
    o.logged = logged_action;
    o.logged_ctx = L;
    int rc = indiv_decide_run(log, m, &o, NULL, NULL, &sum, err);
    for (size_t i = 0; rc == INDIV_OK && i < L->n; i++)
        if (!L->recs[i].evaluated)
            rc = indiv_error_set(err, INDIV_EINVAL,
                                 "consumer %s of the decisions is not in the database",
                                 L->text + L->recs[i].ext);
    return rc;
}

/* The estimator's samples from the evaluated records. */
static indiv_ope_sample *samples(const logged *L) {
    indiv_ope_sample *s = malloc(L->n * sizeof *s);
    for (size_t i = 0; s && i < L->n; i++) {
        const rec *r = &L->recs[i];
        s[i].w = r->eval.p / r->p0;
        s[i].unsupported = r->p0 >= 1 ? 1 - r->eval.p : 0;
        for (int v = 0; v < INDIV_V_COUNT; v++) {
            s[i].r[v] = r->r[v];
            s[i].dr[v] = r->eval.expected[v] + s[i].w * (r->r[v] - r->eval.reward_hat[v]);
        }
    }
    return s;
}

/* The first consumer with unsupported mass, for the refusal's message. */
static const char *unsupported_example(const logged *L, const indiv_ope_sample *s) {
    for (size_t i = 0; i < L->n; i++)
        if (s[i].unsupported > 0)
            return L->text + L->recs[i].ext;
    return "?";
}

static int check_support(const logged *L, const indiv_ope_sample *s,
                         const indiv_ope_result *r, double max, indiv_error *err) {
    if (r->unsupported <= max)
        return INDIV_OK;
    return indiv_error_set(
        err, INDIV_EINVAL,
        "no support: the target puts %.3g%% of its decisions on actions the logged run "
        "could not take (%lld consumers whose logged decision was certain, e.g. %s; the "
        "limit is %.3g%%). Log with a control group that explores them "
        "(--control-share C; --control none for a target that contacts fewer people, "
        "ungated for one that contacts more) or evaluate nearer settings",
        100 * r->unsupported, (long long)r->unsupported_n, unsupported_example(L, s),
        100 * max);
}

int indiv_ope_run(indiv_eventlog *log, const indiv_model *m, const char *path,
                  const indiv_ope_params *p, indiv_ope_result *out, indiv_error *err) {
    logged L;
    indiv_catalog *cat = NULL;
    indiv_ope_sample *s = NULL;
    memset(&L, 0, sizeof L);
    memset(out, 0, sizeof *out);
    int rc = indiv_policy_params_validate(&p->target, err);
    if (rc == INDIV_OK && !(p->max_unsupported >= 0 && p->max_unsupported <= 1))
        rc = indiv_error_set(err, INDIV_EINVAL, "max unsupported share must be in [0, 1]");
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, err);
    if (rc == INDIV_OK)
        rc = read_decisions(&L, path, cat, err);
    if (rc == INDIV_OK && strcmp(L.model, m->id) != 0)
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "%s: decided with model '%s', evaluated with '%s': give the "
                             "logged run's model (--model)",
                             path, L.model, m->id);
    if (rc == INDIV_OK && !(p->until > L.as_of))
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "until must be after the decisions' time (outcomes are read "
                             "in (as_of, until])");
    if (rc == INDIV_OK)
        rc = evaluate_target(log, m, &L, p, err);
    if (rc == INDIV_OK)
        rc = outcomes(log, cat, &L, p->until, err);
    if (rc == INDIV_OK && !(s = samples(&L)))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = indiv_ope_estimate(s, L.n, p->replicates, p->seed, p->threads, out, err);
    if (rc == INDIV_OK)
        rc = check_support(&L, s, out, p->max_unsupported, err);
    out->as_of = L.as_of;
    out->until = p->until;
    snprintf(out->model_id, sizeof out->model_id, "%s", L.model);
    free(s);
    logged_free(&L);
    indiv_catalog_free(cat);
    return rc;
}

/* ---- JSON -------------------------------------------------------------------------- */

static json_t *interval_json(const indiv_ope_interval *iv) {
    return json_pack("{s:f, s:f, s:f}", "value", iv->value, "ci95_low", iv->lo,
                     "ci95_high", iv->hi);
}

char *indiv_ope_result_json(const indiv_ope_result *r, const indiv_ope_params *p) {
    char a[INDIV_ISO_LEN], u[INDIV_ISO_LEN];
    json_t *values = json_object(), *target = json_object();
    for (int v = 0; v < INDIV_V_COUNT; v++)
        json_object_set_new(values, value_names[v],
                            json_pack("{s:f, s:o, s:o, s:o}", "logged", r->logged[v],
                                      "ips", interval_json(&r->ips[v]), "snips",
                                      interval_json(&r->snips[v]), "dr",
                                      interval_json(&r->dr[v])));
    indiv_policy_params_to_json(&p->target, target);
    json_t *root = json_pack(
        "{s:I, s:s, s:s, s:s, s:o, s:o, s:f, s:f, s:f, s:f, s:I, s:i, s:I, s:f}",
        "decisions", (json_int_t)r->n, "as_of", indiv_time_format(r->as_of, a), "until",
        indiv_time_format(r->until, u), "model", r->model_id, "target", target, "values",
        values, "effective_sample_size", r->ess, "mean_weight", r->mean_weight,
        "max_weight", r->max_weight, "unsupported_share", r->unsupported,
        "unsupported_decisions", (json_int_t)r->unsupported_n, "bootstrap_replicates",
        r->replicates, "bootstrap_seed", (json_int_t)r->seed, "max_unsupported",
        p->max_unsupported);
    char *txt = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS |
                                            JSON_REAL_PRECISION(6))
                     : NULL;
    json_decref(root);
    return txt;
}
