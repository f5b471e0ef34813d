/*
 * testutil.c — temporary directories and binary runs for the tests (see testutil.h).
 */
#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "indiv/catalog.h"
#include "indiv/profile.h"

char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/indiv-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    cr_assert_not_null(d, "mkdtemp failed");
    return strdup(d);
}

void tu_rmtree(char *dir) {
    if (!dir)
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
    free(dir);
}

char *tu_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void tu_dir_db_new(const char *name, char **dir, char **db) {
    *dir = tu_tmpdir();
    *db = tu_path(*dir, name);
}

void tu_dir_db_free(char *dir, char *db) {
    free(db);
    tu_rmtree(dir);
}

int tu_temps_in(const char *dir) {
    DIR *h = opendir(dir);
    cr_assert_not_null(h, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(h));)
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(h);
    return n;
}

void tu_expect_no_entry(const char *dir, const char *ere, const char *what) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "ls -A '%s' | grep -E '%s'; true", dir, ere), 0);
    cr_expect_str_eq(r.out, "", "%s left: %s", what, r.out);
    tu_run_free(&r);
}

char *tu_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void tu_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

int tu_same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = tu_read(a, &la), *y = tu_read(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

json_t *tu_json_member(const char *dir, const char *name, const char *key) {
    char *path = tu_path(dir, name);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert_not_null(root, "%s: %s", path, je.text);
    json_t *m = json_incref(json_object_get(root, key));
    cr_assert_not_null(m, "%s has no member %s", path, key);
    json_decref(root);
    free(path);
    return m;
}

int tu_sh(tu_run *r, const char *fmt, ...) {
    char body[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    char *dir = tu_tmpdir();
    char *out = tu_path(dir, "out"), *err = tu_path(dir, "err");
    const char *bin = getenv("INDIV_BIN");
    snprintf(cmd, sizeof cmd, "INDIV='%s'; export INDIV; { %s ; } >'%s' 2>'%s'",
             bin && *bin ? bin : "build/asan/indiv", body, out, err);
    int st = system(cmd);
    r->status = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
    r->out = tu_read(out, NULL);
    r->err = tu_read(err, NULL);
    free(out);
    free(err);
    tu_rmtree(dir);
    return r->status;
}

void tu_run_free(tu_run *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *tu_world(const char *dir, const char *name, const indiv_world_params *p,
               indiv_world_summary *sum) {
    char *path = tu_path(dir, name);
    indiv_eventlog *log;
    indiv_error err = {0};
    indiv_world_summary local;
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_world_generate(log, p, NULL, NULL, sum ? sum : &local, &err), 0,
                 "%s", err.msg);
    indiv_eventlog_close(log);
    return path;
}

void tu_content_hash(const char *path, char out[17]) {
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_READONLY, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_eventlog_content_hash(log, out, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
}

indiv_eventlog *tu_open_log(const char *path) {
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    return log;
}

int64_t tu_add_consumer(indiv_eventlog *log, const char *id, int profiling) {
    indiv_consumer_rec c = {id, profiling, 1, INDIV_CH_BIT(INDIV_CH_EMAIL), NULL};
    int64_t cid;
    cr_assert_eq(indiv_eventlog_add_consumer(log, &c, &cid, NULL, NULL), 0);
    return cid;
}

int64_t tu_add_offer(indiv_eventlog *log, const char *id, const char *cat) {
    indiv_offer_rec o = {id, id, cat, 10, 0.3, INDIV_TS_NONE, INDIV_TS_NONE};
    int64_t oid;
    cr_assert_eq(indiv_eventlog_add_offer(log, &o, &oid, NULL, NULL), 0);
    return oid;
}

void tu_buy(indiv_eventlog *log, int64_t consumer, int64_t offer, int64_t ts) {
    indiv_event ev = {.consumer_id = consumer,
                      .ts = ts,
                      .offer_id = offer,
                      .type = INDIV_EV_PURCHASE,
                      .channel = INDIV_CH_WEB,
                      .quantity = 1,
                      .value = 10};
    cr_assert_eq(indiv_eventlog_add_event(log, &ev, NULL), 0);
}

void tu_build_profiles(indiv_eventlog *log, int64_t as_of) {
    indiv_catalog *cat;
    indiv_error err = {0};
    cr_assert_eq(indiv_catalog_load(log, &cat, &err), 0, "%s", err.msg);
    indiv_profile_params pp;
    indiv_profile_params_init(&pp);
    pp.as_of = as_of;
    cr_assert_eq(indiv_profile_build(log, cat, &pp, 0, NULL, NULL, NULL, &err), 0, "%s",
                 err.msg);
    indiv_catalog_free(cat);
}
