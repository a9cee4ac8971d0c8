#include "guest_relay.hpp"

#include <sys/socket.h>

#include <optional>

#include <spdlog/logger.h>

#include "functionfs.hpp"
#include "gadget.hpp"
#include "session.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

using namespace asio::experimental::awaitable_operators;
using vsocklib::use_tuple;
using namespace std::chrono_literals;

// Waits for the PC to enable the function; false when ep0 fails (the function went away).
asio::awaitable<bool> wait_for_enable(ffs_function& f, spdlog::logger& log) {
  for (;;) {
    auto [ec, ev] = co_await f.async_next_event();
    if (ec) co_return false;
    log.debug("ep0 event {}", to_string(ev));
    if (ev == ffs_event::enable) co_return true;
  }
}

// Completes when the guest closes its side while no PC is attached. adbd sends nothing
// before the PC's CNXN, so readable means closed; if bytes do arrive they are left for
// the session and this waits forever.
asio::awaitable<void> wait_guest_closed(vsocklib::stream_socket& s) {
  co_await s.async_wait(asio::socket_base::wait_read, use_tuple);
  char probe;
  if (::recv(s.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0) co_return;
  asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(24 * 365 * 10));
  co_await forever.async_wait(use_tuple);
}

// ep0 events during a session; returns the one that ends it: DISABLE, UNBIND, or unknown
// when ep0 failed or the relay is stopping.
asio::awaitable<ffs_event> wait_for_disable(ffs_function& f, spdlog::logger& log) {
  for (;;) {
    auto [ec, ev] = co_await f.async_next_event();
    if (ec) co_return ffs_event::unknown;
    log.debug("ep0 event {}", to_string(ev));
    if (ev == ffs_event::disable || ev == ffs_event::unbind) co_return ev;
  }
}

}  // namespace

guest_relay::guest_relay(guest_config cfg, session_options session,
                         vsocklib::connector_options connect)
    : cfg_(std::move(cfg)),
      session_(session),
      connect_(connect),
      log_(vsocklib::log::get("adbd-relay")) {
  status_.name = cfg_.name;
  status_.address = cfg_.address.to_string();
}

void guest_relay::prepare() {
  gadget_.emplace(cfg_.gadget);
  status_.udc = gadget_->udc();
}

asio::awaitable<void> guest_relay::run() {
  auto ex = co_await asio::this_coro::executor;
  vsocklib::connector c(cfg_.address, connect_, log_);
  asio::steady_timer pause(ex);

  for (;;) {
    // Set up in the loop, not once: a gadget that cannot be created (configfs busy, no UDC
    // yet) is retried while the other guests keep being served.
    if (!gadget_) {
      std::string failure;
      try {
        prepare();
      } catch (const std::system_error& e) {
        failure = e.what();
      }
      if (!failure.empty()) {
        status_.state = "cannot create the USB gadget";
        status_.last_error = failure;
        log_->error("[{}] {}; retrying in 5 s", cfg_.name, failure);
        pause.expires_after(5s);
        auto [pec] = co_await pause.async_wait(use_tuple);
        if (pec) co_return;  // cancelled
        continue;
      }
    }
    gadget& g = *gadget_;
    status_.state = "connecting to the guest's adbd";
    auto [ec, vsock] = co_await c.async_connect();
    status_.connect_failures = c.failures();
    if (ec) co_return;  // cancelled
    ++status_.guest_connections;

    std::unique_ptr<ffs_function> f;
    std::string failure;
    try {
      f = std::make_unique<ffs_function>(ex, g.ffs_dir());
      g.bind();
    } catch (const std::system_error& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      // E.g. the UDC is busy with another gadget. Say so, and try again later rather than
      // dying: the guest side stays reachable.
      status_.last_error = failure;
      log_->error("[{}] cannot show the USB function: {}", cfg_.name, failure);
      f.reset();
      g.unbind();
      pause.expires_after(5s);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    log_->info("[{}] guest adbd at {} answers; USB function on {} (serial {}){}", cfg_.name,
               status_.address, g.udc(), cfg_.gadget.serial,
               f->ms_os_descriptors() ? "" : " without MS OS descriptors");
    status_.state = "waiting for the PC";

    auto waited = co_await (wait_for_enable(*f, *log_) || wait_guest_closed(vsock));
    if (waited.index() == 1 || !std::get<0>(waited)) {
      log_->info("[{}] guest closed its adbd connection before the PC attached; hiding the "
                 "USB function",
                 cfg_.name);
      f->close();
      g.unbind();
      continue;
    }

    status_.state = "bridging";
    ++status_.sessions;
    usb_endpoint* usb = nullptr;
    try {
      usb = &f->open_endpoints(session_.chunk_size, session_.usb_transfers_in_flight);
    } catch (const std::system_error& e) {
      status_.last_error = e.what();
      log_->error("[{}] {}", cfg_.name, e.what());
      f->close();
      g.unbind();
      continue;
    }
    auto& stats = status_.current;
    auto ended = co_await (run_session(*usb, vsock, usb_role::device, session_, log_, stats) ||
                           wait_for_disable(*f, *log_));

    std::string why;
    if (ended.index() == 1) {
      switch (std::get<1>(ended)) {
        case ffs_event::disable: why = "the PC disabled the function (unplug, reset)"; break;
        case ffs_event::unbind: why = "the function was unbound from the UDC"; break;
        default: why = "relay stopping"; break;
      }
    } else {
      why = to_string(stats.reason, usb_role::device);
      if (stats.error) why += ": " + stats.error.message();
      if (!stats.detail.empty()) why += ": " + stats.detail;
      if (is_protocol_error(stats.reason)) {
        ++status_.protocol_errors;
        status_.last_error = why;
      }
    }
    const auto level = is_protocol_error(stats.reason) ? spdlog::level::warn : spdlog::level::info;
    log_->log(level, "[{}] session ended ({}); {} messages / {} bytes PC->guest, {} / {} guest->PC",
              cfg_.name, why, stats.usb_to_stream_messages, stats.usb_to_stream_bytes,
              stats.stream_to_usb_messages, stats.stream_to_usb_bytes);
    // A guest that answered the PC's CNXN is a working adbd: reconnect at once next time.
    if (stats.stream_to_usb_messages > 0) c.session_proven();
    status_.usb_to_vsock_bytes += stats.usb_to_stream_bytes;
    status_.vsock_to_usb_bytes += stats.stream_to_usb_bytes;
    stats = {};

    // Reset both sides: the PC sees the device leave (and come back once the guest answers
    // again), the guest's adbd sees its connection close and forgets the session.
    f->close();
    g.unbind();
    error_code ignored;
    vsock.close(ignored);
  }
}

}  // namespace adbd_relay
