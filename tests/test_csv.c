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
