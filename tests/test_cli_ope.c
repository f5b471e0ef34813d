/*
 * test_cli_ope.c — end-to-end `indiv ope` on the ASan-built binary: a one-round
 * simulation logs its decisions, and ope reads the outcomes from the work database the
 * simulation wrote them to; the world the simulation started from holds none of them
 * and is refused, naming the database and both times (it once gave every estimate 0 with
 * an interval [0, 0], exit 0).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Commands run in the test's directory; $INDIV may be relative to the repository. */
#define IN_DIR "INDIV=\"$(realpath \"$INDIV\")\" && cd '%s' && "
#define TARGET " --window-days 14 --target \"--threshold 0.1 --slots 1\""

static char *dir;

static void setup(void) {
    dir = tu_tmpdir();
}

static void teardown(void) {
    tu_rmtree(dir);
}

TestSuite(cli_ope, .init = setup, .fini = teardown);

/* No .timeout: two tests with a timeout running at once (make check's --jobs 2) leak 48
 * bytes in Criterion 2.4.1's runner (test_docs_examples.c); it takes seconds. */
Test(cli_ope, outcomes_are_read_from_the_database_they_were_logged_to) {
    tu_run r;
    cr_assert_eq(tu_sh(&r,
                       IN_DIR
                       "\"$INDIV\" generate --db world.db --consumers 300 --days 120 "
                       "--seed 5 >/dev/null && \"$INDIV\" simulate --db world.db "
                       "--out logged --rounds 1 --seed 3 --threshold 0.2 --set slots=1 "
                       "--set control_share=0.05 --set control=ungated "
                       "--log-decisions logged.jsonl >/dev/null 2>&1",
                       dir),
                 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(
        tu_sh(&r, IN_DIR "\"$INDIV\" ope --db world.db --decisions logged.jsonl" TARGET,
              dir),
        1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "indiv ope: world.db: no event after the decisions' time") &&
                  strstr(r.err, "logged.jsonl") && strstr(r.err, "OUT/POLICY/world.db"),
              "%s", r.err);
    cr_expect_str_eq(r.out, "", "no estimate is printed");
    tu_run_free(&r);
    cr_assert_eq(tu_sh(&r,
                       IN_DIR "\"$INDIV\" ope --db logged/indiv/world.db --decisions "
                              "logged.jsonl" TARGET,
                       dir),
                 0, "%s", r.err);
    cr_expect(strstr(r.out, "300 logged decisions"), "%s", r.out);
    tu_run_free(&r);
}
