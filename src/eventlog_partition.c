/*
 * eventlog_partition.c — splitting an event log into N databases by consumer, one per
 * MPI rank or cluster node (indiv partition, indiv-mpi --db DIR/part-%d.db;
 * docs/scale.md). Part of the eventlog module, the only one that speaks SQL.
 *
 * Part r is a new indiv database (the schema of this version, created by
 * indiv_eventlog_open) into which, in one transaction, every table of the source is
 * copied in schema order (parents before the tables that reference them):
 *   consumers                   the rows whose source id falls in shard r of N (the
 *                               caller's hash: decide's), with their original ids, so
 *                               that id order within a part is the source's;
 *   tables with a consumer_id   the rows of those consumers (events, profiles, truth);
 *   every other table           whole: the catalogue, offer_daily (popularity is the
 *                               whole population's), meta (profile parameters and the
 *                               rhythm prior of the whole population), imports;
 * and meta('partition') = "r/N" is added. Columns are named, those both databases have:
 * a source of this schema copies exactly, and a table or column a source made by an
 * earlier build lacks keeps the new database's defaults. Each part is built in a
 * temporary file; all are renamed into place once every one is complete, so the parts
 * in a directory are always those of one run.
 */
#include "indiv/eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "indiv/fileio.h"

#define COLS_MAX 4096 /* the quoted column names of one table, comma-separated */

typedef struct split {
    const char *src;
    int part, parts;
    int (*shard_of)(const char *ext_id, int n);
    sqlite3 *db;
    indiv_error *err;
} split;

static int db_fail(split *s, const char *what) {
    return indiv_error_set(s->err, INDIV_EDB, "%s: %s: %s", s->src, what,
                           s->db ? sqlite3_errmsg(s->db) : "cannot open");
}

/* indiv_shard(ext_id, n) in SQL: the caller's hash. */
static void shard_fn(sqlite3_context *cx, int argc, sqlite3_value **argv) {
    const split *s = sqlite3_user_data(cx);
    const unsigned char *id = sqlite3_value_text(argv[0]);
    (void)argc;
    sqlite3_result_int(cx, id ? s->shard_of((const char *)id, sqlite3_value_int(argv[1]))
                              : -1);
}

/* Runs one statement with up to two bound text/int parameters. */
static int exec_bound(split *s, const char *sql, const char *text, int has_int, int v) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && text)
        rc = sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && has_int)
        rc = sqlite3_bind_int(st, text ? 2 : 1, v);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? INDIV_OK : db_fail(s, sql);
}

/* "a", "b", ... of table t in both databases into cols (a table or column the source
 * lacks keeps the new database's defaults); *has_consumer when one is consumer_id. */
static int column_list(split *s, const char *t, char *cols, size_t cap,
                       int *has_consumer) {
    sqlite3_stmt *st = NULL;
    size_t at = 0;
    *has_consumer = 0;
    cols[0] = '\0';
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT name FROM pragma_table_info(?1, 'main') WHERE name "
                                "IN (SELECT name FROM pragma_table_info(?1, 'src'))",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        *has_consumer |= strcmp(c, "consumer_id") == 0;
        int n = snprintf(cols + at, cap - at, "%s\"%s\"", at ? ", " : "", c);
        rc = n > 0 && (size_t)n < cap - at ? (at += (size_t)n, SQLITE_OK) : SQLITE_TOOBIG;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? INDIV_OK : db_fail(s, "listing columns");
}

/* Replaces table t of the new database by its source rows (of this part). */
static int copy_table(split *s, const char *t) {
    char cols[COLS_MAX], sql[3 * COLS_MAX]; /* the columns twice, names, clauses */
    int has_consumer, rc = column_list(s, t, cols, sizeof cols, &has_consumer);
    if (rc < 0 || !cols[0]) /* not in the source: left as created */
        return rc;
    const char *where = strcmp(t, "consumers") == 0 ? " WHERE indiv_shard(ext_id, ?) = ?"
                        : has_consumer ? " WHERE consumer_id IN (SELECT id FROM "
                                         "main.consumers)"
                                       : "";
    snprintf(sql, sizeof sql, "DELETE FROM main.\"%s\"", t);
    if ((rc = exec_bound(s, sql, NULL, 0, 0)) < 0)
        return rc;
    snprintf(sql, sizeof sql, "INSERT INTO main.\"%s\" (%s) SELECT %s FROM src.\"%s\"%s",
             t, cols, cols, t, where);
    if (strcmp(t, "consumers") != 0)
        return exec_bound(s, sql, NULL, 0, 0);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_bind_int(st, 1, s->parts)) == SQLITE_OK &&
        (rc = sqlite3_bind_int(st, 2, s->part)) == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? INDIV_OK : db_fail(s, "copying the consumers");
}

/* The new database's tables, in the order the schema created them. */
static int copy_tables(split *s) {
    sqlite3_stmt *st = NULL;
    char names[64][64];
    int n = 0, rc = sqlite3_prepare_v2(
                   s->db,
                   "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name "
                   "NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
                   -1, &st, NULL);
    while (rc == SQLITE_OK && n < 64 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(names[n++], sizeof names[0], "%s", sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) /* more than 64 tables is not this schema */
        return db_fail(s, "listing tables");
    rc = INDIV_OK;
    for (int i = 0; rc == INDIV_OK && i < n; i++)
        rc = copy_table(s, names[i]);
    return rc;
}

/* Fills the new database at path (schema already created) with part s->part. */
static int fill_part(split *s, const char *path) {
    char tag[32];
    snprintf(tag, sizeof tag, "%d/%d", s->part, s->parts);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return db_fail(s, path);
    int rc = sqlite3_create_function(s->db, "indiv_shard", 2,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC, s, shard_fn,
                                     NULL, NULL) == SQLITE_OK
                 ? INDIV_OK
                 : db_fail(s, "registering indiv_shard");
    if (rc == INDIV_OK)
        rc = exec_bound(s, "ATTACH DATABASE ? AS src", s->src, 0, 0);
    if (rc == INDIV_OK)
        rc = exec_bound(s, "BEGIN", NULL, 0, 0);
    if (rc == INDIV_OK)
        rc = copy_tables(s);
    if (rc == INDIV_OK)
        rc = exec_bound(s,
                        "INSERT OR REPLACE INTO main.meta (key, value) VALUES "
                        "('partition', ?)",
                        tag, 0, 0);
    rc = rc == INDIV_OK ? exec_bound(s, "COMMIT", NULL, 0, 0)
                        : (sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL), rc);
    sqlite3_close(s->db);
    s->db = NULL;
    return rc;
}

/* dir/part-r.db, malloc'ed (NULL when out of memory). */
static char *part_path(const char *dir, int r) {
    char name[64];
    snprintf(name, sizeof name, "part-%d.db", r);
    return indiv_path_join(dir, name);
}

/* Part s->part into a new temporary file beside dir/part-r.db (registered: a signal
 * removes it), *tmp set to its name. */
static int write_part(split *s, const char *dir, char **tmp) {
    char *path = part_path(dir, s->part);
    indiv_eventlog *log = NULL;
    int rc = path ? indiv_file_temp_create(path, tmp, s->err)
                  : indiv_error_set(s->err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(*tmp, INDIV_EVENTLOG_CREATE, &log, s->err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK)
        rc = fill_part(s, *tmp);
    free(path);
    return rc;
}

/* Refuses a source that is one of the parts: it would be replaced by a part of itself. */
static int check_source(const char *src, const char *dir, int parts, indiv_error *err) {
    int rc = INDIV_OK;
    for (int r = 0; rc == INDIV_OK && r < parts; r++) {
        char *p = part_path(dir, r);
        if (!p)
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        else if (indiv_path_same(src, p))
            rc = indiv_error_set(err, INDIV_EINVAL,
                                 "%s is part %d of the output %s: partitioning would "
                                 "replace it; give another --out directory",
                                 src, r, dir);
        free(p);
    }
    return rc;
}

/* Every part renamed into place, then the directory synced: the parts of one run
 * replace the earlier ones together, after all of them were complete. */
static int install_parts(char **tmp, const char *dir, int parts, indiv_error *err) {
    int rc = INDIV_OK;
    for (int r = 0; rc == INDIV_OK && r < parts; r++) {
        char *p = part_path(dir, r);
        if (!p)
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        else if (rename(tmp[r], p) != 0)
            rc = indiv_error_set(err, INDIV_EIO, "%s: cannot rename to %s: %s", tmp[r],
                                 p, strerror(errno));
        else {
            indiv_file_temp_release(tmp[r], 0); /* in place: forget it, keep the file */
            tmp[r] = NULL;
        }
        free(p);
    }
    int fd = rc == INDIV_OK ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot sync the directory: %s", dir,
                             strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* All parts are built under temporary names first, and renamed into place only when
 * every one is complete: a failure or a signal leaves the earlier parts of dir as they
 * were (never a mix of two runs' parts) and no temporary file, and removes dir when this
 * run created it. */
int indiv_eventlog_partition(const char *src, const char *dir, int parts,
                             int (*shard_of)(const char *ext_id, int n),
                             indiv_progress_fn progress, void *pctx, indiv_error *err) {
    if (parts < 1)
        return indiv_error_set(err, INDIV_EINVAL, "parts = %d: at least 1", parts);
    indiv_eventlog *log = NULL; /* an indiv database of this schema version, or refused */
    int rc = indiv_eventlog_open(src, INDIV_EVENTLOG_READONLY, &log, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK)
        rc = check_source(src, dir, parts, err);
    char **tmp = rc == INDIV_OK ? calloc((size_t)parts, sizeof *tmp) : NULL;
    if (rc == INDIV_OK && !tmp)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    struct stat st;
    int fresh = rc == INDIV_OK && stat(dir, &st) != 0, created = 0;
    int h = fresh ? indiv_fileio_track(dir) : -1; /* a signal removes a new dir */
    if (rc == INDIV_OK)
        rc = indiv_dir_make(dir, &created, err);
    split s = {src, 0, parts, shard_of, NULL, err};
    for (; rc == INDIV_OK && s.part < parts; s.part++) {
        rc = write_part(&s, dir, &tmp[s.part]);
        if (rc == INDIV_OK && progress)
            progress(pctx, "partition", s.part + 1, parts);
    }
    if (rc == INDIV_OK)
        rc = install_parts(tmp, dir, parts, err);
    for (int r = 0; tmp && r < parts; r++)
        indiv_file_temp_release(tmp[r], 1); /* NULL once installed */
    if (rc < 0 && created)
        rmdir(dir);
    indiv_fileio_untrack(h);
    free(tmp);
    return rc;
}
