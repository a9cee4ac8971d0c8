#include "vsock_mcast/packet_reader.hpp"

#include <unistd.h>

#include <vector>

namespace vsock_mcast {

vsocklib::asio::awaitable<void> read_packets(
    std::shared_ptr<vsocklib::asio::posix::stream_descriptor> d,
    std::function<void(std::span<std::uint8_t>)> on_packet) {
  namespace asio = vsocklib::asio;
  std::vector<std::uint8_t> buf(65536);
  constexpr int kBurst = 64;
  while (d->is_open()) {
    auto [ec] =
        co_await d->async_wait(asio::posix::descriptor_base::wait_read, vsocklib::use_tuple);
    if (ec || !d->is_open()) co_return;
    for (int i = 0; i < kBurst; ++i) {
      const auto n = ::read(d->native_handle(), buf.data(), buf.size());
      if (n <= 0) break;
      on_packet(std::span<std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
    }
  }
}

}  // namespace vsock_mcast
