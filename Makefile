# evchat — build, run, test. GNU make; `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CXX     ?= g++
CXXFLAGS ?= -O2 -g
LDFLAGS  ?=
CONFIG  ?= conf/evchat.toml

# Flags evchat needs whatever the user passes in CXXFLAGS.
EV_CXXFLAGS := -std=c++20 -Wall -Wextra -Werror -MMD -MP
EV_LDLIBS   := -lev -lhiredis -lwslay -lssl -lcrypto -luring

# Everything but main is one internal library that the server, the load generator, the
# unit tests and the fuzzers link: each takes only the objects it uses.
LIB_SRCS    := $(filter-out src/main.cpp,$(wildcard src/*.cpp))
LIB_OBJS    := $(LIB_SRCS:src/%.cpp=$(BUILD)/obj/%.o)
LIB         := $(BUILD)/libevchat.a
LUA_SRCS    := $(wildcard src/lua/*.lua)
CAT_SRCS    := $(wildcard src/cat/*.cpp)
CAT_OBJS    := $(CAT_SRCS:src/cat/%.cpp=$(BUILD)/obj/cat/%.o)
BENCH_SRCS  := $(wildcard src/bench/*.cpp)
BENCH_OBJS  := $(BENCH_SRCS:src/bench/%.cpp=$(BUILD)/obj/bench/%.o)
UNIT_SRCS   := $(wildcard tests/unit/*.cpp)
UNIT_OBJS   := $(UNIT_SRCS:tests/unit/%.cpp=$(BUILD)/obj/unit/%.o)
INTEG_SRCS  := $(wildcard tests/integration/*.cpp)
INTEG_OBJS  := $(INTEG_SRCS:tests/integration/%.cpp=$(BUILD)/obj/integration/%.o)

PROGRAMS := $(BUILD)/evchat $(BUILD)/evchat-cat $(BUILD)/evchat-bench

.PHONY: all lib run test unit integration integration-proxy system bench-smoke browser static container-test asan soak fuzz fuzz-lib deps test-deps install clean help
all: $(PROGRAMS)

$(BUILD)/obj/%.o: src/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EV_CXXFLAGS) $(CXXFLAGS) -Isrc -I$(BUILD)/gen -c -o $@ $<

# conf/evchat.toml is built into the binary as a raw string for --print-default-config.
$(BUILD)/gen/default_config.inc: conf/evchat.toml
	@mkdir -p $(@D)
	{ printf 'R"evchat_toml('; cat $<; printf ')evchat_toml"\n'; } > $@
$(BUILD)/obj/config.o: $(BUILD)/gen/default_config.inc
# The cluster's Lua scripts likewise, one raw string each (full-line comments left out:
# the scripts travel with every EVAL).
$(BUILD)/gen/lua_scripts.inc: $(LUA_SRCS)
	@mkdir -p $(@D)
	for f in $(LUA_SRCS); do \
	  printf 'const char %s_lua[] = R"evchat_lua(' "$$(basename $$f .lua)"; \
	  grep -v '^ *--' $$f; printf ')evchat_lua";\n'; \
	done > $@
$(BUILD)/obj/lua_scripts.o: $(BUILD)/gen/lua_scripts.inc
# The chat page likewise (src/page/chat.html), served at "/" of each [websocket] address.
$(BUILD)/gen/chat_page.inc: src/page/chat.html
	@mkdir -p $(@D)
	{ printf 'R"evchat_html('; cat $<; printf ')evchat_html"\n'; } > $@
$(BUILD)/obj/web.o: $(BUILD)/gen/chat_page.inc
$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^
$(BUILD)/obj/unit/%.o: tests/unit/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EV_CXXFLAGS) $(CXXFLAGS) -Isrc -I$(BUILD)/gen -I/usr/include/lua5.1 -c -o $@ $<
$(BUILD)/obj/unit/lua_test.o: $(BUILD)/gen/lua_scripts.inc
$(BUILD)/obj/integration/%.o: tests/integration/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(EV_CXXFLAGS) $(CXXFLAGS) -Isrc -Itests/integration -c -o $@ $<

$(BUILD)/evchat: $(BUILD)/obj/main.o $(LIB)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(EV_LDLIBS)
# Fully static (glibc, libstdc++, libev.a, libhiredis.a, libcrypto.a; toml++ is
# header-only) and stripped: it runs in an empty root filesystem, since it never calls the
# name service. Debian ships wslay only as a shared library: with no libwslay.a (give one
# as WSLAY_A=path) the static build has no WebSocket, and its config refuses [websocket].
WSLAY_A ?= $(wildcard /usr/lib/x86_64-linux-gnu/libwslay.a)
ifeq ($(WSLAY_A),)
STATIC_OBJS := $(filter-out $(BUILD)/obj/websocket.o,$(LIB_OBJS)) $(BUILD)/obj/static/websocket_absent.o
STATIC_LIBS := -lev -lhiredis -lssl -lcrypto -luring
else
STATIC_OBJS := $(LIB_OBJS)
STATIC_LIBS := -lev -lhiredis $(WSLAY_A) -lssl -lcrypto -luring
endif
$(BUILD)/evchat-static: $(BUILD)/obj/main.o $(STATIC_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -static -s -o $@ $^ $(STATIC_LIBS) -lm
static: $(BUILD)/evchat-static

$(BUILD)/evchat-cat: $(CAT_OBJS) $(LIB)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lssl -lcrypto

$(BUILD)/evchat-bench: $(BENCH_OBJS) $(LIB)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lev -lwslay -lssl -lcrypto
$(BUILD)/unit-tests: $(UNIT_OBJS) $(LIB)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ $(EV_LDLIBS) -llua5.1
$(BUILD)/integration-tests: $(INTEG_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $^ -lssl -lcrypto

# The Go program of the book, built from ../shared/reference, for side-by-side tests;
# built once, in build/, for every BUILD (the sanitizer build uses it too).
GOCHAT ?= build/gochat
REFERENCE ?= ../shared/reference
$(GOCHAT): $(wildcard $(REFERENCE)/chat.go)
	@mkdir -p $(@D)
	@if [ -f $(REFERENCE)/chat.go ] && command -v go >/dev/null; then \
	  GOCACHE=$(abspath $(@D))/gocache GO111MODULE=off go build -o $@ $(REFERENCE)/chat.go; \
	else echo "note: Go reference not built (needs go and $(REFERENCE)/chat.go)"; fi
# The Go WebSocket hub (gorilla/websocket's broadcast-hub pattern, the seed's protocol)
# that scripts/bench compares evchat's WebSocket with; built offline against Debian's
# golang-github-gorilla-websocket-dev, once, in build/.
GOHUB ?= build/gohub
GORILLA_GOPATH ?= /usr/share/gocode
$(GOHUB): scripts/peers/gohub/main.go
	@mkdir -p $(@D)
	@if command -v go >/dev/null && [ -d $(GORILLA_GOPATH)/src/github.com/gorilla/websocket ]; then \
	  GOCACHE=$(abspath $(@D))/gocache GOPATH=$(GORILLA_GOPATH) GO111MODULE=off GOFLAGS= go build -o $@ $<; \
	else echo "note: Go hub not built (needs go and golang-github-gorilla-websocket-dev)"; fi

run: deps $(BUILD)/evchat
	$(BUILD)/evchat --config $(CONFIG)

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests
integration: $(BUILD)/integration-tests $(BUILD)/evchat $(BUILD)/evchat-cat $(GOCHAT)
	EVCHAT_BIN=$(abspath $(BUILD))/evchat EVCHAT_CAT=$(abspath $(BUILD))/evchat-cat \
	GOCHAT_BIN=$(abspath $(GOCHAT)) $(BUILD)/integration-tests $(ITEST_ARGS)
# The seed's protocol and the room's rules again, through HAProxy with send-proxy and
# send-proxy-v2 in front of evchat (tests/integration/harness.cpp, EVCHAT_FRONT).
integration-proxy: $(BUILD)/integration-tests $(BUILD)/evchat $(BUILD)/evchat-cat
	for f in haproxy-v1 haproxy-v2; do \
	  EVCHAT_FRONT=$$f EVCHAT_BIN=$(abspath $(BUILD))/evchat EVCHAT_CAT=$(abspath $(BUILD))/evchat-cat \
	  $(BUILD)/integration-tests -sf='*protocol_test*,*room_test*' || exit 1; done
system: $(BUILD)/evchat-static
	@for t in tests/system/*_test.sh; do $$t $(BUILD)/evchat-static || exit 1; done
# A few hundred lines of every scenario of the load generator, checked, so it cannot rot.
bench-smoke: $(PROGRAMS)
	BUILD=$(BUILD) scripts/bench --smoke
# The chat page in headless Chromium (Selenium) against the real binary.
browser: $(BUILD)/evchat
	tests/browser/chat_page_test.py $(BUILD)/evchat
test: test-deps
	@$(MAKE) --no-print-directory unit integration integration-proxy system bench-smoke browser

# The FROM-scratch image, built offline around the static binary, run and health-checked
# under podman (with runc), also where seccomp refuses io_uring. Its packages first, as
# test-deps does for test (installed as root, else the apt-get line is printed).
container-test:
	@scripts/deps container
	@$(MAKE) --no-print-directory $(BUILD)/evchat-static
	tests/container/podman_test.sh

# Tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
# UBSan's vptr check is left out: it reads a vtable only after probing its memory through a
# pipe, so in a process out of descriptors (the fd-exhaustion test) it reports correct
# virtual calls as invalid; a call on a destroyed object is still ASan's use-after-free.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -fno-sanitize-recover=all
# The whole suite on the flush pass's writev path (EVCHAT_IO_URING=off; make test takes
# io_uring where the kernel allows it, so both paths run it all), then the suites that
# write through the ring in every way (plain, TLS, WebSocket, short sends) on io_uring.
ASAN_ON_RING := *io_uring_test*,*tls_test*,*websocket_test*,*protocol_test*,*limits_test*
asan: test-deps
	@EVCHAT_IO_URING=off $(MAKE) --no-print-directory BUILD=build/asan CXXFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" unit integration
	@EVCHAT_IO_URING=auto $(MAKE) --no-print-directory BUILD=build/asan CXXFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
	  ITEST_ARGS='-sf=$(ASAN_ON_RING)' integration

# The soak test: the server built with these flags under SOAK_SECONDS of mixed load
# from 5,000 clients (scripts/soak --help; it builds what it needs), once on each flush
# path.
SOAK_SECONDS ?= 600
soak:
	@for path in auto off; do \
	  EVCHAT_IO_URING=$$path scripts/soak --duration $(SOAK_SECONDS) --out build/soak-$$path || exit 1; done

# libFuzzer targets (clang): each runs FUZZ_SECONDS on the seed corpus in tests/fuzz/corpus/
# plus what it finds, kept in $(BUILD)/fuzz/corpus-*. A crash leaves its input in
# $(BUILD)/fuzz/ and fails the target; add that input to the seed corpus as a regression.
# The library is built again by clang with the fuzzer's instrumentation, in $(FUZZ_BUILD).
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_TARGETS := $(patsubst tests/fuzz/%_fuzz.cpp,%,$(wildcard tests/fuzz/*_fuzz.cpp))
lib: $(LIB)
fuzz-lib:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD)/lib CXX=$(FUZZ_CXX) CXXFLAGS="$(FUZZ_CFLAGS)" lib
$(FUZZ_BUILD)/%_fuzz: tests/fuzz/%_fuzz.cpp fuzz-lib
	$(FUZZ_CXX) -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< $(FUZZ_BUILD)/lib/libevchat.a -lwslay -lssl -lcrypto -luring
fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%_fuzz)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  (cd $(FUZZ_BUILD) && ./$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      corpus-$$t $(CURDIR)/tests/fuzz/corpus/$$t >$$t.log 2>&1); rc=$$?; \
	  grep -E '^(stat::(number_of_executed|new_units|average_exec)|#[0-9]+.*(DONE|cov:)|==.*ERROR|SUMMARY)' \
	      $(FUZZ_BUILD)/$$t.log | tail -6; \
	  if [ $$rc -ne 0 ]; then echo "FAIL: fuzz $$t (see $(FUZZ_BUILD)/$$t.log)"; exit 1; fi; \
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
	@echo "make test      everything below from unit to browser (installs test packages as root)"
	@echo "make unit      the doctest unit tests"
	@echo "make integration  the real binary over real sockets (and the Go reference, Redis)"
	@echo "make system    build/evchat-static as PID 1 in an empty root filesystem"
	@echo "make bench-smoke  a short checked run of every load-generator scenario"
	@echo "make browser   the chat page in headless Chromium against build/evchat"
	@echo "make asan      unit and integration tests under ASan + UBSan"
	@echo "make fuzz      the libFuzzer targets ($(FUZZ_TARGETS)), FUZZ_SECONDS=$(FUZZ_SECONDS) each (clang)"
	@echo "make soak      mixed load on the ASan server, SOAK_SECONDS=$(SOAK_SECONDS)"
	@echo "make static    build/evchat-static, for containers"
	@echo "make container-test  build and check the FROM-scratch image (needs podman)"
	@echo "make deps      install the packages make run needs (as root)"
	@echo "make install   PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"
	@echo "make clean"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
