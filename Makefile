# Corral — one non-recursive Makefile.
#   make             build bin/corrald, bin/corral, bin/corral-img
#   make run         install missing packages (as root), build, start corrald on ./var
#   make check       install, build, run every test (unit, ASan+UBSan unit, integration, compat)
#   make bench       benchmarks beside their anchors -> docs/benchmarks.md
#   make fuzz        build the libFuzzer targets and run each for FUZZ_SECONDS
#   make SANITIZE=address,undefined check
#
# Every folder builds a static library from its *.c files; the program mains
# are listed below and kept out of the libraries.  Unit tests are one program
# per file under tests/unit/, mirroring the source tree.

CC       ?= cc
SANITIZE ?=
O        ?= build
ifneq ($(SANITIZE),)
O        := build/san
endif

PKGS     := libmicrohttpd libcjson openssl lmdb libcurl zlib libzstd
CPPFLAGS += -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
            -Wformat=2 -Wno-format-nonliteral -fno-strict-aliasing -pthread -MMD -MP
# libcrypt is linked (not only dlopened by pam_unix) so that the sanitizers' crypt
# interceptors find it at start-up; pam logins crash under ASan otherwise.
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lmicrohttpd -lcjson -lssl -lcrypto -llmdb -lcurl -lz -lzstd) -lpam -lcrypt -lpthread -lm
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

LIBDIRS  := common storage hv cluster server cli
MAINS    := server/main.c storage/corral_img.c cli/main.c
lib_srcs  = $(filter-out $(MAINS),$(wildcard $(1)/*.c))
lib_objs  = $(patsubst %.c,$(O)/%.o,$(call lib_srcs,$(1)))
# What each folder's code may use (lower layers never include upper ones).
USES_common  := common
USES_storage := storage common
USES_hv      := hv storage common
USES_cluster := cluster common
USES_server  := server hv storage cluster common
USES_cli     := cli common
libs_for  = $(foreach d,$(USES_$(1)),$(if $(call lib_srcs,$(d)),$(O)/lib$(d).a))
link_for  = -Wl,--start-group $(call libs_for,$(1)) -Wl,--end-group
LIBS     := $(call libs_for,server)

BINS     := bin/corrald bin/corral $(if $(wildcard storage/corral_img.c),bin/corral-img)
ifneq ($(SANITIZE),)
BINS     := $(patsubst bin/%,$(O)/bin/%,$(BINS))
endif

UNIT_SRCS := $(shell find tests/unit -mindepth 2 -name '*.c' 2>/dev/null | sort)
UNIT_BINS := $(patsubst %.c,$(O)/%,$(UNIT_SRCS))
# Helper programs of the compatibility suites, linked with the storage library.
COMPAT_HELPERS := $(patsubst tests/compat/helpers/%.c,$(O)/tests/compat/helpers/%,$(wildcard tests/compat/helpers/*.c))
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 20

.SECONDARY:
.PHONY: guest all deps run check unit unit-bins test-all bench fuzz fuzz-bins clean soak deb format
all: $(BINS) $(COMPAT_HELPERS)

deps:
	@scripts/install-deps

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

define lib_rule
$(O)/lib$(1).a: $(call lib_objs,$(1))
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
endef
$(foreach d,$(LIBDIRS),$(eval $(call lib_rule,$(d))))

$(O)/bin/corrald bin/corrald: $(O)/server/main.o $(call libs_for,server)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(call link_for,server) $(LDLIBS)

$(O)/bin/corral bin/corral: $(patsubst %.c,$(O)/%.o,$(wildcard cli/*.c)) $(call libs_for,cli)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(call link_for,cli) $(LDLIBS)

$(O)/bin/corral-img bin/corral-img: $(O)/storage/corral_img.o $(call libs_for,storage)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(call link_for,storage) $(LDLIBS)

$(O)/tests/compat/helpers/%: tests/compat/helpers/%.c $(call libs_for,storage)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call link_for,storage) $(LDLIBS)

# tests/unit/<dir>/x.c links the libraries <dir> may use.
define unit_rule
$(O)/tests/unit/$(1)/%: tests/unit/$(1)/%.c $(O)/tests/unit/test.o $(call libs_for,$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$< $(O)/tests/unit/test.o $(call link_for,$(1)) $$(LDLIBS)
endef
$(foreach d,$(LIBDIRS),$(eval $(call unit_rule,$(d))))

# hv/ integration driver (real QEMU), run by tests/integration/test_hv_boot.sh.
$(O)/tests/integration/hv_boot: tests/integration/hv_boot.c $(O)/tests/unit/test.o $(O)/libhv.a $(O)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/tests/unit/test.o $(O)/libhv.a $(O)/libcommon.a $(LDLIBS)

# hv/migrate.c on two real QEMUs, run by tests/integration/test_hv_migrate.sh.
$(O)/tests/integration/hv_migrate: tests/integration/hv_migrate.c $(O)/tests/unit/test.o $(O)/libhv.a $(O)/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/tests/unit/test.o $(O)/libhv.a $(O)/libcommon.a $(LDLIBS)

unit-bins: $(UNIT_BINS)
unit: $(UNIT_BINS)
	@tests/run $(O)/tests/unit

# Everything make check runs; CI calls `make check` (see .ci/run).  Suites run
# TEST_JOBS at a time (those booting guests one at a time, see tests/run);
# the package suite, the longest without a guest, starts first.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_JOBS ?= 2
check: deps e2e-deps
	@$(MAKE) --no-print-directory -j$(JOBS) all unit-bins
	@$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=address,undefined unit-bins
	@$(MAKE) --no-print-directory guest
	@CORRAL_BINDIR=$(CURDIR)/$(dir $(firstword $(BINS))) CORRAL_IMG=$(CURDIR)/$(dir $(firstword $(BINS)))corral-img \
	  tests/run -j $(TEST_JOBS) tests/package tests/integration tests/e2e tests/compat build/tests/unit build/san/tests/unit

# The browser tests' npm packages (playwright-core), installed when missing or stale.
.PHONY: e2e-deps
e2e-deps: tests/e2e/node_modules/.package-lock.json
tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund
	@touch $@

bench: deps all
	@bench/run

# The live migration benchmark run by bench/migrate.sh.
$(O)/bench/migrate_bench: bench/migrate_bench.c $(call libs_for,hv)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call link_for,hv) $(LDLIBS)

# The gossip simulator run by bench/swim.sh.
$(O)/bench/swim_sim: bench/swim_sim.c $(call libs_for,cluster)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call link_for,cluster) $(LDLIBS)

# Long soaks stay out of check; tests/soak/ holds them once they exist.
soak: deps all
	@if [ -d tests/soak ]; then tests/run tests/soak; else echo "corral: no soak suites in tests/soak yet"; fi

fuzz-bins: $(FUZZ_BINS)
build/fuzz/%: tests/fuzz/%.c $(call lib_srcs,common) $(call lib_srcs,storage) $(call lib_srcs,hv) $(call lib_srcs,cluster) $(call lib_srcs,server)
	@mkdir -p $(@D)
	clang $(filter-out -I.,$(CPPFLAGS)) -I. -g -O1 -fsanitize=fuzzer,address,undefined -pthread \
	  -o $@ $< $(filter-out $(MAINS),$(wildcard common/*.c storage/*.c hv/*.c cluster/*.c server/*.c)) $(LDLIBS)
fuzz: deps fuzz-bins
	@scripts/run-fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)

# The Debian package, built from a clean copy of the tracked tree.
deb: deps
	@rm -rf build/deb && mkdir -p build/deb/src
	git ls-files -z | xargs -0 cp --parents -t build/deb/src
	cp -r packaging/debian build/deb/src/debian
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	@ls build/deb/*.deb

run: deps all
	@mkdir -p var
	bin/corrald --data-dir ./var --listen 0.0.0.0:8006

# The test guest: a bootable disk built from Debian packages (cached).
guest: build/guest/guest.qcow2
build/guest/guest.qcow2: tests/guest/build-guest
	tests/guest/build-guest build/guest

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

-include $(patsubst %.o,%.d,$(shell find build -path build/deb -prune -o -path build/pkgtest -prune -o -name '*.o' -type f -print 2>/dev/null))
