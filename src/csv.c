/*
 * csv.c — streaming RFC 4180 reader over zlib's gzFile (plain files pass through).
 *
 * The parser is a small state machine over a 64 KiB input buffer; field bytes go to one
 * growing record buffer and field starts are recorded as offsets, then turned into
 * pointers when the record is complete (the buffer may move while it grows).
 */
#include "csv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define CSV_INBUF (64 * 1024)

struct indiv_csv {
    gzFile gz;
    char *name;
    unsigned char in[CSV_INBUF];
    size_t in_len, in_pos;
    int eof;
    long line, rec_line;
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
    if (!c || !(c->name = strdup(is_stdin ? "stdin" : path))) {
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

/* Next input byte, or -1 at end, or -2 on error. */
static int getbyte(indiv_csv *c, indiv_error *err) {
    if (c->in_pos == c->in_len) {
        int r = refill(c, err);
        if (r <= 0)
            return r == 0 ? -1 : -2;
    }
    return c->in[c->in_pos++];
}

static int peekbyte(indiv_csv *c, indiv_error *err) {
    int b = getbyte(c, err);
    if (b >= 0)
        c->in_pos--;
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

/* Reads a quoted field body after its opening quote, up to the closing quote. */
static int read_quoted(indiv_csv *c, indiv_error *err) {
    for (;;) {
        int b = getbyte(c, err);
        if (b == -2)
            return INDIV_EIO;
        if (b == -1)
            return indiv_error_set(err, INDIV_EFORMAT,
                                   "%s:%ld: quoted field not closed before end of file",
                                   c->name, c->rec_line);
        if (b == '"') {
            if (peekbyte(c, err) != '"')
                return INDIV_OK;
            c->in_pos++; /* "" is a literal quote */
        } else if (b == '\n') {
            c->line++;
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

/* A stray quote: the rest of the line is dropped so that the next call starts on the
 * next line, and the record is reported as malformed (the caller may skip it). */
static int skip_bad_line(indiv_csv *c, indiv_error *err) {
    int b;
    while ((b = getbyte(c, err)) >= 0 && b != '\n')
        ;
    if (b == '\n')
        c->line++;
    if (b == -2)
        return INDIV_EIO;
    return indiv_error_set(err, INDIV_EFORMAT,
                           "%s:%ld: stray quote or text after a closing quote", c->name,
                           c->rec_line);
}

int indiv_csv_next(indiv_csv *c, char ***fields, size_t *n, indiv_error *err) {
    c->rec_len = 0;
    c->nfields = 0;
    c->rec_line = c->line;
    int b = getbyte(c, err), quoted_done = 0;
    if (b == -1)
        return 0;
    if (new_field(c, 1) < 0)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s", c->name);
    for (;; b = getbyte(c, err)) {
        if (b == -2)
            return INDIV_EIO;
        if (b == -1 || b == '\n') {
            if (b == '\n')
                c->line++;
            if (c->rec_len > 0 && c->rec[c->rec_len - 1] == '\r' && !quoted_done)
                c->rec_len--; /* CR LF */
            return finish(c, fields, n, err);
        }
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
        if (quoted_done && b == '\r')
            continue; /* CR after a closing quote, before LF */
        if (b == '"' || quoted_done)
            return skip_bad_line(c, err);
        if (put(c, (char)b) < 0)
            return indiv_error_set(err, INDIV_ENOMEM, "out of memory reading %s",
                                   c->name);
    }
}
