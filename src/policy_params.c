/*
 * policy_params.c — the table of policy parameters (contract in policy.h): one row per
 * tunable field of indiv_policy_params, from which defaults, validation, parsing, help
 * lines and the JSON "parameters" objects are derived.
 *
 * To add a parameter: add its field to indiv_policy_params and one row below; the flags
 * of `indiv decide` and `indiv evaluate`, their --config keys, --help and JSON outputs
 * follow. Document its default and meaning in docs/decisions.md.
 */
#include "indiv/policy.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

typedef struct pp_entry {
    indiv_policy_param d;
    size_t off;  /* offset of the field in indiv_policy_params */
    size_t off2; /* CHOICE_REAL: offset of the real after ':' */
} pp_entry;

#define R_ INDIV_PP_REAL
#define I_ INDIV_PP_INT
#define C_ INDIV_PP_CHOICE
/* A row whose JSON key is not its field's name. */
#define ROWK(name, key, field, meta, kind, def, lo, hi, excl, choices, doc)              \
    {                                                                                    \
        {name, key, meta, kind, def, lo, hi, excl, choices, doc, 0},                     \
            offsetof(indiv_policy_params, field), 0                                      \
    }
#define ROW(name, field, meta, kind, def, lo, hi, excl, choices, doc)                    \
    ROWK(name, #field, field, meta, kind, def, lo, hi, excl, choices, doc)

static const char *const rank_by_names[] = {"propensity", "value", NULL};
static const char *const divergence_names[] = {"ride-along", "standalone", NULL};
static const char *const aim_names[] = {"popular", "adjacent", NULL};
static const char *const slot_names[] = {"replace", "extra", NULL};
static const char *const plaus_names[] = {"lift", "conditional", "cosine", "auto", NULL};
static const char *const rerank_names[] = {"none", "mmr", "calibrated", NULL};
static const char *const yes_no_names[] = {"no", "yes", NULL};
static const char *const relevance_names[] = {"best", "any", NULL};
static const char *const control_names[] = {"none", "random", "ungated", NULL};

/* The order is the order of --help and of the JSON objects. */
static const pp_entry table[] = {
    ROW("threshold", threshold, "P", R_, 0.30, 0, 1, 0, NULL,
        "relevance threshold τ (see --relevance)"),
    ROW("relevance", relevance, "KIND", C_, INDIV_REL_ANY, 0, 0, 0, relevance_names,
        "what τ is compared with: best (the best offer's p, offers below τ dropped) | "
        "any (1 - prod(1 - p_i) over the offers sent: P(buys at least one))"),
    ROW("slots", slots, "K", I_, 3, 1, INDIV_SLOTS_MAX, 0, NULL, "offers per contact"),
    ROWK("rank-by", "rank_by", rank_by_value, "WHAT", C_, 0, 0, 0, 0, rank_by_names,
         "propensity | value (p · price · margin)"),
    ROW("serendipity", serendipity, "E", R_, 0.10, 0, 1, 0, NULL,
        "divergence probability ε, scaled by openness"),
    ROW("bubble", bubble, "A", R_, 0.05, 0, 1, 0, NULL,
        "affinity below A is outside the bubble"),
    ROW("floor", floor, "P", R_, 0, 0, 1, 0, NULL,
        "absolute floor on the propensity of divergent offers"),
    ROW("relative-floor", relative_floor, "F", R_, 0.1, 0, 1, 0, NULL,
        "divergent offers need p >= F x the most likely divergent candidate's p"),
    ROW("divergence", divergence, "MODE", C_, INDIV_DIV_RIDE_ALONG, 0, 0, 0,
        divergence_names, "ride-along | standalone"),
    ROW("divergence-aim", divergence_aim, "AIM", C_, INDIV_AIM_ADJACENT, 0, 0, 0,
        aim_names,
        "popular (drawn by propensity) | adjacent (by propensity x the co-purchase "
        "plausibility of a category the person never bought)"),
    ROW("divergence-temperature", divergence_temperature, "T", R_, 1, 0, 100, 0, NULL,
        "adjacent: draw by (p x plausibility)^(1/T); 0 = the most plausible"),
    ROW("plausibility-smoothing", plausibility_smoothing, "M", R_, 10, 0, 1e6, 0, NULL,
        "pseudo-people pulling rare co-purchase lifts toward 1"),
    ROW("plausibility", plausibility, "KIND", C_, INDIV_PLAUS_AUTO, 0, 0, 0, plaus_names,
        "adjacent: weigh a category by lift P(c|A)/P(c) or by P(c|A) (conditional), or "
        "(embedding models) an offer by cosine: (1 + cos(taste, offer)) / 2; auto: "
        "conditional with an embedding (trained) model, lift otherwise"),
    ROW("divergent-slot", divergent_slot, "SLOT", C_, INDIV_SLOT_EXTRA, 0, 0, 0,
        slot_names, "extra (one more slot) | replace (takes the last slot)"),
    {{"rerank", "rerank", "R[:L]", INDIV_PP_CHOICE_REAL, INDIV_RERANK_NONE, 0, 1, 0,
      rerank_names,
      "none | mmr:L (Carbonell & Goldstein 1998) | calibrated:L (Steck 2018), L in [0, "
      "1], "
      "0.5 when omitted",
      0.5},
     offsetof(indiv_policy_params, rerank),
     offsetof(indiv_policy_params, rerank_lambda)},
    ROW("rerank-pool", rerank_pool, "N", I_, 20, 1, INDIV_RERANK_POOL_MAX, 0, NULL,
        "relevant offers above τ the re-ranker chooses from"),
    ROW("max-contacts", max_contacts, "N", I_, 3, 0, 1000000, 0, NULL,
        "pressure cap: at most N contacts ..."),
    ROW("per-days", per_days, "W", R_, 14, 0, 3650, 0, NULL,
        "... in W days (0 disables the cap)"),
    ROW("min-readiness", min_readiness, "R", R_, 0.05, 0, 1, 0, NULL,
        "defer consumers less ready than R"),
    ROW("readiness-horizon-days", readiness_horizon_days, "D", R_, 7, 0, 3650, 1, NULL,
        "readiness = chance of a purchase within D days"),
    ROW("rhythm-prior-strength", rhythm_prior_strength, "S", R_, 2, 0, 1e6, 1, NULL,
        "weight, in intervals, of the population's rhythm in readiness"),
    ROW("exclude-bought", exclude_bought, "YES", C_, 0, 0, 0, 0, yes_no_names,
        "no | yes: never propose an offer in the person's purchase history"),
    ROW("control-share", control_share, "C", R_, 0, 0, 1, 0, NULL,
        "share of eligible consumers in a random control group (docs/ope.md)"),
    ROW("control", control, "KIND", C_, INDIV_CONTROL_NONE, 0, 0, 0, control_names,
        "what the control group gets: none | random (one uniformly random valid "
        "offer) | ungated (the policy's decision at threshold 0)"),
};
#define NPARAMS (sizeof table / sizeof table[0])

/* CHOICE fields are enums or ints, read and written as int. */
_Static_assert(sizeof(indiv_divergence_mode) == sizeof(int), "enum stored as int");

size_t indiv_policy_param_count(void) {
    return NPARAMS;
}

const indiv_policy_param *indiv_policy_param_at(size_t i) {
    return i < NPARAMS ? &table[i].d : NULL;
}

/* Compares names with '-' and '_' treated alike. */
static int same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
            return 0;
    return *a == *b;
}

static const pp_entry *entry_find(const char *name) {
    for (size_t i = 0; i < NPARAMS; i++)
        if (same_name(name, table[i].d.name))
            return &table[i];
    return NULL;
}

const indiv_policy_param *indiv_policy_param_find(const char *name) {
    const pp_entry *e = name ? entry_find(name) : NULL;
    return e ? &e->d : NULL;
}

/* The row of a description handed out by _at or _find. */
static const pp_entry *entry_of(const indiv_policy_param *d) {
    return (const pp_entry *)(const void *)((const char *)d - offsetof(pp_entry, d));
}

#define FIELD(type, p, e)  (*(type *)(void *)((char *)(p) + (e)->off))
#define CFIELD(type, p, e) (*(const type *)(const void *)((const char *)(p) + (e)->off))

/* The real of a CHOICE_REAL row. */
static double *real_of(indiv_policy_params *p, const pp_entry *e) {
    return (double *)(void *)((char *)p + e->off2);
}

static double creal_of(const indiv_policy_params *p, const pp_entry *e) {
    return *(const double *)(const void *)((const char *)p + e->off2);
}

static int in_range(const indiv_policy_param *d, double v) {
    return isfinite(v) && (d->min_exclusive ? v > d->min : v >= d->min) && v <= d->max;
}

static int out_of_range(const indiv_policy_param *d, double v, indiv_error *err) {
    return indiv_error_set(err, INDIV_EINVAL, "%s: %g is out of range %c%g, %g]", d->name,
                           v, d->min_exclusive ? '(' : '[', d->min, d->max);
}

static int set_real(indiv_policy_params *p, const pp_entry *e, const char *t,
                    indiv_error *err) {
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (errno || end == t || *end || !isfinite(v))
        return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' is not a finite number",
                               e->d.name, t);
    if (!in_range(&e->d, v))
        return out_of_range(&e->d, v, err);
    FIELD(double, p, e) = v;
    return INDIV_OK;
}

static int set_int(indiv_policy_params *p, const pp_entry *e, const char *t,
                   indiv_error *err) {
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno || end == t || *end)
        return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' is not an integer", e->d.name,
                               t);
    if (!in_range(&e->d, (double)v))
        return indiv_error_set(err, INDIV_EINVAL, "%s: %lld is out of range [%g, %g]",
                               e->d.name, v, e->d.min, e->d.max);
    FIELD(int, p, e) = (int)v;
    return INDIV_OK;
}

/* "a, b or c" for the message of an unknown choice. */
static void choice_list(const char *const *c, char *buf, size_t cap) {
    size_t n = 0, len = 0;
    while (c[n])
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s",
                                i == 0 ? "" : (i + 1 == n ? " or " : ", "), c[i]);
}

static int set_choice(indiv_policy_params *p, const pp_entry *e, const char *t,
                      indiv_error *err) {
    for (int i = 0; e->d.choices[i]; i++)
        if (strcmp(t, e->d.choices[i]) == 0) {
            FIELD(int, p, e) = i;
            return INDIV_OK;
        }
    char names[256];
    choice_list(e->d.choices, names, sizeof names);
    return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' is not %s", e->d.name, t, names);
}

/* "name" or "name:x" (CHOICE_REAL); the first choice ("none") takes no real. */
static int set_choice_real(indiv_policy_params *p, const pp_entry *e, const char *t,
                           indiv_error *err) {
    char name[64];
    const char *colon = strchr(t, ':');
    size_t len = colon ? (size_t)(colon - t) : strlen(t);
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : 0), t);
    indiv_policy_params q = *p;
    pp_entry choice = *e;
    choice.d.kind = INDIV_PP_CHOICE;
    int rc = set_choice(&q, &choice, len < sizeof name ? name : t, err);
    if (rc < 0)
        return rc;
    double x = e->d.def2;
    if (colon && FIELD(int, &q, e) == 0)
        return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' takes no value", e->d.name,
                               name);
    if (colon) {
        char *end;
        errno = 0;
        x = strtod(colon + 1, &end);
        if (errno || end == colon + 1 || *end || !isfinite(x))
            return indiv_error_set(err, INDIV_EINVAL, "%s: '%s' is not a finite number",
                                   e->d.name, colon + 1);
        if (!in_range(&e->d, x))
            return out_of_range(&e->d, x, err);
    }
    FIELD(int, p, e) = FIELD(int, &q, e);
    *real_of(p, e) = x;
    return INDIV_OK;
}

int indiv_policy_params_set(indiv_policy_params *p, const char *name, const char *text,
                            indiv_error *err) {
    const pp_entry *e = name ? entry_find(name) : NULL;
    if (!e)
        return indiv_error_set(err, INDIV_EINVAL, "unknown policy parameter '%s'",
                               name ? name : "(null)");
    if (!text)
        return indiv_error_set(err, INDIV_EINVAL, "%s: no value", e->d.name);
    switch (e->d.kind) {
    case INDIV_PP_REAL:
        return set_real(p, e, text, err);
    case INDIV_PP_INT:
        return set_int(p, e, text, err);
    case INDIV_PP_CHOICE_REAL:
        return set_choice_real(p, e, text, err);
    default:
        return set_choice(p, e, text, err);
    }
}

/* The number of choices of a CHOICE row. */
static int n_choices(const indiv_policy_param *d) {
    int n = 0;
    while (d->choices[n])
        n++;
    return n;
}

static const char *choice_name(const indiv_policy_param *d, int v) {
    return v >= 0 && v < n_choices(d) ? d->choices[v] : "?";
}

void indiv_policy_params_format(const indiv_policy_params *p, const indiv_policy_param *d,
                                char *buf, size_t cap) {
    const pp_entry *e = entry_of(d);
    if (d->kind == INDIV_PP_REAL)
        snprintf(buf, cap, "%.17g", CFIELD(double, p, e));
    else if (d->kind == INDIV_PP_INT)
        snprintf(buf, cap, "%d", CFIELD(int, p, e));
    else if (d->kind == INDIV_PP_CHOICE_REAL && CFIELD(int, p, e) != 0)
        snprintf(buf, cap, "%s:%.17g", choice_name(d, CFIELD(int, p, e)), creal_of(p, e));
    else
        snprintf(buf, cap, "%s", choice_name(d, CFIELD(int, p, e)));
}

void indiv_policy_param_default_text(const indiv_policy_param *d, char *buf, size_t cap) {
    if (d->kind == INDIV_PP_CHOICE || d->kind == INDIV_PP_CHOICE_REAL)
        snprintf(buf, cap, "%s", choice_name(d, (int)d->def));
    else
        snprintf(buf, cap, "%g", d->def);
}

int indiv_policy_params_to_json(const indiv_policy_params *p, json_t *obj) {
    for (size_t i = 0; i < NPARAMS; i++) {
        const pp_entry *e = &table[i];
        json_t *v;
        if (e->d.kind == INDIV_PP_REAL)
            v = json_real(CFIELD(double, p, e));
        else if (e->d.kind == INDIV_PP_INT)
            v = json_integer(CFIELD(int, p, e));
        else if (e->d.kind == INDIV_PP_CHOICE_REAL && CFIELD(int, p, e) != 0) {
            char text[96];
            snprintf(text, sizeof text, "%s:%g", choice_name(&e->d, CFIELD(int, p, e)),
                     creal_of(p, e));
            v = json_string(text);
        } else
            v = json_string(choice_name(&e->d, CFIELD(int, p, e)));
        if (json_object_set_new(obj, e->d.key, v) < 0)
            return INDIV_ENOMEM;
    }
    return INDIV_OK;
}

void indiv_policy_params_init(indiv_policy_params *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < NPARAMS; i++) {
        const pp_entry *e = &table[i];
        if (e->d.kind == INDIV_PP_REAL)
            FIELD(double, p, e) = e->d.def;
        else
            FIELD(int, p, e) = (int)e->d.def;
        if (e->d.kind == INDIV_PP_CHOICE_REAL)
            *real_of(p, e) = e->d.def2;
    }
    p->seed = 1;
}

int indiv_policy_params_validate(const indiv_policy_params *p, indiv_error *err) {
    for (size_t i = 0; i < NPARAMS; i++) {
        const pp_entry *e = &table[i];
        double v =
            e->d.kind == INDIV_PP_REAL ? CFIELD(double, p, e) : (double)CFIELD(int, p, e);
        int ok = e->d.kind == INDIV_PP_CHOICE || e->d.kind == INDIV_PP_CHOICE_REAL
                     ? v >= 0 && v < n_choices(&e->d)
                     : in_range(&e->d, v);
        if (ok && e->d.kind == INDIV_PP_CHOICE_REAL && !in_range(&e->d, creal_of(p, e))) {
            v = creal_of(p, e);
            ok = 0;
        }
        if (!ok)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "policy parameter %s = %g is invalid", e->d.name, v);
    }
    return INDIV_OK;
}
