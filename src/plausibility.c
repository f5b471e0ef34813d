/*
 * plausibility.c — co-purchase counts of categories and the smoothed lift of one
 * category given a person's known categories (formula and sources in plausibility.h).
 *
 * Storage: the full symmetric C × C matrix of 32-bit counts, the diagonal holding n_c,
 * so that a person's row lookups are contiguous. Adding a person is O(n²) in their
 * number of categories.
 */
#include "indiv/plausibility.h"

#include <stdlib.h>
#include <string.h>

struct indiv_plausibility {
    size_t c;
    double m;
    int64_t people;
    uint32_t *pair; /* c × c: pair[a * c + b] = people with a and b; diagonal n_a */
    unsigned char *stamp; /* c: scratch for de-duplication in _add and _lift */
};

indiv_plausibility *indiv_plausibility_new(size_t categories, double m) {
    if (categories == 0 || categories > INDIV_PLAUS_MAX_CATEGORIES || !(m >= 0))
        return NULL;
    indiv_plausibility *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->c = categories;
    pl->m = m;
    pl->pair = calloc(categories * categories, sizeof *pl->pair);
    pl->stamp = calloc(categories, 1);
    if (!pl->pair || !pl->stamp) {
        indiv_plausibility_free(pl);
        return NULL;
    }
    return pl;
}

void indiv_plausibility_free(indiv_plausibility *pl) {
    if (!pl)
        return;
    free(pl->pair);
    free(pl->stamp);
    free(pl);
}

int64_t indiv_plausibility_people(const indiv_plausibility *pl) {
    return pl->people;
}

size_t indiv_plausibility_categories(const indiv_plausibility *pl) {
    return pl->c;
}

void indiv_plausibility_counts(indiv_plausibility *pl, uint32_t **pair, int64_t **people) {
    *pair = pl->pair;
    *people = &pl->people;
}

/* Keeps the distinct in-range categories of cats in out (capacity pl->c). */
static size_t distinct(indiv_plausibility *pl, const int32_t *cats, size_t n,
                       size_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cats[i] < 0 || (size_t)cats[i] >= pl->c || pl->stamp[cats[i]])
            continue;
        pl->stamp[cats[i]] = 1;
        out[k++] = (size_t)cats[i];
    }
    for (size_t i = 0; i < k; i++)
        pl->stamp[out[i]] = 0;
    return k;
}

/* Adds (sign 1) or takes back (sign -1) one person's counts. */
static void count_person(indiv_plausibility *pl, const int32_t *cats, size_t n,
                         int sign) {
    size_t *d = malloc((n < pl->c ? n : pl->c) * sizeof *d + 1);
    if (!d)
        return; /* not counted: documented as cannot fail, so degrade */
    size_t k = distinct(pl, cats, n, d);
    if (k > 0)
        pl->people += sign;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            pl->pair[d[i] * pl->c + d[j]] += (uint32_t)sign; /* -1 wraps to a decrement */
    free(d);
}

void indiv_plausibility_add(indiv_plausibility *pl, const int32_t *cats, size_t n) {
    count_person(pl, cats, n, 1);
}

void indiv_plausibility_remove(indiv_plausibility *pl, const int32_t *cats, size_t n) {
    count_person(pl, cats, n, -1);
}

void indiv_plausibility_lift(const indiv_plausibility *pl, const int32_t *known, size_t n,
                             int conditional, double *lift) {
    size_t c = pl->c, k = 0;
    double big_n = (double)pl->people, m = pl->m;
    /* distinct known categories, without touching the shared scratch (threads read the
     * table concurrently): a quadratic check, n is a person's category count */
    for (size_t i = 0; i < c; i++)
        lift[i] = 0;
    for (size_t i = 0; i < n; i++) {
        if (known[i] < 0 || (size_t)known[i] >= c)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = known[j] == known[i];
        if (seen)
            continue;
        const uint32_t *row = pl->pair + (size_t)known[i] * c;
        double n_a = (double)row[known[i]];
        if (n_a + m <= 0)
            continue; /* m = 0 and nobody counted with a: no evidence either way */
        for (size_t x = 0; x < c; x++) {
            double base = ((double)pl->pair[x * c + x] + 1) / (big_n + 2);
            lift[x] += ((double)row[x] + m * base) / (n_a + m) / base;
        }
        k++;
    }
    for (size_t x = 0; x < c; x++) {
        lift[x] = k ? lift[x] / (double)k : 1.0;
        if (conditional)
            lift[x] *= ((double)pl->pair[x * c + x] + 1) / (big_n + 2);
    }
}
