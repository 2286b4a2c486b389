# Thin wrapper over CMake. Every target first installs missing system
# packages through scripts/install-deps.sh.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test check-format format demo bench \
        install test-asan test-tsan clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

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

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan
