/*
 * train.c — `indiv train`: fit a model file (offer embedding and propensity weights)
 * from an event log.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/policy.h"
#include "indiv/rights.h"
#include "indiv/timeutil.h"
#include "indiv/train.h"

static const char train_help[] =
    "usage: indiv train --db FILE --out FILE [--as-of TIME] [--dims K] [--seed S]\n"
    "                   [--id ID] [--iterations N] [--alpha A] [--lambda L]\n"
    "                   [--holdout DAYS] [--negatives N] [--threads T] [--scratch "
    "PATH]\n\n"
    "Learns a model file from the events strictly before --as-of (consumers with\n"
    "profiling consent only): an offer embedding by implicit-feedback matrix\n"
    "factorisation (ALS, Hu, Koren & Volinsky 2008) that profiles and the scorer use\n"
    "in place of categories, and propensity weights by logistic regression, fitted on\n"
    "contacts and reactions when the log has them, otherwise on which offers each\n"
    "consumer bought in a held-back tail of the period. The model records its\n"
    "provenance (data fingerprint, as-of time, parameters, seed, validation metrics on\n"
    "the tail). The database is only read, apart from one row of its models table that\n"
    "records the model (so that an erasure can mark it, docs/rights.md). Same data,\n"
    "parameters and seed -> the same model, whatever --threads. Method:\n"
    "docs/evaluation.md.\n\n"
    "  --db FILE          event log\n"
    "  --out FILE         model file to write (JSON), written atomically\n"
    "  --as-of TIME       use events before this time (default: just after the last)\n"
    "  --id ID            model id (default: the --out file name without .json)\n"
    "  --dims K           embedding dimension (default 32)\n"
    "  --iterations N     ALS sweeps (default 15)\n"
    "  --alpha A          ALS confidence slope, c = 1 + A r (default 10)\n"
    "  --lambda L         ALS ridge (default 1)\n"
    "  --holdout DAYS     held-back tail for labels and validation (default 14)\n"
    "  --negatives N      sampled non-bought offers per consumer (default 50)\n"
    "  --half-life DAYS   taste half-life of the profiles it trains on (default 90)\n"
    "  --seed S           seed of the initialisation and sampling (default 1)\n"
    "  --threads T        ALS threads (default 2; the model does not depend on it)\n"
    "  --scratch PATH     snapshot database: a new file, or :memory: (default)\n"
    "  --ease-lambda L    EASE ridge of the item-to-item term (default 300)\n"
    "  --item-k K         neighbours kept per offer in the model (default 50)\n"
    "  --calibration-slots K  offers per contact of the calibration and its τ\n"
    "                     (default 3, the policy's --slots)\n"
    "  --new-offers MODE  weights of offers new to the person: split (default: their\n"
    "                     own item-to-item weight), shared (one weight set for every\n"
    "                     offer), ranked (a conditional-logit sub-model of new\n"
    "                     offers), choice (a conditional logit of which offer a\n"
    "                     buyer picks, times whether they buy; docs/evaluation.md\n"
    "                     \"Offers new to the person\")\n"
    "  --new-offer-shrink G  scale in [0, 1] of the new offers' affinity and\n"
    "                     popularity weights, or auto (default: the best of 0.01,\n"
    "                     0.25, 0.5, 0.75, 1 on the validation half's tail)\n"
    "  --act-model MODE   person-level act model: full (default: logit of the offers'\n"
    "                     P(buys one), purchase occasions, readiness, days since the\n"
    "                     last purchase, offers re-bought, decayed occasions of the\n"
    "                     top 3 offers bought), orders (the first two),\n"
    "                     none (docs/evaluation.md \"The act model\")\n"
    "  --no-act-model     the same as --act-model none: τ is compared with the offers'\n"
    "                     P(buys at least one) alone (docs/evaluation.md)\n"
    "  -h, --help         this help\n";

struct train_args {
    const char *db, *out, *id, *scratch;
    int have_as_of;
    char id_buf[INDIV_MODEL_ID_MAX];
    indiv_train_params p;
};

static const struct option long_opts[] = {{"db", required_argument, NULL, 1},
                                          {"out", required_argument, NULL, 2},
                                          {"as-of", required_argument, NULL, 3},
                                          {"id", required_argument, NULL, 4},
                                          {"dims", required_argument, NULL, 5},
                                          {"iterations", required_argument, NULL, 6},
                                          {"alpha", required_argument, NULL, 7},
                                          {"lambda", required_argument, NULL, 8},
                                          {"holdout", required_argument, NULL, 9},
                                          {"negatives", required_argument, NULL, 10},
                                          {"half-life", required_argument, NULL, 11},
                                          {"seed", required_argument, NULL, 12},
                                          {"threads", required_argument, NULL, 13},
                                          {"scratch", required_argument, NULL, 14},
                                          {"ease-lambda", required_argument, NULL, 15},
                                          {"item-k", required_argument, NULL, 16},
                                          {"calibration-slots", required_argument, NULL,
                                           17},
                                          {"no-act-model", no_argument, NULL, 18},
                                          {"new-offers", required_argument, NULL, 19},
                                          {"act-model", required_argument, NULL, 20},
                                          {"new-offer-shrink", required_argument, NULL, 21},
                                          {"help", no_argument, NULL, 'h'},
                                          {0}};

static int set_int(const char *opt, const char *v, int64_t lo, int64_t hi, int *out) {
    int64_t x = 0;
    int rc = cli_int64("train", opt, v, lo, hi, &x);
    *out = (int)x;
    return rc;
}

/* Applies one option (code from long_opts). */
static int set_option(struct train_args *a, int code, const char *v) {
    indiv_train_params *p = &a->p;
    int64_t x = 0;
    int rc = CLI_OK;
    switch (code) {
    case 1:
        a->db = v;
        return CLI_OK;
    case 2:
        a->out = v;
        return CLI_OK;
    case 3:
        a->have_as_of = 1;
        return cli_time("train", "--as-of", v, &p->as_of);
    case 4:
        a->id = v;
        return CLI_OK;
    case 5:
        rc = cli_int64("train", "--dims", v, 1, INDIV_EMBEDDING_DIMS_MAX, &x);
        p->als.dims = (size_t)x;
        return rc;
    case 6:
        return set_int("--iterations", v, 1, 10000, &p->als.iterations);
    case 7:
        return cli_double("train", "--alpha", v, 0, 1e6, &p->als.alpha);
    case 8:
        return cli_double("train", "--lambda", v, 1e-9, 1e9, &p->als.lambda);
    case 9:
        return cli_double("train", "--holdout", v, 1e-3, 3650, &p->holdout_days);
    case 10:
        return set_int("--negatives", v, 1, 100000, &p->negatives);
    case 11:
        return cli_double("train", "--half-life", v, 1e-3, 1e6,
                          &p->profile.half_life_days);
    case 12:
        rc = cli_int64("train", "--seed", v, 0, INT64_MAX, &x);
        p->als.seed = (uint64_t)x;
        return rc;
    case 13:
        return set_int("--threads", v, 1, INDIV_TRAIN_THREADS_MAX, &p->als.threads);
    case 14:
        a->scratch = v;
        return CLI_OK;
    case 15:
        return cli_double("train", "--ease-lambda", v, 1e-9, 1e12, &p->ease_lambda);
    case 16:
        return set_int("--item-k", v, 1, 100000, &p->item_k);
    case 17:
        return set_int("--calibration-slots", v, 1, INDIV_SLOTS_MAX,
                       &p->calibration_slots);
    case 18:
        p->act_model = INDIV_ACT_NONE;
        return CLI_OK;
    case 21:
        if (strcmp(v, "auto") == 0) {
            p->new_offer_shrink = -1;
            return CLI_OK;
        }
        return cli_double("train", "--new-offer-shrink", v, 0, 1, &p->new_offer_shrink);
    case 20:
        if (strcmp(v, "full") == 0)
            p->act_model = INDIV_ACT_FULL;
        else if (strcmp(v, "orders") == 0)
            p->act_model = INDIV_ACT_ORDERS;
        else if (strcmp(v, "none") == 0)
            p->act_model = INDIV_ACT_NONE;
        else
            return cli_usage("train", "--act-model: '%s' is not full, orders or none", v);
        return CLI_OK;
    case 19: {
        int m = indiv_new_offers_parse(v);
        if (m < 0)
            return cli_usage("train", "--new-offers: '%s' is not shared, split, ranked or choice",
                             v);
        p->new_offers = (indiv_new_offers)m;
        return CLI_OK;
    }
    default:
        return CLI_USAGE;
    }
}

static int parse_args(int argc, char **argv, struct train_args *a) {
    int c, rc = CLI_OK;
    opterr = 0; /* our own message, in the "indiv train: ..." form */
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h')
            return fputs(train_help, stdout), -1;
        if (c == '?')
            return cli_bad_option("train", argv[optind - 1], long_opts);
        rc = set_option(a, c, optarg);
    }
    if (rc != CLI_OK)
        return rc;
    if (optind < argc)
        return cli_usage("train", "unexpected argument '%s'", argv[optind]);
    if (!a->db || !a->out)
        return cli_usage("train", "--db FILE and --out FILE are required");
    return CLI_OK;
}

/* Default id: the output's file name without directory and ".json". */
static void default_id(struct train_args *a) {
    const char *base = strrchr(a->out, '/');
    base = base ? base + 1 : a->out;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    if (n >= sizeof a->id_buf)
        n = sizeof a->id_buf - 1;
    memcpy(a->id_buf, base, n);
    a->id_buf[n] = '\0';
    a->p.id = a->id ? a->id : a->id_buf;
}

/* The training's summary for people: a result, on stdout unless the model goes there. */
static void print_summary(const struct train_args *a, const indiv_model *m,
                          const indiv_train_summary *s) {
    char t[INDIV_ISO_LEN];
    const char *const outs[] = {a->out};
    FILE *o = cli_result_stream(outs, 1);
    fprintf(o,
            "indiv train: model %s (embedding, d = %zu, %zu offers) -> %s in %.2f s\n"
            "  data: %lld events before %s (profiling consent); %lld consumers x %lld "
            "offers, %lld interactions\n"
            "  ALS: %d sweeps, %.3f s per sweep, final loss %.6g\n"
            "  propensity (%s): %lld examples, %lld positive; intercept %.4g, affinity "
            "%.4g, popularity %.4g, readiness %.4g, frequency %.4g, repeat %.4g, "
            "repeat_frequency %.4g, repeat_readiness %.4g, item_item %.4g\n",
            m->id, m->embedding->dims, m->embedding->n, a->out, s->seconds,
            (long long)s->events, indiv_time_format(a->p.as_of, t),
            (long long)s->consumers, (long long)s->offers, (long long)s->interactions,
            a->p.als.iterations, s->seconds_per_sweep, s->loss,
            s->labels_from_contacts ? "contacts answered in the tail"
                                    : "offers bought in the tail",
            (long long)s->examples, (long long)s->positives, m->intercept,
            m->weight[INDIV_TERM_AFFINITY], m->weight[INDIV_TERM_POPULARITY],
            m->weight[INDIV_TERM_READINESS], m->weight[INDIV_TERM_FREQUENCY],
            m->weight[INDIV_TERM_REPEAT], m->weight[INDIV_TERM_REPEAT_FREQUENCY],
            m->weight[INDIV_TERM_REPEAT_READINESS], m->weight[INDIV_TERM_ITEM_ITEM]);
    if (m->bought.present)
        fprintf(o,
                "  offers the person bought: affinity %.4g, popularity %.4g, item_item %.4g "
                "(the weights above are then those of offers new to the person, whose "
                "affinity and popularity are scaled by %g, %s)\n",
                m->bought.affinity, m->bought.popularity, m->bought.item_item,
                s->new_offer_shrink,
                s->new_offer_shrink_chosen ? "chosen on the validation half"
                                           : "--new-offer-shrink");
    fprintf(o, "  validation: see \"provenance\".\"validation\" in %s\n", a->out);
    if (m->act.present)
        fprintf(o,
                "  act model: P(acts) = sigma(%.4g + %.4g logit(P(buys one of the top %d)) "
                "+ %.4g log(1 + orders)%s",
                m->act.intercept, m->act.relevance, m->calibration.slots, m->act.orders,
                a->p.act_model == INDIV_ACT_FULL ? "" : ")\n");
    if (m->act.present && a->p.act_model == INDIV_ACT_FULL)
        fprintf(
            o,
            " + %.4g readiness + %.4g log(1 + days since the last purchase) + %.4g "
            "log(1 + offers re-bought) + %.4g log(1 + decayed occasions of the top %d "
            "offers bought))\n",
            m->act.readiness, m->act.recency, m->act.rebought, m->act.repeat_strength,
            INDIV_ACT_TOP_OFFERS);
    const indiv_calibration *c = &m->calibration;
    if (c->present && !isnan(c->threshold))
        fprintf(o,
                "  calibration: %lld of %lld validation consumers bought one of their top "
                "%d in the tail; recommended threshold %.4g (Youden: TPR %.3f, FPR "
                "%.3f), used by decide when --threshold is not given\n",
                (long long)c->acted, (long long)c->people, c->slots, c->threshold, c->tpr,
                c->fpr);
    else if (c->present)
        fprintf(o, "  calibration: %lld of %lld validation consumers acted: too few "
                   "in a group to recommend a threshold\n",
                (long long)c->acted, (long long)c->people);
}

/* Wall-clock time of training, for the provenance only (nothing depends on it). */
static void now_iso(char buf[INDIV_ISO_LEN]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    indiv_time_format((int64_t)ts.tv_sec, buf);
}

/* Records the model in the database's models table, so that an erasure of someone whose
 * events it learnt from marks it (rights.h). A database this process may not write
 * (read-only file) only gets a warning: the model is written all the same. */
static void record_model(const struct train_args *a, const indiv_model *m) {
    indiv_eventlog *log = NULL;
    indiv_error err = {0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (indiv_eventlog_open(a->db, 0, &log, &err) < 0 ||
        indiv_rights_model_record(log, m, a->out, INDIV_MODEL_TRAINED, (int64_t)ts.tv_sec,
                                  &err) < 0)
        fprintf(stderr,
                "indiv train: warning: the model is not recorded in %s (%s): an erasure "
                "there will not mark it\n",
                a->db, err.msg);
    indiv_eventlog_close(log);
}

static int run(struct train_args *a, indiv_error *err) {
    indiv_eventlog *log = NULL;
    indiv_model m = {0};
    indiv_train_summary sum;
    char when[INDIV_ISO_LEN];
    now_iso(when);
    a->p.trained_at = when;
    a->p.scratch = a->scratch ? a->scratch : ":memory:";
    /* The output is checked and created before the work: a bad --out fails at once. */
    static const char *const names[] = {"--out", "--scratch"};
    const char *outs[] = {a->out, a->scratch};
    indiv_outfile *out = NULL;
    int rc = indiv_path_check_outputs(a->db, outs, names, 2, err);
    if (rc == INDIV_OK)
        rc = indiv_outfile_open(a->out, &out, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(a->db, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK && !a->have_as_of) {
        indiv_eventlog_stats st;
        if ((rc = indiv_eventlog_stats_get(log, &st, err)) == INDIV_OK)
            a->p.as_of = st.events ? st.last_ts + 1 : 0;
    }
    cli_progress_state ps = {0};
    if (rc == INDIV_OK)
        rc = indiv_train_run(log, &a->p, cli_progress, &ps, &m, &sum, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK)
        rc = indiv_model_write(&m, indiv_outfile_stream(out), err);
    rc = indiv_outfile_finish(out, rc, err);
    if (rc == INDIV_OK) {
        print_summary(a, &m, &sum);
        record_model(a, &m);
    }
    indiv_model_clear(&m);
    return rc;
}

int cli_train(int argc, char **argv) {
    struct train_args a = {0};
    indiv_train_params_init(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    default_id(&a);
    indiv_error err = {0};
    return run(&a, &err) == INDIV_OK ? CLI_OK : cli_fail("train", &err);
}
