/*
 * study_run.c — running the ethics study (contract in study.h): presets, worlds, the
 * deduplicated simulation runs on a pool of worker threads, effects and verdicts, the
 * sensitivity runs the base verdicts call for, and the measured costs (profile builds,
 * decision runs) behind the data-minimisation and scale claims.
 *
 * Every run of seed s uses world s and simulation seed base + s, whatever the claim and
 * condition (common random numbers). Runs only write their own slots of the results, so
 * the workers share nothing but the index of the next task (under a mutex). Timings
 * are measured here (wall clock) but never enter a verdict except the scale claim's,
 * which is a measurement by definition.
 */
#include "indiv/study.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/experiment.h"
#include "indiv/fileio.h"
#include "indiv/import.h"
#include "indiv/ope.h"
#include "indiv/profile.h"
#include "indiv/worldfit.h"
#include "study_internal.h"

/* Presets (docs/study.md): quick for a first look in minutes, thorough for the report. */
typedef struct preset {
    int64_t consumers, offers, categories, days;
    int rounds, seeds, repeats, max_seeds;
} preset;

static const preset quick_preset = {1000, 200, 20, 180, 8, 3, 3, 0};
static const preset thorough_preset = {10000, 500, 25, 365, 26, 10, 5, 40};

#define MEASURE_WINDOW_DAYS 90.0 /* the data-minimisation setting's history window */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- options ----------------------------------------------------------------------- */

void indiv_study_opts_init(indiv_study_opts *o) {
    memset(o, 0, sizeof *o);
    o->base_seed = 1;
    o->jobs = 2;
    o->max_seeds = -1;
    indiv_model_default(&o->model);
}

static int check_claim_list(const char *list, indiv_error *err) {
    const char *p = list;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)len, p);
        if (!indiv_study_claim_find(id))
            return indiv_error_set(err, INDIV_EINVAL, "unknown claim '%s'", id);
        p += len + (p[len] == ',');
    }
    return INDIV_OK;
}

int indiv_study_opts_validate(const indiv_study_opts *o, indiv_error *err) {
    if (!o->dir || !*o->dir)
        return indiv_error_set(err, INDIV_EINVAL, "the study needs an output directory");
    if (o->seeds != 0 &&
        (o->seeds < INDIV_STUDY_SEEDS_MIN || o->seeds > INDIV_STUDY_SEEDS_MAX))
        return indiv_error_set(err, INDIV_EINVAL, "seeds %d is not in [%d, %d]", o->seeds,
                               INDIV_STUDY_SEEDS_MIN, INDIV_STUDY_SEEDS_MAX);
    if (o->max_seeds < -1 || o->max_seeds > INDIV_STUDY_SEEDS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "max seeds %d is not in [0, %d]",
                               o->max_seeds, INDIV_STUDY_SEEDS_MAX);
    if (o->jobs < 1 || o->jobs > INDIV_STUDY_JOBS_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "jobs %d is not in [1, %d]", o->jobs,
                               INDIV_STUDY_JOBS_MAX);
    if (o->consumers < 0 || o->rounds < 0 || o->repeats < 0 || o->base_seed > INT64_MAX)
        return indiv_error_set(err, INDIV_EINVAL,
                               "consumers, rounds, repeats and the seed "
                               "must not be negative");
    return check_claim_list(o->claims, err);
}

static int claim_selected(const char *list, const char *id) {
    if (!list)
        return 1;
    size_t n = strlen(id);
    for (const char *p = list; *p; p += strcspn(p, ","), p += *p == ',')
        if (strncmp(p, id, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* ---- results: setup and access ----------------------------------------------------- */

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

/* World parameters fitted to the purchases of the event log at path (the statistics
 * and their mapping of indiv generate --like, without its pilot rounds). */
static int fit_like(const char *path, indiv_world_params *wp, indiv_error *err) {
    indiv_eventlog *log = NULL;
    indiv_log_stats st;
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_measure(log, NULL, &st, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK)
        rc = indiv_worldfit_params(&st, wp, err);
    return rc;
}

/* The study's base parameters from the preset and the options. */
static int setup_params(indiv_study_results *r, const indiv_study_opts *o,
                        indiv_error *err) {
    const preset *pr = o->quick ? &quick_preset : &thorough_preset;
    r->seeds = o->seeds ? o->seeds : pr->seeds;
    r->rounds = o->rounds ? o->rounds : pr->rounds;
    r->repeats = o->repeats ? o->repeats : pr->repeats;
    indiv_world_params_init(&r->wp);
    if (o->like) { /* a world like the shop's log, at the study's size */
        int rc = fit_like(o->like, &r->wp, err);
        if (rc < 0)
            return rc;
    } else {
        r->wp.offers = pr->offers;
        r->wp.categories = pr->categories;
        r->wp.days = pr->days;
    }
    r->wp.consumers = o->consumers ? o->consumers : pr->consumers;
    indiv_sim_params_init(&r->sp);
    r->sp.rounds = r->rounds;
    r->sp.threads = 1; /* the parallelism is over runs */
    return indiv_study_apply(o->world_settings, &r->sp, &r->wp, err);
}

/* Splits the claim's metrics: the primary one, then the secondary list. */
static void setup_metrics(claim_result *cr) {
    snprintf(cr->metric[0], STUDY_NAME_MAX, "%s", cr->c->metric);
    cr->nmetrics = 1;
    for (const char *p = cr->c->secondary; p && *p && cr->nmetrics < STUDY_METRICS_MAX;) {
        size_t len = strcspn(p, ",");
        snprintf(cr->metric[cr->nmetrics++], STUDY_NAME_MAX, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
}

static indiv_study_results *results_new(const indiv_study_opts *o, indiv_error *err) {
    indiv_study_results *r = calloc(1, sizeof *r);
    if (!r || !(r->claims = calloc(indiv_study_claim_count(), sizeof *r->claims))) {
        free(r);
        indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < 4; i++)
        r->dirs_tracked[i] = -1; /* 0 is a valid fileio handle */
    r->dir = strdup(o->dir);
    r->command = dup_or_null(o->command);
    r->real_csv = dup_or_null(o->real_csv);
    r->like = dup_or_null(o->like);
    r->quick = o->quick;
    r->jobs = o->jobs;
    r->keep_worlds = o->keep_worlds;
    r->base_seed = o->base_seed;
    r->model = o->model;
    r->run = o->run ? o->run : indiv_sweep_run_sim;
    r->run_ctx = o->run_ctx;
    for (size_t i = 0; i < indiv_study_claim_count(); i++)
        if (claim_selected(o->claims, indiv_study_claim_at(i)->id)) {
            claim_result *cr = &r->claims[r->nclaims++];
            cr->c = indiv_study_claim_at(i);
            setup_metrics(cr);
        }
    if (!r->dir || (o->command && !r->command) || (o->real_csv && !r->real_csv) ||
        (o->like && !r->like)) {
        indiv_study_results_free(r);
        indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        return NULL;
    }
    return r;
}

void indiv_study_results_free(indiv_study_results *r) {
    if (!r)
        return;
    for (size_t w = 0; w < r->nworlds; w++)
        free(r->worlds[w].path);
    for (size_t c = 0; c < r->ncells; c++) {
        free(r->cells[c].world);
        free(r->cells[c].agg);
        free(r->cells[c].round_v);
    }
    free(r->worlds);
    free(r->cells);
    free(r->claims);
    free(r->dir);
    free(r->command);
    free(r->real_csv);
    free(r->like);
    free(r);
}

/* ---- worlds and cells -------------------------------------------------------------- */

static char *path_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

/* The "w:" tokens of settings, in order. */
static void world_part(const char *settings, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = settings; *(p += strspn(p, " "));) {
        size_t len = strcspn(p, " ");
        if (strncmp(p, "w:", 2) == 0 && used + len + 2 < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? " " : "",
                                     (int)len, p);
        p += len;
    }
}

/* Index of the world (settings, seed s), added when new. */
static int world_get(indiv_study_results *r, const char *settings, int s, size_t *out) {
    for (size_t w = 0; w < r->nworlds; w++)
        if (r->worlds[w].seed == s && strcmp(r->worlds[w].settings, settings) == 0)
            return *out = w, INDIV_OK;
    if (r->nworlds == r->capworlds) {
        size_t cap = r->capworlds ? 2 * r->capworlds : 32;
        study_world *w = realloc(r->worlds, cap * sizeof *w);
        if (!w)
            return INDIV_ENOMEM;
        r->worlds = w;
        r->capworlds = cap;
    }
    study_world *w = &r->worlds[r->nworlds];
    memset(w, 0, sizeof *w);
    snprintf(w->settings, sizeof w->settings, "%s", settings);
    w->seed = s;
    if (!(w->path = path_printf("%s/worlds/world-%zu.db", r->dir, r->nworlds)))
        return INDIV_ENOMEM;
    w->tracked = indiv_fileio_track(w->path); /* Ctrl-C removes it (fileio.h) */
    *out = r->nworlds++;
    return INDIV_OK;
}

static int cell_alloc(indiv_study_results *r, study_cell *c) {
    char wset[STUDY_SETTINGS_MAX];
    world_part(c->settings, wset, sizeof wset);
    size_t n = (size_t)r->seeds;
    c->world = calloc(n, sizeof *c->world);
    c->agg = calloc(n * INDIV_SIM_NMETRICS, sizeof *c->agg);
    c->round_v = calloc(n * (size_t)c->rounds * INDIV_SIM_NMETRICS, sizeof *c->round_v);
    if (!c->world || !c->agg || !c->round_v)
        return INDIV_ENOMEM;
    for (int s = 0; s < r->seeds; s++)
        if (world_get(r, wset, s, &c->world[s]) < 0)
            return INDIV_ENOMEM;
    return INDIV_OK;
}

/* Index of the cell of condition `cond` under `overrides`, added when new. */
static int cell_get(indiv_study_results *r, const indiv_study_condition *cond,
                    const char *overrides, size_t *out, indiv_error *err) {
    char settings[STUDY_SETTINGS_MAX];
    int rounds = r->rounds * cond->rounds_factor;
    snprintf(settings, sizeof settings, "%s%s%s", cond->settings, *overrides ? " " : "",
             overrides);
    for (size_t c = 0; c < r->ncells; c++)
        if (r->cells[c].rounds == rounds && strcmp(r->cells[c].settings, settings) == 0)
            return *out = c, INDIV_OK;
    if (r->ncells == r->capcells) {
        size_t cap = r->capcells ? 2 * r->capcells : 32;
        study_cell *c = realloc(r->cells, cap * sizeof *c);
        if (!c)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        r->cells = c;
        r->capcells = cap;
    }
    study_cell *c = &r->cells[r->ncells];
    memset(c, 0, sizeof *c);
    snprintf(c->settings, sizeof c->settings, "%s", settings);
    c->rounds = rounds;
    *out = r->ncells++; /* counted before alloc, so that free() releases a partial one */
    return cell_alloc(r, c) == INDIV_OK
               ? INDIV_OK
               : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
}

/* ---- the worker pool --------------------------------------------------------------- */

typedef int (*task_fn)(void *ctx, size_t i, indiv_error *err);

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next, n, done;
    int active, failed;
    indiv_error err;
    task_fn fn;
    void *ctx;
} pool;

static void *pool_worker(void *arg) {
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->failed && p->next < p->n) {
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        indiv_error e = {0};
        int rc = p->fn(p->ctx, i, &e);
        pthread_mutex_lock(&p->mu);
        if (rc < 0 && !p->failed) {
            p->failed = rc;
            p->err = e;
        }
        p->done++;
        pthread_cond_broadcast(&p->cv);
    }
    p->active--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Waits for the workers, calling progress (outside the lock) whenever a task ends. */
static void pool_wait(pool *p, const char *stage, indiv_progress_fn progress,
                      void *pctx) {
    pthread_mutex_lock(&p->mu);
    size_t shown = (size_t)-1;
    while (p->active > 0 || shown != p->done) {
        if (shown != p->done) {
            shown = p->done;
            pthread_mutex_unlock(&p->mu);
            if (progress)
                progress(pctx, stage, (int64_t)shown, (int64_t)p->n);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Runs fn(ctx, i) for i < n on up to `threads` threads; the first error wins and stops
 * the handing out of new tasks. */
static int pool_run(size_t n, int threads, task_fn fn, void *ctx, const char *stage,
                    indiv_progress_fn progress, void *pctx, indiv_error *err) {
    if (n == 0)
        return INDIV_OK;
    pool p = {.n = n, .fn = fn, .ctx = ctx};
    pthread_t th[INDIV_STUDY_JOBS_MAX];
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    int started = 0, want = threads < (int)n ? threads : (int)n;
    pthread_mutex_lock(&p.mu);
    for (; started < want; started++, p.active++)
        if (pthread_create(&th[started], NULL, pool_worker, &p) != 0)
            break;
    pthread_mutex_unlock(&p.mu);
    if (started > 0)
        pool_wait(&p, stage, progress, pctx);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (started == 0)
        return indiv_error_set(err, INDIV_ENOMEM, "cannot start a worker thread");
    return p.failed ? indiv_error_set(err, p.failed, "%s", p.err.msg) : INDIV_OK;
}

/* ---- tasks ------------------------------------------------------------------------- */

typedef struct phase {
    indiv_study_results *r;
    size_t first; /* first world or cell of the phase */
} phase;

static int world_task(void *ctx, size_t i, indiv_error *err) {
    const phase *ph = ctx;
    study_world *w = &ph->r->worlds[ph->first + i];
    indiv_world_params wp = ph->r->wp;
    wp.seed = ph->r->base_seed + (uint64_t)w->seed;
    int rc = indiv_study_apply(w->settings, NULL, &wp, err);
    indiv_eventlog *log = NULL;
    indiv_world_summary sum;
    if (rc == INDIV_OK && unlink(w->path) != 0 && errno != ENOENT)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot remove: %s", w->path,
                             strerror(errno));
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(w->path, INDIV_EVENTLOG_CREATE | INDIV_EVENTLOG_SCRATCH,
                                 &log, err);
    if (rc == INDIV_OK)
        rc = indiv_world_generate(log, &wp, NULL, NULL, &sum, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK) {
        w->latent_tastes = (double)sum.latent_tastes;
        w->consumers_with_latent = sum.consumers_with_latent;
    }
    return rc;
}

typedef struct run_ctx {
    const indiv_study_results *r;
    study_cell *cell;
    int seed;
    indiv_round_metrics *rounds;
    int n;
} run_ctx;

static int on_round(void *ctx, const indiv_round_metrics *m) {
    run_ctx *x = ctx;
    if (x->n >= x->cell->rounds)
        return INDIV_EINVAL; /* more rounds than asked: cannot happen */
    x->rounds[x->n] = *m;
    memcpy(x->cell->round_v + ((size_t)x->seed * (size_t)x->cell->rounds + (size_t)x->n) *
                                  INDIV_SIM_NMETRICS,
           m->v, sizeof m->v);
    x->n++;
    return 0;
}

static int run_task(void *ctx, size_t i, indiv_error *err) {
    const phase *ph = ctx;
    indiv_study_results *r = ph->r;
    run_ctx x = {r, &r->cells[ph->first + i / (size_t)r->seeds],
                 (int)(i % (size_t)r->seeds), NULL, 0};
    indiv_sim_params p = r->sp;
    p.rounds = x.cell->rounds;
    p.seed = r->base_seed + (uint64_t)x.seed;
    int rc = indiv_study_apply(x.cell->settings, &p, NULL, err);
    char *work = path_printf("%s/work/run-%zu-%d.db", r->dir,
                             ph->first + i / (size_t)r->seeds, x.seed);
    x.rounds = malloc((size_t)p.rounds * sizeof *x.rounds);
    if (rc == INDIV_OK && (!work || !x.rounds))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int h = work ? indiv_fileio_track(work) : -1;
    indiv_sweep_job job = {ph->first + i / (size_t)r->seeds,      x.seed, &p,
                           r->worlds[x.cell->world[x.seed]].path, work,   &r->model};
    if (rc == INDIV_OK)
        rc = r->run(r->run_ctx, &job, on_round, &x, err);
    if (rc == INDIV_OK)
        indiv_sim_aggregate(x.rounds, x.n,
                            x.cell->agg + (size_t)x.seed * INDIV_SIM_NMETRICS);
    if (work)
        unlink(work);
    indiv_fileio_untrack(h);
    free(work);
    free(x.rounds);
    return rc;
}

/* Generates the worlds and runs the cells added since (worlds0, cells0). */
static int run_phase(indiv_study_results *r, size_t worlds0, size_t cells0,
                     const char *stage_w, const char *stage_r, indiv_progress_fn progress,
                     void *pctx, indiv_error *err) {
    phase pw = {r, worlds0}, pc = {r, cells0};
    int rc = pool_run(r->nworlds - worlds0, r->jobs, world_task, &pw, stage_w, progress,
                      pctx, err);
    size_t jobs = (r->ncells - cells0) * (size_t)r->seeds;
    if (rc == INDIV_OK)
        rc = pool_run(jobs, r->jobs, run_task, &pc, stage_r, progress, pctx, err);
    if (rc == INDIV_OK)
        r->runs += jobs;
    return rc;
}

/* ---- levels, effects, verdicts ----------------------------------------------------- */

/* The study's value of a parameter named in an override ("w:latent_share"). */
static int base_value(const indiv_study_results *r, const char *name, double *out,
                      indiv_error *err) {
    if (strncmp(name, "w:", 2) == 0) {
        const indiv_world_param *d = indiv_world_param_find(name + 2);
        char buf[64];
        if (!d)
            return indiv_error_set(err, INDIV_EINVAL, "unknown world parameter '%s'",
                                   name);
        indiv_world_params_format(&r->wp, d, buf, sizeof buf);
        *out = strtod(buf, NULL);
        return INDIV_OK;
    }
    char *js = indiv_sim_params_json(&r->sp);
    json_t *o = js ? json_loads(js, 0, NULL) : NULL;
    json_t *v = o ? json_object_get(o, name) : NULL;
    int rc = json_is_number(v)
                 ? (*out = json_number_value(v), INDIV_OK)
                 : indiv_error_set(err, INDIV_EINVAL,
                                   "no numeric simulation parameter '%s'", name);
    json_decref(o);
    free(js);
    return rc;
}

/* Every NAME=V of full as NAME=(study value + V)/2: the mild level. */
static int mild_of(const indiv_study_results *r, const char *full, char *out, size_t cap,
                   indiv_error *err) {
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = full; *(p += strspn(p, " "));) {
        size_t len = strcspn(p, " ");
        const char *eq = memchr(p, '=', len);
        char name[64];
        double b = 0;
        if (!eq || (size_t)(eq - p) >= sizeof name)
            return indiv_error_set(err, INDIV_EINVAL, "override '%.*s'", (int)len, p);
        snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
        int rc = base_value(r, name, &b, err);
        if (rc < 0)
            return rc;
        double v = 0.5 * (b + strtod(eq + 1, NULL));
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s%s=%.6g",
                                 used ? " " : "", name, v);
        p += len;
    }
    return used < cap ? INDIV_OK
                      : indiv_error_set(err, INDIV_EINVAL, "override too long");
}

static int level_overrides(const indiv_study_results *r, const indiv_study_claim *c,
                           int lv, char *out, size_t cap, indiv_error *err) {
    const char *full = lv == LV_CONTRA_MILD || lv == LV_CONTRA_FULL ? c->contra : c->pro;
    if (lv == LV_BASE) {
        out[0] = '\0';
        return INDIV_OK;
    }
    if (lv == LV_CONTRA_FULL || lv == LV_PRO_FULL) {
        snprintf(out, cap, "%s", full);
        return INDIV_OK;
    }
    return mild_of(r, full, out, cap, err);
}

/* Adds the cells of level lv of claim cr. */
static int plan_level(indiv_study_results *r, claim_result *cr, int lv,
                      indiv_error *err) {
    claim_level *L = &cr->lv[lv];
    int rc = level_overrides(r, cr->c, lv, L->overrides, sizeof L->overrides, err);
    for (size_t k = 0; rc == INDIV_OK && k < cr->c->ncmp; k++)
        for (int side = 0; rc == INDIV_OK && side < 2 && study_cmp_in_level(cr->c, lv, k);
             side++) {
            const char *id = side ? cr->c->cmp[k].reference : cr->c->cmp[k].treatment;
            rc = cell_get(r, indiv_study_condition_find(id), L->overrides,
                          &L->cell[k][side], err);
        }
    L->run = rc == INDIV_OK;
    return rc;
}

static int level_effects(const indiv_study_results *r, claim_result *cr, int lv,
                         indiv_error *err) {
    claim_level *L = &cr->lv[lv];
    double *t = malloc(2 * (size_t)r->seeds * sizeof *t), *ref = t ? t + r->seeds : NULL;
    int rc = t ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    indiv_verdict prim[INDIV_STUDY_CMP_MAX];
    size_t np = 0, need_max = INDIV_STUDY_SEEDS_MIN;
    int impossible = 0;
    for (size_t k = 0; rc == INDIV_OK && k < cr->c->ncmp; k++) {
        if (!study_cmp_in_level(cr->c, lv, k))
            continue;
        for (size_t m = 0; rc == INDIV_OK && m < cr->nmetrics; m++) {
            rc = study_cell_values(r, L->cell[k][0], cr->metric[m], t, err);
            if (rc == INDIV_OK)
                rc = study_cell_values(r, L->cell[k][1], cr->metric[m], ref, err);
            if (rc == INDIV_OK)
                rc = indiv_study_paired(t, ref, (size_t)r->seeds, &L->eff[k][m], err);
        }
        if (rc == INDIV_OK)
            L->cmp_verdict[k] = indiv_study_rule(cr->c, &L->eff[k][0]);
        if (rc == INDIV_OK && cr->c->cmp[k].primary) {
            prim[np++] = L->cmp_verdict[k];
            size_t need = indiv_study_seeds_needed(
                L->eff[k][0].sd, indiv_study_delta(cr->c, &L->eff[k][0]));
            impossible |= need == 0;
            need_max = need > need_max ? need : need_max;
        }
    }
    if (lv == LV_BASE)
        cr->seeds_needed = impossible ? 0 : need_max;
    L->verdict = rc == INDIV_OK ? indiv_study_combine(prim, np) : INDIV_VERDICT_NONE;
    free(t);
    return rc;
}

/* ---- sensitivity ------------------------------------------------------------------- */

static int simulated(const claim_result *cr) {
    return cr->c->kind != INDIV_STUDY_DESCRIPTIVE;
}

/* Which sensitivity levels the base verdict calls for. */
static int wants_level(const claim_result *cr, int lv) {
    int contra = lv == LV_CONTRA_MILD || lv == LV_CONTRA_FULL;
    switch (cr->base) {
    case INDIV_VERDICT_SUPPORTED:
        return contra;
    case INDIV_VERDICT_NOT_SUPPORTED:
        return !contra;
    case INDIV_VERDICT_INCONCLUSIVE:
    case INDIV_VERDICT_UNDERPOWERED:
        return 1;
    default:
        return 0;
    }
}

static void line_direction(const claim_result *cr, int mild, int full, char *out,
                           size_t cap) {
    const claim_level *m = &cr->lv[mild], *f = &cr->lv[full];
    indiv_verdict base = cr->base;
    if (indiv_study_final(base, m->verdict) == INDIV_VERDICT_DEPENDS)
        snprintf(out, cap,
                 "flips at the mild level: with %s the verdict is already %s "
                 "(%s with %s).",
                 m->overrides, indiv_verdict_name(m->verdict),
                 indiv_verdict_name(f->verdict), f->overrides);
    else if (indiv_study_final(base, f->verdict) == INDIV_VERDICT_DEPENDS)
        snprintf(out, cap, "flips only at the full level: %s gives %s (mild, %s: %s).",
                 f->overrides, indiv_verdict_name(f->verdict), m->overrides,
                 indiv_verdict_name(m->verdict));
    else
        snprintf(out, cap, "does not flip: even %s gives %s (mild, %s: %s).",
                 f->overrides, indiv_verdict_name(f->verdict), m->overrides,
                 indiv_verdict_name(m->verdict));
}

/* The sensitivity line: the direction run (contra after a supported verdict, pro after
 * a not-supported one) and what it did to the verdict. */
static void sensitivity_line(claim_result *cr) {
    char a[STUDY_LINE_MAX / 2];
    const claim_level *L = cr->lv;
    if (cr->base == INDIV_VERDICT_UNDERPOWERED) {
        char need[96];
        if (cr->seeds_needed)
            snprintf(need, sizeof need, "%zu seeds would be needed", cr->seeds_needed);
        else
            snprintf(need, sizeof need, "more than %d seeds would be needed",
                     INDIV_STUDY_SEEDS_MAX);
        snprintf(cr->sensitivity, sizeof cr->sensitivity,
                 "Underpowered at the study's values (MDE > δ; %s); against the claim "
                 "(contra, %s): %s; in its favour (pro, %s): %s.",
                 need, L[LV_CONTRA_FULL].overrides,
                 indiv_verdict_name(L[LV_CONTRA_FULL].verdict), L[LV_PRO_FULL].overrides,
                 indiv_verdict_name(L[LV_PRO_FULL].verdict));
        return;
    }
    if (cr->base == INDIV_VERDICT_INCONCLUSIVE) {
        snprintf(
            cr->sensitivity, sizeof cr->sensitivity,
            "Inconclusive at the study's values; against the claim (contra, %s): %s; "
            "in its favour (pro, %s): %s.",
            L[LV_CONTRA_FULL].overrides, indiv_verdict_name(L[LV_CONTRA_FULL].verdict),
            L[LV_PRO_FULL].overrides, indiv_verdict_name(L[LV_PRO_FULL].verdict));
        return;
    }
    int contra = cr->base == INDIV_VERDICT_SUPPORTED;
    line_direction(cr, contra ? LV_CONTRA_MILD : LV_PRO_MILD,
                   contra ? LV_CONTRA_FULL : LV_PRO_FULL, a, sizeof a);
    snprintf(cr->sensitivity, sizeof cr->sensitivity, "%s %s",
             contra ? "Against the claim (contra), the verdict"
                    : "In favour of the claim (pro), the verdict",
             a);
}

static void finish_claim(claim_result *cr) {
    int contra = cr->base == INDIV_VERDICT_SUPPORTED;
    indiv_verdict mild = cr->lv[contra ? LV_CONTRA_MILD : LV_PRO_MILD].verdict;
    cr->final =
        cr->base == INDIV_VERDICT_INCONCLUSIVE || cr->base == INDIV_VERDICT_UNDERPOWERED
            ? cr->base
            : indiv_study_final(cr->base, mild);
    sensitivity_line(cr);
}

/* ---- the simulated claims ---------------------------------------------------------- */

static int run_base(indiv_study_results *r, indiv_progress_fn progress, void *pctx,
                    indiv_error *err) {
    int rc = INDIV_OK;
    for (size_t i = 0; rc == INDIV_OK && i < r->nclaims; i++)
        if (simulated(&r->claims[i]))
            rc = plan_level(r, &r->claims[i], LV_BASE, err);
    if (rc == INDIV_OK)
        rc = run_phase(r, 0, 0, "worlds", "runs", progress, pctx, err);
    for (size_t i = 0; rc == INDIV_OK && i < r->nclaims; i++)
        if (simulated(&r->claims[i])) {
            rc = level_effects(r, &r->claims[i], LV_BASE, err);
            r->claims[i].base = r->claims[i].lv[LV_BASE].verdict;
        }
    return rc;
}

/* ---- what one logged campaign could have told (ope.h, docs/ope.md) ----------------- */

/* The engine's policy parameters under a condition's settings into *p; 0 when the
 * condition is not the engine (mass, persona, random, oracle). */
static int engine_params(const indiv_study_results *r, const char *settings,
                         indiv_sim_params *p, indiv_error *err) {
    *p = r->sp;
    int rc = indiv_study_apply(settings, p, NULL, err);
    if (rc < 0)
        return rc;
    if (p->policy == INDIV_SIM_NO_THRESHOLD)
        p->policy_params.threshold = 0;
    if (p->policy == INDIV_SIM_NO_SERENDIPITY)
        p->policy_params.serendipity = 0;
    int engine = p->policy == INDIV_SIM_INDIV || p->policy == INDIV_SIM_NO_THRESHOLD ||
                 p->policy == INDIV_SIM_NO_SERENDIPITY;
    p->policy = INDIV_SIM_INDIV; /* the same decisions, with the log written */
    return engine;
}

/* One logged campaign: the reference (with `extra` settings) run for seed 0 with its
 * last round logged, then the target estimated from it into *o. Returns the status of
 * the estimate (a refusal is a result: its message goes to *why). */
static int ope_once(const indiv_study_results *r, const study_cell *ref, const char *extra,
                    const indiv_policy_params *target, const char *tag,
                    indiv_ope_result *o, char *why, size_t cap, indiv_error *err) {
    indiv_sim_params p;
    int rc = engine_params(r, ref->settings, &p, err);
    if (rc >= 0 && extra)
        rc = indiv_study_apply(extra, &p, NULL, err);
    char *work = path_printf("%s/work/ope-%s.db", r->dir, tag),
         *dec = path_printf("%s/work/ope-%s.jsonl", r->dir, tag);
    p.rounds = ref->rounds;
    p.seed = r->base_seed;
    p.log_decisions = dec;
    indiv_eventlog *log = NULL;
    if (rc >= 0)
        rc = work && dec ? indiv_sim_run(r->worlds[ref->world[0]].path, work, &p,
                                         &r->model, NULL, NULL, NULL, NULL, err)
                         : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc >= 0)
        rc = indiv_eventlog_open(work, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc >= 0) {
        indiv_ope_params op;
        indiv_ope_params_init(&op);
        op.target = *target;
        op.until = INT64_MAX / 2; /* the last round: nothing after it */
        op.threads = 1;
        indiv_error e = {0};
        int st = indiv_ope_run(log, &r->model, dec, &op, o, &e);
        snprintf(why, cap, "%s", st < 0 ? e.msg : "");
    }
    indiv_eventlog_close(log);
    if (work)
        unlink(work);
    if (dec)
        unlink(dec);
    free(work);
    free(dec);
    return rc;
}

/* "conversions 0.012 [0.010, 0.015], contacts 0.45 [0.41, 0.49] (SNIPS; ESS 45 of
 * 1000)", or the refusal. */
static void ope_text(const indiv_ope_result *o, const char *why, char *buf, size_t cap) {
    if (why[0]) {
        snprintf(buf, cap, "refused — %.600s", why);
        return;
    }
    snprintf(buf, cap,
             "conversions per consumer %.4g [%.4g, %.4g], contacts %.3g [%.3g, %.3g] "
             "(SNIPS, 95%% bootstrap interval; effective sample size %.0f of %lld)",
             o->snips[INDIV_V_CONVERSIONS].value, o->snips[INDIV_V_CONVERSIONS].lo,
             o->snips[INDIV_V_CONVERSIONS].hi, o->snips[INDIV_V_CONTACTS].value,
             o->snips[INDIV_V_CONTACTS].lo, o->snips[INDIV_V_CONTACTS].hi, o->ess,
             (long long)o->n);
}

/* A cell's last-round metric m of seed 0. */
static double last_round(const study_cell *c, int m) {
    return c->round_v[((size_t)c->rounds - 1) * INDIV_SIM_NMETRICS + (size_t)m];
}

/* The claim's line: its first primary comparison between two engine conditions,
 * estimated from the reference's own log and from a log that could answer (threshold:
 * with a 5 % control group that gets nothing; serendipity: the engine's ε 0.1). */
static int ope_claim(indiv_study_results *r, claim_result *cr, indiv_error *err) {
    const char *extra = strcmp(cr->c->id, "threshold") == 0
                            ? "control_share=0.05 control=none"
                            : "serendipity=0.1";
    const char *how = strcmp(cr->c->id, "threshold") == 0
                          ? "with a 5 % control group that gets nothing"
                          : "at the engine's ε 0.1";
    for (size_t k = 0; k < cr->c->ncmp; k++) {
        const study_cell *t = &r->cells[cr->lv[LV_BASE].cell[k][0]],
                         *ref = &r->cells[cr->lv[LV_BASE].cell[k][1]];
        indiv_sim_params tp, rp;
        int a = engine_params(r, t->settings, &tp, err), b;
        if (a < 0 || (b = engine_params(r, ref->settings, &rp, err)) < 0)
            return INDIV_EINVAL;
        if (!cr->c->cmp[k].primary || !a || !b)
            continue;
        indiv_ope_result o[2];
        char why[2][INDIV_ERROR_MSG_MAX], txt[2][STUDY_LINE_MAX / 3], tag[2][64];
        for (int v = 0; v < 2; v++) {
            snprintf(tag[v], sizeof tag[v], "%s-%d", cr->c->id, v);
            int rc = ope_once(r, ref, v ? extra : NULL, &tp.policy_params, tag[v], &o[v],
                              why[v], sizeof why[v], err);
            if (rc < 0)
                return rc;
            ope_text(&o[v], why[v], txt[v], sizeof txt[v]);
        }
        double n = (double)(why[0][0] ? o[1].n : o[0].n);
        snprintf(cr->ope, sizeof cr->ope,
                 "Off-policy evaluation of `%s` from one logged campaign of `%s` (its "
                 "last round, seed %llu; docs/ope.md). From `%s`'s own log: %s. From "
                 "`%s` logged %s: %s. Simulated, last round of the same seed: `%s` "
                 "conversions per consumer %.4g, contacts %.3g (`%s`: %.4g, %.3g).",
                 cr->c->cmp[k].treatment, cr->c->cmp[k].reference,
                 (unsigned long long)r->base_seed, cr->c->cmp[k].reference, txt[0],
                 cr->c->cmp[k].reference, how, txt[1], cr->c->cmp[k].treatment,
                 n > 0 ? last_round(t, INDIV_M_conversions) / n : 0,
                 n > 0 ? last_round(t, INDIV_M_contacts) / n : 0,
                 cr->c->cmp[k].reference,
                 n > 0 ? last_round(ref, INDIV_M_conversions) / n : 0,
                 n > 0 ? last_round(ref, INDIV_M_contacts) / n : 0);
        return INDIV_OK;
    }
    return INDIV_OK;
}

/* Threshold and serendipity. The logged runs are simulated here, in this process,
 * whatever runner ran the cells (indiv-mpi's rank 0 too: the same lines). */
static int run_ope(indiv_study_results *r, indiv_error *err) {
    int rc = INDIV_OK;
    for (size_t i = 0; rc == INDIV_OK && i < r->nclaims; i++) {
        claim_result *cr = &r->claims[i];
        if (simulated(cr) &&
            (strcmp(cr->c->id, "threshold") == 0 || strcmp(cr->c->id, "serendipity") == 0))
            rc = ope_claim(r, cr, err);
    }
    return rc;
}

static int run_sensitivity(indiv_study_results *r, indiv_progress_fn progress, void *pctx,
                           indiv_error *err) {
    size_t w0 = r->nworlds, c0 = r->ncells;
    int rc = INDIV_OK;
    for (size_t i = 0; rc == INDIV_OK && i < r->nclaims; i++)
        for (int lv = LV_CONTRA_MILD; rc == INDIV_OK && lv < LV_COUNT; lv++)
            if (simulated(&r->claims[i]) && wants_level(&r->claims[i], lv))
                rc = plan_level(r, &r->claims[i], lv, err);
    if (rc == INDIV_OK)
        rc = run_phase(r, w0, c0, "sensitivity worlds", "sensitivity runs", progress,
                       pctx, err);
    for (size_t i = 0; rc == INDIV_OK && i < r->nclaims; i++) {
        claim_result *cr = &r->claims[i];
        for (int lv = LV_CONTRA_MILD; rc == INDIV_OK && lv < LV_COUNT; lv++)
            if (cr->lv[lv].run)
                rc = level_effects(r, cr, lv, err);
        if (rc == INDIV_OK && simulated(cr))
            finish_claim(cr);
    }
    return rc;
}

/* ---- measurements ------------------------------------------------------------------ */

/* Mean and CI half-width of n timings (half 0 when n < 2). */
static void timing_stat(const double *x, int n, double *mean, double *half) {
    indiv_sweep_stat st;
    if (indiv_sweep_stat_compute(x, (size_t)n, INDIV_STUDY_CI_LEVEL, &st, NULL) < 0) {
        *mean = *half = NAN;
        return;
    }
    *mean = st.mean;
    *half = n >= 2 ? st.half : 0;
}

static int time_profiles(const indiv_study_results *r, indiv_eventlog *log,
                         const indiv_catalog *cat, int64_t as_of, study_profile_cost *pc,
                         unsigned features, double window, indiv_error *err) {
    indiv_profile_params pp;
    indiv_profile_params_init(&pp);
    pp.as_of = as_of;
    pp.features = features;
    pp.window_days = window;
    indiv_profile_features_format(features, pc->features, sizeof pc->features);
    pc->window_days = window;
    double sec[64];
    int n = r->repeats < 64 ? r->repeats : 64, rc = INDIV_OK;
    for (int k = 0; rc == INDIV_OK && k < n; k++) {
        indiv_profile_summary sum;
        double t0 = now_s();
        rc = indiv_profile_build(log, cat, &pp, 0, NULL, NULL, &sum, err);
        sec[k] = now_s() - t0;
        pc->bytes = sum.bytes;
        pc->profiled = sum.profiled;
        pc->events = sum.events;
    }
    if (rc == INDIV_OK)
        timing_stat(sec, n, &pc->sec_mean, &pc->sec_half);
    return rc;
}

/* Decision runs on the profiles just built (all features), timed. */
static int time_decisions(const indiv_study_results *r, indiv_eventlog *log,
                          int64_t as_of, study_measure *m, indiv_error *err) {
    indiv_decide_opts o;
    indiv_decide_opts_init(&o);
    o.policy.as_of = as_of;
    o.policy.seed = r->base_seed;
    o.threads = r->jobs;
    char *out = path_printf("%s/work/decisions.jsonl", r->dir);
    int h = out ? indiv_fileio_track(out) : -1;
    o.out_path = out;
    double sec[64];
    int n = r->repeats < 64 ? r->repeats : 64, rc = out ? INDIV_OK : INDIV_ENOMEM;
    for (int k = 0; rc == INDIV_OK && k < n; k++) {
        indiv_decide_summary sum;
        double t0 = now_s();
        rc = indiv_decide_run(log, &r->model, &o, NULL, NULL, &sum, err);
        sec[k] = now_s() - t0;
        m->candidates = (double)sum.consumers_total * (double)sum.offers * STUDY_CHANNELS;
        m->consumers = sum.consumers_total;
        m->offers = sum.offers;
    }
    if (out)
        unlink(out);
    indiv_fileio_untrack(h);
    free(out);
    if (rc < 0)
        return rc == INDIV_ENOMEM ? indiv_error_set(err, rc, "out of memory") : rc;
    timing_stat(sec, n, &m->decide_mean, &m->decide_half);
    m->cand_per_s = m->candidates / m->decide_mean;
    m->cons_per_s = (double)m->consumers / m->decide_mean;
    m->hours_low = STUDY_TARGET_CONSUMERS * STUDY_TARGET_OFFERS * STUDY_CHANNELS /
                   m->cand_per_s / 3600;
    m->hours_high = STUDY_TARGET_CONSUMERS / m->cons_per_s / 3600;
    return INDIV_OK;
}

/* Profile costs of both feature settings, then decision timings, on the log at path. */
static int measure_log(const indiv_study_results *r, const char *path, study_measure *m,
                       indiv_error *err) {
    indiv_eventlog *log = NULL;
    indiv_catalog *cat = NULL;
    indiv_eventlog_stats st;
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_SCRATCH, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_stats_get(log, &st, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, err);
    int64_t as_of = rc == INDIV_OK && st.events ? st.last_ts + 1 : 0;
    if (rc == INDIV_OK)
        rc = time_profiles(r, log, cat, as_of, &m->prof[1], INDIV_FEAT_TASTE,
                           MEASURE_WINDOW_DAYS, err);
    if (rc == INDIV_OK) /* last, so that the decisions read all-feature profiles */
        rc = time_profiles(r, log, cat, as_of, &m->prof[0], INDIV_FEAT_ALL, 0, err);
    if (rc == INDIV_OK)
        rc = time_decisions(r, log, as_of, m, err);
    m->events = rc == INDIV_OK ? st.events : 0;
    m->have = rc == INDIV_OK;
    indiv_catalog_free(cat);
    indiv_eventlog_close(log);
    return rc;
}

static int measure_world(indiv_study_results *r, indiv_error *err) {
    study_measure *m = &r->meas[MEAS_WORLD];
    char *work = path_printf("%s/work/measure-world.db", r->dir);
    size_t w0;
    int rc = work && world_get(r, "", 0, &w0) == INDIV_OK ? INDIV_OK : INDIV_ENOMEM;
    if (rc == INDIV_OK && access(r->worlds[w0].path, F_OK) != 0) {
        phase ph = {r, w0}; /* only the scale claim was selected: no world yet */
        rc = world_task(&ph, 0, err);
    }
    int h = rc == INDIV_OK ? indiv_fileio_track(work) : -1;
    if (rc == INDIV_OK)
        rc = indiv_eventlog_copy(r->worlds[w0].path, work, err);
    snprintf(m->source, sizeof m->source, "study world, seed %llu (%lld consumers)",
             (unsigned long long)r->base_seed, (long long)r->wp.consumers);
    if (rc == INDIV_OK)
        rc = measure_log(r, work, m, err);
    if (work)
        unlink(work);
    indiv_fileio_untrack(h);
    free(work);
    return rc == INDIV_ENOMEM ? indiv_error_set(err, rc, "out of memory") : rc;
}

static int import_real(const indiv_study_results *r, const char *path, study_measure *m,
                       indiv_error *err) {
    indiv_eventlog *log = NULL;
    indiv_import_opts io;
    indiv_import_summary sum;
    indiv_import_opts_init(&io);
    io.format = INDIV_IMPORT_ONLINE_RETAIL;
    io.path = r->real_csv;
    double t0 = now_s();
    int rc = unlink(path) != 0 && errno != ENOENT
                 ? indiv_error_set(err, INDIV_EIO, "%s: cannot remove", path)
                 : INDIV_OK;
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE | INDIV_EVENTLOG_SCRATCH,
                                 &log, err);
    if (rc == INDIV_OK)
        rc = indiv_import_run(log, &io, &sum, err);
    indiv_eventlog_close(log);
    m->import_seconds = now_s() - t0;
    return rc;
}

static int measure_real(indiv_study_results *r, indiv_error *err) {
    study_measure *m = &r->meas[MEAS_REAL];
    if (!r->real_csv)
        return INDIV_OK;
    char *work = path_printf("%s/work/real.db", r->dir);
    if (!work)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    const char *base = strrchr(r->real_csv, '/');
    snprintf(m->source, sizeof m->source, "%s", base ? base + 1 : r->real_csv);
    int h = indiv_fileio_track(work);
    int rc = import_real(r, work, m, err);
    if (rc == INDIV_OK)
        rc = measure_log(r, work, m, err);
    unlink(work);
    indiv_fileio_untrack(h);
    free(work);
    return rc;
}

/* The scale claim's verdict: the slowest measured source decides. */
static void finish_scale(indiv_study_results *r, claim_result *cr) {
    double high = 0, low = 0;
    for (int k = 0; k < MEAS_COUNT; k++)
        if (r->meas[k].have && r->meas[k].hours_high > high) {
            high = r->meas[k].hours_high;
            low = r->meas[k].hours_low;
        }
    cr->base = cr->final = high > 0 && high <= STUDY_BUDGET_HOURS
                               ? INDIV_VERDICT_SUPPORTED
                               : INDIV_VERDICT_NOT_SUPPORTED;
    double person_years = STUDY_TARGET_CONSUMERS * STUDY_TARGET_OFFERS * STUDY_CHANNELS /
                          STUDY_PERSON_PER_S / (365.25 * 86400);
    snprintf(cr->measured, sizeof cr->measured,
             "%.2g candidates per campaign: %.2g to %.2g hours for the engine on this "
             "machine (%d threads); %.1f years for a person judging one per second",
             STUDY_TARGET_CONSUMERS * STUDY_TARGET_OFFERS * STUDY_CHANNELS, low, high,
             r->jobs, person_years);
    snprintf(cr->sensitivity, sizeof cr->sensitivity,
             "Not simulated: the bound moves with the machine and its load; the verdict "
             "flips if the decision run became %.0f times slower.",
             high > 0 ? floor(STUDY_BUDGET_HOURS / high) : 0);
}

static int run_measurements(indiv_study_results *r, indiv_progress_fn progress,
                            void *pctx, indiv_error *err) {
    claim_result *scale = NULL, *mini = NULL;
    for (size_t i = 0; i < r->nclaims; i++) {
        if (strcmp(r->claims[i].c->id, "scale") == 0)
            scale = &r->claims[i];
        if (strcmp(r->claims[i].c->id, "minimisation") == 0)
            mini = &r->claims[i];
    }
    if (!scale && !mini)
        return INDIV_OK;
    if (progress)
        progress(pctx, "measurements", 0, 2);
    int rc = measure_world(r, err);
    if (progress && rc == INDIV_OK)
        progress(pctx, "measurements", 1, 2);
    if (rc == INDIV_OK)
        rc = measure_real(r, err);
    if (progress && rc == INDIV_OK)
        progress(pctx, "measurements", 2, 2);
    if (rc == INDIV_OK && scale)
        finish_scale(r, scale);
    return rc;
}

/* ---- entry ------------------------------------------------------------------------- */

/* The directories, each tracked (fileio.h) when this run creates it: Ctrl-C or SIGTERM
 * during the runs then leaves no directory behind, only what existed before. */
static int make_dirs(indiv_study_results *r, indiv_error *err) {
    static const char *const subs[] = {"", "/worlds", "/work", "/figures"};
    int rc = INDIV_OK;
    for (size_t i = 0; rc == INDIV_OK && i < sizeof subs / sizeof subs[0]; i++) {
        char *d = path_printf("%s%s", r->dir, subs[i]);
        struct stat st;
        int fresh = d && stat(d, &st) != 0;
        r->dirs_tracked[i] = fresh ? indiv_fileio_track(d) : -1;
        rc = d ? indiv_dir_make(d, NULL, err)
               : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        free(d);
    }
    return rc;
}

/* Removes the worlds (unless kept) and the work directory, which is empty by now. */
static void cleanup(indiv_study_results *r) {
    for (size_t w = 0; w < r->nworlds; w++) {
        if (!r->keep_worlds)
            unlink(r->worlds[w].path);
        indiv_fileio_untrack(r->worlds[w].tracked);
        r->worlds[w].tracked = -1;
    }
    char *work = path_printf("%s/work", r->dir),
         *worlds = path_printf("%s/worlds", r->dir);
    if (work)
        rmdir(work);
    if (worlds && !r->keep_worlds)
        rmdir(worlds);
    free(work);
    free(worlds);
    for (int i = 0; i < 4; i++) { /* the run is over: its directories are results now */
        indiv_fileio_untrack(r->dirs_tracked[i]);
        r->dirs_tracked[i] = -1;
    }
}

static int run_all(indiv_study_results *r, indiv_progress_fn progress, void *pctx,
                   indiv_error *err) {
    double t0 = now_s();
    int rc = run_base(r, progress, pctx, err);
    if (rc == INDIV_OK)
        rc = run_sensitivity(r, progress, pctx, err);
    if (rc == INDIV_OK)
        rc = run_ope(r, err);
    double t1 = now_s();
    if (rc == INDIV_OK)
        rc = run_measurements(r, progress, pctx, err);
    r->seconds_runs = t1 - t0;
    r->seconds_measure = now_s() - t1;
    r->seconds_total = now_s() - t0;
    return rc;
}

static int run_once(const indiv_study_opts *o, indiv_progress_fn progress, void *pctx,
                    indiv_study_results **out, indiv_error *err) {
    *out = NULL;
    int rc = indiv_study_opts_validate(o, err);
    if (rc == INDIV_OK)
        rc = indiv_study_table_check(err);
    if (rc == INDIV_OK)
        rc = indiv_model_validate(&o->model, err);
    indiv_study_results *r = rc == INDIV_OK ? results_new(o, err) : NULL;
    if (rc == INDIV_OK && !r)
        rc = INDIV_ENOMEM;
    if (rc == INDIV_OK)
        rc = setup_params(r, o, err);
    if (rc == INDIV_OK)
        rc = make_dirs(r, err);
    if (rc == INDIV_OK)
        rc = run_all(r, progress, pctx, err);
    if (r)
        cleanup(r);
    if (rc < 0) {
        indiv_study_results_free(r);
        return rc;
    }
    *out = r;
    return INDIV_OK;
}

/* The seeds power sizing asks for after the pilot r: the most any underpowered claim
 * needs, when more than the pilot's and at most max; 0 when no rerun is called for. */
static int sized_seeds(const indiv_study_results *r, int max) {
    size_t want = 0;
    for (size_t i = 0; i < r->nclaims; i++) {
        const claim_result *cr = &r->claims[i];
        if (cr->base == INDIV_VERDICT_UNDERPOWERED && cr->seeds_needed > want &&
            cr->seeds_needed <= (size_t)max)
            want = cr->seeds_needed;
    }
    return want > (size_t)r->seeds ? (int)want : 0;
}

int indiv_study_run(const indiv_study_opts *o, indiv_progress_fn progress, void *pctx,
                    indiv_study_results **out, indiv_error *err) {
    int rc = run_once(o, progress, pctx, out, err);
    int max = o->max_seeds >= 0 ? o->max_seeds
                                : (o->quick ? quick_preset : thorough_preset).max_seeds;
    int seeds = rc == INDIV_OK ? sized_seeds(*out, max) : 0;
    if (seeds == 0)
        return rc;
    indiv_study_opts sized = *o;
    sized.seeds = seeds;
    indiv_study_results_free(*out);
    return run_once(&sized, progress, pctx, out, err);
}

/* ---- read access ------------------------------------------------------------------- */

size_t indiv_study_results_claims(const indiv_study_results *r) {
    return r->nclaims;
}

const indiv_study_claim *indiv_study_results_claim(const indiv_study_results *r,
                                                   size_t i) {
    return i < r->nclaims ? r->claims[i].c : NULL;
}

indiv_verdict indiv_study_results_verdict(const indiv_study_results *r, size_t i,
                                          int final) {
    return i < r->nclaims ? (final ? r->claims[i].final : r->claims[i].base)
                          : INDIV_VERDICT_NONE;
}

int indiv_study_results_primary(const indiv_study_results *r, size_t i,
                                indiv_study_effect *out) {
    const claim_result *cr = i < r->nclaims ? &r->claims[i] : NULL;
    for (size_t k = 0; cr && cr->lv[LV_BASE].run && k < cr->c->ncmp; k++)
        if (cr->c->cmp[k].primary) {
            *out = cr->lv[LV_BASE].eff[k][0];
            return 1;
        }
    return 0;
}

const char *indiv_study_results_sensitivity(const indiv_study_results *r, size_t i) {
    return i < r->nclaims ? r->claims[i].sensitivity : "";
}

const char *indiv_study_results_measured(const indiv_study_results *r, size_t i) {
    return i < r->nclaims ? r->claims[i].measured : "";
}

double indiv_study_results_seconds(const indiv_study_results *r) {
    return r->seconds_total;
}
