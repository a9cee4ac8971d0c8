// sync: — adb's file sync protocol: requests are "ID" + u32 length + path, answers are
// fixed little-endian records. Version 1: STAT (32-bit fields, zeros for "absent"), LIST /
// DENT, SEND "path,mode" and RECV. Version 2 (features stat_v2, ls_v2, sendrecv_v2): STA2 and
// LST2 (64-bit fields and an errno), LIS2 / DNT2, SND2 and RCV2 (path, then a second record
// with the mode and flags). adb push: STAT of the target, then SEND / DATA... / DONE mtime,
// answered by OKAY or FAIL. adb pull: STAT, then RECV, answered by DATA... DONE or FAIL.
// QUIT ends the service; adb then waits for our CLSE. Compression (sendrecv_v2_brotli, _lz4,
// _zstd): a flag in SND2's or RCV2's setup record; the DATA chunks then carry one compressed
// stream (sync_codec.hpp), cut at arbitrary places, and DONE ends it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <spdlog/logger.h>

#include "adb_protocol/protocol.hpp"
#include "adbd_sim/rooted_fs.hpp"
#include "adbd_sim/sync_codec.hpp"
#include "services.hpp"

namespace adbd_sim::detail {
namespace {

using adb_protocol::fourcc;
using adb_protocol::load_le32;
using adb_protocol::store_le32;

void store_le64(std::byte* p, std::uint64_t v) noexcept {
  store_le32(p, static_cast<std::uint32_t>(v));
  store_le32(p + 4, static_cast<std::uint32_t>(v >> 32));
}

constexpr std::uint32_t kStat = fourcc("STAT");  // ID_LSTAT_V1
constexpr std::uint32_t kList = fourcc("LIST");
constexpr std::uint32_t kSend = fourcc("SEND");
constexpr std::uint32_t kRecv = fourcc("RECV");
constexpr std::uint32_t kDent = fourcc("DENT");
constexpr std::uint32_t kDone = fourcc("DONE");
constexpr std::uint32_t kData = fourcc("DATA");
constexpr std::uint32_t kOkay = fourcc("OKAY");
constexpr std::uint32_t kFail = fourcc("FAIL");
constexpr std::uint32_t kQuit = fourcc("QUIT");
constexpr std::uint32_t kStat2 = fourcc("STA2");   // ID_STAT_V2 (stat)
constexpr std::uint32_t kLstat2 = fourcc("LST2");  // ID_LSTAT_V2 (lstat)
constexpr std::uint32_t kList2 = fourcc("LIS2");
constexpr std::uint32_t kDent2 = fourcc("DNT2");
constexpr std::uint32_t kSend2 = fourcc("SND2");
constexpr std::uint32_t kRecv2 = fourcc("RCV2");

// sync_stat_v2: id, error, dev, ino, mode, nlink, uid, gid, size, atime, mtime, ctime.
constexpr std::size_t kStat2Size = 72;
// sync_dent_v2: the same fields and the name's length (the name follows).
constexpr std::size_t kDent2Size = 76;
// Flags of SND2 and RCV2: at most one compression bit; dry run (SND2 only).
constexpr std::uint32_t kFlagBrotli = 1;
constexpr std::uint32_t kFlagLz4 = 2;
constexpr std::uint32_t kFlagZstd = 4;
constexpr std::uint32_t kFlagDryRun = 0x80000000U;

// SYNC_DATA_MAX: the largest DATA chunk; adb refuses bigger ones in both directions.
constexpr std::uint32_t kSyncDataMax = 64 * 1024;
// adb refuses request paths longer than this (SendRequest), and so does adbd.
constexpr std::uint32_t kSyncMaxPath = 1024;

std::string id_text(std::uint32_t id) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<unsigned char>(id >> (8 * i));
    s.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return s;
}

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// OKAY or FAIL with a message: "ID" + u32 length + text.
asio::awaitable<bool> send_status(adb_stream& s, std::uint32_t id, std::string_view message) {
  std::array<std::byte, 8> h;
  store_le32(h.data(), id);
  store_le32(h.data() + 4, static_cast<std::uint32_t>(message.size()));
  // Two statements: GCC 12 miscompiles co_await inside && and ||.
  if (!co_await s.async_write(h)) co_return false;
  co_return co_await s.async_write(bytes(message));
}

asio::awaitable<bool> send_fail(adb_stream& s, const std::string& message) {
  s.connection().log().debug("{}: sync: FAIL {}", s.connection().peer(), message);
  co_return co_await send_status(s, kFail, message);
}

bool write_all(int fd, std::span<const std::byte> data, int& error) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      return false;
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// STAT (lstat): mode, size, mtime as u32; all zero when the path does not exist, which is
// how adb learns "no such file" in version 1.
asio::awaitable<bool> do_stat(adb_stream& s, const rooted_fs& files, const std::string& path) {
  struct stat st {};
  const int err = files.lstat(path, st);
  std::array<std::byte, 16> r{};
  store_le32(r.data(), kStat);
  if (err == 0) {
    store_le32(r.data() + 4, st.st_mode);
    store_le32(r.data() + 8, static_cast<std::uint32_t>(st.st_size));
    store_le32(r.data() + 12, static_cast<std::uint32_t>(st.st_mtime));
  }
  co_return co_await s.async_write(r);
}

// The v2 fields after id and error, at OUT (60 bytes): dev, ino, mode, nlink, uid, gid,
// size, atime, mtime, ctime.
void store_stat_v2(std::byte* out, const struct stat& st) noexcept {
  store_le64(out, st.st_dev);
  store_le64(out + 8, st.st_ino);
  store_le32(out + 16, st.st_mode);
  store_le32(out + 20, static_cast<std::uint32_t>(st.st_nlink));
  store_le32(out + 24, st.st_uid);
  store_le32(out + 28, st.st_gid);
  store_le64(out + 32, static_cast<std::uint64_t>(st.st_size));
  store_le64(out + 40, static_cast<std::uint64_t>(st.st_atime));
  store_le64(out + 48, static_cast<std::uint64_t>(st.st_mtime));
  store_le64(out + 56, static_cast<std::uint64_t>(st.st_ctime));
}

// STA2 (following a final symlink, inside the root) or LST2: the full stat, or the errno
// with zeros, which adb turns into its usual "No such file or directory" messages.
asio::awaitable<bool> do_stat_v2(adb_stream& s, const rooted_fs& files, std::uint32_t id,
                                 const std::string& path) {
  struct stat st {};
  int err = 0;
  if (id == kLstat2) {
    err = files.lstat(path, st);
  } else {
    auto fd = files.open(path, O_PATH);
    if (!fd) {
      err = fd.error();
    } else if (::fstat(fd.get(), &st) != 0) {
      err = errno;
    }
  }
  std::array<std::byte, kStat2Size> r{};
  store_le32(r.data(), id);
  if (err == 0) {
    store_stat_v2(r.data() + 8, st);
  } else {
    // adb knows only some errno values on the wire; EXDEV (our "leads outside the root")
    // is not one of them and would print as an I/O error: say "Permission denied".
    store_le32(r.data() + 4, static_cast<std::uint32_t>(err == EXDEV ? EACCES : err));
  }
  co_return co_await s.async_write(r);
}

struct dir_closer {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

// LIST: one DENT (mode, size, mtime, name length, name) per entry, then DONE with zeros.
// LIS2: one DNT2 (the v2 stat fields, an errno when the entry cannot be stat()ed, name
// length, name) per entry, then DONE of the same size. A directory that cannot be opened
// gives an empty listing in both, as with adbd.
asio::awaitable<bool> do_list(adb_stream& s, const rooted_fs& files, const std::string& path,
                              bool v2) {
  auto fd = files.open(path, O_RDONLY | O_DIRECTORY);
  std::unique_ptr<DIR, dir_closer> dir(fd ? ::fdopendir(fd.get()) : nullptr);
  if (dir) static_cast<void>(fd.release());  // the DIR owns it now
  std::array<std::byte, kDent2Size> d{};
  const std::size_t size = v2 ? kDent2Size : 20;
  while (dir) {
    const dirent* e = ::readdir(dir.get());
    if (!e) break;
    struct stat st {};
    const int err =
        ::fstatat(::dirfd(dir.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
    if (err != 0 && !v2) continue;
    const std::string_view name(e->d_name);
    d.fill(std::byte{0});
    if (v2) {
      store_le32(d.data(), kDent2);
      store_le32(d.data() + 4, static_cast<std::uint32_t>(err));
      if (err == 0) store_stat_v2(d.data() + 8, st);
      store_le32(d.data() + 72, static_cast<std::uint32_t>(name.size()));
    } else {
      store_le32(d.data(), kDent);
      store_le32(d.data() + 4, st.st_mode);
      store_le32(d.data() + 8, static_cast<std::uint32_t>(st.st_size));
      store_le32(d.data() + 12, static_cast<std::uint32_t>(st.st_mtime));
      store_le32(d.data() + 16, static_cast<std::uint32_t>(name.size()));
    }
    if (!co_await s.async_write(std::span<const std::byte>(d.data(), size))) co_return false;
    if (!co_await s.async_write(bytes(name))) co_return false;
  }
  d.fill(std::byte{0});
  store_le32(d.data(), kDone);
  co_return co_await s.async_write(std::span<const std::byte>(d.data(), size));
}

std::string size_text(std::uint64_t n) {
  return n % (1 << 20) == 0 ? std::to_string(n >> 20) + " MiB" : std::to_string(n) + " bytes";
}

// What SND2's compressed data decodes to, on its way into the file: a decoder and the bomb
// limit (decompressed at most max_expansion x compressed + allowance).
struct push_decoder {
  std::unique_ptr<sync_decoder> dec;
  std::uint64_t in = 0;   // compressed bytes fed
  std::uint64_t out = 0;  // decompressed bytes
  std::uint64_t max_expansion = 0;
  std::uint64_t allowance = 0;
  bool bomb = false;

  bool over_limit() const noexcept {
    return max_expansion != 0 && out > max_expansion * in + allowance;
  }
};

// The file of SEND or SND2: DATA chunks until DONE (whose length field is the mtime).
// After an error the data is still read to DONE, so the host gets the FAIL where it waits
// for the answer and the stream stays usable. DRY_RUN (SND2's flag): read, write nothing.
// COMPRESSION: the DATA chunks are one compressed stream, decoded into the file; corrupt or
// truncated data, or a decompression bomb, ends in FAIL (the stream goes on).
asio::awaitable<bool> receive_file(adb_stream& s, const rooted_fs& files, const std::string& path,
                                   mode_t mode, bool dry_run,
                                   sync_compression compression = sync_compression::none,
                                   const connection_config* cfg = nullptr) {
  std::string error;
  push_decoder pd;
  if (compression != sync_compression::none) {
    try {
      pd.dec = std::make_unique<sync_decoder>(compression);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (cfg) {
      pd.max_expansion = cfg->max_expansion;
      pd.allowance = cfg->expansion_allowance;
    }
  }
  fd_result fd;
  if (dry_run) {
    // adb push --dry-run: the data crosses, nothing is written.
  } else if (S_ISLNK(mode)) {
    error = "symlinks are not supported by adbd-sim";
  } else if (int e = files.make_parents(path)) {
    error = "cannot create the parent directories of " + path + ": " + rooted_fs::error_text(e);
  } else {
    const mode_t perms = mode & 07777 ? mode & 07777 : 0644;
    fd = files.open(path, O_WRONLY | O_CREAT | O_TRUNC, perms);
    if (!fd) error = "cannot open " + path + ": " + rooted_fs::error_text(fd.error());
  }
  const bool opened = static_cast<bool>(fd);

  std::uint64_t total = 0;
  std::uint32_t mtime = 0;
  for (;;) {
    std::array<std::byte, 8> h;
    if (!co_await s.async_read_exact(h)) co_return false;
    const std::uint32_t id = load_le32(h.data());
    std::uint32_t size = load_le32(h.data() + 4);
    if (id == kDone) {
      mtime = size;
      break;
    }
    if (id != kData) {
      co_await send_fail(s, "invalid data message " + id_text(id) + " in SEND");
      co_return false;
    }
    if (size > kSyncDataMax) {
      co_await send_fail(s, "DATA chunk of " + std::to_string(size) + " bytes exceeds " +
                                std::to_string(kSyncDataMax));
      co_return false;
    }
    // Straight from the WRTE payload into the file (or into the decoder, whose fixed
    // output buffer goes into the file): no copy of the data in between.
    while (size > 0) {
      if (!co_await s.async_wait_readable()) co_return false;
      auto a = s.available();
      const std::size_t n = std::min<std::size_t>(a.size(), size);
      int werr = 0;
      if (pd.dec) {
        if (error.empty()) {
          pd.in += n;
          const bool ok = pd.dec->feed(a.first(n), [&](std::span<const std::byte> piece) {
            pd.out += piece.size();
            if (pd.over_limit()) {
              pd.bomb = true;
              return false;
            }
            if (fd && !write_all(fd.get(), piece, werr)) return false;
            return true;
          });
          if (!ok) {
            if (pd.bomb) {
              error = "decompression bomb cut off: " + std::to_string(pd.in) + " " +
                      to_string(compression) + " bytes of " + path + " expanded beyond " +
                      std::to_string(pd.max_expansion * pd.in + pd.allowance) + " bytes (" +
                      std::to_string(pd.max_expansion) + " x compressed + " +
                      size_text(pd.allowance) + ")";
              ++sync_statistics().bombs_cut_off;
              s.connection().log().warn("{}: sync: {}", s.connection().peer(), error);
            } else if (werr != 0) {
              error = "write to " + path + ": " + std::strerror(werr);
            } else {
              error = "decompress failed: " + pd.dec->error();
              ++sync_statistics().decode_failures;
              s.connection().log().warn("{}: sync: SND2 {}: {}", s.connection().peer(), path,
                                        error);
            }
          }
        }
      } else if (fd && error.empty() && !write_all(fd.get(), a.first(n), werr)) {
        error = "write to " + path + ": " + std::strerror(werr);
      }
      s.consume(n);
      size -= static_cast<std::uint32_t>(n);
      total += n;
    }
  }
  if (pd.dec && error.empty() && !pd.dec->complete()) {
    error = "decompress failed: the " + std::string(to_string(compression)) +
            " stream is truncated (DONE after " + std::to_string(pd.in) + " compressed bytes)";
    ++sync_statistics().decode_failures;
    s.connection().log().warn("{}: sync: SND2 {}: {}", s.connection().peer(), path, error);
  }
  if (fd && error.empty()) {
    const timespec times[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
    ::futimens(fd.get(), times);
    if (::close(fd.release()) != 0) error = "close " + path + ": " + std::strerror(errno);
  }
  if (!error.empty()) {
    if (opened) files.unlink(path);  // no partial file left behind
    co_return co_await send_fail(s, error);
  }
  if (pd.dec) {
    ++sync_statistics().compressed_pushes;
    s.connection().log().debug("{}: sync: received {} ({} bytes from {} compressed, {}{})",
                               s.connection().peer(), path, pd.out, total, to_string(compression),
                               dry_run ? ", dry run" : "");
  } else {
    s.connection().log().debug("{}: sync: received {} ({} bytes{})", s.connection().peer(), path,
                               total, dry_run ? ", dry run" : "");
  }
  co_return co_await send_status(s, kOkay, "");
}

// SEND "path,mode" (octal-free decimal mode, as adb sends it).
asio::awaitable<bool> do_send(adb_stream& s, const rooted_fs& files, const std::string& spec) {
  const auto comma = spec.rfind(',');
  if (comma == std::string::npos) {
    co_await send_fail(s, "missing , in SEND \"" + spec + "\"");
    co_return false;  // adbd gives up on the connection here too
  }
  const auto mode = static_cast<mode_t>(std::strtoul(spec.c_str() + comma + 1, nullptr, 10));
  co_return co_await receive_file(s, files, spec.substr(0, comma), mode, false);
}

// The compression of a SND2/RCV2 setup's FLAGS; WHY set (and nullopt) for more than one
// compression bit or bits adbd-sim does not know (ALLOWED: the other known bits).
std::optional<sync_compression> compression_of(std::uint32_t flags, std::uint32_t allowed,
                                               std::string& why) {
  std::optional<sync_compression> c = sync_compression::none;
  int n = 0;
  if (flags & kFlagBrotli) ++n, c = sync_compression::brotli;
  if (flags & kFlagLz4) ++n, c = sync_compression::lz4;
  if (flags & kFlagZstd) ++n, c = sync_compression::zstd;
  if (n > 1) {
    why = "multiple compression flags: " + std::to_string(flags);
    return std::nullopt;
  }
  const std::uint32_t unknown = flags & ~(kFlagBrotli | kFlagLz4 | kFlagZstd | allowed);
  if (unknown != 0) {
    why = "unknown flags: " + std::to_string(unknown);
    return std::nullopt;
  }
  return c;
}

// SND2 path, then {SND2, mode, flags}, then the data as in SEND.
asio::awaitable<bool> do_send_v2(adb_stream& s, const rooted_fs& files, const std::string& path,
                                 const connection_config& cfg) {
  std::array<std::byte, 12> setup;
  if (!co_await s.async_read_exact(setup)) co_return false;
  const std::uint32_t id = load_le32(setup.data());
  const auto mode = static_cast<mode_t>(load_le32(setup.data() + 4));
  const std::uint32_t flags = load_le32(setup.data() + 8);
  if (id != kSend2) {
    co_await send_fail(s, "SND2 setup has id " + id_text(id));
    co_return false;
  }
  s.connection().log().debug("{}: sync: SND2 {} mode {:o} flags {:#x}", s.connection().peer(), path,
                             mode, flags);
  std::string why;
  const auto compression = compression_of(flags, kFlagDryRun, why);
  if (!compression) {
    co_await send_fail(s, why);
    co_return false;  // as adbd: the data that follows cannot be read safely
  }
  co_return co_await receive_file(s, files, path, mode, (flags & kFlagDryRun) != 0, *compression,
                                  &cfg);
}

// RCV2 path, then {RCV2, flags}; the answer is RECV's, its data compressed as asked.
asio::awaitable<bool> do_recv(adb_stream& s, const rooted_fs& files, const std::string& path,
                              sync_compression compression = sync_compression::none);

asio::awaitable<bool> do_recv_v2(adb_stream& s, const rooted_fs& files, const std::string& path) {
  std::array<std::byte, 8> setup;
  if (!co_await s.async_read_exact(setup)) co_return false;
  const std::uint32_t id = load_le32(setup.data());
  const std::uint32_t flags = load_le32(setup.data() + 4);
  if (id != kRecv2) {
    co_await send_fail(s, "RCV2 setup has id " + id_text(id));
    co_return false;
  }
  s.connection().log().debug("{}: sync: RCV2 {} flags {:#x}", s.connection().peer(), path, flags);
  std::string why;
  const auto compression = compression_of(flags, 0, why);
  if (!compression) co_return co_await send_fail(s, why);
  co_return co_await do_recv(s, files, path, *compression);
}

// RECV's data compressed: the file read in 64 KiB pieces into the encoder, whose output
// fills DATA chunks of up to 64 KiB (one per WRTE), then DONE.
asio::awaitable<bool> send_compressed(adb_stream& s, int fd, const std::string& path,
                                      sync_compression compression) {
  std::unique_ptr<sync_encoder> enc;
  std::string error;
  try {
    enc = std::make_unique<sync_encoder>(compression);
  } catch (const std::exception& e) {
    error = std::string("compress failed: ") + e.what();  // no co_await in a handler
  }
  if (!enc) co_return co_await send_fail(s, error);
  const std::size_t chunk = std::min<std::size_t>(kSyncDataMax, s.max_payload() - 8);
  std::vector<std::byte> input(kSyncDataMax);
  std::span<const std::byte> pending;  // read from the file, not yet taken by the encoder
  bool eof = false, done = false;
  std::uint64_t total = 0, compressed = 0;
  while (!done) {
    auto room = co_await s.async_prepare(8 + chunk);
    if (room.empty()) co_return false;
    const auto payload = room.subspan(8, std::min(room.size() - 8, chunk));
    std::size_t used = 0;
    // Fill one DATA chunk (no co_await in between: ROOM stays valid).
    while (used < payload.size() && !done) {
      if (pending.empty() && !eof) {
        ssize_t n;
        do {
          n = ::read(fd, input.data(), input.size());
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
          co_return co_await send_fail(s, "read failed: " + std::string(std::strerror(errno)));
        }
        eof = n == 0;
        pending = std::span<const std::byte>(input.data(), static_cast<std::size_t>(n));
        total += static_cast<std::uint64_t>(n);
      }
      const auto r = enc->encode(pending, eof, payload.subspan(used));
      if (!r) co_return co_await send_fail(s, "compress failed: " + enc->error());
      pending = pending.subspan(r->consumed);
      used += r->produced;
      done = r->done;
      // A codec that neither takes input nor gives output would loop here for ever.
      if (r->consumed == 0 && r->produced == 0 && !done && !pending.empty()) {
        co_return co_await send_fail(s, "compress failed: no progress");
      }
    }
    if (used > 0) {
      store_le32(room.data(), kData);
      store_le32(room.data() + 4, static_cast<std::uint32_t>(used));
      s.commit(8 + used);
      compressed += used;
    }
  }
  std::array<std::byte, 8> end{};
  store_le32(end.data(), kDone);
  ++sync_statistics().compressed_pulls;
  s.connection().log().debug("{}: sync: sent {} ({} bytes as {} compressed, {})",
                             s.connection().peer(), path, total, compressed,
                             to_string(compression));
  co_return co_await s.async_write(end);
}

// RECV path: the file as DATA chunks packed into WRTEs of up to max_payload, then DONE.
asio::awaitable<bool> do_recv(adb_stream& s, const rooted_fs& files, const std::string& path,
                              sync_compression compression) {
  auto fd = files.open(path, O_RDONLY);
  if (!fd) co_return co_await send_fail(s, "open failed: " + rooted_fs::error_text(fd.error()));
  if (compression != sync_compression::none) {
    co_return co_await send_compressed(s, fd.get(), path, compression);
  }
  const std::size_t chunk = std::min<std::size_t>(kSyncDataMax, s.max_payload() - 8);
  std::uint64_t total = 0;
  for (;;) {
    auto room = co_await s.async_prepare(8 + chunk);
    if (room.empty()) co_return false;
    ssize_t n;
    do {
      n = ::read(fd.get(), room.data() + 8, room.size() - 8);
    } while (n < 0 && errno == EINTR);
    if (n < 0) co_return co_await send_fail(s, "read failed: " + std::string(std::strerror(errno)));
    if (n == 0) break;
    store_le32(room.data(), kData);
    store_le32(room.data() + 4, static_cast<std::uint32_t>(n));
    s.commit(8 + static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
  }
  std::array<std::byte, 8> done{};
  store_le32(done.data(), kDone);
  s.connection().log().debug("{}: sync: sent {} ({} bytes)", s.connection().peer(), path, total);
  co_return co_await s.async_write(done);
}

}  // namespace

asio::awaitable<void> run_sync(adb_stream& s, const rooted_fs& files,
                               const connection_config& cfg) {
  for (;;) {
    std::array<std::byte, 8> req;
    if (!co_await s.async_read_exact(req)) co_return;
    const std::uint32_t id = load_le32(req.data());
    const std::uint32_t len = load_le32(req.data() + 4);
    if (id == kQuit) co_return;  // run_service closes the stream, which adb waits for
    if (id != kStat && id != kList && id != kSend && id != kRecv && id != kStat2 && id != kLstat2 &&
        id != kList2 && id != kSend2 && id != kRecv2) {
      co_await send_fail(s, "unknown sync command " + id_text(id));
      co_return;
    }
    if (len > kSyncMaxPath) {
      co_await send_fail(s, "path too long: " + std::to_string(len) + " bytes");
      co_return;
    }
    std::string path(len, '\0');
    if (!co_await s.async_read_exact(std::as_writable_bytes(std::span<char>(path.data(), len)))) {
      co_return;
    }
    s.connection().log().debug("{}: sync: {} {}", s.connection().peer(), id_text(id), path);
    bool ok = false;
    switch (id) {
      case kStat: ok = co_await do_stat(s, files, path); break;
      case kList: ok = co_await do_list(s, files, path, false); break;
      case kStat2:
      case kLstat2: ok = co_await do_stat_v2(s, files, id, path); break;
      case kList2: ok = co_await do_list(s, files, path, true); break;
      case kSend2: ok = co_await do_send_v2(s, files, path, cfg); break;
      case kRecv2: ok = co_await do_recv_v2(s, files, path); break;
      case kSend: ok = co_await do_send(s, files, path); break;
      case kRecv: ok = co_await do_recv(s, files, path); break;
    }
    if (!ok) co_return;
  }
}

}  // namespace adbd_sim::detail
