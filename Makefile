# roamquic — the commands a person (and CI) runs. Everything builds under build/.
#   make demo        the migration demo: `roamquic demo` on loopback (builds only the tool)
#   make test        everything CI runs: deps, format check, gcc release build + suite,
#                    clang ASan/UBSan build + suite + fuzzers (the last ctest ends the log)
#   make test-quick  unit tests on the release build, for fast iteration
#   make soak        long sweeps: more iterations, longer fuzzing with random seeds
#   make bench       benchmarks (bench/), side by side with peers measured in the same run

JOBS          ?= $(shell nproc)
FUZZ_SECONDS  ?= 30
# Randomized suites run base × scale iterations; the sanitizer build runs fewer.
SCALE_RELEASE ?= 1
SCALE_ASAN    ?= 0.2
CTEST         = ctest --output-on-failure -j$(JOBS)

RELEASE_DIR = build/release
ASAN_DIR    = build/asan
SOAK_DIR    = build/soak
SOURCES     = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps release asan test test-quick soak bench demo format format-check clean

all: release

deps:
	@scripts/deps.sh

release: deps
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_C_FLAGS_RELEASE=-O2 -DRQ_TEST_HOOKS=ON >/dev/null
	@cmake --build $(RELEASE_DIR) -j$(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DRQ_SANITIZE=ON -DRQ_FUZZ=ON -DRQ_TEST_HOOKS=ON \
	    -DRQ_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(ASAN_DIR) -j$(JOBS)

test: deps format-check release asan
	cd $(RELEASE_DIR) && RQ_TEST_SCALE=$(SCALE_RELEASE) $(CTEST)
	cd $(ASAN_DIR) && RQ_TEST_SCALE=$(SCALE_ASAN) $(CTEST)

test-quick: release
	cd $(RELEASE_DIR) && $(CTEST) -L unit

soak: deps
	@cmake -S . -B $(SOAK_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DRQ_SANITIZE=ON -DRQ_FUZZ=ON -DRQ_TEST_HOOKS=ON \
	    -DRQ_FUZZ_SECONDS=600 >/dev/null
	@cmake --build $(SOAK_DIR) -j$(JOBS)
	cd $(SOAK_DIR) && RQ_TEST_SCALE=20 RQ_FUZZ_SEED=0 $(CTEST)

bench: release
	$(RELEASE_DIR)/bench_crypto
	bench/bench_loopback.sh $(RELEASE_DIR)/roamquic

demo: deps
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_C_FLAGS_RELEASE=-O2 -DRQ_TEST_HOOKS=ON >/dev/null
	@cmake --build $(RELEASE_DIR) -j$(JOBS) --target roamquic_tool
	$(RELEASE_DIR)/roamquic demo

format:
	clang-format -i $(SOURCES)

format-check: deps
	@clang-format --dry-run --Werror $(SOURCES) && echo "format: clean"

clean:
	rm -rf build
