/*
 * model.c — model files (JSON, jansson): load with full validation, save.
 */
#include "indiv/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

static const char *const term_names[INDIV_TERM_COUNT] = {"affinity", "popularity",
                                                         "readiness", "frequency"};

const char *indiv_model_term_name(int term) {
    return term >= 0 && term < INDIV_TERM_COUNT ? term_names[term] : "?";
}

/* The default model: hand-set weights, not trained (README.md explains the choice). A
 * consumer whose whole taste is in the offer's category, with an average-popularity
 * offer and readiness 0.5, gets logit -3.2 + 4 + 0.6 + 0.5 = 1.9 (p = 0.87); one with
 * no taste for it, -3.2 + 0.6 + 0.5 = -2.1 (p = 0.11). */
void indiv_model_default(indiv_model *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "default-category-v1");
    snprintf(m->feature_space, sizeof m->feature_space, "category");
    m->intercept = -3.2;
    m->weight[INDIV_TERM_AFFINITY] = 4.0;
    m->weight[INDIV_TERM_POPULARITY] = 1.2;
    m->weight[INDIV_TERM_READINESS] = 1.0;
    m->weight[INDIV_TERM_FREQUENCY] = 0.5;
    m->popularity_half_life_days = 30.0;
}

int indiv_model_validate(const indiv_model *m, indiv_error *err) {
    if (!m->id[0])
        return indiv_error_set(err, INDIV_EINVAL, "model: field 'id' is empty");
    if (strcmp(m->feature_space, "category") != 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: field 'feature_space' is '%s'; this build knows "
                               "'category'",
                               m->id, m->feature_space);
    if (!isfinite(m->intercept))
        return indiv_error_set(err, INDIV_EINVAL, "model %s: 'intercept' is not finite",
                               m->id);
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        if (!isfinite(m->weight[t]))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "model %s: weight '%s' is not finite", m->id,
                                   term_names[t]);
    if (!(m->popularity_half_life_days > 0) || !isfinite(m->popularity_half_life_days))
        return indiv_error_set(err, INDIV_EINVAL,
                               "model %s: 'popularity_half_life_days' must be > 0", m->id);
    return INDIV_OK;
}

/* Reads a finite number field; names it on error. */
static int get_number(const json_t *o, const char *key, const char *where, double *out,
                      const char *path, indiv_error *err) {
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_number(v) || !isfinite(json_number_value(v)))
        return indiv_error_set(err, INDIV_EFORMAT, "%s: field '%s%s' must be a finite number",
                               path, where, key);
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
        return indiv_error_set(err, INDIV_EFORMAT, "%s: field 'weights' must be an object",
                               path);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)w, key, v) {
        int known = 0;
        for (int t = 0; t < INDIV_TERM_COUNT; t++)
            known |= strcmp(key, term_names[t]) == 0;
        if (!known)
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "%s: field 'weights.%s' is not a known term (known: "
                                   "affinity, popularity, readiness, frequency)",
                                   path, key);
    }
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        if (get_number(w, term_names[t], "weights.", &m->weight[t], path, err) < 0)
            return INDIV_EFORMAT;
    return INDIV_OK;
}

static int load_json(const json_t *root, indiv_model *m, const char *path,
                     indiv_error *err) {
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, INDIV_MODEL_FORMAT) != 0)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'format' must be \"" INDIV_MODEL_FORMAT "\"", path);
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != INDIV_MODEL_VERSION)
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'version' must be %d (this build's model format)",
                               path, INDIV_MODEL_VERSION);
    int rc = get_string(root, "id", m->id, sizeof m->id, path, err);
    if (rc == INDIV_OK)
        rc = get_string(root, "feature_space", m->feature_space, sizeof m->feature_space,
                        path, err);
    json_t *prop = json_object_get(root, "propensity");
    if (rc == INDIV_OK && !json_is_object(prop))
        rc = indiv_error_set(err, INDIV_EFORMAT, "%s: field 'propensity' must be an object",
                             path);
    if (rc == INDIV_OK)
        rc = get_number(prop, "intercept", "propensity.", &m->intercept, path, err);
    if (rc == INDIV_OK)
        rc = load_weights(json_object_get(prop, "weights"), m, path, err);
    if (rc == INDIV_OK)
        rc = get_number(prop, "popularity_half_life_days", "propensity.",
                        &m->popularity_half_life_days, path, err);
    return rc;
}

int indiv_model_load(const char *path, indiv_model *m, indiv_error *err) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    memset(m, 0, sizeof *m);
    if (!root)
        return indiv_error_set(err, INDIV_EFORMAT, "%s:%d:%d: %s", path, je.line, je.column,
                               je.text);
    int rc = json_is_object(root)
                 ? load_json(root, m, path, err)
                 : indiv_error_set(err, INDIV_EFORMAT, "%s: not a JSON object", path);
    json_decref(root);
    if (rc == INDIV_OK && (rc = indiv_model_validate(m, err)) < 0)
        return rc;
    return rc;
}

int indiv_model_save(const indiv_model *m, const char *path, indiv_error *err) {
    int rc = indiv_model_validate(m, err);
    if (rc < 0)
        return rc;
    json_t *w = json_object();
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        json_object_set_new(w, term_names[t], json_real(m->weight[t]));
    json_t *root = json_pack("{s:s, s:i, s:s, s:s, s:{s:f, s:o, s:f}}", "format",
                             INDIV_MODEL_FORMAT, "version", INDIV_MODEL_VERSION, "id", m->id,
                             "feature_space", m->feature_space, "propensity", "intercept",
                             m->intercept, "weights", w, "popularity_half_life_days",
                             m->popularity_half_life_days);
    if (!root)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) <
        0)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot write the model", path);
    json_decref(root);
    return rc;
}
