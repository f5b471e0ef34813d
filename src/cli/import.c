/*
 * import.c — `indiv import`: load a real event log (Online Retail CSV or generic events
 * CSV) into an event log database, in one transaction.
 *
 * Output: the summary goes to stdout (readable text, or one JSON object with --json);
 * bad rows, progress and errors go to stderr. At most --max-reported bad rows are
 * printed, then one "... N more" line; all of them are counted in the summary.
 * A database this command created is removed again when the import fails, so that a
 * failed import leaves the file system as it found it.
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
#include "indiv/eventlog.h"
#include "indiv/fileio.h"
#include "indiv/import.h"

#define CMD "import"
/* Bad rows printed by default before "... N more": enough to see the pattern. */
#define DEFAULT_MAX_REPORTED 20

typedef struct import_args {
    const char *db, *input;
    int json, max_reported;
    indiv_import_opts o;
} import_args;

/* Callback context: bad-row printing and the progress line. */
typedef struct report_ctx {
    int max_reported, tty;
    int64_t shown, more;
    cli_progress_state progress;
} report_ctx;

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: indiv import --db FILE --format online-retail|events [options] CSV|-\n"
        "\n"
        "Imports a real event log into the event log FILE (created when missing), in\n"
        "one transaction: on any failure the database is left exactly as it was.\n"
        "CSV may be gzip-compressed; '-' reads standard input.\n"
        "\n"
        "formats:\n"
        "  online-retail     the UCI Online Retail CSV (InvoiceNo, StockCode,\n"
        "                    Description, Quantity, InvoiceDate, UnitPrice, CustomerID,\n"
        "                    Country)\n"
        "  events            a CSV with a header: consumer, offer, type, ts, and\n"
        "                    optional channel, quantity, value\n"
        "\n"
        "options:\n"
        "  --db FILE         event log to import into (required)\n"
        "  --format NAME     online-retail or events (required)\n"
        "  --offers FILE     events format: offers CSV (offer, name, category, price,\n"
        "                    margin, valid_from, valid_to)\n"
        "  --consumers FILE  events format: consumers CSV (consumer, consent_profiling,\n"
        "                    consent_contact, channels as email;sms, country)\n"
        "  --consent LIST    consent of consumers the input does not describe:\n"
        "                    profiling,contact (default), profiling, contact or none\n"
        "  --channels LIST   their contact channels: email (default), any of\n"
        "                    email,sms,push, or none\n"
        "  --strict          fail on the first bad row instead of skipping it\n"
        "  --force           import even if the same input was imported before, or into\n"
        "                    a generated world (real and synthetic consumers then mix)\n"
        "  --max-reported N  bad rows printed on stderr (default %d, 0: none); all\n"
        "                    are counted in the summary\n"
        "  --json            print the summary as one JSON object on stdout\n"
        "  -h, --help        print this help\n"
        "\n"
        "The summary goes to stdout; bad rows (\"indiv import: FILE:LINE: reason\"),\n"
        "progress and errors go to stderr. Exit status: 0 ok, 1 failure, 2 usage.\n"
        "Rules, skip reasons and assumptions: docs/import.md.\n",
        DEFAULT_MAX_REPORTED);
}

/* "profiling,contact" | "profiling" | "contact" | "none". */
static int parse_consent(const char *s, indiv_import_opts *o) {
    char buf[64], *save = NULL;
    if (strlen(s) >= sizeof buf)
        return cli_usage(CMD, "--consent: '%.40s...' is too long", s);
    strcpy(buf, s);
    o->default_consent_profiling = o->default_consent_contact = 0;
    if (strcmp(s, "none") == 0)
        return CLI_OK;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "profiling") == 0)
            o->default_consent_profiling = 1;
        else if (strcmp(t, "contact") == 0)
            o->default_consent_contact = 1;
        else
            return cli_usage(CMD,
                             "--consent: '%s' is not a consent (profiling, contact "
                             "or none)",
                             t);
    }
    return CLI_OK;
}

/* "email,sms,push" (any subset) | "none". */
static int parse_channel_list(const char *s, indiv_import_opts *o) {
    char buf[64], *save = NULL;
    if (strlen(s) >= sizeof buf)
        return cli_usage(CMD, "--channels: '%.40s...' is too long", s);
    strcpy(buf, s);
    o->default_channels = 0;
    if (strcmp(s, "none") == 0)
        return CLI_OK;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int ch;
        if (indiv_channel_parse(t, &ch) < 0 || !(INDIV_CH_BIT(ch) & INDIV_CH_CONTACTABLE))
            return cli_usage(CMD,
                             "--channels: '%s' is not a contact channel (email, sms, "
                             "push or none)",
                             t);
        o->default_channels |= INDIV_CH_BIT(ch);
    }
    return CLI_OK;
}

enum {
    OPT_DB = 256,
    OPT_FORMAT,
    OPT_OFFERS,
    OPT_CONSUMERS,
    OPT_CONSENT,
    OPT_CHANNELS,
    OPT_STRICT,
    OPT_FORCE,
    OPT_MAX_REPORTED,
    OPT_JSON
};

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"offers", required_argument, NULL, OPT_OFFERS},
    {"consumers", required_argument, NULL, OPT_CONSUMERS},
    {"consent", required_argument, NULL, OPT_CONSENT},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"force", no_argument, NULL, OPT_FORCE},
    {"max-reported", required_argument, NULL, OPT_MAX_REPORTED},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* One option; returns CLI_OK or the exit code to stop with (-1: --help done). */
static int apply_option(int c, const char *arg, import_args *a) {
    int64_t n;
    switch (c) {
    case OPT_DB:
        a->db = arg;
        return CLI_OK;
    case OPT_FORMAT:
        if (indiv_import_format_parse(arg, &a->o.format) < 0)
            return cli_usage(
                CMD, "--format: '%s' is not a format (online-retail or events)", arg);
        return CLI_OK;
    case OPT_OFFERS:
        a->o.offers_path = arg;
        return CLI_OK;
    case OPT_CONSUMERS:
        a->o.consumers_path = arg;
        return CLI_OK;
    case OPT_CONSENT:
        return parse_consent(arg, &a->o);
    case OPT_CHANNELS:
        return parse_channel_list(arg, &a->o);
    case OPT_STRICT:
        a->o.strict = 1;
        return CLI_OK;
    case OPT_FORCE:
        a->o.force = 1;
        return CLI_OK;
    case OPT_MAX_REPORTED: {
        int rc = cli_int64(CMD, "--max-reported", arg, 0, 1000000000, &n);
        a->max_reported = (int)n;
        return rc;
    }
    case OPT_JSON:
        a->json = 1;
        return CLI_OK;
    case 'h':
        usage(stdout);
        return -1;
    default:
        return cli_usage(CMD, "unknown option");
    }
}

static int parse_args(int argc, char **argv, import_args *a) {
    indiv_import_opts_init(&a->o);
    a->max_reported = DEFAULT_MAX_REPORTED;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == '?')
            return cli_bad_option(CMD, argv[optind - 1], long_opts);
        int rc = apply_option(c, optarg, a);
        if (rc != CLI_OK)
            return rc;
    }
    if (!a->db || !*a->db)
        return cli_usage(CMD, "--db FILE is required");
    if (!a->o.format)
        return cli_usage(CMD, "--format is required (online-retail or events)");
    if (optind != argc - 1)
        return cli_usage(CMD, "expected exactly one input file (or - for stdin), got %d",
                         argc - optind);
    if (a->o.format != INDIV_IMPORT_EVENTS && (a->o.offers_path || a->o.consumers_path))
        return cli_usage(CMD, "--offers and --consumers go with --format events only");
    a->input = a->o.path = argv[optind];
    return CLI_OK;
}

/* ---- callbacks --------------------------------------------------------------------- */

static void on_bad_row(void *vctx, const char *file, long line, const char *reason) {
    report_ctx *ctx = vctx;
    if (ctx->shown >= ctx->max_reported) {
        ctx->more++;
        return;
    }
    ctx->shown++;
    /* Clears a progress line that may be drawn on the terminal. */
    fprintf(stderr, "%sindiv %s: %s:%ld: %s\n", ctx->tty ? "\r\033[K" : "", CMD, file,
            line, reason);
}

static void on_progress(void *vctx, const char *stage, int64_t done, int64_t total) {
    report_ctx *ctx = vctx;
    cli_progress(&ctx->progress, stage, done, total);
}

static void print_more(const report_ctx *ctx) {
    if (ctx->more > 0)
        fprintf(stderr,
                "indiv %s: ... %lld more bad rows (not printed; counted in the "
                "summary)\n",
                CMD, (long long)ctx->more);
}

/* ---- summary ----------------------------------------------------------------------- */

static void print_text(const import_args *a, const indiv_import_summary *s) {
    printf("imported %s into %s (%s, fingerprint %s)\n", a->input, a->db,
           indiv_import_format_name(a->o.format), s->fingerprint);
    printf("  rows read      %10lld\n", (long long)s->rows_read);
    printf("  imported       %10lld  ", (long long)s->rows_imported);
    const char *sep = "";
    for (int t = 1; t <= INDIV_EV_MAX; t++)
        if (s->by_type[t]) {
            printf("%s%s %lld", sep, indiv_event_type_name(t), (long long)s->by_type[t]);
            sep = ", ";
        }
    printf("\n  skipped        %10lld\n", (long long)s->rows_skipped);
    for (size_t i = 0; i < s->n_reasons; i++)
        printf("    %-36s %10lld%s\n", s->skipped[i].reason,
               (long long)s->skipped[i].count, s->skipped[i].bad ? "  (bad rows)" : "");
    if (a->o.offers_path || a->o.consumers_path)
        printf("  companion rows %10lld  (%lld bad, skipped)\n",
               (long long)s->companion_rows, (long long)s->companion_skipped);
    printf("  new consumers  %10lld\n  new offers     %10lld\n",
           (long long)s->consumers_new, (long long)s->offers_new);
}

/* Sets key to a new integer in obj; returns 0, or -1 when out of memory. */
static int set_int(json_t *obj, const char *key, int64_t v) {
    return json_object_set_new(obj, key, json_integer(v));
}

/* A JSON string of a file name that may not be UTF-8 (read as Latin-1 then). */
static json_t *utf8_string(const char *s) {
    char *u = indiv_import_utf8(s);
    json_t *j = u ? json_string(u) : NULL;
    free(u);
    return j;
}

static json_t *summary_json(const import_args *a, const indiv_import_summary *s) {
    json_t *o = json_object(), *skipped = json_object(), *bad = json_object();
    json_t *events = json_object();
    if (!o) {
        json_decref(skipped);
        json_decref(bad);
        json_decref(events);
        return NULL;
    }
    /* set_new steals the sub-objects, even on failure; from here they are borrowed. */
    int fail = json_object_set_new(o, "skipped", skipped) ||
               json_object_set_new(o, "bad_rows", bad) ||
               json_object_set_new(o, "events", events);
    for (size_t i = 0; !fail && i < s->n_reasons; i++)
        fail = set_int(skipped, s->skipped[i].reason, s->skipped[i].count) ||
               (s->skipped[i].bad &&
                set_int(bad, s->skipped[i].reason, s->skipped[i].count));
    for (int t = 1; !fail && t <= INDIV_EV_MAX; t++)
        if (s->by_type[t])
            fail = set_int(events, indiv_event_type_name(t), s->by_type[t]);
    fail = fail || json_object_set_new(o, "db", utf8_string(a->db)) ||
           json_object_set_new(o, "source", utf8_string(a->input)) ||
           json_object_set_new(o, "format",
                               json_string(indiv_import_format_name(a->o.format))) ||
           json_object_set_new(o, "fingerprint", json_string(s->fingerprint)) ||
           set_int(o, "rows_read", s->rows_read) ||
           set_int(o, "rows_imported", s->rows_imported) ||
           set_int(o, "rows_skipped", s->rows_skipped) ||
           set_int(o, "consumers_new", s->consumers_new) ||
           set_int(o, "offers_new", s->offers_new) ||
           set_int(o, "companion_rows", s->companion_rows) ||
           set_int(o, "companion_skipped", s->companion_skipped);
    if (fail) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The import is committed when this runs: a summary that cannot be written is said on
 * stderr, and the exit status stays 0 (a retry would be refused as a duplicate). */
static int print_json(const import_args *a, const indiv_import_summary *s) {
    json_t *o = summary_json(a, s);
    int rc = o ? json_dumpf(o, stdout, JSON_SORT_KEYS | JSON_COMPACT) : -1;
    json_decref(o);
    if (rc < 0 || putchar('\n') == EOF || fflush(stdout) != 0)
        fprintf(
            stderr,
            "indiv %s: the import is committed (fingerprint %s), but its JSON summary "
            "could not be written\n",
            CMD, s->fingerprint);
    return CLI_OK;
}

/* ---- run --------------------------------------------------------------------------- */

/* Imports into the database at path (created when missing or empty). */
static int import_into(const char *path, import_args *a, report_ctx *ctx,
                       indiv_import_summary *sum, indiv_error *err) {
    indiv_eventlog *log = NULL;
    int rc = indiv_eventlog_open(path, INDIV_EVENTLOG_CREATE, &log, err);
    if (rc == INDIV_OK) {
        a->o.on_bad_row = on_bad_row;
        a->o.on_progress = ctx->tty ? on_progress : NULL;
        a->o.ctx = ctx;
        rc = indiv_import_run(log, &a->o, sum, err);
    }
    indiv_eventlog_close(log);
    return rc;
}

/* A new database is built under a temporary name and linked into place only when the
 * import is committed: a failed import leaves nothing, and of several imports racing to
 * create one path, the first link wins and the others import into its database, never
 * removing a file they did not create. */
static int import_new(import_args *a, report_ctx *ctx, indiv_import_summary *sum,
                      indiv_error *err, int *again) {
    char *tmp = NULL;
    int rc = indiv_file_temp_create(a->db, &tmp, err);
    if (rc < 0)
        return rc;
    rc = import_into(tmp, a, ctx, sum, err);
    *again = 0;
    if (rc == INDIV_OK && link(tmp, a->db) != 0) {
        if (errno == EEXIST && strcmp(a->o.path, "-") != 0)
            *again = 1; /* created meanwhile by another process: import into it */
        else if (errno == EEXIST)
            rc = indiv_error_set(err, INDIV_EIO,
                                 "%s was created by another process during this import, "
                                 "and standard input cannot be read again: nothing was "
                                 "written; run the import again",
                                 a->db);
        else
            rc = indiv_error_set(err, INDIV_EIO, "%s: cannot create: %s", a->db,
                                 strerror(errno));
    }
    indiv_file_temp_release(tmp,
                            1); /* linked (the name stays) or failed: ours to remove */
    return rc;
}

static int run(import_args *a, report_ctx *ctx, indiv_import_summary *sum,
               indiv_error *err) {
    struct stat sb;
    int again = 1, rc = INDIV_OK;
    if (stat(a->db, &sb) != 0 && errno == ENOENT)
        rc = import_new(a, ctx, sum, err, &again);
    if (rc == INDIV_OK && again)
        rc = import_into(a->db, a, ctx, sum, err);
    if (rc < 0 && ctx->tty)
        fputs("\r\033[K", stderr); /* a progress line may be half drawn */
    return rc;
}

int cli_import(int argc, char **argv) {
    import_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    report_ctx ctx = {.max_reported = a.max_reported, .tty = cli_stderr_is_tty()};
    indiv_import_summary sum;
    indiv_error err = {0};
    rc = run(&a, &ctx, &sum, &err);
    print_more(&ctx);
    if (rc < 0)
        return cli_fail(CMD, &err);
    if (a.json)
        return print_json(&a, &sum);
    print_text(&a, &sum);
    return CLI_OK;
}
