/*
 * timeutil.c — time-zone-free UTC conversions (Hinnant's civil-date algorithms).
 */
#include "indiv/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Floor division, for negative timestamps. */
static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t indiv_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = floordiv(y, 400);
    const int64_t yoe = y - era * 400;                                  /* [0, 399] */
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = floordiv(z, 146097);
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, unsigned m) {
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dim[m - 1] + (m == 2 && leap);
}

/* Reads exactly n digits into *v. */
static int digits(const char **p, int n, int *v) {
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

/* Unix seconds: an optional '-' and digits only (no blank, no '+', which strtoll would
 * take), within the years 1-9999. */
static int parse_unix(const char *s, int64_t *ts) {
    const char *d = *s == '-' ? s + 1 : s;
    if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 18)
        return INDIV_EINVAL;
    long long v = strtoll(s, NULL, 10);
    if (!indiv_time_valid(v))
        return INDIV_EINVAL;
    *ts = v;
    return INDIV_OK;
}

int indiv_time_valid(int64_t ts) {
    return ts >= INDIV_TIME_MIN && ts <= INDIV_TIME_MAX;
}

/* Optional "Z" or "+HH:MM" / "-HH:MM" at *p; offset in seconds east of UTC. */
static int parse_zone(const char *p, int64_t *offset) {
    *offset = 0;
    if (*p == '\0' || (p[0] == 'Z' && p[1] == '\0'))
        return 0;
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1, hh, mm;
    if (digits(&p, 2, &hh) < 0 || *p++ != ':' || digits(&p, 2, &mm) < 0 || *p)
        return -1;
    if (hh > 23 || mm > 59)
        return -1;
    *offset = sign * (hh * 3600 + mm * 60);
    return 0;
}

/* "HH:MM" or "HH:MM:SS" at *p. */
static int parse_clock(const char **p, int *hh, int *mi, int *ss) {
    *ss = 0;
    if (digits(p, 2, hh) < 0 || *(*p)++ != ':' || digits(p, 2, mi) < 0)
        return -1;
    if (**p == ':' && ((*p)++, digits(p, 2, ss) < 0))
        return -1;
    return (*hh > 23 || *mi > 59 || *ss > 59) ? -1 : 0;
}

int indiv_time_parse(const char *s, int64_t *ts) {
    if (!s || !*s)
        return INDIV_EINVAL;
    size_t len = strlen(s);
    if (len < 10 || s[4] != '-')
        return parse_unix(s, ts);
    const char *p = s;
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        digits(&p, 2, &d) < 0)
        return INDIV_EINVAL;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo))
        return INDIV_EINVAL;
    if ((*p == 'T' || *p == ' ') && (p++, parse_clock(&p, &hh, &mi, &ss) < 0))
        return INDIV_EINVAL;
    int64_t off;
    if (parse_zone(p, &off) < 0)
        return INDIV_EINVAL;
    int64_t t =
        indiv_days_from_civil(y, (unsigned)mo, (unsigned)d) * INDIV_SECONDS_PER_DAY +
        hh * 3600 + mi * 60 + ss - off;
    if (!indiv_time_valid(t)) /* an offset may push 0001-01-01 or 9999-12-31 out */
        return INDIV_EINVAL;
    *ts = t;
    return INDIV_OK;
}

/* Writes v (0 <= v < 10^n) as n digits at p. */
static void put_digits(char *p, unsigned v, int n) {
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

char *indiv_time_format(int64_t ts, char buf[INDIV_ISO_LEN]) {
    int64_t days = floordiv(ts, INDIV_SECONDS_PER_DAY), y;
    int64_t sod = ts - days * INDIV_SECONDS_PER_DAY;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999) { /* the fixed width: digits by hand (every decision line
                                  has one or two; snprintf was 3% of a decide run) */
        memcpy(buf, "0000-00-00T00:00:00Z", INDIV_ISO_LEN);
        put_digits(buf, (unsigned)y, 4);
        put_digits(buf + 5, m, 2);
        put_digits(buf + 8, d, 2);
        put_digits(buf + 11, (unsigned)(sod / 3600), 2);
        put_digits(buf + 14, (unsigned)(sod / 60 % 60), 2);
        put_digits(buf + 17, (unsigned)(sod % 60), 2);
        return buf;
    }
    /* Years outside 0..9999 do not fit the fixed width; they are cut, never overflow. */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    memcpy(buf, tmp, INDIV_ISO_LEN - 1);
    buf[INDIV_ISO_LEN - 1] = '\0';
    return buf;
}

int indiv_time_hour(int64_t ts) {
    int64_t sod = ts - floordiv(ts, INDIV_SECONDS_PER_DAY) * INDIV_SECONDS_PER_DAY;
    return (int)(sod / 3600);
}

int indiv_time_dow(int64_t ts) {
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t days = floordiv(ts, INDIV_SECONDS_PER_DAY);
    return (int)((days % 7 + 7 + 3) % 7);
}
