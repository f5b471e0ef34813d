/*
 * test_model.c — model files (model.h is the contract): models/default.json equals the
 * built-in default field by field; save → load round-trips every field exactly; every
 * validation of the loader (format, version, id, feature space, unknown or missing
 * weight, non-finite numbers, popularity half-life) refuses the file and names both the
 * file and the field; in-memory validation and save refuse what load would refuse.
 */
#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "indiv/model.h"
#include "testutil.h"

static char *dir, *path;

static void setup(void) {
    dir = tu_tmpdir();
    path = tu_path(dir, "model.json");
}

static void teardown(void) {
    free(path);
    tu_rmtree(dir);
}

TestSuite(model, .init = setup, .fini = teardown);

static void assert_same_model(const indiv_model *a, const indiv_model *b) {
    cr_assert_str_eq(a->id, b->id);
    cr_assert_str_eq(a->feature_space, b->feature_space);
    cr_assert_eq(a->intercept, b->intercept, "intercept %.17g != %.17g", a->intercept,
                 b->intercept);
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        cr_assert_eq(a->weight[t], b->weight[t], "weight %s: %.17g != %.17g",
                     indiv_model_term_name(t), a->weight[t], b->weight[t]);
    cr_assert_eq(a->popularity_half_life_days, b->popularity_half_life_days);
    cr_assert_eq(memcmp(&a->calibration, &b->calibration, sizeof a->calibration), 0,
                 "calibrations differ");
    cr_assert_eq(memcmp(&a->bought, &b->bought, sizeof a->bought), 0,
                 "weights_bought differ");
}

Test(model, default_file_equals_the_builtin_default) {
    indiv_model file, builtin;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_load("models/default.json", &file, &err), 0, "%s", err.msg);
    indiv_model_default(&builtin);
    assert_same_model(&file, &builtin);
    cr_assert_eq(indiv_model_validate(&builtin, &err), 0, "%s", err.msg);
}

Test(model, builtin_default_has_the_documented_values) {
    indiv_model m;
    indiv_model_default(&m);
    cr_assert_str_eq(m.id, "default-category-v1");
    cr_assert_str_eq(m.feature_space, "category");
    cr_assert_float_eq(m.intercept, -3.2, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_AFFINITY], 4.0, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_POPULARITY], 1.2, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_READINESS], 1.0, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_FREQUENCY], 0.5, 1e-15);
    cr_assert_float_eq(m.popularity_half_life_days, 30.0, 1e-15);
}

Test(model, term_names_are_stable) {
    static const char *const want[INDIV_TERM_COUNT] = {
        "affinity", "popularity",        "readiness",        "frequency",
        "repeat",   "repeat_frequency", "repeat_readiness", "item_item"};
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        cr_assert_str_eq(indiv_model_term_name(t), want[t]);
    cr_assert_str_eq(indiv_model_term_name(INDIV_TERM_COUNT), "?");
    cr_assert_str_eq(indiv_model_term_name(-1), "?");
}

Test(model, save_then_load_round_trips_every_field) {
    indiv_model m, back;
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "trained-2026-06-01 \"q\" é");
    snprintf(m.feature_space, sizeof m.feature_space, "category");
    m.intercept = -2.3851234567890123;
    m.weight[INDIV_TERM_AFFINITY] = 3.14159265358979;
    m.weight[INDIV_TERM_POPULARITY] = -0.1;
    m.weight[INDIV_TERM_READINESS] = 1e-17;
    m.weight[INDIV_TERM_FREQUENCY] = 12345.678901234567;
    m.popularity_half_life_days = 0.3;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    assert_same_model(&m, &back);
    /* And the saved file is itself a canonical model file: saving it again gives the
     * same bytes. */
    char *again = tu_path(dir, "again.json");
    cr_assert_eq(indiv_model_save(&back, again, &err), 0, "%s", err.msg);
    cr_assert(tu_same_file(path, again));
    free(again);
}

Test(model, save_refuses_an_invalid_model_and_writes_nothing) {
    indiv_model m;
    indiv_model_default(&m);
    m.weight[INDIV_TERM_READINESS] = NAN;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, path, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "readiness"), "%s", err.msg);
    struct stat sb;
    cr_assert_neq(stat(path, &sb), 0, "an invalid model was written");
}

Test(model, save_to_an_unwritable_place_names_the_path) {
    indiv_model m;
    indiv_model_default(&m);
    char *bad = tu_path(dir, "no/such/dir/model.json");
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, bad, &err), INDIV_EIO);
    cr_assert(strstr(err.msg, bad), "%s", err.msg);
    free(bad);
}

/* ---- the loader's refusals --------------------------------------------------------- */

/* A valid model file with one part replaced: `top` adds top-level keys, `prop` is the
 * propensity object (PROP builds one from a weights object). */
#define WRAP(top, prop)                                                                  \
    "{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"m1\", " top                 \
    "\"feature_space\": \"category\", \"propensity\": " prop "}"
#define PROP(w, rest)                                                                    \
    "{\"intercept\": -1.5, \"weights\": " w ", \"popularity_half_life_days\": 14" rest "}"
#define W4 "{\"affinity\": 2, \"popularity\": 1, \"readiness\": 0.5, \"frequency\": 0.25}"

typedef struct bad_case {
    const char *text;
    const char *field; /* must appear in the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"{\"format\": \"indiv-model\"", ":1:"}, /* malformed: names line and column */
    {"[1, 2]", "not a JSON object"},
    {"{\"version\": 1, \"id\": \"m\", \"feature_space\": \"category\", "
     "\"propensity\": " PROP(W4, "") "}",
     "'format'"},
    {"{\"format\": \"other-model\", \"version\": 1, \"id\": \"m\", \"feature_space\": "
     "\"category\", \"propensity\": " PROP(W4, "") "}",
     "'format'"},
    {"{\"format\": \"indiv-model\", \"version\": 2, \"id\": \"m\", \"feature_space\": "
     "\"category\", \"propensity\": " PROP(W4, "") "}",
     "'version'"},
    {"{\"format\": \"indiv-model\", \"version\": \"1\", \"id\": \"m\", "
     "\"feature_space\": "
     "\"category\", \"propensity\": " PROP(W4, "") "}",
     "'version'"},
    {"{\"format\": \"indiv-model\", \"version\": 1.0, \"id\": \"m\", \"feature_space\": "
     "\"category\", \"propensity\": " PROP(W4, "") "}",
     "'version'"},
    {"{\"format\": \"indiv-model\", \"version\": 1, \"feature_space\": \"category\", "
     "\"propensity\": " PROP(W4, "") "}",
     "'id'"},
    {"{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"\", \"feature_space\": "
     "\"category\", \"propensity\": " PROP(W4, "") "}",
     "'id'"},
    {"{\"format\": \"indiv-model\", \"version\": 1, \"id\": 7, \"feature_space\": "
     "\"category\", \"propensity\": " PROP(W4, "") "}",
     "'id'"},
    {"{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"m\", \"propensity\": " PROP(
         W4, "") "}",
     "'feature_space'"},
    {"{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"m\", \"feature_space\": "
     "\"embedding\", \"propensity\": " PROP(W4, "") "}",
     "'feature_space'"},
    {"{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"m\", \"feature_space\": "
     "\"category\"}",
     "'propensity'"},
    {WRAP("", "[]"), "'propensity'"},
    {WRAP("", "{\"weights\": " W4 ", \"popularity_half_life_days\": 14}"),
     "'propensity.intercept'"},
    {WRAP("", "{\"intercept\": \"-1\", \"weights\": " W4
              ", \"popularity_half_life_days\": 14}"),
     "'propensity.intercept'"},
    {WRAP("", "{\"intercept\": -1, \"popularity_half_life_days\": 14}"), "'weights'"},
    {WRAP("", PROP("[2, 1, 0.5, 0.25]", "")), "'weights'"},
    {WRAP("", PROP("{\"affinity\": 2, \"popularity\": 1, \"readiness\": 0.5, "
                   "\"frequency\": 0.25, \"recency\": 1}",
                   "")),
     "'weights.recency'"},
    {WRAP("", PROP("{\"affinity\": 2, \"popularity\": 1, \"readiness\": 0.5}", "")),
     "'weights.frequency'"},
    {WRAP("", PROP("{\"affinity\": 2, \"popularity\": 1, \"readiness\": null, "
                   "\"frequency\": 0.25}",
                   "")),
     "'weights.readiness'"},
    {WRAP("", PROP("{\"affinity\": \"inf\", \"popularity\": 1, \"readiness\": 0.5, "
                   "\"frequency\": 0.25}",
                   "")),
     "'weights.affinity'"},
    {WRAP("", PROP("{\"affinity\": 2, \"popularity\": true, \"readiness\": 0.5, "
                   "\"frequency\": 0.25}",
                   "")),
     "'weights.popularity'"},
    {WRAP("", "{\"intercept\": -1, \"weights\": " W4 "}"), "popularity_half_life_days"},
    {WRAP("",
          "{\"intercept\": -1, \"weights\": " W4 ", \"popularity_half_life_days\": 0}"),
     "popularity_half_life_days"},
    {WRAP("",
          "{\"intercept\": -1, \"weights\": " W4 ", \"popularity_half_life_days\": -30}"),
     "popularity_half_life_days"},
    {WRAP("", "{\"intercept\": -1, \"weights\": " W4
              ", \"popularity_half_life_days\": \"30\"}"),
     "popularity_half_life_days"},
    {"{\"format\": \"indiv-model\", \"format\": \"indiv-model\", \"version\": 1}",
     "duplicate"},
};

Test(model, every_refusal_names_the_file_and_the_field) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        tu_write(path, bad_cases[i].text);
        indiv_model m;
        indiv_error err = {0};
        int rc = indiv_model_load(path, &m, &err);
        cr_assert_lt(rc, 0, "case %zu was accepted: %s", i, bad_cases[i].text);
        cr_assert_eq(err.code, rc, "case %zu: err.code %d, rc %d", i, err.code, rc);
        cr_assert(strstr(err.msg, bad_cases[i].field), "case %zu: '%s' lacks %s", i,
                  err.msg, bad_cases[i].field);
        cr_assert(strstr(err.msg, path), "case %zu: '%s' does not name the file", i,
                  err.msg);
    }
}

Test(model, the_valid_template_of_the_refusal_table_loads) {
    /* Guards the table above: every refusal must come from the one part it changes. */
    tu_write(path, WRAP("\"description\": \"free text is allowed\", ", PROP(W4, "")));
    indiv_model m;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_load(path, &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.id, "m1");
    cr_assert_float_eq(m.intercept, -1.5, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_AFFINITY], 2, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_POPULARITY], 1, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_READINESS], 0.5, 1e-15);
    cr_assert_float_eq(m.weight[INDIV_TERM_FREQUENCY], 0.25, 1e-15);
    cr_assert_float_eq(m.popularity_half_life_days, 14, 1e-15);
}

Test(model, an_overflowing_weight_is_refused_naming_its_line) {
    /* JSON has no infinity: 1e999 is refused by the parser, which can only name the
     * position (line 4) rather than the key. */
    tu_write(path,
             "{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"m\",\n"
             "\"feature_space\": \"category\", \"propensity\": {\n"
             "\"intercept\": -1, \"weights\": {\"affinity\": 2, \"popularity\": 1,\n"
             "\"readiness\": 1e999, \"frequency\": 0.25},\n"
             "\"popularity_half_life_days\": 14}}\n");
    indiv_model m;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_load(path, &m, &err), INDIV_EFORMAT);
    char where[600];
    snprintf(where, sizeof where, "%s:4:", path);
    cr_assert(strstr(err.msg, where), "'%s' does not name %s", err.msg, where);
}

/* A file saved with a UTF-8 byte order mark (Windows Notepad) was refused with "'[' or
 * '{' expected near" the mark, which does not show in a terminal; it loads as the same
 * file without it. */
Test(model, a_byte_order_mark_is_ignored) {
    char *text = tu_read("models/default.json", NULL);
    cr_assert_not_null(text);
    char *bom = malloc(strlen(text) + 4);
    strcat(strcpy(bom, "\xef\xbb\xbf"), text);
    tu_write(path, bom);
    indiv_model a, b;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_load(path, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load("models/default.json", &b, &err), 0, "%s", err.msg);
    assert_same_model(&a, &b);
    indiv_model_clear(&a);
    indiv_model_clear(&b);
    free(bom);
    free(text);
}

Test(model, a_missing_file_is_refused_naming_it) {
    char *missing = tu_path(dir, "absent.json");
    indiv_model m;
    indiv_error err = {0};
    cr_assert_lt(indiv_model_load(missing, &m, &err), 0);
    cr_assert(strstr(err.msg, missing), "%s", err.msg);
    free(missing);
}

Test(model, validate_names_each_bad_field) {
    static const struct {
        int what; /* -1 intercept, 0..3 a weight, 4 half-life, 5 id, 6 feature space */
        double v;
        const char *field;
    } cases[] = {{-1, NAN, "intercept"},
                 {-1, INFINITY, "intercept"},
                 {INDIV_TERM_AFFINITY, -INFINITY, "affinity"},
                 {INDIV_TERM_POPULARITY, NAN, "popularity"},
                 {INDIV_TERM_READINESS, INFINITY, "readiness"},
                 {INDIV_TERM_FREQUENCY, NAN, "frequency"},
                 {100, 0, "popularity_half_life_days"},
                 {100, -1, "popularity_half_life_days"},
                 {100, NAN, "popularity_half_life_days"},
                 {100, INFINITY, "popularity_half_life_days"},
                 {101, 0, "'id'"},
                 {102, 0, "'feature_space'"},
                 {103, -1, "'repeat'"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        indiv_model m;
        indiv_model_default(&m);
        if (cases[i].what == -1)
            m.intercept = cases[i].v;
        else if (cases[i].what < INDIV_TERM_COUNT)
            m.weight[cases[i].what] = cases[i].v;
        else if (cases[i].what == 100)
            m.popularity_half_life_days = cases[i].v;
        else if (cases[i].what == 101)
            m.id[0] = '\0';
        else if (cases[i].what == 103)
            m.repeat.prior_cv2 = cases[i].v;
        else
            snprintf(m.feature_space, sizeof m.feature_space, "embedding");
        indiv_error err = {0};
        cr_assert_eq(indiv_model_validate(&m, &err), INDIV_EINVAL, "case %zu accepted",
                     i);
        cr_assert(strstr(err.msg, cases[i].field), "case %zu: '%s' lacks %s", i, err.msg,
                  cases[i].field);
    }
}

Test(model, history_terms_repeat_and_item_neighbours_round_trip) {
    indiv_model m, back;
    indiv_model_default(&m);
    m.weight[INDIV_TERM_ITEM_ITEM] = 0.615;
    m.repeat = (indiv_repeat_params){15.8, 0.96, 2.5, 14};
    const char *ids[3] = {"b", "a", "c"};
    size_t ptr[4] = {0, 2, 2, 3}, idx[3] = {1, 2, 0};
    double w[3] = {0.25, 0.125, 2.385};
    m.item_item = indiv_item_neighbours_new(3, ids, ptr, idx, w);
    m.item_item->lambda = 300;
    m.item_item->k = 2;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(back.weight[INDIV_TERM_ITEM_ITEM], 0.615);
    cr_assert_eq(back.repeat.prior_mean_days, 15.8);
    cr_assert_eq(back.repeat.prior_strength, 2.5);
    cr_assert_eq(back.item_item->n, 3);
    cr_assert_eq(back.item_item->lambda, 300);
    /* rows sorted by id: a, b, c; b's neighbours a (0.25) and c (0.125), c's b */
    size_t rb = indiv_item_neighbours_find(back.item_item, "b");
    cr_assert_eq(rb, 1);
    cr_assert_eq(back.item_item->ptr[rb + 1] - back.item_item->ptr[rb], 2);
    double sum = 0;
    for (size_t e = back.item_item->ptr[rb]; e < back.item_item->ptr[rb + 1]; e++)
        sum += back.item_item->w[e] * (double)(back.item_item->idx[e] + 1);
    cr_assert_eq(sum, 0.25 * 1 + 0.125 * 3); /* a is row 0, c row 2 */
    size_t rc = indiv_item_neighbours_find(back.item_item, "c");
    cr_assert_eq(back.item_item->idx[back.item_item->ptr[rc]], rb);
    cr_assert_eq(indiv_item_neighbours_find(back.item_item, "zz"), SIZE_MAX);
    indiv_model_clear(&m);
    indiv_model_clear(&back);
}

Test(model, a_file_without_the_history_weights_loads_them_as_zero) {
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"old\", \"feature_space\": "
          "\"category\", \"propensity\": {\"intercept\": -3.2, \"weights\": {\"affinity\": "
          "4, \"popularity\": 1.2, \"readiness\": 1, \"frequency\": 0.5}, "
          "\"popularity_half_life_days\": 30}}",
          f);
    fclose(f);
    indiv_model m;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_load(path, &m, &err), 0, "%s", err.msg);
    for (int t = INDIV_TERM_REPEAT; t < INDIV_TERM_COUNT; t++)
        cr_assert_eq(m.weight[t], 0, "%s", indiv_model_term_name(t));
    indiv_repeat_params def;
    indiv_repeat_params_default(&def);
    cr_assert_eq(memcmp(&m.repeat, &def, sizeof def), 0);
    cr_assert_null(m.item_item);
    cr_assert_eq(m.bought.present, 0); /* no weights_bought: one set for every offer */
    indiv_model_clear(&m);
}

Test(model, weights_bought_round_trip_and_are_validated) {
    indiv_model m, back;
    indiv_model_default(&m);
    m.bought = (indiv_bought_weights){1, 2.385, -0.423, 0.0625};
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    assert_same_model(&m, &back);
    cr_assert_eq(back.bought.item_item, 0.0625);
    indiv_model_clear(&back);
    m.bought.popularity = NAN;
    cr_assert_eq(indiv_model_validate(&m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "weights_bought"), "%s", err.msg);
    static const char *const bad[] = {
        "\"weights_bought\": 3",
        "\"weights_bought\": {\"affinity\": 1, \"popularity\": 2}",
        "\"weights_bought\": {\"affinity\": 1, \"popularity\": 2, \"item\": 3}",
        "\"weights_bought\": {\"affinity\": 1, \"popularity\": \"x\", \"item_item\": 3}"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        FILE *f = fopen(path, "w");
        fprintf(f,
                "{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"b\", "
                "\"feature_space\": \"category\", \"propensity\": {\"intercept\": -3, "
                "\"weights\": {\"affinity\": 4, \"popularity\": 1.2, \"readiness\": 1, "
                "\"frequency\": 0.5}, %s, \"popularity_half_life_days\": 30}}",
                bad[k]);
        fclose(f);
        err = (indiv_error){0};
        cr_assert_eq(indiv_model_load(path, &back, &err), INDIV_EFORMAT, "case %zu", k);
        cr_assert(strstr(err.msg, "weights_bought") && strstr(err.msg, path), "%s",
                  err.msg);
        indiv_model_clear(&back);
    }
}

/* ---- calibration and the recommended τ --------------------------------------------- */

/* 40 people: 20 who act, relevance 0.50, 0.51, ..., 0.69, and 20 who do not, 0.30 ..
 * 0.48 and one at 0.60. Youden's J is largest cutting between 0.49.. and 0.50: every
 * actor (TPR 1) for one needless contact of 20 (FPR 0.05), J = 0.95; τ is the midpoint
 * of 0.50 and 0.48. */
static void forty(double *pred, unsigned char *acted) {
    for (int i = 0; i < 20; i++) {
        pred[i] = 0.50 + 0.01 * i;
        acted[i] = 1;
        pred[20 + i] = i < 19 ? 0.30 + 0.01 * i : 0.60;
        acted[20 + i] = 0;
    }
}

Test(model, calibration_fits_deciles_and_youden_threshold_by_hand) {
    double pred[40];
    unsigned char acted[40];
    forty(pred, acted);
    indiv_calibration c;
    indiv_error err = {0};
    cr_assert_eq(indiv_calibration_fit(pred, acted, 40, 3, 14, "hand", &c, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(c.people, 40);
    cr_assert_eq(c.acted, 20);
    cr_assert_eq(c.n_bins, 10);
    /* lowest decile: 0.30 .. 0.33, nobody acted; highest: 0.66 .. 0.69, all acted */
    cr_assert_float_eq(c.bins[0].lo, 0.30, 1e-12);
    cr_assert_float_eq(c.bins[0].hi, 0.33, 1e-12);
    cr_assert_float_eq(c.bins[0].predicted, 0.315, 1e-12);
    cr_assert_float_eq(c.bins[0].observed, 0, 1e-12);
    cr_assert_eq(c.bins[0].n, 4);
    cr_assert_float_eq(c.bins[9].predicted, 0.675, 1e-12);
    cr_assert_float_eq(c.bins[9].observed, 1, 1e-12);
    /* 0.59, 0.60, 0.60, 0.61: the non-actor at 0.60 sorts after the actor (input
     * order breaks the tie) */
    cr_assert_float_eq(c.bins[7].observed, 0.75, 1e-12);
    cr_assert_float_eq(c.bins[6].observed, 1, 1e-12);
    cr_assert_float_eq(c.threshold, 0.49, 1e-12);
    cr_assert_float_eq(c.tpr, 1, 1e-12);
    cr_assert_float_eq(c.fpr, 0.05, 1e-12);
    cr_assert_str_eq(c.source, "hand");
}

Test(model, calibration_without_enough_of_a_group_has_no_threshold) {
    double pred[40];
    unsigned char acted[40];
    forty(pred, acted);
    for (int i = 11; i < 20; i++)
        acted[i] = 0; /* 11 actors left: enough */
    indiv_calibration c;
    cr_assert_eq(indiv_calibration_fit(pred, acted, 40, 3, 14, NULL, &c, NULL), 0);
    cr_assert(!isnan(c.threshold));
    acted[10] = 0; /* 10 actors: still enough */
    cr_assert_eq(indiv_calibration_fit(pred, acted, 40, 3, 14, NULL, &c, NULL), 0);
    cr_assert(!isnan(c.threshold));
    acted[9] = 0; /* 9: too few to choose a τ */
    cr_assert_eq(indiv_calibration_fit(pred, acted, 40, 3, 14, NULL, &c, NULL), 0);
    cr_assert(isnan(c.threshold));
    cr_assert(c.present && c.n_bins == 10, "the table is still there");
    indiv_model m;
    indiv_model_default(&m);
    m.calibration = c;
    cr_assert(isnan(indiv_model_threshold(&m, 3)));
}

Test(model, calibration_refuses_no_people_and_relevances_outside_0_1) {
    double pred[2] = {0.5, 1.5};
    unsigned char acted[2] = {0, 1};
    indiv_calibration c;
    indiv_error err = {0};
    cr_assert_eq(indiv_calibration_fit(pred, acted, 0, 3, 14, NULL, &c, NULL),
                 INDIV_EINVAL);
    cr_assert_eq(indiv_calibration_fit(pred, acted, 2, 3, 14, NULL, &c, &err),
                 INDIV_EINVAL);
    cr_assert(strstr(err.msg, "person 1"), "%s", err.msg);
}

Test(model, calibration_round_trips_and_a_malformed_one_is_refused_by_name) {
    double pred[40];
    unsigned char acted[40];
    forty(pred, acted);
    indiv_model m, back;
    indiv_model_default(&m);
    indiv_error err = {0};
    cr_assert_eq(indiv_calibration_fit(pred, acted, 40, 2, 7.5, "a \"test\"",
                                       &m.calibration, &err),
                 0);
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    assert_same_model(&m, &back);
    cr_assert_float_eq(indiv_model_threshold(&back, 2), 0.49, 1e-12);
    cr_assert(isnan(indiv_model_threshold(&back, 3)));
    static const char *const bad[] = {
        "\"calibration\": {\"relevance\": \"best\"}, ",
        "\"calibration\": [], ",
        "\"calibration\": {\"relevance\": \"any\", \"slots\": 0}, ",
    };
    static const char *const field[] = {"calibration.relevance", "'calibration'",
                                        "calibration.slots"};
    for (size_t i = 0; i < 3; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"format\": \"indiv-model\", \"version\": 1, \"id\": \"m1\", %s"
                 "\"feature_space\": \"category\", \"propensity\": {\"intercept\": "
                 "-1.5, \"weights\": " W4 ", \"popularity_half_life_days\": 14}}",
                 bad[i]);
        tu_write(path, text);
        err = (indiv_error){0}; /* the first error wins: a fresh record per case */
        cr_assert_eq(indiv_model_load(path, &back, &err), INDIV_EFORMAT, "%s", bad[i]);
        cr_assert(strstr(err.msg, field[i]) && strstr(err.msg, path), "%s", err.msg);
    }
    /* in memory: a share out of range is refused by validate (and so by save) */
    m.calibration.bins[3].observed = 1.5;
    err = (indiv_error){0};
    cr_assert_eq(indiv_model_validate(&m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "reliability"), "%s", err.msg);
}

/* The item readiness's own incomplete gamma (model.c) against GSL's gamma CDF over
 * shapes from cv² 0.05 to 8, means from half a day to a year and times since the last
 * purchase up to 2,000 days, in both regions of the computation. */
Test(model, repeat_readiness_matches_gsl_gamma_cdf) {
    static const double cvs[] = {0.05, 0.1, 0.3, 0.7, 1, 1.5, 3, 8};
    indiv_repeat_params r;
    indiv_repeat_params_default(&r);
    double worst = 0;
    for (size_t c = 0; c < sizeof cvs / sizeof cvs[0]; c++)
        for (double mean = 0.5; mean < 400; mean *= 1.7)
            for (double s = 0; s < 2000; s = s * 1.3 + 0.07) {
                r.prior_cv2 = cvs[c];
                r.prior_mean_days = mean;
                double k = 1 / cvs[c], theta = mean * cvs[c];
                double want = gsl_cdf_gamma_P(s + r.horizon_days, k, theta) -
                              gsl_cdf_gamma_P(s, k, theta);
                double got = indiv_repeat_readiness(&r, 1, 0, 0, s);
                worst = fmax(worst, fabs(got - want));
            }
    cr_assert_lt(worst, 1e-12, "largest difference %g", worst);
    r.prior_mean_days = 60;
    cr_assert_eq(indiv_repeat_readiness(&r, 1, 0, 0, -1), 0, "no readiness before 0");
}

/* The act model: identity when absent; σ(a + b·logit(any) + c·log(1 + orders)) when
 * present, by hand; round-trips through a file; a non-finite weight is refused. */
Test(model, act_model_applies_round_trips_and_is_validated) {
    indiv_act_model none = {0};
    cr_assert_float_eq(indiv_act_apply(&none, 0.237, 12), 0.237, 1e-15);
    indiv_act_model a = {1, -1.5, 0.5, 0.25, 0, 0, 0, 0};
    /* z = -1.5 + 0.5 · logit(0.2) + 0.25 · log(1 + 9) */
    double z = -1.5 + 0.5 * log(0.2 / 0.8) + 0.25 * log(10.0);
    cr_assert_float_eq(indiv_act_apply(&a, 0.2, 9), 1 / (1 + exp(-z)), 1e-15);
    cr_assert(indiv_act_apply(&a, 0, 0) > 0 && indiv_act_apply(&a, 1, 0) < 1,
              "relevances 0 and 1 stay finite");
    cr_assert_gt(indiv_act_apply(&a, 0.2, 20), indiv_act_apply(&a, 0.2, 2),
                 "a positive orders weight raises the relevance of the active");
    indiv_model m, back;
    indiv_model_default(&m);
    m.act = a;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert(back.act.present && back.act.intercept == a.intercept &&
                  back.act.relevance == a.relevance && back.act.orders == a.orders,
              "the act model round-trips");
    m.act.orders = NAN;
    err = (indiv_error){0};
    cr_assert_eq(indiv_model_validate(&m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "'act'"), "%s", err.msg);
    tu_write(path, WRAP("\"act\": {\"intercept\": 1}, ", PROP(W4, "")));
    err = (indiv_error){0};
    cr_assert_eq(indiv_model_load(path, &back, &err), INDIV_EFORMAT);
    cr_assert(strstr(err.msg, "'act'") && strstr(err.msg, path), "%s", err.msg);
}

/* The act model's rhythm inputs (readiness, recency, re-bought offers, repeat
 * strength): by hand, round trip through a file, 0 in a file that has only the first
 * three weights (older files), a malformed one refused. */
Test(model, act_model_rhythm_inputs_apply_and_round_trip) {
    indiv_act_model a = {1, -1, 0.5, 0.2, 1.25, -0.5, 0.75, 0.35};
    indiv_act_inputs in = {9, 0.6, 14, 3, 4.5};
    double z = -1 + 0.5 * log(0.3 / 0.7) + 0.2 * log(10.0) + 1.25 * 0.6 -
               0.5 * log(15.0) + 0.75 * log(4.0) + 0.35 * log(5.5);
    cr_assert_float_eq(indiv_act_apply_inputs(&a, 0.3, &in), 1 / (1 + exp(-z)), 1e-15);
    indiv_act_inputs orders_only = {.orders = 9};
    cr_assert_float_eq(indiv_act_apply_inputs(&a, 0.3, &orders_only),
                       indiv_act_apply(&a, 0.3, 9), 1e-15);
    z = -1 + 0.5 * log(0.3 / 0.7);
    cr_assert_float_eq(indiv_act_apply_inputs(&a, 0.3, NULL), 1 / (1 + exp(-z)), 1e-15,
                       "NULL inputs are all 0");
    indiv_model m, back;
    indiv_model_default(&m);
    m.act = a;
    indiv_error err = {0};
    cr_assert_eq(indiv_model_save(&m, path, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert(back.act.present && back.act.intercept == a.intercept &&
                  back.act.relevance == a.relevance && back.act.orders == a.orders &&
                  back.act.readiness == a.readiness && back.act.recency == a.recency &&
                  back.act.rebought == a.rebought &&
                  back.act.repeat_strength == a.repeat_strength,
              "the seven weights round-trip");
    indiv_model_clear(&back);
    m.act.repeat_strength = INFINITY;
    err = (indiv_error){0};
    cr_assert_eq(indiv_model_validate(&m, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "'act'"), "%s", err.msg);
    tu_write(path, WRAP("\"act\": {\"intercept\": 1, \"relevance\": 0.5, \"orders\": 0.1}, ",
                        PROP(W4, "")));
    cr_assert_eq(indiv_model_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert(back.act.present && back.act.readiness == 0 && back.act.recency == 0 &&
              back.act.rebought == 0 && back.act.repeat_strength == 0);
    indiv_model_clear(&back);
    const char *bad[2] = {"\"recency\": \"x\"", "\"repeat_strength\": [1]"};
    for (int k = 0; k < 2; k++) {
        char text[512];
        snprintf(text, sizeof text,
                 WRAP("\"act\": {\"intercept\": 1, \"relevance\": 0.5, \"orders\": 0.1, "
                      "%s}, ",
                      PROP(W4, "")),
                 bad[k]);
        tu_write(path, text);
        err = (indiv_error){0};
        cr_assert_eq(indiv_model_load(path, &back, &err), INDIV_EFORMAT, "%s", bad[k]);
        cr_assert(strstr(err.msg, "'act'"), "%s", err.msg);
    }
}

/* A model file that cannot be read is named with the system's reason, not with
 * jansson's "-1:-1" position of no line (issue 14 rerun: "/x:-1:-1: unable to open"). */
Test(model, unreadable_file_says_why_without_a_position) {
    indiv_model m;
    indiv_error err = {0};
    cr_assert_lt(indiv_model_load("/nonexistent-dir/m.json", &m, &err), 0);
    cr_expect(strstr(err.msg, "/nonexistent-dir/m.json"), "%s", err.msg);
    cr_expect(strstr(err.msg, "No such file or directory"), "%s", err.msg);
    cr_expect_null(strstr(err.msg, "-1"), "%s", err.msg);
}
