/*
 * fileio.h — output files that appear complete or not at all.
 *
 * Every file indiv writes for a user (decisions, summaries, models, evaluation results,
 * sweep and study files) goes through this module:
 *
 *   indiv_outfile *o;
 *   if (indiv_outfile_open(path, &o, err) == 0) {       // before the work: a bad
 *       rc = write_everything(indiv_outfile_stream(o)); // path fails early, saying why
 *       rc = indiv_outfile_finish(o, rc, err);          // commit, or discard
 *   }
 *
 * For a regular file (or a path where nothing exists yet) the data go to a temporary
 * file in the target's directory (`<target>.tmp-<pid>-<n>`, created exclusively), which
 * is flushed, fsync'ed, renamed over the target, and the directory fsync'ed: after a
 * crash the target holds either the old or the new content, never a mix. A symbolic link
 * is followed: the file it points to is replaced, the link stays. A target that exists
 * and is not a regular file (/dev/null, a FIFO, a terminal, /dev/stdout, anything under
 * /dev/ or /proc/) is written through: opened and written in place, never replaced.
 * A directory is refused.
 *
 * Temporary files are registered while they exist, so that a SIGINT/SIGTERM handler can
 * remove them with indiv_fileio_remove_temps() (the CLI installs one).
 */
#ifndef INDIV_FILEIO_H
#define INDIV_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "indiv/error.h"

typedef struct indiv_outfile indiv_outfile;

/* Opens an output for path (see above). On error *out is NULL, nothing was created, and
 * err names path and the system's reason. */
int indiv_outfile_open(const char *path, indiv_outfile **out /* OUT */, indiv_error *err);

/* The stream to write to. Borrowed: do not fclose it. */
FILE *indiv_outfile_stream(const indiv_outfile *o);

/* The path the data are written to now (the temporary file, or the target itself when
 * written through), for writers that take a path and open it again (the stream is then
 * not used). Borrowed, valid until finish. */
const char *indiv_outfile_write_path(const indiv_outfile *o);

/* When rc == 0: flushes, fsyncs and moves the file into place (regular targets) and
 * returns 0 or a negative status with err set. Otherwise removes the temporary file,
 * leaves the target as it was, and returns rc unchanged (a positive rc, a callback's
 * "stop", is passed through as well). Frees o in every case; accepts NULL (returns rc).
 */
int indiv_outfile_finish(indiv_outfile *o, int rc, indiv_error *err);

/* Commits several outputs of one run together (decisions and their summary): when
 * rc == 0, every file is first flushed and fsync'ed, and only when all of them are
 * safely on disk are they renamed into place, in array order, each rename followed by an
 * fsync of its directory. When rc != 0, or when writing any of them fails, none is
 * renamed: every target keeps its old content. Two renames cannot be one atomic step:
 * a crash between them (after every byte is on disk) leaves the earlier ones new and the
 * later ones old, so put last the file a reader checks first (the summary). NULL
 * entries are skipped; every entry is freed. Returns rc, or the first error. */
int indiv_outfile_finish_all(indiv_outfile *const *o, size_t n, int rc,
                             indiv_error *err);

/* Writes path in one step: write(f, ctx, err) into an indiv_outfile, then finish.
 * write returns 0 or a negative status with err set. */
int indiv_file_write_atomic(const char *path,
                            int (*write)(FILE *f, void *ctx, indiv_error *err), void *ctx,
                            indiv_error *err);

/* Refuses, before any work, a set of output paths that would destroy data: an output that
 * is the database db (or its -journal/-wal/-shm file), two outputs that are the same
 * file or are written through to the same stream ("-" twice, one FIFO; /dev/null may
 * take several), or an output that is a directory. NULL entries (unused outputs) and a NULL db are
 * skipped; names[i] is the option that gave paths[i] ("--out"), used in the message. */
int indiv_path_check_outputs(const char *db, const char *const *paths,
                             const char *const *names, size_t n, indiv_error *err);

/* indiv_path_check_outputs, and also refuses an output that is one of the m input
 * files the command reads (a model, a config, logged decisions): writing it would
 * replace what the run was computed from. NULL inputs are skipped; in_names[k] names
 * inputs[k] in the message. */
int indiv_path_check_io(const char *db, const char *const *paths,
                        const char *const *names, size_t n, const char *const *inputs,
                        const char *const *in_names, size_t m, indiv_error *err);

/* For an output written only at the end of a long run: fails now, with the system's
 * reason, when path could not be created (its directory is missing, not a directory or
 * not writable) or is a directory. Written-through paths (/dev/null...) pass. Nothing
 * is created. */
int indiv_path_check_creatable(const char *path, indiv_error *err);

/* 1 when a and b name the same file: the same inode when both exist, otherwise the same
 * directory (resolved) and the same last component. */
int indiv_path_same(const char *a, const char *b);

/* dir + "/" + name, malloc'ed; NULL when out of memory. */
char *indiv_path_join(const char *dir, const char *name);

/* Creates directory path (its parent must exist); an existing directory is fine.
 * *created (optional) is set to 1 when this call created it. */
int indiv_dir_make(const char *path, int *created /* OUT */, indiv_error *err);

/* Creates an empty file <target>.tmp-<pid>-<n> exclusively (mode 0666 less the umask),
 * registered like an outfile's temporary file, for a caller that builds a file by other
 * means (a database) and moves it into place itself. *tmp is malloc'ed. Release it with
 * indiv_file_temp_release once it is renamed, linked or removed. */
int indiv_file_temp_create(const char *target, char **tmp /* OUT */, indiv_error *err);

/* Unlinks tmp when remove is set (and its SQLite journal, tmp + "-journal"), forgets it
 * from the registry, and frees it. Accepts NULL. */
void indiv_file_temp_release(char *tmp, int remove);

/* Tracks path, an output this process is creating (a file, a database, or a directory),
 * so that indiv_fileio_remove_temps() removes it if a signal arrives before
 * indiv_fileio_untrack(): a command whose outputs are several files (simulate, sweep)
 * tracks each one that did not exist before it, and untracks them once they are
 * complete. Only paths this process created may be tracked. The registry grows as
 * needed (no fixed number of paths). Returns a handle, or -1 when out of memory (the
 * path then survives a signal). Thread-safe. */
int indiv_fileio_track(const char *path);

/* Stops tracking (the path stays). Accepts -1. */
void indiv_fileio_untrack(int handle);

/* Removes every temporary file of an unfinished indiv_outfile of this process, of
 * indiv_file_temp_create (with its journal), and every tracked path: files first (with
 * their -journal, -wal and -shm), then directories, deepest first (rmdir: a directory
 * that still holds anything else stays). Async-signal-safe (unlink and rmdir only):
 * meant for a SIGINT/SIGTERM handler, which then re-raises the signal. */
void indiv_fileio_remove_temps(void);

#endif /* INDIV_FILEIO_H */
