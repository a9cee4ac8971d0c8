// Test helpers: run a named coroutine on a fresh io_context with a deadline owned by the
// io_context (run_for), never by sleeping.
#pragma once

#include <chrono>
#include <exception>
#include <stdexcept>

#include <gtest/gtest.h>

#include "vsocklib/asio.hpp"

namespace vsocklib::test {

/// Runs AW on IO until it completes or TIMEOUT passes; rethrows its exception; returns false
/// (with a gtest failure) on timeout. Work still pending on IO when AW completes (detached
/// peers) is abandoned: the io_context stops.
template <typename T>
bool run_with_deadline(asio::io_context& io, asio::awaitable<T> aw,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, auto&&...) {
    done = true;
    error = e;
    io.stop();
  });
  io.run_for(timeout);
  if (error) std::rethrow_exception(error);
  if (!done) ADD_FAILURE() << "coroutine did not finish within " << timeout.count() << " ms";
  return done;
}

}  // namespace vsocklib::test
