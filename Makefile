# One build command: `make` (release, ./build) or `make SANITIZE=1` (ASan+UBSan, ./build-asan).
# `make SANITIZE=fuzz fuzz` builds the libFuzzer targets of tests/fuzz (clang, ./build-fuzz).
# Each subsystem adds itself through src/<dir>/module.mk; see docs/building.md.

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DCTR_DEBUG
else ifeq ($(SANITIZE),fuzz)
BUILD ?= build-fuzz
CC := clang
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
WARN_FUZZ := -Wno-error -Wno-unused-variable -Wno-unused-but-set-variable # clang warns on cleanup variables; gcc is the lint
else
BUILD ?= build
SAN_FLAGS :=
endif

CC ?= cc
PKGS := ext2fs com_err libarchive jansson libcrypto libcurl libmicrohttpd libmnl libnftables
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers $(WARN_FUZZ)
BASE_CFLAGS := -std=gnu11 -g -O2 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc -MMD -MP
CFLAGS_ALL := $(BASE_CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL := $(SAN_FLAGS) $(EXTRA_LDFLAGS)

# Host-side library objects (everything but mains); modules append to HOST_SRCS.
HOST_SRCS :=
# Binaries: modules append names to BINS and set <name>_SRCS.
BINS :=
# cmocka unit tests: modules append to UNIT_TESTS and set <name>_SRCS.
UNIT_TESTS :=
# Static guest binaries (vminitd): modules append to GUEST_BINS and set <name>_SRCS.
GUEST_BINS :=
# libFuzzer targets (SANITIZE=fuzz only): tests/fuzz/module.mk appends names, sets <name>_SRCS.
FUZZ_TARGETS :=

include $(sort $(wildcard src/*/module.mk))
-include $(sort $(wildcard tests/*/module.mk bench/module.mk))

HOST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(HOST_SRCS))
LIBCTR := $(BUILD)/libctr.a

all: $(LIBCTR) $(addprefix $(BUILD)/bin/,$(BINS) $(GUEST_BINS)) $(addprefix $(BUILD)/tests/,$(UNIT_TESTS)) $(EXTRA_TARGETS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(LIBCTR): $(HOST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

define host_bin
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$($(1)_SRCS)) $(LIBCTR)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $(PKG_LIBS) $($(1)_LIBS) -lpthread
endef
$(foreach b,$(BINS),$(eval $(call host_bin,$(b))))

define unit_test
$(BUILD)/tests/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$($(1)_SRCS)) $(LIBCTR)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $(PKG_LIBS) $($(1)_LIBS) -lcmocka -lpthread
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test,$(t))))

define fuzz_target
$(BUILD)/fuzz/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$($(1)_SRCS)) $(LIBCTR)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $$@ $$^ $(PKG_LIBS) $($(1)_LIBS) -lpthread
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))
fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))

# Guest binaries are static, never sanitized, built in their own object dir.
GUEST_CFLAGS := $(filter-out -MMD -MP,$(BASE_CFLAGS)) -Os -static -DCTR_GUEST=1 $(shell pkg-config --cflags jansson)
define guest_bin
$(BUILD)/bin/$(1): $($(1)_SRCS) $(wildcard src/common/*.h src/proto/*.h src/guest/*.h)
	@mkdir -p $$(dir $$@)
	$(CC) $(GUEST_CFLAGS) -o $$@ $$(filter %.c,$$^) $($(1)_LIBS) -l:libjansson.a
endef
$(foreach g,$(GUEST_BINS),$(eval $(call guest_bin,$(g))))

# The whole suite: both builds, then every unit and integration test, and each fuzz
# target for FUZZ_SECONDS (default 30; tests/fuzz/run.sh builds them with SANITIZE=fuzz).
check: all format-check
	$(MAKE) SANITIZE=1 all
	tests/run

# Only the unit tests, of both builds (seconds): `tests/run --unit`.
check-unit: all
	$(MAKE) SANITIZE=1 all
	tests/run --unit

# Each fuzz target for FUZZ_SECONDS (default 600) after its regression inputs (docs/testing.md).
check-long:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600) tests/run fuzz/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all check check-unit check-long clean format format-check fuzz
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
