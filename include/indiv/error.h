/*
 * error.h — status codes and the error record every fallible indiv function fills.
 *
 * Functions that can fail return an int: 0 (INDIV_OK) on success, a negative
 * indiv_status on failure, and, when the caller passes a non-NULL indiv_error, a message
 * naming the file, line or field at fault. As in jansson's json_error_t, the first error
 * wins: inner layers set the precise message, outer layers cannot overwrite it. A caller
 * zero-initialises the record (indiv_error err = {0};) or calls indiv_error_clear().
 */
#ifndef INDIV_ERROR_H
#define INDIV_ERROR_H

#define INDIV_ERROR_MSG_MAX 512

typedef enum indiv_status {
    INDIV_OK = 0,
    INDIV_EINVAL = -1,    /* invalid argument or parameter value */
    INDIV_EIO = -2,       /* a file cannot be opened, read or written */
    INDIV_ENOMEM = -3,    /* allocation failed */
    INDIV_EDB = -4,       /* the database engine reported an error */
    INDIV_ESCHEMA = -5,   /* database of another schema version, or not an indiv one */
    INDIV_EFORMAT = -6,   /* malformed input data */
    INDIV_EDUP = -7,      /* the same input was already imported */
    INDIV_ENOTFOUND = -8, /* a named thing does not exist */
    INDIV_EREADONLY = -9, /* the database or file cannot be written */
    INDIV_EBUSY = -10     /* the database stayed locked by another writer too long */
} indiv_status;

typedef struct indiv_error {
    int code;                      /* 0 while no error was recorded */
    char msg[INDIV_ERROR_MSG_MAX]; /* human-readable, names what is at fault */
} indiv_error;

/* Resets err to "no error". Accepts NULL. */
void indiv_error_clear(indiv_error *err);

/* Records code and a printf-style message in err unless err is NULL or already holds an
 * error. Returns code, so that `return indiv_error_set(err, INDIV_EINVAL, ...)` reads
 * naturally. */
int indiv_error_set(indiv_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short English name of a status code ("invalid argument", ...). Never NULL. */
const char *indiv_status_str(int code);

#endif /* INDIV_ERROR_H */
