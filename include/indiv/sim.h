/*
 * sim.h — synthetic worlds with known ground truth (docs/architecture.md §8).
 *
 * indiv_world_generate writes, into an empty event log, a world of offers in categories
 * and consumers with true tastes (some latent: liked but never bought), purchase rhythms,
 * preferred hours and days, channel habits and consent, plus their history of organic
 * purchases and views. The truth (tastes, rhythms, habits) goes to the truth_* tables,
 * which the engine never reads. Every assumption is a named parameter below, with its
 * default in indiv_world_params_init, and the parameters actually used are stored in
 * meta('world_params') as JSON. Same parameters and seed → identical database content,
 * whatever the order of processing (draws come from per-consumer streams, see rng.h),
 * on every machine whose C math library gives the same exp/log/pow (glibc does).
 *
 * The parameters are also described by a table (indiv_world_param_at): name, command-line
 * option, range and meaning, so that the CLI, the JSON form and the documentation
 * (docs/worlds.md) all come from one place.
 *
 * Usage:
 *     indiv_world_params p;
 *     indiv_world_params_init(&p);
 *     p.consumers = 500;
 *     indiv_world_params_set(&p, "latent_share", "0.4", &err);
 *     indiv_world_generate(log, &p, NULL, NULL, &summary, &err);
 *
 * The closed loop (organic rounds, responses to contacts) that runs on such a world is
 * simulate.h.
 */
#ifndef INDIV_SIM_H
#define INDIV_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/progress.h"

/* Every field is a parameter; docs/worlds.md gives each one's default, meaning and the
 * formula it enters. Times are UTC seconds, durations in the unit their name says. */
typedef struct indiv_world_params {
    /* size */
    int64_t consumers;  /* number of consumers */
    int64_t offers;     /* number of offers (>= categories) */
    int64_t categories; /* number of categories (>= 2) */
    int64_t days;       /* length of the history */
    uint64_t seed;      /* run seed of every random stream (<= INT64_MAX) */
    int64_t start_ts;   /* UTC start of the history */

    /* catalogue */
    double category_zipf;        /* popularity of the category of rank k ~ k^-s */
    double offer_zipf;           /* popularity of the offer of rank k in its category */
    double price_median;         /* median offer price */
    double category_price_sigma; /* log-spread of category price levels */
    double price_sigma;          /* log-spread of prices within a category */
    double margin_min;           /* margin share of the price, uniform in ... */
    double margin_max;           /* ... [margin_min, margin_max] */
    double p_limited_validity;   /* share of offers valid only for part of the period */
    double validity_days_min;    /* length of a limited validity window, uniform in ... */
    double validity_days_max;    /* ... [min, max] days */

    /* tastes */
    double known_tastes_mean;   /* known categories per consumer: 1 + Poisson(mean - 1) */
    double latent_share;        /* share of consumers with latent tastes */
    double latent_tastes_mean;  /* latent categories of those: 1 + Poisson(mean - 1) */
    double taste_concentration; /* Dirichlet concentration of taste weights */
    double taste_breadth_dispersion; /* variance of the per-consumer taste count factor */
    double taste_locality; /* rho: chance a further taste is drawn near an earlier one */
    int64_t taste_groups;  /* groups of categories that "near" means (rho > 0) */

    /* rhythm and history */
    double interval_median_days; /* consumers' mean inter-purchase interval: lognormal */
    double interval_sigma;       /* log-scale spread of that mean across consumers */
    double interval_min_days;    /* floor of a consumer's mean interval */
    double interval_shape_min;   /* gamma shape of a consumer's intervals, uniform in */
    double interval_shape_max;   /* [min, max] (1 = memoryless, larger = regular) */
    double views_per_purchase;   /* Poisson mean of views before a purchase */
    double p_view_same_offer;    /* share of those views on the offer then bought */
    double view_lead_minutes;    /* mean (exponential) time from such a view to the buy */
    double browse_views_per_week; /* Poisson rate of browsing views */
    double p_browse_explore;      /* share of browsing outside known tastes */
    double quantity_mean;         /* quantity per purchase: 1 + Poisson(mean - 1) */
    double basket_lines_mean;     /* lines (purchases) per order: 1 + Poisson(mean - 1) */
    double p_single_line;         /* share of orders forced to one line (default 0) */

    /* moments */
    double pref_hour_mean; /* preferred hours across consumers: normal, this mean ... */
    double pref_hour_sd;   /* ... and this spread (hours, wrapped to the day) */
    double hour_sd;        /* spread (hours) of a consumer's activity around it */
    double p_random_hour;  /* share of activity at a uniformly random hour */
    double p_on_pref_dow;  /* share of activity moved to the preferred day of week */
    /* relative activity per weekday; all equal (the default): no weekday profile */
    double weekday_weight_mon, weekday_weight_tue, weekday_weight_wed, weekday_weight_thu,
        weekday_weight_fri, weekday_weight_sat, weekday_weight_sun;

    /* consent, channels, reactions */
    double p_consent_profiling;
    double p_consent_contact;
    double p_channel_email; /* probability each contact channel is accepted (given */
    double p_channel_sms;   /* that at least one is) */
    double p_channel_push;
    double react_alpha; /* reaction rates per channel ~ Beta(alpha, beta) */
    double react_beta;

    /* openness and fatigue */
    double openness_alpha; /* openness ~ Beta(alpha, beta) */
    double openness_beta;
    double fatigue_mean;  /* irrelevant contacts tolerated: gamma with this mean ... */
    double fatigue_shape; /* ... and this shape */
} indiv_world_params;

/* How a parameter's value is written and read. */
typedef enum indiv_param_kind {
    INDIV_PARAM_INT = 1,  /* int64_t */
    INDIV_PARAM_REAL = 2, /* double */
    INDIV_PARAM_SEED = 3, /* uint64_t, at most INT64_MAX */
    INDIV_PARAM_TIME = 4  /* int64_t UTC seconds; text is ISO 8601 or Unix seconds */
} indiv_param_kind;

/* Description of one parameter. Values v must satisfy min <= v <= max, or min < v when
 * min_exclusive. */
typedef struct indiv_world_param {
    const char *name;   /* field name and JSON key: "latent_share" */
    const char *option; /* command-line option without dashes: "latent-share" */
    const char *group;  /* "size", "catalogue", "tastes", ... */
    indiv_param_kind kind;
    double def; /* default */
    double min, max;
    int min_exclusive;
    const char *doc; /* one line: meaning and unit */
} indiv_world_param;

typedef struct indiv_world_summary {
    int64_t consumers, offers, categories, events;
    int64_t by_type[INDIV_EV_MAX + 1];
    int64_t latent_tastes; /* truth_tastes rows with latent = 1 */
    int64_t consumers_with_latent;
    int64_t no_profiling_consent, no_contact_consent;
    int64_t limited_offers; /* offers with a bounded validity window */
} indiv_world_summary;

/* ---- parameters ---------------------------------------------------------------- */

/* Fills p with the documented defaults (docs/worlds.md). Cannot fail. */
void indiv_world_params_init(indiv_world_params *p);

/* Number of parameters, and the i-th one's description (NULL when i is out of range).
 * The order is the documentation order (by group). */
size_t indiv_world_param_count(void);
const indiv_world_param *indiv_world_param_at(size_t i);

/* The description of the parameter named name (field name or option); NULL if none. */
const indiv_world_param *indiv_world_param_find(const char *name);

/* Parses text as the value of the parameter called name (field name or option) and
 * stores it in p after checking its range. INDIV_EINVAL naming the parameter on an
 * unknown name, a malformed value or one out of range; p is then unchanged. */
int indiv_world_params_set(indiv_world_params *p, const char *name, const char *text,
                           indiv_error *err);

/* Writes the value in p of the parameter desc (from indiv_world_param_at or _find) as
 * text, the form indiv_world_params_set reads back; times as ISO 8601. Cannot fail
 * (truncates to cap). */
void indiv_world_params_format(const indiv_world_params *p, const indiv_world_param *desc,
                               char *buf, size_t cap);

/* Checks every parameter's range and the relations between them (offers >= categories,
 * min <= max pairs, at least one channel possible); names the first one at fault. */
int indiv_world_params_validate(const indiv_world_params *p, indiv_error *err);

/* Writes the parameters as a JSON object string (caller frees with free()); NULL when
 * out of memory. Keys are the field names, sorted; reals have 15 significant digits
 * (DBL_DIG), so values given in decimal with at most 15 digits read back exactly. */
char *indiv_world_params_json(const indiv_world_params *p);

/* Reads parameters from a JSON object as written by indiv_world_params_json: starts
 * from the defaults, sets each key, then validates. Unknown keys, wrong types and bad
 * values are refused (INDIV_EFORMAT / INDIV_EINVAL) naming the key. */
int indiv_world_params_from_json(const char *json, indiv_world_params *p /* OUT */,
                                 indiv_error *err);

/* ---- generation ------------------------------------------------------------------ */

/* Generates the world into log, which must hold no consumers, offers or events yet and
 * must not be inside a transaction, in one transaction. progress (may be NULL) is called
 * with stages "offers" and "consumers". On failure nothing is written and *sum is
 * zeroed. Also sets meta 'generator', 'seed' and 'world_params'. */
int indiv_world_generate(indiv_eventlog *log, const indiv_world_params *p,
                         indiv_progress_fn progress, void *ctx,
                         indiv_world_summary *sum /* OUT, may be NULL */,
                         indiv_error *err);

#endif /* INDIV_SIM_H */
