// The four commands, each as main runs it: sockets set up, the work done, the results
// printed (stdout; "ready" and FAIL lines on stderr). Each returns the exit status (0 ok,
// 1 check failed); usage_error and std::system_error mean status 2.
#pragma once

#include "mcast_probe/options.hpp"

namespace mcast_probe {

int run_send(const send_options& o);
int run_recv(const recv_options& o);
int run_echo(const echo_options& o);
int run_ping(const ping_options& o);

}  // namespace mcast_probe
