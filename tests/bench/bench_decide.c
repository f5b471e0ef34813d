/*
 * bench_decide.c — the decision run against its two unavoidable costs: the affinity
 * product and the JSON lines.
 *
 * The world: 1,000,000 x SCALE consumers, 1000 offers in 50 categories (d = 50), 3
 * contact channels, 60 days of history from the default generator (consent, channels
 * and tastes as documented in docs/worlds.md), with profiles built as of the end of the
 * history. It is generated and profiled once, in a child process (so that neither counts
 * in this process's peak RSS), and cached in $BENCH_CACHE, else $TMPDIR, else /tmp,
 * under a name keyed by the consumer count; a later run with the same SCALE reuses it.
 * Only `decide` is measured.
 *
 * Timed, best of RUNS each, interleaved so that all see the same machine:
 *   (a) indiv_decide_run with the defaults (2 threads, blocks of 256), JSON Lines to a
 *       temporary file: read, project, score, decide, serialise, write;
 *   (b) the reference gemm: the same product, (consumers x d) x (d x offers), as
 *       single-threaded OpenBLAS dgemm calls on blocks of 256 rows, the blocks shared
 *       between 2 threads (as the engine does), nothing else;
 *   (c) the reference writer: as many JSON objects, built with jansson in the shapes and
 *       proportions of the run's decisions (a contact with its offers and drivers, or a
 *       bare `none`), each dumped with json_dumpb into a reused buffer, serialised by 2
 *       threads into per-block buffers that are fwrite'n in order to a file.
 * With BENCH_DECIDE_ONLY=history in the environment, only (d) below runs; with
 * BENCH_DECIDE_ONLY=history-run, only (e).
 * Prints the BENCH line of docs/architecture.md §10 (consumers/s of decide; reference
 * consumers/s of gemm + JSON; ratio = decide time / (gemm time + JSON time); goal <= 2)
 * and an info line with candidates/s, the three times and the decide phases.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cblas.h>
#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <sqlite3.h>

#include "bench.h"
#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/score.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"

#define BASE_CONSUMERS 1000000
#define OFFERS         BENCH_DW_OFFERS
#define CATEGORIES     BENCH_DW_CATEGORIES
#define DAYS           BENCH_DW_DAYS
#define SEED           BENCH_DW_SEED
#define RUNS           2
#define BLOCK          INDIV_DECIDE_BLOCK
#define THREADS        2
#define LINE_FLAGS     (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))

/* ---- (a) the decision run ---------------------------------------------------------- */

/* The policy of a run: the defaults, or a variant's (policy NULL: the defaults). */
static double run_decide_with(indiv_eventlog *log, int64_t as_of, const char *out,
                              const indiv_policy_params *policy,
                              indiv_decide_summary *sum, size_t *bytes) {
    indiv_model m;
    indiv_model_default(&m);
    indiv_decide_opts o;
    indiv_decide_opts_init(&o);
    if (policy)
        o.policy = *policy;
    o.policy.as_of = as_of;
    o.out_path = out;
    o.threads = THREADS;
    o.block = BLOCK;
    indiv_error err = {0};
    double t0 = bench_now();
    int rc = indiv_decide_run(log, &m, &o, NULL, NULL, sum, &err);
    double t = bench_now() - t0;
    indiv_model_clear(&m);
    if (rc < 0) {
        fprintf(stderr, "bench_decide: decide: %s\n", err.msg);
        return -1;
    }
    struct stat sb;
    *bytes = stat(out, &sb) == 0 ? (size_t)sb.st_size : 0;
    unlink(out);
    return t;
}

static double min_pos(double a, double b) {
    return a < 0 ? b : (b < 0 || a < b ? a : b);
}

static double run_decide(indiv_eventlog *log, int64_t as_of, const char *out,
                         indiv_decide_summary *sum, size_t *bytes) {
    return run_decide_with(log, as_of, out, NULL, sum, bytes);
}

/* ---- serendipity variants against plain decide (issue 10, "Speed") -----------------
 *
 * Plain: the defaults without serendipity and without re-ranking. Variants: the adjacent
 * aim with ε = 0.3 and the extra slot (the plausibility pass over the profiles, the lift
 * and the draws included), and each re-ranker (λ 0.5, pool 20) without serendipity.
 * Interleaved, best of RUNS; each BENCH line's ratio is variant CPU time / plain CPU
 * time (goal <= 1.2), its value the variant's consumers/s (wall). */

enum { V_PLAIN, V_ADJACENT, V_MMR, V_CALIBRATED, V_COUNT };

static const char *const variant_names[V_COUNT] = {"decide_plain", "decide_adjacent",
                                                   "decide_mmr", "decide_calibrated"};

static void variant_policy(int v, indiv_policy_params *p) {
    indiv_policy_params_init(p);
    p->serendipity = v == V_ADJACENT ? 0.3 : 0;
    p->divergence_aim = INDIV_AIM_ADJACENT;
    p->divergent_slot = INDIV_SLOT_EXTRA;
    p->rerank = v == V_MMR          ? INDIV_RERANK_MMR
                : v == V_CALIBRATED ? INDIV_RERANK_CALIBRATED
                                    : INDIV_RERANK_NONE;
    p->rerank_lambda = 0.5;
}

static int bench_variants(indiv_eventlog *log, int64_t as_of, const char *out,
                          int64_t consumers) {
    double wall[V_COUNT] = {-1, -1, -1, -1}, cpu[V_COUNT] = {-1, -1, -1, -1};
    indiv_decide_summary sum;
    size_t bytes;
    for (int r = 0; r < RUNS; r++)
        for (int v = 0; v < V_COUNT; v++) {
            indiv_policy_params p;
            variant_policy(v, &p);
            double c0 = bench_cpu_now();
            double t = run_decide_with(log, as_of, out, &p, &sum, &bytes);
            if (t < 0)
                return 1;
            wall[v] = min_pos(wall[v], t);
            cpu[v] = min_pos(cpu[v], bench_cpu_now() - c0);
        }
    /* The ratio is of CPU seconds: on a shared machine the wall clock of a 2-thread run
     * moves with the other jobs far more than the work done (both are printed). */
    double n = (double)consumers;
    for (int v = V_ADJACENT; v < V_COUNT; v++)
        bench_report(variant_names[v], n / wall[v], "consumers/s", variant_names[V_PLAIN],
                     n / wall[V_PLAIN], cpu[v] / cpu[V_PLAIN]);
    printf("info decide variants (best of %d, wall s / CPU s):", RUNS);
    for (int v = 0; v < V_COUNT; v++)
        printf(" %s %.2f / %.2f;", variant_names[v], wall[v], cpu[v]);
    printf(" ratios above are of CPU seconds\n");
    return 0;
}

/* ---- (b) the reference gemm -------------------------------------------------------- */

typedef struct gemm_job {
    int64_t consumers;
    int first; /* this thread takes blocks first, first + THREADS, ... */
    const double *f;
    double *x, *c; /* BLOCK x d and BLOCK x OFFERS, the thread's own */
} gemm_job;

static void *gemm_work(void *arg) {
    gemm_job *g = arg;
    for (int64_t b0 = (int64_t)g->first * BLOCK; b0 < g->consumers;
         b0 += (int64_t)THREADS * BLOCK) {
        int rows = (int)(g->consumers - b0 < BLOCK ? g->consumers - b0 : BLOCK);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, OFFERS, CATEGORIES,
                    1.0, g->x, CATEGORIES, g->f, CATEGORIES, 0.0, g->c, OFFERS);
    }
    return NULL;
}

/* Fills v with deterministic values in [0, 1) (the product's speed ignores them). */
static void fill(double *v, size_t n, uint64_t s) {
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = (double)(s >> 11) / 9007199254740992.0;
    }
}

static double run_gemm(int64_t consumers) {
    openblas_set_num_threads(1);
    double *f = malloc(OFFERS * CATEGORIES * sizeof *f);
    gemm_job jobs[THREADS];
    pthread_t tid[THREADS];
    int ok = f != NULL;
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (gemm_job){consumers, t, f, malloc(BLOCK * CATEGORIES * sizeof(double)),
                             malloc((size_t)BLOCK * OFFERS * sizeof(double))};
        ok = ok && jobs[t].x && jobs[t].c;
    }
    double t0 = bench_now(), el = -1;
    if (ok) {
        fill(f, OFFERS * CATEGORIES, 1);
        for (int t = 0; t < THREADS; t++)
            fill(jobs[t].x, BLOCK * CATEGORIES, 2 + (uint64_t)t);
        t0 = bench_now();
        for (int t = 0; t < THREADS; t++)
            pthread_create(&tid[t], NULL, gemm_work, &jobs[t]);
        for (int t = 0; t < THREADS; t++)
            pthread_join(tid[t], NULL);
        el = bench_now() - t0;
    }
    for (int t = 0; t < THREADS; t++) {
        free(jobs[t].x);
        free(jobs[t].c);
    }
    free(f);
    return el;
}

/* ---- (c) the reference JSON writer ------------------------------------------------- */

typedef struct json_shape {
    double share_with_offers; /* lines that carry offers (contacts and deferrals) */
    int offers;               /* offers on such a line */
} json_shape;

static void add(json_t *o, const char *k, json_t *v) {
    json_object_set_new_nocheck(o, k, v);
}

/* A line shaped like a decision: with k offers and drivers, or a bare none. */
static json_t *ref_line(int64_t i, int k) {
    char id[32], off[32], name[48], cat[16];
    json_t *o = json_object();
    snprintf(id, sizeof id, "c%07lld", (long long)i);
    add(o, "consumer", json_string(id));
    add(o, "action", json_string(k ? "contact" : "none"));
    add(o, "reason", json_string(k ? "relevant_offers" : "below_threshold"));
    if (k) {
        add(o, "channel", json_string("email"));
        add(o, "send_at", json_string("2024-03-02T19:00:00Z"));
        json_t *a = json_array(), *d = json_array();
        for (int r = 0; r < k; r++) {
            int j = (int)((i * 7 + r * 13) % OFFERS);
            snprintf(off, sizeof off, "o%04d", j);
            snprintf(cat, sizeof cat, "cat-%02d", j % CATEGORIES);
            snprintf(name, sizeof name, "%s item %d", cat, j / CATEGORIES + 1);
            json_t *x = json_object();
            add(x, "offer", json_string(off));
            add(x, "name", json_string(name));
            add(x, "category", json_string(cat));
            add(x, "rank", json_integer(r + 1));
            add(x, "kind", json_string("relevant"));
            add(x, "score", json_real(0.912383 - 0.01 * r));
            add(x, "channel_score", json_real(0.0912383 - 0.001 * r));
            add(x, "affinity", json_real(0.979861));
            add(x, "expected_value", json_real(5.68512 + r));
            json_array_append_new(a, x);
        }
        add(o, "offers", a);
        static const char *const terms[] = {"affinity", "popularity", "frequency"};
        for (int t = 0; t < 3; t++) {
            json_t *x = json_object();
            add(x, "term", json_string(terms[t]));
            add(x, "contribution", json_real(3.91944 / (t + 1)));
            json_array_append_new(d, x);
        }
        add(o, "drivers", d);
    } else {
        add(o, "best_offer", json_string("o0001"));
        add(o, "best_score", json_real(0.119203));
    }
    add(o, "readiness", json_real(0.0974589));
    add(o, "contacts_recent", json_integer(0));
    add(o, "personalised", json_true());
    add(o, "as_of", json_string("2024-03-01T00:00:00Z"));
    add(o, "model", json_string("default-category-v1"));
    add(o, "seed", json_integer(1));
    return o;
}

typedef struct json_job {
    const json_shape *shape;
    int64_t first, n; /* lines [first, first + n) */
    char *scratch;    /* reused json_dumpb buffer */
    size_t scratch_cap;
    char *out; /* the block's bytes */
    size_t len, cap;
    int rc;
} json_job;

static int append(json_job *j, const char *s, size_t n) {
    if (j->len + n > j->cap) {
        size_t cap = j->cap ? j->cap : 1 << 16;
        while (cap < j->len + n)
            cap *= 2;
        char *p = realloc(j->out, cap);
        if (!p)
            return -1;
        j->out = p;
        j->cap = cap;
    }
    memcpy(j->out + j->len, s, n);
    j->len += n;
    return 0;
}

static void *json_work(void *arg) {
    json_job *j = arg;
    j->len = 0;
    for (int64_t i = j->first; i < j->first + j->n && j->rc == 0; i++) {
        double s = j->shape->share_with_offers;
        int k = floor((double)(i + 1) * s) > floor((double)i * s) ? j->shape->offers : 0;
        json_t *o = ref_line(i, k);
        size_t n = json_dumpb(o, j->scratch, j->scratch_cap, LINE_FLAGS);
        j->rc = n == 0 || n >= j->scratch_cap || append(j, j->scratch, n) < 0 ||
                append(j, "\n", 1) < 0;
        json_decref(o);
    }
    return NULL;
}

/* Seconds, or < 0; *bytes gets the size of the file written. */
static double run_json(int64_t consumers, const json_shape *shape, const char *path,
                       size_t *bytes) {
    FILE *f = fopen(path, "w");
    json_job jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    int rc = f == NULL;
    for (int t = 0; t < THREADS; t++) {
        jobs[t].shape = shape;
        jobs[t].scratch_cap = 1 << 16;
        jobs[t].scratch = malloc(jobs[t].scratch_cap);
        rc |= jobs[t].scratch == NULL;
    }
    double t0 = bench_now();
    *bytes = 0;
    for (int64_t b0 = 0; rc == 0 && b0 < consumers; b0 += (int64_t)THREADS * BLOCK) {
        pthread_t tid[THREADS];
        int used = 0;
        for (; used < THREADS && b0 + (int64_t)used * BLOCK < consumers; used++) {
            json_job *j = &jobs[used];
            j->first = b0 + (int64_t)used * BLOCK;
            j->n = consumers - j->first < BLOCK ? consumers - j->first : BLOCK;
            pthread_create(&tid[used], NULL, json_work, j);
        }
        for (int t = 0; t < used; t++) {
            pthread_join(tid[t], NULL);
            rc |= jobs[t].rc || fwrite(jobs[t].out, 1, jobs[t].len, f) != jobs[t].len;
            *bytes += jobs[t].len;
        }
    }
    rc |= f && fclose(f) != 0;
    double el = bench_now() - t0;
    for (int t = 0; t < THREADS; t++) {
        free(jobs[t].scratch);
        free(jobs[t].out);
    }
    unlink(path);
    if (rc)
        fprintf(stderr, "bench_decide: the JSON reference failed\n");
    return rc ? -1 : el;
}

/* ---- main -------------------------------------------------------------------------- */

static int open_world(const char *path, indiv_eventlog **log, int64_t *as_of) {
    indiv_error err = {0};
    indiv_profile_params pp;
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, log, &err);
    if (rc == INDIV_OK)
        rc = indiv_profile_stored_params(*log, &pp, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "bench_decide: %s: %s\n", path, err.msg);
        return 1;
    }
    *as_of = pp.as_of;
    return 0;
}

/* ---- (d) the history terms (issue 12): scoring with ~20 past offers per person ------ */

#define HIST_PER_PERSON 20

/* Scores `consumers` synthetic people in blocks (one thread): taste, and with_history
 * HIST_PER_PERSON past offers (repeat and item terms added per person next to the gemm
 * block), then the policy's scan of every offer's logit. Returns CPU seconds (the pass
 * runs on one thread, so wall time only adds the other processes' share of the cores). */
static double score_pass(const indiv_scorer *s, indiv_score_block *b,
                         const indiv_catalog *cat, int64_t consumers, int with_history,
                         int64_t as_of, double *sink) {
    size_t n = indiv_catalog_size(cat), d = indiv_catalog_dims(cat);
    double *taste = malloc((d + 1) * sizeof *taste), best = 0;
    indiv_offer_history hist[HIST_PER_PERSON];
    indiv_profile pr;
    indiv_profile_init(&pr);
    pr.features = INDIV_FEAT_ALL;
    pr.dims = d;
    pr.taste = taste;
    pr.history = hist;
    pr.orders = 5;
    double t0 = bench_cpu_now(); /* one thread: CPU time, steady on a busy machine */
    for (int64_t b0 = 0; taste && b0 < consumers; b0 += BLOCK) {
        size_t rows = (size_t)(consumers - b0 < BLOCK ? consumers - b0 : BLOCK);
        for (size_t i = 0; i < rows; i++) {
            uint64_t u = (uint64_t)(b0 + (int64_t)i) * 2654435761u;
            fill(taste, d, u);
            for (int k = 0; k < HIST_PER_PERSON; k++)
                hist[k] = (indiv_offer_history){
                    indiv_catalog_offer(cat, (u + (uint64_t)k * 37) % n)->id,
                    1 + k % 4,
                    1,
                    as_of - (int64_t)(90 + k) * 86400,
                    as_of - (int64_t)(3 + k) * 86400,
                    4};
            pr.n_history = with_history ? HIST_PER_PERSON : 0;
            indiv_score_set_row(s, b, i, &pr, 0.5);
            if (with_history)
                indiv_score_set_history(s, b, i, &pr, as_of);
        }
        indiv_score_run(s, b, rows, NULL);
        const double *c = indiv_scorer_offer_terms(s);
        double w = indiv_scorer_affinity_weight(s);
        for (size_t i = 0; i < rows; i++) { /* the policy's scan (policy.c) */
            const double *aff = indiv_score_affinity(b, i), *x = indiv_score_extra(b, i);
            double u = indiv_score_consumer_term(b, i), z = -INFINITY;
            for (size_t j = 0; j < n; j++)
                z = fmax(z, c[j] + u + w * aff[j] + x[j]);
            best += z;
        }
    }
    double el = bench_cpu_now() - t0;
    *sink += best;
    free(taste);
    return el;
}

/* The same people scored with and without their history: the ratio is the cost of the
 * history terms over the plain gemm path. An item-to-item component with 50 neighbours
 * per offer (as trained models carry) is added to the default model, and the weights of
 * the offers bought (weights_bought, which `indiv train` writes by default: the
 * correction of score.c's bought_correction) with the values of README's model on the
 * shipped sample. */
/* The model of the history benches: m (the default model) given an item-to-item
 * component of k neighbours per offer (as trained models carry) and weights_bought with
 * the values of README's model on the shipped sample. 0 on success. */
static int history_model(const indiv_catalog *cat, size_t k, indiv_model *m) {
    m->weight[INDIV_TERM_ITEM_ITEM] = 0.5;
    m->bought = (indiv_bought_weights){1, 5.046, 3.827, -2.713};
    size_t n = indiv_catalog_size(cat);
    const char **ids = malloc((n + 1) * sizeof *ids);
    size_t *ptr = malloc((n + 1) * sizeof *ptr), *idx = malloc((n * k + 1) * sizeof *idx);
    double *w = malloc((n * k + 1) * sizeof *w);
    for (size_t j = 0; ids && ptr && idx && w && j < n; j++) {
        ids[j] = indiv_catalog_offer(cat, j)->ext_id;
        ptr[j] = j * k;
        for (size_t e = 0; e < k; e++) {
            idx[j * k + e] = (j + 1 + e * 7) % n;
            w[j * k + e] = 0.01 * (double)(e + 1);
        }
    }
    if (ptr)
        ptr[n] = n * k;
    if (ids && ptr && idx && w)
        m->item_item = indiv_item_neighbours_new(n, ids, ptr, idx, w);
    free(ids);
    free(ptr);
    free(idx);
    free(w);
    return m->item_item ? 0 : 1;
}

/* The same people scored with and without their history: the ratio is the cost of the
 * history terms over the plain gemm path, the scoring kernel alone (no read, no
 * decision, no JSON: (e) below measures the whole run). The model: history_model with
 * 50 neighbours per offer; the info line also gives the ratio without weights_bought
 * (older models). */
static int bench_history(indiv_eventlog *log, int64_t as_of, int64_t consumers) {
    indiv_catalog *cat = NULL;
    indiv_model m;
    indiv_scorer *s = NULL;
    size_t k = 50;
    indiv_model_default(&m);
    int rc = indiv_catalog_load(log, &cat, NULL);
    if (rc == 0)
        rc = indiv_catalog_load_popularity(cat, log, as_of, m.popularity_half_life_days,
                                           NULL);
    if (rc == 0)
        rc = history_model(cat, k, &m);
    size_t n = cat ? indiv_catalog_size(cat) : 0;
    /* the same model without weights_bought, for the info line */
    indiv_model m0 = m;
    indiv_scorer *s0 = NULL;
    m0.bought.present = 0;
    if (rc == 0)
        rc = indiv_scorer_new(&m, cat, &s, NULL);
    if (rc == 0)
        rc = indiv_scorer_new(&m0, cat, &s0, NULL);
    indiv_score_block *b = s && s0 ? indiv_score_block_new(s, BLOCK) : NULL;
    double plain = -1, hist = -1, hist0 = -1, sink = 0;
    openblas_set_num_threads(1);
    for (int r = 0; b && r < RUNS; r++) {
        plain = min_pos(plain, score_pass(s, b, cat, consumers, 0, as_of, &sink));
        hist = min_pos(hist, score_pass(s, b, cat, consumers, 1, as_of, &sink));
        hist0 = min_pos(hist0, score_pass(s0, b, cat, consumers, 1, as_of, &sink));
    }
    if (b && plain > 0 && hist > 0 && hist0 > 0) {
        double c = (double)consumers;
        bench_report("decide_history_terms", c / hist, "consumers/s", "plain_gemm_path",
                     c / plain, hist / plain);
        printf("info decide_history_terms: the scoring kernel alone: %lld consumers x "
               "%zu offers, %d past offers per person and %zu neighbours per offer, one "
               "thread: %.2f s with the history terms and weights_bought, %.2f s without "
               "(gemm, set-row, the policy's scan; CPU s); without weights_bought %.2f s "
               "(ratio %.3f) [%g]\n",
               (long long)consumers, n, HIST_PER_PERSON, k, hist, plain, hist0,
               hist0 / plain, sink > 0 ? 1.0 : 0.0);
    }
    indiv_score_block_free(b);
    indiv_scorer_free(s);
    indiv_scorer_free(s0);
    indiv_model_clear(&m);
    indiv_catalog_free(cat);
    return b && plain > 0 && hist > 0 && hist0 > 0 ? 0 : 1;
}

/* ---- (e) decide end to end with ~20 past offers per person (issue 12) ---------------
 *
 * Two copies of the world (cached beside it): in one every profile carries
 * HIST_PER_PERSON past offers (those of score_pass, so distinct offers bought on 1 to 4
 * occasions over the last 90 days), in the other no history group at all (the plain gemm
 * path). indiv_decide_run with history_model on each, interleaved, best of RUNS: the
 * ratio is of CPU seconds (read, score, decide, serialise, write: the whole run). */

typedef struct hist_world {
    const char *src; /* the bench world */
    int with;        /* 1: HIST_PER_PERSON past offers; 0: no history group */
} hist_world;

static int rewrite_profiles(indiv_eventlog *in, indiv_eventlog *out,
                            const indiv_catalog *cat, int with, indiv_error *err) {
    indiv_profile_cursor *cur = NULL;
    indiv_profile pr;
    indiv_profile_row row;
    size_t n = indiv_catalog_size(cat);
    indiv_profile_init(&pr);
    int rc = indiv_eventlog_profile_scan(in, &cur, err), got = 0;
    if (rc == INDIV_OK)
        rc = indiv_eventlog_begin(out, err);
    while (rc == INDIV_OK && (got = indiv_profile_cursor_next(cur, &row, err)) == 1) {
        rc = indiv_profile_decode(&row, &pr, err);
        if (rc == INDIV_OK && with && pr.history_cap < HIST_PER_PERSON) {
            indiv_offer_history *h =
                realloc(pr.history, HIST_PER_PERSON * sizeof *pr.history);
            rc = h ? INDIV_OK : INDIV_ENOMEM;
            if (h) {
                pr.history = h;
                pr.history_cap = HIST_PER_PERSON;
            }
        }
        if (rc != INDIV_OK)
            break;
        uint64_t u = (uint64_t)pr.consumer_id * 2654435761u;
        pr.features = with ? pr.features | INDIV_FEAT_HISTORY
                           : pr.features & ~(unsigned)INDIV_FEAT_HISTORY;
        pr.n_history = with ? HIST_PER_PERSON : 0;
        for (int k = 0; with && k < HIST_PER_PERSON; k++) {
            double occ = 1 + k % 4;
            pr.history[k] = (indiv_offer_history){
                indiv_catalog_offer(cat, (u + (uint64_t)k * 37) % n)->id, occ,
                occ * 0.8, pr.as_of - (int64_t)(90 + k) * 86400,
                pr.as_of - (int64_t)(3 + k) * 86400, 4};
        }
        rc = indiv_profile_store(out, &pr, err);
    }
    if (got < 0)
        rc = got;
    if (rc == INDIV_OK)
        rc = indiv_eventlog_commit(out, err);
    indiv_profile_cursor_free(cur);
    indiv_profile_clear(&pr);
    return rc;
}

/* bench_cached's maker: the world's database copied (VACUUM INTO) with its profiles
 * rewritten. */
static int make_hist_world(const char *tmp, void *ctx) {
    const hist_world *hw = ctx;
    sqlite3 *db = NULL;
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", tmp);
    int ok = sql && sqlite3_open_v2(hw->src, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_free(sql);
    sqlite3_close(db);
    indiv_eventlog *in = NULL, *out = NULL;
    indiv_catalog *cat = NULL;
    indiv_error err = {0};
    int rc = ok ? INDIV_OK : INDIV_EIO;
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(hw->src, INDIV_EVENTLOG_READONLY, &in, &err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(tmp, 0, &out, &err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(in, &cat, &err);
    if (rc == INDIV_OK)
        rc = rewrite_profiles(in, out, cat, hw->with, &err);
    indiv_catalog_free(cat);
    indiv_eventlog_close(in);
    indiv_eventlog_close(out);
    if (rc < 0)
        fprintf(stderr, "bench_decide: %s: %s\n", tmp, ok ? err.msg : "copy failed");
    return rc < 0;
}

/* One decide run of (e) with model m on the database at path: CPU seconds (wall in
 * *wall), < 0 on error. */
static double run_hist_decide(const char *path, const indiv_model *m, int64_t as_of,
                              const char *out, double *wall) {
    indiv_eventlog *log = NULL;
    indiv_error err = {0};
    indiv_decide_opts o;
    indiv_decide_opts_init(&o);
    o.policy.as_of = as_of;
    o.out_path = out;
    o.threads = THREADS;
    o.block = BLOCK;
    indiv_decide_summary sum;
    double c0 = bench_cpu_now(), t0 = bench_now();
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_decide_run(log, m, &o, NULL, NULL, &sum, &err);
    indiv_eventlog_close(log);
    *wall = bench_now() - t0;
    double cpu = bench_cpu_now() - c0;
    unlink(out);
    if (rc < 0) {
        fprintf(stderr, "bench_decide: decide on %s: %s\n", path, err.msg);
        return -1;
    }
    return cpu;
}

static int bench_history_run(const char *world, indiv_eventlog *log, int64_t as_of,
                             int64_t consumers, const char *out) {
    char path[2][1100];
    hist_world hw[2] = {{world, 0}, {world, 1}};
    double built = 0;
    for (int v = 0; v < 2; v++) {
        double s;
        snprintf(path[v], sizeof path[v], "%s.hist%d.db", world, v ? HIST_PER_PERSON : 0);
        struct stat ws, cs; /* a copy older than its world (rebuilt since) is made again */
        if (stat(world, &ws) == 0 && stat(path[v], &cs) == 0 && cs.st_mtime < ws.st_mtime)
            unlink(path[v]);
        if (bench_cached(path[v], "bench_decide", make_hist_world, &hw[v], &s))
            return 1;
        built += s;
    }
    indiv_catalog *cat = NULL;
    indiv_model m;
    indiv_model_default(&m);
    int rc = indiv_catalog_load(log, &cat, NULL);
    if (rc == 0)
        rc = history_model(cat, 50, &m);
    double cpu[2] = {-1, -1}, wall[2] = {-1, -1};
    for (int r = 0; rc == 0 && r < RUNS; r++)
        for (int v = 0; rc == 0 && v < 2; v++) {
            double w, c = run_hist_decide(path[v], &m, as_of, out, &w);
            rc = c < 0;
            cpu[v] = min_pos(cpu[v], c);
            wall[v] = min_pos(wall[v], w);
        }
    indiv_model_clear(&m);
    indiv_catalog_free(cat);
    if (rc)
        return 1;
    double n = (double)consumers;
    bench_report("decide_history_run", n / wall[1], "consumers/s", "decide_no_history",
                 n / wall[0], cpu[1] / cpu[0]);
    printf("info decide_history_run: indiv_decide_run end to end, %lld consumers x %d "
           "offers, %d past offers per person and 50 neighbours per offer (2 threads): "
           "%.2f s with the history (CPU %.2f), %.2f s without the history group (CPU "
           "%.2f); ratio of CPU seconds; %s%.0f s to build the two copies\n",
           (long long)consumers, OFFERS, HIST_PER_PERSON, wall[1], cpu[1], wall[0],
           cpu[0], built > 0 ? "" : "cached copies; ", built);
    return 0;
}

int main(void) {
    gsl_set_error_handler_off();
    int64_t consumers = llround(BASE_CONSUMERS * bench_scale());
    if (consumers < 1)
        consumers = 1;
    const char *cache = getenv("BENCH_CACHE"), *tmpdir = getenv("TMPDIR");
    const char *where = cache && *cache ? cache : tmpdir && *tmpdir ? tmpdir : "/tmp";
    char path[1024], out[1024], ref[1024];
    snprintf(path, sizeof path, "%s/bench-decide-%lld-d%d-s%d.db", where,
             (long long)consumers, DAYS, SEED);
    snprintf(out, sizeof out, "%s/bench-decide-%d.jsonl", where, (int)getpid());
    snprintf(ref, sizeof ref, "%s/bench-decide-ref-%d.jsonl", where, (int)getpid());
    double gen_s;
    indiv_eventlog *log = NULL;
    int64_t as_of;
    if (bench_cached(path, "bench_decide", bench_make_decision_world, &consumers,
                     &gen_s) ||
        open_world(path, &log, &as_of))
        return 1;
    /* BENCH_DECIDE_ONLY=history: only the history-terms pass (while iterating on it). */
    const char *only = getenv("BENCH_DECIDE_ONLY");
    if (only && (strcmp(only, "history") == 0 || strcmp(only, "history-run") == 0)) {
        int hrc = strcmp(only, "history") == 0
                      ? bench_history(log, as_of, consumers)
                      : bench_history_run(path, log, as_of, consumers, out);
        indiv_eventlog_close(log);
        return hrc;
    }
    double dec_s = -1, gemm_s = -1, json_s = -1;
    indiv_decide_summary sum, best;
    memset(&best, 0, sizeof best);
    size_t dec_bytes = 0, ref_bytes = 0;
    double cpu[3] = {-1, -1, -1}; /* decide, gemm, json: best CPU seconds */
    for (int r = 0; r < RUNS; r++) {
        double c0 = bench_cpu_now();
        double t = run_decide(log, as_of, out, &sum, &dec_bytes);
        double c1 = bench_cpu_now();
        if (t < 0)
            return 1;
        if (dec_s < 0 || t < dec_s)
            best = sum;
        dec_s = min_pos(dec_s, t);
        gemm_s = min_pos(gemm_s, run_gemm(consumers));
        double c2 = bench_cpu_now();
        const indiv_decision_counts *c = &best.counts;
        int64_t with = c->by_action[INDIV_CONTACT] + c->by_action[INDIV_DEFER];
        json_shape shape = {(double)with / (double)c->consumers,
                            with ? (int)llround((double)c->offers_sent /
                                                (double)c->by_action[INDIV_CONTACT])
                                 : 0};
        json_s = min_pos(json_s, run_json(consumers, &shape, ref, &ref_bytes));
        double c3 = bench_cpu_now();
        cpu[0] = min_pos(cpu[0], c1 - c0);
        cpu[1] = min_pos(cpu[1], c2 - c1);
        cpu[2] = min_pos(cpu[2], c3 - c2);
    }
    int vrc = bench_variants(log, as_of, out, consumers);
    if (vrc == 0)
        vrc = bench_history(log, as_of, consumers);
    if (vrc == 0)
        vrc = bench_history_run(path, log, as_of, consumers, out);
    indiv_eventlog_close(log);
    if (vrc || dec_s <= 0 || gemm_s <= 0 || json_s <= 0)
        return 1;
    double n = (double)consumers, ref_s = gemm_s + json_s;
    bench_report("decide", n / dec_s, "consumers/s", "gemm+json", n / ref_s,
                 dec_s / ref_s);
    printf("info decide: %lld consumers x %d offers x 3 channels (d = %d), %d threads, "
           "blocks of %d: %.3g candidates/s; decide %.2f s (read %.2f, score+decide+"
           "serialise %.2f, write %.2f), reference gemm %.2f s (2 threads, single-"
           "threaded OpenBLAS on blocks of %d) + JSON %.2f s (2 threads); lines %.0f B "
           "(reference %.0f B); CPU seconds: decide %.2f, gemm %.2f, JSON %.2f (CPU "
           "ratio %.2f); %s%.0f s to build the world\n",
           (long long)consumers, OFFERS, CATEGORIES, THREADS, BLOCK, n * OFFERS / dec_s,
           dec_s, best.seconds_read, best.seconds_decide, best.seconds_write, gemm_s,
           BLOCK, json_s, (double)dec_bytes / n, (double)ref_bytes / n, cpu[0], cpu[1],
           cpu[2], cpu[0] / (cpu[1] + cpu[2]), gen_s > 0 ? "" : "cached world; ", gen_s);
    return 0;
}
