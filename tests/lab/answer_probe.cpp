// lab_answer_probe — how fast a daemon's status socket answers, over a stretch of time.
//
// usage: lab_answer_probe SOCKET_PATH INTERVAL_MS DURATION_MS
//
// Every INTERVAL_MS, for DURATION_MS, connects to the Unix stream socket at SOCKET_PATH
// and reads its answer to EOF (what adbd-relay's and vsock-mcast's control sockets do:
// one document per connection). Each query is bounded by 5 s. Prints one line:
//   queries=N failed=F slowest_ms=M
// where a failed query is one that could not connect, timed out or answered nothing.
// The time measured is connect to EOF only, not this program's start-up: in a TCG guest
// a process start alone can take tens of milliseconds.
//
// exit status: 0 after the run (the caller judges the numbers); 2 on a usage error.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto kQueryBound = std::chrono::seconds(5);

// One query; true when the answer was non-empty and ended (EOF) within the bound.
bool query(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  const auto deadline = clock_type::now() + kQueryBound;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno == EINPROGRESS;
  std::size_t got = 0;
  while (ok) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) {
      ok = false;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ok = false;
      break;
    }
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;  // EOF: the whole answer arrived
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      ok = false;
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return ok && got > 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: lab_answer_probe SOCKET_PATH INTERVAL_MS DURATION_MS\n");
    return 2;
  }
  const std::string path = argv[1];
  const long interval = std::strtol(argv[2], nullptr, 10);
  const long duration = std::strtol(argv[3], nullptr, 10);
  if (interval <= 0 || duration <= 0) {
    std::fprintf(stderr, "lab_answer_probe: INTERVAL_MS and DURATION_MS must be positive\n");
    return 2;
  }
  const auto end = clock_type::now() + std::chrono::milliseconds(duration);
  long queries = 0, failed = 0;
  double slowest_ms = 0;
  while (clock_type::now() < end) {
    const auto t0 = clock_type::now();
    const bool ok = query(path);
    const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    ++queries;
    if (!ok) ++failed;
    if (ms > slowest_ms) slowest_ms = ms;
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(interval));
  }
  std::printf("queries=%ld failed=%ld slowest_ms=%.1f\n", queries, failed, slowest_ms);
  return 0;
}
