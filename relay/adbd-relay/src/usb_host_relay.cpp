#include "adbd_relay/usb_host_relay.hpp"

#include <algorithm>

#include <spdlog/logger.h>

#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

using namespace asio::experimental::awaitable_operators;
using vsocklib::use_tuple;
using namespace std::chrono_literals;

bool names(const usb_host_config& h, const adb_device_info& d) {
  return (h.serial.empty() || h.serial == d.serial) && (h.path.empty() || h.path == d.path);
}

std::string describe_match(const usb_host_config& h) {
  if (h.matches_any_device()) return "the first ADB device";
  std::string out = "the ADB device with";
  if (!h.serial.empty()) out += " serial " + h.serial;
  if (!h.serial.empty() && !h.path.empty()) out += " and";
  if (!h.path.empty()) out += " path " + h.path;
  return out;
}

}  // namespace

const adb_device_info* pick_device(const std::vector<adb_device_info>& devices,
                                   const usb_host_config& self,
                                   const std::vector<usb_host_config>& all) {
  for (const auto& d : devices) {
    if (!self.matches_any_device()) {
      if (names(self, d)) return &d;
      continue;
    }
    const bool named_elsewhere = std::any_of(all.begin(), all.end(), [&](const usb_host_config& h) {
      return h.name != self.name && !h.matches_any_device() && names(h, d);
    });
    if (!named_elsewhere) return &d;
  }
  return nullptr;
}

usb_host_relay::usb_host_relay(usb_host_config cfg, std::vector<usb_host_config> all,
                               session_options session, usb_host& usb)
    : cfg_(std::move(cfg)),
      all_(std::move(all)),
      session_(session),
      usb_(usb),
      log_(vsocklib::log::get("adbd-relay")),
      refusals_(log_) {
  status_.name = cfg_.name;
  status_.listen = cfg_.listen.to_string();
}

asio::awaitable<void> usb_host_relay::run() {
  auto ex = co_await asio::this_coro::executor;
  vsocklib::listener l(ex, cfg_.listen, cfg_.peers, log_);
  wake_.emplace(ex);
  status_.listen = l.local_address().to_string();
  status_.state = "listening";
  log_->info("[{}] host mode: serving {} to adb servers on {}", cfg_.name, describe_match(cfg_),
             status_.listen);
  co_await (accept_loop(l) && serve_loop());
}

asio::awaitable<void> usb_host_relay::accept_loop(vsocklib::listener& l) {
  // Stopping is a flag both loops see, not an exception out of the next co_await.
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    auto [ec, s, peer] = co_await l.async_accept();
    if (ec == asio::error::operation_aborted) break;
    if (ec) {
      // E.g. out of file descriptors: say so, and do not spin.
      log_->warn("[{}] accept on {}: {}", cfg_.name, status_.listen, ec.message());
      pause.expires_after(100ms);
      auto [pec] = co_await pause.async_wait(use_tuple);
      if (pec) break;
      continue;
    }
    if (in_session_ || pending_) {
      // The peer's address is left out so that one adb server's reconnects repeat one
      // message (logged once with a count).
      ++status_.busy;
      refusals_.warn("[" + cfg_.name + "] a connection arrived while " + status_.device +
                     " is being served: closing it (one session per listener)");
      error_code ignored;
      s.close(ignored);
      continue;
    }
    pending_.emplace(std::move(s), peer.description);
    wake_->cancel();
  }
  stopping_ = true;
  wake_->cancel();
}

asio::awaitable<void> usb_host_relay::serve_loop() {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    while (!pending_ && !stopping_) {
      wake_->expires_at(asio::steady_timer::time_point::max());
      co_await wake_->async_wait(use_tuple);
    }
    if (stopping_) co_return;
    auto next = std::move(*pending_);
    pending_.reset();
    co_await serve(std::move(next.first), std::move(next.second));
  }
}

asio::awaitable<void> usb_host_relay::serve(vsocklib::stream_socket s, std::string peer) {
  co_await asio::this_coro::throw_if_cancelled(false);
  // A fresh scan per connection: a device plugged in a moment ago is served even before a
  // periodic rescan has seen it.
  const auto devices = scan_adb_devices();
  const adb_device_info* found = pick_device(devices, cfg_, all_);
  error_code ignored;
  if (!found) {
    ++status_.no_device;
    refusals_.warn("[" + cfg_.name + "] a connection arrived, but " + describe_match(cfg_) +
                   " is not attached: closing it");
    s.close(ignored);
    co_return;
  }
  std::string error;
  auto device = usb_.open(*found, error);
  if (!device) {
    status_.last_error = found->describe() + ": " + error;
    refusals_.warn("[" + cfg_.name + "] cannot open ADB device " + found->describe() + ": " +
                   error + "; closing the connection");
    s.close(ignored);
    co_return;
  }
  refusals_.clear();
  status_.device = found->describe();
  status_.state = "bridging";
  ++status_.sessions;
  log_->info("[{}] bridging {} to ADB device {} (wMaxPacketSize {})", cfg_.name, peer,
             status_.device, device->max_packet_size());

  in_session_ = true;
  auto& stats = status_.current;
  co_await run_session(*device, s, usb_role::host, session_, log_, stats);
  in_session_ = false;

  std::string why = stats.reason == session_end::cancelled
                        ? "relay stopping"
                        : to_string(stats.reason, usb_role::host);
  if (stats.error && stats.reason != session_end::cancelled) why += ": " + stats.error.message();
  if (!stats.detail.empty()) why += ": " + stats.detail;
  const bool protocol = is_protocol_error(stats.reason);
  if (protocol) {
    ++status_.protocol_errors;
    status_.last_error = why;
  }
  log_->log(
      protocol ? spdlog::level::warn : spdlog::level::info,
      "[{}] session with {} ended ({}); {} messages / {} bytes to the device, {} / {} from it",
      cfg_.name, status_.device, why, stats.stream_to_usb_messages, stats.stream_to_usb_bytes,
      stats.usb_to_stream_messages, stats.usb_to_stream_bytes);
  status_.to_device_bytes += stats.stream_to_usb_bytes;
  status_.from_device_bytes += stats.usb_to_stream_bytes;
  stats = {};
  // The device is released for the next session, and the adb server sees its connection
  // close, as it would see a USB device leave.
  device.reset();
  s.close(ignored);
  status_.state = "listening";
}

asio::awaitable<void> watch_adb_devices(usb_host& usb, std::chrono::milliseconds rescan,
                                        std::shared_ptr<spdlog::logger> log) {
  if (usb.mode() == usb_host::discovery::hotplug) {
    log->info("host mode: USB devices are discovered through libusb hotplug events");
  } else {
    log->info(
        "host mode: USB devices are discovered by rescanning /sys/bus/usb/devices every "
        "{} ms (libusb's hotplug events need udevd, which is not running)",
        rescan.count());
  }
  asio::steady_timer settle(co_await asio::this_coro::executor);
  std::vector<adb_device_info> known;
  auto look = [&] {
    auto now = scan_adb_devices();
    for (const auto& d : now) {
      if (std::find(known.begin(), known.end(), d) == known.end()) {
        log->info("ADB device attached: {}", d.describe());
      }
    }
    for (const auto& d : known) {
      if (std::find(now.begin(), now.end(), d) == now.end()) {
        log->info("ADB device left: {}", d.describe());
      }
    }
    known = std::move(now);
  };
  look();
  for (;;) {
    if (!co_await usb.async_wait_change(rescan)) co_return;
    if (usb.mode() == usb_host::discovery::rescan) {
      look();
      continue;
    }
    // udev reports a device before the kernel has necessarily added its interfaces: look
    // shortly after the event, and once more a second later.
    for (auto after : {200ms, 1000ms}) {
      settle.expires_after(after);
      auto [ec] = co_await settle.async_wait(use_tuple);
      if (ec) co_return;
      look();
    }
  }
}

}  // namespace adbd_relay
