#include "adbd_sim/sync_codec.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lz4frame.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace adbd_sim {

const char* to_string(sync_compression c) noexcept {
  switch (c) {
    case sync_compression::none: return "none";
    case sync_compression::brotli: return "brotli";
    case sync_compression::lz4: return "lz4";
    case sync_compression::zstd: return "zstd";
  }
  return "?";
}

sync_counters& sync_statistics() noexcept {
  static sync_counters counters;
  return counters;
}

namespace {

const std::uint8_t* u8(const std::byte* p) noexcept {
  return reinterpret_cast<const std::uint8_t*>(p);
}
std::uint8_t* u8(std::byte* p) noexcept { return reinterpret_cast<std::uint8_t*>(p); }

// LZ4 frame settings shared by the encoder and its staging buffer: 64 KiB blocks (as adb's
// encoder, which uses the library defaults), linked blocks, no checksums.
LZ4F_preferences_t lz4_preferences() noexcept {
  LZ4F_preferences_t p;
  std::memset(&p, 0, sizeof p);
  p.frameInfo.blockSizeID = LZ4F_max64KB;
  return p;
}

// The largest input handed to LZ4F_compressUpdate at once; the staging buffer holds its
// worst-case output.
constexpr std::size_t kLz4InputStep = 64 * 1024;

}  // namespace

// ---- decoder

struct sync_decoder::impl {
  sync_compression kind;
  std::vector<std::byte> out = std::vector<std::byte>(kSyncDecodeChunk);
  std::string error;
  bool done = false;    // the stream ended
  bool failed = false;  // an error: nothing more is accepted
  BrotliDecoderState* brotli = nullptr;
  LZ4F_dctx* lz4 = nullptr;
  ZSTD_DCtx* zstd = nullptr;

  bool fail(std::string why) {
    failed = true;
    error = std::move(why);
    return false;
  }

  // Hands N bytes of the output buffer to SINK.
  bool emit(std::size_t n, const sink& to) {
    if (n == 0 || to(std::span<const std::byte>(out.data(), n))) return true;
    return fail("stopped by the receiver");
  }

  bool trailing(std::size_t left) {
    return fail(std::to_string(left) + " bytes after the end of the " + to_string(kind) +
                " stream");
  }

  bool feed_brotli(std::span<const std::byte> in, const sink& to) {
    std::size_t avail_in = in.size();
    const std::uint8_t* next_in = u8(in.data());
    for (;;) {
      if (done) return avail_in == 0 || trailing(avail_in);
      std::size_t avail_out = out.size();
      std::uint8_t* next_out = u8(out.data());
      const auto r = BrotliDecoderDecompressStream(brotli, &avail_in, &next_in, &avail_out,
                                                   &next_out, nullptr);
      if (r == BROTLI_DECODER_RESULT_ERROR) {
        return fail(std::string("brotli: ") +
                    BrotliDecoderErrorString(BrotliDecoderGetErrorCode(brotli)));
      }
      if (!emit(out.size() - avail_out, to)) return false;
      if (r == BROTLI_DECODER_RESULT_SUCCESS) done = true;
      // NEEDS_MORE_INPUT: brotli has used all of IN.
      if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return true;
    }
  }

  bool feed_lz4(std::span<const std::byte> in, const sink& to) {
    std::size_t at = 0;
    for (;;) {
      if (done) return at == in.size() || trailing(in.size() - at);
      std::size_t out_size = out.size();
      std::size_t in_size = in.size() - at;
      const std::size_t hint =
          LZ4F_decompress(lz4, out.data(), &out_size, in.data() + at, &in_size, nullptr);
      if (LZ4F_isError(hint)) return fail(std::string("lz4: ") + LZ4F_getErrorName(hint));
      at += in_size;
      if (!emit(out_size, to)) return false;
      if (hint == 0) {
        done = true;  // the frame is complete
        continue;
      }
      // The output buffer was not filled: LZ4 has nothing more until more input comes.
      if (out_size < out.size() && at == in.size()) return true;
      if (out_size == 0 && in_size == 0) return fail("lz4: the decoder made no progress");
    }
  }

  bool feed_zstd(std::span<const std::byte> in, const sink& to) {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    for (;;) {
      if (done) return ib.pos == ib.size || trailing(ib.size - ib.pos);
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      const std::size_t before = ib.pos;
      const std::size_t r = ZSTD_decompressStream(zstd, &ob, &ib);
      if (ZSTD_isError(r)) return fail(std::string("zstd: ") + ZSTD_getErrorName(r));
      if (r != 0 && ob.pos == 0 && ib.pos == before && ib.pos < ib.size) {
        return fail("zstd: the decoder made no progress");
      }
      if (!emit(ob.pos, to)) return false;
      if (r == 0) {
        done = true;  // the frame is complete and flushed
        continue;
      }
      // A full output buffer may leave output inside zstd: call again even without input.
      if (ob.pos < ob.size && ib.pos == ib.size) return true;
    }
  }
};

sync_decoder::sync_decoder(sync_compression c) : impl_(std::make_unique<impl>()) {
  impl_->kind = c;
  switch (c) {
    case sync_compression::brotli:
      impl_->brotli = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
      if (!impl_->brotli) throw std::runtime_error("cannot create a brotli decoder");
      break;
    case sync_compression::lz4:
      if (LZ4F_isError(LZ4F_createDecompressionContext(&impl_->lz4, LZ4F_VERSION))) {
        throw std::runtime_error("cannot create an LZ4 decoder");
      }
      break;
    case sync_compression::zstd:
      impl_->zstd = ZSTD_createDCtx();
      if (!impl_->zstd) throw std::runtime_error("cannot create a zstd decoder");
      if (ZSTD_isError(
              ZSTD_DCtx_setParameter(impl_->zstd, ZSTD_d_windowLogMax, kZstdWindowLogMax))) {
        ZSTD_freeDCtx(impl_->zstd);
        throw std::runtime_error("cannot bound the zstd decoder's window");
      }
      break;
    case sync_compression::none: throw std::invalid_argument("sync_decoder without compression");
  }
}

sync_decoder::~sync_decoder() {
  if (impl_->brotli) BrotliDecoderDestroyInstance(impl_->brotli);
  if (impl_->lz4) LZ4F_freeDecompressionContext(impl_->lz4);
  if (impl_->zstd) ZSTD_freeDCtx(impl_->zstd);
}

bool sync_decoder::feed(std::span<const std::byte> in, const sink& out) {
  if (impl_->failed) return false;
  switch (impl_->kind) {
    case sync_compression::brotli: return impl_->feed_brotli(in, out);
    case sync_compression::lz4: return impl_->feed_lz4(in, out);
    case sync_compression::zstd: return impl_->feed_zstd(in, out);
    case sync_compression::none: break;
  }
  return false;
}

bool sync_decoder::complete() const noexcept { return impl_->done && !impl_->failed; }
const std::string& sync_decoder::error() const noexcept { return impl_->error; }
sync_compression sync_decoder::kind() const noexcept { return impl_->kind; }

// ---- encoder

struct sync_encoder::impl {
  sync_compression kind;
  std::string error;
  BrotliEncoderState* brotli = nullptr;
  LZ4F_cctx* lz4 = nullptr;
  ZSTD_CCtx* zstd = nullptr;
  // LZ4 writes whole blocks only, into a buffer of its worst case; drained into OUT.
  LZ4F_preferences_t lz4_prefs = lz4_preferences();
  std::vector<std::byte> stage;
  std::size_t stage_at = 0, stage_end = 0;
  bool lz4_begun = false, lz4_ended = false;

  std::optional<step> fail(std::string why) {
    error = std::move(why);
    return std::nullopt;
  }

  std::optional<step> encode_brotli(std::span<const std::byte> in, bool finish,
                                    std::span<std::byte> out) {
    std::size_t avail_in = in.size(), avail_out = out.size();
    const std::uint8_t* next_in = u8(in.data());
    std::uint8_t* next_out = u8(out.data());
    if (!BrotliEncoderCompressStream(brotli,
                                     finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS,
                                     &avail_in, &next_in, &avail_out, &next_out, nullptr)) {
      return fail("brotli: compression failed");
    }
    return step{in.size() - avail_in, out.size() - avail_out,
                finish && BrotliEncoderIsFinished(brotli) != 0};
  }

  std::optional<step> encode_zstd(std::span<const std::byte> in, bool finish,
                                  std::span<std::byte> out) {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    const std::size_t r =
        ZSTD_compressStream2(zstd, &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(r)) return fail(std::string("zstd: ") + ZSTD_getErrorName(r));
    return step{ib.pos, ob.pos, finish && r == 0};
  }

  std::optional<step> encode_lz4(std::span<const std::byte> in, bool finish,
                                 std::span<std::byte> out) {
    step s;
    for (;;) {
      if (stage_at < stage_end) {
        const std::size_t n = std::min(out.size() - s.produced, stage_end - stage_at);
        std::memcpy(out.data() + s.produced, stage.data() + stage_at, n);
        stage_at += n;
        s.produced += n;
        if (stage_at < stage_end) return s;  // OUT is full
      }
      if (lz4_ended) {
        s.done = true;
        return s;
      }
      std::size_t r;
      if (!lz4_begun) {
        r = LZ4F_compressBegin(lz4, stage.data(), stage.size(), &lz4_prefs);
        lz4_begun = true;
      } else if (s.consumed < in.size()) {
        const std::size_t take = std::min(in.size() - s.consumed, kLz4InputStep);
        r = LZ4F_compressUpdate(lz4, stage.data(), stage.size(), in.data() + s.consumed, take,
                                nullptr);
        if (!LZ4F_isError(r)) s.consumed += take;
      } else if (finish) {
        r = LZ4F_compressEnd(lz4, stage.data(), stage.size(), nullptr);
        lz4_ended = true;
      } else {
        return s;
      }
      if (LZ4F_isError(r)) return fail(std::string("lz4: ") + LZ4F_getErrorName(r));
      stage_at = 0;
      stage_end = r;
    }
  }
};

sync_encoder::sync_encoder(sync_compression c) : impl_(std::make_unique<impl>()) {
  impl_->kind = c;
  switch (c) {
    case sync_compression::brotli:
      impl_->brotli = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
      if (!impl_->brotli) throw std::runtime_error("cannot create a brotli encoder");
      BrotliEncoderSetParameter(impl_->brotli, BROTLI_PARAM_QUALITY, 1);
      BrotliEncoderSetParameter(impl_->brotli, BROTLI_PARAM_LGWIN, 22);
      break;
    case sync_compression::lz4:
      if (LZ4F_isError(LZ4F_createCompressionContext(&impl_->lz4, LZ4F_VERSION))) {
        throw std::runtime_error("cannot create an LZ4 encoder");
      }
      impl_->stage.resize(LZ4F_compressBound(kLz4InputStep, &impl_->lz4_prefs) +
                          LZ4F_HEADER_SIZE_MAX);
      break;
    case sync_compression::zstd:
      impl_->zstd = ZSTD_createCCtx();
      if (!impl_->zstd) throw std::runtime_error("cannot create a zstd encoder");
      ZSTD_CCtx_setParameter(impl_->zstd, ZSTD_c_compressionLevel, 1);
      break;
    case sync_compression::none: throw std::invalid_argument("sync_encoder without compression");
  }
}

sync_encoder::~sync_encoder() {
  if (impl_->brotli) BrotliEncoderDestroyInstance(impl_->brotli);
  if (impl_->lz4) LZ4F_freeCompressionContext(impl_->lz4);
  if (impl_->zstd) ZSTD_freeCCtx(impl_->zstd);
}

std::optional<sync_encoder::step> sync_encoder::encode(std::span<const std::byte> in, bool finish,
                                                       std::span<std::byte> out) {
  switch (impl_->kind) {
    case sync_compression::brotli: return impl_->encode_brotli(in, finish, out);
    case sync_compression::lz4: return impl_->encode_lz4(in, finish, out);
    case sync_compression::zstd: return impl_->encode_zstd(in, finish, out);
    case sync_compression::none: break;
  }
  return std::nullopt;
}

const std::string& sync_encoder::error() const noexcept { return impl_->error; }

}  // namespace adbd_sim
