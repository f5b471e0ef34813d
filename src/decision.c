/*
 * decision.c — decision records as JSON lines, and their counts.
 *
 * A line's reference form is the jansson object indiv_decision_json builds, dumped
 * compact with 6 significant digits. Building and freeing some 40 jansson values per
 * line was most of a run's time, so indiv_decision_write_json writes the same bytes
 * straight into the caller's buffer: keys in the object's order, strings as jansson
 * escapes them (those that are not plain printable ASCII are still handed to jansson),
 * reals as jansson's snprintf("%.6g") path prints them (a short exact path for the
 * usual range, snprintf otherwise). test_decision holds the two forms equal on decisions
 * of every shape and on reals and strings at the edges.
 */
#include "indiv/decision.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "decision_internal.h"
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
static void driver_order(const indiv_decision *d, int order[INDIV_TERM_COUNT]) {
    for (int t = 0; t < INDIV_TERM_COUNT; t++)
        order[t] = t;
    for (int a = 1; a < INDIV_TERM_COUNT; a++) /* insertion sort, stable on ties */
        for (int b = a;
             b > 0 && fabs(d->drivers[order[b]]) > fabs(d->drivers[order[b - 1]]); b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
}

static json_t *drivers_json(const indiv_decision *d) {
    int order[INDIV_TERM_COUNT];
    driver_order(d, order);
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

json_t *indiv_decision_json(const indiv_decision *d, const char *ext_id,
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

/* ---- the line writer ------------------------------------------------------------- */

/* Digits of a real on the short path: 6 significant, as "%.6g". */
#define REAL_DIGITS 6
/* The short path leaves to snprintf a scaled value this close to a rounding tie: its
 * product v * 10^k is off by at most half an ulp of a number below 10^6 (1.2e-10), so
 * a margin of 1e-7 leaves no doubt about the rounding. (A product computed at or just
 * above 10^5 whose exact value is just below it prints the same: the exact value's 6
 * digits one decade down round up to 10^6.) */
#define REAL_TIE_MARGIN 1e-7

/* jansson's rules on a "%.6g" string of n bytes (strconv.c, jsonp_dtostr without dtoa):
 * the locale's decimal point made '.', ".0" appended when there is neither '.' nor 'e',
 * the exponent's '+' and leading zeros dropped. Returns the new length. */
static size_t jansson_real_rules(char *s, size_t n) {
    char point = localeconv()->decimal_point[0];
    char *at = point && point != '.' ? strchr(s, point) : NULL;
    if (at)
        *at = '.';
    if (!strchr(s, '.') && !strchr(s, 'e')) {
        memcpy(s + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(s, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, n - (size_t)(end - s) + 1);
            n -= (size_t)(end - start);
        }
    }
    return n;
}

/* Writes the 6 digits of r (100000 <= r < 10^6) times 10^(e - 5), -4 <= e <= 5, as
 * "%.6g" does (fixed notation, trailing zeros of the fraction dropped) then jansson
 * (".0" when no fraction is left). Returns the length. */
static size_t fixed6(char *s, long r, int e) {
    char dig[REAL_DIGITS];
    for (int i = REAL_DIGITS - 1; i >= 0; i--, r /= 10)
        dig[i] = (char)('0' + r % 10);
    int last = REAL_DIGITS - 1; /* the last digit kept */
    while (last > e && last > 0 && dig[last] == '0')
        last--;
    size_t n = 0;
    if (e < 0) {
        s[n++] = '0';
        s[n++] = '.';
        for (int z = -1; z > e; z--)
            s[n++] = '0';
        for (int i = 0; i <= last; i++)
            s[n++] = dig[i];
    } else {
        for (int i = 0; i <= e; i++)
            s[n++] = dig[i];
        s[n++] = '.';
        if (last <= e)
            s[n++] = '0';
        for (int i = e + 1; i <= last; i++)
            s[n++] = dig[i];
    }
    s[n] = '\0';
    return n;
}

/* The short path for 1e-4 <= |v| < 10^6 (fixed notation under "%.6g"); 0 when v is
 * elsewhere or too near a tie, for snprintf to decide. Assumes rounding to nearest. */
static size_t real6_short(char *s, double v) {
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    static const double decade[] = {1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5};
    double a = fabs(v);
    if (!(a >= decade[0] && a < 1e6))
        return 0;
    int e = 5;
    while (e > -4 && a < decade[e + 4])
        e--;
    double x = a * pow10[5 - e]; /* in [10^5, 10^6) when e is right */
    double fl = floor(x), frac = x - fl;
    if (x < 1e5 || x >= 1e6 || fabs(frac - 0.5) < REAL_TIE_MARGIN)
        return 0;
    long r = (long)fl + (frac > 0.5);
    if (r == 1000000) { /* rounded up into the next decade */
        r = 100000;
        e++;
    }
    if (e > 5)
        return 0;
    size_t neg = signbit(v) != 0;
    s[0] = '-';
    return neg + fixed6(s + neg, r, e);
}

size_t indiv_json_real6(char buf[INDIV_JSON_REAL_LEN], double v) {
    size_t n = real6_short(buf, v);
    if (n)
        return n;
    int k = snprintf(buf, INDIV_JSON_REAL_LEN - 2, "%.*g", REAL_DIGITS, v);
    return k > 0 ? jansson_real_rules(buf, (size_t)k) : 0;
}

/* A line being written: the buffer, and the first error (later writes do nothing). */
typedef struct line {
    indiv_buf *b;
    int rc;
} line;

static void put(line *l, const char *s, size_t n) {
    if (l->rc == INDIV_OK)
        l->rc = indiv_buf_append(l->b, s, n);
}

/* lit: a string literal (its size is taken). */
#define PUT(l, lit) put((l), "" lit, sizeof(lit) - 1)

/* s as a JSON string. Printable ASCII without '"' and '\\' is copied as it is (what
 * jansson writes for it); anything else goes through text() and jansson. */
static void put_text(line *l, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (p[n] >= 0x20 && p[n] < 0x80 && p[n] != '"' && p[n] != '\\')
        n++;
    if (p[n] == '\0') {
        PUT(l, "\"");
        put(l, s, n);
        PUT(l, "\"");
        return;
    }
    /* A byte takes at most 6 ("\u001F"), plus the quotes. */
    size_t room = 6 * (n + strlen(s + n)) + 2;
    json_t *j = l->rc == INDIV_OK ? text(s) : NULL;
    if (l->rc == INDIV_OK && (!j || buf_reserve(l->b, room) < 0))
        l->rc = INDIV_ENOMEM;
    size_t k = l->rc == INDIV_OK ? json_dumpb(j, l->b->data + l->b->len, room,
                                              LINE_FLAGS | JSON_ENCODE_ANY)
                                 : 0;
    if (l->rc == INDIV_OK && (k == 0 || k > room))
        l->rc = INDIV_ENOMEM; /* jansson's only failure */
    if (l->rc == INDIV_OK)
        l->b->len += k;
    json_decref(j);
}

static void put_real(line *l, double v) {
    char s[INDIV_JSON_REAL_LEN];
    put(l, s, indiv_json_real6(s, isfinite(v) ? v : 0));
}

static void put_int(line *l, long long v) {
    char s[24], *p = s + sizeof s;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    put(l, p, (size_t)(s + sizeof s - p));
}

static void put_time(line *l, int64_t ts) {
    char buf[INDIV_ISO_LEN];
    put_text(l, indiv_time_format(ts, buf));
}

static void put_bool(line *l, int v) {
    if (v)
        PUT(l, "true");
    else
        PUT(l, "false");
}

/* As offer_json. */
static void put_offer(line *l, const indiv_decided_offer *o, const indiv_catalog *cat) {
    static const char *const kinds[] = {"relevant", "divergent", "control"};
    const indiv_offer *of = indiv_catalog_offer(cat, o->offer);
    PUT(l, "{\"offer\":");
    put_text(l, of->ext_id);
    PUT(l, ",\"name\":");
    put_text(l, of->name);
    PUT(l, ",\"category\":");
    put_text(l, indiv_catalog_category_name(cat, of->category));
    PUT(l, ",\"rank\":");
    put_int(l, o->rank);
    PUT(l, ",\"kind\":");
    put_text(l, kinds[o->kind]);
    PUT(l, ",\"score\":");
    put_real(l, o->p);
    PUT(l, ",\"channel_score\":");
    put_real(l, o->p_channel);
    PUT(l, ",\"affinity\":");
    put_real(l, o->affinity);
    if (o->kind == INDIV_KIND_DIVERGENT) {
        PUT(l, ",\"distance\":");
        put_real(l, 1.0 - o->affinity);
    }
    if (o->kind == INDIV_KIND_DIVERGENT && o->plausibility > 0) {
        PUT(l, ",\"plausibility\":");
        put_real(l, o->plausibility);
    }
    PUT(l, ",\"expected_value\":");
    put_real(l, o->value);
    PUT(l, ",\"propensity\":");
    put_real(l, o->logged_p);
    PUT(l, "}");
}

/* As add_offers. */
static void put_offers(line *l, const indiv_decision *d, const indiv_catalog *cat) {
    PUT(l, ",\"offers\":[");
    for (int k = 0; k < d->n_offers; k++) {
        if (k)
            PUT(l, ",");
        put_offer(l, &d->offers[k], cat);
    }
    PUT(l, "],\"drivers\":[");
    int order[INDIV_TERM_COUNT];
    driver_order(d, order);
    for (int k = 0; k < TOP_DRIVERS && k < INDIV_TERM_COUNT; k++) {
        if (k)
            PUT(l, ",");
        PUT(l, "{\"term\":");
        put_text(l, indiv_model_term_name(order[k]));
        PUT(l, ",\"contribution\":");
        put_real(l, d->drivers[order[k]]);
        PUT(l, "}");
    }
    PUT(l, "]");
}

/* As add_divergence. */
static void put_divergence(line *l, const indiv_decision *d) {
    if (!d->divergence_drawn)
        return;
    PUT(l, ",\"divergence\":{\"drawn\":true,\"placed\":");
    put_bool(l, d->divergence_miss == INDIV_DIVMISS_NONE);
    if (d->divergence_miss != INDIV_DIVMISS_NONE) {
        PUT(l, ",\"why\":");
        put_text(l, indiv_divergence_miss_name(d->divergence_miss));
    }
    PUT(l, "}");
}

/* The fields of indiv_decision_json, in its order. */
static void put_decision(line *l, const indiv_decision *d, const char *ext_id,
                         const indiv_decision_ctx *ctx) {
    PUT(l, "{\"consumer\":");
    put_text(l, ext_id);
    PUT(l, ",\"action\":");
    put_text(l, indiv_action_name(d->action));
    PUT(l, ",\"reason\":");
    put_text(l, indiv_reason_name(d->reason));
    if (d->action != INDIV_NONE) {
        PUT(l, ",\"channel\":");
        put_text(l, indiv_channel_name(d->channel));
    }
    if (d->action == INDIV_CONTACT) {
        PUT(l, ",\"send_at\":");
        put_time(l, d->send_at);
    }
    if (d->action == INDIV_DEFER) {
        PUT(l, ",\"defer_until\":");
        put_time(l, d->send_at);
    }
    if (d->n_offers)
        put_offers(l, d, ctx->cat);
    if (d->action == INDIV_NONE && d->has_best && d->n_offers == 0) {
        PUT(l, ",\"best_offer\":");
        put_text(l, indiv_catalog_offer(ctx->cat, d->best_offer)->ext_id);
        PUT(l, ",\"best_score\":");
        put_real(l, d->best_p);
    }
    put_divergence(l, d);
    if (d->control)
        PUT(l, ",\"control\":true");
    PUT(l, ",\"propensity\":");
    put_real(l, d->propensity);
    PUT(l, ",\"readiness\":");
    put_real(l, d->readiness);
    PUT(l, ",\"contacts_recent\":");
    put_int(l, d->contacts_recent);
    PUT(l, ",\"personalised\":");
    put_bool(l, d->personalised);
    PUT(l, ",\"as_of\":");
    put_time(l, ctx->as_of);
    PUT(l, ",\"model\":");
    put_text(l, ctx->model_id);
    PUT(l, ",\"seed\":");
    put_int(l, (long long)ctx->seed);
    PUT(l, "}\n");
}

int indiv_decision_write_json(const indiv_decision *d, const char *consumer_ext_id,
                              const indiv_decision_ctx *ctx, indiv_buf *out) {
    size_t len = out->len;
    line l = {out, buf_reserve(out, LINE_ROOM)};
    put_decision(&l, d, consumer_ext_id, ctx);
    if (l.rc < 0)
        out->len = len; /* no half line */
    return l.rc;
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
