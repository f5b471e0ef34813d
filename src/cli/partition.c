/*
 * partition.c — `indiv partition`: an event log split by consumer into N databases, for
 * indiv-mpi on a cluster (one part per rank, on the rank's own disk; docs/scale.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"

#define CMD "partition"

static const char partition_help[] =
    "usage: indiv partition --db FILE --parts N --out DIR\n\n"
    "Splits an event log into DIR/part-0.db ... DIR/part-<N-1>.db by the stable hash of\n"
    "the consumers' source ids (the one of decide --shard I/N): part r holds the\n"
    "consumers of shard r/N with their events, profiles and ground truth, and the whole\n"
    "catalogue, popularity and metadata. Each part is a complete indiv database;\n"
    "mpirun -np N indiv-mpi decide --db DIR/part-%d.db gives rank r part r, and the\n"
    "decisions equal those of the whole database. Build profiles before partitioning\n"
    "(their rhythm prior is the whole population's).\n\n"
    "  --db FILE     the event log to split (read only)\n"
    "  --parts N     number of parts, one per rank (1..100000)\n"
    "  --out DIR     directory of the parts (created; parts of the same name replaced)\n"
    "  -h, --help    this help\n";

int cli_partition(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"parts", required_argument, NULL, 'p'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *db = NULL, *out = NULL;
    int64_t parts = 0;
    int c, rc = CLI_OK;
    opterr = 0;
    optind = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'p')
            rc = cli_int64(CMD, "--parts", optarg, 1, 100000, &parts);
        else if (c == 'h')
            return fputs(partition_help, stdout), CLI_OK;
        else
            rc = cli_bad_option(CMD, argv[optind - 1], opts);
    }
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (rc == CLI_OK && (!db || !*db || !out || !*out || parts == 0))
        rc = cli_usage(CMD, "--db FILE, --parts N and --out DIR are required");
    if (rc != CLI_OK)
        return rc;
    indiv_error err = {0};
    cli_progress_state ps = {0};
    if (indiv_eventlog_partition(db, out, (int)parts, indiv_shard_of, cli_progress, &ps,
                                 &err) < 0)
        return cli_fail(CMD, &err);
    /* the result, on stdout like every command's summary (README, "Output streams") */
    printf("indiv partition: %s split into %lld parts: %s/part-0.db ... part-%lld.db\n",
           db, (long long)parts, out, (long long)parts - 1);
    return CLI_OK;
}
