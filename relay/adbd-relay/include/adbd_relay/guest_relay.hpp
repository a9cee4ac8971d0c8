// The lifecycle of one guest's relay: the USB function is shown to the PC only while the
// guest's adbd answers on vsock; when either side goes, both are reset so the other side
// starts afresh (the PC's adb sees the device leave and come back, the guest's adbd sees
// its connection close).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "adbd_relay/config.hpp"
#include "adbd_relay/gadget.hpp"
#include "adbd_relay/session.hpp"

namespace spdlog {
class logger;
}

namespace adbd_relay {

/// What the control socket reports about one guest.
struct guest_status {
  std::string name;
  std::string address;
  std::string state = "starting";
  std::string udc;
  std::uint64_t sessions = 0;           ///< USB sessions bridged
  std::uint64_t guest_connections = 0;  ///< vsock connections made to the guest's adbd
  std::uint64_t connect_failures = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t pc_new_sessions = 0;     ///< sessions the PC's adb restarted with a new CNXN
  std::uint64_t pc_read_stalls = 0;      ///< sessions ended because the PC stopped reading
  std::uint64_t usb_to_vsock_bytes = 0;  ///< of finished sessions; see current
  std::uint64_t vsock_to_usb_bytes = 0;
  session_stats current;  ///< the session being bridged, live
  std::string last_error;
};

class guest_relay {
 public:
  guest_relay(guest_config cfg, session_options session, vsocklib::connector_options connect);

  /// Creates the USB gadget now (configfs tree, FunctionFS mount) instead of in run():
  /// what a relay that drops its privileges must do first. Throws std::system_error
  /// naming what failed.
  void prepare();

  /// Runs until cancelled. Creates the gadget first unless prepare() did; one that cannot
  /// be created (configfs busy, no UDC yet) is retried every 5 s, as root only.
  asio::awaitable<void> run();

  /// Where the gadget's FunctionFS is mounted (after prepare()).
  const std::string& gadget_ffs_dir() const { return gadget_->ffs_dir(); }

  const guest_status& status() const noexcept { return status_; }

 private:
  guest_config cfg_;
  session_options session_;
  vsocklib::connector_options connect_;
  std::shared_ptr<spdlog::logger> log_;
  guest_status status_;
  std::optional<gadget> gadget_;
};

}  // namespace adbd_relay
