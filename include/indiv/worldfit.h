/*
 * worldfit.h — statistics of a purchase log, real or generated, and a world fitted to
 * them (docs/worlds.md, "Worlds like a real log").
 *
 * indiv_worldfit_measure reads the purchases of any event log once and gives the
 * statistics a shop is recognised by: category popularity, orders per consumer,
 * inter-purchase intervals, basket sizes, hour and weekday profiles, channel mix, and the
 * new-category adoption lift (how much more often a consumer adopts a category that
 * co-occurs with their own categories in other consumers' histories, popularity held
 * fixed). indiv_worldfit_params turns those statistics into world parameters (sim.h),
 * and indiv_worldfit_compare sets real and generated statistics side by side, each with
 * its tolerance.
 *
 * Usage:
 *     indiv_log_stats real, gen;
 *     indiv_worldfit_measure(real_log, NULL, &real, &err);
 *     indiv_world_params p;
 *     indiv_worldfit_params(&real, &p, &err);       p.consumers = 100000; ...
 *     indiv_world_generate(world_log, &p, NULL, NULL, NULL, &err);
 *     indiv_worldfit_measure(world_log, NULL, &gen, &err);
 *     indiv_fit_row rows[INDIV_FIT_ROWS_MAX];
 *     size_t n = indiv_worldfit_compare(&real, &gen, rows);
 */
#ifndef INDIV_WORLDFIT_H
#define INDIV_WORLDFIT_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/progress.h"
#include "indiv/sim.h"

#define INDIV_HOURS    24
#define INDIV_WEEKDAYS 7

/* How the adoption lift is measured. Zero fields take the defaults. */
typedef struct indiv_lift_opts {
    double split; /* share of the log's period before the split time (default 0.5) */
} indiv_lift_opts;

/* New-category adoption lift (docs/worlds.md, "Adoption lift"): the Mantel-Haenszel
 * risk ratio, over strata (consumer, popularity bin of the category), of adopting after
 * the split a category new to the consumer when it co-occurs with the consumer's own
 * categories more than its popularity predicts, against when it does not. */
typedef struct indiv_lift {
    double lift;                /* Mantel-Haenszel risk ratio (NaN when undefined) */
    double ci_lo, ci_hi;        /* 95 % interval (Greenland & Robins 1985 variance) */
    double rate_near, rate_far; /* crude adoption rates of the two kinds of pairs */
    int64_t consumers;          /* consumers with purchases on both sides of the split */
    int64_t pairs, pairs_near;  /* (consumer, new category) pairs, and near ones */
    int64_t adoptions;          /* pairs adopted after the split */
    int64_t split_ts;           /* the split time */
} indiv_lift;

/* Statistics of the purchases of a log. An order is a consumer's purchases at one
 * timestamp (an invoice); a line is one purchase event. */
typedef struct indiv_log_stats {
    int64_t consumers;  /* with at least one purchase */
    int64_t categories; /* with at least one purchase */
    int64_t offers;     /* with at least one purchase */
    int64_t orders, lines;
    int64_t first_ts, last_ts;   /* of purchases */
    double days;                 /* last - first, in days */
    double top_category_share;   /* lines in the most bought category / all lines */
    double top10_category_share; /* lines in the 10 % most bought categories */
    double category_zipf; /* fitted exponent: log share on log rank (least squares) */
    double offer_zipf;    /* same, offers within their category (pooled) */
    double orders_mean, orders_median, orders_p90; /* orders per consumer */
    double one_order_share;                        /* consumers with a single order */
    double gap_median_days, gap_mean_days;         /* days between a consumer's orders */
    double gap_cv2;           /* mean squared coefficient of variation of a consumer's
                                 gaps (consumers with >= 3 orders) */
    double basket_mean;       /* lines per order */
    double single_line_share; /* orders of one line */
    double quantity_mean;     /* quantity per line */
    double views_per_order;   /* view events / orders */
    double categories_per_consumer; /* distinct categories bought, mean */
    double price_median;            /* median price of the bought offers */
    double price_log_sd_between, price_log_sd_within; /* of log prices, by category */
    double hour[INDIV_HOURS];         /* share of orders per hour of the day (UTC) */
    double weekday[INDIV_WEEKDAYS];   /* share of orders per weekday (0 = Monday) */
    double channel[INDIV_CH_MAX + 1]; /* share of orders per channel (0 = unknown) */
    indiv_lift lift;
} indiv_log_stats;

/* One line of a fit report: a statistic of the real log and of the generated world. */
typedef struct indiv_fit_row {
    const char *name; /* "orders per consumer (mean)" */
    double real, gen;
    double tolerance; /* allowed |gen - real| (relative when rel, else absolute) */
    int rel;          /* 1: tolerance is a share of |real| */
    int ok;           /* 1 when within tolerance */
} indiv_fit_row;

#define INDIV_FIT_ROWS_MAX 32

/* Measures the purchases of log (one ordered scan, plus the catalogue). opts may be NULL
 * (defaults). INDIV_EINVAL when the log holds fewer than two consumers with purchases.
 * The lift needs at most 20000 categories. */
int indiv_worldfit_measure(indiv_eventlog *log, const indiv_lift_opts *opts,
                           indiv_log_stats *out /* OUT */, indiv_error *err);

/* World parameters fitted to s: size (consumers, offers, categories, days, start),
 * popularity, prices, rhythm, baskets, quantities, moments, channels (when the log has
 * them) and taste locality (from the lift, by the calibration table of docs/worlds.md).
 * Parameters without a counterpart in a purchase log (consent, reactions, openness)
 * keep their defaults; seed too. Cannot fail on stats from indiv_worldfit_measure. */
int indiv_worldfit_params(const indiv_log_stats *s, indiv_world_params *p /* OUT */,
                          indiv_error *err);

/* Parameters that indiv_worldfit_calibrate adjusts, unless fixed by the caller. */
enum {
    INDIV_FIT_FIX_CONSUMERS = 1 << 0, /* consumers: as many buyers as the real log */
    INDIV_FIT_FIX_INTERVAL = 1 << 1,  /* interval_median_days: orders per consumer */
    INDIV_FIT_FIX_TASTES = 1 << 2,    /* known_tastes_mean: categories per consumer */
    INDIV_FIT_FIX_LOCALITY = 1 << 3,  /* taste_locality: the adoption lift */
    INDIV_FIT_FIX_POPULARITY = 1 << 5 /* category_zipf, offer_zipf, price_median: the
                                         Zipf exponents and median price of purchases */
};

/* Refines p (from indiv_worldfit_params) by pilot worlds: `rounds` times, generates p
 * into a new database at scratch_path (removed before and after), measures it and moves
 * each adjusted parameter (those not in `fixed`) toward the statistic it drives, by
 * the damped fixed-point steps of docs/worlds.md. Deterministic: same stats, p and seed,
 * same result. progress (may be NULL) gets stage "pilot", round, rounds. */
int indiv_worldfit_calibrate(const indiv_log_stats *real, indiv_world_params *p,
                             unsigned fixed, int rounds, const char *scratch_path,
                             indiv_progress_fn progress, void *ctx, indiv_error *err);

/* All of --like in one call, for callers that want a world like a log (study --like):
 * measures the log at real_path (opened read-only), fits p to it and refines it with
 * `pilots` pilot worlds at scratch_path (see indiv_worldfit_calibrate; nothing fixed).
 * p gets the log's size (as many buyers as the log); the caller may then change
 * consumers, seed, etc. real (may be NULL) gets the log's statistics, for a report. */
int indiv_worldfit_like(const char *real_path, int pilots, const char *scratch_path,
                        indiv_world_params *p /* OUT */,
                        indiv_log_stats *real /* OUT, may be NULL */, indiv_error *err);

/* Fills rows (at least INDIV_FIT_ROWS_MAX) with real against generated statistics, each
 * with its tolerance; returns the number of rows. Cannot fail. */
size_t indiv_worldfit_compare(const indiv_log_stats *real, const indiv_log_stats *gen,
                              indiv_fit_row *rows /* OUT */);

/* Writes a fit report as a JSON object string (caller frees; NULL when out of memory):
 * {"params": {...}, "rows": [{"statistic", "real", "generated", "tolerance",
 * "relative", "ok"}...]} with sorted keys. */
char *indiv_worldfit_report_json(const indiv_world_params *p, const indiv_fit_row *rows,
                                 size_t n);

#endif /* INDIV_WORLDFIT_H */
