// vsock-soak: proves a path carries every byte over long runs with faults. See docs/vsock-soak.md.
// The library holds everything; this file wires it.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include <spdlog/logger.h>

#include "vsock_soak/options.hpp"
#include "vsock_soak/soak.hpp"
#include "vsocklib/log.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

using namespace vsock_soak;

[[noreturn]] void usage_exit(const std::string& what) {
  std::cerr << "vsock-soak: " << what << "\n(try vsock-soak --help)\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  command_line cl;
  try {
    cl = parse_command_line(argc, argv);
    if (cl.what == command_line::action::run || cl.what == command_line::action::serve) {
      vsocklib::log::setup(cl.log_level);
    }
  } catch (const std::invalid_argument& e) {
    usage_exit(e.what());
  }
  if (cl.what == command_line::action::help) {
    std::cout << kUsage;
    return 0;
  }
  if (cl.what == command_line::action::version) {
    std::cout << "vsock-soak " << VSOCKLIB_VERSION << "\n";
    return 0;
  }
  cl.run.version = VSOCKLIB_VERSION;

  auto log = vsocklib::log::get("vsock-soak");
  try {
    if (cl.what == command_line::action::serve) {
      serve(cl.serve, log);
      return 0;
    }
    const run_options& ro = cl.run;
    results r = run_soak(ro, log);
    auto write = [&](const std::string& path, const std::string& text) {
      std::ofstream out(path, std::ios::trunc);
      out << text;
      if (!out.flush()) {
        log->error("cannot write {}", path);
        return false;
      }
      return true;
    };
    bool written = true;
    if (!ro.json_path.empty()) written &= write(ro.json_path, to_json(r));
    if (!ro.html_path.empty()) written &= write(ro.html_path, to_html(r));
    std::cout << summary_line(r) << std::endl;
    for (std::size_t i = 1; i < r.failures.size(); ++i)
      std::cout << "  also: " << r.failures[i] << "\n";
    return r.passed() && written ? 0 : 1;
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return 1;
  }
}
