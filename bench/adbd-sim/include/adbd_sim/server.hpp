// adbd-sim's server: listeners on every --listen address, connections spread over
// one-thread io_contexts, signal handling.
#pragma once

#include <memory>
#include <vector>

#include "adbd_sim/options.hpp"

namespace spdlog {
class logger;
}

namespace adbd_sim {

class rooted_fs;

/// Thread safety: run() from one thread; stop() from any.
class server {
 public:
  /// Binds every listen address at once; throws std::system_error naming the address
  /// that fails (a start-up error).
  server(const options& opt, std::shared_ptr<const rooted_fs> files,
         std::shared_ptr<spdlog::logger> log);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The addresses really bound (a tcp port 0 becomes the chosen port).
  std::vector<vsocklib::address> local_addresses() const;

  /// Serves until stop(), SIGINT or SIGTERM. Connections still open are dropped, and their
  /// shell children killed.
  void run();
  void stop();

  struct impl;  // the implementation's state (public only for its own helper functions)

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace adbd_sim
