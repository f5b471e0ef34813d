/*
 * fuzz_util.h — what the libFuzzer targets share: the input written to a file of this
 * process (the importers and the model loader read paths), and an in-memory database.
 */
#ifndef INDIV_FUZZ_UTIL_H
#define INDIV_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Writes data to /tmp/indiv-fuzz-<pid>-<tag> (one file per process and target, reused
 * by every input) and returns its path (static storage). */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *tag) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/indiv-fuzz-%ld-%s", (long)getpid(), tag);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
    return path;
}

#endif /* INDIV_FUZZ_UTIL_H */
