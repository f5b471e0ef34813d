/*
 * model_internal.h — internals shared by the files of the `model` module: model.c (files,
 * embeddings, neighbours) and model_calib.c (the calibration and its JSON form).
 */
#ifndef INDIV_MODEL_INTERNAL_H
#define INDIV_MODEL_INTERNAL_H

#include <jansson.h>

#include "indiv/model.h"

/* The "calibration" object of a model file; NULL out of memory. */
json_t *indiv_calibration_json(const indiv_calibration *c);

/* Reads the "calibration" object o (NULL: none, present = 0). On error, err names the
 * file and the field. */
int indiv_calibration_load(const json_t *o, indiv_calibration *c, const char *path,
                           indiv_error *err);

/* Checks the ranges of a calibration held in memory (INDIV_EINVAL naming the field). */
int indiv_calibration_validate(const indiv_calibration *c, const char *id,
                               indiv_error *err);

/* The "act" object of a model file, and its reader (o NULL: none, present = 0). */
json_t *indiv_act_json(const indiv_act_model *a);
int indiv_act_load(const json_t *o, indiv_act_model *a, const char *path,
                   indiv_error *err);

#endif /* INDIV_MODEL_INTERNAL_H */
