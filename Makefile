# Thin wrapper over CMake + CTest. `make demo` and `make test` are the two commands of the README.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps demo test asan asan-clang bench arm64 clean

all: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps --check || scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt | deps
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

# The same under clang's AddressSanitizer + UndefinedBehaviorSanitizer (other instrumentation and
# optimisations than gcc's), in build-asan-clang; ASAN_CLANG_CTEST passes ctest options (CI: -E ...).
# OMP_NUM_THREADS is unset for it: with it set to 1, LeakSanitizer 14 crashes at exit in
# test_gpt2_grad (its tracer reads a garbage dynamic-TLS range of libomp's threads: compiler-rt's bug).
ASAN_CLANG_CTEST ?=
asan-clang: deps
	@CC=clang cmake -S . -B build-asan-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTL_SANITIZE=ON >/dev/null
	@cmake --build build-asan-clang -j $(JOBS)
	@cd build-asan-clang && env -u OMP_NUM_THREADS ctest --output-on-failure -j $(JOBS) $(ASAN_CLANG_CTEST)

bench: all
	bench/run $(BUILD)

# A static 64-bit ARM tinyllm (build-arm64/tinyllm, for a Raspberry Pi) and the runtime's tests on
# it under qemu, for the plain and the dot-product NEON kernels.
arm64:
	@scripts/install-deps --arm64
	@cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
	       -DTL_NATIVE=OFF -DTL_STATIC=ON -DTL_CUDA=OFF >/dev/null
	@cmake --build build-arm64 -j $(JOBS) --target tinyllm test_kernels test_quant test_runtime bench_models
	scripts/test-arm64 build-arm64

clean:
	rm -rf $(BUILD) build-asan build-asan-clang build-arm64
