# evchat — build, run, test. GNU make; `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CXX     ?= g++
CXXFLAGS ?= -O2 -g
LDFLAGS  ?=
CONFIG  ?= conf/evchat.toml

# Flags evchat needs whatever the user passes in CXXFLAGS.
EV_CXXFLAGS := -std=c++17 -Wall -Wextra -Werror -MMD -MP
EV_LDLIBS   := -lev -lhiredis

SERVER_SRCS := $(filter-out src/main.cpp,$(wildcard src/*.cpp))
SERVER_OBJS := $(SERVER_SRCS:src/%.cpp=$(BUILD)/obj/%.o)
CAT_SRCS    := $(wildcard src/cat/*.cpp)
CAT_OBJS    := $(CAT_SRCS:src/cat/%.cpp=$(BUILD)/obj/cat/%.o)
BENCH_SRCS  := $(wildcard src/bench/*.cpp)
BENCH_OBJS  := $(BENCH_SRCS:src/bench/%.cpp=$(BUILD)/obj/bench/%.o)
UNIT_SRCS   := $(wildcard tests/unit/*.cpp)
UNIT_OBJS   := $(UNIT_SRCS:tests/unit/%.cpp=$(BUILD)/obj/unit/%.o)
INTEG_SRCS  := $(wildcard tests/integration/*.cpp)
INTEG_OBJS  := $(INTEG_SRCS:tests/integration/%.cpp=$(BUILD)/obj/integration/%.o)

PROGRAMS := $(BUILD)/evchat $(BUILD)/evchat-cat $(BUILD)/evchat-bench

.PHONY: all run test unit integration system bench-smoke static container-test asan soak fuzz deps test-deps install clean help
all: $(PROGRAMS)

$(BUILD)/obj/%.o: src/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EV_CXXFLAGS) $(CXXFLAGS) -Isrc -I$(BUILD)/gen -c -o $@ $<

# conf/evchat.toml is built into the binary as a raw string for --print-default-config.
$(BUILD)/gen/default_config.inc: conf/evchat.toml
	@mkdir -p $(@D)
	{ printf 'R"evchat_toml('; cat $<; printf ')evchat_toml"\n'; } > $@
$(BUILD)/obj/config.o: $(BUILD)/gen/default_config.inc
$(BUILD)/obj/unit/%.o: tests/unit/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EV_CXXFLAGS) $(CXXFLAGS) -Isrc -c -o $@ $<
$(BUILD)/obj/integration/%.o: tests/integration/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EV_CXXFLAGS) $(CXXFLAGS) -Isrc -Itests/integration -c -o $@ $<

$(BUILD)/evchat: $(BUILD)/obj/main.o $(SERVER_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(EV_LDLIBS)
# Fully static (glibc, libstdc++, libev.a, libhiredis.a; toml++ is header-only) and
# stripped: it runs in an empty root filesystem, since it never calls the name service.
$(BUILD)/evchat-static: $(BUILD)/obj/main.o $(SERVER_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -static -s -o $@ $^ $(EV_LDLIBS) -lm
static: $(BUILD)/evchat-static

$(BUILD)/evchat-cat: $(CAT_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^

$(BUILD)/evchat-bench: $(BENCH_OBJS) $(SERVER_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(EV_LDLIBS)
$(BUILD)/unit-tests: $(UNIT_OBJS) $(SERVER_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(EV_LDLIBS)
$(BUILD)/integration-tests: $(INTEG_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^

# The Go program of the book, built from ../shared/reference, for side-by-side tests;
# built once, in build/, for every BUILD (the sanitizer build uses it too).
GOCHAT ?= build/gochat
REFERENCE ?= ../shared/reference
$(GOCHAT): $(wildcard $(REFERENCE)/chat.go)
	@mkdir -p $(@D)
	@if [ -f $(REFERENCE)/chat.go ] && command -v go >/dev/null; then \
	  GOCACHE=$(abspath $(@D))/gocache GO111MODULE=off go build -o $@ $(REFERENCE)/chat.go; \
	else echo "note: Go reference not built (needs go and $(REFERENCE)/chat.go)"; fi

run: deps $(BUILD)/evchat
	$(BUILD)/evchat --config $(CONFIG)

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests
integration: $(BUILD)/integration-tests $(BUILD)/evchat $(BUILD)/evchat-cat $(GOCHAT)
	EVCHAT_BIN=$(abspath $(BUILD))/evchat EVCHAT_CAT=$(abspath $(BUILD))/evchat-cat \
	GOCHAT_BIN=$(abspath $(GOCHAT)) $(BUILD)/integration-tests
system: $(BUILD)/evchat-static
	@for t in tests/system/*_test.sh; do $$t $(BUILD)/evchat-static || exit 1; done
# A few hundred lines of every scenario of the load generator, checked, so it cannot rot.
bench-smoke: $(PROGRAMS)
	BUILD=$(BUILD) scripts/bench --smoke
test: test-deps
	@$(MAKE) --no-print-directory unit integration system bench-smoke

# The FROM-scratch image, built offline around the static binary, run and health-checked.
container-test: $(BUILD)/evchat-static
	tests/container/podman_test.sh

# Tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: test-deps
	@$(MAKE) --no-print-directory BUILD=build/asan CXXFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" unit integration

# The soak test: the server built with these flags under SOAK_SECONDS of mixed load
# from 5,000 clients (scripts/soak --help; it builds what it needs).
SOAK_SECONDS ?= 600
soak:
	scripts/soak --duration $(SOAK_SECONDS)

# libFuzzer targets (clang): each runs FUZZ_SECONDS on the seed corpus in tests/fuzz/corpus/
# plus what it finds, kept in $(BUILD)/fuzz/corpus-*. A crash leaves its input in
# $(BUILD)/fuzz/ and fails the target; add that input to the seed corpus as a regression.
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_FLAGS := -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -I$(BUILD)/gen
FUZZ_TARGETS := framer config
$(BUILD)/fuzz/framer_fuzz: tests/fuzz/framer_fuzz.cpp src/framer.h
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $<
$(BUILD)/fuzz/config_fuzz: tests/fuzz/config_fuzz.cpp src/config.cpp src/address.cpp src/log.cpp $(BUILD)/gen/default_config.inc
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -o $@ $(filter %.cpp,$^)
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%_fuzz)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  (cd $(BUILD)/fuzz && ./$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      corpus-$$t $(CURDIR)/tests/fuzz/corpus/$$t >$$t.log 2>&1); rc=$$?; \
	  grep -E '^(stat::(number_of_executed|new_units|average_exec)|#[0-9]+.*(DONE|cov:)|==.*ERROR|SUMMARY)' \
	      $(BUILD)/fuzz/$$t.log | tail -6; \
	  if [ $$rc -ne 0 ]; then echo "FAIL: fuzz $$t (see $(BUILD)/fuzz/$$t.log)"; exit 1; fi; \
	  echo "PASS: fuzz $$t"; \
	done

deps:
	@scripts/deps run
test-deps:
	@scripts/deps test

SYSCONFDIR ?= $(PREFIX)/etc
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
install: $(BUILD)/evchat
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/evchat \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(PREFIX)/share/doc/evchat
	install -m 755 $(BUILD)/evchat $(DESTDIR)$(PREFIX)/bin/evchat
	install -m 644 conf/evchat.toml $(DESTDIR)$(SYSCONFDIR)/evchat/evchat.toml
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/evchat/README.md
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' scripts/evchat.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/evchat.service

clean:
	rm -rf $(BUILD) build

help:
	@echo "make [all]     build $(BUILD)/evchat (and the load generator)"
	@echo "make run       run evchat on $(CONFIG)"
	@echo "make test      everything below from unit to bench-smoke (installs test packages as root)"
	@echo "make unit      the doctest unit tests"
	@echo "make integration  the real binary over real sockets (and the Go reference, Redis)"
	@echo "make system    build/evchat-static as PID 1 in an empty root filesystem"
	@echo "make bench-smoke  a short checked run of every load-generator scenario"
	@echo "make asan      unit and integration tests under ASan + UBSan"
	@echo "make fuzz      the libFuzzer targets, FUZZ_SECONDS=$(FUZZ_SECONDS) each (clang)"
	@echo "make soak      mixed load on the ASan server, SOAK_SECONDS=$(SOAK_SECONDS)"
	@echo "make static    build/evchat-static, for containers"
	@echo "make container-test  build and check the FROM-scratch image (needs podman)"
	@echo "make deps      install the packages make run needs (as root)"
	@echo "make install   PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"
	@echo "make clean"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
