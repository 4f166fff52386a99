# qeval — GNU Makefile. See README.md for the two set-up commands.
#
# Knobs (all optional):
#   CC=cc              compiler
#   CFLAGS=-O2 -g      optimisation / debug flags
#   WERROR=1           warnings are errors (developer and CI build); WERROR=0 to relax
#   LLAMA_PREFIX=DIR   a llama.cpp install (DIR/include/llama.h, DIR/lib/libllama.so);
#                      default: what `make deps` installed under .deps/
#   LLAMA_FROM_SOURCE=1, LLAMA_CUDA=1   (make deps) build libllama from the pinned bundle
#   PREFIX=/usr/local DESTDIR=          (make install)
#   MPI=1              with Open MPI: `mpirun -np N qeval run ...` (docs/scale-out.md);
#                      `make deps` installs openmpi-bin and libopenmpi-dev
#   V=1                show full command lines
#   BUILD=build        output folder

.DEFAULT_GOAL := all
SHELL := /bin/bash

-include .deps/config.mk

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
BUILD   ?= build
QEVAL   ?= qeval
WERROR  ?= 1
LLAMA_PREFIX ?= $(CURDIR)/.deps/llama
LLAMA_INC ?= $(LLAMA_PREFIX)/include
LLAMA_LIB ?= $(LLAMA_PREFIX)/lib
LLAMA_KIND ?= custom build

QE_VERSION := 0.1.0
QE_GIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wpointer-arith -Wundef -Wno-unused-parameter -Wno-format-truncation
ifeq ($(WERROR),1)
WARN += -Werror
endif

PKGS := libcjson libcurl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcjson -lcurl -lz)

# MPI=1: only harness/mpi.c sees MPI's header; $(BUILD)/mpi.flag holds the
# setting, so switching it rebuilds that object and relinks. Default: 1 when
# Open MPI's development files are installed (make deps installs them), else 0.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
ifeq ($(strip $(MPI_LIBS)),)
$(error MPI=1: Open MPI not found: run 'make deps' or apt-get install openmpi-bin libopenmpi-dev)
endif
MPI_CFLAGS := $(patsubst -I%,-isystem %,$(MPI_CFLAGS)) -DQE_MPI
endif
MPI_FLAG := $(BUILD)/mpi.flag
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(MPI_FLAG) 2>/dev/null)" = "$(MPI)" ] || echo "$(MPI)" > $(MPI_FLAG); })

ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -fopenmp -I. -isystem $(LLAMA_INC) $(PKG_CFLAGS) \
              -DQE_VERSION='"$(QE_VERSION)"' -DQE_GIT='"$(QE_GIT)"' -DQE_LLAMA_KIND='"$(LLAMA_KIND)"' $(CFLAGS)
LLAMA_LIBS := -L$(LLAMA_LIB) -Wl,-rpath,$(LLAMA_LIB) -lllama -lggml -lggml-base
ALL_LDLIBS := $(LLAMA_LIBS) $(PKG_LIBS) $(MPI_LIBS) -lcsv -fopenmp -lm -ldl -lpthread $(LDFLAGS) $(LDLIBS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

MODULES := harness harness/base harness/cli harness/tasks runtimes datasets metrics reports
SRC     := $(sort $(wildcard $(addsuffix /*.c,$(MODULES))))
MAIN    := harness/cli/main.c
LIBSRC  := $(filter-out $(MAIN),$(SRC))
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
HDRS    := $(sort $(wildcard $(addsuffix /*.h,$(MODULES))))
TESTSRC := $(sort $(wildcard tests/t_*.c tests/fuzz_*.c))
TESTBIN := $(TESTSRC:tests/%.c=$(BUILD)/tests/%)
BENCHSRC := $(sort $(wildcard tests/bench/*.c))
BENCHBIN := $(BENCHSRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps test check-headers asan bench clean distclean install fixtures

all: $(QEVAL)

$(LLAMA_INC)/llama.h:
	@echo "error: llama.cpp headers not found at $(LLAMA_INC): run 'make deps' first, or pass LLAMA_PREFIX=DIR" >&2
	@exit 2

$(BUILD)/obj/%.o: %.c $(HDRS) | $(LLAMA_INC)/llama.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/harness/mpi.o: ALL_CFLAGS += $(MPI_CFLAGS)
$(BUILD)/obj/harness/mpi.o: $(MPI_FLAG)

$(BUILD)/libqeval.a: $(LIBOBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(QEVAL): $(BUILD)/obj/$(MAIN:.c=.o) $(BUILD)/libqeval.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libqeval.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libqeval.a $(ALL_LDLIBS)

$(BUILD)/gen-fixtures: tests/gen_fixtures.c $(BUILD)/libqeval.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libqeval.a $(ALL_LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libqeval.a
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libqeval.a $(ALL_LDLIBS)

# Fixture models the project generates itself (seeded random weights).
fixtures: $(BUILD)/fixtures/.stamp
$(BUILD)/fixtures/.stamp: $(BUILD)/gen-fixtures
	@mkdir -p $(@D)
	$(Q)$(BUILD)/gen-fixtures $(@D) && touch $@

# Every header compiles on its own.
check-headers: $(HDRS:%.h=$(BUILD)/hdr/%.ok)
$(BUILD)/hdr/%.ok: %.h | $(LLAMA_INC)/llama.h
	@mkdir -p $(@D)
	$(Q)printf '#include "%s"\n' $< | $(CC) $(ALL_CFLAGS) -x c -fsyntax-only - && touch $@

test: $(QEVAL) check-headers fixtures $(TESTBIN)
	@QE_QEVAL=$(abspath $(QEVAL)) tests/run.sh $(BUILD)

bench: $(QEVAL) $(BENCHBIN)

# The same tests under AddressSanitizer and UBSan, in their own build folder.
asan:
	$(MAKE) BUILD=build-asan QEVAL=build-asan/qeval CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" test

# The fuzz targets as libFuzzer binaries (clang, ASan + UBSan), in build-fuzz/tests/:
#   FZ_SEED_DIR=corpus build-fuzz/tests/fuzz_plan corpus -max_total_time=60   (docs/errors.md, "Fuzzing")
FUZZBIN := $(patsubst tests/%.c,build-fuzz/tests/%,$(sort $(wildcard tests/fuzz_*.c)))
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang WERROR=0 CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -DQE_LIBFUZZER" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" $(FUZZBIN)

.PHONY: fuzz

llama-tools:
	@harness/tools.sh

llama-server:
	@harness/tools.sh llama-server

.PHONY: llama-tools llama-server

deps:
	@LLAMA_FROM_SOURCE=$(LLAMA_FROM_SOURCE) LLAMA_CUDA=$(LLAMA_CUDA) harness/deps.sh

install: $(QEVAL)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 qeval $(DESTDIR)$(PREFIX)/bin/qeval

clean:
	rm -rf $(BUILD) build-asan build-fuzz qeval

distclean: clean
	rm -rf .deps
