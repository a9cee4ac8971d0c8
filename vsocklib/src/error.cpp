#include "vsocklib/error.hpp"

#include <string>

namespace vsocklib {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "vsocklib"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::connect_timeout: return "connect timed out";
      case errc::hvsock_refused: return "hybrid vsock multiplexer refused the port";
      case errc::hvsock_no_answer: return "hybrid vsock multiplexer closed without answering";
      case errc::hvsock_reply_too_long: return "hybrid vsock answer line too long";
      case errc::peer_not_allowed: return "peer not allowed by policy";
      case errc::invalid_option: return "invalid option";
      case errc::wrong_transport: return "address has the wrong transport for this use";
      case errc::listener_queue_full:
        return "the listener's accept queue stayed full (it is not accepting)";
    }
    return "unknown vsocklib error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& vsocklib_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace vsocklib
