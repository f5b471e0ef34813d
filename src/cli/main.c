/*
 * main.c — the indiv program: dispatches to one subcommand per file in src/cli/.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cli.h"
#include "indiv/fileio.h"
#include "indiv/score.h"

#define INDIV_VERSION "0.1.0"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"decide", cli_decide, "decide for every consumer: contact, defer or nothing"},
    {"demo", cli_demo, "run the pipeline on the embedded default world"},
    {"evaluate", cli_evaluate,
     "replay a log: indiv and baselines against what people bought"},
    {"generate", cli_generate, "write a synthetic world with known ground truth"},
    {"import", cli_import,
     "import a real log (Online Retail CSV, or generic events CSV)"},
    {"info", cli_info, "print what an event log holds"},
    {"simulate", cli_simulate,
     "closed loop: consumers answer the decisions, round by round"},
    {"profile", cli_profile, "build, update or show consumer profiles"},
    {"train", cli_train, "fit a model file: offer embedding and propensity weights"},
    {"sweep", cli_sweep,
     "simulate a grid of parameters × seeds: results, 95% CIs, figures"},
    {"study", cli_study,
     "the ethics study: each interview claim tested, report with figures"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out,
            "usage: indiv <command> [options]   (indiv <command> --help for more)\n\n"
            "indiv decides, for each consumer on their own, whether to contact them,\n"
            "with what, on which channel and when; below a relevance threshold it does\n"
            "nothing, and now and then it proposes something outside their bubble.\n\n"
            "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

/* Ctrl-C or a SIGTERM removes the temporary files of unfinished outputs, then ends the
 * program as the signal would have (SA_RESETHAND restores the default action). */
static void on_signal(int sig) {
    indiv_fileio_remove_temps();
    raise(sig);
}

static void install_signal_cleanup(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int main(int argc, char **argv) {
    install_signal_cleanup();
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
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "indiv: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
