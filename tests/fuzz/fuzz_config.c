/*
 * fuzz_config.c — libFuzzer target: any bytes as the --config file of `indiv decide`,
 * through the command's own reader (src/cli/decide.c: JSON with duplicate keys refused,
 * every key a long option, every value through that flag's own setter and range check),
 * then the parameters' validation. The command line overrides --db (a path that does
 * not exist), --out, --summary and --model, so whatever the file says, a run stops at
 * the database open: no input makes it read or write anything but its own files
 * (fuzz_util.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fuzz_util.h"
#include "indiv/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The default model saved once per process, so that --model is a file of ours. */
static const char *model_file(void) {
    static char path[4096];
    if (!path[0]) {
        indiv_model m;
        indiv_model_default(&m);
        snprintf(path, sizeof path, "%s", fuzz_path("model.json"));
        if (indiv_model_save(&m, path, NULL) < 0)
            abort();
        indiv_model_clear(&m);
    }
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char cfg[4096], out[4096], sum[4096], model[4096];
    char a0[] = "decide", a1[] = "--config", a3[] = "--db",
         a4[] = "/nonexistent/indiv-fuzz.db", a5[] = "--out", a7[] = "--summary",
         a9[] = "--model";
    snprintf(model, sizeof model, "%s", model_file());
    const char *p = fuzz_file(data, size, "config.json");
    if (!p)
        return 0;
    snprintf(cfg, sizeof cfg, "%s", p);
    snprintf(out, sizeof out, "%s", fuzz_path("d.jsonl"));
    snprintf(sum, sizeof sum, "%s", fuzz_path("s.json"));
    char *argv[] = {a0, a1, cfg, a3, a4, a5, out, a7, sum, a9, model, NULL};
    optind = 0; /* getopt_long keeps state between calls */
    int rc = cli_decide((int)(sizeof argv / sizeof argv[0]) - 1, argv);
    if (rc != CLI_FAIL && rc != CLI_USAGE)
        abort(); /* without a database nothing can succeed */
    return 0;
}
