# mlplane top-level Makefile: thin wrapper over CMake + ctest.
#   make deps   install the Debian packages the build needs (idempotent)
#   make        release build in build/
#   make test   deps + build + every test through ctest (with the k8s schema validator when
#               ../shared/k8s-schemas and npm are there: scripts/k8s-validator.sh)
#   make demo   deps + build + the breast-cancer pipeline end to end
#   make asan   every test under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench  every benchmark; make bench-NAME one of them (bench-steps, bench-tracking, bench-sched,
#               bench-serving, bench-drift)
#   make soak   no run lost: 5 rounds of 500 runs submitted at once, plain and cpu: 1 (bench/sched/soak.sh; part of bench)

BUILD      ?= build
ASAN_BUILD ?= build-asan
MAKEFLAGS  += --no-print-directory
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CC         ?= cc

DEB_PKGS = build-essential cmake pkg-config libfyaml-dev libjansson-dev libsqlite3-dev \
           libxgboost-dev libsodium-dev libcmocka-dev libgsl-dev libcsv-dev \
           libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev jq curl sqlite3

# Packages only the tests use (not in the image's build stage): promtool and a real Prometheus.
# Where they cannot be installed, the tests that need them say "skip".
TEST_PKGS = prometheus openssl

.PHONY: all build deps test demo asan bench bench-steps bench-tracking bench-sched bench-serving bench-drift soak clean

all: build

deps:
	@./scripts/deps.sh $(DEB_PKGS)

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps build
	@./scripts/deps.sh $(TEST_PKGS) || echo "deps: $(TEST_PKGS) could not be installed: the tests that need it skip"
	@V=$$(./scripts/k8s-validator.sh $(BUILD)/k8s-validator); \
	  cd $(BUILD) && MLPLANE_K8S_SCHEMAS="$$V" ctest --output-on-failure -j $(JOBS)

demo: deps build
	@./examples/breast-cancer/demo.sh $(BUILD)/mlplane

asan: deps
	@./scripts/deps.sh $(TEST_PKGS) || echo "deps: $(TEST_PKGS) could not be installed: the tests that need it skip"
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMLPLANE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@V=$$(./scripts/k8s-validator.sh $(ASAN_BUILD)/k8s-validator); \
	  cd $(ASAN_BUILD) && MLPLANE_K8S_SCHEMAS="$$V" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

bench: bench-steps bench-tracking bench-sched bench-serving bench-drift soak

bench-steps: deps build
	@./bench/steps/run.sh $(BUILD)

bench-tracking: deps build
	@./bench/tracking/run.sh $(BUILD)

bench-sched: deps build
	@./bench/sched/run.sh $(BUILD)

bench-serving: deps build
	@./bench/serving/run.sh $(BUILD)

bench-drift: deps build
	@./bench/drift/run.sh $(BUILD)

soak: deps build
	@./bench/sched/soak.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
