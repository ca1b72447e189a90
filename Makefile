# ron-kernel: build, test, run, bench.  GNU make; pkg-config finds the deps.
PKGS     := libbsd json-c msgpack
TESTPKGS := criterion
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
TEST_CFLAGS = $(shell pkg-config --cflags $(TESTPKGS))
TEST_LIBS   = $(shell pkg-config --libs $(TESTPKGS))

CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) -Icommon $(PKG_CFLAGS) -MMD -MP
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
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/ron-kernel: $(BUILD)/obj/kernel/main.o $(KERNEL_OBJ) $(BUILD)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/sim/svc-sim: $(BUILD)/obj/tests/svc-sim/svc-sim.o $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The simulated service takes its role from argv[0]: one link per real name.
$(SIM_NAMES:%=$(BUILD)/sim/%): $(BUILD)/sim/svc-sim
	ln -sf svc-sim $@

$(BUILD)/tests/run-tests: $(TEST_OBJ) $(MONITOR_OBJ) $(KERNEL_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

test: deps
	@$(MAKE) --no-print-directory $(BINS) $(BUILD)/tests/run-tests
	$(BUILD)/tests/run-tests $(TESTFLAGS)

run: deps
	@$(MAKE) --no-print-directory $(BINS)
	@scripts/run-demo $(BUILD)

format:
	clang-format -i $(wildcard common/*.[ch] kernel/*.[ch] monitor/*.[ch] tests/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
