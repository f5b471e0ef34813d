# indiv — individuation engine with programmed serendipity.
#
#   make            build build/release/indiv and build/release/libindiv.a (and
#                   build/release/indiv-mpi when MPI is installed: docs/scale.md)
#   make demo       install what is missing, build, run the demo on the embedded world
#   make check      install what is missing, build with ASan+UBSan, run every test
#   make bench      benchmarks (BENCH=<name> runs one, SCALE=0.1 makes them quick)
#   make deps       install missing Debian packages (as root) or print the command
#   make fuzz       libFuzzer targets (clang) run FUZZ_SECONDS each (default 60);
#                   make check runs each for FUZZ_CHECK_SECONDS (default 60), two at
#                   a time (FUZZ_CHECK_JOBS): about 3 minutes
#   make format     clang-format every source file
#   make install PREFIX=/usr/local
#
# User CFLAGS/LDFLAGS add to the defaults; they never replace the warnings.

PREFIX  ?= /usr/local
BUILD   ?= build
VARIANT ?= release
SCALE   ?= 1
BENCH   ?=

# Debian packages the project needs to build, test (clang and its runtime: the fuzz
# targets of make check), demo and bench.
DEBS := build-essential pkg-config libgsl-dev libopenblas-dev libsqlite3-dev \
        libjansson-dev libcriterion-dev zlib1g-dev sqlite3 gnuplot-nox clang \
        libclang-rt-dev libmicrohttpd-dev wrk
# Optional: Open MPI for indiv-mpi (docs/scale.md). Installed with the others as root;
# otherwise a missing one is only reported, and indiv-mpi and its tests are skipped.
DEBS_OPT := openmpi-bin libopenmpi-dev

PKGS := gsl sqlite3 jansson zlib openblas libmicrohttpd

# Evaluated once, on first use (after `deps` has run): the classic lazy-once idiom.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
# GSL's own reference CBLAS (-lgslcblas) is replaced by OpenBLAS (docs/architecture.md
# §6).
PKG_LIBS = $(eval PKG_LIBS := $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS))))$(PKG_LIBS)
CRIT_LIBS = $(eval CRIT_LIBS := $(shell pkg-config --libs criterion))$(CRIT_LIBS)
# MPI (indiv-mpi, src/mpi/): Open MPI's pkg-config file, else the wrapper's own flags.
# Empty when MPI is not installed: indiv-mpi is then not built and its tests skip.
MPI_CFLAGS = $(eval MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || \
  mpicc --showme:compile 2>/dev/null))$(MPI_CFLAGS)
MPI_LIBS = $(eval MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null || \
  mpicc --showme:link 2>/dev/null))$(MPI_LIBS)
HAVE_MPI = $(eval HAVE_MPI := $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 \
  || { command -v mpicc >/dev/null 2>&1 && echo 1; }))$(HAVE_MPI)

WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wwrite-strings -Wformat=2
DEFS := -D_DEFAULT_SOURCE

ifeq ($(VARIANT),fuzz)
  # The library built for libFuzzer (make fuzz): clang, ASan + UBSan, coverage hooks.
  CC     := clang
  OPT    := -g -O1 -fsanitize=address,undefined,fuzzer-no-link \
            -fno-sanitize-recover=all -fno-omit-frame-pointer
  WERROR :=
  LDOPT  := -fsanitize=address,undefined
else ifeq ($(VARIANT),asan)
  OPT    := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
  WERROR := -Werror
  LDOPT  := -fsanitize=address,undefined
else
  OPT    := -O2 -g
  WERROR ?=
  LDOPT  :=
endif

O := $(BUILD)/$(VARIANT)
ALL_CFLAGS = $(WARN) $(WERROR) $(OPT) $(DEFS) -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(LDOPT) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm

LIB_SRC   := $(wildcard src/*.c)
CLI_SRC   := $(wildcard src/cli/*.c)
MPI_SRC   := $(wildcard src/mpi/*.c)
TEST_SRC  := $(wildcard tests/test_*.c) tests/testutil.c
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/%.o) $(O)/gen/schema_sql.o
CLI_OBJ   := $(CLI_SRC:%.c=$(O)/%.o)
MPI_OBJ   := $(MPI_SRC:%.c=$(O)/%.o)
# indiv-mpi reuses every command's parsing, with its own main (src/mpi/mpi_main.c).
CLI_LIB_OBJ := $(filter-out $(O)/src/cli/main.o,$(CLI_OBJ))
TEST_OBJ  := $(TEST_SRC:%.c=$(O)/%.o)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(O)/bench/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/bin/%)
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 60

.PHONY: all lib bin deps check demo bench format clean install tests-bin fuzz fuzz-bin \
        fuzz-check
.DEFAULT_GOAL := all

all: | deps
	@$(MAKE) --no-print-directory VARIANT=$(VARIANT) bin lib

lib: $(O)/libindiv.a
bin: $(O)/indiv $(if $(HAVE_MPI),$(O)/indiv-mpi)

$(O)/src/mpi/%.o: src/mpi/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Isrc/cli $(MPI_CFLAGS) -c $< -o $@

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# datasets/schema.sql becomes a C string in libindiv, so a database can be created
# without the source tree.
$(O)/gen/schema_sql.c: datasets/schema.sql
	@mkdir -p $(@D)
	@{ echo '/* Generated from datasets/schema.sql by the Makefile. Do not edit. */'; \
	  echo 'extern const char indiv_schema_sql[];'; \
	  echo 'const char indiv_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

$(O)/gen/%.o: $(O)/gen/%.c
	$(CC) $(ALL_CFLAGS) -Wno-overlength-strings -c $< -o $@

$(O)/libindiv.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(O)/indiv: $(CLI_OBJ) $(O)/libindiv.a
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

$(O)/indiv-mpi: $(MPI_OBJ) $(CLI_LIB_OBJ) $(O)/libindiv.a
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) $(MPI_LIBS) -o $@

$(O)/tests/run-tests: $(TEST_OBJ) $(O)/libindiv.a
	$(CC) $(ALL_LDFLAGS) $^ $(CRIT_LIBS) $(LIBS) -o $@

$(O)/bench/%: tests/bench/%.c $(O)/libindiv.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

tests-bin: $(O)/indiv $(if $(HAVE_MPI),$(O)/indiv-mpi) $(O)/tests/run-tests

# ---- fuzzing (docs/fuzzing.md) --------------------------------------------------------
# Each target is run for FUZZ_SECONDS from its seeds (tests/fuzz/seeds/<target>/, from
# the shipped samples) and its growing corpus in build/fuzz/corpus/<target>/; a crash
# stops the run and leaves crash-* in build/fuzz/. FUZZ_SECONDS=3600 for a longer hunt.
# make check runs fuzz-check: every target FUZZ_CHECK_SECONDS (5 × 60 s by default, two
# at a time: docs/fuzzing.md) from the seeds alone, in a corpus emptied first, with a
# fixed seed.
$(BUILD)/fuzz/bin/%: tests/fuzz/%.c tests/fuzz/fuzz_util.h $(BUILD)/fuzz/libindiv.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $< $(BUILD)/fuzz/libindiv.a $(LIBS) -o $@

# The --config target runs the command's own reader: it links the CLI files it needs.
FUZZ_CLI_OBJ := $(addprefix $(BUILD)/fuzz/src/cli/,decide.o cli.o policy_opts.o)
$(BUILD)/fuzz/bin/fuzz_config: tests/fuzz/fuzz_config.c tests/fuzz/fuzz_util.h \
                               $(FUZZ_CLI_OBJ) $(BUILD)/fuzz/libindiv.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_CLI_OBJ) $(BUILD)/fuzz/libindiv.a \
	  $(LIBS) -o $@

fuzz-bin: $(FUZZ_BIN)

fuzz: | deps
	@$(MAKE) --no-print-directory VARIANT=fuzz fuzz-bin
	@cd $(BUILD)/fuzz && for t in $(notdir $(FUZZ_BIN)); do \
	  mkdir -p corpus/$$t tmp; echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  INDIV_FUZZ_TMP=$$PWD/tmp ASAN_OPTIONS=detect_leaks=1 \
	    ./bin/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=20 \
	    -print_final_stats=1 corpus/$$t $(CURDIR)/tests/fuzz/seeds/$$t > $$t.log 2>&1 \
	    || { tail -n 40 $$t.log; echo "fuzz: $$t failed (build/fuzz/$$t.log)" >&2; exit 1; }; \
	  grep -E '^(#[0-9]+.*DONE|Done|stat::number_of_executed_units)' $$t.log | tail -n 2; done

# fuzz-check runs the targets FUZZ_CHECK_JOBS at a time (make -j, one sub-make target
# per fuzz target), each for FUZZ_CHECK_SECONDS: 5 targets × 60 s two at a time is about
# 3 minutes of wall time on 2 cores. Each target's output goes to check/<target>.log;
# stderr of the targets is closed (-close_fd_mask=2: the --config target prints usage
# errors); libFuzzer still reports a crash, leak, sanitizer error or timeout, writes the
# input that caused it to check/<target>-crash-* (or -leak-*, -timeout-*, -oom-*), and
# the step fails naming the target, the file and the log.
FUZZ_CHECK_JOBS ?= 2
FUZZ_CHECK_RUNS := $(addprefix fuzz-check-run-,$(notdir $(FUZZ_BIN)))
.PHONY: fuzz-check-runs $(FUZZ_CHECK_RUNS)

fuzz-check:
	@$(MAKE) --no-print-directory VARIANT=fuzz fuzz-bin
	@$(MAKE) --no-print-directory -j$(FUZZ_CHECK_JOBS) --output-sync=target fuzz-check-runs

fuzz-check-runs: $(FUZZ_CHECK_RUNS)

$(FUZZ_CHECK_RUNS): fuzz-check-run-%:
	@cd $(BUILD)/fuzz && t=$*; rm -rf check/$$t check/$$t-crash-* check/$$t-leak-* \
	  check/$$t-timeout-* check/$$t-oom-*; mkdir -p check/$$t tmp/$$t; \
	INDIV_FUZZ_TMP=$$PWD/tmp/$$t ASAN_OPTIONS=detect_leaks=1 \
	  ./bin/$$t -max_total_time=$(FUZZ_CHECK_SECONDS) -seed=1 -max_len=4096 \
	  -timeout=20 -close_fd_mask=2 -print_final_stats=1 -artifact_prefix=check/$$t- \
	  check/$$t $(CURDIR)/tests/fuzz/seeds/$$t > check/$$t.log 2>&1 \
	  || { tail -n 40 check/$$t.log; \
	       files=$$(ls check/$$t-crash-* check/$$t-leak-* check/$$t-timeout-* \
	         check/$$t-oom-* 2>/dev/null | sed 's|^|build/fuzz/|' | tr '\n' ' '); \
	       echo "check: fuzz target $$t failed: input $${files:-(none written)}" \
	         "(replay: build/fuzz/bin/$$t FILE); log build/fuzz/check/$$t.log" >&2; \
	       exit 1; }; \
	echo "fuzz-check: $$t $$(grep -E '^stat::number_of_executed_units' check/$$t.log \
	  | awk '{print $$2}') inputs in $(FUZZ_CHECK_SECONDS) s, no crash"

# Missing packages are installed with apt-get when root, otherwise the exact command is
# printed and the build stops. One dpkg-query call: about 20 ms when all is present.
deps:
	@command -v dpkg-query >/dev/null 2>&1 || { \
	  pkg-config --exists $(PKGS) criterion || { \
	    echo "deps: not a Debian system; install: $(DEBS)" >&2; exit 1; }; exit 0; }; \
	have=$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(DEBS) $(DEBS_OPT) \
	  2>/dev/null | awk '$$1 == "ii" { print $$2 }' | sort); \
	missing=$$(for p in $(DEBS); do echo "$$have" | grep -qx "$$p" || printf ' %s' $$p; done); \
	optional=$$(for p in $(DEBS_OPT); do echo "$$have" | grep -qx "$$p" || printf ' %s' $$p; done); \
	[ -z "$$missing$$optional" ] && exit 0; \
	if [ "$$(id -u)" != 0 ] && [ -z "$$missing" ]; then \
	  echo "deps: optional, missing:$$optional (indiv-mpi is not built; to build it:" \
	    "sudo apt-get install -y$$optional)" >&2; exit 0; fi; \
	missing="$$missing$$optional"; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends$$missing; \
	else \
	  echo "deps: missing Debian packages:$$missing" >&2; \
	  echo "deps: run: sudo apt-get install -y$$missing" >&2; exit 1; \
	fi

# Tests run under ASan+UBSan. Criterion 2.4.1 exits 0 even when LeakSanitizer reports a
# leak inside a test, so the log is scanned for any sanitizer report as well.
check: | deps
	@$(MAKE) --no-print-directory VARIANT=asan tests-bin
	@ldd $(BUILD)/asan/indiv | grep -q libopenblas \
	  || { echo "check: indiv is not linked against OpenBLAS" >&2; exit 1; }
	@log=$(BUILD)/asan/tests.log; \
	$(if $(HAVE_MPI),,echo "check: MPI not found (no mpicc, no ompi-c): the indiv-mpi tests \
	  are skipped; make deps installs Open MPI" >&2;) \
	INDIV_BIN=$(BUILD)/asan/indiv $(if $(HAVE_MPI),INDIV_MPI_BIN=$(BUILD)/asan/indiv-mpi) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1 \
	  $(BUILD)/asan/tests/run-tests --jobs 2 --short-filename >$$log 2>&1; st=$$?; \
	cat $$log; \
	if grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' $$log; then \
	  echo "check: sanitizer report in $$log" >&2; exit 1; fi; \
	[ $$st = 0 ] || exit $$st
	@$(MAKE) --no-print-directory fuzz-check

DEMO_DB ?= $(BUILD)/demo/world.db
demo: all
	@mkdir -p $(dir $(DEMO_DB))
	$(BUILD)/release/indiv demo --db $(DEMO_DB) --out $(dir $(DEMO_DB))decisions.jsonl

bench: all
	@$(MAKE) --no-print-directory VARIANT=release $(BENCH_BIN)
	@INDIV_BIN=$(BUILD)/release/indiv BENCH_DIR=$(BUILD)/release/bench SCALE=$(SCALE) \
	  sh tests/bench/run.sh $(BENCH)

format:
	clang-format -i include/indiv/*.h src/*.c src/*.h src/cli/*.c src/cli/*.h \
	  tests/*.c tests/*.h tests/bench/*.c src/mpi/*.c src/mpi/*.h

clean:
	rm -rf $(BUILD) bench-results.json

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/indiv
	install -m 755 $(BUILD)/release/indiv $(DESTDIR)$(PREFIX)/bin/
	$(if $(HAVE_MPI),install -m 755 $(BUILD)/release/indiv-mpi $(DESTDIR)$(PREFIX)/bin/)
	install -m 644 $(BUILD)/release/libindiv.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/indiv/*.h $(DESTDIR)$(PREFIX)/include/indiv/
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: indiv' 'Description: individuation engine with programmed serendipity' \
	  'Version: 0.1.0' 'Requires.private: sqlite3 jansson zlib openblas libmicrohttpd' \
	  'Libs: -L$${libdir} -lindiv' \
	  'Libs.private: -lgsl -lpthread -lm' 'Cflags: -I$${includedir}' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/indiv.pc

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(MPI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
