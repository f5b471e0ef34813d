/*
 * info.c — `indiv info`: what an event log holds, for people.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/timeutil.h"

static const char info_help[] =
    "usage: indiv info --db FILE\n\n"
    "Prints what an indiv event log holds: consumers and their consent, offers,\n"
    "categories, events by type and the time span they cover. Opens read-only.\n\n"
    "  --db FILE   the event log (SQLite)\n"
    "  -h, --help  this help\n";

void cli_print_stats(FILE *out, const indiv_eventlog_stats *st) {
    char a[INDIV_ISO_LEN], b[INDIV_ISO_LEN];
    fprintf(out, "consumers   %lld (profiling consent %lld, contact consent %lld)\n",
            (long long)st->consumers, (long long)st->consent_profiling,
            (long long)st->consent_contact);
    fprintf(out, "offers      %lld in %lld categories\n", (long long)st->offers,
            (long long)st->categories);
    fprintf(out, "events      %lld", (long long)st->events);
    const char *sep = " (";
    for (int t = 1; t <= INDIV_EV_MAX; t++)
        if (st->by_type[t]) {
            fprintf(out, "%s%s %lld", sep, indiv_event_type_name(t),
                    (long long)st->by_type[t]);
            sep = ", ";
        }
    fprintf(out, "%s\n", st->events ? ")" : "");
    if (st->events)
        fprintf(out, "time span   %s .. %s\n", indiv_time_format(st->first_ts, a),
                indiv_time_format(st->last_ts, b));
    fprintf(out, "profiles    %lld\n", (long long)st->profiles);
}

int cli_info(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *db = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'h')
            return fputs(info_help, stdout), CLI_OK;
        else
            return cli_usage("info", "unknown option");
    }
    if (!db)
        return cli_usage("info", "--db FILE is required");
    if (optind < argc)
        return cli_usage("info", "unexpected argument '%s'", argv[optind]);
    indiv_error err = {0};
    indiv_eventlog *log = NULL;
    indiv_eventlog_stats st;
    if (indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, &err) < 0 ||
        indiv_eventlog_stats_get(log, &st, &err) < 0) {
        indiv_eventlog_close(log);
        return cli_fail("info", &err);
    }
    printf("database    %s (schema version %d)\n", db, INDIV_SCHEMA_VERSION);
    cli_print_stats(stdout, &st);
    indiv_eventlog_close(log);
    return CLI_OK;
}
