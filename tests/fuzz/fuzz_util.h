/*
 * fuzz_util.h — what the libFuzzer targets share: the input written to a file of this
 * process (the importers and the model loader read paths), and an in-memory database.
 *
 * Files go to $INDIV_FUZZ_TMP (make fuzz and make check set it to a directory under
 * build/fuzz/), else /tmp, named indiv-fuzz-<pid>-<tag>: one per process and purpose,
 * reused by every input.
 */
#ifndef INDIV_FUZZ_UTIL_H
#define INDIV_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The path of this process's file for tag (static storage, one per call site's copy:
 * callers that keep two paths copy the first). */
static inline const char *fuzz_path(const char *tag) {
    static char path[4096];
    const char *dir = getenv("INDIV_FUZZ_TMP");
    snprintf(path, sizeof path, "%s/indiv-fuzz-%ld-%s", dir && *dir ? dir : "/tmp",
             (long)getpid(), tag);
    return path;
}

/* Writes data to fuzz_path(tag) and returns that path (static storage). */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *tag) {
    const char *path = fuzz_path(tag);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
    return path;
}

#endif /* INDIV_FUZZ_UTIL_H */
