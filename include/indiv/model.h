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
 * (definitions: README.md, "Decisions"). The loader checks everything (format, version,
 * id, feature space, every weight name and that every number is finite) and names the
 * field at fault. Every decision carries the model's id.
 */
#ifndef INDIV_MODEL_H
#define INDIV_MODEL_H

#include "indiv/error.h"

#define INDIV_MODEL_FORMAT "indiv-model"
#define INDIV_MODEL_VERSION 1
#define INDIV_MODEL_ID_MAX 128

typedef enum indiv_model_term {
    INDIV_TERM_AFFINITY = 0,
    INDIV_TERM_POPULARITY,
    INDIV_TERM_READINESS,
    INDIV_TERM_FREQUENCY,
    INDIV_TERM_COUNT
} indiv_model_term;

typedef struct indiv_model {
    char id[INDIV_MODEL_ID_MAX];
    char feature_space[32]; /* "category" */
    double intercept;
    double weight[INDIV_TERM_COUNT];
    double popularity_half_life_days; /* decay of purchase counts behind popularity */
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

#endif /* INDIV_MODEL_H */
