# Cross-compiling for 64-bit ARM (Raspberry Pi 4/5) from x86-64 Debian: crossbuild-essential-arm64,
# the arm64 -dev packages (dpkg --add-architecture arm64), qemu-user-static to run the tests.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# ctest runs the programs under user-mode qemu; TL_QEMU_CPU picks the emulated core
# (cortex-a72: ARMv8.0 like the Pi 4, no dot product; max: every extension, sdot included).
set(TL_QEMU_CPU "max" CACHE STRING "the CPU qemu-aarch64 emulates for the tests")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L /usr/aarch64-linux-gnu -cpu ${TL_QEMU_CPU})
