/*
 * worldfit.c — statistics of a purchase log (real or generated), the new-category
 * adoption lift, world parameters fitted to the statistics, and the fit report.
 *
 * One ordered scan of the events (by consumer, then time) reads each consumer's
 * purchases into a small buffer; per consumer it adds to the order, gap, basket, hour,
 * weekday, channel and popularity tallies and records the categories bought before and
 * after the split time. The lift is computed from those two sets at the end
 * (docs/worlds.md, "Adoption lift"). Memory: the catalogue, one consumer's purchases,
 * per consumer its order count and category sets, the gaps, and a categories x
 * categories co-occurrence table (hence the category bound).
 *
 * Invariants: nothing here draws random numbers; the result depends only on the
 * database content (same content, same statistics, to the last bit).
 */
#include "indiv/worldfit.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <stdio.h>

#include "indiv/timeutil.h"

#define DAY_S ((double)INDIV_SECONDS_PER_DAY)
/* Defaults of indiv_lift_opts. */
#define LIFT_SPLIT_DEFAULT 0.5
/* The co-occurrence table is categories^2 counts: bounded so that it stays < 2 GiB. */
#define LIFT_MAX_CATEGORIES 20000
/* 97.5 % quantile of the standard normal: two-sided 95 % intervals. */
#define Z975 1.959963984540054
/* Share of categories counted in top10_category_share. */
#define TOP_SHARE 0.10
/* Significant digits of reals in the JSON report. */
#define JSON_DIGITS 10

/* ---- growable arrays --------------------------------------------------------------- */

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

typedef struct ivec {
    int32_t *v;
    size_t n, cap;
} ivec;

static int grow(void **v, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * elem);
    if (!nv)
        return -1;
    *v = nv;
    *cap = c;
    return 0;
}

static int dpush(dvec *a, double x) {
    if (grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v) < 0)
        return -1;
    a->v[a->n++] = x;
    return 0;
}

static int ipush(ivec *a, int32_t x) {
    if (grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v) < 0)
        return -1;
    a->v[a->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted v (linear interpolation between order statistics). */
static double quantile(const double *v, size_t n, double q) {
    if (n == 0)
        return NAN;
    double h = q * (double)(n - 1);
    size_t i = (size_t)floor(h);
    return i + 1 < n ? v[i] + (h - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* ---- the catalogue ----------------------------------------------------------------- */

typedef struct offer_slot {
    int32_t cat; /* dense category index, -1 when no such offer */
    double price;
} offer_slot;

typedef struct catalogue {
    int64_t *cat_ids; /* dense index -> our category id */
    size_t ncat, cat_cap;
    offer_slot *offers; /* by our offer id */
    size_t noffer_slots;
    int32_t *cat_of_id; /* our category id -> dense index */
    size_t ncat_ids;
} catalogue;

static int add_category(void *ctx, int64_t id, const char *name) {
    (void)name;
    catalogue *k = ctx;
    if (grow((void **)&k->cat_ids, &k->cat_cap, k->ncat + 1, sizeof *k->cat_ids) < 0)
        return INDIV_ENOMEM;
    k->cat_ids[k->ncat++] = id;
    return 0;
}

static int add_offer(void *ctx, const indiv_offer_row *row) {
    catalogue *k = ctx;
    if (row->id < 0 || row->category_id < 0 || (size_t)row->category_id >= k->ncat_ids)
        return INDIV_EFORMAT;
    size_t need = (size_t)row->id + 1;
    if (need > k->noffer_slots) {
        size_t cap = k->noffer_slots ? k->noffer_slots : 256;
        while (cap < need)
            cap *= 2;
        offer_slot *o = realloc(k->offers, cap * sizeof *o);
        if (!o)
            return INDIV_ENOMEM;
        for (size_t i = k->noffer_slots; i < cap; i++)
            o[i] = (offer_slot){-1, 0};
        k->offers = o;
        k->noffer_slots = cap;
    }
    k->offers[row->id] = (offer_slot){k->cat_of_id[row->category_id], row->price};
    return 0;
}

static void catalogue_free(catalogue *k) {
    free(k->cat_ids);
    free(k->offers);
    free(k->cat_of_id);
}

static int catalogue_load(indiv_eventlog *log, catalogue *k, indiv_error *err) {
    int rc = indiv_eventlog_each_category(log, add_category, k, err);
    if (rc != 0)
        return rc < 0 ? rc : indiv_error_set(err, rc, "out of memory (categories)");
    int64_t max_id = 0;
    for (size_t c = 0; c < k->ncat; c++)
        max_id = k->cat_ids[c] > max_id ? k->cat_ids[c] : max_id;
    k->ncat_ids = (size_t)max_id + 1;
    if (!(k->cat_of_id = malloc(k->ncat_ids * sizeof *k->cat_of_id)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (categories)");
    for (size_t c = 0; c < k->ncat; c++)
        k->cat_of_id[k->cat_ids[c]] = (int32_t)c;
    rc = indiv_eventlog_each_offer(log, add_offer, k, err);
    if (rc != 0)
        return rc < 0 && err && err->code ? rc
                                          : indiv_error_set(err, INDIV_ENOMEM,
                                                            "out of memory or bad "
                                                            "category id (offers)");
    return INDIV_OK;
}

/* ---- the scan ---------------------------------------------------------------------- */

typedef struct line {
    int64_t ts;
    int32_t cat, offer;
    int channel;
    double quantity;
} line;

/* Everything accumulated over consumers. */
typedef struct tally {
    const catalogue *k;
    int64_t split_ts;
    line *buf;
    size_t nbuf, buf_cap;
    int64_t *cat_lines;   /* per category */
    int64_t *offer_lines; /* per offer slot */
    int32_t *stamp;       /* per category: last consumer (1-based) that marked it */
    int32_t nconsumer;
    dvec orders; /* per consumer with purchases */
    dvec gaps;   /* days, all consumers */
    double cv2_sum;
    int64_t cv2_n;
    int64_t norders, nlines, single_line_orders, distinct_sum, nviews;
    double quantity_sum;
    int64_t first_ts, last_ts;
    double hour[INDIV_HOURS], weekday[INDIV_WEEKDAYS], channel[INDIV_CH_MAX + 1];
    ivec pre, post;         /* category sets, concatenated */
    ivec pre_off, post_off; /* per consumer: start offsets (one more at the end) */
} tally;

static void tally_free(tally *t) {
    free(t->buf);
    free(t->cat_lines);
    free(t->offer_lines);
    free(t->stamp);
    free(t->orders.v);
    free(t->gaps.v);
    free(t->pre.v);
    free(t->post.v);
    free(t->pre_off.v);
    free(t->post_off.v);
}

static int tally_alloc(tally *t, const catalogue *k) {
    memset(t, 0, sizeof *t);
    t->k = k;
    t->first_ts = INT64_MAX;
    t->last_ts = INT64_MIN;
    t->cat_lines = calloc(k->ncat + 1, sizeof *t->cat_lines);
    t->offer_lines = calloc(k->noffer_slots + 1, sizeof *t->offer_lines);
    t->stamp = calloc(k->ncat + 1, sizeof *t->stamp);
    if (!t->cat_lines || !t->offer_lines || !t->stamp)
        return -1;
    return ipush(&t->pre_off, 0) < 0 || ipush(&t->post_off, 0) < 0 ? -1 : 0;
}

/* Orders of the buffered consumer: tallies per order and the gaps between orders. */
static int tally_orders(tally *t) {
    int64_t prev = INT64_MIN, norders = 0;
    double gsum = 0, gsq = 0;
    for (size_t i = 0; i < t->nbuf; i++) {
        const line *l = &t->buf[i];
        if (i > 0 && l->ts == t->buf[i - 1].ts)
            continue; /* a further line of the same order */
        size_t j = i + 1;
        while (j < t->nbuf && t->buf[j].ts == l->ts)
            j++;
        t->single_line_orders += j - i == 1;
        t->hour[indiv_time_hour(l->ts)]++;
        t->weekday[indiv_time_dow(l->ts)]++;
        t->channel[l->channel >= 0 && l->channel <= INDIV_CH_MAX ? l->channel : 0]++;
        if (prev != INT64_MIN) {
            double g = (double)(l->ts - prev) / DAY_S;
            gsum += g;
            gsq += g * g;
            if (dpush(&t->gaps, g) < 0)
                return -1;
        }
        prev = l->ts;
        norders++;
    }
    if (norders >= 3) { /* squared CV of this consumer's gaps */
        double m = gsum / (double)(norders - 1);
        double var = gsq / (double)(norders - 1) - m * m;
        if (m > 0) {
            t->cv2_sum += fmax(0, var) / (m * m);
            t->cv2_n++;
        }
    }
    t->norders += norders;
    return dpush(&t->orders, (double)norders);
}

/* Lines, categories and the before/after sets of the buffered consumer. */
static int tally_lines(tally *t) {
    int32_t me = ++t->nconsumer, mark_post = -me;
    int64_t distinct = 0;
    for (size_t i = 0; i < t->nbuf; i++) {
        const line *l = &t->buf[i];
        t->cat_lines[l->cat]++;
        t->offer_lines[l->offer]++;
        t->quantity_sum += l->quantity;
        if (l->ts < t->split_ts) {
            if (t->stamp[l->cat] != me) {
                distinct += t->stamp[l->cat] != mark_post;
                t->stamp[l->cat] = me;
                if (ipush(&t->pre, l->cat) < 0)
                    return -1;
            }
        } else if (t->stamp[l->cat] != me && t->stamp[l->cat] != mark_post) {
            distinct++;
            t->stamp[l->cat] = mark_post;
            if (ipush(&t->post, l->cat) < 0)
                return -1;
        }
    }
    t->distinct_sum += distinct;
    t->nlines += (int64_t)t->nbuf;
    return ipush(&t->pre_off, (int32_t)t->pre.n) < 0 ||
                   ipush(&t->post_off, (int32_t)t->post.n) < 0
               ? -1
               : 0;
}

static int flush_consumer(tally *t) {
    if (t->nbuf == 0)
        return 0;
    t->first_ts = t->buf[0].ts < t->first_ts ? t->buf[0].ts : t->first_ts;
    t->last_ts =
        t->buf[t->nbuf - 1].ts > t->last_ts ? t->buf[t->nbuf - 1].ts : t->last_ts;
    int rc = tally_orders(t) < 0 || tally_lines(t) < 0 ? -1 : 0;
    t->nbuf = 0;
    return rc;
}

static int buffer_line(tally *t, const indiv_event *ev) {
    const catalogue *k = t->k;
    if (ev->offer_id <= 0 || (size_t)ev->offer_id >= k->noffer_slots ||
        k->offers[ev->offer_id].cat < 0)
        return 0; /* a purchase of no known offer: not counted */
    if (grow((void **)&t->buf, &t->buf_cap, t->nbuf + 1, sizeof *t->buf) < 0)
        return -1;
    t->buf[t->nbuf++] = (line){ev->ts, k->offers[ev->offer_id].cat, (int32_t)ev->offer_id,
                               ev->channel, ev->quantity};
    return 0;
}

static int scan_purchases(indiv_eventlog *log, tally *t, indiv_error *err) {
    indiv_event_cursor *cur = NULL;
    int rc = indiv_eventlog_scan(log, INT64_MIN, INT64_MAX, &cur, err);
    if (rc < 0)
        return rc;
    indiv_event ev;
    int64_t who = INT64_MIN;
    while ((rc = indiv_event_cursor_next(cur, &ev, err)) == 1) {
        if (ev.consumer_id != who && flush_consumer(t) < 0)
            break;
        who = ev.consumer_id;
        t->nviews += ev.type == INDIV_EV_VIEW;
        if (ev.type == INDIV_EV_PURCHASE && buffer_line(t, &ev) < 0)
            break;
    }
    indiv_event_cursor_free(cur);
    if (rc == 1 || (rc == 0 && flush_consumer(t) < 0))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (purchases)");
    return rc;
}

/* ---- adoption lift ----------------------------------------------------------------- */

/* The lift compares observed adoptions with those expected from two main effects only:
 * each consumer's appetite for new categories and each category's draw among adopters,
 * E[u][c] = f[u] g[c], fitted to the margins (adoptions per consumer, per category) by
 * iterative proportional fitting (Deming & Stephan, "On a least squares adjustment of a
 * sampled frequency table when the expected marginal totals are known", Ann. Math.
 * Statist. 11, 1940). So the popularity of a category and the activity of a consumer
 * are held fixed exactly; what remains is whether the pairs that co-occur ("near")
 * are adopted more than the others ("far"). */
#define IPF_SWEEPS 60

typedef struct lift_ws {
    const tally *t;
    size_t ncat;
    int32_t *pair;   /* ncat x ncat: consumers with both categories before the split */
    int32_t *single; /* consumers with the category before the split */
    double *score;   /* per category, for the current consumer */
    double *sorted;  /* scratch: the current consumer's candidate scores */
    unsigned char *in_pre, *in_post;
    int64_t n; /* consumers with purchases before the split */
    /* the (consumer, new category) pairs, grouped by consumer */
    int32_t *pc;
    unsigned char *near, *adopted;
    size_t npairs, cap;
    ivec start; /* per kept consumer: first pair; one more at the end */
    double *f, *g;
} lift_ws;

static void lift_ws_free(lift_ws *w) {
    free(w->pair);
    free(w->single);
    free(w->score);
    free(w->sorted);
    free(w->in_pre);
    free(w->in_post);
    free(w->pc);
    free(w->near);
    free(w->adopted);
    free(w->start.v);
    free(w->f);
    free(w->g);
}

static int lift_ws_alloc(lift_ws *w, const tally *t, size_t ncat) {
    memset(w, 0, sizeof *w);
    w->t = t;
    w->ncat = ncat;
    w->pair = calloc(ncat * ncat + 1, sizeof *w->pair);
    w->single = calloc(ncat + 1, sizeof *w->single);
    w->score = calloc(ncat + 1, sizeof *w->score);
    w->sorted = calloc(ncat + 1, sizeof *w->sorted);
    w->in_pre = calloc(ncat + 1, 1);
    w->in_post = calloc(ncat + 1, 1);
    w->g = calloc(ncat + 1, sizeof *w->g);
    return w->pair && w->single && w->score && w->sorted && w->in_pre && w->in_post &&
                   w->g && ipush(&w->start, 0) == 0
               ? 0
               : -1;
}

/* Co-occurrence counts over the consumers' before-split category sets. */
static void lift_count(lift_ws *w) {
    const tally *t = w->t;
    for (int32_t u = 0; u < t->nconsumer; u++) {
        const int32_t *s = t->pre.v + t->pre_off.v[u];
        size_t m = (size_t)(t->pre_off.v[u + 1] - t->pre_off.v[u]);
        w->n += m > 0;
        for (size_t i = 0; i < m; i++) {
            w->single[s[i]]++;
            for (size_t j = 0; j < m; j++)
                w->pair[(size_t)s[i] * w->ncat + (size_t)s[j]] += i != j;
        }
    }
}

/* score[c] = mean over the consumer's categories a of P(c | a) among the other
 * consumers, divided by P(c) among them. Returns 0 when no category of the consumer has
 * another buyer (no score). */
static int lift_scores(lift_ws *w, const int32_t *s, size_t m) {
    size_t used = 0;
    for (size_t c = 0; c < w->ncat; c++)
        w->score[c] = 0;
    for (size_t i = 0; i < m; i++) {
        double others = w->single[s[i]] - 1; /* leave the consumer out */
        if (others <= 0)
            continue;
        used++;
        const int32_t *row = w->pair + (size_t)s[i] * w->ncat;
        for (size_t c = 0; c < w->ncat; c++)
            w->score[c] += row[c] / others;
    }
    if (used == 0 || w->n < 2)
        return 0;
    for (size_t c = 0; c < w->ncat; c++)
        w->score[c] = w->single[c] > 0 ? w->score[c] / (double)used /
                                             (w->single[c] / (double)(w->n - 1))
                                       : 0;
    return 1;
}

static void mark(unsigned char *flags, const int32_t *s, size_t m, unsigned char v) {
    for (size_t i = 0; i < m; i++)
        flags[s[i]] = v;
}

static int push_pair(lift_ws *w, int32_t c, int near, int adopted) {
    if (w->npairs == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4096;
        int32_t *pc = realloc(w->pc, cap * sizeof *pc);
        if (pc)
            w->pc = pc;
        unsigned char *nr = pc ? realloc(w->near, cap) : NULL;
        if (nr)
            w->near = nr;
        unsigned char *ad = nr ? realloc(w->adopted, cap) : NULL;
        if (!ad)
            return -1;
        w->adopted = ad;
        w->cap = cap;
    }
    w->pc[w->npairs] = c;
    w->near[w->npairs] = (unsigned char)near;
    w->adopted[w->npairs++] = (unsigned char)adopted;
    return 0;
}

/* Consumer u's pairs: every category bought before the split by someone else and not by
 * u; near when its score is above the median of u's candidates (so every consumer has
 * as many near as far pairs, up to ties). Returns 1 when u was kept. */
static int lift_consumer(lift_ws *w, int32_t u) {
    const tally *t = w->t;
    const int32_t *pre = t->pre.v + t->pre_off.v[u], *post = t->post.v + t->post_off.v[u];
    size_t npre = (size_t)(t->pre_off.v[u + 1] - t->pre_off.v[u]);
    size_t npost = (size_t)(t->post_off.v[u + 1] - t->post_off.v[u]);
    if (npre == 0 || npost == 0 || !lift_scores(w, pre, npre))
        return 0;
    mark(w->in_pre, pre, npre, 1);
    mark(w->in_post, post, npost, 1);
    size_t m = 0;
    for (size_t c = 0; c < w->ncat; c++)
        if (!w->in_pre[c] && w->single[c] > 0)
            w->sorted[m++] = w->score[c];
    int rc = m > 0;
    if (m > 0) {
        qsort(w->sorted, m, sizeof *w->sorted, cmp_double);
        double med = quantile(w->sorted, m, 0.5);
        for (size_t c = 0; c < w->ncat && rc > 0; c++)
            if (!w->in_pre[c] && w->single[c] > 0 &&
                push_pair(w, (int32_t)c, w->score[c] > med, w->in_post[c]) < 0)
                rc = -1;
    }
    mark(w->in_pre, pre, npre, 0);
    mark(w->in_post, post, npost, 0);
    return rc > 0 && ipush(&w->start, (int32_t)w->npairs) < 0 ? -1 : rc;
}

/* Iterative proportional fitting of f (per kept consumer) and g (per category) to the
 * adoption margins. */
static void lift_ipf(lift_ws *w, const double *a_cat, const double *a_con) {
    size_t nu = w->start.n - 1;
    double *den = w->score; /* reused: per-category denominators */
    for (size_t u = 0; u < nu; u++)
        w->f[u] = 1;
    for (int it = 0; it < IPF_SWEEPS; it++) {
        for (size_t c = 0; c < w->ncat; c++)
            den[c] = 0;
        for (size_t u = 0; u < nu; u++)
            for (int32_t i = w->start.v[u]; i < w->start.v[u + 1]; i++)
                den[w->pc[i]] += w->f[u];
        for (size_t c = 0; c < w->ncat; c++)
            w->g[c] = den[c] > 0 ? a_cat[c] / den[c] : 0;
        for (size_t u = 0; u < nu; u++) {
            double d = 0;
            for (int32_t i = w->start.v[u]; i < w->start.v[u + 1]; i++)
                d += w->g[w->pc[i]];
            w->f[u] = d > 0 ? a_con[u] / d : 0;
        }
    }
}

/* Observed over expected adoptions, near against far; the interval treats both
 * adoption counts as Poisson (var log ratio = 1/A_near + 1/A_far). */
static void lift_result(const lift_ws *w, indiv_lift *out) {
    double obs[2] = {0, 0}, exp_[2] = {0, 0};
    int64_t npairs[2] = {0, 0};
    size_t nu = w->start.n - 1;
    for (size_t u = 0; u < nu; u++)
        for (int32_t i = w->start.v[u]; i < w->start.v[u + 1]; i++) {
            int k = w->near[i];
            obs[k] += w->adopted[i];
            exp_[k] += w->f[u] * w->g[w->pc[i]];
            npairs[k]++;
        }
    out->consumers = (int64_t)nu;
    out->pairs = npairs[0] + npairs[1];
    out->pairs_near = npairs[1];
    out->adoptions = (int64_t)(obs[0] + obs[1]);
    out->rate_near = npairs[1] ? obs[1] / (double)npairs[1] : NAN;
    out->rate_far = npairs[0] ? obs[0] / (double)npairs[0] : NAN;
    out->lift = out->ci_lo = out->ci_hi = NAN;
    if (obs[0] <= 0 || obs[1] <= 0 || exp_[0] <= 0 || exp_[1] <= 0)
        return;
    out->lift = (obs[1] / exp_[1]) / (obs[0] / exp_[0]);
    double se = sqrt(1 / obs[0] + 1 / obs[1]);
    out->ci_lo = out->lift * exp(-Z975 * se);
    out->ci_hi = out->lift * exp(Z975 * se);
}

static int lift_fit(lift_ws *w, indiv_lift *out) {
    size_t nu = w->start.n - 1;
    double *a_cat = calloc(w->ncat + 1, sizeof *a_cat);
    double *a_con = calloc(nu + 1, sizeof *a_con);
    w->f = calloc(nu + 1, sizeof *w->f);
    if (!a_cat || !a_con || !w->f) {
        free(a_cat);
        free(a_con);
        return -1;
    }
    for (size_t u = 0; u < nu; u++)
        for (int32_t i = w->start.v[u]; i < w->start.v[u + 1]; i++) {
            a_cat[w->pc[i]] += w->adopted[i];
            a_con[u] += w->adopted[i];
        }
    lift_ipf(w, a_cat, a_con);
    lift_result(w, out);
    free(a_cat);
    free(a_con);
    return 0;
}

static int compute_lift(const tally *t, size_t ncat, indiv_lift *out, indiv_error *err) {
    out->split_ts = t->split_ts;
    if (ncat > LIFT_MAX_CATEGORIES)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%zu categories: the adoption lift handles at most %d",
                               ncat, LIFT_MAX_CATEGORIES);
    lift_ws w;
    int rc = lift_ws_alloc(&w, t, ncat);
    if (rc == 0) {
        lift_count(&w);
        for (int32_t u = 0; u < t->nconsumer && rc >= 0; u++)
            rc = lift_consumer(&w, u);
    }
    if (rc >= 0)
        rc = lift_fit(&w, out);
    lift_ws_free(&w);
    if (rc < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (adoption lift)");
    return INDIV_OK;
}

/* ---- summaries --------------------------------------------------------------------- */

/* Least-squares slope of y on x. */
static double slope(const double *x, const double *y, size_t n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    return sxx > 0 ? sxy / sxx : 0;
}

static int cmp_desc_double(const void *a, const void *b) {
    return cmp_double(b, a);
}

/* Category popularity: top shares and the Zipf exponent (slope of log lines on log
 * rank, categories with purchases). */
static int category_popularity(const tally *t, size_t ncat, indiv_log_stats *s) {
    double *cnt = malloc((ncat + 1) * sizeof *cnt), *x = malloc((ncat + 1) * sizeof *x);
    if (!cnt || !x) {
        free(cnt);
        free(x);
        return -1;
    }
    size_t m = 0;
    for (size_t c = 0; c < ncat; c++)
        if (t->cat_lines[c] > 0)
            cnt[m++] = (double)t->cat_lines[c];
    qsort(cnt, m, sizeof *cnt, cmp_desc_double);
    double top = 0;
    size_t ntop = (size_t)ceil(TOP_SHARE * (double)m);
    for (size_t i = 0; i < m; i++) {
        top += i < ntop ? cnt[i] : 0;
        x[i] = log((double)(i + 1));
        cnt[i] = log(cnt[i]);
    }
    s->categories = (int64_t)m;
    s->top_category_share = m ? exp(cnt[0]) / (double)t->nlines : NAN;
    s->top10_category_share = (double)top / (double)t->nlines;
    s->category_zipf = m > 1 ? -slope(x, cnt, m) : 0;
    free(cnt);
    free(x);
    return 0;
}

typedef struct offer_count {
    int32_t cat;
    double count, price;
} offer_count;

static int by_cat_count(const void *a, const void *b) {
    const offer_count *x = a, *y = b;
    if (x->cat != y->cat)
        return (x->cat > y->cat) - (x->cat < y->cat);
    return (x->count < y->count) - (x->count > y->count);
}

/* Within-category statistics of the bought offers: the pooled Zipf exponent (slope of
 * log lines on log rank, demeaned per category), and log prices split into the spread
 * of category means and the pooled spread around them. */
static void offer_walk(const offer_count *o, size_t m, indiv_log_stats *s) {
    double sxy = 0, sxx = 0, lp_all = 0, between = 0, within = 0;
    size_t ncat = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        double mx = 0, my = 0, mp = 0;
        for (; j < m && o[j].cat == o[i].cat; j++) {
            mx += log((double)(j - i + 1));
            my += log(o[j].count);
            mp += log(o[j].price);
        }
        double n = (double)(j - i);
        mx /= n, my /= n, mp /= n;
        for (size_t k = i; k < j; k++) {
            double dx = log((double)(k - i + 1)) - mx, dp = log(o[k].price) - mp;
            sxy += dx * (log(o[k].count) - my);
            sxx += dx * dx;
            within += dp * dp;
        }
        lp_all += mp;
        between += mp * mp;
        ncat++;
        i = j;
    }
    s->offer_zipf = sxx > 0 ? -sxy / sxx : 0;
    double mean = ncat ? lp_all / (double)ncat : 0;
    s->price_log_sd_between =
        ncat > 1 ? sqrt(fmax(0, between / (double)ncat - mean * mean)) : 0;
    s->price_log_sd_within = m > ncat ? sqrt(within / (double)(m - ncat)) : 0;
}

static int offer_stats(const tally *t, const catalogue *k, indiv_log_stats *s) {
    offer_count *o = malloc((k->noffer_slots + 1) * sizeof *o);
    double *prices = malloc((k->noffer_slots + 1) * sizeof *prices);
    if (!o || !prices) {
        free(o);
        free(prices);
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < k->noffer_slots; i++)
        if (t->offer_lines[i] > 0 && k->offers[i].price > 0) {
            o[m] = (offer_count){k->offers[i].cat, (double)t->offer_lines[i],
                                 k->offers[i].price};
            prices[m++] = k->offers[i].price;
        }
    for (size_t i = 0; i < k->noffer_slots; i++)
        s->offers += t->offer_lines[i] > 0;
    qsort(prices, m, sizeof *prices, cmp_double);
    s->price_median = quantile(prices, m, 0.5);
    qsort(o, m, sizeof *o, by_cat_count);
    offer_walk(o, m, s);
    free(o);
    free(prices);
    return 0;
}

/* Orders, gaps, baskets, moments and channels. */
static void order_stats(tally *t, indiv_log_stats *s) {
    double *ord = t->orders.v;
    size_t n = t->orders.n;
    qsort(ord, n, sizeof *ord, cmp_double);
    s->consumers = (int64_t)n;
    s->orders = t->norders;
    s->lines = t->nlines;
    s->first_ts = t->first_ts;
    s->last_ts = t->last_ts;
    s->days = (double)(t->last_ts - t->first_ts) / DAY_S;
    s->orders_mean = (double)t->norders / (double)n;
    s->orders_median = quantile(ord, n, 0.5);
    s->orders_p90 = quantile(ord, n, 0.9);
    size_t ones = 0;
    while (ones < n && ord[ones] <= 1)
        ones++;
    s->one_order_share = (double)ones / (double)n;
    qsort(t->gaps.v, t->gaps.n, sizeof *t->gaps.v, cmp_double);
    s->gap_median_days = quantile(t->gaps.v, t->gaps.n, 0.5);
    double gsum = 0;
    for (size_t i = 0; i < t->gaps.n; i++)
        gsum += t->gaps.v[i];
    s->gap_mean_days = t->gaps.n ? gsum / (double)t->gaps.n : NAN;
    s->gap_cv2 = t->cv2_n ? t->cv2_sum / (double)t->cv2_n : NAN;
    s->basket_mean = (double)t->nlines / (double)t->norders;
    s->single_line_share = (double)t->single_line_orders / (double)t->norders;
    s->quantity_mean = t->quantity_sum / (double)t->nlines;
    s->views_per_order = (double)t->nviews / (double)t->norders;
    s->categories_per_consumer = (double)t->distinct_sum / (double)n;
    for (int h = 0; h < INDIV_HOURS; h++)
        s->hour[h] = t->hour[h] / (double)t->norders;
    for (int d = 0; d < INDIV_WEEKDAYS; d++)
        s->weekday[d] = t->weekday[d] / (double)t->norders;
    for (int c = 0; c <= INDIV_CH_MAX; c++)
        s->channel[c] = t->channel[c] / (double)t->norders;
}

static double lift_split(const indiv_lift_opts *o) {
    return o && o->split > 0 && o->split < 1 ? o->split : LIFT_SPLIT_DEFAULT;
}

static int measure(indiv_eventlog *log, const indiv_lift_opts *opts, catalogue *k,
                   tally *t, indiv_log_stats *out, indiv_error *err) {
    indiv_eventlog_stats st;
    int rc = indiv_eventlog_stats_get(log, &st, err);
    if (rc < 0 || (rc = catalogue_load(log, k, err)) < 0)
        return rc;
    if (tally_alloc(t, k) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (statistics)");
    double split = lift_split(opts);
    if (st.first_ts != INDIV_TS_NONE)
        t->split_ts =
            st.first_ts + (int64_t)floor(split * (double)(st.last_ts - st.first_ts));
    if ((rc = scan_purchases(log, t, err)) < 0)
        return rc;
    if (t->orders.n < 2)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s: %zu consumers with purchases; statistics need at "
                               "least 2",
                               indiv_eventlog_path(log), t->orders.n);
    order_stats(t, out);
    if (category_popularity(t, k->ncat, out) < 0 || offer_stats(t, k, out) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (popularity)");
    return compute_lift(t, k->ncat, &out->lift, err);
}

int indiv_worldfit_measure(indiv_eventlog *log, const indiv_lift_opts *opts,
                           indiv_log_stats *out, indiv_error *err) {
    catalogue k = {0};
    tally t = {0};
    memset(out, 0, sizeof *out);
    int rc = measure(log, opts, &k, &t, out, err);
    tally_free(&t);
    catalogue_free(&k);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- the fit report ---------------------------------------------------------------- */

/* Total variation distance between two distributions of n cells. */
static double tv_distance(const double *a, const double *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += fabs(a[i] - b[i]);
    return d / 2;
}

/* Tolerances of the fit report (docs/worlds.md, "Worlds like a real log"): relative
 * ones are shares of the real value, absolute ones in the statistic's unit. NAN: shown,
 * not compared (it scales with the size asked for). */
enum row_kind {
    ROW_FIELD,
    ROW_CONSUMERS,
    ROW_CATEGORIES,
    ROW_HOUR,
    ROW_DOW,
    ROW_CHANNEL,
    ROW_LIFT
};

typedef struct row_spec {
    const char *name;
    enum row_kind kind;
    size_t off; /* ROW_FIELD: offset of a double in indiv_log_stats */
    double tol;
    int rel;
} row_spec;

#define S_(field)  ROW_FIELD, offsetof(indiv_log_stats, field)
#define SPECIAL(k) k, 0

static const row_spec rows_spec[] = {
    {"consumers with purchases", SPECIAL(ROW_CONSUMERS), NAN, 0},
    {"categories bought", SPECIAL(ROW_CATEGORIES), 0.10, 1},
    {"days of purchases", S_(days), 2.0, 0},
    /* shown, not compared: a one-exponent Zipf law fitted to every category (and to
     * the top 10 % share below) gives the real log's single top category about half
     * of its share, more or less with the draw (docs/worlds.md) */
    {"top category share of lines", S_(top_category_share), NAN, 1},
    {"top 10% categories share of lines", S_(top10_category_share), 0.08, 0},
    {"category Zipf exponent", S_(category_zipf), 0.25, 0},
    {"offer Zipf exponent (within category)", S_(offer_zipf), 0.30, 0},
    {"orders per consumer (mean)", S_(orders_mean), 0.20, 1},
    {"orders per consumer (median)", S_(orders_median), 1.0, 0},
    {"orders per consumer (90th percentile)", S_(orders_p90), 0.30, 1},
    {"consumers with one order (share)", S_(one_order_share), 0.08, 0},
    {"days between orders (median)", S_(gap_median_days), 0.30, 1},
    {"days between orders (mean)", S_(gap_mean_days), 0.20, 1},
    {"lines per order (mean)", S_(basket_mean), 0.15, 1},
    {"one-line orders (share)", S_(single_line_share), 0.08, 0},
    {"quantity per line (mean)", S_(quantity_mean), 0.15, 1},
    {"categories per consumer (mean)", S_(categories_per_consumer), 0.20, 1},
    {"median price of bought offers", S_(price_median), 0.25, 1},
    {"hour profile (total variation distance)", SPECIAL(ROW_HOUR), 0.15, 0},
    {"weekday profile (total variation distance)", SPECIAL(ROW_DOW), 0.20, 0},
    {"channel mix (total variation distance)", SPECIAL(ROW_CHANNEL), 0.05, 0},
    {"new-category adoption lift", SPECIAL(ROW_LIFT), 0.25, 0},
};
#undef S_
#undef SPECIAL

static double stat_at(const indiv_log_stats *s, size_t off) {
    return *(const double *)(const void *)((const char *)s + off);
}

static void special_row(const indiv_log_stats *r, const indiv_log_stats *g,
                        enum row_kind kind, indiv_fit_row *row) {
    switch (kind) {
    case ROW_CONSUMERS:
        row->real = (double)r->consumers, row->gen = (double)g->consumers;
        break;
    case ROW_CATEGORIES:
        row->real = (double)r->categories, row->gen = (double)g->categories;
        break;
    case ROW_HOUR: /* distances: the real side is 0 by definition */
        row->real = 0, row->gen = tv_distance(r->hour, g->hour, INDIV_HOURS);
        break;
    case ROW_DOW:
        row->real = 0, row->gen = tv_distance(r->weekday, g->weekday, INDIV_WEEKDAYS);
        break;
    case ROW_CHANNEL:
        row->real = 0, row->gen = tv_distance(r->channel, g->channel, INDIV_CH_MAX + 1);
        break;
    default:
        row->real = r->lift.lift, row->gen = g->lift.lift;
        break;
    }
}

size_t indiv_worldfit_compare(const indiv_log_stats *real, const indiv_log_stats *gen,
                              indiv_fit_row *rows) {
    size_t n = sizeof rows_spec / sizeof rows_spec[0];
    for (size_t i = 0; i < n; i++) {
        const row_spec *sp = &rows_spec[i];
        indiv_fit_row *row = &rows[i];
        row->name = sp->name;
        row->tolerance = sp->tol;
        row->rel = sp->rel;
        if (sp->kind != ROW_FIELD)
            special_row(real, gen, sp->kind, row);
        else
            row->real = stat_at(real, sp->off), row->gen = stat_at(gen, sp->off);
        double allowed = sp->rel ? sp->tol * fabs(row->real) : sp->tol;
        row->ok = isnan(sp->tol) ? 1 : fabs(row->gen - row->real) <= allowed;
    }
    return n;
}

static json_t *real_or_null(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *row_json(const indiv_fit_row *r) {
    json_t *o = json_object();
    if (o && (json_object_set_new(o, "statistic", json_string(r->name)) < 0 ||
              json_object_set_new(o, "real", real_or_null(r->real)) < 0 ||
              json_object_set_new(o, "generated", real_or_null(r->gen)) < 0 ||
              json_object_set_new(o, "tolerance", real_or_null(r->tolerance)) < 0 ||
              json_object_set_new(o, "relative", json_boolean(r->rel)) < 0 ||
              json_object_set_new(o, "ok", json_boolean(r->ok)) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *indiv_worldfit_report_json(const indiv_world_params *p, const indiv_fit_row *rows,
                                 size_t n) {
    char *ps = indiv_world_params_json(p);
    json_t *params = ps ? json_loads(ps, 0, NULL) : NULL;
    free(ps);
    json_t *arr = json_array(), *top = json_object();
    int bad = !params || !arr || !top;
    for (size_t i = 0; i < n && !bad; i++)
        bad = json_array_append_new(arr, row_json(&rows[i])) < 0;
    char *s = NULL;
    if (!bad && json_object_set_new(top, "params", params) == 0) {
        params = NULL;
        if (json_object_set_new(top, "rows", arr) == 0) {
            arr = NULL;
            s = json_dumps(top, JSON_SORT_KEYS | JSON_INDENT(2) |
                                    JSON_REAL_PRECISION(JSON_DIGITS));
        }
    }
    json_decref(params);
    json_decref(arr);
    json_decref(top);
    return s;
}

/* ---- fitting ------------------------------------------------------------------------ */

/* Bounds of the fitted values (within the parameter ranges of sim.c). */
#define FIT_SHAPE_MIN    0.5
#define FIT_SHAPE_MAX    20.0
#define FIT_LOCALITY_MAX 0.95
/* Initial taste count per category seen: the history shows only part of the tastes. */
#define FIT_TASTES_PER_SEEN 1.3
/* d ln(lift) / d rho near the calibrated default (docs/worlds.md): the locality step. */
#define FIT_LIFT_SLOPE 2.0
/* Fixed-point steps are damped (half the log gap) past the first round. */
#define FIT_DAMPING 0.5
/* Categories per taste group of a fitted world: groups small enough that "near" means
 * something among a few dozen tastes. */
#define FIT_GROUP_SIZE 10
/* interval_sigma of a fitted world, from the orders per consumer (fit_spread): its
 * bounds, the grid of the lognormal's quadrature, and the bisection steps. */
#define FIT_SIGMA_MIN    0.05
#define FIT_SIGMA_MAX    2.5
#define FIT_SIGMA_START  1.4 /* when the log cannot tell (no one-order share) */
#define FIT_QUAD_POINTS  201
#define FIT_QUAD_Z       6.0
#define FIT_BISECT_STEPS 50
/* Fixed-point steps of the basket fit, and the largest one-line share it sets (a log of
 * one-line orders only is fitted by basket_lines_mean = 1 instead). */
#define FIT_BASKET_STEPS    8
#define FIT_SINGLE_LINE_MAX 0.99

static double clamp(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* Circular mean hour and the spread (hours) of order hours around it. */
static void hour_moments(const double *share, double *mean, double *sd) {
    double cx = 0, sy = 0;
    for (int h = 0; h < INDIV_HOURS; h++) {
        double a = 2 * M_PI * (h + 0.5) / INDIV_HOURS;
        cx += share[h] * cos(a);
        sy += share[h] * sin(a);
    }
    double m = atan2(sy, cx) * INDIV_HOURS / (2 * M_PI) - 0.5;
    m = fmod(m + INDIV_HOURS, INDIV_HOURS);
    double v = 0;
    for (int h = 0; h < INDIV_HOURS; h++) {
        double d = fmod(h - m + 1.5 * INDIV_HOURS, INDIV_HOURS) - INDIV_HOURS / 2.0;
        v += share[h] * d * d;
    }
    *mean = m;
    *sd = sqrt(v);
}

/* Moments: preferred hours spread so that preferred-hour spread and personal spread add
 * up to the observed one; the quietest hour's share, spread over the day, is the share
 * of random hours; weekday weights are the weekday shares. */
static void fit_moments(const indiv_log_stats *s, indiv_world_params *p) {
    double mean, sd, low = 1;
    hour_moments(s->hour, &mean, &sd);
    for (int h = 0; h < INDIV_HOURS; h++)
        low = fmin(low, s->hour[h]);
    p->pref_hour_mean = clamp(round(mean * 100) / 100, 0, 24);
    p->hour_sd = clamp(fmin(p->hour_sd, sd / M_SQRT2), 0, 24);
    p->pref_hour_sd = clamp(sqrt(fmax(0, sd * sd - p->hour_sd * p->hour_sd)), 0, 24);
    p->p_random_hour = clamp(low * INDIV_HOURS, 0, 1);
    double *wd[INDIV_WEEKDAYS] = {&p->weekday_weight_mon, &p->weekday_weight_tue,
                                  &p->weekday_weight_wed, &p->weekday_weight_thu,
                                  &p->weekday_weight_fri, &p->weekday_weight_sat,
                                  &p->weekday_weight_sun};
    for (int d = 0; d < INDIV_WEEKDAYS; d++)
        *wd[d] = s->weekday[d];
}

static void fit_catalogue(const indiv_log_stats *s, indiv_world_params *p) {
    p->categories = (int64_t)clamp((double)s->categories, 2, 1e5);
    p->offers = (int64_t)clamp(
        (double)(s->offers > p->categories ? s->offers : p->categories), 2, 1e7);
    p->category_zipf = clamp(s->category_zipf, 0, 10);
    p->offer_zipf = clamp(s->offer_zipf, 0, 10);
    if (s->price_median > 0)
        p->price_median = s->price_median;
    p->category_price_sigma = clamp(s->price_log_sd_between, 0, 5);
    p->price_sigma = clamp(s->price_log_sd_within, 0, 5);
    p->p_limited_validity = 0; /* a log does not tell validity windows */
}

/* Lines per order: a share p of one-line orders, the others 1 + Poisson(m - 1), with
 * p + (1 - p) e^-(m-1) = the real one-line share and p + (1 - p) m = the real mean
 * (solved by a few fixed-point steps: e^-(m-1) is tiny unless baskets are small). */
static void fit_basket(const indiv_log_stats *s, indiv_world_params *p) {
    double mean = clamp(s->basket_mean, 1, 1000), single = 0, m = mean;
    double target = isfinite(s->single_line_share) ? s->single_line_share : 0;
    for (int i = 0; i < FIT_BASKET_STEPS && mean > 1; i++) {
        double e = exp(-(m - 1));
        single = e < 1 ? clamp((target - e) / (1 - e), 0, FIT_SINGLE_LINE_MAX) : 0;
        m = clamp((mean - single) / (1 - single), 1, 1000);
    }
    p->basket_lines_mean = m;
    p->p_single_line = single;
}

/* Over consumers whose mean interval is max(floor, Lognormal(ln_m, sigma)) and whose
 * orders in `days` are Poisson(days / interval) (the renewal count's mean; exact for
 * memoryless intervals): the mean orders of those with at least one (*mean) and the
 * share of them with exactly one (*one). The Poisson-lognormal mixture (M. G. Bulmer,
 * "On fitting the Poisson lognormal distribution to species-abundance data",
 * Biometrics 30, 1974), by quadrature over the normal on [-FIT_QUAD_Z, FIT_QUAD_Z]. */
static void poisson_lognormal(double ln_m, double sigma, double days, double floor_days,
                              double *mean, double *one) {
    double w_sum = 0, p0 = 0, p1 = 0, en = 0;
    for (int i = 0; i < FIT_QUAD_POINTS; i++) {
        double z = FIT_QUAD_Z * (2.0 * i / (FIT_QUAD_POINTS - 1) - 1), w = exp(-z * z / 2);
        double lambda = days / fmax(floor_days, exp(ln_m + sigma * z));
        w_sum += w;
        p0 += w * exp(-lambda);
        p1 += w * lambda * exp(-lambda);
        en += w * lambda;
    }
    double buyers = fmax(w_sum - p0, 1e-300);
    *mean = en / buyers;
    *one = p1 / buyers;
}

/* The log median interval at which buyers of that mixture have `orders` orders on
 * average (more orders with shorter intervals: bisection on ln m). */
static double median_for_orders(double sigma, double days, double floor_days,
                                double orders) {
    double lo = log(0.01), hi = log(36500.0 * 100), mean, one;
    for (int i = 0; i < FIT_BISECT_STEPS; i++) {
        double mid = (lo + hi) / 2;
        poisson_lognormal(mid, sigma, days, floor_days, &mean, &one);
        if (mean > orders)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* interval_sigma: with the median interval set so that the mixture gives the log's mean
 * orders per buyer, the share of one-order buyers rises with sigma (more consumers so
 * rare that they are seen once); bisection on sigma for the log's share. On the shipped
 * sample (2.00 orders, 60.6 % with one) it gives 1.4. The median interval of the
 * mixture is the pilots' starting point (the renewal's regularity and the moments move
 * the counts a little, which they correct). */
static void fit_spread(const indiv_log_stats *s, indiv_world_params *p) {
    double lo = FIT_SIGMA_MIN, hi = FIT_SIGMA_MAX, mean, one;
    if (!(s->one_order_share > 0 && s->one_order_share < 1 && s->orders_mean > 1 &&
          s->days > 0)) {
        p->interval_sigma = FIT_SIGMA_START;
        return;
    }
    for (int i = 0; i < FIT_BISECT_STEPS; i++) {
        double mid = (lo + hi) / 2;
        double ln_m = median_for_orders(mid, s->days, p->interval_min_days, s->orders_mean);
        poisson_lognormal(ln_m, mid, s->days, p->interval_min_days, &mean, &one);
        if (one < s->one_order_share)
            lo = mid;
        else
            hi = mid;
    }
    p->interval_sigma = (lo + hi) / 2;
    p->interval_median_days = clamp(
        exp(median_for_orders(p->interval_sigma, s->days, p->interval_min_days,
                              s->orders_mean)),
        0.01, 36500);
}

static void fit_rhythm(const indiv_log_stats *s, indiv_world_params *p) {
    double k = isfinite(s->gap_cv2) && s->gap_cv2 > 0 ? 1 / s->gap_cv2 : 1;
    p->interval_shape_min = p->interval_shape_max =
        clamp(k, FIT_SHAPE_MIN, FIT_SHAPE_MAX);
    double gap =
        isfinite(s->gap_mean_days) && s->gap_mean_days > 0 ? s->gap_mean_days : p->days;
    p->interval_median_days = clamp(gap, 0.01, 36500);
    p->interval_min_days = fmin(p->interval_min_days, p->interval_median_days);
    fit_spread(s, p);
    p->interval_min_days = fmin(p->interval_min_days, p->interval_median_days);
    p->quantity_mean = clamp(s->quantity_mean, 1, 1000);
    fit_basket(s, p);
    p->views_per_purchase = clamp(s->views_per_order, 0, 100);
    p->browse_views_per_week = 0; /* views of a log are all counted before orders */
    p->known_tastes_mean = clamp(FIT_TASTES_PER_SEEN * s->categories_per_consumer, 1,
                                 (double)p->categories - 1);
}

int indiv_worldfit_params(const indiv_log_stats *s, indiv_world_params *p,
                          indiv_error *err) {
    indiv_world_params_init(p);
    if (s->consumers < 2 || s->orders < 1)
        return indiv_error_set(err, INDIV_EINVAL,
                               "statistics of %lld consumers: nothing to fit",
                               (long long)s->consumers);
    p->consumers = s->consumers;
    p->days = (int64_t)clamp(ceil(s->days), 1, 36500);
    p->start_ts = (int64_t)floor((double)s->first_ts / DAY_S) * INDIV_SECONDS_PER_DAY;
    fit_catalogue(s, p);
    fit_rhythm(s, p);
    fit_moments(s, p);
    p->taste_groups =
        (int64_t)clamp(round((double)p->categories / FIT_GROUP_SIZE), 1, 1e5);
    if (isfinite(s->lift.lift))
        p->taste_locality =
            clamp(log(fmax(s->lift.lift, 1)) / FIT_LIFT_SLOPE, 0, FIT_LOCALITY_MAX);
    return indiv_world_params_validate(p, err);
}

/* One pilot: generate p at scratch, measure it. */
static int pilot(const indiv_world_params *p, const char *scratch, indiv_log_stats *g,
                 indiv_error *err) {
    remove(scratch);
    indiv_eventlog *log = NULL;
    int rc = indiv_eventlog_open(scratch, INDIV_EVENTLOG_CREATE | INDIV_EVENTLOG_SCRATCH,
                                 &log, err);
    if (rc == INDIV_OK)
        rc = indiv_world_generate(log, p, NULL, NULL, NULL, err);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_measure(log, NULL, g, err);
    indiv_eventlog_close(log);
    remove(scratch);
    return rc;
}

/* x * (target / got)^power, guarded against zero and undefined values. */
static double step(double x, double target, double got, double power) {
    if (!(target > 0) || !(got > 0) || !isfinite(target) || !isfinite(got))
        return x;
    return x * pow(target / got, power);
}

static void adjust(const indiv_log_stats *r, const indiv_log_stats *g,
                   indiv_world_params *p, unsigned fixed, double damp) {
    if (!(fixed & INDIV_FIT_FIX_CONSUMERS))
        p->consumers =
            (int64_t)clamp(round(step((double)p->consumers, (double)r->consumers,
                                      (double)g->consumers, 1)),
                           1, 1e8);
    if (!(fixed & INDIV_FIT_FIX_INTERVAL)) /* more orders than real: longer intervals */
        p->interval_median_days =
            clamp(step(p->interval_median_days, g->orders_mean, r->orders_mean, damp),
                  0.01, 36500);
    if (!(fixed & INDIV_FIT_FIX_TASTES))
        p->known_tastes_mean =
            clamp(step(p->known_tastes_mean, r->categories_per_consumer,
                       g->categories_per_consumer, damp),
                  1, (double)p->categories - 1);
    if (!(fixed & INDIV_FIT_FIX_LOCALITY) && isfinite(r->lift.lift) &&
        isfinite(g->lift.lift) && r->lift.lift > 0 && g->lift.lift > 0)
        p->taste_locality =
            clamp(p->taste_locality +
                      damp * (log(r->lift.lift) - log(g->lift.lift)) / FIT_LIFT_SLOPE,
                  0, FIT_LOCALITY_MAX);
    if (!(fixed & INDIV_FIT_FIX_POPULARITY)) {
        p->category_zipf =
            clamp(p->category_zipf + damp * (r->category_zipf - g->category_zipf), 0, 10);
        p->offer_zipf =
            clamp(p->offer_zipf + damp * (r->offer_zipf - g->offer_zipf), 0, 10);
        p->price_median = step(p->price_median, r->price_median, g->price_median, damp);
    }
    p->interval_min_days = fmin(p->interval_min_days, p->interval_median_days);
}

int indiv_worldfit_calibrate(const indiv_log_stats *real, indiv_world_params *p,
                             unsigned fixed, int rounds, const char *scratch_path,
                             indiv_progress_fn progress, void *ctx, indiv_error *err) {
    indiv_world_params q = *p;
    for (int i = 0; i < rounds; i++) {
        indiv_log_stats g;
        int rc = pilot(&q, scratch_path, &g, err);
        if (rc < 0)
            return rc;
        adjust(real, &g, &q, fixed, i == 0 ? 1.0 : FIT_DAMPING);
        if ((rc = indiv_world_params_validate(&q, err)) < 0)
            return rc;
        if (progress)
            progress(ctx, "pilot", i + 1, rounds);
    }
    *p = q;
    return INDIV_OK;
}

int indiv_worldfit_like(const char *real_path, int pilots, const char *scratch_path,
                        indiv_world_params *p, indiv_log_stats *real, indiv_error *err) {
    indiv_log_stats local, *s = real ? real : &local;
    indiv_eventlog *log = NULL;
    int rc = indiv_eventlog_open(real_path, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_measure(log, NULL, s, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_params(s, p, err);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_calibrate(s, p, 0, pilots, scratch_path, NULL, NULL, err);
    return rc;
}
