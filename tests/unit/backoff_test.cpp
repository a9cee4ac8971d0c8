#include "vsocklib/backoff.hpp"

#include <gtest/gtest.h>

namespace vsocklib {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsWithJitterUpToTheCap) {
  backoff_options o;
  o.initial = milliseconds(100);
  o.max = milliseconds(1000);
  o.multiplier = 2.0;
  o.jitter = 0.2;
  backoff b(o, 42);
  double expected = 100;
  for (int i = 0; i < 12; ++i) {
    auto d = b.next().count();
    double base = std::min(expected, 1000.0);
    EXPECT_LE(d, base) << "attempt " << i;
    EXPECT_GE(d, base * 0.8 - 1) << "attempt " << i;
    expected *= 2;
  }
  EXPECT_EQ(b.attempts(), 12u);
}

TEST(Backoff, ResetStartsOver) {
  backoff b({milliseconds(50), milliseconds(5000), 3.0, 0.0}, 1);
  EXPECT_EQ(b.next(), milliseconds(50));
  EXPECT_EQ(b.next(), milliseconds(150));
  b.reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.next(), milliseconds(50));
}

TEST(Backoff, JitterSpreadsDelays) {
  backoff a({milliseconds(1000), milliseconds(1000), 2.0, 0.5}, 1);
  backoff b({milliseconds(1000), milliseconds(1000), 2.0, 0.5}, 2);
  int differ = 0;
  for (int i = 0; i < 20; ++i) differ += a.next() != b.next();
  EXPECT_GT(differ, 15);
}

TEST(Backoff, ValidatesOptions) {
  EXPECT_TRUE(backoff_options{}.validate().empty());
  EXPECT_FALSE((backoff_options{milliseconds(0), milliseconds(10), 2, 0.1}).validate().empty());
  EXPECT_FALSE((backoff_options{milliseconds(10), milliseconds(5), 2, 0.1}).validate().empty());
  EXPECT_FALSE((backoff_options{milliseconds(10), milliseconds(50), 0.5, 0.1}).validate().empty());
  EXPECT_FALSE((backoff_options{milliseconds(10), milliseconds(50), 2, 1.0}).validate().empty());
}

}  // namespace
}  // namespace vsocklib
