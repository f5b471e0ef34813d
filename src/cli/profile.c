/*
 * profile.c — `indiv profile`: build, rebuild incrementally, or show profiles.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "indiv/catalog.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"
#include "indiv/model.h"
#include "indiv/profile.h"
#include "indiv/timeutil.h"

static const char profile_help[] =
    "usage: indiv profile --db FILE [--as-of TIME] [--half-life DAYS] [--window DAYS]\n"
    "                     [--features LIST] [--history-max N] [--incremental]\n"
    "                     [--model FILE]\n"
    "       indiv profile --db FILE --show CONSUMER [--as-of TIME] [--model FILE]\n\n"
    "Builds and stores a profile for every consumer who gave profiling consent, in one\n"
    "ordered pass over the events strictly before --as-of (consumers without consent\n"
    "are skipped and none of their events are read). With --show, prints what the\n"
    "engine knows of one consumer (source id) as JSON on stdout, evaluated at --as-of\n"
    "(default: the profile's own time), in the feature space the profiles were built in\n"
    "(its \"feature_space\"; profiles built with --model need the same --model).\n\n"
    "  --as-of TIME       ISO 8601 or Unix seconds (default: just after the last event)\n"
    "  --half-life DAYS   taste decay half-life (default 90)\n"
    "  --window DAYS      ignore events older than this before --as-of (default: none)\n"
    "  --features LIST    feature groups: all, none, or a list of taste, rhythm,\n"
    "                     moments, channels, pressure, openness, history; '-name'\n"
    "                     removes one (default all)\n"
    "  --history-max N    offers kept per person in the history group (default 64)\n"
    "  --incremental      rebuild only consumers with events since their profile\n"
    "                     (same parameters as the last build required)\n"
    "  --model FILE       express tastes in the offer embedding of a trained model\n"
    "                     (indiv train); decide must then use the same model, and\n"
    "                     --show too (to name the embedding's dimensions)\n"
    "  --show CONSUMER    print one profile instead of building\n"
    "  -h, --help         this help\n";

struct profile_args {
    const char *db, *show, *model;
    int incremental, have_as_of;
    indiv_profile_params p;
};

static int parse_args(int argc, char **argv, struct profile_args *a) {
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"as-of", required_argument, NULL, 'a'},
                                         {"half-life", required_argument, NULL, 'l'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"features", required_argument, NULL, 'f'},
                                         {"incremental", no_argument, NULL, 'i'},
                                         {"history-max", required_argument, NULL, 'x'},
                                         {"show", required_argument, NULL, 's'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    indiv_error err = {0};
    int c, rc = CLI_OK;
    opterr = 0; /* our own message, in the "indiv profile: ..." form */
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'a':
            rc = cli_time("profile", "--as-of", optarg, &a->p.as_of);
            a->have_as_of = 1;
            break;
        case 'l':
            rc = cli_double("profile", "--half-life", optarg, 1e-3, 1e6,
                            &a->p.half_life_days);
            break;
        case 'w':
            rc = cli_double("profile", "--window", optarg, 0, 1e6, &a->p.window_days);
            break;
        case 'f':
            if (indiv_profile_features_parse(optarg, &a->p.features, &err) < 0)
                rc = cli_usage("profile", "--features: %s", err.msg);
            break;
        case 'i':
            a->incremental = 1;
            break;
        case 'x': {
            int64_t v = 0;
            rc = cli_int64("profile", "--history-max", optarg, 1, 4096, &v);
            a->p.history_max = (int)v;
            break;
        }
        case 's':
            a->show = optarg;
            break;
        case 'm':
            a->model = optarg;
            break;
        case 'h':
            fputs(profile_help, stdout);
            return -1;
        default:
            return cli_bad_option("profile", argv[optind - 1], opts);
        }
    }
    if (rc == CLI_OK && !a->db)
        rc = cli_usage("profile", "--db FILE is required");
    if (rc == CLI_OK && optind < argc)
        rc = cli_usage("profile", "unexpected argument '%s'", argv[optind]);
    return rc;
}

/* The catalog in the space the stored profiles were built in: --model's embedding, or
 * the categories. A taste of one space read with another's labels would be wrong
 * (another length, other meanings), so a mismatch is refused with the fix. */
static int show_catalog(indiv_eventlog *log, const struct profile_args *a,
                        indiv_catalog **cat, indiv_error *err) {
    indiv_profile_space space;
    int rc = indiv_profile_stored_space(log, &space, err);
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, cat, err);
    if (rc == INDIV_OK && a->model) {
        indiv_model m = {0};
        size_t missing;
        if ((rc = indiv_model_load(a->model, &m, err)) == INDIV_OK)
            rc = indiv_model_apply(&m, *cat, &missing, err);
        indiv_model_clear(&m);
    }
    const char *now = rc == INDIV_OK ? indiv_catalog_feature_source(*cat) : NULL;
    if (now && strcmp(now, space.source) != 0)
        rc = indiv_error_set(
            err, INDIV_EINVAL,
            "the profiles of %s were built in feature space '%s', not '%s': %s", a->db,
            space.source, now,
            strcmp(space.source, "category") == 0
                ? "leave --model out to show them"
                : "add --model FILE, the model they were built with");
    return rc;
}

static int show(indiv_eventlog *log, const struct profile_args *a, indiv_error *err) {
    indiv_profile_params p;
    indiv_rhythm_prior prior;
    indiv_catalog *cat = NULL;
    indiv_profile pr;
    int64_t cid;
    indiv_profile_init(&pr);
    int rc = indiv_profile_stored_params(log, &p, &prior, err);
    if (rc == INDIV_ENOTFOUND)
        rc = indiv_error_set(err, rc, "%s: no profiles yet (run indiv profile --db %s)",
                             a->db, a->db);
    if (rc == INDIV_OK)
        rc = indiv_eventlog_consumer_id(log, a->show, &cid, err);
    if (rc == INDIV_OK &&
        (rc = indiv_profile_load(log, cid, &pr, err)) == INDIV_ENOTFOUND)
        rc = indiv_error_set(err, rc,
                             "consumer %s has no profile (no profiling consent, or added "
                             "after the last build)",
                             a->show);
    if (rc == INDIV_OK)
        rc = show_catalog(log, a, &cat, err);
    if (rc == INDIV_OK) {
        int64_t t = a->have_as_of ? a->p.as_of : pr.as_of;
        if (t < pr.as_of)
            rc = indiv_error_set(err, INDIV_EINVAL,
                                 "--as-of is before the profile's time");
        indiv_profile_project(&pr, t, p.half_life_days);
        char *js = rc ? NULL : indiv_profile_to_json(&pr, a->show, cat, &p, &prior, t);
        if (js)
            puts(js);
        else if (rc == INDIV_OK)
            rc = indiv_error_set(err, INDIV_ENOMEM, "out of memory");
        free(js);
    }
    indiv_catalog_free(cat);
    indiv_profile_clear(&pr);
    return rc;
}

/* The build's summary: a result, on stdout (README "Output streams"). */
static void print_summary(const indiv_profile_summary *s, double secs) {
    fprintf(stdout,
            "indiv profile: %lld profiles built (%lld without events in range) from %lld "
            "events in %.2f s [%s]\n"
            "  consumers: %lld; skipped for lack of profiling consent: %lld; profiles "
            "dropped (consent withdrawn): %lld\n"
            "  vector bytes written: %lld (offer history: %lld bytes, %lld offers); "
            "rhythm prior: mean interval %.1f days (%lld consumers), cv² %.2f (%lld "
            "consumers)\n",
            (long long)s->profiled, (long long)s->empty, (long long)s->events, secs,
            s->mode_reason, (long long)s->consumers, (long long)s->skipped_consent,
            (long long)s->dropped_consent, (long long)s->bytes,
            (long long)s->history_bytes, (long long)s->history_entries,
            s->prior.mean_days, (long long)s->prior.consumers_mean, s->prior.cv2,
            (long long)s->prior.consumers_cv2);
}

/* --model: the model's offer embedding replaces the category features. */
static int apply_model(const char *path, indiv_catalog *cat, indiv_error *err) {
    indiv_model m;
    size_t missing = 0;
    int rc = indiv_model_load(path, &m, err);
    if (rc == INDIV_OK)
        rc = indiv_model_apply(&m, cat, &missing, err);
    if (rc == INDIV_OK)
        fprintf(stderr,
                "indiv profile: feature space '%s' (d = %zu); %zu offers have no "
                "vector in the model (zero rows)\n",
                indiv_catalog_feature_source(cat), indiv_catalog_dims(cat), missing);
    indiv_model_clear(&m);
    return rc;
}

static int build(indiv_eventlog *log, struct profile_args *a, indiv_error *err) {
    int64_t last;
    indiv_catalog *cat = NULL;
    int rc = indiv_eventlog_last_event_ts(log, &last, err);
    if (rc == INDIV_OK && !a->have_as_of)
        a->p.as_of = last != INDIV_TS_NONE ? last + 1 : 0;
    if (rc == INDIV_OK)
        rc = indiv_catalog_load(log, &cat, err);
    if (rc == INDIV_OK && a->model)
        rc = apply_model(a->model, cat, err);
    if (rc == INDIV_OK) {
        cli_progress_state ps = {0};
        indiv_profile_summary sum;
        double t0 = cli_now();
        rc = indiv_profile_build(log, cat, &a->p, a->incremental, cli_progress, &ps, &sum,
                                 err);
        if (rc == INDIV_OK)
            print_summary(&sum, cli_now() - t0);
    }
    indiv_catalog_free(cat);
    return rc;
}

int cli_profile(int argc, char **argv) {
    struct profile_args a = {0};
    indiv_profile_params_init(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    indiv_error err = {0};
    if (indiv_profile_params_validate(&a.p, &err) < 0)
        return cli_usage("profile", "%s", err.msg);
    /* Ids are stored as UTF-8 (a Latin-1 file is transcoded on import): a Latin-1 id
     * typed in a Latin-1 terminal is looked up the same way. */
    char *id = a.show ? indiv_import_utf8(a.show) : NULL;
    if (a.show && !id)
        return fprintf(stderr, "indiv profile: out of memory\n"), CLI_FAIL;
    a.show = id;
    indiv_eventlog *log = NULL;
    rc = indiv_eventlog_open(a.db, a.show ? INDIV_EVENTLOG_READONLY : 0, &log, &err);
    if (rc == INDIV_OK)
        rc = a.show ? show(log, &a, &err) : build(log, &a, &err);
    indiv_eventlog_close(log);
    free(id);
    return rc == INDIV_OK ? CLI_OK : cli_fail("profile", &err);
}
