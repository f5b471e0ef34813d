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
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "decide_cli.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/rights.h"
#include "indiv/timeutil.h"
#include "policy_opts.h"

static const char decide_usage[] =
    "usage: indiv decide --db FILE --out FILE [--model FILE] [policy options]\n"
    "                    [--seed S] [--summary FILE] [--config FILE]\n\n"
    "Decides, for every consumer (or one shard), whether to contact them, with what, on\n"
    "which channel and when, and writes one JSON object per consumer (JSON Lines).\n"
    "Profiles must have been built (indiv profile); consumers without a profile (no\n"
    "profiling consent) get non-personal scores only.\n\n"
    "  --db FILE            event log with profiles\n"
    "  --out FILE           decisions (JSON Lines), written atomically\n"
    "  --model FILE         model file (default: the built-in models/default.json)\n"
    "  --summary FILE       run summary JSON (a short version always goes to stdout,\n"
    "                       or to stderr when --out or --summary is stdout)\n"
    "  --config FILE        JSON object of options (keys: long option names)\n"
    "  --as-of TIME         decision time (default: the profiles' as-of time)\n";

static const char decide_usage_end[] =
    "  --seed S             seed of the divergence draws (default 1)\n"
    "  --threads T          worker threads (default 2; output does not depend on it)\n"
    "  --force              use an embedding model that has no vector for most offers\n"
    "                       (trained on another catalogue: refused otherwise)\n"
    "  --shard I/N          decide only consumers whose id hashes to shard I of N\n"
    "  -h, --help           this help\n";

static void print_help(void) {
    fputs(decide_usage, stdout);
    cli_policy_set_help(stdout);
    cli_policy_help(stdout);
    fputs(decide_usage_end, stdout);
}

/* The command's own options; the policy parameters are added from their table. */
enum {
    OPT_DB = 1,
    OPT_OUT,
    OPT_MODEL,
    OPT_SUMMARY,
    OPT_CONFIG,
    OPT_AS_OF,
    OPT_SEED,
    OPT_THREADS,
    OPT_SHARD,
    OPT_BLOCK,
    OPT_SET,
    OPT_FORCE
};

static const struct option fixed_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"out", required_argument, NULL, OPT_OUT},
    {"model", required_argument, NULL, OPT_MODEL},
    {"summary", required_argument, NULL, OPT_SUMMARY},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"as-of", required_argument, NULL, OPT_AS_OF},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"block", required_argument, NULL, OPT_BLOCK},
    {"set", required_argument, NULL, OPT_SET},
    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, 'h'},
    {0}};

/* Room for the fixed options, the policy table and the terminator. */
#define MAX_OPTS 64

static int parse_shard(const char *s, indiv_decide_opts *o) {
    return cli_shard("decide", "--shard", s, CLI_SHARD_MAX, &o->shard_index,
                     &o->shard_count);
}

/* Applies one option (an OPT_ code or a policy table code) with its text value. */
static int set_option(cli_decide_args *a, int code, const char *v) {
    indiv_policy_params *p = &a->o.policy;
    int64_t x;
    int rc;
    if (cli_policy_is_code(code))
        return cli_policy_set("decide", p, code, NULL, v);
    switch (code) {
    case OPT_SET:
        return cli_policy_assign("decide", p, v);
    case OPT_DB:
        a->db = v;
        return CLI_OK;
    case OPT_OUT:
        snprintf(a->out_buf, sizeof a->out_buf, "%s", v);
        return CLI_OK;
    case OPT_MODEL:
        a->model = v;
        return CLI_OK;
    case OPT_SUMMARY:
        a->summary = v;
        return CLI_OK;
    case OPT_CONFIG:
        a->config = v;
        return CLI_OK;
    case OPT_AS_OF:
        a->have_as_of = 1;
        return cli_time("decide", "--as-of", v, &p->as_of);
    case OPT_SEED:
        rc = cli_int64("decide", "--seed", v, 0, INT64_MAX, &x);
        p->seed = (uint64_t)x;
        return rc;
    case OPT_THREADS:
        rc = cli_int64("decide", "--threads", v, 1, INDIV_THREADS_MAX, &x);
        a->o.threads = (int)x;
        return rc;
    case OPT_SHARD:
        return parse_shard(v, &a->o);
    case OPT_FORCE:
        a->o.force_model = 1;
        return CLI_OK;
    case OPT_BLOCK:
        rc = cli_int64("decide", "--block", v, 1, 1 << 20, &x);
        a->o.block = (size_t)x;
        return rc;
    default:
        return CLI_USAGE;
    }
}

/* The option code of a --config key (a long option name), or 0. */
static int option_code(const struct option *opts, const char *name) {
    for (const struct option *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0 && o->val != 'h' && o->val != OPT_CONFIG &&
            o->val != OPT_FORCE) /* an override is given on the command line only */
            return o->val;
    const indiv_policy_param *d = indiv_policy_param_find(name); /* "max_contacts" too */
    for (size_t i = 0; d && i < indiv_policy_param_count(); i++)
        if (indiv_policy_param_at(i) == d)
            return CLI_POLICY_CODE + (int)i;
    return 0;
}

/* Applies a JSON config file: every key is a long option name. Strings are kept alive
 * by the config object, which the caller frees after the run. */
static int apply_config(cli_decide_args *a, const struct option *opts, json_t **keep) {
    json_error_t je;
    json_t *root = indiv_json_load_file(a->config, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        if (root || je.line < 1) /* no line to name: not read, or not an object */
            return cli_usage("decide", "--config %s: %s", a->config,
                             root ? "not a JSON object" : je.text);
        return cli_usage("decide", "--config %s: %s (line %d)", a->config, je.text,
                         je.line);
    }
    *keep = root;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int code = option_code(opts, key);
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
        char where[4200];
        snprintf(where, sizeof where, "--config %s, key '%s'", a->config, key);
        cli_usage_where(where); /* a bad value names the file, not a flag */
        int rc = set_option(a, code, json_is_number(v) ? num : json_string_value(v));
        cli_usage_where(NULL);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* Two passes: find --config and apply it first, then let the flags override it. */
static int parse_args(int argc, char **argv, cli_decide_args *a, json_t **keep) {
    int c, rc = CLI_OK;
    struct option long_opts[MAX_OPTS];
    if (!cli_policy_options(fixed_opts, long_opts, MAX_OPTS))
        return cli_usage("decide", "too many options (raise MAX_OPTS)");
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
        if (c == OPT_CONFIG)
            a->config = optarg;
        else if (c == 'h')
            return print_help(), -1;
    cli_threshold_state ts;
    cli_threshold_begin(&ts, &a->o.policy);
    if (a->config && (rc = apply_config(a, long_opts, keep)) != CLI_OK)
        return rc;
    cli_threshold_after_config(&ts, &a->o.policy);
    optind = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
        rc = c == '?' ? cli_bad_option("decide", argv[optind - 1], long_opts)
                      : set_option(a, c, optarg);
    if (rc != CLI_OK)
        return rc;
    a->o.threshold_source = cli_threshold_end(&ts, &a->o.policy);
    a->tau_pending = a->o.threshold_source == NULL;
    if (optind < argc)
        return cli_usage("decide", "unexpected argument '%s'", argv[optind]);
    if (!a->db || !a->out_buf[0])
        return cli_usage("decide", "--db FILE and --out FILE are required");
    a->o.out_path = a->out_buf;
    return CLI_OK;
}

/* Decision time: --as-of, else the profiles' time, else just after the last event. */
int cli_decide_default_as_of(indiv_eventlog *log, cli_decide_args *a, indiv_error *err) {
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

/* Serendipity draws: made, placed, and why the others were not. */
static void print_divergence(FILE *o, const indiv_decision_counts *c) {
    fprintf(o, "  divergence: %lld draws, %lld placed",
            (long long)c->divergence_drawn, (long long)c->divergence_placed);
    const char *sep = "; not placed:";
    for (int m = 1; m < 4; m++)
        if (c->divergence_missed[m]) {
            fprintf(o, "%s %s %lld", sep,
                    indiv_divergence_miss_name((indiv_divergence_miss)m),
                    (long long)c->divergence_missed[m]);
            sep = ",";
        }
    fputc('\n', o);
}

/* The run's summary for people: a result, on o (cli_result_stream). */
void cli_decide_print_summary(FILE *o, const indiv_decide_summary *s, const indiv_model *m) {
    const indiv_decision_counts *c = &s->counts;
    int64_t contacts = c->by_action[INDIV_CONTACT];
    fprintf(
        o,
        "indiv decide: %lld consumers in %.2f s (model %s): contact %lld, defer %lld, "
        "none %lld\n",
        (long long)c->consumers, s->seconds_total, m->id, (long long)contacts,
        (long long)c->by_action[INDIV_DEFER], (long long)c->by_action[INDIV_NONE]);
    fprintf(o, "  reasons:");
    for (int r = 0; r < INDIV_R_COUNT; r++)
        if (c->by_reason[r])
            fprintf(o, " %s %lld", indiv_reason_name((indiv_reason)r),
                    (long long)c->by_reason[r]);
    fprintf(o,
            "\n  divergent offers in %.1f%% of contacts; %.2f offers per contact%s\n",
            contacts ? 100.0 * (double)c->contacts_divergent / (double)contacts : 0.0,
            contacts ? (double)c->offers_sent / (double)contacts : 0.0,
            s->profiles_built ? "" : "; no profiles built: run indiv profile first");
    print_divergence(o, c);
}

/* Warnings (stderr) for decisions made on stale or out-of-range times: profiles built
 * before the newest events, an --as-of before the first event or after the last by more
 * than the data's whole span. Each says what to run. Nothing is refused. */
void cli_decide_warn_times(indiv_eventlog *log, const cli_decide_args *a) {
    char t1[INDIV_ISO_LEN], t2[INDIV_ISO_LEN];
    indiv_profile_params pp;
    int64_t last;
    if (indiv_eventlog_last_event_ts(log, &last, NULL) != INDIV_OK ||
        last == INDIV_TS_NONE)
        return;
    if (indiv_profile_stored_params(log, &pp, NULL, NULL) == INDIV_OK && pp.as_of <= last)
        fprintf(
            stderr,
            "indiv decide: warning: the profiles were built as of %s, before the "
            "newest events (%s): run indiv profile --db %s --incremental first (unless "
            "deciding as of that time on purpose)\n",
            indiv_time_format(pp.as_of, t1), indiv_time_format(last, t2), a->db);
    indiv_eventlog_stats st;
    if (!a->have_as_of || indiv_eventlog_stats_get(log, &st, NULL) != INDIV_OK ||
        st.events == 0)
        return;
    int64_t as_of = a->o.policy.as_of, span = st.last_ts - st.first_ts;
    if (as_of < st.first_ts)
        fprintf(stderr,
                "indiv decide: warning: --as-of %s is before the first event (%s): "
                "nobody has a history yet\n",
                indiv_time_format(as_of, t1), indiv_time_format(st.first_ts, t2));
    else if (as_of - st.last_ts > span)
        fprintf(stderr,
                "indiv decide: warning: --as-of %s is after the last event (%s) by more "
                "than the data's whole span: every rhythm and taste is read far beyond "
                "the data; leave --as-of out to decide just after the data\n",
                indiv_time_format(as_of, t1), indiv_time_format(st.last_ts, t2));
}

/* A model that may still hold the data of people erased since it was trained: warn
 * until it is retrained (rights.h, docs/rights.md). */
static void warn_erased(indiv_eventlog *log, const indiv_model *m, const char *path) {
    int64_t erased = 0;
    if (indiv_rights_models_check(log, m, &erased, NULL) == INDIV_OK && erased > 0)
        fprintf(stderr,
                "indiv decide: warning: model %s (%s) was trained on data that included "
                "%lld %s erased since: it still holds what it learnt from them; retrain "
                "it (indiv train) and use the new file\n",
                m->id, path ? path : "built-in", (long long)erased,
                erased == 1 ? "person" : "people");
}

/* Records that the model was used on this database (indiv info lists it; an erasure
 * marks it when its data included the person). A database this process may not write
 * gets a note, and the decisions stand. */
static void record_use(const cli_decide_args *a, const indiv_model *m) {
    indiv_eventlog *log = NULL;
    indiv_error err = {0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (indiv_eventlog_open(a->db, 0, &log, &err) < 0 ||
        indiv_rights_model_record(log, m, a->model, INDIV_MODEL_USED, (int64_t)ts.tv_sec,
                                  &err) < 0)
        fprintf(stderr,
                "indiv decide: note: the model used is not recorded in %s (%s): an "
                "erasure there will not mark it\n",
                a->db, err.msg);
    indiv_eventlog_close(log);
}

/* The decisions and their summary are one result: both files are created before the
 * work (a bad path fails at once), written, fsync'ed, and only then renamed into place,
 * the summary last (fileio.h indiv_outfile_finish_all): a failure leaves both old
 * files; a crash between the two renames leaves new decisions beside the previous
 * summary, whose counts.consumers then differs from the number of lines. */
static int open_outputs(const cli_decide_args *a, indiv_outfile *out[2],
                        indiv_error *err) {
    const char *outs[] = {a->o.out_path, a->summary};
    static const char *const names[] = {"--out", "--summary"};
    const char *ins[] = {a->model, a->config};
    static const char *const in_names[] = {"--model", "--config"};
    int rc = indiv_path_check_io(a->db, outs, names, 2, ins, in_names, 2, err);
    if (rc == INDIV_OK)
        rc = indiv_outfile_open(a->o.out_path, &out[0], err);
    if (rc == INDIV_OK && a->summary)
        rc = indiv_outfile_open(a->summary, &out[1], err);
    return rc;
}

/* The run on an open log: as-of, warnings, the decisions into out[0]. */
static int decide_into(cli_decide_args *a, const indiv_model *m, FILE *out,
                       indiv_decide_summary *sum, indiv_error *err) {
    indiv_eventlog *log = NULL;
    int rc = indiv_eventlog_open(a->db, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = cli_decide_default_as_of(log, a, err);
    if (rc == INDIV_OK) {
        cli_decide_warn_times(log, a);
        warn_erased(log, m, a->model);
    }
    if (rc == INDIV_OK) {
        cli_progress_state ps = {0};
        a->o.out_stream = out;
        rc = indiv_decide_run(log, m, &a->o, cli_progress, &ps, sum, err);
    }
    indiv_eventlog_close(log);
    return rc;
}

static int run(cli_decide_args *a, indiv_error *err) {
    indiv_model m = {0};
    indiv_decide_summary sum;
    indiv_outfile *out[2] = {NULL, NULL};
    int rc = open_outputs(a, out, err);
    if (rc == INDIV_OK)
        rc = a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    if (rc == INDIV_OK && a->tau_pending)
        cli_threshold_note("decide", &a->o, &m);
    if (rc == INDIV_OK)
        rc = decide_into(a, &m, indiv_outfile_stream(out[0]), &sum, err);
    char *js = NULL;
    if (rc == INDIV_OK && !(js = indiv_decide_summary_json(&a->o, &m, &sum)))
        rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK && out[1] && fprintf(indiv_outfile_stream(out[1]), "%s\n", js) < 0)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot write the summary", a->summary);
    rc = indiv_outfile_finish_all(out, 2, rc, err);
    free(js);
    const char *outs[] = {a->o.out_path, a->summary};
    if (rc == INDIV_OK)
        cli_decide_print_summary(cli_result_stream(outs, 2), &sum, &m);
    if (rc == INDIV_OK && !sum.profiles_built)
        fprintf(stderr,
                "indiv decide: warning: %s has no profiles: nobody was personalised (a "
                "consenting consumer gets no_profile); run indiv profile --db %s first\n",
                a->db, a->db);
    if (rc == INDIV_OK)
        record_use(a, &m);
    if (rc == INDIV_OK && sum.offers_without_embedding > 0)
        fprintf(stderr,
                "  %lld offers have no vector in the model's embedding (scored with "
                "a zero vector)\n",
                (long long)sum.offers_without_embedding);
    indiv_model_clear(&m);
    return rc;
}

int cli_decide_args_parse(int argc, char **argv, cli_decide_args *a, json_t **keep) {
    memset(a, 0, sizeof *a);
    *keep = NULL;
    indiv_decide_opts_init(&a->o);
    int rc = parse_args(argc, argv, a, keep);
    indiv_error err = {0};
    if (rc == CLI_OK && indiv_policy_params_validate(&a->o.policy, &err) < 0)
        rc = cli_usage("decide", "%s", err.msg);
    return rc;
}

int cli_decide(int argc, char **argv) {
    cli_decide_args a;
    json_t *keep = NULL;
    int rc = cli_decide_args_parse(argc, argv, &a, &keep);
    if (rc == CLI_OK) {
        indiv_error err = {0};
        if (run(&a, &err) < 0)
            rc = cli_fail("decide", &err);
    }
    json_decref(keep);
    return rc < 0 ? CLI_OK : rc;
}
