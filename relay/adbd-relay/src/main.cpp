// adbd-relay: shows a USB ADB function to the PC and bridges it to a guest's adbd over
// vsock. Everything is in the library; this file wires it together and runs it.

#include <cstdlib>
#include <exception>
#include <iostream>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "adbd_relay/command_line.hpp"
#include "adbd_relay/control.hpp"
#include "adbd_relay/daemon_setup.hpp"
#include "adbd_relay/guest_relay.hpp"
#include "adbd_relay/usb_host.hpp"
#include "adbd_relay/usb_host_relay.hpp"
#include "vsocklib/daemon.hpp"
#include "vsocklib/log.hpp"
#include "vsocklib/privileges.hpp"
#include "vsocklib/task_group.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

namespace asio = vsocklib::asio;

[[noreturn]] void usage_exit(const std::string& what) {
  std::cerr << "adbd-relay: " << what << "\n(try adbd-relay --help)\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using action = adbd_relay::command_line::action;
  adbd_relay::command_line c;
  try {
    c = adbd_relay::parse_command_line(argc, argv);
  } catch (const adbd_relay::usage_error& e) {
    usage_exit(e.what());
  }
  if (c.what == action::help) {
    std::cout << adbd_relay::usage_text();
    return 0;
  }
  if (c.what == action::version) {
    std::cout << "adbd-relay " << VSOCKLIB_VERSION << "\n";
    return 0;
  }
  if (c.what == action::status)
    return vsocklib::print_status("adbd-relay", "relay", {c.status_path});
  std::optional<vsocklib::privilege_spec> drop;
  try {
    drop = adbd_relay::finish_config(c.cfg);
  } catch (const adbd_relay::usage_error& e) {
    usage_exit(e.what());
  }
  if (c.what == action::remove_gadgets)
    return adbd_relay::remove_gadgets(c.cfg, std::cout, std::cerr);
  if (c.what == action::check) {
    std::cout << "configuration ok: " << c.cfg.guests.size() << " guest(s), " << c.cfg.hosts.size()
              << " host-mode listener(s)\n";
    return 0;
  }
  auto log = vsocklib::log::get("adbd-relay");
  asio::io_context io(1);

  std::list<adbd_relay::guest_relay> relays;
  std::vector<const adbd_relay::guest_status*> statuses;
  for (const auto& g : c.cfg.guests) {
    relays.emplace_back(g, c.cfg.session, c.cfg.connect);
    statuses.push_back(&relays.back().status());
  }

  std::optional<vsocklib::daemon_runtime> runtime;
  try {
    runtime.emplace(io, c.cfg.control_socket, log);
  } catch (const std::exception& e) {
    log->error("status socket: {}", e.what());
    return 1;
  }

  if (drop && !adbd_relay::prepare_and_drop(relays, *drop, *log)) return 1;

  // Host mode: libusb only when a host-mode listener is configured.
  std::optional<adbd_relay::usb_host> usb;
  std::list<adbd_relay::usb_host_relay> host_relays;
  std::vector<const adbd_relay::usb_host_status*> host_statuses;
  if (!c.cfg.hosts.empty()) {
    try {
      usb.emplace(io.get_executor(), log);
    } catch (const std::exception& e) {
      log->error("host mode: {}", e.what());
      return 1;
    }
    for (const auto& h : c.cfg.hosts) {
      host_relays.emplace_back(h, c.cfg.hosts, c.cfg.session, *usb);
      host_statuses.push_back(&host_relays.back().status());
    }
  }

  // The daemon's tasks, each until cancelled: a failure (a relay that cannot start: no
  // configfs, no UDC, address in use) cancels the others and ends the daemon with status 1;
  // SIGTERM and SIGINT cancel them all.
  vsocklib::task_group tasks(io.get_executor(), [&tasks] { tasks.cancel_all(); });
  for (auto& r : relays) tasks.spawn(vsocklib::logged_task(r.run(), r.status().name, log));
  for (auto& h : host_relays) tasks.spawn(vsocklib::logged_task(h.run(), h.status().name, log));
  if (usb) {
    tasks.spawn(vsocklib::logged_task(adbd_relay::watch_adb_devices(*usb, c.cfg.host_rescan, log),
                                      "host mode", log));
  }
  bool failed = false;
  // io.stop() at the end: libusb's descriptor watches stay on the io_context until usb goes,
  // and must not keep the daemon up once its tasks are done.
  asio::co_spawn(io,
                 runtime->run_with(
                     tasks.join(), [&tasks] { tasks.cancel_all(); },
                     [&] { return adbd_relay::status_json(statuses, host_statuses); },
                     "bridging " + std::to_string(relays.size()) + " guest(s), " +
                         std::to_string(host_relays.size()) + " host-mode listener(s)"),
                 [&](std::exception_ptr e) {
                   failed = e != nullptr;  // logged by the task that failed
                   io.stop();
                 });
  asio::post(io, [&] {
    log->info("adbd-relay {} started: {} guest(s), {} host-mode listener(s), status on {}",
              VSOCKLIB_VERSION, relays.size(), host_relays.size(), c.cfg.control_socket);
  });
  io.run();
  runtime.reset();  // removes the status socket
  return failed ? 1 : 0;
}
