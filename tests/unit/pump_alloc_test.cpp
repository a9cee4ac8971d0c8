// Proves the pump allocates nothing per chunk once it runs: global operator new is counted
// while thousands of chunks cross a pump over Unix socketpairs. Its own binary, because it
// replaces operator new for the whole program.
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "peers.hpp"
#include "run_coro.hpp"
#include "vsocklib/pump.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}

// GCC 12 pairs these with the replaced operator new and warns of a mismatch that is not
// there: both sides use malloc/free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace vsocklib {
namespace {

using asio::local::stream_protocol;
constexpr std::size_t kChunk = 4096;
constexpr int kWarmupChunks = 1000;
constexpr int kMeasuredChunks = 10000;

// Writes whole chunks and, on the far side, reads them back; snapshots the allocation
// counter after the warm-up and at the end of the measured window.
asio::awaitable<void> source(stream_protocol::socket& s) {
  std::array<std::byte, kChunk> buf{};
  for (int i = 0; i < kWarmupChunks + kMeasuredChunks + 10; ++i) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(buf), use_tuple);
    if (ec) co_return;
  }
  s.shutdown(asio::socket_base::shutdown_send);
}

// ALLOCATE_PER_CHUNK is the control: it shows the counter sees one allocation per chunk.
asio::awaitable<void> sink(stream_protocol::socket& s, std::uint64_t& before,
                           std::uint64_t& after, bool allocate_per_chunk) {
  std::array<std::byte, kChunk> buf{};
  for (int i = 0; i < kWarmupChunks + kMeasuredChunks + 10; ++i) {
    auto [ec, n] = co_await asio::async_read(s, asio::buffer(buf), use_tuple);
    if (ec) co_return;
    if (allocate_per_chunk) {
      auto p = std::make_unique<char[]>(n);
      p[0] = 0;
      asm volatile("" : : "r"(p.get()) : "memory");  // keep the allocation
    }
    if (i == kWarmupChunks) before = g_allocations.load();
    if (i == kWarmupChunks + kMeasuredChunks) after = g_allocations.load();
  }
  s.shutdown(asio::socket_base::shutdown_send);
}

asio::awaitable<void> pump_both(stream_protocol::socket& a, stream_protocol::socket& b,
                                pump_stats& stats) {
  stats = co_await async_pump(a, b, pump_options{kChunk, 2});
}

asio::awaitable<void> scenario(stream_protocol::socket& client, stream_protocol::socket& pa,
                               stream_protocol::socket& pb, stream_protocol::socket& server,
                               std::uint64_t& before, std::uint64_t& after, pump_stats& stats,
                               bool control) {
  using namespace asio::experimental::awaitable_operators;
  co_await (pump_both(pa, pb, stats) && source(client) && sink(server, before, after, control));
}

std::uint64_t allocations_in_window(bool control, pump_stats& stats) {
  asio::io_context io;
  stream_protocol::socket client(io), pa(io), pb(io), server(io);
  asio::local::connect_pair(client, pa);
  asio::local::connect_pair(pb, server);
  std::uint64_t before = 0, after = 0;
  test::run_with_deadline(io, scenario(client, pa, pb, server, before, after, stats, control));
  EXPECT_GT(after, 0u) << "measured window not reached";
  return after - before;
}

TEST(PumpAllocations, CounterSeesPerChunkAllocations) {
  pump_stats stats;
  EXPECT_GE(allocations_in_window(true, stats), static_cast<std::uint64_t>(kMeasuredChunks));
}

TEST(PumpAllocations, NoHeapAllocationPerChunkInSteadyState) {
  pump_stats stats;
  const auto n = allocations_in_window(false, stats);
  EXPECT_EQ(stats.reason, pump_end::finished);
  EXPECT_GE(stats.a_to_b_chunks, static_cast<std::uint64_t>(kMeasuredChunks));
  EXPECT_EQ(n, 0u) << n << " allocations over " << kMeasuredChunks << " chunks";
}

}  // namespace
}  // namespace vsocklib
