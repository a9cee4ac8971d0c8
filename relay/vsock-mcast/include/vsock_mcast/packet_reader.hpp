// The read loop every packet descriptor of the endpoints shares (the host's LAN receivers
// and TUN, the guest's TUN).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "vsocklib/asio.hpp"

namespace vsock_mcast {

/// Until D is closed (or its wait fails): waits for it to be readable, then reads up to 64
/// packets (whole datagrams after reassembly, or TUN frames: up to 64 KiB each; D must be
/// non-blocking) and hands each to ON_PACKET. Bounded work per wake-up, so that one busy
/// descriptor cannot starve the guests.
vsocklib::asio::awaitable<void> read_packets(
    std::shared_ptr<vsocklib::asio::posix::stream_descriptor> d,
    std::function<void(std::span<std::uint8_t>)> on_packet);

}  // namespace vsock_mcast
