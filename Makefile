# A thin wrapper over meson: `make demo` and `make test` on a fresh Debian 12.
#
#   make deps    install missing Debian build dependencies (apt-get, via sudo
#                when not root)
#   make build   configure build/ with meson and compile
#   make demo    build, then run the showcase examples/hello-bh and the
#                benchmark bench/gaio-bench --quick (if built)
#   make test    build, then the whole suite seven ways: plain, the Spin model
#                check (in build/), valgrind, clang (build-clang/, so the
#                wait-free check reads clang's machine code too), clang
#                ASan+UBSan (build-asan/), ThreadSanitizer (build-tsan/, every
#                suite) and the fuzz suite (test-fuzz)
#   make test-clang  clang, unsanitized -O2, in build-clang/: the whole suite
#                but the Spin model (which does not depend on the compiler)
#   make test-asan   clang + ASan/UBSan in build-asan/ (clang's ASan checks
#                atomic accesses; GCC's does not instrument them)
#   make test-tsan   GCC + ThreadSanitizer in build-tsan/: every suite
#   make test-fuzz  clang + ASan/UBSan in build-fuzz/: replay the fuzz corpus,
#                then fuzz for 45 s (meson test suite 'fuzz')
#   make fuzz    fuzz for FUZZ_SECONDS (600) from tests/fuzz/corpus; new inputs
#                go to build-fuzz/fuzz-corpus/, crashes to build-fuzz/fuzz-artifacts/
#
# Plain meson does the same: see README.md.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_CLANG ?= build-clang
BUILD_FUZZ ?= build-fuzz
# The clang of the clang setups: build-clang/, build-asan/ and build-fuzz/.
CLANG      ?= clang
FUZZ_CC    ?= $(CLANG)
FUZZ_SECONDS ?= 600
MESON      ?= meson
# CI turns warnings into errors; a developer's build does not.
MESON_ARGS ?= $(if $(CI),-Dwerror=true)
# Setup arguments of the sanitizer builds. In variables: a comma written in a
# $(call) argument would split it ("address,undefined" lost UBSan).
ASAN_ARGS  = -Db_sanitize=address,undefined -Db_lundef=false -Dexamples=false -Dbench=false
TSAN_ARGS  = -Db_sanitize=thread -Dexamples=false -Dbench=false

# libuv1-dev, libevent-dev and libsystemd-dev: the peers bench/gaio-bench
# measures gaio against (each optional to meson).
DEB_PACKAGES = build-essential meson ninja-build pkg-config libglib2.0-dev \
               libglib2.0-bin gettext valgrind libasan8 libubsan1 libtsan2 \
               libuv1-dev libevent-dev libsystemd-dev spin
# clang and its sanitizer and libFuzzer runtimes: build-clang/, build-asan/
# and the fuzz harness (tests/fuzz). binutils' objdump (build-essential) reads
# the machine code for tests/check-wait-free.py, clang's as well as GCC's.
DEB_PACKAGES += clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo test test-plain test-valgrind test-clang test-asan \
        test-tsan fuzz-build test-fuzz fuzz clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing build dependencies:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# configure_dir DIR EXTRA-ARGS: set up once, reconfigure when meson files change.
define configure_dir
	@if [ -f $(1)/build.ninja ]; then :; \
	else $(MESON) setup $(1) $(MESON_ARGS) $(2); fi
endef

# configure_clang_dir DIR EXTRA-ARGS: the same with CC=clang. A DIR configured
# with another compiler (build-asan/ was GCC's) is made anew: meson cannot
# change the compiler of a build dir.
define configure_clang_dir
	@if [ -f $(1)/build.ninja ] && \
	    grep -A1 '^rule c_COMPILER' $(1)/build.ninja | grep -q clang; then :; \
	else rm -rf $(1) && CC=$(CLANG) $(MESON) setup $(1) $(MESON_ARGS) $(2); fi
endef

build: deps
	$(call configure_dir,$(BUILD),)
	$(MESON) compile -C $(BUILD)

demo: build
	./$(BUILD)/examples/hello-bh
	@if [ -x ./$(BUILD)/bench/gaio-bench ]; then ./$(BUILD)/bench/gaio-bench --quick; fi

test: test-plain test-valgrind test-clang test-asan test-tsan test-fuzz

test-plain: build
	$(MESON) test -C $(BUILD) --print-errorlogs

test-valgrind: build
	$(MESON) test -C $(BUILD) --setup valgrind --print-errorlogs

# clang without sanitizers, -O2 (debugoptimized): clang's warnings, and
# check-wait-free.py on clang's machine code (B13 must hold for both
# compilers). The Spin model runs spin and pan, not gaio: test-plain ran it.
test-clang: deps
	$(call configure_clang_dir,$(BUILD_CLANG),-Dbuildtype=debugoptimized)
	$(MESON) compile -C $(BUILD_CLANG)
	$(MESON) test -C $(BUILD_CLANG) --no-suite model --print-errorlogs

# clang, whose ASan also checks atomic loads, stores and read-modify-writes
# (GCC's leaves them out). The sanitizer runtime is linked into the programs,
# not into libgaio, hence -Db_lundef=false.
test-asan: deps
	$(call configure_clang_dir,$(BUILD_ASAN),$(ASAN_ARGS))
	$(MESON) compile -C $(BUILD_ASAN)
	$(MESON) test -C $(BUILD_ASAN) --print-errorlogs

# Every suite that is built here (the sanitizer builds leave out the Spin
# model, which runs spin and not gaio, and check-wait-free, which reads
# uninstrumented machine code).
test-tsan: deps
	$(call configure_dir,$(BUILD_TSAN),$(TSAN_ARGS))
	$(MESON) compile -C $(BUILD_TSAN)
	$(MESON) test -C $(BUILD_TSAN) --print-errorlogs

# The libFuzzer harness needs clang; its build dir is clang's, ASan+UBSan.
fuzz-build: deps
	@if [ -f $(BUILD_FUZZ)/build.ninja ]; then :; \
	else CC=$(FUZZ_CC) $(MESON) setup $(BUILD_FUZZ) $(MESON_ARGS) -Dfuzzing=true $(ASAN_ARGS); fi
	$(MESON) compile -C $(BUILD_FUZZ)

test-fuzz: fuzz-build
	$(MESON) test -C $(BUILD_FUZZ) --suite fuzz --print-errorlogs

fuzz: fuzz-build
	mkdir -p $(BUILD_FUZZ)/fuzz-corpus $(BUILD_FUZZ)/fuzz-artifacts
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./$(BUILD_FUZZ)/tests/fuzz/fuzz-aio \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=512 \
	  -error_exitcode=1 -timeout_exitcode=1 \
	  -print_final_stats=1 -artifact_prefix=$(BUILD_FUZZ)/fuzz-artifacts/ \
	  $(BUILD_FUZZ)/fuzz-corpus tests/fuzz/corpus

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_CLANG) $(BUILD_FUZZ)
