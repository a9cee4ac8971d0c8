#include "adbd_relay/control.hpp"

#include <boost/json/value.hpp>

#include "vsocklib/json.hpp"

namespace adbd_relay {

std::string status_json(const std::vector<const guest_status*>& guests,
                        const std::vector<const usb_host_status*>& hosts) {
  namespace json = boost::json;
  json::array guest_docs;
  for (const auto* g : guests) {
    guest_docs.push_back(
        json::object{{"name", g->name},
                     {"address", g->address},
                     {"udc", g->udc},
                     {"state", g->state},
                     {"sessions", g->sessions},
                     {"guest_connections", g->guest_connections},
                     {"connect_failures", g->connect_failures},
                     {"protocol_errors", g->protocol_errors},
                     {"pc_new_sessions", g->pc_new_sessions},
                     {"pc_read_stalls", g->pc_read_stalls},
                     {"usb_to_vsock_bytes", g->usb_to_vsock_bytes + g->current.usb_to_stream_bytes},
                     {"vsock_to_usb_bytes", g->vsock_to_usb_bytes + g->current.stream_to_usb_bytes},
                     {"last_error", g->last_error}});
  }
  json::array host_docs;
  for (const auto* h : hosts) {
    host_docs.push_back(
        json::object{{"name", h->name},
                     {"listen", h->listen},
                     {"state", h->state},
                     {"device", h->device},
                     {"sessions", h->sessions},
                     {"no_device", h->no_device},
                     {"busy", h->busy},
                     {"protocol_errors", h->protocol_errors},
                     {"to_device_bytes", h->to_device_bytes + h->current.stream_to_usb_bytes},
                     {"from_device_bytes", h->from_device_bytes + h->current.usb_to_stream_bytes},
                     {"last_error", h->last_error}});
  }
  return vsocklib::to_text(
      json::object{{"guests", std::move(guest_docs)}, {"hosts", std::move(host_docs)}});
}

}  // namespace adbd_relay
