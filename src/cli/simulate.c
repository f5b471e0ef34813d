/*
 * simulate.c — `indiv simulate`: the closed loop on a generated world, for one policy or
 * all of them in the same world and seed.
 *
 * Parses the options and calls the library: the files (DIR/params.json,
 * DIR/<policy>/rounds.csv, rounds.json, timings.csv, DIR/comparison.csv) are written by
 * src/simoutput.c (simulate.h); this file prints for people. The world database is
 * never changed: each policy runs on its own copy, DIR/<policy>/world.db.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "indiv/fileio.h"
#include "indiv/model.h"
#include "indiv/simulate.h"

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
    "                     that was logged, its own contacts and outcomes included;\n"
    "                     without --threshold, each model's recommended threshold,\n"
    "                     under relevance any (unless a relevance is given)\n"
    "  --threshold P, --serendipity E, --slots K, --bubble A, --floor P,\n"
    "  --divergence MODE, --max-contacts N, --per-days W, --min-readiness R\n"
    "                     policy flags, as for indiv decide\n"
    "  --log-decisions FILE\n"
    "                     also write the last round's decisions of the indiv policy\n"
    "                     (JSON Lines, as indiv decide) for indiv ope\n"
    "  --set NAME=VALUE   any simulation parameter, e.g. --set p_leave=0.5 (also\n"
    "                     policy, divergence, seed, features and every policy\n"
    "                     parameter of indiv decide, e.g. divergence_aim=popular);\n"
    "                     the parameters:\n";

struct sim_args {
    const char *db, *out, *model;
    int all;
    indiv_sim_params p;
};

/* Option codes. The policy flags are simulation parameters of the same name (the
 * option's name with '-' for '_'), so one table serves them all. */
enum {
    OPT_DB = 1,
    OPT_OUT,
    OPT_MODEL,
    OPT_POLICY,
    OPT_SET,
    OPT_LOG_DECISIONS,
    OPT_HELP,
    OPT_PARAM_FIRST, /* the options below are simulation parameters */
    OPT_ROUNDS = OPT_PARAM_FIRST,
    OPT_ROUND_DAYS,
    OPT_SEED,
    OPT_THRESHOLD,
    OPT_SERENDIPITY,
    OPT_SLOTS,
    OPT_BUBBLE,
    OPT_FLOOR,
    OPT_DIVERGENCE,
    OPT_MAX_CONTACTS,
    OPT_PER_DAYS,
    OPT_MIN_READINESS,
    OPT_PARAM_END
};

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"out", required_argument, NULL, OPT_OUT},
    {"model", required_argument, NULL, OPT_MODEL},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"set", required_argument, NULL, OPT_SET},
    {"log-decisions", required_argument, NULL, OPT_LOG_DECISIONS},
    {"help", no_argument, NULL, OPT_HELP},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"round-days", required_argument, NULL, OPT_ROUND_DAYS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"serendipity", required_argument, NULL, OPT_SERENDIPITY},
    {"slots", required_argument, NULL, OPT_SLOTS},
    {"bubble", required_argument, NULL, OPT_BUBBLE},
    {"floor", required_argument, NULL, OPT_FLOOR},
    {"divergence", required_argument, NULL, OPT_DIVERGENCE},
    {"max-contacts", required_argument, NULL, OPT_MAX_CONTACTS},
    {"per-days", required_argument, NULL, OPT_PER_DAYS},
    {"min-readiness", required_argument, NULL, OPT_MIN_READINESS},
    {0}};

/* The long option of code c (its name is the parameter's). */
static const char *option_name(int c) {
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

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

/* The help, then every row of the simulation parameter table (name, default, range,
 * meaning): the list cannot drift from what --set accepts. */
static void print_help(void) {
    fputs(simulate_help, stdout);
    indiv_sim_param d;
    for (size_t i = 0; indiv_sim_param_at(i, &d) == INDIV_OK; i++)
        printf("    %-34s %-7g [%g, %g] %s\n", d.name, d.def, d.lo, d.hi, d.doc);
    fputs("  -h, --help         this help\n", stdout);
}

static int one_option(struct sim_args *a, int c, const char *v) {
    switch (c) {
    case OPT_DB:
        a->db = v;
        return CLI_OK;
    case OPT_OUT:
        a->out = v;
        return CLI_OK;
    case OPT_MODEL:
        return set_model(a, v);
    case OPT_POLICY:
        if (strcmp(v, "all") == 0)
            return a->all = 1, CLI_OK;
        return set_param(a, "policy", v);
    case OPT_SET:
        return set_pair(a, v);
    case OPT_LOG_DECISIONS:
        a->p.log_decisions = v;
        return CLI_OK;
    default:
        if (c >= OPT_PARAM_FIRST && c < OPT_PARAM_END)
            return set_param(a, option_name(c), v);
        return CLI_USAGE;
    }
}

static int parse_args(int argc, char **argv, struct sim_args *a) {
    int c, rc = CLI_OK;
    opterr = 0; /* our own message, in the "indiv simulate: ..." form */
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP)
            return print_help(), -1;
        if (c == '?' || c == ':')
            return cli_bad_option("simulate", argv[optind - 1], long_opts);
        rc = one_option(a, c, optarg);
    }
    if (rc == CLI_OK && (!a->db || !*a->db || !a->out || !*a->out))
        rc = cli_usage("simulate", "--db WORLD and --out DIR are required");
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage("simulate", "unexpected argument '%s'", argv[optind]);
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

/* Where a policy's run time went: the stages of every round, and the wall clock of the
 * whole run (the copy of the world, setup and metrics are the rest). */
typedef struct sim_times {
    double stage[INDIV_SIM_NTIMES];
    double wall;
} sim_times;

static int add_times(void *ctx, const indiv_round_metrics *m) {
    sim_times *t = ctx;
    for (int k = 0; k < INDIV_SIM_NTIMES; k++)
        t->stage[k] += m->seconds[k];
    return 0;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One policy into DIR/<policy>/, with its progress on stderr. */
static int run_policy(const struct sim_args *a, const indiv_model *m,
                      indiv_sim_policy pol, double tot[INDIV_SIM_NMETRICS],
                      sim_times *times, indiv_error *err) {
    indiv_sim_params p = a->p;
    p.policy = pol;
    cli_progress_state ps = {0};
    fprintf(stderr, "indiv simulate: policy %s, %d rounds\n", indiv_sim_policy_name(pol),
            p.rounds);
    double t0 = wall_now();
    int rc = indiv_sim_run_into(a->db, a->out, &p, m, cli_progress, &ps, add_times, times,
                                tot, err);
    times->wall = wall_now() - t0;
    return rc;
}

/* The share of each stage in a policy's run time (timings.csv has them per round). */
static void print_times(FILE *f, const char *policy, const sim_times *t) {
    double w = t->wall > 0 ? t->wall : 1, staged = 0;
    for (int k = 0; k < INDIV_SIM_NTIMES; k++)
        staged += t->stage[k];
    fprintf(f,
            "  %-22s time %.1f s: profiles %.1f s (%.0f%%), decisions %.1f s (%.0f%%), "
            "responses %.1f s (%.0f%%), training %.1f s (%.0f%%), other %.1f s (%.0f%%)\n",
            policy, t->wall, t->stage[INDIV_SIM_T_PROFILE],
            100 * t->stage[INDIV_SIM_T_PROFILE] / w, t->stage[INDIV_SIM_T_DECIDE],
            100 * t->stage[INDIV_SIM_T_DECIDE] / w, t->stage[INDIV_SIM_T_RESPOND],
            100 * t->stage[INDIV_SIM_T_RESPOND] / w, t->stage[INDIV_SIM_T_TRAIN],
            100 * t->stage[INDIV_SIM_T_TRAIN] / w, t->wall - staged,
            100 * (t->wall - staged) / w);
}

/* What a failed or interrupted run must not leave behind (issue 14 item 18): the paths
 * it may write that did not exist before it started, directories before their contents.
 * Each is also tracked by fileio, so that Ctrl-C or SIGTERM removes it (main.c). */
enum { SIM_NEW_MAX = 2 + 2 * INDIV_SIM_POLICY_COUNT * 8 };
struct sim_new {
    char *path[SIM_NEW_MAX];
    int handle[SIM_NEW_MAX];
    int n;
};

static void note_if_new(struct sim_new *nw, char *path) {
    struct stat sb;
    if (path && nw->n < SIM_NEW_MAX && lstat(path, &sb) != 0) {
        nw->handle[nw->n] = indiv_fileio_track(path);
        nw->path[nw->n++] = path;
    } else {
        free(path);
    }
}

static void note_outputs(struct sim_new *nw, const char *out, int first, int last) {
    static const char *const top[] = {"params.json", "comparison.csv"};
    static const char *const per[] = {"rounds.csv",       "rounds.json",  "timings.csv",
                                      "world.db",         "world.db-wal", "world.db-shm",
                                      "world.db-journal"};
    note_if_new(nw, strdup(out));
    for (size_t k = 0; k < sizeof top / sizeof *top; k++)
        note_if_new(nw, indiv_path_join(out, top[k]));
    for (int p = first; p < last; p++) {
        char *sub = indiv_path_join(out, indiv_sim_policy_name((indiv_sim_policy)p));
        if (!sub)
            continue;
        for (size_t k = 0; k < sizeof per / sizeof *per; k++)
            note_if_new(nw, indiv_path_join(sub, per[k]));
        note_if_new(nw, sub);
    }
}

/* Removes the noted paths when failed (rmdir only removes an empty directory), in an
 * order where a directory's files go before it; frees them in every case. */
static void drop_outputs(struct sim_new *nw, int failed) {
    /* Files first, then directories: the out directory is noted first. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = nw->n - 1; failed && i >= 0; i--) {
            struct stat sb;
            if (lstat(nw->path[i], &sb) != 0 || (S_ISDIR(sb.st_mode) != 0) != pass)
                continue;
            if (pass)
                rmdir(nw->path[i]);
            else
                unlink(nw->path[i]);
        }
    for (int i = 0; i < nw->n; i++) {
        indiv_fileio_untrack(nw->handle[i]);
        free(nw->path[i]);
    }
    nw->n = 0;
}

/* The policies on the ranks of indiv-mpi (exec.h): their timings come back as arrays. */
static int run_exec(const struct sim_args *a, const cli_exec *x, int rc,
                    const indiv_model *m, int first, int last,
                    double tot[][INDIV_SIM_NMETRICS], sim_times *times, indiv_error *err) {
    double t[INDIV_SIM_POLICY_COUNT][INDIV_SIM_NTIMES + 1] = {{0}};
    rc = x->simulate(x->ctx, rc, a->db, a->out, &a->p, m, first, last, tot, t, err);
    for (int p = first; p < last; p++) {
        memcpy(times[p].stage, t[p], sizeof times[p].stage);
        times[p].wall = t[p][INDIV_SIM_NTIMES];
    }
    return rc;
}

static int run(struct sim_args *a, const cli_exec *x, indiv_error *err) {
    indiv_model m = {0};
    double tot[INDIV_SIM_POLICY_COUNT][INDIV_SIM_NMETRICS] = {{0}};
    sim_times times[INDIV_SIM_POLICY_COUNT] = {{{0}, 0}};
    int rc =
        a->model ? indiv_model_load(a->model, &m, err) : (indiv_model_default(&m), 0);
    int first = a->all ? 0 : (int)a->p.policy,
        last = a->all ? INDIV_SIM_POLICY_COUNT : first + 1;
    if (x && x->rank != 0) { /* a serving rank runs its policies; rank 0 reports */
        rc = run_exec(a, x, rc, rc == INDIV_OK ? &m : NULL, first, last, tot, times, err);
        indiv_model_clear(&m);
        return rc;
    }
    if (rc < 0)
        return x ? run_exec(a, x, rc, NULL, first, last, tot, times, err) : rc;
    struct sim_new nw = {0};
    note_outputs(&nw, a->out, first, last);
    rc = indiv_sim_output_dir(a->out, err);
    if (rc == INDIV_OK)
        rc = indiv_sim_write_params(a->out, a->db, &a->p, m.id, a->all, err);
    const char *rule = indiv_sim_threshold_rule(&a->p);
    if (rc == INDIV_OK && rule && (a->all || first == INDIV_SIM_INDIV ||
                                   first == INDIV_SIM_NO_SERENDIPITY))
        fprintf(stderr, "indiv simulate: threshold: %s\n", rule);
    if (x)
        rc = run_exec(a, x, rc, &m, first, last, tot, times, err);
    for (int p = first; !x && rc == INDIV_OK && p < last; p++)
        rc = run_policy(a, &m, (indiv_sim_policy)p, tot[p], &times[p], err);
    if (rc == INDIV_OK && a->all)
        rc = indiv_sim_write_comparison(a->out, (const double(*)[INDIV_SIM_NMETRICS])tot,
                                        err);
    if (rc == INDIV_OK) {
        /* Results, on stdout (README "Output streams"); progress went to stderr. */
        printf("indiv simulate: totals over %d rounds (seed %llu) -> %s\n", a->p.rounds,
               (unsigned long long)a->p.seed, a->out);
        for (int p = first; p < last; p++)
            print_totals(stdout, indiv_sim_policy_name((indiv_sim_policy)p), tot[p]);
        /* Timings differ from run to run: with the progress, on stderr. */
        for (int p = first; p < last; p++)
            print_times(stderr, indiv_sim_policy_name((indiv_sim_policy)p), &times[p]);
    }
    drop_outputs(&nw, rc != INDIV_OK);
    indiv_model_clear(&m);
    return rc;
}

int cli_simulate(int argc, char **argv) {
    return cli_simulate_exec(argc, argv, NULL);
}

int cli_simulate_exec(int argc, char **argv, const cli_exec *x) {
    struct sim_args a = {0};
    indiv_sim_params_init(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    if (indiv_sim_params_validate(&a.p, &err) < 0)
        return cli_usage("simulate", "%s", err.msg);
    rc = run(&a, x, &err);
    if (x && x->rank != 0) /* rank 0 reports */
        return rc == INDIV_OK ? CLI_OK : CLI_FAIL;
    return rc == INDIV_OK ? CLI_OK : cli_fail("simulate", &err);
}
