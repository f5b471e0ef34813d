/*
 * ope.c — `indiv ope`: the value of a target policy estimated from one logged decision
 * run and the outcomes that followed it (off-policy evaluation, ope.h, docs/ope.md).
 *
 * The target is given by the policy options of indiv decide (flags, --set, or one
 * quoted string after --target); it starts from the defaults, as decide does.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/ope.h"
#include "indiv/timeutil.h"
#include "policy_opts.h"

static const char ope_usage[] =
    "usage: indiv ope --db FILE --decisions FILE (--until TIME | --window-days D)\n"
    "                 [--target \"POLICY FLAGS\"] [policy options] [--model FILE]\n"
    "                 [--replicates N] [--bootstrap-seed S] [--max-unsupported X]\n"
    "                 [--threads T] [--json FILE]\n\n"
    "Estimates what a target policy would have achieved (conversions, revenue and\n"
    "contacts per consumer) from one logged decision run (indiv decide, or indiv\n"
    "simulate --log-decisions) and the outcomes in the event log after it: IPS, SNIPS\n"
    "and doubly robust estimates, each with a 95% bootstrap interval, and the\n"
    "effective sample size. Refuses when the logged run gives the target no support.\n"
    "The stored profiles must be those of the logged run (as of its decision time).\n\n"
    "  --db FILE            event log with the outcomes and the profiles\n"
    "  --decisions FILE     the logged decisions (JSON Lines with propensities)\n"
    "  --until TIME         outcomes are read in (decision time, TIME]\n"
    "  --window-days D      ... or in the D days after the decision time\n"
    "  --target \"FLAGS\"     the target's policy options in one string, e.g.\n"
    "                       \"--serendipity 0.3 --threshold 0.1\" (or give them as flags)\n"
    "  --model FILE         the logged run's model (default: the built-in one)\n"
    "  --replicates N       bootstrap replicates (default 1000)\n"
    "  --bootstrap-seed S   seed of the bootstrap (default 1)\n"
    "  --max-unsupported X  refuse when more than this share of the target's decisions\n"
    "                       lies outside the logged run's support (default 0.01)\n"
    "  --threads T          threads (default 2; results do not depend on it)\n"
    "  --json FILE          the estimates as JSON, written atomically\n"
    "the target's policy options (defaults as for indiv decide):\n";

static const char ope_usage_end[] = "  -h, --help           this help\n";

enum {
    OPT_DB = 1,
    OPT_DECISIONS,
    OPT_UNTIL,
    OPT_WINDOW,
    OPT_TARGET,
    OPT_MODEL,
    OPT_REPLICATES,
    OPT_BSEED,
    OPT_MAXU,
    OPT_THREADS,
    OPT_JSON,
    OPT_SET
};

static const struct option fixed_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"decisions", required_argument, NULL, OPT_DECISIONS},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"window-days", required_argument, NULL, OPT_WINDOW},
    {"target", required_argument, NULL, OPT_TARGET},
    {"model", required_argument, NULL, OPT_MODEL},
    {"replicates", required_argument, NULL, OPT_REPLICATES},
    {"bootstrap-seed", required_argument, NULL, OPT_BSEED},
    {"max-unsupported", required_argument, NULL, OPT_MAXU},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"json", required_argument, NULL, OPT_JSON},
    {"set", required_argument, NULL, OPT_SET},
    {"help", no_argument, NULL, 'h'},
    {0}};

#define MAX_OPTS 64

struct ope_args {
    const char *db, *decisions, *model, *json;
    int have_until;
    double window_days;
    indiv_ope_params p;
};

/* --target "--name value --name=value ...": each flag through the policy table. */
static int set_target(indiv_policy_params *t, const char *text) {
    char *copy = strdup(text), *save = NULL, *tok;
    int rc = copy ? CLI_OK : cli_usage("ope", "out of memory");
    for (tok = copy ? strtok_r(copy, " \t", &save) : NULL; rc == CLI_OK && tok;
         tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '='), *value;
        if (strncmp(tok, "--", 2) != 0) {
            rc = cli_usage("ope", "--target: '%s' is not a --flag", tok);
            break;
        }
        if (eq)
            *eq = '\0', value = eq + 1;
        else if (!(value = strtok_r(NULL, " \t", &save)))
            rc = cli_usage("ope", "--target: %s needs a value", tok);
        if (rc == CLI_OK && !indiv_policy_param_find(tok + 2))
            rc = cli_usage("ope", "--target: unknown policy option '%s'", tok);
        if (rc == CLI_OK)
            rc = cli_policy_set("ope", t, 0, tok + 2, value);
    }
    free(copy);
    return rc;
}

static int set_option(struct ope_args *a, int code, const char *v) {
    int64_t x;
    int rc;
    if (cli_policy_is_code(code))
        return cli_policy_set("ope", &a->p.target, code, NULL, v);
    switch (code) {
    case OPT_DB:
        return a->db = v, CLI_OK;
    case OPT_DECISIONS:
        return a->decisions = v, CLI_OK;
    case OPT_UNTIL:
        a->have_until = 1;
        return cli_time("ope", "--until", v, &a->p.until);
    case OPT_WINDOW:
        return cli_double("ope", "--window-days", v, 1e-6, 36500, &a->window_days);
    case OPT_TARGET:
        return set_target(&a->p.target, v);
    case OPT_SET:
        return cli_policy_assign("ope", &a->p.target, v);
    case OPT_MODEL:
        return a->model = v, CLI_OK;
    case OPT_JSON:
        return a->json = v, CLI_OK;
    case OPT_REPLICATES:
        rc = cli_int64("ope", "--replicates", v, 1, 1000000, &x);
        return a->p.replicates = (int)x, rc;
    case OPT_BSEED:
        rc = cli_int64("ope", "--bootstrap-seed", v, 0, INT64_MAX, &x);
        return a->p.seed = (uint64_t)x, rc;
    case OPT_MAXU:
        return cli_double("ope", "--max-unsupported", v, 0, 1, &a->p.max_unsupported);
    case OPT_THREADS:
        rc = cli_int64("ope", "--threads", v, 1, 64, &x);
        return a->p.threads = (int)x, rc;
    default:
        return CLI_USAGE;
    }
}

static int parse_args(int argc, char **argv, struct ope_args *a) {
    struct option long_opts[MAX_OPTS];
    int c, rc = CLI_OK;
    if (!cli_policy_options(fixed_opts, long_opts, MAX_OPTS))
        return cli_usage("ope", "too many options (raise MAX_OPTS)");
    opterr = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(ope_usage, stdout);
            cli_policy_help(stdout);
            fputs(ope_usage_end, stdout);
            return -1;
        }
        rc = c == '?' ? cli_bad_option("ope", argv[optind - 1], long_opts)
                      : set_option(a, c, optarg);
    }
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage("ope", "unexpected argument '%s'", argv[optind]);
    if (rc == CLI_OK && (!a->db || !a->decisions))
        rc = cli_usage("ope", "--db FILE and --decisions FILE are required");
    if (rc == CLI_OK && a->have_until == (a->window_days > 0))
        rc = cli_usage("ope", "give one of --until TIME and --window-days D");
    return rc;
}

static void print_result(const indiv_ope_result *r) {
    char t1[INDIV_ISO_LEN], t2[INDIV_ISO_LEN];
    printf("indiv ope: %lld logged decisions as of %s, outcomes until %s (model %s)\n",
           (long long)r->n, indiv_time_format(r->as_of, t1),
           indiv_time_format(r->until, t2), r->model_id);
    printf("  effective sample size %.1f of %lld (mean weight %.4f, max %.4g); "
           "unsupported %.3g%%\n",
           r->ess, (long long)r->n, r->mean_weight, r->max_weight, 100 * r->unsupported);
    printf("  per consumer   logged      IPS [95%% CI]                 SNIPS [95%% CI]"
           "               DR [95%% CI]\n");
    for (int v = 0; v < INDIV_V_COUNT; v++)
        printf("  %-12s %9.4g  %9.4g [%9.4g, %9.4g]  %9.4g [%9.4g, %9.4g]  %9.4g "
               "[%9.4g, %9.4g]\n",
               indiv_ope_value_name(v), r->logged[v], r->ips[v].value, r->ips[v].lo,
               r->ips[v].hi, r->snips[v].value, r->snips[v].lo, r->snips[v].hi,
               r->dr[v].value, r->dr[v].lo, r->dr[v].hi);
}

static int write_json(FILE *f, void *ctx, indiv_error *err) {
    const char *txt = ctx;
    if (fputs(txt, f) < 0 || fputc('\n', f) < 0)
        return indiv_error_set(err, INDIV_EIO, "write failed");
    return INDIV_OK;
}

/* The decision time of the log (*t), read from its first line. */
static int decisions_as_of(const struct ope_args *a, int64_t *t, indiv_error *err) {
    FILE *f = fopen(a->decisions, "r");
    char line[65536], *at;
    if (!f)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot open", a->decisions);
    int ok = fgets(line, sizeof line, f) && (at = strstr(line, "\"as_of\":\"")) &&
             (at[29] = '\0', indiv_time_parse(at + 9, t) == 0);
    fclose(f);
    if (!ok)
        return indiv_error_set(err, INDIV_EFORMAT, "%s:1: no as_of", a->decisions);
    return INDIV_OK;
}

/* The outcomes are the events after the decision time: a database whose events end
 * before it (the world a simulation started from, instead of the work database it
 * logged its rounds to) would give every estimate 0 with an interval [0, 0], so it is
 * refused, naming both times. */
static int check_outcomes_logged(indiv_eventlog *log, const struct ope_args *a,
                                 int64_t as_of, indiv_error *err) {
    int64_t last;
    int rc = indiv_eventlog_last_event_ts(log, &last, err);
    if (rc < 0 || last > as_of)
        return rc;
    char t1[32], t2[32];
    return indiv_error_set(err, INDIV_EINVAL,
                           "%s: no event after the decisions' time %s (its last event: "
                           "%s): the outcomes of %s are not in it; give the database the "
                           "campaign's outcomes were logged to (for indiv simulate: "
                           "OUT/POLICY/world.db)",
                           a->db, indiv_time_format(as_of, t1),
                           last == INDIV_TS_NONE ? "none" : indiv_time_format(last, t2),
                           a->decisions);
}

static int run(struct ope_args *a, indiv_error *err) {
    indiv_model m;
    indiv_eventlog *log = NULL;
    indiv_ope_result r;
    const char *outs[] = {a->json};
    static const char *const names[] = {"--json"};
    const char *ins[] = {a->decisions, a->model};
    static const char *const in_names[] = {"--decisions", "--model"};
    int64_t as_of = INDIV_TS_NONE;
    int rc = indiv_path_check_io(a->db, outs, names, 1, ins, in_names, 2, err);
    if (rc == INDIV_OK)
        rc = indiv_path_check_creatable(a->json, err); /* now, not after the work */
    if (rc == INDIV_OK)
        rc = decisions_as_of(a, &as_of, err);
    if (rc == INDIV_OK && !a->have_until)
        a->p.until = as_of + (int64_t)(a->window_days * INDIV_SECONDS_PER_DAY);
    if (rc < 0)
        return rc;
    rc = a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    if (rc < 0)
        return rc;
    rc = indiv_eventlog_open(a->db, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = check_outcomes_logged(log, a, as_of, err);
    if (rc == INDIV_OK)
        rc = indiv_ope_run(log, &m, a->decisions, &a->p, &r, err);
    if (rc == INDIV_OK)
        print_result(&r);
    char *js = rc == INDIV_OK && a->json ? indiv_ope_result_json(&r, &a->p) : NULL;
    if (rc == INDIV_OK && a->json)
        rc = js ? indiv_file_write_atomic(a->json, write_json, js, err)
                : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    free(js);
    indiv_eventlog_close(log);
    indiv_model_clear(&m);
    return rc;
}

int cli_ope(int argc, char **argv) {
    struct ope_args a;
    memset(&a, 0, sizeof a);
    indiv_ope_params_init(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    return run(&a, &err) < 0 ? cli_fail("ope", &err) : CLI_OK;
}
