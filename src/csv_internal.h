/*
 * csv_internal.h — streaming CSV reader (RFC 4180) used by the importers.
 *
 * Reads plain or gzip-compressed files (zlib's gzread passes plain files through) or
 * standard input ("-"). Fields may be quoted; quoted fields may hold commas, doubled
 * quotes and line breaks. CR LF and LF line ends are both accepted. Memory is bounded
 * by the longest record, not by the file.
 */
#ifndef INDIV_CSV_INTERNAL_H
#define INDIV_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"

typedef struct indiv_csv indiv_csv;

/* Opens path ("-" for stdin). INDIV_EIO with the path and reason on failure. */
int indiv_csv_open(const char *path, indiv_csv **out /* OUT */, indiv_error *err);
void indiv_csv_close(indiv_csv *c);

/* Reads the next record: returns 1 with *fields (n of them, NUL-terminated strings,
 * borrowed until the next call), 0 at the end of input, negative on error (I/O, a quote
 * left open at the end of the file, a quote in the middle of an unquoted field: then the
 * rest of that line is skipped, so a caller may report it and read on). A blank
 * line is returned as a record with one empty field. */
int indiv_csv_next(indiv_csv *c, char ***fields /* OUT */, size_t *n /* OUT */,
                   indiv_error *err);

/* 1-based line number on which the last record returned started. */
long indiv_csv_line(const indiv_csv *c);

/* FNV-1a 64 of all (decompressed) bytes read so far; after the last record, the
 * fingerprint of the whole input. */
uint64_t indiv_csv_fingerprint(const indiv_csv *c);

/* Name the reader was opened with ("-" shows as "stdin"). */
const char *indiv_csv_name(const indiv_csv *c);

#endif /* INDIV_CSV_INTERNAL_H */
