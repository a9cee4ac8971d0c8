#include "vsocklib/address.hpp"

#include <gtest/gtest.h>

namespace vsocklib {
namespace {

TEST(Address, ParsesEveryTransport) {
  auto v = parse_address("vsock:3:5555");
  EXPECT_EQ(v.kind, transport::vsock);
  EXPECT_EQ(v.cid, 3u);
  EXPECT_EQ(v.port, 5555u);

  auto any = parse_address("vsock:any:5555");
  EXPECT_EQ(any.cid, kCidAny);

  auto sp = parse_address("vsock-seqpacket:1:9000");
  EXPECT_EQ(sp.kind, transport::vsock_seqpacket);
  EXPECT_FALSE(sp.is_stream());

  auto hv = parse_address("hvsock:/run/fc/v.sock:52");
  EXPECT_EQ(hv.kind, transport::hvsock);
  EXPECT_EQ(hv.path, "/run/fc/v.sock");
  EXPECT_EQ(hv.port, 52u);

  auto ux = parse_address("unix:/tmp/a:b.sock");
  EXPECT_EQ(ux.kind, transport::unix_socket);
  EXPECT_EQ(ux.path, "/tmp/a:b.sock");

  auto t4 = parse_address("tcp:127.0.0.1:80");
  EXPECT_EQ(t4.host, "127.0.0.1");
  EXPECT_EQ(t4.port, 80u);

  auto t6 = parse_address("tcp:[::1]:0");
  EXPECT_EQ(t6.host, "::1");
  EXPECT_EQ(t6.port, 0u);
}

TEST(Address, ToStringRoundTrips) {
  for (const char* text :
       {"vsock:3:5555", "vsock:any:1", "vsock-seqpacket:1:9000", "hvsock:/run/v.sock:52",
        "unix:/tmp/x", "unix:@abstract", "tcp:localhost:5037", "tcp:[::1]:80"}) {
    EXPECT_EQ(parse_address(text).to_string(), text);
    EXPECT_EQ(parse_address(parse_address(text).to_string()), parse_address(text));
  }
}

void expect_error(const char* text, const char* names) {
  try {
    parse_address(text);
    ADD_FAILURE() << text << " parsed";
  } catch (const address_error& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos)
        << "error for " << text << " was: " << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Address, ErrorsNameTheBadPart) {
  expect_error("5555", "missing transport prefix");
  expect_error("vsok:3:5555", "unknown transport \"vsok\"");
  expect_error("vsock:x:5", "CID \"x\"");
  expect_error("vsock:3", "expected CID:PORT");
  expect_error("vsock:3:", "port \"\"");
  expect_error("vsock:3:99999999999", "port 99999999999 is out of range");
  expect_error("vsock:4294967295:1", "CID 4294967295 is out of range");
  expect_error("tcp:localhost:65536", "port 65536 is out of range");
  expect_error("tcp::1:80", "must be in brackets");
  expect_error("tcp::80", "empty host");
  expect_error("tcp:[[::1]]:80", "holds a bracket");
  expect_error("tcp:local host:80", "holds a bracket, space or control byte");
  expect_error("unix:", "empty Unix socket path");
  expect_error("hvsock::5", "empty Unix socket path");
  expect_error("hvsock:/x.sock:p", "port \"p\"");
  expect_error(("unix:/" + std::string(200, 'a')).c_str(), "longer than 107");
}

// Only hybrid vsock turns our half-close into a full close (docs/vsocklib.md).
TEST(Address, ListenOnlyAddressesCannotBeConnectedTo) {
  using vsocklib::connect_problem;
  using vsocklib::parse_address;
  EXPECT_EQ(connect_problem(parse_address("vsock:3:5555")), "");
  EXPECT_EQ(connect_problem(parse_address("tcp:127.0.0.1:1")), "");
  EXPECT_EQ(connect_problem(parse_address("unix:/x")), "");
  EXPECT_EQ(connect_problem(parse_address("vsock:any:5555")),
            "vsock:any:5555: CID any is for listening; a connection needs the peer's CID");
  EXPECT_NE(connect_problem(parse_address("vsock-seqpacket:-1:1")), "");
  EXPECT_NE(connect_problem(parse_address("tcp:[::1]:0")), "");
}

TEST(Address, HalfCloseReachesThePeerExceptOverHybridVsock) {
  for (const char* a :
       {"vsock:3:5000", "unix:/run/x.sock", "tcp:127.0.0.1:1", "vsock-seqpacket:3:1"}) {
    EXPECT_TRUE(parse_address(a).passes_half_close()) << a;
  }
  EXPECT_FALSE(parse_address("hvsock:/run/vm.sock:5000").passes_half_close());
}

}  // namespace
}  // namespace vsocklib
