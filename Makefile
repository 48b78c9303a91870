# Souk Live: the two commands are `make run` and `make test` (see README.md).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
# CI treats warnings as errors; a local build only shows them.
WERROR := $(if $(CI),ON,OFF)
CMAKE_COMMON := -DSOUK_WERROR=$(WERROR)

.PHONY: all deps build build-asan js-deps run test clean

# The JavaScript test peers' npm packages (exact versions in each package-lock.json):
# hls.js + playwright-core for the browser test, socket.io-client + ws for the
# realtime tests. `npm ci` runs only when a lock file changed since the last install.
# No browser download: the browser test drives Debian's /usr/bin/chromium.
JS_TEST_DIRS := tests/browser tests/realtime
JS_STAMPS := $(foreach d,$(JS_TEST_DIRS),$(d)/node_modules/.npm-ci.stamp)

all: build

deps:
	@./tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON) >/dev/null
	@cmake --build $(BUILD_DIR)/release -j$(JOBS)

# ASan + UBSan build of the unit tests.
build-asan: deps
	@cmake -S . -B $(BUILD_DIR)/asan -DCMAKE_BUILD_TYPE=Debug -DSOUK_SANITIZE=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build $(BUILD_DIR)/asan -j$(JOBS) --target unit_tests

js-deps: $(JS_STAMPS)

%/node_modules/.npm-ci.stamp: %/package.json %/package-lock.json | deps
	@echo "== npm ci in $*"
	@cd $* && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

run: build
	$(BUILD_DIR)/release/app/souk-live serve

test: build build-asan js-deps
	@echo "== unit tests under ASan+UBSan"
	@cd $(BUILD_DIR)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -L unit
	@echo "== unit and integration tests (Release)"
	@cd $(BUILD_DIR)/release && ctest --output-on-failure

clean:
	rm -rf $(BUILD_DIR)
