/*
 * vocab.h — the words the store and the engine share: event types, channels and their
 * bits, the "no time" sentinel, the consumer record the policy reads, and the name of
 * the event log's handle.
 *
 * Codes are stored as they are in the database (events.type, events.channel,
 * consumers.channels) and named in its event_types and channels tables
 * (datasets/schema.sql): append, never renumber. This header needs no SQL: the policy,
 * the scorer and the profile's record types include it instead of eventlog.h, which
 * re-includes it (docs/architecture.md §3).
 */
#ifndef INDIV_VOCAB_H
#define INDIV_VOCAB_H

#include <stdint.h>

/* "No timestamp" for optional times (offer validity bounds, no purchase yet...). */
#define INDIV_TS_NONE INT64_MIN

/* The event log's handle (eventlog.h), named here so that headers can take one without
 * including the store's API. */
typedef struct indiv_eventlog indiv_eventlog;

/* Event types; codes are stored in events.type and named in the event_types table. */
typedef enum indiv_event_type {
    INDIV_EV_NONE = 0, /* no event: only in scan rows of consumers without events */
    INDIV_EV_VIEW = 1,
    INDIV_EV_PURCHASE = 2,
    INDIV_EV_RETURN = 3,
    INDIV_EV_CONTACT = 4, /* we sent something */
    INDIV_EV_OPEN = 5,    /* they opened it */
    INDIV_EV_CLICK = 6,   /* they clicked through */
    INDIV_EV_DISMISS = 7,
    INDIV_EV_UNSUBSCRIBE = 8
} indiv_event_type;
#define INDIV_EV_MAX 8

/* Channels; email, sms and push can carry a contact, web and store cannot. */
typedef enum indiv_channel {
    INDIV_CH_NONE = 0, /* unknown (stored as NULL) */
    INDIV_CH_EMAIL = 1,
    INDIV_CH_SMS = 2,
    INDIV_CH_PUSH = 3,
    INDIV_CH_WEB = 4,
    INDIV_CH_STORE = 5
} indiv_channel;
#define INDIV_CH_MAX 5
/* Bit of a channel in consumers.channels. */
#define INDIV_CH_BIT(ch) (1u << (ch))
/* All contactable channels. */
#define INDIV_CH_CONTACTABLE                                                             \
    (INDIV_CH_BIT(INDIV_CH_EMAIL) | INDIV_CH_BIT(INDIV_CH_SMS) |                         \
     INDIV_CH_BIT(INDIV_CH_PUSH))

/* A consumer as the engine sees it: id, consent per purpose, accepted channels. */
typedef struct indiv_consumer_row {
    int64_t id;
    const char *ext_id; /* borrowed until the next call on the cursor */
    int consent_profiling, consent_contact;
    unsigned channels;       /* mask of INDIV_CH_BIT of accepted channels */
    int64_t unsubscribed_ts; /* INDIV_TS_NONE when subscribed */
} indiv_consumer_row;

/* "purchase", ... for a valid code, NULL otherwise. */
const char *indiv_event_type_name(int type);
/* Parses a type name (case-insensitive); INDIV_EINVAL when unknown. */
int indiv_event_type_parse(const char *name, int *type /* OUT */);
/* "none", "email", ... for a valid code (0..INDIV_CH_MAX), NULL otherwise. */
const char *indiv_channel_name(int channel);
/* Parses a channel name (case-insensitive), "none" included; INDIV_EINVAL when unknown.
 */
int indiv_channel_parse(const char *name, int *channel /* OUT */);

#endif /* INDIV_VOCAB_H */
