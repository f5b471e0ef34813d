/*
 * decision.c — decision records as JSON lines (jansson, json_dumpb into a reused
 * buffer), and their counts.
 */
#include "indiv/decision.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "indiv/timeutil.h"

/* Reals: 6 significant digits are plenty for scores and keep lines short. */
#define LINE_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
/* Free space kept in a line buffer before dumping into it: most lines fit. */
#define LINE_ROOM 2048
/* Drivers listed per decision: the largest contributions to the first offer's logit. */
#define TOP_DRIVERS 3

void indiv_buf_free(indiv_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(indiv_buf *b, size_t extra) {
    if (b->len + extra <= b->cap)
        return INDIV_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return INDIV_ENOMEM;
    b->data = p;
    b->cap = cap;
    return INDIV_OK;
}

int indiv_buf_append(indiv_buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n) < 0)
        return INDIV_ENOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return INDIV_OK;
}

static void set(json_t *o, const char *k, json_t *v) {
    json_object_set_new_nocheck(o, k, v);
}

static json_t *iso(int64_t ts) {
    char buf[INDIV_ISO_LEN];
    return json_string_nocheck(indiv_time_format(ts, buf));
}

/* A JSON string of s. Ids and names come from the source system and are not always
 * UTF-8 (Latin-1 exports are common); jansson refuses those, which would silently drop
 * the field, so they are read as Latin-1 instead: every byte one code point, so distinct
 * ids stay distinct. NULL only when out of memory. */
static json_t *text(const char *s) {
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s), k = 0;
    char *u = malloc(2 * n + 1);
    if (!u)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) {
            u[k++] = (char)*p;
        } else {
            u[k++] = (char)(0xC0 | (*p >> 6));
            u[k++] = (char)(0x80 | (*p & 0x3F));
        }
    }
    j = json_stringn(u, k);
    free(u);
    return j;
}

/* Rounds to 6 significant digits, so that the printed value is stable and short. */
static json_t *num(double v) {
    return json_real(isfinite(v) ? v : 0);
}

static json_t *offer_json(const indiv_decided_offer *o, const indiv_catalog *cat) {
    const indiv_offer *of = indiv_catalog_offer(cat, o->offer);
    json_t *j = json_object();
    set(j, "offer", text(of->ext_id));
    set(j, "name", text(of->name));
    set(j, "category", text(indiv_catalog_category_name(cat, of->category)));
    set(j, "rank", json_integer(o->rank));
    static const char *const kinds[] = {"relevant", "divergent", "control"};
    set(j, "kind", json_string_nocheck(kinds[o->kind]));
    set(j, "score", num(o->p));
    set(j, "channel_score", num(o->p_channel));
    set(j, "affinity", num(o->affinity));
    if (o->kind == INDIV_KIND_DIVERGENT)
        set(j, "distance", num(1.0 - o->affinity));
    if (o->kind == INDIV_KIND_DIVERGENT && o->plausibility > 0)
        set(j, "plausibility", num(o->plausibility));
    set(j, "expected_value", num(o->value));
    set(j, "propensity", num(o->logged_p));
    return j;
}

/* The TOP_DRIVERS model terms with the largest absolute contribution, largest first. */
static json_t *drivers_json(const indiv_decision *d) {
    int order[INDIV_TERM_COUNT];
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        order[t] = t;
    for (int a = 1; a < INDIV_TERM_COUNT; a++) /* insertion sort, stable on ties */
        for (int b = a;
             b > 0 && fabs(d->drivers[order[b]]) > fabs(d->drivers[order[b - 1]]); b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    json_t *a = json_array();
    for (int k = 0; k < TOP_DRIVERS && k < INDIV_TERM_COUNT; k++) {
        json_t *j = json_object();
        set(j, "term", json_string_nocheck(indiv_model_term_name(order[k])));
        set(j, "contribution", num(d->drivers[order[k]]));
        json_array_append_new(a, j);
    }
    return a;
}

static void add_offers(json_t *o, const indiv_decision *d,
                       const indiv_decision_ctx *ctx) {
    json_t *a = json_array();
    for (int k = 0; k < d->n_offers; k++)
        json_array_append_new(a, offer_json(&d->offers[k], ctx->cat));
    set(o, "offers", a);
    if (d->n_offers)
        set(o, "drivers", drivers_json(d));
}

static void add_divergence(json_t *o, const indiv_decision *d) {
    if (!d->divergence_drawn)
        return;
    json_t *j = json_object();
    set(j, "drawn", json_true());
    set(j, "placed", json_boolean(d->divergence_miss == INDIV_DIVMISS_NONE));
    if (d->divergence_miss != INDIV_DIVMISS_NONE)
        set(j, "why",
            json_string_nocheck(indiv_divergence_miss_name(d->divergence_miss)));
    set(o, "divergence", j);
}

static json_t *decision_json(const indiv_decision *d, const char *ext_id,
                             const indiv_decision_ctx *ctx) {
    json_t *o = json_object();
    set(o, "consumer", text(ext_id));
    set(o, "action", json_string_nocheck(indiv_action_name(d->action)));
    set(o, "reason", json_string_nocheck(indiv_reason_name(d->reason)));
    if (d->action != INDIV_NONE)
        set(o, "channel", json_string_nocheck(indiv_channel_name(d->channel)));
    if (d->action == INDIV_CONTACT)
        set(o, "send_at", iso(d->send_at));
    if (d->action == INDIV_DEFER)
        set(o, "defer_until", iso(d->send_at));
    if (d->n_offers)
        add_offers(o, d, ctx);
    if (d->action == INDIV_NONE && d->has_best && d->n_offers == 0) {
        set(o, "best_offer", text(indiv_catalog_offer(ctx->cat, d->best_offer)->ext_id));
        set(o, "best_score", num(d->best_p));
    }
    add_divergence(o, d);
    if (d->control)
        set(o, "control", json_true());
    set(o, "propensity", num(d->propensity));
    set(o, "readiness", num(d->readiness));
    set(o, "contacts_recent", json_integer(d->contacts_recent));
    set(o, "personalised", json_boolean(d->personalised));
    set(o, "as_of", iso(ctx->as_of));
    set(o, "model", text(ctx->model_id));
    set(o, "seed", json_integer((json_int_t)ctx->seed));
    return o;
}

int indiv_decision_write_json(const indiv_decision *d, const char *consumer_ext_id,
                              const indiv_decision_ctx *ctx, indiv_buf *out) {
    json_t *o = decision_json(d, consumer_ext_id, ctx);
    if (!o)
        return INDIV_ENOMEM;
    /* Dump once into the free space (serialising is most of a run's time); only a line
     * longer than the room left is dumped again, after growing the buffer. */
    int rc = buf_reserve(out, LINE_ROOM);
    size_t room = out->cap - out->len, need = 0;
    if (rc == INDIV_OK)
        need = json_dumpb(o, out->data + out->len, room, LINE_FLAGS);
    if (rc == INDIV_OK && need + 1 > room &&
        (rc = buf_reserve(out, need + 1)) == INDIV_OK)
        json_dumpb(o, out->data + out->len, need, LINE_FLAGS);
    if (rc == INDIV_OK && need == 0)
        rc = INDIV_ENOMEM; /* jansson's only failure */
    if (rc == INDIV_OK) {
        out->len += need;
        out->data[out->len++] = '\n';
    }
    json_decref(o);
    return rc;
}

void indiv_decision_count(indiv_decision_counts *c, const indiv_decision *d) {
    c->consumers++;
    c->by_action[d->action]++;
    c->by_reason[d->reason]++;
    c->personalised += d->personalised;
    c->divergence_drawn += d->divergence_drawn;
    if (d->divergence_drawn)
        c->divergence_missed[d->divergence_miss]++;
    for (int k = 0; k < d->n_offers; k++)
        c->divergence_placed += d->offers[k].kind == INDIV_KIND_DIVERGENT;
    if (d->action == INDIV_CONTACT) {
        c->offers_sent += d->n_offers;
        int div = 0;
        for (int k = 0; k < d->n_offers; k++)
            div |= d->offers[k].kind == INDIV_KIND_DIVERGENT;
        c->contacts_divergent += div;
    }
    if (d->action == INDIV_NONE && d->has_best && d->n_offers == 0) {
        c->sum_best_p_none += d->best_p;
        c->n_best_p_none++;
    }
}

void indiv_decision_counts_add(indiv_decision_counts *into,
                               const indiv_decision_counts *c) {
    into->consumers += c->consumers;
    for (int a = 0; a < 3; a++)
        into->by_action[a] += c->by_action[a];
    for (int r = 0; r < INDIV_R_COUNT; r++)
        into->by_reason[r] += c->by_reason[r];
    into->personalised += c->personalised;
    into->offers_sent += c->offers_sent;
    into->contacts_divergent += c->contacts_divergent;
    into->divergence_drawn += c->divergence_drawn;
    into->divergence_placed += c->divergence_placed;
    for (int m = 0; m < 4; m++)
        into->divergence_missed[m] += c->divergence_missed[m];
    into->sum_best_p_none += c->sum_best_p_none;
    into->n_best_p_none += c->n_best_p_none;
}
