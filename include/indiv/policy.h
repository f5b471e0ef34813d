/*
 * policy.h — what to do for one consumer: eligibility, relevance threshold, ranking,
 * programmed serendipity, channel, timing (docs/architecture.md §6).
 *
 * Per consumer, in this order, each step leaving a reason when it stops:
 *  1. eligibility: contact consent, unsubscribed, an accepted channel, the contact-
 *     pressure cap (at most max_contacts in per_days), offers valid at the decision time;
 *  2. relevance threshold τ on the propensity p(c, o): if no valid offer reaches τ and no
 *     divergent offer may stand alone, the action is `none`, with the best score
 *     (reason no_profile instead of below_threshold for a consumer with profiling
 *     consent but no profile: a profile build is missing, not a low score);
 *  3. ranking: up to `slots` offers above τ, by propensity, or by expected margin
 *     p · price · margin when rank_by_value; with a re-ranker (rerank.h), the `slots`
 *     are chosen greedily from the best `rerank_pool` offers above τ (MMR or calibrated);
 *  4. divergence: with probability ε · openness (the person's openness from their
 *     profile), one offer outside their bubble (affinity below `bubble`) whose
 *     propensity clears both floors (absolute `floor`, and `relative_floor` × the
 *     propensity of the most likely such candidate: a cut of the implausible tail, not a
 *     comparison with the person's best offer) is drawn from the consumer's own stream:
 *     under the `popular` aim ∝ propensity; under the `adjacent` aim among offers of
 *     categories the person never bought, ∝ (p · plausibility of the category)^(1/T),
 *     plausibility the co-purchase lift or P(c | A) (plausibility.h; by default P(c | A)
 *     with an embedding model, the lift otherwise: indiv_policy_plausibility_used), or,
 *     with an embedding model, the offer's (1 + cosine to the person's taste) / 2, the most
 *     plausible at T = 0 (ties: catalog index). Without counts (no profiles, or more
 *     categories than INDIV_PLAUS_MAX_CATEGORIES) the plausibility is 1, resp. the aim
 *     is popular. In ride-along mode it only joins a contact that already has a relevant
 *     offer; in standalone mode it may justify a contact on its own. Slot `replace`
 *     takes the last slot when all are full (so ride-along with one slot has no room);
 *     slot `extra` adds it as one more (at most INDIV_SLOTS_MAX offers in all). Its
 *     distance from the person's tastes is 1 − affinity. Every listed offer carries
 *     logged_p, the probability that the policy lists it given the scores: ε · openness
 *     · P(pick) for the divergent offer; 1 for relevant ones, except the last of full
 *     slots under `replace`, listed with probability 1 − ε · openness when a divergent
 *     offer could take its place;
 *  5. channel: the accepted channel with the best reaction rate (ties: email, sms, push);
 *  6. timing: the next preferred slot (preferred hour, on a day the person is usually
 *     active) at or after the decision time; a consumer whose readiness is below
 *     min_readiness is deferred to the first day readiness reaches it (within
 *     INDIV_DEFER_MAX_DAYS), or gets `none` (not ready) when it never does.
 * Consumers without a profile (no profiling consent) are scored without personal terms
 * (popularity only) and never receive a divergent offer.
 *
 * Control group (docs/ope.md): an eligible consumer with a valid offer falls in it when
 * u < control_share, u a uniform number fixed by a hash of (seed, as_of — the campaign —,
 * consumer id), drawn apart from the divergence stream. A control consumer gets `none`
 * (control none), one uniformly random valid offer sent at the next slot (random), or
 * the policy's own decision at τ = 0 (ungated), and the reason control_group.
 *
 * Decision propensity: every decision also carries π(a | x), the probability that the
 * policy takes its action a (the action and the set of offers; for `none` the offers do
 * not count) given the consumer's scores and profile x. Only two things in the policy
 * are random: the control group (probability c = control_share) and the divergence draw
 * (probability ε · openness, then a candidate by its share). Everything else —
 * eligibility, τ, ranking, re-ranking, channel, timing — is a deterministic function of
 * x. So π(a | x) = (1 − c) · π_T(a | x) + c · π_C(a | x), where π_T, the treatment, is
 * 1 − ε·openness·[a divergent offer can be placed] for the relevant list R, ε·openness ·
 * share(j) for R with divergent offer j placed, and 0 for anything else; π_C is 1 for
 * `none` (control none), 1/n_valid for each single-offer contact (random), or π_T at
 * τ = 0 (ungated). indiv_policy_evaluate gives π(a | x) of any action, which is what
 * off-policy evaluation (ope.h) needs of a target policy.
 */
#ifndef INDIV_POLICY_H
#define INDIV_POLICY_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "indiv/catalog.h"
#include "indiv/profile.h"
#include "indiv/rerank.h" /* INDIV_RERANK_POOL_MAX */
#include "indiv/score.h"
#include "indiv/vocab.h"

#define INDIV_SLOTS_MAX      16
#define INDIV_DEFER_MAX_DAYS 60

typedef enum indiv_action {
    INDIV_NONE = 0,
    INDIV_CONTACT = 1,
    INDIV_DEFER = 2
} indiv_action;

typedef enum indiv_reason {
    INDIV_R_RELEVANT = 0,       /* contact: relevant offers above the threshold */
    INDIV_R_DIVERGENT_ALONE,    /* contact: a standalone divergent offer */
    INDIV_R_NOT_READY,          /* defer: readiness below the minimum now */
    INDIV_R_NO_CONTACT_CONSENT, /* none */
    INDIV_R_UNSUBSCRIBED,       /* none */
    INDIV_R_NO_CHANNEL,         /* none: no accepted contact channel */
    INDIV_R_PRESSURE_CAP,       /* none: too many recent contacts */
    INDIV_R_NO_VALID_OFFER,     /* none: no offer valid at the decision time */
    INDIV_R_BELOW_THRESHOLD,    /* none: no offer reaches the threshold */
    INDIV_R_NEVER_READY,        /* none: readiness stays below the minimum */
    INDIV_R_NO_PROFILE,         /* none: as below_threshold, for a consumer with profiling
                                   consent but no profile built (run `indiv profile`) */
    INDIV_R_CONTROL_GROUP,      /* the consumer is in the control group */
    INDIV_R_COUNT
} indiv_reason;

typedef enum indiv_divergence_mode {
    INDIV_DIV_RIDE_ALONG = 0,
    INDIV_DIV_STANDALONE = 1
} indiv_divergence_mode;

/* How the divergent offer is chosen among the candidates outside the bubble. */
typedef enum indiv_divergence_aim {
    INDIV_AIM_POPULAR = 0, /* ∝ propensity (the engine's first rule, for comparison) */
    INDIV_AIM_ADJACENT = 1 /* ∝ plausibility^(1/T): co-purchase lift (plausibility.h) */
} indiv_divergence_aim;

/* What the adjacent aim weighs a category by (plausibility.h). */
typedef enum indiv_plausibility_kind {
    INDIV_PLAUS_LIFT = 0,       /* P(c | A) / P(c) */
    INDIV_PLAUS_CONDITIONAL = 1, /* P(c | A) */
    INDIV_PLAUS_COSINE = 2,      /* per offer: (1 + cos(taste, offer vector)) / 2;
                                  * embedding models only */
    INDIV_PLAUS_AUTO = 3         /* the default: by the model's feature space
                                  * (indiv_policy_plausibility_used) */
} indiv_plausibility_kind;

/* Where the divergent offer goes. */
typedef enum indiv_divergent_slot {
    INDIV_SLOT_REPLACE = 0, /* takes the last slot when all are full */
    INDIV_SLOT_EXTRA = 1    /* one more slot (up to INDIV_SLOTS_MAX offers in all) */
} indiv_divergent_slot;

/* Diversity re-ranking of the relevant offers (rerank.h). */
typedef enum indiv_rerank_kind {
    INDIV_RERANK_NONE = 0,
    INDIV_RERANK_MMR = 1,       /* Carbonell & Goldstein 1998 */
    INDIV_RERANK_CALIBRATED = 2 /* Steck 2018 */
} indiv_rerank_kind;

typedef enum indiv_offer_kind {
    INDIV_KIND_RELEVANT = 0,
    INDIV_KIND_DIVERGENT = 1,
    INDIV_KIND_CONTROL = 2 /* control random: the uniformly random offer */
} indiv_offer_kind;

/* What a consumer of the control group gets. */
typedef enum indiv_control_kind {
    INDIV_CONTROL_NONE = 0,   /* no contact */
    INDIV_CONTROL_RANDOM = 1, /* one uniformly random valid offer */
    INDIV_CONTROL_UNGATED = 2 /* the policy's decision at τ = 0 */
} indiv_control_kind;

typedef enum indiv_divergence_miss {
    INDIV_DIVMISS_NONE = 0,     /* not drawn, or placed */
    INDIV_DIVMISS_NO_CANDIDATE, /* no valid offer outside the bubble above the floor */
    INDIV_DIVMISS_NO_COMPANION, /* ride-along with no relevant offer to ride with */
    INDIV_DIVMISS_NO_ROOM       /* ride-along with a single slot, already relevant */
} indiv_divergence_miss;

/* What τ is compared with (docs/decisions.md, "Relevance"). */
typedef enum indiv_relevance {
    INDIV_REL_BEST = 0, /* the best single offer's propensity; offers below τ dropped */
    INDIV_REL_ANY = 1 /* P(buys at least one) = 1 − Π(1 − p_i) over the offers sent,
                         assuming independent purchases; gates the whole contact */
} indiv_relevance;

typedef struct indiv_policy_params {
    int64_t as_of;         /* decision time */
    double threshold;      /* τ, on propensity */
    int slots;             /* offers per contact, 1..INDIV_SLOTS_MAX */
    int rank_by_value;     /* rank by p · price · margin instead of p */
    double serendipity;    /* ε in [0, 1] */
    double bubble;         /* affinity below this = outside the bubble */
    double floor;          /* absolute floor on the propensity of divergent offers */
    double relative_floor; /* ... and this fraction of the most likely candidate's */
    indiv_divergence_mode divergence;
    indiv_divergence_aim divergence_aim;
    double divergence_temperature; /* T: 0 = the most plausible, 1 = ∝ plausibility */
    double plausibility_smoothing; /* m of the lift, in pseudo-people */
    indiv_plausibility_kind plausibility; /* lift, P(c | A), cosine, or auto (by model) */
    indiv_divergent_slot divergent_slot;
    indiv_rerank_kind rerank;
    double rerank_lambda;
    int rerank_pool;      /* relevant candidates the re-ranker chooses from */
    int max_contacts;     /* pressure cap: at most this many contacts ... */
    double per_days;      /* ... in this many days (0 contacts = no cap when 0 days) */
    double min_readiness; /* below it: defer */
    double readiness_horizon_days;
    double rhythm_prior_strength;
    int exclude_bought;        /* 1: offers in the person's history are never proposed */
    indiv_relevance relevance; /* what τ is compared with */
    double control_share;      /* c: share of eligible consumers in the control group */
    indiv_control_kind control; /* what the control group gets */
    uint64_t seed;
} indiv_policy_params;

typedef struct indiv_decided_offer {
    size_t offer; /* catalog index */
    indiv_offer_kind kind;
    int rank;         /* 1-based */
    double p;         /* propensity */
    double p_channel; /* p · reaction rate of the chosen channel */
    double affinity;
    double value;        /* p · price · margin */
    double logged_p;     /* probability that the policy lists this offer (see step 4) */
    double plausibility; /* divergent, adjacent aim: its lift (or cosine weight); else 0 */
} indiv_decided_offer;

/* An action as off-policy evaluation compares them: `none`, or a contact or defer with
 * a set of offers (catalog indices, in any order). */
typedef struct indiv_action_key {
    indiv_action action;
    int n;
    size_t offer[INDIV_SLOTS_MAX];
} indiv_action_key;

/* The values a policy is evaluated on, per consumer. */
typedef enum indiv_value_kind {
    INDIV_V_CONVERSIONS = 0, /* purchases of the offers contacted with */
    INDIV_V_REVENUE = 1,     /* their price */
    INDIV_V_CONTACTS = 2,    /* 1 for a contact */
    INDIV_V_COUNT
} indiv_value_kind;

typedef struct indiv_policy_eval {
    double p; /* π(a | x): the probability that the policy takes action a */
    /* r̂(x, a): the engine's own reward model for action a — for a contact, Σ p_j
     * (conversions), Σ p_j · price_j (revenue) and 1 (contacts); 0 otherwise */
    double reward_hat[INDIV_V_COUNT];
    double expected[INDIV_V_COUNT]; /* Σ_a' π(a' | x) r̂(x, a'): the policy's own */
} indiv_policy_eval;

typedef struct indiv_decision {
    int64_t consumer_id;
    indiv_action action;
    indiv_reason reason;
    int personalised; /* 1 when a profile was used */
    int channel;      /* indiv_channel, 0 when none */
    int64_t send_at;  /* contact/defer: when (INDIV_TS_NONE otherwise) */
    double readiness;
    int n_offers;
    indiv_decided_offer offers[INDIV_SLOTS_MAX];
    int has_best; /* none: best valid offer and its score */
    size_t best_offer;
    double best_p;
    double drivers[INDIV_TERM_COUNT];      /* logit contributions for the first offer */
    int divergence_drawn;                  /* the ε · openness draw succeeded */
    indiv_divergence_miss divergence_miss; /* why a drawn divergence was not placed */
    int contacts_recent;                   /* contacts in the cap window */
    int divergence_candidates;             /* drawn: candidates the pick was made from */
    int control;                           /* 1: in the control group */
    double propensity; /* π(action | x) of the whole decision (see above) */
    int evaluated;          /* decide with a logged action (decide.h): eval is set */
    indiv_policy_eval eval; /* the logged action under this run's policy */
} indiv_decision;

/* ---- the parameter table -------------------------------------------------------------
 *
 * Every tunable policy parameter (all fields but as_of and seed, which each command sets
 * from its own decision time and seed) is described once, in src/policy_params.c: name,
 * kind, default, range and a one-line meaning. The defaults, validation, the flags and
 * --config keys of `indiv decide` and `indiv evaluate`, their --help lines and the
 * "parameters" objects of their JSON outputs all come from it, so that a new parameter
 * is one row there (and its field here). Names are the option names without dashes
 * ("max-contacts"); lookups also accept '_' for '-' ("max_contacts"). */

typedef enum indiv_policy_param_kind {
    INDIV_PP_REAL = 1,       /* double */
    INDIV_PP_INT = 2,        /* int */
    INDIV_PP_CHOICE = 3,     /* int: the index of one of `choices` */
    INDIV_PP_CHOICE_REAL = 4 /* "name" or "name:x": a choice (int) and a real in
                                [min, max] (def2 when omitted; "none" takes none) */
} indiv_policy_param_kind;

typedef struct indiv_policy_param {
    const char *name;    /* option and --config key: "max-contacts" */
    const char *key;     /* JSON key of the run summaries: "max_contacts" */
    const char *metavar; /* value placeholder in --help: "N" */
    indiv_policy_param_kind kind;
    double def;                 /* default (CHOICE: index) */
    double min, max;            /* inclusive range (REAL, INT) ... */
    int min_exclusive;          /* ... or min < v when set */
    const char *const *choices; /* CHOICE: the names, NULL-terminated */
    const char *doc;            /* one line: meaning and unit */
    double def2;                /* CHOICE_REAL: default of the real */
} indiv_policy_param;

/* Number of parameters, and the i-th one's description (NULL past the end). */
size_t indiv_policy_param_count(void);
const indiv_policy_param *indiv_policy_param_at(size_t i);

/* The parameter called name ('-' and '_' alike), or NULL. */
const indiv_policy_param *indiv_policy_param_find(const char *name);

/* Parses text as the value of parameter name and stores it in p after checking its
 * range. On failure p is unchanged and INDIV_EINVAL is returned with a message of the
 * form "<name>: <what is wrong>" ("threshold: 1.5 is out of range [0, 1]"). */
int indiv_policy_params_set(indiv_policy_params *p, const char *name, const char *text,
                            indiv_error *err);

/* Writes the value in p of parameter d as text (the form _set reads back: %.17g for
 * reals, the name for choices). Cannot fail; truncates to cap. */
void indiv_policy_params_format(const indiv_policy_params *p, const indiv_policy_param *d,
                                char *buf, size_t cap);

/* Writes the default of d as people read it ("0.3", "ride-along") into buf. */
void indiv_policy_param_default_text(const indiv_policy_param *d, char *buf, size_t cap);

/* Adds every parameter of p to the JSON object obj under its key, in table
 * order: reals as reals, integers as integers, choices as their names. Returns 0, or
 * INDIV_ENOMEM. */
struct json_t;
int indiv_policy_params_to_json(const indiv_policy_params *p, struct json_t *obj);

/* Defaults, from the table (docs/decisions.md); as_of 0, seed 1. */
void indiv_policy_params_init(indiv_policy_params *p);

/* Checks every parameter against its row of the table. INDIV_EINVAL names the first bad
 * one: "policy parameter <name> = <value> is invalid". */
int indiv_policy_params_validate(const indiv_policy_params *p, indiv_error *err);

const char *indiv_divergence_miss_name(indiv_divergence_miss m);

/* Short stable names used in JSON ("contact", "below_threshold", ...). */
const char *indiv_action_name(indiv_action a);
const char *indiv_reason_name(indiv_reason r);
int indiv_divergence_parse(const char *name, indiv_divergence_mode *out);
const char *indiv_divergence_name(indiv_divergence_mode m);
const char *indiv_divergence_aim_name(indiv_divergence_aim a);

/* What the policy knows of one consumer besides the scores. */
typedef struct indiv_plausibility indiv_plausibility;

typedef struct indiv_policy_input {
    const indiv_consumer_row *consumer;
    const indiv_profile *profile; /* projected to as_of, or NULL (no profiling consent) */
    double readiness;             /* at as_of (1 without a profile: no deferral) */
    int contacts_recent;          /* contacts in [as_of - per_days, as_of) */
    const indiv_plausibility *plaus; /* population co-purchase counts, or NULL (lift 1) */
} indiv_policy_input;

/* The relevance under `any`: 1 − Π(1 − p_i) over p[0..n), the probability of buying at
 * least one of n offers bought independently with probabilities p_i (0 when n = 0). */
double indiv_relevance_any(const double *p, size_t n);

/* Decides for one consumer whose scores are row `row` of block b. valid[j] = 1 when
 * offer j is valid at as_of. r is re-seeded here for this consumer's divergence stream
 * (seed, consumer id, INDIV_RNG_DIVERGENCE), so the result does not depend on the order
 * in which consumers are processed. Cannot fail. */
void indiv_policy_decide(const indiv_policy_params *p, const indiv_scorer *s,
                         const indiv_score_block *b, size_t row, const indiv_catalog *cat,
                         const unsigned char *valid, const indiv_policy_input *in,
                         const indiv_rhythm_prior *prior, gsl_rng *r,
                         indiv_decision *out /* OUT */);

/* ---- off-policy evaluation (ope.h, docs/ope.md) ----------------------------------- */

/* The key of decision d (its action and offers). */
void indiv_action_key_of(const indiv_decision *d, indiv_action_key *k /* OUT */);

/* Evaluates action a for the consumer of row `row` (same inputs as indiv_policy_decide)
 * under policy p: π(a | x), r̂(x, a) and the policy's expected r̂. No random draw; cannot
 * fail. */
void indiv_policy_evaluate(const indiv_policy_params *p, const indiv_scorer *s,
                           const indiv_score_block *b, size_t row,
                           const indiv_catalog *cat, const unsigned char *valid,
                           const indiv_policy_input *in, const indiv_rhythm_prior *prior,
                           const indiv_action_key *a, indiv_policy_eval *out /* OUT */);

/* The categories the person is known to have bought (what the adjacent aim and the
 * plausibility counts use): the profile's list when it has the openness feature, else
 * the categories of positive taste when scores live in category space (into buf, of
 * capacity cap), else none. Returns their number; *out points at them (borrowed). */
size_t indiv_policy_known_categories(const indiv_profile *pr, const indiv_catalog *cat,
                                     int32_t *buf, size_t cap, const int32_t **out);

/* The plausibility the adjacent aim uses under p with offer features from
 * `feature_space` (a model's feature space, or indiv_catalog_feature_source: "category"
 * means the one-hot categories, any other name an embedding): p->plausibility when it
 * names one; for INDIV_PLAUS_AUTO, P(c | A) (conditional) with an embedding, the lift
 * in category space. Why: a trained model's propensity of an offer new to the person
 * carries almost no popularity (its new-offer weights are shrunk), so p · lift aims at
 * rare categories; P(c | A) = lift · P(c) puts the popularity back (docs/decisions.md,
 * "Programmed serendipity", measured on the nine-month validation split). Cannot fail. */
indiv_plausibility_kind indiv_policy_plausibility_used(const indiv_policy_params *p,
                                                       const char *feature_space);

/* INDIV_EINVAL, naming the parameter and the model, when p needs what model m lacks:
 * plausibility `cosine` needs an embedding (feature space "embedding"). */
int indiv_policy_params_check_model(const indiv_policy_params *p, const indiv_model *m,
                                    indiv_error *err);

/* The next preferred contact slot at or after t (see step 6 above); t itself without a
 * profile or without the moments feature. */
int64_t indiv_policy_next_slot(const indiv_profile *pr, int64_t t);

#endif /* INDIV_POLICY_H */
