/*
 * profile.c — the profile builder: one ordered pass per consumer, stored as a vector.
 *
 * Building: an accumulator (struct acc) takes one consumer's events in time order and
 * produces an indiv_profile; full builds feed it from one consent-filtered scan of the
 * whole events table, incremental builds from one b-tree seek per stale consumer. Both
 * use the same accumulator, so a consumer rebuilt incrementally is bit-identical to the
 * same consumer in a full build.
 *
 * Stored vector (version 1): little-endian doubles, [features mask, dims] then each
 * enabled group in the order taste, rhythm, moments, channels, pressure, openness;
 * disabled groups take no bytes (data minimisation shows in the bytes stored).
 */
#include "indiv/profile.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <jansson.h>

#include "indiv/eventlog.h"
#include "indiv/timeutil.h"

#define DAY ((double)INDIV_SECONDS_PER_DAY)

/* Defaults (docs/profiles.md). */
#define DEF_HALF_LIFE_DAYS 90.0
#define DEF_MOMENT_ALPHA   1.0
/* Beta(1, 9): a prior reaction rate of 10% worth 10 contacts. */
#define DEF_CHANNEL_A         1.0
#define DEF_CHANNEL_B         9.0
#define DEF_OPENNESS_A        1.0 /* Beta(1, 4): prior openness 20% worth 5 purchases */
#define DEF_OPENNESS_B        4.0
#define DEF_PRESSURE_DAYS     14.0
#define DEF_RHYTHM_STRENGTH   2.0 /* the population counts as 2 observed intervals */
#define DEF_READINESS_HORIZON 7.0
/* Population prior when no consumer has an interval yet: 30-day mean, exponential. */
#define FALLBACK_PRIOR_MEAN_DAYS 30.0
#define FALLBACK_PRIOR_CV2       1.0

/* The largest feature dimension (or category count) a stored vector may claim: far above
 * any catalogue or embedding, it bounds what a corrupt blob can make decode allocate. */
#define MAX_STORED_DIMS (1 << 20)

#define RHYTHM_SLOTS  7
#define MOMENT_SLOTS  32
#define CHANNEL_SLOTS (3 * INDIV_CONTACT_CHANNELS + INDIV_CH_MAX + 1)
#define PRESSURE_HEAD 2 /* then 3 values per stored contact */
#define OPENNESS_HEAD 4 /* then one value per category bought */
#define HISTORY_HEAD  1 /* then HISTORY_VALUES per offer kept */
#define HISTORY_VALUES 6
/* Offers kept per person: a regular customer of a gift shop re-buys a few dozen
 * offers; 64 keeps them (the mean of the known customers of the shipped sample is 31
 * distinct offers) while bounding the vector at 385 values. */
#define DEF_HISTORY_MAX 64
#define MAX_HISTORY     4096

static const char *const group_names[] = {"taste",    "rhythm",   "moments", "channels",
                                          "pressure", "openness", "history"};
#define NGROUPS 7

/* ---- parameters ------------------------------------------------------------------ */

void indiv_profile_params_init(indiv_profile_params *p) {
    memset(p, 0, sizeof *p);
    p->as_of = INT64_MAX;
    p->half_life_days = DEF_HALF_LIFE_DAYS;
    p->window_days = 0;
    p->features = INDIV_FEAT_ALL;
    /* purchase > click > open = view > 0; returns and dismissals count against. */
    p->type_weight[INDIV_EV_VIEW] = 0.1;
    p->type_weight[INDIV_EV_PURCHASE] = 1.0;
    p->type_weight[INDIV_EV_RETURN] = -1.0;
    p->type_weight[INDIV_EV_OPEN] = 0.1;
    p->type_weight[INDIV_EV_CLICK] = 0.5;
    p->type_weight[INDIV_EV_DISMISS] = -0.5;
    p->moment_alpha = DEF_MOMENT_ALPHA;
    p->channel_prior_a = DEF_CHANNEL_A;
    p->channel_prior_b = DEF_CHANNEL_B;
    p->openness_prior_a = DEF_OPENNESS_A;
    p->openness_prior_b = DEF_OPENNESS_B;
    p->pressure_days = DEF_PRESSURE_DAYS;
    p->rhythm_prior_strength = DEF_RHYTHM_STRENGTH;
    p->readiness_horizon_days = DEF_READINESS_HORIZON;
    p->history_max = DEF_HISTORY_MAX;
}

static int positive(double v) {
    return isfinite(v) && v > 0;
}

int indiv_profile_params_validate(const indiv_profile_params *p, indiv_error *err) {
    struct {
        const char *name;
        double v;
        int ok;
    } checks[] = {
        {"half-life", p->half_life_days, positive(p->half_life_days)},
        {"window", p->window_days, isfinite(p->window_days) && p->window_days >= 0},
        {"moment_alpha", p->moment_alpha, positive(p->moment_alpha)},
        {"channel_prior_a", p->channel_prior_a, positive(p->channel_prior_a)},
        {"channel_prior_b", p->channel_prior_b, positive(p->channel_prior_b)},
        {"openness_prior_a", p->openness_prior_a, positive(p->openness_prior_a)},
        {"openness_prior_b", p->openness_prior_b, positive(p->openness_prior_b)},
        {"pressure_days", p->pressure_days, positive(p->pressure_days)},
        {"rhythm_prior_strength", p->rhythm_prior_strength,
         positive(p->rhythm_prior_strength)},
        {"readiness_horizon_days", p->readiness_horizon_days,
         positive(p->readiness_horizon_days)},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (!checks[i].ok)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "profile parameter %s = %g is invalid", checks[i].name,
                                   checks[i].v);
    for (int t = 0; t <= INDIV_EV_MAX; t++)
        if (!isfinite(p->type_weight[t]))
            return indiv_error_set(err, INDIV_EINVAL, "type weight of %s is not finite",
                                   t ? indiv_event_type_name(t) : "none");
    if (p->history_max < 1 || p->history_max > MAX_HISTORY)
        return indiv_error_set(err, INDIV_EINVAL,
                               "profile parameter history_max = %d is not in [1, %d]",
                               p->history_max, MAX_HISTORY);
    if (p->features & ~(unsigned)INDIV_FEAT_ALL)
        return indiv_error_set(err, INDIV_EINVAL, "unknown feature bits 0x%x",
                               p->features);
    return INDIV_OK;
}

static int group_bit(const char *name, size_t len) {
    for (int g = 0; g < NGROUPS; g++)
        if (strlen(group_names[g]) == len && strncmp(group_names[g], name, len) == 0)
            return 1 << g;
    return 0;
}

/* One token of a feature list: "all", "none" or a group name. 0 when unknown. */
static int token_mask(const char *name, size_t len, unsigned *bits) {
    if (len == 3 && strncmp(name, "all", 3) == 0)
        *bits = INDIV_FEAT_ALL;
    else if (len == 4 && strncmp(name, "none", 4) == 0)
        *bits = 0;
    else if (!(*bits = (unsigned)group_bit(name, len)))
        return 0;
    return 1;
}

int indiv_profile_features_parse(const char *list, unsigned *mask, indiv_error *err) {
    unsigned m = list[0] == '-' ? INDIV_FEAT_ALL : 0, bits;
    if (!*list) /* an unset shell variable must not silently mean "none" */
        return indiv_error_set(
            err, INDIV_EINVAL,
            "empty feature list (use 'none' to switch every group off)");
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        int neg = *p == '-';
        if (!token_mask(p + neg, len - (size_t)neg, &bits))
            return indiv_error_set(
                err, INDIV_EINVAL,
                "unknown feature group '%.*s' (known: all, none, taste, "
                "rhythm, moments, channels, pressure, openness, history)",
                (int)(len - (size_t)neg), p + neg);
        if (!neg && bits == 0)
            m = 0; /* "none" */
        else
            m = neg ? (m & ~bits) : (m | bits);
        p += len + (p[len] == ',');
    }
    *mask = m;
    return INDIV_OK;
}

void indiv_profile_features_format(unsigned mask, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int g = 0; g < NGROUPS && n < cap; g++)
        if (mask & (1u << g))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", group_names[g]);
    if (!mask)
        snprintf(buf, cap, "none");
}

/* ---- the accumulator --------------------------------------------------------------- */

/* Per-consumer state of the pass. Category stamps avoid clearing an array of C entries
 * per consumer: a category was bought by the current consumer iff stamp == gen. */
struct acc {
    const indiv_profile_params *p;
    const indiv_catalog *cat;
    indiv_profile pr;
    int64_t last_order_ts; /* previous distinct purchase time */
    double iv_mean, iv_m2; /* Welford running moments of intervals (days) */
    double hour_n[24], dow_n[7];
    uint64_t gen, *stamp; /* category stamps (ncat) */
    int64_t *first_ts;    /* first purchase ts per category (valid iff stamped) */
    int one_hot;          /* F is the one-hot category matrix (see is_one_hot) */
};

/* 1 when every row of F is the one-hot vector of its offer's category (the default
 * features): taste then adds to one dimension per event instead of d. Checked once per
 * build (n × d), not assumed from the feature source's name. */
static int is_one_hot(const indiv_catalog *cat) {
    size_t d = indiv_catalog_dims(cat);
    for (size_t i = 0; i < indiv_catalog_size(cat); i++) {
        const double *f = indiv_catalog_features(cat, i);
        size_t c = indiv_catalog_offer(cat, i)->category;
        if (c >= d)
            return 0;
        for (size_t j = 0; j < d; j++)
            if (f[j] != (j == c ? 1.0 : 0.0))
                return 0;
    }
    return 1;
}

static int acc_init(struct acc *a, const indiv_catalog *cat,
                    const indiv_profile_params *p) {
    memset(a, 0, sizeof *a);
    a->p = p;
    a->cat = cat;
    a->one_hot = is_one_hot(cat);
    size_t ncat = indiv_catalog_categories(cat) + 1;
    a->stamp = calloc(ncat, sizeof *a->stamp);
    a->first_ts = calloc(ncat, sizeof *a->first_ts);
    indiv_profile_init(&a->pr);
    size_t d = indiv_catalog_dims(cat);
    a->pr.taste = calloc(d ? d : 1, sizeof *a->pr.taste);
    a->pr.taste_cap = d;
    /* A consumer buys at most every category once: no growth during the pass. */
    a->pr.bought = calloc(ncat, sizeof *a->pr.bought);
    a->pr.bought_cap = ncat;
    /* at most history_max offers: no growth during the pass */
    a->pr.history = calloc((size_t)p->history_max, sizeof *a->pr.history);
    a->pr.history_cap = (size_t)p->history_max;
    return (a->stamp && a->first_ts && a->pr.taste && a->pr.bought && a->pr.history)
               ? INDIV_OK
               : INDIV_ENOMEM;
}

static void acc_free(struct acc *a) {
    free(a->stamp);
    free(a->first_ts);
    indiv_profile_clear(&a->pr);
}

static void acc_reset(struct acc *a, int64_t consumer_id) {
    double *taste = a->pr.taste;
    int32_t *bought = a->pr.bought;
    indiv_offer_history *hist = a->pr.history;
    size_t cap = a->pr.taste_cap, bcap = a->pr.bought_cap, d = indiv_catalog_dims(a->cat);
    size_t hcap = a->pr.history_cap;
    memset(&a->pr, 0, sizeof a->pr);
    memset(taste, 0, d * sizeof *taste);
    a->pr.taste = taste;
    a->pr.taste_cap = cap;
    a->pr.bought = bought;
    a->pr.bought_cap = bcap;
    a->pr.history = hist;
    a->pr.history_cap = hcap;
    a->pr.dims = d;
    a->pr.consumer_id = consumer_id;
    a->pr.as_of = a->p->as_of;
    a->pr.features = a->p->features;
    a->pr.first_purchase_ts = a->pr.last_purchase_ts = INDIV_TS_NONE;
    a->last_order_ts = INDIV_TS_NONE;
    a->iv_mean = a->iv_m2 = 0;
    memset(a->hour_n, 0, sizeof a->hour_n);
    memset(a->dow_n, 0, sizeof a->dow_n);
    a->gen++;
}

static void add_taste(struct acc *a, const indiv_event *ev) {
    double w = a->p->type_weight[ev->type];
    size_t i;
    if (w == 0 || indiv_catalog_index(a->cat, ev->offer_id, &i) < 0)
        return;
    /* Exponential decay with half-life h: an event h days old weighs half. */
    double age_days = (double)(a->p->as_of - ev->ts) / DAY;
    double k = w * exp2(-age_days / a->p->half_life_days);
    if (a->one_hot) { /* the row's one 1: same sums as the loop, without d - 1 zeros */
        a->pr.taste[indiv_catalog_offer(a->cat, i)->category] += k;
        return;
    }
    const double *f = indiv_catalog_features(a->cat, i);
    for (size_t j = 0; j < a->pr.dims; j++)
        a->pr.taste[j] += k * f[j];
}

/* Orders are distinct purchase times; intervals use Welford's update (Welford 1962). */
static void add_rhythm(struct acc *a, const indiv_event *ev) {
    indiv_profile *pr = &a->pr;
    if (ev->type == INDIV_EV_RETURN) {
        pr->monetary -= ev->value;
        return;
    }
    if (ev->type != INDIV_EV_PURCHASE)
        return;
    pr->monetary += ev->value;
    if (ev->ts == a->last_order_ts)
        return; /* another line of the same order */
    if (a->last_order_ts != INDIV_TS_NONE) {
        double x = (double)(ev->ts - a->last_order_ts) / DAY;
        double n = ++pr->n_intervals, delta = x - a->iv_mean;
        a->iv_mean += delta / n;
        a->iv_m2 += delta * (x - a->iv_mean);
    } else {
        pr->first_purchase_ts = ev->ts;
    }
    pr->orders++;
    pr->last_purchase_ts = a->last_order_ts = ev->ts;
}

static int is_activity(int type) {
    return type == INDIV_EV_VIEW || type == INDIV_EV_PURCHASE || type == INDIV_EV_OPEN ||
           type == INDIV_EV_CLICK;
}

static void add_moment(struct acc *a, const indiv_event *ev) {
    if (!is_activity(ev->type))
        return;
    a->hour_n[indiv_time_hour(ev->ts)]++;
    a->dow_n[indiv_time_dow(ev->ts)]++;
    a->pr.activity++;
}

/* Keeps the last INDIV_PRESSURE_SLOTS contacts, oldest first. */
static void push_contact(indiv_profile *pr, int64_t ts, int channel) {
    if (pr->n_slots == INDIV_PRESSURE_SLOTS) {
        memmove(pr->contact_ts, pr->contact_ts + 1,
                (INDIV_PRESSURE_SLOTS - 1) * sizeof(int64_t));
        memmove(pr->contact_channel, pr->contact_channel + 1,
                (INDIV_PRESSURE_SLOTS - 1) * sizeof(int));
        memmove(pr->answered, pr->answered + 1, (INDIV_PRESSURE_SLOTS - 1) * sizeof(int));
        pr->n_slots--;
    }
    pr->contact_ts[pr->n_slots] = ts;
    pr->contact_channel[pr->n_slots] = channel;
    pr->answered[pr->n_slots++] = 0;
}

/* A contact is answered by an open or click on its channel before the next contact on
 * that channel; one reaction per contact, however many opens and clicks follow. */
static void add_contact_or_reaction(struct acc *a, const indiv_event *ev) {
    indiv_profile *pr = &a->pr;
    int ch = ev->channel;
    if (ev->type == INDIV_EV_CONTACT) {
        pr->contacts_total++;
        push_contact(pr, ev->ts, ch);
        if (ch >= 1 && ch <= INDIV_CONTACT_CHANNELS)
            pr->contacts[ch - 1]++;
        pr->pending[ch] = 1;
        return;
    }
    if ((ev->type != INDIV_EV_OPEN && ev->type != INDIV_EV_CLICK) || !pr->pending[ch])
        return;
    pr->pending[ch] = 0;
    if (ch >= 1 && ch <= INDIV_CONTACT_CHANNELS)
        pr->reactions[ch - 1]++;
    for (int s = pr->n_slots - 1; s >= 0; s--)
        if (pr->contact_channel[s] == ch) {
            pr->answered[s] = 1;
            break;
        }
}

/* A purchase is "new" when its category was not bought at an earlier time; purchases
 * at the first purchase time are not counted (everything is new then). */
static void add_openness(struct acc *a, const indiv_event *ev) {
    size_t i;
    if (ev->type != INDIV_EV_PURCHASE ||
        indiv_catalog_index(a->cat, ev->offer_id, &i) < 0)
        return;
    size_t c = indiv_catalog_offer(a->cat, i)->category;
    int seen = a->stamp[c] == a->gen;
    int first_order =
        a->pr.first_purchase_ts == INDIV_TS_NONE || ev->ts == a->pr.first_purchase_ts;
    if (!seen) {
        a->stamp[c] = a->gen;
        a->first_ts[c] = ev->ts;
        if (a->pr.n_bought < a->pr.bought_cap)
            a->pr.bought[a->pr.n_bought++] = (int32_t)c;
    }
    if (first_order)
        return;
    a->pr.later_purchases++;
    if (!seen || a->first_ts[c] == ev->ts)
        a->pr.new_category_purchases++;
}

/* The entry that makes room for a new offer in a full history: the smallest decayed
 * count (the least recent and frequent), ties to the oldest last purchase. */
static size_t history_victim(const indiv_profile *pr) {
    size_t v = 0;
    for (size_t i = 1; i < pr->n_history; i++) {
        const indiv_offer_history *h = &pr->history[i], *w = &pr->history[v];
        if (h->decayed < w->decayed || (h->decayed == w->decayed && h->last_ts < w->last_ts))
            v = i;
    }
    return v;
}

/* One more occasion of an offer already in the history: Welford's update of the
 * intervals, whose mean is (last - first) / (occasions - 1) (Welford 1962). */
static void history_again(indiv_offer_history *h, int64_t ts, double weight) {
    double x = (double)(ts - h->last_ts) / DAY, n = h->occasions; /* n intervals after */
    double mean_old = n > 1 ? (double)(h->last_ts - h->first_ts) / DAY / (n - 1) : 0;
    double mean_new = mean_old + (x - mean_old) / n;
    h->interval_m2 += (x - mean_old) * (x - mean_new);
    h->occasions++;
    h->last_ts = ts;
    h->decayed += weight;
}

/* Purchase occasions per offer; several lines of one order (same time) count once. */
static void add_history(struct acc *a, const indiv_event *ev) {
    indiv_profile *pr = &a->pr;
    if (ev->type != INDIV_EV_PURCHASE || ev->offer_id <= 0)
        return;
    double weight = exp2(-(double)(a->p->as_of - ev->ts) / DAY / a->p->half_life_days);
    for (size_t i = 0; i < pr->n_history; i++)
        if (pr->history[i].offer_id == ev->offer_id) {
            if (ev->ts != pr->history[i].last_ts)
                history_again(&pr->history[i], ev->ts, weight);
            return;
        }
    size_t at = pr->n_history < pr->history_cap ? pr->n_history++ : history_victim(pr);
    if (pr->history_cap == 0)
        return;
    pr->history[at] = (indiv_offer_history){ev->offer_id, 1, weight, ev->ts, ev->ts, 0};
}

static void acc_add(struct acc *a, const indiv_event *ev) {
    unsigned f = a->p->features;
    if (ev->channel < 0 || ev->channel > INDIV_CH_MAX || ev->type < 1 ||
        ev->type > INDIV_EV_MAX)
        return; /* the schema forbids these; never index out of bounds on foreign data */
    a->pr.n_events++;
    if (f & INDIV_FEAT_TASTE)
        add_taste(a, ev);
    if (f & INDIV_FEAT_OPENNESS) /* before rhythm: it reads the first purchase time */
        add_openness(a, ev);
    if (f & (INDIV_FEAT_RHYTHM | INDIV_FEAT_OPENNESS))
        add_rhythm(a, ev);
    if (f & INDIV_FEAT_MOMENTS)
        add_moment(a, ev);
    if (f & (INDIV_FEAT_CHANNELS | INDIV_FEAT_PRESSURE))
        add_contact_or_reaction(a, ev);
    if (f & INDIV_FEAT_HISTORY)
        add_history(a, ev);
}

/* Derived values: smoothed distributions, Beta-smoothed rates, interval spread. */
static void acc_finish(struct acc *a) {
    const indiv_profile_params *p = a->p;
    indiv_profile *pr = &a->pr;
    double n = pr->activity, al = p->moment_alpha;
    for (int h = 0; h < 24; h++)
        pr->hour[h] = (a->hour_n[h] + al) / (n + 24 * al);
    for (int d = 0; d < 7; d++)
        pr->dow[d] = (a->dow_n[d] + al) / (n + 7 * al);
    for (int c = 0; c < INDIV_CONTACT_CHANNELS; c++)
        pr->react_rate[c] = (pr->reactions[c] + p->channel_prior_a) /
                            (pr->contacts[c] + p->channel_prior_a + p->channel_prior_b);
    pr->openness = (pr->new_category_purchases + p->openness_prior_a) /
                   (pr->later_purchases + p->openness_prior_a + p->openness_prior_b);
    pr->interval_mean_days = pr->n_intervals > 0 ? a->iv_mean : 0;
    pr->interval_sd_days =
        pr->n_intervals > 1 ? sqrt(a->iv_m2 / (pr->n_intervals - 1)) : 0;
}

/* ---- storage ----------------------------------------------------------------------- */

/* Values stored for pr: fixed groups, plus the contacts kept and the categories bought.
 */
static size_t vector_len(const indiv_profile *pr) {
    unsigned f = pr->features;
    return 2 + ((f & INDIV_FEAT_TASTE) ? pr->dims : 0) +
           ((f & INDIV_FEAT_RHYTHM) ? RHYTHM_SLOTS : 0) +
           ((f & INDIV_FEAT_MOMENTS) ? MOMENT_SLOTS : 0) +
           ((f & INDIV_FEAT_CHANNELS) ? CHANNEL_SLOTS : 0) +
           ((f & INDIV_FEAT_PRESSURE) ? PRESSURE_HEAD + 3 * (size_t)pr->n_slots : 0) +
           ((f & INDIV_FEAT_OPENNESS) ? OPENNESS_HEAD + pr->n_bought : 0) +
           ((f & INDIV_FEAT_HISTORY) ? HISTORY_HEAD + HISTORY_VALUES * pr->n_history : 0);
}

static double ts_d(int64_t ts) {
    return ts == INDIV_TS_NONE ? -INFINITY : (double)ts; /* exact below 2^53 */
}

static int64_t d_ts(double v) {
    return isinf(v) ? INDIV_TS_NONE : (int64_t)v;
}

/* A vector being written (store) or read; a read past the end marks it bad. Bytes,
 * not doubles: a stored blob may be unaligned, and memcpy reads it in place. */
typedef struct vcur {
    unsigned char *v;
    size_t n, k; /* in doubles */
    int store, bad;
} vcur;

/* Moves n doubles between a field and the vector, in the cursor's direction. */
static void xfer(vcur *c, double *field, size_t n) {
    if (c->bad || c->k + n > c->n) {
        c->bad = 1;
        return;
    }
    if (c->store)
        memcpy(c->v + c->k * sizeof *field, field, n * sizeof *field);
    else
        memcpy(field, c->v + c->k * sizeof *field, n * sizeof *field);
    c->k += n;
}

/* An integer-valued field: read back only when it is an integer in [0, max]. */
static void xfer_count(vcur *c, double value, double max, size_t *out) {
    double t = value;
    xfer(c, &t, 1);
    if (c->store || c->bad)
        return;
    if (!(t >= 0 && t <= max && t == floor(t)))
        c->bad = 1;
    else
        *out = (size_t)t;
}

static void xfer_rhythm(vcur *c, indiv_profile *pr) {
    double t[RHYTHM_SLOTS] = {pr->orders,
                              ts_d(pr->first_purchase_ts),
                              ts_d(pr->last_purchase_ts),
                              pr->monetary,
                              pr->n_intervals,
                              pr->interval_mean_days,
                              pr->interval_sd_days};
    xfer(c, t, RHYTHM_SLOTS);
    if (c->store || c->bad)
        return;
    pr->orders = t[0];
    pr->first_purchase_ts = d_ts(t[1]);
    pr->last_purchase_ts = d_ts(t[2]);
    pr->monetary = t[3];
    pr->n_intervals = t[4];
    pr->interval_mean_days = t[5];
    pr->interval_sd_days = t[6];
}

static void xfer_channels(vcur *c, indiv_profile *pr) {
    double pend[INDIV_CH_MAX + 1];
    for (int ch = 0; ch <= INDIV_CH_MAX; ch++)
        pend[ch] = pr->pending[ch];
    xfer(c, pr->contacts, INDIV_CONTACT_CHANNELS);
    xfer(c, pr->reactions, INDIV_CONTACT_CHANNELS);
    xfer(c, pr->react_rate, INDIV_CONTACT_CHANNELS);
    xfer(c, pend, INDIV_CH_MAX + 1);
    for (int ch = 0; !c->store && ch <= INDIV_CH_MAX; ch++)
        pr->pending[ch] = pend[ch] != 0;
}

/* [slots kept, contacts in all, then (time, channel, answered) per slot]. Loading fails
 * on a slot count outside [0, INDIV_PRESSURE_SLOTS]: the readers index the slots. */
static void xfer_pressure(vcur *c, indiv_profile *pr) {
    size_t n = (size_t)pr->n_slots;
    xfer_count(c, (double)pr->n_slots, INDIV_PRESSURE_SLOTS, &n);
    xfer(c, &pr->contacts_total, 1);
    for (size_t s = 0; s < n && !c->bad; s++) {
        double t[3] = {(double)pr->contact_ts[s], pr->contact_channel[s],
                       pr->answered[s]};
        xfer(c, t, 3);
        if (c->store)
            continue;
        if (!(t[1] >= 0 && t[1] <= INDIV_CH_MAX))
            c->bad = 1;
        pr->contact_ts[s] = (int64_t)t[0];
        pr->contact_channel[s] = c->bad ? 0 : (int)t[1];
        pr->answered[s] = t[2] != 0;
    }
    if (!c->store && !c->bad)
        pr->n_slots = (int)n;
}

/* [later purchases, new-category purchases, openness, categories bought, then their
 * indices]. The list is read into pr->bought, grown as needed. */
static void xfer_openness(vcur *c, indiv_profile *pr, size_t max_cats) {
    size_t n = pr->n_bought;
    xfer(c, &pr->later_purchases, 1);
    xfer(c, &pr->new_category_purchases, 1);
    xfer(c, &pr->openness, 1);
    xfer_count(c, (double)pr->n_bought, (double)max_cats, &n);
    if (!c->store && !c->bad && n > pr->bought_cap) {
        int32_t *b = realloc(pr->bought, n * sizeof *b);
        if (!b) {
            c->bad = 2; /* out of memory */
            return;
        }
        pr->bought = b;
        pr->bought_cap = n;
    }
    for (size_t i = 0; i < n && !c->bad; i++) {
        size_t cat = (size_t)(c->store ? pr->bought[i] : 0);
        xfer_count(c, (double)cat, (double)max_cats, &cat);
        if (!c->store)
            pr->bought[i] = (int32_t)cat;
    }
    if (!c->store && !c->bad)
        pr->n_bought = n;
}

/* [offers kept, then (offer id, occasions, decayed, first, last, interval m2) per
 * offer]. The list is read into pr->history, grown as needed. */
static void xfer_history(vcur *c, indiv_profile *pr) {
    size_t n = pr->n_history;
    xfer_count(c, (double)pr->n_history, MAX_HISTORY, &n);
    if (!c->store && !c->bad && n > pr->history_cap) {
        indiv_offer_history *h = realloc(pr->history, n * sizeof *h);
        if (!h) {
            c->bad = 2; /* out of memory */
            return;
        }
        pr->history = h;
        pr->history_cap = n;
    }
    for (size_t i = 0; i < n && !c->bad; i++) {
        indiv_offer_history *h = &pr->history[i];
        double t[HISTORY_VALUES] = {(double)h->offer_id, h->occasions,
                                    h->decayed,          (double)h->first_ts,
                                    (double)h->last_ts,  h->interval_m2};
        xfer(c, t, HISTORY_VALUES);
        if (c->store || c->bad)
            continue;
        if (!(t[0] >= 1 && t[0] < 0x1p53 && t[0] == floor(t[0]) && t[1] >= 1))
            c->bad = 1;
        *h = (indiv_offer_history){(int64_t)t[0], t[1], t[2], (int64_t)t[3],
                                   (int64_t)t[4], t[5]};
    }
    if (!c->store && !c->bad)
        pr->n_history = n;
}

/* Moves the enabled groups between pr and the vector (after the 2-value header). */
static void xfer_groups(vcur *c, indiv_profile *pr) {
    unsigned f = pr->features;
    c->k = 2;
    if (f & INDIV_FEAT_TASTE)
        xfer(c, pr->taste, pr->dims);
    if (f & INDIV_FEAT_RHYTHM)
        xfer_rhythm(c, pr);
    if (f & INDIV_FEAT_MOMENTS) {
        xfer(c, &pr->activity, 1);
        xfer(c, pr->hour, 24);
        xfer(c, pr->dow, 7);
    }
    if (f & INDIV_FEAT_CHANNELS)
        xfer_channels(c, pr);
    if (f & INDIV_FEAT_PRESSURE)
        xfer_pressure(c, pr);
    if (f & INDIV_FEAT_OPENNESS)
        xfer_openness(c, pr, MAX_STORED_DIMS);
    if (f & INDIV_FEAT_HISTORY)
        xfer_history(c, pr);
}

void indiv_profile_init(indiv_profile *pr) {
    memset(pr, 0, sizeof *pr);
}

void indiv_profile_clear(indiv_profile *pr) {
    free(pr->taste);
    free(pr->bought);
    free(pr->history);
    pr->taste = NULL;
    pr->bought = NULL;
    pr->history = NULL;
    pr->taste_cap = pr->bought_cap = pr->n_bought = 0;
    pr->history_cap = pr->n_history = 0;
}

/* Neutral values of the groups a profile does not have (features switched off). */
static void set_neutral(indiv_profile *pr) {
    pr->first_purchase_ts = pr->last_purchase_ts = INDIV_TS_NONE;
    for (int h = 0; h < 24; h++)
        pr->hour[h] = 1.0 / 24;
    for (int d = 0; d < 7; d++)
        pr->dow[d] = 1.0 / 7;
}

/* 1 when v is an integer in [0, max] (so that converting it is defined). */
static int exact_in(double v, double max) {
    return v >= 0 && v <= max && v == floor(v);
}

/* Clears pr for a decode, keeping its buffers; grows taste to d values. */
static int decode_reset(indiv_profile *pr, size_t d) {
    double *taste = pr->taste;
    int32_t *bought = pr->bought;
    indiv_offer_history *hist = pr->history;
    size_t cap = pr->taste_cap, bcap = pr->bought_cap, hcap = pr->history_cap;
    memset(pr, 0, sizeof *pr);
    pr->taste = taste;
    pr->taste_cap = cap;
    pr->bought = bought;
    pr->bought_cap = bcap;
    pr->history = hist;
    pr->history_cap = hcap;
    if (d > pr->taste_cap) {
        double *t = realloc(pr->taste, d * sizeof *t);
        if (!t)
            return INDIV_ENOMEM;
        pr->taste = t;
        pr->taste_cap = d;
    }
    if (d)
        memset(pr->taste, 0, d * sizeof *pr->taste);
    set_neutral(pr);
    return INDIV_OK;
}

int indiv_profile_decode(const indiv_profile_row *row, indiv_profile *pr,
                         indiv_error *err) {
    size_t nd = row->size / sizeof(double);
    if (row->version != INDIV_PROFILE_VERSION || row->size % sizeof(double) || nd < 2)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "profile of consumer %lld: version %d / %zu bytes is not "
                               "a version %d profile",
                               (long long)row->consumer_id, row->version, row->size,
                               INDIV_PROFILE_VERSION);
    double head[2];
    memcpy(head, row->blob, sizeof head);
    if (!exact_in(head[0], INDIV_FEAT_ALL) || !exact_in(head[1], MAX_STORED_DIMS))
        return indiv_error_set(
            err, INDIV_EFORMAT,
            "profile of consumer %lld: header (features %g, dims %g) is "
            "not valid",
            (long long)row->consumer_id, head[0], head[1]);
    size_t d = (size_t)head[1];
    if (((unsigned)head[0] & INDIV_FEAT_TASTE) && nd < 2 + d)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "profile of consumer %lld: %zu values "
                               "do not match its layout",
                               (long long)row->consumer_id, nd);
    if (decode_reset(pr, d) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    pr->consumer_id = row->consumer_id;
    pr->as_of = row->as_of;
    pr->n_events = row->n_events;
    pr->features = (unsigned)head[0];
    pr->dims = d;
    /* read in place: the cursor only reads when store = 0 */
    vcur c = {(unsigned char *)(uintptr_t)row->blob, nd, 0, 0, 0};
    xfer_groups(&c, pr);
    if (c.bad == 2)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (c.bad || c.k != nd)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "profile of consumer %lld: %zu values do not match its "
                               "layout (a count out of range, or a wrong length)",
                               (long long)row->consumer_id, nd);
    return INDIV_OK;
}

/* Encodes pr into *buf (grown as needed) and stores it. */
static int store_profile(indiv_eventlog *log, indiv_profile *pr, double **buf,
                         size_t *cap, int64_t *bytes, int64_t *hbytes,
                         indiv_error *err) {
    size_t n = vector_len(pr);
    if (n > *cap) {
        double *b = realloc(*buf, n * sizeof *b);
        if (!b)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        *buf = b;
        *cap = n;
    }
    (*buf)[0] = pr->features;
    (*buf)[1] = (double)pr->dims;
    vcur c = {(unsigned char *)*buf, n, 0, 1, 0};
    xfer_groups(&c, pr); /* storing cannot fail: n is the exact length */
    if (pr->features & INDIV_FEAT_HISTORY)
        *hbytes += (int64_t)((HISTORY_HEAD + HISTORY_VALUES * pr->n_history) *
                             sizeof(double));
    indiv_profile_row row = {pr->consumer_id,       pr->as_of, pr->n_events,
                             INDIV_PROFILE_VERSION, *buf,      n * sizeof(double)};
    *bytes += (int64_t)row.size;
    return indiv_eventlog_profile_put(log, &row, err);
}

int indiv_profile_store(indiv_eventlog *log, indiv_profile *pr, indiv_error *err) {
    double *buf = NULL;
    size_t cap = 0;
    int64_t bytes = 0, hbytes = 0;
    int rc = store_profile(log, pr, &buf, &cap, &bytes, &hbytes, err);
    free(buf);
    return rc;
}

int indiv_profile_load(indiv_eventlog *log, int64_t consumer_id, indiv_profile *pr,
                       indiv_error *err) {
    indiv_profile_row row;
    int rc = indiv_eventlog_profile_get(log, consumer_id, &row, err);
    return rc == INDIV_OK ? indiv_profile_decode(&row, pr, err) : rc;
}

void indiv_profile_project(indiv_profile *pr, int64_t t, double half_life_days) {
    if (t <= pr->as_of)
        return;
    double k = exp2(-(double)(t - pr->as_of) / DAY / half_life_days);
    for (size_t j = 0; j < pr->dims && (pr->features & INDIV_FEAT_TASTE); j++)
        pr->taste[j] *= k;
    for (size_t i = 0; i < pr->n_history && (pr->features & INDIV_FEAT_HISTORY); i++)
        pr->history[i].decayed *= k;
    pr->as_of = t;
}

/* ---- stored parameters ------------------------------------------------------------- */

/* The settings a build records in meta('profile_params'), one row each: its JSON key,
 * where it lives in indiv_profile_params, its kind, and whether it shapes the vectors (an
 * incremental build must then use the stored value; as_of is the one that may move). The
 * writer, the reader and same_shape all walk this table. */
enum stored_kind {
    STORED_REAL,    /* double */
    STORED_INT,     /* int */
    STORED_INT64,   /* int64_t */
    STORED_BITS,    /* unsigned (feature groups) */
    STORED_WEIGHTS, /* double[INDIV_EV_MAX + 1] */
};
static const struct stored_field {
    const char *key;
    size_t off;
    enum stored_kind kind;
    int shapes;
    int optional; /* older builds lack the key, which then reads as its default */
} stored_fields[] = {
#define F(field, kind, shapes)                                                           \
    { #field, offsetof(indiv_profile_params, field), kind, shapes, 0 }
    F(as_of, STORED_INT64, 0),
    F(half_life_days, STORED_REAL, 1),
    F(window_days, STORED_REAL, 1),
    F(features, STORED_BITS, 1),
    F(type_weight, STORED_WEIGHTS, 1),
    F(moment_alpha, STORED_REAL, 1),
    F(channel_prior_a, STORED_REAL, 1),
    F(channel_prior_b, STORED_REAL, 1),
    F(openness_prior_a, STORED_REAL, 1),
    F(openness_prior_b, STORED_REAL, 1),
    F(pressure_days, STORED_REAL, 1),
    F(rhythm_prior_strength, STORED_REAL, 1),
    F(readiness_horizon_days, STORED_REAL, 1),
    /* absent before the history group */
    {"history_max", offsetof(indiv_profile_params, history_max), STORED_INT, 1, 1},
#undef F
};
#define NSTORED (sizeof stored_fields / sizeof stored_fields[0])

static const void *field_at(const indiv_profile_params *p, const struct stored_field *f) {
    return (const char *)p + f->off;
}

static json_t *field_json(const indiv_profile_params *p, const struct stored_field *f) {
    const void *v = field_at(p, f);
    switch (f->kind) {
    case STORED_REAL:
        return json_real(*(const double *)v);
    case STORED_INT:
        return json_integer(*(const int *)v);
    case STORED_INT64:
        return json_integer(*(const int64_t *)v);
    case STORED_BITS:
        return json_integer(*(const unsigned *)v);
    case STORED_WEIGHTS:
        break;
    }
    json_t *w = json_array();
    for (int t = 0; t <= INDIV_EV_MAX; t++)
        json_array_append_new(w, json_real(((const double *)v)[t]));
    return w;
}

/* The object stored in meta('profile_params'); NULL when out of memory. */
static json_t *params_json(const indiv_profile_params *p, const indiv_catalog *cat) {
    json_t *j = json_object();
    int bad = !j;
    for (size_t i = 0; i < NSTORED && !bad; i++)
        bad = json_object_set_new(j, stored_fields[i].key,
                                  field_json(p, &stored_fields[i]));
    if (!bad)
        bad = json_object_set_new(j, "dims",
                                  json_integer((json_int_t)indiv_catalog_dims(cat)));
    if (!bad)
        bad = json_object_set_new(j, "feature_source",
                                  json_string(indiv_catalog_feature_source(cat)));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Reads one field of the stored object into p; -1 when absent or of another kind. */
static int field_from_json(const json_t *j, const struct stored_field *f,
                           indiv_profile_params *p) {
    const json_t *v = json_object_get(j, f->key);
    void *dst = (char *)p + f->off;
    if (!v && f->optional)
        return 0;
    switch (f->kind) {
    case STORED_REAL:
        if (!json_is_number(v))
            return -1;
        *(double *)dst = json_number_value(v);
        return 0;
    case STORED_INT:
        if (!json_is_integer(v) || json_integer_value(v) < INT_MIN ||
            json_integer_value(v) > INT_MAX)
            return -1;
        *(int *)dst = (int)json_integer_value(v);
        return 0;
    case STORED_INT64:
        if (!json_is_integer(v))
            return -1;
        *(int64_t *)dst = json_integer_value(v);
        return 0;
    case STORED_BITS:
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > INDIV_FEAT_ALL)
            return -1;
        *(unsigned *)dst = (unsigned)json_integer_value(v);
        return 0;
    case STORED_WEIGHTS:
        break;
    }
    if (!json_is_array(v) || json_array_size(v) != INDIV_EV_MAX + 1)
        return -1;
    for (size_t t = 0; t <= INDIV_EV_MAX; t++) {
        const json_t *x = json_array_get(v, t);
        if (!json_is_number(x))
            return -1;
        ((double *)dst)[t] = json_number_value(x);
    }
    return 0;
}

/* The stored build's parameters and feature space (space may be NULL). INDIV_EFORMAT,
 * naming the key, on any value that is missing or cannot be read. */
static int params_from_json(const json_t *j, indiv_profile_params *p,
                            indiv_profile_space *space, indiv_error *err) {
    indiv_profile_params_init(p);
    for (size_t i = 0; i < NSTORED; i++)
        if (field_from_json(j, &stored_fields[i], p) < 0)
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "meta('profile_params'): '%s' is missing or malformed",
                                   stored_fields[i].key);
    const json_t *dims = json_object_get(j, "dims");
    const char *src = json_string_value(json_object_get(j, "feature_source"));
    if (!json_is_integer(dims) || json_integer_value(dims) < 1 ||
        json_integer_value(dims) > MAX_STORED_DIMS)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "meta('profile_params'): 'dims' is missing or malformed");
    if (!src || (space && strlen(src) >= sizeof space->source))
        return indiv_error_set(
            err, INDIV_EFORMAT,
            "meta('profile_params'): 'feature_source' is missing or malformed");
    if (space) {
        space->dims = (size_t)json_integer_value(dims);
        snprintf(space->source, sizeof space->source, "%s", src);
    }
    return INDIV_OK;
}

/* JSON text of meta values: sorted keys, reals with full precision (exact round trip). */
#define META_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))

static int meta_put_json(indiv_eventlog *log, const char *key, json_t *j,
                         indiv_error *err) {
    char *txt = j ? json_dumps(j, META_JSON_FLAGS) : NULL;
    json_decref(j);
    if (!txt)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = indiv_eventlog_meta_set(log, key, txt, err);
    free(txt);
    return rc;
}

static json_t *meta_get_json(indiv_eventlog *log, const char *key, int *rc,
                             indiv_error *err) {
    char buf[4096];
    *rc = indiv_eventlog_meta_get(log, key, buf, sizeof buf, err);
    if (*rc < 0)
        return NULL;
    json_t *j = json_loads(buf, 0, NULL);
    if (!j)
        *rc = indiv_error_set(err, INDIV_EFORMAT, "meta('%s') is not valid JSON", key);
    return j;
}

/* The one reader of meta('profile_params'): fills p and, when not NULL, space. */
static int read_stored(indiv_eventlog *log, indiv_profile_params *p,
                       indiv_profile_space *space, indiv_error *err) {
    int rc;
    json_t *j = meta_get_json(log, "profile_params", &rc, err);
    if (!j)
        return rc;
    rc = params_from_json(j, p, space, err);
    json_decref(j);
    return rc;
}

int indiv_profile_stored_space(indiv_eventlog *log, indiv_profile_space *space,
                               indiv_error *err) {
    indiv_profile_params p;
    return read_stored(log, &p, space, err);
}

int indiv_profile_stored_params(indiv_eventlog *log, indiv_profile_params *p,
                                indiv_rhythm_prior *prior, indiv_error *err) {
    int rc = read_stored(log, p, NULL, err);
    if (rc < 0 || !prior)
        return rc;
    json_int_t n1 = 0, n2 = 0;
    json_t *j = meta_get_json(log, "profile_prior", &rc, err);
    if (!j)
        return rc;
    if (json_unpack(j, "{s:F, s:F, s:I, s:I}", "mean_days", &prior->mean_days, "cv2",
                    &prior->cv2, "consumers_mean", &n1, "consumers_cv2", &n2) < 0)
        rc = indiv_error_set(err, INDIV_EFORMAT, "meta('profile_prior') is malformed");
    prior->consumers_mean = n1;
    prior->consumers_cv2 = n2;
    json_decref(j);
    return rc;
}

/* ---- building ---------------------------------------------------------------------- */

/* Rhythm prior terms of profiles, in ascending consumer id. */
struct terms {
    int64_t *id;
    double *mean, *cv2;
    size_t n, cap;
};

struct indiv_profile_session {
    int64_t as_of;                 /* of the session's last build; INT64_MIN before */
    int64_t consumers, consenting; /* counts at that build */
    int valid;                     /* all: the terms of every stored profile */
    struct terms all, built;       /* built: the profiles the running build wrote */
};

/* State of one build: the accumulator, the encode buffer, counters. */
struct build {
    indiv_eventlog *log;
    const indiv_profile_params *p;
    struct acc acc;
    double *buf; /* encode buffer */
    size_t buf_cap;
    indiv_profile old; /* a stored profile being folded into */
    indiv_profile_summary *sum;
    indiv_progress_fn progress;
    void *ctx;
    int64_t total;
    indiv_profile_session *ses; /* may be NULL */
    const int64_t *touched;     /* candidates of an incremental build, or NULL */
    size_t n_touched;
    indiv_profile_change_fn fn; /* told of each profile an incremental build writes */
    void *fn_ctx;
    int have_old; /* old holds the stored profile being replaced */
};

static void terms_free(struct terms *t) {
    free(t->id);
    free(t->mean);
    free(t->cv2);
    memset(t, 0, sizeof *t);
}

static int terms_push(struct terms *t, int64_t id, double mean, double cv2) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4096;
        int64_t *i = realloc(t->id, cap * sizeof *i);
        if (i)
            t->id = i;
        double *m = i ? realloc(t->mean, cap * sizeof *m) : NULL;
        if (m)
            t->mean = m;
        double *c = m ? realloc(t->cv2, cap * sizeof *c) : NULL;
        if (!c)
            return INDIV_ENOMEM;
        t->cv2 = c;
        t->cap = cap;
    }
    t->id[t->n] = id;
    t->mean[t->n] = mean;
    t->cv2[t->n++] = cv2;
    return INDIV_OK;
}

indiv_profile_session *indiv_profile_session_new(void) {
    indiv_profile_session *ses = calloc(1, sizeof *ses);
    if (ses)
        ses->as_of = INT64_MIN;
    return ses;
}

void indiv_profile_session_free(indiv_profile_session *ses) {
    if (!ses)
        return;
    terms_free(&ses->all);
    terms_free(&ses->built);
    free(ses);
}

/* The session's terms after a build: the built ones replace (full build) or are merged
 * into (incremental) the stored ones, both in ascending id. */
static int session_merge(indiv_profile_session *ses, int full) {
    struct terms out = {0}, *a = &ses->all, *b = &ses->built;
    if (full || !ses->valid) {
        terms_free(a);
        *a = *b;
        memset(b, 0, sizeof *b);
        ses->valid = full;
        return INDIV_OK;
    }
    size_t i = 0, j = 0;
    int rc = INDIV_OK;
    while (rc == INDIV_OK && (i < a->n || j < b->n)) {
        if (j < b->n && (i == a->n || b->id[j] <= a->id[i])) {
            i += i < a->n && a->id[i] == b->id[j]; /* replaced */
            rc = terms_push(&out, b->id[j], b->mean[j], b->cv2[j]);
            j++;
        } else {
            rc = terms_push(&out, a->id[i], a->mean[i], a->cv2[i]);
            i++;
        }
    }
    terms_free(a);
    b->n = 0;
    if (rc < 0) {
        terms_free(&out);
        ses->valid = 0;
        return rc;
    }
    *a = out;
    return INDIV_OK;
}

/* Every PROGRESS_EVERY consumers the progress callback is called. */
#define PROGRESS_EVERY 4096

static int flush(struct build *b, indiv_error *err) {
    acc_finish(&b->acc);
    b->sum->profiled++;
    b->sum->empty += b->acc.pr.n_events == 0;
    b->sum->events += b->acc.pr.n_events;
    if (b->progress && b->sum->profiled % PROGRESS_EVERY == 0)
        b->progress(b->ctx, "profiles", b->sum->profiled, b->total);
    b->sum->history_entries += (int64_t)b->acc.pr.n_history;
    if (b->ses) { /* the terms compute_prior would decode back from the stored vector */
        double mean = NAN, cv2 = NAN;
        if (b->acc.pr.features & INDIV_FEAT_RHYTHM)
            indiv_profile_prior_terms(&b->acc.pr, &mean, &cv2);
        if (terms_push(&b->ses->built, b->acc.pr.consumer_id, mean, cv2) < 0)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    return store_profile(b->log, &b->acc.pr, &b->buf, &b->buf_cap, &b->sum->bytes,
                         &b->sum->history_bytes, err);
}

static int64_t window_from(const indiv_profile_params *p) {
    if (p->window_days <= 0)
        return INT64_MIN;
    return p->as_of - (int64_t)llround(p->window_days * DAY);
}

/* Full build: one consent-filtered ordered pass over all events. */
static int build_full(struct build *b, indiv_error *err) {
    indiv_event_cursor *cur;
    indiv_event ev;
    int rc = indiv_eventlog_profile_clear(b->log, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_scan_consented(b->log, window_from(b->p), b->p->as_of, &cur,
                                           err);
    if (rc < 0)
        return rc;
    int64_t current = -1;
    while ((rc = indiv_event_cursor_next(cur, &ev, err)) == 1) {
        if (ev.consumer_id != current) {
            if (current >= 0 && (rc = flush(b, err)) < 0)
                break;
            acc_reset(&b->acc, current = ev.consumer_id);
        }
        if (ev.type != INDIV_EV_NONE)
            acc_add(&b->acc, &ev);
    }
    if (rc == 0 && current >= 0)
        rc = flush(b, err);
    indiv_event_cursor_free(cur);
    return rc < 0 ? rc : INDIV_OK;
}

/* Puts the accumulator in the state it had after the events of stored profile old, as
 * of the build's time: taste projected, interval moments, activity counts (exact
 * integers, recovered from the smoothed distributions), unanswered channels, categories
 * bought. Folding the events since old->as_of then gives the same profile as a rebuild,
 * up to floating-point rounding (tested). */
static void acc_resume(struct acc *a, const indiv_profile *old) {
    acc_reset(a, old->consumer_id);
    indiv_profile *pr = &a->pr;
    double *taste = pr->taste;
    int32_t *bought = pr->bought;
    indiv_offer_history *hist = pr->history;
    size_t tcap = pr->taste_cap, bcap = pr->bought_cap, hcap = pr->history_cap;
    *pr = *old;
    pr->taste = taste;
    pr->taste_cap = tcap;
    pr->bought = bought;
    pr->bought_cap = bcap;
    pr->history = hist;
    pr->history_cap = hcap;
    pr->as_of = a->p->as_of;
    double k = exp2(-(double)(a->p->as_of - old->as_of) / DAY / a->p->half_life_days);
    for (size_t j = 0; j < pr->dims; j++)
        taste[j] = old->taste[j] * k;
    for (size_t i = 0; i < old->n_history; i++) {
        hist[i] = old->history[i];
        hist[i].decayed *= k;
    }
    if (old->n_bought)
        memcpy(bought, old->bought, old->n_bought * sizeof *bought);
    for (size_t i = 0; i < old->n_bought; i++) {
        a->stamp[old->bought[i]] = a->gen;
        a->first_ts[old->bought[i]] = INT64_MIN; /* earlier than any new event */
    }
    a->last_order_ts = old->last_purchase_ts;
    a->iv_mean = old->interval_mean_days;
    a->iv_m2 =
        old->n_intervals > 1 ? pow(old->interval_sd_days, 2) * (old->n_intervals - 1) : 0;
    double al = a->p->moment_alpha, n = old->activity;
    for (int h = 0; h < 24; h++)
        a->hour_n[h] = round(old->hour[h] * (n + 24 * al) - al);
    for (int d = 0; d < 7; d++)
        a->dow_n[d] = round(old->dow[d] * (n + 7 * al) - al);
}

/* A stored profile can take new events when it carries every group's state (all
 * features), was built without a window (events leaving a window cannot be subtracted)
 * and in the same feature space. */
static int foldable(const struct build *b, const indiv_profile *old) {
    size_t ncat = indiv_catalog_categories(b->acc.cat);
    if (!(b->p->features == INDIV_FEAT_ALL && b->p->window_days <= 0 &&
          old->features == INDIV_FEAT_ALL &&
          old->dims == indiv_catalog_dims(b->acc.cat) && old->as_of <= b->p->as_of &&
          old->n_bought <= b->acc.pr.bought_cap &&
          old->n_history <= b->acc.pr.history_cap))
        return 0;
    for (size_t i = 0; i < old->n_bought; i++) /* indices of the stamp array */
        if (old->bought[i] < 0 || (size_t)old->bought[i] >= ncat)
            return 0;
    return 1;
}

/* Prepares consumer id: folding into its stored profile when possible (events from the
 * profile's time on), otherwise from scratch (events in the window). */
static int begin_stale(struct build *b, indiv_event_cursor *cur, int64_t id,
                       indiv_error *err) {
    indiv_profile_row row;
    int rc = indiv_eventlog_profile_get(b->log, id, &row, err);
    b->have_old = rc == INDIV_OK && indiv_profile_decode(&row, &b->old, NULL) == INDIV_OK;
    if (b->have_old && foldable(b, &b->old)) {
        acc_resume(&b->acc, &b->old);
        indiv_event_cursor_rebind(cur, id, b->old.as_of, b->p->as_of);
        return INDIV_OK;
    }
    if (rc < 0 && rc != INDIV_ENOTFOUND)
        return rc;
    acc_reset(&b->acc, id);
    indiv_event_cursor_rebind(cur, id, window_from(b->p), b->p->as_of);
    return INDIV_OK;
}

/* Candidate id of a touched build: stale when it has a profile and an event in
 * [the profile's as_of, as_of) — the stale query's test without a window, every
 * consenting consumer having a profile since the session's last build. Then prepared
 * as begin_stale does, with that first event already added (folded) or left to the
 * rescan (rebuilt). 1 stale, 0 not, < 0 error. */
static int begin_touched(struct build *b, indiv_event_cursor *cur, int64_t id,
                         indiv_error *err) {
    indiv_profile_row row;
    indiv_event ev;
    int rc = indiv_eventlog_profile_get(b->log, id, &row, err);
    if (rc == INDIV_ENOTFOUND)
        return 0; /* no profiling consent */
    if (rc < 0)
        return rc;
    indiv_event_cursor_rebind(cur, id, row.as_of, b->p->as_of);
    if ((rc = indiv_event_cursor_next(cur, &ev, err)) <= 0)
        return rc;
    b->have_old = indiv_profile_decode(&row, &b->old, NULL) == INDIV_OK;
    if (b->have_old && foldable(b, &b->old)) {
        acc_resume(&b->acc, &b->old);
        acc_add(&b->acc, &ev);
    } else {
        acc_reset(&b->acc, id);
        indiv_event_cursor_rebind(cur, id, window_from(b->p), b->p->as_of);
    }
    return 1;
}

/* The candidates of an incremental build: the caller's touched consumers when the
 * session allows it (indiv_profile_build_session), else the stale query's answer.
 * *ids is to be freed when *owned. */
static int stale_candidates(struct build *b, const int64_t **ids, size_t *n, int *owned,
                            indiv_error *err) {
    int64_t win = b->p->window_days > 0 ? llround(b->p->window_days * DAY) : 0;
    const indiv_profile_session *ses = b->ses;
    if (b->touched && ses && ses->as_of != INT64_MIN && win == 0 &&
        ses->consumers == b->sum->consumers && ses->consenting == b->total) {
        *ids = b->touched;
        *n = b->n_touched;
        *owned = 0;
        return 1;
    }
    int64_t *found = NULL;
    *owned = 1;
    int rc = indiv_eventlog_profile_stale(b->log, b->p->as_of, win, &found, n, err);
    *ids = found;
    return rc < 0 ? rc : 0;
}

/* Incremental build: one seek per stale consumer, then stale consents are dropped. */
static int build_stale(struct build *b, indiv_error *err) {
    const int64_t *ids = NULL;
    size_t n = 0;
    int owned = 0;
    indiv_event_cursor *cur = NULL;
    indiv_event ev;
    int touched = stale_candidates(b, &ids, &n, &owned, err), rc = touched;
    if (rc >= 0)
        rc = indiv_eventlog_scan_consumer(b->log, 0, 0, 0, &cur, err);
    b->total = (int64_t)n;
    for (size_t i = 0; rc == INDIV_OK && i < n; i++) {
        rc = touched ? begin_touched(b, cur, ids[i], err) : begin_stale(b, cur, ids[i], err);
        if (rc == 0 && touched)
            continue; /* not stale */
        if (rc < 0)
            break;
        while ((rc = indiv_event_cursor_next(cur, &ev, err)) == 1)
            acc_add(&b->acc, &ev);
        if (rc == 0)
            rc = flush(b, err);
        if (rc == INDIV_OK && b->fn)
            b->fn(b->fn_ctx, b->have_old ? &b->old : NULL, &b->acc.pr);
    }
    indiv_event_cursor_free(cur);
    if (owned)
        free((void *)(uintptr_t)ids);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_profile_drop_unconsented(b->log, &b->sum->dropped_consent,
                                                     err);
    return rc;
}

/* ---- updating a few consumers (the service) -------------------------------------- */

/* Brings consumer id up to the build's as_of: folded when its stored profile can take
 * the events from its as_of on (no new event before it), else rebuilt from its events
 * in the window; stored; then fn is told. */
static int update_one(struct build *b, indiv_event_cursor *cur, int64_t id, int64_t since,
                      indiv_profile_change_fn fn, void *ctx, indiv_error *err) {
    indiv_profile_row row;
    indiv_event ev;
    int rc = indiv_eventlog_profile_get(b->log, id, &row, err);
    if (rc < 0 && rc != INDIV_ENOTFOUND)
        return rc;
    int had = rc == INDIV_OK && indiv_profile_decode(&row, &b->old, NULL) == INDIV_OK;
    if (had && since >= b->old.as_of && foldable(b, &b->old)) {
        acc_resume(&b->acc, &b->old);
        indiv_event_cursor_rebind(cur, id, b->old.as_of, b->p->as_of);
    } else {
        acc_reset(&b->acc, id);
        indiv_event_cursor_rebind(cur, id, window_from(b->p), b->p->as_of);
    }
    while ((rc = indiv_event_cursor_next(cur, &ev, err)) == 1)
        acc_add(&b->acc, &ev);
    if (rc == 0)
        rc = flush(b, err);
    if (rc == INDIV_OK && fn)
        fn(ctx, had ? &b->old : NULL, &b->acc.pr);
    return rc;
}

int indiv_profile_update(indiv_eventlog *log, const indiv_catalog *cat,
                         const indiv_profile_params *p, const int64_t *ids,
                         const int64_t *since, size_t n, indiv_profile_change_fn fn,
                         void *ctx, indiv_error *err) {
    indiv_profile_summary sum = {0};
    struct build b = {.log = log, .p = p, .sum = &sum};
    indiv_event_cursor *cur = NULL;
    int rc = indiv_profile_params_validate(p, err);
    if (rc < 0)
        return rc;
    indiv_profile_init(&b.old);
    if ((rc = acc_init(&b.acc, cat, p)) < 0)
        indiv_error_set(err, rc, "out of memory");
    if (rc == INDIV_OK)
        rc = indiv_eventlog_scan_consumer(log, 0, 0, 0, &cur, err);
    for (size_t i = 0; rc == INDIV_OK && i < n; i++)
        rc = update_one(&b, cur, ids[i], since[i], fn, ctx, err);
    /* the build's time moves forward; the population prior stays the last build's */
    if (rc == INDIV_OK)
        rc = meta_put_json(log, "profile_params", params_json(p, cat), err);
    indiv_event_cursor_free(cur);
    acc_free(&b.acc);
    indiv_profile_clear(&b.old);
    free(b.buf);
    return rc;
}

/* Population prior from every stored profile (see docs/profiles.md, "rhythm"). */
void indiv_profile_prior_terms(const indiv_profile *pr, double *mean, double *cv2) {
    *mean = *cv2 = NAN;
    if (pr->n_intervals >= 1 && pr->interval_mean_days > 0)
        *mean = pr->interval_mean_days;
    if (pr->n_intervals >= 2 && pr->interval_mean_days > 0) {
        double cv = pr->interval_sd_days / pr->interval_mean_days;
        *cv2 = cv * cv;
    }
}

void indiv_profile_prior_from_sums(double s1, int64_t n1, double s2, int64_t n2,
                                   indiv_rhythm_prior *prior) {
    prior->mean_days = n1 ? s1 / (double)n1 : FALLBACK_PRIOR_MEAN_DAYS;
    prior->cv2 = (n2 && s2 > 0) ? s2 / (double)n2 : FALLBACK_PRIOR_CV2;
    prior->consumers_mean = n1;
    prior->consumers_cv2 = n2;
}

/* The prior from a session's terms: the same sums, in the same order, as the scan. */
static void prior_from_terms(const struct terms *t, indiv_rhythm_prior *prior) {
    double s1 = 0, s2 = 0;
    int64_t n1 = 0, n2 = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!isnan(t->mean[i]))
            s1 += t->mean[i], n1++;
        if (!isnan(t->cv2[i]))
            s2 += t->cv2[i], n2++;
    }
    indiv_profile_prior_from_sums(s1, n1, s2, n2, prior);
}

/* The prior over every stored profile, in consumer order: from the session's terms
 * when they are valid, else by decoding each profile (and then the session, if any,
 * keeps their terms). */
static int compute_prior(indiv_eventlog *log, indiv_profile_session *ses,
                         indiv_rhythm_prior *prior, indiv_error *err) {
    indiv_profile_cursor *cur;
    indiv_profile_row row;
    indiv_profile pr;
    double s1 = 0, s2 = 0, mean, cv2;
    int64_t n1 = 0, n2 = 0;
    if (ses && ses->valid) {
        prior_from_terms(&ses->all, prior);
        return INDIV_OK;
    }
    int rc = indiv_eventlog_profile_scan(log, &cur, err);
    if (rc < 0)
        return rc;
    if (ses)
        ses->all.n = 0;
    indiv_profile_init(&pr);
    while ((rc = indiv_profile_cursor_next(cur, &row, err)) == 1) {
        if ((rc = indiv_profile_decode(&row, &pr, err)) < 0)
            break;
        indiv_profile_prior_terms(&pr, &mean, &cv2);
        if (ses && terms_push(&ses->all, pr.consumer_id, mean, cv2) < 0) {
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
            break;
        }
        if (!isnan(mean))
            s1 += mean, n1++;
        if (!isnan(cv2))
            s2 += cv2, n2++;
    }
    indiv_profile_clear(&pr);
    indiv_profile_cursor_free(cur);
    indiv_profile_prior_from_sums(s1, n1, s2, n2, prior);
    if (ses)
        ses->valid = rc == 0;
    return rc < 0 ? rc : INDIV_OK;
}

/* 1 when the parameters that shape vectors equal the stored build's (as_of aside). */
static int same_shape(const indiv_profile_params *a, const indiv_profile_params *b) {
    for (size_t i = 0; i < NSTORED; i++) {
        const struct stored_field *f = &stored_fields[i];
        if (!f->shapes)
            continue;
        const void *x = field_at(a, f), *y = field_at(b, f);
        int equal = 1;
        switch (f->kind) {
        case STORED_REAL:
            equal = *(const double *)x == *(const double *)y;
            break;
        case STORED_INT:
            equal = *(const int *)x == *(const int *)y;
            break;
        case STORED_INT64:
            equal = *(const int64_t *)x == *(const int64_t *)y;
            break;
        case STORED_BITS:
            equal = *(const unsigned *)x == *(const unsigned *)y;
            break;
        case STORED_WEIGHTS:
            for (int t = 0; t <= INDIV_EV_MAX; t++)
                equal &= ((const double *)x)[t] == ((const double *)y)[t];
            break;
        }
        if (!equal)
            return 0;
    }
    return 1;
}

/* Decides full or incremental; fills sum->mode_reason. 1 = incremental. */
static int choose_mode(indiv_eventlog *log, const indiv_catalog *cat,
                       const indiv_profile_params *p, int want_incr,
                       indiv_profile_summary *sum, indiv_error *err) {
    indiv_profile_params prev;
    int64_t appended;
    if (!want_incr) {
        snprintf(sum->mode_reason, sizeof sum->mode_reason, "full build requested");
        return 0;
    }
    indiv_profile_space space;
    int rc = read_stored(log, &prev, &space, err);
    if (rc == INDIV_ENOTFOUND) {
        snprintf(sum->mode_reason, sizeof sum->mode_reason,
                 "no previous build: full build");
        return 0;
    }
    if (rc < 0)
        return rc;
    if (space.dims != indiv_catalog_dims(cat) ||
        strcmp(space.source, indiv_catalog_feature_source(cat)) != 0) {
        snprintf(sum->mode_reason, sizeof sum->mode_reason,
                 "the catalog's feature space changed: full build");
        return 0;
    }
    if (!same_shape(p, &prev))
        return indiv_error_set(
            err, INDIV_EINVAL,
            "an incremental build needs the parameters of the last build "
            "(half-life, window, features, weights, priors); run a full "
            "build to change them");
    if (p->as_of < prev.as_of)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "an incremental build cannot go back in time (as_of before "
            "the last build's); run a full build");
    if (indiv_eventlog_appended_min_ts(log, &appended, NULL) == INDIV_OK &&
        appended < prev.as_of) {
        snprintf(sum->mode_reason, sizeof sum->mode_reason,
                 "events older than the last build were appended since: full build");
        return 0;
    }
    snprintf(sum->mode_reason, sizeof sum->mode_reason,
             "incremental: consumers with events since their profile");
    return 1;
}

static int count_consumers(indiv_eventlog *log, struct build *b, indiv_error *err) {
    int64_t all = 0, consenting = 0;
    int rc = indiv_eventlog_consumer_counts(log, &all, &consenting, err);
    if (rc == INDIV_OK) {
        b->sum->consumers = all;
        b->sum->skipped_consent = all - consenting;
        b->total = consenting;
    }
    return rc;
}

int indiv_profile_store_prior(indiv_eventlog *log, const indiv_rhythm_prior *pr,
                              indiv_error *err) {
    return meta_put_json(log, "profile_prior",
                         json_pack("{s:f, s:f, s:I, s:I}", "mean_days", pr->mean_days,
                                   "cv2", pr->cv2, "consumers_mean",
                                   (json_int_t)pr->consumers_mean, "consumers_cv2",
                                   (json_int_t)pr->consumers_cv2),
                         err);
}

static int finish_build(struct build *b, const indiv_catalog *cat, indiv_error *err) {
    indiv_rhythm_prior *pr = &b->sum->prior;
    int rc = compute_prior(b->log, b->ses, pr, err);
    if (rc == INDIV_OK)
        rc = meta_put_json(b->log, "profile_params", params_json(b->p, cat), err);
    if (rc == INDIV_OK)
        rc = indiv_profile_store_prior(b->log, pr, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_appended_reset(b->log, err);
    return rc;
}

static int build_run(struct build *b, const indiv_catalog *cat, int incremental,
                     indiv_error *err) {
    int rc = count_consumers(b->log, b, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_begin(b->log, err);
    if (rc < 0)
        return rc;
    indiv_profile_params prev;
    if (b->ses && (read_stored(b->log, &prev, NULL, NULL) != INDIV_OK ||
                   prev.as_of != b->ses->as_of)) {
        b->ses->as_of = INT64_MIN; /* the stored build is not the session's last one */
        b->ses->valid = 0;
    }
    rc = choose_mode(b->log, cat, b->p, incremental, b->sum, err);
    if (rc >= 0) {
        b->sum->incremental = rc;
        rc = rc ? build_stale(b, err) : build_full(b, err);
    }
    if (rc == INDIV_OK && b->ses) {
        /* a dropped profile's terms would stay: the next prior decodes them all */
        rc = session_merge(b->ses, !b->sum->incremental);
        if (rc == INDIV_OK && b->sum->dropped_consent > 0)
            b->ses->valid = 0;
        if (rc < 0)
            indiv_error_set(err, rc, "out of memory");
    }
    if (rc == INDIV_OK)
        rc = finish_build(b, cat, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_commit(b->log, err);
    else
        indiv_eventlog_rollback(b->log);
    if (b->ses) {
        b->ses->built.n = 0;
        b->ses->as_of = rc == INDIV_OK ? b->p->as_of : INT64_MIN;
        b->ses->consumers = b->sum->consumers;
        b->ses->consenting = b->sum->consumers - b->sum->skipped_consent;
        if (rc < 0)
            b->ses->valid = 0;
    }
    return rc;
}

/* indiv_profile_build and indiv_profile_build_session: b names the session and the
 * touched consumers. */
static int build_with(struct build *b0, const indiv_catalog *cat, int incremental,
                      indiv_profile_summary *sum, indiv_error *err);

int indiv_profile_build(indiv_eventlog *log, const indiv_catalog *cat,
                        const indiv_profile_params *p, int incremental,
                        indiv_progress_fn progress, void *ctx, indiv_profile_summary *sum,
                        indiv_error *err) {
    struct build b = {.log = log, .p = p, .progress = progress, .ctx = ctx};
    return build_with(&b, cat, incremental, sum, err);
}

int indiv_profile_build_session(indiv_eventlog *log, const indiv_catalog *cat,
                                const indiv_profile_params *p, indiv_profile_session *ses,
                                const int64_t *touched, size_t n_touched,
                                indiv_profile_change_fn fn, void *ctx,
                                indiv_profile_summary *sum, indiv_error *err) {
    struct build b = {.log = log,
                      .p = p,
                      .ses = ses,
                      .touched = touched,
                      .n_touched = n_touched,
                      .fn = fn,
                      .fn_ctx = ctx};
    return build_with(&b, cat, 1, sum, err);
}

static int build_with(struct build *b0, const indiv_catalog *cat, int incremental,
                      indiv_profile_summary *sum, indiv_error *err) {
    indiv_profile_summary local;
    struct build b = *b0;
    const indiv_profile_params *p = b.p;
    indiv_progress_fn progress = b.progress;
    void *ctx = b.ctx;
    b.sum = sum ? sum : &local;
    memset(b.sum, 0, sizeof *b.sum);
    int rc = indiv_profile_params_validate(p, err);
    if (rc < 0)
        return rc;
    if (p->as_of == INT64_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "profile build needs an as_of time");
    indiv_profile_init(&b.old);
    rc = acc_init(&b.acc, cat, p);
    if (rc == INDIV_ENOMEM)
        indiv_error_set(err, rc, "out of memory");
    if (rc == INDIV_OK)
        rc = build_run(&b, cat, incremental, err);
    if (rc == INDIV_OK && progress)
        progress(ctx, "profiles", b.sum->profiled, b.sum->profiled);
    acc_free(&b.acc);
    indiv_profile_clear(&b.old);
    free(b.buf);
    return rc;
}

/* ---- derived features -------------------------------------------------------------- */

/* Residual-life probability of a renewal process with gamma inter-arrival times (Cox,
 * "Renewal Theory", 1962): P(T <= s + h | T > s) = (Q(s) - Q(s + h)) / Q(s), with Q the
 * gamma survival function (GSL's upper incomplete gamma ratio). */
double indiv_readiness_gamma(double s, double h, double k, double theta) {
    if (s < 0)
        s = 0;
    double q0 = gsl_cdf_gamma_Q(s, k, theta);
    if (!(q0 > 1e-300))
        return 1.0 - exp(-h / theta); /* long overdue: the gamma hazard tends to 1/θ, so
                                       * the residual life is exponential */
    double r = (q0 - gsl_cdf_gamma_Q(s + h, k, theta)) / q0;
    assert(!isnan(r)); /* q0 > 0 and both tails are probabilities */
    return r < 0 ? 0 : (r > 1 ? 1 : r);
}

/* Shrinkage toward the population (credibility weighting, Bühlmann 1967): a consumer
 * with n intervals counts n against the prior's `strength`; the squared coefficient of
 * variation counts n - 1 (its degrees of freedom). Gamma shape k = 1 / cv², scale
 * theta = mean * cv². */
double indiv_profile_readiness(const indiv_profile *pr, const indiv_rhythm_prior *prior,
                               double strength, int64_t t, double horizon_days) {
    double n = pr->n_intervals, w = n > 1 ? n - 1 : 0;
    double mean =
        (n * pr->interval_mean_days + strength * prior->mean_days) / (n + strength);
    double cv2_i = n > 1 && pr->interval_mean_days > 0
                       ? pow(pr->interval_sd_days / pr->interval_mean_days, 2)
                       : prior->cv2;
    double cv2 = (w * cv2_i + strength * prior->cv2) / (w + strength);
    if (!(cv2 > 1e-6))
        cv2 = 1e-6; /* perfectly regular history: keep the gamma proper */
    double s = pr->last_purchase_ts == INDIV_TS_NONE
                   ? 0
                   : (double)(t - pr->last_purchase_ts) / DAY;
    return indiv_readiness_gamma(s, horizon_days, 1.0 / cv2, mean * cv2);
}

double indiv_history_mean_interval_days(const indiv_offer_history *h) {
    return h->occasions > 1 ? (double)(h->last_ts - h->first_ts) / DAY / (h->occasions - 1)
                            : 0;
}

const indiv_offer_history *indiv_profile_history_find(const indiv_profile *pr,
                                                      int64_t offer_id) {
    for (size_t i = 0; i < pr->n_history; i++)
        if (pr->history[i].offer_id == offer_id)
            return &pr->history[i];
    return NULL;
}

void indiv_profile_pressure(const indiv_profile *pr, int64_t t, double days,
                            int *contacts, int *unanswered) {
    int64_t from = t - (int64_t)llround(days * DAY);
    *contacts = *unanswered = 0;
    for (int s = 0; s < pr->n_slots; s++)
        if (pr->contact_ts[s] >= from && pr->contact_ts[s] < t) {
            (*contacts)++;
            *unanswered += !pr->answered[s];
        }
}

static int argmax(const double *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

int indiv_profile_preferred_hour(const indiv_profile *pr) {
    return argmax(pr->hour, 24);
}

int indiv_profile_preferred_dow(const indiv_profile *pr) {
    return argmax(pr->dow, 7);
}

/* ---- readable JSON ----------------------------------------------------------------- */

static json_t *json_ts(int64_t ts) {
    char buf[INDIV_ISO_LEN];
    return ts == INDIV_TS_NONE ? json_null() : json_string(indiv_time_format(ts, buf));
}

static json_t *json_doubles(const double *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

/* Taste as {category or dimension: value}, non-zero values only. */
static json_t *taste_json(const indiv_profile *pr, const indiv_catalog *cat) {
    json_t *o = json_object();
    int by_cat = strcmp(indiv_catalog_feature_source(cat), "category") == 0 &&
                 pr->dims == indiv_catalog_categories(cat);
    for (size_t j = 0; j < pr->dims; j++) {
        if (pr->taste[j] == 0)
            continue;
        char key[32];
        if (!by_cat)
            snprintf(key, sizeof key, "dim%zu", j);
        json_object_set_new(o, by_cat ? indiv_catalog_category_name(cat, j) : key,
                            json_real(pr->taste[j]));
    }
    return o;
}

static json_t *rhythm_json(const indiv_profile *pr, const indiv_profile_params *p,
                           const indiv_rhythm_prior *prior, int64_t t) {
    return json_pack("{s:f, s:o, s:o, s:f, s:f, s:f, s:f, s:f, s:f}", "orders",
                     pr->orders, "first_purchase", json_ts(pr->first_purchase_ts),
                     "last_purchase", json_ts(pr->last_purchase_ts), "monetary",
                     pr->monetary, "intervals", pr->n_intervals, "interval_mean_days",
                     pr->interval_mean_days, "interval_sd_days", pr->interval_sd_days,
                     "readiness",
                     indiv_profile_readiness(pr, prior, p->rhythm_prior_strength, t,
                                             p->readiness_horizon_days),
                     "readiness_horizon_days", p->readiness_horizon_days);
}

static json_t *channels_json(const indiv_profile *pr) {
    json_t *o = json_object();
    for (int c = 0; c < INDIV_CONTACT_CHANNELS; c++)
        json_object_set_new(o, indiv_channel_name(c + 1),
                            json_pack("{s:f, s:f, s:f}", "contacts", pr->contacts[c],
                                      "reactions", pr->reactions[c], "reaction_rate",
                                      pr->react_rate[c]));
    return o;
}

static json_t *pressure_json(const indiv_profile *pr, const indiv_profile_params *p,
                             int64_t t) {
    int n, un;
    indiv_profile_pressure(pr, t, p->pressure_days, &n, &un);
    json_t *last = json_array();
    for (int s = 0; s < pr->n_slots; s++)
        json_array_append_new(last, json_pack("{s:o, s:s, s:b}", "time",
                                              json_ts(pr->contact_ts[s]), "channel",
                                              indiv_channel_name(pr->contact_channel[s]),
                                              "answered", pr->answered[s]));
    return json_pack("{s:f, s:i, s:i, s:f, s:o}", "window_days", p->pressure_days,
                     "contacts", n, "unanswered", un, "contacts_total",
                     pr->contacts_total, "last_contacts", last);
}

static json_t *moments_json(const indiv_profile *pr) {
    static const char *const days[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
    return json_pack("{s:f, s:i, s:s, s:o, s:o}", "activity", pr->activity,
                     "preferred_hour_utc", indiv_profile_preferred_hour(pr),
                     "preferred_day", days[indiv_profile_preferred_dow(pr)], "hour",
                     json_doubles(pr->hour, 24), "day_of_week", json_doubles(pr->dow, 7));
}

/* The history as a list: offer (source id when in the catalog), occasions, decayed
 * count, first and last purchase, mean interval between re-purchases (days). */
static json_t *history_json(const indiv_profile *pr, const indiv_catalog *cat) {
    json_t *a = json_array();
    for (size_t i = 0; i < pr->n_history; i++) {
        const indiv_offer_history *h = &pr->history[i];
        size_t j;
        char id[32];
        snprintf(id, sizeof id, "#%lld", (long long)h->offer_id);
        const char *name = indiv_catalog_index(cat, h->offer_id, &j) == INDIV_OK
                               ? indiv_catalog_offer(cat, j)->ext_id
                               : id;
        json_array_append_new(
            a, json_pack("{s:s, s:f, s:f, s:o, s:o, s:f}", "offer", name, "occasions",
                         h->occasions, "decayed", h->decayed, "first_purchase",
                         json_ts(h->first_ts), "last_purchase", json_ts(h->last_ts),
                         "mean_interval_days", indiv_history_mean_interval_days(h)));
    }
    return a;
}

char *indiv_profile_to_json(const indiv_profile *pr, const char *ext_id,
                            const indiv_catalog *cat, const indiv_profile_params *p,
                            const indiv_rhythm_prior *prior, int64_t t) {
    char feats[128];
    indiv_profile_features_format(pr->features, feats, sizeof feats);
    json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:s, s:s}", "consumer", ext_id, "as_of",
                          json_ts(pr->as_of), "evaluated_at", json_ts(t), "events_used",
                          (json_int_t)pr->n_events, "features", feats, "feature_space",
                          indiv_catalog_feature_source(cat));
    unsigned f = pr->features;
    if (o && (f & INDIV_FEAT_TASTE))
        json_object_set_new(o, "taste", taste_json(pr, cat));
    if (o && (f & INDIV_FEAT_RHYTHM))
        json_object_set_new(o, "rhythm", rhythm_json(pr, p, prior, t));
    if (o && (f & INDIV_FEAT_MOMENTS))
        json_object_set_new(o, "moments", moments_json(pr));
    if (o && (f & INDIV_FEAT_CHANNELS))
        json_object_set_new(o, "channels", channels_json(pr));
    if (o && (f & INDIV_FEAT_PRESSURE))
        json_object_set_new(o, "pressure", pressure_json(pr, p, t));
    if (o && (f & INDIV_FEAT_OPENNESS))
        json_object_set_new(o, "openness",
                            json_pack("{s:f, s:f, s:f}", "openness", pr->openness,
                                      "later_purchases", pr->later_purchases,
                                      "new_category_purchases",
                                      pr->new_category_purchases));
    if (o && (f & INDIV_FEAT_HISTORY))
        json_object_set_new(o, "history", history_json(pr, cat));
    char *txt =
        o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6))
          : NULL;
    json_decref(o);
    return txt;
}
