/*
 * timeutil.h — UTC timestamps: parse and format ISO 8601, calendar fields.
 *
 * indiv stores times as int64 UTC seconds since 1970-01-01. The conversions here do not
 * depend on the process time zone or locale (no mktime/localtime), so outputs are the
 * same on every machine. Civil-date arithmetic follows Howard Hinnant, "chrono-Compatible
 * Low-Level Date Algorithms" (days_from_civil / civil_from_days), proleptic Gregorian.
 */
#ifndef INDIV_TIMEUTIL_H
#define INDIV_TIMEUTIL_H

#include <stdint.h>

#include "indiv/error.h"

#define INDIV_SECONDS_PER_DAY 86400
/* Length of "YYYY-MM-DDTHH:MM:SSZ" plus NUL. */
#define INDIV_ISO_LEN 21

/* The times indiv accepts from any input (files, flags, model files): the years 1 to
 * 9999, 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. Far from INT64_MIN (the "no time"
 * sentinel) and from overflow in any day or week arithmetic. */
#define INDIV_TIME_MIN (-62135596800LL)
#define INDIV_TIME_MAX 253402300799LL

/* 1 when ts is within [INDIV_TIME_MIN, INDIV_TIME_MAX]. */
int indiv_time_valid(int64_t ts);

/* Parses a time: Unix seconds ("1291191960", optionally negative: digits only, no blank
 * or '+'), or ISO 8601 date / date-time: "YYYY-MM-DD", "YYYY-MM-DD HH:MM",
 * "YYYY-MM-DDTHH:MM:SS", optionally followed by "Z" or a "+HH:MM"/"-HH:MM" offset (no
 * offset means UTC). Fields are range-checked (month 1-12, day valid for the month,
 * hour < 24...) and the result must be within the years 1-9999 (indiv_time_valid).
 * INDIV_EINVAL on anything else. */
int indiv_time_parse(const char *s, int64_t *ts /* OUT */);

/* Writes ts as "YYYY-MM-DDTHH:MM:SSZ" into buf (INDIV_ISO_LEN bytes). Returns buf. */
char *indiv_time_format(int64_t ts, char buf[INDIV_ISO_LEN]);

/* Days since 1970-01-01 of a civil date (month 1-12, day 1-31). */
int64_t indiv_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Hour of day (0-23) and day of week (0 = Monday ... 6 = Sunday) of ts, in UTC. */
int indiv_time_hour(int64_t ts);
int indiv_time_dow(int64_t ts);

#endif /* INDIV_TIMEUTIL_H */
