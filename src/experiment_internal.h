/*
 * experiment_internal.h — what sweep.c and sweep_figures.c share inside the experiment
 * module (not installed, not part of the API).
 */
#ifndef INDIV_EXPERIMENT_INTERNAL_H
#define INDIV_EXPERIMENT_INTERNAL_H

#include <stdio.h>

#include "indiv/experiment.h"

/* Writes DIR/figures/cells.dat, the frontier data files and DIR/figures/figures.gp from
 * the per-cell summary (stat[cell · columns + col], n == 0 for a cell without rows), and
 * sets rep->heatmaps, rep->heatmap_note and rep->figures. */
int indiv_sweep_figures_write(const indiv_sweep_grid *g, const char *fig_dir,
                              const indiv_sweep_stat *stat, indiv_sweep_report *rep,
                              indiv_error *err);

/* Writes path atomically: write(f, ctx) into a temporary file of the same directory,
 * flushed and fsync'ed, then renamed over path. On error nothing is left at path (an
 * earlier file there is kept). write returns 0 or a negative status with err set. */
int indiv_sweep_write_atomic(const char *path,
                             int (*write)(FILE *f, void *ctx, indiv_error *err),
                             void *ctx, indiv_error *err);

/* dir + "/" + name, malloc'ed; NULL when out of memory. */
char *indiv_sweep_path(const char *dir, const char *name);

#endif /* INDIV_EXPERIMENT_INTERNAL_H */
