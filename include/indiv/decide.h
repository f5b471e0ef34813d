/*
 * decide.h — the decision run: every consumer (or one shard of them) through scorer and
 * policy, into a JSON Lines file and a run summary (docs/architecture.md §2, §6, §7).
 *
 * The main thread reads consumers and their profiles in id order, in blocks; the blocks
 * of one round are scored (one dgemm each), decided and serialised by one thread each,
 * then written in order. With 2+ threads the main thread reads the next round while the
 * current one is worked (then waits for it and writes it), so a run uses 2 sets of
 * blocks; the summary's seconds are the main thread's: reading, waiting for the threads,
 * writing. Every consumer's decision depends only on its own data, the
 * model, the parameters and the seed, so the output is byte-identical whatever the
 * thread count, and the N shards of a run together hold exactly its lines. The output is
 * written to a temporary file in the same directory and renamed at the end: an
 * interrupted or failed run never leaves a partial file under the output name.
 */
#ifndef INDIV_DECIDE_H
#define INDIV_DECIDE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "indiv/decision.h"
#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/plausibility.h"
#include "indiv/policy.h"
#include "indiv/profile.h"
#include "indiv/progress.h"

#define INDIV_DECIDE_BLOCK 256 /* consumers per block (docs/architecture.md §6) */
#define INDIV_THREADS_MAX  64

/* Called for every decision, in consumer order, from the calling thread (evaluation and
 * simulation read decisions this way instead of parsing JSON). A non-zero return stops
 * the run with that code. */
typedef int (*indiv_decision_fn)(void *ctx, const indiv_decision *d, const char *ext_id);

/* Off-policy evaluation (ope.h): fills *out with the action logged for a consumer (its
 * source id) and returns 1, or returns 0 when none was. Called from the decision
 * threads: it must only read ctx. */
typedef int (*indiv_logged_fn)(void *ctx, const char *ext_id, indiv_action_key *out);

typedef struct indiv_decide_opts {
    indiv_policy_params policy;    /* policy.as_of is the decision time */
    const char *out_path;          /* JSON Lines output, or NULL with on_decision set */
    /* Instead of out_path: an open stream the lines are written to, left open and
     * uncommitted, for a caller that commits them with other files (indiv decide: the
     * decisions with their summary, fileio.h indiv_outfile_finish_all). */
    FILE *out_stream;
    indiv_decision_fn on_decision; /* may be NULL */
    void *ctx;                     /* passed to on_decision */
    int threads;                   /* 1..INDIV_THREADS_MAX */
    size_t block;                  /* consumers per block */
    int shard_index, shard_count;  /* decide only shard I of N (0 of 1: everyone) */
    /* 0: an embedding model without a vector for most offers (trained on another
     * catalogue) is refused with INDIV_EINVAL; 1: used anyway (--force) */
    int force_model;
    /* When set, no decision is made: each consumer's logged action is evaluated under
     * `policy` (indiv_policy_evaluate) into the decision's `eval` (`evaluated` 1; 0 for
     * a consumer without one), and the decision holds nothing else but consumer_id. */
    indiv_logged_fn logged;
    void *logged_ctx;
    const indiv_plausibility *plaus; /* adjacent aim: co-purchase counts to use (borrowed;
                                        indiv-mpi adds them up over partitions), NULL:
                                        counted by the run from the database */
    /* where policy.threshold comes from, written in the summary: "flag", "config",
     * "model" or "default" (static strings; "default" after init) */
    const char *threshold_source;
} indiv_decide_opts;

typedef struct indiv_decide_summary {
    indiv_decision_counts counts;
    int64_t consumers_total; /* consumers in the database */
    int64_t offers, offers_valid;
    int64_t offers_without_embedding; /* embedding models: offers given a zero vector */
    int profiles_built;               /* 1 when profiles exist (meta('profile_params')) */
    int64_t profiles_as_of;
    indiv_rhythm_prior prior;
    int64_t plausibility_people; /* adjacent aim: people in the co-purchase counts */
    double seconds_read, seconds_decide, seconds_write, seconds_total;
} indiv_decide_summary;

void indiv_decide_opts_init(indiv_decide_opts *o);

/* For a run whose τ was not given: the model's recommended τ (indiv_model_threshold)
 * when the policy compares τ with relevance `any` over as many slots as the model's
 * calibration, source "model"; otherwise the policy's default τ, source "default".
 * Sets o->policy.threshold and o->threshold_source and returns a sentence saying which
 * and why (a static string, for a note to people). */
const char *indiv_decide_default_threshold(indiv_decide_opts *o, const indiv_model *m);

/* Runs the decisions. A model with an embedding is applied to the catalog first
 * (indiv_model_apply), and the stored profiles must have been built in the same feature
 * space (INDIV_EINVAL otherwise). On error nothing is left at o->out_path (an existing
 * file there is kept as it was). */
int indiv_decide_run(indiv_eventlog *log, const indiv_model *m,
                     const indiv_decide_opts *o, indiv_progress_fn progress, void *ctx,
                     indiv_decide_summary *sum /* OUT */, indiv_error *err);

/* The co-purchase counts the run would count itself for o's adjacent aim (every
 * consumer with a profile in log), with m's feature space; *out is NULL (and the run
 * falls back as it would) when the aim does not need them. Caller frees. */
int indiv_decide_plausibility(indiv_eventlog *log, const indiv_model *m,
                              const indiv_decide_opts *o,
                              indiv_plausibility **out /* OUT */, indiv_error *err);

/* The run summary as pretty JSON (parameters, model id, counts by action and reason,
 * divergent share, timings); caller frees. */
char *indiv_decide_summary_json(const indiv_decide_opts *o, const indiv_model *m,
                                const indiv_decide_summary *sum);

/* ---- one consumer at a time (the service, docs/service.md) ------------------------ */

/* What deciding needs that does not depend on the consumer: the catalog (with the
 * model's embedding applied) and its popularity on the day of o->policy.as_of, the
 * scorer, the stored profile parameters and rhythm prior. Read-only once built, so
 * threads share it. m is borrowed and must outlive it. */
typedef struct indiv_decider indiv_decider;
/* A thread's own scratch for indiv_decide_one (NULL until the first call; remade when
 * used with another decider). Free it before the decider it was used with is freed:
 * a new decider at the old one's address would be taken for it. */
typedef struct indiv_decide_ws indiv_decide_ws;
struct indiv_plausibility;

/* Loads a decider for the day of o->policy.as_of (o's threads, block, shard and output
 * are ignored). Errors as indiv_decide_run's. */
int indiv_decider_new(indiv_eventlog *log, const indiv_model *m,
                      const indiv_decide_opts *o, indiv_decider **out /* OUT */,
                      indiv_error *err);
void indiv_decider_free(indiv_decider *dc);
/* The day (days since 1970-01-01 UTC) a decider is for, and the day of a time. */
int64_t indiv_decider_day(const indiv_decider *dc);
int64_t indiv_decide_day_of(int64_t t);
/* The decider's catalog (borrowed): the feature space profiles are built in. */
const indiv_catalog *indiv_decider_catalog(const indiv_decider *dc);

/* The co-purchase counts a run would build for the `adjacent` aim (one pass over the
 * stored profiles); *out NULL (no error) when the parameters do not need them. */
int indiv_decider_plausibility(indiv_eventlog *log, const indiv_decider *dc,
                               struct indiv_plausibility **out /* OUT */,
                               indiv_error *err);
/* Decides consumer ext_id at as_of (on the decider's day: INDIV_EINVAL otherwise)
 * exactly as indiv_decide_run would on the same database state: appends the line
 * indiv_decide_run writes for them ('\n' included) to out and, when d is not NULL,
 * fills *d (its pointers valid until the next call with *ws). Reads through log, one
 * handle per thread (in a read transaction for one snapshot). pl: the counts of
 * indiv_decider_plausibility (may be NULL). INDIV_ENOTFOUND for an unknown consumer. */
int indiv_decide_one(const indiv_decider *dc, const struct indiv_plausibility *pl,
                     indiv_decide_ws **ws, indiv_eventlog *log, int64_t as_of,
                     const char *ext_id, indiv_buf *out, indiv_decision *d /* OUT */,
                     indiv_error *err);
void indiv_decide_ws_free(indiv_decide_ws *ws);

/* Stable shard of a consumer: FNV-1a 64 of its source id, modulo n. */
int indiv_shard_of(const char *ext_id, int n);

#endif /* INDIV_DECIDE_H */
