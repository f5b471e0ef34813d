/*
 * fuzz_import_retail.c — libFuzzer target: any bytes as an Online Retail CSV, imported
 * into an in-memory event log. Must never crash, leak or trip a sanitizer; whatever the
 * outcome, the summary's invariant rows_read = imported + skipped holds.
 */
#include <stdlib.h>

#include "fuzz_util.h"
#include "indiv/eventlog.h"
#include "indiv/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "retail.csv");
    indiv_eventlog *log = NULL;
    if (!path || indiv_eventlog_open(":memory:", INDIV_EVENTLOG_CREATE, &log, NULL) < 0)
        return 0;
    indiv_import_opts o;
    indiv_import_opts_init(&o);
    o.format = INDIV_IMPORT_ONLINE_RETAIL;
    o.path = path;
    indiv_import_summary s;
    indiv_error err = {0};
    int rc = indiv_import_run(log, &o, &s, &err);
    if (rc == 0 && s.rows_read != s.rows_imported + s.rows_skipped)
        abort();
    indiv_eventlog_close(log);
    return 0;
}
