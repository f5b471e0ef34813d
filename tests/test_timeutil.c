/*
 * test_timeutil.c — ISO 8601 parsing/formatting and calendar fields, time-zone free.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "indiv/timeutil.h"

typedef struct {
    char text[40]; /* an array, not a pointer: Criterion runs params in a new process */
    long long ts;  /* expected; computed with `date -u -d <text> +%s` */
} time_case;

ParameterizedTestParameters(timeutil, parses_known_times) {
    static time_case cases[] = {
        {"1970-01-01", 0},
        {"2010-12-01 08:26:00", 1291191960},
        {"2010-12-01T08:26:00Z", 1291191960},
        {"2010-12-01T08:26", 1291191960},
        {"2011-02-01", 1296518400},
        {"2000-02-29T23:59:59Z", 951868799},
        {"2026-11-22T10:33:53+01:00", 1795340033},
        {"2026-11-22T10:33:53-02:30", 1795352633},
        {"1969-12-31T23:59:59Z", -1},
        {"1291191960", 1291191960},
        {"-86400", -86400},
    };
    return cr_make_param_array(time_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(time_case *c, timeutil, parses_known_times) {
    int64_t ts = 0;
    cr_assert_eq(indiv_time_parse(c->text, &ts), 0, "'%s' refused", c->text);
    cr_assert_eq(ts, c->ts, "'%s' -> %lld, expected %lld", c->text, (long long)ts, c->ts);
}

Test(timeutil, refuses_malformed_times) {
    static const char *bad[] = {"",
                                "2011-13-01",
                                "2011-02-29",
                                "2011-02-30",
                                "2011-02-01T24:00:00",
                                "2011-02-01T10:60",
                                "2011/02/01",
                                "2011-02-01 10:00 UTC",
                                "12abc",
                                "2011-02-01T10:00:00+25:00",
                                "2011-2-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ts = 42;
        cr_assert_lt(indiv_time_parse(bad[i], &ts), 0, "'%s' accepted", bad[i]);
        cr_assert_eq(ts, 42, "output written on failure for '%s'", bad[i]);
    }
}

Test(timeutil, formats_round_trip) {
    char buf[INDIV_ISO_LEN];
    cr_assert_str_eq(indiv_time_format(1291191960, buf), "2010-12-01T08:26:00Z");
    cr_assert_str_eq(indiv_time_format(-1, buf), "1969-12-31T23:59:59Z");
    cr_assert_str_eq(indiv_time_format(951868799, buf), "2000-02-29T23:59:59Z");
    for (int64_t ts = -400LL * 86400 * 366; ts < 400LL * 86400 * 366;
         ts += 86400 * 37 + 3599) {
        int64_t back;
        cr_assert_eq(indiv_time_parse(indiv_time_format(ts, buf), &back), 0);
        cr_assert_eq(back, ts, "%s", buf);
    }
}

/* The ends of the fixed width (written digit by digit), and past them (cut). */
Test(timeutil, formats_the_ends_of_the_fixed_width) {
    char buf[INDIV_ISO_LEN];
    cr_assert_str_eq(indiv_time_format(INT64_C(-62167219200), buf),
                     "0000-01-01T00:00:00Z");
    cr_assert_str_eq(indiv_time_format(INT64_C(253402300799), buf),
                     "9999-12-31T23:59:59Z");
    cr_assert_str_eq(indiv_time_format(INT64_C(253402300800), buf),
                     "10000-01-01T00:00:00");
    cr_assert_str_eq(indiv_time_format(INT64_C(-62167219201), buf),
                     "-001-12-31T23:59:59Z");
    cr_assert_str_eq(indiv_time_format(INT64_C(1780308059), buf),
                     "2026-06-01T10:00:59Z");
}

Test(timeutil, hour_and_day_of_week) {
    /* 2010-12-01 was a Wednesday; 1969-12-31 23:59:59 a Wednesday too. */
    cr_assert_eq(indiv_time_hour(1291191960), 8);
    cr_assert_eq(indiv_time_dow(1291191960), 2);
    cr_assert_eq(indiv_time_dow(-1), 2);
    cr_assert_eq(indiv_time_hour(-1), 23);
    cr_assert_eq(indiv_time_dow(0), 3); /* Thursday */
    cr_assert_eq(indiv_days_from_civil(2011, 2, 1), 15006);
}

Test(timeutil, accepts_only_the_years_1_to_9999) {
    static const char *bad[] = {"-9223372036854775808",
                                "9223372036854775807",
                                "253402300800",
                                "-62135596801",
                                "0000-12-31",
                                "10000-01-01",
                                " 1293962400",
                                "+1293962400",
                                "1293962400 ",
                                "0001-01-01T00:00:00+00:01",
                                "9999-12-31T23:59:59-00:01",
                                "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ts = 42;
        cr_expect_lt(indiv_time_parse(bad[i], &ts), 0, "'%s' accepted", bad[i]);
        cr_expect_eq(ts, 42);
    }
    int64_t lo, hi;
    cr_assert_eq(indiv_time_parse("0001-01-01", &lo), 0);
    cr_assert_eq(indiv_time_parse("9999-12-31T23:59:59Z", &hi), 0);
    cr_expect_eq(lo, INDIV_TIME_MIN);
    cr_expect_eq(hi, INDIV_TIME_MAX);
    cr_expect_eq(indiv_time_parse("-62135596800", &lo), 0);
    cr_expect_eq(indiv_time_parse("253402300799", &hi), 0);
    cr_expect(indiv_time_valid(hi) && !indiv_time_valid(hi + 1));
    cr_expect(!indiv_time_valid(INT64_MIN));
}
