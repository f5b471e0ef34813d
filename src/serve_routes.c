/*
 * serve_routes.c — the routes of the decision service (docs/service.md, "API"): events
 * in, one decision out, health and metrics; the error model (400 naming the field, 404,
 * 405, 413, 503 past the busy time).
 *
 * POST /v1/events checks every event before it writes anything (the `events` import
 * format's rules, through indiv_import_event_parse), then appends them all in one
 * transaction with the touched consumers' profiles updated in it
 * (indiv_profile_update): a failure anywhere rolls the whole request back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "indiv/policy.h"
#include "indiv/rights.h"
#include "indiv/timeutil.h"
#include "serve_internal.h"

/* Longest source id in bytes, as the importer's (docs/import.md). */
#define ID_MAX 127

/* ---- replies ----------------------------------------------------------------------- */

/* r's body becomes j (stolen) as one compact JSON line. */
static void reply_json(struct reply *r, int status, json_t *j) {
    r->status = status;
    r->body.len = 0;
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!txt || indiv_buf_append(&r->body, txt, strlen(txt)) < 0 ||
        indiv_buf_append(&r->body, "\n", 1) < 0) {
        r->status = 500;
        r->body.len = 0;
        indiv_buf_append(&r->body, "{\"error\":{\"status\":500}}\n", 25);
    }
    free(txt);
}

void serve_error(struct reply *r, int status, const char *field, const char *fmt, ...) {
    char msg[INDIV_ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e =
        json_pack("{s:i, s:s?, s:s}", "status", status, "field", field, "message", msg);
    reply_json(r, status, json_pack("{s:o}", "error", e));
}

/* The status of a library error code. */
static int status_of(int rc) {
    switch (rc) {
    case INDIV_EINVAL:
    case INDIV_EFORMAT:
        return 400;
    case INDIV_ENOTFOUND:
        return 404;
    case INDIV_EBUSY:
        return 503;
    default:
        return 500;
    }
}

/* ---- events in --------------------------------------------------------------------- */

struct posted {
    const char *consumer, *offer; /* borrowed from the request's JSON */
    indiv_event ev;
};

static const char *const event_keys[] = {"consumer", "offer",    "type", "ts",
                                         "channel",  "quantity", "value"};

/* "[i].name" in an array, "name" for a lone object. */
static const char *field_name(char *buf, size_t cap, int array, size_t i,
                              const char *name) {
    if (array)
        snprintf(buf, cap, "[%zu]%s%s", i, name ? "." : "", name ? name : "");
    else
        snprintf(buf, cap, "%s", name ? name : "body");
    return buf;
}

/* The text of a JSON value for the importer's field rules: strings as they are, numbers
 * written exactly, null (or absent) as absent. -1 for another type. */
static int value_text(const json_t *v, int numbers, int strings, char *buf, size_t cap,
                      const char **out) {
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (strings && json_is_string(v))
        *out = json_string_value(v);
    else if (numbers && json_is_integer(v))
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), *out = buf;
    else if (numbers && json_is_real(v))
        snprintf(buf, cap, "%.17g", json_real_value(v)), *out = buf;
    else
        return -1;
    return 0;
}

/* Checks the keys of one event object. */
static int check_keys(json_t *o, int array, size_t i, struct reply *r) {
    const char *key;
    json_t *v;
    char f[160];
    json_object_foreach(o, key, v) {
        int known = 0;
        for (size_t k = 0; k < sizeof event_keys / sizeof *event_keys; k++)
            known |= strcmp(key, event_keys[k]) == 0;
        if (!known) {
            serve_error(r, 400, field_name(f, sizeof f, array, i, key),
                        "unknown field (an event has consumer, offer, type, ts, channel, "
                        "quantity, value)");
            return -1;
        }
    }
    return 0;
}

/* The id field name of o (consumer or offer) into *out: -1 (r set) when required and
 * missing, not a string, empty or longer than ID_MAX. */
static int take_id(json_t *o, const char *name, int required, int array, size_t i,
                   const char **out, struct reply *r) {
    json_t *v = json_object_get(o, name);
    char f[160];
    *out = NULL;
    if ((!v || json_is_null(v)) && !required)
        return 0;
    if (!json_is_string(v) || !*json_string_value(v) ||
        strlen(json_string_value(v)) > ID_MAX) {
        serve_error(r, 400, field_name(f, sizeof f, array, i, name),
                    "%s a source id: a non-empty string of at most %d bytes",
                    required ? "required:" : "must be", ID_MAX);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* Parses event i (object o) into p, by the `events` import format's rules. */
static int parse_event(json_t *o, int array, size_t i, struct posted *p,
                       struct reply *r) {
    char f[160], nq[64], nv[64], nt[64];
    if (!json_is_object(o)) {
        serve_error(r, 400, field_name(f, sizeof f, array, i, NULL),
                    "an event must be a JSON object");
        return -1;
    }
    if (check_keys(o, array, i, r) < 0 ||
        take_id(o, "consumer", 1, array, i, &p->consumer, r) < 0 ||
        take_id(o, "offer", 0, array, i, &p->offer, r) < 0)
        return -1;
    indiv_event_text t = {0};
    static const struct {
        const char *name;
        int numbers, strings;
        const char *what;
    } spec[] = {{"type", 0, 1, "a string"},
                {"ts", 1, 1, "an ISO 8601 string or Unix seconds"},
                {"channel", 0, 1, "a string"},
                {"quantity", 1, 0, "a number"},
                {"value", 1, 0, "a number"}};
    const char **dst[] = {&t.type, &t.ts, &t.channel, &t.quantity, &t.value};
    char *bufs[] = {NULL, nt, NULL, nq, nv};
    for (size_t k = 0; k < sizeof spec / sizeof *spec; k++)
        if (value_text(json_object_get(o, spec[k].name), spec[k].numbers, spec[k].strings,
                       bufs[k], 64, dst[k]) < 0 ||
            (k < 2 && !*dst[k])) {
            serve_error(r, 400, field_name(f, sizeof f, array, i, spec[k].name), "%s%s",
                        k < 2 ? "required: " : "must be ", spec[k].what);
            return -1;
        }
    indiv_event_problem why;
    if (indiv_import_event_parse(&t, &p->ev, &why) < 0) {
        serve_error(r, 400, field_name(f, sizeof f, array, i, why.field), "%s%s%s%s",
                    why.reason, why.value ? " '" : "", why.value ? why.value : "",
                    why.value ? "'" : "");
        return -1;
    }
    return 0;
}

/* Parses the body: one event object or a non-empty array of them. *root owns the
 * strings *out points into. */
static int parse_events(const char *body, size_t len, json_t **root, struct posted **out,
                        size_t *n, struct reply *r) {
    json_error_t je;
    *root =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!*root) {
        serve_error(r, 400, "body", "not valid JSON: %s (line %d, column %d)", je.text,
                    je.line, je.column);
        return -1;
    }
    int array = json_is_array(*root);
    *n = array ? json_array_size(*root) : 1;
    if (array && (*n == 0 || *n > INDIV_SERVE_EVENTS_MAX)) {
        serve_error(r, *n ? 413 : 400, "body", "an array of 1 to %d events is expected",
                    INDIV_SERVE_EVENTS_MAX);
        return -1;
    }
    if (!(*out = calloc(*n, sizeof **out))) {
        serve_error(r, 500, NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        if (parse_event(array ? json_array_get(*root, i) : *root, array, i, &(*out)[i],
                        r) < 0)
            return -1;
    return 0;
}

/* Profile changes of one request, for the co-purchase counts: applied after the commit
 * (the counts must follow what is stored, and a rollback stores nothing). */
struct change {
    int sign;
    size_t n;
    int32_t *cats;
};

struct changes {
    const indiv_catalog *cat;
    int32_t *buf;
    struct change *v;
    size_t n, cap;
    int failed;
    int64_t updated;
};

static void keep_change(struct changes *c, const indiv_profile *pr, int sign) {
    const int32_t *kc;
    size_t k = indiv_policy_known_categories(pr, c->cat, c->buf,
                                             indiv_catalog_categories(c->cat), &kc);
    if (!k)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct change *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->failed = 1;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    int32_t *cats = malloc(k * sizeof *cats);
    if (!cats) {
        c->failed = 1;
        return;
    }
    memcpy(cats, kc, k * sizeof *cats);
    c->v[c->n++] = (struct change){sign, k, cats};
}

static void on_profile_change(void *ctx, const indiv_profile *before,
                              const indiv_profile *after) {
    struct changes *c = ctx;
    c->updated++;
    if (!c->buf)
        return; /* no counts to keep */
    if (before)
        keep_change(c, before, -1);
    if (after)
        keep_change(c, after, 1);
}

static void changes_free(struct changes *c) {
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].cats);
    free(c->v);
    free(c->buf);
}

/* A consumer touched by the request and the time of their earliest new event. */
struct touched {
    int64_t id, since;
};

static int cmp_touched(const void *a, const void *b) {
    const struct touched *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* One POST waiting for, or in, a group commit. */
struct job {
    const struct posted *p;
    size_t n;
    struct reply *r;
    int64_t created, first_id; /* filled by the write */
    size_t touched, updated;   /* its distinct consumers, of which profiles updated */
    int done;
    struct job *next;
};

/* What one group write did. */
struct stored {
    int64_t max_ts, as_of;
    int late_purchase; /* a purchase on a day before the decider's: popularity moved */
    struct touched *t; /* every event's consumer, then sorted and unique */
    size_t nt, cap;
    int64_t *updated; /* sorted ids whose profile was updated */
    size_t nu;
};

/* Our id of p's consumer, created as an import would create them. */
static int consumer_of(indiv_server *s, const struct posted *p, int64_t *id,
                       int64_t *created, indiv_error *err) {
    indiv_consumer_rec rec = {p->consumer, s->o.consent_profiling != 0,
                              s->o.consent_contact != 0, s->o.channels, NULL};
    int made;
    int rc = indiv_eventlog_add_consumer(s->wlog, &rec, id, &made, err);
    *created += made;
    return rc;
}

/* Appends the events of job j (offers resolved before: resolve_offers). */
static int append_job(indiv_server *s, struct job *j, struct stored *st,
                      indiv_error *err) {
    int64_t dc_day = indiv_decider_day(s->dc);
    for (size_t i = 0; i < j->n; i++) {
        indiv_event ev = j->p[i].ev;
        int rc = consumer_of(s, &j->p[i], &ev.consumer_id, &j->created, err);
        if (rc == INDIV_OK)
            rc = indiv_eventlog_add_event(s->wlog, &ev, err);
        if (rc < 0)
            return rc;
        j->first_id = i == 0 ? ev.id : j->first_id;
        st->t[st->nt++] = (struct touched){ev.consumer_id, ev.ts};
        st->max_ts = ev.ts > st->max_ts ? ev.ts : st->max_ts;
        st->late_purchase |=
            (ev.type == INDIV_EV_PURCHASE || ev.type == INDIV_EV_RETURN) &&
            indiv_decide_day_of(ev.ts) < dc_day;
    }
    return INDIV_OK;
}

/* Sorts the touched consumers by id, one entry each with their earliest new event. */
static size_t unique_touched(struct touched *t, size_t n) {
    qsort(t, n, sizeof *t, cmp_touched);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && t[k - 1].id == t[i].id) {
            if (t[i].since < t[k - 1].since)
                t[k - 1].since = t[i].since;
        } else
            t[k++] = t[i];
    }
    return k;
}

/* Updates the profiles of the touched consumers who gave profiling consent, when
 * profiles were built; moves the stored build time to st->as_of. */
static int update_profiles(indiv_server *s, struct stored *st, struct changes *ch,
                           indiv_error *err) {
    indiv_profile_params pp;
    int rc = indiv_profile_stored_params(s->wlog, &pp, NULL, err);
    if (rc == INDIV_ENOTFOUND)
        return INDIV_OK; /* no profiles: decisions are non-personal until built */
    if (rc < 0)
        return rc;
    st->as_of = pp.as_of > st->as_of ? pp.as_of : st->as_of;
    pp.as_of = st->as_of;
    int64_t *since = malloc((st->nt + 1) * sizeof *since);
    st->updated = malloc((st->nt + 1) * sizeof *st->updated);
    size_t k = 0;
    for (size_t i = 0; st->updated && since && rc == INDIV_OK && i < st->nt; i++) {
        indiv_consumer_row row;
        char ext[ID_MAX + 1];
        rc =
            indiv_eventlog_consumer_get(s->wlog, st->t[i].id, &row, ext, sizeof ext, err);
        if (rc == INDIV_OK && row.consent_profiling) {
            st->updated[k] = st->t[i].id;
            since[k++] = st->t[i].since;
        }
    }
    if (!st->updated || !since)
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    st->nu = k;
    if (rc == INDIV_OK)
        rc = indiv_profile_update(s->wlog, ch->cat, &pp, st->updated, since, k,
                                  on_profile_change, ch, err);
    free(since);
    return rc == INDIV_OK && ch->failed
               ? indiv_error_set(err, INDIV_ENOMEM, "out of memory")
               : rc;
}

/* After the commit: the counts and the service's time follow; a new day, or a purchase
 * on a day the popularity had already counted, loads a new decider. */
static void publish(indiv_server *s, const struct stored *st, const struct changes *ch) {
    indiv_decider *fresh = NULL, *old = NULL;
    if (indiv_decide_day_of(st->as_of) != indiv_decider_day(s->dc) || st->late_purchase)
        serve_load_decider(s, st->as_of, &fresh, NULL); /* NULL: readers load their own */
    pthread_rwlock_wrlock(&s->world);
    for (size_t i = 0; s->pl && i < ch->n; i++)
        (ch->v[i].sign > 0 ? indiv_plausibility_add
                           : indiv_plausibility_remove)(s->pl, ch->v[i].cats, ch->v[i].n);
    s->as_of = st->as_of;
    if (fresh) {
        old = s->dc;
        s->dc = fresh;
        s->dc_gen++;
    }
    pthread_rwlock_unlock(&s->world);
    indiv_decider_free(old);
}

static int cmp_id(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return (*x > *y) - (*x < *y);
}

/* Its distinct consumers, and how many of them had their profile updated. */
static void job_counts(indiv_server *s, struct job *j, const struct stored *st) {
    int64_t *ids = malloc((j->n + 1) * sizeof *ids);
    j->touched = j->updated = 0;
    for (size_t i = 0; ids && i < j->n; i++) /* ids of its consumers: all exist now */
        if (indiv_eventlog_consumer_id(s->wlog, j->p[i].consumer, &ids[i], NULL) < 0)
            ids[i] = -1;
    if (ids)
        qsort(ids, j->n, sizeof *ids, cmp_id);
    for (size_t i = 0; ids && i < j->n; i++)
        if (ids[i] >= 0 && (i == 0 || ids[i] != ids[i - 1])) {
            j->touched++;
            j->updated += st->nu && bsearch(&ids[i], st->updated, st->nu,
                                            sizeof *st->updated, cmp_id) != NULL;
        }
    free(ids);
}

static json_t *stored_json(const struct job *j, const struct stored *st) {
    char t[INDIV_ISO_LEN];
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "stored", (json_int_t)j->n,
                     "first_event_id", (json_int_t)j->first_id, "consumers_created",
                     (json_int_t)j->created, "consumers_touched", (json_int_t)j->touched,
                     "profiles_updated", (json_int_t)j->updated, "as_of",
                     indiv_time_format(st->as_of, t));
}

/* The events of every job of the group, their profile updates, one commit. Holds the
 * writer. */
static int write_group(indiv_server *s, struct job *jobs, struct stored *st,
                       struct changes *ch, indiv_error *err) {
    size_t total = 0;
    for (struct job *j = jobs; j; j = j->next)
        total += j->n;
    if (!(st->t = malloc((total + 1) * sizeof *st->t)))
        return indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    st->max_ts = INT64_MIN;
    int rc = indiv_eventlog_begin(s->wlog, err);
    for (struct job *j = jobs; rc == INDIV_OK && j; j = j->next)
        rc = append_job(s, j, st, err);
    st->nt = unique_touched(st->t, st->nt);
    st->as_of = s->as_of;
    if (rc == INDIV_OK && st->max_ts < INT64_MAX && st->max_ts + 1 > st->as_of)
        st->as_of = st->max_ts + 1;
    if (rc == INDIV_OK)
        rc = update_profiles(s, st, ch, err);
    for (struct job *j = jobs; rc == INDIV_OK && j; j = j->next)
        job_counts(s, j, st);
    if (rc == INDIV_OK) /* on disk when it returns (WAL, synchronous FULL) */
        rc = indiv_eventlog_commit(s->wlog, err);
    else
        indiv_eventlog_rollback(s->wlog);
    return rc;
}

/* The leader's work: takes the writer, writes the group, answers every job of it. */
static void run_group(indiv_server *s, struct job *jobs) {
    indiv_error err = {0};
    struct stored st = {0};
    struct changes ch = {.cat = NULL};
    int rc = serve_lock_writer(s);
    if (rc == INDIV_OK) {
        ch.cat = indiv_decider_catalog(s->dc);
        if (s->pl &&
            !(ch.buf = malloc((indiv_catalog_categories(ch.cat) + 1) * sizeof *ch.buf)))
            rc = indiv_error_set(&err, INDIV_ENOMEM, "out of memory");
        if (rc == INDIV_OK)
            rc = write_group(s, jobs, &st, &ch, &err);
        if (rc == INDIV_OK)
            publish(s, &st, &ch);
        pthread_mutex_unlock(&s->wmu);
    }
    for (struct job *j = jobs; j; j = j->next) {
        if (rc == INDIV_OK) {
            atomic_fetch_add(&s->metrics.events_stored, (long long)j->n);
            atomic_fetch_add(&s->metrics.consumers_created, j->created);
            reply_json(j->r, 201, stored_json(j, &st));
        } else if (rc == INDIV_EBUSY && !err.code)
            serve_error(j->r, 503, NULL, "the writer stayed busy for %d ms (--busy-ms)",
                        s->o.busy_ms);
        else
            serve_error(j->r, status_of(rc), NULL, "%s", err.msg);
    }
    if (rc == INDIV_OK)
        atomic_fetch_add(&s->metrics.profiles_updated, ch.updated);
    changes_free(&ch);
    free(st.t);
    free(st.updated);
}

/* Group commit (leader and followers): a POST joins the queue; whoever finds no leader
 * becomes it, takes every queued job and writes them in one transaction, so that the
 * POSTs that arrive during a commit's fsync share the next one. A job still queued when
 * its wait passes --busy-ms leaves the queue with 503. */
static void submit(indiv_server *s, struct job *job) {
    struct timespec until = serve_deadline(s->o.busy_ms);
    pthread_mutex_lock(&s->qmu);
    struct job **tail = &s->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = job;
    while (!job->done) {
        if (!s->leading) {
            struct job *group = s->queue;
            s->queue = NULL;
            s->leading = 1;
            pthread_mutex_unlock(&s->qmu);
            run_group(s, group);
            pthread_mutex_lock(&s->qmu);
            for (struct job *j = group; j; j = j->next)
                j->done = 1;
            s->leading = 0;
            pthread_cond_broadcast(&s->qcond);
        } else if (pthread_cond_timedwait(&s->qcond, &s->qmu, &until) == ETIMEDOUT) {
            for (struct job **q = &s->queue; *q; q = &(*q)->next)
                if (*q == job) { /* not taken by a leader yet: give up */
                    *q = job->next;
                    job->done = 1;
                    serve_error(job->r, 503, NULL,
                                "the writer stayed busy for %d ms (--busy-ms)",
                                s->o.busy_ms);
                    break;
                }
        }
    }
    pthread_mutex_unlock(&s->qmu);
}

/* The offers of the events, looked up before the write (an unknown one refuses the
 * request alone, not the group it would join). */
static int resolve_offers(indiv_server *s, struct posted *p, size_t n, int array,
                          struct reply *r) {
    indiv_error err = {0};
    struct reader *rd = serve_reader(s, &err);
    int rc = rd ? indiv_eventlog_read_begin(rd->log, &err) : INDIV_EIO;
    size_t i = 0;
    for (; rc == INDIV_OK && i < n; i++) {
        p[i].ev.offer_id = 0;
        if (p[i].offer)
            rc = indiv_eventlog_offer_id(rd->log, p[i].offer, &p[i].ev.offer_id, &err);
    }
    if (rd)
        indiv_eventlog_read_end(rd->log);
    char f[160];
    if (rc == INDIV_ENOTFOUND)
        serve_error(
            r, 400, field_name(f, sizeof f, array, i - 1, "offer"),
            "unknown offer '%s' (an offer needs a category and a price: import it "
            "first)",
            p[i - 1].offer);
    else if (rc < 0)
        serve_error(r, status_of(rc), NULL, "%s", err.msg);
    return rc < 0 ? -1 : 0;
}

static void post_events(indiv_server *s, const char *body, size_t len, struct reply *r) {
    json_t *root = NULL;
    struct posted *p = NULL;
    size_t n = 0;
    if (parse_events(body, len, &root, &p, &n, r) == 0 &&
        resolve_offers(s, p, n, json_is_array(root), r) == 0) {
        struct job job = {.p = p, .n = n, .r = r};
        submit(s, &job);
    }
    free(p);
    json_decref(root);
}

/* ---- one decision out -------------------------------------------------------------- */

/* Decides with a decider loaded for as_of's day (another day than the service's). */
static int decide_other_day(indiv_server *s, struct reader *rd, int64_t as_of,
                            const char *id, indiv_decision *d, indiv_error *err) {
    indiv_decide_opts o = s->o.decide;
    o.policy.as_of = as_of;
    indiv_decider *dc = NULL;
    indiv_decide_ws *ws = NULL;
    int rc = indiv_decider_new(rd->log, s->o.model, &o, &dc, err);
    if (rc == INDIV_OK)
        rc = indiv_decide_one(dc, s->pl, &ws, rd->log, as_of, id, &rd->out, d, err);
    indiv_decide_ws_free(ws);
    indiv_decider_free(dc);
    return rc;
}

/* Reads and decides in one read transaction, under the read side of the world. */
static int decide_locked(indiv_server *s, struct reader *rd, const char *as_of_text,
                         int64_t as_of, const char *id, indiv_decision *d,
                         indiv_error *err) {
    if (!as_of_text)
        as_of = s->as_of;
    if (rd->ws_gen !=
        s->dc_gen) { /* the decider was replaced since: remake the scratch */
        indiv_decide_ws_free(rd->ws);
        rd->ws = NULL;
        rd->ws_gen = s->dc_gen;
    }
    int rc = indiv_eventlog_read_begin(rd->log, err);
    if (rc < 0)
        return rc;
    rd->out.len = 0;
    if (indiv_decide_day_of(as_of) == indiv_decider_day(s->dc))
        rc =
            indiv_decide_one(s->dc, s->pl, &rd->ws, rd->log, as_of, id, &rd->out, d, err);
    else
        rc = decide_other_day(s, rd, as_of, id, d, err);
    indiv_eventlog_read_end(rd->log);
    return rc;
}

static void get_decision(indiv_server *s, const char *id, const char *as_of_text,
                         struct reply *r) {
    int64_t as_of = 0;
    indiv_error err = {0};
    if (as_of_text && indiv_time_parse(as_of_text, &as_of) < 0) {
        serve_error(r, 400, "as_of", "bad timestamp '%.100s' (ISO 8601 or Unix seconds)",
                    as_of_text);
        return;
    }
    struct reader *rd = serve_reader(s, &err);
    int rc = rd ? serve_lock_read(s) : INDIV_EIO;
    if (rc == INDIV_EBUSY) {
        serve_error(r, 503, NULL, "the service stayed busy for %d ms (--busy-ms)",
                    s->o.busy_ms);
        return;
    }
    indiv_decision d;
    if (rc == INDIV_OK) {
        rc = decide_locked(s, rd, as_of_text, as_of, id, &d, &err);
        pthread_rwlock_unlock(&s->world);
    }
    if (rc == INDIV_ENOTFOUND)
        serve_error(r, 404, "consumer", "no consumer '%.200s'", id);
    else if (rc < 0)
        serve_error(r, status_of(rc), status_of(rc) == 400 ? "as_of" : NULL, "%s",
                    err.msg);
    else {
        r->status = 200;
        indiv_buf_append(&r->body, rd->out.data, rd->out.len);
        atomic_fetch_add(&s->metrics.decisions[d.action], 1);
    }
}

/* ---- data rights (rights.h) -------------------------------------------------------- */

/* The wall clock, UTC seconds: when a right was exercised is a fact recorded as such
 * (consent_changes, models.erased_ts); it enters no decision. */
static int64_t wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* The person's stored profile's categories, taken from the co-purchase counts after a
 * write that deleted it (consent withdrawn, erasure). Called before the write; the
 * change is applied by publish after it. */
static void profile_leaving(indiv_server *s, const char *ext_id, struct changes *ch) {
    int64_t id;
    indiv_profile pr;
    indiv_profile_init(&pr);
    if (s->pl && indiv_eventlog_consumer_id(s->wlog, ext_id, &id, NULL) == INDIV_OK &&
        indiv_profile_load(s->wlog, id, &pr, NULL) == INDIV_OK)
        keep_change(ch, &pr, -1);
    indiv_profile_clear(&pr);
}

/* Applies ch to the counts (and, with reload, loads a new decider: the purchase counts
 * per day changed) after a committed rights write. */
static void publish_rights(indiv_server *s, const struct changes *ch, int reload) {
    struct stored st = {.as_of = s->as_of, .late_purchase = reload};
    publish(s, &st, ch);
}

/* Runs a rights write under the writer; fills r. what: 'c' consent, 'f' forget. */
static void rights_write(indiv_server *s, const char *id, int what,
                         const indiv_consent_change *c, struct reply *r) {
    indiv_error err = {0};
    json_t *out = NULL;
    struct changes ch = {.cat = indiv_decider_catalog(s->dc)};
    int rc = serve_lock_writer(s);
    if (rc < 0) {
        serve_error(r, 503, NULL, "the writer stayed busy for %d ms (--busy-ms)",
                    s->o.busy_ms);
        return;
    }
    if (s->pl &&
        !(ch.buf = malloc((indiv_catalog_categories(ch.cat) + 1) * sizeof *ch.buf)))
        rc = indiv_error_set(&err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK) {
        profile_leaving(s, id, &ch); /* the profile as stored before the write */
        rc = what == 'f' ? indiv_rights_forget(s->wlog, id, wall_now(), &out, &err)
                         : indiv_rights_consent(s->wlog, id, c, wall_now(), &out, &err);
        int deleted =
            what == 'f' || json_is_true(json_object_get(out, "profile_deleted"));
        if (!deleted)
            for (size_t i = 0; i < ch.n; i++)
                free(ch.v[i].cats);
        ch.n = deleted ? ch.n : 0;
        if (rc == INDIV_OK)
            publish_rights(s, &ch, what == 'f');
        if (rc == INDIV_OK && what == 'f')
            indiv_rights_models_check(s->wlog, s->o.model, &s->model_erased, NULL);
    }
    pthread_mutex_unlock(&s->wmu);
    changes_free(&ch);
    if (rc == INDIV_ENOTFOUND)
        serve_error(r, 404, "consumer", "no consumer '%.200s'", id);
    else if (rc < 0)
        serve_error(r, status_of(rc), rc == INDIV_EINVAL ? "consent" : NULL, "%s",
                    err.msg);
    else
        reply_json(r, 200, out);
}

static void put_consent(indiv_server *s, const char *id, const char *body, size_t len,
                        struct reply *r) {
    json_error_t je;
    indiv_error err = {0};
    json_t *j =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    indiv_consent_change c;
    if (!j)
        serve_error(r, 400, "body", "not valid JSON: %s (line %d, column %d)", je.text,
                    je.line, je.column);
    else if (!json_is_object(j))
        serve_error(r, 400, "body", "a consent change must be a JSON object");
    else if (indiv_consent_change_from_json(j, &c, &err) < 0)
        serve_error(r, 400, "consent", "%s", err.msg);
    else
        rights_write(s, id, 'c', &c, r);
    json_decref(j);
}

/* Access: everything held on the person, read in one snapshot. */
static void get_consumer(indiv_server *s, const char *id, struct reply *r) {
    indiv_error err = {0};
    json_t *out = NULL;
    struct reader *rd = serve_reader(s, &err);
    int rc = rd ? indiv_eventlog_read_begin(rd->log, &err) : INDIV_EIO;
    if (rc == INDIV_OK) {
        rc = indiv_rights_export(rd->log, id, &out, &err);
        indiv_eventlog_read_end(rd->log);
    }
    if (rc == INDIV_ENOTFOUND)
        serve_error(r, 404, "consumer", "no consumer '%.200s'", id);
    else if (rc < 0)
        serve_error(r, status_of(rc), NULL, "%s", err.msg);
    else
        reply_json(r, 200, out);
}

/* ---- health ------------------------------------------------------------------------ */

static void get_health(indiv_server *s, struct reply *r) {
    char t[INDIV_ISO_LEN];
    pthread_rwlock_rdlock(&s->world);
    int64_t as_of = s->as_of;
    pthread_rwlock_unlock(&s->world);
    reply_json(r, 200,
               json_pack("{s:s, s:s, s:s, s:I, s:i}", "status", "ok", "as_of",
                         indiv_time_format(as_of, t), "model", s->o.model->id,
                         "model_holds_erased_people", (json_int_t)s->model_erased,
                         "threads", s->o.threads));
}

/* ---- routing ----------------------------------------------------------------------- */

#define DECISIONS "/v1/decisions/"
#define CONSUMERS "/v1/consumers/"

enum serve_route serve_route_of(const char *method, const char *url) {
    size_t nc = strlen(CONSUMERS);
    if (strcmp(url, "/v1/events") == 0)
        return ROUTE_EVENTS;
    if (strncmp(url, DECISIONS, strlen(DECISIONS)) == 0)
        return ROUTE_DECISIONS;
    if (strncmp(url, CONSUMERS, nc) == 0) {
        const char *slash = strchr(url + nc, '/');
        return slash && strcmp(slash, "/consent") == 0 ? ROUTE_CONSENT
               : strcmp(method, "DELETE") == 0         ? ROUTE_ERASE
                                                       : ROUTE_CONSUMER;
    }
    if (strcmp(url, "/healthz") == 0)
        return ROUTE_HEALTHZ;
    if (strcmp(url, "/metrics") == 0)
        return ROUTE_METRICS;
    return ROUTE_OTHER;
}

/* The consumer id after prefix: non-empty, no further '/'. */
static const char *path_id(const char *url, const char *prefix) {
    const char *id = url + strlen(prefix);
    return *id && !strchr(id, '/') ? id : NULL;
}

static int method_is(const char *method, const char *want, struct reply *r) {
    if (strcmp(method, want) == 0)
        return 1;
    serve_error(r, 405, "method", "%s is not allowed here; use %s", method, want);
    return 0;
}

/* The id of /v1/consumers/{id}/consent, copied into buf. */
static const char *consent_id(const char *url, char *buf, size_t cap) {
    const char *id = url + strlen(CONSUMERS), *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : 0;
    if (!n || n >= cap)
        return NULL;
    memcpy(buf, id, n);
    buf[n] = '\0';
    return buf;
}

void serve_dispatch(indiv_server *s, const char *method, const char *url,
                    const char *as_of, const char *body, size_t len, struct reply *r) {
    enum serve_route route = serve_route_of(method, url);
    const char *id;
    char buf[ID_MAX + 2];
    switch (route) {
    case ROUTE_EVENTS:
        if (method_is(method, "POST", r))
            post_events(s, body, len, r);
        return;
    case ROUTE_DECISIONS:
        if (!(id = path_id(url, DECISIONS)))
            serve_error(r, 404, "consumer", "no route %s", url);
        else if (method_is(method, "GET", r))
            get_decision(s, id, as_of, r);
        return;
    case ROUTE_HEALTHZ:
        if (method_is(method, "GET", r))
            get_health(s, r);
        return;
    case ROUTE_METRICS:
        if (method_is(method, "GET", r))
            serve_metrics_text(&s->metrics, r);
        return;
    case ROUTE_CONSENT:
        if (!(id = consent_id(url, buf, sizeof buf)))
            serve_error(r, 404, "consumer", "no route %s", url);
        else if (method_is(method, "PUT", r))
            put_consent(s, id, body, len, r);
        return;
    case ROUTE_CONSUMER:
    case ROUTE_ERASE:
        if (!(id = path_id(url, CONSUMERS)))
            serve_error(r, 404, "consumer", "no route %s", url);
        else if (strcmp(method, "GET") == 0)
            get_consumer(s, id, r);
        else if (strcmp(method, "DELETE") == 0)
            rights_write(s, id, 'f', NULL, r);
        else
            serve_error(r, 405, "method", "%s is not allowed here; use GET or DELETE",
                        method);
        return;
    default:
        serve_error(r, 404, NULL, "no route %s %s (docs/service.md lists them)", method,
                    url);
        return;
    }
}
