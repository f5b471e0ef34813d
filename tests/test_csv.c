/*
 * test_csv.c — the RFC 4180 reader: quoting, line ends, gzip, errors and recovery.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_internal.h"
#include "testutil.h"

/* Reads every record of text into a single string "a|b|c\n...", for compact asserts. */
static char *read_all(const char *text, int *errors) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, text);
    indiv_csv *c;
    indiv_error err = {0};
    cr_assert_eq(indiv_csv_open(p, &c, &err), 0, "%s", err.msg);
    char *out = calloc(1, 4096), **f;
    size_t n;
    int rc;
    *errors = 0;
    while ((rc = indiv_csv_next(c, &f, &n, &err)) != 0) {
        if (rc < 0) {
            (*errors)++;
            indiv_error_clear(&err);
            strcat(out, "!ERR\n");
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            strcat(out, f[i]);
            strcat(out, i + 1 < n ? "|" : "\n");
        }
    }
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
    return out;
}

Test(csv, plain_and_quoted_fields) {
    int e;
    char *s = read_all("a,b,c\n1,\"x,y\",3\n\"he said \"\"hi\"\"\",,\"\"\n", &e);
    cr_assert_eq(e, 0);
    cr_assert_str_eq(s, "a|b|c\n1|x,y|3\nhe said \"hi\"||\n");
    free(s);
}

Test(csv, real_online_retail_quoting) {
    int e;
    char *s = read_all("536394,21506,\"FANCY FONT BIRTHDAY CARD, \",24\n"
                       "536477,22041,\"RECORD FRAME 7\"\" SINGLE SIZE \",48\n",
                       &e);
    cr_assert_eq(e, 0);
    cr_assert_str_eq(s, "536394|21506|FANCY FONT BIRTHDAY CARD, |24\n"
                        "536477|22041|RECORD FRAME 7\" SINGLE SIZE |48\n");
    free(s);
}

Test(csv, crlf_and_missing_final_newline) {
    int e;
    char *s = read_all("a,b\r\n\"q\",2\r\nlast,row", &e);
    cr_assert_eq(e, 0);
    cr_assert_str_eq(s, "a|b\nq|2\nlast|row\n");
    free(s);
}

/* Files saved with classic Mac OS line ends (CR alone, e.g. Excel's "CSV (Macintosh)")
 * were read as one record: the header swallowed every row and an import of 449 rows
 * succeeded with "rows read 0". A bare CR ends a line, as LF and CR LF do; inside quotes
 * it stays in the field and counts as a line. */
Test(csv, cr_only_line_ends_are_lines) {
    int e;
    char *s = read_all("a,b\r1,2\r\"x\ry\",3\r\r\"q\"\rlast,row", &e);
    cr_assert_eq(e, 0);
    cr_assert_str_eq(s, "a|b\n1|2\nx\ry|3\n\nq\nlast|row\n");
    free(s);
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, "h\r\"two\rlines\",x\r\nnext\rbad\"q,1\rafter\r");
    indiv_csv *c;
    cr_assert_eq(indiv_csv_open(p, &c, NULL), 0);
    char **f;
    size_t n;
    long want[] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1, "record %d", i);
        cr_assert_eq(indiv_csv_line(c), want[i], "record %d", i);
    }
    cr_assert_str_eq(f[0], "next");
    indiv_error err = {0};
    cr_assert_eq(indiv_csv_next(c, &f, &n, &err), INDIV_EFORMAT, "the stray quote");
    cr_assert(strstr(err.msg, "in.csv:5: stray quote"), "%s", err.msg);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1, "only its own line is lost");
    cr_assert_str_eq(f[0], "after");
    cr_assert_eq(indiv_csv_line(c), 6);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 0);
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
}

Test(csv, newline_inside_quotes_counts_lines) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, "h\n\"two\nlines\",x\nnext\n");
    indiv_csv *c;
    cr_assert_eq(indiv_csv_open(p, &c, NULL), 0);
    char **f;
    size_t n;
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_eq(indiv_csv_line(c), 1);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_eq(indiv_csv_line(c), 2);
    cr_assert_str_eq(f[0], "two\nlines");
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_eq(indiv_csv_line(c), 4, "line after a quoted newline");
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 0);
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
}

Test(csv, stray_quote_skips_only_that_line) {
    int e;
    char *s = read_all("a,b\nbad\"x,1\n\"ok\"junk,2\ngood,3\n", &e);
    cr_assert_eq(e, 2);
    cr_assert_str_eq(s, "a|b\n!ERR\n!ERR\ngood|3\n");
    free(s);
}

Test(csv, unclosed_quote_is_an_error_naming_the_line) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, "a\n\"open,1\n2\n");
    indiv_csv *c;
    indiv_error err = {0};
    cr_assert_eq(indiv_csv_open(p, &c, &err), 0);
    char **f;
    size_t n;
    cr_assert_eq(indiv_csv_next(c, &f, &n, &err), 1);
    cr_assert_eq(indiv_csv_next(c, &f, &n, &err), INDIV_EFORMAT);
    cr_assert(strstr(err.msg, "in.csv:2:"), "message: %s", err.msg);
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
}

Test(csv, gzip_and_plain_have_the_same_fingerprint) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, "x,y\n1,2\n");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -k '%s'", p);
    cr_assert_eq(system(cmd), 0);
    char *gz = tu_path(dir, "in.csv.gz");
    uint64_t fp[2];
    const char *paths[2] = {p, gz};
    for (int i = 0; i < 2; i++) {
        indiv_csv *c;
        char **f;
        size_t n;
        cr_assert_eq(indiv_csv_open(paths[i], &c, NULL), 0);
        cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
        cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
        cr_assert_str_eq(f[1], "2");
        cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 0);
        fp[i] = indiv_csv_fingerprint(c);
        indiv_csv_close(c);
    }
    cr_assert_eq(fp[0], fp[1]);
    /* FNV-1a 64 of "x,y\n1,2\n", computed independently with python3:
     * h=0xcbf29ce484222325; for b in b"x,y\n1,2\n": h=((h^b)*0x100000001b3)%2**64 */
    cr_assert_eq(fp[0], 0x894cdc679ed13de3ULL, "fingerprint %llx",
                 (unsigned long long)fp[0]);
    free(gz);
    free(p);
    tu_rmtree(dir);
}

Test(csv, missing_file_names_it) {
    indiv_csv *c = (indiv_csv *)1;
    indiv_error err = {0};
    cr_assert_eq(indiv_csv_open("/nonexistent/x.csv", &c, &err), INDIV_EIO);
    cr_assert_null(c);
    cr_assert(strstr(err.msg, "/nonexistent/x.csv"), "%s", err.msg);
}

/* Like read_all, over len bytes that may hold NULs. */
static char *read_bytes(const char *data, size_t len, int *errors) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    indiv_csv *c;
    cr_assert_eq(indiv_csv_open(p, &c, NULL), 0);
    char *out = calloc(1, 1 << 20), **fl;
    size_t n;
    int rc;
    *errors = 0;
    indiv_error err = {0};
    while ((rc = indiv_csv_next(c, &fl, &n, &err)) != 0) {
        if (rc < 0) {
            cr_assert_eq(rc, INDIV_EFORMAT, "%s", err.msg);
            (*errors)++;
            indiv_error_clear(&err);
            strcat(out, "!ERR\n");
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            strcat(out, fl[i]);
            strcat(out, i + 1 < n ? "|" : "\n");
        }
    }
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
    return out;
}

Test(csv, nul_byte_makes_the_record_malformed_not_shorter) {
    static const char data[] = "q,c\n6\0"
                               "00,17850\n600,1\0"
                               "7850\n\"6\0\",1\n7,8\n";
    int e;
    char *s = read_bytes(data, sizeof data - 1, &e);
    cr_assert_eq(e, 3);
    cr_assert_str_eq(s, "q|c\n!ERR\n!ERR\n!ERR\n7|8\n");
    free(s);
}

Test(csv, unterminated_quote_costs_one_line_not_the_rest) {
    int e;
    char *s = read_all("a,b\n\"open,1\nx,2\ny,3\n", &e);
    cr_assert_eq(e, 1);
    cr_assert_str_eq(s, "a|b\n!ERR\nx|2\ny|3\n");
    free(s);
    /* closed by mistake by a later row's quote: still only the one line is lost */
    s = read_all("a,b\n\"open,1\nx,2\ny,\"q\"\nz,4\n", &e);
    cr_assert_eq(e, 1);
    cr_assert_str_eq(s, "a|b\n!ERR\nx|2\ny|q\nz|4\n");
    free(s);
}

Test(csv, unterminated_quote_error_names_its_line) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, "a\n1\n\"open\n2\n3\n");
    indiv_csv *c;
    indiv_error err = {0};
    cr_assert_eq(indiv_csv_open(p, &c, NULL), 0);
    char **f;
    size_t n;
    for (int i = 0; i < 2; i++)
        cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_eq(indiv_csv_next(c, &f, &n, &err), INDIV_EFORMAT);
    cr_assert(strstr(err.msg, "in.csv:3: quote not closed"), "%s", err.msg);
    cr_assert(strstr(err.msg, "read again"), "%s", err.msg);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_str_eq(f[0], "2");
    cr_assert_eq(indiv_csv_line(c), 4);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_eq(indiv_csv_line(c), 5);
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
}

Test(csv, record_longer_than_the_limit_is_malformed) {
    size_t big = INDIV_CSV_RECORD_MAX + 100;
    char *data = malloc(big + 16);
    strcpy(data, "a\n");
    memset(data + 2, 'x', big);
    strcpy(data + 2 + big, "\nb\n");
    int e;
    char *s = read_bytes(data, strlen(data), &e);
    cr_assert_eq(e, 1);
    cr_assert_str_eq(s, "a\n!ERR\nb\n");
    free(s);
    /* a quote opened on a long multi-line stretch: cut at the limit, lines read again */
    size_t lines = INDIV_CSV_RECORD_MAX / 3 + 10;
    char *q = malloc(3 * lines + 8), *p = q;
    *p++ = '"';
    for (size_t i = 0; i < lines; i++)
        p = stpcpy(p, "xy\n");
    s = read_bytes(q, (size_t)(p - q), &e);
    cr_assert_eq(e, 1);
    cr_assert(strncmp(s, "!ERR\nxy\nxy\n", 11) == 0, "%.40s", s);
    cr_assert_eq(strlen(s), 5 + 3 * (lines - 1));
    free(s);
    free(q);
    free(data);
}

Test(csv, reread_takes_a_multi_line_record_again_from_its_second_line) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    tu_write(p, "\"x\ny\",1\nz,2\n");
    indiv_csv *c;
    cr_assert_eq(indiv_csv_open(p, &c, NULL), 0);
    char **f;
    size_t n;
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_str_eq(f[0], "x\ny");
    cr_assert_eq(indiv_csv_reread(c), 1);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), INDIV_EFORMAT); /* y",1 */
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 1);
    cr_assert_str_eq(f[0], "z");
    cr_assert_eq(indiv_csv_line(c), 3);
    cr_assert_eq(indiv_csv_reread(c), 0);
    cr_assert_eq(indiv_csv_next(c, &f, &n, NULL), 0);
    indiv_csv_close(c);
    free(p);
    tu_rmtree(dir);
}

Test(csv, truncated_gzip_is_an_error_not_a_shorter_file) {
    char *dir = tu_tmpdir(), *p = tu_path(dir, "in.csv");
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("a,b\n", f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "%d,1999.95\n", i);
    fclose(f);
    char cmd[1024];
    snprintf(
        cmd, sizeof cmd,
        "gzip '%s' && head -c $(( $(stat -c %%s '%s.gz') / 2 )) '%s.gz' > '%s.cut.gz'", p,
        p, p, p);
    cr_assert_eq(system(cmd), 0);
    char *cut = tu_path(dir, "in.csv.cut.gz");
    indiv_csv *c;
    indiv_error err = {0};
    cr_assert_eq(indiv_csv_open(cut, &c, NULL), 0);
    char **fl;
    size_t n;
    int rc;
    long rows = 0;
    while ((rc = indiv_csv_next(c, &fl, &n, &err)) > 0)
        rows++;
    cr_assert_eq(rc, INDIV_EIO, "a truncated stream read as complete after %ld rows",
                 rows);
    cr_assert(strstr(err.msg, "ends early"), "%s", err.msg);
    cr_assert_lt(rows, 20001);
    indiv_csv_close(c);
    free(cut);
    free(p);
    tu_rmtree(dir);
}
