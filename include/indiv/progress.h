/*
 * progress.h — the progress callback long-running library calls accept.
 *
 * The library never prints; it reports progress through this callback, which the CLI
 * turns into a progress line on a terminal. Called at most every few thousand units of
 * work, from the calling thread, with done <= total (total is 0 when unknown).
 */
#ifndef INDIV_PROGRESS_H
#define INDIV_PROGRESS_H

#include <stdint.h>

typedef void (*indiv_progress_fn)(void *ctx, const char *stage, int64_t done,
                                  int64_t total);

#endif /* INDIV_PROGRESS_H */
