#include "vsocklib/vsock.hpp"

#include <unistd.h>

namespace vsocklib::vsock {

std::string to_string(std::uint32_t cid, std::uint32_t port) {
  return "vsock:" + (cid == VMADDR_CID_ANY ? std::string("any") : std::to_string(cid)) + ":" +
         std::to_string(port);
}

bool loopback_available() noexcept {
  // Without vsock_loopback a connect to CID 1 hangs instead of failing, so the probe reads
  // the module list rather than trying.
  return ::access("/sys/module/vsock_loopback", F_OK) == 0;
}

}  // namespace vsocklib::vsock
