/*
 * model_calib.c — the calibration a model file carries (part of the `model` module,
 * contract in model.h): the reliability table of its relevance, the recommended τ by
 * Youden's index, and their JSON form in model files (model_internal.h).
 *
 * Invariants: bins are in ascending order of predicted relevance and their people add
 * up to `people`; every share and relevance is in [0, 1]; the threshold is NAN or in
 * [0, 1]. The fit sorts a copy of its input and allocates nothing else.
 */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest number of slots a calibration may name (the policy's own bound is lower). */
#define CAL_SLOTS_MAX 64

struct person {
    double p;
    unsigned char acted;
    size_t i; /* input order: the tie-break that makes the sort total */
};

static int cmp_person(const void *a, const void *b) {
    const struct person *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Deciles of the people sorted by ascending relevance. */
static void fill_bins(const struct person *s, size_t n, indiv_calibration *c) {
    size_t nb = n < INDIV_CALIBRATION_BINS ? n : INDIV_CALIBRATION_BINS;
    c->n_bins = nb;
    for (size_t b = 0; b < nb; b++) {
        size_t from = b * n / nb, to = (b + 1) * n / nb;
        double sp = 0, sa = 0;
        for (size_t k = from; k < to; k++) {
            sp += s[k].p;
            sa += s[k].acted;
        }
        c->bins[b] =
            (indiv_calibration_bin){s[from].p, s[to - 1].p, sp / (double)(to - from),
                                    sa / (double)(to - from), (int64_t)(to - from)};
    }
}

/* Youden's best cut, walking down from the highest relevance one group of equal
 * values at a time; a strictly larger J is needed to lower τ. */
static void youden(const struct person *s, size_t n, indiv_calibration *c) {
    double pos = (double)c->acted, neg = (double)(c->people - c->acted), best = -1;
    double tp = 0, fp = 0;
    c->threshold = NAN;
    c->tpr = c->fpr = NAN;
    if (pos < INDIV_CALIBRATION_MIN_GROUP || neg < INDIV_CALIBRATION_MIN_GROUP)
        return;
    for (size_t k = n; k > 0;) {
        double v = s[k - 1].p;
        while (k > 0 && s[k - 1].p == v) {
            tp += s[k - 1].acted;
            fp += !s[k - 1].acted;
            k--;
        }
        double j = tp / pos - fp / neg;
        if (j > best) {
            best = j;
            c->threshold = k > 0 ? 0.5 * (v + s[k - 1].p) : v;
            c->tpr = tp / pos;
            c->fpr = fp / neg;
        }
    }
}

int indiv_calibration_fit(const double *pred, const unsigned char *acted, size_t n,
                          int slots, double horizon_days, const char *source,
                          indiv_calibration *out, indiv_error *err) {
    memset(out, 0, sizeof *out);
    if (n == 0)
        return indiv_error_set(err, INDIV_EINVAL, "calibration: no people to measure");
    struct person *s = malloc(n * sizeof *s);
    if (!s)
        return indiv_error_set(err, INDIV_ENOMEM, "calibration: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!(pred[i] >= 0 && pred[i] <= 1)) {
            free(s);
            return indiv_error_set(err, INDIV_EINVAL,
                                   "calibration: relevance %g of person %zu is not in "
                                   "[0, 1]",
                                   pred[i], i);
        }
        s[i] = (struct person){pred[i], acted[i] != 0, i};
        out->acted += acted[i] != 0;
    }
    qsort(s, n, sizeof *s, cmp_person);
    out->present = 1;
    out->slots = slots;
    out->horizon_days = horizon_days;
    out->people = (int64_t)n;
    snprintf(out->source, sizeof out->source, "%s", source ? source : "");
    fill_bins(s, n, out);
    youden(s, n, out);
    free(s);
    return INDIV_OK;
}

double indiv_model_threshold(const indiv_model *m, int slots) {
    const indiv_calibration *c = &m->calibration;
    return c->present && c->slots == slots ? c->threshold : NAN;
}

/* ---- validation ---------------------------------------------------------------------- */

static int unit(double x) {
    return x >= 0 && x <= 1;
}

static int check_bins(const indiv_calibration *c) {
    int64_t total = 0;
    for (size_t b = 0; b < c->n_bins; b++) {
        const indiv_calibration_bin *x = &c->bins[b];
        if (!unit(x->lo) || !unit(x->hi) || !unit(x->predicted) || !unit(x->observed) ||
            x->n < 1 || x->lo > x->hi)
            return 0;
        total += x->n;
    }
    return c->n_bins == 0 || total == c->people;
}

int indiv_calibration_validate(const indiv_calibration *c, const char *id,
                               indiv_error *err) {
    if (!c->present)
        return INDIV_OK;
    const char *what =
        c->slots < 1 || c->slots > CAL_SLOTS_MAX ? "'slots' must be in [1, 64]"
        : !(c->horizon_days > 0) || !isfinite(c->horizon_days)
            ? "'horizon_days' must be a finite number > 0"
        : c->people < 1 || c->acted < 0 || c->acted > c->people
            ? "'people' must be >= 1 and 'acted' in [0, people]"
        : c->n_bins > INDIV_CALIBRATION_BINS || !check_bins(c)
            ? "'reliability' must hold at most 10 bins of relevances and shares in [0, "
              "1] "
              "whose people add up to 'people'"
        : !isnan(c->threshold) && !unit(c->threshold) ? "'threshold' must be in [0, 1]"
                                                      : NULL;
    return what ? indiv_error_set(err, INDIV_EINVAL, "model %s: calibration: field %s",
                                  id, what)
                : INDIV_OK;
}

/* ---- JSON -------------------------------------------------------------------------- */

static json_t *real_or_null(double x) {
    return isnan(x) ? json_null() : json_real(x);
}

static json_t *bins_json(const indiv_calibration *c) {
    json_t *a = json_array();
    for (size_t b = 0; a && b < c->n_bins; b++) {
        const indiv_calibration_bin *x = &c->bins[b];
        if (json_array_append_new(a, json_pack("{s:f, s:f, s:f, s:f, s:I}", "lo", x->lo,
                                               "hi", x->hi, "predicted", x->predicted,
                                               "observed", x->observed, "people",
                                               (json_int_t)x->n)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *indiv_calibration_json(const indiv_calibration *c) {
    json_t *bins = bins_json(c);
    return bins ? json_pack("{s:s, s:i, s:f, s:I, s:I, s:o, s:o, s:s, s:o, s:o, s:s}",
                            "relevance", "any", "slots", c->slots, "horizon_days",
                            c->horizon_days, "people", (json_int_t)c->people, "acted",
                            (json_int_t)c->acted, "reliability", bins, "threshold",
                            real_or_null(c->threshold), "threshold_rule", "youden", "tpr",
                            real_or_null(c->tpr), "fpr", real_or_null(c->fpr), "source",
                            c->source)
                : NULL;
}

/* A number field that may be null (NAN); required. */
static int get_real(const json_t *o, const char *key, int nullable, double *out) {
    json_t *v = json_object_get(o, key);
    if (nullable && json_is_null(v)) {
        *out = NAN;
        return 1;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return 0;
    *out = json_number_value(v);
    return 1;
}

static int get_count(const json_t *o, const char *key, int64_t *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

static const char *load_bins(const json_t *a, indiv_calibration *c) {
    if (!json_is_array(a) || json_array_size(a) > INDIV_CALIBRATION_BINS)
        return "reliability";
    c->n_bins = json_array_size(a);
    for (size_t b = 0; b < c->n_bins; b++) {
        json_t *x = json_array_get(a, b);
        indiv_calibration_bin *y = &c->bins[b];
        if (!get_real(x, "lo", 0, &y->lo) || !get_real(x, "hi", 0, &y->hi) ||
            !get_real(x, "predicted", 0, &y->predicted) ||
            !get_real(x, "observed", 0, &y->observed) || !get_count(x, "people", &y->n))
            return "reliability";
    }
    return NULL;
}

/* The first missing or mistyped field's name, or NULL. */
static const char *load_fields(const json_t *o, indiv_calibration *c) {
    int64_t slots = 0;
    const char *rel = json_string_value(json_object_get(o, "relevance"));
    const char *src = json_string_value(json_object_get(o, "source"));
    if (!rel || strcmp(rel, "any") != 0)
        return "relevance";
    if (!get_count(o, "slots", &slots) || slots < 1 || slots > CAL_SLOTS_MAX)
        return "slots";
    c->slots = (int)slots;
    if (!get_real(o, "horizon_days", 0, &c->horizon_days))
        return "horizon_days";
    if (!get_count(o, "people", &c->people) || !get_count(o, "acted", &c->acted))
        return "people";
    const char *bad = load_bins(json_object_get(o, "reliability"), c);
    if (bad)
        return bad;
    if (!get_real(o, "threshold", 1, &c->threshold) || !get_real(o, "tpr", 1, &c->tpr) ||
        !get_real(o, "fpr", 1, &c->fpr))
        return "threshold";
    snprintf(c->source, sizeof c->source, "%s", src ? src : "");
    return NULL;
}

int indiv_calibration_load(const json_t *o, indiv_calibration *c, const char *path,
                           indiv_error *err) {
    memset(c, 0, sizeof *c);
    if (!o)
        return INDIV_OK;
    const char *bad = json_is_object(o) ? load_fields(o, c) : "";
    if (bad) {
        memset(c, 0, sizeof *c);
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'calibration%s%s' is missing or malformed "
                               "(docs/evaluation.md, \"Calibration\")",
                               path, *bad ? "." : "", bad);
    }
    c->present = 1;
    return INDIV_OK;
}

char *indiv_calibration_json_text(const indiv_calibration *c) {
    json_t *j = indiv_calibration_json(c);
    char *txt =
        j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return txt;
}

/* ---- the act model ------------------------------------------------------------------ */

/* logit(any) is bounded: a relevance of exactly 0 or 1 would give an infinite input. */
#define ACT_ANY_MIN 1e-9

static double nonneg(double v) {
    return v > 0 ? v : 0;
}

double indiv_act_apply_inputs(const indiv_act_model *a, double any,
                              const indiv_act_inputs *in) {
    if (!a->present)
        return any;
    indiv_act_inputs zero = {0};
    in = in ? in : &zero;
    double q = any < ACT_ANY_MIN ? ACT_ANY_MIN : any > 1 - ACT_ANY_MIN ? 1 - ACT_ANY_MIN : any;
    double z = a->intercept + a->relevance * log(q / (1 - q)) +
               a->orders * log1p(nonneg(in->orders)) + a->readiness * in->readiness +
               a->recency * log1p(nonneg(in->recency_days)) +
               a->rebought * log1p(nonneg(in->rebought)) +
               a->repeat_strength * log1p(nonneg(in->repeat_strength));
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

double indiv_act_apply(const indiv_act_model *a, double any, double orders) {
    indiv_act_inputs in = {.orders = orders};
    return indiv_act_apply_inputs(a, any, &in);
}

json_t *indiv_act_json(const indiv_act_model *a) {
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "intercept", a->intercept,
                     "relevance", a->relevance, "orders", a->orders, "readiness",
                     a->readiness, "recency", a->recency, "rebought", a->rebought,
                     "repeat_strength", a->repeat_strength);
}

/* An optional finite number (0 when absent). */
static int get_optional(const json_t *o, const char *key, double *out) {
    *out = 0;
    return !json_object_get(o, key) || get_real(o, key, 0, out);
}

int indiv_act_load(const json_t *o, indiv_act_model *a, const char *path,
                   indiv_error *err) {
    memset(a, 0, sizeof *a);
    if (!o)
        return INDIV_OK;
    if (!json_is_object(o) || !get_real(o, "intercept", 0, &a->intercept) ||
        !get_real(o, "relevance", 0, &a->relevance) ||
        !get_real(o, "orders", 0, &a->orders) ||
        !get_optional(o, "readiness", &a->readiness) ||
        !get_optional(o, "recency", &a->recency) ||
        !get_optional(o, "rebought", &a->rebought) ||
        !get_optional(o, "repeat_strength", &a->repeat_strength)) {
        memset(a, 0, sizeof *a);
        return indiv_error_set(err, INDIV_EFORMAT,
                               "%s: field 'act' must be an object of finite numbers "
                               "'intercept', 'relevance' and 'orders' (and optionally "
                               "'readiness', 'recency', 'rebought', 'repeat_strength')",
                               path);
    }
    a->present = 1;
    return INDIV_OK;
}
