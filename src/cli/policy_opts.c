/*
 * policy_opts.c — command-line options from the policy parameter table (policy_opts.h).
 */
#include "policy_opts.h"

#include <math.h>
#include <string.h>

#include "cli.h"

/* Help layout: the meaning starts at this column, lines end before WRAP_AT. */
#define HELP_INDENT 23
#define WRAP_AT     89

size_t cli_policy_options(const struct option *fixed, struct option *out, size_t cap) {
    size_t n = 0, rows = indiv_policy_param_count();
    while (fixed[n].name)
        n++;
    if (n + rows + 1 > cap)
        return 0;
    memcpy(out, fixed, n * sizeof *out);
    for (size_t i = 0; i < rows; i++)
        out[n++] = (struct option){indiv_policy_param_at(i)->name, required_argument,
                                   NULL, CLI_POLICY_CODE + (int)i};
    out[n++] = (struct option){0};
    return n;
}

int cli_policy_is_code(int code) {
    return code >= CLI_POLICY_CODE &&
           (size_t)(code - CLI_POLICY_CODE) < indiv_policy_param_count();
}

int cli_policy_set(const char *cmd, indiv_policy_params *p, int code, const char *name,
                   const char *v) {
    const indiv_policy_param *d =
        code ? indiv_policy_param_at((size_t)(code - CLI_POLICY_CODE))
             : indiv_policy_param_find(name);
    indiv_error err = {0};
    if (!d)
        return cli_usage(cmd, "unknown policy parameter '%s'", name ? name : "?");
    if (indiv_policy_params_set(p, d->name, v, &err) < 0)
        return cli_usage(cmd, "--%s", err.msg);
    return CLI_OK;
}

int cli_policy_assign(const char *cmd, indiv_policy_params *p, const char *text) {
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return cli_usage(cmd, "--set: '%s' is not NAME=VALUE (e.g. threshold=0.2)", text);
    char name[64];
    size_t len = (size_t)(eq - text);
    const indiv_policy_param *d = NULL;
    if (len < sizeof name) {
        memcpy(name, text, len);
        name[len] = '\0';
        d = indiv_policy_param_find(name);
    }
    if (!d)
        return cli_usage(cmd, "--set: unknown policy parameter '%.*s' (see --help)",
                         (int)len, text);
    indiv_error err = {0};
    if (indiv_policy_params_set(p, d->name, eq + 1, &err) < 0)
        return cli_usage(cmd, "--set %s", err.msg);
    return CLI_OK;
}

void cli_policy_set_help(FILE *o) {
    fprintf(o, "  %-*s %s\n%*s%s\n", HELP_INDENT - 3, "--set NAME=VALUE",
            "any policy parameter below, by name (repeatable, the last wins),",
            HELP_INDENT, "", "e.g. --set threshold=0.2 --set divergence-aim=popular");
}

/* Prints text from column col, wrapped before WRAP_AT onto lines indented HELP_INDENT
 * (columns counted in bytes, so a line with "τ" or "·" wraps a little early). */
static void wrapped(FILE *o, const char *w, int col) {
    int first = 1;
    while (*w) {
        int len = (int)strcspn(w, " ");
        if (!first && col + 1 + len > WRAP_AT) {
            fprintf(o, "\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
            first = 1;
        }
        if (!first)
            col += fputc(' ', o) != EOF;
        fwrite(w, 1, (size_t)len, o);
        col += len;
        first = 0;
        w += len;
        while (*w == ' ')
            w++;
    }
    fputc('\n', o);
}

void cli_policy_help(FILE *o) {
    for (size_t i = 0; i < indiv_policy_param_count(); i++) {
        const indiv_policy_param *d = indiv_policy_param_at(i);
        char opt[64], def[64], line[512];
        snprintf(opt, sizeof opt, "--%s %s", d->name, d->metavar);
        indiv_policy_param_default_text(d, def, sizeof def);
        snprintf(line, sizeof line, "%s (default %s)", d->doc, def);
        /* "  --name META" padded to the meaning's column; a longer one on its own line */
        if (strlen(opt) > HELP_INDENT - 3)
            fprintf(o, "  %s\n%*s", opt, HELP_INDENT, "");
        else
            fprintf(o, "  %-*s ", HELP_INDENT - 3, opt);
        wrapped(o, line, HELP_INDENT);
    }
}

/* ---- where τ comes from ------------------------------------------------------------ */

void cli_threshold_begin(cli_threshold_state *s, indiv_policy_params *p) {
    s->from_config = NAN;
    p->threshold = NAN;
}

void cli_threshold_after_config(cli_threshold_state *s, indiv_policy_params *p) {
    s->from_config = p->threshold;
    p->threshold = NAN;
}

const char *cli_threshold_end(const cli_threshold_state *s, indiv_policy_params *p) {
    if (!isnan(p->threshold))
        return "flag";
    if (!isnan(s->from_config)) {
        p->threshold = s->from_config;
        return "config";
    }
    indiv_policy_params def;
    indiv_policy_params_init(&def);
    p->threshold = def.threshold;
    return NULL;
}

void cli_threshold_note(const char *cmd, indiv_decide_opts *o, const indiv_model *m) {
    const char *why = indiv_decide_default_threshold(o, m);
    fprintf(stderr, "indiv %s: threshold %.4g: %s (--threshold overrides it)\n", cmd,
            o->policy.threshold, why);
}
