/*
 * testutil.h — helpers shared by the Criterion tests: temporary directories and running
 * the indiv binary for end-to-end tests.
 *
 * End-to-end tests run the binary named by $INDIV_BIN (make check sets it to the
 * ASan-built build/asan/indiv, whose exit code reflects leaks), with the repository root
 * as the working directory.
 */
#ifndef INDIV_TESTUTIL_H
#define INDIV_TESTUTIL_H

#include <stddef.h>

#include <jansson.h>

#include "indiv/eventlog.h"
#include "indiv/sim.h"

typedef struct tu_run {
    int status; /* exit code of the command, or -1 when it did not exit normally */
    char *out;  /* captured stdout (NUL-terminated, owned) */
    char *err;  /* captured stderr (NUL-terminated, owned) */
} tu_run;

/* Creates a fresh temporary directory; returns its path (owned by the caller). */
char *tu_tmpdir(void);

/* Removes a directory tree made by tu_tmpdir and frees the path. */
void tu_rmtree(char *dir);

/* Joins dir and name into a new string (owned by the caller). */
char *tu_path(const char *dir, const char *name);

/* The fixture most suites share: a fresh temporary directory (*dir) and the path of the
 * file name in it (*db, not created); both owned. tu_dir_db_free removes the directory
 * and frees both (NULL accepted). */
void tu_dir_db_new(const char *name, char **dir /* OUT */, char **db /* OUT */);
void tu_dir_db_free(char *dir, char *db);

/* Number of entries of dir whose name contains ".tmp-" (fileio's temporary files). */
int tu_temps_in(const char *dir);

/* Expects no entry of dir whose name matches the extended regular expression ere;
 * what names the step that would have left one (in the failure message). */
void tu_expect_no_entry(const char *dir, const char *ere, const char *what);

/* Runs a shell command line in which "$INDIV" names the binary under test, capturing
 * stdout and stderr. The command is formatted printf-style. */
int tu_sh(tu_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the captured output. */
void tu_run_free(tu_run *r);

/* Writes text to a new file at path (asserts on failure). */
void tu_write(const char *path, const char *text);

/* Reads a whole file (owned by the caller); NULL when it does not exist. */
char *tu_read(const char *path, size_t *len);

/* Byte-for-byte file comparison: 1 equal, 0 different or missing. */
int tu_same_file(const char *a, const char *b);

/* A new reference to member key of the JSON object in file dir/name (asserting that
 * the file parses and holds the member). */
json_t *tu_json_member(const char *dir, const char *name, const char *key);

/* Generates world p into a new database dir/name (asserting success); returns its path
 * (owned). sum may be NULL. */
char *tu_world(const char *dir, const char *name, const indiv_world_params *p,
               indiv_world_summary *sum);

/* indiv_eventlog_content_hash of the database at path (asserting success). */
void tu_content_hash(const char *path, char out[17]);

/* Opens (creating it when missing) the event log at path, asserting success. */
indiv_eventlog *tu_open_log(const char *path);

/* Hand-built logs (asserting success inside an open transaction of log): a consumer who
 * accepts contact by email (profiling consent as given), an offer of price 10 and
 * margin 0.3 in category cat valid forever, and one purchase (quantity 1, value 10, on
 * the web) at ts. Return the new row ids. */
int64_t tu_add_consumer(indiv_eventlog *log, const char *id, int profiling);
int64_t tu_add_offer(indiv_eventlog *log, const char *id, const char *cat);
void tu_buy(indiv_eventlog *log, int64_t consumer, int64_t offer, int64_t ts);

/* A full profile build of log as of as_of with the default parameters, in the
 * catalogue's own feature space (asserting success). */
void tu_build_profiles(indiv_eventlog *log, int64_t as_of);

#endif /* INDIV_TESTUTIL_H */
