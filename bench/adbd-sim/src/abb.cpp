// abb: and abb_exec: — a simulated Android Binder Bridge. A real device hands the arguments
// to a system service (`cmd package list packages`); adbd-sim answers a few commands with
// fixed output, enough for adb's abb, abb_exec and streamed `adb install` to run their
// protocol end to end. abb: answers in shell protocol packets with an exit status;
// abb_exec: answers raw, like exec:.
#include <spdlog/logger.h>

#include "services.hpp"
#include "vsocklib/number.hpp"

namespace adbd_sim::detail {
namespace {

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// The fixed package list of the simulated device.
constexpr std::string_view kPackages =
    "package:android\n"
    "package:com.android.shell\n"
    "package:dev.vsocklib.adbdsim\n";

struct abb_result {
  std::string out;
  std::string err;
  std::uint8_t status = 0;
  std::uint64_t read = 0;  ///< bytes of input to read first (package install -S N)
};

abb_result answer(const std::vector<std::string>& args) {
  abb_result r;
  const auto is = [&](std::initializer_list<std::string_view> want) {
    if (args.size() < want.size()) return false;
    std::size_t i = 0;
    for (auto w : want) {
      if (args[i++] != w) return false;
    }
    return true;
  };
  if (is({"package", "list", "packages"}) && args.size() == 3) {
    r.out = kPackages;
    return r;
  }
  if (is({"package", "install", "-S"}) && args.size() >= 4) {
    // adb install, streamed: "package install -S SIZE [options]", then SIZE bytes of APK.
    auto n = vsocklib::parse_unsigned(args[3], 0, std::uint64_t{1} << 40);
    if (n) {
      r.read = *n;
      r.out = "Success\n";
      return r;
    }
  }
  std::string joined;
  for (const auto& a : args) joined += (joined.empty() ? "" : " ") + a;
  r.err = "adbd-sim: abb: no simulated command \"" + joined +
          "\" (offered: package list packages, package install -S SIZE)\n";
  r.status = 1;
  return r;
}

// Reads and drops N bytes of raw stream input (the APK of a streamed install).
asio::awaitable<bool> drain(adb_stream& s, std::uint64_t n) {
  while (n > 0) {
    if (!co_await s.async_wait_readable()) co_return false;
    auto a = s.available();
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(a.size(), n));
    s.consume(k);
    n -= k;
  }
  co_return true;
}

}  // namespace

asio::awaitable<void> run_abb(adb_stream& s, const std::vector<std::string>& args, bool shell_v2) {
  abb_result r = answer(args);
  s.connection().log().debug("{}: {}: {} arguments, exit {}", s.connection().peer(),
                             shell_v2 ? "abb" : "abb_exec", args.size(), r.status);
  if (r.read > 0) {
    // Only abb_exec carries raw input; over abb the bytes would be stdin packets, which
    // adb does not use for install.
    if (shell_v2) co_return;
    const bool drained = co_await drain(s, r.read);  // (no co_await inside || for GCC 12)
    if (!drained) co_return;
  }
  if (!shell_v2) {
    // Raw: stdout and stderr share the stream, as with exec:.
    if (!co_await s.async_write(bytes(r.out))) co_return;
    co_await s.async_write(bytes(r.err));
    co_return;
  }
  if (!r.out.empty()) {
    if (!co_await send_shell_packet(s, shell_packet::kStdout, bytes(r.out))) co_return;
  }
  if (!r.err.empty()) {
    if (!co_await send_shell_packet(s, shell_packet::kStderr, bytes(r.err))) co_return;
  }
  const std::byte status{r.status};
  co_await send_shell_packet(s, shell_packet::kExit, std::span<const std::byte>(&status, 1));
}

}  // namespace adbd_sim::detail
