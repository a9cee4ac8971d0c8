// A configfs USB gadget that carries one FunctionFS function (the ADB interface), and its
// binding to a USB device controller (UDC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "vsocklib/privileges.hpp"

namespace adbd_relay {

struct gadget_options {
  std::string configfs = "/sys/kernel/config/usb_gadget";
  std::string name = "adbd-relay";  ///< the gadget's directory under configfs
  /// FunctionFS instance: functions/ffs.<function>. Instance names are system-wide (a
  /// second gadget asking for the same one gets EBUSY); empty: the gadget's name.
  std::string function;
  /// Google's vendor id and its adb product id: what host udev rules and drivers expect
  /// of an ADB device (adb itself matches the interface class, not the ids).
  std::uint16_t vendor_id = 0x18d1;
  std::uint16_t product_id = 0x4ee7;
  std::string manufacturer = "vsock relay toolkit";
  std::string product = "adbd-relay";
  std::string serial = "adbd-relay";  ///< what `adb devices` lists
  std::string udc;                    ///< empty: the first in /sys/class/udc
  std::string ffs_dir;  ///< where functionfs is mounted; empty: /run/adbd-relay/<name>
  /// The user the relay drops to (`user =`), when it does: FunctionFS is mounted with its
  /// uid/gid (ep0..ep2 become its files) and the UDC attribute is handed to it, so
  /// re-enumeration needs no privilege. Empty: everything stays root's.
  std::optional<vsocklib::user_ids> owner;
};

/// Creates the gadget's configfs tree and mounts its FunctionFS instance; the destructor
/// unbinds and removes what it created. Start-up errors throw std::system_error naming
/// the path. Thread safety: none.
class gadget {
 public:
  explicit gadget(gadget_options opt);
  ~gadget();
  gadget(const gadget&) = delete;
  gadget& operator=(const gadget&) = delete;

  /// Binds to the UDC: the PC sees the device arrive. FunctionFS descriptors must already
  /// be written to ep0.
  void bind();
  /// Unbinds: the PC sees the device leave. No error when it was not bound.
  void unbind();

  /// Takes down a gadget with these options that a previous run left (an unprivileged
  /// relay cannot remove its own at exit): unbinds, unmounts FunctionFS and removes the
  /// configfs tree. Needs root; what is not there is skipped. Returns the problems, one
  /// line each (empty: all gone).
  static std::string remove_left_over(const gadget_options& opt);

  const std::string& ffs_dir() const noexcept { return opt_.ffs_dir; }
  const std::string& udc() const noexcept { return opt_.udc; }
  const gadget_options& options() const noexcept { return opt_; }

 private:
  void remove();
  gadget_options opt_;
  std::string dir_;
  bool mounted_ = false;
};

}  // namespace adbd_relay
