/*
 * simloop.c — the closed-loop simulation of the `sim` module (contract: simulate.h).
 *
 * State held in memory for the whole run, one entry per consumer: true traits (from
 * truth_consumers), true tastes with their state (known, latent, revealed, leaked),
 * annoyance, contact consent, activity, renewal clock. The event log on disk receives
 * every organic purchase, contact and reaction, so the engine reads them back exactly as
 * it reads a shop's log.
 *
 * Randomness: every draw comes from a stream seeded by (run seed, round, consumer,
 * purpose) (rng.h), so results do not depend on the order in which consumers are
 * processed or on the decision threads.
 */
#include "indiv/simulate.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/rng.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "indiv/train.h"

#define DAY  ((double)INDIV_SECONDS_PER_DAY)
#define HOUR 3600
/* Reference policies send at noon of the round's first day: no knowledge of moments. */
#define REFERENCE_SEND_OFFSET (12 * HOUR)
/* Minutes between a contact and the reactions it causes. */
#define OPEN_DELAY  (10 * 60)
#define CLICK_DELAY (15 * 60)
#define BUY_DELAY   (20 * 60)
/* Consumers in the pairs sampled for homogenisation (docs/architecture.md §8). */
#define HOMOGENISATION_PAIRS 2000
/* Taste-matched pairs: this many anchors, each matched with the most similar (cosine of
 * true tastes) of this many random candidates (Chaney, Stewart & Engelhardt 2018 pair
 * each user with the most similar one; a candidate pool bounds the work to
 * anchors × pool whatever the world's size). */
#define MATCHED_ANCHORS 1000
#define MATCHED_POOL    2000
/* Lloyd iterations of the persona policy's k-means. */
#define KMEANS_ITERATIONS 20
/* Draws from a category's popularity table before scanning for a valid offer. */
#define VALID_TRIES 16

enum { T_KNOWN = 0, T_LATENT = 1, T_REVEALED = 2, T_LEAKED = 3 };

/* ---- parameters ------------------------------------------------------------------ */

static const char *const policy_names[INDIV_SIM_POLICY_COUNT] = {
    "indiv", "indiv-no-serendipity", "indiv-no-threshold", "mass", "persona", "random",
    "oracle"};

#define INDIV_SIM_NAME(name, doc) #name,
#define INDIV_SIM_DOC(name, doc)  doc,
static const char *const metric_names[] = {INDIV_SIM_METRICS(INDIV_SIM_NAME)};
static const char *const metric_docs[] = {INDIV_SIM_METRICS(INDIV_SIM_DOC)};

const char *indiv_sim_policy_name(indiv_sim_policy p) {
    return (unsigned)p < INDIV_SIM_POLICY_COUNT ? policy_names[p] : "?";
}

int indiv_sim_policy_parse(const char *name, indiv_sim_policy *out) {
    for (int i = 0; i < INDIV_SIM_POLICY_COUNT; i++)
        if (strcmp(name, policy_names[i]) == 0) {
            *out = (indiv_sim_policy)i;
            return INDIV_OK;
        }
    return INDIV_EINVAL;
}

const char *indiv_sim_metric_name(int m) {
    return m >= 0 && m < INDIV_SIM_NMETRICS ? metric_names[m] : "?";
}

const char *indiv_sim_metric_doc(int m) {
    return m >= 0 && m < INDIV_SIM_NMETRICS ? metric_docs[m] : "?";
}

/* The simulation parameter table (issue 13: one table per parameter family): name,
 * integer or real, range, default (NAN: the policy's or the profile's own default, from
 * their tables), one-line meaning, and where the value lives. indiv_sim_params_init,
 * _set, _validate, _json, the study's assumption table and `indiv simulate --help` all
 * read it, so a new parameter is one row here (and its field in simulate.h). */
typedef struct named {
    const char *name;
    int is_int; /* 1 int, 0 double */
    double lo, hi;
    double def;
    const char *doc;
    size_t off; /* offset in indiv_sim_params */
} named;

#define S_(field, is_int, lo, hi, def, doc)                                              \
    { #field, is_int, lo, hi, def, doc, offsetof(indiv_sim_params, field) }
#define R_(field, lo, hi, def, doc)                                                      \
    { #field, 0, lo, hi, def, doc, offsetof(indiv_sim_params, response.field) }
/* Policy parameters that a sweep may grid over: kind, range, default and meaning come
 * from the policy's own table (policy.h), looked up by name in row() below. */
#define P_(name, field)                                                                  \
    { name, 0, NAN, NAN, NAN, NULL, offsetof(indiv_sim_params, policy_params.field) }
static const named params_by_name[] = {
    S_(rounds, 1, 1, 10000, 12, "rounds simulated"),
    S_(round_days, 0, 0.01, 3650, 7, "days per round"),
    S_(persona_k, 1, 1, 1000, 5, "segments of the persona policy"),
    S_(threads, 1, 1, INDIV_THREADS_MAX, 2,
       "decision threads (results do not depend on it)"),
    S_(trained, 1, 0, 1, 0, "1: the engine trains its own model in the loop"),
    S_(retrain_every, 1, 0, 10000, 0,
       "with trained: retrain every R rounds on all that was logged (0: once)"),
    S_(train_dims, 1, 1, INDIV_EMBEDDING_DIMS_MAX, 16,
       "embedding dimension of each training"),
    S_(train_iterations, 1, 1, 1000, 8, "ALS sweeps of each training"),
    P_("threshold", threshold),
    P_("serendipity", serendipity),
    P_("bubble", bubble),
    P_("floor", floor),
    P_("min_readiness", min_readiness),
    P_("per_days", per_days),
    P_("slots", slots),
    P_("max_contacts", max_contacts),
    {"half_life", 0, 1e-3, 1e6, NAN, "profiles: half-life of the taste decay, days",
     offsetof(indiv_sim_params, profile_params.half_life_days)},
    {"window", 0, 0, 1e6, NAN, "profiles: history window in days (0: all)",
     offsetof(indiv_sim_params, profile_params.window_days)},
    R_(irrelevant_utility, 0, 1, 0.05,
       "a contact is irrelevant when its best offer's true utility is below this"),
    R_(conversion_max, 0, 1, 0.3,
       "P(buy an offer | opened) = conversion_max × true utility"),
    R_(wrong_moment_factor, 0, 1, 0.5,
       "P(open) × this when sent away from the preferred hour"),
    R_(moment_window_hours, 0, 12, 2,
       "\"right moment\": within this many hours of the preferred hour"),
    R_(not_ready_factor, 0, 1, 0.5, "P(buy) × this shortly after a purchase"),
    R_(ready_fraction, 0, 10, 0.3,
       "\"shortly\": before this fraction of the person's mean interval"),
    R_(annoyance_per_irrelevant, 0, 1e6, 1.0, "annoyance added by an irrelevant contact"),
    R_(annoyance_per_contact, 0, 1e6, 0.1, "annoyance added by any contact"),
    R_(annoyance_decay, 0, 1, 0.9, "annoyance × this each round"),
    R_(fatigue_open_effect, 0, 1e6, 0.1, "P(open) × exp(−this × annoyance)"),
    R_(p_leave, 0, 1, 0.3,
       "at the tolerance: leave with this probability, else unsubscribe"),
    R_(leakage_per_round, 0, 1, 0.02,
       "P(an unrevealed latent need is met elsewhere), per round"),
    R_(organic_latent_discovery, 0, 1, 0.0,
       "P(a latent taste is discovered alone), per round"),
    R_(reveal_on_engagement, 0, 1, 0.1,
       "P(an opened, unbought offer of a latent taste is clicked and reveals it)"),
    R_(annoyance_per_unwanted_divergent, 0, 1e6, 0.5,
       "annoyance added per divergent offer below the irrelevant utility"),
    {"perfect_aim", 1, 0, 1, 0,
     "1: divergent offers aimed at the person's heaviest latent taste (the ceiling)",
     offsetof(indiv_sim_params, response.perfect_aim)},
};
#define NNAMED (sizeof params_by_name / sizeof params_by_name[0])

/* Row i with a policy parameter's kind and range filled in from the policy's table. */
static named row(size_t i) {
    named n = params_by_name[i];
    if (!n.doc) {
        const indiv_policy_param *pp = indiv_policy_param_find(n.name);
        assert(pp && (pp->kind == INDIV_PP_INT || pp->kind == INDIV_PP_REAL));
        n.is_int = pp->kind == INDIV_PP_INT;
        n.lo = pp->min;
        n.hi = pp->max;
    }
    return n;
}

static void put(indiv_sim_params *p, const named *n, double v) {
    if (n->is_int)
        *(int *)((char *)p + n->off) = (int)v;
    else
        *(double *)((char *)p + n->off) = v;
}

static double get(const indiv_sim_params *p, const named *n) {
    return n->is_int ? *(const int *)((const char *)p + n->off)
                     : *(const double *)((const char *)p + n->off);
}

void indiv_sim_params_init(indiv_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->policy = INDIV_SIM_INDIV;
    indiv_policy_params_init(&p->policy_params);
    /* τ on the best offer's propensity, not the engine's default `any`: with the
     * built-in model a consenting person's P(buys one of three offers) in a generated
     * world is about 0.316 or more (three non-personal offers at 0.119), so under `any`
     * the default τ 0.3 would barely act and the default-τ figures would lose most of
     * what they measure (measured: docs/sweep.md, "The threshold"). --set
     * relevance=any gives the engine's rule. */
    p->policy_params.relevance = INDIV_REL_BEST;
    indiv_profile_params_init(&p->profile_params);
    for (size_t i = 0; i < NNAMED; i++)
        if (!isnan(params_by_name[i].def))
            put(p, &params_by_name[i], params_by_name[i].def);
}

size_t indiv_sim_param_count(void) {
    return NNAMED;
}

int indiv_sim_param_at(size_t i, indiv_sim_param *out) {
    if (i >= NNAMED)
        return INDIV_EINVAL;
    const named r = row(i), *n = &r;
    indiv_sim_params d;
    indiv_sim_params_init(&d);
    const indiv_policy_param *pp = n->doc ? NULL : indiv_policy_param_find(n->name);
    *out = (indiv_sim_param){
        n->name, n->is_int,  n->lo,
        n->hi,   get(&d, n), n->doc ? n->doc : pp ? pp->doc : "engine parameter"};
    return INDIV_OK;
}

/* Compares names with '-' and '_' treated alike. */
static int same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
            return 0;
    return *a == *b;
}

static int set_special(indiv_sim_params *p, const char *name, const char *value,
                       indiv_error *err) {
    if (same_name(name, "policy")) {
        if (indiv_sim_policy_parse(value, &p->policy) < 0)
            return indiv_error_set(err, INDIV_EINVAL, "policy '%s' is unknown", value);
        return 1;
    }
    if (same_name(name, "divergence")) {
        if (indiv_divergence_parse(value, &p->policy_params.divergence) < 0)
            return indiv_error_set(err, INDIV_EINVAL, "divergence '%s' is unknown",
                                   value);
        return 1;
    }
    if (same_name(name, "seed")) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        /* strtoull takes "-1" as 2^64 - 1, and the seed is written as a JSON integer
         * (int64): refuse both, as the world generator does. */
        if (end == value || *end || errno == ERANGE || strchr(value, '-') ||
            v > INT64_MAX)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "seed '%s' is not an integer in [0, 2^63-1]", value);
        p->seed = v;
        return 1;
    }
    if (same_name(name, "features")) {
        if (indiv_profile_features_parse(value, &p->profile_params.features, err) < 0)
            return INDIV_EINVAL;
        return 1;
    }
    return 0;
}

int indiv_sim_params_set(indiv_sim_params *p, const char *name, const char *value,
                         indiv_error *err) {
    int rc = set_special(p, name, value, err);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    for (size_t i = 0; i < NNAMED; i++) {
        const named r = row(i), *n = &r;
        if (!same_name(name, n->name))
            continue;
        char *end;
        double v = strtod(value, &end);
        if (end == value || *end || !isfinite(v) || v < n->lo || v > n->hi ||
            (n->is_int && v != floor(v)))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "%s = '%s' is not a%s number in [%g, %g]", n->name,
                                   value, n->is_int ? "n integer" : "", n->lo, n->hi);
        put(p, n, v);
        p->threshold_set |= same_name(name, "threshold");
        return INDIV_OK;
    }
    /* The rest of the policy's table (divergence_aim, divergence_temperature,
     * plausibility, ...): parsed and range-checked by the table itself. */
    if (indiv_policy_param_find(name)) {
        rc = indiv_policy_params_set(&p->policy_params, name, value, err);
        p->relevance_set |= rc == INDIV_OK && same_name(name, "relevance");
        return rc;
    }
    return indiv_error_set(err, INDIV_EINVAL, "unknown simulation parameter '%s'", name);
}

int indiv_sim_params_validate(const indiv_sim_params *p, indiv_error *err) {
    for (size_t i = 0; i < NNAMED; i++) {
        const named r = row(i), *n = &r;
        double v = get(p, n);
        if (!(v >= n->lo && v <= n->hi))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "simulation parameter %s = %g is "
                                   "out of [%g, %g]",
                                   n->name, v, n->lo, n->hi);
    }
    if ((unsigned)p->policy >= INDIV_SIM_POLICY_COUNT)
        return indiv_error_set(err, INDIV_EINVAL, "unknown policy %d", (int)p->policy);
    if (p->seed > INT64_MAX)
        return indiv_error_set(err, INDIV_EINVAL,
                               "simulation parameter seed = %llu is out "
                               "of [0, 2^63-1]",
                               (unsigned long long)p->seed);
    int rc = indiv_policy_params_validate(&p->policy_params, err);
    return rc < 0 ? rc : indiv_profile_params_validate(&p->profile_params, err);
}

const char *indiv_sim_threshold_rule(const indiv_sim_params *p) {
    if (!p->trained || p->threshold_set)
        return NULL;
    if (p->relevance_set && p->policy_params.relevance != INDIV_REL_ANY)
        return "relevance best was given and the trained models' recommended threshold "
               "is for relevance any: the policy default (--threshold sets one)";
    return "each round, the recommended threshold of the model trained in the loop (its "
           "calibration, Youden's index), compared with relevance any as decide does "
           "(rounds.csv column threshold; --threshold overrides it)";
}

int indiv_sim_model_spec(const char *spec, indiv_sim_params *p, indiv_error *err) {
    if (strncmp(spec, "trained", 7) != 0 || (spec[7] != '\0' && spec[7] != ':'))
        return 0;
    int every = 0;
    if (spec[7] == ':') {
        if (strncmp(spec + 8, "every=", 6) != 0)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "model '%s': expected trained or trained:every=R",
                                   spec);
        indiv_sim_params q = *p;
        int rc = indiv_sim_params_set(&q, "retrain_every", spec + 14, err);
        if (rc < 0)
            return rc;
        every = q.retrain_every;
    }
    p->trained = 1;
    p->retrain_every = every;
    return 1;
}

char *indiv_sim_params_json(const indiv_sim_params *p) {
    json_t *o = json_object();
    for (size_t i = 0; i < NNAMED; i++) {
        const named r = row(i), *n = &r;
        json_object_set_new(o, n->name,
                            n->is_int
                                ? json_integer(*(const int *)((const char *)p + n->off))
                                : json_real(*(const double *)((const char *)p + n->off)));
    }
    char feats[128];
    indiv_profile_features_format(p->profile_params.features, feats, sizeof feats);
    json_object_set_new(o, "policy", json_string(indiv_sim_policy_name(p->policy)));
    json_object_set_new(o, "divergence",
                        json_string(indiv_divergence_name(p->policy_params.divergence)));
    json_object_set_new(
        o, "divergence_aim",
        json_string(indiv_divergence_aim_name(p->policy_params.divergence_aim)));
    json_object_set_new(o, "seed", json_integer((json_int_t)p->seed));
    json_object_set_new(o, "features", json_string(feats));
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(o);
    return txt;
}

/* ---- state ------------------------------------------------------------------------- */

typedef struct taste_e {
    int32_t cat;    /* dense category index */
    float w;        /* true weight */
    uint8_t state;  /* T_KNOWN, T_LATENT, T_REVEALED, T_LEAKED */
    int32_t bought; /* purchases in this category during the simulation */
} taste_e;

typedef struct sconsumer {
    int64_t id;
    double mean_days, shape, openness, tolerance, react[3];
    int pref_hour, pref_dow;
    uint32_t taste_off;
    uint16_t ntaste;
    uint8_t active, subscribed, consent_contact0, has_truth;
    unsigned channels;
    double annoyance;
    int64_t next_buy, last_buy;
    int64_t pending_ts; /* latest event appended and perhaps not yet in the profile */
    int32_t contacts;
    int32_t pair_slot; /* index in the homogenisation sample, or -1 */
} sconsumer;

typedef struct contact {
    int32_t ci; /* consumer index */
    int n;
    int32_t offer[INDIV_SLOTS_MAX];
    uint8_t divergent[INDIV_SLOTS_MAX];
    int channel;
    int64_t send_at;
} contact;

typedef struct sevent {
    int64_t consumer_id, ts, offer_id, seq;
    int type, channel;
    double quantity, value;
} sevent;

/* A growing array of anything. */
typedef struct vec {
    void *data;
    size_t n, cap, size;
} vec;

static void *vec_push(vec *v) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 1024;
        void *d = realloc(v->data, cap * v->size);
        if (!d)
            return NULL;
        v->data = d;
        v->cap = cap;
    }
    return (char *)v->data + v->size * v->n++;
}

/* A set of offer indices (sorted array), for sampled consumers' consumption. */
typedef struct iset {
    int32_t *v;
    int n, cap;
} iset;

typedef struct sim {
    const indiv_sim_params *p;
    const indiv_model *model;
    indiv_world_params wp;
    indiv_eventlog *log;
    indiv_catalog *cat;
    size_t nc, noff, ncat;
    sconsumer *c;
    taste_e *tastes;
    size_t ntastes;
    size_t *cat_first, *cat_offers; /* offers of category c: cat_offers[cat_first[c]..] */
    gsl_ran_discrete_t **cat_table; /* Zipf popularity within the category */
    gsl_rng *r;
    vec contacts, events;
    int64_t seq;
    /* per-round counters */
    double m[INDIV_SIM_NMETRICS];
    double seconds[INDIV_SIM_NTIMES], cpu[INDIV_SIM_NTIMES];
    double *offer_exposure;
    unsigned char *offer_bought;
    /* homogenisation sample: random pairs, then taste-matched pairs */
    int32_t (*pairs)[2];
    int npairs;
    int32_t (*matched)[2];
    int nmatched;
    size_t *scratch; /* noff offer indices (oracle's random choice) */
    iset *consumed;
    int nconsumed;
    int64_t latent_revealed_total;
    int64_t t0;        /* simulation start */
    indiv_profile_session *ses; /* the profile builds' state across rounds */
    indiv_plausibility *plaus;  /* the adjacent aim's co-purchase counts, kept up to date */
    int plaus_state;            /* 0: to count again, 1: kept, 2: the aim needs none */
    int32_t *catbuf;            /* ncat categories (indiv_policy_known_categories) */
    int64_t *touched;           /* consumers with pending events, ascending id */
    size_t ntouched;
    indiv_model own;   /* the engine's own model when p->trained */
    int model_version; /* trainings so far */
    int round;         /* the round being run (1-based) */
} sim;

static int find_consumer(const sim *s, int64_t id, size_t *i) {
    /* Generated worlds number consumers 1..N in order; fall back to a binary search. */
    if (id >= 1 && (size_t)id <= s->nc && s->c[id - 1].id == id) {
        *i = (size_t)id - 1;
        return 1;
    }
    size_t lo = 0, hi = s->nc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->c[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->nc && s->c[lo].id == id) {
        *i = lo;
        return 1;
    }
    return 0;
}

static int load_consumer_row(sim *s, const indiv_consumer_row *row) {
    if (s->nc % 1024 == 0) {
        sconsumer *c = realloc(s->c, (s->nc + 1024) * sizeof *c);
        if (!c)
            return INDIV_ENOMEM;
        s->c = c;
    }
    sconsumer *c = &s->c[s->nc++];
    memset(c, 0, sizeof *c);
    c->id = row->id;
    c->active = 1;
    c->subscribed = row->consent_contact && row->unsubscribed_ts == INDIV_TS_NONE;
    c->consent_contact0 = c->subscribed;
    c->channels = row->channels;
    c->last_buy = INDIV_TS_NONE;
    c->pending_ts = INDIV_TS_NONE;
    c->pair_slot = -1;
    return INDIV_OK;
}

static int load_consumers(sim *s, indiv_error *err) {
    indiv_consumer_cursor *cur;
    indiv_consumer_row row;
    indiv_profile_row prow;
    int has, rc = indiv_eventlog_consumer_scan(s->log, &cur, err);
    while (rc == INDIV_OK &&
           (rc = indiv_consumer_cursor_next(cur, &row, &prow, &has, err)) == 1)
        rc = load_consumer_row(s, &row);
    indiv_consumer_cursor_free(cur);
    if (rc == INDIV_ENOMEM)
        return indiv_error_set(err, rc, "out of memory loading consumers");
    return rc < 0 ? rc : INDIV_OK;
}

static int on_truth_consumer(void *ctx, const indiv_truth_consumer *t) {
    sim *s = ctx;
    size_t i;
    if (!find_consumer(s, t->consumer_id, &i))
        return INDIV_OK;
    sconsumer *c = &s->c[i];
    c->mean_days = t->interval_mean_days;
    c->shape = t->interval_shape;
    c->pref_hour = t->pref_hour;
    c->pref_dow = t->pref_dow;
    c->openness = t->openness;
    c->tolerance = t->fatigue_tolerance;
    memcpy(c->react, t->react, sizeof c->react);
    c->has_truth = 1;
    return INDIV_OK;
}

static int on_truth_taste(void *ctx, int64_t consumer_id, int64_t category_id, double w,
                          int latent) {
    sim *s = ctx;
    size_t i, cat;
    if (!find_consumer(s, consumer_id, &i) ||
        indiv_catalog_category_index(s->cat, category_id, &cat) < 0)
        return INDIV_OK;
    if (s->ntastes % 4096 == 0) {
        taste_e *t = realloc(s->tastes, (s->ntastes + 4096) * sizeof *t);
        if (!t)
            return INDIV_ENOMEM;
        s->tastes = t;
    }
    sconsumer *c = &s->c[i];
    if (c->ntaste == 0)
        c->taste_off = (uint32_t)s->ntastes;
    s->tastes[s->ntastes++] =
        (taste_e){(int32_t)cat, (float)w, latent ? T_LATENT : T_KNOWN, 0};
    c->ntaste++;
    return INDIV_OK;
}

static int on_last_purchase(void *ctx, int64_t consumer_id, int64_t ts) {
    sim *s = ctx;
    size_t i;
    if (find_consumer(s, consumer_id, &i))
        s->c[i].last_buy = ts;
    return INDIV_OK;
}

/* Offers grouped by category in id order, with the generator's Zipf popularity. */
static int build_category_tables(sim *s, indiv_error *err) {
    s->cat_first = calloc(s->ncat + 1, sizeof *s->cat_first);
    s->cat_offers = calloc(s->noff, sizeof *s->cat_offers);
    s->cat_table = calloc(s->ncat, sizeof *s->cat_table);
    double *w = calloc(s->noff, sizeof *w);
    if (!s->cat_first || !s->cat_offers || !s->cat_table || !w) {
        free(w);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < s->noff; j++)
        s->cat_first[indiv_catalog_offer(s->cat, j)->category + 1]++;
    for (size_t c = 0; c < s->ncat; c++)
        s->cat_first[c + 1] += s->cat_first[c];
    size_t *fill = calloc(s->ncat, sizeof *fill);
    for (size_t j = 0; fill && j < s->noff; j++) {
        size_t c = indiv_catalog_offer(s->cat, j)->category;
        s->cat_offers[s->cat_first[c] + fill[c]++] = j;
    }
    int rc = fill ? INDIV_OK : INDIV_ENOMEM;
    for (size_t c = 0; rc == INDIV_OK && c < s->ncat; c++) {
        size_t n = s->cat_first[c + 1] - s->cat_first[c];
        for (size_t k = 0; k < n; k++) /* rank k+1 within the category (docs/worlds.md) */
            w[k] = pow((double)(k + 1), -s->wp.offer_zipf);
        if (n && !(s->cat_table[c] = gsl_ran_discrete_preproc(n, w)))
            rc = INDIV_ENOMEM;
    }
    free(fill);
    free(w);
    return rc < 0 ? indiv_error_set(err, rc, "out of memory") : INDIV_OK;
}

static int load_world_params(sim *s, indiv_error *err) {
    char *buf = malloc(65536);
    if (!buf)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = indiv_eventlog_meta_get(s->log, "world_params", buf, 65536, err);
    if (rc == INDIV_ENOTFOUND)
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "%s: not a generated world (no world parameters, no ground "
                             "truth); simulate needs a world from indiv generate",
                             indiv_eventlog_path(s->log));
    if (rc == INDIV_OK)
        rc = indiv_world_params_from_json(buf, &s->wp, err);
    free(buf);
    return rc;
}

/* ---- events ------------------------------------------------------------------------ */

static int emit(sim *s, const sconsumer *c, int64_t ts, size_t offer, int type,
                int channel, double value) {
    sevent *e = vec_push(&s->events);
    if (!e)
        return INDIV_ENOMEM;
    *e = (sevent){
        c->id,    ts,   offer == (size_t)-1 ? 0 : indiv_catalog_offer(s->cat, offer)->id,
        s->seq++, type, channel,
        1,        value};
    return INDIV_OK;
}

static int by_consumer_time(const void *a, const void *b) {
    const sevent *x = a, *y = b;
    if (x->consumer_id != y->consumer_id)
        return x->consumer_id < y->consumer_id ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Appends the round's events in storage order (an append to the clustered table), and
 * marks their consumers for the next profile build. */
static int flush_events(sim *s, indiv_error *err) {
    qsort(s->events.data, s->events.n, sizeof(sevent), by_consumer_time);
    int rc = INDIV_OK;
    size_t ci = 0;
    for (size_t k = 0; rc == INDIV_OK && k < s->events.n; k++) {
        const sevent *e = (const sevent *)s->events.data + k;
        indiv_event ev = {e->consumer_id, e->ts,      0,           e->offer_id,
                          e->type,        e->channel, e->quantity, e->value};
        rc = indiv_eventlog_add_event(s->log, &ev, err);
        if (rc == INDIV_OK && (s->c[ci].id == e->consumer_id ||
                               find_consumer(s, e->consumer_id, &ci))) {
            sconsumer *c = &s->c[ci];
            c->pending_ts = c->pending_ts > e->ts ? c->pending_ts : e->ts;
        }
    }
    s->events.n = 0;
    return rc;
}

/* The consumers whose events may not be in their profiles yet: the candidates of the
 * next incremental build (indiv_profile_build_session), in ascending id. */
static int list_touched(sim *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->nc; i++)
        n += s->c[i].pending_ts != INDIV_TS_NONE;
    int64_t *ids = realloc(s->touched, (n ? n : 1) * sizeof *ids);
    if (!ids)
        return INDIV_ENOMEM;
    s->touched = ids;
    s->ntouched = 0;
    for (size_t i = 0; i < s->nc; i++)
        if (s->c[i].pending_ts != INDIV_TS_NONE)
            ids[s->ntouched++] = s->c[i].id;
    return INDIV_OK;
}

/* After a build as of t: events before t are in the profiles; later ones (a reaction
 * just past a round's end) wait for the next build. */
static void clear_touched(sim *s, int64_t t) {
    for (size_t i = 0; i < s->nc; i++)
        if (s->c[i].pending_ts != INDIV_TS_NONE && s->c[i].pending_ts < t)
            s->c[i].pending_ts = INDIV_TS_NONE;
}

/* ---- organic behaviour ------------------------------------------------------------- */

static double interval_days(const sconsumer *c, gsl_rng *r, double min_days) {
    double x = gsl_ran_gamma(r, c->shape, c->mean_days / c->shape);
    return x < min_days ? min_days : x;
}

/* The generator's moments: the preferred hour (spread hour_sd) except for a share of
 * random hours (docs/worlds.md). */
static int64_t at_moment(const sim *s, const sconsumer *c, gsl_rng *r, int64_t ts) {
    int64_t day =
        ts - (ts % INDIV_SECONDS_PER_DAY + INDIV_SECONDS_PER_DAY) % INDIV_SECONDS_PER_DAY;
    double h = gsl_rng_uniform(r) < s->wp.p_random_hour
                   ? 24 * gsl_rng_uniform(r)
                   : c->pref_hour + 0.5 + gsl_ran_gaussian(r, s->wp.hour_sd);
    h = fmod(fmod(h, 24) + 24, 24);
    return day + (int64_t)(h * HOUR);
}

/* An offer of category cat valid at ts, by popularity; -1 when none is valid. */
static size_t pick_offer(const sim *s, gsl_rng *r, size_t cat, int64_t ts) {
    size_t first = s->cat_first[cat], n = s->cat_first[cat + 1] - first;
    if (n == 0)
        return (size_t)-1;
    for (int k = 0; k < VALID_TRIES; k++) {
        size_t j = s->cat_offers[first + gsl_ran_discrete(r, s->cat_table[cat])];
        if (indiv_catalog_valid_at(s->cat, j, ts))
            return j;
    }
    for (size_t k = 0; k < n; k++)
        if (indiv_catalog_valid_at(s->cat, s->cat_offers[first + k], ts))
            return s->cat_offers[first + k];
    return (size_t)-1;
}

/* A known (or revealed) taste drawn by weight; NULL when the consumer has none. */
static taste_e *pick_known_taste(sim *s, const sconsumer *c, gsl_rng *r) {
    double total = 0;
    taste_e *t = s->tastes + c->taste_off;
    for (int k = 0; k < c->ntaste; k++)
        total += (t[k].state == T_KNOWN || t[k].state == T_REVEALED) ? t[k].w : 0;
    double u = gsl_rng_uniform(r) * total;
    taste_e *last = NULL;
    for (int k = 0; k < c->ntaste; k++) {
        if (t[k].state != T_KNOWN && t[k].state != T_REVEALED)
            continue;
        last = &t[k];
        if (u < t[k].w)
            return &t[k];
        u -= t[k].w;
    }
    return last;
}

static void record_purchase(sim *s, sconsumer *c, taste_e *t, size_t offer, int64_t ts,
                            double value) {
    t->bought++;
    s->m[INDIV_M_revenue] += value;
    s->offer_bought[offer] = 1;
    if (ts > c->last_buy || c->last_buy == INDIV_TS_NONE)
        c->last_buy = ts;
    if (c->pair_slot >= 0) {
        iset *set = &s->consumed[c->pair_slot];
        for (int k = 0; k < set->n; k++)
            if (set->v[k] == (int32_t)offer)
                return;
        if (set->n == set->cap) {
            int cap = set->cap ? 2 * set->cap : 16;
            int32_t *v = realloc(set->v, (size_t)cap * sizeof *v);
            if (!v)
                return; /* the sample loses one item; metrics stay defined */
            set->v = v;
            set->cap = cap;
        }
        set->v[set->n++] = (int32_t)offer;
    }
}

/* One organic purchase (and the views before it) at ts, in the round that starts at
 * from. Nothing is written before from: the round's profiles and decisions were made as
 * of from, and an event older than the last profile build forces the next one to be a
 * full rebuild (profile.h). So, as the generator does at the start of the history, a
 * view that would fall before from is dropped and a purchase that the moment would move
 * before from keeps its raw time. */
static int organic_purchase(sim *s, sconsumer *c, gsl_rng *r, int64_t ts, int64_t from) {
    taste_e *t = pick_known_taste(s, c, r);
    if (!t)
        return INDIV_OK;
    int64_t moved = at_moment(s, c, r, ts);
    ts = moved >= from ? moved : ts;
    size_t offer = pick_offer(s, r, (size_t)t->cat, ts);
    if (offer == (size_t)-1)
        return INDIV_OK;
    unsigned views = gsl_ran_poisson(r, s->wp.views_per_purchase);
    for (unsigned v = 0; v < views; v++) {
        int64_t vts =
            ts - (int64_t)(60 * gsl_ran_exponential(r, s->wp.view_lead_minutes)) - 1;
        size_t seen = pick_offer(s, r, (size_t)t->cat, vts);
        if (seen != (size_t)-1 && vts >= from &&
            emit(s, c, vts, seen, INDIV_EV_VIEW, INDIV_CH_WEB, 0) < 0)
            return INDIV_ENOMEM;
    }
    double price = indiv_catalog_offer(s->cat, offer)->price;
    record_purchase(s, c, t, offer, ts, price);
    return emit(s, c, ts, offer, INDIV_EV_PURCHASE, INDIV_CH_WEB, price);
}

/* Renewal purchases of consumer c in [from, to). */
static int organic_round(sim *s, sconsumer *c, gsl_rng *r, int64_t from, int64_t to) {
    int rc = INDIV_OK;
    while (rc == INDIV_OK && c->next_buy < to) {
        if (c->next_buy >= from)
            rc = organic_purchase(s, c, r, c->next_buy, from);
        c->next_buy += (int64_t)(interval_days(c, r, s->wp.interval_min_days) * DAY);
    }
    return rc;
}

/* Latent needs met elsewhere (leakage), or discovered alone (organic discovery). */
static void latent_drift(sim *s, sconsumer *c, gsl_rng *r) {
    taste_e *t = s->tastes + c->taste_off;
    for (int k = 0; k < c->ntaste; k++) {
        if (t[k].state != T_LATENT)
            continue;
        double u = gsl_rng_uniform(r);
        if (u < s->p->response.leakage_per_round) {
            t[k].state = T_LEAKED;
            s->m[INDIV_M_leakage]++;
        } else if (u < s->p->response.leakage_per_round +
                           s->p->response.organic_latent_discovery) {
            t[k].state = T_REVEALED;
        }
    }
}

/* Starts each consumer's renewal clock at the end of the history. */
static void start_clocks(sim *s) {
    for (size_t i = 0; i < s->nc; i++) {
        sconsumer *c = &s->c[i];
        if (!c->has_truth) {
            c->active = 0; /* no truth: nothing to simulate */
            continue;
        }
        indiv_rng_reseed(s->r, s->p->seed, (uint64_t)c->id, INDIV_RNG_SIM_ORGANIC);
        int64_t t = c->last_buy != INDIV_TS_NONE
                        ? c->last_buy
                        : s->t0 - (int64_t)(gsl_rng_uniform(s->r) * c->mean_days * DAY);
        do
            t += (int64_t)(interval_days(c, s->r, s->wp.interval_min_days) * DAY);
        while (t < s->t0);
        c->next_buy = t;
    }
}

/* ---- policies ---------------------------------------------------------------------- */

static int eligible(const sconsumer *c) {
    return c->has_truth && c->subscribed && (c->channels & INDIV_CH_CONTACTABLE);
}

static int first_channel(unsigned mask) {
    for (int ch = INDIV_CH_EMAIL; ch <= INDIV_CH_PUSH; ch++)
        if (mask & INDIV_CH_BIT(ch))
            return ch;
    return INDIV_CH_EMAIL;
}

static int push_contact(sim *s, size_t ci, const int32_t *offers, const uint8_t *div,
                        int n, int channel, int64_t send_at) {
    contact *k = vec_push(&s->contacts);
    if (!k)
        return INDIV_ENOMEM;
    memset(k, 0, sizeof *k);
    k->ci = (int32_t)ci;
    k->n = n;
    memcpy(k->offer, offers, (size_t)n * sizeof *offers);
    if (div)
        memcpy(k->divergent, div, (size_t)n);
    k->channel = channel;
    k->send_at = send_at;
    return INDIV_OK;
}

/* The ceiling of aiming a divergent offer: the most popular valid offer of the person's
 * heaviest latent, unrevealed taste (the truth, which no engine knows); the engine's
 * own offer when none is left. */
static int32_t perfect_aim(const sim *s, const sconsumer *c, int32_t offer, int64_t t) {
    const taste_e *tt = s->tastes + c->taste_off, *best = NULL;
    for (int k = 0; k < c->ntaste; k++)
        if (tt[k].state == T_LATENT && (!best || tt[k].w > best->w))
            best = &tt[k];
    if (!best)
        return offer;
    size_t first = s->cat_first[best->cat], cnt = s->cat_first[best->cat + 1] - first;
    for (size_t q = 0; q < cnt; q++)
        if (indiv_catalog_valid_at(s->cat, s->cat_offers[first + q], t))
            return (int32_t)s->cat_offers[first + q];
    return offer;
}

/* indiv decisions arrive here, in consumer order (decide.h). */
static int on_decision(void *ctx, const indiv_decision *d, const char *ext_id) {
    sim *s = ctx;
    size_t ci;
    (void)ext_id;
    if (d->action != INDIV_CONTACT || !find_consumer(s, d->consumer_id, &ci))
        return 0;
    int32_t offers[INDIV_SLOTS_MAX];
    uint8_t div[INDIV_SLOTS_MAX];
    for (int k = 0; k < d->n_offers; k++) {
        offers[k] = (int32_t)d->offers[k].offer;
        div[k] = d->offers[k].kind == INDIV_KIND_DIVERGENT;
        if (div[k] && s->p->response.perfect_aim)
            offers[k] = perfect_aim(s, &s->c[ci], offers[k], d->send_at);
    }
    return push_contact(s, ci, offers, div, d->n_offers, d->channel, d->send_at) < 0
               ? INDIV_ENOMEM
               : 0;
}

/* τ of the engine's policies with a model trained in the loop and no threshold given
 * (indiv_sim_threshold_rule): the model's recommended τ under relevance `any` (unless a
 * relevance was given), else the policy default, by decide's own rule. */
static void model_threshold(const sim *s, indiv_decide_opts *o) {
    const indiv_sim_params *p = s->p;
    if (!p->trained || p->threshold_set || s->model_version == 0 ||
        (p->policy != INDIV_SIM_INDIV && p->policy != INDIV_SIM_NO_SERENDIPITY))
        return;
    if (!p->relevance_set)
        o->policy.relevance = INDIV_REL_ANY;
    indiv_decide_default_threshold(o, s->model);
}

/* The options of the round's indiv decisions at t. */
static void indiv_opts(const sim *s, int64_t t, indiv_decide_opts *o) {
    indiv_decide_opts_init(o);
    o->policy = s->p->policy_params;
    o->policy.as_of = t;
    o->policy.seed = indiv_rng_derive(s->p->seed, (uint64_t)t, INDIV_RNG_DIVERGENCE);
    model_threshold(s, o);
    if (s->p->policy == INDIV_SIM_NO_SERENDIPITY)
        o->policy.serendipity = 0;
    if (s->p->policy == INDIV_SIM_NO_THRESHOLD)
        o->policy.threshold = 0;
    o->threads = s->p->threads;
    o->plaus = s->plaus;
}

/* A profile the build rewrote: its person's co-purchases move in the counts (integer
 * counts: the table stays what counting every profile again would give). */
static void on_profile_change(void *ctx, const indiv_profile *before,
                              const indiv_profile *after) {
    sim *s = ctx;
    const int32_t *kc;
    size_t n;
    if (before && (n = indiv_policy_known_categories(before, s->cat, s->catbuf, s->ncat,
                                                     &kc)) > 0)
        indiv_plausibility_remove(s->plaus, kc, n);
    if ((n = indiv_policy_known_categories(after, s->cat, s->catbuf, s->ncat, &kc)) > 0)
        indiv_plausibility_add(s->plaus, kc, n);
}

/* The co-purchase counts of the indiv decisions (indiv_decide_plausibility), counted
 * over every profile after a full build, else kept by on_profile_change, so that the
 * decisions do not count them again each round. */
static int count_plausibility(sim *s, int64_t t, const indiv_profile_summary *sum,
                              indiv_error *err) {
    if (s->plaus_state == 2 || (s->plaus_state == 1 && sum->incremental &&
                                sum->dropped_consent == 0))
        return INDIV_OK;
    indiv_decide_opts o;
    indiv_plausibility_free(s->plaus);
    s->plaus = NULL;
    indiv_opts(s, t, &o);
    int rc = indiv_decide_plausibility(s->log, s->model, &o, &s->plaus, err);
    s->plaus_state = rc < 0 ? 0 : s->plaus ? 1 : 2;
    return rc;
}

/* Incremental build as of t. The first build of the run finds the stale consumers with
 * the query over every consumer (the world's profiles may be of any age); later ones
 * take the consumers the loop appended events for (profile.h). */
static int build_profiles(sim *s, int64_t t, indiv_error *err) {
    indiv_profile_params pp = s->p->profile_params;
    pp.as_of = t;
    int first = s->round == 1, indiv = s->p->policy != INDIV_SIM_PERSONA;
    if (!first && list_touched(s) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    indiv_profile_summary sum;
    int keep = indiv && s->plaus_state == 1;
    int rc = indiv_profile_build_session(
        s->log, s->cat, &pp, s->ses, first ? NULL : s->touched, s->ntouched,
        keep ? on_profile_change : NULL, s, &sum, err);
    if (rc == INDIV_OK)
        clear_touched(s, t);
    if (rc == INDIV_OK && indiv)
        rc = count_plausibility(s, t, &sum, err);
    return rc;
}

/* Profiles are already built as of t (decide_round). */
static int policy_indiv(sim *s, int64_t t, indiv_error *err) {
    indiv_decide_opts o;
    indiv_decide_summary sum;
    indiv_opts(s, t, &o);
    s->m[INDIV_M_threshold] = o.policy.threshold;
    o.on_decision = on_decision;
    o.ctx = s;
    if (s->p->log_decisions && s->p->policy == INDIV_SIM_INDIV && s->round == s->p->rounds)
        o.out_path = s->p->log_decisions; /* the logged run of ope.h */
    return indiv_decide_run(s->log, s->model, &o, NULL, NULL, &sum, err);
}

/* The k valid offers with the largest key (ties: catalog order). */
static int top_offers(const sim *s, const double *key, int64_t t, int k, int32_t *out) {
    int n = 0;
    for (size_t j = 0; j < s->noff; j++) {
        if (!indiv_catalog_valid_at(s->cat, j, t))
            continue;
        int pos = n < k ? n : k;
        while (pos > 0 && key[out[pos - 1]] < key[j])
            pos--;
        if (pos >= k)
            continue;
        int last = n < k ? n : k - 1;
        memmove(out + pos + 1, out + pos, (size_t)(last - pos) * sizeof *out);
        out[pos] = (int32_t)j;
        if (n < k)
            n++;
    }
    return n;
}

/* Popularity logit c_j of every offer (the model's non-personal part). */
static int offer_logits(sim *s, int64_t t, double *c, indiv_error *err) {
    int rc = indiv_catalog_load_popularity(s->cat, s->log, t,
                                           s->model->popularity_half_life_days, err);
    const double *pop = indiv_catalog_popularity(s->cat);
    for (size_t j = 0; rc == INDIV_OK && j < s->noff; j++)
        c[j] = s->model->intercept + s->model->weight[INDIV_TERM_POPULARITY] * pop[j];
    return rc;
}

/* The same top-k offers for everyone, by decayed popularity itself: not through the
 * model's popularity weight, whose sign and size a trained model fits (at 0 every offer
 * would tie and the catalog's first ones would go out). */
static int policy_mass(sim *s, int64_t t, indiv_error *err) {
    int32_t top[INDIV_SLOTS_MAX];
    int rc = indiv_catalog_load_popularity(s->cat, s->log, t,
                                           s->model->popularity_half_life_days, err);
    const double *c = indiv_catalog_popularity(s->cat);
    int n = rc == INDIV_OK ? top_offers(s, c, t, s->p->policy_params.slots, top) : 0;
    for (size_t i = 0; rc == INDIV_OK && n > 0 && i < s->nc; i++)
        if (eligible(&s->c[i]))
            rc = push_contact(s, i, top, NULL, n, first_channel(s->c[i].channels),
                              t + REFERENCE_SEND_OFFSET);
    return rc == INDIV_ENOMEM ? indiv_error_set(err, rc, "out of memory") : rc;
}

static int policy_random(sim *s, int64_t t, uint64_t round_seed, indiv_error *err) {
    size_t *valid = malloc(s->noff * sizeof *valid), nv = 0;
    if (!valid)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t j = 0; j < s->noff; j++)
        if (indiv_catalog_valid_at(s->cat, j, t))
            valid[nv++] = j;
    int k = s->p->policy_params.slots < (int)nv ? s->p->policy_params.slots : (int)nv,
        rc = 0;
    size_t pick[INDIV_SLOTS_MAX];
    int32_t offers[INDIV_SLOTS_MAX];
    for (size_t i = 0; rc == INDIV_OK && k > 0 && i < s->nc; i++) {
        if (!eligible(&s->c[i]))
            continue;
        indiv_rng_reseed(s->r, round_seed, (uint64_t)s->c[i].id, INDIV_RNG_SIM_POLICY);
        gsl_ran_choose(s->r, pick, (size_t)k, valid, nv, sizeof *valid);
        for (int q = 0; q < k; q++)
            offers[q] = (int32_t)pick[q];
        rc = push_contact(s, i, offers, NULL, k, first_channel(s->c[i].channels),
                          t + REFERENCE_SEND_OFFSET);
    }
    free(valid);
    return rc == INDIV_ENOMEM ? indiv_error_set(err, rc, "out of memory") : rc;
}

/* True utility of offer j for consumer c: the weight of its category among the person's
 * true tastes (latent ones included; a need met elsewhere is worth nothing here). */
static double utility(const sim *s, const sconsumer *c, size_t j, taste_e **which) {
    size_t cat = indiv_catalog_offer(s->cat, j)->category;
    taste_e *t = s->tastes + c->taste_off;
    *which = NULL;
    for (int k = 0; k < c->ntaste; k++)
        if ((size_t)t[k].cat == cat) {
            *which = &t[k];
            return t[k].state == T_LEAKED ? 0 : t[k].w;
        }
    return 0;
}

static int best_react_channel(const sconsumer *c) {
    int best = first_channel(c->channels);
    for (int ch = INDIV_CH_EMAIL; ch <= INDIV_CH_PUSH; ch++)
        if ((c->channels & INDIV_CH_BIT(ch)) && c->react[ch - 1] > c->react[best - 1])
            best = ch;
    return best;
}

/* The next preferred hour at or after t. */
static int64_t next_pref_hour(const sconsumer *c, int64_t t) {
    int64_t h = (t + HOUR - 1) / HOUR * HOUR;
    for (int k = 0; k < 24; k++, h += HOUR)
        if (indiv_time_hour(h) == c->pref_hour)
            return h;
    return t;
}

/* Up to `want` valid offers of category cat at t, drawn at random without replacement
 * (every offer of a category has the same true utility: ties broken at random, not by
 * popularity, so that the oracle does not homogenise by itself; Chaney, Stewart &
 * Engelhardt 2018's ideal recommender). Returns how many were written to out. */
static int random_valid_offers(sim *s, size_t cat, int64_t t, int want, int32_t *out) {
    size_t first = s->cat_first[cat], cnt = s->cat_first[cat + 1] - first, nv = 0;
    for (size_t q = 0; q < cnt; q++)
        if (indiv_catalog_valid_at(s->cat, s->cat_offers[first + q], t))
            s->scratch[nv++] = s->cat_offers[first + q];
    int m = 0;
    for (; m < want && (size_t)m < nv; m++) { /* partial Fisher-Yates */
        size_t j = (size_t)m + gsl_rng_uniform_int(s->r, nv - (size_t)m);
        size_t x = s->scratch[m];
        s->scratch[m] = s->scratch[j];
        s->scratch[j] = x;
        out[m] = (int32_t)s->scratch[m];
    }
    return m;
}

/* The oracle: offers of highest true utility (random valid offers of the person's best
 * categories), at the right moment, on the best channel, and only when the best offer
 * is relevant. */
static int oracle_one(sim *s, size_t i, int64_t t, uint64_t round_seed) {
    sconsumer *c = &s->c[i];
    const taste_e *tt = s->tastes + c->taste_off;
    int order[64], n = c->ntaste < 64 ? c->ntaste : 64;
    for (int k = 0; k < n; k++)
        order[k] = k;
    for (int a = 1; a < n; a++) /* insertion sort by weight, descending */
        for (int b = a; b > 0 && tt[order[b]].w > tt[order[b - 1]].w; b--) {
            int x = order[b];
            order[b] = order[b - 1];
            order[b - 1] = x;
        }
    int32_t offers[INDIV_SLOTS_MAX];
    int m = 0, slots = s->p->policy_params.slots;
    double best = 0;
    indiv_rng_reseed(s->r, round_seed, (uint64_t)c->id, INDIV_RNG_SIM_POLICY);
    for (int k = 0; k < n && m < slots; k++) {
        const taste_e *te = &tt[order[k]];
        if (te->state == T_LEAKED || te->w < s->p->response.irrelevant_utility)
            continue;
        best = best > te->w ? best : te->w;
        m += random_valid_offers(s, (size_t)te->cat, t, slots - m, offers + m);
    }
    if (m == 0 || best < s->p->response.irrelevant_utility)
        return INDIV_OK;
    return push_contact(s, i, offers, NULL, m, best_react_channel(c),
                        next_pref_hour(c, t));
}

static int policy_oracle(sim *s, int64_t t, uint64_t round_seed, indiv_error *err) {
    int rc = INDIV_OK;
    for (size_t i = 0; rc == INDIV_OK && i < s->nc; i++)
        if (eligible(&s->c[i]) && s->c[i].active)
            rc = oracle_one(s, i, t, round_seed);
    return rc < 0 ? indiv_error_set(err, rc, "out of memory") : rc;
}

/* ---- persona: k segments of profiles ----------------------------------------------- */

/* Profiles' taste shares (rows of x, d wide) and their consumer indices. */
typedef struct personas {
    size_t n, d, k;
    double *x, *centre;
    size_t *ci, *label;
} personas;

static void personas_free(personas *p) {
    free(p->x);
    free(p->centre);
    free(p->ci);
    free(p->label);
}

static int personas_load(sim *s, personas *ps, indiv_error *err) {
    indiv_profile_cursor *cur;
    indiv_profile_row row;
    indiv_profile pr;
    size_t cap = 0;
    int rc = indiv_eventlog_profile_scan(s->log, &cur, err);
    indiv_profile_init(&pr);
    ps->d = indiv_catalog_dims(s->cat);
    while (rc == INDIV_OK && (rc = indiv_profile_cursor_next(cur, &row, err)) == 1) {
        size_t ci;
        if ((rc = indiv_profile_decode(&row, &pr, err)) < 0 ||
            !find_consumer(s, row.consumer_id, &ci) || pr.dims != ps->d)
            continue;
        if (ps->n == cap) {
            cap = cap ? 2 * cap : 1024;
            double *x = realloc(ps->x, cap * ps->d * sizeof *x);
            size_t *c = x ? realloc(ps->ci, cap * sizeof *c) : NULL;
            if (x)
                ps->x = x;
            if (!x || !c) {
                rc = INDIV_ENOMEM;
                break;
            }
            ps->ci = c;
        }
        double *x = ps->x + ps->n * ps->d, mass = 0;
        for (size_t j = 0; j < ps->d; j++)
            mass += pr.taste[j] > 0 ? pr.taste[j] : 0;
        for (size_t j = 0; j < ps->d; j++)
            x[j] = mass > 0 && pr.taste[j] > 0 ? pr.taste[j] / mass : 0;
        ps->ci[ps->n++] = ci;
    }
    indiv_profile_clear(&pr);
    indiv_profile_cursor_free(cur);
    if (rc == INDIV_ENOMEM)
        return indiv_error_set(err, rc, "out of memory");
    return rc < 0 ? rc : INDIV_OK;
}

static double dist2(const double *a, const double *b, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

/* k-means++ seeding (Arthur & Vassilvitskii 2007) from the round's stream. */
static void kmeans_seed(personas *ps, gsl_rng *r) {
    double *dmin = malloc(ps->n * sizeof *dmin);
    size_t first = gsl_rng_uniform_int(r, ps->n);
    memcpy(ps->centre, ps->x + first * ps->d, ps->d * sizeof(double));
    for (size_t i = 0; dmin && i < ps->n; i++)
        dmin[i] = dist2(ps->x + i * ps->d, ps->centre, ps->d);
    for (size_t c = 1; dmin && c < ps->k; c++) {
        double total = 0;
        for (size_t i = 0; i < ps->n; i++)
            total += dmin[i];
        double u = gsl_rng_uniform(r) * total;
        size_t pick = ps->n - 1;
        for (size_t i = 0; i < ps->n; i++)
            if ((u -= dmin[i]) < 0) {
                pick = i;
                break;
            }
        memcpy(ps->centre + c * ps->d, ps->x + pick * ps->d, ps->d * sizeof(double));
        for (size_t i = 0; i < ps->n; i++) {
            double dd = dist2(ps->x + i * ps->d, ps->centre + c * ps->d, ps->d);
            dmin[i] = dd < dmin[i] ? dd : dmin[i];
        }
    }
    free(dmin);
}

/* Lloyd's algorithm (Lloyd 1982), a fixed number of iterations. */
static void kmeans(personas *ps, gsl_rng *r) {
    kmeans_seed(ps, r);
    size_t *count = calloc(ps->k, sizeof *count);
    for (int it = 0; count && it < KMEANS_ITERATIONS; it++) {
        for (size_t i = 0; i < ps->n; i++) {
            size_t best = 0;
            for (size_t c = 1; c < ps->k; c++)
                if (dist2(ps->x + i * ps->d, ps->centre + c * ps->d, ps->d) <
                    dist2(ps->x + i * ps->d, ps->centre + best * ps->d, ps->d))
                    best = c;
            ps->label[i] = best;
        }
        memset(count, 0, ps->k * sizeof *count);
        for (size_t i = 0; i < ps->n; i++)
            count[ps->label[i]]++;
        for (size_t c = 0; c < ps->k; c++)
            if (count[c])
                memset(ps->centre + c * ps->d, 0, ps->d * sizeof(double));
        for (size_t i = 0; i < ps->n; i++)
            for (size_t j = 0; count[ps->label[i]] && j < ps->d; j++)
                ps->centre[ps->label[i] * ps->d + j] +=
                    ps->x[i * ps->d + j] / (double)count[ps->label[i]];
    }
    free(count);
}

/* Segment c's offers: the model's logit of the centroid, top k. */
static int segment_offers(sim *s, const personas *ps, size_t c, const double *logit0,
                          int64_t t, int32_t *out) {
    double *key = malloc(s->noff * sizeof *key);
    if (!key)
        return -1;
    const double *centre = ps->centre + c * ps->d;
    for (size_t j = 0; j < s->noff; j++) {
        const double *f = indiv_catalog_features(s->cat, j);
        double aff = 0;
        for (size_t q = 0; q < ps->d; q++)
            aff += centre[q] * f[q];
        key[j] = logit0[j] + s->model->weight[INDIV_TERM_AFFINITY] * aff;
    }
    int n = top_offers(s, key, t, s->p->policy_params.slots, out);
    free(key);
    return n;
}

static int policy_persona(sim *s, int64_t t, uint64_t round_seed, indiv_error *err) {
    personas ps = {0};
    double *logit0 = malloc(s->noff * sizeof *logit0);
    int rc = logit0 ? INDIV_OK : INDIV_ENOMEM; /* profiles: built by decide_round */
    if (rc == INDIV_OK)
        rc = personas_load(s, &ps, err);
    if (rc == INDIV_OK)
        rc = offer_logits(s, t, logit0, err);
    ps.k = ps.n < (size_t)s->p->persona_k ? ps.n : (size_t)s->p->persona_k;
    if (rc == INDIV_OK && ps.k > 0) {
        ps.centre = calloc(ps.k * ps.d, sizeof *ps.centre);
        ps.label = calloc(ps.n, sizeof *ps.label);
        if (!ps.centre || !ps.label)
            rc = INDIV_ENOMEM;
    }
    if (rc == INDIV_OK && ps.k > 0) {
        indiv_rng_reseed(s->r, round_seed, 0, INDIV_RNG_SIM_POLICY);
        kmeans(&ps, s->r);
        int32_t seg[INDIV_SLOTS_MAX];
        for (size_t c = 0; rc == INDIV_OK && c < ps.k; c++) {
            int n = segment_offers(s, &ps, c, logit0, t, seg);
            for (size_t i = 0; rc == INDIV_OK && n > 0 && i < ps.n; i++)
                if (ps.label[i] == c && eligible(&s->c[ps.ci[i]]))
                    rc = push_contact(s, ps.ci[i], seg, NULL, n,
                                      first_channel(s->c[ps.ci[i]].channels),
                                      t + REFERENCE_SEND_OFFSET);
        }
    }
    personas_free(&ps);
    free(logit0);
    if (rc == INDIV_ENOMEM)
        indiv_error_set(err, rc, "out of memory");
    return rc;
}

/* ---- responses --------------------------------------------------------------------- */

static int right_moment(const sconsumer *c, int64_t ts, double window_hours) {
    int d = abs(indiv_time_hour(ts) - c->pref_hour);
    d = d > 12 ? 24 - d : d;
    return d <= window_hours;
}

/* Annoyance reaching tolerance: leave (p_leave) or unsubscribe. */
static int fatigue_exit(sim *s, sconsumer *c, gsl_rng *r, int64_t ts, indiv_error *err) {
    if (!c->subscribed || !c->active || c->annoyance < c->tolerance)
        return INDIV_OK;
    if (gsl_rng_uniform(r) < s->p->response.p_leave) {
        c->active = 0;
        s->m[INDIV_M_departures]++;
        return INDIV_OK;
    }
    c->subscribed = 0;
    s->m[INDIV_M_unsubscribes]++;
    if (emit(s, c, ts + OPEN_DELAY, (size_t)-1, INDIV_EV_UNSUBSCRIBE, INDIV_CH_NONE, 0) <
        0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    return indiv_eventlog_set_contact_consent(s->log, c->id, 0, ts + OPEN_DELAY, err);
}

static void reveal(sim *s, taste_e *t) {
    t->state = T_REVEALED;
    s->m[INDIV_M_latent_revealed]++;
    s->latent_revealed_total++;
}

/* Engagement without a purchase: each offer of the opened contact still in a latent
 * category is clicked with probability reveal_on_engagement, and the click reveals the
 * taste (the person sees what they were missing; it then drives organic purchases). */
static int engage(sim *s, sconsumer *c, const contact *k, gsl_rng *r) {
    for (int q = 0; q < k->n; q++) {
        taste_e *t;
        utility(s, c, (size_t)k->offer[q], &t);
        if (!t || t->state != T_LATENT ||
            !(gsl_rng_uniform(r) < s->p->response.reveal_on_engagement))
            continue;
        if (emit(s, c, k->send_at + CLICK_DELAY + q, (size_t)k->offer[q], INDIV_EV_CLICK,
                 k->channel, 0) < 0)
            return INDIV_ENOMEM;
        reveal(s, t);
        s->m[INDIV_M_latent_revealed_engaged]++;
    }
    return INDIV_OK;
}

/* Purchases among the offers of an opened contact (P = conversion_max · utility ·
 * readiness factor, independently per offer). */
static int convert(sim *s, sconsumer *c, const contact *k, gsl_rng *r, int *bought) {
    const indiv_response_params *rp = &s->p->response;
    int recent =
        c->last_buy != INDIV_TS_NONE &&
        (double)(k->send_at - c->last_buy) < rp->ready_fraction * c->mean_days * DAY;
    for (int q = 0; q < k->n; q++) {
        taste_e *t;
        double u = utility(s, c, (size_t)k->offer[q], &t);
        double p = rp->conversion_max * u * (recent ? rp->not_ready_factor : 1.0);
        if (!(gsl_rng_uniform(r) < p) || !t)
            continue;
        double price = indiv_catalog_offer(s->cat, (size_t)k->offer[q])->price;
        int64_t ts = k->send_at + BUY_DELAY + q;
        if (emit(s, c, k->send_at + CLICK_DELAY + q, (size_t)k->offer[q], INDIV_EV_CLICK,
                 k->channel, 0) < 0 ||
            emit(s, c, ts, (size_t)k->offer[q], INDIV_EV_PURCHASE, k->channel, price) < 0)
            return INDIV_ENOMEM;
        if (t->state == T_LATENT)
            reveal(s, t); /* a latent taste revealed: a new need */
        record_purchase(s, c, t, (size_t)k->offer[q], ts, price);
        s->m[INDIV_M_conversions]++;
        s->m[INDIV_M_revenue_contacts] += price;
        (*bought)++;
    }
    return INDIV_OK;
}

/* Exposure, relevance, bubble and divergence statistics of one contact. Returns 1 when
 * irrelevant; *unwanted gets its divergent offers below the irrelevant utility. */
static int tally_contact(sim *s, const sconsumer *c, const contact *k, int *unwanted) {
    double best = 0, floor_u = s->p->response.irrelevant_utility;
    int div = 0;
    *unwanted = 0;
    for (int q = 0; q < k->n; q++) {
        taste_e *t;
        double u = utility(s, c, (size_t)k->offer[q], &t);
        best = u > best ? u : best;
        s->offer_exposure[k->offer[q]]++;
        s->m[INDIV_M_bubble_share] +=
            t && (t->state == T_KNOWN || t->state == T_REVEALED);
        div |= k->divergent[q];
        if (k->divergent[q]) {
            s->m[INDIV_M_divergent_offers]++;
            s->m[INDIV_M_divergent_hits] += t && t->state == T_LATENT;
            *unwanted += u < floor_u;
        }
    }
    s->m[INDIV_M_unwanted_divergent] += *unwanted;
    s->m[INDIV_M_divergent_share] += div;
    s->m[INDIV_M_contacts]++;
    return best < floor_u;
}

static int respond(sim *s, const contact *k, uint64_t round_seed, indiv_error *err) {
    sconsumer *c = &s->c[k->ci];
    const indiv_response_params *rp = &s->p->response;
    indiv_rng_reseed(s->r, round_seed, (uint64_t)c->id, INDIV_RNG_RESPONSE);
    int unwanted, irrelevant = tally_contact(s, c, k, &unwanted);
    c->contacts++;
    if (emit(s, c, k->send_at, (size_t)k->offer[0], INDIV_EV_CONTACT, k->channel, 0) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    s->m[INDIV_M_irrelevant_share] += irrelevant;
    if (!c->active)
        return INDIV_OK; /* gone: the message is never read */
    c->annoyance += rp->annoyance_per_contact +
                    (irrelevant ? rp->annoyance_per_irrelevant : 0) +
                    unwanted * rp->annoyance_per_unwanted_divergent;
    double rate = k->channel >= 1 && k->channel <= 3 ? c->react[k->channel - 1] : 0;
    double p_open =
        rate *
        (right_moment(c, k->send_at, rp->moment_window_hours) ? 1.0
                                                              : rp->wrong_moment_factor) *
        exp(-rp->fatigue_open_effect * c->annoyance);
    int bought = 0, rc = INDIV_OK;
    if (gsl_rng_uniform(s->r) < p_open) {
        rc = emit(s, c, k->send_at + OPEN_DELAY, (size_t)k->offer[0], INDIV_EV_OPEN,
                  k->channel, 0);
        if (rc == INDIV_OK)
            rc = convert(s, c, k, s->r, &bought);
        if (rc == INDIV_OK)
            rc = engage(s, c, k, s->r);
        if (rc == INDIV_OK && !bought && irrelevant)
            rc = emit(s, c, k->send_at + CLICK_DELAY, (size_t)k->offer[0],
                      INDIV_EV_DISMISS, k->channel, 0);
        if (rc < 0)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    return fatigue_exit(s, c, s->r, k->send_at, err);
}

/* ---- metrics ----------------------------------------------------------------------- */

/* Gini coefficient of non-negative values (sorted in place): G = Σ (2i − n − 1) x_i /
 * (n Σ x_i), i = 1..n (e.g. Damgaard & Weiner 2000). 0 when all are zero. */
static double gini(double *x, size_t n) {
    gsl_sort(x, 1, n);
    double num = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        num += (2.0 * (double)(i + 1) - (double)n - 1.0) * x[i];
        sum += x[i];
    }
    return sum > 0 ? num / ((double)n * sum) : 0;
}

/* Shannon entropy (bits) of the consumer's purchases over categories so far. */
static double entropy(const sim *s, const sconsumer *c) {
    const taste_e *t = s->tastes + c->taste_off;
    double total = 0, h = 0;
    for (int k = 0; k < c->ntaste; k++)
        total += t[k].bought;
    for (int k = 0; k < c->ntaste && total > 0; k++)
        if (t[k].bought)
            h -= (t[k].bought / total) * log2(t[k].bought / total);
    return h;
}

static double jaccard_sets(const iset *a, const iset *b) {
    int inter = 0;
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++)
            inter += a->v[i] == b->v[j];
    int uni = a->n + b->n - inter;
    return uni ? (double)inter / uni : 0;
}

static double jaccard_categories(const sim *s, const sconsumer *a, const sconsumer *b) {
    int inter = 0, na = 0, nb = 0;
    const taste_e *ta = s->tastes + a->taste_off, *tb = s->tastes + b->taste_off;
    for (int i = 0; i < a->ntaste; i++)
        na += ta[i].bought > 0;
    for (int j = 0; j < b->ntaste; j++)
        nb += tb[j].bought > 0;
    for (int i = 0; i < a->ntaste; i++)
        for (int j = 0; j < b->ntaste; j++)
            inter += ta[i].bought > 0 && tb[j].bought > 0 && ta[i].cat == tb[j].cat;
    int uni = na + nb - inter;
    return uni ? (double)inter / uni : 0;
}

static void homogenisation(sim *s) {
    double ji = 0, jc = 0;
    for (int p = 0; p < s->npairs; p++) {
        const sconsumer *a = &s->c[s->pairs[p][0]], *b = &s->c[s->pairs[p][1]];
        ji += jaccard_sets(&s->consumed[a->pair_slot], &s->consumed[b->pair_slot]);
        jc += jaccard_categories(s, a, b);
    }
    s->m[INDIV_M_jaccard_items] = s->npairs ? ji / s->npairs : 0;
    s->m[INDIV_M_jaccard_categories] = s->npairs ? jc / s->npairs : 0;
    double jm = 0;
    for (int p = 0; p < s->nmatched; p++) {
        const sconsumer *a = &s->c[s->matched[p][0]], *b = &s->c[s->matched[p][1]];
        jm += jaccard_sets(&s->consumed[a->pair_slot], &s->consumed[b->pair_slot]);
    }
    s->m[INDIV_M_jaccard_matched] = s->nmatched ? jm / s->nmatched : 0;
}

/* Distribution of contacts over consumers eligible at the start. */
static void contact_distribution(sim *s, double *buf) {
    size_t n = 0, zero = 0;
    for (size_t i = 0; i < s->nc; i++)
        if (s->c[i].consent_contact0 && s->c[i].has_truth) {
            buf[n++] = s->c[i].contacts;
            zero += s->c[i].contacts == 0;
        }
    if (n == 0)
        return;
    gsl_sort(buf, 1, n);
    s->m[INDIV_M_contacts_p50] = gsl_stats_quantile_from_sorted_data(buf, 1, n, 0.5);
    s->m[INDIV_M_contacts_p90] = gsl_stats_quantile_from_sorted_data(buf, 1, n, 0.9);
    s->m[INDIV_M_contacts_max] = buf[n - 1];
    s->m[INDIV_M_never_contacted_share] = (double)zero / (double)n;
}

static int finish_metrics(sim *s) {
    double *buf = malloc((s->nc > s->noff ? s->nc : s->noff) * sizeof *buf);
    if (!buf)
        return INDIV_ENOMEM;
    double contacts = s->m[INDIV_M_contacts], offered = 0, h = 0, active = 0, bought = 0;
    for (size_t j = 0; j < s->noff; j++) {
        buf[j] = s->offer_exposure[j];
        offered += buf[j];
        bought += s->offer_bought[j];
    }
    s->m[INDIV_M_exposure_gini] = gini(buf, s->noff);
    s->m[INDIV_M_coverage] = bought / (double)s->noff;
    s->m[INDIV_M_conversion_rate] = contacts ? s->m[INDIV_M_conversions] / contacts : 0;
    s->m[INDIV_M_irrelevant_share] =
        contacts ? s->m[INDIV_M_irrelevant_share] / contacts : 0;
    s->m[INDIV_M_divergent_share] =
        contacts ? s->m[INDIV_M_divergent_share] / contacts : 0;
    s->m[INDIV_M_divergent_hit_rate] =
        s->m[INDIV_M_divergent_offers]
            ? s->m[INDIV_M_divergent_hits] / s->m[INDIV_M_divergent_offers]
            : 0;
    s->m[INDIV_M_bubble_share] = offered ? s->m[INDIV_M_bubble_share] / offered : 0;
    for (size_t i = 0; i < s->nc; i++)
        if (s->c[i].has_truth && s->c[i].active) {
            active++;
            h += entropy(s, &s->c[i]);
        }
    s->m[INDIV_M_active] = active;
    s->m[INDIV_M_diversity] = active ? h / active : 0;
    s->m[INDIV_M_latent_revealed_total] = (double)s->latent_revealed_total;
    s->m[INDIV_M_model_version] = s->model_version;
    homogenisation(s);
    contact_distribution(s, buf);
    free(buf);
    return INDIV_OK;
}

/* ---- the loop ---------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the process (all threads). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Step 3: the policy's contacts for the round starting at t (profiles first). */
static int decide_round(sim *s, int64_t t, uint64_t round_seed, indiv_error *err) {
    double t0 = now_s(), c0 = cpu_s();
    int rc = INDIV_OK;
    indiv_sim_policy pol = s->p->policy;
    s->contacts.n = 0;
    if (pol == INDIV_SIM_INDIV || pol == INDIV_SIM_NO_SERENDIPITY ||
        pol == INDIV_SIM_NO_THRESHOLD || pol == INDIV_SIM_PERSONA)
        rc = build_profiles(s, t, err);
    double t1 = now_s(), c1 = cpu_s();
    if (rc == INDIV_OK) {
        switch (pol) {
        case INDIV_SIM_MASS:
            rc = policy_mass(s, t, err);
            break;
        case INDIV_SIM_RANDOM:
            rc = policy_random(s, t, round_seed, err);
            break;
        case INDIV_SIM_ORACLE:
            rc = policy_oracle(s, t, round_seed, err);
            break;
        case INDIV_SIM_PERSONA:
            rc = policy_persona(s, t, round_seed, err);
            break;
        default:
            rc = policy_indiv(s, t, err);
            break;
        }
    }
    s->seconds[INDIV_SIM_T_PROFILE] = t1 - t0;
    s->seconds[INDIV_SIM_T_DECIDE] = now_s() - t1;
    s->cpu[INDIV_SIM_T_PROFILE] = c1 - c0;
    s->cpu[INDIV_SIM_T_DECIDE] = cpu_s() - c1;
    return rc;
}

/* Steps 1, 2 and 4: responses, organic purchases, latent drift, fatigue decay. */
static int live_round(sim *s, int64_t t, int64_t end, uint64_t round_seed,
                      indiv_error *err) {
    int rc = INDIV_OK;
    const contact *k = s->contacts.data;
    for (size_t q = 0; rc == INDIV_OK && q < s->contacts.n; q++)
        rc = respond(s, &k[q], round_seed, err);
    for (size_t i = 0; rc == INDIV_OK && i < s->nc; i++) {
        sconsumer *c = &s->c[i];
        if (!c->has_truth)
            continue;
        indiv_rng_reseed(s->r, round_seed, (uint64_t)c->id, INDIV_RNG_SIM_ORGANIC);
        if (c->active && organic_round(s, c, s->r, t, end) < 0)
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        if (c->active)
            latent_drift(s, c, s->r);
        c->annoyance *= s->p->response.annoyance_decay;
    }
    return rc;
}

/* 1 when the engine trains its model before round `round` (1-based). The oracle and
 * random policies never read the model: they do not train. */
static int trains_at(const indiv_sim_params *p, int round) {
    return p->trained && p->policy != INDIV_SIM_ORACLE && p->policy != INDIV_SIM_RANDOM &&
           (round == 1 || (p->retrain_every > 0 && (round - 1) % p->retrain_every == 0));
}

/* The engine learns in the loop: a model trained on everything logged before t (the
 * history, then its own contacts and their outcomes), put in the catalog so that the
 * next profile build (a full one: the feature source names the new model) and the
 * decisions use it. The feedback loop of Chaney, Stewart & Engelhardt 2018. */
static int retrain(sim *s, int round, int64_t t, indiv_error *err) {
    indiv_train_params tp;
    indiv_train_params_init(&tp);
    char id[64];
    snprintf(id, sizeof id, "sim-trained-round-%d", round);
    tp.id = id;
    tp.as_of = t;
    tp.als.dims = (size_t)s->p->train_dims;
    tp.als.iterations = s->p->train_iterations;
    tp.als.seed = indiv_rng_derive(s->p->seed, (uint64_t)round, INDIV_RNG_TRAIN);
    tp.als.threads = s->p->threads;
    tp.profile = s->p->profile_params;
    indiv_model m;
    memset(&m, 0, sizeof m);
    int rc = indiv_train_run(s->log, &tp, NULL, NULL, &m, NULL, err);
    if (rc == INDIV_EINVAL && round > 1) {
        /* Too little to learn from in the held-back tail (e.g. too few answered contacts
         * in a small world): the engine keeps serving its current model, as a deployment
         * whose retraining fails its checks does; model_version does not move. */
        indiv_model_clear(&m);
        indiv_error_clear(err);
        return INDIV_OK;
    }
    if (rc < 0)
        return rc;
    indiv_model_clear(&s->own);
    s->own = m;
    s->model = &s->own;
    s->model_version++;
    return indiv_model_apply(&s->own, s->cat, NULL, err);
}

static int run_round(sim *s, int round, int64_t t, indiv_round_metrics *out,
                     indiv_error *err) {
    int64_t end = t + (int64_t)llround(s->p->round_days * DAY);
    uint64_t round_seed =
        indiv_rng_derive(s->p->seed, (uint64_t)round, INDIV_RNG_RESPONSE);
    memset(s->m, 0, sizeof s->m);
    s->round = round;
    memset(s->offer_exposure, 0, s->noff * sizeof *s->offer_exposure);
    memset(s->offer_bought, 0, s->noff);
    double tt = now_s(), ct = cpu_s();
    int rc = INDIV_OK;
    s->seconds[INDIV_SIM_T_TRAIN] = s->cpu[INDIV_SIM_T_TRAIN] = 0;
    if (trains_at(s->p, round)) {
        /* the training reads a snapshot of the file: the rounds so far must be in it */
        rc = indiv_eventlog_release(s->log, err);
        if (rc == INDIV_OK)
            rc = retrain(s, round, t, err);
        if (rc == INDIV_OK)
            rc = indiv_eventlog_hold(s->log, err);
        s->seconds[INDIV_SIM_T_TRAIN] = now_s() - tt;
        s->cpu[INDIV_SIM_T_TRAIN] = cpu_s() - ct;
    }
    if (rc == INDIV_OK)
        rc = decide_round(s, t, round_seed, err);
    double t0 = now_s(), c0 = cpu_s();
    if (rc == INDIV_OK)
        rc = indiv_eventlog_begin(s->log, err);
    if (rc == INDIV_OK) {
        rc = live_round(s, t, end, round_seed, err);
        if (rc == INDIV_OK)
            rc = flush_events(s, err);
        if (rc == INDIV_OK)
            rc = indiv_eventlog_commit(s->log, err);
        else
            indiv_eventlog_rollback(s->log);
    }
    s->seconds[INDIV_SIM_T_RESPOND] = now_s() - t0;
    s->cpu[INDIV_SIM_T_RESPOND] = cpu_s() - c0;
    if (rc == INDIV_OK && finish_metrics(s) < 0)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    out->round = round;
    out->round_start = t;
    out->round_end = end;
    memcpy(out->v, s->m, sizeof s->m);
    memcpy(out->seconds, s->seconds, sizeof s->seconds);
    memcpy(out->cpu_seconds, s->cpu, sizeof s->cpu);
    return rc;
}

/* Cosine similarity of two consumers' true taste vectors (latent tastes included). */
static double taste_cosine(const sim *s, const sconsumer *a, const sconsumer *b) {
    const taste_e *ta = s->tastes + a->taste_off, *tb = s->tastes + b->taste_off;
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < a->ntaste; i++) {
        na += (double)ta[i].w * ta[i].w;
        for (int j = 0; j < b->ntaste; j++)
            dot += ta[i].cat == tb[j].cat ? (double)ta[i].w * tb[j].w : 0;
    }
    for (int j = 0; j < b->ntaste; j++)
        nb += (double)tb[j].w * tb[j].w;
    return na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
}

static void track_consumed(sim *s, size_t i) {
    if (s->c[i].pair_slot < 0)
        s->c[i].pair_slot = s->nconsumed++;
}

/* Taste-matched pairs: each anchor with the most similar of a random candidate pool
 * (first on ties, pool order). idx holds the n simulated consumers. */
static int sample_matched(sim *s, const size_t *idx, size_t n) {
    s->nmatched = n >= 2 ? MATCHED_ANCHORS : 0;
    s->matched = calloc((size_t)s->nmatched + 1, sizeof *s->matched);
    if (!s->matched)
        return INDIV_ENOMEM;
    indiv_rng_reseed(s->r, s->p->seed, 1, INDIV_RNG_SIM_PAIRS);
    size_t pool[MATCHED_POOL];
    for (int k = 0; k < MATCHED_POOL; k++)
        pool[k] = idx[gsl_rng_uniform_int(s->r, n)];
    for (int p = 0; p < s->nmatched; p++) {
        size_t a = idx[gsl_rng_uniform_int(s->r, n)], best = a;
        double best_sim = -1;
        for (int k = 0; k < MATCHED_POOL; k++) {
            double cs = pool[k] == a ? -1 : taste_cosine(s, &s->c[a], &s->c[pool[k]]);
            if (cs > best_sim) {
                best_sim = cs;
                best = pool[k];
            }
        }
        if (best == a) { /* a pool made only of the anchor: any other consumer */
            do
                best = idx[gsl_rng_uniform_int(s->r, n)];
            while (best == a);
        }
        s->matched[p][0] = (int32_t)a;
        s->matched[p][1] = (int32_t)best;
        track_consumed(s, a);
        track_consumed(s, best);
    }
    return INDIV_OK;
}

/* Pairs of distinct simulated consumers for the homogenisation metrics. */
static int sample_pairs(sim *s) {
    size_t n = 0, *idx = malloc(s->nc * sizeof *idx);
    if (!idx)
        return INDIV_ENOMEM;
    for (size_t i = 0; i < s->nc; i++)
        if (s->c[i].has_truth)
            idx[n++] = i;
    s->npairs = n >= 2 ? HOMOGENISATION_PAIRS : 0;
    s->pairs = calloc((size_t)s->npairs + 1, sizeof *s->pairs);
    s->consumed =
        calloc(2 * (size_t)s->npairs + 2 * MATCHED_ANCHORS + 1, sizeof *s->consumed);
    if (!s->pairs || !s->consumed) {
        free(idx);
        return INDIV_ENOMEM;
    }
    indiv_rng_reseed(s->r, s->p->seed, 0, INDIV_RNG_SIM_PAIRS);
    for (int p = 0; p < s->npairs; p++)
        for (int side = 0; side < 2; side++) {
            size_t i;
            do
                i = idx[gsl_rng_uniform_int(s->r, n)];
            while (side == 1 && i == (size_t)s->pairs[p][0]);
            s->pairs[p][side] = (int32_t)i;
        }
    /* Slots after the draws, so that the random pairs are those of earlier versions. */
    for (int p = 0; p < s->npairs; p++)
        for (int side = 0; side < 2; side++)
            track_consumed(s, (size_t)s->pairs[p][side]);
    int rc = sample_matched(s, idx, n);
    free(idx);
    return rc;
}

static void sim_free(sim *s) {
    if (s->cat_table)
        for (size_t c = 0; c < s->ncat; c++)
            gsl_ran_discrete_free(s->cat_table[c]);
    for (int k = 0; s->consumed && k < s->nconsumed; k++)
        free(s->consumed[k].v);
    free(s->consumed);
    free(s->pairs);
    free(s->matched);
    free(s->scratch);
    free(s->cat_table);
    free(s->cat_first);
    free(s->cat_offers);
    free(s->c);
    free(s->tastes);
    free(s->contacts.data);
    free(s->events.data);
    free(s->offer_exposure);
    free(s->offer_bought);
    free(s->touched);
    free(s->catbuf);
    indiv_plausibility_free(s->plaus);
    indiv_profile_session_free(s->ses);
    gsl_rng_free(s->r);
    indiv_model_clear(&s->own);
    indiv_catalog_free(s->cat);
    indiv_eventlog_close(s->log);
}

static int setup(sim *s, const char *work_db, indiv_error *err) {
    int64_t last = INDIV_TS_NONE;
    int rc = indiv_eventlog_open(work_db, INDIV_EVENTLOG_SCRATCH, &s->log, err);
    if (rc == INDIV_OK)
        rc = load_world_params(s, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_last_event_ts(s->log, &last, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(s->log, &s->cat, err);
    if (rc < 0)
        return rc;
    /* The simulation starts at the first UTC midnight after the history. */
    if (last == INDIV_TS_NONE)
        last = s->wp.start_ts;
    s->t0 = (last / INDIV_SECONDS_PER_DAY + 1) * INDIV_SECONDS_PER_DAY;
    s->noff = indiv_catalog_size(s->cat);
    s->ncat = indiv_catalog_categories(s->cat);
    s->contacts.size = sizeof(contact);
    s->events.size = sizeof(sevent);
    s->offer_exposure = calloc(s->noff, sizeof *s->offer_exposure);
    s->offer_bought = calloc(s->noff, 1);
    s->scratch = calloc(s->noff + 1, sizeof *s->scratch);
    s->r = indiv_rng_new(s->p->seed, 0, INDIV_RNG_SIM_ORGANIC);
    s->ses = indiv_profile_session_new();
    s->catbuf = calloc(s->ncat + 1, sizeof *s->catbuf);
    if (!s->offer_exposure || !s->offer_bought || !s->scratch || !s->r || !s->ses ||
        !s->catbuf)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    rc = load_consumers(s, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_each_truth_consumer(s->log, on_truth_consumer, s, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_each_truth_taste(s->log, on_truth_taste, s, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_each_last_purchase(s->log, s->t0, on_last_purchase, s, err);
    if (rc == INDIV_OK)
        rc = build_category_tables(s, err);
    if (rc == INDIV_OK && sample_pairs(s) < 0)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_ENOMEM)
        indiv_error_set(err, rc, "out of memory");
    return rc;
}

static int record_params(sim *s, indiv_error *err) {
    char *js = indiv_sim_params_json(s->p);
    if (!js)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = indiv_eventlog_begin(s->log, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_meta_set(s->log, "simulation_params", js, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_commit(s->log, err);
    else
        indiv_eventlog_rollback(s->log);
    free(js);
    return rc;
}

/* 1 when the two paths name the same file: the same string, or the same device and
 * inode (another spelling such as "dir/./w.db", a symlink, a hard link). The copy
 * removes the work path first, so through "dir/./w.db" it would delete the world and
 * write the work database in its place. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int indiv_sim_run(const char *world_db, const char *work_db, const indiv_sim_params *p,
                  const indiv_model *m, indiv_progress_fn progress, void *pctx,
                  indiv_round_fn on_round, void *rctx, indiv_error *err) {
    sim s = {.p = p, .model = m};
    int rc = indiv_sim_params_validate(p, err);
    if (rc == INDIV_OK)
        rc = indiv_model_validate(m, err);
    if (rc == INDIV_OK && same_file(world_db, work_db))
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "the work database must differ from the "
                             "world (%s): the world is never changed",
                             world_db);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_copy(world_db, work_db, err);
    if (rc == INDIV_OK)
        rc = setup(&s, work_db, err);
    if (rc == INDIV_OK)
        rc = record_params(&s, err);
    if (rc == INDIV_OK)
        start_clocks(&s);
    /* All rounds in one SQL transaction (eventlog.h, "hold"): the pages a round changes
     * (the events' and profiles' leaves of most consumers) are written to the file once,
     * at the end, instead of at each of the two commits of every round. */
    if (rc == INDIV_OK)
        rc = indiv_eventlog_hold(s.log, err);
    int held = rc == INDIV_OK, failed = 0;
    int64_t t = s.t0, step = (int64_t)llround(p->round_days * DAY);
    for (int r = 1; rc == INDIV_OK && r <= p->rounds; r++, t += step) {
        indiv_round_metrics out;
        failed = (rc = run_round(&s, r, t, &out, err)) < 0;
        if (rc == INDIV_OK && progress)
            progress(pctx, "rounds", r, p->rounds);
        if (rc == INDIV_OK && on_round && (rc = on_round(rctx, &out)) != 0)
            indiv_error_set(err, rc, "stopped by the round callback at round %d", r);
    }
    /* The rounds run are written, also when the callback stopped the run; a failed
     * round leaves the work database unspecified (the caller discards it). */
    if (held && !failed) {
        int rel = indiv_eventlog_release(s.log, rc == INDIV_OK ? err : NULL);
        rc = rc == INDIV_OK ? rel : rc;
    }
    sim_free(&s);
    return rc;
}

/* ---- aggregation ------------------------------------------------------------------- */

int indiv_sim_metric_is_count(int m) {
    switch (m) {
    case INDIV_M_contacts:
    case INDIV_M_conversions:
    case INDIV_M_revenue:
    case INDIV_M_revenue_contacts:
    case INDIV_M_unsubscribes:
    case INDIV_M_departures:
    case INDIV_M_leakage:
    case INDIV_M_latent_revealed:
    case INDIV_M_latent_revealed_engaged:
    case INDIV_M_divergent_offers:
    case INDIV_M_divergent_hits:
    case INDIV_M_unwanted_divergent:
        return 1;
    default:
        return 0;
    }
}

static int weighted_by_contacts(int m) {
    return m == INDIV_M_irrelevant_share || m == INDIV_M_divergent_share ||
           m == INDIV_M_bubble_share;
}

void indiv_sim_aggregate(const indiv_round_metrics *rounds, int n,
                         double out[INDIV_SIM_NMETRICS]) {
    memset(out, 0, INDIV_SIM_NMETRICS * sizeof *out);
    double contacts = 0;
    for (int r = 0; r < n; r++)
        contacts += rounds[r].v[INDIV_M_contacts];
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++) {
        for (int r = 0; r < n; r++) {
            const double *v = rounds[r].v;
            if (indiv_sim_metric_is_count(m))
                out[m] += v[m];
            else if (weighted_by_contacts(m))
                out[m] += contacts > 0 ? v[m] * v[INDIV_M_contacts] / contacts : 0;
        }
        if (!indiv_sim_metric_is_count(m) && !weighted_by_contacts(m) && n > 0)
            out[m] = rounds[n - 1].v[m];
    }
    out[INDIV_M_conversion_rate] = contacts > 0 ? out[INDIV_M_conversions] / contacts : 0;
    out[INDIV_M_divergent_hit_rate] =
        out[INDIV_M_divergent_offers] > 0
            ? out[INDIV_M_divergent_hits] / out[INDIV_M_divergent_offers]
            : 0;
}
