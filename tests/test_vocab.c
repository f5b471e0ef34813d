/*
 * test_vocab.c — the shared vocabulary: names round-trip for every code, and the engine's
 * headers (policy, score, decision) do not pull in the store's API (docs/architecture.md
 * §3).
 */
#include "indiv/decision.h"
#include "indiv/policy.h"
#include "indiv/score.h"

#include <criterion/criterion.h>

#include "indiv/error.h"

/* Set when one of the headers above included eventlog.h. */
#ifdef INDIV_EVENTLOG_H
static const int store_header_included = 1;
#else
static const int store_header_included = 0;
#endif

Test(vocab, engine_headers_do_not_include_the_store) {
    cr_assert_eq(store_header_included, 0,
                 "policy.h, score.h or decision.h includes eventlog.h; use vocab.h");
}

Test(vocab, every_event_type_name_parses_back_to_its_code) {
    cr_assert_null(indiv_event_type_name(INDIV_EV_NONE));
    cr_assert_null(indiv_event_type_name(INDIV_EV_MAX + 1));
    for (int t = 1; t <= INDIV_EV_MAX; t++) {
        int back = -1;
        cr_assert_eq(indiv_event_type_parse(indiv_event_type_name(t), &back), INDIV_OK);
        cr_assert_eq(back, t);
    }
}

Test(vocab, every_channel_name_parses_back_to_its_code) {
    cr_assert_null(indiv_channel_name(-1));
    cr_assert_null(indiv_channel_name(INDIV_CH_MAX + 1));
    for (int c = 0; c <= INDIV_CH_MAX; c++) {
        int back = -1;
        cr_assert_eq(indiv_channel_parse(indiv_channel_name(c), &back), INDIV_OK);
        cr_assert_eq(back, c);
    }
}

Test(vocab, contactable_channels_are_email_sms_and_push) {
    cr_assert_eq(INDIV_CH_CONTACTABLE, (1u << 1) | (1u << 2) | (1u << 3));
    cr_assert_eq(INDIV_CH_CONTACTABLE & INDIV_CH_BIT(INDIV_CH_WEB), 0u);
    cr_assert_eq(INDIV_CH_CONTACTABLE & INDIV_CH_BIT(INDIV_CH_STORE), 0u);
}
