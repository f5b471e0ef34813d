/*
 * study.c — the pure parts of the ethics study (contract in study.h): the claim table,
 * the conditions, the study metrics, settings strings, the paired effect and the
 * verdict rules. Nothing here runs a simulation or touches a file: study_run.c runs,
 * study_report.c writes.
 *
 * Every quotation below is an exact substring of ../shared/interviews.md (the
 * interviews' exact words with speaker and source id; a test holds them to it), shown
 * in « » with its speaker and source. Claims of that file the study does not test are
 * listed with the reason (indiv_study_unstudied_at).
 */
#include "indiv/study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

#include "indiv/experiment.h"
#include "study_internal.h"

/* Speakers and sources of ../shared/interviews.md (ids S1..S4 as there). */
#define SPEAKER_AMARSY  "Stéphane Amarsy"
#define SPEAKER_LE_ROUX "Arnaud Le Roux"
#define SOURCE_S1                                                                        \
    "S1: Stéphane Amarsy (CEO and founder of D-AIM), podcast How I met your algo #02, " \
    "published transcript"
#define SOURCE_S2                                                                        \
    "S2: Stéphane Amarsy, written interview \"Qu'est-ce que l'hyper-personnalisation "  \
    "?\""
#define SOURCE_S3                                                                        \
    "S3: Arnaud Le Roux (then Chief Digital Officer, Solutions #ByOpen), \"IA et "       \
    "Transmarketing 4ème interview\", Kiss The Bride agency blog"

/* Settings tokens are at most this long ("features=all,-moments"). */
#define TOKEN_MAX 128

/* ---- conditions -------------------------------------------------------------------- */

static const indiv_study_condition conditions[] = {
    {"indiv", "policy=indiv", 1,
     "the engine at its defaults (threshold 0.3, serendipity 0.1)"},
    {"indiv-e0.3", "policy=indiv serendipity=0.3 divergence_aim=adjacent", 1,
     "the engine with serendipity 0.3, divergent offers aimed `adjacent` (the default: "
     "propensity × co-purchase lift of the category)"},
    {"indiv-e0.3-popular", "policy=indiv serendipity=0.3 divergence_aim=popular", 1,
     "serendipity 0.3 with divergent offers aimed `popular` (∝ propensity alone)"},
    {"indiv-e0", "policy=indiv serendipity=0", 1, "the engine without serendipity"},
    {"indiv-e0.3-perfect", "policy=indiv serendipity=0.3 perfect_aim=1", 1,
     "serendipity 0.3 with every divergent offer aimed at the person's heaviest latent "
     "taste (the truth: the ceiling of aiming, no engine can do it)"},
    {"no-threshold", "policy=indiv-no-threshold", 1,
     "the engine with threshold 0: every eligible consumer gets their best offers"},
    {"mass", "policy=mass", 1,
     "one campaign: the most popular offers to everyone eligible"},
    {"persona", "policy=persona", 1,
     "5 k-means segments, each its segment's best offers"},
    {"oracle", "policy=oracle", 1, "knows every true taste, latent ones included"},
    {"timing-off", "policy=indiv features=all,-moments min_readiness=0", 1,
     "no moments feature (sent at the decision time) and no readiness deferral"},
    {"minimal", "policy=indiv features=taste window=90", 1,
     "profiles from tastes only, over the last 90 days"},
    {"indiv-long", "policy=indiv", 2, "the engine, twice the rounds"},
    {"no-threshold-long", "policy=indiv-no-threshold", 2,
     "threshold 0, twice the rounds"},
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
#define LATENT_NONE "w:latent_share=0"
#define LATENT_RICH "w:latent_share=1 w:latent_tastes_mean=4"
#define RESPONSIVE  "w:react_alpha=5 w:react_beta=5 conversion_max=1"
#define NEVER_TIRE                                                                       \
    "annoyance_per_irrelevant=0 annoyance_per_contact=0 "                                \
    "annoyance_per_unwanted_divergent=0"
#define EASILY_TIRED "annoyance_per_irrelevant=4 annoyance_per_contact=0.4"
#define MOMENT_FREE  "wrong_moment_factor=1 not_ready_factor=1"
#define MOMENT_ONLY  "wrong_moment_factor=0 not_ready_factor=0"

static const indiv_study_claim claims[] = {
    {.id = "serendipity",
     .title = "Convergent engines forbid new things; the consumer goes elsewhere",
     .nquotes = 2,
     .quotes = {{"les algorithmes vont tout faire pour que cet objectif se réalise, et "
                 "donc de fait, ils interdisent de nouvelles choses.",
                 SPEAKER_AMARSY, "S1"},
                {"si on interdit de façon inconsciente certains actes, obligatoirement "
                 "lorsque le consommateur aura envie de faire ces actes, il ira "
                 "ailleurs, car il aura jamais identifié que c’était possible de le "
                 "faire là.",
                 SPEAKER_AMARSY, "S1"}},
     .paraphrase =
         "Engines that only converge on what a person already likes \"forbid new "
         "things\", and the consumer then looks for them elsewhere.",
     .source = SOURCE_S1,
     .design =
         "indiv with serendipity ε = 0.3 against ε = 0, all else at the engine's "
         "defaults. ε = 0.3 rather than the default 0.1 because the draw is ε × the "
         "person's openness (mean 0.29): at 0.1 about one contact in fifty carries a "
         "divergent offer, too few to measure in a few seeds; 0.3 about triples it "
         "and keeps it a minority (it rides along, in the last of three slots). "
         "Reference conditions, reported beside the verdict: the same ε with every "
         "divergent offer aimed at the truth (perfect aim, the ceiling of aiming), "
         "the mass campaign, and the oracle that knows every latent taste; each "
         "with its divergent hit rate (divergent offers landing in a latent taste) "
         "and its cost (unwanted divergent offers, irrelevant share, conversions). "
         "The engine's own aim: ε = 0.3 is the default aim `adjacent` (propensity × "
         "co-purchase lift), and the same ε aimed `popular` (propensity alone) is "
         "reported beside it. A latent taste is revealed by buying an offer of it or "
         "by engaging with one (reveal_on_engagement).",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "latent_revealed_pct",
     .direction = +1,
     .delta_abs = 1.0, /* one percentage point of the world's latent tastes */
     .secondary = "divergent_hit_rate,unwanted_divergent,irrelevant_share,conversions,"
                  "leakage_pct,latent_revealed_engaged_pct",
     .ncmp = 5,
     .cmp = {{"indiv-e0.3", "indiv-e0", 1},
             {"indiv-e0.3-popular", "indiv-e0", 0},
             {"indiv-e0.3-perfect", "indiv-e0", 0},
             {"mass", "indiv-e0", 0},
             {"oracle", "indiv-e0", 0}},
     .assumption =
         "consumers have latent tastes (30% of them, 1.5 on average) and answer "
         "contacts (reaction rate Beta(2, 18), purchase 0.3 × utility)",
     .contra = LATENT_NONE " reveal_on_engagement=0 w:taste_locality=0",
     .pro = LATENT_RICH " " RESPONSIVE " reveal_on_engagement=0.5 w:taste_locality=0.5",
     .figure = "conditions"},
    {.id = "bubbles",
     .title = "Deliberate error breaks bubbles (the red sweaters)",
     .nquotes = 1,
     .quotes = {{"Chez D-AIM, nous fabriquons volontairement de l’erreur pour pouvoir "
                 "casser les phénomènes de bulles. Par exemple, si je sais que tu aimes "
                 "les pulls rouges, l’algorithme pourrait te proposer uniquement des "
                 "pulls rouges, sauf que tu pourrais apprécier les pulls d’une autre "
                 "couleur, sans le savoir.",
                 SPEAKER_AMARSY, "S2"}},
     .paraphrase =
         "Proposing now and then something outside a person's known tastes (a "
         "deliberate \"error\") breaks the bubble of \"you like red sweaters, so "
         "only red sweaters\".",
     .source = SOURCE_S2,
     .design = "The same runs as the serendipity claim (ε = 0.3 against 0), read on what "
               "people end up consuming: the diversity of their purchases, the share of "
               "contacted offers inside their known tastes, and how alike consumers "
               "become. The same references beside it: ε = 0.3 aimed `popular` "
               "instead of the default `adjacent`, perfect aim, the mass campaign, and "
               "the oracle for scale.",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "diversity",
     .direction = +1,
     .delta_rel = 0.01,
     .secondary = "bubble_share,jaccard_matched,divergent_hit_rate,unwanted_divergent,"
                  "irrelevant_share,conversions",
     .ncmp = 5,
     .cmp = {{"indiv-e0.3", "indiv-e0", 1},
             {"indiv-e0.3-popular", "indiv-e0", 0},
             {"indiv-e0.3-perfect", "indiv-e0", 0},
             {"mass", "indiv-e0", 0},
             {"oracle", "indiv-e0", 0}},
     .assumption =
         "consumers have latent tastes and answer contacts (as for serendipity)",
     .contra = LATENT_NONE " reveal_on_engagement=0 w:taste_locality=0",
     .pro = LATENT_RICH " " RESPONSIVE " reveal_on_engagement=0.5 w:taste_locality=0.5",
     .figure = "conditions"},
    {.id = "threshold",
     .title = "Below a certain relevance, do nothing — rather than campaigns to everyone",
     .nquotes = 2,
     .quotes = {{"en-dessous d’un certain niveau de pertinence, on ne fait rien.",
                 SPEAKER_AMARSY, "S2"},
                {"En envoyant une campagne à tout le monde, ils vont forcément récupérer "
                 "des individus intéressés. Sauf que beaucoup auront reçu une "
                 "communication non pertinente.",
                 SPEAKER_AMARSY, "S2"}},
     .paraphrase = "\"Below a certain level of relevance, we do nothing\", instead of "
                   "sending campaigns to everyone and counting on the law of large "
                   "numbers.",
     .source = SOURCE_S2,
     .design = "indiv (threshold τ = 0.3) against a mass campaign and against the same "
               "engine with τ = 0. The claim is about people lost: unsubscribes and "
               "departures.",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "losses",
     .direction = -1,
     .delta_rel = 0.10,
     .secondary = "irrelevant_contacts,conversions,unsubscribes",
     .ncmp = 2,
     .cmp = {{"indiv", "mass", 1}, {"indiv", "no-threshold", 1}},
     .assumption =
         "irrelevant contacts annoy (+1 each, +0.1 per contact, decay 0.9 a "
         "round) and people leave or unsubscribe at their tolerance (gamma, mean "
         "5)",
     .contra = NEVER_TIRE,
     .pro = EASILY_TIRED,
     .figure = "conditions"},
    {.id = "respect",
     .title = "Respect of the individual is what makes the relationship last",
     .nquotes = 1,
     .quotes = {{"Selon moi, le respect de l’individu est gage de durée de vie dans la "
                 "relation. Si je ne le respecte pas, un jour il y aura une rupture "
                 "parce qu’il va s’en rendre compte.",
                 SPEAKER_AMARSY, "S2"}},
     .paraphrase = "Respecting the individual (not soliciting them when there is nothing "
                   "relevant) is what makes the relationship last.",
     .source = SOURCE_S2,
     .design = "indiv against the same engine without threshold (τ = 0) and against a "
               "mass campaign, over twice the study's rounds: revenue over the long "
               "horizon, and who is still there at the end.",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "revenue",
     .direction = +1,
     .delta_rel = 0.01,
     .secondary = "active,losses,conversions",
     .ncmp = 2,
     .cmp = {{"indiv-long", "no-threshold-long", 1}, {"indiv-long", "mass-long", 0}},
     .assumption =
         "irrelevant contacts annoy and people leave at their tolerance (as for "
         "threshold); those who leave stop buying",
     .contra = NEVER_TIRE,
     .pro = EASILY_TIRED " p_leave=1",
     .figure = "rounds"},
    {.id = "personas",
     .title = "From mass marketing, to personas, to individuation",
     .nquotes = 1,
     .quotes = {{"Nous sommes passés d’une ère du marketing de masse à celle du persona. "
                 "On adresse toujours massivement mais vers des groupes identifiés. Et "
                 "la prochaine ère du marketing sera celle de l’ultra-personnalisation.",
                 SPEAKER_LE_ROUX, "S3"}},
     .paraphrase = "Marketing went from mass campaigns to personas (segments), and then "
                   "to individuation; each step serves people better.",
     .source = SOURCE_S3,
     .design =
         "The three policies on the same worlds: mass (same offers to everyone), "
         "persona (5 k-means segments of the profiles' tastes) and indiv. Each step "
         "must bring more conversions than the previous one.",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "conversions",
     .direction = +1,
     .delta_rel = 0.05,
     .secondary = "irrelevant_share,losses,revenue",
     .ncmp = 2,
     .cmp = {{"persona", "mass", 1}, {"indiv", "persona", 1}},
     .assumption = "tastes differ between people (category popularity Zipf with exponent "
                   "1, 3 known tastes on average)",
     .contra = "w:category_zipf=4",
     .pro = "w:category_zipf=0",
     .figure = "conditions"},
    {.id = "timing",
     .title = "The right moment matters (rhythm, readiness)",
     .nquotes = 1,
     .quotes = {{"Le rythme aussi est essentiel. Lorsque vous recevez un message, si "
                 "c’est dans une problématique de moment où on est plus enclin à aimer "
                 "ce centre d’intérêt, ce n’est que mieux, l’expérience n’est que plus "
                 "riche.",
                 SPEAKER_AMARSY, "S1"}},
     .paraphrase = "The right moment matters: the person's rhythm, and whether they are "
                   "ready to buy.",
     .source = SOURCE_S1,
     .design = "indiv against the same engine with timing off: profiles without the "
               "moments feature (the send time falls back to the decision time) and no "
               "readiness deferral (min_readiness 0).",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "conversions",
     .direction = +1,
     .delta_rel = 0.05,
     .secondary = "conversion_rate,contacts,losses",
     .ncmp = 1,
     .cmp = {{"indiv", "timing-off", 1}},
     .assumption =
         "opening is halved far from the preferred hour (wrong_moment_factor "
         "0.5) and buying halved shortly after a purchase (not_ready_factor 0.5)",
     .contra = MOMENT_FREE,
     .pro = MOMENT_ONLY,
     .figure = "conditions"},
    {.id = "minimisation",
     .title = "We don't need all this data (data minimisation, digital sobriety)",
     .nquotes = 2,
     .quotes = {{"De plus, on n’a pas besoin de toutes ces données.", SPEAKER_AMARSY,
                 "S2"},
                {"Donc je peux accepter que la stratégie ne soit pas parfaite si je ne "
                 "donne pas accès à toutes les données.",
                 SPEAKER_AMARSY, "S2"}},
     .paraphrase = "\"We don't need all this data\": a profile built from less data "
                   "(tastes only, the last 90 days) decides about as well, for less "
                   "storage and computation.",
     .source = SOURCE_S2,
     .design =
         "indiv with profiles from tastes only over the last 90 days against all "
         "six feature groups over the whole history. Non-inferiority: the claim "
         "holds when at most 5% of conversions are lost. Bytes stored and build time "
         "come from actual profile builds on a study world and on the real Online "
         "Retail sample.",
     .kind = INDIV_STUDY_NONINFERIOR,
     .metric = "conversions",
     .direction = +1,
     .delta_rel = 0.05,
     .secondary = "revenue,irrelevant_share,losses",
     .ncmp = 1,
     .cmp = {{"minimal", "indiv", 1}},
     .assumption = "the moment and readiness matter (as for timing), and the feature "
                   "groups dropped carry them",
     .contra = MOMENT_ONLY,
     .pro = MOMENT_FREE,
     .figure = "conditions"},
    {.id = "scale",
     .title = "A million customers × campaigns × channels × options is beyond any person",
     .nquotes = 1,
     .quotes = {{"vous avez 1 million de clients, aujourd’hui un marketeur va faire 3 ou "
                 "4 campagnes, avec 4 ou 5 canaux différents et une centaine de "
                 "possibilités opérationnelles, on arrive à 500 millions de "
                 "possibilités, aucun humain n’est capable de traiter ça.",
                 SPEAKER_AMARSY, "S1"}},
     .paraphrase = "A million customers × campaigns × channels × about a hundred options "
                   "— about 500 million possibilities — is beyond what any person can "
                   "handle.",
     .source = SOURCE_S1,
     .design =
         "Measured, not simulated: candidates (consumer × offer × 3 channels) "
         "evaluated per second by the decision run on a study world and on the real "
         "sample, extrapolated to 1,000,000 consumers × 100 offers × 3 channels for "
         "one campaign (one decision run). Supported when the engine needs at most "
         "24 hours on this machine.",
     .kind = INDIV_STUDY_DESCRIPTIVE,
     .metric = "engine_hours",
     .direction = -1,
     .assumption = "the decision run's cost grows linearly with consumers × offers "
                   "(measured on a study world and on the real sample, then "
                   "extrapolated)"},
    {.id = "enclosure",
     .title = "Personalisation can enclose and manipulate",
     .nquotes = 2,
     .quotes = {{"il y a une dimension de manipulation, d’orientation, liberticide qui "
                 "est sous-jacente, et qu’on ne regarde pas assez.",
                 SPEAKER_AMARSY, "S1"},
                {"Ils peuvent ainsi pousser des contenus qui vont enfermer les individus "
                 "dans une « bulle » parfois peu objective et qui peut déformer la "
                 "vision des choses.",
                 SPEAKER_AMARSY, "S2"}},
     .paraphrase = "Personalisation can enclose people (everyone pushed toward the same "
                   "things, the same few offers) and manipulate them.",
     .source = SOURCE_S1 "; " SOURCE_S2,
     .design = "indiv, mass and persona against the oracle that knows every true taste: "
               "homogenisation is the excess Jaccard similarity of the offers that "
               "taste-matched pairs of consumers consumed over the oracle's, whose ties "
               "are broken at random (Chaney, Stewart & Engelhardt 2018); "
               "exposure concentration is the Gini of contacts over offers. Manipulation "
               "is not modelled.",
     .kind = INDIV_STUDY_EFFECT,
     .metric = "jaccard_matched",
     .direction = +1,
     .delta_rel = 0.05,
     .secondary = "jaccard_items,jaccard_categories,exposure_gini,diversity",
     .ncmp = 3,
     .cmp = {{"indiv", "oracle", 1}, {"mass", "oracle", 0}, {"persona", "oracle", 0}},
     .assumption = "consumers have latent tastes the ideal recommender can serve",
     .contra = LATENT_NONE,
     .pro = LATENT_RICH,
     .figure = "scatter"},
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
    {"jaccard_items", "similarity",
     "mean Jaccard similarity of the offers random pairs of consumers bought"},
    {"jaccard_matched", "similarity",
     "mean Jaccard similarity of the offers taste-matched pairs of consumers bought"},
    {"divergent_hit_rate", "share",
     "divergent offers landing in a latent taste, per "
     "divergent offer"},
    {"unwanted_divergent", "offers", "divergent offers below the irrelevant utility"},
    {"latent_revealed_engaged_pct", "%",
     "latent tastes revealed by engagement without a purchase, % of the world's"},
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
    else if (strcmp(name, "latent_revealed_engaged_pct") == 0)
        *out = pct_of(agg[INDIV_M_latent_revealed_engaged], latent_tastes);
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
            return indiv_error_set(err, INDIV_EINVAL, "setting '%.*s' is too long",
                                   (int)len, p);
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
        return indiv_error_set(err, INDIV_EINVAL, "claim '%s': unknown metric '%s'",
                               c->id, c->metric);
    const char *p = c->secondary;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char name[TOKEN_MAX];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        if (!indiv_study_metric_find(name))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "claim '%s': unknown secondary metric '%s'", c->id,
                                   name);
        p += len + (p[len] == ',');
    }
    return INDIV_OK;
}

/* The rule needs: a direction, δ ≥ 0, a primary comparison of known conditions, and
 * both sensitivity directions (effect and non-inferiority claims). */
static int check_rule(const indiv_study_claim *c, indiv_error *err) {
    if (c->kind == INDIV_STUDY_DESCRIPTIVE)
        return c->ncmp == 0
                   ? INDIV_OK
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
            return indiv_error_set(err, INDIV_EINVAL,
                                   "claim '%s': comparison %zu names an "
                                   "unknown condition",
                                   c->id, k + 1);
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

/* Claims of ../shared/interviews.md that the study does not test. */
static const indiv_study_unstudied unstudied[] = {
    {"singularity",
     "it states the engine's premise (per-person profiles from consented data, rhythms "
     "included) rather than an effect; its measurable parts are the timing, threshold "
     "and personas claims"},
    {"realtime",
     "it needs the event-driven service (decisions on event arrival); the simulation "
     "decides once per round"},
    {"consent",
     "a deployment rule, enforced by the engine (only consented data and channels are "
     "used; tested in decide and simulate), not an effect to measure"},
    {"bounds",
     "a deployment rule (explicit limits on what the engine may do and aim at), not an "
     "effect of decisions"},
    {"promise", "about a brand's claims, not about marketing decisions"},
    {"testlearn",
     "about the project method (short proof-of-concept cycles); it argues for control "
     "groups and off-policy evaluation (indiv evaluate), not for a simulated claim"},
};
#define NUNSTUDIED (sizeof unstudied / sizeof unstudied[0])

size_t indiv_study_unstudied_count(void) {
    return NUNSTUDIED;
}

const indiv_study_unstudied *indiv_study_unstudied_at(size_t i) {
    return i < NUNSTUDIED ? &unstudied[i] : NULL;
}

/* Every quotation: text, speaker and source id present, at most the maximum. */
static int check_quotes(const indiv_study_claim *c, indiv_error *err) {
    if (c->nquotes < 1 || c->nquotes > INDIV_STUDY_QUOTES_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "claim '%s': %zu quotations", c->id,
                               c->nquotes);
    for (size_t k = 0; k < c->nquotes; k++) {
        const indiv_study_quote *q = &c->quotes[k];
        if (!q->text || !*q->text || !q->speaker || !*q->speaker || !q->source_id ||
            !*q->source_id)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "claim '%s': quotation %zu lacks its text, speaker "
                                   "or source",
                                   c->id, k + 1);
    }
    return INDIV_OK;
}

static int check_claim(const indiv_study_claim *c, indiv_error *err) {
    const char *texts[][2] = {{"id", c->id},
                              {"title", c->title},
                              {"quote", c->nquotes ? c->quotes[0].text : NULL},
                              {"paraphrase", c->paraphrase},
                              {"source", c->source},
                              {"design", c->design},
                              {"metric", c->metric},
                              {"assumption", c->assumption}};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
        if (check_text(c, texts[k][0], texts[k][1], err) < 0)
            return INDIV_EINVAL;
    int rc = check_quotes(c, err);
    if (rc == INDIV_OK)
        rc = check_metrics(c, err);
    return rc == INDIV_OK ? check_rule(c, err) : rc;
}

int indiv_study_table_check(indiv_error *err) {
    for (size_t i = 0; i < NCONDITIONS; i++) {
        if (check_settings("condition", conditions[i].id, conditions[i].settings, err) <
            0)
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

int indiv_study_paired(const double *t, const double *r, size_t n,
                       indiv_study_effect *out, indiv_error *err) {
    if (n < INDIV_STUDY_SEEDS_MIN)
        return indiv_error_set(err, INDIV_EINVAL,
                               "a paired interval needs %d seeds, not %zu",
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
    *out = (indiv_study_effect){n,
                                gsl_stats_mean(t, 1, n),
                                gsl_stats_mean(r, 1, n),
                                st.mean,
                                st.sd,
                                st.half,
                                st.mean - st.half,
                                st.mean + st.half,
                                indiv_study_mde(st.sd, n)};
    return INDIV_OK;
}

double indiv_study_mde(double sd, size_t n) {
    if (n < 2)
        return INFINITY;
    double df = (double)n - 1, alpha = 1 - INDIV_STUDY_CI_LEVEL;
    return (gsl_cdf_tdist_Pinv(1 - alpha / 2, df) +
            gsl_cdf_tdist_Pinv(INDIV_STUDY_POWER, df)) *
           sd / sqrt((double)n);
}

size_t indiv_study_seeds_needed(double sd, double delta) {
    for (size_t n = INDIV_STUDY_SEEDS_MIN; n <= INDIV_STUDY_SEEDS_MAX; n++)
        if (indiv_study_mde(sd, n) <= delta)
            return n;
    return 0;
}

/* ---- rules ------------------------------------------------------------------------- */

double indiv_study_delta(const indiv_study_claim *c, const indiv_study_effect *e) {
    return c->delta_abs + c->delta_rel * fabs(e->mean_r);
}

static indiv_verdict effect_rule(const indiv_study_claim *c,
                                 const indiv_study_effect *e) {
    double delta = indiv_study_delta(c, e), s = c->direction;
    double mean = s * e->mean, lo = mean - e->half, hi = mean + e->half;
    if (lo > 0 && mean >= delta)
        return INDIV_VERDICT_SUPPORTED;
    if (!(e->mde <= delta)) /* too small a run to conclude against the claim */
        return INDIV_VERDICT_UNDERPOWERED;
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
    case INDIV_STUDY_EFFECT:
        return effect_rule(c, e);
    case INDIV_STUDY_NONINFERIOR:
        return noninferior_rule(c, e);
    default:
        return INDIV_VERDICT_NONE;
    }
}

indiv_verdict indiv_study_combine(const indiv_verdict *v, size_t n) {
    size_t supported = 0, underpowered = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == INDIV_VERDICT_NOT_SUPPORTED)
            return INDIV_VERDICT_NOT_SUPPORTED;
        supported += v[i] == INDIV_VERDICT_SUPPORTED;
        underpowered += v[i] == INDIV_VERDICT_UNDERPOWERED;
    }
    if (n == 0)
        return INDIV_VERDICT_NONE;
    if (supported == n)
        return INDIV_VERDICT_SUPPORTED;
    return underpowered ? INDIV_VERDICT_UNDERPOWERED : INDIV_VERDICT_INCONCLUSIVE;
}

indiv_verdict indiv_study_final(indiv_verdict base, indiv_verdict mild) {
    if ((base == INDIV_VERDICT_SUPPORTED && mild == INDIV_VERDICT_NOT_SUPPORTED) ||
        (base == INDIV_VERDICT_NOT_SUPPORTED && mild == INDIV_VERDICT_SUPPORTED))
        return INDIV_VERDICT_DEPENDS;
    return base;
}

const char *indiv_verdict_name(indiv_verdict v) {
    switch (v) {
    case INDIV_VERDICT_SUPPORTED:
        return "supported";
    case INDIV_VERDICT_NOT_SUPPORTED:
        return "not supported";
    case INDIV_VERDICT_INCONCLUSIVE:
        return "inconclusive";
    case INDIV_VERDICT_DEPENDS:
        return "depends on an assumption";
    case INDIV_VERDICT_UNDERPOWERED:
        return "underpowered";
    default:
        return "not run";
    }
}

/* ---- helpers over results (study_internal.h), shared by study_run.c and study_report.c */

int study_cell_values(const indiv_study_results *r, size_t cell, const char *name,
                      double *x, indiv_error *err) {
    const study_cell *c = &r->cells[cell];
    for (int s = 0; s < r->seeds; s++) {
        int rc =
            indiv_study_metric_value(name, c->agg + (size_t)s * INDIV_SIM_NMETRICS,
                                     r->worlds[c->world[s]].latent_tastes, &x[s], err);
        if (rc < 0)
            return rc;
    }
    return INDIV_OK;
}

int study_cmp_in_level(const indiv_study_claim *c, int lv, size_t k) {
    return lv == LV_BASE || c->cmp[k].primary;
}

const char *study_level_name(int level) {
    static const char *const names[LV_COUNT] = {"study values", "mild contra",
                                                "full contra", "mild pro", "full pro"};
    return level >= 0 && level < LV_COUNT ? names[level] : "?";
}
