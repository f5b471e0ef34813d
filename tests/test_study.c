/*
 * test_study.c — the ethics study's library parts: the claim table is complete and
 * valid, settings strings apply and fail with the name at fault, the study metrics,
 * the paired confidence interval against hand-computed values, the verdict rules on a
 * table of constructed effects (both directions, relative and absolute δ,
 * non-inferiority), the combination and sensitivity rules, option validation, and a
 * verdict that flips when its assumption is flipped in a constructed tiny world.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "indiv/study.h"
#include "testutil.h"

#define EPS 1e-12

static const char *const claim_ids[] = {"serendipity",  "bubbles",  "threshold",
                                        "respect",      "personas", "timing",
                                        "minimisation", "scale",    "enclosure"};
#define NIDS (sizeof claim_ids / sizeof claim_ids[0])

Test(study, claim_table_has_every_claim_of_the_issue_in_order) {
    cr_assert_eq(indiv_study_claim_count(), NIDS);
    for (size_t i = 0; i < NIDS; i++) {
        cr_assert_str_eq(indiv_study_claim_at(i)->id, claim_ids[i]);
        cr_assert_eq(indiv_study_claim_find(claim_ids[i]), indiv_study_claim_at(i));
    }
    cr_assert_null(indiv_study_claim_at(NIDS));
    cr_assert_null(indiv_study_claim_find("nonexistent"));
}

Test(study, table_check_passes) {
    indiv_error err = {0};
    cr_assert_eq(indiv_study_table_check(&err), 0, "%s", err.msg);
}

/* The interviews' exact words (the study quotes them verbatim). Tests run from the
 * repository root, beside ../shared (INDIV_INTERVIEWS overrides the path). */
static char *interviews(void) {
    const char *path = getenv("INDIV_INTERVIEWS");
    char *text = tu_read(path ? path : "../shared/interviews.md", NULL);
    cr_assert_not_null(text, "cannot read the interviews (../shared/interviews.md)");
    return text;
}

/* Every quotation is a verbatim substring of the interviews, attributed there (the next
 * attribution line after it) to the same speaker and source; every claim not studied
 * is a claim of the interviews, and no studied claim is listed as not studied. */
Test(study, every_quotation_is_verbatim_with_its_speaker_and_source) {
    char *text = interviews();
    size_t quotes = 0;
    for (size_t i = 0; i < indiv_study_claim_count(); i++) {
        const indiv_study_claim *c = indiv_study_claim_at(i);
        cr_assert(c->nquotes >= 1 && c->nquotes <= INDIV_STUDY_QUOTES_MAX, "%s", c->id);
        for (size_t k = 0; k < c->nquotes; k++, quotes++) {
            const indiv_study_quote *q = &c->quotes[k];
            const char *at = strstr(text, q->text);
            cr_assert_not_null(at, "%s: not verbatim: %s", c->id, q->text);
            const char *by = strstr(at, "— ");
            char expect[256];
            snprintf(expect, sizeof expect, "— %s, %s\n", q->speaker, q->source_id);
            cr_assert(by && strncmp(by, expect, strlen(expect)) == 0,
                      "%s: attributed there as %.60s, not %s", c->id, by ? by : "?",
                      expect);
            cr_assert(strstr(c->source, q->source_id), "%s: %s not described", c->id,
                      q->source_id);
        }
        char heading[96];
        snprintf(heading, sizeof heading, "### `%s`", c->id);
        cr_assert(strstr(text, heading), "%s is not a claim of the interviews", c->id);
    }
    cr_assert_geq(quotes, indiv_study_claim_count());
    cr_assert_eq(indiv_study_unstudied_count(), 6);
    for (size_t i = 0; i < indiv_study_unstudied_count(); i++) {
        const indiv_study_unstudied *u = indiv_study_unstudied_at(i);
        char heading[96];
        snprintf(heading, sizeof heading, "### `%s`", u->id);
        cr_assert(strstr(text, heading), "%s is not a claim of the interviews", u->id);
        cr_assert(u->why && strlen(u->why) > 20, "%s: why", u->id);
        cr_assert_null(indiv_study_claim_find(u->id), "%s is studied", u->id);
    }
    cr_assert_null(indiv_study_unstudied_at(indiv_study_unstudied_count()));
    free(text);
}

/* Every claim: texts, quotations, an
 * experiment (conditions that exist), a metric, a verdict rule and the overrides. */
Test(study, every_claim_has_an_experiment_a_metric_and_a_verdict_rule) {
    for (size_t i = 0; i < indiv_study_claim_count(); i++) {
        const indiv_study_claim *c = indiv_study_claim_at(i);
        cr_assert(c->title && *c->title && c->paraphrase && *c->paraphrase, "%s", c->id);
        cr_assert(c->source && *c->source, "%s: sources", c->id);
        cr_assert(c->design && strlen(c->design) > 40, "%s: experiment", c->id);
        cr_assert(c->metric && *c->metric && c->assumption && *c->assumption, "%s",
                  c->id);
        if (c->kind == INDIV_STUDY_DESCRIPTIVE) {
            cr_assert_eq(c->ncmp, 0, "%s", c->id);
            continue;
        }
        cr_assert_not_null(indiv_study_metric_find(c->metric), "%s", c->id);
        cr_assert(c->direction == 1 || c->direction == -1, "%s", c->id);
        cr_assert(c->delta_abs + c->delta_rel > 0, "%s: δ", c->id);
        cr_assert(c->ncmp >= 1 && c->cmp[0].primary, "%s", c->id);
        for (size_t k = 0; k < c->ncmp; k++) {
            cr_assert_not_null(indiv_study_condition_find(c->cmp[k].treatment));
            cr_assert_not_null(indiv_study_condition_find(c->cmp[k].reference));
        }
        cr_assert(c->contra && *c->contra && c->pro && *c->pro, "%s", c->id);
    }
}

Test(study, settings_apply_to_simulation_and_world) {
    indiv_sim_params s;
    indiv_world_params w;
    indiv_sim_params_init(&s);
    indiv_world_params_init(&w);
    indiv_error err = {0};
    cr_assert_eq(indiv_study_apply("policy=mass  w:latent_share=0.45 p_leave=0.7 "
                                   "features=all,-moments",
                                   &s, &w, &err),
                 0, "%s", err.msg);
    cr_assert_eq(s.policy, INDIV_SIM_MASS);
    cr_assert_float_eq(s.response.p_leave, 0.7, EPS);
    cr_assert_eq(s.profile_params.features, INDIV_FEAT_ALL & ~INDIV_FEAT_MOMENTS);
    cr_assert_float_eq(w.latent_share, 0.45, EPS);
}

Test(study, bad_settings_are_refused_naming_the_setting) {
    static const char *const bad[][2] = {
        {"w:latent_share=2", "latent_share"},
        {"bogus=1", "bogus"},
        {"w:bogus=1", "bogus"},
        {"p_leave", "p_leave"},
        {"threshold=abc", "threshold"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        indiv_error err = {0};
        cr_assert_eq(indiv_study_apply(bad[i][0], NULL, NULL, &err), INDIV_EINVAL, "%s",
                     bad[i][0]);
        cr_assert(strstr(err.msg, bad[i][1]), "'%s': %s", bad[i][0], err.msg);
    }
}

Test(study, metric_values_from_an_aggregated_run) {
    double agg[INDIV_SIM_NMETRICS] = {0}, v;
    agg[INDIV_M_unsubscribes] = 7;
    agg[INDIV_M_departures] = 3;
    agg[INDIV_M_contacts] = 250;
    agg[INDIV_M_irrelevant_share] = 0.12;
    agg[INDIV_M_latent_revealed_total] = 9;
    agg[INDIV_M_leakage] = 36;
    agg[INDIV_M_revenue] = 2385.5;
    static const struct {
        const char *name;
        double want;
    } cases[] = {{"losses", 10},
                 {"irrelevant_contacts", 30},
                 {"latent_revealed_pct", 2.5},
                 {"leakage_pct", 10},
                 {"revenue", 2385.5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(indiv_study_metric_value(cases[i].name, agg, 360, &v, NULL), 0);
        cr_assert_float_eq(v, cases[i].want, 1e-9, "%s: %g", cases[i].name, v);
    }
    cr_assert_eq(indiv_study_metric_value("latent_revealed_pct", agg, 0, &v, NULL), 0);
    cr_assert_float_eq(v, 0, EPS, "no latent tastes: 0, not a division by zero");
    indiv_error err = {0};
    cr_assert_eq(indiv_study_metric_value("nope", agg, 1, &v, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "nope"));
}

/* d = (0.385, 0.6, −0.05, 0.7); mean 0.40875; sd 0.332875727562104 (n − 1);
 * t_{0.975, 3} = 3.182446305284263; half = t · sd / 2 = 0.5296795646494145. */
Test(study, paired_ci_matches_hand_computation) {
    const double t[] = {2.385, 3.1, 2.9, 4.0}, r[] = {2.0, 2.5, 2.95, 3.3};
    indiv_study_effect e;
    indiv_error err = {0};
    cr_assert_eq(indiv_study_paired(t, r, 4, &e, &err), 0, "%s", err.msg);
    cr_assert_eq(e.n, 4);
    cr_assert_float_eq(e.mean_t, 3.09625, 1e-12);
    cr_assert_float_eq(e.mean_r, 2.6875, 1e-12);
    cr_assert_float_eq(e.mean, 0.40875, 1e-12);
    cr_assert_float_eq(e.sd, 0.33287572756210404, 1e-12);
    cr_assert_float_eq(e.half, 0.5296795646494145, 1e-9);
    cr_assert_float_eq(e.lo, 0.40875 - 0.5296795646494145, 1e-9);
    cr_assert_float_eq(e.hi, 0.40875 + 0.5296795646494145, 1e-9);
}

Test(study, paired_ci_refuses_one_seed_and_non_finite_values) {
    const double t[] = {1, NAN}, r[] = {0, 0};
    indiv_study_effect e;
    indiv_error err = {0};
    cr_assert_eq(indiv_study_paired(t, r, 1, &e, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "2 seeds"), "%s", err.msg);
    indiv_error_clear(&err);
    cr_assert_eq(indiv_study_paired(t, r, 2, &e, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "seed 1"), "%s", err.msg);
}

Test(study, identical_conditions_give_a_zero_width_interval) {
    const double x[] = {3.5, 4.25, 5};
    indiv_study_effect e;
    cr_assert_eq(indiv_study_paired(x, x, 3, &e, NULL), 0);
    cr_assert_float_eq(e.mean, 0, EPS);
    cr_assert_float_eq(e.half, 0, EPS);
}

/* ---- verdict rules on constructed effects ------------------------------------------ */

typedef struct rule_case {
    indiv_study_kind kind;
    int direction;
    double delta_abs, delta_rel;
    double mean, half, mean_r;
    indiv_verdict want;
    double mde; /* 0 when not given: a run large enough */
} rule_case;

ParameterizedTestParameters(study, verdict_rule_on_constructed_effects) {
    static rule_case cases[] = {
        /* effect, +1, δ = 1 */
        {INDIV_STUDY_EFFECT, 1, 1, 0, 2.385, 0.5, 10, INDIV_VERDICT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 0.8, 0.5, 10, INDIV_VERDICT_INCONCLUSIVE, 0},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 0.5, 0.3, 10, INDIV_VERDICT_NOT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, 1, 1, 0, -2, 0.5, 10, INDIV_VERDICT_NOT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 0.5, 3, 10, INDIV_VERDICT_INCONCLUSIVE, 0},
        {INDIV_STUDY_EFFECT, 1, 0, 0, 0, 0, 10, INDIV_VERDICT_NOT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 2, NAN, 10, INDIV_VERDICT_INCONCLUSIVE, 0},
        /* power: "not supported" only from a run whose MDE ≤ δ */
        {INDIV_STUDY_EFFECT, 1, 1, 0, 0.5, 0.3, 10, INDIV_VERDICT_UNDERPOWERED, 1.5},
        {INDIV_STUDY_EFFECT, 1, 1, 0, -2, 0.5, 10, INDIV_VERDICT_UNDERPOWERED, 2},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 0.5, 0.3, 10, INDIV_VERDICT_NOT_SUPPORTED, 1.0},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 0.8, 0.5, 10, INDIV_VERDICT_UNDERPOWERED, 1.01},
        {INDIV_STUDY_EFFECT, 1, 1, 0, 2.385, 0.5, 10, INDIV_VERDICT_SUPPORTED, 3},
        /* effect, −1: the same effects mirrored */
        {INDIV_STUDY_EFFECT, -1, 1, 0, -2.385, 0.5, 10, INDIV_VERDICT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, -1, 1, 0, 2.385, 0.5, 10, INDIV_VERDICT_NOT_SUPPORTED, 0},
        /* relative δ = 10% of |mean of the reference| = 10 */
        {INDIV_STUDY_EFFECT, 1, 0, 0.1, 12, 1, -100, INDIV_VERDICT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, 1, 0, 0.1, 8, 1, -100, INDIV_VERDICT_NOT_SUPPORTED, 0},
        {INDIV_STUDY_EFFECT, 1, 0, 0.1, 9.5, 1, 100, INDIV_VERDICT_INCONCLUSIVE, 0},
        /* non-inferiority, δ = 5% of 100 */
        {INDIV_STUDY_NONINFERIOR, 1, 0, 0.05, -2, 2, 100, INDIV_VERDICT_SUPPORTED, 0},
        {INDIV_STUDY_NONINFERIOR, 1, 0, 0.05, 3, 1, 100, INDIV_VERDICT_SUPPORTED, 0},
        {INDIV_STUDY_NONINFERIOR, 1, 0, 0.05, -10, 2, 100, INDIV_VERDICT_NOT_SUPPORTED,
         0},
        {INDIV_STUDY_NONINFERIOR, 1, 0, 0.05, -5, 3, 100, INDIV_VERDICT_INCONCLUSIVE, 0},
    };
    return cr_make_param_array(rule_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(rule_case *c, study, verdict_rule_on_constructed_effects) {
    indiv_study_claim claim = {.id = "constructed",
                               .kind = c->kind,
                               .direction = c->direction,
                               .delta_abs = c->delta_abs,
                               .delta_rel = c->delta_rel};
    indiv_study_effect e = {.n = 5,
                            .mean_r = c->mean_r,
                            .mean = c->mean,
                            .half = c->half,
                            .lo = c->mean - c->half,
                            .hi = c->mean + c->half,
                            .mde = c->mde};
    indiv_verdict v = indiv_study_rule(&claim, &e);
    cr_assert_eq(v, c->want, "mean %g ± %g, δ %g: got %s, want %s", c->mean, c->half,
                 indiv_study_delta(&claim, &e), indiv_verdict_name(v),
                 indiv_verdict_name(c->want));
}

Test(study, several_primary_comparisons_need_all_of_them) {
    const indiv_verdict S = INDIV_VERDICT_SUPPORTED, N = INDIV_VERDICT_NOT_SUPPORTED,
                        I = INDIV_VERDICT_INCONCLUSIVE;
    cr_assert_eq(indiv_study_combine((indiv_verdict[]){S, S}, 2), S);
    cr_assert_eq(indiv_study_combine((indiv_verdict[]){S, I}, 2), I);
    cr_assert_eq(indiv_study_combine((indiv_verdict[]){I, N, S}, 3), N);
    cr_assert_eq(indiv_study_combine(NULL, 0), INDIV_VERDICT_NONE);
    const indiv_verdict U = INDIV_VERDICT_UNDERPOWERED;
    cr_assert_eq(indiv_study_combine((indiv_verdict[]){S, U}, 2), U);
    cr_assert_eq(indiv_study_combine((indiv_verdict[]){U, I}, 2), U);
    cr_assert_eq(indiv_study_combine((indiv_verdict[]){U, N}, 2), N);
    cr_assert_str_eq(indiv_verdict_name(U), "underpowered");
}

/* MDE of a paired comparison, by hand from Student tables: n = 10, sd = 2,
 * t_{0.975, 9} = 2.262157, t_{0.80, 9} = 0.883404:
 * MDE = (2.262157 + 0.883404) · 2 / √10 = 1.989428. */
Test(study, mde_matches_hand_computation) {
    cr_assert_float_eq(indiv_study_mde(2, 10), 1.989428, 2e-6);
    cr_assert(isinf(indiv_study_mde(2, 1)));
    cr_assert_float_eq(indiv_study_mde(0, 5), 0, EPS);
    /* The fewest seeds with MDE ≤ δ: sd 2, δ 1 needs n with MDE(n) ≤ 1 < MDE(n − 1);
     * the normal approximation (1.960 + 0.842)² · 2² / 1² = 31.4 is a lower bound. */
    size_t n = indiv_study_seeds_needed(2, 1);
    cr_assert(n >= 32 && n <= 36, "%zu", n);
    cr_assert_leq(indiv_study_mde(2, n), 1);
    cr_assert_gt(indiv_study_mde(2, n - 1), 1);
    cr_assert_eq(indiv_study_seeds_needed(0, 0.5), 2);
    cr_assert_eq(indiv_study_seeds_needed(1e6, 1), 0, "beyond the largest study");
}

/* A run too small to see δ is underpowered, never "not supported": the serendipity
 * claim (δ = 1 point) on three seeds whose differences straddle 0 with sd 2.5, then on
 * 40 seeds of the same spread scaled down (sd 0.25): now MDE ≤ δ and the interval inside
 * ±δ gives "not supported". The paired effect carries the MDE. */
Test(study, a_too_small_run_is_underpowered_never_not_supported) {
    const indiv_study_claim *c = indiv_study_claim_find("serendipity");
    const double t3[] = {-2, 0.5, 3}, r3[] = {0, 0, 0};
    indiv_study_effect e;
    cr_assert_eq(indiv_study_paired(t3, r3, 3, &e, NULL), 0);
    cr_assert_float_eq(e.mde, indiv_study_mde(e.sd, 3), EPS);
    cr_assert_gt(e.mde, indiv_study_delta(c, &e));
    cr_assert_eq(indiv_study_rule(c, &e), INDIV_VERDICT_UNDERPOWERED);
    double t40[40], r40[40];
    for (int i = 0; i < 40; i++) {
        t40[i] = 0.1 * t3[i % 3];
        r40[i] = 0;
    }
    cr_assert_eq(indiv_study_paired(t40, r40, 40, &e, NULL), 0);
    cr_assert_leq(e.mde, indiv_study_delta(c, &e));
    cr_assert_eq(indiv_study_rule(c, &e), INDIV_VERDICT_NOT_SUPPORTED);
}

Test(study, depends_only_when_the_mild_level_reverses_a_conclusive_verdict) {
    const indiv_verdict S = INDIV_VERDICT_SUPPORTED, N = INDIV_VERDICT_NOT_SUPPORTED,
                        I = INDIV_VERDICT_INCONCLUSIVE, D = INDIV_VERDICT_DEPENDS;
    cr_assert_eq(indiv_study_final(S, N), D);
    cr_assert_eq(indiv_study_final(N, S), D);
    cr_assert_eq(indiv_study_final(S, I), S);
    cr_assert_eq(indiv_study_final(S, S), S);
    cr_assert_eq(indiv_study_final(N, INDIV_VERDICT_NONE), N);
    cr_assert_eq(indiv_study_final(I, S), I);
    cr_assert_str_eq(indiv_verdict_name(D), "depends on an assumption");
}

Test(study, options_are_validated) {
    indiv_study_opts o;
    indiv_study_opts_init(&o);
    indiv_error err = {0};
    cr_assert_eq(indiv_study_opts_validate(&o, &err), INDIV_EINVAL, "no directory");
    o.dir = "somewhere";
    cr_assert_eq(indiv_study_opts_validate(&o, NULL), 0);
    o.seeds = 1;
    cr_assert_eq(indiv_study_opts_validate(&o, NULL), INDIV_EINVAL);
    o.seeds = 2;
    o.jobs = 0;
    cr_assert_eq(indiv_study_opts_validate(&o, NULL), INDIV_EINVAL);
    o.jobs = 2;
    o.claims = "threshold,nope";
    indiv_error_clear(&err);
    cr_assert_eq(indiv_study_opts_validate(&o, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
}

/* ---- a verdict that flips with its assumption -------------------------------------- */

static json_t *level_named(json_t *claim, const char *name) {
    size_t i;
    json_t *lv;
    json_array_foreach(json_object_get(claim, "levels"), i, lv) {
        if (strcmp(json_string_value(json_object_get(lv, "level")), name) == 0)
            return lv;
    }
    return NULL;
}

static const char *verdict_of(json_t *lv) {
    return lv ? json_string_value(json_object_get(lv, "verdict")) : "(level not run)";
}

/* A tiny constructed world of intolerant consumers (fatigue tolerance of mean 1): the
 * threshold claim (fewer people lost than with a mass campaign or with τ = 0) is
 * supported; when nobody tires of contacts (the contra override) nobody is lost under
 * any policy, the effect is exactly 0 and the verdict flips to not supported. */
Test(study, threshold_verdict_flips_when_consumers_never_tire) {
    char *dir = tu_tmpdir(), *out = tu_path(dir, "study");
    indiv_study_opts o;
    indiv_study_opts_init(&o);
    o.dir = out;
    o.quick = 1;
    o.seeds = 3;
    o.consumers = 200;
    o.rounds = 4;
    o.claims = "threshold";
    o.world_settings = "w:fatigue_mean=1 w:taste_locality=0"; /* independent tastes */
    indiv_study_results *r = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_study_run(&o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_study_write_data(r, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_study_results_claims(r), 1);
    cr_assert_eq(indiv_study_results_verdict(r, 0, 0), INDIV_VERDICT_SUPPORTED);
    cr_assert_str_eq(indiv_study_results_claim(r, 0)->id, "threshold");
    cr_assert(strstr(indiv_study_results_sensitivity(r, 0), "annoyance_per_irrelevant=0"),
              "%s", indiv_study_results_sensitivity(r, 0));

    char *path = tu_path(out, "results.json");
    json_t *root = json_load_file(path, 0, NULL);
    cr_assert_not_null(root);
    json_t *claim = json_array_get(json_object_get(root, "claims"), 0);
    cr_assert_str_eq(verdict_of(level_named(claim, "study values")), "supported");
    json_t *full = level_named(claim, "full contra");
    cr_assert_str_eq(verdict_of(full), "not supported");
    cr_assert_null(level_named(claim, "full pro"),
                   "pro is run only after 'not supported'");
    size_t k;
    json_t *cmp;
    json_array_foreach(json_object_get(full, "comparisons"), k, cmp) {
        json_t *e = json_object_get(json_object_get(cmp, "effects"), "losses");
        cr_assert_float_eq(json_number_value(json_object_get(e, "effect")), 0, EPS);
        cr_assert_float_eq(json_number_value(json_object_get(e, "mean_reference")), 0,
                           EPS);
    }
    json_decref(root);
    free(path);
    indiv_study_results_free(r);
    free(out);
    tu_rmtree(dir);
}

/* study --like: every world is fitted to a log (here a generated one standing for a
 * shop's import, 40 offers over 6 categories, unlike the preset's 200 over 20), at the
 * study's size; the report says so. A log that cannot be read fails naming it. */
Test(study, like_fits_every_world_to_the_log) {
    char *dir = tu_tmpdir(), *out = tu_path(dir, "study");
    indiv_world_params shop;
    indiv_world_params_init(&shop);
    shop.consumers = 300;
    shop.offers = 40;
    shop.categories = 6;
    shop.days = 120;
    indiv_world_summary sum;
    char *log = tu_world(dir, "shop.db", &shop, &sum);
    indiv_study_opts o;
    indiv_study_opts_init(&o);
    o.dir = out;
    o.quick = 1;
    o.seeds = 2;
    o.consumers = 120;
    o.rounds = 2;
    o.claims = "timing";
    o.like = log;
    indiv_study_results *r = NULL;
    indiv_error err = {0};
    cr_assert_eq(indiv_study_run(&o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_study_write_data(r, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_study_write_report(r, &err), 0, "%s", err.msg);
    char *md_path = tu_path(out, "report.md");
    char *md = tu_read(md_path, NULL);
    cr_assert(md && strstr(md, "fitted to the purchases of"), "report lacks the fit");
    char *res_path = tu_path(out, "results.json");
    json_t *root = json_load_file(res_path, 0, NULL);
    cr_assert_not_null(root);
    char *txt = json_dumps(root, JSON_COMPACT);
    cr_assert(strstr(txt, "\"offers\":40") || strstr(txt, "\"offers\": 40") ||
                  strstr(txt, "offers=40"),
              "the fitted offers (40) are not the worlds': %.400s", txt);
    free(txt);
    json_decref(root);
    indiv_study_results_free(r);
    o.like = "/nonexistent/shop.db";
    cr_assert_lt(indiv_study_run(&o, NULL, NULL, &r, &err), 0);
    cr_assert(strstr(err.msg, "/nonexistent/shop.db"), "%s", err.msg);
    cr_assert_null(r);
    free(md);
    free(md_path);
    free(res_path);
    free(log);
    free(out);
    tu_rmtree(dir);
}

/* The divergence aims as reference conditions of the serendipity claim (issue 11 item
 * 6): both aims are conditions of the claim, differ in the policy's divergence_aim and
 * in nothing else, and a tiny run (2 rounds, 2 seeds) compares both with ε = 0 on the
 * divergent hit rate and the costs, in results.json and in the report's tables. */
Test(study, serendipity_claim_compares_both_divergence_aims) {
    const char *aims[] = {"indiv-e0.3", "indiv-e0.3-popular"};
    const indiv_divergence_aim want[] = {INDIV_AIM_ADJACENT, INDIV_AIM_POPULAR};
    const indiv_study_claim *c = indiv_study_claim_find("serendipity");
    cr_assert_not_null(c);
    indiv_sim_params p[2];
    indiv_error err = {0};
    for (int a = 0; a < 2; a++) {
        int found = 0;
        for (size_t k = 0; k < c->ncmp; k++)
            found |= strcmp(c->cmp[k].treatment, aims[a]) == 0 &&
                     strcmp(c->cmp[k].reference, "indiv-e0") == 0;
        cr_assert(found, "%s is not compared with indiv-e0", aims[a]);
        indiv_sim_params_init(&p[a]);
        cr_assert_eq(indiv_study_apply(indiv_study_condition_find(aims[a])->settings, &p[a],
                                       NULL, &err),
                     0, "%s", err.msg);
        cr_assert_eq(p[a].policy_params.divergence_aim, want[a], "%s", aims[a]);
    }
    p[1].policy_params.divergence_aim = p[0].policy_params.divergence_aim;
    cr_assert_eq(memcmp(&p[0], &p[1], sizeof p[0]), 0, "the aims differ in more");

    char *dir = tu_tmpdir(), *out = tu_path(dir, "study");
    indiv_study_opts o;
    indiv_study_opts_init(&o);
    o.dir = out;
    o.quick = 1;
    o.seeds = 2;
    o.consumers = 100;
    o.rounds = 2;
    o.claims = "serendipity";
    o.max_seeds = 0;
    indiv_study_results *r = NULL;
    cr_assert_eq(indiv_study_run(&o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_study_write_data(r, &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_study_write_report(r, &err), 0, "%s", err.msg);

    char *path = tu_path(out, "results.json");
    json_t *root = json_load_file(path, 0, NULL);
    cr_assert_not_null(root);
    json_t *claim = json_array_get(json_object_get(root, "claims"), 0);
    json_t *conds = json_object_get(claim, "conditions");
    cr_assert(strstr(json_string_value(json_object_get(conds, aims[0])),
                     "divergence_aim=adjacent"));
    cr_assert(strstr(json_string_value(json_object_get(conds, aims[1])),
                     "divergence_aim=popular"));
    json_t *base = level_named(claim, "study values");
    cr_assert_not_null(base);
    for (int a = 0; a < 2; a++) {
        json_t *hit = NULL, *cmp;
        size_t k;
        json_array_foreach(json_object_get(base, "comparisons"), k, cmp) {
            if (strcmp(json_string_value(json_object_get(cmp, "treatment")), aims[a]) == 0)
                hit = json_object_get(json_object_get(cmp, "effects"),
                                      "divergent_hit_rate");
        }
        cr_assert_not_null(hit, "%s: no divergent hit rate", aims[a]);
        cr_assert_eq(json_integer_value(json_object_get(hit, "n")), 2);
    }
    json_decref(root);
    char *md_path = tu_path(out, "report.md");
    FILE *f = fopen(md_path, "r");
    cr_assert_not_null(f);
    char line[4096];
    int rows = 0;
    while (fgets(line, sizeof line, f))
        rows += line[0] == '|' && strstr(line, "indiv-e0.3-popular") != NULL;
    fclose(f);
    cr_assert_geq(rows, 1, "no table row of the popular aim in report.md");
    free(md_path);
    free(path);
    indiv_study_results_free(r);
    free(out);
    tu_rmtree(dir);
}
