/*
 * policy_opts.h — the policy parameter table (policy.h) as command-line options, shared
 * by `indiv decide` and `indiv evaluate`: long options, their setter and --help lines.
 */
#ifndef INDIV_CLI_POLICY_OPTS_H
#define INDIV_CLI_POLICY_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "indiv/decide.h"
#include "indiv/model.h"
#include "indiv/policy.h"

/* getopt_long codes of the table's options: CLI_POLICY_CODE + row index. */
#define CLI_POLICY_CODE 1000

/* Copies the command's own options (fixed, up to its {0} terminator), then one option
 * per table row, then the terminator, into out (capacity cap). Returns the number of
 * options written, or 0 when cap is too small. */
size_t cli_policy_options(const struct option *fixed, struct option *out, size_t cap);

/* 1 when code is a table option's code. */
int cli_policy_is_code(int code);

/* Sets the parameter of a table option code (or, code 0, the one called name) from its
 * text; on a bad value prints "indiv <cmd>: --<name>: <what is wrong>" and returns
 * CLI_USAGE. */
int cli_policy_set(const char *cmd, indiv_policy_params *p, int code, const char *name,
                   const char *v);

/* --set NAME=VALUE: sets the table parameter NAME (long option name, '-' or '_') from
 * VALUE. A text without '=' or an unknown name prints "indiv <cmd>: --set: ..."; a bad
 * value "indiv <cmd>: --set <name>: <what is wrong>"; both return CLI_USAGE. */
int cli_policy_assign(const char *cmd, indiv_policy_params *p, const char *text);

/* Help lines of --set, with an example, in the layout of cli_policy_help. */
void cli_policy_set_help(FILE *o);

/* One help line per table row: "  --name META        meaning (default D)". */
void cli_policy_help(FILE *o);

/* ---- where τ comes from --------------------------------------------------------------
 * A flag (--threshold, --set threshold=) overrides a --config key, which overrides the
 * model's recommended τ or, without one, the policy default (indiv_decide_default_
 * threshold, once the model is loaded). The parser marks τ unset (NAN) before each
 * layer and looks at what the layer left. */
typedef struct cli_threshold_state {
    double from_config; /* NAN when the config file has no threshold */
} cli_threshold_state;

/* Before the config file: τ unset. */
void cli_threshold_begin(cli_threshold_state *s, indiv_policy_params *p);
/* After the config file, before the flags: remembers its τ and unsets it again. */
void cli_threshold_after_config(cli_threshold_state *s, indiv_policy_params *p);
/* After the flags: "flag", "config", or NULL when τ is still to choose (p->threshold
 * then holds the policy default, so that the parameters validate meanwhile). */
const char *cli_threshold_end(const cli_threshold_state *s, indiv_policy_params *p);
/* Chooses τ from the model (indiv_decide_default_threshold) and says so on stderr:
 * "indiv <cmd>: threshold τ from the model (...)" or "... the policy default (...)". */
void cli_threshold_note(const char *cmd, indiv_decide_opts *o, const indiv_model *m);

#endif /* INDIV_CLI_POLICY_OPTS_H */
