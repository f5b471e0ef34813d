/*
 * bench_import.c — speed of `import --format online-retail` against the sqlite3 CLI's
 * bare `.import --csv` of the same file.
 *
 * The shared sample (datasets/online-retail-2010-12_2011-02.csv.gz, 105,335 data rows)
 * is decompressed once into a plain CSV in a temporary directory, so that both sides
 * read the same bytes without paying for gzip; SCALE takes SCALE × 105,335 data rows
 * (the first ones when SCALE < 1, the rows repeated when SCALE > 1). Ours: open a fresh
 * event log, import in one transaction (parse, validate, consumers, offers with their
 * names, categories and prices, events in storage order), close. Reference: the sqlite3
 * program loading the CSV into a new database as one table of text columns, with no
 * parsing of numbers or dates, no lookups and no index: the floor for "CSV into SQLite".
 * Each side runs 3 times into a fresh database; the best time counts. Prints the BENCH
 * line of docs/architecture.md §10 and one informational line. Run from the repository
 * root.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "bench.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"

#define SAMPLE      "datasets/online-retail-2010-12_2011-02.csv.gz"
#define SAMPLE_ROWS 105335
#define RUNS        3

/* Reads the whole decompressed sample into *buf (caller frees); returns its length or
 * 0 on error. */
static size_t read_sample(char **buf) {
    gzFile gz = gzopen(SAMPLE, "rb");
    size_t cap = 16u << 20, n = 0;
    char *b = malloc(cap);
    int got = 0;
    while (gz && b && (got = gzread(gz, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                break;
            b = nb;
        }
    }
    if (gz)
        gzclose(gz);
    if (!gz || !b || got < 0 || n == 0) {
        fprintf(stderr, "bench_import: cannot read %s (run from the repository root)\n",
                SAMPLE);
        free(b);
        return 0;
    }
    *buf = b;
    return n;
}

/* Writes the header and `rows` data rows of the sample (cycling through them) to path;
 * the sample has no line break inside a quoted field, so a row is a line. */
static int write_csv(const char *path, const char *buf, size_t len, int64_t rows) {
    const char *body = memchr(buf, '\n', len);
    FILE *f = fopen(path, "wb");
    if (!body || !f) {
        if (f)
            fclose(f);
        return -1;
    }
    body++;
    fwrite(buf, 1, (size_t)(body - buf), f);
    const char *p = body, *end = buf + len;
    for (int64_t i = 0; i < rows; i++) {
        if (p >= end)
            p = body;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        fwrite(p, 1, (size_t)(next - p), f);
        if (!nl)
            fputc('\n', f);
        p = next;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* One import into a fresh database; returns its seconds or a negative number. */
static double ours_once(const char *db, const char *csv, indiv_import_summary *sum) {
    unlink(db);
    indiv_import_opts o;
    indiv_import_opts_init(&o);
    o.format = INDIV_IMPORT_ONLINE_RETAIL;
    o.path = csv;
    indiv_error err = {0};
    indiv_eventlog *log = NULL;
    double t0 = bench_now();
    int rc = indiv_eventlog_open(db, INDIV_EVENTLOG_CREATE, &log, &err);
    if (rc == INDIV_OK)
        rc = indiv_import_run(log, &o, sum, &err);
    indiv_eventlog_close(log);
    double t = bench_now() - t0;
    if (rc < 0)
        fprintf(stderr, "bench_import: %s\n", err.msg);
    return rc < 0 ? -1 : t;
}

/* One `sqlite3 ref.db .import --csv` into a fresh database; seconds or negative. */
static double ref_once(const char *db, const char *csv) {
    char cmd[2048];
    unlink(db);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \".import --csv '%s' retail\"", db, csv);
    double t0 = bench_now();
    int st = system(cmd);
    double t = bench_now() - t0;
    if (st != 0)
        fprintf(stderr, "bench_import: '%s' failed (is the sqlite3 program installed?)\n",
                cmd);
    return st == 0 ? t : -1;
}

static double best_of(double a, double b) {
    return a < 0 || b < 0 ? -1 : (a < b ? a : b);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    char dir[512], csv[600], db[600], ref[600];
    snprintf(dir, sizeof dir, "%s/indiv-bench-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_import: mkdtemp");
        return 1;
    }
    snprintf(csv, sizeof csv, "%s/retail.csv", dir);
    snprintf(db, sizeof db, "%s/ours.db", dir);
    snprintf(ref, sizeof ref, "%s/ref.db", dir);
    int64_t rows = llround(SAMPLE_ROWS * bench_scale());
    rows = rows < 1 ? 1 : rows;
    char *buf = NULL;
    size_t len = read_sample(&buf);
    int ok = len > 0 && write_csv(csv, buf, len, rows) == 0;
    free(buf);
    indiv_import_summary sum = {0};
    double ours = ok ? 1e300 : -1, theirs = ok ? 1e300 : -1;
    for (int i = 0; i < RUNS; i++) {
        ours = best_of(ours, ours_once(db, csv, &sum));
        theirs = best_of(theirs, ref_once(ref, csv));
    }
    unlink(csv);
    unlink(db);
    unlink(ref);
    rmdir(dir);
    if (ours <= 0 || theirs <= 0)
        return 1;
    bench_report("import", (double)rows / ours, "rows/s", "sqlite3_import",
                 (double)rows / theirs, ours / theirs);
    printf("info import: %lld rows (%lld imported as events, %lld skipped) in %.3f s, "
           "best of %d; sqlite3 .import of the same CSV %.3f s\n",
           (long long)rows, (long long)sum.rows_imported, (long long)sum.rows_skipped,
           ours, RUNS, theirs);
    return 0;
}
