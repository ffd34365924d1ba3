# Thin wrapper over CMake + CTest. `make demo` and `make test` are the two commands of the README.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps demo test asan bench clean

all: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps --check || scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

demo: all
	$(BUILD)/tinyllm demo

test: all
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build folder.
asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTL_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

bench: all
	bench/run $(BUILD)

clean:
	rm -rf $(BUILD) build-asan
