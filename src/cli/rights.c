/*
 * rights.c — the data-rights commands: `indiv export` (access), `indiv forget`
 * (erasure), `indiv consent` (consent changes) and `indiv retention` (purge of old
 * events). The work is in the library (rights.h); these parse, call and print.
 * Results go to stdout (JSON for export, forget and consent; a table for retention),
 * diagnostics to stderr. Docs: docs/rights.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/rights.h"
#include "indiv/timeutil.h"

/* Wall-clock time of the request: what the records (erasure, consent change, retention
 * run) say about when they happened. Nothing computed depends on it otherwise. */
static int64_t wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static int print_json(FILE *f, json_t *j, size_t flags) {
    return json_dumpf(j, f, flags | JSON_SORT_KEYS | JSON_REAL_PRECISION(6)) == 0 &&
                   fputc('\n', f) != EOF
               ? 0
               : -1;
}

/* ---- export ------------------------------------------------------------------------ */

static const char export_help[] =
    "usage: indiv export --db FILE [--out FILE] CONSUMER\n\n"
    "Access (GDPR art. 15): prints everything the database holds on one person, by\n"
    "their source id, as one JSON object: the consumer row and consents, every event,\n"
    "the stored profile (its numbers and, in the category space, what indiv profile\n"
    "--show prints), the consent changes recorded, every other per-person row (ground\n"
    "truth of generated worlds, tables added later) and the models whose training data\n"
    "may include their events. Opens read-only. Format: docs/rights.md.\n\n"
    "  --db FILE    the event log\n"
    "  --out FILE   write the JSON there (atomically) instead of stdout\n"
    "  -h, --help   this help\n";

static int write_export(FILE *f, void *ctx, indiv_error *err) {
    if (print_json(f, ctx, JSON_INDENT(2)) < 0)
        return indiv_error_set(err, INDIV_EIO, "cannot write the export");
    return INDIV_OK;
}

static int run_export(const char *db, const char *id, const char *out, indiv_error *err) {
    indiv_eventlog *log = NULL;
    json_t *x = NULL;
    static const char *const names[] = {"--out"};
    int rc = indiv_path_check_outputs(db, &out, names, 1, err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_open(db, INDIV_EVENTLOG_READONLY, &log, err);
    if (rc == INDIV_OK)
        rc = indiv_rights_export(log, id, &x, err);
    indiv_eventlog_close(log);
    if (rc == INDIV_OK && out)
        rc = indiv_file_write_atomic(out, write_export, x, err);
    else if (rc == INDIV_OK)
        rc = write_export(stdout, x, err);
    /* the summary goes to stdout when the JSON went to a file (README "Output
     * streams"), to stderr when stdout holds the JSON */
    FILE *sf = out ? cli_result_stream(&out, 1) : stderr;
    if (rc == INDIV_OK)
        fprintf(sf, "indiv export: consumer %s: %zu events%s\n", id,
                json_array_size(json_object_get(x, "events")),
                json_is_object(json_object_get(x, "profile")) ? ", a profile" : "");
    json_decref(x);
    return rc;
}

int cli_export(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *db = NULL, *out = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return fputs(export_help, stdout), CLI_OK;
        else
            return cli_bad_option("export", argv[optind - 1], opts);
    }
    if (!db)
        return cli_usage("export", "--db FILE is required");
    if (optind != argc - 1)
        return cli_usage("export", "one CONSUMER id is required (got %d)", argc - optind);
    indiv_error err = {0};
    return run_export(db, argv[optind], out, &err) == INDIV_OK ? CLI_OK
                                                               : cli_fail("export", &err);
}

/* ---- forget ------------------------------------------------------------------------ */

static const char forget_help[] =
    "usage: indiv forget --db FILE CONSUMER...\n\n"
    "Erasure (GDPR art. 17): removes each person (source ids) from the database: their\n"
    "events, profile, consent changes, ground truth and every other row of a table with\n"
    "a consumer_id column, then their consumer row, all in one transaction: an unknown\n"
    "id fails the command and nobody is erased. The offers' daily purchase counts are\n"
    "lowered by their purchases. Prints one JSON line per person on stdout: the rows\n"
    "removed per table and the models marked, i.e. the registered models (indiv train,\n"
    "indiv decide record them) whose training data may include their events. Such a\n"
    "model still holds what it learnt from them until it is retrained: decide warns,\n"
    "info lists it. Re-importing a log that contains them brings them back: remove them\n"
    "from the source too. Details: docs/rights.md.\n\n"
    "  --db FILE    the event log\n"
    "  -h, --help   this help\n";

/* Per-person reports into one summary line for people. */
static void forget_summary(json_t *const *reps, int n) {
    int64_t events = 0, rows = 0;
    size_t models = 0;
    for (int i = 0; i < n; i++) {
        const char *table;
        json_t *v;
        json_object_foreach(json_object_get(reps[i], "removed"), table, v) {
            rows += json_integer_value(v);
            if (strcmp(table, "events") == 0)
                events += json_integer_value(v);
        }
        models += json_array_size(json_object_get(reps[i], "models_marked"));
    }
    fprintf(stderr, "indiv forget: erased %d %s: %lld rows, of which %lld events\n", n,
            n == 1 ? "person" : "people", (long long)rows, (long long)events);
    if (models)
        fprintf(stderr,
                "indiv forget: %zu model mark%s: those models were trained on data that "
                "included them; retrain them (indiv train) and stop using the old files "
                "(indiv info lists them)\n",
                models, models == 1 ? "" : "s");
}

static int run_forget(const char *db, char **ids, int n, indiv_error *err) {
    indiv_eventlog *log = NULL;
    json_t **reps = calloc((size_t)n, sizeof *reps);
    int64_t now = wall_now();
    int rc = reps ? indiv_eventlog_open(db, 0, &log, err)
                  : indiv_error_set(err, INDIV_ENOMEM, "out of memory");
    if (rc == INDIV_OK)
        rc = indiv_eventlog_begin(log, err);
    for (int i = 0; rc == INDIV_OK && i < n; i++)
        rc = indiv_rights_forget(log, ids[i], now, &reps[i], err);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_commit(log, err);
    indiv_eventlog_close(log); /* rolls back on error */
    for (int i = 0; rc == INDIV_OK && i < n; i++)
        print_json(stdout, reps[i], JSON_COMPACT);
    if (rc == INDIV_OK)
        forget_summary(reps, n);
    for (int i = 0; reps && i < n; i++)
        json_decref(reps[i]);
    free(reps);
    return rc;
}

int cli_forget(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *db = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'h')
            return fputs(forget_help, stdout), CLI_OK;
        else
            return cli_bad_option("forget", argv[optind - 1], opts);
    }
    if (!db)
        return cli_usage("forget", "--db FILE is required");
    if (optind >= argc)
        return cli_usage("forget", "at least one CONSUMER id is required");
    /* an id given twice would be "not found" the second time, failing the whole erasure
     * with a message that contradicts the first */
    for (int i = optind; i < argc; i++)
        for (int j = optind; j < i; j++)
            if (strcmp(argv[i], argv[j]) == 0)
                return cli_usage("forget", "consumer '%s' is given twice", argv[i]);
    indiv_error err = {0};
    return run_forget(db, argv + optind, argc - optind, &err) == INDIV_OK
               ? CLI_OK
               : cli_fail("forget", &err);
}

/* ---- consent ----------------------------------------------------------------------- */

static const char consent_help[] =
    "usage: indiv consent --db FILE CONSUMER [--profiling yes|no] [--contact yes|no]\n"
    "                     [--channels LIST]\n\n"
    "Changes one person's consent (GDPR art. 7(3)), in one transaction, and records the\n"
    "change with its time. The next decision honours it, whoever makes it (decide,\n"
    "serve): withdrawing profiling consent deletes the stored profile at once;\n"
    "withdrawing contact consent makes every decision 'none' (no_contact_consent);\n"
    "granting contact consent again lifts an earlier unsubscription. Prints the state\n"
    "before and after as JSON on stdout. At least one change is required.\n\n"
    "  --db FILE          the event log\n"
    "  --profiling yes|no may a profile be built from their events?\n"
    "  --contact yes|no   may they be contacted at all?\n"
    "  --channels LIST    accepted contact channels: email, sms, push, comma-separated,\n"
    "                     or none\n"
    "  -h, --help         this help\n";

static int yes_no(const char *opt, const char *v, int *out) {
    if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0) {
        *out = strcmp(v, "yes") == 0;
        return CLI_OK;
    }
    return cli_usage("consent", "%s: '%s' is not yes or no", opt, v);
}

static int consent_args(int argc, char **argv, const char **db,
                        indiv_consent_change *ch) {
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"profiling", required_argument, NULL, 'p'},
                                         {"contact", required_argument, NULL, 'c'},
                                         {"channels", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c, rc = CLI_OK;
    opterr = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            *db = optarg;
        } else if (c == 'p') {
            rc = yes_no("--profiling", optarg, &ch->profiling);
        } else if (c == 'c') {
            rc = yes_no("--contact", optarg, &ch->contact);
        } else if (c == 'n') {
            unsigned mask;
            indiv_error err = {0};
            rc = indiv_channels_parse_list(optarg, &mask, &err) == INDIV_OK
                     ? CLI_OK
                     : cli_usage("consent", "--channels: %s", err.msg);
            ch->channels = (int)mask;
        } else if (c == 'h') {
            return fputs(consent_help, stdout), -1;
        } else {
            return cli_bad_option("consent", argv[optind - 1], opts);
        }
    }
    return rc;
}

int cli_consent(int argc, char **argv) {
    const char *db = NULL;
    indiv_consent_change ch;
    indiv_consent_change_init(&ch);
    int rc = consent_args(argc, argv, &db, &ch);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (!db)
        return cli_usage("consent", "--db FILE is required");
    if (optind != argc - 1)
        return cli_usage("consent", "one CONSUMER id is required (got %d)",
                         argc - optind);
    if (ch.profiling == INDIV_CONSENT_KEEP && ch.contact == INDIV_CONSENT_KEEP &&
        ch.channels == INDIV_CONSENT_KEEP)
        return cli_usage("consent", "nothing to change: give --profiling, --contact or "
                                    "--channels");
    indiv_error err = {0};
    indiv_eventlog *log = NULL;
    json_t *res = NULL;
    if (indiv_eventlog_open(db, 0, &log, &err) == INDIV_OK &&
        indiv_rights_consent(log, argv[optind], &ch, wall_now(), &res, &err) == INDIV_OK)
        print_json(stdout, res, JSON_INDENT(2));
    indiv_eventlog_close(log);
    json_decref(res);
    return err.code ? cli_fail("consent", &err) : CLI_OK;
}

/* ---- retention --------------------------------------------------------------------- */

static const char retention_help[] =
    "usage: indiv retention --db FILE --older-than DAYS [--as-of TIME] [--dry-run]\n\n"
    "Storage limitation (GDPR art. 5(1)(e)): deletes every event older than DAYS before\n"
    "--as-of, in one transaction, and prints how many (by type), for how many people.\n"
    "Their profiles, built from purged events, are deleted too: indiv profile --db FILE\n"
    "--incremental rebuilds them from what is left. The offers' daily purchase counts\n"
    "are lowered to match; consumer rows (and their consent) stay.\n"
    "meta('retention_last_run') records when it ran and what it did (indiv info shows\n"
    "it).\n\n"
    "  --db FILE          the event log\n"
    "  --older-than DAYS  retention period in days (0 to 1000000)\n"
    "  --as-of TIME       count the period back from this time (default: now). A log\n"
    "                     from years ago is purged entirely by a short period counted\n"
    "                     from now: try --dry-run first\n"
    "  --dry-run          count, change nothing\n"
    "  -h, --help         this help\n";

struct retention_args {
    const char *db;
    double days;
    int have_days, have_as_of, dry_run;
    int64_t as_of;
};

static int retention_args(int argc, char **argv, struct retention_args *a) {
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"older-than", required_argument, NULL, 'o'},
                                         {"as-of", required_argument, NULL, 'a'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c, rc = CLI_OK;
    opterr = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            a->db = optarg;
        } else if (c == 'o') {
            a->have_days = 1;
            rc = cli_double("retention", "--older-than", optarg, 0, 1e6, &a->days);
        } else if (c == 'a') {
            a->have_as_of = 1;
            rc = cli_time("retention", "--as-of", optarg, &a->as_of);
        } else if (c == 'n') {
            a->dry_run = 1;
        } else if (c == 'h') {
            return fputs(retention_help, stdout), -1;
        } else {
            return cli_bad_option("retention", argv[optind - 1], opts);
        }
    }
    if (rc != CLI_OK)
        return rc;
    if (optind < argc)
        return cli_usage("retention", "unexpected argument '%s'", argv[optind]);
    if (!a->db || !a->have_days)
        return cli_usage("retention", "--db FILE and --older-than DAYS are required");
    return CLI_OK;
}

static void print_retention(const struct retention_args *a,
                            const indiv_retention_report *r) {
    char t[INDIV_ISO_LEN];
    printf("%s events before %s (older than %g days): %lld",
           a->dry_run ? "would purge" : "purged", indiv_time_format(r->cutoff, t),
           a->days, (long long)r->events);
    const char *sep = " (";
    for (int k = 1; k <= INDIV_EV_MAX; k++)
        if (r->by_type[k]) {
            printf("%s%s %lld", sep, indiv_event_type_name(k), (long long)r->by_type[k]);
            sep = ", ";
        }
    printf("%s\n", r->events ? ")" : "");
    printf("people concerned %lld; profiles %s %lld; events left %lld\n",
           (long long)r->consumers, a->dry_run ? "to delete" : "deleted",
           (long long)r->profiles, (long long)r->remaining);
    if (!a->dry_run && r->profiles)
        fprintf(stderr,
                "indiv retention: rebuild the deleted profiles from what is left: indiv "
                "profile --db %s --incremental\n",
                a->db);
}

int cli_retention(int argc, char **argv) {
    struct retention_args a = {0};
    int rc = retention_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    indiv_eventlog *log = NULL;
    indiv_retention_report r;
    unsigned flags = a.dry_run ? INDIV_EVENTLOG_READONLY : 0;
    int64_t now = wall_now(), as_of = a.have_as_of ? a.as_of : now;
    if (indiv_eventlog_open(a.db, flags, &log, &err) == INDIV_OK &&
        indiv_rights_retention(log, a.days, as_of, now, a.dry_run, &r, &err) == INDIV_OK)
        print_retention(&a, &r);
    indiv_eventlog_close(log);
    return err.code ? cli_fail("retention", &err) : CLI_OK;
}
