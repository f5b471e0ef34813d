/*
 * fuzz_import_events.c — libFuzzer target: any bytes as an events CSV, with a fixed
 * offers companion, imported into an in-memory event log (then the same bytes as an
 * offers file and as a consumers file). Must never crash, leak or trip a sanitizer.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char offers[] =
    "offer,name,category,price\no1,Mug,mugs,4.5\no2,Hat,hats,12\n";

static void run(const char *events, const char *off, const char *cons) {
    indiv_eventlog *log = NULL;
    if (indiv_eventlog_open(":memory:", INDIV_EVENTLOG_CREATE, &log, NULL) < 0)
        return;
    indiv_import_opts o;
    indiv_import_opts_init(&o);
    o.format = INDIV_IMPORT_EVENTS;
    o.path = events;
    o.offers_path = off;
    o.consumers_path = cons;
    indiv_import_summary s;
    if (indiv_import_run(log, &o, &s, NULL) == 0 &&
        s.rows_read != s.rows_imported + s.rows_skipped)
        abort();
    indiv_eventlog_close(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char in[4096], off[4096];
    const char *p = fuzz_file(data, size, "events.csv");
    if (!p)
        return 0;
    snprintf(in, sizeof in, "%s", p);
    p = fuzz_file((const uint8_t *)offers, strlen(offers), "offers.csv");
    if (!p)
        return 0;
    snprintf(off, sizeof off, "%s", p);
    run(in, off, NULL);
    run(off, in, NULL); /* the bytes as the offers companion */
    run(off, NULL, in); /* and as the consumers companion */
    return 0;
}
