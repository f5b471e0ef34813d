/*
 * decide.c — `indiv decide`: one decision per consumer into a JSON Lines file.
 *
 * Options come from an optional JSON config file (--config, keys are the long option
 * names) and then from the command line, which overrides it; both go through the same
 * setter, so a key means exactly what the flag means.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/timeutil.h"

static const char decide_help[] =
    "usage: indiv decide --db FILE --out FILE [--model FILE] [policy options]\n"
    "                    [--seed S] [--summary FILE] [--config FILE]\n\n"
    "Decides, for every consumer (or one shard), whether to contact them, with what, on\n"
    "which channel and when, and writes one JSON object per consumer (JSON Lines).\n"
    "Profiles must have been built (indiv profile); consumers without a profile (no\n"
    "profiling consent) get non-personal scores only.\n\n"
    "  --db FILE            event log with profiles\n"
    "  --out FILE           decisions (JSON Lines), written atomically\n"
    "  --model FILE         model file (default: the built-in models/default.json)\n"
    "  --summary FILE       run summary JSON (a short version always goes to stderr)\n"
    "  --config FILE        JSON object of options (keys: long option names)\n"
    "  --as-of TIME         decision time (default: the profiles' as-of time)\n"
    "  --threshold P        relevance threshold τ on propensity (default 0.3)\n"
    "  --slots K            offers per contact, 1-16 (default 3)\n"
    "  --rank-by WHAT       propensity | value (p · price · margin) (default "
    "propensity)\n"
    "  --serendipity E      divergence probability ε, scaled by openness (default 0.1)\n"
    "  --bubble A           affinity below A is outside the bubble (default 0.05)\n"
    "  --floor P            plausibility floor of divergent offers (default 0.05)\n"
    "  --divergence MODE    ride-along | standalone (default ride-along)\n"
    "  --max-contacts N     pressure cap: at most N contacts ... (default 3)\n"
    "  --per-days W         ... in W days (default 14; 0 disables the cap)\n"
    "  --min-readiness R    defer consumers less ready than R (default 0.05)\n"
    "  --seed S             seed of the divergence draws (default 1)\n"
    "  --threads T          worker threads (default 2; output does not depend on it)\n"
    "  --shard I/N          decide only consumers whose id hashes to shard I of N\n"
    "  -h, --help           this help\n";

struct decide_args {
    const char *db, *model, *summary, *config;
    int have_as_of;
    char out_buf[4096];
    indiv_decide_opts o;
};

static const struct option long_opts[] = {{"db", required_argument, NULL, 1},
                                          {"out", required_argument, NULL, 2},
                                          {"model", required_argument, NULL, 3},
                                          {"summary", required_argument, NULL, 4},
                                          {"config", required_argument, NULL, 5},
                                          {"as-of", required_argument, NULL, 6},
                                          {"threshold", required_argument, NULL, 7},
                                          {"slots", required_argument, NULL, 8},
                                          {"rank-by", required_argument, NULL, 9},
                                          {"serendipity", required_argument, NULL, 10},
                                          {"bubble", required_argument, NULL, 11},
                                          {"floor", required_argument, NULL, 12},
                                          {"divergence", required_argument, NULL, 13},
                                          {"max-contacts", required_argument, NULL, 14},
                                          {"per-days", required_argument, NULL, 15},
                                          {"min-readiness", required_argument, NULL, 16},
                                          {"seed", required_argument, NULL, 17},
                                          {"threads", required_argument, NULL, 18},
                                          {"shard", required_argument, NULL, 19},
                                          {"block", required_argument, NULL, 20},
                                          {"help", no_argument, NULL, 'h'},
                                          {0}};

static int parse_shard(const char *s, indiv_decide_opts *o) {
    int i, n;
    char tail;
    if (sscanf(s, "%d/%d%c", &i, &n, &tail) != 2 || n < 1 || i < 0 || i >= n)
        return cli_usage("decide", "--shard: '%s' is not I/N with 0 <= I < N", s);
    o->shard_index = i;
    o->shard_count = n;
    return CLI_OK;
}

static int set_int(const char *opt, const char *v, int64_t lo, int64_t hi, int *out) {
    int64_t x;
    int rc = cli_int64("decide", opt, v, lo, hi, &x);
    if (rc == CLI_OK)
        *out = (int)x;
    return rc;
}

/* Applies one option (code from long_opts) with its text value. */
static int set_option(struct decide_args *a, int code, const char *v) {
    indiv_policy_params *p = &a->o.policy;
    int64_t x;
    switch (code) {
    case 1:
        a->db = v;
        return CLI_OK;
    case 2:
        snprintf(a->out_buf, sizeof a->out_buf, "%s", v);
        return CLI_OK;
    case 3:
        a->model = v;
        return CLI_OK;
    case 4:
        a->summary = v;
        return CLI_OK;
    case 5:
        a->config = v;
        return CLI_OK;
    case 6:
        a->have_as_of = 1;
        return cli_time("decide", "--as-of", v, &p->as_of);
    case 7:
        return cli_double("decide", "--threshold", v, 0, 1, &p->threshold);
    case 8:
        return set_int("--slots", v, 1, INDIV_SLOTS_MAX, &p->slots);
    case 9:
        if (strcmp(v, "propensity") && strcmp(v, "value"))
            return cli_usage("decide", "--rank-by: '%s' is not propensity or value", v);
        p->rank_by_value = strcmp(v, "value") == 0;
        return CLI_OK;
    case 10:
        return cli_double("decide", "--serendipity", v, 0, 1, &p->serendipity);
    case 11:
        return cli_double("decide", "--bubble", v, 0, 1, &p->bubble);
    case 12:
        return cli_double("decide", "--floor", v, 0, 1, &p->floor);
    case 13:
        if (indiv_divergence_parse(v, &p->divergence) < 0)
            return cli_usage("decide",
                             "--divergence: '%s' is not ride-along or standalone", v);
        return CLI_OK;
    case 14:
        return set_int("--max-contacts", v, 0, 1000000, &p->max_contacts);
    case 15:
        return cli_double("decide", "--per-days", v, 0, 3650, &p->per_days);
    case 16:
        return cli_double("decide", "--min-readiness", v, 0, 1, &p->min_readiness);
    case 17: {
        int rc = cli_int64("decide", "--seed", v, 0, INT64_MAX, &x);
        p->seed = (uint64_t)x;
        return rc;
    }
    case 18:
        return set_int("--threads", v, 1, INDIV_THREADS_MAX, &a->o.threads);
    case 19:
        return parse_shard(v, &a->o);
    case 20: {
        int rc = cli_int64("decide", "--block", v, 1, 1 << 20, &x);
        a->o.block = (size_t)x;
        return rc;
    }
    default:
        return CLI_USAGE;
    }
}

static int option_code(const char *name) {
    for (const struct option *o = long_opts; o->name; o++)
        if (strcmp(o->name, name) == 0 && o->val != 'h' && o->val != 5)
            return o->val;
    return 0;
}

/* Applies a JSON config file: every key is a long option name. Strings are kept alive
 * by the config object, which the caller frees after the run. */
static int apply_config(struct decide_args *a, json_t **keep) {
    json_error_t je;
    json_t *root = json_load_file(a->config, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return cli_usage("decide", "--config %s: %s (line %d)", a->config,
                         root ? "not a JSON object" : je.text, je.line);
    }
    *keep = root;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int code = option_code(key);
        char num[64];
        if (!code)
            return cli_usage("decide", "--config %s: unknown key '%s'", a->config, key);
        if (json_is_integer(v)) /* exactly: a seed has more digits than a double */
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
        if (!json_is_number(v) && !json_is_string(v))
            return cli_usage("decide", "--config %s: '%s' must be a number or a string",
                             a->config, key);
        int rc = set_option(a, code, json_is_number(v) ? num : json_string_value(v));
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* Two passes: find --config and apply it first, then let the flags override it. */
static int parse_args(int argc, char **argv, struct decide_args *a, json_t **keep) {
    int c, rc = CLI_OK;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
        if (c == 5)
            a->config = optarg;
        else if (c == 'h')
            return fputs(decide_help, stdout), -1;
    if (a->config && (rc = apply_config(a, keep)) != CLI_OK)
        return rc;
    optind = 0;
    opterr = 1;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
        rc = c == '?' ? CLI_USAGE : set_option(a, c, optarg);
    if (rc != CLI_OK)
        return rc == CLI_USAGE && c == '?' ? cli_usage("decide", "unknown option") : rc;
    if (optind < argc)
        return cli_usage("decide", "unexpected argument '%s'", argv[optind]);
    if (!a->db || !a->out_buf[0])
        return cli_usage("decide", "--db FILE and --out FILE are required");
    a->o.out_path = a->out_buf;
    return CLI_OK;
}

/* Decision time: --as-of, else the profiles' time, else just after the last event. */
static int default_as_of(indiv_eventlog *log, struct decide_args *a, indiv_error *err) {
    if (a->have_as_of)
        return INDIV_OK;
    indiv_profile_params pp;
    int rc = indiv_profile_stored_params(log, &pp, NULL, err);
    if (rc == INDIV_OK) {
        a->o.policy.as_of = pp.as_of;
        return INDIV_OK;
    }
    if (rc != INDIV_ENOTFOUND)
        return rc;
    int64_t last;
    if ((rc = indiv_eventlog_last_event_ts(log, &last, err)) == INDIV_OK)
        a->o.policy.as_of = last != INDIV_TS_NONE ? last + 1 : 0;
    return rc;
}

static void print_summary(const indiv_decide_summary *s, const indiv_model *m) {
    const indiv_decision_counts *c = &s->counts;
    int64_t contacts = c->by_action[INDIV_CONTACT];
    fprintf(
        stderr,
        "indiv decide: %lld consumers in %.2f s (model %s): contact %lld, defer %lld, "
        "none %lld\n",
        (long long)c->consumers, s->seconds_total, m->id, (long long)contacts,
        (long long)c->by_action[INDIV_DEFER], (long long)c->by_action[INDIV_NONE]);
    fprintf(stderr, "  reasons:");
    for (int r = 0; r < INDIV_R_COUNT; r++)
        if (c->by_reason[r])
            fprintf(stderr, " %s %lld", indiv_reason_name((indiv_reason)r),
                    (long long)c->by_reason[r]);
    fprintf(stderr,
            "\n  divergent offers in %.1f%% of contacts; %.2f offers per contact%s\n",
            contacts ? 100.0 * (double)c->contacts_divergent / (double)contacts : 0.0,
            contacts ? (double)c->offers_sent / (double)contacts : 0.0,
            s->profiles_built ? "" : "; no profiles built: run indiv profile first");
}

static int run(struct decide_args *a, indiv_error *err) {
    indiv_model m;
    indiv_eventlog *log = NULL;
    indiv_decide_summary sum;
    const char *outs[] = {a->o.out_path, a->summary};
    static const char *const names[] = {"--out", "--summary"};
    int rc = indiv_path_check_outputs(a->db, outs, names, 2, err);
    if (rc < 0)
        return rc;
    rc = a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(a->db, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = default_as_of(log, a, err);
    /* The summary's file exists before the run, so that an unwritable --summary fails
     * before the decisions replace anything. */
    indiv_outfile *sf = NULL;
    if (rc == INDIV_OK && a->summary)
        rc = indiv_outfile_open(a->summary, &sf, err);
    if (rc == INDIV_OK) {
        cli_progress_state ps = {0};
        rc = indiv_decide_run(log, &m, &a->o, cli_progress, &ps, &sum, err);
    }
    indiv_eventlog_close(log);
    char *js = NULL;
    if (rc == INDIV_OK) {
        print_summary(&sum, &m);
        if (!(js = indiv_decide_summary_json(&a->o, &m, &sum)))
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    }
    if (rc == INDIV_OK && sf && fprintf(indiv_outfile_stream(sf), "%s\n", js) < 0)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot write the summary", a->summary);
    rc = indiv_outfile_finish(sf, rc, err);
    free(js);
    if (rc == INDIV_OK && sum.offers_without_embedding > 0)
        fprintf(stderr,
                "  %lld offers have no vector in the model's embedding (scored with "
                "a zero vector)\n",
                (long long)sum.offers_without_embedding);
    indiv_model_clear(&m);
    return rc;
}

int cli_decide(int argc, char **argv) {
    struct decide_args a = {0};
    json_t *keep = NULL;
    indiv_decide_opts_init(&a.o);
    int rc = parse_args(argc, argv, &a, &keep);
    if (rc == CLI_OK) {
        indiv_error err = {0};
        if (indiv_policy_params_validate(&a.o.policy, &err) < 0)
            rc = cli_usage("decide", "%s", err.msg);
        else if (run(&a, &err) < 0)
            rc = cli_fail("decide", &err);
    }
    json_decref(keep);
    return rc < 0 ? CLI_OK : rc;
}
