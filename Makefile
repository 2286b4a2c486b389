# Thin wrapper over CMake. Every target first installs the missing system
# packages of what it needs through scripts/install-deps.sh: build and
# install need only the build group; test, demo, bench and package add
# theirs.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# What a target needs, set per target below; GNU make hands a target's
# values to its prerequisites (configure, deps).
DEPS = build
WITH_TESTS = OFF
WITH_BENCH = OFF
test check-format format fuzz: DEPS = build test
test: WITH_TESTS = ON
# make test runs every bench program for a second (bench_smoke).
test: WITH_BENCH = ON
demo: DEPS = build demo
bench: DEPS = build bench
bench: WITH_BENCH = ON
package: DEPS = build package

.PHONY: all deps configure build test check-format format demo bench \
        install package test-asan test-tsan fuzz soak clean

all: build

deps:
	@scripts/install-deps.sh $(DEPS)

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCRPC_BUILD_TESTS=$(WITH_TESTS) -DCRPC_BUILD_BENCH=$(WITH_BENCH) \
	  $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

check-format: deps
	@scripts/check-format.sh

format: deps
	@scripts/check-format.sh --fix

test: build check-format
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same suites built with AddressSanitizer + UndefinedBehaviorSanitizer,
# and with ThreadSanitizer.
test-asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan BUILD_TYPE=Debug \
	  CMAKE_FLAGS="-DCRPC_ASAN=ON -DCRPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)"

test-tsan:
	@$(MAKE) --no-print-directory test BUILD=build-tsan BUILD_TYPE=Debug \
	  CMAKE_FLAGS="-DCRPC_TSAN=ON -DCRPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)"

# The libFuzzer targets (tests/fuzz), built with clang in build-fuzz/, each
# run for FUZZ_SECONDS after its seeds; FUZZ_TARGETS picks some. New inputs
# go to build-fuzz/fuzz-corpus/, crashes to build-fuzz/fuzz-crashes/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= all
fuzz: deps
	@CRPC_FUZZ_JOBS=$(JOBS) tests/fuzz/run.sh build build-fuzz
	@tests/fuzz/run.sh run build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The soak test (tests/soak/README.md): crpc-server from the test-asan
# build under mixed load from crpc's, grpcio's and grpc-js's clients for
# SOAK_SECONDS, then its memory, shutdown and sanitizer reports checked.
SOAK_SECONDS ?= 120
soak:
	@$(MAKE) --no-print-directory build BUILD=build-asan BUILD_TYPE=Debug \
	  WITH_TESTS=ON DEPS="build test" \
	  CMAKE_FLAGS="-DCRPC_ASAN=ON -DCRPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)"
	@tests/soak/soak.py build-asan . --seconds $(SOAK_SECONDS)

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package $(BUILD)/crpc_<version>_<arch>.deb of what install
# installs, under /usr (cmake/CrpcPackage.cmake).
package: build
	@cd $(BUILD) && cpack -G DEB

clean:
	rm -rf build build-asan build-tsan build-fuzz
