/*
 * decide.c — the decision run: read blocks, score and decide them in parallel, write in
 * order (the contract is in decide.h).
 *
 * Threads: one round = up to `threads` blocks of `block` consumers. The main thread
 * reads a round (SQLite is used from this thread only), one POSIX thread per block
 * scores (one dgemm), decides and serialises it into the block's own buffer, and the main
 * thread writes the buffers in block order. Per-block counts are added in block order, so
 * even the floating-point sums of the summary do not depend on the thread count.
 */
#include "indiv/decide.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/fileio.h"
#include "indiv/plausibility.h"
#include "indiv/rng.h"
#include "indiv/score.h"
#include "indiv/timeutil.h"

/* FNV-1a 64 (Fowler, Noll, Vo). */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

int indiv_shard_of(const char *ext_id, int n) {
    uint64_t h = FNV_OFFSET;
    for (const unsigned char *p = (const unsigned char *)ext_id; *p; p++)
        h = (h ^ *p) * FNV_PRIME;
    return n > 1 ? (int)(h % (uint64_t)n) : 0;
}

void indiv_decide_opts_init(indiv_decide_opts *o) {
    memset(o, 0, sizeof *o);
    indiv_policy_params_init(&o->policy);
    o->threads = 2;
    o->block = INDIV_DECIDE_BLOCK;
    o->shard_index = 0;
    o->shard_count = 1;
    o->threshold_source = "default";
}

const char *indiv_decide_default_threshold(indiv_decide_opts *o, const indiv_model *m) {
    indiv_policy_params def;
    indiv_policy_params_init(&def);
    double tau = indiv_model_threshold(m, o->policy.slots);
    o->threshold_source = "default";
    o->policy.threshold = def.threshold;
    if (!m->calibration.present)
        return "the model carries no recommended threshold: the policy default";
    if (m->calibration.slots != o->policy.slots)
        return "the model's threshold was calibrated for another number of slots: the "
               "policy default";
    if (o->policy.relevance != INDIV_REL_ANY)
        return "the model's threshold is for relevance any: the policy default";
    if (isnan(tau))
        return "the model's calibration could not choose a threshold: the policy default";
    o->policy.threshold = tau;
    o->threshold_source = "model";
    return "the model's recommended threshold (its calibration, Youden's index)";
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- blocks ------------------------------------------------------------------------ */

/* What the whole run shares, read-only while threads work. */
struct run {
    const indiv_decide_opts *o;
    const indiv_scorer *scorer;
    const indiv_catalog *cat;
    const unsigned char *valid;
    const indiv_rhythm_prior *prior;
    indiv_decision_ctx ctx;
    const indiv_plausibility *plaus; /* adjacent aim: co-purchase counts, or NULL */
};

struct block {
    const struct run *run;
    size_t n, cap;
    indiv_consumer_row *rows;
    size_t *ext_off; /* offsets of the ext ids in `ext` */
    indiv_buf ext;
    indiv_profile *prof;
    int *has_prof;
    indiv_policy_input *in;
    indiv_decision *dec; /* kept for on_decision */
    indiv_score_block *sb;
    gsl_rng *rng;
    unsigned char *valid_own; /* --exclude-bought: validity minus the person's history */
    indiv_buf out;
    indiv_decision_counts counts;
    int rc;
};

static void block_free(struct block *b) {
    for (size_t i = 0; b->prof && i < b->cap; i++)
        indiv_profile_clear(&b->prof[i]);
    free(b->rows);
    free(b->ext_off);
    indiv_buf_free(&b->ext);
    free(b->prof);
    free(b->has_prof);
    free(b->in);
    free(b->dec);
    free(b->valid_own);
    indiv_score_block_free(b->sb);
    gsl_rng_free(b->rng);
    indiv_buf_free(&b->out);
}

static int block_init(struct block *b, const struct run *run, size_t cap) {
    memset(b, 0, sizeof *b);
    b->run = run;
    b->cap = cap;
    b->rows = calloc(cap, sizeof *b->rows);
    b->ext_off = calloc(cap, sizeof *b->ext_off);
    b->prof = calloc(cap, sizeof *b->prof);
    b->has_prof = calloc(cap, sizeof *b->has_prof);
    b->in = calloc(cap, sizeof *b->in);
    b->dec = calloc(cap, sizeof *b->dec);
    b->sb = indiv_score_block_new(run->scorer, cap);
    b->rng = indiv_rng_new(0, 0, INDIV_RNG_DIVERGENCE);
    size_t n = indiv_catalog_size(run->cat);
    if (run->o->policy.exclude_bought && (b->valid_own = malloc(n + 1)))
        memcpy(b->valid_own, run->valid, n);
    return b->rows && b->ext_off && b->prof && b->has_prof && b->in && b->dec && b->sb &&
                   b->rng && (b->valid_own || !run->o->policy.exclude_bought)
               ? INDIV_OK
               : INDIV_ENOMEM;
}

/* Sets valid[j] of every offer j in pr's history to 0 (off), or back to base[j]. */
static void mark_history(const indiv_catalog *cat, const indiv_profile *pr,
                         unsigned char *valid, int restore, const unsigned char *base) {
    size_t j;
    for (size_t k = 0; pr && (pr->features & INDIV_FEAT_HISTORY) && k < pr->n_history; k++)
        if (indiv_catalog_index(cat, pr->history[k].offer_id, &j) == INDIV_OK)
            valid[j] = restore ? base[j] : 0;
}

/* Scores, decides and serialises one block (runs in its own thread). */
static void *block_work(void *arg) {
    struct block *b = arg;
    const struct run *run = b->run;
    assert(b->n <= b->cap);
    for (size_t i = 1; i < b->n; i++)
        assert(b->rows[i - 1].id < b->rows[i].id); /* consumer order: the output's */
    for (size_t i = 0; i < b->n; i++) {
        const indiv_profile *pr = b->has_prof[i] ? &b->prof[i] : NULL;
        indiv_score_set_row(run->scorer, b->sb, i, pr, b->in[i].readiness);
        /* the person's offer history: repeat and item-to-item terms */
        indiv_score_set_history(run->scorer, b->sb, i, pr, run->o->policy.as_of);
    }
    b->rc = indiv_score_run(run->scorer, b->sb, b->n, NULL);
    for (size_t i = 0; b->rc == INDIV_OK && i < b->n; i++) {
        b->in[i].consumer = &b->rows[i];
        b->in[i].profile = b->has_prof[i] ? &b->prof[i] : NULL;
        b->in[i].plaus = run->plaus;
        indiv_decision *d = &b->dec[i];
        const unsigned char *valid = run->valid;
        if (b->valid_own) { /* --exclude-bought: the person's history is not on offer */
            mark_history(run->cat, b->in[i].profile, b->valid_own, 0, run->valid);
            valid = b->valid_own;
        }
        indiv_action_key k;
        if (!run->o->logged) {
            indiv_policy_decide(&run->o->policy, run->scorer, b->sb, i, run->cat, valid,
                                &b->in[i], run->prior, b->rng, d);
        } else { /* off-policy evaluation of the logged action (ope.h), no decision */
            memset(d, 0, sizeof *d);
            d->consumer_id = b->rows[i].id;
            if (run->o->logged(run->o->logged_ctx, b->ext.data + b->ext_off[i], &k)) {
                indiv_policy_evaluate(&run->o->policy, run->scorer, b->sb, i, run->cat,
                                      valid, &b->in[i], run->prior, &k, &d->eval);
                d->evaluated = 1;
            }
        }
        if (b->valid_own) /* restored for the next person */
            mark_history(run->cat, b->in[i].profile, b->valid_own, 1, run->valid);
        indiv_decision_count(&b->counts, d);
        if (run->o->out_path || run->o->out_stream)
            b->rc = indiv_decision_write_json(d, b->ext.data + b->ext_off[i], &run->ctx,
                                              &b->out);
    }
    return NULL;
}

/* ---- reading ----------------------------------------------------------------------- */

/* Reader state: the cursor and what every consumer's preparation needs. */
struct reader {
    indiv_eventlog *log;
    indiv_consumer_cursor *cur;
    const indiv_profile_params *pp; /* NULL when no profiles were built */
    const indiv_decide_opts *o;
    const indiv_rhythm_prior *prior;
    int done;
};

/* Readiness and recent contacts of consumer i of the block (see policy.h). */
static int prepare(struct reader *r, struct block *b, size_t i, indiv_error *err) {
    const indiv_policy_params *pol = &r->o->policy;
    indiv_policy_input *in = &b->in[i];
    in->readiness = 1.0;
    in->contacts_recent = 0;
    indiv_profile *pr = b->has_prof[i] ? &b->prof[i] : NULL;
    if (pr && (pr->features & INDIV_FEAT_RHYTHM))
        in->readiness = indiv_profile_readiness(pr, r->prior, pol->rhythm_prior_strength,
                                                pol->as_of, pol->readiness_horizon_days);
    int64_t win = (int64_t)(pol->per_days * INDIV_SECONDS_PER_DAY);
    if (pr && (pr->features & INDIV_FEAT_PRESSURE)) {
        int un;
        indiv_profile_pressure(pr, pol->as_of, pol->per_days, &in->contacts_recent, &un);
        if (in->contacts_recent < INDIV_PRESSURE_SLOTS)
            return INDIV_OK;
        /* Every contact the profile keeps is in the window: there may be more. */
    }
    /* No pressure feature (or a full one): the cap still holds, counted from the log
     * (one seek). */
    int64_t n = 0;
    int rc = pol->per_days > 0
                 ? indiv_eventlog_count_events(r->log, b->rows[i].id, INDIV_EV_CONTACT,
                                               pol->as_of - win, pol->as_of, &n, err)
                 : INDIV_OK;
    in->contacts_recent = (int)n;
    return rc;
}

/* Copies the cursor's current row into slot i, decoding and projecting the profile. */
static int take_row(struct reader *r, struct block *b, const indiv_consumer_row *row,
                    const indiv_profile_row *prow, int has_profile, indiv_error *err) {
    size_t i = b->n;
    b->rows[i] = *row;
    b->ext_off[i] = b->ext.len;
    if (indiv_buf_append(&b->ext, row->ext_id, strlen(row->ext_id) + 1) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    b->has_prof[i] = has_profile && r->pp;
    if (b->has_prof[i]) {
        int rc = indiv_profile_decode(prow, &b->prof[i], err);
        if (rc < 0)
            return rc;
        if (b->prof[i].as_of > r->o->policy.as_of)
            return indiv_error_set(
                err, INDIV_EINVAL,
                "the profile of consumer %s was built from events up to "
                "after the decision time; rebuild profiles with an "
                "--as-of at or before it",
                row->ext_id);
        indiv_profile_project(&b->prof[i], r->o->policy.as_of, r->pp->half_life_days);
    }
    int rc = prepare(r, b, i, err);
    b->n++;
    return rc;
}

/* Fills block b with the next consumers of the shard. */
static int read_block(struct reader *r, struct block *b, indiv_error *err) {
    indiv_consumer_row row;
    indiv_profile_row prow;
    int has, rc = INDIV_OK;
    b->n = 0;
    b->ext.len = 0;
    b->out.len = 0;
    memset(&b->counts, 0, sizeof b->counts);
    while (!r->done && b->n < b->cap) {
        rc = indiv_consumer_cursor_next(r->cur, &row, &prow, &has, err);
        if (rc <= 0) {
            r->done = 1;
            break;
        }
        rc = INDIV_OK;
        if (indiv_shard_of(row.ext_id, r->o->shard_count) != r->o->shard_index)
            continue;
        if ((rc = take_row(r, b, &row, &prow, has, err)) < 0)
            break;
    }
    return rc < 0 ? rc : INDIV_OK;
}

/* ---- the run -----------------------------------------------------------------------
 *
 * With two threads or more, rounds overlap: while the threads of round k score, decide
 * and serialise, the main thread reads round k + 1 (into the other set of blocks), then
 * waits for them and writes round k. Reading (SQLite, profile decoding) was a fifth of a
 * run's time with every worker idle. Nothing else changes: the same consumers fall in the
 * same blocks and are written in the same order, and each decision depends only on its
 * own consumer. With one thread everything runs in turn on the calling thread. */

/* The blocks of one round, and their threads. */
struct round {
    struct block *blocks; /* `threads` of them */
    int used;             /* blocks read this round */
    pthread_t tid[INDIV_THREADS_MAX];
    int started[INDIV_THREADS_MAX];
};

/* Reads up to `nthreads` blocks into rd (rd->used: how many). */
static int round_read(struct reader *r, struct round *rd, int nthreads,
                      indiv_decide_summary *sum, indiv_error *err) {
    double t0 = now_s();
    int rc = INDIV_OK;
    for (rd->used = 0; rd->used < nthreads && !r->done && rc == INDIV_OK; rd->used++)
        rc = read_block(r, &rd->blocks[rd->used], err);
    sum->seconds_read += now_s() - t0;
    return rc;
}

/* Starts a thread per block when the work may go to threads (`spawn`); a block whose
 * thread could not be created is worked by round_join. */
static void round_start(struct round *rd, int spawn) {
    for (int k = 0; k < rd->used; k++)
        rd->started[k] =
            spawn && pthread_create(&rd->tid[k], NULL, block_work, &rd->blocks[k]) == 0;
}

static void round_join(struct round *rd, indiv_decide_summary *sum) {
    double t0 = now_s();
    for (int k = 0; k < rd->used; k++) {
        if (rd->started[k])
            pthread_join(rd->tid[k], NULL);
        else
            block_work(&rd->blocks[k]); /* one thread, or creation failed: work here */
    }
    sum->seconds_decide += now_s() - t0;
}

/* Writes the round's blocks in order, hands their decisions to the callback, counts. */
static int round_write(const struct reader *r, struct round *rd, FILE *f,
                       indiv_decide_summary *sum, indiv_error *err) {
    double t0 = now_s();
    int rc = INDIV_OK;
    for (int k = 0; k < rd->used && rc == INDIV_OK; k++) {
        struct block *b = &rd->blocks[k];
        if (b->rc < 0)
            rc = indiv_error_set(err, b->rc, "scoring or serialising a block failed");
        else if (f && b->out.len && fwrite(b->out.data, 1, b->out.len, f) != b->out.len)
            rc = indiv_error_set(err, INDIV_EIO, "write failed: %s", strerror(errno));
        for (size_t i = 0; rc == INDIV_OK && r->o->on_decision && i < b->n; i++)
            if ((rc = r->o->on_decision(r->o->ctx, &b->dec[i],
                                        b->ext.data + b->ext_off[i])) != 0)
                indiv_error_set(err, rc, "the decision callback stopped the run");
        indiv_decision_counts_add(&sum->counts, &b->counts);
    }
    sum->seconds_write += now_s() - t0;
    return rc;
}

/* Works round *cur while reading the next one into *next (when overlapping), then
 * writes *cur. A failed read ahead is reported after the round is written, as it would
 * have been had the reading waited. */
static int round_run(struct reader *r, struct round *cur, struct round *next,
                     int nthreads, FILE *f, indiv_decide_summary *sum, indiv_error *err) {
    int overlap = nthreads > 1;
    indiv_error rerr = {0};
    round_start(cur, overlap);
    next->used = 0;
    int rc_read = overlap && !r->done ? round_read(r, next, nthreads, sum, &rerr) : 0;
    round_join(cur, sum);
    int rc = round_write(r, cur, f, sum, err);
    if (rc == INDIV_OK && rc_read < 0) {
        if (err && err->code == 0)
            *err = rerr;
        return rc_read;
    }
    if (rc == INDIV_OK && !overlap && !r->done)
        rc = round_read(r, next, nthreads, sum, err);
    return rc;
}

/* Loops over rounds until the cursor is exhausted. */
static int run_all(struct reader *r, const struct run *run, FILE *f,
                   indiv_progress_fn progress, void *ctx, indiv_decide_summary *sum,
                   indiv_error *err) {
    int nthreads = run->o->threads, sets = nthreads > 1 ? 2 : 1;
    struct block blocks[2 * INDIV_THREADS_MAX];
    struct round rounds[2] = {{.blocks = blocks}, {.blocks = blocks + nthreads}};
    int rc = INDIV_OK, made = 0;
    for (; made < sets * nthreads && rc == INDIV_OK; made++)
        rc = block_init(&blocks[made], run, run->o->block);
    if (rc < 0)
        indiv_error_set(err, rc, "out of memory for %d blocks", sets * nthreads);
    if (sets == 1)
        rounds[1].blocks = blocks; /* one set, read again after each round */
    int cur = 0;
    if (rc == INDIV_OK)
        rc = round_read(r, &rounds[cur], nthreads, sum, err);
    while (rc == INDIV_OK && rounds[cur].used > 0) {
        rc = round_run(r, &rounds[cur], &rounds[!cur], nthreads, f, sum, err);
        if (progress)
            progress(ctx, "decide", sum->counts.consumers, sum->consumers_total);
        cur = !cur;
    }
    for (int k = 0; k < made; k++)
        block_free(&blocks[k]);
    return rc;
}

/* Profiles must be built in the feature space the model scores in (the same embedding,
 * or categories): a taste vector of another space would be silently ignored. */
static int check_profile_space(indiv_eventlog *log, const indiv_catalog *cat,
                               indiv_error *err) {
    indiv_profile_space space;
    int rc = indiv_profile_stored_space(log, &space, err);
    if (rc == INDIV_ENOTFOUND)
        return INDIV_OK; /* no profiles: nothing to check */
    if (rc < 0)
        return rc;
    if (strcmp(space.source, indiv_catalog_feature_source(cat)) != 0)
        return indiv_error_set(err, INDIV_EINVAL,
                               "%s: profiles were built in feature space '%s' but the "
                               "model scores in '%s'; rebuild them with indiv profile "
                               "(--model for an embedding model)",
                               indiv_eventlog_path(log), space.source,
                               indiv_catalog_feature_source(cat));
    return INDIV_OK;
}

/* An embedding model that has no vector for most offers was trained on another
 * catalogue (another shop, or a log before most of today's offers existed): its scores
 * would be the zero vector's for those offers. Refused unless o->force_model. */
static int check_model_coverage(const indiv_eventlog *log, const indiv_model *m,
                                const indiv_catalog *cat, size_t missing,
                                const indiv_decide_opts *o, indiv_error *err) {
    size_t n = indiv_catalog_size(cat);
    if (o->force_model || !m->embedding || n == 0 || 2 * missing <= n)
        return INDIV_OK;
    return indiv_error_set(err, INDIV_EINVAL,
                           "model %s has no vector for %zu of the %zu offers of %s: it "
                           "was trained on another catalogue; train one on this log "
                           "(indiv train --db %s --out FILE); only indiv decide can use "
                           "it anyway, with --force",
                           m->id, missing, n, indiv_eventlog_path(log),
                           indiv_eventlog_path(log));
}

static int load_world(indiv_eventlog *log, const indiv_model *m,
                      const indiv_decide_opts *o, indiv_catalog **cat,
                      unsigned char **valid, indiv_decide_summary *sum,
                      indiv_error *err) {
    int64_t consumers = 0, consenting;
    size_t missing = 0;
    int rc = indiv_eventlog_consumer_counts(log, &consumers, &consenting, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, cat, err);
    if (rc == INDIV_OK) /* an embedding model replaces the category features */
        rc = indiv_model_apply(m, *cat, &missing, err);
    if (rc == INDIV_OK)
        rc = check_model_coverage(log, m, *cat, missing, o, err);
    if (rc == INDIV_OK)
        rc = check_profile_space(log, *cat, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load_popularity(*cat, log, o->policy.as_of,
                                           m->popularity_half_life_days, err);
    sum->offers_without_embedding = (int64_t)missing;
    if (rc < 0)
        return rc;
    sum->consumers_total = consumers;
    sum->offers = (int64_t)indiv_catalog_size(*cat);
    if (!(*valid = malloc(indiv_catalog_size(*cat))))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t j = 0; j < indiv_catalog_size(*cat); j++)
        sum->offers_valid += (*valid)[j] =
            (unsigned char)indiv_catalog_valid_at(*cat, j, o->policy.as_of);
    return INDIV_OK;
}

static int check_opts(const indiv_decide_opts *o, indiv_error *err) {
    int rc = indiv_policy_params_validate(&o->policy, err);
    if (rc < 0)
        return rc;
    if (o->threads < 1 || o->threads > INDIV_THREADS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "threads must be in 1..%d",
                               INDIV_THREADS_MAX);
    if (o->block < 1)
        return indiv_error_set(err, INDIV_EINVAL, "block size must be >= 1");
    if (o->shard_count < 1 || o->shard_index < 0 || o->shard_index >= o->shard_count)
        return indiv_error_set(err, INDIV_EINVAL, "shard %d/%d is not a valid I/N",
                               o->shard_index, o->shard_count);
    if ((!o->out_path || !*o->out_path) && !o->out_stream && !o->on_decision)
        return indiv_error_set(err, INDIV_EINVAL,
                               "no output path and no decision callback");
    return INDIV_OK;
}

/* ---- plausibility (adjacent aim) ---------------------------------------------------- */

/* The co-purchase counts of every consumer with a profile (all shards, so that shard
 * outputs add up to the unsharded one): one pass over the profiles before deciding.
 * NULL (no error) when the aim does not need them, when no profiles exist, or with more
 * categories than the table takes (the aim then falls back to popular). */
static int build_plausibility(indiv_eventlog *log, const indiv_catalog *cat,
                              const indiv_decide_opts *o, const indiv_profile_params *pp,
                              indiv_plausibility **out, indiv_error *err) {
    const indiv_policy_params *p = &o->policy;
    size_t n_cat = indiv_catalog_categories(cat);
    *out = NULL;
    if (p->divergence_aim != INDIV_AIM_ADJACENT || !(p->serendipity > 0) || !pp ||
        p->plausibility == INDIV_PLAUS_COSINE ||
        n_cat == 0 || n_cat > INDIV_PLAUS_MAX_CATEGORIES)
        return INDIV_OK;
    indiv_plausibility *pl = indiv_plausibility_new(n_cat, p->plausibility_smoothing);
    int32_t *buf = malloc(n_cat * sizeof *buf);
    indiv_consumer_cursor *cur = NULL;
    indiv_profile pr = {0};
    int rc = pl && buf ? indiv_eventlog_consumer_scan(log, &cur, err)
                       : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    while (rc == INDIV_OK) {
        indiv_consumer_row row;
        indiv_profile_row prow;
        int has;
        if ((rc = indiv_consumer_cursor_next(cur, &row, &prow, &has, err)) <= 0)
            break;
        rc = has ? indiv_profile_decode(&prow, &pr, err) : INDIV_OK;
        const int32_t *kc;
        size_t nk = has && rc == INDIV_OK
                        ? indiv_policy_known_categories(&pr, cat, buf, n_cat, &kc)
                        : 0;
        if (nk)
            indiv_plausibility_add(pl, kc, nk);
    }
    indiv_profile_clear(&pr);
    indiv_consumer_cursor_free(cur);
    free(buf);
    if (rc < 0) {
        indiv_plausibility_free(pl);
        return rc;
    }
    *out = pl;
    return INDIV_OK;
}

static int read_profile_params(indiv_eventlog *log, indiv_profile_params *pp,
                               indiv_decide_summary *sum, indiv_error *err) {
    int rc = indiv_profile_stored_params(log, pp, &sum->prior, err);
    if (rc == INDIV_ENOTFOUND) {
        sum->profiles_built = 0;
        sum->prior = (indiv_rhythm_prior){0};
        return INDIV_OK;
    }
    sum->profiles_built = rc == INDIV_OK;
    sum->profiles_as_of = pp->as_of;
    return rc;
}

int indiv_decide_run(indiv_eventlog *log, const indiv_model *m,
                     const indiv_decide_opts *o, indiv_progress_fn progress, void *ctx,
                     indiv_decide_summary *sum, indiv_error *err) {
    double t0 = now_s();
    memset(sum, 0, sizeof *sum);
    indiv_profile_params pp;
    indiv_catalog *cat = NULL;
    indiv_scorer *scorer = NULL;
    unsigned char *valid = NULL;
    struct reader r = {.log = log, .o = o, .prior = &sum->prior};
    int rc = check_opts(o, err);
    if (rc == INDIV_OK)
        rc = indiv_model_validate(m, err);
    if (rc == INDIV_OK)
        rc = indiv_policy_params_check_model(&o->policy, m, err);
    if (rc == INDIV_OK)
        rc = read_profile_params(log, &pp, sum, err);
    r.pp = sum->profiles_built ? &pp : NULL;
    if (rc == INDIV_OK)
        rc = load_world(log, m, o, &cat, &valid, sum, err);
    if (rc == INDIV_OK)
        rc = indiv_scorer_new(m, cat, &scorer, err);
    indiv_plausibility *plaus = NULL; /* owned; o->plaus is borrowed */
    if (rc == INDIV_OK && !o->plaus)
        rc = build_plausibility(log, cat, o, r.pp, &plaus, err);
    const indiv_plausibility *pl = o->plaus ? o->plaus : plaus;
    sum->plausibility_people = pl ? indiv_plausibility_people(pl) : 0;
    if (rc == INDIV_OK)
        rc = indiv_eventlog_consumer_scan(log, &r.cur, err);
    indiv_outfile *out = NULL;
    if (rc == INDIV_OK && o->out_path && !o->out_stream)
        rc = indiv_outfile_open(o->out_path, &out, err);
    FILE *f = o->out_stream ? o->out_stream : out ? indiv_outfile_stream(out) : NULL;
    if (rc == INDIV_OK) {
        struct run run = {o,           scorer,
                          cat,         valid,
                          &sum->prior, {cat, m->id, o->policy.seed, o->policy.as_of},
                          pl};
        rc = run_all(&r, &run, f, progress, ctx, sum, err);
    }
    rc = indiv_outfile_finish(out, rc, err); /* a callback may stop with rc > 0 */
    indiv_consumer_cursor_free(r.cur);
    indiv_plausibility_free(plaus);
    indiv_scorer_free(scorer);
    indiv_catalog_free(cat);
    free(valid);
    sum->seconds_total = now_s() - t0;
    return rc;
}

int indiv_decide_plausibility(indiv_eventlog *log, const indiv_model *m,
                              const indiv_decide_opts *o, indiv_plausibility **out,
                              indiv_error *err) {
    indiv_decide_summary sum = {0};
    indiv_profile_params pp;
    indiv_catalog *cat = NULL;
    size_t missing;
    *out = NULL;
    int rc = read_profile_params(log, &pp, &sum, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, err);
    if (rc == INDIV_OK)
        rc = indiv_model_apply(m, cat, &missing, err);
    if (rc == INDIV_OK)
        rc = build_plausibility(log, cat, o, sum.profiles_built ? &pp : NULL, out, err);
    indiv_catalog_free(cat);
    return rc;
}

/* ---- one consumer at a time (the service) ------------------------------------------- */

/* The same pieces as a run (catalog, scorer, prior, profile parameters), loaded once
 * for the day of o->policy.as_of; each decision then goes through the run's own
 * take_row and block_work on a block of one, so that its JSON is the run's line. */
struct indiv_decider {
    indiv_decide_opts o;
    const indiv_model *m;
    indiv_catalog *cat;
    unsigned char *valid; /* at o.policy.as_of (load_world needs it; calls recompute) */
    indiv_scorer *scorer;
    indiv_profile_params pp;
    indiv_decide_summary sum; /* prior, profiles_built */
    int64_t day;
};

/* Source ids are at most 127 bytes (docs/import.md); a longer stored one is cut. */
#define EXT_ID_CAP 256

/* What one thread needs to decide: a block of one and the validity at the call's time. */
struct indiv_decide_ws {
    const indiv_decider *dc;
    indiv_decide_opts o;
    struct run run;
    struct block b;
    unsigned char *valid;
};

/* Days since 1970-01-01 of t, rounded down (the popularity's day). */
static int64_t day_of(int64_t t) {
    return t >= 0 ? t / INDIV_SECONDS_PER_DAY
                  : -((-t + INDIV_SECONDS_PER_DAY - 1) / INDIV_SECONDS_PER_DAY);
}

int indiv_decider_new(indiv_eventlog *log, const indiv_model *m,
                      const indiv_decide_opts *o, indiv_decider **out, indiv_error *err) {
    *out = NULL;
    indiv_decider *dc = calloc(1, sizeof *dc);
    if (!dc)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    dc->o = *o;
    dc->o.out_path = "(one consumer at a time)"; /* never opened: lines go to a buffer */
    dc->o.threads = 1;
    dc->m = m;
    dc->day = day_of(o->policy.as_of);
    int rc = check_opts(&dc->o, err);
    if (rc == INDIV_OK)
        rc = indiv_model_validate(m, err);
    if (rc == INDIV_OK)
        rc = indiv_policy_params_check_model(&o->policy, m, err);
    if (rc == INDIV_OK)
        rc = read_profile_params(log, &dc->pp, &dc->sum, err);
    if (rc == INDIV_OK)
        rc = load_world(log, m, &dc->o, &dc->cat, &dc->valid, &dc->sum, err);
    if (rc == INDIV_OK)
        rc = indiv_scorer_new(m, dc->cat, &dc->scorer, err);
    if (rc < 0) {
        indiv_decider_free(dc);
        return rc;
    }
    *out = dc;
    return INDIV_OK;
}

void indiv_decider_free(indiv_decider *dc) {
    if (!dc)
        return;
    indiv_scorer_free(dc->scorer);
    indiv_catalog_free(dc->cat);
    free(dc->valid);
    free(dc);
}

int64_t indiv_decider_day(const indiv_decider *dc) {
    return dc->day;
}

int64_t indiv_decide_day_of(int64_t t) {
    return day_of(t);
}

const indiv_catalog *indiv_decider_catalog(const indiv_decider *dc) {
    return dc->cat;
}

int indiv_decider_plausibility(indiv_eventlog *log, const indiv_decider *dc,
                               indiv_plausibility **out, indiv_error *err) {
    return build_plausibility(log, dc->cat, &dc->o,
                              dc->sum.profiles_built ? &dc->pp : NULL, out, err);
}

void indiv_decide_ws_free(indiv_decide_ws *ws) {
    if (!ws)
        return;
    block_free(&ws->b);
    free(ws->valid);
    free(ws);
}

/* A workspace for dc (the one in *ws when it was made for dc). */
static int ws_for(const indiv_decider *dc, indiv_decide_ws **ws, indiv_error *err) {
    if (*ws && (*ws)->dc == dc)
        return INDIV_OK;
    indiv_decide_ws_free(*ws);
    *ws = calloc(1, sizeof **ws);
    size_t n = indiv_catalog_size(dc->cat);
    if (*ws && ((*ws)->valid = malloc(n + 1))) {
        memcpy((*ws)->valid, dc->valid, n);
        (*ws)->dc = dc;
        (*ws)->o = dc->o;
        (*ws)->run = (struct run){&(*ws)->o, dc->scorer, dc->cat, (*ws)->valid,
                                  &dc->sum.prior, {0}, NULL};
        if (block_init(&(*ws)->b, &(*ws)->run, 1) == INDIV_OK)
            return INDIV_OK;
    }
    indiv_decide_ws_free(*ws);
    *ws = NULL;
    return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
}

/* Reads consumer ext_id with its profile into the block of one (as read_block does). */
static int read_one(indiv_eventlog *log, indiv_decide_ws *ws, const char *ext_id,
                    indiv_error *err) {
    const indiv_decider *dc = ws->dc;
    struct reader r = {.log = log, .o = &ws->o, .prior = &dc->sum.prior,
                       .pp = dc->sum.profiles_built ? &dc->pp : NULL};
    char ext[EXT_ID_CAP];
    indiv_consumer_row row;
    indiv_profile_row prow;
    int64_t id;
    int rc = indiv_eventlog_consumer_id(log, ext_id, &id, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_consumer_get(log, id, &row, ext, sizeof ext, err);
    int has = 0;
    if (rc == INDIV_OK && r.pp) {
        rc = indiv_eventlog_profile_get(log, id, &prow, err);
        has = rc == INDIV_OK;
        rc = rc == INDIV_ENOTFOUND ? INDIV_OK : rc;
    }
    struct block *b = &ws->b;
    b->n = 0;
    b->ext.len = 0;
    b->out.len = 0;
    memset(&b->counts, 0, sizeof b->counts);
    return rc == INDIV_OK ? take_row(&r, b, &row, &prow, has, err) : rc;
}

int indiv_decide_one(const indiv_decider *dc, const indiv_plausibility *pl,
                     indiv_decide_ws **ws, indiv_eventlog *log, int64_t as_of,
                     const char *ext_id, indiv_buf *out, indiv_decision *d,
                     indiv_error *err) {
    if (day_of(as_of) != dc->day)
        return indiv_error_set(err, INDIV_EINVAL,
                               "as_of is on another day than the decider's (popularity "
                               "is per day)");
    int rc = ws_for(dc, ws, err);
    if (rc < 0)
        return rc;
    indiv_decide_ws *w = *ws;
    size_t n = indiv_catalog_size(dc->cat);
    w->o.policy.as_of = as_of;
    for (size_t j = 0; j < n; j++)
        w->valid[j] = (unsigned char)indiv_catalog_valid_at(dc->cat, j, as_of);
    if (w->b.valid_own)
        memcpy(w->b.valid_own, w->valid, n);
    w->run.ctx = (indiv_decision_ctx){dc->cat, dc->m->id, dc->o.policy.seed, as_of};
    w->run.plaus = pl;
    if ((rc = read_one(log, w, ext_id, err)) < 0)
        return rc;
    block_work(&w->b);
    if (w->b.rc < 0)
        return indiv_error_set(err, w->b.rc, "scoring or serialising a decision failed");
    if (d)
        *d = w->b.dec[0];
    return indiv_buf_append(out, w->b.out.data, w->b.out.len) < 0
               ? indiv_error_set(err, INDIV_ENOMEM, "out of memory")
               : INDIV_OK;
}

/* ---- summary ----------------------------------------------------------------------- */

/* as_of, the policy table's parameters (in table order), then the run's own. */
static json_t *params_json(const indiv_decide_opts *o) {
    const indiv_policy_params *p = &o->policy;
    char asof[INDIV_ISO_LEN];
    json_t *j = json_pack("{s:s}", "as_of", indiv_time_format(p->as_of, asof));
    if (j && indiv_policy_params_to_json(p, j) == INDIV_OK &&
        json_object_set_new(j, "seed", json_integer((json_int_t)p->seed)) == 0 &&
        json_object_set_new(j, "threads", json_integer(o->threads)) == 0 &&
        json_object_set_new(j, "block", json_integer((json_int_t)o->block)) == 0 &&
        json_object_set_new(j, "threshold_source",
                            json_string(o->threshold_source ? o->threshold_source
                                                            : "default")) == 0 &&
        json_object_set_new(j, "shard", json_string("")) == 0)
        return j;
    json_decref(j);
    return NULL;
}

static json_t *counts_json(const indiv_decision_counts *c) {
    json_t *act = json_object(), *why = json_object();
    for (int a = 0; a < 3; a++)
        json_object_set_new(act, indiv_action_name((indiv_action)a),
                            json_integer(c->by_action[a]));
    for (int r = 0; r < INDIV_R_COUNT; r++)
        json_object_set_new(why, indiv_reason_name((indiv_reason)r),
                            json_integer(c->by_reason[r]));
    int64_t contacts = c->by_action[INDIV_CONTACT];
    json_t *j = json_pack(
        "{s:I, s:o, s:o, s:I, s:I, s:f, s:f, s:I, s:{s:I, s:I, s:I}, s:f}", "consumers",
        (json_int_t)c->consumers, "by_action", act, "by_reason", why, "personalised",
        (json_int_t)c->personalised, "offers_sent", (json_int_t)c->offers_sent,
        "divergent_share_of_contacts",
        contacts ? (double)c->contacts_divergent / (double)contacts : 0.0,
        "offers_per_contact", contacts ? (double)c->offers_sent / (double)contacts : 0.0,
        "divergence_drawn", (json_int_t)c->divergence_drawn, "divergence_not_placed",
        "no_plausible_offer_outside_bubble", (json_int_t)c->divergence_missed[1],
        "no_relevant_offer_to_ride_along", (json_int_t)c->divergence_missed[2],
        "no_room_in_a_single_slot", (json_int_t)c->divergence_missed[3],
        "mean_best_score_of_none",
        c->n_best_p_none ? c->sum_best_p_none / (double)c->n_best_p_none : 0.0);
    if (j && json_object_set_new(j, "divergence_placed",
                                 json_integer((json_int_t)c->divergence_placed)) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

char *indiv_decide_summary_json(const indiv_decide_opts *o, const indiv_model *m,
                                const indiv_decide_summary *s) {
    char shard[32], asof[INDIV_ISO_LEN];
    snprintf(shard, sizeof shard, "%d/%d", o->shard_index, o->shard_count);
    json_t *params = params_json(o);
    json_object_set_new(params, "shard", json_string(shard));
    json_t *root = json_pack(
        "{s:s, s:o, s:o, s:{s:I, s:I, s:I, s:b, s:s?, s:f, s:f, s:I}, s:{s:f, s:f, s:f, "
        "s:f}}",
        "model", m->id, "parameters", params, "counts", counts_json(&s->counts), "data",
        "consumers_in_database", (json_int_t)s->consumers_total, "offers",
        (json_int_t)s->offers, "offers_valid", (json_int_t)s->offers_valid,
        "profiles_built", s->profiles_built, "profiles_as_of",
        s->profiles_built ? indiv_time_format(s->profiles_as_of, asof) : NULL,
        "prior_mean_interval_days", s->prior.mean_days, "prior_interval_cv2",
        s->prior.cv2, "plausibility_people", (json_int_t)s->plausibility_people,
        "seconds", "read", s->seconds_read, "decide", s->seconds_decide, "write",
        s->seconds_write, "total", s->seconds_total);
    char *txt = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(root);
    return txt;
}
