/*
 * model.h — model files: load, validate, save.
 *
 * A model file (JSON, models/default.json) gives the scorer its offer feature space and
 * its propensity weights:
 *
 *   logit p(c, o) = intercept + w_affinity   · affinity(c, o)
 *                             + w_popularity · popularity(o)
 *                             + w_readiness  · readiness(c)
 *                             + w_frequency  · frequency(c)
 *
 * where affinity is the consumer's normalised taste times the offer's features,
 * popularity the offer's normalised recent purchase count, readiness the renewal-model
 * probability of buying within the horizon, and frequency log(1 + orders) / log(1 + 50)
 * (definitions: docs/decisions.md). The loader checks everything (format, version,
 * id, feature space, every weight name and that every number is finite) and names the
 * field at fault. Every decision carries the model's id.
 *
 * Feature spaces: "category" (one-hot categories of the catalog) or "embedding": the
 * file then carries a vector per offer ("embedding": {"dims": K, "offers": {"<offer
 * source id>": [K numbers], ...}}), trained by `indiv train` (train.h), which
 * indiv_model_apply puts in the catalog in place of the categories (offers without a
 * vector get a zero row). "taste_norm" says how the scorer normalises a taste vector
 * before the product with the offer features: "share" (shares of its positive mass, the
 * default for categories) or "l2" (unit length, the default for embeddings, where
 * coordinates have no sign). An optional "provenance" object (free form: data
 * fingerprint, as-of time, parameters, validation metrics...) is kept as JSON text.
 * A model holding an embedding or provenance owns memory: release it with
 * indiv_model_clear.
 */
#ifndef INDIV_MODEL_H
#define INDIV_MODEL_H

#include <stddef.h>

#include "indiv/catalog.h"
#include "indiv/error.h"

#define INDIV_MODEL_FORMAT  "indiv-model"
#define INDIV_MODEL_VERSION 1
#define INDIV_MODEL_ID_MAX  128

typedef enum indiv_model_term {
    INDIV_TERM_AFFINITY = 0,
    INDIV_TERM_POPULARITY,
    INDIV_TERM_READINESS,
    INDIV_TERM_FREQUENCY,
    INDIV_TERM_COUNT
} indiv_model_term;

/* Largest embedding dimension a model file may declare. */
#define INDIV_EMBEDDING_DIMS_MAX 1024

typedef enum indiv_taste_norm {
    INDIV_TASTE_NORM_DEFAULT = 0, /* share for "category", l2 for "embedding" */
    INDIV_TASTE_NORM_SHARE = 1,   /* taste / (sum of its positive parts), negatives 0 */
    INDIV_TASTE_NORM_L2 = 2       /* taste / its Euclidean norm */
} indiv_taste_norm;

/* Offer vectors of an embedding model, rows sorted by offer source id. */
typedef struct indiv_embedding {
    size_t n, dims;
    char **offer_ids; /* n source ids, strictly ascending (strcmp) once finished */
    double *vectors;  /* n × dims, row-major, row i for offer_ids[i] */
} indiv_embedding;

typedef struct indiv_model {
    char id[INDIV_MODEL_ID_MAX];
    char feature_space[32]; /* "category" or "embedding" */
    double intercept;
    double weight[INDIV_TERM_COUNT];
    double popularity_half_life_days; /* decay of purchase counts behind popularity */
    indiv_taste_norm taste_norm;      /* INDIV_TASTE_NORM_DEFAULT when not given */
    indiv_embedding *embedding;       /* owned; set iff feature_space is "embedding" */
    char *provenance;                 /* owned JSON text of an object, or NULL */
} indiv_model;

/* Name of a term as it appears in model files and decision drivers. */
const char *indiv_model_term_name(int term);

/* Built-in default model (what models/default.json holds). */
void indiv_model_default(indiv_model *m);

/* Loads and validates a model file. On error, err names the file and the field. */
int indiv_model_load(const char *path, indiv_model *m /* OUT */, indiv_error *err);

/* Validates a model held in memory. */
int indiv_model_validate(const indiv_model *m, indiv_error *err);

/* Writes a model file (sorted keys, full precision). */
int indiv_model_save(const indiv_model *m, const char *path, indiv_error *err);

/* Frees the embedding and provenance of m (the other fields stay). Accepts NULL. */
void indiv_model_clear(indiv_model *m);

/* The taste normalisation in effect (never INDIV_TASTE_NORM_DEFAULT). */
indiv_taste_norm indiv_model_taste_norm(const indiv_model *m);
const char *indiv_taste_norm_name(indiv_taste_norm t);

/* The catalog feature source that goes with the model: "category", or "embedding:<id>"
 * (what indiv_model_apply sets, so that profiles and scorer can check they share it). */
void indiv_model_feature_source(const indiv_model *m, char *buf, size_t cap);

/* Puts the model's embedding in the catalog (a no-op for "category" models). Offers of
 * the catalog without a vector get a zero row; *missing (may be NULL) gets how many. */
int indiv_model_apply(const indiv_model *m, indiv_catalog *cat, size_t *missing /* OUT */,
                      indiv_error *err);

/* Replaces the provenance by json, which must be the text of a JSON object. */
int indiv_model_set_provenance(indiv_model *m, const char *json, indiv_error *err);

/* ---- embeddings -------------------------------------------------------------------- */

/* n rows of dims zeros with no ids yet; NULL when out of memory. */
indiv_embedding *indiv_embedding_new(size_t n, size_t dims);
void indiv_embedding_free(indiv_embedding *e);

/* Sorts the rows by offer id and checks that every id is set and unique and every
 * number finite (INDIV_EINVAL naming the offer). */
int indiv_embedding_finish(indiv_embedding *e, indiv_error *err);

/* Row of an offer source id, or NULL when the embedding has none (binary search). */
const double *indiv_embedding_find(const indiv_embedding *e, const char *offer_id);

#endif /* INDIV_MODEL_H */
