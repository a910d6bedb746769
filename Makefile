# The two commands: `make run` starts the panel, `make test` builds and runs
# every test. Both install missing Debian packages first. Meson does the work.
BUILD      ?= build
TEST_BUILD ?= build-test
STATE      ?= $(CURDIR)/.run
PORT       ?= 8080

.PHONY: all deps build run test bench deb clean

all: build

deps:
	@./scripts/install-deps

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja $(if $(wildcard package.json),node_modules/.stamp)
	ninja -C $(BUILD)

run: build
	@./scripts/run-panel $(BUILD) $(STATE) $(PORT)

test: deps $(if $(wildcard package.json),node_modules/.stamp)
	@./scripts/run-tests $(TEST_BUILD)

bench: build
	@./bench/run-all $(BUILD)

deb:
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
