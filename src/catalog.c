/*
 * catalog.c — offers and their feature matrix, loaded from the event log.
 *
 * Offer ids are usually dense (1..n, as SQLite assigns them), so id → index is a direct
 * table of max_id + 1 entries when that stays within a small factor of n; otherwise a
 * sorted search over the ids (they are loaded in id order).
 */
#include "indiv/catalog.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indiv/eventlog.h"
#include "indiv/timeutil.h"

/* A direct id → index table is used while max_id <= DIRECT_FACTOR * n. */
#define DIRECT_FACTOR 4

struct indiv_catalog {
    indiv_offer *offers;
    size_t n, cap;
    char **cat_names;
    int64_t *cat_ids; /* category id of each dense category index, ascending */
    size_t ncat, cat_cap;
    double *features;            /* n × d */
    double *popularity;          /* n, normalised */
    double pop_t, pop_half_life; /* for the popularity walk */
    size_t d;
    char source[160]; /* "category" or "embedding:<model id>" (ids < 128 bytes) */
    int64_t *direct;  /* offer id → index + 1 (0 = absent), or NULL */
    int64_t max_id;
};

static int add_category(void *ctx, int64_t id, const char *name) {
    indiv_catalog *cat = ctx;
    if (cat->ncat == cat->cat_cap) {
        size_t c = cat->cat_cap ? 2 * cat->cat_cap : 64;
        char **nm = realloc(cat->cat_names, c * sizeof *nm);
        if (!nm)
            return INDIV_ENOMEM;
        cat->cat_names = nm;
        int64_t *ids = realloc(cat->cat_ids, c * sizeof *ids);
        if (!ids)
            return INDIV_ENOMEM;
        cat->cat_ids = ids;
        cat->cat_cap = c;
    }
    if (!(cat->cat_names[cat->ncat] = strdup(name)))
        return INDIV_ENOMEM;
    cat->cat_ids[cat->ncat++] = id;
    return INDIV_OK;
}

/* Dense index of a category id (ids ascending): binary search. */
static size_t category_index(const indiv_catalog *cat, int64_t id) {
    size_t lo = 0, hi = cat->ncat;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cat->cat_ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int add_offer(void *ctx, const indiv_offer_row *row) {
    indiv_catalog *cat = ctx;
    if (cat->n == cat->cap) {
        size_t c = cat->cap ? 2 * cat->cap : 256;
        indiv_offer *o = realloc(cat->offers, c * sizeof *o);
        if (!o)
            return INDIV_ENOMEM;
        cat->offers = o;
        cat->cap = c;
    }
    indiv_offer *o = &cat->offers[cat->n];
    *o = (indiv_offer){.id = row->id,
                       .category = category_index(cat, row->category_id),
                       .price = row->price,
                       .margin = row->margin,
                       .valid_from = row->valid_from,
                       .valid_to = row->valid_to};
    o->ext_id = strdup(row->ext_id);
    o->name = strdup(row->name ? row->name : "");
    cat->n++; /* counted before the check so that free() releases what was copied */
    if (!o->ext_id || !o->name)
        return INDIV_ENOMEM;
    if (row->id > cat->max_id)
        cat->max_id = row->id;
    return INDIV_OK;
}

/* One-hot category features, and the id → index table. */
static int finish(indiv_catalog *cat) {
    cat->d = cat->ncat;
    cat->features = calloc(cat->n * cat->d, sizeof *cat->features);
    cat->popularity = calloc(cat->n, sizeof *cat->popularity);
    if (!cat->features || !cat->popularity)
        return INDIV_ENOMEM;
    for (size_t i = 0; i < cat->n; i++)
        cat->features[i * cat->d + cat->offers[i].category] = 1.0;
    snprintf(cat->source, sizeof cat->source, "category");
    if (cat->max_id <= (int64_t)(DIRECT_FACTOR * cat->n) + 1) {
        cat->direct = calloc((size_t)cat->max_id + 1, sizeof *cat->direct);
        if (!cat->direct)
            return INDIV_ENOMEM;
        for (size_t i = 0; i < cat->n; i++)
            cat->direct[cat->offers[i].id] = (int64_t)i + 1;
    }
    return INDIV_OK;
}

int indiv_catalog_load(indiv_eventlog *log, indiv_catalog **out, indiv_error *err) {
    *out = NULL;
    indiv_catalog *cat = calloc(1, sizeof *cat);
    if (!cat)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory loading the catalog");
    int rc = indiv_eventlog_each_category(log, add_category, cat, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_each_offer(log, add_offer, cat, err);
    if (rc == INDIV_OK && cat->n == 0)
        rc = indiv_error_set(err, INDIV_EINVAL, "%s: the catalog has no offer",
                             indiv_eventlog_path(log));
    if (rc == INDIV_OK)
        rc = finish(cat);
    if (rc < 0) {
        if (rc == INDIV_ENOMEM)
            indiv_error_set(err, rc, "out of memory loading the catalog");
        indiv_catalog_free(cat);
        return rc;
    }
    *out = cat;
    return INDIV_OK;
}

void indiv_catalog_free(indiv_catalog *cat) {
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++) {
        free(cat->offers[i].ext_id);
        free(cat->offers[i].name);
    }
    for (size_t c = 0; c < cat->ncat; c++)
        free(cat->cat_names[c]);
    free(cat->offers);
    free(cat->cat_names);
    free(cat->cat_ids);
    free(cat->features);
    free(cat->popularity);
    free(cat->direct);
    free(cat);
}

size_t indiv_catalog_size(const indiv_catalog *cat) {
    return cat->n;
}

size_t indiv_catalog_categories(const indiv_catalog *cat) {
    return cat->ncat;
}

size_t indiv_catalog_dims(const indiv_catalog *cat) {
    return cat->d;
}

const indiv_offer *indiv_catalog_offer(const indiv_catalog *cat, size_t i) {
    return &cat->offers[i];
}

const char *indiv_catalog_category_name(const indiv_catalog *cat, size_t c) {
    return cat->cat_names[c];
}

int indiv_catalog_index(const indiv_catalog *cat, int64_t offer_id, size_t *i) {
    if (offer_id <= 0 || offer_id > cat->max_id)
        return INDIV_ENOTFOUND;
    if (cat->direct) {
        if (!cat->direct[offer_id])
            return INDIV_ENOTFOUND;
        *i = (size_t)cat->direct[offer_id] - 1;
        return INDIV_OK;
    }
    size_t lo = 0, hi = cat->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cat->offers[mid].id < offer_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == cat->n || cat->offers[lo].id != offer_id)
        return INDIV_ENOTFOUND;
    *i = lo;
    return INDIV_OK;
}

int indiv_catalog_category_index(const indiv_catalog *cat, int64_t category_id,
                                 size_t *c) {
    size_t i = category_index(cat, category_id);
    if (i == cat->ncat || cat->cat_ids[i] != category_id)
        return INDIV_ENOTFOUND;
    *c = i;
    return INDIV_OK;
}

const double *indiv_catalog_features(const indiv_catalog *cat, size_t i) {
    return cat->features + i * cat->d;
}

const double *indiv_catalog_matrix(const indiv_catalog *cat) {
    return cat->features;
}

const char *indiv_catalog_feature_source(const indiv_catalog *cat) {
    return cat->source;
}

int indiv_catalog_set_features(indiv_catalog *cat, const double *matrix, size_t d,
                               const char *source, indiv_error *err) {
    if (d == 0)
        return indiv_error_set(err, INDIV_EINVAL, "feature dimension is 0");
    for (size_t k = 0; k < cat->n * d; k++)
        if (!isfinite(matrix[k]))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "feature of offer %s, dimension %zu is not finite",
                                   cat->offers[k / d].ext_id, k % d);
    double *f = malloc(cat->n * d * sizeof *f);
    if (!f)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    memcpy(f, matrix, cat->n * d * sizeof *f);
    free(cat->features);
    cat->features = f;
    cat->d = d;
    snprintf(cat->source, sizeof cat->source, "%s", source);
    return INDIV_OK;
}

int indiv_catalog_valid_at(const indiv_catalog *cat, size_t i, int64_t t) {
    const indiv_offer *o = &cat->offers[i];
    return (o->valid_from == INDIV_TS_NONE || t >= o->valid_from) &&
           (o->valid_to == INDIV_TS_NONE || t < o->valid_to);
}

static int add_offer_day(void *ctx, int64_t offer_id, int64_t day, int64_t purchases) {
    indiv_catalog *cat = ctx;
    size_t i;
    if (indiv_catalog_index(cat, offer_id, &i) == INDIV_OK)
        cat->popularity[i] +=
            (double)purchases * exp2(-(cat->pop_t - (double)day) / cat->pop_half_life);
    return INDIV_OK;
}

int indiv_catalog_load_popularity(indiv_catalog *cat, indiv_eventlog *log, int64_t t,
                                  double half_life_days, indiv_error *err) {
    if (!(half_life_days > 0))
        return indiv_error_set(err, INDIV_EINVAL, "popularity half-life must be > 0");
    int64_t day = t >= 0 ? t / INDIV_SECONDS_PER_DAY
                         : -((-t + INDIV_SECONDS_PER_DAY - 1) / INDIV_SECONDS_PER_DAY);
    memset(cat->popularity, 0, cat->n * sizeof *cat->popularity);
    cat->pop_t = (double)day;
    cat->pop_half_life = half_life_days;
    int rc = indiv_eventlog_each_offer_day(log, day, add_offer_day, cat, err);
    if (rc < 0)
        return rc;
    double mx = 0;
    for (size_t i = 0; i < cat->n; i++)
        mx = cat->popularity[i] > mx ? cat->popularity[i] : mx;
    for (size_t i = 0; i < cat->n && mx > 0; i++) {
        cat->popularity[i] = log1p(cat->popularity[i]) / log1p(mx);
        assert(cat->popularity[i] >= 0 && cat->popularity[i] <= 1);
    }
    return INDIV_OK;
}

const double *indiv_catalog_popularity(const indiv_catalog *cat) {
    return cat->popularity;
}
