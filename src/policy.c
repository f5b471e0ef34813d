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

#include <math.h>
#include <string.h>

#include "indiv/rng.h"
#include "indiv/timeutil.h"

#define HOURS_PER_WEEK (7 * 24)

static const char *const action_names[] = {"none", "contact", "defer"};
static const char *const reason_names[INDIV_R_COUNT] = {
    "relevant_offers", "divergent_offer_alone",   "not_ready",    "no_contact_consent",
    "unsubscribed",    "no_accepted_channel",     "pressure_cap", "no_valid_offer",
    "below_threshold", "not_ready_within_horizon"};
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

/* ---- ranking ------------------------------------------------------------------------
 */

typedef struct kept {
    double key;
    size_t j;
} kept;

/* Inserts (key, j) into the sorted array k[0..*n) of capacity cap (best first). */
static void keep(kept *k, int *n, int cap, double key, size_t j) {
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
}

static double expected_value(const indiv_catalog *cat, size_t j, double p) {
    const indiv_offer *o = indiv_catalog_offer(cat, j);
    return p * o->price * o->margin;
}

/* Scans every valid offer once: best logit, and the top `slots` above the threshold. */
static int select_relevant(const indiv_policy_params *p, const indiv_scorer *s,
                           const indiv_score_block *b, size_t row,
                           const indiv_catalog *cat, const unsigned char *valid,
                           kept *top, indiv_decision *out) {
    const double *c = indiv_scorer_offer_terms(s), *aff = indiv_score_affinity(b, row);
    double w = indiv_scorer_affinity_weight(s), u = indiv_score_consumer_term(b, row);
    double zt = indiv_logit(p->threshold), best = -INFINITY;
    size_t n = indiv_catalog_size(cat);
    int kept_n = 0;
    for (size_t j = 0; j < n; j++) {
        if (!valid[j])
            continue;
        double z = c[j] + u + w * aff[j];
        if (z > best || !out->has_best) {
            best = z;
            out->best_offer = j;
            out->has_best = 1;
        }
        if (z < zt)
            continue;
        double key = p->rank_by_value ? expected_value(cat, j, indiv_sigmoid(z)) : z;
        keep(top, &kept_n, p->slots, key, j);
    }
    if (out->has_best)
        out->best_p = indiv_sigmoid(best);
    return kept_n;
}

static void add_offer(indiv_decision *out, const indiv_scorer *s,
                      const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                      size_t j, indiv_offer_kind kind) {
    indiv_decided_offer *o = &out->offers[out->n_offers++];
    o->offer = j;
    o->kind = kind;
    o->rank = out->n_offers;
    o->p = indiv_score_propensity(s, b, row, j);
    o->affinity = indiv_score_affinity(b, row)[j];
    o->value = expected_value(cat, j, o->p);
}

/* ---- divergence -------------------------------------------------------------------- */

static int is_kept(const indiv_decision *out, size_t j) {
    for (int k = 0; k < out->n_offers; k++)
        if (out->offers[k].offer == j)
            return 1;
    return 0;
}

/* Draws one offer outside the bubble above the floor, with probability proportional to
 * its propensity (inverse-CDF over the candidates, u in [0, 1)). 0 when none. */
static int draw_divergent(const indiv_policy_params *p, const indiv_scorer *s,
                          const indiv_score_block *b, size_t row, size_t n,
                          const unsigned char *valid, const indiv_decision *out, double u,
                          size_t *pick) {
    const double *aff = indiv_score_affinity(b, row);
    double zf = indiv_logit(p->floor), total = 0;
    for (int pass = 0; pass < 2; pass++) {
        double acc = 0, target = u * total;
        for (size_t j = 0; j < n; j++) {
            if (!valid[j] || aff[j] >= p->bubble || is_kept(out, j))
                continue;
            double z = indiv_score_logit(s, b, row, j);
            if (z < zf)
                continue;
            acc += indiv_sigmoid(z);
            if (pass == 1 && acc > target) {
                *pick = j;
                return 1;
            }
        }
        if (acc <= 0)
            return 0;
        total = acc;
    }
    return 0; /* not reached: pass 1 always picks when total > 0 */
}

/* Step 4. Returns 1 when a divergent offer was placed. */
static int diverge(const indiv_policy_params *p, const indiv_scorer *s,
                   const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                   const unsigned char *valid, const indiv_policy_input *in, gsl_rng *r,
                   indiv_decision *out) {
    const indiv_profile *pr = in->profile;
    double openness = (pr->features & INDIV_FEAT_OPENNESS) ? pr->openness : 1.0;
    double u1 = gsl_rng_uniform(r), u2 = gsl_rng_uniform(r); /* always two draws */
    if (!(u1 < p->serendipity * openness))
        return 0;
    out->divergence_drawn = 1;
    size_t j;
    if (!draw_divergent(p, s, b, row, indiv_catalog_size(cat), valid, out, u2, &j)) {
        out->divergence_miss = INDIV_DIVMISS_NO_CANDIDATE;
        return 0;
    }
    if (p->divergence == INDIV_DIV_RIDE_ALONG && out->n_offers == 0) {
        out->divergence_miss = INDIV_DIVMISS_NO_COMPANION;
        return 0;
    }
    if (p->divergence == INDIV_DIV_RIDE_ALONG && p->slots == 1) {
        out->divergence_miss = INDIV_DIVMISS_NO_ROOM;
        return 0;
    }
    if (out->n_offers == p->slots)
        out->n_offers--; /* the divergent offer takes the last slot */
    add_offer(out, s, b, row, cat, j, INDIV_KIND_DIVERGENT);
    return 1;
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

void indiv_policy_decide(const indiv_policy_params *p, const indiv_scorer *s,
                         const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                         const unsigned char *valid, const indiv_policy_input *in,
                         const indiv_rhythm_prior *prior, gsl_rng *r,
                         indiv_decision *out) {
    memset(out, 0, sizeof *out);
    out->consumer_id = in->consumer->id;
    out->personalised = in->profile != NULL;
    out->readiness = in->readiness;
    out->contacts_recent = in->contacts_recent;
    out->send_at = INDIV_TS_NONE;
    out->action = INDIV_NONE;
    int why = ineligible(p, in);
    if (why >= 0) {
        out->reason = (indiv_reason)why;
        return;
    }
    kept top[INDIV_SLOTS_MAX];
    int n = select_relevant(p, s, b, row, cat, valid, top, out);
    if (!out->has_best) {
        out->reason = INDIV_R_NO_VALID_OFFER;
        return;
    }
    for (int k = 0; k < n; k++)
        add_offer(out, s, b, row, cat, top[k].j, INDIV_KIND_RELEVANT);
    indiv_rng_reseed(r, p->seed, (uint64_t)in->consumer->id, INDIV_RNG_DIVERGENCE);
    int placed = in->profile && diverge(p, s, b, row, cat, valid, in, r, out);
    if (out->n_offers == 0) {
        out->reason = INDIV_R_BELOW_THRESHOLD;
        return;
    }
    /* A lone divergent offer, placed alone or replacing the only relevant one
     * (standalone, one slot), is what the contact rests on. */
    out->reason =
        placed && out->n_offers == 1 ? INDIV_R_DIVERGENT_ALONE : INDIV_R_RELEVANT;
    indiv_score_terms(s, b, row, out->offers[0].offer, out->drivers);
    choose_channel(in, out);
    timing(p, in, prior, out);
}
