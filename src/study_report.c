/*
 * study_report.c — what the study writes (contract in study.h): DIR/results.json (every
 * number, sorted keys), DIR/figures/ (data files and study.gp, a gnuplot script), and
 * the report for people, DIR/report.md and DIR/report.html, both produced by the same
 * code through a two-backend writer (doc_*), so they always say the same thing. The
 * HTML page is self-contained: each figure drawn in DIR/figures/ is inlined as a
 * base64 data URI (SVG preferred, PNG otherwise).
 *
 * Every file is written atomically (temporary file, then rename) with
 * indiv_file_write_atomic (fileio.h).
 */
#include "indiv/study.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "indiv/experiment.h"
#include "indiv/fileio.h"
#include "study_internal.h"

#define FIG_WIDTH   720
#define FIG_HEIGHT  400
#define JSON_DIGITS 10

/* ---- small helpers ----------------------------------------------------------------- */

/* Numbers for people: integers above 100, three significant digits below. */
static const char *num(double x, char *buf, size_t cap) {
    if (!isfinite(x))
        snprintf(buf, cap, "n/a");
    else if (fabs(x) >= 100)
        snprintf(buf, cap, "%.0f", x);
    else
        snprintf(buf, cap, "%.3g", x);
    return buf;
}

/* "−12.3 [−20.1, −4.5]" */
static void effect_text(const indiv_study_effect *e, char *buf, size_t cap) {
    char a[32], b[32], c[32];
    snprintf(buf, cap, "%s [%s, %s]", num(e->mean, a, sizeof a), num(e->lo, b, sizeof b),
             num(e->hi, c, sizeof c));
}

static void relative_text(const indiv_study_effect *e, char *buf, size_t cap) {
    if (e->mean_r != 0 && isfinite(e->mean))
        snprintf(buf, cap, "%+.1f%%", 100 * e->mean / fabs(e->mean_r));
    else
        snprintf(buf, cap, "—");
}

static const indiv_study_condition *cond(const char *id) {
    return indiv_study_condition_find(id);
}

/* The distinct conditions of a claim's comparisons run at level lv, in order of first
 * appearance (LV_BASE: all of them). */
static size_t claim_conditions(const indiv_study_claim *c, int lv, const char **out) {
    size_t n = 0;
    for (size_t k = 0; k < c->ncmp; k++)
        for (int side = 0; side < 2 && study_cmp_in_level(c, lv, k); side++) {
            const char *id = side ? c->cmp[k].reference : c->cmp[k].treatment;
            size_t j = 0;
            while (j < n && strcmp(out[j], id) != 0)
                j++;
            if (j == n)
                out[n++] = id;
        }
    return n;
}

/* The cell of condition `id` at level lv (one of claim_conditions(c, lv)). */
static size_t level_cell(const claim_result *cr, int lv, const char *id) {
    const claim_level *L = &cr->lv[lv];
    for (size_t k = 0; k < cr->c->ncmp; k++) {
        if (!study_cmp_in_level(cr->c, lv, k))
            continue;
        if (strcmp(cr->c->cmp[k].treatment, id) == 0)
            return L->cell[k][0];
        if (strcmp(cr->c->cmp[k].reference, id) == 0)
            return L->cell[k][1];
    }
    return 0;
}

/* Mean and CI half-width over seeds of a metric in a cell (not paired). */
static int cell_stat(const indiv_study_results *r, size_t cell, const char *metric,
                     indiv_sweep_stat *st, double *x, indiv_error *err) {
    int rc = study_cell_values(r, cell, metric, x, err);
    return rc == INDIV_OK ? indiv_sweep_stat_compute(x, (size_t)r->seeds,
                                                     INDIV_STUDY_CI_LEVEL, st, err)
                          : rc;
}

static char *dir_path(const indiv_study_results *r, const char *name) {
    return indiv_path_join(r->dir, name);
}

static int write_file(const indiv_study_results *r, const char *name,
                      int (*fn)(FILE *f, void *ctx, indiv_error *err), void *ctx,
                      indiv_error *err) {
    char *path = dir_path(r, name);
    int rc = path ? indiv_file_write_atomic(path, fn, ctx, err)
                  : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(path);
    return rc;
}

/* ---- results.json ------------------------------------------------------------------ */

static json_t *jnum(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *effect_json(const indiv_study_claim *c, const indiv_study_effect *e) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)e->n));
    json_object_set_new(o, "mean_treatment", jnum(e->mean_t));
    json_object_set_new(o, "mean_reference", jnum(e->mean_r));
    json_object_set_new(o, "effect", jnum(e->mean));
    json_object_set_new(o, "sd", jnum(e->sd));
    json_object_set_new(o, "mde", jnum(e->mde));
    json_object_set_new(o, "ci_low", jnum(e->lo));
    json_object_set_new(o, "ci_high", jnum(e->hi));
    json_object_set_new(o, "delta", jnum(indiv_study_delta(c, e)));
    return o;
}

static json_t *comparison_json(const claim_result *cr, const claim_level *L, size_t k) {
    json_t *o = json_object(), *m = json_object();
    json_object_set_new(o, "treatment", json_string(cr->c->cmp[k].treatment));
    json_object_set_new(o, "reference", json_string(cr->c->cmp[k].reference));
    json_object_set_new(o, "primary", json_boolean(cr->c->cmp[k].primary));
    json_object_set_new(o, "verdict", json_string(indiv_verdict_name(L->cmp_verdict[k])));
    for (size_t j = 0; j < cr->nmetrics; j++)
        json_object_set_new(m, cr->metric[j], effect_json(cr->c, &L->eff[k][j]));
    json_object_set_new(o, "effects", m);
    return o;
}

/* Per condition and metric: the value of every seed. */
static json_t *values_json(const indiv_study_results *r, const claim_result *cr, int lv,
                           double *x) {
    const char *ids[2 * INDIV_STUDY_CMP_MAX];
    size_t n = claim_conditions(cr->c, lv, ids);
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_object();
        for (size_t j = 0; j < cr->nmetrics; j++) {
            json_t *a = json_array();
            if (study_cell_values(r, level_cell(cr, lv, ids[i]), cr->metric[j], x,
                                  NULL) == 0)
                for (int s = 0; s < r->seeds; s++)
                    json_array_append_new(a, jnum(x[s]));
            json_object_set_new(c, cr->metric[j], a);
        }
        json_object_set_new(o, ids[i], c);
    }
    return o;
}

static json_t *levels_json(const indiv_study_results *r, const claim_result *cr,
                           double *x) {
    json_t *a = json_array();
    for (int lv = 0; lv < LV_COUNT; lv++) {
        const claim_level *L = &cr->lv[lv];
        if (!L->run)
            continue;
        json_t *o = json_object(), *cmps = json_array();
        json_object_set_new(o, "level", json_string(study_level_name(lv)));
        json_object_set_new(o, "overrides", json_string(L->overrides));
        json_object_set_new(o, "verdict", json_string(indiv_verdict_name(L->verdict)));
        for (size_t k = 0; k < cr->c->ncmp; k++)
            if (study_cmp_in_level(cr->c, lv, k))
                json_array_append_new(cmps, comparison_json(cr, L, k));
        json_object_set_new(o, "comparisons", cmps);
        json_object_set_new(o, "per_seed", values_json(r, cr, lv, x));
        json_array_append_new(a, o);
    }
    return a;
}

static void set_str(json_t *o, const char *key, const char *v) {
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static json_t *claim_json(const indiv_study_results *r, const claim_result *cr,
                          double *x) {
    const indiv_study_claim *c = cr->c;
    static const char *const kinds[] = {"effect", "non-inferiority", "descriptive"};
    json_t *o = json_object(), *conds = json_object();
    set_str(o, "id", c->id);
    set_str(o, "title", c->title);
    json_t *quotes = json_array();
    for (size_t k = 0; k < c->nquotes; k++)
        json_array_append_new(
            quotes, json_pack("{s:s, s:s, s:s}", "text", c->quotes[k].text, "speaker",
                              c->quotes[k].speaker, "source_id", c->quotes[k].source_id));
    json_object_set_new(o, "quotes", quotes);
    set_str(o, "quote_status", "exact words, from ../shared/interviews.md");
    set_str(o, "paraphrase", c->paraphrase);
    set_str(o, "source", c->source);
    set_str(o, "design", c->design);
    set_str(o, "kind", kinds[c->kind]);
    set_str(o, "metric", c->metric);
    json_object_set_new(o, "direction", json_integer(c->direction));
    json_object_set_new(o, "delta_abs", jnum(c->delta_abs));
    json_object_set_new(o, "delta_rel", jnum(c->delta_rel));
    set_str(o, "assumption", c->assumption);
    set_str(o, "contra", c->contra);
    set_str(o, "pro", c->pro);
    set_str(o, "verdict_base", indiv_verdict_name(cr->base));
    set_str(o, "verdict", indiv_verdict_name(cr->final));
    set_str(o, "sensitivity", cr->sensitivity);
    set_str(o, "measured", cr->measured);
    set_str(o, "ope", cr->ope);
    const char *ids[2 * INDIV_STUDY_CMP_MAX];
    for (size_t i = 0, n = claim_conditions(c, LV_BASE, ids); i < n; i++)
        json_object_set_new(conds, ids[i], json_string(cond(ids[i])->settings));
    json_object_set_new(o, "conditions", conds);
    json_object_set_new(o, "levels", levels_json(r, cr, x));
    return o;
}

static json_t *cost_json(const study_profile_cost *p) {
    json_t *o = json_object();
    set_str(o, "features", p->features);
    json_object_set_new(o, "window_days", jnum(p->window_days));
    json_object_set_new(o, "bytes", json_integer(p->bytes));
    json_object_set_new(o, "profiles", json_integer(p->profiled));
    json_object_set_new(o, "events_read", json_integer(p->events));
    json_object_set_new(o, "seconds_mean", jnum(p->sec_mean));
    json_object_set_new(o, "seconds_ci_half", jnum(p->sec_half));
    return o;
}

static json_t *measure_json(const study_measure *m) {
    if (!m->have)
        return json_null();
    json_t *o = json_object(), *p = json_array();
    set_str(o, "source", m->source);
    json_object_set_new(o, "consumers", json_integer(m->consumers));
    json_object_set_new(o, "offers", json_integer(m->offers));
    json_object_set_new(o, "events", json_integer(m->events));
    json_object_set_new(o, "import_seconds", jnum(m->import_seconds));
    for (int k = 0; k < 2; k++)
        json_array_append_new(p, cost_json(&m->prof[k]));
    json_object_set_new(o, "profile_builds", p);
    json_object_set_new(o, "decide_seconds_mean", jnum(m->decide_mean));
    json_object_set_new(o, "decide_seconds_ci_half", jnum(m->decide_half));
    json_object_set_new(o, "candidates_per_run", jnum(m->candidates));
    json_object_set_new(o, "candidates_per_second", jnum(m->cand_per_s));
    json_object_set_new(o, "consumers_per_second", jnum(m->cons_per_s));
    json_object_set_new(o, "target_hours_low", jnum(m->hours_low));
    json_object_set_new(o, "target_hours_high", jnum(m->hours_high));
    return o;
}

static json_t *parsed(char *text) {
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return o ? o : json_null();
}

static json_t *study_json(const indiv_study_results *r) {
    json_t *o = json_object();
    set_str(o, "mode", r->quick ? "quick" : "thorough");
    set_str(o, "command", r->command);
    json_object_set_new(o, "seeds", json_integer(r->seeds));
    json_object_set_new(o, "base_seed", json_integer((json_int_t)r->base_seed));
    json_object_set_new(o, "rounds", json_integer(r->rounds));
    json_object_set_new(o, "jobs", json_integer(r->jobs));
    json_object_set_new(o, "simulation_runs", json_integer((json_int_t)r->runs));
    json_object_set_new(o, "worlds", json_integer((json_int_t)r->nworlds));
    json_object_set_new(o, "model", json_string(r->model.id));
    json_object_set_new(o, "ci_level", jnum(INDIV_STUDY_CI_LEVEL));
    return o;
}

static json_t *results_json(const indiv_study_results *r, double *x) {
    json_t *root = json_object(), *claims = json_array(), *as = json_object();
    json_t *meas = json_object(), *tm = json_object();
    for (size_t i = 0; i < r->nclaims; i++)
        json_array_append_new(claims, claim_json(r, &r->claims[i], x));
    json_object_set_new(as, "world", parsed(indiv_world_params_json(&r->wp)));
    json_object_set_new(as, "simulation", parsed(indiv_sim_params_json(&r->sp)));
    json_object_set_new(meas, "world", measure_json(&r->meas[MEAS_WORLD]));
    json_object_set_new(meas, "real", measure_json(&r->meas[MEAS_REAL]));
    json_object_set_new(tm, "seconds_total", jnum(r->seconds_total));
    json_object_set_new(tm, "seconds_simulation", jnum(r->seconds_runs));
    json_object_set_new(tm, "seconds_measurements", jnum(r->seconds_measure));
    json_object_set_new(root, "study", study_json(r));
    json_object_set_new(root, "claims", claims);
    json_object_set_new(root, "assumptions", as);
    json_object_set_new(root, "measurements", meas);
    json_object_set_new(root, "timings", tm);
    return root;
}

static int dump_json(FILE *f, void *ctx, indiv_error *err) {
    if (json_dumpf(ctx, f,
                   JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(JSON_DIGITS)) <
        0)
        return indiv_error_set(err, INDIV_EIO, "results.json: write error");
    return fputc('\n', f) == EOF ? indiv_error_set(err, INDIV_EIO, "write error") : 0;
}

/* ---- figures: data ----------------------------------------------------------------- */

typedef struct fig_ctx {
    const indiv_study_results *r;
    const claim_result *cr;
    double *x;
} fig_ctx;

static int listed(const char *const *ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

/* One block per level run (separated by two blank lines): x mean half, per condition
 * of the level, x being the condition's place among all the claim's conditions. */
static int write_conditions_dat(FILE *f, void *ctx, indiv_error *err) {
    const fig_ctx *fc = ctx;
    const char *ids[2 * INDIV_STUDY_CMP_MAX], *here[2 * INDIV_STUDY_CMP_MAX];
    size_t n = claim_conditions(fc->cr->c, LV_BASE, ids);
    fprintf(f, "# %s: mean and 95%% CI half-width over seeds, one block per level\n",
            fc->cr->metric[0]);
    for (int lv = 0, blocks = 0; lv < LV_COUNT; lv++) {
        const claim_level *L = &fc->cr->lv[lv];
        if (!L->run)
            continue;
        fprintf(f, "%s# %s\n", blocks++ ? "\n\n" : "", study_level_name(lv));
        size_t nh = claim_conditions(fc->cr->c, lv, here);
        for (size_t i = 0; i < n; i++) {
            indiv_sweep_stat st;
            if (!listed(here, nh, ids[i]))
                continue;
            int rc = cell_stat(fc->r, level_cell(fc->cr, lv, ids[i]), fc->cr->metric[0],
                               &st, fc->x, err);
            if (rc < 0)
                return rc;
            fprintf(f, "%zu %.10g %.10g\n", i, st.mean, st.half);
        }
    }
    return ferror(f) ? indiv_error_set(err, INDIV_EIO, "figure data: write error") : 0;
}

#define ROUNDS_METRIC INDIV_M_active

/* round, then per condition the mean over seeds of the active consumers. */
static int write_rounds_dat(FILE *f, void *ctx, indiv_error *err) {
    const fig_ctx *fc = ctx;
    const char *ids[2 * INDIV_STUDY_CMP_MAX];
    size_t n = claim_conditions(fc->cr->c, LV_BASE, ids);
    const study_cell *c0 = &fc->r->cells[level_cell(fc->cr, LV_BASE, ids[0])];
    fputs("# round", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %s", ids[i]);
    fputc('\n', f);
    for (int k = 0; k < c0->rounds; k++) {
        fprintf(f, "%d", k + 1);
        for (size_t i = 0; i < n; i++) {
            const study_cell *c = &fc->r->cells[level_cell(fc->cr, LV_BASE, ids[i])];
            double s = 0;
            for (int seed = 0; seed < fc->r->seeds; seed++)
                s += c->round_v[((size_t)seed * (size_t)c->rounds + (size_t)k) *
                                    INDIV_SIM_NMETRICS +
                                ROUNDS_METRIC];
            fprintf(f, " %.10g", s / fc->r->seeds);
        }
        fputc('\n', f);
    }
    return ferror(f) ? indiv_error_set(err, INDIV_EIO, "figure data: write error") : 0;
}

static size_t metric_index(const claim_result *cr, const char *name) {
    for (size_t m = 0; m < cr->nmetrics; m++)
        if (strcmp(cr->metric[m], name) == 0)
            return m;
    return 0;
}

/* Per comparison (each policy against the reference, the oracle): the paired
 * difference in exposure Gini (x) and in the primary metric (y), with their CIs, as
 * Chaney, Stewart & Engelhardt (2018) report homogenisation relative to the ideal. */
static int write_scatter_dat(FILE *f, void *ctx, indiv_error *err) {
    const fig_ctx *fc = ctx;
    const claim_result *cr = fc->cr;
    size_t g = metric_index(cr, "exposure_gini");
    fprintf(f, "# difference to the reference: exposure_gini ci_half %s ci_half label\n",
            cr->metric[0]);
    for (size_t k = 0; k < cr->c->ncmp; k++) {
        const indiv_study_effect *x = &cr->lv[LV_BASE].eff[k][g],
                                 *y = &cr->lv[LV_BASE].eff[k][0];
        fprintf(f, "%.10g %.10g %.10g %.10g \"%s\"\n", x->mean, x->half, y->mean, y->half,
                cr->c->cmp[k].treatment);
    }
    return ferror(f) ? indiv_error_set(err, INDIV_EIO, "figure data: write error") : 0;
}

/* ---- figures: the gnuplot script --------------------------------------------------- */

static const char *const terminals[][2] = {
    {"svg", "svg dynamic noenhanced font 'sans,11' background rgb 'white'"},
    {"png", "pngcairo noenhanced font 'sans,10' background rgb 'white'"},
};
#define NTERMINALS (sizeof terminals / sizeof terminals[0])

/* ColorBrewer Dark2 (Harrower & Brewer 2003): distinguishable, print-safe. */
static const char *const colours[] = {"#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                      "#66a61e"};

static void gp_output(FILE *f, size_t term, const char *id) {
    fprintf(f,
            "\nreset\nset encoding utf8\nset terminal %s size %d,%d\n"
            "set output 'fig_%s.%s'\n",
            terminals[term][1], FIG_WIDTH, FIG_HEIGHT, id, terminals[term][0]);
}

static void gp_conditions(FILE *f, const claim_result *cr, size_t term) {
    const char *ids[2 * INDIV_STUDY_CMP_MAX];
    size_t n = claim_conditions(cr->c, LV_BASE, ids);
    const indiv_study_metric *m = indiv_study_metric_find(cr->metric[0]);
    int levels = 0;
    for (int lv = 0; lv < LV_COUNT; lv++)
        levels += cr->lv[lv].run;
    gp_output(f, term, cr->c->id);
    fprintf(f, "set title \"%s: %s by condition (mean, 95%% CI over seeds)\"\n",
            cr->c->id, cr->metric[0]);
    fprintf(f,
            "set ylabel \"%s (%s)\"\nset grid ytics\nset key outside bottom center "
            "horizontal\nset xrange [-0.5:%zu.5]\nset xtics (",
            cr->metric[0], m ? m->unit : "", n - 1);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\"%s\" %zu", i ? ", " : "", ids[i], i);
    fputs(")\nset offsets 0, 0, graph 0.1, graph 0.1\nplot ", f);
    for (int lv = 0, b = 0; lv < LV_COUNT; lv++) {
        if (!cr->lv[lv].run)
            continue;
        double off = 0.12 * (b - (levels - 1) / 2.0);
        fprintf(f,
                "%s'fig_%s.dat' index %d using ($1%+.2f):2:3 with yerrorbars pt 7 ps 1.1 "
                "lw 1.5 lc rgb '%s' title \"%s\"",
                b ? ", \\\n     " : "", cr->c->id, b, off, colours[lv],
                study_level_name(lv));
        b++;
    }
    fputc('\n', f);
}

static void gp_rounds(FILE *f, const claim_result *cr, size_t term) {
    const char *ids[2 * INDIV_STUDY_CMP_MAX];
    size_t n = claim_conditions(cr->c, LV_BASE, ids);
    gp_output(f, term, cr->c->id);
    fprintf(f,
            "set title \"%s: consumers still active, by round (mean over seeds)\"\n"
            "set xlabel \"round\"\nset ylabel \"active consumers\"\nset grid\n"
            "set key inside bottom left\nplot ",
            cr->c->id);
    for (size_t i = 0; i < n; i++)
        fprintf(
            f,
            "%s'fig_%s.dat' using 1:%zu with linespoints pt 7 ps 0.6 lw 2 lc rgb '%s' "
            "title \"%s\"",
            i ? ", \\\n     " : "", cr->c->id, i + 2, colours[i % 5], ids[i]);
    fputc('\n', f);
}

static void gp_scatter(FILE *f, const claim_result *cr, size_t term) {
    const char *ref = cr->c->cmp[0].reference;
    gp_output(f, term, cr->c->id);
    fprintf(f,
            "set title \"%s: difference to the %s (paired, mean and 95%% CI)\"\n"
            "set xlabel \"exposure Gini minus the %s's (> 0: more concentrated)\"\n"
            "set ylabel \"%s minus the %s's (> 0: more alike)\"\n"
            "set grid\nunset key\nset xzeroaxis lt -1\nset yzeroaxis lt -1\n"
            "set offsets graph 0.15, graph 0.15, graph 0.15, graph 0.15\n"
            "set label 1 \"%s\" at 0,0 right point pt 6 ps 1.5 offset -1,1\n"
            "plot 'fig_%s.dat' using 1:3:2:4 with xyerrorbars pt 7 ps 1.2 lw 1.5 "
            "lc rgb '%s', \\\n     '' using 1:3:5 with labels offset 0,1.2\n",
            cr->c->id, ref, ref, cr->metric[0], ref, ref, cr->c->id, colours[0]);
}

static int write_script(FILE *f, void *ctx, indiv_error *err) {
    const indiv_study_results *r = ctx;
    fputs("# study.gp: written by indiv study (docs/study.md). Draw the figures with\n"
          "#     cd <this directory> && gnuplot study.gp\n"
          "# Each figure is written as SVG and PNG.\n",
          f);
    for (size_t term = 0; term < NTERMINALS; term++)
        for (size_t i = 0; i < r->nclaims; i++) {
            const claim_result *cr = &r->claims[i];
            const char *kind = cr->c->figure;
            if (!kind || !cr->lv[LV_BASE].run)
                continue;
            if (strcmp(kind, "rounds") == 0)
                gp_rounds(f, cr, term);
            else if (strcmp(kind, "scatter") == 0)
                gp_scatter(f, cr, term);
            else
                gp_conditions(f, cr, term);
        }
    fputs("\nset output\n", f);
    return ferror(f) ? indiv_error_set(err, INDIV_EIO, "study.gp: write error") : 0;
}

static int write_figure_data(const indiv_study_results *r, const claim_result *cr,
                             double *x, indiv_error *err) {
    const char *kind = cr->c->figure;
    if (!kind || !cr->lv[LV_BASE].run)
        return INDIV_OK;
    fig_ctx fc = {r, cr, x};
    char name[96];
    snprintf(name, sizeof name, "figures/fig_%s.dat", cr->c->id);
    int (*fn)(FILE *, void *, indiv_error *) =
        strcmp(kind, "rounds") == 0    ? write_rounds_dat
        : strcmp(kind, "scatter") == 0 ? write_scatter_dat
                                       : write_conditions_dat;
    return write_file(r, name, fn, &fc, err);
}

int indiv_study_write_data(const indiv_study_results *r, indiv_error *err) {
    double *x = malloc((size_t)r->seeds * sizeof *x);
    if (!x)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    json_t *root = results_json(r, x);
    int rc = root ? write_file(r, "results.json", dump_json, root, err)
                  : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    json_decref(root);
    for (size_t i = 0; rc == INDIV_OK && i < r->nclaims; i++)
        rc = write_figure_data(r, &r->claims[i], x, err);
    if (rc == INDIV_OK)
        rc = write_file(r, "figures/study.gp", write_script, (void *)r, err);
    free(x);
    return rc;
}

/* ---- the two-backend document writer ----------------------------------------------- */

typedef struct doc {
    FILE *f;
    int html;
    const indiv_study_results *r;
    double *x; /* seeds values of scratch */
} doc;

/* Text with three inline marks, **bold**, *italic* and `code`: kept in Markdown, turned
 * into tags in HTML (with &, <, > escaped). */
static void put_text(doc *d, const char *s) {
    if (!d->html) {
        fputs(s, d->f);
        return;
    }
    int bold = 0, italic = 0, code = 0;
    for (; *s; s++) {
        if (s[0] == '*' && s[1] == '*' && !code) {
            fputs(bold ? "</b>" : "<b>", d->f);
            bold = !bold;
            s++;
        } else if (*s == '*' && !code) {
            fputs(italic ? "</i>" : "<i>", d->f);
            italic = !italic;
        } else if (*s == '`') {
            fputs(code ? "</code>" : "<code>", d->f);
            code = !code;
        } else if (*s == '&')
            fputs("&amp;", d->f);
        else if (*s == '<')
            fputs("&lt;", d->f);
        else if (*s == '>')
            fputs("&gt;", d->f);
        else
            fputc(*s, d->f);
    }
}

static void doc_vp(doc *d, const char *open, const char *close, const char *fmt,
                   va_list ap) {
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fputs(d->html ? open : "", d->f);
    put_text(d, buf);
    fputs(d->html ? close : "\n\n", d->f);
}

static void doc_p(doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void doc_p(doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    doc_vp(d, "<p>", "</p>\n", fmt, ap);
    va_end(ap);
}

static void doc_h(doc *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void doc_h(doc *d, int level, const char *fmt, ...) {
    char open[16], close[16];
    snprintf(open, sizeof open, "<h%d>", level);
    snprintf(close, sizeof close, "</h%d>\n", level);
    if (!d->html)
        fprintf(d->f, "%.*s ", level, "######");
    va_list ap;
    va_start(ap, fmt);
    doc_vp(d, open, close, fmt, ap);
    va_end(ap);
}

static void doc_quote(doc *d, const char *text) {
    fputs(d->html ? "<blockquote>" : "> ", d->f);
    put_text(d, text);
    fputs(d->html ? "</blockquote>\n" : "\n\n", d->f);
}

static void doc_item(doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void doc_item(doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(d->html ? "<li>" : "- ", d->f);
    put_text(d, buf);
    fputs(d->html ? "</li>\n" : "\n", d->f);
}

static void doc_list(doc *d, int open) {
    if (d->html)
        fputs(open ? "<ul>\n" : "</ul>\n", d->f);
    else if (!open)
        fputc('\n', d->f);
}

/* A table row; in Markdown '|' in a cell is escaped. */
static void doc_row(doc *d, size_t n, const char *const *cells, int head) {
    fputs(d->html ? "<tr>" : "|", d->f);
    for (size_t i = 0; i < n; i++) {
        fputs(d->html ? (head ? "<th>" : "<td>") : " ", d->f);
        if (d->html)
            put_text(d, cells[i]);
        else
            for (const char *s = cells[i]; *s; s++)
                fputs(*s == '|' ? "\\|" : (char[2]){*s, 0}, d->f);
        fputs(d->html ? (head ? "</th>" : "</td>") : " |", d->f);
    }
    fputs(d->html ? "</tr>\n" : "\n", d->f);
    if (head && !d->html) {
        fputc('|', d->f);
        for (size_t i = 0; i < n; i++)
            fputs("---|", d->f);
        fputc('\n', d->f);
    }
}

static void doc_table(doc *d, int open) {
    if (d->html)
        fputs(open ? "<table>\n" : "</table>\n", d->f);
    else if (!open)
        fputc('\n', d->f);
}

/* ---- figures in the report --------------------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 base64 of a whole file, streamed. */
static int put_base64(FILE *out, FILE *in) {
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        unsigned v =
            (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], n > 1 ? b64[v >> 6 & 63] : '=',
                     n > 2 ? b64[v & 63] : '='};
        fwrite(q, 1, 4, out);
    }
    return ferror(in) ? -1 : 0;
}

/* Opens DIR/figures/fig_<id>.<ext> for the first extension that exists. */
static FILE *open_figure(const indiv_study_results *r, const char *id, const char **ext) {
    static const char *const exts[] = {"svg", "png"};
    for (size_t k = 0; k < 2; k++) {
        char name[128];
        snprintf(name, sizeof name, "figures/fig_%s.%s", id, exts[k]);
        char *path = dir_path(r, name);
        FILE *f = path ? fopen(path, "rb") : NULL;
        free(path);
        if (f)
            return *ext = exts[k], f;
    }
    return NULL;
}

static void doc_figure(doc *d, const char *id, const char *caption) {
    const char *ext = NULL;
    FILE *in = open_figure(d->r, id, &ext);
    if (!in) {
        doc_p(d,
              "*(Figure not drawn: gnuplot was not run or is not installed. `cd "
              "%s/figures && gnuplot study.gp` draws fig_%s.svg and fig_%s.png.)*",
              d->r->dir, id, id);
        return;
    }
    if (d->html) {
        fprintf(d->f, "<figure><img alt=\"%s\" src=\"data:image/%s;base64,", id,
                strcmp(ext, "svg") == 0 ? "svg+xml" : "png");
        put_base64(d->f, in);
        fputs("\"><figcaption>", d->f);
        put_text(d, caption);
        fputs("</figcaption></figure>\n", d->f);
    } else
        fprintf(d->f, "![%s](figures/fig_%s.%s)\n\n", caption, id, ext);
    fclose(in);
}

/* ---- report sections --------------------------------------------------------------- */

static const char *kind_rule(const indiv_study_claim *c) {
    switch (c->kind) {
    case INDIV_STUDY_EFFECT:
        return "effect rule: supported iff the 95% CI of the effect in the claimed "
               "direction excludes 0 and its mean is at least δ; not supported iff the "
               "CI "
               "lies on the other side of 0, or within [−δ, δ]; inconclusive otherwise";
    case INDIV_STUDY_NONINFERIOR:
        return "non-inferiority rule: supported iff the lower bound of the 95% CI of the "
               "difference (minimal − full) is above −δ; not supported iff its upper "
               "bound "
               "is below −δ; inconclusive otherwise";
    default:
        return "descriptive rule: supported iff the engine's extrapolated time for one "
               "campaign is at most 24 hours";
    }
}

static void delta_text(const indiv_study_claim *c, char *buf, size_t cap) {
    const indiv_study_metric *m = indiv_study_metric_find(c->metric);
    const char *unit = m ? m->unit : "";
    if (c->delta_rel > 0)
        snprintf(buf, cap, "δ = %g%% of the reference's mean", 100 * c->delta_rel);
    else
        snprintf(buf, cap, "δ = %g %s", c->delta_abs,
                 strcmp(unit, "%") == 0 ? "percentage point" : unit);
}

/* Short form of the sensitivity result for the summary table. */
static void sensitivity_short(const claim_result *cr, char *buf, size_t cap) {
    int contra = cr->base == INDIV_VERDICT_SUPPORTED;
    const char *dir = contra ? "contra" : "pro";
    indiv_verdict full = cr->lv[contra ? LV_CONTRA_FULL : LV_PRO_FULL].verdict;
    if (cr->c->kind == INDIV_STUDY_DESCRIPTIVE)
        snprintf(buf, cap, "measured, not simulated");
    else if (cr->base == INDIV_VERDICT_INCONCLUSIVE ||
             cr->base == INDIV_VERDICT_UNDERPOWERED)
        snprintf(buf, cap, "contra: %s; pro: %s",
                 indiv_verdict_name(cr->lv[LV_CONTRA_FULL].verdict),
                 indiv_verdict_name(cr->lv[LV_PRO_FULL].verdict));
    else if (cr->final == INDIV_VERDICT_DEPENDS)
        snprintf(buf, cap, "flips at the mild %s level", dir);
    else if (indiv_study_final(cr->base, full) == INDIV_VERDICT_DEPENDS)
        snprintf(buf, cap, "flips only at the full %s level", dir);
    else
        snprintf(buf, cap, "does not flip (%s)", dir);
}

static void summary_effect(const claim_result *cr, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    if (cr->c->kind == INDIV_STUDY_DESCRIPTIVE) {
        snprintf(buf, cap, "%s", cr->measured);
        return;
    }
    for (size_t k = 0; k < cr->c->ncmp && used < cap; k++) {
        if (!cr->c->cmp[k].primary)
            continue;
        char e[128];
        effect_text(&cr->lv[LV_BASE].eff[k][0], e, sizeof e);
        used +=
            (size_t)snprintf(buf + used, cap - used, "%s%s vs %s: %s", used ? "; " : "",
                             cr->c->cmp[k].treatment, cr->c->cmp[k].reference, e);
    }
}

static void section_summary(doc *d) {
    const indiv_study_results *r = d->r;
    static const char *const head[] = {"claim", "primary metric", "effect [95% CI]",
                                       "verdict", "sensitivity"};
    doc_h(d, 2, "Summary");
    doc_table(d, 1);
    doc_row(d, 5, head, 1);
    for (size_t i = 0; i < r->nclaims; i++) {
        const claim_result *cr = &r->claims[i];
        char id[160], eff[STUDY_LINE_MAX], sens[128];
        snprintf(id, sizeof id, "%s — %s", cr->c->id, cr->c->title);
        summary_effect(cr, eff, sizeof eff);
        sensitivity_short(cr, sens, sizeof sens);
        const char *row[] = {id, cr->c->metric, eff, indiv_verdict_name(cr->final), sens};
        doc_row(d, 5, row, 0);
    }
    doc_table(d, 0);
}

static void section_header(doc *d) {
    const indiv_study_results *r = d->r;
    doc_h(d, 1,
          "indiv — the ethics study: the interviews' claims under stated assumptions");
    doc_p(d, "Command: `%s`", r->command ? r->command : "(library call)");
    doc_p(
        d,
        "Mode **%s**: %lld consumers, %lld offers in %lld categories, %lld days of "
        "history per world; %d rounds of %g days (twice that for the long-horizon "
        "claim); %d seeds (%llu to %llu); %zu worlds, %zu simulation runs; %.0f s on %d "
        "worker threads (simulation %.0f s, measurements %.0f s).",
        r->quick ? "quick" : "thorough", (long long)r->wp.consumers,
        (long long)r->wp.offers, (long long)r->wp.categories, (long long)r->wp.days,
        r->rounds, r->sp.round_days, r->seeds, (unsigned long long)r->base_seed,
        (unsigned long long)(r->base_seed + (uint64_t)r->seeds - 1), r->nworlds, r->runs,
        r->seconds_total, r->jobs, r->seconds_runs, r->seconds_measure);
    doc_quote(d,
              "**These verdicts hold only under the simulation's assumptions**, listed "
              "below with their values. They are statements about a model of consumers "
              "whose tastes, rhythms and reactions are drawn from stated laws, not about "
              "real people; change an assumption and a verdict may change (each claim's "
              "sensitivity line says which one, and how far).");
}

static void section_method(doc *d) {
    const indiv_study_results *r = d->r;
    doc_h(d, 2, "Method");
    doc_list(d, 1);
    doc_item(d,
             "**Sources.** Each claim quotes the interviews' exact words between French "
             "quotation marks, with "
             "the speaker and the source id (S1–S3) of `../shared/interviews.md`, where "
             "the sources are described; the English line under a quotation is a "
             "summary, not a translation. Claims of the interviews the study does not "
             "test are listed at the end, with the reason.");
    doc_item(d,
             "**Worlds and seeds.** Seed s (s = %llu … %llu) generates its own world "
             "(`indiv generate` with the parameters in the appendix) and drives the "
             "simulation's random streams. Every condition of a claim runs on the same "
             "worlds and seeds (common random numbers; Law, *Simulation Modeling and "
             "Analysis*, 2015, §11.2), so a difference comes from the conditions, not "
             "from the draw.%s%s%s",
             (unsigned long long)r->base_seed,
             (unsigned long long)(r->base_seed + (uint64_t)r->seeds - 1),
             r->like ? " Every world is fitted to the purchases of `" : "",
             r->like ? r->like : "",
             r->like
                 ? "` (`indiv generate --like`'s statistics, at the study's size)."
                 : " Tastes are structured (taste_locality, calibrated on the shipped "
                   "sample: docs/worlds.md).");
    doc_item(d,
             "**Effect.** For treatment T against reference R, d_s = x_s(T) − x_s(R) per "
             "seed; the effect is mean(d) with the paired 95%% interval mean(d) ± "
             "t_{0.975, n−1} · sd(d) / √n (n = %d seeds).",
             r->seeds);
    doc_item(d,
             "**Verdicts.** With σ = ±1 the direction the claim predicts and δ the "
             "smallest effect of interest (stated per claim): *supported* iff the CI "
             "of σ·d excludes 0 and its mean is at least δ; *not supported* iff the CI "
             "lies on the other side of 0, or within [−δ, δ]; *inconclusive* otherwise "
             "(more seeds needed). The data-minimisation claim is a non-inferiority "
             "test (supported iff the CI's lower bound is above −δ). A claim with "
             "several primary comparisons needs all of them.");
    doc_item(d,
             "**Sensitivity.** A supported claim is rerun without the assumption it "
             "rests on (*contra*), a not-supported one with the assumption pushed "
             "further (*pro*), an inconclusive one both ways; each at a *mild* level "
             "(every overridden parameter halfway between the study's value and the "
             "override) and a *full* level. The final verdict is **depends on an "
             "assumption** when the mild level already turns a conclusive verdict into "
             "the opposite one.");
    doc_item(d,
             "**Real data.** The Online Retail sample has no ground truth (no true "
             "tastes, no reactions to contacts), so it cannot answer the simulated "
             "claims. It is used where a claim allows: the data-minimisation claim "
             "(bytes stored and build time of profiles) and the scale claim (decision "
             "throughput). %s",
             r->meas[MEAS_REAL].have
                 ? "Both use it below."
                 : "**It was not used in this run** (no --real file).");
    doc_list(d, 0);
}

static void param_row(doc *d, const char *name, const char *value, const char *meaning) {
    const char *row[] = {name, value, meaning};
    doc_row(d, 3, row, 0);
}

static void section_assumptions(doc *d) {
    const indiv_study_results *r = d->r;
    static const char *const head[] = {"assumption", "value", "meaning"};
    char *js = indiv_sim_params_json(&r->sp);
    json_t *o = js ? json_loads(js, 0, NULL) : NULL;
    free(js);
    doc_h(d, 2, "Assumptions");
    doc_p(d, "The response model and the engine's settings every run starts from (a "
             "condition or a sensitivity level changes only what it names). The world "
             "generator's parameters are in the appendix; docs/simulation.md and "
             "docs/worlds.md give every formula.");
    doc_table(d, 1);
    doc_row(d, 3, head, 1);
    indiv_sim_param sp; /* the simulation parameter table, but the thread count */
    for (size_t i = 0; indiv_sim_param_at(i, &sp) == INDIV_OK; i++) {
        if (strcmp(sp.name, "threads") == 0)
            continue;
        char v[64];
        json_t *x = o ? json_object_get(o, sp.name) : NULL;
        snprintf(v, sizeof v, "%.6g", json_is_number(x) ? json_number_value(x) : NAN);
        param_row(d, sp.name, v, sp.doc);
    }
    doc_table(d, 0);
    json_decref(o);
}

static void conditions_list(doc *d, const claim_result *cr) {
    const char *ids[2 * INDIV_STUDY_CMP_MAX];
    size_t n = claim_conditions(cr->c, LV_BASE, ids);
    doc_list(d, 1);
    for (size_t i = 0; i < n; i++) {
        const indiv_study_condition *c = cond(ids[i]);
        doc_item(d, "`%s` (`%s`%s): %s", c->id, c->settings,
                 c->rounds_factor > 1 ? ", twice the rounds" : "", c->doc);
    }
    doc_list(d, 0);
}

static void effects_table(doc *d, const claim_result *cr) {
    static const char *const head[] = {"comparison", "metric",          "treatment",
                                       "reference",  "effect [95% CI]", "relative"};
    const claim_level *L = &cr->lv[LV_BASE];
    doc_table(d, 1);
    doc_row(d, 6, head, 1);
    for (size_t k = 0; k < cr->c->ncmp; k++)
        for (size_t m = 0; m < cr->nmetrics; m++) {
            const indiv_study_effect *e = &L->eff[k][m];
            char cmp[128], t[32], ref[32], eff[128], rel[32], met[64];
            snprintf(cmp, sizeof cmp, "%s vs %s%s", cr->c->cmp[k].treatment,
                     cr->c->cmp[k].reference,
                     cr->c->cmp[k].primary && m == 0 ? " (primary)" : "");
            snprintf(met, sizeof met, "%s%s%s", m == 0 ? "**" : "", cr->metric[m],
                     m == 0 ? "**" : "");
            effect_text(e, eff, sizeof eff);
            relative_text(e, rel, sizeof rel);
            const char *row[] = {
                cmp, met, num(e->mean_t, t, sizeof t), num(e->mean_r, ref, sizeof ref),
                eff, rel};
            doc_row(d, 6, row, 0);
        }
    doc_table(d, 0);
}

static void sensitivity_table(doc *d, const claim_result *cr) {
    static const char *const head[] = {"level", "overrides", "comparison",
                                       "effect [95% CI]", "verdict"};
    doc_table(d, 1);
    doc_row(d, 5, head, 1);
    for (int lv = 0; lv < LV_COUNT; lv++) {
        const claim_level *L = &cr->lv[lv];
        for (size_t k = 0; L->run && k < cr->c->ncmp; k++) {
            if (!cr->c->cmp[k].primary)
                continue;
            char cmp[128], eff[128];
            snprintf(cmp, sizeof cmp, "%s vs %s", cr->c->cmp[k].treatment,
                     cr->c->cmp[k].reference);
            effect_text(&L->eff[k][0], eff, sizeof eff);
            const char *row[] = {study_level_name(lv), *L->overrides ? L->overrides : "—",
                                 cmp, eff, indiv_verdict_name(L->cmp_verdict[k])};
            doc_row(d, 5, row, 0);
        }
    }
    doc_table(d, 0);
}

static void claim_heading(doc *d, size_t i, const claim_result *cr) {
    const indiv_study_claim *c = cr->c;
    if (d->html)
        fprintf(d->f, "<section class=\"claim\" id=\"%s\">\n", c->id);
    doc_h(d, 3, "%zu. `%s` — %s", i + 1, c->id, c->title);
    for (size_t k = 0; k < c->nquotes; k++) {
        char q[2048];
        snprintf(q, sizeof q, "« %s » — %s, %s", c->quotes[k].text, c->quotes[k].speaker,
                 c->quotes[k].source_id);
        doc_quote(d, q);
    }
    doc_p(d, "%s Sources: %s.", c->paraphrase, c->source);
}

/* The power line: the primary comparison's MDE at the run's size against δ, and the
 * size that would make MDE ≤ δ. */
static void claim_power(doc *d, const claim_result *cr) {
    const claim_level *L = &cr->lv[LV_BASE];
    for (size_t k = 0; L->run && k < cr->c->ncmp; k++) {
        if (!cr->c->cmp[k].primary || cr->c->kind != INDIV_STUDY_EFFECT)
            continue;
        const indiv_study_effect *e = &L->eff[k][0];
        double delta = indiv_study_delta(cr->c, e);
        char need[96];
        if (cr->seeds_needed)
            snprintf(need, sizeof need, "%zu seeds", cr->seeds_needed);
        else
            snprintf(need, sizeof need, "more than %d seeds", INDIV_STUDY_SEEDS_MAX);
        doc_p(d,
              "**Power** (%s vs %s). With %zu seeds the minimum detectable effect "
              "(α = 0.05 two-sided, power %.0f %%, from the seeds' own variance) is "
              "%.4g against δ = %.4g: %s. MDE ≤ δ needs %s.",
              cr->c->cmp[k].treatment, cr->c->cmp[k].reference, e->n,
              100 * INDIV_STUDY_POWER, e->mde, delta,
              e->mde <= delta ? "large enough to conclude either way"
                              : "too small to conclude against the claim (underpowered)",
              need);
    }
}

static void claim_verdict(doc *d, const claim_result *cr) {
    char delta[96];
    delta_text(cr->c, delta, sizeof delta);
    doc_p(d, "**Verdict: %s.** Metric `%s`, the claim predicts it %s (%s); %s.",
          indiv_verdict_name(cr->final), cr->c->metric,
          cr->c->kind == INDIV_STUDY_NONINFERIOR ? "not lower by more than δ"
          : cr->c->direction > 0                 ? "higher in the treatment"
                                                 : "lower in the treatment",
          delta, kind_rule(cr->c));
    claim_power(d, cr);
    doc_p(d, "**Sensitivity.** The verdict rests on: %s. %s", cr->c->assumption,
          cr->sensitivity);
}

static void measure_rows(doc *d, const study_measure *m) {
    for (int k = 0; m->have && k < 2; k++) {
        const study_profile_cost *p = &m->prof[k];
        char win[32], bytes[32], per[32], sec[64];
        if (p->window_days > 0)
            snprintf(win, sizeof win, "%g days", p->window_days);
        else
            snprintf(win, sizeof win, "all");
        snprintf(bytes, sizeof bytes, "%lld", (long long)p->bytes);
        snprintf(per, sizeof per, "%.0f",
                 p->profiled ? (double)p->bytes / p->profiled : 0);
        snprintf(sec, sizeof sec, "%.3f ± %.3f", p->sec_mean, p->sec_half);
        const char *row[] = {m->source, p->features, win, bytes, per, sec};
        doc_row(d, 6, row, 0);
    }
}

static void minimisation_costs(doc *d) {
    static const char *const head[] = {
        "data",         "features",          "window",
        "bytes stored", "bytes per profile", "build seconds (95% CI)"};
    doc_p(d,
          "Storage and computation, measured by building every profile (one full "
          "build per repetition, %d repetitions):",
          d->r->repeats);
    doc_table(d, 1);
    doc_row(d, 6, head, 1);
    for (int k = 0; k < MEAS_COUNT; k++)
        measure_rows(d, &d->r->meas[k]);
    doc_table(d, 0);
}

static void scale_table(doc *d) {
    static const char *const head[] = {"data", "consumers × offers × 3", "decision run s",
                                       "candidates / s", "1M × 100 × 3: hours"};
    doc_table(d, 1);
    doc_row(d, 5, head, 1);
    for (int k = 0; k < MEAS_COUNT; k++) {
        const study_measure *m = &d->r->meas[k];
        if (!m->have)
            continue;
        char c[64], s[64], rate[32], h[64];
        snprintf(c, sizeof c, "%lld × %lld × 3 = %.3g", (long long)m->consumers,
                 (long long)m->offers, m->candidates);
        snprintf(s, sizeof s, "%.3f ± %.3f", m->decide_mean, m->decide_half);
        snprintf(rate, sizeof rate, "%.3g", m->cand_per_s);
        snprintf(h, sizeof h, "%.2g to %.2g", m->hours_low, m->hours_high);
        const char *row[] = {m->source, c, s, rate, h};
        doc_row(d, 5, row, 0);
    }
    doc_table(d, 0);
}

static void claim_scale(doc *d, const claim_result *cr) {
    doc_p(d, "**Experiment.** %s", cr->c->design);
    scale_table(d);
    doc_p(d,
          "The low figure extrapolates per candidate (time ∝ consumers × offers); the "
          "high one per consumer at the measured number of offers, which is more than "
          "100, so it bounds the time from above under the stated linearity. %d "
          "repetitions, %d decision threads, decisions written to JSON Lines as "
          "`indiv decide` does.",
          d->r->repeats, d->r->jobs);
    doc_p(d, "**Verdict: %s.** %s. Rule: %s.", indiv_verdict_name(cr->final),
          cr->measured, kind_rule(cr->c));
    doc_p(d, "**Sensitivity.** The verdict rests on: %s. %s", cr->c->assumption,
          cr->sensitivity);
}

static const char *figure_caption(const char *kind) {
    if (strcmp(kind, "rounds") == 0)
        return "Consumers still active at the end of each round, mean over seeds, at the "
               "study's values.";
    if (strcmp(kind, "scatter") == 0)
        return "Each policy's paired difference to the oracle in exposure concentration "
               "(x) and homogenisation (y), with 95% CIs; the oracle is at (0, 0).";
    return "Each condition's mean of the primary metric over seeds with its 95% CI (not "
           "paired: the paired effects in the tables are more precise), at the study's "
           "values and at each sensitivity level run.";
}

static void claim_section(doc *d, size_t i, const claim_result *cr) {
    claim_heading(d, i, cr);
    if (cr->c->kind == INDIV_STUDY_DESCRIPTIVE)
        claim_scale(d, cr);
    else {
        doc_p(d, "**Experiment.** %s", cr->c->design);
        conditions_list(d, cr);
        effects_table(d, cr);
        if (cr->c->figure)
            doc_figure(d, cr->c->id, figure_caption(cr->c->figure));
        if (strcmp(cr->c->id, "minimisation") == 0)
            minimisation_costs(d);
        claim_verdict(d, cr);
        if (cr->ope[0])
            doc_p(d, "**One logged campaign.** %s", cr->ope);
        sensitivity_table(d, cr);
    }
    if (d->html)
        fputs("</section>\n", d->f);
}

static void section_limits(doc *d) {
    doc_h(d, 2, "What this study cannot show");
    doc_list(d, 1);
    doc_item(d,
             "Anything about real people: the consumers are drawn from stated laws, "
             "and their reactions follow the response model above. A verdict says what "
             "follows from those assumptions, and the sensitivity line says which "
             "assumption it leans on.");
    doc_item(d, "Manipulation: the model has no notion of persuasion against a person's "
                "interest; the enclosure claim is tested on exposure concentration and "
                "homogenisation only.");
    doc_item(d,
             "Long-term effects beyond the horizon (%d rounds, %d for the long-horizon "
             "claim), tastes that change, seasons, competitors: none is modelled.",
             d->r->rounds, 2 * d->r->rounds);
    for (size_t i = 0; i < indiv_study_unstudied_count(); i++) {
        const indiv_study_unstudied *u = indiv_study_unstudied_at(i);
        doc_item(d, "Claim `%s` of the interviews is not studied: %s", u->id, u->why);
    }
    doc_item(d, "Small effects with few seeds: an *inconclusive* verdict means the "
                "interval is too wide, not that there is no effect; rerun with more "
                "--seeds.");
    doc_list(d, 0);
}

static void section_appendix(doc *d) {
    static const char *const head[] = {"parameter", "value", "meaning"};
    doc_h(d, 2, "Appendix: world parameters");
    doc_table(d, 1);
    doc_row(d, 3, head, 1);
    for (size_t i = 0; i < indiv_world_param_count(); i++) {
        const indiv_world_param *p = indiv_world_param_at(i);
        char v[64];
        if (strcmp(p->name, "seed") == 0)
            snprintf(v, sizeof v, "seed index + %llu",
                     (unsigned long long)d->r->base_seed);
        else
            indiv_world_params_format(&d->r->wp, p, v, sizeof v);
        param_row(d, p->name, v, p->doc);
    }
    doc_table(d, 0);
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>indiv — the ethics study</title>\n<style>\n"
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
    "line-height:1.45;color:#222}\n"
    "table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}\n"
    "th,td{border:1px solid #bbb;padding:0.25em "
    "0.5em;text-align:left;vertical-align:top}\n"
    "th{background:#f0f0f0}\nblockquote{border-left:4px solid #1b9e77;margin:0.8em 0;"
    "padding:0.3em 1em;background:#f6faf8}\n"
    "figure{margin:1em 0}\nfigure img{max-width:100%;max-height:22em}\n"
    "figcaption{font-size:0.85em;"
    "color:#555}\ncode{background:#f4f4f4;padding:0 0.2em}\n"
    "section.claim{border-top:2px solid #ddd;margin-top:2em}\n"
    "@media print{body{font-size:9pt;max-width:none}section.claim{page-break-before:"
    "always}}\n</style>\n</head>\n<body>\n";

static int write_report_doc(FILE *f, void *ctx, indiv_error *err) {
    doc *d = ctx;
    d->f = f;
    if (d->html)
        fputs(html_head, f);
    section_header(d);
    section_summary(d);
    section_method(d);
    section_assumptions(d);
    doc_h(d, 2, "The claims");
    for (size_t i = 0; i < d->r->nclaims; i++)
        claim_section(d, i, &d->r->claims[i]);
    section_limits(d);
    section_appendix(d);
    if (d->html)
        fputs("</body>\n</html>\n", f);
    return ferror(f) ? indiv_error_set(err, INDIV_EIO, "report: write error") : 0;
}

int indiv_study_write_report(const indiv_study_results *r, indiv_error *err) {
    doc md = {NULL, 0, r, NULL}, html = {NULL, 1, r, NULL};
    int rc = write_file(r, "report.md", write_report_doc, &md, err);
    return rc == INDIV_OK ? write_file(r, "report.html", write_report_doc, &html, err)
                          : rc;
}
