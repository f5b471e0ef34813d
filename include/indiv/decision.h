/*
 * decision.h — the decision record's JSON form (one line per consumer) and the run
 * summary that counts them.
 *
 * A line is a JSON object whose keys come in a fixed order (consumer, action, reason,
 * ...), reals with 6 significant digits, times in ISO 8601 UTC and ids from the source
 * system; the format is described field by field in docs/decisions.md ("Output") and only
 * ever grows (a field is added, never renamed). Lines are serialised into a caller-owned
 * growing buffer, so that each thread formats its own block and the writer only copies.
 */
#ifndef INDIV_DECISION_H
#define INDIV_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/catalog.h"
#include "indiv/error.h"
#include "indiv/policy.h"

/* A growing byte buffer. */
typedef struct indiv_buf {
    char *data;
    size_t len, cap;
} indiv_buf;

void indiv_buf_free(indiv_buf *b);
int indiv_buf_append(indiv_buf *b, const char *s, size_t n);

/* What every line repeats about the run. */
typedef struct indiv_decision_ctx {
    const indiv_catalog *cat;
    const char *model_id;
    uint64_t seed;
    int64_t as_of;
} indiv_decision_ctx;

/* Appends d as one JSON line (terminated by '\n') to out. INDIV_ENOMEM on failure. */
int indiv_decision_write_json(const indiv_decision *d, const char *consumer_ext_id,
                              const indiv_decision_ctx *ctx, indiv_buf *out);

/* Counts of a run (or of one block; blocks merge by addition, in order). */
typedef struct indiv_decision_counts {
    int64_t consumers;
    int64_t by_action[3];
    int64_t by_reason[INDIV_R_COUNT];
    int64_t personalised;
    int64_t offers_sent;        /* offers in contact decisions */
    int64_t contacts_divergent; /* contacts that carry a divergent offer */
    int64_t divergence_drawn;
    int64_t divergence_placed;    /* decisions listing a divergent offer */
    int64_t divergence_missed[4]; /* by indiv_divergence_miss */
    double sum_best_p_none;       /* over `none` decisions with a best score */
    int64_t n_best_p_none;
} indiv_decision_counts;

void indiv_decision_count(indiv_decision_counts *c, const indiv_decision *d);
void indiv_decision_counts_add(indiv_decision_counts *into,
                               const indiv_decision_counts *c);

#endif /* INDIV_DECISION_H */
