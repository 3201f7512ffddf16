# The two commands the README promises: `make demo` and `make test`.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build demo test test-release test-asan test-clang test-fuzz test-cross test-tsan test-valgrind clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)

test: test-release test-asan test-fuzz test-clang test-cross test-tsan

test-release: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDILL_SANITIZE=ON \
	      -DDILL_BENCH=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest -j $(JOBS) --output-on-failure

# The same suite built by clang (compilers optimise coroutine code
# differently), run on the epoll path alone: DILL_URING=0 keeps io_uring off,
# as on kernels without it.
test-clang: deps
	CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DDILL_BENCH=OFF >/dev/null
	cmake --build build-clang -j $(JOBS)
	cd build-clang && DILL_URING=0 ctest -j $(JOBS) --output-on-failure

# The tests that run several threads, under ThreadSanitizer.
TSAN_TESTS = threads tchan workers hub hub_redis
tsan_space := $(subst ,, )
test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DDILL_TSAN=ON \
	      -DDILL_BENCH=OFF -DDILL_EXAMPLES=OFF >/dev/null
	cmake --build build-tsan -j $(JOBS) $(patsubst %,--target test_%,$(TSAN_TESTS))
	cd build-tsan && ctest -j $(JOBS) --output-on-failure \
	    -R '^($(subst $(tsan_space),|,$(TSAN_TESTS)))$$'

# Every libFuzzer target for a few seconds on its seed corpus.
test-fuzz: deps
	sh scripts/fuzz-smoke.sh build-fuzz 3 60

# aarch64, armhf, s390x and riscv64 under qemu-user, musl, and the portable
# paths on x86-64 (scripts/cross-test.sh; a platform without its tools is
# skipped with a message).
test-cross: deps
	JOBS=$(JOBS) sh scripts/cross-test.sh build-cross

test-valgrind: build
	sh scripts/valgrind.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-clang build-fuzz build-cross build-tsan
