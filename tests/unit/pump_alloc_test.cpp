// Proves the pump allocates nothing per chunk once it runs: global operator new is counted
// while thousands of chunks cross a pump over Unix socketpairs. Also measures the pump's
// whole heap footprint, the memory per connection docs/vsocklib.md states. Its own binary,
// because it replaces operator new for the whole program.
#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <iostream>

#include <gtest/gtest.h>

#include "peers.hpp"
#include "run_coro.hpp"
#include "vsocklib/pump.hpp"

// Counting happens at the C allocator, not at operator new: Asio allocates its operation
// states and coroutine frames with aligned_alloc, which operator new would never see.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::int64_t> g_live_bytes{0};
std::atomic<std::int64_t> g_peak_bytes{0};

void* counted(void* p) {
  if (!p) return p;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto n = static_cast<std::int64_t>(malloc_usable_size(p));
  const auto live = g_live_bytes.fetch_add(n) + n;
  auto peak = g_peak_bytes.load();
  while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live)) {
  }
  return p;
}
void uncounted(void* p) {
  if (p) g_live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)));
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) { return counted(__libc_malloc(n)); }
void* calloc(std::size_t k, std::size_t n) { return counted(__libc_calloc(k, n)); }
void* realloc(void* p, std::size_t n) {
  uncounted(p);
  return counted(__libc_realloc(p, n));
}
void* aligned_alloc(std::size_t a, std::size_t n) { return counted(__libc_memalign(a, n)); }
void* memalign(std::size_t a, std::size_t n) { return counted(__libc_memalign(a, n)); }
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  *out = counted(__libc_memalign(a, n));
  return *out ? 0 : ENOMEM;
}
void free(void* p) {
  uncounted(p);
  __libc_free(p);
}
}

namespace vsocklib {
namespace {

using asio::local::stream_protocol;
constexpr std::size_t kChunk = 4096;
constexpr int kWarmupChunks = 1000;
constexpr int kMeasuredChunks = 10000;
// Chunks after the window: more than the socket buffers hold, so that the source's own
// end (its coroutine finishing allocates) falls after the measured window.
constexpr int kTailChunks = 1000;

// Writes whole chunks and, on the far side, reads them back; snapshots the allocation
// counter after the warm-up and at the end of the measured window.
asio::awaitable<void> source(stream_protocol::socket& s) {
  std::array<std::byte, kChunk> buf{};
  for (int i = 0; i < kWarmupChunks + kMeasuredChunks + kTailChunks; ++i) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(buf), use_tuple);
    if (ec) co_return;
  }
  s.shutdown(asio::socket_base::shutdown_send);
}

// ALLOCATE_PER_CHUNK is the control: it shows the counter sees one allocation per chunk.
asio::awaitable<void> sink(stream_protocol::socket& s, std::uint64_t& before, std::uint64_t& after,
                           bool allocate_per_chunk) {
  std::array<std::byte, kChunk> buf{};
  for (int i = 0; i < kWarmupChunks + kMeasuredChunks + kTailChunks; ++i) {
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
                                pump_stats& stats, pump_options opt = {}) {
  stats = co_await async_pump(a, b, opt);
}

asio::awaitable<void> scenario(stream_protocol::socket& client, stream_protocol::socket& pa,
                               stream_protocol::socket& pb, stream_protocol::socket& server,
                               std::uint64_t& before, std::uint64_t& after, pump_stats& stats,
                               bool control, pump_options opt) {
  using namespace asio::experimental::awaitable_operators;
  co_await (pump_both(pa, pb, stats, opt) && source(client) &&
            sink(server, before, after, control));
}

std::uint64_t allocations_in_window(bool control, pump_stats& stats, pump_options opt = {}) {
  asio::io_context io;
  stream_protocol::socket client(io), pa(io), pb(io), server(io);
  asio::local::connect_pair(client, pa);
  asio::local::connect_pair(pb, server);
  std::uint64_t before = 0, after = 0;
  test::run_with_deadline(io, scenario(client, pa, pb, server, before, after, stats, control, opt));
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
  EXPECT_GE(stats.a_to_b_writes, static_cast<std::uint64_t>(kMeasuredChunks));
  EXPECT_EQ(n, 0u) << n << " allocations over " << kMeasuredChunks << " chunks";
}

// Unbounded sides: reads and writes of two ring pieces at a time (readv/writev) allocate
// nothing either.
TEST(PumpAllocations, NoHeapAllocationWithUnboundedWrites) {
  pump_stats stats;
  pump_options opt;
  opt.bounded_a = opt.bounded_b = false;
  const auto n = allocations_in_window(false, stats, opt);
  EXPECT_EQ(stats.reason, pump_end::finished);
  EXPECT_EQ(n, 0u) << n << " allocations over " << kMeasuredChunks << " chunks";
}

// The pump alone on the io_context: its far ends were filled and closed beforehand, so the
// peak of live heap bytes while it runs is the pump's own footprint.
std::int64_t pump_footprint(vsocklib::pump_options opt) {
  asio::io_context io;
  stream_protocol::socket client(io), pa(io), pb(io), server(io);
  asio::local::connect_pair(client, pa);
  asio::local::connect_pair(pb, server);
  std::vector<std::byte> data(64 * 1024);
  asio::write(client, asio::buffer(data));
  client.shutdown(asio::socket_base::shutdown_send);
  server.shutdown(asio::socket_base::shutdown_send);
  pump_stats stats;
  auto task = pump_both(pa, pb, stats, opt);  // created outside the measured window
  const auto before = g_live_bytes.load();
  g_peak_bytes = before;
  asio::co_spawn(io, std::move(task), asio::detached);
  io.run();
  EXPECT_EQ(stats.reason, pump_end::finished);
  EXPECT_EQ(stats.a_to_b_bytes, data.size());
  return g_peak_bytes.load() - before;
}

TEST(PumpAllocations, FootprintIsBuffersPlusAFixedOverhead) {
  const auto defaults = pump_footprint({});
  const auto bigger = pump_footprint({16384, 16});
  const std::int64_t default_buffers = 2 * 16 * 4096;
  const std::int64_t bigger_buffers = 2 * 16 * 16384;
  std::cout << "pump footprint: " << defaults << " bytes with 16 x 4 KiB chunks per direction ("
            << defaults - default_buffers << " beyond buffers), " << bigger
            << " bytes with 16 x 16 KiB (" << bigger - bigger_buffers << " beyond buffers)\n";
  // The overhead (coroutine frames, timers, operation states, about 15 KiB) does not grow
  // with buffers; up to a page more where malloc maps the buffer (128 KiB and more) and
  // rounds it to pages.
  EXPECT_GE(defaults, default_buffers);
  EXPECT_LE(defaults - default_buffers, 16384 + 4096);
  EXPECT_NEAR(static_cast<double>(defaults - default_buffers),
              static_cast<double>(bigger - bigger_buffers), 4096 + 256);
}

}  // namespace
}  // namespace vsocklib
