/*
 * csv_internal.h — streaming CSV reader (RFC 4180) used by the importers.
 *
 * Reads plain or gzip-compressed files (zlib's gzread passes plain files through) or
 * standard input ("-"). Fields may be quoted; quoted fields may hold commas, doubled
 * quotes and line breaks. LF, CR LF and bare CR (classic Mac OS) line ends are
 * accepted. Memory is bounded
 * by INDIV_CSV_RECORD_MAX, whatever the input.
 *
 * Malformed records (documented in docs/import.md): a NUL byte, a record longer than
 * INDIV_CSV_RECORD_MAX bytes, a stray quote, a quote not closed before the end of the
 * input. Each costs only its own first line: when such a record spans several lines,
 * the lines after its first are read again as records of their own.
 */
#ifndef INDIV_CSV_INTERNAL_H
#define INDIV_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"

/* Longest record (one row with all its fields, in input bytes). Rows of real event logs
 * are well under 1 KiB; a longer one is reported as malformed, never cut silently. */
#define INDIV_CSV_RECORD_MAX      65536
#define INDIV_CSV_RECORD_MAX_TEXT "65536"

typedef struct indiv_csv indiv_csv;

/* Opens path ("-" for stdin). INDIV_EIO with the path and reason on failure. */
int indiv_csv_open(const char *path, indiv_csv **out /* OUT */, indiv_error *err);
void indiv_csv_close(indiv_csv *c);

/* Reads the next record: returns 1 with *fields (n of them, NUL-terminated strings,
 * borrowed and writable until the next call), 0 at the end of input, negative on error:
 * INDIV_EIO (read error, truncated or corrupt gzip stream: stop), INDIV_EFORMAT (a
 * malformed record, see above: it is skipped, so a caller may report it and read on).
 * A blank line is returned as a record with one empty field. */
int indiv_csv_next(indiv_csv *c, char ***fields /* OUT */, size_t *n /* OUT */,
                   indiv_error *err);

/* Reads the last record again from its second line: for a caller that finds a record
 * spanning several lines malformed (e.g. the wrong number of fields: a quote that was
 * opened by mistake). Returns 1 when done, 0 when the record was one line, <0 when out
 * of memory. */
int indiv_csv_reread(indiv_csv *c);

/* 1-based line number on which the last record returned started. */
long indiv_csv_line(const indiv_csv *c);

/* FNV-1a 64 of all (decompressed) bytes read so far; after the last record, the
 * fingerprint of the whole input. */
uint64_t indiv_csv_fingerprint(const indiv_csv *c);

/* Name the reader was opened with ("-" shows as "stdin"). */
const char *indiv_csv_name(const indiv_csv *c);

#endif /* INDIV_CSV_INTERNAL_H */
