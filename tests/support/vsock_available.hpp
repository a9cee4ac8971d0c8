// Tests that need a real AF_VSOCK transport skip, saying why, when the kernel has none
// (these build machines); in the lab (VSOCK_LAB=1 or VSOCKLIB_REQUIRE_VSOCK=1) a missing
// transport is a failure instead, so a lab run cannot pass by skipping.
#pragma once

#include <cstdlib>

#include <gtest/gtest.h>

#include "vsocklib/vsock.hpp"

#define VSOCKLIB_REQUIRE_VSOCK_LOOPBACK()                                              \
  do {                                                                                 \
    if (!::vsocklib::vsock::loopback_available()) {                                    \
      if (std::getenv("VSOCKLIB_REQUIRE_VSOCK") || std::getenv("VSOCK_LAB")) {         \
        FAIL() << "vsock_loopback is not loaded, but this run requires real AF_VSOCK"; \
      }                                                                                \
      GTEST_SKIP() << "no vsock loopback transport here (vsock_loopback not loaded); " \
                      "these tests run for real in the lab: ctest -L lab";             \
    }                                                                                  \
  } while (0)
