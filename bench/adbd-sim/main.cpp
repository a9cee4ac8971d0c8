// adbd-sim: a guest-side ADB device daemon for tests and soak runs. See docs/adbd-sim.md.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <spdlog/logger.h>

#include "adbd_sim/connection.hpp"
#include "adbd_sim/options.hpp"
#include "adbd_sim/rooted_fs.hpp"
#include "adbd_sim/server.hpp"
#include "vsocklib/log.hpp"

#ifndef VSOCKLIB_VERSION
#define VSOCKLIB_VERSION "unknown"
#endif

namespace {

[[noreturn]] void usage_exit(const std::string& what) {
  std::cerr << "adbd-sim: " << what << "\n(try adbd-sim --help)\n";
  std::exit(2);
}

// The default --root: a fresh directory that goes away with the process.
std::filesystem::path make_temp_root() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "adbd-sim-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    throw std::system_error(errno, std::generic_category(), "cannot create a temporary --root");
  }
  return tmpl;
}

}  // namespace

int main(int argc, char** argv) {
  adbd_sim::command_line cl;
  try {
    cl = adbd_sim::parse_command_line(argc, argv);
    vsocklib::log::setup(cl.opt.log_level);
  } catch (const std::invalid_argument& e) {
    usage_exit(e.what());
  }
  if (cl.what == adbd_sim::command_line::action::help) {
    std::cout << adbd_sim::kUsage;
    return 0;
  }
  if (cl.what == adbd_sim::command_line::action::version) {
    std::cout << "adbd-sim " << VSOCKLIB_VERSION << "\n";
    return 0;
  }
  auto log = vsocklib::log::get("adbd-sim");
  std::filesystem::path temp_root;
  int status = 0;
  try {
    std::filesystem::path root = cl.opt.root;
    if (root.empty()) root = temp_root = make_temp_root();
    auto files = std::make_shared<const adbd_sim::rooted_fs>(root);
    adbd_sim::server srv(cl.opt, files, log);
    log->info("files under {}{}; banner \"{}\"", files->path().string(),
              temp_root.empty() ? "" : " (temporary)", adbd_sim::device_banner());
    srv.run();
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    status = 1;
  }
  if (!temp_root.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_root, ignored);
  }
  return status;
}
