# SPDX-License-Identifier: GPL-2.0
#
# kmig: live migration and fault tolerance for KVM guests.
#
#   make                 module (against KDIR), agent and selftests
#   make demo            live-migrate a KVM guest inside the QEMU test bed
#   make check           every test: host tests, checkpatch, and the
#                        selftests on each test-bed kernel (KERNELS=...)
#   make check-debug     the selftests on a debug kernel (KASAN, lockdep,
#                        kmemleak, UBSAN), built once and cached
#   make check-mainline  the selftests on Debian unstable's 7.x kernel, the
#                        module built in an unstable chroot (cached)
#   make bench           benchmarks, as ratios against baselines run alongside
#   make bench-host      the data path natively: kmig vs raw TCP, CRC32C
#   make bench-snap      snapshot save/restore natively, 1/2/4 threads,
#                        buffered and O_DIRECT, against dd
#   make module-debug    the module with its internal debug checks
#   make style           checkpatch (--strict on kernel/ and uapi/)
#   make sparse          sparse (C=2) on the module
#   make hosttests       host-native tests (ASan+UBSan) in build/tests
#   make fuzz            every fuzzer (user/fuzz/), FUZZ_TIME=s each;
#                        make fuzz-run-TARGET: one
#   make fuzz-smoke      each one's corpus plus FUZZ_RUNS=20000 inputs, for
#                        make check
#   make shell           boot the test bed to a shell (KERNELS=one series)
#   make install         the module, the agent, kmigd and its unit, the VMM,
#                        man pages, bash completion,
#                        modules-load/sysusers/tmpfiles entries
#                        (DESTDIR, PREFIX, KVER; Documentation/install.rst);
#                        make uninstall
#   make dkms-install    the module's source into /usr/src for DKMS
#   make kselftest-install INSTALL_PATH=DIR  the selftests as a kselftest
#                        collection, for run_kselftest.sh -c kmig
#   make install-check   all three checked on this host, in temporary
#                        directories, with the kmigd unit
#   make clean

KERNELS ?= 6.1 6.12
# make KVER=RELEASE: that kernel's build tree.
ifdef KVER
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build \
	/usr/src/linux-headers-$(KVER)) /lib/modules/$(KVER)/build)
endif
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(patsubst %,/usr/src/linux-headers-%, \
	  $(lastword $(shell scripts/kernels.sh "$(lastword $(KERNELS))" 2>/dev/null))))
B := build

CC := gcc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror
# The kselftest harness macros compare across types and pass unused
# metadata by design; 6.12's harness longjmps out of its fixture setup.
KSFT_WARN := -Wno-unused-parameter -Wno-sign-compare -Wno-clobbered
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer
LIBMNL := $(shell pkg-config --libs libmnl 2>/dev/null || echo -lmnl)
GNUTLS := $(shell pkg-config --libs gnutls 2>/dev/null || echo -lgnutls)
# libnl-route: the plug qdisc of COLO's output commit (user/lib/plug.c).
NLROUTE_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NLROUTE := $(shell pkg-config --libs libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)

# libkmig: what the agent, the VMM, the selftests, the benches and the
# tools share, built once (and once more with ASan+UBSan for the host
# tests and kmig-san): the stream, the VMM client, netlink, the module
# loader, the return path and the small helpers.
LIB_SRCS := $(wildcard user/lib/*.c) $(wildcard user/stream/*.c) \
	user/vmm/client/client.c
LIB_HDRS := $(wildcard user/lib/*.h) $(wildcard user/stream/*.h) \
	user/vmm/client/client.h uapi/linux/kmig.h
LIB_CPPFLAGS := -D_GNU_SOURCE -Iuapi -Iuser/lib -Iuser/stream -Iuser/vmm/client \
	$(NLROUTE_CFLAGS)
LIB := $(B)/libkmig.a
LIB_SAN := $(B)/libkmig-san.a
LIB_OBJS := $(patsubst %.c,$(B)/lib/%.o,$(LIB_SRCS))
LIB_SAN_OBJS := $(patsubst %.c,$(B)/lib-san/%.o,$(LIB_SRCS))

# The agent: its subcommands and engines, on libkmig.
AGENT_SRCS := $(wildcard user/kmig/*.c)
AGENT_HDRS := $(wildcard user/kmig/*.h) $(LIB_HDRS)
AGENT_CPPFLAGS := $(LIB_CPPFLAGS) -Iuser/kmig
AGENT_LIBS := $(LIBMNL) $(GNUTLS) $(NLROUTE) -lkmod -lpthread

# kmigd, the agent as a service: it runs the agent for its jobs.
# (jobctl.c: the door to a migration's control socket.)
KMIGD_SRCS := $(wildcard user/kmigd/*.c) user/kmig/jobctl.c
KMIGD_HDRS := $(wildcard user/kmigd/*.h) user/kmig/version.h \
	user/kmig/jobctl.h $(LIB_HDRS)
KMIGD_CPPFLAGS := $(LIB_CPPFLAGS) -Iuser/kmigd -Iuser/kmig

KSFT_DIR := $(B)/linux-source/tools/testing/selftests
SELFTEST_NAMES := $(basename $(notdir $(wildcard selftests/kmig/*.c)))
SELFTEST_LIB := $(wildcard selftests/kmig/lib/*.c)
SELFTEST_HDRS := $(wildcard selftests/kmig/lib/*.h) $(LIB_HDRS) \
	user/vmm/guest/abi.h user/vmm/cpuid.h
SELFTESTS := $(addprefix $(B)/selftests/,$(SELFTEST_NAMES))
# The selftests' own helpers, compiled once for all of them: each program
# compiled every one of them again, 148 s of CPU for the 44 programs
# where it is now 48 s.
SELFTEST_LIB_A := $(B)/libkmig-selftest.a
SELFTEST_LIB_OBJS := $(patsubst selftests/kmig/lib/%.c,$(B)/selftest-lib/%.o,$(SELFTEST_LIB))
SELFTEST_CFLAGS = $(CFLAGS) $(WARN) $(KSFT_WARN) -fsanitize=undefined \
	-fno-sanitize-recover=undefined $(LIB_CPPFLAGS) \
	-I$(KSFT_DIR) -Iselftests/kmig/lib -Iuser/vmm

BENCH_NAMES := $(basename $(notdir $(filter-out selftests/bench/bench.c,$(wildcard selftests/bench/*.c))))
BENCHES := $(addprefix $(B)/bench/,$(BENCH_NAMES))
STREAM_SRCS := $(wildcard user/stream/*.c)
STREAM_HDRS := $(wildcard user/stream/*.h)

# The reference VMM and its guest payload (32-bit, freestanding).
VMM_SRCS := $(wildcard user/vmm/*.c)
VMM_HDRS := $(wildcard user/vmm/*.h) $(wildcard user/vmm/guest/*.h)
PAYLOAD_CFLAGS := -m32 -ffreestanding -fno-pic -fno-pie -nostdlib -O2 \
	-fno-stack-protector -mgeneral-regs-only -fno-asynchronous-unwind-tables
TOOLS := $(addprefix $(B)/tools/,$(basename $(notdir $(wildcard selftests/tools/*.c))))

HOSTTEST_NAMES := $(basename $(notdir $(wildcard user/tests/*.c)))
HOSTTESTS := $(addprefix $(B)/tests/,$(HOSTTEST_NAMES))

all: module user selftests

module:
	@test -d "$(KDIR)" || { echo "make: no kernel build tree; install headers or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_KMIG=m CONFIG_KMIG_SAMPLE=m modules

module-debug:
	@test -d "$(KDIR)" || { echo "make: no kernel build tree; install headers or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_KMIG=m CONFIG_KMIG_SAMPLE=m CONFIG_KMIG_DEBUG=y modules

user: $(B)/kmig $(B)/kmigd $(B)/vmm/kmig-vmm

$(B)/vmm/payload.bin: user/vmm/guest/payload.c user/vmm/guest/start.S \
		user/vmm/guest/payload.ld user/vmm/guest/abi.h
	@mkdir -p $(@D)
	$(CC) $(PAYLOAD_CFLAGS) $(WARN) -c -o $(B)/vmm/payload.o user/vmm/guest/payload.c
	$(CC) -m32 -c -o $(B)/vmm/start.o user/vmm/guest/start.S
	ld -m elf_i386 -z noexecstack -T user/vmm/guest/payload.ld \
		-o $(B)/vmm/payload.elf $(B)/vmm/start.o $(B)/vmm/payload.o
	objcopy -O binary $(B)/vmm/payload.elf $@

$(B)/lib/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(LIB_CPPFLAGS) -c -o $@ $<

$(B)/lib-san/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(SANITIZE) $(LIB_CPPFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(LIB_SAN): $(LIB_SAN_OBJS)
	rm -f $@
	ar rcs $@ $^

lib: $(LIB)

# The same payload behind a multiboot stub, for other VMMs (QEMU -kernel).
$(B)/vmm/bench-guest.bin: user/vmm/guest/boot.c user/vmm/guest/boot.S \
		user/vmm/guest/boot.ld user/vmm/guest/abi.h $(B)/vmm/payload.bin
	$(CC) $(PAYLOAD_CFLAGS) $(WARN) -c -o $(B)/vmm/boot.o user/vmm/guest/boot.c
	$(CC) -m32 -c -DPAYLOAD_BIN='"$(B)/vmm/payload.bin"' \
		-o $(B)/vmm/boot-start.o user/vmm/guest/boot.S
	ld -m elf_i386 -z noexecstack -T user/vmm/guest/boot.ld \
		-o $(B)/vmm/bench-guest.elf $(B)/vmm/boot-start.o $(B)/vmm/boot.o
	objcopy -O binary $(B)/vmm/bench-guest.elf $@

$(B)/vmm/kmig-vmm: $(VMM_SRCS) $(VMM_HDRS) user/vmm/guest/blob.S \
		$(B)/vmm/payload.bin $(LIB)
	$(CC) $(CFLAGS) $(WARN) $(LIB_CPPFLAGS) -Iuser/vmm \
		-DPAYLOAD_BIN='"$(B)/vmm/payload.bin"' -o $@ $(VMM_SRCS) \
		user/vmm/guest/blob.S $(LIB) -lpthread

# The same VMM with every source, libkmig's included, under UBSan: any
# report ends it (selftests/kmig/vmm_san.c).
$(B)/vmm/kmig-vmm-san: $(VMM_SRCS) $(VMM_HDRS) user/vmm/guest/blob.S \
		$(B)/vmm/payload.bin $(LIB_SRCS) $(LIB_HDRS)
	$(CC) $(CFLAGS) $(WARN) -fsanitize=undefined \
		-fno-sanitize-recover=all $(LIB_CPPFLAGS) -Iuser/vmm \
		-DPAYLOAD_BIN='"$(B)/vmm/payload.bin"' -o $@ $(VMM_SRCS) \
		$(LIB_SRCS) user/vmm/guest/blob.S $(AGENT_LIBS)

$(B)/kmig: $(AGENT_SRCS) $(AGENT_HDRS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(AGENT_CPPFLAGS) -o $@ $(AGENT_SRCS) $(LIB) \
		$(AGENT_LIBS)

$(B)/kmigd: $(KMIGD_SRCS) $(KMIGD_HDRS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(KMIGD_CPPFLAGS) -o $@ $(KMIGD_SRCS) $(LIB) \
		$(LIBMNL) -lpthread

$(B)/kmigd-san: $(KMIGD_SRCS) $(KMIGD_HDRS) $(LIB_SAN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(SANITIZE) $(KMIGD_CPPFLAGS) -o $@ \
		$(KMIGD_SRCS) $(LIB_SAN) $(LIBMNL) -lpthread

$(B)/kmig-san: $(AGENT_SRCS) $(AGENT_HDRS) $(LIB_SAN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(SANITIZE) $(AGENT_CPPFLAGS) -o $@ \
		$(AGENT_SRCS) $(LIB_SAN) $(AGENT_LIBS)

$(KSFT_DIR)/kselftest_harness.h:
	scripts/linux-source.sh $(B)/linux-source

selftests: $(SELFTESTS) $(B)/vmm/kmig-vmm $(B)/vmm/kmig-vmm-san

# Selftests run inside the test bed under software emulation: UBSan only,
# ASan's cost there is out of proportion.
$(B)/selftest-lib/%.o: selftests/kmig/lib/%.c $(SELFTEST_HDRS) $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(CC) $(SELFTEST_CFLAGS) -c -o $@ $<

$(SELFTEST_LIB_A): $(SELFTEST_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/selftests/%: selftests/kmig/%.c $(SELFTEST_LIB_A) $(SELFTEST_HDRS) $(LIB) $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(CC) $(SELFTEST_CFLAGS) -o $@ $< $(SELFTEST_LIB_A) $(LIB) \
		$(LIBMNL) $(GNUTLS) -lpthread

benches: $(BENCHES)

# Small programs the test scripts, the demo and the benchmarks drive.
tools: $(TOOLS)

$(B)/tools/vmmctl $(B)/tools/guestmem: $(B)/tools/%: selftests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(LIB_CPPFLAGS) -o $@ $< $(LIB)

$(B)/tools/%: selftests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -D_GNU_SOURCE -o $@ $< -lpthread

$(B)/bench/%: selftests/bench/%.c selftests/bench/bench.c selftests/bench/bench.h $(SELFTEST_HDRS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(LIB_CPPFLAGS) -Iselftests/kmig/lib \
		-Iselftests/bench -o $@ $< selftests/bench/bench.c \
		selftests/kmig/lib/kvm.c selftests/kmig/lib/kvmlog.c \
		selftests/kmig/lib/faultcount.c $(LIB) \
		-lpthread

# A host test of the agent's own files names them here.
AGENT_UNDER_TEST := user/kmig/accept.c user/kmig/addr.c user/kmig/mig.c \
	user/kmig/mig_vm.c
$(B)/tests/accept: TEST_SRCS := $(AGENT_UNDER_TEST)
$(B)/tests/accept: $(AGENT_UNDER_TEST) $(AGENT_HDRS)
$(B)/tests/colo_hb: TEST_SRCS := $(AGENT_UNDER_TEST) user/kmig/colo_heartbeat.c
$(B)/tests/colo_hb: $(AGENT_UNDER_TEST) user/kmig/colo_heartbeat.c $(AGENT_HDRS)
COLO_CTL_UNDER_TEST := user/kmig/colo_ctl.c user/kmig/jobctl.c
$(B)/tests/colo_ctl: TEST_SRCS := $(AGENT_UNDER_TEST) $(COLO_CTL_UNDER_TEST)
$(B)/tests/colo_ctl: $(AGENT_UNDER_TEST) $(COLO_CTL_UNDER_TEST) $(AGENT_HDRS)
$(B)/tests/colo_devs: TEST_SRCS := $(AGENT_UNDER_TEST) user/kmig/colo_dev.c \
	user/kmig/devstate.c
$(B)/tests/colo_devs: $(AGENT_UNDER_TEST) user/kmig/colo_dev.c \
	user/kmig/devstate.c $(AGENT_HDRS)
COLO_STAGE := user/kmig/colo_sec_cache.c user/kmig/colo_sec_stream.c \
	user/kmig/colo_dev.c user/kmig/devstate.c
$(B)/tests/colo_stream: TEST_SRCS := $(AGENT_UNDER_TEST) $(COLO_STAGE)
$(B)/tests/colo_stream: $(AGENT_UNDER_TEST) $(COLO_STAGE) $(AGENT_HDRS)

# ... and of the VMM's (the network device with guest RAM from memfds).
VMM_UNDER_TEST := user/vmm/net.c user/vmm/mem.c
$(B)/tests/vmm_net: TEST_SRCS := $(VMM_UNDER_TEST) -Iuser/vmm
$(B)/tests/vmm_net: $(VMM_UNDER_TEST) $(VMM_HDRS)

$(B)/tests/%: user/tests/%.c $(wildcard user/tests/*.h) $(LIB_HDRS) \
		$(LIB_SAN) $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(KSFT_WARN) $(SANITIZE) \
		$(LIB_CPPFLAGS) -Iuser/kmig -I$(KSFT_DIR) \
		-DKMIG_SRCDIR='"$(CURDIR)"' -o $@ $< $(TEST_SRCS) $(LIB_SAN) \
		$(LIBMNL) $(GNUTLS) -lkmod -lpthread

# libFuzzer targets (clang), one per parser that takes outside input. Each
# target's corpus lives in user/fuzz/corpus/TARGET (minimised); the stream
# targets start from build/fuzz/seed's valid streams too.
FUZZ_NAMES := $(basename $(notdir $(filter-out user/fuzz/seed.c, \
	$(wildcard user/fuzz/*.c))))
FUZZERS := $(addprefix $(B)/fuzz/,$(FUZZ_NAMES))
FUZZ_RUNS ?= 20000
FUZZ_TIME ?= 600
# Targets print (usage errors) and libFuzzer reports crashes all the same.
FUZZ_FLAGS := -close_fd_mask=3 -print_final_stats=1
FUZZ_DIRS = $(B)/fuzz/work-$* user/fuzz/corpus/$* \
	$(wildcard $(B)/fuzz/corpus/$*)

$(B)/fuzz/seed: user/fuzz/seed.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(LIB_CPPFLAGS) -o $@ $< $(LIB) $(LIBMNL)

# The fuzzers link the parsers compiled by clang with libFuzzer's coverage
# instrumentation: libkmig, the agent (its option parsers) and the VMM's
# control requests, options and vCPU state (with its ring device).
FUZZ_LIB_SRCS := $(LIB_SRCS) $(filter-out user/kmig/main.c,$(AGENT_SRCS)) \
	$(addprefix user/vmm/,req.c opts.c state.c ring.c mem.c) user/kmigd/proto.c
# (KVM's uapi structs end in flexible arrays that the VMM embeds: a GNU
# extension that clang names.)
FUZZ_CFLAGS := -O1 -g $(WARN) -Wno-gnu-variable-sized-type-not-at-end \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	$(AGENT_CPPFLAGS) -Iuser/vmm -Iuser/kmigd
FUZZ_LIB := $(B)/fuzz/libkmig-fuzz.a

$(B)/fuzz/lib/%.o: %.c $(AGENT_HDRS) $(VMM_HDRS) $(KMIGD_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(patsubst %.c,$(B)/fuzz/lib/%.o,$(FUZZ_LIB_SRCS))
	rm -f $@
	ar rcs $@ $^

$(B)/fuzz/%: user/fuzz/%.c $(wildcard user/fuzz/*.h) $(FUZZ_LIB)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Wno-unused-parameter -fsanitize=fuzzer -o $@ \
		$< $(FUZZ_LIB) $(AGENT_LIBS)

$(B)/fuzz/corpus/.seeded: $(B)/fuzz/seed
	@mkdir -p $(@D)
	$(B)/fuzz/seed $(@D)
	@touch $@

# One target: its corpus, then FUZZ_RUNS inputs from a fixed seed.
fuzz-smoke-%: $(B)/fuzz/% $(B)/fuzz/corpus/.seeded
	@mkdir -p $(B)/fuzz/work-$*
	@$< $(FUZZ_FLAGS) -runs=$(FUZZ_RUNS) -seed=1 $(FUZZ_DIRS) \
		>$(B)/fuzz/$*.log 2>&1 || { tail -n 40 $(B)/fuzz/$*.log; exit 1; }
	@echo "fuzz-smoke: $*: corpus and $(FUZZ_RUNS) runs, no crash"

# One target for FUZZ_TIME seconds (FUZZ_RUNS=0: no bound on runs).
fuzz-run-%: $(B)/fuzz/% $(B)/fuzz/corpus/.seeded
	@mkdir -p $(B)/fuzz/work-$*
	$< $(FUZZ_FLAGS) -max_total_time=$(FUZZ_TIME) $(FUZZ_DIRS)

# A target's new inputs into its corpus in the repo, minimised (the seeds
# stay out: the build writes them; regress-* inputs stay in by name).
fuzz-merge-%: $(B)/fuzz/%
	rm -rf $(B)/fuzz/merged-$*
	mkdir -p $(B)/fuzz/merged-$* $(B)/fuzz/work-$*
	$< -merge=1 $(B)/fuzz/merged-$* user/fuzz/corpus/$* $(B)/fuzz/work-$*
	$(if $(wildcard user/fuzz/corpus/$*/regress-*),cp \
		user/fuzz/corpus/$*/regress-* $(B)/fuzz/merged-$*/)
	rm -rf user/fuzz/corpus/$*
	mv $(B)/fuzz/merged-$* user/fuzz/corpus/$*

fuzz-smoke: $(addprefix fuzz-smoke-,$(FUZZ_NAMES))

fuzz: $(addprefix fuzz-run-,$(FUZZ_NAMES))

hosttests: $(HOSTTESTS) $(B)/kmig-san $(B)/kmigd-san

check:
	scripts/check.sh $(KERNELS)

check-debug:
	scripts/check-debug.sh

check-mainline:
	scripts/check-mainline.sh

bench: selftests benches tools $(B)/vmm/bench-guest.bin $(B)/bench-host/snap
	scripts/bench.sh $(lastword $(KERNELS))

# The data path on this host over loopback TCP, no module needed
# (BENCH_HOST_ARGS: see user/bench/wire.c).
$(B)/bench-host/wire: user/bench/wire.c $(LIB) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) -Wno-unused-parameter $(LIB_CPPFLAGS) \
		-o $@ $< $(LIB) $(GNUTLS) -lpthread

bench-host: $(B)/bench-host/wire
	$(B)/bench-host/wire $(BENCH_HOST_ARGS)

# Snapshot files on this host, a memfd for the guest, against dd
# (BENCH_SNAP_ARGS: see user/bench/snap.c; the directories last).
BENCH_SNAP_ARGS ?= $(B) /dev/shm
$(B)/bench-host/snap: user/bench/snap.c $(LIB) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WARN) $(LIB_CPPFLAGS) -o $@ $< $(LIB) -lpthread

bench-snap: $(B)/bench-host/snap
	$(B)/bench-host/snap $(BENCH_SNAP_ARGS)

demo:
	scripts/deps.sh
	$(MAKE) user selftests tools
	scripts/demo.sh $(lastword $(KERNELS))

style: $(KSFT_DIR)/kselftest_harness.h
	scripts/style.sh $(B)/linux-source/scripts/checkpatch.pl

sparse:
	@test -d "$(KDIR)" || { echo "make: no kernel build tree; install headers or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_KMIG=m CONFIG_KMIG_SAMPLE=m C=2 CHECK="sparse -Wsparse-error" modules

shell: selftests
	scripts/bed.sh shell $(firstword $(KERNELS))

# Installing (Documentation/install.rst). The module goes to
# /lib/modules/KVER/extra whatever PREFIX is, KVER being KDIR's release;
# the rest under PREFIX. systemd reads /usr/local/lib as well as /usr/lib
# for modules-load.d, sysusers.d and tmpfiles.d.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSTEMD_LIBDIR ?= $(PREFIX)/lib
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ifndef KVER
KVER := $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
endif
MODULE_DIR := /lib/modules/$(KVER)/extra
MANPAGES := $(wildcard Documentation/*.[1-8])
# The system's configuration files, dist/TYPE/kmig*, into SYSTEMD_LIBDIR/TYPE.
SYSTEM_CONF := modules-load.d/kmig.conf sysusers.d/kmig.conf \
	tmpfiles.d/kmig.conf
SYSTEMD_UNITDIR ?= $(SYSTEMD_LIBDIR)/systemd/system
INSTALLED_USER := $(SBINDIR)/kmig $(SBINDIR)/kmigd $(BINDIR)/kmig-vmm \
	$(SYSTEMD_UNITDIR)/kmigd.service \
	$(foreach m,$(MANPAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)).gz) \
	$(BASHCOMPDIR)/kmig $(addprefix $(SYSTEMD_LIBDIR)/,$(SYSTEM_CONF))
KMIG_MODVERSION := $(shell sed -n 's/^\#define KMIG_VERSION "\(.*\)"$$/\1/p' kernel/kmig.h)
DKMS_SRC := /usr/src/kmig-$(KMIG_MODVERSION)
# What DKMS needs to build kmig.ko: Kbuild reads CONFIG_KMIG from dkms.conf.
DKMS_FILES := dkms.conf Kbuild Kconfig $(wildcard kernel/*.[ch]) uapi/linux/kmig.h

install: install-module install-user

install-module: module
	@test -n "$(KVER)" || { echo "install: no kernel release in $(KDIR); pass KVER= or KDIR=" >&2; exit 1; }
	install -D -m 0644 kmig.ko $(DESTDIR)$(MODULE_DIR)/kmig.ko
	@if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); \
	else echo "install: DESTDIR is set, depmod skipped: run depmod $(KVER) on the target"; fi

install-user: user kmigd-unit
	install -D -m 0755 $(B)/kmig $(DESTDIR)$(SBINDIR)/kmig
	install -D -m 0755 $(B)/kmigd $(DESTDIR)$(SBINDIR)/kmigd
	install -D -m 0644 $(B)/kmigd.service $(DESTDIR)$(SYSTEMD_UNITDIR)/kmigd.service
	install -D -m 0755 $(B)/vmm/kmig-vmm $(DESTDIR)$(BINDIR)/kmig-vmm
	@set -e; for m in $(MANPAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; mkdir -p $$d; \
		echo "gzip -9n < $$m > $$d/$${m##*/}.gz"; \
		gzip -9n < $$m > $$d/$${m##*/}.gz; chmod 0644 $$d/$${m##*/}.gz; \
	done
	install -D -m 0644 dist/bash-completion/kmig $(DESTDIR)$(BASHCOMPDIR)/kmig
	@set -e; for f in $(SYSTEM_CONF); do \
		echo "install -D -m 0644 dist/$$f $(DESTDIR)$(SYSTEMD_LIBDIR)/$$f"; \
		install -D -m 0644 dist/$$f $(DESTDIR)$(SYSTEMD_LIBDIR)/$$f; \
	done
	@if [ -n "$(DESTDIR)" ]; then :; \
	elif command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSTEMD_LIBDIR)/sysusers.d/kmig.conf && \
		systemd-tmpfiles --create $(SYSTEMD_LIBDIR)/tmpfiles.d/kmig.conf; \
	else echo "install: no systemd-sysusers: create the group kmig and /run/kmig (root:kmig 0750) yourself"; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_USER))
	rm -f $(DESTDIR)$(MODULE_DIR)/kmig.ko
	@if [ -z "$(DESTDIR)" ] && [ -n "$(KVER)" ]; then depmod -a $(KVER); fi

# The module's source into /usr/src/kmig-VERSION, then dkms add, build and
# install for KVER where dkms is installed (not under DESTDIR: a package's
# scripts run dkms).
dkms-install:
	@test -n "$(KMIG_MODVERSION)" || { echo "dkms-install: no KMIG_VERSION in kernel/kmig.h" >&2; exit 1; }
	rm -rf $(DESTDIR)$(DKMS_SRC)
	@set -e; for f in $(DKMS_FILES); do \
		install -D -m 0644 $$f $(DESTDIR)$(DKMS_SRC)/$$f; done
	@echo "dkms-install: the source is in $(DESTDIR)$(DKMS_SRC)"
	@if [ -n "$(DESTDIR)" ]; then :; \
	elif ! command -v dkms >/dev/null; then \
		echo "dkms-install: dkms is not installed: install it, then run 'dkms install kmig/$(KMIG_MODVERSION)'" >&2; exit 1; \
	else \
		set -e; \
		if dkms status kmig/$(KMIG_MODVERSION) | grep -q .; then dkms remove kmig/$(KMIG_MODVERSION) --all; fi; \
		dkms add kmig/$(KMIG_MODVERSION); \
		dkms install kmig/$(KMIG_MODVERSION) $(if $(KVER),-k $(KVER)); \
	fi

dkms-uninstall:
	@if command -v dkms >/dev/null && dkms status kmig/$(KMIG_MODVERSION) | grep -q .; then \
		dkms remove kmig/$(KMIG_MODVERSION) --all; fi
	rm -rf $(DESTDIR)$(DKMS_SRC)

# kmigd's unit, for SBINDIR.
kmigd-unit:
	@mkdir -p $(B)
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/systemd/kmigd.service.in > $(B)/kmigd.service

# The selftests as a kselftest collection in INSTALL_PATH, with
# run_kselftest.sh from linux-source (scripts/kselftest-install.sh).
kselftest-install: selftests tools user
	@test -n "$(INSTALL_PATH)" || { echo "kselftest-install: pass INSTALL_PATH=DIR" >&2; exit 1; }
	scripts/kselftest-install.sh "$(INSTALL_PATH)" $(SELFTEST_NAMES)

# The install, the completion, the collection, DKMS and the kmigd unit,
# checked on this host in temporary directories (scripts/install-test.sh);
# scripts/install-bed.sh SERIES checks them in the test bed.
install-check: user
	scripts/install-test.sh

.PHONY: install install-module install-user uninstall dkms-install \
	dkms-uninstall kmigd-unit kselftest-install install-check

clean:
	rm -rf $(B)
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null

.PHONY: all lib module module-debug user selftests hosttests benches tools bench bench-snap check \
	check-debug check-mainline bench-host \
	demo style sparse shell clean fuzz fuzz-smoke
