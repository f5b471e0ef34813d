/*
 * main.c — the indiv program: dispatches to one subcommand per file in src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cli.h"
#include "indiv/score.h"

#define INDIV_VERSION "0.1.0"

/* In pipeline order: data in, people described, model, decisions, the people's data
 * rights, then measurement.
 * Each command's examples are printed after its own --help (they must run as written
 * from the repository root, in this order; tests/test_cli_help.c runs them). */
static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
    const char *examples;
} commands[] = {
    {"import", cli_import, "import a real log (Online Retail CSV, or generic events CSV)",
     "  indiv import --db shop.db --format online-retail "
     "datasets/online-retail-2010-12_2011-02.csv.gz\n"
     "  indiv import --db ev.db --format events --offers "
     "datasets/events-sample/offers.csv "
     "--consumers datasets/events-sample/consumers.csv "
     "datasets/events-sample/events.csv\n"},
    {"generate", cli_generate, "write a synthetic world with known ground truth",
     "  indiv generate --db world.db --consumers 500 --seed 7\n"
     "  indiv generate --params\n"},
    {"info", cli_info, "print what an event log holds",
     "  indiv info --db shop.db\n"
     "  indiv info --db world.db\n"},
    {"profile", cli_profile, "build, update or show consumer profiles",
     "  indiv profile --db shop.db --as-of 2011-02-01\n"
     "  indiv profile --db shop.db --show 17850\n"},
    {"train", cli_train, "fit a model file: offer embedding and propensity weights",
     "  indiv train --db shop.db --out shop-model.json --as-of 2011-02-01\n"
     "  indiv train --db world.db --out world-model.json --dims 8\n"},
    {"decide", cli_decide, "decide for every consumer: contact, defer or nothing",
     "  indiv decide --db shop.db --out decisions.jsonl --summary summary.json\n"
     "  indiv decide --db shop.db --out decisions.jsonl --threshold 0.4 --shard 0/4\n"},
    {"serve", cli_serve, "serve decisions over HTTP, taking events as they happen",
     "  indiv serve --db shop.db --listen 127.0.0.1:0 --duration 0.5\n"
     "  indiv serve --db world.db --listen 127.0.0.1:0 --duration 0.2\n"},
    {"evaluate", cli_evaluate,
     "replay a log: indiv and baselines against what people bought",
     "  indiv evaluate --db shop.db --split-at 2011-02-01 --json eval.json\n"
     "  indiv evaluate --db world.db --split-at 2024-11-01 --csv world-eval.csv\n"},
    {"export", cli_export, "access: everything held on one person, as JSON",
     "  indiv export --db shop.db 17850\n"
     "  indiv export --db shop.db --out 17850.json 17850\n"},
    {"consent", cli_consent, "change a person's consent: profiling, contact, channels",
     "  indiv consent --db shop.db 17850 --contact no\n"
     "  indiv consent --db shop.db 17850 --contact yes --channels email,sms\n"},
    {"forget", cli_forget, "erasure: remove people and every row about them",
     "  indiv forget --db shop.db 12748\n"
     "  indiv forget --db shop.db 17841 14606\n"},
    {"retention", cli_retention, "purge events older than a retention period",
     "  indiv retention --db shop.db --older-than 365 --dry-run\n"
     "  indiv retention --db shop.db --older-than 60 --as-of 2011-03-01\n"},
    {"simulate", cli_simulate,
     "closed loop: consumers answer the decisions, round by round",
     "  indiv simulate --db world.db --out sim --rounds 4 --policy all\n"
     "  indiv simulate --db world.db --out sim-indiv --rounds 2 --policy indiv "
     "--seed 3\n"},
    {"ope", cli_ope, "estimate another policy's value from one logged run (off-policy)",
     "  indiv generate --db ope-world.db --consumers 300 --seed 5\n"
     "  indiv simulate --db ope-world.db --out ope-sim --rounds 1 --serendipity 0.1 "
     "--log-decisions logged.jsonl\n"
     "  indiv ope --db ope-sim/indiv/world.db --decisions logged.jsonl --window-days 14 "
     "--target \"--serendipity 0.3\"\n"},
    {"sweep", cli_sweep,
     "simulate a grid of parameters × seeds: results, 95% CIs, figures",
     "  indiv sweep --db world.db --out sweep --grid threshold=0.2,0.5 --seeds 2 "
     "--rounds 4\n"
     "  indiv sweep --db world.db --out sweep-dry --grid serendipity=0:0.2:0.1 "
     "--dry-run\n"},
    {"study", cli_study,
     "the ethics study: each interview claim tested, report with figures",
     "  indiv study --out study --quick\n"
     "  indiv study --out study-full --jobs 2\n"},
    {"demo", cli_demo, "run the pipeline on the embedded default world",
     "  indiv demo\n"
     "  indiv demo --db /tmp/world.db --out /tmp/decisions.jsonl\n"},
    /* scale-out, after the pipeline: one part per rank of indiv-mpi (docs/scale.md) */
    {"partition", cli_partition,
     "split an event log by consumer into N databases, one per MPI rank",
     "  indiv partition --db shop.db --parts 4 --out parts\n"
     "  indiv partition --db world.db --parts 2 --out world-parts\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out,
            "usage: indiv <command> [options]   (indiv <command> --help for more)\n\n"
            "indiv decides, for each consumer on their own, whether to contact them,\n"
            "with what, on which channel and when; below a relevance threshold it does\n"
            "nothing, and now and then it proposes something outside their bubble.\n\n"
            "commands, in pipeline order:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\ntypical workflow on a real log:\n"
                 "  indiv import --db shop.db --format online-retail log.csv.gz && "
                 "indiv profile --db shop.db &&\n"
                 "  indiv decide --db shop.db --out decisions.jsonl\n");
}

/* 1 when the subcommand's arguments ask for its help. */
static int asks_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv) {
    cli_install_signal_cleanup();
    /* Library code reports GSL errors as status codes; nothing may abort the program. */
    gsl_set_error_handler_off();
    indiv_blas_single_thread();
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("indiv %s\n", INDIV_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            if (rc == CLI_OK && asks_help(argc - 1, argv + 1))
                printf("\nexamples (from the repository root):\n%s",
                       commands[i].examples);
            return rc;
        }
    fprintf(stderr, "indiv: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
