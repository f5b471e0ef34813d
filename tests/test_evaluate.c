/*
 * test_evaluate.c — the offline evaluation: figures of a hand-built log computed by
 * hand, no event at or after the split reaching profiles, scores, decisions or
 * baselines (planted future events change nothing but the truth), refusal of a model
 * trained after the split, the threshold curve's invariants, determinism, and the log
 * left untouched.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <jansson.h>

#include "indiv/evaluate.h"
#include "indiv/eventlog.h"
#include "indiv/model.h"
#include "indiv/sim.h"
#include "indiv/timeutil.h"
#include "testutil.h"

#define EPS   1e-12
#define DAY   INDIV_SECONDS_PER_DAY
#define SPLIT 1296518400         /* 2011-02-01T00:00:00Z */
#define UNTIL (SPLIT + 28 * DAY) /* 2011-03-01 */

static char *dir;

static void setup(void) {
    gsl_set_error_handler_off();
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(evaluate, .init = setup, .fini = teardown);

/* ---- a log small enough to compute by hand ----------------------------------------- */

/* Offers o1, o2 (category A), o3, o4 (B). Before the split: c1 buys o1, o1, o2; c2 o1;
 * c3 o3; c5 (no profiling consent) o4. After: c1 buys o1 (again) and o3 (new to them),
 * c2 o2 (new), c4 (no history: cold) o2, c5 o4. */
static char *hand_log(void) {
    char *path = tu_path(dir, "hand.db");
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    int64_t o1 = tu_add_offer(log, "o1", "A"), o2 = tu_add_offer(log, "o2", "A"),
            o3 = tu_add_offer(log, "o3", "B"), o4 = tu_add_offer(log, "o4", "B");
    int64_t c1 = tu_add_consumer(log, "c1", 1), c2 = tu_add_consumer(log, "c2", 1),
            c3 = tu_add_consumer(log, "c3", 1), c4 = tu_add_consumer(log, "c4", 1),
            c5 = tu_add_consumer(log, "c5", 0);
    int64_t jan = SPLIT - 31 * DAY;
    tu_buy(log, c1, o1, jan + 4 * DAY);
    tu_buy(log, c1, o1, jan + 11 * DAY);
    tu_buy(log, c1, o2, jan + 11 * DAY);
    tu_buy(log, c2, o1, jan + 7 * DAY);
    tu_buy(log, c3, o3, jan + 8 * DAY);
    tu_buy(log, c5, o4, jan + 9 * DAY);
    tu_buy(log, c1, o1, SPLIT + 4 * DAY);
    tu_buy(log, c1, o3, SPLIT + 5 * DAY);
    tu_buy(log, c2, o2, SPLIT + 6 * DAY);
    tu_buy(log, c4, o2, SPLIT + 7 * DAY);
    tu_buy(log, c5, o4, SPLIT + 8 * DAY);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
    return path;
}

static int run(const char *db, const indiv_model *m, const indiv_eval_params *p,
               indiv_eval_result *r, indiv_error *err) {
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    int rc = indiv_evaluate_run(log, m, p, NULL, NULL, r, err);
    indiv_eventlog_close(log);
    return rc;
}

static void params(indiv_eval_params *p, int64_t split, int64_t until, int k) {
    indiv_eval_params_init(p);
    p->split = split;
    p->until = until;
    p->k = k;
}

Test(evaluate, figures_of_a_hand_built_log_match_the_hand_computation) {
    char *db = hand_log();
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, SPLIT, UNTIL, 1);
    indiv_eval_result *r = calloc(1, sizeof *r);
    indiv_error err = {0};
    cr_assert_eq(run(db, &m, &p, r, &err), 0, "%s", err.msg);
    cr_assert_eq(r->consumers, 3);   /* c1, c2, c3; c5 has no profiling consent */
    cr_assert_eq(r->cold_buyers, 1); /* c4 */
    cr_assert_eq(r->buyers[INDIV_EVAL_ALL], 2);
    cr_assert_eq(r->buyers[INDIV_EVAL_NEW], 2);
    cr_assert_eq(r->truth_purchases, 3);
    cr_assert_eq(r->candidates, 4);
    const indiv_eval_metrics *rep = &r->m[INDIV_EVAL_ALL][INDIV_EVAL_REPEAT];
    /* repeat, k = 1: c1 gets o1 (bought twice) and buys it again; c2 gets o1, buys o2 */
    cr_assert_float_eq(rep->hit_rate, 0.5, EPS);
    cr_assert_float_eq(rep->precision, 0.5, EPS);
    cr_assert_float_eq(rep->recall, 0.25, EPS); /* c1: 1 of 2, c2: 0 of 1 */
    cr_assert_float_eq(rep->ndcg, 0.5, EPS);
    cr_assert_float_eq(rep->serendipity, 0, EPS); /* o1 is in c1's past category A */
    /* popularity before the split (every consumer): o1 3, o2 1, o3 1, o4 1 */
    const indiv_eval_metrics *pop = &r->m[INDIV_EVAL_ALL][INDIV_EVAL_POPULARITY];
    cr_assert_float_eq(pop->hit_rate, 0.5, EPS);
    cr_assert_float_eq(pop->coverage, 0.25, EPS);             /* o1 for everyone */
    cr_assert_float_eq(pop->novelty, -log2(4.0 / 10), 1e-12); /* (3 + 1) / (6 + 4) */
    cr_assert_float_eq(pop->diversity, 0, EPS);               /* lists of one offer */
    /* new offers only: c1 ranks o3 and o4 (tied at 1 purchase) and bought o3: 1/2;
     * c2 ranks o2, o3, o4 (tied) and bought o2: 1/3 */
    const indiv_eval_metrics *pn = &r->m[INDIV_EVAL_NEW][INDIV_EVAL_POPULARITY];
    cr_assert_float_eq(pn->hit_rate, (0.5 + 1.0 / 3) / 2, EPS);
    cr_assert_float_eq(pn->ndcg, (0.5 + 1.0 / 3) / 2, EPS);
    /* new offers only, repeat-buy is its popularity fill: the popularity list */
    cr_assert_float_eq(r->m[INDIV_EVAL_NEW][INDIV_EVAL_REPEAT].hit_rate, pn->hit_rate,
                       EPS);
    /* paired difference indiv - repeat on the same two consumers */
    cr_assert_float_eq(rep->diff_ndcg, r->m[INDIV_EVAL_ALL][INDIV_EVAL_INDIV].ndcg - 0.5,
                       EPS);
    cr_assert_eq(r->decisions.consumers, 3);
    free(r);
    free(db);
}

Test(evaluate, a_model_trained_on_events_after_the_split_is_refused) {
    char *db = hand_log();
    indiv_model m;
    indiv_model_default(&m);
    cr_assert_eq(
        indiv_model_set_provenance(&m, "{\"as_of\": \"2011-02-15T00:00:00Z\"}", NULL), 0);
    indiv_eval_params p;
    params(&p, SPLIT, UNTIL, 3);
    indiv_eval_result *r = calloc(1, sizeof *r);
    indiv_error err = {0};
    cr_assert_eq(run(db, &m, &p, r, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "after the split"), "%s", err.msg);
    /* trained up to the split exactly is fine */
    cr_assert_eq(
        indiv_model_set_provenance(&m, "{\"as_of\": \"2011-02-01T00:00:00Z\"}", NULL), 0);
    cr_assert_eq(run(db, &m, &p, r, &err), 0, "%s", err.msg);
    indiv_model_clear(&m);
    free(r);
    free(db);
}

Test(evaluate, bad_parameters_are_refused) {
    char *db = hand_log();
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, SPLIT, SPLIT, 3);
    indiv_eval_result *r = calloc(1, sizeof *r);
    indiv_error err = {0};
    cr_assert_eq(run(db, &m, &p, r, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "until"), "%s", err.msg);
    params(&p, SPLIT, UNTIL, 3);
    p.taus[0] = 1.5;
    err = (indiv_error){0};
    cr_assert_eq(run(db, &m, &p, r, &err), INDIV_EINVAL);
    cr_assert(strstr(err.msg, "tau"), "%s", err.msg);
    free(r);
    free(db);
}

/* ---- a generated world ------------------------------------------------------------- */

#define W_START 1704067200 /* 2024-01-01 */
#define W_SPLIT (W_START + 90 * DAY)
#define W_UNTIL (W_START + 110 * DAY)

static char *world(const char *name) {
    char *path = tu_path(dir, name);
    indiv_world_params p;
    indiv_world_params_init(&p);
    p.consumers = 300;
    p.offers = 80;
    p.categories = 8;
    p.days = 120;
    p.seed = 21;
    indiv_eventlog *log;
    indiv_error err = {0};
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(indiv_world_generate(log, &p, NULL, NULL, NULL, &err), 0, "%s", err.msg);
    indiv_eventlog_close(log);
    return path;
}

/* Every 2nd consumer buys offers 1..6 twice at ts: enough to change tastes, repeat-buy
 * and popularity if it leaked. */
static void plant(const char *db, int64_t ts) {
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(db, 0, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    for (int64_t c = 1; c <= 300; c += 2)
        for (int64_t o = 1; o <= 6; o++)
            for (int k = 0; k < 2; k++)
                tu_buy(log, c, o, ts + 60 * (o * 2 + k));
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
}

/* The lists file without its last column (bought or not, which is the truth). */
static char *lists_without_truth(const char *path) {
    char *s = tu_read(path, NULL), *o = malloc(strlen(s) + 1), *w = o;
    cr_assert_not_null(s);
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
        char *comma = end;
        while (comma > line && *comma != ',')
            comma--;
        memcpy(w, line, (size_t)(comma - line));
        w += comma - line;
        *w++ = '\n';
        line = nl ? nl + 1 : end;
    }
    *w = '\0';
    free(s);
    return o;
}

static int same_figures(const indiv_eval_result *a, const indiv_eval_result *b) {
    return memcmp(a->m, b->m, sizeof a->m) == 0 &&
           memcmp(&a->decisions, &b->decisions, sizeof a->decisions) == 0 &&
           memcmp(a->contacts, b->contacts, sizeof a->contacts) == 0 &&
           memcmp(a->curve, b->curve, sizeof a->curve) == 0 &&
           a->buyers[0] == b->buyers[0];
}

Test(evaluate, no_event_at_or_after_the_split_reaches_profiles_scores_or_baselines) {
    char *a = world("a.db"), *b = tu_path(dir, "b.db"), *c = tu_path(dir, "c.db");
    cr_assert_eq(indiv_eventlog_copy(a, b, NULL), 0);
    cr_assert_eq(indiv_eventlog_copy(a, c, NULL), 0);
    plant(b, W_SPLIT);           /* at the split exactly: truth, nothing else */
    plant(b, W_SPLIT + 5 * DAY); /* inside the window */
    plant(c, W_UNTIL);           /* after the window: nothing at all */
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, W_SPLIT, W_UNTIL, 5);
    p.decide.policy.threshold = 0.2;
    indiv_eval_result *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb),
                      *rc = calloc(1, sizeof *rc);
    char *la = tu_path(dir, "a.csv"), *lb = tu_path(dir, "b.csv"),
         *lc = tu_path(dir, "c.csv");
    indiv_error err = {0};
    p.lists_path = la;
    cr_assert_eq(run(a, &m, &p, ra, &err), 0, "%s", err.msg);
    p.lists_path = lb;
    cr_assert_eq(run(b, &m, &p, rb, &err), 0, "%s", err.msg);
    p.lists_path = lc;
    cr_assert_eq(run(c, &m, &p, rc, &err), 0, "%s", err.msg);
    /* the planted purchases are truth in b: they must change the truth ... */
    cr_assert_gt(rb->truth_purchases, ra->truth_purchases);
    /* ... and nothing else: same lists for every method, same decisions */
    char *ta = lists_without_truth(la), *tb = lists_without_truth(lb);
    cr_assert_gt(strlen(ta), 1000);
    cr_assert_str_eq(ta, tb, "lists differ once future events are planted");
    cr_assert_eq(memcmp(&ra->decisions, &rb->decisions, sizeof ra->decisions), 0);
    /* after the window: every figure is the same */
    cr_assert(same_figures(ra, rc));
    cr_assert(tu_same_file(la, lc));
    free(ta);
    free(tb);
    free(la), free(lb), free(lc);
    free(ra), free(rb), free(rc);
    free(a), free(b), free(c);
}

Test(evaluate, threshold_curve_contacts_fewer_as_tau_rises_and_starts_at_everyone) {
    char *db = world("w.db");
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    for (int rel = INDIV_REL_BEST; rel <= INDIV_REL_ANY; rel++) {
        params(&p, W_SPLIT, W_UNTIL, 10);
        p.decide.policy.relevance = (indiv_relevance)rel;
        indiv_eval_result *r = calloc(1, sizeof *r);
        cr_assert_eq(run(db, &m, &p, r, NULL), 0);
        cr_assert_eq(r->relevance, (indiv_relevance)rel);
        cr_assert_eq(r->n_curve, 14);
        cr_assert_float_eq(r->curve[0].tau, 0, EPS);
        /* at τ = 0 the curve sends indiv's top offers to everyone */
        cr_assert_eq(
            memcmp(&r->curve[0].c, &r->contacts[INDIV_EVAL_INDIV], sizeof r->curve[0].c),
            0);
        cr_assert_eq(r->curve[0].c.contacted, r->consumers);
        for (size_t t = 1; t < r->n_curve; t++) {
            cr_assert_leq(r->curve[t].c.contacted, r->curve[t - 1].c.contacted);
            cr_assert_leq(r->curve[t].c.offers, r->curve[t - 1].c.offers);
            cr_assert_leq(r->curve[t].c.with_hit[0], r->curve[t].c.contacted);
        }
        /* under `any` a contact sends all the slots (and the default model's high
         * propensities may keep everyone contacted up to τ = 0.9) */
        if (rel == INDIV_REL_BEST)
            cr_assert_lt(r->curve[r->n_curve - 1].c.contacted, r->consumers);
        else
            for (size_t t = 0; t < r->n_curve; t++)
                cr_assert_eq(r->curve[t].c.offers,
                             r->curve[t].c.contacted * (int64_t)r->slots);
        /* indiv as decided contacts exactly the decisions' contacts */
        cr_assert_eq(r->contacts[INDIV_EVAL_DECIDED].contacted,
                     r->decisions.by_action[INDIV_CONTACT]);
        cr_assert_eq(r->decisions.consumers, r->consumers);
        free(r);
    }
    free(db);
}

Test(evaluate, same_inputs_same_figures_and_the_log_is_left_untouched) {
    char *db = world("w.db"), *scratch = tu_path(dir, "snap.db");
    indiv_eventlog *log;
    char h1[17], h2[17];
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_content_hash(log, h1, NULL), 0);
    indiv_eventlog_close(log);
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, W_SPLIT, W_UNTIL, 10);
    p.scratch = scratch;
    p.decide.threads = 1;
    indiv_eval_result *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2);
    cr_assert_eq(run(db, &m, &p, r1, NULL), 0);
    p.decide.threads = 3;
    cr_assert_eq(run(db, &m, &p, r2, NULL), 0);
    cr_assert(same_figures(r1, r2));
    cr_assert_null(tu_read(scratch, NULL), "the snapshot file was left behind");
    cr_assert_eq(indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_content_hash(log, h2, NULL), 0);
    indiv_eventlog_close(log);
    cr_assert_str_eq(h1, h2);
    /* the random baseline is near chance: HitRate@10 of 10 random offers out of ~70 */
    double hr = r1->m[INDIV_EVAL_ALL][INDIV_EVAL_RANDOM].hit_rate;
    cr_assert(hr > 0.05 && hr < 0.6, "random HitRate@10 %.3f", hr);
    cr_assert_gt(r1->m[INDIV_EVAL_ALL][INDIV_EVAL_INDIV].ndcg,
                 r1->m[INDIV_EVAL_ALL][INDIV_EVAL_RANDOM].ndcg + 0.1);
    free(r1), free(r2);
    free(scratch);
    free(db);
}

Test(evaluate, outputs_hold_every_table) {
    char *db = hand_log(), *csv = tu_path(dir, "m.csv"), *curve = tu_path(dir, "c.csv");
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, SPLIT, UNTIL, 2);
    indiv_eval_result *r = calloc(1, sizeof *r);
    cr_assert_eq(run(db, &m, &p, r, NULL), 0);
    char *js = indiv_eval_result_json(&p, &m, r, "indiv evaluate --db x");
    cr_assert_not_null(js);
    json_t *j = json_loads(js, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "command")),
                     "indiv evaluate --db x");
    cr_assert(json_is_object(json_object_get(
        json_object_get(json_object_get(j, "metrics"), "new"), "repeat")));
    cr_assert_eq(json_array_size(json_object_get(j, "curve")), 14);
    cr_assert(
        json_is_object(json_object_get(json_object_get(j, "contacts"), "indiv-decided")));
    json_decref(j);
    free(js);
    cr_assert_eq(indiv_eval_write_metrics_csv(r, csv, NULL), 0);
    cr_assert_eq(indiv_eval_write_curve_csv(r, curve, NULL), 0);
    char *t = tu_read(csv, NULL);
    size_t lines = 0;
    for (char *s = t; *s; s++)
        lines += *s == '\n';
    cr_assert_eq(lines, 1 + INDIV_EVAL_MODES * INDIV_EVAL_METHODS);
    cr_assert(strstr(t, "\nnew,repeat,2,"), "%s", t);
    cr_assert(strstr(t, "\nall,ease,2,"), "%s", t);
    free(t);
    free(csv), free(curve);
    free(r);
    free(db);
}

/* ---- baselines ----------------------------------------------------------------------- */

/* c1 before the split: o1 on two occasions (days 2, 9), o2 on two occasions (days 3, 12:
 * the more recent), o3 on one occasion in three lines (day 20); c2 buys o4 three times
 * and o5 once (popularity: o4 > o5). After the split c1 buys o2; c2 buys o4. */
static char *tie_log(void) {
    char *path = tu_path(dir, "ties.db");
    indiv_eventlog *log;
    cr_assert_eq(indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, NULL), 0);
    cr_assert_eq(indiv_eventlog_begin(log, NULL), 0);
    int64_t o[6];
    const char *ids[6] = {"o1", "o2", "o3", "o4", "o5", "o6"};
    for (int i = 0; i < 6; i++)
        o[i] = tu_add_offer(log, ids[i], i < 3 ? "A" : "B");
    int64_t c1 = tu_add_consumer(log, "c1", 1), c2 = tu_add_consumer(log, "c2", 1);
    int64_t jan = SPLIT - 31 * DAY;
    tu_buy(log, c1, o[0], jan + 2 * DAY);
    tu_buy(log, c1, o[1], jan + 3 * DAY);
    tu_buy(log, c1, o[0], jan + 9 * DAY);
    tu_buy(log, c1, o[1], jan + 12 * DAY);
    for (int k = 0; k < 3; k++)
        tu_buy(log, c1, o[2], jan + 20 * DAY);
    for (int k = 0; k < 3; k++)
        tu_buy(log, c2, o[3], jan + (4 + k) * DAY);
    tu_buy(log, c2, o[4], jan + 8 * DAY);
    tu_buy(log, c1, o[1], SPLIT + 2 * DAY);
    tu_buy(log, c2, o[3], SPLIT + 3 * DAY);
    cr_assert_eq(indiv_eventlog_commit(log, NULL), 0);
    indiv_eventlog_close(log);
    return path;
}

/* The offers of one consumer's list for one mode and method, in rank order. */
static void list_of(const char *csv, const char *who, const char *mode,
                    const char *method, char *out, size_t cap) {
    char *t = tu_read(csv, NULL), *save = NULL, prefix[64];
    snprintf(prefix, sizeof prefix, "%s,%s,%s,", who, mode, method);
    out[0] = '\0';
    for (char *line = strtok_r(t, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, prefix, strlen(prefix)) != 0)
            continue;
        char *offer_f = strchr(line + strlen(prefix), ',') + 1;
        size_t len = (size_t)(strchr(offer_f, ',') - offer_f);
        snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", *out ? " " : "",
                 (int)len, offer_f);
    }
    free(t);
}

Test(evaluate, repeat_buy_ranks_by_occasions_then_recency_then_popularity) {
    char *db = tie_log(), *lists = tu_path(dir, "lists.csv");
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, SPLIT, UNTIL, 5);
    p.lists_path = lists;
    indiv_eval_result *r = calloc(1, sizeof *r);
    indiv_error err = {0};
    cr_assert_eq(run(db, &m, &p, r, &err), 0, "%s", err.msg);
    char got[256];
    /* o2 and o1 both have two occasions, o2's last is more recent; o3's three lines
     * are one occasion; then o4 (3 purchases), o5 (1) by popularity */
    list_of(lists, "c1", "all", "repeat", got, sizeof got);
    cr_assert_str_eq(got, "o2 o1 o3 o4 o5");
    /* the first offer is a hit for c1 (o2) and c2 (o4): NDCG 1 for both */
    cr_assert_float_eq(r->m[INDIV_EVAL_ALL][INDIV_EVAL_REPEAT].ndcg, 1, EPS);
    free(r);
    free(lists);
    free(db);
}

Test(evaluate, item_baselines_are_fitted_and_the_naive_row_matches_the_curve_counts) {
    char *db = tie_log();
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    params(&p, SPLIT, UNTIL, 3);
    indiv_eval_result *r = calloc(1, sizeof *r);
    indiv_error err = {0};
    cr_assert_eq(run(db, &m, &p, r, &err), 0, "%s", err.msg);
    int in_grid = 0;
    for (int g = 0; g < INDIV_EVAL_EASE_GRID; g++)
        in_grid |= r->ease_lambda == r->ease_grid[g];
    cr_assert(in_grid, "lambda %g is not from the grid", r->ease_lambda);
    for (size_t t = 0; t < r->n_curve; t++) {
        cr_assert_eq(r->naive[t].contacted, r->curve[t].c.contacted);
        cr_assert_leq(r->naive[t].with_hit[INDIV_EVAL_ALL], r->naive[t].contacted);
    }
    /* everyone contacted: the naive rule is repeat-buy's top 3 sent to all */
    cr_assert_eq(
        memcmp(&r->naive[0], &r->contacts[INDIV_EVAL_REPEAT], sizeof r->naive[0]), 0);
    /* a given lambda is used as is */
    p.ease_lambda = 7.5;
    cr_assert_eq(run(db, &m, &p, r, &err), 0, "%s", err.msg);
    cr_assert_float_eq(r->ease_lambda, 7.5, EPS);
    p.knn_k = 0;
    cr_assert_eq(run(db, &m, &p, r, &err), INDIV_EINVAL);
    free(r);
    free(db);
}

/* Per consumer of a lists file: whether one of method's first `slots` offers (every
 * purchase counting) was bought. Returns how many consumers were seen. */
static size_t top_hits(const char *csv, const char *method, int slots, char ids[][32],
                       unsigned char *hit, size_t cap) {
    char *t = tu_read(csv, NULL), *save = NULL;
    size_t n = 0;
    for (char *line = strtok_r(t, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char who[32], mode[8], me[16], offer[32];
        int rank, bought;
        double score;
        if (sscanf(line, "%31[^,],%7[^,],%15[^,],%d,%31[^,],%lf,%d", who, mode, me, &rank,
                   offer, &score, &bought) != 7 ||
            strcmp(mode, "all") != 0 || strcmp(me, method) != 0)
            continue;
        size_t i = 0;
        while (i < n && strcmp(ids[i], who) != 0)
            i++;
        if (i == n && n < cap) {
            snprintf(ids[n], 32, "%s", who);
            hit[n++] = 0;
        }
        if (i < n && rank <= slots)
            hit[i] |= (unsigned char)bought;
    }
    free(t);
    return n;
}

/* The curve's paired difference to the naive rule: at every point and for both
 * relevances it is the difference of the two precisions; at τ = 0 both contact every
 * known customer, so d_i = (indiv's top 3 hit) − (repeat-buy's top 3 hit), and the SE
 * is √(N · s²_d) / N, recomputed here from the lists file. */
Test(evaluate, the_paired_difference_to_the_naive_rule_and_its_standard_error) {
    char *db = world("w.db"), *lists = tu_path(dir, "pl.csv");
    indiv_model m;
    indiv_model_default(&m);
    indiv_eval_params p;
    static char ids[2][400][32];
    static unsigned char h[2][400];
    for (int rel = INDIV_REL_BEST; rel <= INDIV_REL_ANY; rel++) {
        params(&p, W_SPLIT, W_UNTIL, 10);
        p.decide.policy.relevance = (indiv_relevance)rel;
        p.lists_path = lists;
        indiv_eval_result *r = calloc(1, sizeof *r);
        cr_assert_eq(run(db, &m, &p, r, NULL), 0);
        for (size_t t = 0; t < r->n_curve; t++) {
            const indiv_eval_curve_point *c = &r->curve[t];
            double n = (double)c->c.contacted;
            cr_assert_float_eq(c->naive_diff,
                               n ? (double)(c->c.with_hit[INDIV_EVAL_ALL] -
                                            r->naive[t].with_hit[INDIV_EVAL_ALL]) /
                                       n
                                 : 0,
                               EPS, "point %zu", t);
            cr_assert_geq(c->naive_diff_se, 0);
        }
        size_t n0 = top_hits(lists, "indiv", r->slots, ids[0], h[0], 400),
               n1 = top_hits(lists, "repeat", r->slots, ids[1], h[1], 400);
        cr_assert_eq(n0, (size_t)r->consumers);
        cr_assert_eq(n1, n0);
        double sum = 0, sum2 = 0, big_n = (double)n0;
        for (size_t i = 0; i < n0; i++) {
            cr_assert_str_eq(ids[0][i], ids[1][i]);
            double d = (double)h[0][i] - (double)h[1][i];
            sum += d;
            sum2 += d * d;
        }
        double var = (sum2 - sum * sum / big_n) / (big_n - 1);
        cr_assert_eq(r->curve[0].c.contacted, r->consumers);
        cr_assert_float_eq(r->curve[0].naive_diff, sum / big_n, EPS);
        cr_assert_float_eq(r->curve[0].naive_diff_se, sqrt(big_n * var) / big_n, 1e-12);
        cr_assert_gt(r->curve[0].naive_diff_se, 0, "the two lists differ somewhere");
        free(r);
    }
    free(lists);
    free(db);
}
