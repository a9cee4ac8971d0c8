// The vsock-mcast host endpoint's work per LAN datagram, at 64 and 1200 bytes, next to what it
// replaced, so results read as ratios:
//
//   BM_Fingerprint/<size>       the duplicate filter's hash (eight bytes per step)
//   BM_FingerprintFnv/<size>    FNV-1a over the same fields, a byte per step (the hash
//                               before), with the same header parse
//   BM_FixUdpChecksum/<size>    the UDP checksum the host recomputes
//   BM_DataRecord/<size>        the record queued for the guests (an allocation and a copy)
//   BM_FilterClock              the filters' clock (CLOCK_MONOTONIC_COARSE)
//   BM_SteadyClock              std::chrono::steady_clock (the clock before)
//
// Run: build/bench/mcast_bench (docs/benchmarks.md, vsock-mcast).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "mcast_test_packets.hpp"
#include "vsock_mcast/channel.hpp"
#include "vsock_mcast/filters.hpp"
#include "vsock_mcast/packet.hpp"

namespace {

using namespace vsock_mcast;

// An IPv4 UDP datagram from 10.77.0.1:7400 to 239.255.0.5:7400 with PAYLOAD bytes of
// payload (the unit tests' builder).
std::vector<std::uint8_t> datagram(std::size_t payload) {
  std::vector<std::uint8_t> data(payload);
  for (std::size_t i = 0; i < payload; ++i) data[i] = static_cast<std::uint8_t>(i * 13);
  return test::udp_packet(0x0A4D0001, 0xEFFF0005, 7400, 7400, data);
}

std::uint64_t fnv1a(std::uint64_t h, std::span<const std::uint8_t> bytes) {
  for (auto b : bytes) h = (h ^ b) * 1099511628211ull;
  return h;
}

void BM_Fingerprint(benchmark::State& state) {
  auto p = datagram(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    ++p[40];
    benchmark::DoNotOptimize(fingerprint(p));
  }
}
BENCHMARK(BM_Fingerprint)->Arg(64)->Arg(1200);

void BM_FingerprintFnv(benchmark::State& state) {
  auto p = datagram(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    ++p[40];
    std::span<const std::uint8_t> s(p);
    benchmark::DoNotOptimize(read_ip(s));  // as fingerprint() does, to find the header length
    auto h = fnv1a(14695981039346656037ull, s.subspan(12, 8));
    h = fnv1a(h, s.subspan(4, 2));
    h = fnv1a(h, s.subspan(9, 1));
    h = fnv1a(h, s.subspan(20, 6));
    benchmark::DoNotOptimize(fnv1a(h, s.subspan(28)));
  }
}
BENCHMARK(BM_FingerprintFnv)->Arg(64)->Arg(1200);

void BM_FixUdpChecksum(benchmark::State& state) {
  auto p = datagram(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    ++p[40];
    benchmark::DoNotOptimize(fix_udp_checksum(p));
  }
}
BENCHMARK(BM_FixUdpChecksum)->Arg(64)->Arg(1200);

void BM_DataRecord(benchmark::State& state) {
  auto p = datagram(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(data_record(p));
}
BENCHMARK(BM_DataRecord)->Arg(64)->Arg(1200);

void BM_FilterClock(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(vsock_mcast::clock::now());
}
BENCHMARK(BM_FilterClock);

void BM_SteadyClock(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(BM_SteadyClock);

}  // namespace

BENCHMARK_MAIN();
