/*
 * error.c — the error record: first error wins, messages are truncated, never overflow.
 */
#include "indiv/error.h"

#include <stdarg.h>
#include <stdio.h>

void indiv_error_clear(indiv_error *err) {
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int indiv_error_set(indiv_error *err, int code, const char *fmt, ...) {
    if (!err || err->code != 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

const char *indiv_status_str(int code) {
    switch (code) {
    case INDIV_OK:
        return "ok";
    case INDIV_EINVAL:
        return "invalid argument";
    case INDIV_EIO:
        return "input/output error";
    case INDIV_ENOMEM:
        return "out of memory";
    case INDIV_EDB:
        return "database error";
    case INDIV_ESCHEMA:
        return "incompatible database";
    case INDIV_EFORMAT:
        return "malformed input";
    case INDIV_EDUP:
        return "already imported";
    case INDIV_ENOTFOUND:
        return "not found";
    case INDIV_EREADONLY:
        return "read-only";
    case INDIV_EBUSY:
        return "database busy";
    default:
        return "unknown error";
    }
}
