/*
 * vocab.c — names of the event types and channels (contract in vocab.h), the same as the
 * event_types and channels tables of datasets/schema.sql.
 */
#include "indiv/vocab.h"

#include <stddef.h>
#include <strings.h>

#include "indiv/error.h"

static const char *const type_names[INDIV_EV_MAX + 1] = {
    NULL,   "view",  "purchase", "return",     "contact",
    "open", "click", "dismiss",  "unsubscribe"};
static const char *const channel_names[INDIV_CH_MAX + 1] = {"none", "email", "sms",
                                                            "push", "web",   "store"};

/* Index of name (case-insensitive) in names[lo..hi] into *out; INDIV_EINVAL if absent. */
static int find_name(const char *const *names, int lo, int hi, const char *name,
                     int *out) {
    for (int i = lo; i <= hi; i++)
        if (strcasecmp(name, names[i]) == 0) {
            *out = i;
            return INDIV_OK;
        }
    return INDIV_EINVAL;
}

const char *indiv_event_type_name(int type) {
    return (type >= 1 && type <= INDIV_EV_MAX) ? type_names[type] : NULL;
}

int indiv_event_type_parse(const char *name, int *type) {
    return find_name(type_names, 1, INDIV_EV_MAX, name, type);
}

const char *indiv_channel_name(int channel) {
    return (channel >= 0 && channel <= INDIV_CH_MAX) ? channel_names[channel] : NULL;
}

int indiv_channel_parse(const char *name, int *channel) {
    return find_name(channel_names, 0, INDIV_CH_MAX, name, channel);
}
