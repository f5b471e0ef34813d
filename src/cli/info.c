/*
 * info.c — `indiv info`: what an event log holds, for people.
 */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"
#include "indiv/eventlog.h"
#include "indiv/rights.h"
#include "indiv/timeutil.h"

static const char info_help[] =
    "usage: indiv info --db FILE\n\n"
    "Prints what an indiv event log holds: where it comes from (a generated world, or\n"
    "the imports that filled it; which part, for a part of indiv partition),\n"
    "consumers and their consent, offers, categories,\n"
    "events by type and the time span they cover, and the profiles built (as of when,\n"
    "in which feature space), the models trained from it or used with it (and whether\n"
    "an erasure left them holding the data of someone erased: then retrain), and the\n"
    "last retention run. Opens read-only.\n\n"
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

static int count_import(void *ctx, const indiv_import_rec *r) {
    (void)r;
    ++*(int *)ctx;
    return 0;
}

static int print_import(void *ctx, const indiv_import_rec *r) {
    char when[INDIV_ISO_LEN];
    int *n = ctx;
    printf("  import %d  %s (%s): %lld of %lld rows, fingerprint %s, on %s\n", ++*n,
           r->source, r->format, (long long)r->rows_imported, (long long)r->rows_read,
           r->fingerprint, indiv_time_format(r->imported_ts, when));
    return 0;
}

/* A part of indiv partition holds only its share of the consumers: said, so that its
 * counts are not read as the whole log's. */
static void print_partition(indiv_eventlog *log) {
    char part[32];
    int r, n;
    if (indiv_eventlog_meta_get(log, "partition", part, sizeof part, NULL) == 0 &&
        sscanf(part, "%d/%d", &r, &n) == 2)
        printf("partition   part %d of %d (indiv partition): the consumers below are "
               "this part's only\n",
               r, n);
}

/* Generated world (generator and seed) and/or imported log (each import). */
static int print_origin(indiv_eventlog *log, indiv_error *err) {
    char gen[64], seed[32];
    int generated = indiv_eventlog_meta_get(log, "generator", gen, sizeof gen, NULL) == 0;
    int n = 0, k = 0;
    if (generated && indiv_eventlog_meta_get(log, "seed", seed, sizeof seed, NULL) != 0)
        snprintf(seed, sizeof seed, "?");
    if (generated)
        printf("origin      generated world (%s, seed %s)\n", gen, seed);
    int rc = indiv_eventlog_each_import(log, count_import, &n, err);
    if (rc == 0 && n > 0)
        printf("%s %d import%s\n",
               generated ? "            and" : "origin      imported log:", n,
               n == 1 ? "" : "s");
    rc = rc == 0 && n > 0 ? indiv_eventlog_each_import(log, print_import, &k, err) : rc;
    print_partition(log);
    return rc;
}

/* As-of time and feature space of the last profile build (meta 'profile_params'). */
static void print_profile_build(indiv_eventlog *log) {
    char buf[8192], when[INDIV_ISO_LEN];
    if (indiv_eventlog_meta_get(log, "profile_params", buf, sizeof buf, NULL) != 0)
        return;
    json_t *j = json_loads(buf, 0, NULL);
    json_t *as_of = json_object_get(j, "as_of");
    const char *space = json_string_value(json_object_get(j, "feature_source"));
    if (json_is_integer(as_of))
        printf("            built as of %s, feature space %s (%lld dims)\n",
               indiv_time_format(json_integer_value(as_of), when), space ? space : "?",
               (long long)json_integer_value(json_object_get(j, "dims")));
    json_decref(j);
}

static int count_model(void *ctx, const indiv_model_entry *e) {
    (void)e;
    ++*(int *)ctx;
    return 0;
}

static int print_model(void *ctx, const indiv_model_entry *e) {
    char t1[INDIV_ISO_LEN], t2[INDIV_ISO_LEN];
    ++*(int *)ctx;
    printf("  model %s (key %s%s%s)", e->id, e->key, e->path ? ", " : "",
           e->path ? e->path : "");
    if (e->data_before != INDIV_TS_NONE)
        printf(": learnt from events before %s", indiv_time_format(e->data_before, t1));
    if (e->trained_ts != INDIV_TS_NONE)
        printf("; trained here on %s", indiv_time_format(e->trained_ts, t2));
    if (e->uses > 0)
        printf("; used by %lld decision run%s, last on %s", (long long)e->uses,
               e->uses == 1 ? "" : "s", indiv_time_format(e->last_used_ts, t1));
    printf("\n");
    if (e->erased > 0)
        printf("    ERASURE PENDING: may still hold the data of %lld %s erased since (last "
               "erasure %s): retrain it and stop using this file\n",
               (long long)e->erased, e->erased == 1 ? "person" : "people",
               indiv_time_format(e->erased_ts, t2));
    return 0;
}

/* Models trained from or used with this database, and what erasures left them holding
 * (rights.h); the last retention run. */
static int print_rights(indiv_eventlog *log, indiv_error *err) {
    char buf[1024], when[INDIV_ISO_LEN], cut[INDIV_ISO_LEN];
    int n = 0, k = 0;
    int rc = indiv_rights_each_model(log, count_model, &n, err);
    if (rc == 0 && n == 0)
        printf("models      none recorded (indiv train and indiv decide record theirs)\n");
    else if (rc == 0)
        printf("models      %d recorded:\n", n);
    if (rc == 0 && n > 0)
        rc = indiv_rights_each_model(log, print_model, &k, err);
    if (indiv_eventlog_meta_get(log, "retention_last_run", buf, sizeof buf, NULL) != 0)
        return rc;
    json_t *j = json_loads(buf, 0, NULL);
    const char *r = json_string_value(json_object_get(j, "ran_at"));
    const char *c = json_string_value(json_object_get(j, "cutoff"));
    int64_t ran = INDIV_TS_NONE, cutoff = INDIV_TS_NONE;
    if (!r || indiv_time_parse(r, &ran) < 0)
        ran = INDIV_TS_NONE;
    if (!c || indiv_time_parse(c, &cutoff) < 0)
        cutoff = INDIV_TS_NONE;
    printf("retention   last run %s: events before %s purged (%lld)\n",
           ran != INDIV_TS_NONE ? indiv_time_format(ran, when) : "?",
           cutoff != INDIV_TS_NONE ? indiv_time_format(cutoff, cut) : "?",
           (long long)json_integer_value(json_object_get(j, "events_deleted")));
    json_decref(j);
    return rc;
}

int cli_info(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *db = NULL;
    int c;
    opterr = 0; /* our own one-line message */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'h')
            return fputs(info_help, stdout), CLI_OK;
        else
            return cli_bad_option("info", argv[optind - 1], opts);
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
    int rc = print_origin(log, &err);
    cli_print_stats(stdout, &st);
    if (st.profiles > 0)
        print_profile_build(log);
    if (rc == 0)
        rc = print_rights(log, &err);
    indiv_eventlog_close(log);
    return rc < 0 ? cli_fail("info", &err) : CLI_OK;
}
