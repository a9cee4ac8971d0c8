// adbd-relay's status document (guests, hosts, states, counters, last errors), served on
// its control socket (vsocklib/control_socket.hpp) and printed by `adbd-relay --status`.
#pragma once

#include <string>
#include <vector>

#include "adbd_relay/guest_relay.hpp"
#include "adbd_relay/usb_host_relay.hpp"

namespace adbd_relay {

std::string status_json(const std::vector<const guest_status*>& guests,
                        const std::vector<const usb_host_status*>& hosts = {});

}  // namespace adbd_relay
