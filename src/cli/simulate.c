/*
 * simulate.c — `indiv simulate`: the closed loop on a generated world, for one policy or
 * all of them in the same world and seed.
 *
 * Writes DIR/params.json (every assumption), DIR/<policy>/rounds.csv and rounds.json
 * (metrics per round; reproducible to the byte), DIR/<policy>/timings.csv (seconds per
 * stage, which are not), and, with --policy all, DIR/comparison.csv (each policy's run
 * summed up, and relative to the oracle). The world database is never changed: each
 * policy runs on its own copy, DIR/<policy>/world.db.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/model.h"
#include "indiv/simulate.h"
#include "indiv/timeutil.h"

static const char simulate_help[] =
    "usage: indiv simulate --db WORLD --out DIR [--rounds R] [--round-days D]\n"
    "                      [--policy NAME|all] [--seed S] [--model FILE]\n"
    "                      [--threshold P] [--serendipity E] [--set NAME=VALUE ...]\n\n"
    "Runs the closed loop on a generated world (indiv generate): each round, organic\n"
    "purchases, the policy's decisions, the consumers' responses by a stated response\n"
    "model, all appended to a copy of the world's event log; then metrics. The world\n"
    "itself is never changed.\n\n"
    "  --db WORLD         generated world (with truth tables)\n"
    "  --out DIR          output directory (created)\n"
    "  --rounds R         rounds (default 12)\n"
    "  --round-days D     days per round (default 7)\n"
    "  --policy NAME      indiv, indiv-no-serendipity, indiv-no-threshold, mass, "
    "persona,\n"
    "                     random, oracle, or all (default indiv)\n"
    "  --seed S           seed of every random stream (default 1)\n"
    "  --model FILE       decision model (default: models/default.json's built-in copy)\n"
    "  --model trained[:every=R]\n"
    "                     the engine trains its own model (indiv train) on the world's\n"
    "                     history before round 1, and retrains every R rounds on all\n"
    "                     that was logged, its own contacts and outcomes included\n"
    "  --threshold P, --serendipity E, --slots K, --bubble A, --floor P,\n"
    "  --divergence MODE, --max-contacts N, --per-days W, --min-readiness R\n"
    "                     policy flags, as for indiv decide\n"
    "  --set NAME=VALUE   any simulation parameter, e.g. --set p_leave=0.5 (also\n"
    "                     policy, divergence, seed, features); the parameters:\n";

/* The help, then every row of the simulation parameter table (name, default, range,
 * meaning): the list cannot drift from what --set accepts. */
static void print_help(void) {
    fputs(simulate_help, stdout);
    indiv_sim_param d;
    for (size_t i = 0; indiv_sim_param_at(i, &d) == INDIV_OK; i++)
        printf("    %-34s %-7g [%g, %g] %s\n", d.name, d.def, d.lo, d.hi, d.doc);
    fputs("  -h, --help         this help\n", stdout);
}

struct sim_args {
    const char *db, *out, *model;
    int all;
    indiv_sim_params p;
};

/* Rounds collected for one policy. */
struct collect {
    FILE *csv, *times;
    indiv_round_metrics *rounds;
    int n;
};

static const struct option long_opts[] = {{"db", required_argument, NULL, 'd'},
                                          {"out", required_argument, NULL, 'o'},
                                          {"model", required_argument, NULL, 'm'},
                                          {"policy", required_argument, NULL, 'p'},
                                          {"rounds", required_argument, NULL, 1},
                                          {"round-days", required_argument, NULL, 2},
                                          {"seed", required_argument, NULL, 3},
                                          {"threshold", required_argument, NULL, 4},
                                          {"serendipity", required_argument, NULL, 5},
                                          {"slots", required_argument, NULL, 6},
                                          {"bubble", required_argument, NULL, 7},
                                          {"floor", required_argument, NULL, 8},
                                          {"divergence", required_argument, NULL, 9},
                                          {"max-contacts", required_argument, NULL, 10},
                                          {"per-days", required_argument, NULL, 11},
                                          {"min-readiness", required_argument, NULL, 12},
                                          {"set", required_argument, NULL, 's'},
                                          {"help", no_argument, NULL, 'h'},
                                          {0}};

/* Options 1..12 are simulation parameters of the same name. */
static int set_param(struct sim_args *a, const char *name, const char *value) {
    indiv_error err = {0};
    if (indiv_sim_params_set(&a->p, name, value, &err) < 0)
        return cli_usage("simulate", "%s", err.msg);
    return CLI_OK;
}

static int set_pair(struct sim_args *a, const char *pair) {
    const char *eq = strchr(pair, '=');
    char name[128];
    if (!eq || eq == pair || (size_t)(eq - pair) >= sizeof name)
        return cli_usage("simulate", "--set: '%s' is not NAME=VALUE", pair);
    snprintf(name, sizeof name, "%.*s", (int)(eq - pair), pair);
    return set_param(a, name, eq + 1);
}

/* --model FILE, or trained[:every=R] (the engine trains its own model in the loop). */
static int set_model(struct sim_args *a, const char *v) {
    indiv_error err = {0};
    int rc = indiv_sim_model_spec(v, &a->p, &err);
    if (rc < 0)
        return cli_usage("simulate", "--model: %s", err.msg);
    if (rc == 0)
        a->model = v;
    return CLI_OK;
}

static int parse_args(int argc, char **argv, struct sim_args *a) {
    int c, rc = CLI_OK;
    opterr = 0; /* our own message, in the "indiv simulate: ..." form */
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'd')
            a->db = optarg;
        else if (c == 'o')
            a->out = optarg;
        else if (c == 'm')
            rc = set_model(a, optarg);
        else if (c == 'p' && strcmp(optarg, "all") == 0)
            a->all = 1;
        else if (c == 'p')
            rc = set_param(a, "policy", optarg);
        else if (c == 's')
            rc = set_pair(a, optarg);
        else if (c >= 1 && c <= 12)
            rc = set_param(a, long_opts[c + 3].name, optarg);
        else if (c == 'h')
            return print_help(), -1;
        else
            return cli_bad_option("simulate", argv[optind - 1], long_opts);
    }
    if (rc == CLI_OK && (!a->db || !a->out))
        rc = cli_usage("simulate", "--db WORLD and --out DIR are required");
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage("simulate", "unexpected argument '%s'", argv[optind]);
    return rc;
}

static void csv_header(FILE *f) {
    fputs("round,start,end", f);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        fprintf(f, ",%s", indiv_sim_metric_name(m));
    fputc('\n', f);
}

static int on_round(void *ctx, const indiv_round_metrics *m) {
    struct collect *c = ctx;
    char a[INDIV_ISO_LEN], b[INDIV_ISO_LEN];
    fprintf(c->csv, "%d,%s,%s", m->round, indiv_time_format(m->round_start, a),
            indiv_time_format(m->round_end, b));
    for (int k = 0; k < INDIV_SIM_NMETRICS; k++)
        fprintf(c->csv, ",%.6g", m->v[k]);
    fputc('\n', c->csv);
    fprintf(c->times, "%d,%.3f,%.3f,%.3f,%.3f\n", m->round,
            m->seconds[INDIV_SIM_T_PROFILE], m->seconds[INDIV_SIM_T_DECIDE],
            m->seconds[INDIV_SIM_T_RESPOND], m->seconds[INDIV_SIM_T_TRAIN]);
    indiv_round_metrics *r = realloc(c->rounds, (size_t)(c->n + 1) * sizeof *r);
    if (!r)
        return INDIV_ENOMEM;
    c->rounds = r;
    c->rounds[c->n++] = *m;
    return 0;
}

static char *path2(const char *dir, const char *a, const char *b) {
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 3;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, b ? "%s/%s/%s" : "%s/%s", dir, a, b ? b : "");
    return p;
}

static int make_dir(const char *d, indiv_error *err) {
    if (mkdir(d, 0777) != 0 && errno != EEXIST)
        return indiv_error_set(err, INDIV_EIO, "%s: cannot create directory: %s", d,
                               strerror(errno));
    return INDIV_OK;
}

static int write_rounds_json(const char *path, const struct collect *c) {
    json_t *arr = json_array();
    for (int r = 0; r < c->n; r++) {
        json_t *o = json_object();
        json_object_set_new(o, "round", json_integer(c->rounds[r].round));
        for (int k = 0; k < INDIV_SIM_NMETRICS; k++)
            json_object_set_new(o, indiv_sim_metric_name(k),
                                json_real(c->rounds[r].v[k]));
        json_array_append_new(arr, o);
    }
    int rc = json_dump_file(arr, path, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    json_decref(arr);
    return rc;
}

/* Runs one policy into DIR/<policy>/; totals (indiv_sim_aggregate) into tot. */
static int run_policy(const struct sim_args *a, const indiv_model *m,
                      indiv_sim_policy pol, double tot[INDIV_SIM_NMETRICS],
                      indiv_error *err) {
    indiv_sim_params p = a->p;
    p.policy = pol;
    const char *name = indiv_sim_policy_name(pol);
    char *dir = path2(a->out, name, NULL), *db = path2(a->out, name, "world.db");
    char *csv = path2(a->out, name, "rounds.csv"),
         *js = path2(a->out, name, "rounds.json");
    char *tm = path2(a->out, name, "timings.csv");
    struct collect col = {0};
    int rc = dir && db && csv && js && tm ? make_dir(dir, err) : INDIV_ENOMEM;
    if (rc == INDIV_OK && (!(col.csv = fopen(csv, "w")) || !(col.times = fopen(tm, "w"))))
        rc =
            indiv_error_set(err, INDIV_EIO, "%s: cannot write: %s", csv, strerror(errno));
    if (rc == INDIV_OK) {
        csv_header(col.csv);
        fputs("round,seconds_profile,seconds_decide,seconds_respond,seconds_train\n",
              col.times);
        cli_progress_state ps = {0};
        fprintf(stderr, "indiv simulate: policy %s, %d rounds\n", name, p.rounds);
        rc = indiv_sim_run(a->db, db, &p, m, cli_progress, &ps, on_round, &col, err);
    }
    if (col.csv && fclose(col.csv) != 0 && rc == INDIV_OK)
        rc = indiv_error_set(err, INDIV_EIO, "%s: write failed", csv);
    if (col.times && fclose(col.times) != 0 && rc == INDIV_OK)
        rc = indiv_error_set(err, INDIV_EIO, "%s: write failed", tm);
    free(tm);
    if (rc == INDIV_OK && write_rounds_json(js, &col) < 0)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot write", js);
    if (rc == INDIV_OK)
        indiv_sim_aggregate(col.rounds, col.n, tot);
    free(col.rounds);
    free(dir);
    free(db);
    free(csv);
    free(js);
    return rc;
}

static void print_totals(FILE *f, const char *policy, const double *t) {
    fprintf(
        f,
        "  %-22s contacts %8.0f  conversions %6.0f (%.2f%%)  irrelevant %5.1f%%  "
        "revenue %10.0f  unsub %5.0f  left %5.0f  latent revealed %5.0f  leakage %5.0f  "
        "diversity %.3f\n",
        policy, t[INDIV_M_contacts], t[INDIV_M_conversions],
        100 * t[INDIV_M_conversion_rate], 100 * t[INDIV_M_irrelevant_share],
        t[INDIV_M_revenue], t[INDIV_M_unsubscribes], t[INDIV_M_departures],
        t[INDIV_M_latent_revealed], t[INDIV_M_leakage], t[INDIV_M_diversity]);
}

/* comparison.csv: one row per policy, totals and the difference to the oracle. */
static int write_comparison(const char *out, double tot[][INDIV_SIM_NMETRICS],
                            indiv_error *err) {
    char *path = path2(out, "comparison.csv", NULL);
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) {
        int rc = indiv_error_set(err, INDIV_EIO, "%s: cannot write", path ? path : out);
        free(path);
        return rc;
    }
    fputs("policy", f);
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        fprintf(f, ",%s", indiv_sim_metric_name(m));
    for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
        fprintf(f, ",%s_minus_oracle", indiv_sim_metric_name(m));
    fputc('\n', f);
    for (int p = 0; p < INDIV_SIM_POLICY_COUNT; p++) {
        fputs(indiv_sim_policy_name((indiv_sim_policy)p), f);
        for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
            fprintf(f, ",%.6g", tot[p][m]);
        for (int m = 0; m < INDIV_SIM_NMETRICS; m++)
            fprintf(f, ",%.6g", tot[p][m] - tot[INDIV_SIM_ORACLE][m]);
        fputc('\n', f);
    }
    int rc =
        fclose(f) == 0 ? INDIV_OK : indiv_error_set(err, INDIV_EIO, "%s: write", path);
    free(path);
    return rc;
}

static int write_params(const struct sim_args *a, const indiv_model *m,
                        indiv_error *err) {
    char *path = path2(a->out, "params.json", NULL);
    char *sp = indiv_sim_params_json(&a->p);
    json_t *root = json_object();
    json_object_set_new(root, "simulation", sp ? json_loads(sp, 0, NULL) : json_null());
    json_object_set_new(root, "world", json_string(a->db));
    json_object_set_new(root, "model", json_string(m->id));
    json_object_set_new(root, "policies", json_string(a->all ? "all" : "one"));
    json_t *docs = json_object();
    for (int k = 0; k < INDIV_SIM_NMETRICS; k++)
        json_object_set_new(docs, indiv_sim_metric_name(k),
                            json_string(indiv_sim_metric_doc(k)));
    json_object_set_new(root, "metrics", docs);
    int rc = INDIV_OK;
    if (!path ||
        json_dump_file(root, path,
                       JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10)) < 0)
        rc = indiv_error_set(err, INDIV_EIO, "%s: cannot write", path ? path : a->out);
    json_decref(root);
    free(sp);
    free(path);
    return rc;
}

static int run(struct sim_args *a, indiv_error *err) {
    indiv_model m;
    static double tot[INDIV_SIM_POLICY_COUNT][INDIV_SIM_NMETRICS];
    int rc =
        a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    if (rc == INDIV_OK)
        rc = make_dir(a->out, err);
    if (rc == INDIV_OK)
        rc = write_params(a, &m, err);
    int first = a->all ? 0 : (int)a->p.policy,
        last = a->all ? INDIV_SIM_POLICY_COUNT : first + 1;
    for (int p = first; rc == INDIV_OK && p < last; p++)
        rc = run_policy(a, &m, (indiv_sim_policy)p, tot[p], err);
    if (rc == INDIV_OK && a->all)
        rc = write_comparison(a->out, tot, err);
    if (rc == INDIV_OK) {
        fprintf(stderr, "indiv simulate: totals over %d rounds (seed %llu) -> %s\n",
                a->p.rounds, (unsigned long long)a->p.seed, a->out);
        for (int p = first; p < last; p++)
            print_totals(stderr, indiv_sim_policy_name((indiv_sim_policy)p), tot[p]);
    }
    return rc;
}

int cli_simulate(int argc, char **argv) {
    struct sim_args a = {0};
    indiv_sim_params_init(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    if (indiv_sim_params_validate(&a.p, &err) < 0)
        return cli_usage("simulate", "%s", err.msg);
    return run(&a, &err) == INDIV_OK ? CLI_OK : cli_fail("simulate", &err);
}
