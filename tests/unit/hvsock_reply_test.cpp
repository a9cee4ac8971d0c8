// The hybrid vsock multiplexer's answer line, parsed without a socket (the fuzzer feeds the
// same function; tests/integration/hvsock_test.cpp covers the handshake on a real socket).
#include <gtest/gtest.h>

#include "vsocklib/connect.hpp"
#include "vsocklib/error.hpp"

namespace vsocklib {
namespace {

TEST(HvsockReply, OkWithTheHostPort) {
  std::uint32_t port = 7;
  EXPECT_FALSE(parse_hvsock_reply("OK 1073741824", port));
  EXPECT_EQ(port, 1073741824u);
}

TEST(HvsockReply, LenientAboutBlanksCarriageReturnAndTrailingText) {
  std::uint32_t port = 0;
  EXPECT_FALSE(parse_hvsock_reply("OK\t 52\r", port));
  EXPECT_EQ(port, 52u);
  EXPECT_FALSE(parse_hvsock_reply("OK 53 extra", port));
  EXPECT_EQ(port, 53u);
}

TEST(HvsockReply, OkWithoutANumberIsPortZero) {
  std::uint32_t port = 9;
  EXPECT_FALSE(parse_hvsock_reply("OK", port));
  EXPECT_EQ(port, 0u);
  port = 9;
  EXPECT_FALSE(parse_hvsock_reply("OK 99999999999", port));  // does not fit 32 bits
  EXPECT_EQ(port, 0u);
}

TEST(HvsockReply, AnythingElseIsARefusalAndLeavesThePortAlone) {
  for (const char* line : {"", "O", "ok 5", "FAILURE", " OK 5"}) {
    std::uint32_t port = 9;
    EXPECT_EQ(parse_hvsock_reply(line, port), make_error_code(errc::hvsock_refused)) << line;
    EXPECT_EQ(port, 9u) << line;
  }
}

}  // namespace
}  // namespace vsocklib
