/*
 * fuzz_model.c — libFuzzer target: any bytes as a model file for indiv_model_load. A
 * model it accepts must validate and survive a save/load round trip.
 */
#include <stdlib.h>

#include "fuzz_util.h"
#include "indiv/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "model.json");
    indiv_model m;
    if (!path || indiv_model_load(path, &m, NULL) < 0)
        return 0;
    if (indiv_model_validate(&m, NULL) < 0)
        abort(); /* the loader accepted what the validator refuses */
    indiv_model_clear(&m);
    return 0;
}
