/*
 * sim.c — synthetic worlds: the parameter table, its JSON form, and the generator.
 *
 * The model is described in docs/worlds.md; each formula below names its source. The
 * generator writes, in one transaction and in this order: meta, categories, offers, then
 * for each consumer in id order its row, its truth rows and its events in time order
 * (events are clustered by (consumer_id, ts, id), so every insert is an append).
 *
 * Invariants:
 * - every draw comes from a stream of rng.h seeded by (seed, entity, purpose):
 * world-level draws from (seed, 0, WORLD_GLOBAL), offer k's from (seed, k, WORLD_OFFER),
 * consumer i's traits from (seed, i, WORLD_CONSUMER) and history from (seed, i,
 * WORLD_HISTORY). Nothing depends on the order in which consumers are processed;
 * - organic purchases and views are only in the consumer's known categories (views also
 *   in explored ones), never in a latent one, and only of offers valid at that time
 *   (valid_from <= ts < valid_to); every category's most popular offer is always valid,
 *   so every category can be bought at every moment;
 * - every event lies in the history [start_ts, start_ts + days * 86400).
 */
#include "indiv/sim.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "indiv/rng.h"
#include "indiv/timeutil.h"

#define SEC_PER_MIN   60
#define SEC_PER_HOUR  3600
#define HOURS_PER_DAY 24
#define DAYS_PER_WEEK 7
#define DAY           INDIV_SECONDS_PER_DAY
/* 2024-01-01T00:00:00Z, the default start of the history. */
#define DEFAULT_START 1704067200.0
/* Accepted history bounds: 0001-01-01T00:00:00Z to 9999-12-31T00:00:00Z. */
#define TIME_MIN (-62135596800.0)
#define TIME_MAX 253402214400.0
/* Prices are whole cents, as on a price label. */
#define PRICE_CENT 0.01
/* Significant digits of reals in the JSON form (DBL_DIG: decimal round trip). */
#define JSON_DIGITS 15
/* Rejection draws tried before an exact scan (draw_accepted): past 32 failures the
 * acceptance rate is likely below 1/10, where one O(n) scan is the cheaper way. */
#define REJECT_TRIES 32
/* Progress is reported once per this many consumers. */
#define PROGRESS_EVERY 1024
/* Default taste locality: calibrated so that a world fitted to the shipped sample has its
 * new-category adoption lift (docs/worlds.md, "Adoption lift"). */
#define TASTE_LOCALITY_DEFAULT 0.14
/* Default taste breadth dispersion (docs/worlds.md, "Propensity spread"). */
#define TASTE_BREADTH_DEFAULT 0.0
/* Entity number of the world-level stream that deals categories into taste groups
 * (entity 0 is the stream of category sizes and prices). */
#define GROUP_STREAM 1
/* What the generator writes into meta('generator'). */
#define GENERATOR_NAME "indiv generate"

/* ==== the parameter table ========================================================= */

typedef struct param_entry {
    indiv_world_param d;
    size_t off; /* offset of the field in indiv_world_params */
} param_entry;

#define P(grp, field, opt, kind, def, lo, hi, excl, doc)                                 \
    {                                                                                    \
        {#field, opt, grp, kind, def, lo, hi, excl, doc},                                \
            offsetof(indiv_world_params, field)                                          \
    }
#define I_ INDIV_PARAM_INT
#define R_ INDIV_PARAM_REAL

static const param_entry params[] = {
    P("size", consumers, "consumers", I_, 10000, 1, 1e8, 0, "number of consumers"),
    P("size", offers, "offers", I_, 1000, 2, 1e7, 0,
      "number of offers (at least one per category)"),
    P("size", categories, "categories", I_, 50, 2, 1e5, 0, "number of categories"),
    P("size", days, "days", I_, 365, 1, 36500, 0, "length of the history, in days"),
    P("size", seed, "seed", INDIV_PARAM_SEED, 1, 0, 9223372036854775807.0, 0,
      "seed of every random stream (0 to 2^63-1)"),
    P("size", start_ts, "start", INDIV_PARAM_TIME, DEFAULT_START, TIME_MIN, TIME_MAX, 0,
      "UTC start of the history (ISO 8601 date/time or Unix seconds)"),

    P("catalogue", category_zipf, "category-zipf", R_, 1.0, 0, 10, 0,
      "Zipf exponent s of category popularity: the category of rank k weighs k^-s"),
    P("catalogue", offer_zipf, "offer-zipf", R_, 1.0, 0, 10, 0,
      "Zipf exponent of offer popularity within a category"),
    P("catalogue", price_median, "price-median", R_, 20.0, 0, 1e9, 1,
      "median offer price (currency units)"),
    P("catalogue", category_price_sigma, "category-price-sigma", R_, 0.6, 0, 5, 0,
      "log-scale spread of category median prices (lognormal)"),
    P("catalogue", price_sigma, "price-sigma", R_, 0.4, 0, 5, 0,
      "log-scale spread of offer prices around their category median (lognormal)"),
    P("catalogue", margin_min, "margin-min", R_, 0.1, 0, 1, 0,
      "lowest margin, as a share of the price"),
    P("catalogue", margin_max, "margin-max", R_, 0.5, 0, 1, 0,
      "highest margin (margins are uniform between the two)"),
    P("catalogue", p_limited_validity, "p-limited-validity", R_, 0.2, 0, 1, 0,
      "share of offers (not a category's top one) valid only in a window"),
    P("catalogue", validity_days_min, "validity-days-min", R_, 14, 0, 36500, 1,
      "shortest validity window, in days"),
    P("catalogue", validity_days_max, "validity-days-max", R_, 90, 0, 36500, 1,
      "longest validity window (window lengths are uniform between the two)"),

    P("tastes", known_tastes_mean, "known-tastes-mean", R_, 3.0, 1, 1e4, 0,
      "mean number of known taste categories: 1 + Poisson(mean - 1)"),
    P("tastes", latent_share, "latent-share", R_, 0.3, 0, 1, 0,
      "share of consumers with latent tastes (liked, never bought nor viewed)"),
    P("tastes", latent_tastes_mean, "latent-tastes-mean", R_, 1.5, 1, 1e4, 0,
      "mean number of latent categories of those: 1 + Poisson(mean - 1)"),
    P("tastes", taste_concentration, "taste-concentration", R_, 1.0, 0, 1e3, 1,
      "Dirichlet concentration of taste weights (1: uniform; small: one dominates)"),
    P("tastes", taste_breadth_dispersion, "taste-breadth-dispersion", R_,
      TASTE_BREADTH_DEFAULT, 0, 100, 0,
      "variance d of a consumer's multiplier Gamma(1/d, d) of the known taste count's "
      "mean (0: all alike)"),
    P("tastes", taste_locality, "taste-locality", R_, TASTE_LOCALITY_DEFAULT, 0, 1, 0,
      "chance that each further taste (known or latent) is drawn in the group of an "
      "earlier one (0: independent of them)"),
    P("tastes", taste_groups, "taste-groups", I_, 10, 1, 1e5, 0,
      "groups of categories (dealt at random, mixed popularity) that taste-locality "
      "draws within"),

    P("rhythm", interval_median_days, "interval-median-days", R_, 30, 0, 36500, 1,
      "median across consumers of the mean days between purchases (lognormal)"),
    P("rhythm", interval_sigma, "interval-sigma", R_, 0.7, 0, 3, 0,
      "log-scale spread of that mean across consumers"),
    P("rhythm", interval_min_days, "interval-min-days", R_, 1.0, 0, 36500, 1,
      "floor of a consumer's mean interval, in days"),
    P("rhythm", interval_shape_min, "interval-shape-min", R_, 1.0, 0, 100, 1,
      "lowest gamma shape of a consumer's intervals (1: memoryless)"),
    P("rhythm", interval_shape_max, "interval-shape-max", R_, 4.0, 0, 100, 1,
      "highest gamma shape (uniform between the two; larger: more regular)"),
    P("rhythm", views_per_purchase, "views-per-purchase", R_, 2.0, 0, 100, 0,
      "mean number of views before a purchase (Poisson)"),
    P("rhythm", p_view_same_offer, "p-view-same-offer", R_, 0.5, 0, 1, 0,
      "share of those views on the offer then bought (else same category)"),
    P("rhythm", view_lead_minutes, "view-lead-minutes", R_, 30, 0, 1e5, 1,
      "mean time from such a view to the purchase, in minutes (exponential)"),
    P("rhythm", browse_views_per_week, "browse-views-per-week", R_, 0.5, 0, 1000, 0,
      "rate of browsing views not tied to a purchase (Poisson)"),
    P("rhythm", p_browse_explore, "p-browse-explore", R_, 0.2, 0, 1, 0,
      "share of browsing in any non-latent category, by popularity"),
    P("rhythm", quantity_mean, "quantity-mean", R_, 1.5, 1, 1000, 0,
      "mean quantity per purchase: 1 + Poisson(mean - 1)"),
    P("rhythm", basket_lines_mean, "basket-lines-mean", R_, 1, 1, 1000, 0,
      "mean lines (purchases at one time) per order: 1 + Poisson(mean - 1)"),
    P("rhythm", p_single_line, "p-single-line", R_, 0, 0, 1, 0,
      "share of orders of exactly one line whatever basket-lines-mean (the others "
      "draw 1 + Poisson(mean - 1))"),

    P("moments", pref_hour_mean, "pref-hour-mean", R_, 19, 0, 24, 0,
      "mean preferred hour across consumers (UTC)"),
    P("moments", pref_hour_sd, "pref-hour-sd", R_, 3, 0, 24, 0,
      "spread of preferred hours across consumers (normal, wrapped to the day)"),
    P("moments", hour_sd, "hour-sd", R_, 1.5, 0, 24, 0,
      "spread of a consumer's activity around their preferred hour (normal)"),
    P("moments", p_random_hour, "p-random-hour", R_, 0.2, 0, 1, 0,
      "share of activity at a uniformly random hour"),
    P("moments", p_on_pref_dow, "p-on-pref-dow", R_, 0.3, 0, 1, 0,
      "share of activity moved to the nearest preferred day of week"),
    P("moments", weekday_weight_mon, "weekday-weight-mon", R_, 1, 0, 1e6, 0,
      "relative activity on Monday (all equal: no weekday profile)"),
    P("moments", weekday_weight_tue, "weekday-weight-tue", R_, 1, 0, 1e6, 0,
      "relative activity on Tuesday (all equal: no weekday profile)"),
    P("moments", weekday_weight_wed, "weekday-weight-wed", R_, 1, 0, 1e6, 0,
      "relative activity on Wednesday (all equal: no weekday profile)"),
    P("moments", weekday_weight_thu, "weekday-weight-thu", R_, 1, 0, 1e6, 0,
      "relative activity on Thursday (all equal: no weekday profile)"),
    P("moments", weekday_weight_fri, "weekday-weight-fri", R_, 1, 0, 1e6, 0,
      "relative activity on Friday (all equal: no weekday profile)"),
    P("moments", weekday_weight_sat, "weekday-weight-sat", R_, 1, 0, 1e6, 0,
      "relative activity on Saturday (all equal: no weekday profile)"),
    P("moments", weekday_weight_sun, "weekday-weight-sun", R_, 1, 0, 1e6, 0,
      "relative activity on Sunday (all equal: no weekday profile)"),

    P("consent", p_consent_profiling, "p-consent-profiling", R_, 0.8, 0, 1, 0,
      "probability a consumer consents to profiling"),
    P("consent", p_consent_contact, "p-consent-contact", R_, 0.6, 0, 1, 0,
      "probability a consumer consents to contact (independent of profiling)"),
    P("consent", p_channel_email, "p-channel-email", R_, 0.9, 0, 1, 0,
      "e-mail accepted with this probability (channels independent, given >= 1)"),
    P("consent", p_channel_sms, "p-channel-sms", R_, 0.3, 0, 1, 0,
      "SMS accepted with this probability (same)"),
    P("consent", p_channel_push, "p-channel-push", R_, 0.4, 0, 1, 0,
      "push accepted with this probability (same)"),
    P("consent", react_alpha, "react-alpha", R_, 2, 0, 1e4, 1,
      "reaction rate to a relevant contact, per channel ~ Beta(alpha, beta): alpha"),
    P("consent", react_beta, "react-beta", R_, 18, 0, 1e4, 1,
      "beta of that law (Beta(2, 18) has mean 0.1)"),

    P("openness", openness_alpha, "openness-alpha", R_, 2, 0, 1e4, 1,
      "openness to new categories ~ Beta(alpha, beta): alpha"),
    P("openness", openness_beta, "openness-beta", R_, 5, 0, 1e4, 1,
      "beta of that law (Beta(2, 5) has mean 0.29)"),
    P("openness", fatigue_mean, "fatigue-mean", R_, 5, 0, 1e6, 1,
      "mean number of irrelevant contacts tolerated (gamma)"),
    P("openness", fatigue_shape, "fatigue-shape", R_, 2, 0, 1e4, 1,
      "gamma shape of that tolerance across consumers"),
};

#undef P
#undef I_
#undef R_

#define NPARAMS (sizeof params / sizeof params[0])

size_t indiv_world_param_count(void) {
    return NPARAMS;
}

const indiv_world_param *indiv_world_param_at(size_t i) {
    return i < NPARAMS ? &params[i].d : NULL;
}

static const param_entry *entry_find(const char *name) {
    for (size_t i = 0; i < NPARAMS; i++)
        if (strcmp(name, params[i].d.name) == 0 || strcmp(name, params[i].d.option) == 0)
            return &params[i];
    return NULL;
}

const indiv_world_param *indiv_world_param_find(const char *name) {
    const param_entry *e = name ? entry_find(name) : NULL;
    return e ? &e->d : NULL;
}

/* The entry of a description returned by this module. */
static const param_entry *entry_of(const indiv_world_param *d) {
    return (const param_entry *)(const void *)d; /* d is the first member */
}

static int64_t *field_i64(indiv_world_params *p, const param_entry *e) {
    return (int64_t *)(void *)((char *)p + e->off);
}

static double *field_real(indiv_world_params *p, const param_entry *e) {
    return (double *)(void *)((char *)p + e->off);
}

static uint64_t *field_u64(indiv_world_params *p, const param_entry *e) {
    return (uint64_t *)(void *)((char *)p + e->off);
}

static const void *cfield(const indiv_world_params *p, const param_entry *e) {
    return (const char *)p + e->off;
}

/* Reads a field of a const struct: CFIELD(double, p, e). */
#define CFIELD(type, p, e) (*(const type *)cfield(p, e))

void indiv_world_params_init(indiv_world_params *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < NPARAMS; i++) {
        const param_entry *e = &params[i];
        if (e->d.kind == INDIV_PARAM_REAL)
            *field_real(p, e) = e->d.def;
        else if (e->d.kind == INDIV_PARAM_SEED)
            *field_u64(p, e) = (uint64_t)e->d.def;
        else
            *field_i64(p, e) = (int64_t)e->d.def;
    }
}

/* ---- range checks ---------------------------------------------------------------- */

static int out_of_range(const param_entry *e, const char *shown, indiv_error *err) {
    return indiv_error_set(err, INDIV_EINVAL, "%s = %s is out of range %c%.15g, %.15g]",
                           e->d.name, shown, e->d.min_exclusive ? '(' : '[', e->d.min,
                           e->d.max);
}

static int check_real(const param_entry *e, double v, indiv_error *err) {
    char shown[32];
    snprintf(shown, sizeof shown, "%.15g", v);
    if (!isfinite(v))
        return indiv_error_set(err, INDIV_EINVAL, "%s = %s is not a finite number",
                               e->d.name, shown);
    if (v > e->d.max || v < e->d.min || (e->d.min_exclusive && v == e->d.min))
        return out_of_range(e, shown, err);
    return INDIV_OK;
}

static int check_int(const param_entry *e, int64_t v, indiv_error *err) {
    char shown[32];
    snprintf(shown, sizeof shown, "%lld", (long long)v);
    if ((double)v > e->d.max || (double)v < e->d.min ||
        (e->d.min_exclusive && (double)v == e->d.min))
        return out_of_range(e, shown, err);
    return INDIV_OK;
}

static int check_seed(const param_entry *e, uint64_t v, indiv_error *err) {
    if (v > (uint64_t)INT64_MAX)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s = %llu is out of range [0, 9223372036854775807]",
                               e->d.name, (unsigned long long)v);
    return INDIV_OK;
}

static int check_entry(const indiv_world_params *p, const param_entry *e,
                       indiv_error *err) {
    switch (e->d.kind) {
    case INDIV_PARAM_REAL:
        return check_real(e, CFIELD(double, p, e), err);
    case INDIV_PARAM_SEED:
        return check_seed(e, CFIELD(uint64_t, p, e), err);
    default:
        return check_int(e, CFIELD(int64_t, p, e), err);
    }
}

/* Relations between parameters; each message names the first parameter of the pair. */
static int check_relations(const indiv_world_params *p, indiv_error *err) {
    if (p->offers < p->categories)
        return indiv_error_set(err, INDIV_EINVAL,
                               "offers = %lld is less than categories = %lld (every "
                               "category needs at least one offer)",
                               (long long)p->offers, (long long)p->categories);
    if (p->margin_min > p->margin_max)
        return indiv_error_set(err, INDIV_EINVAL,
                               "margin_min = %g exceeds margin_max = %g", p->margin_min,
                               p->margin_max);
    if (p->validity_days_min > p->validity_days_max)
        return indiv_error_set(err, INDIV_EINVAL,
                               "validity_days_min = %g exceeds validity_days_max = %g",
                               p->validity_days_min, p->validity_days_max);
    if (p->interval_shape_min > p->interval_shape_max)
        return indiv_error_set(err, INDIV_EINVAL,
                               "interval_shape_min = %g exceeds interval_shape_max = %g",
                               p->interval_shape_min, p->interval_shape_max);
    if (p->p_channel_email + p->p_channel_sms + p->p_channel_push <= 0)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "p_channel_email, p_channel_sms and p_channel_push are all "
            "0: every consumer accepts at least one channel");
    if (p->weekday_weight_mon + p->weekday_weight_tue + p->weekday_weight_wed +
            p->weekday_weight_thu + p->weekday_weight_fri + p->weekday_weight_sat +
            p->weekday_weight_sun <=
        0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "weekday_weight_mon ... weekday_weight_sun are all 0: "
                               "some weekday must have activity");
    if ((double)p->start_ts + (double)p->days * DAY > TIME_MAX)
        return indiv_error_set(err, INDIV_EINVAL,
                               "days = %lld: the history would end after year 9999",
                               (long long)p->days);
    return INDIV_OK;
}

int indiv_world_params_validate(const indiv_world_params *p, indiv_error *err) {
    int rc;
    for (size_t i = 0; i < NPARAMS; i++)
        if ((rc = check_entry(p, &params[i], err)) < 0)
            return rc;
    return check_relations(p, err);
}

/* ---- text form ------------------------------------------------------------------- */

static int parse_real(const param_entry *e, const char *text, double *v,
                      indiv_error *err) {
    char *end;
    errno = 0;
    *v = strtod(text, &end);
    if (errno || end == text || *end)
        return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' is not a number", e->d.name,
                               text);
    return check_real(e, *v, err);
}

static int parse_int(const param_entry *e, const char *text, int64_t *v,
                     indiv_error *err) {
    char *end;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' is not an integer", e->d.name,
                               text);
    *v = x;
    return check_int(e, *v, err);
}

static int parse_seed(const param_entry *e, const char *text, uint64_t *v,
                      indiv_error *err) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(text, &end, 10);
    if (errno || end == text || *end || strchr(text, '-'))
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s: '%s' is not a non-negative integer", e->d.name, text);
    *v = x;
    return check_seed(e, *v, err);
}

static int parse_time(const param_entry *e, const char *text, int64_t *v,
                      indiv_error *err) {
    if (indiv_time_parse(text, v) < 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s: '%s' is not a time (ISO 8601 like 2024-01-01 or "
                               "2024-01-01T00:00:00Z, or Unix seconds)",
                               e->d.name, text);
    return check_int(e, *v, err);
}

int indiv_world_params_set(indiv_world_params *p, const char *name, const char *text,
                           indiv_error *err) {
    const param_entry *e = name ? entry_find(name) : NULL;
    if (!e)
        return indiv_error_set(err, INDIV_EINVAL, "unknown world parameter '%s'",
                               name ? name : "(null)");
    int rc;
    double r = 0;
    int64_t i = 0;
    uint64_t u = 0;
    switch (e->d.kind) {
    case INDIV_PARAM_REAL:
        if ((rc = parse_real(e, text, &r, err)) == INDIV_OK)
            *field_real(p, e) = r;
        return rc;
    case INDIV_PARAM_SEED:
        if ((rc = parse_seed(e, text, &u, err)) == INDIV_OK)
            *field_u64(p, e) = u;
        return rc;
    case INDIV_PARAM_TIME:
        rc = parse_time(e, text, &i, err);
        break;
    default:
        rc = parse_int(e, text, &i, err);
        break;
    }
    if (rc == INDIV_OK)
        *field_i64(p, e) = i;
    return rc;
}

void indiv_world_params_format(const indiv_world_params *p, const indiv_world_param *desc,
                               char *buf, size_t cap) {
    const param_entry *e = entry_of(desc);
    char iso[INDIV_ISO_LEN];
    switch (e->d.kind) {
    case INDIV_PARAM_REAL:
        snprintf(buf, cap, "%.15g", CFIELD(double, p, e));
        break;
    case INDIV_PARAM_SEED:
        snprintf(buf, cap, "%llu", (unsigned long long)CFIELD(uint64_t, p, e));
        break;
    case INDIV_PARAM_TIME:
        snprintf(buf, cap, "%s", indiv_time_format(CFIELD(int64_t, p, e), iso));
        break;
    default:
        snprintf(buf, cap, "%lld", (long long)CFIELD(int64_t, p, e));
        break;
    }
}

/* ---- JSON form ------------------------------------------------------------------- */

static json_t *entry_json(const indiv_world_params *p, const param_entry *e) {
    switch (e->d.kind) {
    case INDIV_PARAM_REAL:
        return json_real(CFIELD(double, p, e));
    case INDIV_PARAM_SEED:
        return json_integer((json_int_t)CFIELD(uint64_t, p, e));
    default:
        return json_integer((json_int_t)CFIELD(int64_t, p, e));
    }
}

char *indiv_world_params_json(const indiv_world_params *p) {
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < NPARAMS; i++)
        if (json_object_set_new(obj, params[i].d.name, entry_json(p, &params[i])) < 0) {
            json_decref(obj);
            return NULL;
        }
    char *s =
        json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(JSON_DIGITS));
    json_decref(obj);
    return s;
}

/* Sets one parameter from a JSON value, checking its type and range. */
static int entry_from_json(indiv_world_params *p, const param_entry *e, const json_t *v,
                           indiv_error *err) {
    if (e->d.kind == INDIV_PARAM_REAL) {
        if (!json_is_number(v))
            return indiv_error_set(err, INDIV_EFORMAT, "world_params: %s is not a number",
                                   e->d.name);
        *field_real(p, e) = json_number_value(v);
        return check_real(e, *field_real(p, e), err);
    }
    if (!json_is_integer(v))
        return indiv_error_set(err, INDIV_EFORMAT, "world_params: %s is not an integer",
                               e->d.name);
    json_int_t x = json_integer_value(v);
    if (e->d.kind == INDIV_PARAM_SEED) {
        if (x < 0)
            return indiv_error_set(err, INDIV_EINVAL, "seed = %lld is negative",
                                   (long long)x);
        *field_u64(p, e) = (uint64_t)x;
        return INDIV_OK;
    }
    *field_i64(p, e) = (int64_t)x;
    return check_int(e, *field_i64(p, e), err);
}

int indiv_world_params_from_json(const char *json, indiv_world_params *p,
                                 indiv_error *err) {
    indiv_world_params_init(p);
    json_error_t jerr;
    json_t *obj = json_loads(json, 0, &jerr);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        return indiv_error_set(
            err, INDIV_EFORMAT, "world_params: %s (line %d, column %d)",
            obj ? "not a JSON object" : jerr.text, jerr.line, jerr.column);
    }
    const char *key;
    json_t *v;
    int rc = INDIV_OK;
    json_object_foreach(obj, key, v) {
        const param_entry *e = entry_find(key);
        if (!e || strcmp(key, e->d.name) != 0)
            rc = indiv_error_set(err, INDIV_EFORMAT, "world_params: unknown key '%s'",
                                 key);
        else
            rc = entry_from_json(p, e, v, err);
        if (rc < 0)
            break;
    }
    json_decref(obj);
    return rc < 0 ? rc : indiv_world_params_validate(p, err);
}

/* ==== the world: categories and offers ============================================ */

typedef struct offer_info {
    int64_t id;                   /* our id */
    double price;                 /* per unit */
    int64_t valid_from, valid_to; /* [from, to); INDIV_TS_NONE when unbounded */
} offer_info;

/* The catalogue, read-only once built, plus the history window. */
typedef struct world {
    const indiv_world_params *p;
    int64_t start, end; /* history [start, end) */
    size_t ncat, noff;
    int idw_cat, idw_off, idw_con;    /* digits of the ext ids */
    int64_t *cat_id;                  /* our id of category c */
    double *cat_pop;                  /* Zipf weight of category c */
    double *cat_median;               /* median price of category c */
    gsl_ran_discrete_t *cat_table;    /* draws c by cat_pop */
    size_t *cat_first;                /* offers of c: [cat_first[c], cat_first[c + 1]) */
    double *offer_pop;                /* Zipf weight of an offer in its category */
    gsl_ran_discrete_t **offer_table; /* per category, over its offers */
    offer_info *offers;
    /* taste groups (taste_locality > 0 only): members of group g are
     * group_cats[group_first[g] .. group_first[g + 1]), in category order */
    size_t ngroup;
    size_t *group_of, *group_first, *group_cats;
    double *group_pop;                /* popularity of group_cats[i] */
    gsl_ran_discrete_t **group_table; /* per group, over its members */
    gsl_ran_discrete_t *dow_table;    /* weekdays by weight; NULL when all are equal */
} world;

static int digits_of(int64_t n) {
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static void world_free(world *w) {
    if (w->offer_table)
        for (size_t c = 0; c < w->ncat; c++)
            gsl_ran_discrete_free(w->offer_table[c]);
    gsl_ran_discrete_free(w->cat_table);
    free(w->offer_table);
    free(w->cat_id);
    free(w->cat_pop);
    free(w->cat_median);
    free(w->cat_first);
    free(w->offer_pop);
    free(w->offers);
    if (w->group_table)
        for (size_t g = 0; g < w->ngroup; g++)
            gsl_ran_discrete_free(w->group_table[g]);
    free(w->group_table);
    free(w->group_of);
    free(w->group_first);
    free(w->group_cats);
    free(w->group_pop);
    gsl_ran_discrete_free(w->dow_table);
}

/* The weekday table, only when the weights differ: equal weights draw exactly as the
 * model without a weekday profile did. */
static int build_weekdays(world *w, indiv_error *err) {
    const indiv_world_params *p = w->p;
    const double wd[DAYS_PER_WEEK] = {p->weekday_weight_mon, p->weekday_weight_tue,
                                      p->weekday_weight_wed, p->weekday_weight_thu,
                                      p->weekday_weight_fri, p->weekday_weight_sat,
                                      p->weekday_weight_sun};
    int equal = 1;
    for (int d = 1; d < DAYS_PER_WEEK; d++)
        equal &= wd[d] == wd[0];
    if (!equal && !(w->dow_table = gsl_ran_discrete_preproc(DAYS_PER_WEEK, wd)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (weekday table)");
    return INDIV_OK;
}

static int world_alloc(world *w, const indiv_world_params *p, indiv_error *err) {
    memset(w, 0, sizeof *w);
    w->p = p;
    w->start = p->start_ts;
    w->end = p->start_ts + p->days * DAY;
    w->ncat = (size_t)p->categories;
    w->noff = (size_t)p->offers;
    w->idw_cat = digits_of(p->categories);
    w->idw_off = digits_of(p->offers);
    w->idw_con = digits_of(p->consumers);
    w->cat_id = calloc(w->ncat, sizeof *w->cat_id);
    w->cat_pop = calloc(w->ncat, sizeof *w->cat_pop);
    w->cat_median = calloc(w->ncat, sizeof *w->cat_median);
    w->cat_first = calloc(w->ncat + 1, sizeof *w->cat_first);
    w->offer_table = calloc(w->ncat, sizeof *w->offer_table);
    w->offer_pop = calloc(w->noff, sizeof *w->offer_pop);
    w->offers = calloc(w->noff, sizeof *w->offers);
    if (!w->cat_id || !w->cat_pop || !w->cat_median || !w->cat_first || !w->offer_table ||
        !w->offer_pop || !w->offers)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory for %zu offers",
                               w->noff);
    return build_weekdays(w, err);
}

static void category_name(const world *w, size_t c, char *buf, size_t cap) {
    snprintf(buf, cap, "cat-%0*zu", w->idw_cat, c + 1);
}

/* Zipf weights rank^-s for ranks 1..n (Zipf 1949; Newman, "Power laws, Pareto
 * distributions and Zipf's law", Contemporary Physics 2005). */
static void zipf_weights(double *w, size_t n, double s) {
    for (size_t k = 0; k < n; k++)
        w[k] = pow((double)(k + 1), -s);
}

/* Categories: Zipf popularity, offers per category (one each, the rest multinomial by
 * popularity: popular categories have larger assortments), lognormal price levels. */
static int build_categories(world *w, indiv_eventlog *elog, gsl_rng *r,
                            indiv_error *err) {
    const indiv_world_params *p = w->p;
    zipf_weights(w->cat_pop, w->ncat, p->category_zipf);
    if (!(w->cat_table = gsl_ran_discrete_preproc(w->ncat, w->cat_pop)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (category table)");
    unsigned *extra = calloc(w->ncat, sizeof *extra);
    if (!extra)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (categories)");
    indiv_rng_reseed(r, p->seed, 0, INDIV_RNG_WORLD_GLOBAL);
    gsl_ran_multinomial(r, w->ncat, (unsigned)(w->noff - w->ncat), w->cat_pop, extra);
    int rc = INDIV_OK;
    char name[32];
    for (size_t c = 0; c < w->ncat && rc == INDIV_OK; c++) {
        w->cat_first[c + 1] = w->cat_first[c] + 1 + extra[c];
        w->cat_median[c] =
            gsl_ran_lognormal(r, log(p->price_median), p->category_price_sigma);
        category_name(w, c, name, sizeof name);
        rc = indiv_eventlog_add_category(elog, name, &w->cat_id[c], err);
    }
    free(extra);
    return rc;
}

static double round_price(double x) {
    double cents = round(x / PRICE_CENT);
    return (cents < 1 ? 1 : cents) * PRICE_CENT;
}

/* Draws offer o (rank `rank` in category c): price, margin, validity window. */
static void draw_offer(const world *w, gsl_rng *r, size_t c, size_t rank,
                       indiv_offer_rec *rec, offer_info *o) {
    const indiv_world_params *p = w->p;
    o->price = round_price(gsl_ran_lognormal(r, log(w->cat_median[c]), p->price_sigma));
    rec->price = o->price;
    rec->margin = gsl_ran_flat(r, p->margin_min, p->margin_max);
    o->valid_from = o->valid_to = INDIV_TS_NONE;
    /* The top offer of a category stays valid, so the category is always buyable. */
    if (rank > 0 && gsl_rng_uniform(r) < p->p_limited_validity) {
        double span = (double)(w->end - w->start);
        double len =
            fmin(span, gsl_ran_flat(r, p->validity_days_min, p->validity_days_max) * DAY);
        o->valid_from = w->start + (int64_t)floor(gsl_rng_uniform(r) * (span - len));
        o->valid_to = o->valid_from + (int64_t)ceil(len);
    }
    rec->valid_from = o->valid_from;
    rec->valid_to = o->valid_to;
}

static int build_offers(world *w, indiv_eventlog *elog, gsl_rng *r,
                        indiv_world_summary *s, indiv_error *err) {
    char ext[32], name[64], cat[32];
    for (size_t c = 0; c < w->ncat; c++) {
        size_t first = w->cat_first[c], n = w->cat_first[c + 1] - first;
        zipf_weights(w->offer_pop + first, n, w->p->offer_zipf);
        if (!(w->offer_table[c] = gsl_ran_discrete_preproc(n, w->offer_pop + first)))
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory (offer table)");
        category_name(w, c, cat, sizeof cat);
        for (size_t k = 0; k < n; k++) {
            size_t o = first + k;
            indiv_rng_reseed(r, w->p->seed, o + 1, INDIV_RNG_WORLD_OFFER);
            snprintf(ext, sizeof ext, "o%0*zu", w->idw_off, o + 1);
            snprintf(name, sizeof name, "%s item %zu", cat, k + 1);
            indiv_offer_rec rec = {.ext_id = ext, .name = name, .category = cat};
            draw_offer(w, r, c, k, &rec, &w->offers[o]);
            s->limited_offers += w->offers[o].valid_from != INDIV_TS_NONE;
            int rc = indiv_eventlog_add_offer(elog, &rec, &w->offers[o].id, NULL, err);
            if (rc < 0)
                return rc;
        }
    }
    return INDIV_OK;
}

/* Taste groups: the categories, shuffled on their own world-level stream, are dealt
 * round-robin into min(taste_groups, categories) groups, so every group mixes popular
 * and rare categories. Only built when taste_locality > 0 (nothing else uses them). */
static int build_groups(world *w, gsl_rng *r, indiv_error *err) {
    size_t n = w->ncat,
           G = (size_t)w->p->taste_groups < n ? (size_t)w->p->taste_groups : n;
    w->ngroup = G;
    w->group_of = calloc(n, sizeof *w->group_of);
    w->group_first = calloc(G + 1, sizeof *w->group_first);
    w->group_cats = calloc(n, sizeof *w->group_cats);
    w->group_pop = calloc(n, sizeof *w->group_pop);
    w->group_table = calloc(G, sizeof *w->group_table);
    if (!w->group_of || !w->group_first || !w->group_cats || !w->group_pop ||
        !w->group_table)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (taste groups)");
    for (size_t c = 0; c < n; c++)
        w->group_cats[c] = c;
    indiv_rng_reseed(r, w->p->seed, GROUP_STREAM, INDIV_RNG_WORLD_GLOBAL);
    gsl_ran_shuffle(r, w->group_cats, n, sizeof *w->group_cats);
    for (size_t i = 0; i < n; i++)
        w->group_of[w->group_cats[i]] = i % G;
    size_t *fill = w->group_first; /* counts, then starts */
    for (size_t c = 0; c < n; c++)
        fill[w->group_of[c] + 1]++;
    for (size_t g = 0; g < G; g++)
        fill[g + 1] += fill[g];
    size_t *pos = calloc(G, sizeof *pos);
    if (!pos)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (taste groups)");
    for (size_t c = 0; c < n; c++) { /* members in category order */
        size_t g = w->group_of[c], i = w->group_first[g] + pos[g]++;
        w->group_cats[i] = c;
        w->group_pop[i] = w->cat_pop[c];
    }
    free(pos);
    for (size_t g = 0; g < G; g++)
        if (!(w->group_table[g] =
                  gsl_ran_discrete_preproc(w->group_first[g + 1] - w->group_first[g],
                                           w->group_pop + w->group_first[g])))
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory (taste groups)");
    return INDIV_OK;
}

/* ---- conditional draws ------------------------------------------------------------- */

typedef int (*accept_fn)(const void *ctx, size_t i);

/* Draws i in [0, n) with probability w[i] / sum of w over accepted indices, where t was
 * preprocessed from w: rejection from t first, then one exact scan. Both are exact draws
 * of the same conditional law, so the mix is too. Returns n when nothing is accepted. */
static size_t draw_accepted(gsl_rng *r, const gsl_ran_discrete_t *t, const double *w,
                            size_t n, accept_fn ok, const void *ctx) {
    for (int k = 0; k < REJECT_TRIES; k++) {
        size_t i = gsl_ran_discrete(r, t);
        if (ok(ctx, i))
            return i;
    }
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += ok(ctx, i) ? w[i] : 0;
    if (total <= 0)
        return n;
    double u = gsl_rng_uniform(r) * total;
    size_t last = n;
    for (size_t i = 0; i < n; i++)
        if (ok(ctx, i)) {
            last = i;
            if (u < w[i])
                return i;
            u -= w[i];
        }
    return last; /* u reached the end by rounding */
}

static int offer_valid(const offer_info *o, int64_t ts) {
    return (o->valid_from == INDIV_TS_NONE || ts >= o->valid_from) &&
           (o->valid_to == INDIV_TS_NONE || ts < o->valid_to);
}

typedef struct valid_ctx {
    const offer_info *offers; /* the category's offers */
    int64_t ts;
} valid_ctx;

static int accept_valid(const void *ctx, size_t i) {
    const valid_ctx *v = ctx;
    return offer_valid(&v->offers[i], v->ts);
}

/* An offer of category c valid at ts, by popularity: its index in w->offers. */
static size_t pick_offer(const world *w, gsl_rng *r, size_t c, int64_t ts) {
    size_t first = w->cat_first[c], n = w->cat_first[c + 1] - first;
    valid_ctx v = {w->offers + first, ts};
    size_t k =
        draw_accepted(r, w->offer_table[c], w->offer_pop + first, n, accept_valid, &v);
    return first + (k < n ? k : 0); /* k < n always: the top offer is valid */
}

/* ==== consumers ======================================================================
 */

enum { MARK_KNOWN = 1, MARK_LATENT = 2 };

typedef struct taste {
    size_t cat;
    double weight;
    int latent;
} taste;

/* One consumer's traits; arrays are sized for the catalogue and reused. */
typedef struct consumer {
    indiv_truth_consumer truth;
    int consent_profiling, consent_contact;
    unsigned channels;
    size_t ntaste, nknown; /* tastes[0, nknown) known, [nknown, ntaste) latent */
    double known_total;    /* sum of known weights */
    taste *tastes;
    taste *sorted;         /* tastes by category, for inserting in key order */
    double *alpha, *theta; /* Dirichlet workspace */
    unsigned char *mark;   /* per category: 0, MARK_KNOWN or MARK_LATENT */
} consumer;

static void consumer_free(consumer *c) {
    free(c->tastes);
    free(c->sorted);
    free(c->alpha);
    free(c->theta);
    free(c->mark);
}

static int consumer_alloc(consumer *c, size_t ncat, indiv_error *err) {
    memset(c, 0, sizeof *c);
    c->tastes = calloc(ncat, sizeof *c->tastes);
    c->sorted = calloc(ncat, sizeof *c->sorted);
    c->alpha = calloc(ncat, sizeof *c->alpha);
    c->theta = calloc(ncat, sizeof *c->theta);
    c->mark = calloc(ncat, sizeof *c->mark);
    if (!c->tastes || !c->sorted || !c->alpha || !c->theta || !c->mark)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (consumer workspace)");
    return INDIV_OK;
}

/* Accepted channels: independent Bernoulli(p_ch) conditioned on at least one, drawn
 * exactly by the chain rule: while none is accepted yet, channel i is accepted with
 * p_i / P(at least one of i..n), then independently. */
static unsigned draw_channels(const indiv_world_params *p, gsl_rng *r) {
    static const int ch[3] = {INDIV_CH_EMAIL, INDIV_CH_SMS, INDIV_CH_PUSH};
    const double pr[3] = {p->p_channel_email, p->p_channel_sms, p->p_channel_push};
    unsigned mask = 0;
    for (int i = 0; i < 3; i++) {
        double none_rest = 1;
        for (int j = i; j < 3; j++)
            none_rest *= 1 - pr[j];
        double q = mask ? pr[i] : pr[i] / (1 - none_rest);
        if (gsl_rng_uniform(r) < q)
            mask |= INDIV_CH_BIT(ch[i]);
    }
    return mask;
}

static int accept_unmarked(const void *ctx, size_t i) {
    return ((const unsigned char *)ctx)[i] == 0;
}

/* A consumer's multiplier of the mean number of further known tastes: Gamma(1/d, d)
 * (mean 1, variance d = taste_breadth_dispersion), so that taste counts are negative
 * binomial, the mixed Poisson of A. S. C. Ehrenberg's NBD model (Repeat-Buying, 1988):
 * some people buy in one or two categories, some in many, and the engine's propensity
 * for their best offer spreads with it. At d = 0 nothing is drawn (1). */
static double breadth(const indiv_world_params *p, gsl_rng *r) {
    double d = p->taste_breadth_dispersion;
    return d > 0 ? gsl_ran_gamma(r, 1 / d, d) : 1;
}

typedef struct member_ctx {
    const size_t *cats;        /* the group's categories */
    const unsigned char *mark; /* per category */
} member_ctx;

static int accept_member_unmarked(const void *ctx, size_t i) {
    const member_ctx *m = ctx;
    return m->mark[m->cats[i]] == 0;
}

/* The category of taste k: with probability taste_locality (k > 0), in the group of an
 * earlier taste picked uniformly, by popularity among the group's unchosen categories;
 * otherwise (or when that group is exhausted) by popularity among all unchosen ones.
 * At taste_locality = 0 no extra number is drawn: the worlds are those of the
 * independent model, draw for draw. */
static size_t draw_taste_cat(const world *w, const consumer *c, size_t k, gsl_rng *r) {
    if (k > 0 && w->p->taste_locality > 0 && gsl_rng_uniform(r) < w->p->taste_locality) {
        size_t g = w->group_of[c->tastes[gsl_rng_uniform_int(r, k)].cat];
        size_t first = w->group_first[g], n = w->group_first[g + 1] - first;
        member_ctx mc = {w->group_cats + first, c->mark};
        size_t i = draw_accepted(r, w->group_table[g], w->group_pop + first, n,
                                 accept_member_unmarked, &mc);
        if (i < n)
            return w->group_cats[first + i];
    }
    return draw_accepted(r, w->cat_table, w->cat_pop, w->ncat, accept_unmarked, c->mark);
}

/* Taste categories by successive sampling without replacement in proportion to category
 * popularity, near earlier tastes with probability taste_locality (draw_taste_cat);
 * weights ~ Dirichlet(concentration) over known and latent together. */
static void draw_tastes(const world *w, consumer *c, gsl_rng *r) {
    const indiv_world_params *p = w->p;
    int has_latent = gsl_rng_uniform(r) < p->latent_share;
    size_t nk = 1 + gsl_ran_poisson(r, breadth(p, r) * (p->known_tastes_mean - 1));
    c->nknown = nk < w->ncat - (size_t)has_latent ? nk : w->ncat - (size_t)has_latent;
    size_t nl = has_latent ? 1 + gsl_ran_poisson(r, p->latent_tastes_mean - 1) : 0;
    c->ntaste = c->nknown + (nl < w->ncat - c->nknown ? nl : w->ncat - c->nknown);
    for (size_t k = 0; k < c->ntaste; k++) {
        size_t cat = draw_taste_cat(w, c, k, r);
        int latent = k >= c->nknown;
        c->mark[cat] = latent ? MARK_LATENT : MARK_KNOWN;
        c->tastes[k] = (taste){cat, 0, latent};
        c->alpha[k] = p->taste_concentration;
    }
    gsl_ran_dirichlet(r, c->ntaste, c->alpha, c->theta);
    c->known_total = 0;
    for (size_t k = 0; k < c->ntaste; k++) {
        c->tastes[k].weight = c->theta[k];
        c->known_total += k < c->nknown ? c->theta[k] : 0;
    }
}

static int wrap_hour(long h) {
    return (int)(((h % HOURS_PER_DAY) + HOURS_PER_DAY) % HOURS_PER_DAY);
}

/* Rhythm (lognormal mean across consumers, uniform gamma shape), moments and habits. */
static void draw_habits(const world *w, consumer *c, gsl_rng *r) {
    const indiv_world_params *p = w->p;
    indiv_truth_consumer *t = &c->truth;
    double mean = gsl_ran_lognormal(r, log(p->interval_median_days), p->interval_sigma);
    t->interval_mean_days = fmax(p->interval_min_days, mean);
    t->interval_shape = gsl_ran_flat(r, p->interval_shape_min, p->interval_shape_max);
    t->pref_hour =
        wrap_hour(lround(p->pref_hour_mean + gsl_ran_gaussian(r, p->pref_hour_sd)));
    t->pref_dow = w->dow_table ? (int)gsl_ran_discrete(r, w->dow_table)
                               : (int)gsl_rng_uniform_int(r, DAYS_PER_WEEK);
    t->openness = gsl_ran_beta(r, p->openness_alpha, p->openness_beta);
    t->fatigue_tolerance =
        gsl_ran_gamma(r, p->fatigue_shape, p->fatigue_mean / p->fatigue_shape);
    for (int i = 0; i < 3; i++)
        t->react[i] = gsl_ran_beta(r, p->react_alpha, p->react_beta);
}

/* All traits of consumer `index` (1-based) from its own stream. */
static void draw_consumer(const world *w, consumer *c, int64_t index, gsl_rng *r) {
    const indiv_world_params *p = w->p;
    indiv_rng_reseed(r, p->seed, (uint64_t)index, INDIV_RNG_WORLD_CONSUMER);
    for (size_t k = 0; k < c->ntaste; k++) /* clear the previous consumer's marks */
        c->mark[c->tastes[k].cat] = 0;
    c->consent_profiling = gsl_rng_uniform(r) < p->p_consent_profiling;
    c->consent_contact = gsl_rng_uniform(r) < p->p_consent_contact;
    c->channels = draw_channels(p, r);
    draw_tastes(w, c, r);
    draw_habits(w, c, r);
}

static int taste_by_cat(const void *a, const void *b) {
    const taste *x = a, *y = b;
    return (x->cat > y->cat) - (x->cat < y->cat);
}

/* Writes the consumer row and its truth rows; *id is our id. */
static int write_consumer(const world *w, indiv_eventlog *elog, consumer *c,
                          int64_t index, int64_t *id, indiv_error *err) {
    char ext[32];
    snprintf(ext, sizeof ext, "c%0*lld", w->idw_con, (long long)index);
    indiv_consumer_rec rec = {ext, c->consent_profiling, c->consent_contact, c->channels,
                              NULL};
    int rc = indiv_eventlog_add_consumer(elog, &rec, id, NULL, err);
    if (rc < 0)
        return rc;
    c->truth.consumer_id = *id;
    if ((rc = indiv_eventlog_add_truth_consumer(elog, &c->truth, err)) < 0)
        return rc;
    memcpy(c->sorted, c->tastes, c->ntaste * sizeof *c->sorted);
    qsort(c->sorted, c->ntaste, sizeof *c->sorted, taste_by_cat);
    for (size_t k = 0; k < c->ntaste && rc == INDIV_OK; k++)
        rc =
            indiv_eventlog_add_truth_taste(elog, *id, w->cat_id[c->sorted[k].cat],
                                           c->sorted[k].weight, c->sorted[k].latent, err);
    return rc;
}

/* ==== history =========================================================================
 */

typedef struct evbuf {
    indiv_event *ev;
    size_t n, cap;
} evbuf;

/* Appends an event; ev.id holds the creation order (the tie-break of the sort) until
 * the event log assigns the real id. */
static int push(evbuf *b, int64_t ts, const offer_info *o, int type, double qty) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        indiv_event *ev = realloc(b->ev, cap * sizeof *ev);
        if (!ev)
            return INDIV_ENOMEM;
        b->ev = ev;
        b->cap = cap;
    }
    b->ev[b->n] = (indiv_event){.ts = ts,
                                .id = (int64_t)b->n,
                                .offer_id = o->id,
                                .type = type,
                                .channel = INDIV_CH_WEB,
                                .quantity = qty,
                                .value = qty * o->price};
    b->n++;
    return INDIV_OK;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Moves a raw time to the consumer's moments: with p_on_pref_dow to the nearest
 * preferred weekday (at most 3 days away), then to the preferred hour plus normal noise
 * (or a random hour with p_random_hour), at a uniform second of that hour. A time that
 * would leave the history keeps its raw value. */
static int64_t moment(const world *w, const consumer *c, gsl_rng *r, int64_t raw) {
    const indiv_world_params *p = w->p;
    int64_t day = floor_div(raw, DAY) * DAY;
    if (gsl_rng_uniform(r) < p->p_on_pref_dow) {
        int shift =
            (c->truth.pref_dow - indiv_time_dow(day) + DAYS_PER_WEEK) % DAYS_PER_WEEK;
        day += (int64_t)(shift > DAYS_PER_WEEK / 2 ? shift - DAYS_PER_WEEK : shift) * DAY;
    } else if (w->dow_table) { /* a day of the same (Monday-based) week, by weight */
        day +=
            (int64_t)((int)gsl_ran_discrete(r, w->dow_table) - indiv_time_dow(day)) * DAY;
    }
    int hour =
        gsl_rng_uniform(r) < p->p_random_hour
            ? (int)gsl_rng_uniform_int(r, HOURS_PER_DAY)
            : wrap_hour(c->truth.pref_hour + lround(gsl_ran_gaussian(r, p->hour_sd)));
    int64_t ts = day + (int64_t)hour * SEC_PER_HOUR +
                 (int64_t)gsl_rng_uniform_int(r, SEC_PER_HOUR);
    return ts >= w->start && ts < w->end ? ts : raw;
}

/* A known category, in proportion to its weight among the known ones. */
static size_t pick_known(const consumer *c, gsl_rng *r) {
    double u = gsl_rng_uniform(r) * c->known_total;
    for (size_t k = 0; k + 1 < c->nknown; k++) {
        if (u < c->tastes[k].weight)
            return c->tastes[k].cat;
        u -= c->tastes[k].weight;
    }
    return c->tastes[c->nknown - 1].cat;
}

/* Views before a purchase of offer o in category cat at ts: exponential leads. */
static int pre_purchase_views(const world *w, gsl_rng *r, size_t cat, size_t o,
                              int64_t ts, evbuf *b) {
    const indiv_world_params *p = w->p;
    unsigned n = gsl_ran_poisson(r, p->views_per_purchase);
    for (unsigned v = 0; v < n; v++) {
        /* At least one second before, so the view sorts before the purchase. */
        int64_t tv =
            ts - 1 -
            (int64_t)floor(gsl_ran_exponential(r, p->view_lead_minutes * SEC_PER_MIN));
        int same = gsl_rng_uniform(r) < p->p_view_same_offer;
        if (tv < w->start)
            continue;
        size_t vo =
            same && offer_valid(&w->offers[o], tv) ? o : pick_offer(w, r, cat, tv);
        if (push(b, tv, &w->offers[vo], INDIV_EV_VIEW, 1) < 0)
            return INDIV_ENOMEM;
    }
    return INDIV_OK;
}

/* The further lines of an order at ts (basket_lines_mean > 1 only, so that one-line
 * orders draw exactly as before): each in a known category by weight, of an offer by
 * popularity, with its own quantity. With p_single_line > 0 the order is first, with
 * that probability, a one-line order (a zero-inflated count: real invoices mix single
 * purchases with large baskets, which 1 + Poisson cannot give; D. Lambert, "Zero-inflated
 * Poisson regression", Technometrics 34, 1992); at 0 nothing more is drawn. */
static int basket_lines(const world *w, const consumer *c, gsl_rng *r, int64_t ts,
                        evbuf *b) {
    if (w->p->basket_lines_mean <= 1)
        return INDIV_OK;
    if (w->p->p_single_line > 0 && gsl_rng_uniform(r) < w->p->p_single_line)
        return INDIV_OK;
    unsigned n = gsl_ran_poisson(r, w->p->basket_lines_mean - 1);
    for (unsigned i = 0; i < n; i++) {
        size_t o = pick_offer(w, r, pick_known(c, r), ts);
        double qty = 1 + gsl_ran_poisson(r, w->p->quantity_mean - 1);
        if (push(b, ts, &w->offers[o], INDIV_EV_PURCHASE, qty) < 0)
            return INDIV_ENOMEM;
    }
    return INDIV_OK;
}

static int purchase(const world *w, const consumer *c, gsl_rng *r, int64_t raw,
                    evbuf *b) {
    int64_t ts = moment(w, c, r, raw);
    size_t cat = pick_known(c, r);
    size_t o = pick_offer(w, r, cat, ts);
    double qty = 1 + gsl_ran_poisson(r, w->p->quantity_mean - 1);
    if (push(b, ts, &w->offers[o], INDIV_EV_PURCHASE, qty) < 0)
        return INDIV_ENOMEM;
    int rc = pre_purchase_views(w, r, cat, o, ts, b);
    return rc < 0 ? rc : basket_lines(w, c, r, ts, b);
}

/* Organic purchases as an equilibrium gamma renewal process: intervals ~ Gamma(k, mu/k);
 * the first event comes after U * Gamma(k + 1, mu/k), the forward recurrence time of a
 * stationary renewal process (the interval covering the origin is length-biased, which
 * for a gamma law adds one to the shape; D. R. Cox, Renewal Theory, 1962). So the
 * expected count in the history is exactly its length / mu, with no start-up effect. */
static int purchases(const world *w, const consumer *c, gsl_rng *r, evbuf *b) {
    if (c->known_total <= 0)
        return INDIV_OK; /* all taste weight on latent categories: nothing to buy */
    double k = c->truth.interval_shape;
    double scale = c->truth.interval_mean_days * DAY / k;
    double span = (double)(w->end - w->start);
    for (double t = gsl_rng_uniform(r) * gsl_ran_gamma(r, k + 1, scale); t < span;
         t += gsl_ran_gamma(r, k, scale))
        if (purchase(w, c, r, w->start + (int64_t)t, b) < 0)
            return INDIV_ENOMEM;
    return INDIV_OK;
}

typedef struct latent_ctx {
    const unsigned char *mark;
} latent_ctx;

static int accept_not_latent(const void *ctx, size_t i) {
    return ((const latent_ctx *)ctx)->mark[i] != MARK_LATENT;
}

/* Browsing: a Poisson number of views at uniform times moved to the consumer's moments,
 * in a known category by weight or, with p_browse_explore, any non-latent category by
 * popularity. */
static int browsing(const world *w, const consumer *c, gsl_rng *r, evbuf *b) {
    const indiv_world_params *p = w->p;
    double span = (double)(w->end - w->start);
    unsigned n =
        gsl_ran_poisson(r, p->browse_views_per_week * (double)p->days / DAYS_PER_WEEK);
    latent_ctx lc = {c->mark};
    for (unsigned v = 0; v < n; v++) {
        int64_t ts =
            moment(w, c, r, w->start + (int64_t)floor(gsl_rng_uniform(r) * span));
        int explore = c->known_total <= 0 || gsl_rng_uniform(r) < p->p_browse_explore;
        size_t cat = explore ? draw_accepted(r, w->cat_table, w->cat_pop, w->ncat,
                                             accept_not_latent, &lc)
                             : pick_known(c, r);
        if (push(b, ts, &w->offers[pick_offer(w, r, cat, ts)], INDIV_EV_VIEW, 1) < 0)
            return INDIV_ENOMEM;
    }
    return INDIV_OK;
}

static int by_time(const void *a, const void *b) {
    const indiv_event *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->id > y->id) - (x->id < y->id);
}

/* The history of consumer `index` from its own stream, sorted by time. */
static int draw_history(const world *w, const consumer *c, int64_t index, gsl_rng *r,
                        evbuf *b, indiv_error *err) {
    indiv_rng_reseed(r, w->p->seed, (uint64_t)index, INDIV_RNG_WORLD_HISTORY);
    b->n = 0;
    if (purchases(w, c, r, b) < 0 || browsing(w, c, r, b) < 0)
        return indiv_error_set(err, INDIV_ENOMEM,
                               "out of memory (history of consumer %lld)",
                               (long long)index);
    if (b->n > 1) /* b->ev is still NULL when no consumer had an event yet */
        qsort(b->ev, b->n, sizeof *b->ev, by_time);
    return INDIV_OK;
}

static int write_events(indiv_eventlog *elog, int64_t id, evbuf *b,
                        indiv_world_summary *s, indiv_error *err) {
    for (size_t i = 0; i < b->n; i++) {
        b->ev[i].consumer_id = id;
        int rc = indiv_eventlog_add_event(elog, &b->ev[i], err);
        if (rc < 0)
            return rc;
        s->by_type[b->ev[i].type]++;
    }
    s->events += (int64_t)b->n;
    return INDIV_OK;
}

static void count_consumer(const consumer *c, indiv_world_summary *s) {
    s->consumers++;
    s->no_profiling_consent += !c->consent_profiling;
    s->no_contact_consent += !c->consent_contact;
    s->latent_tastes += (int64_t)(c->ntaste - c->nknown);
    s->consumers_with_latent += c->ntaste > c->nknown;
}

/* ==== the run =========================================================================
 */

typedef struct run {
    indiv_eventlog *elog;
    const indiv_world_params *p;
    indiv_progress_fn progress;
    void *ctx;
    indiv_world_summary *sum;
    gsl_rng *r;
    world w;
    consumer c;
    evbuf b;
} run;

static void report(const run *g, const char *stage, int64_t done, int64_t total) {
    if (g->progress)
        g->progress(g->ctx, stage, done, total);
}

static int generate_consumers(run *g, indiv_error *err) {
    int64_t n = g->p->consumers;
    for (int64_t i = 1; i <= n; i++) {
        int64_t id;
        draw_consumer(&g->w, &g->c, i, g->r);
        int rc = write_consumer(&g->w, g->elog, &g->c, i, &id, err);
        if (rc == INDIV_OK)
            rc = draw_history(&g->w, &g->c, i, g->r, &g->b, err);
        if (rc == INDIV_OK)
            rc = write_events(g->elog, id, &g->b, g->sum, err);
        if (rc < 0)
            return rc;
        count_consumer(&g->c, g->sum);
        if (i % PROGRESS_EVERY == 0 || i == n)
            report(g, "consumers", i, n);
    }
    return INDIV_OK;
}

static int check_empty(indiv_eventlog *elog, indiv_error *err) {
    indiv_eventlog_stats st;
    int rc = indiv_eventlog_stats_get(elog, &st, err);
    if (rc < 0)
        return rc;
    if (st.consumers || st.offers || st.events)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s already holds %lld consumers, %lld offers and %lld "
                               "events; a world is generated into a new database only "
                               "(nothing was written)",
                               indiv_eventlog_path(elog), (long long)st.consumers,
                               (long long)st.offers, (long long)st.events);
    return INDIV_OK;
}

static int write_meta(indiv_eventlog *elog, const indiv_world_params *p,
                      indiv_error *err) {
    char *json = indiv_world_params_json(p);
    if (!json)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (world_params)");
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    int rc = indiv_eventlog_meta_set(elog, "generator", GENERATOR_NAME, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_meta_set(elog, "seed", seed, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_meta_set(elog, "world_params", json, err);
    free(json);
    return rc;
}

/* meta('taste_groups'): the group of each category, in category order (only written
 * when taste_locality > 0, so worlds at 0 stay those of the independent model). */
static int write_groups(const world *w, indiv_eventlog *elog, indiv_error *err) {
    json_t *a = json_array();
    for (size_t c = 0; a && c < w->ncat; c++)
        if (json_array_append_new(a, json_integer((json_int_t)w->group_of[c])) < 0) {
            json_decref(a);
            a = NULL;
        }
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (!s)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (taste_groups)");
    int rc = indiv_eventlog_meta_set(elog, "taste_groups", s, err);
    free(s);
    return rc;
}

/* Everything inside the transaction. */
static int generate_all(run *g, indiv_error *err) {
    int rc;
    if ((rc = check_empty(g->elog, err)) < 0 ||
        (rc = write_meta(g->elog, g->p, err)) < 0 ||
        (rc = world_alloc(&g->w, g->p, err)) < 0 ||
        (rc = consumer_alloc(&g->c, g->w.ncat, err)) < 0)
        return rc;
    if ((rc = build_categories(&g->w, g->elog, g->r, err)) < 0 ||
        (rc = build_offers(&g->w, g->elog, g->r, g->sum, err)) < 0)
        return rc;
    if (g->p->taste_locality > 0 && ((rc = build_groups(&g->w, g->r, err)) < 0 ||
                                     (rc = write_groups(&g->w, g->elog, err)) < 0))
        return rc;
    g->sum->categories = (int64_t)g->w.ncat;
    g->sum->offers = (int64_t)g->w.noff;
    report(g, "offers", g->sum->offers, g->sum->offers);
    return generate_consumers(g, err);
}

int indiv_world_generate(indiv_eventlog *elog, const indiv_world_params *p,
                         indiv_progress_fn progress, void *ctx, indiv_world_summary *sum,
                         indiv_error *err) {
    indiv_world_summary local;
    run g = {.elog = elog,
             .p = p,
             .progress = progress,
             .ctx = ctx,
             .sum = sum ? sum : &local};
    memset(g.sum, 0, sizeof *g.sum);
    int rc = indiv_world_params_validate(p, err);
    if (rc < 0)
        return rc;
    if (!(g.r = gsl_rng_alloc(indiv_rng_xoshiro256ss)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory (random stream)");
    if ((rc = indiv_eventlog_begin(elog, err)) == INDIV_OK) {
        rc = generate_all(&g, err);
        if (rc == INDIV_OK)
            rc = indiv_eventlog_commit(elog, err);
        else
            indiv_eventlog_rollback(elog);
    }
    if (rc < 0)
        memset(g.sum, 0, sizeof *g.sum);
    world_free(&g.w);
    consumer_free(&g.c);
    free(g.b.ev);
    gsl_rng_free(g.r);
    return rc;
}
