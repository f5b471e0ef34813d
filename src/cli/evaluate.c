/*
 * evaluate.c — `indiv evaluate`: profiles as of a split, decisions and rankings by indiv
 * and four baselines, compared with what each consumer bought after the split; tables on
 * stdout, JSON and CSV files on request.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "indiv/evaluate.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/timeutil.h"
#include "policy_opts.h"

static const char evaluate_help[] =
    "usage: indiv evaluate --db FILE --split-at TIME [--until TIME] [--k K]\n"
    "                      [--model FILE] [--json FILE] [--csv FILE] [--curve FILE]\n"
    "                      [--lists FILE] [--taus LIST] [--seed S] [--scratch PATH]\n"
    "                      [policy options]\n\n"
    "Replays the log: profiles and decisions as of --split-at (from the events before\n"
    "it only), rankings by indiv and by six baselines (random, popularity, mass\n"
    "campaign, repeat-buy, item-knn, ease) for the same consumers, compared with what\n"
    "each bought in\n"
    "[--split-at, --until). Prints the tables; every figure is defined in\n"
    "docs/evaluation.md. The database is only read.\n\n"
    "  --db FILE            event log\n"
    "  --split-at TIME      decision time: nothing at or after it is used but the truth\n"
    "  --until TIME         end of the truth window (default: just after the last "
    "event)\n"
    "  --k K                list length of the ranking metrics (default 10)\n"
    "  --model FILE         model file (default: the built-in models/default.json); a\n"
    "                       trained one must be trained with --as-of <= --split-at\n"
    "  --json FILE          everything as JSON (with this command line)\n"
    "  --csv FILE           the metrics table as CSV\n"
    "  --curve FILE         the threshold curve as CSV\n"
    "  --lists FILE         every consumer's lists as CSV (large)\n"
    "  --taus LIST          thresholds of the curve, comma-separated\n"
    "                       (default 0,0.01,0.02,0.05,0.1,0.15,0.2,0.3,...,0.9)\n"
    "  --seed S             random baseline, ties and divergence draws (default 1)\n"
    "  --half-life DAYS     taste half-life of the profiles (default 90)\n"
    "  --scratch PATH       snapshot database: a new file, or :memory: (default)\n"
    "  --threads T          worker threads of the decision run (default 2)\n"
    "  --knn-k K            neighbours per offer of the item-knn baseline (default 100)\n"
    "  --without TERMS      ablation: these model terms get weight 0 (comma list of\n"
    "                       affinity, popularity, readiness, frequency, repeat,\n"
    "                       repeat_frequency, repeat_readiness, item_item)\n"
    "  --ease-lambda L      EASE's lambda (default: the best of 10,30,100,300,1000 on\n"
    "                       the 28 days before the split)\n"
    "  --calibrated-model FILE  the model with its calibration on this window (its\n"
    "                       reliability table and Youden τ, docs/evaluation.md):\n"
    "                       to calibrate a hand-set model on a world it was not\n"
    "                       made on, never to choose τ on the window it is judged on\n"
    "  --no-serendipity-table  skip the serendipity table (the decision run again\n"
    "                       without serendipity, with each aim and each re-ranker)\n"
    "  -h, --help           this help\n"
    "policy of the decision run (as in indiv decide):\n";

static void print_help(void) {
    fputs(evaluate_help, stdout);
    cli_policy_set_help(stdout);
    cli_policy_help(stdout);
}

struct eval_args {
    const char *db, *model, *json, *csv, *curve, *without, *calibrated;
    int have_until;
    int tau_pending; /* no --threshold: the model's τ or the default, once loaded */
    indiv_eval_params p;
};

/* The command's own options; the policy parameters are added from their table. */
enum {
    OPT_DB = 1,
    OPT_SPLIT_AT,
    OPT_UNTIL,
    OPT_K,
    OPT_MODEL,
    OPT_JSON,
    OPT_CSV,
    OPT_CURVE,
    OPT_LISTS,
    OPT_TAUS,
    OPT_SEED,
    OPT_SCRATCH,
    OPT_THREADS,
    OPT_HALF_LIFE,
    OPT_KNN_K,
    OPT_EASE_LAMBDA,
    OPT_WITHOUT,
    OPT_NO_SEREN,
    OPT_CALIBRATED,
    OPT_SET
};

static const struct option fixed_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"split-at", required_argument, NULL, OPT_SPLIT_AT},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"k", required_argument, NULL, OPT_K},
    {"model", required_argument, NULL, OPT_MODEL},
    {"json", required_argument, NULL, OPT_JSON},
    {"csv", required_argument, NULL, OPT_CSV},
    {"curve", required_argument, NULL, OPT_CURVE},
    {"lists", required_argument, NULL, OPT_LISTS},
    {"taus", required_argument, NULL, OPT_TAUS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"scratch", required_argument, NULL, OPT_SCRATCH},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"half-life", required_argument, NULL, OPT_HALF_LIFE},
    {"knn-k", required_argument, NULL, OPT_KNN_K},
    {"ease-lambda", required_argument, NULL, OPT_EASE_LAMBDA},
    {"without", required_argument, NULL, OPT_WITHOUT},
    {"no-serendipity-table", no_argument, NULL, OPT_NO_SEREN},
    {"calibrated-model", required_argument, NULL, OPT_CALIBRATED},
    {"set", required_argument, NULL, OPT_SET},
    {"help", no_argument, NULL, 'h'},
    {0}};

/* Room for the fixed options, the policy table and the terminator. */
#define MAX_OPTS 64

/* --without: every name of the comma list is a model term (a usage error otherwise,
 * before any work). */
static int check_terms(const char *list) {
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int t = 0; t < INDIV_TERM_COUNT && !found; t++)
            found = strlen(indiv_model_term_name(t)) == len &&
                    strncmp(indiv_model_term_name(t), p, len) == 0;
        if (!found)
            return cli_usage("evaluate",
                             "--without: '%.*s' is not a model term (affinity, "
                             "popularity, readiness, frequency, repeat, repeat_frequency, "
                             "repeat_readiness, item_item)",
                             (int)len, p);
        p += len;
        if (!*p)
            return CLI_OK;
    }
}

static int set_int(const char *opt, const char *v, int64_t lo, int64_t hi, int *out) {
    int64_t x = 0;
    int rc = cli_int64("evaluate", opt, v, lo, hi, &x);
    *out = (int)x;
    return rc;
}

static int parse_taus(const char *v, indiv_eval_params *p) {
    char *copy = strdup(v), *save = NULL;
    int rc = copy ? CLI_OK : CLI_FAIL;
    p->n_taus = 0;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && rc == CLI_OK;
         t = strtok_r(NULL, ",", &save)) {
        if (p->n_taus == INDIV_EVAL_TAUS_MAX)
            rc = cli_usage("evaluate", "--taus: at most %d thresholds",
                           INDIV_EVAL_TAUS_MAX);
        else
            rc = cli_double("evaluate", "--taus", t, 0, 1, &p->taus[p->n_taus++]);
    }
    if (rc == CLI_OK && p->n_taus == 0)
        rc = cli_usage("evaluate", "--taus: no threshold in '%s'", v);
    free(copy);
    return rc;
}

static int set_option(struct eval_args *a, int code, const char *v) {
    int64_t x = 0;
    int rc;
    if (cli_policy_is_code(code))
        return cli_policy_set("evaluate", &a->p.decide.policy, code, NULL, v);
    switch (code) {
    case OPT_SET:
        return cli_policy_assign("evaluate", &a->p.decide.policy, v);
    case OPT_DB:
        a->db = v;
        return CLI_OK;
    case OPT_SPLIT_AT:
        return cli_time("evaluate", "--split-at", v, &a->p.split);
    case OPT_UNTIL:
        a->have_until = 1;
        return cli_time("evaluate", "--until", v, &a->p.until);
    case OPT_K:
        return set_int("--k", v, 1, 1000, &a->p.k);
    case OPT_KNN_K:
        return set_int("--knn-k", v, 1, 100000, &a->p.knn_k);
    case OPT_WITHOUT:
        a->without = v;
        return check_terms(v);
    case OPT_EASE_LAMBDA:
        return cli_double("evaluate", "--ease-lambda", v, 1e-9, 1e12, &a->p.ease_lambda);
    case OPT_MODEL:
        a->model = v;
        return CLI_OK;
    case OPT_JSON:
        a->json = v;
        return CLI_OK;
    case OPT_CSV:
        a->csv = v;
        return CLI_OK;
    case OPT_CURVE:
        a->curve = v;
        return CLI_OK;
    case OPT_LISTS:
        a->p.lists_path = v;
        return CLI_OK;
    case OPT_TAUS:
        return parse_taus(v, &a->p);
    case OPT_SEED:
        rc = cli_int64("evaluate", "--seed", v, 0, INT64_MAX, &x);
        a->p.seed = a->p.decide.policy.seed = (uint64_t)x;
        return rc;
    case OPT_SCRATCH:
        a->p.scratch = v;
        return CLI_OK;
    case OPT_THREADS:
        return set_int("--threads", v, 1, INDIV_THREADS_MAX, &a->p.decide.threads);
    case OPT_HALF_LIFE:
        return cli_double("evaluate", "--half-life", v, 1e-3, 1e6,
                          &a->p.profile.half_life_days);
    case OPT_NO_SEREN:
        a->p.serendipity_table = 0;
        return CLI_OK;
    case OPT_CALIBRATED:
        a->calibrated = v;
        return CLI_OK;
    default:
        return CLI_USAGE;
    }
}

static int parse_args(int argc, char **argv, struct eval_args *a) {
    int c, rc = CLI_OK;
    struct option long_opts[MAX_OPTS];
    if (!cli_policy_options(fixed_opts, long_opts, MAX_OPTS))
        return cli_usage("evaluate", "too many options (raise MAX_OPTS)");
    opterr = 0; /* our own message, in the "indiv evaluate: ..." form */
    cli_threshold_state ts;
    cli_threshold_begin(&ts, &a->p.decide.policy);
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h')
            return print_help(), -1;
        if (c == '?')
            return cli_bad_option("evaluate", argv[optind - 1], long_opts);
        rc = set_option(a, c, optarg);
    }
    if (rc != CLI_OK)
        return rc;
    a->p.decide.threshold_source = cli_threshold_end(&ts, &a->p.decide.policy);
    a->tau_pending = a->p.decide.threshold_source == NULL;
    if (optind < argc)
        return cli_usage("evaluate", "unexpected argument '%s'", argv[optind]);
    if (!a->db || a->p.split == INT64_MIN)
        return cli_usage("evaluate", "--db FILE and --split-at TIME are required");
    if (a->have_until && a->p.until <= a->p.split)
        return cli_usage("evaluate", "--until must be after --split-at");
    return CLI_OK;
}

/* ---- tables ------------------------------------------------------------------------ */

static void print_header(FILE *o, const struct eval_args *a, const indiv_model *m,
                         const indiv_eval_result *r) {
    char s[INDIV_ISO_LEN], u[INDIV_ISO_LEN];
    fprintf(o, "split %s, truth until %s, k = %d, model %s (%s, taste %s), seed %llu\n",
            indiv_time_format(a->p.split, s), indiv_time_format(a->p.until, u), a->p.k,
            m->id, m->feature_space, indiv_taste_norm_name(indiv_model_taste_norm(m)),
            (unsigned long long)a->p.seed);
    fprintf(
        o,
        "known customers %lld (profiling consent, a purchase before the split); bought "
        "in the window: %lld (%lld of offers new to them); cold buyers not evaluated: "
        "%lld\n",
        (long long)r->consumers, (long long)r->buyers[INDIV_EVAL_ALL],
        (long long)r->buyers[INDIV_EVAL_NEW], (long long)r->cold_buyers);
    fprintf(o, "candidate offers %lld (valid at the split)", (long long)r->candidates);
    if (m->embedding)
        fprintf(o, "; %lld without a vector in the embedding",
                (long long)r->offers_without_embedding);
    fprintf(o, "\nbaselines: item-knn k = %d; ease lambda = %g (%s)\n", a->p.knn_k,
            r->ease_lambda,
            a->p.ease_lambda > 0 ? "given" : "best NDCG on the validation window");
}

/* Column widths count bytes: "±" takes two bytes for one column, so the header is
 * written out rather than padded by printf. */
static void print_ranking(FILE *o, const indiv_eval_result *r, int mode) {
    fprintf(o,
            "\n%s (%lld consumers; mean ± standard error; Δ = indiv − method, paired)\n",
            mode == INDIV_EVAL_ALL ? "ranking, every purchase counts"
                                   : "ranking, only offers new to the person count",
            (long long)r->buyers[mode]);
    fprintf(o,
            "method      HitRate       Prec   Recall NDCG          ΔNDCG          cover  "
            "novelty ILD  serendipity\n");
    for (int me = 0; me < INDIV_EVAL_METHODS; me++) {
        const indiv_eval_metrics *x = &r->m[mode][me];
        char hr[32], nd[32], dn[32];
        snprintf(hr, sizeof hr, "%.3f±%.3f", x->hit_rate, x->hit_rate_se);
        snprintf(nd, sizeof nd, "%.3f±%.3f", x->ndcg, x->ndcg_se);
        if (me == INDIV_EVAL_INDIV)
            snprintf(dn, sizeof dn, "-");
        else
            snprintf(dn, sizeof dn, "%+.3f±%.3f", x->diff_ndcg, x->diff_ndcg_se);
        fprintf(o, "%-11s %-14s %-6.3f %-6.3f %-14s %-*s %-6.3f %-7.2f %-4.2f %.3f\n",
                indiv_eval_method_name((indiv_eval_method)me), hr, x->precision,
                x->recall, nd, me == INDIV_EVAL_INDIV ? 14 : 15, dn, x->coverage,
                x->novelty, x->diversity, x->serendipity);
    }
}

/* One row of a contacts table, ended by a line break unless `open` (the caller adds
 * columns). */
static void print_contact_row(FILE *o, const char *name, const indiv_eval_contacts *c,
                              int64_t n, int open) {
    double d = c->contacted ? (double)c->contacted : 1,
           f = c->offers ? (double)c->offers : 1;
    fprintf(o, "%-24s %9lld %6.3f %9.3f %9.3f %7lld %9.3f %9.3f%s", name,
            (long long)c->contacted, n ? (double)c->contacted / (double)n : 0,
            (double)c->with_hit[INDIV_EVAL_ALL] / d,
            (double)c->with_hit[INDIV_EVAL_NEW] / d, (long long)c->offers,
            (double)c->offer_hits[INDIV_EVAL_ALL] / f,
            (double)c->offer_hits[INDIV_EVAL_NEW] / f, open ? "" : "\n");
}

static void print_contacts(FILE *o, const indiv_eval_result *r,
                           const indiv_eval_params *p) {
    const indiv_decision_counts *d = &r->decisions;
    const indiv_policy_params *pol = &p->decide.policy;
    fprintf(o,
            "\ndecisions (τ %g from the %s, %d slots, ε %g): contact %lld, defer %lld, "
            "none %lld;",
            pol->threshold, p->decide.threshold_source, pol->slots, pol->serendipity,
            (long long)d->by_action[INDIV_CONTACT], (long long)d->by_action[INDIV_DEFER],
            (long long)d->by_action[INDIV_NONE]);
    for (int why = 0; why < INDIV_R_COUNT; why++)
        if (d->by_reason[why])
            fprintf(o, " %s %lld", indiv_reason_name((indiv_reason)why),
                    (long long)d->by_reason[why]);
    fprintf(o, "\n\ncontacts: precision = share of the contacted who bought one of their "
               "offers (new: one new to them)\n");
    fprintf(o, "%-24s %9s %6s %9s %9s %7s %9s %9s\n", "who gets what", "contacted",
            "share", "precision", "(new)", "offers", "offer-hit", "(new)");
    print_contact_row(o, "indiv as decided", &r->contacts[INDIV_EVAL_DECIDED],
                      r->consumers, 0);
    for (int me = 0; me < INDIV_EVAL_METHODS; me++) {
        char name[64];
        snprintf(name, sizeof name, "%s, top %d to all",
                 indiv_eval_method_name((indiv_eval_method)me), pol->slots);
        print_contact_row(o, name, &r->contacts[me], r->consumers, 0);
    }
}

static void print_serendipity(FILE *o, const indiv_eval_result *r) {
    if (!r->n_seren)
        return;
    fprintf(o,
            "\nserendipity: the decision run again under each variant, on the lists sent "
            "to the contacted known customers\n");
    fprintf(o, "%-18s %9s %6s %9s %6s %9s %7s %7s %6s %6s %6s %5s\n", "variant",
            "contacted", "offers", "offer-hit", "NDCG", "divergent", "div-hit", "(new)",
            "Ge", "Zhang", "miscal", "ILD");
    for (size_t i = 0; i < r->n_seren; i++) {
        const indiv_eval_seren *v = &r->seren[i];
        double nd = v->divergent ? (double)v->divergent : 1;
        fprintf(
            o,
            "%-18s %9lld %6lld %9.3f %6.3f %9lld %7.3f %7.3f %6.3f %6.3f %6.3f %5.2f\n",
            v->name, (long long)v->contacted, (long long)v->offers,
            v->offers ? (double)v->offer_hits / (double)v->offers : 0.0, v->ndcg,
            (long long)v->divergent, (double)v->divergent_hits / nd,
            (double)v->divergent_new_hits / nd, v->ge, v->zhang, v->miscalibration,
            v->ild);
    }
}

static void print_curve(FILE *o, const indiv_eval_result *r) {
    if (r->relevance == INDIV_REL_ANY)
        fprintf(o,
                "\nthreshold curve (relevance any): contact with indiv's top %d offers "
                "when P(buys at least one) = 1 - prod(1 - p_i) >= τ\n",
                r->slots);
    else
        fprintf(o,
                "\nthreshold curve (relevance best): contact when indiv's best offer has "
                "p >= τ, with its top %d offers above τ\n",
                r->slots);
    fprintf(o, "τ                        contacted  share precision     (new)  offers "
               "offer-hit     (new)\n");
    for (size_t t = 0; t < r->n_curve; t++) {
        char tau[32];
        snprintf(tau, sizeof tau, "%g", r->curve[t].tau);
        print_contact_row(o, tau, &r->curve[t].c, r->consumers, 0);
    }
    fprintf(o,
            "\nnaive rule at the same numbers contacted: the most active customers (most "
            "purchase occasions), each with their repeat-buy top %d\n",
            r->slots);
    fprintf(o, "τ of the same count        contacted  share precision     (new)  offers "
               "offer-hit     (new)  indiv - rule (paired SE)\n");
    for (size_t t = 0; t < r->n_curve; t++) {
        char tau[32];
        snprintf(tau, sizeof tau, "%g", r->curve[t].tau);
        print_contact_row(o, tau, &r->naive[t], r->consumers, 1);
        fprintf(o, "  %+.3f ± %.3f\n", r->curve[t].naive_diff, r->curve[t].naive_diff_se);
    }
}

/* ---- the run ----------------------------------------------------------------------- */

/* "indiv evaluate ARGS" with arguments holding spaces or quotes single-quoted. */
static char *command_line(int argc, char **argv) {
    size_t n = 8;
    for (int i = 0; i < argc; i++)
        n += 4 * strlen(argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "indiv");
    for (int i = 0; i < argc; i++) {
        int quote = strpbrk(argv[i], " \t'\"$\\") != NULL;
        *p++ = ' ';
        if (quote)
            *p++ = '\'';
        for (const char *c = argv[i]; *c; c++)
            p += *c == '\'' ? sprintf(p, "'\\''") : sprintf(p, "%c", *c);
        if (quote)
            *p++ = '\'';
    }
    *p = '\0';
    return s;
}

static int put_text(FILE *f, void *ctx, indiv_error *err) {
    (void)err;
    return fputs(ctx, f) < 0 || fputc('\n', f) == EOF ? INDIV_EIO : INDIV_OK;
}

static int write_json(const struct eval_args *a, const indiv_model *m,
                      const indiv_eval_result *r, const char *cmd, indiv_error *err) {
    char *js = indiv_eval_result_json(&a->p, m, r, cmd);
    int rc = js ? indiv_file_write_atomic(a->json, put_text, js, err)
                : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(js);
    return rc;
}

/* Every output must differ from the database and from the others (checked before the
 * work, so that a mistake costs nothing). */
static int check_outputs(const struct eval_args *a, indiv_error *err) {
    static const char *const names[] = {"--json",    "--csv",   "--curve",
                                        "--lists",   "--scratch", "--calibrated-model"};
    const char *outs[] = {a->json,
                          a->csv,
                          a->curve,
                          a->p.lists_path,
                          strcmp(a->p.scratch, ":memory:") ? a->p.scratch : NULL,
                          a->calibrated};
    const char *ins[] = {a->model};
    static const char *const in_names[] = {"--model"};
    int rc = indiv_path_check_io(a->db, outs, names, 6, ins, in_names, 1, err);
    /* written after minutes of work: a missing directory must fail now */
    for (size_t i = 0; rc == INDIV_OK && i < 6; i++)
        if (i != 4) /* --scratch: a database the snapshot creates first thing */
            rc = indiv_path_check_creatable(outs[i], err);
    return rc;
}

/* The model with this window's calibration, written atomically. */
static int write_calibrated(const char *path, const indiv_model *m,
                            const indiv_eval_result *r, indiv_error *err) {
    indiv_model c = *m; /* borrows m's owned parts: never cleared */
    c.calibration = r->calibration;
    indiv_outfile *out = NULL;
    int rc = indiv_outfile_open(path, &out, err);
    if (rc == INDIV_OK)
        rc = indiv_model_save(&c, indiv_outfile_write_path(out), err);
    return indiv_outfile_finish(out, rc, err);
}

static int write_files(const struct eval_args *a, const indiv_model *m,
                       const indiv_eval_result *r, const char *cmd, indiv_error *err) {
    int rc = a->json ? write_json(a, m, r, cmd, err) : INDIV_OK;
    if (rc == INDIV_OK && a->csv)
        rc = indiv_eval_write_metrics_csv(r, a->csv, err);
    if (rc == INDIV_OK && a->curve)
        rc = indiv_eval_write_curve_csv(r, a->curve, err);
    if (rc == INDIV_OK && a->calibrated)
        rc = write_calibrated(a->calibrated, m, r, err);
    return rc;
}

/* The model's reliability on this window and the τ Youden's index would pick here. */
static void print_calibration(FILE *o, const indiv_eval_result *r) {
    const indiv_calibration *c = &r->calibration;
    fprintf(o,
            "\ncalibration on this window: P(buys at least one of indiv's top %d) against "
            "who did, %lld of %lld known customers (%.3f); by decile:\n",
            c->slots, (long long)c->acted, (long long)c->people,
            c->people ? (double)c->acted / (double)c->people : 0.0);
    fprintf(o, "decile  people  relevance range    predicted  observed\n");
    for (size_t b = 0; b < c->n_bins; b++)
        fprintf(o, "%6zu %7lld  %.3f .. %.3f %10.3f %9.3f\n", b + 1,
                (long long)c->bins[b].n, c->bins[b].lo, c->bins[b].hi,
                c->bins[b].predicted, c->bins[b].observed);
    if (isnan(c->threshold))
        fprintf(o, "Youden's τ on this window: none (fewer than %d in a group)\n",
                INDIV_CALIBRATION_MIN_GROUP);
    else
        fprintf(o,
                "Youden's τ on this window: %.3f (TPR %.3f, FPR %.3f): a check of the "
                "model's τ, not a value to adopt (it is fitted on the truth)\n",
                c->threshold, c->tpr, c->fpr);
}

static void print_all(const struct eval_args *a, const indiv_model *m,
                      const indiv_eval_result *r) {
    print_header(stdout, a, m, r);
    print_ranking(stdout, r, INDIV_EVAL_ALL);
    print_ranking(stdout, r, INDIV_EVAL_NEW);
    print_contacts(stdout, r, &a->p);
    print_curve(stdout, r);
    print_calibration(stdout, r);
    print_serendipity(stdout, r);
    fflush(stdout);
}

/* --without: the named terms' weights set to 0 (an ablation of the same model). */
static int ablate(indiv_model *m, const char *list, indiv_error *err) {
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int t = 0; t < INDIV_TERM_COUNT; t++)
            if (strlen(indiv_model_term_name(t)) == len &&
                strncmp(indiv_model_term_name(t), p, len) == 0) {
                m->weight[t] = 0;
                m->bought.affinity *= t != INDIV_TERM_AFFINITY;
                m->bought.popularity *= t != INDIV_TERM_POPULARITY;
                m->bought.item_item *= t != INDIV_TERM_ITEM_ITEM;
                found = 1;
            }
        if (!found)
            return indiv_error_set(err, INDIV_EINVAL, "--without: '%.*s' is not a model "
                                   "term", (int)len, p);
        p += len + (p[len] == ',');
    }
    return INDIV_OK;
}

static int run(struct eval_args *a, const char *cmd, indiv_error *err) {
    indiv_model m = {0};
    indiv_eventlog *log = NULL;
    indiv_eval_result *r = calloc(1, sizeof *r);
    int rc = r ? INDIV_OK : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc =
            a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    if (rc == INDIV_OK && a->without)
        rc = ablate(&m, a->without, err);
    if (rc == INDIV_OK && a->tau_pending)
        cli_threshold_note("evaluate", &a->p.decide, &m);
    if (rc == INDIV_OK)
        rc = check_outputs(a, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(a->db, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK && !a->have_until) {
        indiv_eventlog_stats st;
        if ((rc = indiv_eventlog_stats_get(log, &st, err)) == INDIV_OK)
            a->p.until = st.events ? st.last_ts + 1 : a->p.split + 1;
        if (rc == INDIV_OK && a->p.until <= a->p.split)
            rc =
                indiv_error_set(err, INDIV_EINVAL, "%s: no event after the split", a->db);
    }
    cli_progress_state ps = {0};
    if (rc == INDIV_OK)
        rc = indiv_evaluate_run(log, &m, &a->p, cli_progress, &ps, r, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK)
        rc = write_files(a, &m, r, cmd, err);
    if (rc == INDIV_OK) {
        print_all(a, &m, r);
        fprintf(stderr, "indiv evaluate: %.2f s\n", r->seconds);
    }
    indiv_model_clear(&m);
    free(r);
    return rc;
}

int cli_evaluate(int argc, char **argv) {
    struct eval_args a = {0};
    indiv_eval_params_init(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    if (indiv_policy_params_validate(&a.p.decide.policy, &err) < 0)
        return cli_usage("evaluate", "%s", err.msg);
    char *cmd = command_line(argc, argv);
    rc = run(&a, cmd, &err) == INDIV_OK ? CLI_OK : cli_fail("evaluate", &err);
    free(cmd);
    return rc;
}
