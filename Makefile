# The two commands: `make run` starts the panel, `make test` builds and runs
# every test. Both first install the Debian packages that are missing (`make
# run` only those it needs, see scripts/install-deps), then the npm packages,
# and only then configure Meson, which does the work.
BUILD      ?= build
TEST_BUILD ?= build-test
STATE      ?= $(CURDIR)/.run
PORT       ?= 8080

# `make test` must end with its closing line ("N passed, N failed"), also when
# a test fails. GNU make prints "make: *** [Makefile:NN: test] Error 1" after
# any failed recipe line, with one exception: in question mode (-q), a line
# marked `+` (run even under -q, as recursive makes are) that exits 1 makes
# make exit 1 without a word. So `make test` runs in question mode, every line
# it needs is a `+` line, and scripts/run-tests exits only 0 or 1. The lines
# drop MAKEFLAGS so that no make they start (a package build, node-gyp)
# inherits question mode and silently does nothing. (`+` lines also run under
# `make -n`: `make -n test` runs the tests.)
ifeq ($(MAKECMDGOALS),test)
MAKEFLAGS += -q
endif
MAKEFLAGS += --no-print-directory
NOMAKE = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL

DEPS = run
test bench: DEPS = test
deb: DEPS = deb

.PHONY: all deps build run test bench deb clean

all: build

deps:
	+@$(NOMAKE) ./scripts/install-deps $(DEPS)

# npm's packages come before Meson is configured: the build installs htmx
# from node_modules, and a build dir configured without it would install a
# panel without htmx. `deps` brings node and npm.
node_modules/.stamp: package.json package-lock.json | deps
	+$(NOMAKE) npm ci --no-audit --no-fund
	+@touch $@

# Configured after `npm ci`, and configured again when the npm packages change.
$(BUILD)/build.ninja: node_modules/.stamp
	if [ -d $(BUILD)/meson-private ]; then meson setup --reconfigure $(BUILD); \
	else meson setup $(BUILD) --buildtype=debugoptimized; fi
	@touch $@

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	@./scripts/run-panel $(BUILD) $(STATE) $(PORT)

test: deps node_modules/.stamp
	+@$(NOMAKE) ./scripts/run-tests $(TEST_BUILD)

bench: build
	@./bench/run-all $(BUILD)

deb: deps node_modules/.stamp
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
