# ron-kernel: build, test, run, bench.  GNU make; pkg-config finds the deps.
PKGS     := libbsd json-c msgpack inih
TESTPKGS := criterion yaml-0.1
CC       ?= cc

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS :=
endif

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN     += -Werror
endif
# Deferred so that `make test` can install the dependencies before they are read.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
# ron-kernel and ron-monitor link the small libraries statically (libc stays
# shared): each shared library costs every process its own relocated pages, and a
# monitor runs per service.  ron-monitor calls setproctitle_init() itself.
STATIC_LIBS = -Wl,-Bstatic -lbsd -lmd -ljson-c -lmsgpackc \
	      -linih -Wl,-Bdynamic -lm
TEST_CFLAGS = $(shell pkg-config --cflags $(TESTPKGS))
TEST_LIBS   = $(shell pkg-config --libs $(TESTPKGS))

CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CPPFLAGS) $(CFLAGS) $(WARN) $(SANFLAGS) -Icommon $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

COMMON_SRC  := $(wildcard common/*.c)
MONITOR_SRC := $(filter-out monitor/main.c,$(wildcard monitor/*.c))
KERNEL_SRC  := $(filter-out kernel/main.c,$(wildcard kernel/*.c))
TEST_SRC    := $(wildcard tests/*.c)

COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
MONITOR_OBJ := $(MONITOR_SRC:%.c=$(BUILD)/obj/%.o)
KERNEL_OBJ  := $(KERNEL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ    := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

SIM_NAMES   := svc-index svc-overlay svc-storage
# A binary is built once its main file exists.
BINS := $(if $(wildcard kernel/main.c),$(BUILD)/ron-kernel) \
	$(if $(wildcard monitor/main.c),$(BUILD)/ron-monitor) \
	$(if $(wildcard httpd/main.c),$(BUILD)/ron-httpd) \
	$(if $(wildcard tests/svc-sim/svc-sim.c),$(BUILD)/sim/svc-sim $(SIM_NAMES:%=$(BUILD)/sim/%))

.PHONY: all deps test run clean format bench
all: $(BINS)

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests -Imonitor -Ikernel -DRON_BUILD_DIR='"$(abspath $(BUILD))"' -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/ron-monitor: $(BUILD)/obj/monitor/main.o $(MONITOR_OBJ) $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(STATIC_LIBS)

# libmicrohttpd is linked into ron-httpd only: the kernel never touches the network.
HTTPD_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard httpd/*.c))
$(BUILD)/obj/httpd/%.o: httpd/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -I$(BUILD)/gen $(shell pkg-config --cflags libmicrohttpd) -c -o $@ $<

# The status page's script and style as C strings, compiled into ron-httpd.
$(BUILD)/gen/page_assets.h: httpd/page.js httpd/page.css
	@mkdir -p $(@D)
	{ for f in js css; do \
		printf 'static const char page_%s[] =\n' $$f; \
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' httpd/page.$$f; \
		printf ';\n'; \
	done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/httpd/assets.o: $(BUILD)/gen/page_assets.h

$(BUILD)/ron-httpd: $(HTTPD_OBJ) $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libmicrohttpd)

$(BUILD)/ron-kernel: $(BUILD)/obj/kernel/main.o $(KERNEL_OBJ) $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(STATIC_LIBS)

$(BUILD)/sim/svc-sim: $(BUILD)/obj/tests/svc-sim/svc-sim.o $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The simulated service takes its role from argv[0]: one link per real name.
$(SIM_NAMES:%=$(BUILD)/sim/%): $(BUILD)/sim/svc-sim
	ln -sf svc-sim $@

$(BUILD)/tests/run-tests: $(TEST_OBJ) $(MONITOR_OBJ) $(KERNEL_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

# The fault injector the tests preload (tests/faults/faultshim.c); never sanitized:
# it sits in front of whatever malloc the binary uses.
$(BUILD)/faults/faultshim.so: tests/faults/faultshim.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) -fPIC -shared -o $@ $< -ldl

test: deps
	@$(MAKE) --no-print-directory $(BINS) $(BUILD)/faults/faultshim.so $(BUILD)/tests/run-tests
	$(BUILD)/tests/run-tests $(TESTFLAGS)

run: deps
	@$(MAKE) -s --no-print-directory $(BINS)
	@scripts/run-demo $(BUILD) $(CONFIG)

format:
	clang-format -i $(wildcard common/*.[ch] kernel/*.[ch] monitor/*.[ch] httpd/*.[ch] tests/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- hardening: fuzz, memcheck, chaos ---
# Fuzz targets are built with clang and libFuzzer into $(BUILD)/fuzz/, the code
# under test compiled again there with the same sanitizers.  `make fuzz`,
# `make memcheck` and `make chaos` install their tools with
# `scripts/install-deps --hardening`; see docs/hardening.md.
FUZZ_SECONDS  ?= 60
# The libFuzzer -seed of every target; FUZZ_RUNS=N stops each after N executions.
FUZZ_SEED     ?= 1
FUZZ_RUNS     ?=
CHAOS_SECONDS ?= 30
FUZZ_CC       ?= clang
FUZZ_TARGETS  := reply reports config handover ctlreq svcout feed httpaddr cgroup
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS    = -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -Icommon -Ikernel -Imonitor -Itests/fuzz $(PKG_CFLAGS) -MMD -MP
FUZZ_LIB_SRC  := $(COMMON_SRC) kernel/lines.c kernel/table.c kernel/format.c kernel/ctlreq.c kernel/svcline.c monitor/machine.c monitor/policy.c
FUZZ_LIB_OBJ  := $(FUZZ_LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_MAIN_OBJ := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o)
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz-%)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

$(FUZZ_BINS): $(BUILD)/fuzz/fuzz-%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/ron-chaos: $(BUILD)/obj/tests/chaos/chaos.o $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# valgrind 3.19 cannot make pidfd calls: a preloaded shim has a native proxy make them.
$(BUILD)/memcheck/pidfd-proxy: tests/memcheck/pidfd-proxy.c tests/memcheck/pidfd-proxy.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) -o $@ $<

$(BUILD)/memcheck/pidfd-shim.so: tests/memcheck/pidfd-shim.c tests/memcheck/pidfd-proxy.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) -fPIC -shared -o $@ $<

deps-hardening:
	@scripts/install-deps --hardening

fuzz: deps-hardening
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNS=$(FUZZ_RUNS) \
		tests/fuzz/run $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

memcheck: deps-hardening
	@if [ "$(SANITIZE)" = 1 ]; then echo "memcheck: valgrind needs a build without SANITIZE=1" >&2; exit 2; fi
	@$(MAKE) --no-print-directory $(BINS) $(BUILD)/memcheck/pidfd-proxy $(BUILD)/memcheck/pidfd-shim.so
	scripts/memcheck $(BUILD)

chaos: deps-hardening
	@$(MAKE) --no-print-directory $(BINS) $(BUILD)/tests/ron-chaos
	scripts/chaos $(BUILD) --seconds $(CHAOS_SECONDS)

.SECONDARY: $(FUZZ_MAIN_OBJ)
.PHONY: deps-hardening fuzz memcheck chaos

-include $(shell find $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)

# --- install, man pages ---
# ron-kernel finds ron-monitor next to its own binary, so both go to BINDIR.  The
# systemd unit is installed under share/, not enabled, with its paths rewritten for
# BINDIR.  The simulated services are installed only by `make install-sim`.
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/share/ron-kernel
INSTALL  ?= install
MANPAGES := docs/ron-kernel.8 docs/ron-monitor.8 docs/ron-httpd.8

install: $(BUILD)/ron-kernel $(BUILD)/ron-monitor $(BUILD)/ron-httpd
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(BUILD)/ron-kernel $(BUILD)/ron-monitor $(BUILD)/ron-httpd \
		$(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|/usr/bin/ron-kernel|$(BINDIR)/ron-kernel|g' scripts/ron-kernel.service \
	    >$(DESTDIR)$(UNITDIR)/ron-kernel.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ron-kernel.service

# A service name that is already taken by something other than svc-sim is left alone.
install-sim: $(BUILD)/sim/svc-sim
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(BUILD)/sim/svc-sim $(DESTDIR)$(BINDIR)/
	@for n in $(SIM_NAMES); do \
		f="$(DESTDIR)$(BINDIR)/$$n"; \
		if { [ -e "$$f" ] || [ -L "$$f" ]; } && [ "$$(readlink "$$f")" != svc-sim ]; then \
			echo "install-sim: $$f exists and is not svc-sim; not replacing it" >&2; \
			exit 1; \
		fi; \
		echo "ln -sfn svc-sim $$f"; ln -sfn svc-sim "$$f" || exit 1; \
	done

uninstall-sim:
	@for n in $(SIM_NAMES); do \
		f="$(DESTDIR)$(BINDIR)/$$n"; \
		if [ "$$(readlink "$$f" 2>/dev/null)" = svc-sim ]; then echo "rm -f $$f"; rm -f "$$f"; fi; \
	done
	rm -f $(DESTDIR)$(BINDIR)/svc-sim

uninstall: uninstall-sim
	rm -f $(DESTDIR)$(BINDIR)/ron-kernel $(DESTDIR)$(BINDIR)/ron-monitor $(DESTDIR)$(BINDIR)/ron-httpd
	rm -f $(MANPAGES:docs/%=$(DESTDIR)$(MANDIR)/man8/%)
	rm -f $(DESTDIR)$(UNITDIR)/ron-kernel.service
	@rmdir $(DESTDIR)$(UNITDIR) 2>/dev/null || true

# mandoc -T lint must say nothing, except that a cross-referenced page (ron-monitor(8)
# before it is installed, systemd's) is missing from this machine's manual database.
MANDOC_MACHINE := referenced manual not found|mandoc\.db
lint-man:
	@command -v mandoc >/dev/null 2>&1 || { \
		if [ "$$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
			echo "lint-man: mandoc is missing; run: sudo apt-get install mandoc" >&2; \
			exit 1; \
		fi; \
		echo "lint-man: installing mandoc" >&2; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends mandoc >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends mandoc >/dev/null; } \
			|| exit 1; \
	}
	@out=$$(mandoc -T lint $(MANPAGES) 2>&1 | grep -Ev '$(MANDOC_MACHINE)'); \
	if [ -n "$$out" ]; then echo "$$out" >&2; exit 1; fi
	@echo "lint-man: $(MANPAGES): clean"

.PHONY: install install-sim uninstall uninstall-sim lint-man

# --- Debian packages: debian/, built with dpkg-buildpackage into build/deb/ ---
# scripts/install-deps --package installs debhelper and lintian; scripts/check-deb
# checks what was built.
deb:
	scripts/install-deps --package
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb
	dpkg-buildpackage -us -uc -b --no-sign
	v=$$(dpkg-parsechangelog -S Version) && \
	mv ../ron-kernel*_$${v}_*.deb ../ron-kernel_$${v}_*.buildinfo \
	   ../ron-kernel_$${v}_*.changes $(BUILD)/deb/
	@ls $(BUILD)/deb/*.deb

.PHONY: deb

# --- container: deploy/Containerfile, with podman or docker where one is installed ---
CONTAINER_ENGINE ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
CONTAINER_TAG    ?= ron-kernel:$(shell sed -n 's/^\#define KERNEL_VERSION[^"]*"\(.*\)"/\1/p' kernel/kernel.h)

container:
	@if [ -z "$(CONTAINER_ENGINE)" ]; then \
		echo "container: neither podman nor docker is installed; no image built" >&2; exit 1; \
	fi
	@if ! $(CONTAINER_ENGINE) info >/dev/null 2>&1; then \
		echo "container: $(CONTAINER_ENGINE) cannot build here (no daemon or no rights); no image built" >&2; \
		exit 1; \
	fi
	$(CONTAINER_ENGINE) build -f deploy/Containerfile -t $(CONTAINER_TAG) .

.PHONY: container

# --- bench: make bench (BENCH_QUICK=1 for a smoke run) ---
# ron-bench runs ron-kernel on svc-sim in scratch directories and prints one table,
# also written to $(BUILD)/bench/results.json and results.md.  Its objects come from
# the tests/%.o rule above; the test binary links only tests/*.c, not these.
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/bench/ron-bench: $(BENCH_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: deps
	@$(MAKE) --no-print-directory $(BINS) $(BUILD)/bench/ron-bench
	BENCH_QUICK=$(BENCH_QUICK) $(BUILD)/bench/ron-bench --out $(BUILD)/bench

.PHONY: bench
