/*
 * model.c — model files (JSON, jansson): load with full validation, save; the offer
 * embedding of trained models and its application to a catalog.
 *
 * An embedding's rows are kept sorted by offer source id, so that applying it to a
 * catalog of n offers costs n binary searches and no hash table.
 */
#include "indiv/model.h"

#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "indiv/fileio.h"

static const char *const term_names[INDIV_TERM_COUNT] = {
    "affinity", "popularity",        "readiness",        "frequency",
    "repeat",   "repeat_frequency", "repeat_readiness", "item_item"};
/* Terms a model file may leave out (weight 0): those added after version 1's first
 * files, so that older files keep their meaning. */
#define FIRST_OPTIONAL_TERM INDIV_TERM_REPEAT

/* Repeat defaults (docs/decisions.md): the horizon is training's held-back tail (the
 * propensity means "buys within 14 days"); the prior is replaced by the population's
 * values when a model is trained; a cv² of 1 is the exponential's (no rhythm assumed);
 * the prior weighs as much as two observed intervals, like the order rhythm's. */
#define DEF_REPEAT_PRIOR_MEAN 60.0
#define DEF_REPEAT_PRIOR_CV2  1.0
#define DEF_REPEAT_STRENGTH   2.0
#define DEF_REPEAT_HORIZON    14.0
/* Smallest cv² used: a perfectly regular history would make the gamma a spike. */
#define MIN_REPEAT_CV2 0.05

const char *indiv_model_term_name(int term) {
    return term >= 0 && term < INDIV_TERM_COUNT ? term_names[term] : "?";
}

/* The default model's calibration: measured by `indiv evaluate --calibrated-model` on a
 * world generated like the demo's but with another seed (the source string says how),
 * never on the demo world itself. The hand-set weights are not probabilities: with the
 * repeat terms, P(acts) of nearly everyone is above 0.99, and only its ranking means
 * something, which is all Youden's rule uses (docs/evaluation.md, "Calibration"). */
static void default_calibration(indiv_calibration *c) {
    static const indiv_calibration_bin bins[INDIV_CALIBRATION_BINS] = {
        {0.895687461852248, 0.9878152158710917, 0.9747904486956398, 0.043209876543209874, 162},
        {0.9878348133704052, 0.9941901331791142, 0.9915809823320422, 0.1165644171779141, 163},
        {0.9941964307683426, 0.9969896506140175, 0.9958713105712799, 0.09259259259259259, 162},
        {0.9969928182025541, 0.9984448334450585, 0.997778525582728, 0.15950920245398773, 163},
        {0.9984456739998993, 0.9992140547325818, 0.9988384826431107, 0.2147239263803681, 163},
        {0.9992264614774202, 0.9996536143097555, 0.9994544311848836, 0.18518518518518517, 162},
        {0.9996564739859333, 0.9998617855711281, 0.9997728743273361, 0.2392638036809816, 163},
        {0.9998622048049381, 0.9999530340150162, 0.9999197791122216, 0.2222222222222222, 162},
        {0.9999533345764401, 0.9999840645560844, 0.9999710372155176, 0.26380368098159507, 163},
        {0.9999842053601863, 0.9999996935680198, 0.999992894466465, 0.4294478527607362, 163},
    };
    memset(c, 0, sizeof *c);
    c->present = 1;
    c->slots = 3;
    c->horizon_days = 14.0;
    c->people = 1626;
    c->acted = 320;
    c->n_bins = INDIV_CALIBRATION_BINS;
    memcpy(c->bins, bins, sizeof bins);
    c->threshold = 0.9985675266248188;
    c->tpr = 0.784375;
    c->fpr = 0.5329249617151608;
    snprintf(c->source, sizeof c->source, "%s",
             "indiv evaluate --calibrated-model on a world generated with --consumers 2000 --offers 300 --categories 20 --days 365 --seed 7 (the demo's but the seed), --split-at 2024-12-17 --until 2024-12-31: its 1626 known customers");
}

/* The default model: hand-set weights, not trained (docs/decisions.md, "The model",
 * explains the choice). A consumer whose whole taste is in the offer's category, with an
 * average-popularity offer and readiness 0.5, gets logit -3.2 + 4 + 0.6 + 0.5 = 1.9 (p =
 * 0.87); one with no taste for it, -3.2 + 0.6 + 0.5 = -2.1 (p = 0.11). */
void indiv_model_default(indiv_model *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "default-category-v1");
    snprintf(m->feature_space, sizeof m->feature_space, "category");
    m->intercept = -3.2;
    m->weight[INDIV_TERM_AFFINITY] = 4.0;
    m->weight[INDIV_TERM_POPULARITY] = 1.2;
    m->weight[INDIV_TERM_READINESS] = 1.0;
    m->weight[INDIV_TERM_FREQUENCY] = 0.5;
    /* Repeat weights: those `indiv train` fitted on the nine-month Online Retail file
     * before 2011-08-01 (rounded), which validated on August 2011 (docs/evaluation.md).
     * No item-to-item term: it needs trained neighbours. */
    m->weight[INDIV_TERM_REPEAT] = 1.33;
    m->weight[INDIV_TERM_REPEAT_FREQUENCY] = 0.14;
    m->weight[INDIV_TERM_REPEAT_READINESS] = 1.48;
    m->popularity_half_life_days = 30.0;
    indiv_repeat_params_default(&m->repeat);
    default_calibration(&m->calibration);
}

indiv_repeat_params indiv_model_repeat(const indiv_model *m) {
    indiv_repeat_params r = m->repeat;
    if (r.prior_mean_days == 0 && r.prior_cv2 == 0 && r.prior_strength == 0 &&
        r.horizon_days == 0)
        indiv_repeat_params_default(&r);
    return r;
}

void indiv_repeat_params_default(indiv_repeat_params *r) {
    r->prior_mean_days = DEF_REPEAT_PRIOR_MEAN;
    r->prior_cv2 = DEF_REPEAT_PRIOR_CV2;
    r->prior_strength = DEF_REPEAT_STRENGTH;
    r->horizon_days = DEF_REPEAT_HORIZON;
}

/* ---- the regularised incomplete gamma function ---------------------------------------
 *
 * The item readiness needs F(x2) − F(x1) for one gamma shape k, 40 times per person in
 * a decision run: GSL's gsl_cdf_gamma_P recomputes log Γ(k) and its prefactor on every
 * call (about 160 ns each). Here log Γ(k) is computed once per difference and each
 * bound costs one exp, one log and a short loop: the series of P(k, x) below x = k + 1,
 * the continued fraction of Q(k, x) = 1 − P(k, x) above it (Abramowitz & Stegun 6.5.29
 * and 6.5.31; the continued fraction evaluated by the modified Lentz method, Press et
 * al., "Numerical Recipes", 3rd ed., 2007, §5.2 and §6.2). Both stop at a relative
 * change below GAMMA_EPS; the result agrees with GSL's to about 1e-14 (tested). */
#define GAMMA_EPS      1e-15
#define GAMMA_TINY     1e-300
#define GAMMA_MAX_ITER 500

/* x^k e^-x / Γ(k), from log Γ(k). */
static double gamma_prefactor(double k, double x, double lgk) {
    return exp(k * log(x) - x - lgk);
}

/* P(k, x) by its series, for 0 < x < k + 1. */
static double gamma_p_series(double k, double x, double lgk) {
    double term = 1 / k, sum = term;
    for (int n = 1; n < GAMMA_MAX_ITER && fabs(term) > fabs(sum) * GAMMA_EPS; n++) {
        term *= x / (k + n);
        sum += term;
    }
    return sum * gamma_prefactor(k, x, lgk);
}

/* Q(k, x) by its continued fraction (modified Lentz), for x >= k + 1. */
static double gamma_q_fraction(double k, double x, double lgk) {
    double b = x + 1 - k, c = 1 / GAMMA_TINY, d = 1 / b, h = d;
    for (int i = 1; i < GAMMA_MAX_ITER; i++) {
        double an = -i * (i - k);
        b += 2;
        d = an * d + b;
        d = fabs(d) < GAMMA_TINY ? GAMMA_TINY : d;
        c = b + an / c;
        c = fabs(c) < GAMMA_TINY ? GAMMA_TINY : c;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < GAMMA_EPS)
            break;
    }
    return h * gamma_prefactor(k, x, lgk);
}

/* Q(k, x) = 1 − P(k, x) (x >= 0), whichever form converges. */
static double gamma_q(double k, double x, double lgk) {
    if (x <= 0)
        return 1;
    return x < k + 1 ? 1 - gamma_p_series(k, x, lgk) : gamma_q_fraction(k, x, lgk);
}

/* F(x2) − F(x1) = Q(x1) − Q(x2) for the gamma of shape k and scale 1, 0 <= x1 <= x2;
 * in the lower region as P(x2) − P(x1), so that neither side loses digits to 1 − P. */
static double gamma_mass(double k, double x1, double x2) {
    double lgk;
    int sign;
    lgk = lgamma_r(k, &sign); /* lgamma itself writes a global: not thread-safe */
    if (x2 < k + 1)
        return gamma_p_series(k, x2, lgk) - (x1 > 0 ? gamma_p_series(k, x1, lgk) : 0);
    return gamma_q(k, x1, lgk) - gamma_q_fraction(k, x2, lgk);
}

/* Gamma renewal in the spirit of the order readiness (Cox, "Renewal Theory", 1962),
 * here unconditional on survival: the probability that the next purchase of the offer
 * falls in the horizon, which is low just after a purchase, highest around the
 * person's own cycle, and falls again for long-overdue offers (the person may have
 * moved on). */
int indiv_repeat_shape(const indiv_repeat_params *r, double occasions, double mean_days,
                       double cv2_own, double *k, double *theta) {
    double n = occasions > 1 ? occasions - 1 : 0, a = r->prior_strength;
    double mean = (a * r->prior_mean_days + n * mean_days) / (a + n);
    double cv2 = n >= 2 ? (a * r->prior_cv2 + n * cv2_own) / (a + n) : r->prior_cv2;
    cv2 = cv2 < MIN_REPEAT_CV2 ? MIN_REPEAT_CV2 : cv2;
    if (!(mean > 0))
        return 0;
    *k = 1 / cv2;
    *theta = mean * cv2;
    return 1;
}

double indiv_repeat_readiness(const indiv_repeat_params *r, double occasions,
                              double mean_days, double cv2_own, double since_days) {
    double k, theta;
    if (!indiv_repeat_shape(r, occasions, mean_days, cv2_own, &k, &theta) || since_days < 0)
        return 0;
    return gamma_mass(k, since_days / theta, (since_days + r->horizon_days) / theta);
}

/* Feature space, its embedding and the taste normalisation agree. */
static int validate_space(const indiv_model *m, indiv_error *err) {
    int emb = strcmp(m->feature_space, "embedding") == 0;
    if (!emb && strcmp(m->feature_space, "category") != 0)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "model %s: field 'feature_space' is '%s'; this build knows "
            "'category' and 'embedding'",
            m->id, m->feature_space);
    if (emb && !m->embedding)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "model %s: field 'feature_space' is 'embedding' but the model "
            "has no embedding",
            m->id);
    if (!emb && m->embedding)
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: an embedding needs field 'feature_space' = "
                               "'embedding'",
                               m->id);
    if (emb && (m->embedding->n < 1 || m->embedding->dims < 1 ||
                m->embedding->dims > INDIV_EMBEDDING_DIMS_MAX))
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: field 'embedding' must hold at least one offer "
                               "and 1 to %d dims",
                               m->id, INDIV_EMBEDDING_DIMS_MAX);
    if (m->taste_norm < INDIV_TASTE_NORM_DEFAULT || m->taste_norm > INDIV_TASTE_NORM_L2)
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: field 'taste_norm' is invalid", m->id);
    return INDIV_OK;
}

int indiv_model_validate(const indiv_model *m, indiv_error *err) {
    if (!m->id[0])
        return indiv_error_set(err, INDIV_EINVAL, "model: field 'id' is empty");
    int rc = validate_space(m, err);
    if (rc < 0)
        return rc;
    if (!isfinite(m->intercept))
        return indiv_error_set(err, INDIV_EINVAL, "model %s: 'intercept' is not finite",
                               m->id);
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        if (!isfinite(m->weight[t]))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "model %s: weight '%s' is not finite", m->id,
                                   term_names[t]);
    if (m->bought.present &&
        !(isfinite(m->bought.affinity) && isfinite(m->bought.popularity) &&
          isfinite(m->bought.item_item)))
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: a weight of 'weights_bought' is not finite",
                               m->id);
    if (!(m->popularity_half_life_days > 0) || !isfinite(m->popularity_half_life_days))
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: 'popularity_half_life_days' must be > 0",
                               m->id);
    const indiv_repeat_params *r = &m->repeat;
    int unset = r->prior_mean_days == 0 && r->prior_cv2 == 0 && r->prior_strength == 0 &&
                r->horizon_days == 0; /* a model built in memory: the defaults apply */
    int positive = r->prior_mean_days > 0 && r->prior_cv2 > 0 && r->prior_strength > 0 &&
                   r->horizon_days > 0;
    if ((!unset && !positive) ||
        !isfinite(r->prior_mean_days + r->prior_cv2 + r->prior_strength + r->horizon_days))
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: every field of 'repeat' must be a finite "
                               "number > 0",
                               m->id);
    if (m->act.present &&
        !isfinite(m->act.intercept + m->act.relevance + m->act.orders + m->act.readiness +
                  m->act.recency + m->act.rebought + m->act.repeat_strength))
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: a weight of 'act' is not finite", m->id);
    return indiv_calibration_validate(&m->calibration, m->id, err);
}

/* Reads a finite number field; names it on error. */
static int get_number(const json_t *o, const char *key, const char *where, double *out,
                      const char *path, indiv_error *err) {
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_number(v) || !isfinite(json_number_value(v)))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field '%s%s' must be a finite number", path, where,
                               key);
    *out = json_number_value(v);
    return INDIV_OK;
}

static int get_string(const json_t *o, const char *key, char *out, size_t cap,
                      const char *path, indiv_error *err) {
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || !*s || strlen(s) >= cap)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field '%s' must be a non-empty string (< %zu bytes)",
                               path, key, cap);
    snprintf(out, cap, "%s", s);
    return INDIV_OK;
}

/* Weights: every known term required, no unknown name accepted. */
static int load_weights(const json_t *w, indiv_model *m, const char *path,
                        indiv_error *err) {
    if (!json_is_object(w))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'weights' must be an object", path);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)w, key, v) {
        int known = 0;
        for (int t = 0; t < INDIV_TERM_COUNT; t++)
            known |= strcmp(key, term_names[t]) == 0;
        if (!known)
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "%s: field 'weights.%s' is not a known term (known: "
                                   "affinity, popularity, readiness, frequency, repeat, "
                                   "repeat_frequency, repeat_readiness, item_item)",
                                   path, key);
    }
    for (int t = 0; t < INDIV_TERM_COUNT; t++) {
        m->weight[t] = 0;
        if (t >= FIRST_OPTIONAL_TERM && !json_object_get(w, term_names[t]))
            continue;
        if (get_number(w, term_names[t], "weights.", &m->weight[t], path, err) < 0)
            return INDIV_EFORMAT;
    }
    return INDIV_OK;
}

/* Optional weights of the offers bought (indiv_bought_weights): absent in older files;
 * when present, exactly affinity, popularity and item_item, finite. */
static int load_bought(const json_t *w, indiv_model *m, const char *path,
                       indiv_error *err) {
    indiv_bought_weights *b = &m->bought;
    memset(b, 0, sizeof *b);
    if (!w)
        return INDIV_OK;
    if (!json_is_object(w) || json_object_size(w) != 3)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'propensity.weights_bought' must be an object "
                               "of affinity, popularity and item_item",
                               path);
    int rc =
        get_number(w, "affinity", "propensity.weights_bought.", &b->affinity, path, err);
    if (rc == INDIV_OK)
        rc = get_number(w, "popularity", "propensity.weights_bought.", &b->popularity,
                        path, err);
    if (rc == INDIV_OK)
        rc = get_number(w, "item_item", "propensity.weights_bought.", &b->item_item, path,
                        err);
    b->present = rc == INDIV_OK;
    return rc;
}

/* One offer's vector: an array of exactly dims finite numbers. */
static int load_vector(const json_t *v, const char *offer, double *row, size_t dims,
                       const char *path, indiv_error *err) {
    if (!json_is_array(v) || json_array_size(v) != dims)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'embedding.offers.%s' must be an array of %zu "
                               "numbers",
                               path, offer, dims);
    for (size_t k = 0; k < dims; k++) {
        json_t *x = json_array_get(v, k);
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return indiv_error_set(
                err, INDIV_EFORMAT,
                "%s: field 'embedding.offers.%s[%zu]' must be a finite "
                "number",
                path, offer, k);
        row[k] = json_number_value(x);
    }
    return INDIV_OK;
}

/* "dims" (an integer in [1, INDIV_EMBEDDING_DIMS_MAX]) and "offers" (a non-empty
 * object), nothing else. */
static int embedding_shape(const json_t *e, size_t *dims, const char *path,
                           indiv_error *err) {
    const char *key;
    json_t *v;
    if (!json_is_object(e))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'embedding' must be an object", path);
    json_object_foreach((json_t *)e, key, v) {
        if (strcmp(key, "dims") != 0 && strcmp(key, "offers") != 0)
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "%s: field 'embedding.%s' is not known (known: dims, "
                                   "offers)",
                                   path, key);
    }
    json_t *d = json_object_get(e, "dims"), *offers = json_object_get(e, "offers");
    if (!json_is_integer(d) || json_integer_value(d) < 1 ||
        json_integer_value(d) > INDIV_EMBEDDING_DIMS_MAX)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'embedding.dims' must be an integer in [1, %d]",
                               path, INDIV_EMBEDDING_DIMS_MAX);
    if (!json_is_object(offers) || json_object_size(offers) == 0)
        return indiv_error_set(
            err, INDIV_EFORMAT,
            "%s: field 'embedding.offers' must be a non-empty object of "
            "vectors",
            path);
    *dims = (size_t)json_integer_value(d);
    return INDIV_OK;
}

static int load_embedding(const json_t *e, indiv_model *m, const char *path,
                          indiv_error *err) {
    size_t dims = 0, i = 0; /* set by embedding_shape; 0 keeps -O2 from warning */
    int rc = embedding_shape(e, &dims, path, err);
    if (rc < 0)
        return rc;
    json_t *offers = json_object_get(e, "offers"), *v;
    if (!(m->embedding = indiv_embedding_new(json_object_size(offers), dims)))
        return indiv_error_set(err, INDIV_ENOMEM, "%s: out of memory", path);
    const char *key;
    json_object_foreach(offers, key, v) {
        if ((rc = load_vector(v, key, m->embedding->vectors + i * dims, dims, path,
                              err)) < 0)
            return rc;
        if (!(m->embedding->offer_ids[i++] = strdup(key)))
            return indiv_error_set(err, INDIV_ENOMEM, "%s: out of memory", path);
    }
    indiv_error ferr = {0};
    if ((rc = indiv_embedding_finish(m->embedding, &ferr)) < 0)
        return indiv_error_set(err, rc, "%s: field 'embedding': %s", path, ferr.msg);
    return INDIV_OK;
}

/* ---- repeat parameters and item neighbours in files ---------------------------- */

/* "repeat": {"prior_mean_days", "prior_cv2", "prior_strength", "horizon_days"}, every
 * field optional (the defaults). */
static int load_repeat(const json_t *r, indiv_model *m, const char *path,
                       indiv_error *err) {
    static const char *const keys[4] = {"prior_mean_days", "prior_cv2", "prior_strength",
                                        "horizon_days"};
    double *fields[4] = {&m->repeat.prior_mean_days, &m->repeat.prior_cv2,
                         &m->repeat.prior_strength, &m->repeat.horizon_days};
    if (!r)
        return INDIV_OK;
    if (!json_is_object(r))
        return indiv_error_set(err, INDIV_EFORMAT, "%s: field 'repeat' must be an object",
                               path);
    for (int k = 0; k < 4; k++)
        if (json_object_get(r, keys[k]) &&
            get_number(r, keys[k], "repeat.", fields[k], path, err) < 0)
            return INDIV_EFORMAT;
    return INDIV_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The neighbours of one offer: an object {"<id>": weight}; ids must be offers of the
 * section. */
static int load_neighbour_row(const json_t *row, const char *offer,
                              indiv_item_neighbours *nb, size_t *at, const char *path,
                              indiv_error *err) {
    const char *key;
    json_t *v;
    if (!json_is_object(row))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'item_item.offers.%s' must be an object", path,
                               offer);
    json_object_foreach((json_t *)row, key, v) {
        size_t j = indiv_item_neighbours_find(nb, key);
        if (j == SIZE_MAX || !json_is_number(v) || !isfinite(json_number_value(v)))
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "%s: field 'item_item.offers.%s.%s': not an offer of "
                                   "the section, or not a finite number",
                                   path, offer, key);
        nb->idx[*at] = j;
        nb->w[(*at)++] = json_number_value(v);
    }
    return INDIV_OK;
}

static int load_item_item(const json_t *ii, indiv_model *m, const char *path,
                          indiv_error *err) {
    json_t *offers = json_object_get(ii, "offers");
    if (!json_is_object(offers))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'item_item.offers' must be an object", path);
    size_t n = json_object_size(offers), nnz = 0, i = 0;
    const char *key;
    json_t *v;
    indiv_item_neighbours *nb = calloc(1, sizeof *nb);
    if (nb && (nb->offer_ids = calloc(n + 1, sizeof *nb->offer_ids)))
        json_object_foreach(offers, key, v) {
            nnz += json_object_size(v);
            nb->offer_ids[i++] = strdup(key);
        }
    if (nb && nb->offer_ids) {
        nb->n = n;
        nb->ptr = calloc(n + 1, sizeof *nb->ptr);
        nb->idx = malloc((nnz + 1) * sizeof *nb->idx);
        nb->w = malloc((nnz + 1) * sizeof *nb->w);
    }
    m->item_item = nb;
    if (!nb || !nb->offer_ids || !nb->ptr || !nb->idx || !nb->w)
        return indiv_error_set(err, INDIV_ENOMEM, "%s: out of memory", path);
    for (i = 0; i < n; i++)
        if (!nb->offer_ids[i])
            return indiv_error_set(err, INDIV_ENOMEM, "%s: out of memory", path);
    qsort(nb->offer_ids, n, sizeof *nb->offer_ids, cmp_str);
    size_t at = 0;
    for (i = 0; i < n; i++) {
        int rc = load_neighbour_row(json_object_get(offers, nb->offer_ids[i]),
                                    nb->offer_ids[i], nb, &at, path, err);
        if (rc < 0)
            return rc;
        nb->ptr[i + 1] = at;
    }
    snprintf(nb->method, sizeof nb->method, "%s",
             json_string_value(json_object_get(ii, "method"))
                 ? json_string_value(json_object_get(ii, "method"))
                 : "ease");
    nb->lambda = json_number_value(json_object_get(ii, "lambda"));
    nb->k = (size_t)json_integer_value(json_object_get(ii, "k"));
    return INDIV_OK;
}

static json_t *item_item_json(const indiv_item_neighbours *nb) {
    json_t *offers = json_object();
    for (size_t i = 0; offers && i < nb->n; i++) {
        json_t *row = json_object();
        for (size_t e = nb->ptr[i]; row && e < nb->ptr[i + 1]; e++)
            json_object_set_new(row, nb->offer_ids[nb->idx[e]], json_real(nb->w[e]));
        if (!row || json_object_set_new(offers, nb->offer_ids[i], row) < 0) {
            json_decref(offers);
            return NULL;
        }
    }
    return offers ? json_pack("{s:s, s:f, s:I, s:o}", "method", nb->method, "lambda",
                              nb->lambda, "k", (json_int_t)nb->k, "offers", offers)
                  : NULL;
}

indiv_item_neighbours *indiv_item_neighbours_new(size_t n, const char *const *ids,
                                                 const size_t *ptr, const size_t *idx,
                                                 const double *w) {
    indiv_item_neighbours *nb = calloc(1, sizeof *nb);
    size_t nnz = ptr[n], *order = malloc((n + 1) * sizeof *order),
           *pos = malloc((n + 1) * sizeof *pos);
    const char **sorted = malloc((n + 1) * sizeof *sorted);
    int ok = nb && order && pos && sorted &&
             (nb->offer_ids = calloc(n + 1, sizeof *nb->offer_ids)) &&
             (nb->ptr = calloc(n + 1, sizeof *nb->ptr)) &&
             (nb->idx = malloc((nnz + 1) * sizeof *nb->idx)) &&
             (nb->w = malloc((nnz + 1) * sizeof *nb->w));
    for (size_t i = 0; ok && i < n; i++)
        sorted[i] = ids[i];
    if (ok)
        qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; ok && i < n; i++) { /* input row of each sorted position */
        const char **hit = bsearch(&ids[i], sorted, n, sizeof *sorted, cmp_str);
        pos[i] = (size_t)(hit - sorted);
        order[pos[i]] = i;
        ok = (nb->offer_ids[pos[i]] = strdup(ids[i])) != NULL;
    }
    for (size_t r = 0, at = 0; ok && r < n; r++) {
        for (size_t e = ptr[order[r]]; e < ptr[order[r] + 1]; e++) {
            nb->idx[at] = pos[idx[e]];
            nb->w[at++] = w[e];
        }
        nb->ptr[r + 1] = at;
    }
    if (nb)
        nb->n = n;
    free(order);
    free(pos);
    free(sorted);
    if (!ok) {
        indiv_item_neighbours_free(nb);
        return NULL;
    }
    snprintf(nb->method, sizeof nb->method, "ease");
    return nb;
}

void indiv_item_neighbours_free(indiv_item_neighbours *nb) {
    if (!nb)
        return;
    for (size_t i = 0; nb->offer_ids && i < nb->n; i++)
        free(nb->offer_ids[i]);
    free(nb->offer_ids);
    free(nb->ptr);
    free(nb->idx);
    free(nb->w);
    free(nb);
}

size_t indiv_item_neighbours_find(const indiv_item_neighbours *nb, const char *offer_id) {
    const char **hit = bsearch(&offer_id, (const char **)nb->offer_ids, nb->n,
                               sizeof *nb->offer_ids, cmp_str);
    return hit ? (size_t)(hit - (const char **)nb->offer_ids) : SIZE_MAX;
}

/* Optional fields of trained models: taste_norm, embedding, provenance. */
static int load_extras(const json_t *root, indiv_model *m, const char *path,
                       indiv_error *err) {
    json_t *tn = json_object_get(root, "taste_norm"),
           *e = json_object_get(root, "embedding");
    json_t *prov = json_object_get(root, "provenance");
    const char *t = json_string_value(tn);
    if (tn && !(t && (strcmp(t, "share") == 0 || strcmp(t, "l2") == 0)))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'taste_norm' must be \"share\" or \"l2\"",
                               path);
    if (t)
        m->taste_norm =
            strcmp(t, "l2") == 0 ? INDIV_TASTE_NORM_L2 : INDIV_TASTE_NORM_SHARE;
    int emb = strcmp(m->feature_space, "embedding") == 0;
    if (emb && !e)
        return indiv_error_set(
            err, INDIV_EFORMAT,
            "%s: field 'feature_space' is \"embedding\" but there is no "
            "field 'embedding'",
            path);
    if (!emb && e)
        return indiv_error_set(
            err, INDIV_EFORMAT,
            "%s: field 'embedding' needs 'feature_space' = \"embedding\"", path);
    if (prov && !json_is_object(prov))
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'provenance' must be an object", path);
    if (prov && !(m->provenance = json_dumps(prov, JSON_COMPACT | JSON_SORT_KEYS |
                                                       JSON_REAL_PRECISION(17))))
        return indiv_error_set(err, INDIV_ENOMEM, "%s: out of memory", path);
    int rc = load_repeat(json_object_get(root, "repeat"), m, path, err);
    if (rc == INDIV_OK)
        rc = indiv_calibration_load(json_object_get(root, "calibration"),
                                    &m->calibration, path, err);
    if (rc == INDIV_OK)
        rc = indiv_act_load(json_object_get(root, "act"), &m->act, path, err);
    json_t *ii = json_object_get(root, "item_item");
    if (rc == INDIV_OK && ii)
        rc = load_item_item(ii, m, path, err);
    return rc == INDIV_OK && e ? load_embedding(e, m, path, err) : rc;
}

static int load_json(const json_t *root, indiv_model *m, const char *path,
                     indiv_error *err) {
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, INDIV_MODEL_FORMAT) != 0)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'format' must be \"" INDIV_MODEL_FORMAT "\"",
                               path);
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != INDIV_MODEL_VERSION)
        return indiv_error_set(
            err, INDIV_EFORMAT,
            "%s: field 'version' must be %d (this build's model format)", path,
            INDIV_MODEL_VERSION);
    int rc = get_string(root, "id", m->id, sizeof m->id, path, err);
    if (rc == INDIV_OK)
        rc = get_string(root, "feature_space", m->feature_space, sizeof m->feature_space,
                        path, err);
    json_t *prop = json_object_get(root, "propensity");
    if (rc == INDIV_OK && !json_is_object(prop))
        rc = indiv_error_set(err, INDIV_EFORMAT,
                             "%s: field 'propensity' must be an object", path);
    if (rc == INDIV_OK)
        rc = get_number(prop, "intercept", "propensity.", &m->intercept, path, err);
    if (rc == INDIV_OK)
        rc = load_weights(json_object_get(prop, "weights"), m, path, err);
    if (rc == INDIV_OK)
        rc = load_bought(json_object_get(prop, "weights_bought"), m, path, err);
    if (rc == INDIV_OK)
        rc = get_number(prop, "popularity_half_life_days", "propensity.",
                        &m->popularity_half_life_days, path, err);
    if (rc == INDIV_OK)
        rc = load_extras(root, m, path, err);
    return rc;
}

json_t *indiv_json_load_file(const char *path, size_t flags, json_error_t *je) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return json_load_file(path, flags, je); /* its message names the reason */
    unsigned char b[3];
    if (!(fread(b, 1, 3, f) == 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF))
        rewind(f);
    json_t *root = json_loadf(f, flags, je);
    fclose(f);
    return root;
}

int indiv_model_load(const char *path, indiv_model *m, indiv_error *err) {
    json_error_t je;
    json_t *root = indiv_json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    memset(m, 0, sizeof *m);
    indiv_repeat_params_default(&m->repeat);
    if (!root && je.line < 1) /* not read at all: jansson's text names the reason */
        return indiv_error_set(err, INDIV_EIO, "%s", je.text);
    if (!root)
        return indiv_error_set(err, INDIV_EFORMAT, "%s:%d:%d: %s", path, je.line,
                               je.column, je.text);
    int rc = json_is_object(root)
                 ? load_json(root, m, path, err)
                 : indiv_error_set(err, INDIV_EFORMAT, "%s: not a JSON object", path);
    json_decref(root);
    indiv_error verr = {0}; /* validation does not know the file: name it here */
    if (rc == INDIV_OK && (rc = indiv_model_validate(m, &verr)) < 0)
        indiv_error_set(err, rc, "%s: %s", path, verr.msg);
    if (rc < 0)
        indiv_model_clear(m); /* a refused model owns nothing */
    return rc;
}

static json_t *embedding_json(const indiv_embedding *e) {
    json_t *offers = json_object();
    for (size_t i = 0; offers && i < e->n; i++) {
        json_t *v = json_array();
        for (size_t k = 0; v && k < e->dims; k++)
            json_array_append_new(v, json_real(e->vectors[i * e->dims + k]));
        if (!v || json_object_set_new(offers, e->offer_ids[i], v) < 0) {
            json_decref(offers);
            return NULL;
        }
    }
    return offers ? json_pack("{s:I, s:o}", "dims", (json_int_t)e->dims, "offers", offers)
                  : NULL;
}

/* Adds taste_norm (when set), embedding and provenance to root. -1 out of memory. */
static int save_extras(const indiv_model *m, json_t *root) {
    if (m->taste_norm != INDIV_TASTE_NORM_DEFAULT &&
        json_object_set_new(root, "taste_norm",
                            json_string(indiv_taste_norm_name(m->taste_norm))) < 0)
        return -1;
    json_t *e = m->embedding ? embedding_json(m->embedding) : NULL;
    if (m->embedding && json_object_set_new(root, "embedding", e) < 0)
        return -1;
    json_t *p = m->provenance ? json_loads(m->provenance, 0, NULL) : NULL;
    if (m->provenance && json_object_set_new(root, "provenance", p) < 0)
        return -1;
    const indiv_repeat_params *r = &m->repeat;
    if (json_object_set_new(root, "repeat",
                            json_pack("{s:f, s:f, s:f, s:f}", "prior_mean_days",
                                      r->prior_mean_days, "prior_cv2", r->prior_cv2,
                                      "prior_strength", r->prior_strength, "horizon_days",
                                      r->horizon_days)) < 0)
        return -1;
    if (m->item_item &&
        json_object_set_new(root, "item_item", item_item_json(m->item_item)) < 0)
        return -1;
    if (m->act.present && json_object_set_new(root, "act", indiv_act_json(&m->act)) < 0)
        return -1;
    if (m->calibration.present &&
        json_object_set_new(root, "calibration", indiv_calibration_json(&m->calibration)) <
            0)
        return -1;
    return 0;
}

int indiv_model_write(const indiv_model *m, FILE *f, indiv_error *err) {
    int rc = indiv_model_validate(m, err);
    if (rc < 0)
        return rc;
    json_t *w = json_object();
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        json_object_set_new(w, term_names[t], json_real(m->weight[t]));
    json_t *root =
        json_pack("{s:s, s:i, s:s, s:s, s:{s:f, s:o, s:f}}", "format", INDIV_MODEL_FORMAT,
                  "version", INDIV_MODEL_VERSION, "id", m->id, "feature_space",
                  m->feature_space, "propensity", "intercept", m->intercept, "weights", w,
                  "popularity_half_life_days", m->popularity_half_life_days);
    if (root && m->bought.present &&
        json_object_set_new(json_object_get(root, "propensity"), "weights_bought",
                            json_pack("{s:f, s:f, s:f}", "affinity", m->bought.affinity,
                                      "popularity", m->bought.popularity, "item_item",
                                      m->bought.item_item)) < 0) {
        json_decref(root);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    if (!root || save_extras(m, root) < 0) {
        json_decref(root);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) < 0)
        rc = indiv_error_set(err, INDIV_EIO, "cannot write the model");
    json_decref(root);
    return rc;
}

static int write_model(FILE *f, void *m, indiv_error *err) {
    return indiv_model_write(m, f, err);
}

int indiv_model_save(const indiv_model *m, const char *path, indiv_error *err) {
    return indiv_file_write_atomic(path, write_model, (void *)m, err);
}

/* ---- trained models ---------------------------------------------------------------- */

void indiv_model_clear(indiv_model *m) {
    if (!m)
        return;
    indiv_embedding_free(m->embedding);
    indiv_item_neighbours_free(m->item_item);
    free(m->provenance);
    m->embedding = NULL;
    m->item_item = NULL;
    m->provenance = NULL;
}

indiv_taste_norm indiv_model_taste_norm(const indiv_model *m) {
    if (m->taste_norm != INDIV_TASTE_NORM_DEFAULT)
        return m->taste_norm;
    return strcmp(m->feature_space, "embedding") == 0 ? INDIV_TASTE_NORM_L2
                                                      : INDIV_TASTE_NORM_SHARE;
}

const char *indiv_taste_norm_name(indiv_taste_norm t) {
    return t == INDIV_TASTE_NORM_L2      ? "l2"
           : t == INDIV_TASTE_NORM_SHARE ? "share"
                                         : "default";
}

void indiv_model_feature_source(const indiv_model *m, char *buf, size_t cap) {
    if (strcmp(m->feature_space, "embedding") == 0)
        snprintf(buf, cap, "embedding:%s", m->id);
    else
        snprintf(buf, cap, "%s", m->feature_space);
}

int indiv_model_apply(const indiv_model *m, indiv_catalog *cat, size_t *missing,
                      indiv_error *err) {
    if (missing)
        *missing = 0;
    if (!m->embedding)
        return INDIV_OK;
    const indiv_embedding *e = m->embedding;
    size_t n = indiv_catalog_size(cat), miss = 0;
    double *f = calloc(n * e->dims, sizeof *f);
    if (!f)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory applying model %s",
                               m->id);
    for (size_t i = 0; i < n; i++) {
        const double *row = indiv_embedding_find(e, indiv_catalog_offer(cat, i)->ext_id);
        if (row)
            memcpy(f + i * e->dims, row, e->dims * sizeof *f);
        miss += !row;
    }
    char src[INDIV_MODEL_ID_MAX + 16];
    indiv_model_feature_source(m, src, sizeof src);
    int rc = indiv_catalog_set_features(cat, f, e->dims, src, err);
    free(f);
    if (rc == INDIV_OK && missing)
        *missing = miss;
    return rc;
}

int indiv_model_set_provenance(indiv_model *m, const char *json, indiv_error *err) {
    json_error_t je;
    json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return indiv_error_set(err, INDIV_EINVAL, "provenance is not a JSON object%s%s",
                               j ? "" : ": ", j ? "" : je.text);
    }
    char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!txt)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(m->provenance);
    m->provenance = txt;
    return INDIV_OK;
}

/* ---- embeddings -------------------------------------------------------------------- */

indiv_embedding *indiv_embedding_new(size_t n, size_t dims) {
    indiv_embedding *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->n = n;
    e->dims = dims;
    e->offer_ids = calloc(n + 1, sizeof *e->offer_ids);
    e->vectors = calloc(n * dims + 1, sizeof *e->vectors);
    if (!e->offer_ids || !e->vectors) {
        indiv_embedding_free(e);
        return NULL;
    }
    return e;
}

void indiv_embedding_free(indiv_embedding *e) {
    if (!e)
        return;
    for (size_t i = 0; e->offer_ids && i < e->n; i++)
        free(e->offer_ids[i]);
    free(e->offer_ids);
    free(e->vectors);
    free(e);
}

/* Sorting permutes row indices; the rows are then gathered in that order. */
struct id_row {
    const char *id;
    size_t row;
};

static int cmp_id_row(const void *a, const void *b) {
    return strcmp(((const struct id_row *)a)->id, ((const struct id_row *)b)->id);
}

static int check_rows(const indiv_embedding *e, indiv_error *err) {
    for (size_t i = 0; i < e->n; i++) {
        if (!e->offer_ids[i] || !e->offer_ids[i][0])
            return indiv_error_set(err, INDIV_EINVAL, "embedding row %zu has no offer id",
                                   i);
        for (size_t k = 0; k < e->dims; k++)
            if (!isfinite(e->vectors[i * e->dims + k]))
                return indiv_error_set(err, INDIV_EINVAL,
                                       "vector of offer %s, dimension %zu is not finite",
                                       e->offer_ids[i], k);
    }
    return INDIV_OK;
}

int indiv_embedding_finish(indiv_embedding *e, indiv_error *err) {
    int rc = check_rows(e, err);
    if (rc < 0)
        return rc;
    struct id_row *ix = malloc((e->n + 1) * sizeof *ix);
    char **ids = malloc((e->n + 1) * sizeof *ids);
    double *v = malloc((e->n * e->dims + 1) * sizeof *v);
    if (!ix || !ids || !v) {
        free(ix);
        free(ids);
        free(v);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < e->n; i++)
        ix[i] = (struct id_row){e->offer_ids[i], i};
    qsort(ix, e->n, sizeof *ix, cmp_id_row);
    for (size_t i = 0; i < e->n; i++) {
        ids[i] = e->offer_ids[ix[i].row];
        memcpy(v + i * e->dims, e->vectors + ix[i].row * e->dims, e->dims * sizeof *v);
        if (i > 0 && strcmp(ids[i - 1], ids[i]) == 0 && rc == INDIV_OK)
            rc = indiv_error_set(err, INDIV_EINVAL, "offer %s has two vectors", ids[i]);
    }
    free(ix);
    free(e->offer_ids);
    free(e->vectors);
    e->offer_ids = ids;
    e->vectors = v;
    return rc;
}

const double *indiv_embedding_find(const indiv_embedding *e, const char *offer_id) {
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(e->offer_ids[mid], offer_id);
        if (c == 0)
            return e->vectors + mid * e->dims;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
