// vsocklib's own error codes, in a boost::system category so they travel in the same
// error_code as the operating system's errors.
#pragma once

#include <boost/system/error_code.hpp>

namespace vsocklib {

enum class errc {
  ok = 0,
  /// A connect attempt (including a hybrid vsock handshake) did not finish in time.
  connect_timeout = 1,
  /// The hybrid vsock multiplexer answered something other than "OK <port>".
  hvsock_refused,
  /// The hybrid vsock multiplexer closed the connection without a complete answer line.
  hvsock_no_answer,
  /// The hybrid vsock answer line was longer than any valid answer.
  hvsock_reply_too_long,
  /// An accepted peer did not pass the listener's peer policy.
  peer_not_allowed,
  /// Options (chunk size, queue depth, ...) outside their valid range.
  invalid_option,
  /// The address names a transport that cannot do what was asked (e.g. a byte stream
  /// over vsock-seqpacket).
  wrong_transport,
  /// A Unix (or hybrid vsock) listener's accept queue stayed full until the connect
  /// deadline: the listener exists but is not accepting.
  listener_queue_full,
};

const boost::system::error_category& vsocklib_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), vsocklib_category()};
}

}  // namespace vsocklib

namespace boost::system {
template <>
struct is_error_code_enum<vsocklib::errc> : std::true_type {};
}  // namespace boost::system
