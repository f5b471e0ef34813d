/*
 * study.c — the pure parts of the ethics study (contract in study.h): the claim table,
 * the conditions, the study metrics, settings strings, the paired effect and the
 * verdict rules. Nothing here runs a simulation or touches a file: study_run.c runs,
 * study_report.c writes.
 *
 * The interview transcripts are not among the project's materials. Every French line
 * below is a reconstruction from the English wording of the project brief (DESIGN.md
 * and the study's issue), labelled as such wherever it is shown; no interviewee is
 * named and nothing is presented as a verbatim quotation.
 */
#include "indiv/study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

#include "indiv/experiment.h"

#define SOURCE_UNKNOWN                                                                   \
    "interview not identified in the available materials (the transcripts are not in " \
    "the repository; wording reconstructed from the project brief)"

/* Settings tokens are at most this long ("features=all,-moments"). */
#define TOKEN_MAX 128

/* ---- conditions -------------------------------------------------------------------- */

static const indiv_study_condition conditions[] = {
    {"indiv", "policy=indiv", 1, "the engine at its defaults (threshold 0.3, serendipity 0.1)"},
    {"indiv-e0.3", "policy=indiv serendipity=0.3", 1, "the engine with serendipity 0.3"},
    {"indiv-e0", "policy=indiv serendipity=0", 1, "the engine without serendipity"},
    {"no-threshold", "policy=indiv-no-threshold", 1,
     "the engine with threshold 0: every eligible consumer gets their best offers"},
    {"mass", "policy=mass", 1, "one campaign: the most popular offers to everyone eligible"},
    {"persona", "policy=persona", 1, "5 k-means segments, each its segment's best offers"},
    {"oracle", "policy=oracle", 1, "knows every true taste, latent ones included"},
    {"timing-off", "policy=indiv features=all,-moments min_readiness=0", 1,
     "no moments feature (sent at the decision time) and no readiness deferral"},
    {"minimal", "policy=indiv features=taste window=90", 1,
     "profiles from tastes only, over the last 90 days"},
    {"indiv-long", "policy=indiv", 2, "the engine, twice the rounds"},
    {"no-threshold-long", "policy=indiv-no-threshold", 2, "threshold 0, twice the rounds"},
    {"mass-long", "policy=mass", 2, "mass campaign, twice the rounds"},
};
#define NCONDITIONS (sizeof conditions / sizeof conditions[0])

size_t indiv_study_condition_count(void) {
    return NCONDITIONS;
}

const indiv_study_condition *indiv_study_condition_at(size_t i) {
    return i < NCONDITIONS ? &conditions[i] : NULL;
}

const indiv_study_condition *indiv_study_condition_find(const char *id) {
    for (size_t i = 0; id && i < NCONDITIONS; i++)
        if (strcmp(conditions[i].id, id) == 0)
            return &conditions[i];
    return NULL;
}

/* ---- claims ------------------------------------------------------------------------ */

/* The assumptions shared by several claims, as override strings. */
#define LATENT_NONE  "w:latent_share=0"
#define LATENT_RICH  "w:latent_share=1 w:latent_tastes_mean=4"
#define RESPONSIVE   "w:react_alpha=5 w:react_beta=5 conversion_max=1"
#define NEVER_TIRE   "annoyance_per_irrelevant=0 annoyance_per_contact=0"
#define EASILY_TIRED "annoyance_per_irrelevant=4 annoyance_per_contact=0.4"
#define MOMENT_FREE  "wrong_moment_factor=1 not_ready_factor=1"
#define MOMENT_ONLY  "wrong_moment_factor=0 not_ready_factor=0"

static const indiv_study_claim claims[] = {
    {"serendipity",
     "Convergent engines forbid new things; the consumer goes elsewhere",
     "« Les moteurs qui ne font que converger interdisent la nouveauté ; alors le "
     "consommateur va chercher ailleurs. »",
     "Engines that only converge on what a person already likes \"forbid new things\", "
     "and the consumer then looks for them elsewhere.",
     SOURCE_UNKNOWN,
     "indiv with serendipity ε = 0.3 against ε = 0, all else at the engine's defaults. "
     "ε = 0.3 rather than the default 0.1 because the draw is ε × the person's openness "
     "(mean 0.29): at 0.1 about one contact in fifty carries a divergent offer, too few "
     "to measure in a few seeds; 0.3 about triples it and keeps it a minority (it rides "
     "along, in the last of three slots).",
     INDIV_STUDY_EFFECT, "latent_revealed_pct", +1, 1.0, 0,
     "leakage_pct,diversity,revenue,divergent_share", 1,
     {{"indiv-e0.3", "indiv-e0", 1}},
     "consumers have latent tastes (30% of them, 1.5 on average) and answer contacts "
     "(reaction rate Beta(2, 18), purchase 0.3 × utility)",
     LATENT_NONE, LATENT_RICH " " RESPONSIVE, "conditions"},
    {"bubbles",
     "Deliberate error breaks bubbles (the red sweaters)",
     "« Vous aimez les pulls rouges, alors on ne vous propose que des pulls rouges : "
     "l'erreur volontaire casse la bulle. »",
     "Proposing now and then something outside a person's known tastes (a deliberate "
     "\"error\") breaks the bubble of \"you like red sweaters, so only red sweaters\".",
     SOURCE_UNKNOWN,
     "The same runs as the serendipity claim (ε = 0.3 against 0), read on what people "
     "end up consuming: the diversity of their purchases, the share of contacted offers "
     "inside their known tastes, and how alike consumers become.",
     INDIV_STUDY_EFFECT, "diversity", +1, 0, 0.01,
     "bubble_share,jaccard_categories,divergent_share", 1,
     {{"indiv-e0.3", "indiv-e0", 1}},
     "consumers have latent tastes and answer contacts (as for serendipity)", LATENT_NONE,
     LATENT_RICH " " RESPONSIVE, "conditions"},
    {"threshold",
     "Below a certain relevance, do nothing — rather than campaigns to everyone",
     "« En dessous d'un certain niveau de pertinence, on ne fait rien », plutôt que "
     "d'envoyer les campagnes à tout le monde en comptant sur la loi des grands nombres.",
     "\"Below a certain level of relevance, we do nothing\", instead of sending campaigns "
     "to everyone and counting on the law of large numbers.",
     SOURCE_UNKNOWN,
     "indiv (threshold τ = 0.3) against a mass campaign and against the same engine with "
     "τ = 0. The claim is about people lost: unsubscribes and departures.",
     INDIV_STUDY_EFFECT, "losses", -1, 0, 0.10,
     "irrelevant_contacts,conversions,unsubscribes", 2,
     {{"indiv", "mass", 1}, {"indiv", "no-threshold", 1}},
     "irrelevant contacts annoy (+1 each, +0.1 per contact, decay 0.9 a round) and "
     "people leave or unsubscribe at their tolerance (gamma, mean 5)",
     NEVER_TIRE, EASILY_TIRED, "conditions"},
    {"respect",
     "Respect of the individual is what makes the relationship last",
     "« C'est le respect de l'individu qui fait que la relation dure. »",
     "Respecting the individual (not soliciting them when there is nothing relevant) is "
     "what makes the relationship last.",
     SOURCE_UNKNOWN,
     "indiv against the same engine without threshold (τ = 0) and against a mass "
     "campaign, over twice the study's rounds: revenue over the long horizon, and who is "
     "still there at the end.",
     INDIV_STUDY_EFFECT, "revenue", +1, 0, 0.01, "active,losses,conversions", 2,
     {{"indiv-long", "no-threshold-long", 1}, {"indiv-long", "mass-long", 0}},
     "irrelevant contacts annoy and people leave at their tolerance (as for threshold); "
     "those who leave stop buying",
     NEVER_TIRE, EASILY_TIRED " p_leave=1", "rounds"},
    {"personas",
     "From mass marketing, to personas, to individuation",
     "« On est passé du marketing de masse aux personas, puis à l'individuation. »",
     "Marketing went from mass campaigns to personas (segments), and then to "
     "individuation; each step serves people better.",
     SOURCE_UNKNOWN,
     "The three policies on the same worlds: mass (same offers to everyone), persona "
     "(5 k-means segments of the profiles' tastes) and indiv. Each step must bring more "
     "conversions than the previous one.",
     INDIV_STUDY_EFFECT, "conversions", +1, 0, 0.05, "irrelevant_share,losses,revenue", 2,
     {{"persona", "mass", 1}, {"indiv", "persona", 1}},
     "tastes differ between people (category popularity Zipf with exponent 1, 3 known "
     "tastes on average)",
     "w:category_zipf=4", "w:category_zipf=0", "conditions"},
    {"timing",
     "The right moment matters (rhythm, readiness)",
     "« Le bon moment compte : le rythme de la personne, le moment où elle est prête. »",
     "The right moment matters: the person's rhythm, and whether they are ready to buy.",
     SOURCE_UNKNOWN,
     "indiv against the same engine with timing off: profiles without the moments "
     "feature (the send time falls back to the decision time) and no readiness deferral "
     "(min_readiness 0).",
     INDIV_STUDY_EFFECT, "conversions", +1, 0, 0.05, "conversion_rate,contacts,losses", 1,
     {{"indiv", "timing-off", 1}},
     "opening is halved far from the preferred hour (wrong_moment_factor 0.5) and buying "
     "halved shortly after a purchase (not_ready_factor 0.5)",
     MOMENT_FREE, MOMENT_ONLY, "conditions"},
    {"minimisation",
     "We don't need all this data (data minimisation, digital sobriety)",
     "« On n'a pas besoin de toutes ces données. »",
     "\"We don't need all this data\": a profile built from less data (tastes only, the "
     "last 90 days) decides about as well, for less storage and computation.",
     SOURCE_UNKNOWN,
     "indiv with profiles from tastes only over the last 90 days against all six "
     "feature groups over the whole history. Non-inferiority: the claim holds when at "
     "most 5% of conversions are lost. Bytes stored and build time come from actual "
     "profile builds on a study world and on the real Online Retail sample.",
     INDIV_STUDY_NONINFERIOR, "conversions", +1, 0, 0.05, "revenue,irrelevant_share,losses",
     1, {{"minimal", "indiv", 1}},
     "the moment and readiness matter (as for timing): the features dropped carry them",
     MOMENT_ONLY, MOMENT_FREE, "conditions"},
    {"scale",
     "A million customers × campaigns × channels × options is beyond any person",
     "« Un million de clients × les campagnes × les canaux × une centaine d'options : "
     "environ 500 millions de possibilités, aucune personne ne peut traiter ça. »",
     "A million customers × campaigns × channels × about a hundred options — about 500 "
     "million possibilities — is beyond what any person can handle.",
     SOURCE_UNKNOWN,
     "Measured, not simulated: candidates (consumer × offer × 3 channels) evaluated per "
     "second by the decision run on a study world and on the real sample, extrapolated "
     "to 1,000,000 consumers × 100 offers × 3 channels for one campaign (one decision "
     "run). Supported when the engine needs at most 24 hours on this machine.",
     INDIV_STUDY_DESCRIPTIVE, "engine_hours", -1, 0, 0, "", 0, {{0}},
     "the decision run's cost grows linearly with consumers × offers (measured at two "
     "sizes, extrapolated)",
     NULL, NULL, NULL},
    {"enclosure",
     "Personalisation can enclose and manipulate",
     "« La personnalisation peut enfermer, et manipuler. »",
     "Personalisation can enclose people (everyone pushed toward the same things, the "
     "same few offers) and manipulate them.",
     SOURCE_UNKNOWN,
     "indiv, mass and persona against the oracle that knows every true taste: "
     "homogenisation is the excess Jaccard similarity of what pairs of consumers "
     "consumed over the oracle's (Chaney, Stewart & Engelhardt 2018); exposure "
     "concentration is the Gini of contacts over offers. Manipulation is not modelled.",
     INDIV_STUDY_EFFECT, "jaccard_categories", +1, 0, 0.05, "exposure_gini,diversity", 3,
     {{"indiv", "oracle", 1}, {"mass", "oracle", 0}, {"persona", "oracle", 0}},
     "consumers have latent tastes the ideal recommender can serve",
     LATENT_NONE, LATENT_RICH, "scatter"},
};
#define NCLAIMS (sizeof claims / sizeof claims[0])

size_t indiv_study_claim_count(void) {
    return NCLAIMS;
}

const indiv_study_claim *indiv_study_claim_at(size_t i) {
    return i < NCLAIMS ? &claims[i] : NULL;
}

const indiv_study_claim *indiv_study_claim_find(const char *id) {
    for (size_t i = 0; id && i < NCLAIMS; i++)
        if (strcmp(claims[i].id, id) == 0)
            return &claims[i];
    return NULL;
}

/* ---- metrics ----------------------------------------------------------------------- */

static const indiv_study_metric metrics[] = {
    {"conversions", "purchases", "purchases caused by contacts"},
    {"conversion_rate", "share", "conversions per contact"},
    {"contacts", "contacts", "contacts sent"},
    {"revenue", "currency", "value of all purchases, organic and from contacts"},
    {"irrelevant_share", "share", "share of contacts whose best offer is irrelevant"},
    {"irrelevant_contacts", "contacts", "contacts whose best offer is irrelevant"},
    {"losses", "consumers", "unsubscribes + departures"},
    {"unsubscribes", "consumers", "consumers who withdrew contact consent"},
    {"active", "consumers", "consumers still active at the end"},
    {"latent_revealed_pct", "%", "latent tastes revealed by contacts, % of the world's"},
    {"leakage_pct", "%", "latent needs met elsewhere, % of the world's latent tastes"},
    {"diversity", "bits", "mean category entropy of each consumer's purchases"},
    {"bubble_share", "share", "share of contacted offers inside known tastes"},
    {"divergent_share", "share", "share of contacts carrying a divergent offer"},
    {"jaccard_categories", "similarity",
     "mean Jaccard similarity of the categories pairs of consumers bought"},
    {"exposure_gini", "Gini", "concentration of contacts over offers (last round)"},
};
#define NMETRICS_STUDY (sizeof metrics / sizeof metrics[0])

size_t indiv_study_metric_count(void) {
    return NMETRICS_STUDY;
}

const indiv_study_metric *indiv_study_metric_at(size_t i) {
    return i < NMETRICS_STUDY ? &metrics[i] : NULL;
}

const indiv_study_metric *indiv_study_metric_find(const char *name) {
    for (size_t i = 0; name && i < NMETRICS_STUDY; i++)
        if (strcmp(metrics[i].name, name) == 0)
            return &metrics[i];
    return NULL;
}

/* The simulation metric of the same name, or −1. */
static int sim_metric(const char *name) {
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        if (strcmp(indiv_sim_metric_name(m), name) == 0)
            return m;
    return -1;
}

static double pct_of(double x, double total) {
    return total > 0 ? 100.0 * x / total : 0;
}

int indiv_study_metric_value(const char *name, const double agg[INDIV_SIM_NMETRICS],
                             double latent_tastes, double *out, indiv_error *err) {
    if (!indiv_study_metric_find(name))
        return indiv_error_set(err, INDIV_EINVAL, "unknown study metric '%s'", name);
    int m = sim_metric(name);
    if (m >= 0)
        *out = agg[m];
    else if (strcmp(name, "losses") == 0)
        *out = agg[INDIV_M_unsubscribes] + agg[INDIV_M_departures];
    else if (strcmp(name, "irrelevant_contacts") == 0)
        /* the aggregate share is weighted by contacts, so this is the total count */
        *out = agg[INDIV_M_irrelevant_share] * agg[INDIV_M_contacts];
    else if (strcmp(name, "latent_revealed_pct") == 0)
        *out = pct_of(agg[INDIV_M_latent_revealed_total], latent_tastes);
    else
        *out = pct_of(agg[INDIV_M_leakage], latent_tastes);
    return INDIV_OK;
}

/* ---- settings ---------------------------------------------------------------------- */

/* Applies one NAME=VALUE token; "w:" names a world parameter. A NULL target is replaced
 * by a scratch copy of the defaults, so the name and value are still checked. */
static int apply_token(const char *tok, indiv_sim_params *sim, indiv_world_params *world,
                       indiv_error *err) {
    const char *eq = strchr(tok, '=');
    char name[TOKEN_MAX];
    if (!eq || eq == tok || (size_t)(eq - tok) >= sizeof name)
        return indiv_error_set(err, INDIV_EINVAL, "setting '%s' is not NAME=VALUE", tok);
    snprintf(name, sizeof name, "%.*s", (int)(eq - tok), tok);
    if (strncmp(name, "w:", 2) == 0) {
        indiv_world_params scratch;
        if (!world)
            indiv_world_params_init(world = &scratch);
        return indiv_world_params_set(world, name + 2, eq + 1, err);
    }
    indiv_sim_params scratch;
    if (!sim)
        indiv_sim_params_init(sim = &scratch);
    return indiv_sim_params_set(sim, name, eq + 1, err);
}

int indiv_study_apply(const char *settings, indiv_sim_params *sim,
                      indiv_world_params *world, indiv_error *err) {
    const char *p = settings ? settings : "";
    int rc = INDIV_OK;
    while (rc == INDIV_OK && *(p += strspn(p, " "))) {
        size_t len = strcspn(p, " ");
        char tok[TOKEN_MAX];
        if (len >= sizeof tok)
            return indiv_error_set(err, INDIV_EINVAL, "setting '%.*s' is too long", (int)len,
                                   p);
        snprintf(tok, sizeof tok, "%.*s", (int)len, p);
        rc = apply_token(tok, sim, world, err);
        p += len;
    }
    if (rc == INDIV_OK && sim)
        rc = indiv_sim_params_validate(sim, err);
    if (rc == INDIV_OK && world)
        rc = indiv_world_params_validate(world, err);
    return rc;
}

/* ---- table check ------------------------------------------------------------------- */

static int check_settings(const char *what, const char *id, const char *settings,
                          indiv_error *err) {
    indiv_sim_params s;
    indiv_world_params w;
    indiv_sim_params_init(&s);
    indiv_world_params_init(&w);
    indiv_error e = {0};
    if (indiv_study_apply(settings, &s, &w, &e) < 0)
        return indiv_error_set(err, INDIV_EINVAL, "%s '%s': %s", what, id, e.msg);
    return INDIV_OK;
}

static int check_text(const indiv_study_claim *c, const char *field, const char *v,
                      indiv_error *err) {
    if (!v || !*v)
        return indiv_error_set(err, INDIV_EINVAL, "claim '%s': %s is missing",
                               c->id ? c->id : "?", field);
    return INDIV_OK;
}

static int check_metrics(const indiv_study_claim *c, indiv_error *err) {
    if (c->kind != INDIV_STUDY_DESCRIPTIVE && !indiv_study_metric_find(c->metric))
        return indiv_error_set(err, INDIV_EINVAL, "claim '%s': unknown metric '%s'", c->id,
                               c->metric);
    const char *p = c->secondary;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char name[TOKEN_MAX];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        if (!indiv_study_metric_find(name))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "claim '%s': unknown secondary metric '%s'", c->id, name);
        p += len + (p[len] == ',');
    }
    return INDIV_OK;
}

/* The rule needs: a direction, δ ≥ 0, a primary comparison of known conditions, and
 * both sensitivity directions (effect and non-inferiority claims). */
static int check_rule(const indiv_study_claim *c, indiv_error *err) {
    if (c->kind == INDIV_STUDY_DESCRIPTIVE)
        return c->ncmp == 0 ? INDIV_OK
                            : indiv_error_set(err, INDIV_EINVAL,
                                              "claim '%s': descriptive with comparisons", c->id);
    int primary = 0;
    if ((c->direction != 1 && c->direction != -1) || !(c->delta_abs >= 0) ||
        !(c->delta_rel >= 0) || c->ncmp == 0 || c->ncmp > INDIV_STUDY_CMP_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "claim '%s': incomplete verdict rule",
                               c->id);
    for (size_t k = 0; k < c->ncmp; k++) {
        if (!indiv_study_condition_find(c->cmp[k].treatment) ||
            !indiv_study_condition_find(c->cmp[k].reference))
            return indiv_error_set(err, INDIV_EINVAL, "claim '%s': comparison %zu names an "
                                   "unknown condition", c->id, k + 1);
        primary += c->cmp[k].primary;
    }
    if (!primary)
        return indiv_error_set(err, INDIV_EINVAL, "claim '%s': no primary comparison",
                               c->id);
    int rc = check_text(c, "contra", c->contra, err);
    if (rc == INDIV_OK)
        rc = check_text(c, "pro", c->pro, err);
    if (rc == INDIV_OK)
        rc = check_settings("contra of claim", c->id, c->contra, err);
    return rc == INDIV_OK ? check_settings("pro of claim", c->id, c->pro, err) : rc;
}

static int check_claim(const indiv_study_claim *c, indiv_error *err) {
    const char *texts[][2] = {{"id", c->id},
                              {"title", c->title},
                              {"quote_fr", c->quote_fr},
                              {"paraphrase", c->paraphrase},
                              {"source", c->source},
                              {"design", c->design},
                              {"metric", c->metric},
                              {"assumption", c->assumption}};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
        if (check_text(c, texts[k][0], texts[k][1], err) < 0)
            return INDIV_EINVAL;
    int rc = check_metrics(c, err);
    return rc == INDIV_OK ? check_rule(c, err) : rc;
}

int indiv_study_table_check(indiv_error *err) {
    for (size_t i = 0; i < NCONDITIONS; i++) {
        if (check_settings("condition", conditions[i].id, conditions[i].settings, err) < 0)
            return INDIV_EINVAL;
        if (conditions[i].rounds_factor < 1)
            return indiv_error_set(err, INDIV_EINVAL, "condition '%s': rounds factor < 1",
                                   conditions[i].id);
    }
    for (size_t i = 0; i < NCLAIMS; i++) {
        if (check_claim(&claims[i], err) < 0)
            return INDIV_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(claims[i].id, claims[j].id) == 0)
                return indiv_error_set(err, INDIV_EINVAL, "claim id '%s' twice",
                                       claims[i].id);
    }
    return INDIV_OK;
}

/* ---- statistics -------------------------------------------------------------------- */

int indiv_study_paired(const double *t, const double *r, size_t n, indiv_study_effect *out,
                       indiv_error *err) {
    if (n < INDIV_STUDY_SEEDS_MIN)
        return indiv_error_set(err, INDIV_EINVAL, "a paired interval needs %d seeds, not %zu",
                               INDIV_STUDY_SEEDS_MIN, n);
    double *d = malloc(n * sizeof *d);
    if (!d)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int rc = INDIV_OK;
    for (size_t s = 0; s < n && rc == INDIV_OK; s++)
        if (!isfinite(d[s] = t[s] - r[s]))
            rc = indiv_error_set(err, INDIV_EINVAL, "seed %zu: a value is not finite", s);
    indiv_sweep_stat st;
    if (rc == INDIV_OK)
        rc = indiv_sweep_stat_compute(d, n, INDIV_STUDY_CI_LEVEL, &st, err);
    free(d);
    if (rc < 0)
        return rc;
    *out = (indiv_study_effect){n, gsl_stats_mean(t, 1, n), gsl_stats_mean(r, 1, n),
                                st.mean, st.sd, st.half, st.mean - st.half,
                                st.mean + st.half};
    return INDIV_OK;
}

/* ---- rules ------------------------------------------------------------------------- */

double indiv_study_delta(const indiv_study_claim *c, const indiv_study_effect *e) {
    return c->delta_abs + c->delta_rel * fabs(e->mean_r);
}

static indiv_verdict effect_rule(const indiv_study_claim *c, const indiv_study_effect *e) {
    double delta = indiv_study_delta(c, e), s = c->direction;
    double mean = s * e->mean, lo = mean - e->half, hi = mean + e->half;
    if (lo > 0 && mean >= delta)
        return INDIV_VERDICT_SUPPORTED;
    if (hi < 0 || (lo >= -delta && hi <= delta))
        return INDIV_VERDICT_NOT_SUPPORTED;
    return INDIV_VERDICT_INCONCLUSIVE;
}

static indiv_verdict noninferior_rule(const indiv_study_claim *c,
                                      const indiv_study_effect *e) {
    double delta = indiv_study_delta(c, e);
    if (e->lo > -delta)
        return INDIV_VERDICT_SUPPORTED;
    if (e->hi < -delta)
        return INDIV_VERDICT_NOT_SUPPORTED;
    return INDIV_VERDICT_INCONCLUSIVE;
}

indiv_verdict indiv_study_rule(const indiv_study_claim *c, const indiv_study_effect *e) {
    if (!isfinite(e->mean) || !isfinite(e->half))
        return INDIV_VERDICT_INCONCLUSIVE;
    switch (c->kind) {
    case INDIV_STUDY_EFFECT: return effect_rule(c, e);
    case INDIV_STUDY_NONINFERIOR: return noninferior_rule(c, e);
    default: return INDIV_VERDICT_NONE;
    }
}

indiv_verdict indiv_study_combine(const indiv_verdict *v, size_t n) {
    size_t supported = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == INDIV_VERDICT_NOT_SUPPORTED)
            return INDIV_VERDICT_NOT_SUPPORTED;
        supported += v[i] == INDIV_VERDICT_SUPPORTED;
    }
    if (n == 0)
        return INDIV_VERDICT_NONE;
    return supported == n ? INDIV_VERDICT_SUPPORTED : INDIV_VERDICT_INCONCLUSIVE;
}

indiv_verdict indiv_study_final(indiv_verdict base, indiv_verdict mild) {
    if ((base == INDIV_VERDICT_SUPPORTED && mild == INDIV_VERDICT_NOT_SUPPORTED) ||
        (base == INDIV_VERDICT_NOT_SUPPORTED && mild == INDIV_VERDICT_SUPPORTED))
        return INDIV_VERDICT_DEPENDS;
    return base;
}

const char *indiv_verdict_name(indiv_verdict v) {
    switch (v) {
    case INDIV_VERDICT_SUPPORTED: return "supported";
    case INDIV_VERDICT_NOT_SUPPORTED: return "not supported";
    case INDIV_VERDICT_INCONCLUSIVE: return "inconclusive";
    case INDIV_VERDICT_DEPENDS: return "depends on an assumption";
    default: return "not run";
    }
}
