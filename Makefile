# A thin wrapper over meson: `make demo` and `make test` on a fresh Debian 12.
#
#   make deps    install missing Debian build dependencies (apt-get, via sudo
#                when not root)
#   make build   configure build/ with meson and compile
#   make demo    build, then run the showcase examples/hello-bh and the
#                benchmark bench/gaio-bench --quick (if built)
#   make test    build, then the whole suite: plain, valgrind, ASan+UBSan
#                (build-asan/) and ThreadSanitizer (build-tsan/, thread and
#                signal suites)
#
# Plain meson does the same: see README.md.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
MESON      ?= meson
# CI turns warnings into errors; a developer's build does not.
MESON_ARGS ?= $(if $(CI),-Dwerror=true)

# libuv1-dev, libevent-dev and libsystemd-dev: the peers bench/gaio-bench
# measures gaio against (each optional to meson).
DEB_PACKAGES = build-essential meson ninja-build pkg-config libglib2.0-dev \
               libglib2.0-bin gettext valgrind libasan8 libubsan1 libtsan2 \
               libuv1-dev libevent-dev libsystemd-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo test test-plain test-valgrind test-asan test-tsan clean

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

build: deps
	$(call configure_dir,$(BUILD),)
	$(MESON) compile -C $(BUILD)

demo: build
	./$(BUILD)/examples/hello-bh
	@if [ -x ./$(BUILD)/bench/gaio-bench ]; then ./$(BUILD)/bench/gaio-bench --quick; fi

test: test-plain test-valgrind test-asan test-tsan

test-plain: build
	$(MESON) test -C $(BUILD) --print-errorlogs

test-valgrind: build
	$(MESON) test -C $(BUILD) --setup valgrind --print-errorlogs

test-asan: deps
	$(call configure_dir,$(BUILD_ASAN),-Db_sanitize=address,undefined -Dexamples=false -Dbench=false)
	$(MESON) compile -C $(BUILD_ASAN)
	$(MESON) test -C $(BUILD_ASAN) --print-errorlogs

test-tsan: deps
	$(call configure_dir,$(BUILD_TSAN),-Db_sanitize=thread -Dexamples=false -Dbench=false)
	$(MESON) compile -C $(BUILD_TSAN)
	$(MESON) test -C $(BUILD_TSAN) --suite threads --suite signals --print-errorlogs

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)
