/*
 * fuzz_pipeline.c — libFuzzer target: any bytes as an events CSV (offers fixed),
 * imported, profiled and decided on, all in memory: what a real log does to the engine
 * downstream of the importer (times at the edges of the calendar, odd quantities).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "indiv/catalog.h"
#include "indiv/decide.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"
#include "indiv/model.h"
#include "indiv/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char offers[] =
    "offer,name,category,price\no1,Mug,mugs,4.5\no2,Hat,hats,12\no3,Cap,hats,9\n";

static int count(void *ctx, const indiv_decision *d, const char *ext_id) {
    (void)d;
    (void)ext_id;
    ++*(long *)ctx;
    return 0;
}

static void downstream(indiv_eventlog *log) {
    int64_t last;
    indiv_catalog *cat = NULL;
    indiv_profile_params pp;
    indiv_profile_params_init(&pp);
    if (indiv_eventlog_last_event_ts(log, &last, NULL) < 0 || last == INDIV_TS_NONE ||
        indiv_catalog_load(log, &cat, NULL) < 0)
        return;
    pp.as_of = last + 1;
    if (indiv_profile_build(log, cat, &pp, 0, NULL, NULL, NULL, NULL) == 0) {
        indiv_model m;
        indiv_decide_opts o;
        indiv_decide_summary sum;
        long n = 0;
        indiv_model_default(&m);
        indiv_decide_opts_init(&o);
        o.policy.as_of = pp.as_of;
        o.on_decision = count;
        o.ctx = &n;
        o.threads = 1;
        indiv_decide_run(log, &m, &o, NULL, NULL, &sum, NULL);
        indiv_model_clear(&m);
    }
    indiv_catalog_free(cat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char in[4096];
    const char *p = fuzz_file(data, size, "pipe-events.csv");
    if (!p)
        return 0;
    snprintf(in, sizeof in, "%s", p);
    const char *off =
        fuzz_file((const uint8_t *)offers, strlen(offers), "pipe-offers.csv");
    indiv_eventlog *log = NULL;
    if (!off || indiv_eventlog_open(":memory:", INDIV_EVENTLOG_CREATE, &log, NULL) < 0)
        return 0;
    indiv_import_opts o;
    indiv_import_opts_init(&o);
    o.format = INDIV_IMPORT_EVENTS;
    o.path = in;
    o.offers_path = off;
    indiv_import_summary s;
    if (indiv_import_run(log, &o, &s, NULL) == 0)
        downstream(log);
    indiv_eventlog_close(log);
    return 0;
}
