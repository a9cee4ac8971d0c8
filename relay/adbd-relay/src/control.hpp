// The status query: a Unix socket that answers every connection with one JSON document
// (guests, states, counters, last errors) and closes. `adbd-relay --status` reads it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "guest_relay.hpp"
#include "vsocklib/listener.hpp"

namespace adbd_relay {

std::string status_json(const std::vector<const guest_status*>& guests);

/// Answers connections on L with STATUS() until cancelled.
asio::awaitable<void> serve_control(vsocklib::listener& l, std::function<std::string()> status);

/// systemd's sd_notify(3) protocol without libsystemd: a datagram to $NOTIFY_SOCKET.
/// Returns false when not started by systemd (no NOTIFY_SOCKET) or the send failed.
bool sd_notify(const std::string& message);

/// Half of $WATCHDOG_USEC (the interval systemd asks pings at), or zero when the watchdog
/// is off.
std::chrono::microseconds watchdog_interval();

}  // namespace adbd_relay
