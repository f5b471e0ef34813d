/*
 * fileio.c — the one writer of output files (see indiv/fileio.h for the contract).
 *
 * Invariants: a temporary file is created with O_EXCL (never clobbers anything), is
 * registered in `temps` while it exists, and is either renamed over its target after
 * fsync or unlinked. A process removes only temporary files it created. Nothing here
 * prints.
 */
#include "indiv/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYMLINK_DEPTH_MAX 40 /* as the kernel's ELOOP limit */
/* Slots per block of the registry: blocks are added as needed, so the registry has no
 * fixed size (a thorough study tracks hundreds of worlds, indiv partition up to 100,000
 * parts); 64 keeps one block about 1.5 KB. */
#define TEMP_BLOCK_SLOTS 64

struct indiv_outfile {
    FILE *f;
    char *target; /* the file finally written: path with symbolic links followed */
    char *tmp;    /* NULL when written through */
    int slot;     /* registry slot of tmp, -1 when none */
    char *shown;  /* the path as the user gave it, for messages */
};

/* Registry of the paths a signal must remove: the temporary files that exist now and
 * the outputs commands track until they are complete. A signal handler has no context
 * argument, so this is the one mutable global of the library; it holds only names of
 * files this process created.
 *
 * A chain of blocks, each published once with an atomic store and never freed: the
 * handler walks it with atomic loads only, so it may run at any moment, in any thread.
 * A slot's state is 0 free, 1 being filled, 2 published. Its name buffer is never freed
 * either: a handler may be reading it while another thread releases the slot. When a
 * longer name needs a new buffer, the old one is kept on the slot's list of retired
 * buffers (a name only grows a slot's buffer, so at most a few per slot). */
struct temp_buf {
    struct temp_buf *retired; /* earlier, shorter buffers of the slot */
    size_t cap;
    char name[];
};

struct temp_slot {
    atomic_int state;
    _Atomic(struct temp_buf *) buf;
};

struct temp_block {
    struct temp_slot slot[TEMP_BLOCK_SLOTS];
    _Atomic(struct temp_block *) next;
};

static struct temp_block temps;

/* Distinguishes the temporary names of one process (several outputs, several threads). */
static atomic_uint temp_counter;

/* The block after b, appended (by this thread or another) when there is none. NULL when
 * out of memory. */
static struct temp_block *next_block(struct temp_block *b) {
    struct temp_block *n = atomic_load(&b->next);
    if (n)
        return n;
    struct temp_block *fresh = calloc(1, sizeof *fresh), *expect = NULL;
    if (!fresh)
        return NULL;
    if (atomic_compare_exchange_strong(&b->next, &expect, fresh))
        return fresh;
    free(fresh); /* another thread appended one first */
    return expect;
}

/* Slot number k (0-based over the chain), or NULL past its end. */
static struct temp_slot *slot_at(long k) {
    struct temp_block *b = &temps;
    for (; b && k >= TEMP_BLOCK_SLOTS; k -= TEMP_BLOCK_SLOTS)
        b = atomic_load(&b->next);
    return b && k >= 0 ? &b->slot[k] : NULL;
}

/* Copies path into the slot's buffer (s is in state 1: no handler reads it). */
static int fill_slot(struct temp_slot *s, const char *path) {
    size_t n = strlen(path) + 1;
    struct temp_buf *old = atomic_load(&s->buf);
    if (!old || old->cap < n) {
        size_t cap = n < 256 ? 256 : n;
        struct temp_buf *b = malloc(sizeof *b + cap);
        if (!b)
            return -1;
        b->retired = old;
        b->cap = cap;
        atomic_store(&s->buf, b);
    }
    memcpy(atomic_load(&s->buf)->name, path, n);
    return 0;
}

/* Registers path: its slot number, or -1 when out of memory (the path is then still
 * correct, only not removable by a signal). */
static int register_temp(const char *path) {
    long k = 0;
    for (struct temp_block *b = &temps; b; b = next_block(b))
        for (int i = 0; i < TEMP_BLOCK_SLOTS; i++, k++) {
            int expect = 0;
            if (k > INT_MAX - 1)
                return -1;
            if (!atomic_compare_exchange_strong(&b->slot[i].state, &expect, 1))
                continue;
            if (fill_slot(&b->slot[i], path) != 0) {
                atomic_store(&b->slot[i].state, 0);
                return -1;
            }
            atomic_store(&b->slot[i].state, 2);
            return (int)k;
        }
    return -1;
}

static void unregister_temp(int k) {
    struct temp_slot *s = k >= 0 ? slot_at(k) : NULL;
    if (s)
        atomic_store(&s->state, 0);
}

/* The slot number of path, -1 when it is not registered. */
static int find_temp(const char *path) {
    long k = 0;
    for (struct temp_block *b = &temps; b; b = atomic_load(&b->next))
        for (int i = 0; i < TEMP_BLOCK_SLOTS; i++, k++)
            if (atomic_load(&b->slot[i].state) == 2 &&
                strcmp(atomic_load(&b->slot[i].buf)->name, path) == 0)
                return (int)k;
    return -1;
}

/* The published name of slot s, or NULL. Async-signal-safe. */
static const char *published(struct temp_slot *s) {
    if (atomic_load(&s->state) != 2)
        return NULL;
    struct temp_buf *b = atomic_load(&s->buf);
    return b ? b->name : NULL;
}

/* unlink(path + suffix) with no library call a signal handler may not make. */
static void unlink_suffixed(const char *path, const char *suffix) {
    char buf[PATH_MAX + 16];
    size_t n = 0, k = 0;
    while (path[n] && n < PATH_MAX)
        buf[n] = path[n], n++;
    if (path[n])
        return; /* longer than any path the kernel takes */
    while (suffix[k] && k < 15)
        buf[n++] = suffix[k++];
    buf[n] = '\0';
    unlink(buf);
}

/* unlink(path + "-journal"): a database built under a temporary name has one. */
static void unlink_journal(const char *path) {
    unlink_suffixed(path, "-journal");
}

/* One pass of rmdir over the registry: 1 when a directory was removed. */
static int rmdir_pass(void) {
    int removed = 0;
    for (struct temp_block *b = &temps; b; b = atomic_load(&b->next))
        for (int i = 0; i < TEMP_BLOCK_SLOTS; i++) {
            const char *p = published(&b->slot[i]);
            if (p && rmdir(p) == 0)
                removed = 1;
        }
    return removed;
}

/* Files first (with SQLite's companions: a tracked path may be a database), then the
 * directories, deepest first: rmdir fails on a non-empty one, so the passes repeat
 * while one succeeds (each success removes a directory, so there are at most as many
 * passes as tracked paths, and in practice as many as the nesting is deep). */
void indiv_fileio_remove_temps(void) {
    static const char *const companion[] = {"-journal", "-wal", "-shm"};
    for (struct temp_block *b = &temps; b; b = atomic_load(&b->next))
        for (int i = 0; i < TEMP_BLOCK_SLOTS; i++) {
            const char *p = published(&b->slot[i]);
            if (!p)
                continue;
            unlink(p);
            for (size_t k = 0; k < sizeof companion / sizeof companion[0]; k++)
                unlink_suffixed(p, companion[k]);
        }
    while (rmdir_pass())
        ;
}

int indiv_fileio_track(const char *path) {
    return register_temp(path);
}

void indiv_fileio_untrack(int handle) {
    unregister_temp(handle);
}

char *indiv_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The directory part of path ("." when none), malloc'ed. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* path with every symbolic link of its last component followed (the link may dangle:
 * then the file it names is the one to create). malloc'ed; NULL on ENOMEM or ELOOP. */
static char *follow_links(const char *path) {
    char *p = strdup(path);
    for (int depth = 0; p && depth <= SYMLINK_DEPTH_MAX; depth++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
            return p;
        char link[PATH_MAX];
        ssize_t k = readlink(p, link, sizeof link - 1);
        if (k < 0) {
            free(p);
            return NULL;
        }
        link[k] = '\0';
        char *d = link[0] == '/' ? NULL : dir_of(p);
        char *next = link[0] == '/' ? strdup(link) : d ? indiv_path_join(d, link) : NULL;
        free(d);
        free(p);
        p = next;
    }
    free(p);
    errno = ELOOP;
    return NULL;
}

/* The descriptor number of /dev/stdout, /dev/stderr or /dev/fd/N, or -1: these are
 * written through a duplicate of the process's own descriptor, so that a shell's
 * `>> file` keeps appending. */
static int std_fd(const char *path) {
    if (strcmp(path, "/dev/stdout") == 0 || strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0)
        return STDERR_FILENO;
    if (strncmp(path, "/dev/fd/", 8) == 0 && path[8] >= '0' && path[8] <= '9' &&
        strspn(path + 8, "0123456789") == strlen(path + 8) && strlen(path + 8) < 6)
        return atoi(path + 8);
    return -1;
}

static void outfile_free(indiv_outfile *o) {
    if (!o)
        return;
    free(o->target);
    free(o->tmp);
    free(o->shown);
    free(o);
}

/* Opens the target itself (no temporary file): for a device, FIFO, socket, terminal. */
static int open_through(indiv_outfile *o, indiv_error *err) {
    int sfd = std_fd(o->shown);
    int fd = sfd >= 0 ? dup(sfd) : open(o->target, O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && !(o->f = fdopen(fd, "w")))
        close(fd);
    if (!o->f)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot write: %s", o->shown,
                               strerror(errno));
    return INDIV_OK;
}

/* Creates <target>.tmp-<pid>-<n> exclusively (0666 less the umask, as any new file);
 * the descriptor, or -1 with errno set. */
static int create_exclusive(const char *target, char *tmp, size_t n) {
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        snprintf(tmp, n, "%s.tmp-%ld-%u", target, (long)getpid(),
                 atomic_fetch_add(&temp_counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    return fd;
}

int indiv_file_temp_create(const char *target, char **tmp, indiv_error *err) {
    size_t n = strlen(target) + 48;
    if (!(*tmp = malloc(n)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int fd = create_exclusive(target, *tmp, n);
    if (fd < 0) {
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        return indiv_error_set(err, INDIV_EIO, "%s: cannot create a file there: %s",
                               target, strerror(e));
    }
    close(fd);
    register_temp(*tmp);
    return INDIV_OK;
}

void indiv_file_temp_release(char *tmp, int remove) {
    if (!tmp)
        return;
    if (remove) {
        unlink(tmp);
        unlink_journal(tmp);
    }
    unregister_temp(find_temp(tmp));
    free(tmp);
}

/* Creates the temporary file of o, with the target's mode when it exists. */
static int open_temp(indiv_outfile *o, const struct stat *st, indiv_error *err) {
    size_t n = strlen(o->target) + 48;
    if (!(o->tmp = malloc(n)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    int fd = create_exclusive(o->target, o->tmp, n);
    if (fd < 0)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot create a file there: %s",
                               o->shown, strerror(errno));
    o->slot = register_temp(o->tmp);
    if (st)
        (void)fchmod(fd, st->st_mode & 07777); /* best effort: the content matters */
    if (!(o->f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
        unregister_temp(o->slot);
        return indiv_error_set(err, INDIV_EIO, "%s: cannot write: %s", o->shown,
                               strerror(e));
    }
    return INDIV_OK;
}

int indiv_outfile_open(const char *path, indiv_outfile **out, indiv_error *err) {
    *out = NULL;
    if (!path || !*path)
        return indiv_error_set(err, INDIV_EINVAL, "empty output path");
    indiv_outfile *o = calloc(1, sizeof *o);
    if (!o || !(o->shown = strdup(path))) {
        free(o);
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    o->slot = -1;
    int rc = INDIV_OK;
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!(o->target = follow_links(path)))
        rc = indiv_error_set(err, errno == ENOMEM ? INDIV_ENOMEM : INDIV_EIO,
                             "%s: cannot resolve the path: %s", path, strerror(errno));
    else if (exists && S_ISDIR(st.st_mode))
        rc = indiv_error_set(err, INDIV_EIO, "%s: is a directory, not a file", path);
    else if (std_fd(path) >= 0 || (exists && !S_ISREG(st.st_mode)))
        rc = open_through(o, err);
    else
        rc = open_temp(o, exists ? &st : NULL, err);
    if (rc < 0)
        outfile_free(o);
    else
        *out = o;
    return rc;
}

FILE *indiv_outfile_stream(const indiv_outfile *o) {
    return o->f;
}

const char *indiv_outfile_write_path(const indiv_outfile *o) {
    return o->tmp ? o->tmp : o->target;
}

/* fsync of the directory that holds path, so that the rename itself is durable. Some
 * file systems refuse fsync on a directory (EINVAL): nothing more can be done there. */
static int sync_dir_of(const char *path) {
    char *d = dir_of(path);
    int fd = d ? open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int ok = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL);
    if (fd >= 0)
        close(fd);
    free(d);
    return ok ? 0 : -1;
}

/* First step of a commit: the data on disk (flushed, fsync'ed, closed), not yet in
 * place. */
static int settle(indiv_outfile *o, indiv_error *err) {
    int e = 0;
    if (fflush(o->f) != 0 || (o->tmp && fsync(fileno(o->f)) != 0))
        e = errno;
    if (fclose(o->f) != 0 && !e)
        e = errno;
    o->f = NULL;
    if (e)
        return indiv_error_set(err, INDIV_EIO, "%s: write failed: %s", o->shown,
                               strerror(e));
    return INDIV_OK;
}

/* Second step: the settled file renamed over its target, and the rename made durable. */
static int install(indiv_outfile *o, indiv_error *err) {
    if (!o->tmp)
        return INDIV_OK;
    if (rename(o->tmp, o->target) != 0)
        return indiv_error_set(err, INDIV_EIO,
                               "%s: cannot move the output into place: %s", o->shown,
                               strerror(errno));
    unregister_temp(o->slot);
    o->slot = -1;
    free(o->tmp);
    o->tmp = NULL; /* renamed: nothing left to remove */
    if (sync_dir_of(o->target) != 0)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot sync its directory: %s",
                               o->shown, strerror(errno));
    return INDIV_OK;
}

/* Closes o, removes its temporary file when it was not installed, frees it. */
static void release(indiv_outfile *o) {
    if (!o)
        return;
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp); /* ours: created with O_EXCL above; NULL once renamed */
    unregister_temp(o->slot);
    outfile_free(o);
}

int indiv_outfile_finish(indiv_outfile *o, int rc, indiv_error *err) {
    return indiv_outfile_finish_all(&o, 1, rc, err);
}

int indiv_outfile_finish_all(indiv_outfile *const *o, size_t n, int rc,
                             indiv_error *err) {
    for (size_t i = 0; rc == INDIV_OK && i < n; i++)
        if (o[i])
            rc = settle(o[i], err);
    for (size_t i = 0; rc == INDIV_OK && i < n; i++)
        if (o[i])
            rc = install(o[i], err);
    for (size_t i = 0; i < n; i++)
        release(o[i]);
    return rc;
}

int indiv_file_write_atomic(const char *path,
                            int (*write)(FILE *f, void *ctx, indiv_error *err), void *ctx,
                            indiv_error *err) {
    indiv_outfile *o;
    int rc = indiv_outfile_open(path, &o, err);
    if (rc < 0)
        return rc;
    rc = write(o->f, ctx, err);
    if (rc == INDIV_OK && ferror(o->f))
        rc = indiv_error_set(err, INDIV_EIO, "%s: write failed: %s", path,
                             strerror(errno));
    return indiv_outfile_finish(o, rc, err);
}

/* The directory of path resolved (realpath) joined to its last component; NULL when
 * the directory does not exist. */
static char *canonical(const char *path) {
    char *t = follow_links(path), *d = t ? dir_of(t) : NULL;
    char *r = d ? realpath(d, NULL) : NULL, *c = NULL;
    if (r) {
        const char *base = strrchr(t, '/');
        c = indiv_path_join(r, base ? base + 1 : t);
    }
    free(t);
    free(d);
    free(r);
    return c;
}

int indiv_path_same(const char *a, const char *b) {
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea || eb)
        return 0;
    char *ca = canonical(a), *cb = canonical(b);
    int same = ca && cb ? strcmp(ca, cb) == 0 : strcmp(a, b) == 0;
    free(ca);
    free(cb);
    return same;
}

/* 1 when path is the database or one of SQLite's companion files of it. */
static int is_database(const char *path, const char *db) {
    static const char *const suffix[] = {"", "-journal", "-wal", "-shm"};
    int same = 0;
    for (size_t i = 0; !same && i < sizeof suffix / sizeof suffix[0]; i++) {
        char *p = malloc(strlen(db) + strlen(suffix[i]) + 1);
        if (!p)
            return 0;
        strcat(strcpy(p, db), suffix[i]);
        same = indiv_path_same(path, p);
        free(p);
    }
    return same;
}

/* 1 for an existing file that is written through (two outputs to /dev/null are fine). */
static int written_through(const char *path) {
    struct stat st;
    return std_fd(path) >= 0 || (stat(path, &st) == 0 && !S_ISREG(st.st_mode));
}

/* 1 when a and b, both written through, reach one stream, so that their data would
 * interleave: the same standard descriptor ("-" and /dev/stdout), or one FIFO, socket
 * or file (what stdout is redirected to); a character device (/dev/null, a terminal)
 * takes both without loss of meaning. */
static int same_stream(const char *a, const char *b) {
    int fa = std_fd(a), fb = std_fd(b);
    if (fa >= 0 && fa == fb)
        return 1;
    struct stat sa, sb;
    int ea = fa >= 0 ? fstat(fa, &sa) == 0 : stat(a, &sa) == 0;
    int eb = fb >= 0 ? fstat(fb, &sb) == 0 : stat(b, &sb) == 0;
    return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino &&
           !S_ISCHR(sa.st_mode);
}

int indiv_path_check_outputs(const char *db, const char *const *paths,
                             const char *const *names, size_t n, indiv_error *err) {
    return indiv_path_check_io(db, paths, names, n, NULL, NULL, 0, err);
}

/* The first input (existing, not written through) that is the same file as path. */
static long same_input(const char *path, const char *const *inputs, size_t m) {
    for (size_t k = 0; k < m; k++)
        if (inputs[k] && !written_through(inputs[k]) && indiv_path_same(path, inputs[k]))
            return (long)k;
    return -1;
}

int indiv_path_check_io(const char *db, const char *const *paths,
                        const char *const *names, size_t n, const char *const *inputs,
                        const char *const *in_names, size_t m, indiv_error *err) {
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!paths[i])
            continue;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "%s %s is a directory: give a file name", names[i],
                                   paths[i]);
        if (written_through(paths[i])) {
            for (size_t j = 0; j < i; j++)
                if (paths[j] && written_through(paths[j]) &&
                    same_stream(paths[i], paths[j]))
                    return indiv_error_set(err, INDIV_EINVAL,
                                           "%s %s and %s %s are the same stream: their "
                                           "data would be interleaved; give each output "
                                           "its own path",
                                           names[j], paths[j], names[i], paths[i]);
            continue;
        }
        if (db && is_database(paths[i], db))
            return indiv_error_set(err, INDIV_EINVAL,
                                   "%s %s would overwrite the database %s: give another "
                                   "path",
                                   names[i], paths[i], db);
        long k = same_input(paths[i], inputs, m);
        if (k >= 0)
            return indiv_error_set(err, INDIV_EINVAL,
                                   "%s %s would overwrite the input %s %s: give another "
                                   "path",
                                   names[i], paths[i], in_names[k], inputs[k]);
        for (size_t j = 0; j < i; j++)
            if (paths[j] && indiv_path_same(paths[i], paths[j]))
                return indiv_error_set(err, INDIV_EINVAL,
                                       "%s %s and %s %s are the same file: give each "
                                       "output its own path",
                                       names[j], paths[j], names[i], paths[i]);
    }
    return INDIV_OK;
}

int indiv_path_check_creatable(const char *path, indiv_error *err) {
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return indiv_error_set(err, INDIV_EIO, "%s: is a directory, not a file", path);
    if (!path || written_through(path))
        return INDIV_OK;
    char *t = follow_links(path), *d = t ? dir_of(t) : NULL;
    int e = !d ? errno : stat(d, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR
                                          : access(d, W_OK | X_OK) != 0 ? errno
                                                                         : 0;
    free(t);
    free(d);
    if (e == ENOMEM)
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    return e ? indiv_error_set(err, INDIV_EIO, "%s: cannot create a file there: %s", path,
                               strerror(e))
             : INDIV_OK;
}

int indiv_dir_make(const char *path, int *created, indiv_error *err) {
    struct stat st;
    int made = mkdir(path, 0777) == 0;
    if (created)
        *created = made;
    if (!made && errno != EEXIST)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot create the directory: %s",
                               path, strerror(errno));
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return indiv_error_set(err, INDIV_EIO, "%s: exists and is not a directory", path);
    return INDIV_OK;
}
