// The compression of adb's sync v2 transfers (features sendrecv_v2_brotli, _lz4, _zstd):
// one compressed stream per file, cut into DATA chunks at arbitrary places. Brotli: a raw
// brotli stream. LZ4: one LZ4 frame (lz4frame). Zstd: one zstd frame. Data after the end
// of the stream is an error, as in adb. Streaming contexts with fixed buffers: memory does
// not grow with the file or with what a malicious stream expands to.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace adbd_sim {

enum class sync_compression : std::uint8_t { none, brotli, lz4, zstd };

/// "none", "brotli", "lz4", "zstd".
const char* to_string(sync_compression c) noexcept;

/// The largest piece of output sync_decoder hands to its sink (its fixed output buffer).
inline constexpr std::size_t kSyncDecodeChunk = 64 * 1024;

/// The zstd window adbd-sim accepts: 8 MiB (adb compresses at level 1, a 512 KiB window).
/// A frame asking for more is refused instead of allocated.
inline constexpr int kZstdWindowLogMax = 23;

/// Decompresses one transfer. Memory: a 64 KiB output buffer and the library's context,
/// whose window the stream chooses within each format's bound (brotli: 16 MiB without
/// large windows, which adbd-sim does not enable; LZ4: 4 MiB blocks; zstd: 8 MiB, see
/// kZstdWindowLogMax).
class sync_decoder {
 public:
  /// Receives decompressed bytes; returns false to stop decoding (feed() then fails).
  using sink = std::function<bool(std::span<const std::byte>)>;

  /// Throws std::runtime_error when the library cannot create its context. C must not be
  /// none.
  explicit sync_decoder(sync_compression c);
  ~sync_decoder();
  sync_decoder(const sync_decoder&) = delete;
  sync_decoder& operator=(const sync_decoder&) = delete;

  /// Decompresses IN (any piece of the stream), handing the output to OUT in pieces of at
  /// most kSyncDecodeChunk. False on corrupt data, data after the end of the stream, a
  /// window over the bound, or when OUT returned false; error() says which. After a
  /// failure the decoder accepts nothing more.
  bool feed(std::span<const std::byte> in, const sink& out);
  /// The compressed stream has ended (the brotli stream, LZ4 frame or zstd frame is
  /// complete). False at DONE means the data was truncated.
  bool complete() const noexcept;
  const std::string& error() const noexcept;
  sync_compression kind() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Compresses one transfer, as adb does: brotli quality 1 (4 MiB window), LZ4 frame with
/// 64 KiB blocks, zstd level 1.
class sync_encoder {
 public:
  struct step {
    std::size_t consumed = 0;  ///< bytes of IN used
    std::size_t produced = 0;  ///< bytes written to OUT
    bool done = false;         ///< FINISH was given and the stream is complete
  };

  /// Throws std::runtime_error when the library cannot create its context. C must not be
  /// none.
  explicit sync_encoder(sync_compression c);
  ~sync_encoder();
  sync_encoder(const sync_encoder&) = delete;
  sync_encoder& operator=(const sync_encoder&) = delete;

  /// Compresses from IN into OUT. FINISH: no input follows IN; call again (with what is
  /// left of IN) until done. Output may lag behind input (the codec buffers a block).
  /// nullopt on a library error (error() says which).
  std::optional<step> encode(std::span<const std::byte> in, bool finish, std::span<std::byte> out);
  const std::string& error() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Process-wide counts of compressed sync transfers (all connections), for logs and tests.
struct sync_counters {
  std::atomic<std::uint64_t> compressed_pushes{0};  ///< SND2 with a compression flag, completed
  std::atomic<std::uint64_t> compressed_pulls{0};   ///< RCV2 with a compression flag, completed
  std::atomic<std::uint64_t> decode_failures{0};    ///< corrupt or truncated compressed pushes
  std::atomic<std::uint64_t> bombs_cut_off{0};      ///< pushes stopped by the expansion limit
};
sync_counters& sync_statistics() noexcept;

}  // namespace adbd_sim
