# Cross-compiling for arm64 (aarch64) on Debian with its cross toolchain and multiarch
# libraries (docs/installing.md, "Cross-building for arm64"):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install crossbuild-essential-arm64 qemu-user \
#     libboost1.81-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64 libgtest-dev:arm64
#   cmake --preset arm64 && cmake --build --preset arm64 && ctest --preset arm64 -L unit
# Tests run under qemu-user: CMAKE_CROSSCOMPILING_EMULATOR makes gtest_discover_tests and
# ctest start every test binary through qemu-aarch64. The arm64 dynamic loader and
# libraries are the multiarch ones (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu),
# so no sysroot or binfmt registration is needed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

find_program(VSOCKLIB_QEMU_AARCH64 qemu-aarch64)
if(VSOCKLIB_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VSOCKLIB_QEMU_AARCH64})
endif()

# Packages come from the host's multiarch directories (/usr/lib/aarch64-linux-gnu/cmake,
# /usr/include is shared); programs (ccache, cmake helpers) are the build machine's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
