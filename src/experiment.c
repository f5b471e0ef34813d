/*
 * experiment.c — the pure parts of a sweep (contract in experiment.h): the grid and its
 * cells, the table of result columns with their aggregation over rounds, the statistics
 * of summary.csv, and the exact number format of the result files. Nothing here runs a
 * simulation or touches a file; sweep.c does.
 *
 * Invariants: a grid's axes have distinct normalised names ('-' read as '_') and each
 * axis distinct value texts; cells = Π values ≤ INDIV_SWEEP_CELLS_MAX, so every cell
 * index fits a size_t and cell arithmetic cannot overflow.
 */
#include "indiv/experiment.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

/* Tolerance of the inclusive upper bound of a range: (hi − lo)/step is an integer up to
 * floating rounding (a few ulps, far below 1e-9) when the user meant it to be. */
#define RANGE_EPS 1e-9
/* Significant digits of range values: enough for any grid a person types, few enough
 * to hide the drift of lo + i·step (about 1e-16 relative). */
#define RANGE_DIGITS 10

typedef char value_text[INDIV_SWEEP_NAME_MAX];

struct axis {
    value_text name;
    size_t n;
    value_text *values;
};

struct indiv_sweep_grid {
    size_t naxes;
    size_t cells;
    struct axis axes[INDIV_SWEEP_AXES_MAX];
};

/* ---- grid -------------------------------------------------------------------------- */

indiv_sweep_grid *indiv_sweep_grid_new(void) {
    indiv_sweep_grid *g = calloc(1, sizeof *g);
    if (g)
        g->cells = 1;
    return g;
}

void indiv_sweep_grid_free(indiv_sweep_grid *g) {
    if (!g)
        return;
    for (size_t a = 0; a < g->naxes; a++)
        free(g->axes[a].values);
    free(g);
}

/* Names: letters, digits, '_' and '-'; values also '.' and '+' (numbers, policy
 * names). Nothing that needs quoting in CSV, JSON or a gnuplot label. */
static int token_ok(const char *s, size_t len, int value) {
    if (len == 0 || len >= INDIV_SWEEP_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && !(value && (c == '.' || c == '+')))
            return 0;
    }
    return 1;
}

/* Equal names up to '-' versus '_' (indiv_sim_params_set accepts both). */
static int same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
            return 0;
    return *a == *b;
}

static int has_duplicate(const struct axis *ax, size_t *dup /* OUT */) {
    for (size_t i = 1; i < ax->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(ax->values[i], ax->values[j]) == 0)
                return *dup = i, 1;
    return 0;
}

static int parse_number(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && isfinite(*out);
}

/* Splits "lo:hi:step" into three numbers. */
static int range_bounds(const char *spec, const char *text, double b[3],
                        indiv_error *err) {
    char part[3][INDIV_SWEEP_NAME_MAX];
    const char *p = text;
    for (int k = 0; k < 3; k++) {
        size_t len = k < 2 ? strcspn(p, ":") : strlen(p);
        if ((k < 2 && p[len] != ':') || len == 0 || len >= sizeof part[k])
            return indiv_error_set(err, INDIV_EINVAL,
                                   "grid '%s': a range is lo:hi:step (three numbers)",
                                   spec);
        memcpy(part[k], p, len);
        part[k][len] = '\0';
        p += len + 1;
    }
    static const char *const what[3] = {"lo", "hi", "step"};
    for (int k = 0; k < 3; k++)
        if (!parse_number(part[k], &b[k]))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "grid '%s': %s '%s' is not a number", spec, what[k],
                                   part[k]);
    if (b[2] <= 0)
        return indiv_error_set(err, INDIV_EINVAL, "grid '%s': step must be > 0", spec);
    if (b[1] < b[0])
        return indiv_error_set(err, INDIV_EINVAL, "grid '%s': hi is below lo", spec);
    return INDIV_OK;
}

/* Values lo + i·step, i = 0..n−1, n = floor((hi − lo)/step + RANGE_EPS) + 1. */
static int parse_range(const char *spec, const char *text, struct axis *ax,
                       indiv_error *err) {
    double b[3];
    int rc = range_bounds(spec, text, b, err);
    if (rc < 0)
        return rc;
    double q = floor((b[1] - b[0]) / b[2] + RANGE_EPS);
    if (!(q < INDIV_SWEEP_VALUES_MAX))
        return indiv_error_set(err, INDIV_EINVAL, "grid '%s': more than %d values", spec,
                               INDIV_SWEEP_VALUES_MAX);
    ax->n = (size_t)q + 1;
    if (!(ax->values = calloc(ax->n, sizeof *ax->values)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    for (size_t i = 0; i < ax->n; i++) {
        double v = b[0] + (double)i * b[2];
        if (fabs(v) < RANGE_EPS * b[2]) /* -0.3 + 3·0.1 is -5.6e-17, meant 0 */
            v = 0;
        snprintf(ax->values[i], sizeof ax->values[i], "%.*g", RANGE_DIGITS, v);
    }
    return INDIV_OK;
}

/* Values "v1,v2,...": each a non-empty token. */
static int parse_list(const char *spec, const char *text, struct axis *ax,
                      indiv_error *err) {
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    if (n > INDIV_SWEEP_VALUES_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "grid '%s': more than %d values", spec,
                               INDIV_SWEEP_VALUES_MAX);
    if (!(ax->values = calloc(n, sizeof *ax->values)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    const char *p = text;
    for (ax->n = 0; ax->n < n; ax->n++) {
        size_t len = strcspn(p, ",");
        if (!token_ok(p, len, 1))
            return indiv_error_set(
                err, INDIV_EINVAL,
                "grid '%s': value %zu '%.*s' is empty, too long or has "
                "characters other than letters, digits and . _ + -",
                spec, ax->n + 1, (int)len, p);
        memcpy(ax->values[ax->n], p, len);
        p += len + 1;
    }
    return INDIV_OK;
}

static int check_name(const indiv_sweep_grid *g, const char *spec, const char *name,
                      size_t len, indiv_error *err) {
    if (!token_ok(name, len, 0))
        return indiv_error_set(
            err, INDIV_EINVAL,
            "grid '%s': expected name=lo:hi:step or name=v1,v2,... with "
            "a name of letters, digits, _ and -",
            spec);
    if (len == 4 && strncmp(name, "seed", 4) == 0)
        return indiv_error_set(
            err, INDIV_EINVAL,
            "grid '%s': seeds are not a grid axis (they are the sweep's "
            "--seeds and --seed)",
            spec);
    for (size_t a = 0; a < g->naxes; a++) {
        value_text n;
        snprintf(n, sizeof n, "%.*s", (int)len, name);
        if (same_name(g->axes[a].name, n))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "grid '%s': axis '%s' is already in the grid", spec,
                                   g->axes[a].name);
    }
    if (g->naxes == INDIV_SWEEP_AXES_MAX)
        return indiv_error_set(err, INDIV_EINVAL, "grid '%s': more than %d axes", spec,
                               INDIV_SWEEP_AXES_MAX);
    return INDIV_OK;
}

static int parse_values(const char *spec, const char *text, struct axis *ax,
                        indiv_error *err) {
    int rc = strchr(text, ':') ? parse_range(spec, text, ax, err)
                               : parse_list(spec, text, ax, err);
    size_t dup;
    if (rc == INDIV_OK && has_duplicate(ax, &dup))
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "grid '%s': value '%s' appears twice (a step too small for "
                             "%d significant digits, or a repeated list value)",
                             spec, ax->values[dup], RANGE_DIGITS);
    return rc;
}

int indiv_sweep_grid_add(indiv_sweep_grid *g, const char *spec, indiv_error *err) {
    const char *eq = strchr(spec, '=');
    size_t len = eq ? (size_t)(eq - spec) : strlen(spec);
    int rc = check_name(g, spec, spec, eq ? len : 0, err);
    if (rc < 0)
        return rc;
    struct axis ax = {0};
    snprintf(ax.name, sizeof ax.name, "%.*s", (int)len, spec);
    if ((rc = parse_values(spec, eq + 1, &ax, err)) == INDIV_OK &&
        g->cells * ax.n > INDIV_SWEEP_CELLS_MAX)
        rc = indiv_error_set(err, INDIV_EINVAL,
                             "grid '%s': the grid would have more than %d cells", spec,
                             INDIV_SWEEP_CELLS_MAX);
    if (rc < 0) {
        free(ax.values);
        return rc;
    }
    g->axes[g->naxes++] = ax;
    g->cells *= ax.n;
    return INDIV_OK;
}

size_t indiv_sweep_grid_axes(const indiv_sweep_grid *g) {
    return g->naxes;
}

const char *indiv_sweep_grid_axis(const indiv_sweep_grid *g, size_t axis) {
    return g->axes[axis].name;
}

size_t indiv_sweep_grid_values(const indiv_sweep_grid *g, size_t axis) {
    return g->axes[axis].n;
}

const char *indiv_sweep_grid_value(const indiv_sweep_grid *g, size_t axis, size_t i) {
    return g->axes[axis].values[i];
}

size_t indiv_sweep_grid_cells(const indiv_sweep_grid *g) {
    return g->cells;
}

/* Row-major: the stride of an axis is the product of the sizes of the axes after it. */
size_t indiv_sweep_cell_index(const indiv_sweep_grid *g, size_t cell, size_t axis) {
    assert(axis < g->naxes && cell < g->cells);
    size_t stride = 1;
    for (size_t a = axis + 1; a < g->naxes; a++)
        stride *= g->axes[a].n;
    return cell / stride % g->axes[axis].n;
}

void indiv_sweep_cell_label(const indiv_sweep_grid *g, size_t cell, char *buf,
                            size_t size) {
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (size_t a = 0; a < g->naxes && used < size; a++) {
        int k =
            snprintf(buf + used, size - used, "%s%s=%s", a ? " " : "", g->axes[a].name,
                     g->axes[a].values[indiv_sweep_cell_index(g, cell, a)]);
        used += k > 0 ? (size_t)k : 0;
    }
}

int indiv_sweep_cell_params(const indiv_sweep_grid *g, size_t cell, indiv_sim_params *p,
                            indiv_error *err) {
    for (size_t a = 0; a < g->naxes; a++) {
        const char *v = g->axes[a].values[indiv_sweep_cell_index(g, cell, a)];
        int rc = indiv_sim_params_set(p, g->axes[a].name, v, err);
        if (rc < 0)
            return rc;
    }
    return INDIV_OK;
}

/* Each value alone first, so that a bad value is named with its axis, then every cell
 * (a combination can be invalid when each value alone is not). */
int indiv_sweep_grid_check(const indiv_sweep_grid *g, const indiv_sim_params *base,
                           indiv_error *err) {
    for (size_t a = 0; a < g->naxes; a++)
        for (size_t i = 0; i < g->axes[a].n; i++) {
            indiv_sim_params p = *base;
            indiv_error e = {0};
            if (indiv_sim_params_set(&p, g->axes[a].name, g->axes[a].values[i], &e) < 0)
                return indiv_error_set(err, INDIV_EINVAL,
                                       "grid axis '%s', value '%s': %s", g->axes[a].name,
                                       g->axes[a].values[i], e.msg);
        }
    for (size_t c = 0; c < g->cells; c++) {
        indiv_sim_params p = *base;
        indiv_error e = {0};
        if (indiv_sweep_cell_params(g, c, &p, &e) < 0 ||
            indiv_sim_params_validate(&p, &e) < 0) {
            char label[256];
            indiv_sweep_cell_label(g, c, label, sizeof label);
            return indiv_error_set(err, INDIV_EINVAL, "grid cell %zu (%s): %s", c, label,
                                   e.msg);
        }
    }
    return INDIV_OK;
}

/* ---- columns ----------------------------------------------------------------------- */

/* The one table of result columns (docs/sweep.md repeats it): how each metric of a round
 * becomes one number per job, the same rule as indiv_sim_aggregate (simulate.h; a test
 * holds the two together). Flows of a round are summed; shares among the round's
 * contacts are weighted by its contacts, which gives the share over the whole run
 * (Σ conversions / Σ contacts for the conversion rate); everything else is the state
 * at the last round: stocks and "so far" metrics, and the last round's coverage, Gini
 * and Jaccard similarities (the state the loop has led to). Every metric is a column;
 * timings are not metrics (indiv_round_metrics.seconds) and never enter the files. */
static const struct column {
    indiv_sim_metric metric;
    indiv_sweep_agg agg;
} columns[] = {
    {INDIV_M_contacts, INDIV_AGG_SUM},
    {INDIV_M_conversions, INDIV_AGG_SUM},
    {INDIV_M_conversion_rate, INDIV_AGG_CONTACT_MEAN},
    {INDIV_M_irrelevant_share, INDIV_AGG_CONTACT_MEAN},
    {INDIV_M_revenue, INDIV_AGG_SUM},
    {INDIV_M_revenue_contacts, INDIV_AGG_SUM},
    {INDIV_M_unsubscribes, INDIV_AGG_SUM},
    {INDIV_M_departures, INDIV_AGG_SUM},
    {INDIV_M_active, INDIV_AGG_LAST},
    {INDIV_M_leakage, INDIV_AGG_SUM},
    {INDIV_M_latent_revealed, INDIV_AGG_SUM},
    {INDIV_M_latent_revealed_total, INDIV_AGG_LAST},
    {INDIV_M_diversity, INDIV_AGG_LAST},
    {INDIV_M_coverage, INDIV_AGG_LAST},
    {INDIV_M_exposure_gini, INDIV_AGG_LAST},
    {INDIV_M_jaccard_items, INDIV_AGG_LAST},
    {INDIV_M_jaccard_categories, INDIV_AGG_LAST},
    {INDIV_M_contacts_p50, INDIV_AGG_LAST},
    {INDIV_M_contacts_p90, INDIV_AGG_LAST},
    {INDIV_M_contacts_max, INDIV_AGG_LAST},
    {INDIV_M_never_contacted_share, INDIV_AGG_LAST},
    {INDIV_M_bubble_share, INDIV_AGG_CONTACT_MEAN},
    {INDIV_M_divergent_share, INDIV_AGG_CONTACT_MEAN},
    {INDIV_M_latent_revealed_engaged, INDIV_AGG_SUM},
    {INDIV_M_jaccard_matched, INDIV_AGG_LAST},
    {INDIV_M_divergent_offers, INDIV_AGG_SUM},
    {INDIV_M_divergent_hits, INDIV_AGG_SUM},
    {INDIV_M_divergent_hit_rate, INDIV_AGG_HIT_RATE},
    {INDIV_M_unwanted_divergent, INDIV_AGG_SUM},
    {INDIV_M_model_version, INDIV_AGG_LAST},
    {INDIV_M_threshold, INDIV_AGG_LAST},
};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

size_t indiv_sweep_columns(void) {
    return NCOLUMNS;
}

const char *indiv_sweep_column_name(size_t col) {
    return indiv_sim_metric_name((int)columns[col].metric);
}

int indiv_sweep_column_metric(size_t col) {
    return (int)columns[col].metric;
}

indiv_sweep_agg indiv_sweep_column_agg(size_t col) {
    return columns[col].agg;
}

const char *indiv_sweep_agg_name(indiv_sweep_agg a) {
    switch (a) {
    case INDIV_AGG_SUM:
        return "sum";
    case INDIV_AGG_LAST:
        return "last";
    case INDIV_AGG_CONTACT_MEAN:
        return "contact_mean";
    case INDIV_AGG_HIT_RATE:
        return "hit_rate";
    }
    return "?";
}

void indiv_sweep_acc_init(indiv_sweep_acc *a) {
    memset(a, 0, sizeof *a);
}

void indiv_sweep_acc_add(indiv_sweep_acc *a, const indiv_round_metrics *m) {
    double c = m->v[INDIV_M_contacts];
    a->rounds++;
    a->contacts += c;
    for (int k = 0; k < INDIV_SIM_NMETRICS; k++) {
        a->sum[k] += m->v[k];
        a->wsum[k] += m->v[k] * c;
        a->last[k] = m->v[k];
    }
}

void indiv_sweep_acc_row(const indiv_sweep_acc *a, double *row) {
    for (size_t i = 0; i < NCOLUMNS; i++) {
        int k = columns[i].metric;
        switch (columns[i].agg) {
        case INDIV_AGG_SUM:
            row[i] = a->sum[k];
            break;
        case INDIV_AGG_LAST:
            row[i] = a->last[k];
            break;
        case INDIV_AGG_CONTACT_MEAN:
            row[i] = a->contacts > 0 ? a->wsum[k] / a->contacts : 0;
            break;
        case INDIV_AGG_HIT_RATE: {
            double n = a->sum[INDIV_M_divergent_offers];
            row[i] = n > 0 ? a->sum[INDIV_M_divergent_hits] / n : 0;
            break;
        }
        }
    }
}

/* ---- statistics -------------------------------------------------------------------- */

/* The confidence interval of a mean from n independent runs with unknown variance:
 * mean ± t_{(1+level)/2, n−1} · s / √n (Student 1908; e.g. Law, "Simulation Modeling
 * and Analysis", 5th ed., §9.4.1, the usual interval for independent replications). */
int indiv_sweep_stat_compute(const double *x, size_t n, double level,
                             indiv_sweep_stat *out, indiv_error *err) {
    if (n == 0)
        return indiv_error_set(err, INDIV_EINVAL, "statistics of no value");
    if (!(level > 0 && level < 1))
        return indiv_error_set(err, INDIV_EINVAL, "confidence level %g is not in (0, 1)",
                               level);
    out->n = n;
    out->mean = gsl_stats_mean(x, 1, n);
    out->sd = out->half = NAN;
    if (n >= 2) {
        out->sd = gsl_stats_sd_m(x, 1, n, out->mean);
        double t = gsl_cdf_tdist_Pinv(0.5 + level / 2, (double)(n - 1));
        out->half = t * out->sd / sqrt((double)n);
    }
    return INDIV_OK;
}

void indiv_sweep_format_double(double x, char *buf) {
    if (isnan(x)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(x)) {
        strcpy(buf, x > 0 ? "inf" : "-inf");
        return;
    }
    if (x == 0)
        x = 0; /* −0 prints as 0 */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, x);
        if (prec == 17 || strtod(buf, NULL) == x)
            return;
    }
}
