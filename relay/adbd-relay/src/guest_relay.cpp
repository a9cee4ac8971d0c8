#include "adbd_relay/guest_relay.hpp"

#include <sys/socket.h>

#include <optional>

#include <spdlog/logger.h>

#include "adbd_relay/functionfs.hpp"
#include "adbd_relay/gadget.hpp"
#include "adbd_relay/session.hpp"
#include "vsocklib/connect.hpp"
#include "vsocklib/connector.hpp"
#include "vsocklib/log.hpp"

namespace adbd_relay {
namespace {

using namespace asio::experimental::awaitable_operators;
using vsocklib::use_tuple;
using namespace std::chrono_literals;

// Waits for the PC to enable the function. Returns ENABLE, UNBIND (the function left its
// UDC), or unknown when ep0 failed (the function went away).
asio::awaitable<ffs_event> wait_for_enable(ffs_function& f, spdlog::logger& log,
                                           const std::string& name) {
  for (;;) {
    auto [ec, ev] = co_await f.async_next_event();
    if (ec) co_return ffs_event::unknown;
    log.debug("[{}] ep0 event {}", name, to_string(ev));
    if (ev == ffs_event::enable || ev == ffs_event::unbind) co_return ev;
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
asio::awaitable<ffs_event> wait_for_disable(ffs_function& f, spdlog::logger& log,
                                            const std::string& name) {
  for (;;) {
    auto [ec, ev] = co_await f.async_next_event();
    if (ec) co_return ffs_event::unknown;
    log.debug("[{}] ep0 event {}", name, to_string(ev));
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
  // The USB function while it is shown. It outlives a session that ended because the PC
  // went away (see below), so the PC's return is one enumeration, the PC's own.
  std::unique_ptr<ffs_function> f;
  // The PC's CNXN that ended the last session (session_end::pc_new_session): the next
  // session starts with it, on a new guest connection, without waiting for an ENABLE.
  std::vector<std::byte> pc_cnxn;
  auto hide = [&] {
    pc_cnxn.clear();
    if (f) f->close();
    f.reset();
    if (gadget_) gadget_->unbind();
  };

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
    vsocklib::stream_socket vsock(ex);

    if (f) {
      // The PC went away (port disabled, device deauthorised or unbound, a reset) while the
      // function stayed bound. Wait for the PC to configure it again, then reach the guest
      // anew: its previous connection was closed when the PC left.
      // Or the PC's adb started a new session, and stays: no ENABLE will come then.
      if (pc_cnxn.empty()) {
        status_.state = "waiting for the PC to come back";
        const ffs_event ev = co_await wait_for_enable(*f, *log_, cfg_.name);
        if (ev != ffs_event::enable) {
          log_->info("[{}] the USB function {} while the PC was away; showing it again", cfg_.name,
                     ev == ffs_event::unbind ? "was unbound" : "failed");
          hide();
          continue;
        }
      }
      status_.state = "connecting to the guest's adbd";
      auto [ec, s] = co_await vsocklib::async_connect(cfg_.address, connect_.connect_timeout);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        log_->info(
            "[{}] the PC is back but the guest's adbd at {} does not answer ({}); hiding "
            "the USB function",
            cfg_.name, status_.address, ec.message());
        ++status_.connect_failures;
        hide();
        continue;
      }
      vsock = std::move(s);
      ++status_.guest_connections;
    } else {
      status_.state = "connecting to the guest's adbd";
      auto [ec, s] = co_await c.async_connect();
      status_.connect_failures = c.failures();
      if (ec) co_return;  // cancelled
      vsock = std::move(s);
      ++status_.guest_connections;

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
        hide();
        pause.expires_after(5s);
        co_await pause.async_wait(use_tuple);
        continue;
      }
      log_->info("[{}] guest adbd at {} answers; USB function on {} (serial {}){}", cfg_.name,
                 status_.address, g.udc(), cfg_.gadget.serial,
                 f->ms_os_descriptors() ? "" : " without MS OS descriptors");
      status_.state = "waiting for the PC";

      auto waited = co_await (wait_for_enable(*f, *log_, cfg_.name) || wait_guest_closed(vsock));
      if (waited.index() == 1 || std::get<0>(waited) != ffs_event::enable) {
        log_->info("[{}] {} before the PC attached; hiding the USB function", cfg_.name,
                   waited.index() == 1 ? "guest closed its adbd connection"
                                       : "the USB function was unbound");
        hide();
        continue;
      }
    }

    status_.state = "bridging";
    ++status_.sessions;
    usb_endpoint* usb = nullptr;
    try {
      usb = &f->open_endpoints(session_.usb_transfer_size, session_.usb_transfers_in_flight);
    } catch (const std::system_error& e) {
      status_.last_error = e.what();
      log_->error("[{}] {}", cfg_.name, e.what());
      hide();
      continue;
    }
    auto& stats = status_.current;
    auto ended = co_await (run_session(*usb, vsock, usb_role::device, session_, log_, stats,
                                       std::exchange(pc_cnxn, {})) ||
                           wait_for_disable(*f, *log_, cfg_.name));
    // The guest's adbd learns at once that its session is over, whatever ended it.
    error_code ignored;
    vsock.close(ignored);

    std::string why;
    // The PC went away: it disabled the function, or a transfer found the endpoint shut
    // down (mid-transfer that can come before ep0 reports DISABLE).
    bool pc_left = false;
    if (ended.index() == 1) {
      switch (std::get<1>(ended)) {
        case ffs_event::disable:
          why = "the PC disabled the function (unplug, reset)";
          pc_left = true;
          break;
        case ffs_event::unbind: why = "the function was unbound from the UDC"; break;
        default: why = "relay stopping"; break;
      }
    } else {
      why = to_string(stats.reason, usb_role::device);
      if (stats.error) why += ": " + stats.error.message();
      if (!stats.detail.empty()) why += ": " + stats.detail;
      pc_left = stats.reason == session_end::usb_failed &&
                stats.error == error_code(ESHUTDOWN, asio::error::get_system_category());
      if (is_protocol_error(stats.reason)) {
        ++status_.protocol_errors;
        status_.last_error = why;
      }
    }
    if (stats.pc_bytes_dropped > 0) {
      why += "; " + std::to_string(stats.pc_bytes_dropped) +
             " bytes of an abandoned CNXN from the PC dropped";
    }
    const auto level = is_protocol_error(stats.reason) ? spdlog::level::warn : spdlog::level::info;
    log_->log(level, "[{}] session ended ({}); {} messages / {} bytes PC->guest, {} / {} guest->PC",
              cfg_.name, why, stats.usb_to_stream_messages, stats.usb_to_stream_bytes,
              stats.stream_to_usb_messages, stats.stream_to_usb_bytes);
    // A guest that answered the PC's CNXN is a working adbd: reconnect at once next time.
    if (stats.stream_to_usb_messages > 0) c.session_proven();
    status_.usb_to_vsock_bytes += stats.usb_to_stream_bytes;
    status_.vsock_to_usb_bytes += stats.stream_to_usb_bytes;
    const bool pc_restarted = ended.index() == 0 && stats.reason == session_end::pc_new_session;
    // Falls through to hiding the function below: the PC sees the device leave and come
    // back, and whatever adb it runs next finds no stale bytes queued.
    if (ended.index() == 0 && stats.reason == session_end::pc_not_reading) ++status_.pc_read_stalls;
    if (pc_restarted) pc_cnxn = std::move(stats.next_session);
    stats = {};

    if (pc_restarted) {
      // The old session's transfers were cancelled and its guest connection closed, so
      // nothing of it reaches the PC; the function stays bound and enabled.
      ++status_.pc_new_sessions;
      f->close_endpoints();
      continue;
    }

    if (pc_left) {
      // Keep the function bound: the PC has already dropped this device (and with it its
      // adb session), and re-enumerating now would bring it back while the PC keeps it
      // away (a deauthorised device would reappear as a new one). When the PC enables it
      // again, adb handshakes afresh with a new guest connection.
      f->close_endpoints();
      continue;
    }
    // Reset both sides: the PC sees the device leave (and come back once the guest answers
    // again), so its adb handshakes afresh with the guest's next connection.
    hide();
  }
}

}  // namespace adbd_relay
