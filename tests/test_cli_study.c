/*
 * test_cli_study.c — end-to-end tests of `indiv study`: help, usage errors (exit 2,
 * naming the option, nothing written), and the --quick study on a tiny world (150
 * consumers, 3 rounds, 2 seeds, no real data): exit 0, report.md and report.html name
 * every claim and list the assumptions, the French lines are labelled as
 * reconstructions, and results.json parses with one entry per claim, each with a
 * verdict from the rule's vocabulary.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "indiv/study.h"
#include "testutil.h"

static char *dir;

static void setup(void) {
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(cli_study, .init = setup, .fini = teardown);

Test(cli_study, help_exits_0_and_lists_the_options) {
    tu_run r;
    cr_assert_eq(tu_sh(&r, "\"$INDIV\" study --help"), 0, "%s", r.err);
    static const char *const want[] = {
        "--out DIR",   "--quick",       "--seeds N",     "--seed S",    "--jobs J",
        "--claims ID", "--consumers N", "--rounds R",    "--world-set", "--real FILE",
        "--no-real",   "--no-figures",  "--keep-worlds", "--repeats N", "--model FILE"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "help lacks %s", want[i]);
    tu_run_free(&r);
}

Test(cli_study, usage_errors_exit_2_and_write_nothing) {
    static const struct {
        int with_out; /* prefix --out DIR/x */
        const char *args, *want;
    } bad[] = {
        {0, "--quick", "--out DIR is required"},
        {1, "--seeds 1", "--seeds"},
        {1, "--claims threshold,nope", "nope"},
        {1, "--world-set latent_share=7", "latent_share"},
        {1, "--real a.csv --no-real", "--no-real"},
        {1, "--bogus", "--bogus"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_run r;
        int st =
            tu_sh(&r, "\"$INDIV\" study %s%s%s %s", bad[i].with_out ? "--out '" : "",
                  bad[i].with_out ? dir : "", bad[i].with_out ? "/x'" : "", bad[i].args);
        cr_assert_eq(st, 2, "%s: exit %d", bad[i].args, st);
        cr_assert(strstr(r.err, bad[i].want), "%s: %s", bad[i].args, r.err);
        cr_assert(strstr(r.err, "indiv study:"), "%s", r.err);
        tu_run_free(&r);
    }
    char *x = tu_path(dir, "x");
    cr_assert_neq(access(x, F_OK), 0, "nothing written on a usage error");
    free(x);
}

static char *read_out(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/s/%s", dir, name);
    char *s = tu_read(path, NULL);
    cr_assert_not_null(s, "%s is missing", name);
    return s;
}

static void assert_names_every_claim(const char *doc, const char *what) {
    for (size_t i = 0; i < indiv_study_claim_count(); i++) {
        const indiv_study_claim *c = indiv_study_claim_at(i);
        cr_assert(strstr(doc, c->id), "%s lacks claim %s", what, c->id);
        cr_assert(strstr(doc, c->title), "%s lacks the title of %s", what, c->id);
    }
    static const char *const need[] = {"hold only under the simulation's assumptions",
                                       "Assumptions",
                                       "annoyance_per_irrelevant",
                                       "wrong_moment_factor",
                                       "latent_share",
                                       "» — Stéphane Amarsy, S1",
                                       "» — Arnaud Le Roux, S3",
                                       "of the interviews is not studied",
                                       "Sensitivity",
                                       "What this study cannot show"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        cr_assert(strstr(doc, need[i]), "%s lacks '%s'", what, need[i]);
}

static int known_verdict(const char *v) {
    static const char *const ok[] = {"supported", "not supported", "inconclusive",
                                     "underpowered", "depends on an assumption"};
    for (size_t i = 0; v && i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(v, ok[i]) == 0)
            return 1;
    return 0;
}

/* Every « … » of the report (nested « » inside a quotation kept, as the interviews
 * have them) is a verbatim substring of ../shared/interviews.md, and there is one per
 * quotation of the claim table at least. */
static void assert_quotations_verbatim(const char *md) {
    const char *path = getenv("INDIV_INTERVIEWS");
    char *text = tu_read(path ? path : "../shared/interviews.md", NULL);
    cr_assert_not_null(text, "cannot read ../shared/interviews.md");
    static const char open_q[] = "« ", close_q[] = " »";
    size_t found = 0, expected = 0;
    for (size_t i = 0; i < indiv_study_claim_count(); i++)
        expected += indiv_study_claim_at(i)->nquotes;
    for (const char *p = strstr(md, open_q); p; p = strstr(p, open_q)) {
        const char *start = p + strlen(open_q), *q = start;
        int depth = 1;
        while (*q && depth > 0) {
            if (strncmp(q, "«", strlen("«")) == 0)
                depth++;
            else if (strncmp(q, close_q, strlen(close_q)) == 0 && --depth == 0)
                break;
            q++;
        }
        cr_assert_eq(depth, 0, "unclosed quotation: %.80s", start);
        char *quote = strndup(start, (size_t)(q - start));
        cr_assert(strstr(text, quote), "not verbatim in the interviews: « %s »", quote);
        free(quote);
        found++;
        p = q + strlen(close_q);
    }
    cr_assert_geq(found, expected, "%zu quotations in the report, %zu in the table",
                  found, expected);
    free(text);
}

static void assert_results_json(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/s/results.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert_not_null(root, "results.json: %s (line %d)", je.text, je.line);
    json_t *claims = json_object_get(root, "claims");
    cr_assert_eq(json_array_size(claims), indiv_study_claim_count());
    for (size_t i = 0; i < json_array_size(claims); i++) {
        json_t *c = json_array_get(claims, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        cr_assert_str_eq(id, indiv_study_claim_at(i)->id);
        cr_assert(known_verdict(json_string_value(json_object_get(c, "verdict"))), "%s",
                  id);
        json_t *q0 = json_array_get(json_object_get(c, "quotes"), 0);
        cr_assert_not_null(json_string_value(json_object_get(q0, "text")), "%s", id);
        cr_assert_not_null(json_string_value(json_object_get(q0, "speaker")), "%s", id);
    }
    json_t *study = json_object_get(root, "study");
    cr_assert_str_eq(json_string_value(json_object_get(study, "mode")), "quick");
    cr_assert_eq(json_integer_value(json_object_get(study, "seeds")), 2);
    cr_assert(json_is_object(
        json_object_get(json_object_get(root, "assumptions"), "simulation")));
    json_decref(root);
}

Test(cli_study, quick_study_on_a_tiny_world_reports_every_claim) {
    tu_run r;
    int st = tu_sh(&r,
                   "\"$INDIV\" study --quick --out '%s/s' --consumers 150 --rounds 3 "
                   "--seeds 2 --no-real",
                   dir);
    cr_assert_eq(st, 0, "exit %d: %s", st, r.err);
    for (size_t i = 0; i < indiv_study_claim_count(); i++)
        cr_assert(strstr(r.out, indiv_study_claim_at(i)->id), "summary lacks %s",
                  indiv_study_claim_at(i)->id);
    cr_assert(strstr(r.out, "report.md"), "%s", r.out);
    tu_run_free(&r);

    char *md = read_out("report.md"), *html = read_out("report.html");
    assert_quotations_verbatim(md);
    assert_names_every_claim(md, "report.md");
    assert_names_every_claim(html, "report.html");
    cr_assert(strstr(md, "Command: `indiv study --quick"),
              "the command is in the report");
    cr_assert(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    cr_assert(strstr(html, "</html>"));
    cr_assert_null(strstr(html, "src=\"figures/"), "figures are inlined, not linked");
    cr_assert(strstr(html, "<img alt=\"threshold\" src=\"data:image/svg+xml;base64,") ||
                  strstr(html, "Figure not drawn"),
              "a figure is inlined, or the report says why not (no gnuplot)");
    free(md);
    free(html);
    assert_results_json();
    char *gp = read_out("figures/study.gp");
    cr_assert(strstr(gp, "fig_threshold.svg") && strstr(gp, "fig_threshold.png"));
    free(gp);
    char *worlds = tu_path(dir, "s/worlds");
    cr_assert_neq(access(worlds, F_OK), 0, "worlds are deleted without --keep-worlds");
    free(worlds);
}

/* One claim (the measured one), worlds kept: only it in the report, the base world of
 * the first seed left in DIR/worlds. */
Test(cli_study, one_claim_with_kept_worlds) {
    tu_run r;
    int st = tu_sh(&r,
                   "\"$INDIV\" study --quick --out '%s/s' --claims scale --consumers 120 "
                   "--no-real --keep-worlds --no-figures --repeats 2",
                   dir);
    cr_assert_eq(st, 0, "exit %d: %s", st, r.err);
    cr_assert(strstr(r.out, "scale"), "%s", r.out);
    cr_assert_null(strstr(r.out, "threshold"), "%s", r.out);
    tu_run_free(&r);
    char *md = read_out("report.md");
    cr_assert(strstr(md, "candidates / s"), "the measurement table");
    cr_assert_null(strstr(md, "`threshold`"), "only the selected claim");
    free(md);
    char *w = tu_path(dir, "s/worlds/world-0.db");
    cr_assert_eq(access(w, F_OK), 0, "--keep-worlds keeps the world");
    free(w);
}

/* Every run of seed s meets the same world and streams whatever the worker that runs
 * it: the numbers and verdicts do not depend on --jobs. */
Test(cli_study, results_do_not_depend_on_the_number_of_jobs) {
    for (int jobs = 1; jobs <= 2; jobs++) {
        tu_run r;
        int st =
            tu_sh(&r,
                  "\"$INDIV\" study --quick --out '%s/j%d' --claims threshold,enclosure "
                  "--consumers 120 --rounds 2 --seeds 2 --no-real --no-figures "
                  "--jobs %d",
                  dir, jobs, jobs);
        cr_assert_eq(st, 0, "jobs %d: exit %d: %s", jobs, st, r.err);
        tu_run_free(&r);
    }
    json_t *a = tu_json_member(dir, "j1/results.json", "claims"),
           *b = tu_json_member(dir, "j2/results.json", "claims");
    cr_assert_eq(json_array_size(a), 2);
    cr_assert(json_equal(a, b), "results.json claims differ between --jobs 1 and 2");
    json_decref(a);
    json_decref(b);
}
