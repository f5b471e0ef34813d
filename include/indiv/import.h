/*
 * import.h — importing real event logs into the event log.
 *
 * Formats (docs/import.md describes them, with every rule and the counts on the shared
 * sample):
 * - INDIV_IMPORT_ONLINE_RETAIL: the UCI "Online Retail" CSV (InvoiceNo, StockCode,
 *   Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country). Purchases become
 *   purchase events, cancellations (InvoiceNo starting with "C") return events; rows
 *   without a customer or with non-product codes are skipped and counted by reason, and
 *   otherwise unusable rows are reported as bad rows. Offers get their most frequent
 *   description as name and a coarse category derived from it
 *   (indiv_import_category_of).
 * - INDIV_IMPORT_EVENTS: a generic events CSV (consumer, offer, type, ts, channel,
 *   quantity, value; header names select the columns), with optional companion offers
 *   and consumers CSVs.
 *
 * An import runs in one transaction: on any failure the database is exactly as before.
 * The same input (by fingerprint of its decompressed bytes) is refused a second time
 * unless forced. Bad rows are reported through a callback with file, line and reason (the
 * library never prints), then skipped; with `strict` the import fails on the first one
 * instead (and the callback is not called: the error names the row).
 *
 * Memory: the importer keeps one small record per imported row (~48 bytes) so that it
 * can write offers with their final name before the events, and the events in storage
 * order; plus the distinct consumers and offers. The input itself is streamed.
 */
#ifndef INDIV_IMPORT_H
#define INDIV_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "indiv/error.h"
#include "indiv/eventlog.h"
#include "indiv/progress.h"

typedef enum indiv_import_format {
    INDIV_IMPORT_ONLINE_RETAIL = 1,
    INDIV_IMPORT_EVENTS = 2
} indiv_import_format;

/* Called for each bad row (file name as given, "stdin" for "-"; 1-based line on which the
 * record starts; reason with the offending value, e.g. "bad unit price 'abc'"). */
typedef void (*indiv_bad_row_fn)(void *ctx, const char *file, long line,
                                 const char *reason);

typedef struct indiv_import_opts {
    indiv_import_format format;
    const char *path;           /* data file; "-" reads stdin; gzip is detected */
    const char *offers_path;    /* events format: offers CSV, or NULL */
    const char *consumers_path; /* events format: consumers CSV, or NULL */
    int strict;                 /* fail on the first bad row instead of skipping it */
    int force; /* import even if this input was imported before, or into a generated
                  world (whose consumers are synthetic) */
    /* Consent and channels given to consumers the input does not describe. The Online
     * Retail data has no consent information, so this is the caller's stated assumption;
     * the defaults are profiling and contact consent, e-mail only. */
    int default_consent_profiling;
    int default_consent_contact;
    unsigned default_channels;     /* INDIV_CH_BIT mask of contactable channels */
    indiv_bad_row_fn on_bad_row;   /* may be NULL */
    indiv_progress_fn on_progress; /* may be NULL; stages "read" then "write" */
    void *ctx;                     /* passed to the callbacks */
} indiv_import_opts;

#define INDIV_IMPORT_REASONS_MAX 24
#define INDIV_IMPORT_REASON_LEN  48

typedef struct indiv_import_summary {
    int64_t rows_read;     /* data rows of the data file (header, blank lines excluded) */
    int64_t rows_imported; /* rows that became events */
    int64_t rows_skipped;  /* = sum of skipped[].count; rows_read = imported + skipped */
    int64_t consumers_new, offers_new;
    int64_t by_type[INDIV_EV_MAX + 1]; /* events imported per type */
    int64_t companion_rows;    /* data rows of the --offers and --consumers files */
    int64_t companion_skipped; /* of which bad, reported and skipped */
    size_t n_reasons;          /* skipped[] in order of first occurrence */
    struct {
        char reason[INDIV_IMPORT_REASON_LEN]; /* short, stable: "no customer id", ... */
        int64_t count;
        int bad; /* 1: bad input (reported, fails --strict); 0: skipped by design */
    } skipped[INDIV_IMPORT_REASONS_MAX];
    char fingerprint[17]; /* FNV-1a 64 of the data file's decompressed bytes, hex */
} indiv_import_summary;

/* Fills o with the defaults above (format 0: the caller must set it, and path). */
void indiv_import_opts_init(indiv_import_opts *o);

/* Parses "online-retail" or "events". INDIV_EINVAL otherwise. */
int indiv_import_format_parse(const char *name, indiv_import_format *out /* OUT */);

/* Name of a format ("online-retail", "events"); NULL for an unknown value. */
const char *indiv_import_format_name(indiv_import_format f);

/* Runs the import into log (which must not be inside a transaction). On success the
 * summary is filled and the import recorded in the imports table. On failure nothing is
 * written; the summary still holds the counts up to the failure. Errors: INDIV_EIO (an
 * input cannot be read), INDIV_EFORMAT (a header is not the format's, or a bad row under
 * strict, or a data file none of whose rows could be imported), INDIV_EDUP (the input was
 * imported before and !o->force; the message names the earlier import), INDIV_EINVAL
 * (options), database errors of the event log. */
int indiv_import_run(indiv_eventlog *log, const indiv_import_opts *o,
                     indiv_import_summary *sum /* OUT */, indiv_error *err);

/* s as UTF-8, malloc'ed: a copy when s is valid UTF-8, otherwise s read as Latin-1
 * (ISO 8859-1). The importer stores every text field this way; callers use it for file
 * names they print as JSON. NULL when out of memory (or s is NULL). */
char *indiv_import_utf8(const char *s);

/* Derives the coarse category of an Online Retail description: the rightmost known
 * product noun, else the rightmost remaining word, after dropping colours, sizes,
 * designs, numbers and plurals (docs/import.md, "Category rule"). Writes at most cap
 * bytes (NUL included) into out; "OTHER" when no word is left. Cannot fail. */
void indiv_import_category_of(const char *description, char *out, size_t cap);

/* One row of the `events` format as text (the service's POST /v1/events turns its JSON
 * values into these): type and ts required; channel, quantity, value may be NULL or ""
 * (absent). consumer and offer are not read here (ids are the caller's to look up). */
typedef struct indiv_event_text {
    const char *type, *ts, *channel, *quantity, *value;
} indiv_event_text;

/* What is wrong with a row: the column, the importer's reason ("bad timestamp") and the
 * offending text (NULL when the reason says it all). */
typedef struct indiv_event_problem {
    const char *field, *reason, *value;
} indiv_event_problem;

/* Parses and checks type, ts, channel, quantity and value by the rules of the `events`
 * format (docs/import.md), into ev->ts, type, channel, quantity and value. INDIV_EFORMAT
 * with *why filled (why may be NULL) on the first bad field, in the importer's order. */
int indiv_import_event_parse(const indiv_event_text *t, indiv_event *ev /* OUT */,
                             indiv_event_problem *why /* OUT */);

#endif /* INDIV_IMPORT_H */
