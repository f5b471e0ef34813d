/*
 * catalog.h — the offers that can be proposed, and their feature matrix.
 *
 * A catalog is loaded once from the event log: offers in id order with a dense index
 * 0..n-1, categories with a dense index 0..C-1, and a feature matrix F (n × d) in which
 * row i describes offer i. By default F is the one-hot category matrix (d = C); a
 * trained model may replace it with an embedding (d = its dimension). The profile
 * builder expresses tastes in the same d-dimensional space, so that the scorer's
 * profile × F^T product measures affinity.
 */
#ifndef INDIV_CATALOG_H
#define INDIV_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/vocab.h"

typedef struct indiv_catalog indiv_catalog;

typedef struct indiv_offer {
    int64_t id;   /* our id (offers.id) */
    char *ext_id; /* source system id */
    char *name;
    size_t category; /* dense category index */
    double price, margin;
    int64_t valid_from, valid_to; /* INDIV_TS_NONE when unbounded */
} indiv_offer;

/* Loads every offer and category of log. Fails (INDIV_EINVAL) on a catalogue with no
 * offer. The features are the one-hot categories. */
int indiv_catalog_load(indiv_eventlog *log, indiv_catalog **out /* OUT */,
                       indiv_error *err);
void indiv_catalog_free(indiv_catalog *cat);

size_t indiv_catalog_size(const indiv_catalog *cat);       /* offers */
size_t indiv_catalog_categories(const indiv_catalog *cat); /* categories */
size_t indiv_catalog_dims(const indiv_catalog *cat);       /* feature dimension d */

/* Offer at dense index i (< size). */
const indiv_offer *indiv_catalog_offer(const indiv_catalog *cat, size_t i);
const char *indiv_catalog_category_name(const indiv_catalog *cat, size_t c);

/* Dense index of offer id; INDIV_ENOTFOUND when the id is not in the catalog. */
int indiv_catalog_index(const indiv_catalog *cat, int64_t offer_id, size_t *i /* OUT */);

/* Dense index of category id (categories.id). INDIV_ENOTFOUND when absent. */
int indiv_catalog_category_index(const indiv_catalog *cat, int64_t category_id,
                                 size_t *c /* OUT */);

/* Row i of F (d values), and the whole row-major matrix (n × d). */
const double *indiv_catalog_features(const indiv_catalog *cat, size_t i);
const double *indiv_catalog_matrix(const indiv_catalog *cat);

/* Name of the feature space: "category" or the model id that set an embedding. */
const char *indiv_catalog_feature_source(const indiv_catalog *cat);

/* Replaces F by an n × d row-major embedding (copied). Every value must be finite. */
int indiv_catalog_set_features(indiv_catalog *cat, const double *matrix, size_t d,
                               const char *source, indiv_error *err);

/* Computes each offer's popularity as of time t: purchases per UTC day before the day of
 * t, decayed with half_life_days (a purchase d days before counts 2^(-d / half-life)),
 * then normalised to [0, 1] as log(1 + pop) / log(1 + max pop). Non-personal: counts
 * every purchase (table offer_daily). */
int indiv_catalog_load_popularity(indiv_catalog *cat, indiv_eventlog *log, int64_t t,
                                  double half_life_days, indiv_error *err);

/* Normalised popularity of each offer (n values; zeros until loaded). */
const double *indiv_catalog_popularity(const indiv_catalog *cat);

/* 1 when offer i can be proposed at time t (inside its validity bounds). */
int indiv_catalog_valid_at(const indiv_catalog *cat, size_t i, int64_t t);

#endif /* INDIV_CATALOG_H */
