/*
 * sim.h — synthetic worlds with known ground truth (DESIGN.md §8).
 *
 * indiv_world_generate writes, into an empty event log, a world of offers in categories
 * and consumers with true tastes (some latent: liked but never bought), purchase rhythms,
 * preferred hours and days, channel habits and consent, plus their history of organic
 * purchases and views. The truth (tastes, rhythms, habits) goes to the truth_* tables,
 * which the engine never reads. Every assumption is a named parameter below, with its
 * default in indiv_world_params_init, and the parameters actually used are stored in
 * meta('world_params') as JSON. Same parameters and seed → identical database content,
 * whatever the machine (draws come from per-consumer streams, see rng.h).
 *
 * Later issues add the closed loop (organic rounds, responses to contacts) here.
 */
#ifndef INDIV_SIM_H
#define INDIV_SIM_H

#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/progress.h"

typedef struct indiv_world_params {
    /* size */
    int64_t consumers;  /* number of consumers (>= 1) */
    int64_t offers;     /* number of offers (>= categories) */
    int64_t categories; /* number of categories (>= 2) */
    int64_t days;       /* length of the history (>= 1) */
    uint64_t seed;
    int64_t start_ts; /* UTC start of the history */

    /* catalogue */
    double category_zipf;   /* popularity of categories ~ rank^-s */
    double offer_zipf;      /* popularity of offers within their category ~ rank^-s */
    double price_median;    /* lognormal offer prices: median ... */
    double price_sigma;     /* ... and log-scale spread */
    double margin_min, margin_max; /* margin share, uniform */
    double p_limited_validity;     /* share of offers valid only for part of the period */

    /* tastes */
    double known_tastes_mean;  /* known categories per consumer: 1 + Poisson(mean - 1) */
    double latent_share;       /* share of consumers with latent tastes */
    double latent_tastes_mean; /* latent categories of those: 1 + Poisson(mean - 1) */
    double taste_concentration; /* Dirichlet concentration of taste weights */

    /* rhythm */
    double interval_median_days; /* per-consumer mean inter-purchase interval: lognormal */
    double interval_sigma;       /* log-scale spread of that mean across consumers */
    double interval_shape_min;   /* gamma shape of a consumer's intervals, uniform in */
    double interval_shape_max;   /* [min, max] (1 = memoryless, larger = regular) */
    double views_per_purchase;   /* Poisson mean of views before a purchase */
    double browse_views_per_week; /* Poisson mean of extra browsing views per week */
    double quantity_mean;        /* quantity per purchase: 1 + Poisson(mean - 1) */

    /* moments */
    double hour_sd;        /* spread (hours) of activity around the preferred hour */
    double p_on_pref_dow;  /* share of activity moved to the preferred day of week */

    /* consent, channels, reactions */
    double p_consent_profiling;
    double p_consent_contact;
    double p_channel[3];   /* email, sms, push: probability each is accepted */
    double react_alpha;    /* reaction rates per channel ~ Beta(alpha, beta) */
    double react_beta;

    /* openness and fatigue */
    double openness_alpha; /* openness ~ Beta(alpha, beta) */
    double openness_beta;
    double fatigue_mean;   /* irrelevant contacts tolerated: gamma with this mean... */
    double fatigue_shape;  /* ... and this shape */
} indiv_world_params;

typedef struct indiv_world_summary {
    int64_t consumers, offers, categories, events;
    int64_t by_type[INDIV_EV_MAX + 1];
    int64_t latent_tastes;          /* truth_tastes rows with latent = 1 */
    int64_t consumers_with_latent;
    int64_t no_profiling_consent, no_contact_consent;
} indiv_world_summary;

/* Fills p with the documented defaults (README.md, "Synthetic worlds"). */
void indiv_world_params_init(indiv_world_params *p);

/* Checks every parameter; names the first one at fault. */
int indiv_world_params_validate(const indiv_world_params *p, indiv_error *err);

/* Writes the parameters as a JSON object string (caller frees with free()); NULL when
 * out of memory. Keys are the field names above, sorted. */
char *indiv_world_params_json(const indiv_world_params *p);

/* Generates the world into log, which must hold no consumers, offers or events yet, in
 * one transaction. progress may be NULL. On failure nothing is written. */
int indiv_world_generate(indiv_eventlog *log, const indiv_world_params *p,
                         indiv_progress_fn progress, void *ctx,
                         indiv_world_summary *sum /* OUT, may be NULL */, indiv_error *err);

#endif /* INDIV_SIM_H */
