/*
 * sweep_figures.c — the data files and the gnuplot script of a sweep's figures
 * (DIR/figures/). The library only writes files; the caller runs
 *     cd DIR/figures && gnuplot figures.gp
 * (indiv sweep does, when gnuplot is installed), which draws every figure as SVG and
 * PNG:
 *   heat_<metric>   mean of a key metric over the threshold × serendipity grid, when
 *                   both are axes and every other axis has a single value;
 *   frontier_revenue_irrelevant, frontier_conversions_diversity
 *                   every cell (mean, with its 95% CI as error bars) and the Pareto
 *                   frontier: the cells no other cell beats on both measures.
 *
 * cells.dat columns: 1 cell, 2 "label" (axis values joined by '/'), 3.. the cell's
 * index on each axis, then for each result column its mean and CI half-width (0 when
 * n < 2), then "losses" = unsubscribes + departures (mean), then for each heatmap metric
 * but losses "best_<metric>": 1 when the cell is not different from the best cell at
 * 95% (the best included), else 0.
 *
 * A heatmap colours every mean, but hatches the cells whose difference from the best
 * is within the confidence intervals: a colour step smaller than the CI is not read as a
 * real difference. Values are printed with a precision fit for their size (85.4k, 612,
 * 0.137), not as 8.54e+04. Pareto labels alternate below and above their points, so
 * neighbours do not overprint, and cells that coincide share one label
 * (<frontier>.labels.dat).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment_internal.h"
#include "indiv/fileio.h"

#define LABELS_MAX      40 /* label every point of a scatter plot up to this many cells */
#define HEAT_VALUES_MAX 150 /* print the value in each heatmap cell up to this many */
#define FIG_WIDTH       800
#define FIG_HEIGHT      600

/* Palette from light to dark (ColorBrewer YlOrRd, Harrower & Brewer 2003): black
 * labels stay readable on every cell. */
#define PALETTE                                                                          \
    "set palette defined (0 '#ffffcc', 1 '#fed976', 2 '#fd8d3c', 3 '#e31a1c', "          \
    "4 '#800026')\n"

static const char *const heat_metrics[] = {
    "revenue",   "irrelevant_share",      "conversions",
    "diversity", "latent_revealed_total", "losses"};
/* +1 when more is better, −1 when less is; 0: no CI known (losses is a sum of two
 * correlated means), no "best" marked. */
static const int heat_sense[] = {+1, -1, +1, +1, +1, 0};
#define NHEAT (sizeof heat_metrics / sizeof heat_metrics[0])
/* Label offset of Pareto and cell labels, as a share of the y range. */
#define LABEL_DY 0.035

struct fig {
    const indiv_sweep_grid *g;
    const indiv_sweep_stat *stat;
    size_t ncols, naxes, cells;
    int ax_t, ax_s; /* threshold and serendipity axes, or -1 */
    size_t with_data;
};

/* ---- cells.dat --------------------------------------------------------------------- */

static int col_of(const char *name) {
    for (size_t c = 0; c < indiv_sweep_columns(); c++)
        if (strcmp(indiv_sweep_column_name(c), name) == 0)
            return (int)c;
    return -1;
}

/* gnuplot column of a metric's mean in cells.dat ("losses" is the last one). */
static int mean_column(const struct fig *f, const char *name) {
    int c = col_of(name);
    return c >= 0 ? 3 + (int)f->naxes + 2 * c : 3 + (int)f->naxes + 2 * (int)f->ncols;
}

static const indiv_sweep_stat *stat_of(const struct fig *f, size_t cell,
                                       const char *name) {
    int c = col_of(name);
    return c >= 0 ? &f->stat[cell * f->ncols + (size_t)c] : NULL;
}

/* The cell with the best mean of metric (sense +1: largest), the lowest on ties; -1 when
 * no cell has data. */
static long best_cell(const struct fig *f, const char *metric, int sense) {
    long best = -1;
    for (size_t cell = 0; cell < f->cells; cell++) {
        const indiv_sweep_stat *st = stat_of(f, cell, metric);
        if (st && st->n > 0 && isfinite(st->mean) &&
            (best < 0 ||
             sense * st->mean > sense * stat_of(f, (size_t)best, metric)->mean))
            best = (long)cell;
    }
    return best;
}

/* 1 when cell's mean of metric is not different from the best cell's at 95%: the gap is
 * within sqrt(h_c² + h_b²), the half-width of the difference of two independent means
 * from their own half-widths (a normal approximation; the seeds of two cells are the
 * same worlds, so the paired test of a study is sharper). Without a spread (n < 2) only
 * equal means tie. */
static int ties_best(const struct fig *f, size_t cell, const char *metric, long best) {
    const indiv_sweep_stat *a = stat_of(f, cell, metric);
    if (best < 0 || !a || a->n == 0)
        return 0;
    const indiv_sweep_stat *b = stat_of(f, (size_t)best, metric);
    double ha = a->n >= 2 && isfinite(a->half) ? a->half : 0;
    double hb = b->n >= 2 && isfinite(b->half) ? b->half : 0;
    return fabs(a->mean - b->mean) <= sqrt(ha * ha + hb * hb);
}

static void put_number(FILE *out, double x) {
    char buf[32];
    indiv_sweep_format_double(x, buf);
    fprintf(out, " %s", buf);
}

static void put_label(FILE *out, const struct fig *f, size_t cell) {
    fputs(" \"", out);
    for (size_t a = 0; a < f->naxes; a++)
        fprintf(out, "%s%s", a ? "/" : "",
                indiv_sweep_grid_value(f->g, a, indiv_sweep_cell_index(f->g, cell, a)));
    fputs(f->naxes ? "\"" : "base\"", out);
}

static int write_cells(FILE *out, void *ctx, indiv_error *err) {
    const struct fig *f = ctx;
    fputs("# cell label", out);
    for (size_t a = 0; a < f->naxes; a++)
        fprintf(out, " %s_index", indiv_sweep_grid_axis(f->g, a));
    for (size_t c = 0; c < f->ncols; c++)
        fprintf(out, " %s %s_ci95_half", indiv_sweep_column_name(c),
                indiv_sweep_column_name(c));
    fputs(" losses", out);
    long best[NHEAT];
    for (size_t h = 0; h < NHEAT; h++) {
        best[h] = heat_sense[h] ? best_cell(f, heat_metrics[h], heat_sense[h]) : -1;
        if (heat_sense[h])
            fprintf(out, " best_%s", heat_metrics[h]);
    }
    fputc('\n', out);
    for (size_t cell = 0; cell < f->cells; cell++) {
        const indiv_sweep_stat *st = &f->stat[cell * f->ncols];
        if (st->n == 0)
            continue;
        fprintf(out, "%zu", cell);
        put_label(out, f, cell);
        for (size_t a = 0; a < f->naxes; a++)
            fprintf(out, " %zu", indiv_sweep_cell_index(f->g, cell, a));
        for (size_t c = 0; c < f->ncols; c++) {
            put_number(out, st[c].mean);
            put_number(out, st[c].n >= 2 ? st[c].half : 0);
        }
        put_number(out, stat_of(f, cell, "unsubscribes")->mean +
                            stat_of(f, cell, "departures")->mean);
        for (size_t h = 0; h < NHEAT; h++)
            if (heat_sense[h])
                fprintf(out, " %d", ties_best(f, cell, heat_metrics[h], best[h]));
        fputc('\n', out);
    }
    return ferror(out) ? indiv_error_set(err, INDIV_EIO, "cells.dat: write error") : 0;
}

/* ---- Pareto frontiers -------------------------------------------------------------- */

/* A cell on a frontier plot; x and y signed so that larger is better. */
struct point {
    size_t cell;
    double x, y;
};

struct frontier {
    const char *name, *x, *y, *title;
    int sx, sy; /* +1 maximise, −1 minimise */
};

static const struct frontier frontiers[] = {
    {"frontier_revenue_irrelevant", "irrelevant_share", "revenue",
     "revenue vs irrelevant contacts", -1, +1},
    {"frontier_conversions_diversity", "diversity", "conversions",
     "conversions vs consumption diversity", +1, +1},
};
#define NFRONTIERS (sizeof frontiers / sizeof frontiers[0])

/* Best first: larger x, then larger y, then the lower cell (a total order, so the
 * output does not depend on qsort's handling of ties). */
static int best_first(const void *pa, const void *pb) {
    const struct point *a = pa, *b = pb;
    if (a->x != b->x)
        return a->x < b->x ? 1 : -1;
    if (a->y != b->y)
        return a->y < b->y ? 1 : -1;
    return (a->cell > b->cell) - (a->cell < b->cell);
}

/* Keeps the points no other point beats on both measures, best x first: sorted that
 * way, a point is efficient when its y beats every point before it (Kung, Luccio &
 * Preparata 1975, O(n log n) for two criteria). Equal points are all kept. */
static size_t pareto(struct point *p, size_t n) {
    qsort(p, n, sizeof *p, best_first);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || p[i].y > p[k - 1].y ||
            (p[i].y == p[k - 1].y && p[i].x == p[k - 1].x))
            p[k++] = p[i];
    return k;
}

struct frontier_ctx {
    const struct fig *f;
    const struct frontier *fr;
};

/* The cells with data for both of the frontier's measures, as scaled points (*n of
 * them); NULL when out of memory. */
static struct point *frontier_points(const struct fig *f, const struct frontier *fr,
                                     size_t *n) {
    struct point *p = malloc((f->with_data ? f->with_data : 1) * sizeof *p);
    *n = 0;
    for (size_t cell = 0; p && cell < f->cells; cell++) {
        const indiv_sweep_stat *x = stat_of(f, cell, fr->x), *y = stat_of(f, cell, fr->y);
        if (x->n > 0 && isfinite(x->mean) && isfinite(y->mean))
            p[(*n)++] = (struct point){cell, fr->sx * x->mean, fr->sy * y->mean};
    }
    return p;
}

/* The frontier's cells, ordered along x for a line: cell "label" x y. */
static int write_frontier(FILE *out, void *ctx, indiv_error *err) {
    const struct frontier_ctx *c = ctx;
    const struct fig *f = c->f;
    size_t n;
    struct point *p = frontier_points(f, c->fr, &n);
    if (!p)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    n = pareto(p, n);
    fprintf(out, "# cell label %s %s (the Pareto frontier of cells.dat)\n", c->fr->x,
            c->fr->y);
    for (size_t i = 0; i < n; i++) {
        /* best x first is increasing x when x is minimised, decreasing otherwise */
        const struct point *q = &p[c->fr->sx < 0 ? i : n - 1 - i];
        fprintf(out, "%zu", q->cell);
        put_label(out, f, q->cell);
        put_number(out, c->fr->sx * q->x);
        put_number(out, c->fr->sy * q->y);
        fputc('\n', out);
    }
    free(p);
    return ferror(out)
               ? indiv_error_set(err, INDIV_EIO, "%s.dat: write error", c->fr->name)
               : 0;
}

/* ---- Pareto labels ----------------------------------------------------------------- */

/* Labels closer than these shares of the plotted ranges would overprint (an 8-point
 * label is about 2.5% of the 600-pixel height, and "0.25/0.1" about 6% of the 800-pixel
 * width): such cells share one label. */
#define LABEL_NEAR_X 0.06
#define LABEL_NEAR_Y 0.03
#define LABEL_NAMES_MAX 3 /* names in a shared label, then "+N" */

/* The plotted range of metric: every cell's mean ± its CI half-width (the error bars set
 * the axes). *lo = *hi when there is one value. */
static void plotted_range(const struct fig *f, const char *metric, double *lo,
                          double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t cell = 0; cell < f->cells; cell++) {
        const indiv_sweep_stat *st = stat_of(f, cell, metric);
        if (!st || st->n == 0 || !isfinite(st->mean))
            continue;
        double h = st->n >= 2 && isfinite(st->half) ? st->half : 0;
        *lo = fmin(*lo, st->mean - h);
        *hi = fmax(*hi, st->mean + h);
    }
    if (*lo > *hi)
        *lo = *hi = 0;
}

/* Distance unit of one axis for the grouping: the plotted range, or the value's size
 * when every cell has the same value. */
static double range_unit(double lo, double hi) {
    double r = hi - lo;
    return r > 0 ? r : fmax(fabs(hi), 1e-12);
}

/* By x, then y, then cell: the order of the labels along the plot. */
static int along_x(const void *pa, const void *pb) {
    const struct point *a = pa, *b = pb;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    if (a->y != b->y)
        return a->y < b->y ? -1 : 1;
    return (a->cell > b->cell) - (a->cell < b->cell);
}

/* One label for the group of points p[0..n) that starts at p[0]: every later point near
 * it joins (marked by cell = SIZE_MAX once written). */
static void put_group(FILE *out, const struct fig *f, struct point *p, size_t n,
                      double ux, double uy) {
    size_t names = 0, more = 0;
    fprintf(out, "%.17g %.17g \"", p[0].x, p[0].y);
    for (size_t i = 0; i < n; i++) {
        if (p[i].cell == SIZE_MAX || fabs(p[i].x - p[0].x) > LABEL_NEAR_X * ux ||
            fabs(p[i].y - p[0].y) > LABEL_NEAR_Y * uy)
            continue;
        if (names < LABEL_NAMES_MAX) {
            fputs(names++ ? ", " : "", out);
            for (size_t a = 0; a < f->naxes; a++)
                fprintf(out, "%s%s", a ? "/" : "",
                        indiv_sweep_grid_value(f->g, a,
                                               indiv_sweep_cell_index(f->g, p[i].cell, a)));
            if (!f->naxes)
                fputs("base", out);
        } else {
            more++;
        }
        p[i].cell = SIZE_MAX;
    }
    if (more)
        fprintf(out, " +%zu", more);
    fputs("\"\n", out);
}

/* <frontier>.labels.dat: x y "label", one line per group of cells that would overprint,
 * along x. The cells labelled are all those with data when there are few, the
 * frontier's otherwise (as before); coinciding cells (a parameter that changes neither
 * measure) share one label instead of printing on top of each other. */
static int write_labels(FILE *out, void *ctx, indiv_error *err) {
    const struct frontier_ctx *c = ctx;
    const struct fig *f = c->f;
    size_t n;
    struct point *p = frontier_points(f, c->fr, &n);
    if (!p)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (f->with_data > LABELS_MAX)
        n = pareto(p, n);
    for (size_t i = 0; i < n; i++) /* back to the plotted values */
        p[i].x *= c->fr->sx, p[i].y *= c->fr->sy;
    qsort(p, n, sizeof *p, along_x);
    double xlo, xhi, ylo, yhi;
    plotted_range(f, c->fr->x, &xlo, &xhi);
    plotted_range(f, c->fr->y, &ylo, &yhi);
    fprintf(out, "# %s %s label (cells closer than %g of the x range and %g of the y "
                 "range share one)\n",
            c->fr->x, c->fr->y, LABEL_NEAR_X, LABEL_NEAR_Y);
    for (size_t i = 0; i < n; i++)
        if (p[i].cell != SIZE_MAX)
            put_group(out, f, p + i, n - i, range_unit(xlo, xhi), range_unit(ylo, yhi));
    free(p);
    return ferror(out) ? indiv_error_set(err, INDIV_EIO, "%s.labels.dat: write error",
                                         c->fr->name)
                       : 0;
}

/* ---- figures.gp -------------------------------------------------------------------- */

/* Every figure is drawn once per terminal: {file extension, terminal and its options}. */
static const char *const terminals[][2] = {
    {"svg", "svg dynamic noenhanced font 'sans,11' background rgb 'white'"},
    {"png", "pngcairo noenhanced font 'sans,10' background rgb 'white'"},
};
#define NTERMINALS (sizeof terminals / sizeof terminals[0])

static void put_output(FILE *out, size_t term, const char *name) {
    fprintf(out, "\nreset\nset terminal %s size %d,%d\nset output '%s.%s'\n",
            terminals[term][1], FIG_WIDTH, FIG_HEIGHT, name, terminals[term][0]);
}

/* set xtics ("0" 0, "0.05" 1, ...): axis values at their indices. */
static void put_tics(FILE *out, const struct fig *f, const char *which, int axis) {
    size_t n = indiv_sweep_grid_values(f->g, (size_t)axis);
    fprintf(out, "set %stics (", which);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\"%s\" %zu", i ? ", " : "",
                indiv_sweep_grid_value(f->g, (size_t)axis, i), i);
    fprintf(out, ")\nset %srange [-0.5:%zu.5]\nset %slabel \"%s\"\n", which, n - 1, which,
            indiv_sweep_grid_axis(f->g, (size_t)axis));
}

/* gnuplot column of "best_<metric>" in cells.dat, 0 when the metric has none. */
static int best_column(const struct fig *f, size_t h) {
    int c = mean_column(f, "losses") + 1;
    for (size_t k = 0; k < h; k++)
        c += heat_sense[k] != 0;
    return heat_sense[h] ? c : 0;
}

/* One tile per cell (a box of side 1 around its axis indices, coloured by the mean),
 * hatched when not different from the best at 95%, with the value printed in it on
 * grids small enough to read. */
static void put_heatmap(FILE *out, const struct fig *f, size_t h, size_t term) {
    char name[96];
    const char *metric = heat_metrics[h];
    int m = mean_column(f, metric), ix = 3 + f->ax_t, iy = 3 + f->ax_s;
    int tie = best_column(f, h);
    snprintf(name, sizeof name, "heat_%s", metric);
    put_output(out, term, name);
    fprintf(out,
            "set title \"%s (mean over seeds)%s\"\nunset key\nset tics out nomirror\n",
            strcmp(metric, "losses") == 0 ? "unsubscribes + departures" : metric,
            tie ? "\\nhatched: not different from the best cell at 95%" : "");
    fprintf(out, "%sset cblabel \"%s\"\n", PALETTE, metric);
    put_tics(out, f, "x", f->ax_t);
    put_tics(out, f, "y", f->ax_s);
    fprintf(out,
            "plot 'cells.dat' using %d:%d:(0.5):(0.5):%d with boxxyerror "
            "fs solid 1.0 noborder lc palette",
            ix, iy, m);
    if (tie)
        fprintf(out,
                ", \\\n     '' using (column(%d) > 0 ? column(%d) : 1/0):%d:(0.5):(0.5) "
                "with boxxyerror fs transparent pattern 4 noborder lc rgb '#404040'",
                tie, ix, iy);
    if (f->with_data <= HEAT_VALUES_MAX)
        fprintf(out,
                ", \\\n     '' using %d:%d:(v = column(%d), abs(v) >= 1e4 ? "
                "sprintf(\"%%.1fk\", v / 1000) : abs(v) >= 100 ? sprintf(\"%%.0f\", v) "
                ": sprintf(\"%%.3g\", v)) with labels font ',8' tc rgb 'black'",
                ix, iy, m);
    fputc('\n', out);
}

/* Every cell with its CI as error bars, the frontier as a line, and labels: on every
 * cell when there are few, on the frontier's cells otherwise. */
static void put_frontier(FILE *out, const struct fig *f, const struct frontier *fr,
                         size_t term) {
    int x = mean_column(f, fr->x), y = mean_column(f, fr->y);
    put_output(out, term, fr->name);
    fprintf(out, "set title \"%s\"\n", fr->title);
    fprintf(out, "set xlabel \"%s (%s is better)\"\nset ylabel \"%s (%s is better)\"\n",
            fr->x, fr->sx > 0 ? "higher" : "lower", fr->y,
            fr->sy > 0 ? "higher" : "lower");
    fputs("set key outside bottom center horizontal\nset grid\n"
          "set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.08\n",
          out);
    /* labels alternate below and above their points (neighbours along x do not
     * overprint; of two at one x, sorted by y, the lower goes below), by a share of the
     * plotted y range, error bars included */
    double ylo, yhi;
    plotted_range(f, fr->y, &ylo, &yhi);
    fprintf(out, "dy = %.17g\n", range_unit(ylo, yhi) * LABEL_DY);
    fprintf(out,
            "set errorbars small\n"
            "plot 'cells.dat' using %d:%d:%d:%d with xyerrorbars pt -1 "
            "lc rgb '#d0d0d0' title '95%% CI', \\\n"
            "     '' using %d:%d with points pt 7 ps 0.8 lc rgb '#555555' "
            "title 'cell (mean over seeds)', \\\n"
            "     '%s.dat' using 3:4 with linespoints pt 7 ps 1.2 lw 2 "
            "lc rgb '#e31a1c' title 'Pareto frontier', \\\n"
            "     '%s.labels.dat' using 1:($2 + (int(column(0)) %% 2 ? dy : -dy)):3 "
            "with labels font ',8' notitle\n",
            x, y, x + 1, y + 1, x, y, fr->name, fr->name);
}

static int write_script(FILE *out, void *ctx, indiv_error *err) {
    const struct fig *f = ctx;
    fputs("# figures.gp: written by indiv sweep (docs/sweep.md). Run it again with\n"
          "#     cd <this directory> && gnuplot figures.gp\n"
          "# Each figure is written as SVG and PNG.\n",
          out);
    for (size_t term = 0; term < NTERMINALS; term++) {
        for (size_t h = 0; f->ax_t >= 0 && h < NHEAT; h++)
            put_heatmap(out, f, h, term);
        for (size_t k = 0; k < NFRONTIERS; k++)
            put_frontier(out, f, &frontiers[k], term);
    }
    fputs("\nset output\n", out);
    return ferror(out) ? indiv_error_set(err, INDIV_EIO, "figures.gp: write error") : 0;
}

/* ---- entry ------------------------------------------------------------------------- */

static int axis_named(const indiv_sweep_grid *g, const char *name) {
    for (size_t a = 0; a < indiv_sweep_grid_axes(g); a++) {
        const char *n = indiv_sweep_grid_axis(g, a);
        if (strcmp(n, name) == 0)
            return (int)a;
    }
    return -1;
}

static int numeric(const indiv_sweep_grid *g, int axis) {
    for (size_t i = 0; i < indiv_sweep_grid_values(g, (size_t)axis); i++) {
        char *end;
        const char *v = indiv_sweep_grid_value(g, (size_t)axis, i);
        if (strtod(v, &end), end == v || *end)
            return 0;
    }
    return 1;
}

/* Heatmaps need both axes, numeric, every cell with data, and no other axis with more
 * than one value (a heatmap would then mix cells). Otherwise note says why not. */
static void choose_heatmaps(struct fig *f, char *note, size_t size) {
    f->ax_t = axis_named(f->g, "threshold");
    f->ax_s = axis_named(f->g, "serendipity");
    const char *why = NULL;
    if (f->ax_t < 0 || f->ax_s < 0)
        why = "the grid does not have both a threshold and a serendipity axis";
    else if (!numeric(f->g, f->ax_t) || !numeric(f->g, f->ax_s))
        why = "threshold or serendipity values are not numbers";
    else if (f->with_data < f->cells)
        why = "some cells have no result (another shard's)";
    for (size_t a = 0; !why && a < f->naxes; a++)
        if ((int)a != f->ax_t && (int)a != f->ax_s &&
            indiv_sweep_grid_values(f->g, a) > 1)
            why = "the grid has another axis with several values";
    snprintf(note, size, "%s", why ? why : "");
    if (why)
        f->ax_t = f->ax_s = -1;
}

int indiv_sweep_figures_write(const indiv_sweep_grid *g, const char *fig_dir,
                              const indiv_sweep_stat *stat, indiv_sweep_report *rep,
                              indiv_error *err) {
    struct fig f = {g,
                    stat,
                    indiv_sweep_columns(),
                    indiv_sweep_grid_axes(g),
                    indiv_sweep_grid_cells(g),
                    -1,
                    -1,
                    0};
    for (size_t cell = 0; cell < f.cells; cell++)
        f.with_data += stat[cell * f.ncols].n > 0;
    choose_heatmaps(&f, rep->heatmap_note, sizeof rep->heatmap_note);
    rep->heatmaps = f.ax_t >= 0;
    rep->figures = (int)NFRONTIERS + (rep->heatmaps ? (int)NHEAT : 0);
    char *path = indiv_path_join(fig_dir, "cells.dat");
    int rc = path ? indiv_file_write_atomic(path, write_cells, &f, err) : INDIV_ENOMEM;
    for (size_t k = 0; rc == INDIV_OK && k < NFRONTIERS; k++) {
        char name[96];
        struct frontier_ctx c = {&f, &frontiers[k]};
        snprintf(name, sizeof name, "%s.dat", frontiers[k].name);
        free(path);
        path = indiv_path_join(fig_dir, name);
        rc = path ? indiv_file_write_atomic(path, write_frontier, &c, err) : INDIV_ENOMEM;
        snprintf(name, sizeof name, "%s.labels.dat", frontiers[k].name);
        free(path);
        path = rc == INDIV_OK ? indiv_path_join(fig_dir, name) : NULL;
        if (rc == INDIV_OK)
            rc = path ? indiv_file_write_atomic(path, write_labels, &c, err)
                      : INDIV_ENOMEM;
    }
    free(path);
    path = rc == INDIV_OK ? indiv_path_join(fig_dir, "figures.gp") : NULL;
    if (rc == INDIV_OK)
        rc = path ? indiv_file_write_atomic(path, write_script, &f, err) : INDIV_ENOMEM;
    free(path);
    return rc == INDIV_ENOMEM ? indiv_error_set(err, rc, "out of memory") : rc;
}
