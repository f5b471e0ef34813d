/*
 * profile.h — from one consumer's ordered events to what the engine knows of them.
 *
 * A profile is built in one ordered pass over a consumer's events strictly before
 * `as_of` (and, with a window, not older than as_of - window). Seven feature groups, each
 * of which can be switched off for data-minimisation studies (docs/architecture.md §5):
 *
 *   taste     time-decayed affinity over the catalog's feature space (d values)
 *   rhythm    orders, first/last purchase, monetary value, inter-purchase intervals;
 *             readiness is derived from these at decision time (it depends on the time
 *             elapsed since the last purchase), see indiv_profile_readiness
 *   moments   smoothed hour-of-day and day-of-week activity, preferred slot
 *   channels  per-channel contacts, reactions and Beta-smoothed reaction rate
 *   pressure  the last INDIV_PRESSURE_SLOTS contacts with answered flags; contacts left
 *             unanswered in any window before any time are derived from them
 *   openness  share of purchases in a category new to the person at the time
 *   history   the offers the person bought (at most history_max of them): purchase
 *             occasions, decayed count, first and last purchase, spread of the
 *             intervals between re-purchases; the person's own re-buy cycle of each
 *             offer (indiv_history_mean_interval_days) feeds the scorer's repeat terms
 *
 * Every stored quantity is either time-invariant or decays by a known factor (taste), so
 * a profile built as of T1 can be projected to any T2 >= T1 without reading events
 * (indiv_profile_project) when the consumer had no event in [T1, T2). That is what makes
 * the incremental build exact: it updates only consumers with events since their
 * profile's as_of, by folding those events into the stored profile (it also keeps the
 * few extra state values that needs: unanswered channels, categories bought); the
 * others are projected when read. Formulas and defaults: docs/profiles.md.
 *
 * Memory: one consumer's accumulators at a time (plus the catalog); never one entry per
 * consumer.
 */
#ifndef INDIV_PROFILE_H
#define INDIV_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/catalog.h"
#include "indiv/error.h"
#include "indiv/progress.h"
#include "indiv/vocab.h"

struct indiv_profile_row; /* a stored profile (eventlog.h) */

/* Layout version of the stored vector (profiles.version). */
#define INDIV_PROFILE_VERSION  1
#define INDIV_PRESSURE_SLOTS   16
#define INDIV_CONTACT_CHANNELS 3 /* email, sms, push: channel codes 1..3 */

typedef enum indiv_feature_group {
    INDIV_FEAT_TASTE = 1 << 0,
    INDIV_FEAT_RHYTHM = 1 << 1,
    INDIV_FEAT_MOMENTS = 1 << 2,
    INDIV_FEAT_CHANNELS = 1 << 3,
    INDIV_FEAT_PRESSURE = 1 << 4,
    INDIV_FEAT_OPENNESS = 1 << 5,
    INDIV_FEAT_HISTORY = 1 << 6,
    INDIV_FEAT_ALL = (1 << 7) - 1
} indiv_feature_group;

typedef struct indiv_profile_params {
    int64_t as_of;         /* use events with ts < as_of */
    double half_life_days; /* taste decay: weight 2^(-age / half_life) */
    double window_days;    /* ignore events older than as_of - window; 0 = no window */
    unsigned features;     /* INDIV_FEAT_* mask */
    double type_weight[INDIV_EV_MAX + 1];      /* taste weight of each event type */
    double moment_alpha;                       /* pseudo-count per hour / day bin */
    double channel_prior_a, channel_prior_b;   /* Beta prior of reaction rates */
    double openness_prior_a, openness_prior_b; /* Beta prior of openness */
    double pressure_days;         /* window of the pressure summary in --show */
    double rhythm_prior_strength; /* shrinkage weight of the population, in intervals */
    double readiness_horizon_days;
    int history_max; /* offers kept in the history group (the largest decayed counts) */
} indiv_profile_params;

/* One offer of a person's purchase history. Decayed like taste: every occasion weighs
 * 2^(-age / half_life) at the profile's as_of. */
typedef struct indiv_offer_history {
    int64_t offer_id;     /* offers.id */
    double occasions;     /* distinct purchase times of the offer */
    double decayed;       /* decayed count of the occasions */
    int64_t first_ts, last_ts;
    double interval_m2;   /* Welford sum of squared deviations of the re-buy intervals */
} indiv_offer_history;

/* Population prior of inter-purchase intervals (for readiness shrinkage). */
typedef struct indiv_rhythm_prior {
    double mean_days; /* mean of per-consumer mean intervals */
    double cv2;       /* mean of per-consumer squared coefficients of variation */
    int64_t consumers_mean, consumers_cv2; /* how many consumers each is based on */
} indiv_rhythm_prior;

typedef struct indiv_profile {
    int64_t consumer_id, as_of, n_events;
    unsigned features;
    size_t dims;
    double *taste; /* dims values, owned (capacity taste_cap) */
    size_t taste_cap;
    /* rhythm */
    double orders;                               /* distinct purchase times */
    int64_t first_purchase_ts, last_purchase_ts; /* INDIV_TS_NONE when no purchase */
    double monetary;                             /* purchase value minus returned value */
    double n_intervals, interval_mean_days, interval_sd_days;
    /* moments */
    double activity; /* events counted (views, purchases, opens, clicks) */
    double hour[24]; /* smoothed distribution over hours (UTC) */
    double dow[7];   /* smoothed distribution over days, 0 = Monday */
    /* channels (index 0..2 = email, sms, push) */
    double contacts[INDIV_CONTACT_CHANNELS], reactions[INDIV_CONTACT_CHANNELS];
    double react_rate[INDIV_CONTACT_CHANNELS];
    /* pressure: the last n_slots contacts, oldest first */
    int n_slots;
    int64_t contact_ts[INDIV_PRESSURE_SLOTS];
    int contact_channel[INDIV_PRESSURE_SLOTS];
    int answered[INDIV_PRESSURE_SLOTS];
    double contacts_total;
    /* openness */
    double later_purchases; /* purchases after the first purchase time */
    double new_category_purchases;
    double openness;
    /* state kept so that an incremental build can fold new events into a stored profile
     * without re-reading the old ones */
    int pending[INDIV_CH_MAX + 1]; /* the newest contact on the channel is unanswered */
    int32_t *bought;               /* categories bought so far (owned) */
    size_t n_bought, bought_cap;
    /* history: offers bought, in order of first purchase (owned) */
    indiv_offer_history *history;
    size_t n_history, history_cap;
} indiv_profile;

typedef struct indiv_profile_summary {
    int incremental;         /* 1 when only stale consumers were rebuilt */
    char mode_reason[160];   /* why the build was full or incremental */
    int64_t consumers;       /* consumers in the database */
    int64_t profiled;        /* profiles written by this build */
    int64_t skipped_consent; /* consumers without profiling consent (no profile) */
    int64_t dropped_consent; /* stored profiles deleted because consent is withdrawn */
    int64_t empty;           /* profiles written with no event in range */
    int64_t events;          /* events read */
    int64_t bytes;           /* vector bytes written */
    int64_t history_bytes;   /* of which the history group */
    int64_t history_entries; /* offers kept in the histories written */
    indiv_rhythm_prior prior;
} indiv_profile_summary;

/* ---- parameters ------------------------------------------------------------------ */

/* Documented defaults (docs/profiles.md); as_of = INT64_MAX (all events). */
void indiv_profile_params_init(indiv_profile_params *p);
int indiv_profile_params_validate(const indiv_profile_params *p, indiv_error *err);

/* Parses a feature list: "all", "none", or comma-separated group names, each optionally
 * prefixed with "-" to remove it ("all,-moments"). A list starting with "-x" starts from
 * all. INDIV_EINVAL naming the unknown group. */
int indiv_profile_features_parse(const char *list, unsigned *mask /* OUT */,
                                 indiv_error *err);
/* Writes the comma-separated names of mask into buf. */
void indiv_profile_features_format(unsigned mask, char *buf, size_t cap);

/* ---- building ---------------------------------------------------------------------- */

/* Builds and stores profiles for every consumer with profiling consent, in one
 * transaction. incremental = 1 rebuilds only consumers with events since their
 * profile's as_of (or leaving the window), falls back to a full build when there is no
 * previous build or when events older than the profiles were appended since, and fails
 * (INDIV_EINVAL) when the parameters differ from the previous build's. */
int indiv_profile_build(indiv_eventlog *log, const indiv_catalog *cat,
                        const indiv_profile_params *p, int incremental,
                        indiv_progress_fn progress, void *ctx,
                        indiv_profile_summary *sum /* OUT, may be NULL */,
                        indiv_error *err);

/* Told of each profile indiv_profile_update writes: the stored one before (NULL when
 * there was none or it could not be read) and the new one (both borrowed for the call). */
typedef void (*indiv_profile_change_fn)(void *ctx, const indiv_profile *before,
                                        const indiv_profile *after);

/* Brings the profiles of consumers ids[0..n) up to p->as_of inside the caller's
 * transaction (the service, when events arrive): since[i] is the time of consumer i's
 * earliest new event. A stored profile that can take events (the conditions of an
 * incremental build) and is not newer than since[i] folds the events in [its as_of,
 * p->as_of); any other is rebuilt from the consumer's events in the window. p must be
 * the stored build's parameters (indiv_profile_stored_params) with as_of moved forward;
 * meta('profile_params') gets the new as_of; the rhythm prior is left as the last
 * build computed it. The caller checks profiling consent. fn (may be NULL) is called
 * after each profile is stored. */
int indiv_profile_update(indiv_eventlog *log, const indiv_catalog *cat,
                         const indiv_profile_params *p, const int64_t *ids,
                         const int64_t *since, size_t n, indiv_profile_change_fn fn,
                         void *ctx, indiv_error *err);

/* State that a sequence of builds by one writer keeps between them (the simulation's
 * loop, one build per round): the rhythm prior's terms of every stored profile, so that
 * a build sums them instead of decoding every profile again, and the as_of of the
 * session's last build. Valid only while this session's builds are the only writes to
 * the profiles table (a full build made elsewhere is detected: a stale session falls
 * back to the full work). */
typedef struct indiv_profile_session indiv_profile_session;
indiv_profile_session *indiv_profile_session_new(void); /* NULL when out of memory */
void indiv_profile_session_free(indiv_profile_session *ses);

/* indiv_profile_build (incremental), with the session's state, and the same profiles,
 * prior and meta bit for bit. touched (may be NULL: find the stale consumers with the
 * query over every consumer) lists, in ascending order, every consumer that may have
 * an event appended since the session's last build (a superset is fine: a listed
 * consumer with no event in [its profile's as_of, as_of) is left alone). The list is
 * used only when the stored build is the session's last one, no window is set and
 * the consumers and their consents did not change since; otherwise the stale query
 * decides, as in indiv_profile_build. fn (may be NULL) is told of each profile an
 * incremental build writes, with the stored one it replaces (NULL when none could be
 * read), as indiv_profile_update does; a full build (sum->incremental = 0) calls it
 * for none, and a profile dropped for consent (sum->dropped_consent) is not told. */
int indiv_profile_build_session(indiv_eventlog *log, const indiv_catalog *cat,
                                const indiv_profile_params *p, indiv_profile_session *ses,
                                const int64_t *touched, size_t n_touched,
                                indiv_profile_change_fn fn, void *ctx,
                                indiv_profile_summary *sum /* OUT, may be NULL */,
                                indiv_error *err);

/* The rhythm prior is the mean, over consumers with a profile in consumer order, of
 * their mean inter-purchase interval (consumers with one interval or more) and of its
 * squared coefficient of variation (two or more); without any, 30 days and 1. Exposed
 * so that indiv-mpi can sum the terms of partitions in the same order (docs/scale.md):
 * the terms of one profile (NAN when the consumer does not count), the prior from the
 * sums and counts, and its storage in meta('profile_prior'), which decide reads. */
void indiv_profile_prior_terms(const indiv_profile *pr, double *mean /* OUT */,
                               double *cv2 /* OUT */);
void indiv_profile_prior_from_sums(double s1, int64_t n1, double s2, int64_t n2,
                                   indiv_rhythm_prior *prior /* OUT */);
int indiv_profile_store_prior(indiv_eventlog *log, const indiv_rhythm_prior *prior,
                              indiv_error *err);

/* The parameters and the rhythm prior of the last build (from meta). INDIV_ENOTFOUND
 * when profiles were never built; INDIV_EFORMAT, naming the key, when a stored value is
 * missing or cannot be read. */
int indiv_profile_stored_params(indiv_eventlog *log, indiv_profile_params *p /* OUT */,
                                indiv_rhythm_prior *prior /* OUT, may be NULL */,
                                indiv_error *err);

/* The feature space the stored profiles were built in: the catalog's at build time. */
typedef struct indiv_profile_space {
    size_t dims;
    char source[160]; /* indiv_catalog_feature_source: "category" or "embedding:<id>" */
} indiv_profile_space;

/* The stored profiles' feature space (same reader and errors as
 * indiv_profile_stored_params). INDIV_ENOTFOUND when profiles were never built. */
int indiv_profile_stored_space(indiv_eventlog *log, indiv_profile_space *space /* OUT */,
                               indiv_error *err);

/* ---- reading ----------------------------------------------------------------------- */

void indiv_profile_init(indiv_profile *pr);
/* Frees taste; pr can be reused after indiv_profile_init. */
void indiv_profile_clear(indiv_profile *pr);

/* Decodes a stored row into pr (reusing its taste buffer). INDIV_EFORMAT on a vector of
 * another version or size. */
int indiv_profile_decode(const struct indiv_profile_row *row, indiv_profile *pr,
                         indiv_error *err);

/* Loads the profile of consumer_id. INDIV_ENOTFOUND when there is none. */
int indiv_profile_load(indiv_eventlog *log, int64_t consumer_id, indiv_profile *pr,
                       indiv_error *err);

/* Encodes pr and stores it as its consumer's profile (inside a transaction), as a build
 * writes it: for callers that make or edit profiles themselves (the benchmarks' worlds
 * with a given history). */
int indiv_profile_store(indiv_eventlog *log, indiv_profile *pr, indiv_error *err);

/* Moves pr to time t >= as_of: taste decays by 2^(-(t - as_of) / half_life). Exact when
 * the consumer had no event in [as_of, t). */
void indiv_profile_project(indiv_profile *pr, int64_t t, double half_life_days);

/* ---- derived features -------------------------------------------------------------- */

/* Probability that the next purchase falls within horizon_days of t, given the time since
 * the last purchase, under a gamma renewal model whose mean and squared coefficient of
 * variation are shrunk toward the population prior (docs/profiles.md, "rhythm"). With no
 * purchase yet, the population model with the time since the first event unknown: the
 * unconditional P(T <= horizon). */
double indiv_profile_readiness(const indiv_profile *pr, const indiv_rhythm_prior *prior,
                               double strength, int64_t t, double horizon_days);

/* Conditional gamma renewal probability P(T <= s + h | T > s) for shape k, scale theta
 * (all in days). Exposed for tests. */
double indiv_readiness_gamma(double s, double h, double k, double theta);

/* The person's mean interval between two purchases of h's offer, in days; 0 with a
 * single occasion. */
double indiv_history_mean_interval_days(const indiv_offer_history *h);

/* The entry of offer_id in pr's history, or NULL. */
const indiv_offer_history *indiv_profile_history_find(const indiv_profile *pr,
                                                      int64_t offer_id);

/* Contacts in [t - days, t) and how many of them were left unanswered. */
void indiv_profile_pressure(const indiv_profile *pr, int64_t t, double days,
                            int *contacts /* OUT */, int *unanswered /* OUT */);

/* Preferred hour (0-23) and day (0 = Monday); ties go to the earliest. */
int indiv_profile_preferred_hour(const indiv_profile *pr);
int indiv_profile_preferred_dow(const indiv_profile *pr);

/* The profile as readable JSON (named features, readiness and pressure at time t),
 * pretty-printed with sorted keys; caller frees. NULL when out of memory. */
char *indiv_profile_to_json(const indiv_profile *pr, const char *ext_id,
                            const indiv_catalog *cat, const indiv_profile_params *p,
                            const indiv_rhythm_prior *prior, int64_t t);

#endif /* INDIV_PROFILE_H */
