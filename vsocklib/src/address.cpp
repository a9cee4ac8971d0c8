#include "vsocklib/address.hpp"

#include <limits>
#include "vsocklib/number.hpp"

namespace vsocklib {
namespace {

[[noreturn]] void fail(std::string_view text, const std::string& why) {
  throw address_error("bad address \"" + std::string(text) + "\": " + why);
}

std::uint32_t parse_number(std::string_view text, std::string_view part, std::string_view what,
                           std::uint64_t max) {
  const auto parsed = parse_unsigned(part, 0, std::numeric_limits<std::uint64_t>::max());
  if (!parsed) fail(text, std::string(what) + " \"" + std::string(part) + "\" is not a number");
  const std::uint64_t v = *parsed;
  if (v > max) {
    fail(text, std::string(what) + " " + std::string(part) + " is out of range (max " +
                   std::to_string(max) + ")");
  }
  return static_cast<std::uint32_t>(v);
}

// The port is whatever follows the last colon, so paths and IPv6 hosts may contain colons.
std::pair<std::string_view, std::string_view> split_last(std::string_view text,
                                                         std::string_view rest,
                                                         std::string_view expected) {
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    fail(text, "expected " + std::string(expected));
  }
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

}  // namespace

address parse_address(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    fail(text, "missing transport prefix (vsock:, vsock-seqpacket:, hvsock:, unix:, tcp:)");
  }
  const std::string_view scheme = text.substr(0, colon);
  const std::string_view rest = text.substr(colon + 1);
  address a;

  if (scheme == "vsock" || scheme == "vsock-seqpacket") {
    a.kind = scheme == "vsock" ? transport::vsock : transport::vsock_seqpacket;
    auto [cid, port] = split_last(text, rest, "CID:PORT");
    if (cid == "any" || cid == "-1") {
      a.cid = kCidAny;
    } else {
      // CID 0xFFFFFFFF is VMADDR_CID_ANY, spelled "any".
      a.cid = parse_number(text, cid, "CID", kMaxCid);
    }
    a.port = parse_number(text, port, "port", 0xFFFFFFFEu);
    return a;
  }
  if (scheme == "hvsock") {
    a.kind = transport::hvsock;
    auto [path, port] = split_last(text, rest, "UDS_PATH:PORT");
    if (path.empty()) fail(text, "empty Unix socket path");
    a.path = std::string(path);
    a.port = parse_number(text, port, "port", 0xFFFFFFFEu);
    return a;
  }
  if (scheme == "unix") {
    a.kind = transport::unix_socket;
    if (rest.empty()) fail(text, "empty Unix socket path");
    // sun_path holds 108 bytes including the terminating NUL.
    if (rest.size() > 107) fail(text, "Unix socket path longer than 107 bytes");
    a.path = std::string(rest);
    return a;
  }
  if (scheme == "tcp") {
    a.kind = transport::tcp;
    auto [host, port] = split_last(text, rest, "HOST:PORT");
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
      fail(text, "IPv6 host \"" + std::string(host) + "\" must be in brackets, e.g. [::1]");
    }
    if (host.empty()) fail(text, "empty host");
    // A host name or address never holds brackets, spaces or control bytes; refusing them
    // keeps to_string() a form that parses back to the same address.
    for (const char c : host) {
      if (c == '[' || c == ']' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        fail(text, "host \"" + std::string(host) + "\" holds a bracket, space or control byte");
      }
    }
    a.host = std::string(host);
    a.port = parse_number(text, port, "port", 65535);
    return a;
  }
  fail(text, "unknown transport \"" + std::string(scheme) +
                 "\" (expected vsock, vsock-seqpacket, hvsock, unix or tcp)");
}

std::string connect_problem(const address& a) {
  const bool vsock = a.kind == transport::vsock || a.kind == transport::vsock_seqpacket;
  if (vsock && a.cid == kCidAny) {
    return a.to_string() + ": CID any is for listening; a connection needs the peer's CID";
  }
  if (a.kind == transport::tcp && a.port == 0) {
    return a.to_string() + ": port 0 is for listening; a connection needs the peer's port";
  }
  return {};
}

std::string address::to_string() const {
  auto cid_text = [&] { return cid == kCidAny ? std::string("any") : std::to_string(cid); };
  switch (kind) {
    case transport::vsock: return "vsock:" + cid_text() + ":" + std::to_string(port);
    case transport::vsock_seqpacket:
      return "vsock-seqpacket:" + cid_text() + ":" + std::to_string(port);
    case transport::hvsock: return "hvsock:" + path + ":" + std::to_string(port);
    case transport::unix_socket: return "unix:" + path;
    case transport::tcp:
      return "tcp:" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
             std::to_string(port);
  }
  return "?";
}

}  // namespace vsocklib
