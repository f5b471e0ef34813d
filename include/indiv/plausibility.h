/*
 * plausibility.h — how plausible a category is for a person who never bought it, from
 * what the population buys together: the "people who buy what you buy also buy this,
 * and you never have" signal that the `adjacent` divergence aim samples from
 * (docs/decisions.md, "Aim").
 *
 * Counts, over the people given (the consumers with a profile, i.e. with profiling
 * consent, as of the profiles' time): N people with at least one known category, n_c
 * people who bought category c, n_ac people who bought both a and c. For a person whose
 * known categories are A:
 *
 *   P(c)       = (n_c + 1) / (N + 2)                         Laplace-smoothed base rate
 *   P(c | a)   = (n_ac + m · P(c)) / (n_a + m)               m-estimate (Cestnik 1990)
 *   P(c | A)   = mean over a in A of P(c | a)                item-based mixture
 *   lift(c, A) = P(c | A) / P(c)
 *
 * lift > 1: people who buy what this person buys buy c more often than people at large
 * (association-rule lift, Brin, Motwani, Ullman & Tsur 1997). Lift alone favours rare
 * categories (one shared buyer makes a large lift of a category few buy), so the
 * `conditional` form P(c | A) = lift · P(c), the chance that someone with A buys c, is
 * offered too; m (the smoothing, in
 * pseudo-people) pulls the lift of rarely co-bought pairs toward m / (n_a + m) < 1. A
 * person without known categories gets lift 1 everywhere. The table is C × C counts
 * (32-bit), built once per run; categories above INDIV_PLAUS_MAX_CATEGORIES are refused
 * (the caller then falls back to the `popular` aim).
 */
#ifndef INDIV_PLAUSIBILITY_H
#define INDIV_PLAUSIBILITY_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"

/* 4096² counts of 4 bytes = 64 MiB: the largest table built. */
#define INDIV_PLAUS_MAX_CATEGORIES 4096

typedef struct indiv_plausibility indiv_plausibility;

/* An empty table for `categories` categories with smoothing m >= 0. NULL when out of
 * memory or categories is 0 or above INDIV_PLAUS_MAX_CATEGORIES. */
indiv_plausibility *indiv_plausibility_new(size_t categories, double m);
void indiv_plausibility_free(indiv_plausibility *pl);

/* Counts one person whose distinct known categories are cats[0..n) (indices below the
 * table's size; duplicates and out-of-range values are ignored). */
void indiv_plausibility_add(indiv_plausibility *pl, const int32_t *cats, size_t n);

/* Takes back a person counted by indiv_plausibility_add with the same categories (the
 * service, when a profile changes): integer counts, so add then remove is exact. */
void indiv_plausibility_remove(indiv_plausibility *pl, const int32_t *cats, size_t n);

/* People counted with at least one known category. */
int64_t indiv_plausibility_people(const indiv_plausibility *pl);
size_t indiv_plausibility_categories(const indiv_plausibility *pl);

/* The raw counts, for adding up tables built over disjoint sets of people (indiv-mpi
 * on database partitions, docs/scale.md): *pair points at the categories² pair counts
 * (diagonal n_c), *people at N. Adding two tables' counts element by element gives the
 * table of the union of their people. */
void indiv_plausibility_counts(indiv_plausibility *pl, uint32_t **pair /* OUT */,
                               int64_t **people /* OUT */);

/* lift(c, A) of every category c for the person whose known categories are
 * known[0..n), into lift[0..categories); with conditional set, P(c | A) = lift(c, A) ·
 * P(c) instead (the base rate of a person without known categories). Cannot fail.
 * O(n · categories). */
void indiv_plausibility_lift(const indiv_plausibility *pl, const int32_t *known, size_t n,
                             int conditional, double *lift /* OUT */);

#endif /* INDIV_PLAUSIBILITY_H */
