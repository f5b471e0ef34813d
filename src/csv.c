/*
 * csv.c — streaming RFC 4180 reader over zlib's gzFile (plain files pass through).
 *
 * The parser is a small state machine over a 64 KiB input buffer; field bytes go to one
 * growing record buffer and field starts are recorded as offsets, then turned into
 * pointers when the record is complete (the buffer may move while it grows).
 *
 * A malformed record never takes its neighbours with it: the raw bytes of the current
 * record are kept (at most INDIV_CSV_RECORD_MAX of them), and when a record that spans
 * several lines (a quote opened and not closed where it should be) is rejected, the
 * bytes after its first line are pushed back and read again as the following lines.
 * So an unterminated quote costs one row, not every row up to the next quote, and
 * memory stays bounded by the record limit whatever the input.
 *
 * Line ends: LF, CR LF, and a bare CR (files saved with classic Mac OS line ends, which
 * would otherwise read as one record: a header that swallows every row).
 */
#include "csv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define CSV_INBUF (64 * 1024)
#define RAW_CAP   (INDIV_CSV_RECORD_MAX + 2)

struct indiv_csv {
    gzFile gz;
    char *name;
    unsigned char in[CSV_INBUF];
    size_t in_len, in_pos;
    int eof;
    long line, rec_line;
    unsigned char *pb; /* bytes pushed back, read before `in` */
    size_t pb_len, pb_pos;
    unsigned char *raw; /* raw bytes of the current record (capped) */
    size_t raw_len;
    uint64_t fnv;
    char *rec; /* field bytes, each field NUL-terminated */
    size_t rec_len, rec_cap;
    size_t *starts; /* field start offsets into rec */
    char **fields;
    size_t nfields, fields_cap;
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

int indiv_csv_open(const char *path, indiv_csv **out, indiv_error *err) {
    *out = NULL;
    indiv_csv *c = calloc(1, sizeof *c);
    int is_stdin = strcmp(path, "-") == 0;
    if (!c || !(c->name = strdup(is_stdin ? "stdin" : path)) ||
        !(c->raw = malloc(RAW_CAP))) {
        if (c)
            free(c->name);
        free(c);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory opening %s", path);
    }
    c->gz = is_stdin ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path, "rb");
    if (!c->gz) {
        int e = errno;
        indiv_csv_close(c);
        return indiv_error_set(err, INDIV_EIO, "%s: cannot open: %s", path,
                               e ? strerror(e) : "unknown error");
    }
    gzbuffer(c->gz, 256 * 1024);
    c->fnv = FNV_OFFSET;
    c->line = 1;
    *out = c;
    return INDIV_OK;
}

void indiv_csv_close(indiv_csv *c) {
    if (!c)
        return;
    if (c->gz)
        gzclose(c->gz);
    free(c->name);
    free(c->raw);
    free(c->pb);
    free(c->rec);
    free(c->starts);
    free(c->fields);
    free(c);
}

long indiv_csv_line(const indiv_csv *c) {
    return c->rec_line;
}

uint64_t indiv_csv_fingerprint(const indiv_csv *c) {
    return c->fnv;
}

const char *indiv_csv_name(const indiv_csv *c) {
    return c->name;
}

/* 0 at the true end of the input; an error when the stream stopped short (a truncated
 * or corrupt gzip file reads as a shorter file otherwise). */
static int check_end(indiv_csv *c, indiv_error *err) {
    int zerr = Z_OK;
    const char *m = gzerror(c->gz, &zerr);
    if (zerr == Z_OK || zerr == Z_STREAM_END)
        return 0;
    return indiv_error_set(err, INDIV_EIO,
                           "%s: the input ends early or is corrupt (%s): nothing of it "
                           "is imported",
                           c->name, m && *m ? m : "read error");
}

/* Refills the input buffer; 1 data, 0 end, <0 error. Hashes every byte read. */
static int refill(indiv_csv *c, indiv_error *err) {
    if (c->eof)
        return 0;
    int n = gzread(c->gz, c->in, CSV_INBUF);
    if (n < 0) {
        int zerr;
        const char *m = gzerror(c->gz, &zerr);
        return indiv_error_set(err, INDIV_EIO, "%s: read error: %s", c->name, m);
    }
    if (n == 0) {
        if (check_end(c, err) < 0)
            return INDIV_EIO;
        c->eof = 1;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        c->fnv ^= c->in[i];
        c->fnv *= FNV_PRIME;
    }
    c->in_len = (size_t)n;
    c->in_pos = 0;
    return 1;
}

/* Next input byte without consuming it, or -1 at end, or -2 on error. */
static int peekbyte(indiv_csv *c, indiv_error *err) {
    if (c->pb_pos < c->pb_len)
        return c->pb[c->pb_pos];
    if (c->in_pos == c->in_len) {
        int r = refill(c, err);
        if (r <= 0)
            return r == 0 ? -1 : -2;
    }
    return c->in[c->in_pos];
}

/* Next input byte, or -1 at end, or -2 on error; kept in raw while there is room. */
static int getbyte(indiv_csv *c, indiv_error *err) {
    int b = peekbyte(c, err);
    if (b < 0)
        return b;
    if (c->pb_pos < c->pb_len)
        c->pb_pos++;
    else
        c->in_pos++;
    if (c->raw_len < RAW_CAP)
        c->raw[c->raw_len++] = (unsigned char)b;
    return b;
}

static int put(indiv_csv *c, char ch) {
    if (c->rec_len == c->rec_cap) {
        size_t cap = c->rec_cap ? 2 * c->rec_cap : 1024;
        char *p = realloc(c->rec, cap);
        if (!p)
            return -1;
        c->rec = p;
        c->rec_cap = cap;
    }
    c->rec[c->rec_len++] = ch;
    return 0;
}

/* Ends the current field (NUL) and starts a new one. */
static int new_field(indiv_csv *c, int first) {
    if (!first && put(c, '\0') < 0)
        return -1;
    if (c->nfields == c->fields_cap) {
        size_t cap = c->fields_cap ? 2 * c->fields_cap : 16;
        size_t *s = realloc(c->starts, cap * sizeof *s);
        if (!s)
            return -1;
        c->starts = s;
        char **f = realloc(c->fields, cap * sizeof *f);
        if (!f)
            return -1;
        c->fields = f;
        c->fields_cap = cap;
    }
    c->starts[c->nfields++] = c->rec_len;
    return 0;
}

/* Offset just after the first line break (LF, CR LF or a bare CR) of the current
 * record's raw bytes, 0 when the record has not gone past its first line (a line break
 * as its very last bytes ends that line and does not count). */
static size_t second_line(const indiv_csv *c) {
    const unsigned char *r = c->raw;
    for (size_t i = 0; i + 1 < c->raw_len; i++) {
        if (r[i] == '\n' || r[i] == '\r') {
            size_t k = i + 1 + (r[i] == '\r' && r[i + 1] == '\n');
            return k < c->raw_len ? k : 0;
        }
    }
    return 0;
}

/* Called after a CR was read outside quotes: takes the LF of a CR LF, so that either
 * form, and a bare CR (classic Mac OS files), is one line end. 0, or -2 on error. */
static int end_of_line_after_cr(indiv_csv *c, indiv_error *err) {
    int next = peekbyte(c, err);
    if (next == -2)
        return -2;
    if (next == '\n')
        getbyte(c, err);
    return 0;
}

int indiv_csv_reread(indiv_csv *c) {
    size_t k = second_line(c);
    if (k == 0)
        return 0;
    size_t keep = c->pb_len - c->pb_pos, n = c->raw_len - k + keep;
    unsigned char *pb = malloc(n ? n : 1);
    if (!pb)
        return INDIV_ENOMEM;
    memcpy(pb, c->raw + k, c->raw_len - k);
    if (keep)
        memcpy(pb + c->raw_len - k, c->pb + c->pb_pos, keep);
    free(c->pb);
    c->pb = pb;
    c->pb_len = n;
    c->pb_pos = 0;
    c->raw_len = 0;
    c->line = c->rec_line + 1;
    return 1;
}

/* Rejects the current record: a record that spans lines is cut after its first line
 * and the rest read again; a one-line record is skipped to the end of its line. */
static int reject(indiv_csv *c, const char *why, indiv_error *err) {
    int again = indiv_csv_reread(c);
    if (again < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s", c->name);
    if (!again) {
        int b;
        while ((b = getbyte(c, err)) >= 0 && b != '\n' && b != '\r')
            ;
        if (b == '\r' && end_of_line_after_cr(c, err) < 0)
            return INDIV_EIO;
        if (b == '\n' || b == '\r')
            c->line++;
        if (b == -2)
            return INDIV_EIO;
    }
    return indiv_error_set(err, INDIV_EFORMAT, "%s:%ld: %s%s", c->name, c->rec_line, why,
                           again ? " (the lines after it are read again)" : "");
}

/* Why byte b cannot be taken into the current record, or NULL when it can. */
static const char *refused(const indiv_csv *c, int b) {
    if (b == 0)
        return "NUL byte in the record";
    if (c->raw_len > INDIV_CSV_RECORD_MAX)
        return "record longer than " INDIV_CSV_RECORD_MAX_TEXT " bytes";
    return NULL;
}

/* Reads a quoted field body after its opening quote, up to the closing quote. */
static int read_quoted(indiv_csv *c, indiv_error *err) {
    for (;;) {
        int b = getbyte(c, err);
        if (b == -2)
            return INDIV_EIO;
        if (b == -1)
            return reject(c, "quote not closed before the end of the input", err);
        const char *why = refused(c, b);
        if (why)
            return reject(c, why, err);
        if (b == '"') {
            int next = peekbyte(c, err);
            if (next == -2)
                return INDIV_EIO;
            if (next != '"')
                return INDIV_OK;
            getbyte(c, err); /* "" is a literal quote */
        } else if (b == '\n') {
            c->line++;
        } else if (b == '\r') {
            int next = peekbyte(c, err);
            if (next == -2)
                return INDIV_EIO;
            c->line += next != '\n'; /* a bare CR is a line break; CR LF counts at LF */
        }
        if (put(c, (char)b) < 0)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s",
                                   c->name);
    }
}

static int finish(indiv_csv *c, char ***fields, size_t *n, indiv_error *err) {
    if (put(c, '\0') < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s", c->name);
    for (size_t i = 0; i < c->nfields; i++)
        c->fields[i] = c->rec + c->starts[i];
    *fields = c->fields;
    *n = c->nfields;
    return 1;
}

int indiv_csv_next(indiv_csv *c, char ***fields, size_t *n, indiv_error *err) {
    c->rec_len = 0;
    c->nfields = 0;
    c->raw_len = 0;
    c->rec_line = c->line;
    int b = getbyte(c, err), quoted_done = 0;
    if (b < 0)
        return b == -1 ? 0 : INDIV_EIO;
    if (new_field(c, 1) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s", c->name);
    for (;; b = getbyte(c, err)) {
        if (b == -2)
            return INDIV_EIO;
        if (b == '\r' && end_of_line_after_cr(c, err) < 0)
            return INDIV_EIO;
        if (b == -1 || b == '\n' || b == '\r') {
            if (b != -1)
                c->line++;
            return finish(c, fields, n, err);
        }
        const char *why = refused(c, b);
        if (why)
            return reject(c, why, err);
        if (b == ',') {
            quoted_done = 0;
            if (new_field(c, 0) < 0)
                return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
            continue;
        }
        if (b == '"' && c->rec_len == c->starts[c->nfields - 1] && !quoted_done) {
            int rc = read_quoted(c, err);
            if (rc < 0)
                return rc;
            quoted_done = 1;
            continue;
        }
        if (b == '"' || quoted_done)
            return reject(c, "stray quote or text after a closing quote", err);
        if (put(c, (char)b) < 0)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s",
                                   c->name);
    }
}
