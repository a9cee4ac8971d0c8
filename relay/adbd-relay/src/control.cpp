#include "control.hpp"

#include "vsocklib/control_socket.hpp"

namespace adbd_relay {

using vsocklib::json_string;

std::string status_json(const std::vector<const guest_status*>& guests,
                        const std::vector<const host_status*>& hosts) {
  std::string out = "{\"guests\": [";
  bool first = true;
  for (const auto* g : guests) {
    out += first ? "\n" : ",\n";
    first = false;
    out += "  {\"name\": " + json_string(g->name) + ", \"address\": " + json_string(g->address) +
           ", \"udc\": " + json_string(g->udc) + ", \"state\": " + json_string(g->state) +
           ", \"sessions\": " + std::to_string(g->sessions) +
           ", \"guest_connections\": " + std::to_string(g->guest_connections) +
           ", \"connect_failures\": " + std::to_string(g->connect_failures) +
           ", \"protocol_errors\": " + std::to_string(g->protocol_errors) +
           ", \"pc_new_sessions\": " + std::to_string(g->pc_new_sessions) +
           ", \"usb_to_vsock_bytes\": " +
           std::to_string(g->usb_to_vsock_bytes + g->current.usb_to_stream_bytes) +
           ", \"vsock_to_usb_bytes\": " +
           std::to_string(g->vsock_to_usb_bytes + g->current.stream_to_usb_bytes) +
           ", \"last_error\": " + json_string(g->last_error) + "}";
  }
  out += "\n],\n\"hosts\": [";
  first = true;
  for (const auto* h : hosts) {
    out += first ? "\n" : ",\n";
    first = false;
    out += "  {\"name\": " + json_string(h->name) + ", \"listen\": " + json_string(h->listen) +
           ", \"state\": " + json_string(h->state) + ", \"device\": " + json_string(h->device) +
           ", \"sessions\": " + std::to_string(h->sessions) +
           ", \"no_device\": " + std::to_string(h->no_device) +
           ", \"busy\": " + std::to_string(h->busy) +
           ", \"protocol_errors\": " + std::to_string(h->protocol_errors) +
           ", \"to_device_bytes\": " +
           std::to_string(h->to_device_bytes + h->current.stream_to_usb_bytes) +
           ", \"from_device_bytes\": " +
           std::to_string(h->from_device_bytes + h->current.usb_to_stream_bytes) +
           ", \"last_error\": " + json_string(h->last_error) + "}";
  }
  return out + "\n]}\n";
}

}  // namespace adbd_relay
