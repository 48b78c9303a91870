# Souk Live: the two commands are `make run` and `make test` (see README.md).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
# CI treats warnings as errors; a local build only shows them.
WERROR := $(if $(CI),ON,OFF)
CMAKE_COMMON := -DSOUK_WERROR=$(WERROR)

.PHONY: all deps build build-asan build-tsan js-deps run test tidy fuzz bench soak clean

# The JavaScript test peers' npm packages (exact versions in each package-lock.json):
# hls.js + playwright-core for the browser test, socket.io-client + ws for the
# realtime tests, @redocly/cli for the OpenAPI lint. `npm ci` runs only when a lock
# file changed since the last install. No browser download: the browser test drives
# Debian's /usr/bin/chromium.
JS_TEST_DIRS := tests/browser tests/realtime tests/openapi
JS_STAMPS := $(foreach d,$(JS_TEST_DIRS),$(d)/node_modules/.npm-ci.stamp)

all: build

deps:
	@./tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON) >/dev/null
	@cmake --build $(BUILD_DIR)/release -j$(JOBS)

# ASan + UBSan build of the unit tests and the fuzz corpus replays.
build-asan: deps
	@cmake -S . -B $(BUILD_DIR)/asan -DCMAKE_BUILD_TYPE=Debug -DSOUK_SANITIZE=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build $(BUILD_DIR)/asan -j$(JOBS) --target unit_tests fuzz_replays

# ThreadSanitizer build of the unit tests. `make test` runs the concurrent ones
# under it (the ctest label "tsan": the hub, the packager's lanes, the realtime
# rooms and everything else that runs on several threads; tests/unit/CMakeLists.txt).
build-tsan: deps
	@cmake -S . -B $(BUILD_DIR)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOUK_TSAN=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build $(BUILD_DIR)/tsan -j$(JOBS) --target unit_tests

js-deps: $(JS_STAMPS)

%/node_modules/.npm-ci.stamp: %/package.json %/package-lock.json | deps
	@echo "== npm ci in $*"
	@cd $* && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

run: build
	$(BUILD_DIR)/release/app/souk-live serve

# The ASan unit pass and the Release pass run the doctest cases in a random order
# (SOUK_TEST_SEED, new each run; tests/doctest_main.hpp): `make test
# SOUK_TEST_SEED=<n>` repeats a run's order. The TSan pass keeps the file order.
# The Release pass runs JOBS test files at once: each starts its own servers on
# ports it picks, and the files that encode video claim both cores (PROCESSORS).
ifndef SOUK_TEST_SEED
SOUK_TEST_SEED := $(shell od -An -N3 -tu4 /dev/urandom | tr -d ' ')
endif
test: build build-asan build-tsan js-deps
	@echo "== unit tests under ASan+UBSan (random order, SOUK_TEST_SEED=$(SOUK_TEST_SEED))"
	@cd $(BUILD_DIR)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  SOUK_TEST_SEED=$(SOUK_TEST_SEED) ctest --output-on-failure -L unit
	@echo "== concurrency tests under ThreadSanitizer"
	@cd $(BUILD_DIR)/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --output-on-failure -L tsan
	@echo "== unit and integration tests (Release; random order, SOUK_TEST_SEED=$(SOUK_TEST_SEED))"
	@cd $(BUILD_DIR)/release && SOUK_TEST_SEED=$(SOUK_TEST_SEED) ctest --output-on-failure -j$(JOBS)

# clang-tidy (.clang-tidy) over every source file of our libraries, app and tools,
# from the Release build's compile_commands.json; fails on any finding.
tidy: build
	@./tools/install-deps.sh tidy
	@run-clang-tidy -quiet -j$(JOBS) -p $(BUILD_DIR)/release \
	  '/(common|storage|ingest|packager|control-api|webhooks|app)/src/' > $(BUILD_DIR)/tidy.log 2>&1 \
	  || { grep -E 'warning:|error:' $(BUILD_DIR)/tidy.log | sort -u; echo "tidy: findings above (full log: $(BUILD_DIR)/tidy.log)"; exit 1; }
	@echo "tidy: clean"

# libFuzzer (clang) over every network-facing parser, FUZZ_SECONDS each. New
# inputs go to $(BUILD_DIR)/fuzz/corpus/<target> (add crashers and interesting
# ones to tests/fuzz/corpus/<target>, so `make test` replays them).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := handshake chunk_stream amf0 flv engineio http_api proxy_protocol forwarded \
  rtmp_session http_session engineio_session
fuzz:
	@./tools/install-deps.sh fuzz
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD_DIR)/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSOUK_FUZZ=ON -DSOUK_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_DIR)/fuzz -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD_DIR)/fuzz/corpus/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  if ! $(BUILD_DIR)/fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      -artifact_prefix=$(BUILD_DIR)/fuzz/ $(BUILD_DIR)/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	      > $(BUILD_DIR)/fuzz/$$t.log 2>&1; then \
	    tail -40 $(BUILD_DIR)/fuzz/$$t.log; echo "fuzz_$$t failed: see $(BUILD_DIR)/fuzz/$$t.log"; exit 1; \
	  fi; \
	  grep -E 'DONE|stat::number_of_executed_units' $(BUILD_DIR)/fuzz/$$t.log; \
	done

# Benchmarks side by side with the reference servers (nginx-rtmp, nginx, a Node
# socket.io server), not part of `make test`: see docs/BENCHMARKS.md. BENCH_ARGS
# passes options to tools/bench/bench.py (e.g. --only ingest,egress).
bench: build tools/bench/chat/node_modules/.npm-ci.stamp
	@./tools/install-deps.sh bench
	@python3 tools/bench/bench.py --build $(BUILD_DIR)/release --out $(BUILD_DIR)/bench $(BENCH_ARGS)

# The 30-minute soak: 50 publishers, 1,000 viewers, HLS players and chat.
SOAK_MINUTES ?= 30
soak: build tools/bench/chat/node_modules/.npm-ci.stamp
	@./tools/install-deps.sh bench
	@python3 tools/bench/bench.py --only soak --soak-minutes $(SOAK_MINUTES) \
	  --build $(BUILD_DIR)/release --out $(BUILD_DIR)/bench

clean:
	rm -rf $(BUILD_DIR)
