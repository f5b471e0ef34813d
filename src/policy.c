/*
 * policy.c — one consumer's decision: eligibility, threshold, ranking, divergence,
 * channel, timing (the contract is in policy.h).
 *
 * Selection works on logits: p >= τ iff z >= logit(τ), and ranking by p is ranking by z,
 * so the exponential is computed only for the offers kept (bound-then-filter). The kept
 * offers live in a small array sorted by key, ties broken by catalog index, so that the
 * result never depends on anything but the inputs.
 */
#include "indiv/policy.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "indiv/plausibility.h"
#include "indiv/rerank.h"
#include "indiv/rng.h"
#include "indiv/timeutil.h"

#define HOURS_PER_WEEK (7 * 24)

static const char *const action_names[] = {"none", "contact", "defer"};
static const char *const reason_names[INDIV_R_COUNT] = {
    "relevant_offers", "divergent_offer_alone",    "not_ready",    "no_contact_consent",
    "unsubscribed",    "no_accepted_channel",      "pressure_cap", "no_valid_offer",
    "below_threshold", "not_ready_within_horizon", "no_profile",   "control_group"};
static const char *const miss_names[] = {"", "no_plausible_offer_outside_bubble",
                                         "no_relevant_offer_to_ride_along",
                                         "no_room_in_a_single_slot"};

const char *indiv_action_name(indiv_action a) {
    return (unsigned)a < 3 ? action_names[a] : "?";
}

const char *indiv_reason_name(indiv_reason r) {
    return (unsigned)r < INDIV_R_COUNT ? reason_names[r] : "?";
}

const char *indiv_divergence_miss_name(indiv_divergence_miss m) {
    return (unsigned)m < 4 ? miss_names[m] : "?";
}

int indiv_divergence_parse(const char *name, indiv_divergence_mode *out) {
    if (strcmp(name, "ride-along") == 0)
        *out = INDIV_DIV_RIDE_ALONG;
    else if (strcmp(name, "standalone") == 0)
        *out = INDIV_DIV_STANDALONE;
    else
        return INDIV_EINVAL;
    return INDIV_OK;
}

const char *indiv_divergence_name(indiv_divergence_mode m) {
    return m == INDIV_DIV_STANDALONE ? "standalone" : "ride-along";
}

const char *indiv_divergence_aim_name(indiv_divergence_aim a) {
    return a == INDIV_AIM_ADJACENT ? "adjacent" : "popular";
}

/* ---- eligibility ------------------------------------------------------------------ */

/* Reason the consumer cannot be contacted at all, or -1. */
static int ineligible(const indiv_policy_params *p, const indiv_policy_input *in) {
    const indiv_consumer_row *c = in->consumer;
    if (!c->consent_contact)
        return INDIV_R_NO_CONTACT_CONSENT;
    if (c->unsubscribed_ts != INDIV_TS_NONE && c->unsubscribed_ts <= p->as_of)
        return INDIV_R_UNSUBSCRIBED;
    if (!(c->channels & INDIV_CH_CONTACTABLE))
        return INDIV_R_NO_CHANNEL;
    if (p->per_days > 0 && in->contacts_recent >= p->max_contacts)
        return INDIV_R_PRESSURE_CAP;
    return -1;
}

/* ---- ranking ----------------------------------------------------------------------- */

typedef struct kept {
    double key;
    size_t j;
} kept;

/* Inserts (key, j) into the sorted array k[0..*n) of capacity cap (best first). */
static void keep(kept *k, int *n, int cap, double key, size_t j) {
    assert(cap >= 1 && *n <= cap);
    int pos = *n;
    while (pos > 0 &&
           (k[pos - 1].key < key || (k[pos - 1].key == key && k[pos - 1].j > j)))
        pos--;
    if (pos >= cap)
        return;
    int last = *n < cap ? *n : cap - 1;
    memmove(k + pos + 1, k + pos, (size_t)(last - pos) * sizeof *k);
    k[pos] = (kept){key, j};
    if (*n < cap)
        (*n)++;
    assert(pos + 1 >= *n || k[pos + 1].key <= key); /* still best first */
}

static double expected_value(const indiv_catalog *cat, size_t j, double p) {
    const indiv_offer *o = indiv_catalog_offer(cat, j);
    return p * o->price * o->margin;
}

/* Offers kept by the scan: the slots, or the re-ranker's pool. */
static int pool_size(const indiv_policy_params *p) {
    if (p->rerank == INDIV_RERANK_NONE)
        return p->slots;
    int n = p->rerank_pool > p->slots ? p->rerank_pool : p->slots;
    return n < INDIV_RERANK_POOL_MAX ? n : INDIV_RERANK_POOL_MAX;
}

/* Offers whose logits the scan computes at a time (a stack array). */
#define SCAN_CHUNK 256

/* z[q] = c[q] + u + w aff[q] + x[q], q < m <= SCAN_CHUNK: the logits of a chunk. A full
 * chunk's loop has a constant count, which the compiler vectorises (the same sums,
 * lane by lane). */
static void logits(const double *restrict c, const double *restrict aff,
                   const double *restrict x, double u, double w, size_t m,
                   double *restrict z) {
    if (m == SCAN_CHUNK)
        for (size_t q = 0; q < SCAN_CHUNK; q++)
            z[q] = c[q] + u + w * aff[q] + x[q];
    else
        for (size_t q = 0; q < m; q++)
            z[q] = c[q] + u + w * aff[q] + x[q];
}

/* Scans every valid offer once: best logit, and the top pool_size() above the
 * threshold. */
static int select_relevant(const indiv_policy_params *p, const indiv_scorer *s,
                           const indiv_score_block *b, size_t row,
                           const indiv_catalog *cat, const unsigned char *valid,
                           kept *top, indiv_decision *out) {
    const double *c = indiv_scorer_offer_terms(s), *aff = indiv_score_affinity(b, row);
    const double *x = indiv_score_extra(b, row); /* the sparse history terms */
    double w = indiv_scorer_affinity_weight(s), u = indiv_score_consumer_term(b, row);
    /* Under `any` the threshold gates the contact, not each offer (decide). */
    double zt = p->relevance == INDIV_REL_ANY ? -INFINITY : indiv_logit(p->threshold);
    double best = -INFINITY, bar = -INFINITY; /* bar: a full pool's last key */
    size_t n = indiv_catalog_size(cat), best_j = out->best_offer;
    int kept_n = 0, cap = pool_size(p), has_best = out->has_best;
    int by_value = p->rank_by_value;
    assert(cap >= 1 && cap <= INDIV_RERANK_POOL_MAX); /* top[] holds the pool */
    double z[SCAN_CHUNK];
    /* Locals, not *out and *p, in the loop: stores to top[] could alias those. */
    for (size_t j0 = 0; j0 < n; j0 += SCAN_CHUNK) {
        size_t m = n - j0 < SCAN_CHUNK ? n - j0 : SCAN_CHUNK;
        logits(c + j0, aff + j0, x + j0, u, w, m, z);
        for (size_t q = 0; q < m; q++) {
            size_t j = j0 + q;
            if (!valid[j])
                continue;
            if (z[q] > best || !has_best) {
                best = z[q];
                best_j = j;
                has_best = 1;
            }
            if (z[q] < zt)
                continue;
            double key = by_value ? expected_value(cat, j, indiv_sigmoid(z[q])) : z[q];
            /* A full pool takes only a larger key (j grows: a tie stays out), as keep
             * would decide; most offers stop here. */
            if (kept_n == cap && !(key > bar))
                continue;
            keep(top, &kept_n, cap, key, j);
            bar = top[kept_n - 1].key;
        }
    }
    out->has_best = has_best;
    out->best_offer = best_j;
    if (has_best)
        out->best_p = indiv_sigmoid(best);
    return kept_n;
}

static void add_offer(indiv_decision *out, const indiv_scorer *s,
                      const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                      size_t j, indiv_offer_kind kind) {
    assert(out->n_offers < INDIV_SLOTS_MAX && j < indiv_catalog_size(cat));
    indiv_decided_offer *o = &out->offers[out->n_offers++];
    o->offer = j;
    o->kind = kind;
    o->rank = out->n_offers;
    o->p = indiv_score_propensity(s, b, row, j);
    o->affinity = indiv_score_affinity(b, row)[j];
    o->value = expected_value(cat, j, o->p);
    o->logged_p = 1;
    o->plausibility = 0;
}

/* ---- the person's categories ----------------------------------------------------- */

/* Scores live in category space: taste[c] is the share of category c. */
static int category_space(const indiv_profile *pr, const indiv_catalog *cat) {
    return pr->dims == indiv_catalog_categories(cat) &&
           strcmp(indiv_catalog_feature_source(cat), "category") == 0;
}

size_t indiv_policy_known_categories(const indiv_profile *pr, const indiv_catalog *cat,
                                     int32_t *buf, size_t cap, const int32_t **out) {
    size_t n = 0;
    *out = buf;
    if (pr->features & INDIV_FEAT_OPENNESS) {
        *out = pr->bought;
        return pr->n_bought;
    }
    if (!category_space(pr, cat))
        return 0;
    for (size_t c = 0; c < pr->dims && n < cap; c++)
        if (pr->taste[c] > 0)
            buf[n++] = (int32_t)c;
    return n;
}

/* The person's category distribution into dist (n_cat values): positive taste shares in
 * category space, else equal shares over the categories bought. 0 when there is none. */
static int history_distribution(const indiv_profile *pr, const indiv_catalog *cat,
                                double *dist) {
    size_t n_cat = indiv_catalog_categories(cat);
    double total = 0;
    memset(dist, 0, n_cat * sizeof *dist);
    if (category_space(pr, cat) && (pr->features & INDIV_FEAT_TASTE))
        for (size_t c = 0; c < n_cat; c++)
            total += dist[c] = pr->taste[c] > 0 ? pr->taste[c] : 0;
    if (total <= 0 && (pr->features & INDIV_FEAT_OPENNESS))
        for (size_t i = 0; i < pr->n_bought; i++)
            if (pr->bought[i] >= 0 && (size_t)pr->bought[i] < n_cat &&
                !dist[pr->bought[i]])
                total += dist[pr->bought[i]] = 1;
    for (size_t c = 0; total > 0 && c < n_cat; c++)
        dist[c] /= total;
    return total > 0;
}

/* ---- re-ranking ------------------------------------------------------------------- */

/* Replaces the pool top[0..n) by the re-ranker's choice of at most `slots`, in order.
 * Without a usable history (or with more categories than the scratch holds) the
 * calibrated re-ranker leaves the plain ranking. Returns the number kept. */
static int rerank(const indiv_policy_params *p, const indiv_scorer *s,
                  const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                  const indiv_profile *pr, kept *top, int n) {
    double rel[INDIV_RERANK_POOL_MAX];
    size_t cats[INDIV_RERANK_POOL_MAX], order[INDIV_RERANK_POOL_MAX], k;
    kept pool[INDIV_RERANK_POOL_MAX];
    size_t n_cat = indiv_catalog_categories(cat);
    for (int i = 0; i < n; i++) {
        pool[i] = top[i];
        rel[i] = indiv_score_propensity(s, b, row, top[i].j);
        cats[i] = indiv_catalog_offer(cat, top[i].j)->category;
    }
    if (p->rerank == INDIV_RERANK_MMR) {
        k = indiv_rerank_mmr(rel, cats, (size_t)n, (size_t)p->slots, p->rerank_lambda,
                             order);
    } else {
        double dist[INDIV_PLAUS_MAX_CATEGORIES], work[INDIV_PLAUS_MAX_CATEGORIES];
        if (!pr || n_cat > INDIV_PLAUS_MAX_CATEGORIES ||
            !history_distribution(pr, cat, dist))
            return n < p->slots ? n : p->slots;
        k = indiv_rerank_calibrated(rel, cats, (size_t)n, (size_t)p->slots,
                                    p->rerank_lambda, dist, n_cat, work, order);
    }
    for (size_t i = 0; i < k; i++)
        top[i] = pool[order[i]];
    return (int)k;
}

/* ---- divergence ------------------------------------------------------------------- */

static int is_kept(const indiv_decision *out, size_t j) {
    for (int k = 0; k < out->n_offers; k++)
        if (out->offers[k].offer == j)
            return 1;
    return 0;
}

/* What the divergence draw of one consumer looks at. */
typedef struct aim {
    const indiv_policy_params *p;
    const indiv_scorer *s;
    const indiv_score_block *b;
    size_t row;
    const indiv_catalog *cat;
    const unsigned char *valid;
    const indiv_decision *out;
    double zf;                  /* logit of the higher of the two floors */
    const double *lift;         /* adjacent: per category; NULL: popular */
    const unsigned char *known; /* adjacent: 1 for categories the person bought */
    double log_max;             /* adjacent, T > 0: the scale of the weights (weigh) */
    int settled;                /* zf includes the relative floor (settle) */
    indiv_plausibility_kind kind; /* adjacent: p->plausibility, auto resolved */
    const double *taste;        /* cosine: the person's taste (d values), or NULL */
    double taste_norm;          /* cosine: its length */
} aim;

/* Plausibility `cosine` of offer j: (1 + cos θ) / 2 in [0, 1], θ the angle between the
 * person's taste and the offer's vector in the model's embedding (1 same direction,
 * 1/2 orthogonal, 0 opposite). Without a taste or an offer vector (zero length) it is
 * 1/2: no evidence either way. */
static double cosine_plausibility(const aim *a, size_t j) {
    size_t d = indiv_catalog_dims(a->cat);
    const double *f = indiv_catalog_features(a->cat, j);
    double dot = 0, ff = 0;
    if (!a->taste || !(a->taste_norm > 0))
        return 0.5;
    for (size_t k = 0; k < d; k++) {
        dot += a->taste[k] * f[k];
        ff += f[k] * f[k];
    }
    if (!(ff > 0))
        return 0.5;
    double c = dot / (a->taste_norm * sqrt(ff));
    c = c > 1 ? 1 : c < -1 ? -1 : c;
    return (1 + c) / 2;
}

/* The plausibility of candidate j under `adjacent`: its category's lift (or P(c | A)),
 * or its own cosine weight. */
static double plausibility_of(const aim *a, size_t j) {
    if (a->kind == INDIV_PLAUS_COSINE)
        return cosine_plausibility(a, j);
    return a->lift[indiv_catalog_offer(a->cat, j)->category];
}

/* Is offer j a candidate? Its logit in *z when it is. */
static int candidate(const aim *a, size_t j, double *z) {
    if (!a->valid[j] || indiv_score_affinity(a->b, a->row)[j] >= a->p->bubble ||
        is_kept(a->out, j))
        return 0;
    if (a->lift) {
        size_t c = indiv_catalog_offer(a->cat, j)->category;
        if (a->known[c] || !(plausibility_of(a, j) > 0))
            return 0;
    }
    *z = indiv_score_logit(a->s, a->b, a->row, j);
    return *z >= a->zf;
}

/* log of the plausibility of candidate j with logit z under `adjacent`: its propensity
 * times the lift of its category, log p + log lift (the population's co-purchase signal
 * multiplies the engine's own estimate, so that popularity stays held and a category
 * that people like this person buy more often gains in proportion). */
static double log_plausibility(const aim *a, size_t j, double z) {
    return log(indiv_sigmoid(z)) + log(plausibility_of(a, j));
}

/* Weight of candidate j with logit z: p under `popular`; plausibility^(1/T) under
 * `adjacent`, scaled by the largest so that a small T cannot overflow. */
static double weight(const aim *a, size_t j, double z) {
    if (!a->lift)
        return indiv_sigmoid(z);
    return exp((log_plausibility(a, j, z) - a->log_max) / a->p->divergence_temperature);
}

static int settle(aim *a);

/* T = 0: the most plausible candidate (ties: the smaller index). */
static int most_plausible(aim *a, size_t *pick, int *n_cand) {
    size_t n = indiv_catalog_size(a->cat);
    double best = -INFINITY, z;
    *n_cand = 0;
    if (!settle(a))
        return 0;
    for (size_t j = 0; j < n; j++) {
        if (!candidate(a, j, &z))
            continue;
        double l = log_plausibility(a, j, z);
        if (*n_cand == 0 || l > best) {
            best = l;
            *pick = j;
        }
        (*n_cand)++;
    }
    return *n_cand > 0;
}

/* The relative floor, in the same pass as the weights' scale: a candidate needs p ≥ F ×
 * the p of the most likely candidate (`--relative-floor F`), which cuts the long tail
 * of implausible discoveries while leaving one whenever any offer clears the absolute
 * floor. It is relative to the other discoveries, not to the person's best offer: a
 * trained model ranks what the person re-buys, and the categories they know, far above
 * any offer of a category new to them (its repeat and affinity terms learn the bubble
 * itself), so a floor scaled by the best offer left serendipity unplaced exactly when
 * the model was good. a->log_max becomes the largest log plausibility among the
 * candidates above the absolute floor: at least that of those kept, so that no weight
 * exceeds 1 (weigh_candidates rescales when it leaves their sum too small). Returns
 * whether any candidate exists; the floor never removes the most likely one. */
static int settle(aim *a) {
    size_t n = indiv_catalog_size(a->cat);
    double z, top = -INFINITY;
    if (a->settled)
        return 1;
    a->log_max = -INFINITY;
    for (size_t j = 0; j < n; j++)
        if (candidate(a, j, &z)) {
            top = z > top ? z : top;
            double l = a->lift ? log_plausibility(a, j, z) : 0;
            a->log_max = l > a->log_max ? l : a->log_max;
        }
    if (top == -INFINITY)
        return 0; /* no candidate at all */
    a->settled = 1;
    if (!(a->p->relative_floor > 0))
        return 1;
    double zr = indiv_logit(a->p->relative_floor * indiv_sigmoid(top));
    zr = zr < top ? zr : top; /* F = 1: the top one itself, whatever the rounding */
    a->zf = zr > a->zf ? zr : a->zf;
    return 1;
}

/* Below this sum the weights' scale is taken again over the kept candidates alone. */
#define WEIGHT_SUM_MIN 1e-200

/* Counts the candidates; *total gets the sum of their weights (0 when there is none).
 * Draws and propensities both weigh through here, so that a logged probability is
 * exactly the share the draw used. */
static int weigh_candidates(aim *a, double *total) {
    size_t n = indiv_catalog_size(a->cat);
    double z;
    int n_cand = 0;
    *total = 0;
    if (!settle(a))
        return 0;
    for (size_t j = 0; j < n; j++)
        if (candidate(a, j, &z)) {
            n_cand++;
            *total += weight(a, j, z);
        }
    if (a->lift && !(*total > WEIGHT_SUM_MIN)) {
        /* the largest plausibility was one the relative floor removed, so far above the
         * kept ones that their weights (nearly) vanished at this temperature */
        a->log_max = -INFINITY;
        for (size_t j = 0; j < n; j++)
            if (candidate(a, j, &z)) {
                double l = log_plausibility(a, j, z);
                a->log_max = l > a->log_max ? l : a->log_max;
            }
        *total = 0;
        for (size_t j = 0; j < n; j++)
            if (candidate(a, j, &z))
                *total += weight(a, j, z);
    }
    return n_cand;
}

/* Draws one candidate ∝ its weight (inverse CDF, u in [0, 1)); *share is its
 * probability. 0 when there is no candidate. */
static int draw_weighted(aim *a, double u, size_t *pick, double *share, int *n_cand) {
    size_t n = indiv_catalog_size(a->cat);
    double z, total, acc = 0;
    *n_cand = weigh_candidates(a, &total);
    if (*n_cand == 0)
        return 0;
    assert(u >= 0 && u < 1);
    for (size_t j = 0; j < n; j++) {
        if (!candidate(a, j, &z))
            continue;
        double w = weight(a, j, z);
        acc += w;
        *pick = j;
        *share = w / total;
        if (acc > u * total)
            return 1;
    }
    return 1; /* rounding left u * total past the sum: the last candidate */
}

/* The adjacent aim's scratch of this consumer: categories known, their lift. */
static void aim_adjacent(aim *a, const indiv_policy_input *in, double *lift,
                         unsigned char *known) {
    const indiv_policy_params *p = a->p;
    const indiv_catalog *cat = a->cat;
    size_t n_cat = indiv_catalog_categories(cat);
    int32_t buf[INDIV_PLAUS_MAX_CATEGORIES];
    const int32_t *kc;
    size_t nk = indiv_policy_known_categories(in->profile, cat, buf, n_cat, &kc);
    memset(known, 0, n_cat);
    for (size_t i = 0; i < nk; i++)
        if (kc[i] >= 0 && (size_t)kc[i] < n_cat)
            known[kc[i]] = 1;
    const indiv_profile *pr = in->profile;
    a->kind = indiv_policy_plausibility_used(p, indiv_catalog_feature_source(cat));
    if (a->kind == INDIV_PLAUS_COSINE && pr && (pr->features & INDIV_FEAT_TASTE) &&
        pr->dims == indiv_catalog_dims(cat)) {
        double norm = 0;
        for (size_t k = 0; k < pr->dims; k++)
            norm += pr->taste[k] * pr->taste[k];
        a->taste = pr->taste;
        a->taste_norm = sqrt(norm);
    }
    if (a->kind == INDIV_PLAUS_COSINE)
        for (size_t c = 0; c < n_cat; c++)
            lift[c] = 1; /* per offer instead (plausibility_of) */
    else if (in->plaus && indiv_plausibility_categories(in->plaus) == n_cat)
        indiv_plausibility_lift(in->plaus, kc, nk, a->kind == INDIV_PLAUS_CONDITIONAL,
                                lift);
    else
        for (size_t c = 0; c < n_cat; c++)
            lift[c] = 1;
    a->lift = lift;
    a->known = known;
}

/* Fills a for this consumer; lift and known are the caller's scratch (n_cat values). */
static void aim_init(aim *a, const indiv_policy_params *p, const indiv_scorer *s,
                     const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                     const unsigned char *valid, const indiv_policy_input *in,
                     const indiv_decision *out, double *lift, unsigned char *known) {
    size_t n_cat = indiv_catalog_categories(cat);
    *a = (aim){p, s, b, row, cat, valid, out, indiv_logit(p->floor), NULL, NULL, 0, 0,
               p->plausibility, NULL, 0};
    if (p->divergence_aim == INDIV_AIM_ADJACENT && n_cat <= INDIV_PLAUS_MAX_CATEGORIES)
        aim_adjacent(a, in, lift, known); /* else popular (or too many categories) */
}

/* Picks the divergent offer: 1 with *pick, its pick probability and the number of
 * candidates, or 0 when there is none. */
static int draw_divergent(aim *a, double u, size_t *pick, double *share, int *n_cand) {
    *share = 1;
    if (a->lift && a->p->divergence_temperature == 0)
        return most_plausible(a, pick, n_cand);
    return draw_weighted(a, u, pick, share, n_cand);
}

/* Under `replace` with full slots, the last relevant offer is listed unless a divergent
 * offer takes its place: probability 1 − ε · openness when a candidate exists and may
 * take it. */
static void log_last_slot(const indiv_policy_params *p, aim *a, double eps,
                          indiv_decision *out) {
    if (p->divergent_slot != INDIV_SLOT_REPLACE || out->n_offers < p->slots ||
        (p->divergence == INDIV_DIV_RIDE_ALONG && p->slots == 1))
        return;
    size_t n = indiv_catalog_size(a->cat);
    double z;
    for (size_t j = 0; j < n; j++)
        if (candidate(a, j, &z)) {
            out->offers[out->n_offers - 1].logged_p = 1 - eps;
            return;
        }
}

/* Step 4. Returns 1 when a divergent offer was placed. */
static int diverge(const indiv_policy_params *p, const indiv_scorer *s,
                   const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                   const unsigned char *valid, const indiv_policy_input *in, gsl_rng *r,
                   indiv_decision *out) {
    const indiv_profile *pr = in->profile;
    double openness = (pr->features & INDIV_FEAT_OPENNESS) ? pr->openness : 1.0;
    double eps = p->serendipity * openness;
    assert(eps >= 0 && eps <= 1); /* a probability: ε and openness are both in [0, 1] */
    double u1 = gsl_rng_uniform(r), u2 = gsl_rng_uniform(r); /* always two draws */
    double lift[INDIV_PLAUS_MAX_CATEGORIES], share;
    unsigned char known[INDIV_PLAUS_MAX_CATEGORIES];
    aim a;
    if (eps <= 0)
        return 0;
    if (!(u1 < eps)) {
        if (p->divergent_slot == INDIV_SLOT_REPLACE && out->n_offers == p->slots) {
            aim_init(&a, p, s, b, row, cat, valid, in, out, lift, known);
            log_last_slot(p, &a, eps, out);
        }
        return 0;
    }
    aim_init(&a, p, s, b, row, cat, valid, in, out, lift, known);
    out->divergence_drawn = 1;
    size_t j = 0;
    if (!draw_divergent(&a, u2, &j, &share, &out->divergence_candidates)) {
        out->divergence_miss = INDIV_DIVMISS_NO_CANDIDATE;
        return 0;
    }
    if (p->divergence == INDIV_DIV_RIDE_ALONG && out->n_offers == 0) {
        out->divergence_miss = INDIV_DIVMISS_NO_COMPANION;
        return 0;
    }
    int extra = p->divergent_slot == INDIV_SLOT_EXTRA && out->n_offers < INDIV_SLOTS_MAX;
    if (!extra && p->divergence == INDIV_DIV_RIDE_ALONG && p->slots == 1) {
        out->divergence_miss = INDIV_DIVMISS_NO_ROOM;
        return 0;
    }
    if (!extra && out->n_offers == p->slots)
        out->n_offers--; /* the divergent offer takes the last slot */
    add_offer(out, s, b, row, cat, j, INDIV_KIND_DIVERGENT);
    indiv_decided_offer *o = &out->offers[out->n_offers - 1];
    assert(share > 0 && share <= 1);
    o->logged_p = eps * share;
    o->plausibility = a.lift ? plausibility_of(&a, j) : 0;
    return 1;
}

indiv_plausibility_kind indiv_policy_plausibility_used(const indiv_policy_params *p,
                                                       const char *feature_space) {
    if (p->plausibility != INDIV_PLAUS_AUTO)
        return p->plausibility;
    return strcmp(feature_space, "category") == 0 ? INDIV_PLAUS_LIFT
                                                  : INDIV_PLAUS_CONDITIONAL;
}

int indiv_policy_params_check_model(const indiv_policy_params *p, const indiv_model *m,
                                    indiv_error *err) {
    if (p->plausibility == INDIV_PLAUS_COSINE && strcmp(m->feature_space, "embedding") != 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "plausibility: 'cosine' needs a model with an embedding "
                               "(feature space 'embedding', trained by indiv train); "
                               "model '%s' has feature space '%s'",
                               m->id, m->feature_space);
    return INDIV_OK;
}

/* ---- channel and timing ------------------------------------------------------------ */

static void choose_channel(const indiv_policy_input *in, indiv_decision *out) {
    const indiv_profile *pr = in->profile;
    double best = -1;
    for (int ch = INDIV_CH_EMAIL; ch <= INDIV_CH_PUSH; ch++) {
        if (!(in->consumer->channels & INDIV_CH_BIT(ch)))
            continue;
        double rate =
            (pr && (pr->features & INDIV_FEAT_CHANNELS)) ? pr->react_rate[ch - 1] : 0;
        if (rate > best) {
            best = rate;
            out->channel = ch;
        }
    }
    for (int k = 0; k < out->n_offers; k++)
        out->offers[k].p_channel = best > 0 ? out->offers[k].p * best : 0;
}

int64_t indiv_policy_next_slot(const indiv_profile *pr, int64_t t) {
    if (!pr || !(pr->features & INDIV_FEAT_MOMENTS))
        return t;
    int hour = indiv_profile_preferred_hour(pr);
    int64_t h0 = (t + 3599) / 3600 * 3600; /* the first whole hour at or after t */
    int64_t any = INDIV_TS_NONE;
    for (int k = 0; k < HOURS_PER_WEEK; k++) {
        int64_t cand = h0 + (int64_t)k * 3600;
        if (indiv_time_hour(cand) != hour)
            continue;
        if (any == INDIV_TS_NONE)
            any = cand;
        if (pr->dow[indiv_time_dow(cand)] >= 1.0 / 7)
            return cand; /* a day the person is usually active */
    }
    return any;
}

/* Step 6: contact now, defer to the first ready day, or none (never ready). */
static void timing(const indiv_policy_params *p, const indiv_policy_input *in,
                   const indiv_rhythm_prior *prior, indiv_decision *out) {
    const indiv_profile *pr = in->profile;
    out->action = INDIV_CONTACT;
    out->send_at = indiv_policy_next_slot(pr, p->as_of);
    if (!pr || !(pr->features & INDIV_FEAT_RHYTHM) || in->readiness >= p->min_readiness)
        return;
    for (int d = 1; d <= INDIV_DEFER_MAX_DAYS; d++) {
        int64_t t = p->as_of + (int64_t)d * INDIV_SECONDS_PER_DAY;
        if (indiv_profile_readiness(pr, prior, p->rhythm_prior_strength, t,
                                    p->readiness_horizon_days) >= p->min_readiness) {
            out->action = INDIV_DEFER;
            out->reason = INDIV_R_NOT_READY;
            out->send_at = indiv_policy_next_slot(pr, t);
            return;
        }
    }
    out->action = INDIV_NONE;
    out->reason = INDIV_R_NEVER_READY;
    out->send_at = INDIV_TS_NONE;
}

/* ---- the decision ------------------------------------------------------------------ */

double indiv_relevance_any(const double *p, size_t n) {
    double none = 1; /* P(buys none), purchases taken as independent Bernoulli trials */
    for (size_t i = 0; i < n; i++)
        none *= 1 - p[i];
    return 1 - none;
}

/* Under `any`: the chosen offers are sent only when P(buys at least one) reaches τ. */
static int gate_any(const indiv_policy_params *p, const indiv_scorer *s,
                    const indiv_score_block *b, size_t row, const kept *top, int n) {
    double pr[INDIV_SLOTS_MAX];
    for (int k = 0; k < n; k++)
        pr[k] = indiv_score_propensity(s, b, row, top[k].j);
    double rel = indiv_score_relevance(s, b, row, indiv_relevance_any(pr, (size_t)n));
    return rel >= p->threshold ? n : 0; /* the model's act model of it, when it has one */
}

/* Everything one consumer's decision or evaluation reads. */
typedef struct pin {
    const indiv_policy_params *p;
    const indiv_scorer *s;
    const indiv_score_block *b;
    size_t row;
    const indiv_catalog *cat;
    const unsigned char *valid;
    const indiv_policy_input *in;
    const indiv_rhythm_prior *prior;
} pin;

static void decision_init(const indiv_policy_input *in, indiv_decision *out) {
    memset(out, 0, sizeof *out);
    out->consumer_id = in->consumer->id;
    out->personalised = in->profile != NULL;
    out->readiness = in->readiness;
    out->contacts_recent = in->contacts_recent;
    out->send_at = INDIV_TS_NONE;
    out->action = INDIV_NONE;
    out->propensity = 1;
}

/* Steps 2 and 3: the relevant offers R into out. 0 when no offer is valid. */
static int relevant_step(const pin *x, indiv_decision *out) {
    const indiv_policy_params *p = x->p;
    kept top[INDIV_RERANK_POOL_MAX];
    int n = select_relevant(p, x->s, x->b, x->row, x->cat, x->valid, top, out);
    if (!out->has_best) {
        out->reason = INDIV_R_NO_VALID_OFFER;
        return 0;
    }
    if (p->rerank != INDIV_RERANK_NONE && n > 0)
        n = rerank(p, x->s, x->b, x->row, x->cat, x->in->profile, top, n);
    assert(n >= 0 && n <= p->slots);
    if (p->relevance == INDIV_REL_ANY)
        n = gate_any(p, x->s, x->b, x->row, top, n);
    for (int k = 0; k < n; k++)
        add_offer(out, x->s, x->b, x->row, x->cat, top[k].j, INDIV_KIND_RELEVANT);
    return 1;
}

/* Steps 2 to 6 for an eligible consumer; *base gets R before the divergence step. */
static int treat(const pin *x, gsl_rng *r, indiv_decision *out, indiv_decision *base) {
    const indiv_policy_params *p = x->p;
    const indiv_policy_input *in = x->in;
    if (!relevant_step(x, out))
        return 0;
    *base = *out;
    indiv_rng_reseed(r, p->seed, (uint64_t)in->consumer->id, INDIV_RNG_DIVERGENCE);
    int placed =
        in->profile && diverge(p, x->s, x->b, x->row, x->cat, x->valid, in, r, out);
    if (out->n_offers == 0) {
        out->reason = !in->profile && in->consumer->consent_profiling
                          ? INDIV_R_NO_PROFILE
                          : INDIV_R_BELOW_THRESHOLD;
        return 1;
    }
    /* A lone divergent offer, placed alone or replacing the only relevant one
     * (standalone, one slot), is what the contact rests on. */
    out->reason =
        placed && out->n_offers == 1 ? INDIV_R_DIVERGENT_ALONE : INDIV_R_RELEVANT;
    indiv_score_terms(x->s, x->b, x->row, out->offers[0].offer, out->drivers);
    choose_channel(in, out);
    timing(p, in, x->prior, out);
    return 1;
}

/* ---- the control group ------------------------------------------------------------- */

/* A uniform number in [0, 1) from a 64-bit hash. */
static double unit(uint64_t h) {
    return (double)(h >> 11) * 0x1.0p-53;
}

/* The consumer's control hash: (seed, as_of — the campaign —, consumer id). */
static uint64_t control_hash(const indiv_policy_params *p, int64_t id) {
    uint64_t campaign = indiv_rng_derive(p->seed, (uint64_t)p->as_of, INDIV_RNG_CONTROL);
    return indiv_rng_derive(campaign, (uint64_t)id, INDIV_RNG_CONTROL);
}

static size_t count_valid(const pin *x) {
    size_t n = indiv_catalog_size(x->cat), m = 0;
    for (size_t j = 0; j < n; j++)
        m += x->valid[j] != 0;
    return m;
}

/* Replaces the treatment's decision by the control group's (none or random). */
static void control_apply(const pin *x, indiv_decision *out) {
    out->control = 1;
    if (x->p->control == INDIV_CONTROL_UNGATED) {
        if (out->n_offers > 0 && out->action != INDIV_NONE)
            out->reason = INDIV_R_CONTROL_GROUP;
        return;
    }
    out->n_offers = 0;
    out->divergence_drawn = 0;
    out->divergence_miss = INDIV_DIVMISS_NONE;
    out->divergence_candidates = 0;
    memset(out->drivers, 0, sizeof out->drivers);
    out->action = INDIV_NONE;
    out->reason = INDIV_R_CONTROL_GROUP;
    out->channel = 0;
    out->send_at = INDIV_TS_NONE;
    if (x->p->control != INDIV_CONTROL_RANDOM)
        return;
    /* The m-th valid offer, m uniform: a second hash of the same key. */
    size_t nv = count_valid(x), n = indiv_catalog_size(x->cat);
    size_t m = (size_t)(unit(indiv_rng_derive(control_hash(x->p, out->consumer_id), 1,
                                              INDIV_RNG_CONTROL)) *
                        (double)nv);
    for (size_t j = 0; j < n; j++)
        if (x->valid[j] && m-- == 0) {
            add_offer(out, x->s, x->b, x->row, x->cat, j, INDIV_KIND_CONTROL);
            break;
        }
    indiv_score_terms(x->s, x->b, x->row, out->offers[0].offer, out->drivers);
    choose_channel(x->in, out);
    out->action = INDIV_CONTACT;
    out->send_at = indiv_policy_next_slot(x->in->profile, x->p->as_of);
}

/* ---- the policy's distribution over actions (policy.h "Decision propensity") -------- */

/* The treatment's distribution for one consumer, around its relevant offers R. */
typedef struct spread {
    const pin *x;
    const indiv_decision *base; /* R (before divergence) */
    double eps;                 /* ε · openness; 0 without a profile */
    int replaces;               /* a placed divergent offer takes R's last slot */
    double place;               /* P(a divergent offer is placed): eps or 0 */
    int timing;                 /* the action timing gives offers, -1 until known */
    aim a;
    int weighed;    /* total or best computed (on the first share asked) */
    double total;   /* Σ of the candidates' weights */
    size_t best;    /* adjacent at T = 0: the most plausible candidate */
    int at_zero;    /* adjacent at T = 0 */
    double lift[INDIV_PLAUS_MAX_CATEGORIES];
    unsigned char known[INDIV_PLAUS_MAX_CATEGORIES];
} spread;

/* Whether a drawn divergent offer, when there is a candidate, is placed beside n
 * relevant offers (the rules of diverge), and whether it takes the last slot. */
static int placeable(const indiv_policy_params *p, int n, int *replaces) {
    int extra = p->divergent_slot == INDIV_SLOT_EXTRA && n < INDIV_SLOTS_MAX;
    *replaces = !extra && n == p->slots;
    if (p->divergence == INDIV_DIV_RIDE_ALONG && n == 0)
        return 0;
    return extra || p->divergence != INDIV_DIV_RIDE_ALONG || p->slots != 1;
}

static void spread_init(spread *sp, const pin *x, const indiv_decision *base) {
    const indiv_policy_params *p = x->p;
    const indiv_profile *pr = x->in->profile;
    sp->x = x;
    sp->base = base;
    sp->eps = 0;
    sp->place = 0;
    sp->timing = -1;
    sp->replaces = 0;
    if (pr)
        sp->eps = p->serendipity * ((pr->features & INDIV_FEAT_OPENNESS) ? pr->openness : 1.0);
    if (!base->has_best || !(sp->eps > 0) ||
        !placeable(p, base->n_offers, &sp->replaces))
        return;
    aim_init(&sp->a, p, x->s, x->b, x->row, x->cat, x->valid, x->in, base, sp->lift,
             sp->known);
    sp->at_zero = sp->a.lift && p->divergence_temperature == 0;
    sp->weighed = 0;
    size_t n = indiv_catalog_size(x->cat);
    double z;
    for (size_t j = 0; j < n; j++) /* one candidate is enough to know */
        if (candidate(&sp->a, j, &z)) {
            sp->place = sp->eps;
            return;
        }
}

/* P(candidate j is the one drawn), given a draw. */
static double share_of(spread *sp, size_t j) {
    double z;
    int n_cand;
    if (!(sp->place > 0))
        return 0;
    if (!sp->weighed) { /* settles the relative floor before any candidate is judged */
        if (sp->at_zero)
            most_plausible(&sp->a, &sp->best, &n_cand);
        else
            weigh_candidates(&sp->a, &sp->total);
        sp->weighed = 1;
    }
    if (!candidate(&sp->a, j, &z))
        return 0;
    if (sp->at_zero)
        return j == sp->best;
    return weight(&sp->a, j, z) / sp->total;
}

/* The action timing (step 6) gives a consumer with offers. */
static int timing_of(spread *sp) {
    if (sp->timing < 0) {
        indiv_decision d;
        memset(&d, 0, sizeof d);
        timing(sp->x->p, sp->x->in, sp->x->prior, &d);
        sp->timing = (int)d.action;
    }
    return sp->timing;
}

static int has_offer(const indiv_decided_offer *o, int n, size_t j) {
    for (int k = 0; k < n; k++)
        if (o[k].offer == j)
            return 1;
    return 0;
}

static int key_has(const indiv_action_key *k, size_t j) {
    for (int q = 0; q < k->n; q++)
        if (k->offer[q] == j)
            return 1;
    return 0;
}

/* k lists exactly the offers of R minus its last when the divergent offer replaces it,
 * plus one offer *j outside R. */
static int placed_variant(const spread *sp, const indiv_action_key *k, size_t *j) {
    const indiv_decision *R = sp->base;
    int keep = R->n_offers - sp->replaces, outside = 0;
    if (k->n != keep + 1)
        return 0;
    for (int q = 0; q < keep; q++)
        if (!key_has(k, R->offers[q].offer))
            return 0;
    for (int q = 0; q < k->n; q++)
        if (!has_offer(R->offers, keep, k->offer[q])) {
            outside++;
            *j = k->offer[q];
        }
    return outside == 1 && !has_offer(R->offers, R->n_offers, *j);
}

/* k lists exactly the offers of R. */
static int same_as_base(const spread *sp, const indiv_action_key *k) {
    const indiv_decision *R = sp->base;
    if (k->n != R->n_offers)
        return 0;
    for (int q = 0; q < k->n; q++)
        if (!key_has(k, R->offers[q].offer))
            return 0;
    return 1;
}

/* π_T(k | x): the treatment's probability of action k. */
static double treat_prob(spread *sp, const indiv_action_key *k) {
    const indiv_decision *R = sp->base;
    int n = R->n_offers;
    size_t j;
    if (!R->has_best || (n == 0 && !(sp->place > 0)))
        return k->action == INDIV_NONE;
    if (timing_of(sp) == INDIV_NONE) /* never ready: none whatever is listed */
        return k->action == INDIV_NONE;
    if (k->action == INDIV_NONE)
        return n == 0 ? 1 - sp->place : 0;
    if (k->action != (indiv_action)timing_of(sp))
        return 0;
    if (n > 0 && same_as_base(sp, k))
        return 1 - sp->place;
    if (!(sp->place > 0) || !placed_variant(sp, k, &j))
        return 0;
    return sp->eps * share_of(sp, j);
}

/* P_T(offer j is listed): R's offers but the last one a divergent offer may replace;
 * a candidate by its share of the draw. */
static double treat_listed(spread *sp, size_t j) {
    const indiv_decision *R = sp->base;
    int n = R->n_offers;
    for (int q = 0; q < n; q++)
        if (R->offers[q].offer == j)
            return q == n - 1 && sp->replaces ? 1 - sp->place : 1;
    return sp->eps * share_of(sp, j);
}

/* Σ over the offers of k of (p_j, p_j · price_j) into v[0..2), 1 into v[2]. */
static void offer_values(const pin *x, size_t j, double v[INDIV_V_COUNT]) {
    double pj = indiv_score_propensity(x->s, x->b, x->row, j);
    v[INDIV_V_CONVERSIONS] = pj;
    v[INDIV_V_REVENUE] = pj * indiv_catalog_offer(x->cat, j)->price;
    v[INDIV_V_CONTACTS] = 0;
}

/* r̂(x, k): the engine's reward model (policy.h). */
static void reward_hat(const pin *x, const indiv_action_key *k, double r[INDIV_V_COUNT]) {
    double v[INDIV_V_COUNT];
    memset(r, 0, INDIV_V_COUNT * sizeof *r);
    if (k->action != INDIV_CONTACT)
        return;
    for (int q = 0; q < k->n; q++) {
        offer_values(x, k->offer[q], v);
        r[INDIV_V_CONVERSIONS] += v[INDIV_V_CONVERSIONS];
        r[INDIV_V_REVENUE] += v[INDIV_V_REVENUE];
    }
    r[INDIV_V_CONTACTS] = 1;
}

/* Σ_j share(j) · (p_j, p_j · price_j) over the candidates into vd[0..2): one pass that
 * weighs and sums together (the weights of weigh_candidates, so the shares are the
 * draw's), instead of a share_of per offer. */
static void divergent_mean(spread *sp, double vd[INDIV_V_COUNT]) {
    const pin *x = sp->x;
    size_t nc = indiv_catalog_size(x->cat);
    double v[INDIV_V_COUNT], z;
    share_of(sp, 0); /* weighs once: the floor, the scale and the sum the draw uses */
    if (sp->at_zero) {
        offer_values(x, sp->best, v);
        vd[0] = v[0];
        vd[1] = v[1];
        return;
    }
    for (size_t j = 0; j < nc; j++)
        if (candidate(&sp->a, j, &z)) {
            double w = weight(&sp->a, j, z);
            offer_values(x, j, v);
            vd[0] += w * v[0];
            vd[1] += w * v[1];
        }
    vd[0] /= sp->total;
    vd[1] /= sp->total;
}

/* Σ_a π_T(a | x) r̂(x, a): R with probability 1 − place, R with a divergent offer j
 * (replacing R's last one or not) with probability place · share(j). */
static void treat_expected(spread *sp, double e[INDIV_V_COUNT]) {
    const pin *x = sp->x;
    const indiv_decision *R = sp->base;
    int n = R->n_offers;
    double v[INDIV_V_COUNT], vr[INDIV_V_COUNT] = {0}, vd[INDIV_V_COUNT] = {0};
    memset(e, 0, INDIV_V_COUNT * sizeof *e);
    if (!R->has_best || (n == 0 && !(sp->place > 0)) || timing_of(sp) != INDIV_CONTACT)
        return;
    for (int q = 0; q < n; q++) {
        offer_values(x, R->offers[q].offer, v);
        for (int m = 0; m < INDIV_V_CONTACTS; m++)
            vr[m] += v[m];
    }
    vr[INDIV_V_CONTACTS] = n > 0;
    for (int m = 0; m < INDIV_V_COUNT; m++)
        e[m] = (1 - sp->place) * vr[m];
    if (!(sp->place > 0))
        return;
    divergent_mean(sp, vd);
    if (sp->replaces) {
        offer_values(x, R->offers[n - 1].offer, v);
        for (int m = 0; m < INDIV_V_CONTACTS; m++)
            vd[m] -= v[m];
    }
    for (int m = 0; m < INDIV_V_CONTACTS; m++)
        e[m] += sp->place * (vr[m] + vd[m]);
    e[INDIV_V_CONTACTS] += sp->place;
}

/* Control random: a contact with one uniformly random valid offer. */
static void random_expected(const pin *x, double e[INDIV_V_COUNT]) {
    size_t n = indiv_catalog_size(x->cat), nv = count_valid(x);
    double v[INDIV_V_COUNT];
    memset(e, 0, INDIV_V_COUNT * sizeof *e);
    for (size_t j = 0; nv > 0 && j < n; j++)
        if (x->valid[j]) {
            offer_values(x, j, v);
            e[INDIV_V_CONVERSIONS] += v[INDIV_V_CONVERSIONS] / (double)nv;
            e[INDIV_V_REVENUE] += v[INDIV_V_REVENUE] / (double)nv;
        }
    e[INDIV_V_CONTACTS] = nv > 0;
}

/* The distributions of one eligible consumer with a valid offer: the treatment's (T),
 * and under `ungated` the control's (the treatment at τ = 0). */
typedef struct dists {
    pin x0;            /* the inputs with τ = 0 (ungated) */
    indiv_policy_params p0;
    indiv_decision base0;
    spread t, c;       /* c: ungated only */
    int has_c;
} dists;

/* Fills d; base is R under x->p. */
static void dists_init(dists *d, const pin *x, const indiv_decision *base) {
    spread_init(&d->t, x, base);
    d->has_c = x->p->control_share > 0 && x->p->control == INDIV_CONTROL_UNGATED;
    if (!d->has_c)
        return;
    d->p0 = *x->p;
    d->p0.threshold = 0;
    d->x0 = *x;
    d->x0.p = &d->p0;
    decision_init(x->in, &d->base0);
    relevant_step(&d->x0, &d->base0);
    spread_init(&d->c, &d->x0, &d->base0);
}

/* π_C(k | x): the control group's probability of action k. */
static double control_prob(dists *d, const pin *x, const indiv_action_key *k) {
    switch (x->p->control) {
    case INDIV_CONTROL_RANDOM:
        return k->action == INDIV_CONTACT && k->n == 1 && x->valid[k->offer[0]]
                   ? 1.0 / (double)count_valid(x)
                   : 0;
    case INDIV_CONTROL_UNGATED:
        return treat_prob(&d->c, k);
    default:
        return k->action == INDIV_NONE;
    }
}

/* π(k | x) = (1 − c) · π_T(k | x) + c · π_C(k | x). */
static double action_prob(dists *d, const pin *x, const indiv_action_key *k) {
    double c = x->p->control_share;
    double pt = treat_prob(&d->t, k);
    return c > 0 ? (1 - c) * pt + c * control_prob(d, x, k) : pt;
}

/* With a control group, each listed offer's probability of being listed mixes both. */
static void control_listed(dists *d, const pin *x, indiv_decision *out) {
    double c = x->p->control_share;
    size_t nv = x->p->control == INDIV_CONTROL_RANDOM ? count_valid(x) : 0;
    for (int q = 0; q < out->n_offers; q++) {
        size_t j = out->offers[q].offer;
        double pc = x->p->control == INDIV_CONTROL_UNGATED ? treat_listed(&d->c, j)
                    : nv > 0                               ? 1.0 / (double)nv
                                                           : 0;
        out->offers[q].logged_p = (1 - c) * treat_listed(&d->t, j) + c * pc;
    }
}

void indiv_action_key_of(const indiv_decision *d, indiv_action_key *k) {
    memset(k, 0, sizeof *k);
    k->action = d->action;
    if (d->action == INDIV_NONE)
        return;
    k->n = d->n_offers;
    for (int q = 0; q < d->n_offers; q++)
        k->offer[q] = d->offers[q].offer;
}

/* Whether the consumer falls in the control group. */
static int in_control(const indiv_policy_params *p, int64_t id) {
    return p->control_share > 0 && unit(control_hash(p, id)) < p->control_share;
}

void indiv_policy_decide(const indiv_policy_params *p, const indiv_scorer *s,
                         const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                         const unsigned char *valid, const indiv_policy_input *in,
                         const indiv_rhythm_prior *prior, gsl_rng *r,
                         indiv_decision *out) {
    decision_init(in, out);
    int why = ineligible(p, in);
    if (why >= 0) {
        out->reason = (indiv_reason)why;
        return;
    }
    pin x = {p, s, b, row, cat, valid, in, prior};
    int ctl = in_control(p, in->consumer->id);
    indiv_policy_params q = *p;
    indiv_decision base, base_u;
    const indiv_decision *base_t = &base;
    if (ctl && p->control == INDIV_CONTROL_UNGATED) {
        q.threshold = 0; /* the control group's decision: the policy's, ungated */
        x.p = &q;
    }
    if (!treat(&x, r, out, &base))
        return; /* no valid offer: none, with certainty */
    x.p = p;
    if (ctl)
        control_apply(&x, out);
    if (ctl && p->control == INDIV_CONTROL_UNGATED) {
        decision_init(in, &base_u); /* the treatment's R, for its probabilities */
        relevant_step(&x, &base_u);
        base_t = &base_u;
    }
    dists d;
    dists_init(&d, &x, base_t);
    indiv_action_key k;
    indiv_action_key_of(out, &k);
    out->propensity = action_prob(&d, &x, &k);
    if (p->control_share > 0)
        control_listed(&d, &x, out);
}

static void control_expected(dists *d, const pin *x, double e[INDIV_V_COUNT]) {
    if (x->p->control == INDIV_CONTROL_RANDOM)
        random_expected(x, e);
    else if (x->p->control == INDIV_CONTROL_UNGATED)
        treat_expected(&d->c, e);
    else
        memset(e, 0, INDIV_V_COUNT * sizeof *e);
}

void indiv_policy_evaluate(const indiv_policy_params *p, const indiv_scorer *s,
                           const indiv_score_block *b, size_t row,
                           const indiv_catalog *cat, const unsigned char *valid,
                           const indiv_policy_input *in, const indiv_rhythm_prior *prior,
                           const indiv_action_key *a, indiv_policy_eval *out) {
    pin x = {p, s, b, row, cat, valid, in, prior};
    indiv_decision base;
    memset(out, 0, sizeof *out);
    reward_hat(&x, a, out->reward_hat);
    decision_init(in, &base);
    if (ineligible(p, in) >= 0 || !relevant_step(&x, &base)) {
        out->p = a->action == INDIV_NONE; /* none, with certainty */
        return;
    }
    dists d;
    dists_init(&d, &x, &base);
    out->p = action_prob(&d, &x, a);
    double et[INDIV_V_COUNT], ec[INDIV_V_COUNT] = {0}, c = p->control_share;
    treat_expected(&d.t, et);
    if (c > 0)
        control_expected(&d, &x, ec);
    for (int m = 0; m < INDIV_V_COUNT; m++)
        out->expected[m] = c > 0 ? (1 - c) * et[m] + c * ec[m] : et[m];
}
