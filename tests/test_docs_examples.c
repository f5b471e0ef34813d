/*
 * test_docs_examples.c — the command blocks of README.md and docs/ (*.md) run as written
 * (issue 14, item 17): a curated list of the cheap ones (imports of the shipped samples,
 * generate, info, profile, decide, --config datasets/policy.json, the data-rights
 * commands), copied verbatim from the docs, each run with `sh -e` in a fresh directory
 * that holds links to the
 * repository's datasets/ and models/ and a build/release/indiv that is the binary under
 * test (the ASan build under make check), so `B=build/release/indiv` works as written.
 * A block fails the test when any of its commands exits non-zero (ASan leaks included).
 * Left out: blocks that take minutes (evaluate, simulate, sweep, study, train on the
 * real sample), blocks that need data not shipped (/work/shared, "Online Retail.csv"),
 * and output listings. When a block fails, fix the doc, not this table.
 *
 * Every doc, expensive blocks and prose included, is also scanned for the flags it gives
 * a command ("indiv CMD ...", "indiv-mpi CMD ...", "$B CMD ...", to the end of the shell
 * command or of the inline code span, continuation lines joined): each must be one the
 * command's --help lists, so a renamed or removed option cannot linger in the docs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct doc_block {
    const char *where;  /* doc file and section it is copied from */
    int same_dir;       /* 1: runs in the previous block's directory (continues it) */
    const char *script; /* the block, verbatim */
} doc_block;

static const doc_block blocks[] = {
    /* README.md, "## Usage" */
    {"README.md, Usage", 0,
     "B=build/release/indiv\n"
     "\n"
     "# a synthetic world with known ground truth (docs/worlds.md)\n"
     "$B generate --db w.db --consumers 10000 --offers 500 --categories 25 --days 365 "
     "--seed 7\n"
     "\n"
     "# or a real log: the shipped Online Retail sample (docs/import.md)\n"
     "$B import --db retail.db --format online-retail "
     "datasets/online-retail-2010-12_2011-02.csv.gz\n"
     "\n"
     "$B info --db w.db                               # what a database holds\n"
     "\n"
     "# profiles: what the engine knows of each person (docs/profiles.md)\n"
     "$B profile --db w.db --as-of 2024-12-01\n"
     "$B profile --db w.db --as-of 2024-12-08 --incremental\n"
     "$B profile --db w.db --show c00042\n"
     "\n"
     "# decisions (docs/decisions.md)\n"
     "$B decide --db w.db --out decisions.jsonl --summary summary.json \\\n"
     "          --threshold 0.3 --serendipity 0.1 --divergence ride-along --seed 42\n"
     "\n"
     "$B demo                                          # all of it on the default world\n"},
    /* docs/import.md, first block (before "Inputs may be plain or gzip-compressed") */
    {"docs/import.md, introduction", 0,
     "B=build/release/indiv\n"
     "$B import --db retail.db --format online-retail "
     "datasets/online-retail-2010-12_2011-02.csv.gz\n"
     "S=datasets/events-sample   # a small sample of the events format, with its "
     "companions\n"
     "$B import --db ev.db --format events --offers $S/offers.csv --consumers "
     "$S/consumers.csv \\\n"
     "  --json $S/events.csv\n"
     "gzip -c $S/events.csv | $B import --db ev2.db --format events --offers "
     "$S/offers.csv -  # stdin\n"
     "$B import --help\n"},
    /* docs/profiles.md, first block */
    {"docs/profiles.md, introduction", 0,
     "B=build/release/indiv\n"
     "$B generate --db w.db                                   # a 2024 world, ids "
     "c00001...\n"
     "$B profile --db w.db --as-of 2024-06-01                 # full build\n"
     "$B profile --db w.db --as-of 2024-06-08 --incremental   # only consumers with new "
     "events\n"
     "$B profile --db w.db --show c00042                      # one profile as JSON\n"
     "$B profile --db w.db --features taste,rhythm --window 90  # data-minimisation "
     "variant\n"},
    /* docs/decisions.md, first block: continues the w.db of docs/profiles.md */
    {"docs/decisions.md, introduction", 1,
     "B=build/release/indiv\n"
     "$B profile --db w.db                                   # profiles first\n"
     "$B decide --db w.db --out decisions.jsonl --summary summary.json --seed 42\n"
     "$B decide --db w.db --out d.jsonl --threshold 0.5 --serendipity 0.2 --divergence "
     "standalone\n"
     "$B decide --db w.db --out d.jsonl --config datasets/policy.json --slots 2  # flags "
     "override it\n"
     "$B decide --db w.db --out part0.jsonl --shard 0/3      # one third of the "
     "consumers\n"},
    /* README.md, "### Data rights" */
    {"README.md, Data rights", 0,
     "B=build/release/indiv\n"
     "$B import --db shop.db --format online-retail "
     "datasets/online-retail-2010-12_2011-02.csv.gz\n"
     "$B profile --db shop.db\n"
     "$B export --db shop.db --out 17850.json 17850  # access: consumer row, every event,\n"
     "                                               # profile, consent changes, models\n"
     "$B consent --db shop.db 17850 --contact no     # honoured by the next decision\n"
     "$B consent --db shop.db 17850 --profiling no   # also deletes the stored profile now\n"
     "$B forget --db shop.db 17850 12748             # erasure: every per-person row, one\n"
     "                                               # transaction; prints what was "
     "removed\n"
     "$B retention --db shop.db --older-than 365 --dry-run   # count first: counts from "
     "now\n"
     "$B info --db shop.db                           # models to retrain, last retention "
     "run\n"},
    /* README.md, "### `indiv ope`" */
    {"README.md, ope", 0,
     "B=build/release/indiv\n"
     "$B generate --db world.db --consumers 2000 --seed 5\n"
     "$B simulate --db world.db --out logged --rounds 1 --threshold 0.2 --set slots=1 \\\n"
     "   --set control_share=0.05 --set control=ungated --log-decisions logged.jsonl\n"
     "$B ope --db logged/indiv/world.db --decisions logged.jsonl --window-days 14 \\\n"
     "   --target \"--threshold 0.1 --slots 1\"\n"},
    /* docs/rights.md, first block */
    {"docs/rights.md, introduction", 0,
     "B=build/release/indiv\n"
     "$B import --db shop.db --format online-retail "
     "datasets/online-retail-2010-12_2011-02.csv.gz\n"
     "$B profile --db shop.db --as-of 2011-02-01\n"
     "$B export --db shop.db --out 17850.json 17850      # access: everything held on "
     "17850\n"
     "$B consent --db shop.db 17850 --contact no          # withdraw contact consent\n"
     "$B consent --db shop.db 17850 --contact yes --channels email,sms\n"
     "$B forget --db shop.db 17850 12748                  # erasure, one transaction\n"
     "$B retention --db shop.db --older-than 365 --dry-run\n"
     "$B retention --db shop.db --older-than 60 --as-of 2011-03-01\n"
     "$B info --db shop.db                                # models to retrain, last "
     "retention run\n"},
};

/* Each block's text must still be in its doc file, so the table cannot drift from the
 * docs unnoticed. */
Test(docs_examples, blocks_are_copied_verbatim) {
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        char file[64];
        size_t n = strcspn(blocks[i].where, ",");
        cr_assert_lt(n, sizeof file);
        memcpy(file, blocks[i].where, n);
        file[n] = '\0';
        char *text = tu_read(file, NULL);
        cr_assert_not_null(text, "%s", file);
        cr_expect(strstr(text, blocks[i].script), "%s: block no longer in the doc:\n%s",
                  blocks[i].where, blocks[i].script);
        free(text);
    }
}

Test(docs_examples, command_blocks_run_as_written, .timeout = 300) {
    char *dir = NULL;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        tu_run r;
        if (!blocks[i].same_dir || !dir) {
            if (dir)
                tu_rmtree(dir);
            dir = tu_tmpdir();
            cr_assert_eq(tu_sh(&r,
                               "ln -s \"$(pwd)/datasets\" \"$(pwd)/models\" '%s' && "
                               "mkdir -p '%s/build/release' && "
                               "ln -s \"$(realpath \"$INDIV\")\" '%s/build/release/indiv'",
                               dir, dir, dir),
                         0, "%s", r.err);
            tu_run_free(&r);
        }
        char *script = tu_path(dir, "block.sh");
        tu_write(script, blocks[i].script);
        free(script);
        int st = tu_sh(&r, "cd '%s' && sh -ex block.sh >/dev/null", dir);
        size_t len = strlen(r.err);
        cr_expect_eq(st, 0, "%s: a command failed (exit %d); end of stderr:\n%s",
                     blocks[i].where, st, r.err + (len > 3000 ? len - 3000 : 0));
        tu_run_free(&r);
    }
    tu_rmtree(dir);
}

/* ---- every --flag the docs give a command is one its --help lists ------------------- */

static const char *const doc_commands[] = {
    "import",  "generate", "info",      "profile",  "train",    "decide",
    "serve",   "evaluate", "export",    "consent",  "forget",   "retention",
    "simulate", "ope",     "sweep",     "study",    "demo",     "partition"};
#define N_DOC_COMMANDS (sizeof doc_commands / sizeof doc_commands[0])

/* The --help text of command i, run once (owned by the cache). */
static const char *help_of(size_t i, char **cache) {
    if (!cache[i]) {
        tu_run r;
        cr_assert_eq(tu_sh(&r, "\"$INDIV\" %s --help", doc_commands[i]), 0, "%s",
                     doc_commands[i]);
        cache[i] = r.out;
        r.out = NULL;
        tu_run_free(&r);
    }
    return cache[i];
}

/* 1 when text holds flag as a whole option name (not the start of a longer one). */
static int lists_flag(const char *text, const char *flag, size_t n) {
    for (const char *p = text; (p = strstr(p, flag)); p += n) {
        char next = p[n];
        if (!(next == '-' || (next >= 'a' && next <= 'z') || (next >= '0' && next <= '9')))
            return 1;
    }
    return 0;
}

static int flag_char(char c) {
    return c == '-' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Checks the flags of one command line: from s (just after the command word) to the end
 * of the shell command or of the inline code span. Appends faults to bad. */
static void check_flags(const char *file, const char *s, size_t cmd, char **cache,
                        char *bad, size_t cap) {
    const char *end = s + strcspn(s, "`|;&#\n");
    for (const char *p = s; p + 3 < end; p++) {
        if (p[0] != '-' || p[1] != '-' || !(p[2] >= 'a' && p[2] <= 'z') ||
            (p > s && flag_char(p[-1])))
            continue;
        size_t n = 2;
        while (p + n < end && flag_char(p[n]))
            n++;
        char flag[64];
        if (n >= sizeof flag)
            continue;
        memcpy(flag, p, n);
        flag[n] = '\0';
        if (!lists_flag(help_of(cmd, cache), flag, n)) {
            size_t len = strlen(bad);
            snprintf(bad + len, cap - len, "%s: indiv %s has no %s\n", file,
                     doc_commands[cmd], flag);
        }
        p += n - 1;
    }
}

/* The command named right after s, or N_DOC_COMMANDS; *after is set past its name. */
static size_t command_at(const char *s, const char **after) {
    for (size_t i = 0; i < N_DOC_COMMANDS; i++) {
        size_t n = strlen(doc_commands[i]);
        if (strncmp(s, doc_commands[i], n) == 0 && (s[n] == ' ' || s[n] == '\n')) {
            *after = s + n;
            return i;
        }
    }
    return N_DOC_COMMANDS;
}

/* Every "indiv CMD", "indiv-mpi CMD" or "$B CMD" of the file, continuation lines
 * joined. */
static void check_file(const char *file, char **cache, char *bad, size_t cap) {
    char *text = tu_read(file, NULL);
    cr_assert_not_null(text, "%s", file);
    for (char *c = strstr(text, "\\\n"); c; c = strstr(c, "\\\n"))
        c[0] = c[1] = ' ';
    static const char *const callers[] = {"indiv ", "indiv-mpi ", "$B "};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(callers[k]);
        for (const char *p = text; (p = strstr(p, callers[k])); p += n) {
            if (k < 2 && p > text && (flag_char(p[-1]) || p[-1] == '_'))
                continue;
            const char *after;
            size_t cmd = command_at(p + n, &after);
            if (cmd < N_DOC_COMMANDS)
                check_flags(file, after, cmd, cache, bad, cap);
        }
    }
    free(text);
}

/* No .timeout here: with --jobs 2, this suite's two tests with a timeout running at once
 * left a 48-byte leak in Criterion 2.4.1's runner (LeakSanitizer, make check); it takes
 * a second. */
Test(docs_examples, every_flag_given_to_a_command_is_in_its_help) {
    char *cache[N_DOC_COMMANDS] = {0};
    static char bad[8192];
    bad[0] = '\0';
    check_file("README.md", cache, bad, sizeof bad);
    tu_run r;
    cr_assert_eq(tu_sh(&r, "ls docs/*.md"), 0);
    for (char *f = strtok(r.out, "\n"); f; f = strtok(NULL, "\n"))
        check_file(f, cache, bad, sizeof bad);
    tu_run_free(&r);
    cr_expect_str_eq(bad, "", "flags the docs give that the command does not take:\n%s",
                     bad);
    for (size_t i = 0; i < N_DOC_COMMANDS; i++)
        free(cache[i]);
}
