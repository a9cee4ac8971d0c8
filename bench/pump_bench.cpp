// Pump throughput over Unix socketpairs at 4, 16 and 64 KiB chunks, next to the direct path
// (the same source and sink on one socketpair, no pump) so results read as ratios.
//
//   source --socketpair--> [pump] --socketpair--> sink      BM_Pump/<chunk>
//   source --socketpair--> sink                              BM_Direct/<chunk>
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "vsocklib/pump.hpp"

namespace {

namespace asio = vsocklib::asio;
using asio::local::stream_protocol;
using vsocklib::use_tuple;

constexpr std::size_t kBytesPerIteration = 16 << 20;

asio::awaitable<void> source(stream_protocol::socket& s, std::size_t piece) {
  std::vector<std::byte> buf(piece);
  for (std::size_t sent = 0; sent < kBytesPerIteration; sent += piece) {
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(buf), use_tuple);
    if (ec) co_return;
  }
  s.shutdown(asio::socket_base::shutdown_send);
}

asio::awaitable<void> sink(stream_protocol::socket& s, std::size_t piece, std::size_t& got) {
  std::vector<std::byte> buf(piece);
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    got += n;
    if (ec) co_return;
  }
}

asio::awaitable<void> pump(stream_protocol::socket& a, stream_protocol::socket& b,
                           std::size_t chunk) {
  co_await vsocklib::async_pump(a, b, vsocklib::pump_options{chunk, 2});
}

asio::awaitable<void> through_pump(stream_protocol::socket& src, stream_protocol::socket& pa,
                                   stream_protocol::socket& pb, stream_protocol::socket& dst,
                                   std::size_t chunk, std::size_t& got) {
  using namespace asio::experimental::awaitable_operators;
  co_await (source(src, chunk) && pump(pa, pb, chunk) && sink(dst, chunk, got));
}

asio::awaitable<void> direct(stream_protocol::socket& src, stream_protocol::socket& dst,
                             std::size_t chunk, std::size_t& got) {
  using namespace asio::experimental::awaitable_operators;
  co_await (source(src, chunk) && sink(dst, chunk, got));
}

void BM_Pump(benchmark::State& state) {
  const auto chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    asio::io_context io(1);
    stream_protocol::socket src(io), pa(io), pb(io), dst(io);
    asio::local::connect_pair(src, pa);
    asio::local::connect_pair(pb, dst);
    // The pump forwards end of stream; close B->A at once so the pump can finish.
    dst.shutdown(asio::socket_base::shutdown_send);
    std::size_t got = 0;
    asio::co_spawn(io, through_pump(src, pa, pb, dst, chunk, got), asio::detached);
    io.run();
    if (got != kBytesPerIteration) state.SkipWithError("bytes lost");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytesPerIteration));
}

void BM_Direct(benchmark::State& state) {
  const auto chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    asio::io_context io(1);
    stream_protocol::socket src(io), dst(io);
    asio::local::connect_pair(src, dst);
    std::size_t got = 0;
    asio::co_spawn(io, direct(src, dst, chunk, got), asio::detached);
    io.run();
    if (got != kBytesPerIteration) state.SkipWithError("bytes lost");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytesPerIteration));
}

BENCHMARK(BM_Pump)->Arg(4096)->Arg(16384)->Arg(65536)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Direct)
    ->Arg(4096)
    ->Arg(16384)
    ->Arg(65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
