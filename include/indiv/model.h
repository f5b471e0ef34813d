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
 *                             + w_repeat · bought(c, o)
 *                             + w_repeat_frequency · log(1 + occasions(c, o))
 *                             + w_repeat_readiness · item_readiness(c, o, t)
 *                             + w_item_item · sum over offers i bought of S(i, o)
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
 * The repeat terms use the person's offer history (profile.h, group "history"); the
 * item-to-item term a sparse similarity S between offers ("item_item": {"method":
 * "ease", "lambda": L, "k": K, "offers": {"<id>": {"<neighbour id>": weight, ...}}},
 * trained by `indiv train`, itemsim.h); the item readiness a gamma renewal model of the
 * person's re-buy cycle of the offer ("repeat": {...}, see indiv_repeat_params). The
 * weights of these terms are optional in a file (0 when absent: older files load as
 * they were). Optional "weights_bought" (indiv_bought_weights) gives offers the person
 * bought their own affinity, popularity and item_item weights. Definitions:
 * docs/decisions.md. A model holding an embedding, item neighbours or provenance owns
 * memory: release it with indiv_model_clear.
 */
#ifndef INDIV_MODEL_H
#define INDIV_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
    INDIV_TERM_REPEAT,           /* the person bought the offer before */
    INDIV_TERM_REPEAT_FREQUENCY, /* log(1 + purchase occasions of the offer) */
    INDIV_TERM_REPEAT_READINESS, /* item-level readiness (re-buy cycle) */
    INDIV_TERM_ITEM_ITEM,        /* similarity to the offers the person bought */
    INDIV_TERM_COUNT
} indiv_model_term;

/* Item readiness of an offer the person bought (docs/decisions.md): with s the days
 * since its last purchase, m the person's mean re-buy interval of the offer shrunk
 * toward prior_mean_days with prior_strength pseudo-intervals, and cv² likewise toward
 * prior_cv2, the probability that the next purchase of the offer falls in
 * [s, s + horizon_days] under a gamma renewal model: F(s + h) − F(s), F the gamma
 * CDF of mean m and squared coefficient of variation cv². It peaks near the person's
 * own cycle and falls once they are long overdue. */
typedef struct indiv_repeat_params {
    double prior_mean_days; /* population mean re-buy interval of an offer */
    double prior_cv2;       /* population squared coefficient of variation */
    double prior_strength;  /* weight of the prior, in intervals */
    double horizon_days;    /* h */
} indiv_repeat_params;

/* Sparse offer-to-offer similarities: row i (offer_ids[i], sorted by strcmp) holds
 * neighbours idx[ptr[i]..ptr[i+1]) (indices into offer_ids) with weights w. */
typedef struct indiv_item_neighbours {
    size_t n;
    char **offer_ids;
    size_t *ptr, *idx;
    double *w;
    char method[16]; /* "ease" or "knn" */
    double lambda;
    size_t k;
} indiv_item_neighbours;

/* ---- calibration and the recommended threshold ---------------------------------------
 *
 * What τ is compared with by default (policy `relevance any`): P(acts) = 1 − Π(1 − p_i)
 * over the first `slots` offers by propensity. A calibration is that relevance measured
 * on held-back people against what they did: acted = bought at least one of those offers
 * within horizon_days. Its reliability table has one row per decile of predicted
 * relevance (people sorted by it, ties by input order, then cut into 10 groups of
 * equal size): the range, the mean predicted relevance and the observed share who
 * acted. The recommended τ is the cut that maximises Youden's index J = TPR − FPR
 * (Youden, "Index for rating diagnostic tests", Cancer 3(1), 1950): contacting
 * everyone whose relevance reaches τ reaches the largest share of the people who act
 * for the smallest share of those who do not, a missed buyer counting as much (as a
 * share of the buyers) as a needless contact (as a share of the others). It is rank-
 * based, so it holds for a model whose scores are not probabilities (the hand-set
 * default), and for a calibrated one it sits where P(acts) equals the base rate (the
 * likelihood ratio of the two groups is 1 there). τ is the midpoint between the lowest
 * relevance contacted at the best cut and the highest one left out; ties of J go to the
 * higher τ (fewer contacts). No τ (NAN) when either group has fewer than
 * INDIV_CALIBRATION_MIN_GROUP people. Docs: docs/evaluation.md "Calibration". */
#define INDIV_CALIBRATION_BINS      10
#define INDIV_CALIBRATION_MIN_GROUP 10
#define INDIV_CALIBRATION_SOURCE_MAX 256

typedef struct indiv_calibration_bin {
    double lo, hi;    /* smallest and largest predicted relevance of the bin */
    double predicted; /* mean predicted relevance */
    double observed;  /* share who acted */
    int64_t n;        /* people */
} indiv_calibration_bin;

typedef struct indiv_calibration {
    int present;         /* 0: the model carries none (the other fields are 0) */
    int slots;           /* offers per contact the relevance is taken over */
    double horizon_days; /* acted = bought one of them within this */
    int64_t people, acted;
    size_t n_bins; /* INDIV_CALIBRATION_BINS, or fewer with fewer people */
    indiv_calibration_bin bins[INDIV_CALIBRATION_BINS];
    double threshold; /* recommended τ, NAN when none */
    double tpr, fpr;  /* at τ, on these people */
    char source[INDIV_CALIBRATION_SOURCE_MAX]; /* where it was measured, for people */
} indiv_calibration;

/* Fits the calibration of n people (predicted relevance pred[i], acted[i] 0/1): the
 * reliability table and the recommended τ (above). slots, horizon_days and source are
 * recorded as given. INDIV_EINVAL when n is 0 or a prediction is not in [0, 1];
 * INDIV_ENOMEM. */
int indiv_calibration_fit(const double *pred, const unsigned char *acted, size_t n,
                          int slots, double horizon_days, const char *source,
                          indiv_calibration *out /* OUT */, indiv_error *err);

/* The calibration as the JSON text of a model file's "calibration" object (caller
 * frees); NULL out of memory. */
char *indiv_calibration_json_text(const indiv_calibration *c);

/* The person-level act model (optional, "act" in a model file): the relevance τ is
 * compared with under `relevance any`, from the offers' P(buys at least one) and the
 * person's own purchase rhythm,
 *   P(acts) = σ(intercept + relevance · logit(any) + orders · log(1 + orders)
 *               + readiness · readiness + recency · log(1 + days since the last
 *               purchase) + rebought · log(1 + offers bought on 2+ occasions)
 *               + repeat_strength · log(1 + decayed occasions of the person's
 *                 INDIV_ACT_TOP_OFFERS strongest offers)),
 * orders being the profile's purchase occasions, readiness the renewal-model
 * probability of an order within the horizon (what the offers' logits use), the last
 * three from the profile's rhythm and offer history at the decision time (the decayed
 * counts are the history's: every occasion weighs 2^(-age / taste half-life), so the
 * last input is what a recency-weighted repeat-buy top 3 is made of). `indiv train`
 * fits it by logistic regression on the fitting half's people (whether they bought
 * one of their first `slots` offers in the tail), before the calibration measures it
 * on the other half (docs/evaluation.md "The act model"); `--act-model orders` fits
 * the first three coefficients only (the others then 0, as in a file without them).
 * Absent (present = 0): P(acts) = any. */
#define INDIV_ACT_TOP_OFFERS 3 /* offers of the repeat strength: the policy's slots */
typedef struct indiv_act_model {
    int present;
    double intercept, relevance, orders;
    double readiness, recency, rebought; /* 0 when the file has none */
    double repeat_strength;              /* 0 when the file has none */
} indiv_act_model;

/* A person's inputs of the act model besides `any` (indiv_score_act_inputs). */
typedef struct indiv_act_inputs {
    double orders;       /* purchase occasions */
    double readiness;    /* order readiness at the decision time, in [0, 1] */
    double recency_days; /* days since the last purchase (0 with none) */
    double rebought;     /* offers of the history bought on 2+ occasions */
    double repeat_strength; /* sum of the INDIV_ACT_TOP_OFFERS largest decayed counts
                               of the history's offers */
} indiv_act_inputs;

/* P(acts) of a person with P(buys at least one) = any and inputs in (NULL: all 0)
 * under a's act model (any itself when it has none). */
double indiv_act_apply_inputs(const indiv_act_model *a, double any,
                              const indiv_act_inputs *in);

/* The same with only the purchase occasions known (the other inputs 0). */
double indiv_act_apply(const indiv_act_model *a, double any, double orders);

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

/* Weights for the offers in the person's history, when they differ from those of the
 * offers new to the person (optional, "propensity"."weights_bought" in a model file):
 * an interaction of the repeat indicator bought(c, o) with affinity, popularity and the
 * item-to-item term, fitted by the same logistic regression (`indiv train` fits the
 * item_item one and keeps affinity and popularity shared). With it, model.weight[] of
 * these three terms applies to offers new to the person only, so that their weights
 * are not set for a population dominated by re-purchases (docs/evaluation.md
 * "Propensity weights"). Absent (present = 0): every offer uses model.weight[]. */
typedef struct indiv_bought_weights {
    int present;
    double affinity, popularity, item_item;
} indiv_bought_weights;

typedef struct indiv_model {
    char id[INDIV_MODEL_ID_MAX];
    char feature_space[32]; /* "category" or "embedding" */
    double intercept;
    double weight[INDIV_TERM_COUNT];
    double popularity_half_life_days; /* decay of purchase counts behind popularity */
    indiv_taste_norm taste_norm;      /* INDIV_TASTE_NORM_DEFAULT when not given */
    indiv_embedding *embedding;       /* owned; set iff feature_space is "embedding" */
    indiv_repeat_params repeat;       /* item readiness (defaults when not given) */
    indiv_item_neighbours *item_item; /* owned, or NULL: no item-to-item term */
    char *provenance;                 /* owned JSON text of an object, or NULL */
    indiv_calibration calibration;    /* present = 0 when the file has none */
    indiv_act_model act;              /* present = 0 when the file has none */
    indiv_bought_weights bought;      /* present = 0 when the file has none */
} indiv_model;

/* Name of a term as it appears in model files and decision drivers. */
const char *indiv_model_term_name(int term);

/* Built-in default model (what models/default.json holds). */
void indiv_model_default(indiv_model *m);

/* Loads and validates a model file. On error, err names the file and the field. */
int indiv_model_load(const char *path, indiv_model *m /* OUT */, indiv_error *err);

/* json_load_file (jansson) that ignores a leading UTF-8 byte order mark (RFC 8259 §8.1
 * lets a parser ignore one, and editors such as Windows Notepad write it; jansson refuses
 * it as a character that does not show in its message): model files and decide's
 * --config. */
struct json_t;
struct json_error_t;
struct json_t *indiv_json_load_file(const char *path, size_t flags,
                                    struct json_error_t *je /* OUT */);

/* Validates a model held in memory. */
int indiv_model_validate(const indiv_model *m, indiv_error *err);

/* Writes a model file (sorted keys, full precision) through fileio.h: the file appears
 * complete or not at all. */
int indiv_model_save(const indiv_model *m, const char *path, indiv_error *err);

/* The same JSON into an open stream (an indiv_outfile's, for a caller that opened its
 * output before the work). */
int indiv_model_write(const indiv_model *m, FILE *f, indiv_error *err);

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

/* The model's recommended τ for contacts of `slots` offers under relevance `any`, or
 * NAN when the model carries no calibration, none could be chosen, or it was measured
 * for another number of slots (the caller then falls back to the policy default). */
double indiv_model_threshold(const indiv_model *m, int slots);

/* Defaults of the repeat parameters (docs/decisions.md). */
void indiv_repeat_params_default(indiv_repeat_params *r);
/* The repeat parameters in effect: m's, or the defaults when every field is 0 (a model
 * built in memory without them). */
indiv_repeat_params indiv_model_repeat(const indiv_model *m);

/* Item readiness (see indiv_repeat_params) of an offer bought on `occasions` occasions,
 * with mean re-buy interval mean_days and squared coefficient of variation cv2_own
 * (ignored below 2 intervals), `since_days` after its last purchase. */
double indiv_repeat_readiness(const indiv_repeat_params *r, double occasions,
                              double mean_days, double cv2_own, double since_days);
/* The gamma of that readiness: shape *k = 1 / cv² (at most 1 / 0.05 = 20) and scale
 * *theta = mean · cv² (days), both after the shrinkage toward the prior; 0 (k, theta
 * untouched) when the shrunk mean is not positive, i.e. there is no readiness. The
 * readiness is then F(s + h) − F(s) with F the CDF of that gamma, P(k, x / theta). */
int indiv_repeat_shape(const indiv_repeat_params *r, double occasions, double mean_days,
                       double cv2_own, double *k, double *theta);

/* Item neighbours from a sparse n × n similarity (rows and columns: offer ids ids[],
 * not necessarily sorted; copied). NULL when out of memory. */
indiv_item_neighbours *indiv_item_neighbours_new(size_t n, const char *const *ids,
                                                 const size_t *ptr, const size_t *idx,
                                                 const double *w);
void indiv_item_neighbours_free(indiv_item_neighbours *nb);

/* Row of an offer source id, or SIZE_MAX (binary search). */
size_t indiv_item_neighbours_find(const indiv_item_neighbours *nb, const char *offer_id);

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
