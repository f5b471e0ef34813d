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

#endif /* INDIV_EXPERIMENT_INTERNAL_H */
