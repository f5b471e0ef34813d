/*
 * decision_internal.h — the pieces of decision.c that tests hold against each other:
 * the jansson form of a line (the reference) and the real formatter of the direct
 * writer.
 */
#ifndef INDIV_DECISION_INTERNAL_H
#define INDIV_DECISION_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "indiv/decision.h"

/* Bytes a real takes in a line, with its terminating NUL, at most. */
#define INDIV_JSON_REAL_LEN 32

/* The line of d as a jansson object (NULL when out of memory): dumped compact, in
 * insertion order, with JSON_REAL_PRECISION(6), it is byte for byte what
 * indiv_decision_write_json writes (without the newline). */
json_t *indiv_decision_json(const indiv_decision *d, const char *ext_id,
                            const indiv_decision_ctx *ctx);

/* Writes v as jansson dumps json_real(v) with JSON_REAL_PRECISION(6) (v finite), NUL
 * terminated. Returns the length (0 only if snprintf fails). */
size_t indiv_json_real6(char buf[INDIV_JSON_REAL_LEN], double v);

#endif
