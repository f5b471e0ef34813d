/*
 * test_sweep_figures.c — the sweep's figure files (issue 14, item 23): cells that are not
 * different from the best at 95% are marked and hatched on the heatmaps, values are
 * printed with a precision fit for their size, Pareto labels alternate around their
 * points, and gnuplot draws the script without an error.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment_internal.h"
#include "testutil.h"

static int col(const char *name) {
    for (size_t c = 0; c < indiv_sweep_columns(); c++)
        if (strcmp(indiv_sweep_column_name(c), name) == 0)
            return (int)c;
    cr_assert_fail("no column %s", name);
    return -1;
}

/* The value of cells.dat's column named name on the row of cell (owned text). */
static int cells_value(const char *cells, const char *name, int cell) {
    const char *hdr = strchr(cells, '#');
    cr_assert_not_null(hdr);
    int k = 0, want = -1;
    char word[64];
    for (const char *p = hdr + 2; *p && *p != '\n';) {
        size_t n = strcspn(p, " \n");
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        if (strcmp(word, name) == 0)
            want = k;
        k++;
        p += n;
        while (*p == ' ')
            p++;
    }
    cr_assert_geq(want, 0, "no %s in cells.dat", name);
    const char *line = strchr(cells, '\n') + 1;
    for (int i = 0; i < cell; i++)
        line = strchr(line, '\n') + 1;
    /* fields are blank-separated; the label is one quoted word without blanks here */
    for (int i = 0; i < want; i++)
        line = strchr(line, ' ') + 1;
    return atoi(line);
}

Test(sweep_figures, ties_with_the_best_are_marked_hatched_and_drawn) {
    char *dir = tu_tmpdir();
    indiv_sweep_grid *g = indiv_sweep_grid_new();
    indiv_error err = {0};
    cr_assert_eq(indiv_sweep_grid_add(g, "threshold=0.1,0.2", &err), 0, "%s", err.msg);
    cr_assert_eq(indiv_sweep_grid_add(g, "serendipity=0,0.1", &err), 0, "%s", err.msg);
    size_t nc = indiv_sweep_columns(), cells = indiv_sweep_grid_cells(g);
    cr_assert_eq(cells, 4);
    indiv_sweep_stat *st = calloc(cells * nc, sizeof *st);
    for (size_t i = 0; i < cells * nc; i++)
        st[i] = (indiv_sweep_stat){3, 1.0, 0.1, 0.05};
    /* revenue: cell 3 is best (86000 ± 500); cell 0 within the joint CI (85600 ± 300:
     * 400 <= 583), cell 1 not (85200 ± 300: 800 > 583), cell 2 far below. */
    static const double rev[4][2] = {
        {85600, 300}, {85200, 300}, {80000, 200}, {86000, 500}};
    /* irrelevant share, less is better: cell 2 best, cell 1 tied, others not */
    static const double irr[4][2] = {
        {0.30, 0.01}, {0.205, 0.01}, {0.20, 0.01}, {0.40, 0.02}};
    for (size_t c = 0; c < cells; c++) {
        st[c * nc + (size_t)col("revenue")] =
            (indiv_sweep_stat){3, rev[c][0], 1, rev[c][1]};
        st[c * nc + (size_t)col("irrelevant_share")] =
            (indiv_sweep_stat){3, irr[c][0], 0.01, irr[c][1]};
    }
    indiv_sweep_report rep = {0};
    cr_assert_eq(indiv_sweep_figures_write(g, dir, st, &rep, &err), 0, "%s", err.msg);
    cr_assert(rep.heatmaps, "%s", rep.heatmap_note);
    char *cells_path = tu_path(dir, "cells.dat"), *gp_path = tu_path(dir, "figures.gp");
    char *text = tu_read(cells_path, NULL), *gp = tu_read(gp_path, NULL);
    static const int want_rev[4] = {1, 0, 0, 1}, want_irr[4] = {0, 1, 1, 0};
    for (int c = 0; c < 4; c++) {
        cr_expect_eq(cells_value(text, "best_revenue", c), want_rev[c], "cell %d", c);
        cr_expect_eq(cells_value(text, "best_irrelevant_share", c), want_irr[c],
                     "cell %d", c);
    }
    cr_expect(strstr(gp, "hatched: not different from the best cell at 95%"), "%s", gp);
    cr_expect(strstr(gp, "fs transparent pattern"), "no hatching");
    cr_expect(strstr(gp, "sprintf(\"%.1fk\", v / 1000)"), "values as 8.54e+04");
    cr_expect(strstr(gp, "int(column(0)) % 2 ? dy : -dy"), "labels overprint");
    /* conversions and diversity are equal in all four cells: one shared label, not four
     * on top of each other (issue 14 item 23, rerun) */
    char *lab_path = tu_path(dir, "frontier_conversions_diversity.labels.dat");
    char *lab = tu_read(lab_path, NULL);
    cr_assert_not_null(lab, "no labels file");
    const char *first = strchr(lab, '\n');
    cr_assert_not_null(first);
    cr_expect_str_eq(first + 1, "1 1 \"0.1/0, 0.1/0.1, 0.2/0 +1\"\n");
    free(lab);
    free(lab_path);
    tu_run r;
    cr_expect_eq(tu_sh(&r, "cd '%s' && gnuplot figures.gp", dir), 0, "gnuplot: %s",
                 r.err);
    tu_run_free(&r);
    cr_expect_eq(tu_sh(&r,
                       "test -s '%s/heat_revenue.svg' && test -s "
                       "'%s/frontier_revenue_irrelevant.png'",
                       dir, dir),
                 0, "figures not drawn");
    tu_run_free(&r);
    free(text);
    free(gp);
    free(cells_path);
    free(gp_path);
    free(st);
    indiv_sweep_grid_free(g);
    tu_rmtree(dir);
}
