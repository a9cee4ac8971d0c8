// vsock-soak's statistics: the latency histogram's error bound, the /proc parsers, the
// bounded series, and the verdict that decides the exit status.
#include <gtest/gtest.h>

#include <sys/prctl.h>
#include <unistd.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "vsock_soak/histogram.hpp"
#include "vsock_soak/proc_sampler.hpp"
#include "vsock_soak/results.hpp"

namespace vsock_soak {
namespace {

TEST(SoakHistogram, PercentilesWithinOneSixteenth) {
  histogram h;
  std::mt19937_64 rng(3);
  std::vector<std::uint64_t> v;
  for (int i = 0; i < 100000; ++i) {
    const auto x =
        static_cast<std::uint64_t>(std::exp(std::uniform_real_distribution<>(0, 16)(rng)));
    v.push_back(x);
    h.record(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = double(v[static_cast<std::size_t>(std::ceil(q * v.size())) - 1]);
    const double got = double(h.percentile(q));
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact * (1 + 1.0 / 16) + 1) << q;
  }
  EXPECT_EQ(h.max(), v.back());
  EXPECT_EQ(h.count(), 100000u);
}

TEST(SoakHistogram, SmallValuesExactAndBucketsContiguous) {
  histogram h;
  for (std::uint64_t i = 0; i < 16; ++i) EXPECT_EQ(histogram::bucket_of(i), i);
  for (std::size_t i = 1; i + 1 < histogram::kBuckets; ++i) {
    EXPECT_EQ(histogram::bucket_of(histogram::bucket_upper(i)), i);
    EXPECT_EQ(histogram::bucket_of(histogram::bucket_upper(i) + 1), i + 1);
  }
  EXPECT_EQ(h.percentile(0.5), 0u);
  h.record(5);
  h.record(7);
  EXPECT_EQ(h.percentile(0.5), 5u);
  EXPECT_EQ(h.percentile(1.0), 7u);
  histogram other;
  other.record(1000);
  h.merge(other);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.count(), 3u);
}

TEST(SoakProc, ParsesStatusAndStat) {
  const char* status =
      "Name:\tadbd-relay\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t   12000 kB\n"
      "VmRSS:\t    5120 kB\nRssAnon:\t    1000 kB\nThreads:\t3\nSigQ:\t0/1000\n";
  auto s = parse_status(status);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->rss_kib, 5120u);
  EXPECT_EQ(s->threads, 3u);
  EXPECT_FALSE(parse_status("Name:\tzombie\nThreads:\t1\n")) << "a zombie has no VmRSS";

  // A command name with spaces and ')' must not shift the fields.
  const char* stat =
      "1234 (we ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 1000 50";
  EXPECT_EQ(parse_stat_cpu(stat), 325u);
  EXPECT_FALSE(parse_stat_cpu("1234 (short) S 1 2"));
  EXPECT_FALSE(parse_stat_cpu("garbage"));
}

TEST(SoakProc, SamplesThisProcess) {
  auto s = sample_process(::getpid());
  ASSERT_TRUE(s);
  EXPECT_GT(s->rss_kib, 0u);
  EXPECT_GE(s->fds, 3u);
  EXPECT_GE(s->threads, 1u);
  EXPECT_FALSE(sample_process(0x3ffffff0));
  // A name no other process has: ctest runs other tests of this binary in parallel.
  const std::string comm = "soak" + std::to_string(::getpid() % 100000000);
  ASSERT_EQ(::prctl(PR_SET_NAME, comm.c_str()), 0);
  EXPECT_EQ(find_process(comm), ::getpid());
  EXPECT_FALSE(find_process(comm, ::getpid()) == ::getpid());
}

TEST(SoakResults, SeriesAreHalvedNotDropped) {
  std::vector<series_point> s(10);
  for (int i = 0; i < 10; ++i)
    s[i] = {double(i + 1), 1, 100, 1, std::uint64_t(i), 0, 0, std::uint64_t(i) * 10, 0, 0};
  halve(s);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].bytes, 200u);
  EXPECT_EQ(s[0].interval_s, 2);
  EXPECT_EQ(s[4].t_s, 10);
  EXPECT_EQ(s[4].max_us, 90u);
}

results passing_run() {
  results r;
  r.messages = 10;
  r.bytes = 1000;
  r.recovery_bound_ms = 2000;
  r.recoveries.push_back({5, "restart", 4, 800, true});
  return r;
}

TEST(SoakResults, EvaluateFailsOnEachBrokenPromise) {
  auto r = passing_run();
  evaluate(r);
  EXPECT_TRUE(r.passed()) << r.failures.front();

  r = passing_run();
  r.corruptions = 1;
  r.first_corruption = corruption{2, 123456, 77, false, "echo", "payload byte differs"};
  evaluate(r);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(r.failures[0].find("stream 2 at offset 123456"), std::string::npos) << r.failures[0];

  r = passing_run();
  r.lost_messages = 3;
  evaluate(r);
  EXPECT_FALSE(r.passed());

  r = passing_run();
  r.recoveries.push_back({25, "restart", 4, 2500, true});
  evaluate(r);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(r.failures[0].find("over the 2000 ms bound"), std::string::npos);

  r = passing_run();
  r.max_rss_growth_kib = 1024;
  watched_process p;
  p.name = "adbd-relay";
  p.baseline = proc_point{10, 5000, 10, 2, 0};
  p.last = proc_point{600, 7000, 10, 2, 0};
  r.processes.push_back(p);
  evaluate(r);
  ASSERT_FALSE(r.passed());
  EXPECT_NE(r.failures[0].find("adbd-relay RSS grew 2000 KiB"), std::string::npos);
}

TEST(SoakResults, JsonAndHtmlCarryTheRun) {
  auto r = passing_run();
  r.first_error = "</script><b>";
  r.series.push_back({1, 1, 1000, 10, 50, 90, 99, 120, 0, 0});
  evaluate(r);
  const auto j = to_json(r);
  EXPECT_NE(j.find("\"result\":\"pass\""), std::string::npos);
  EXPECT_NE(j.find("\"cause\":\"restart\""), std::string::npos);
  EXPECT_EQ(j.find("</script>"), std::string::npos) << "text must not end the HTML data block";
  const auto doc = boost::json::parse(j);
  EXPECT_EQ(doc.at("totals").at("first_error").as_string(), "</script><b>");
  EXPECT_EQ(doc.at("series").at("p99_us").at(0).to_number<std::uint64_t>(), 90u);
  EXPECT_EQ(doc.at("first_corruption"), nullptr);
  const auto h = to_html(r);
  EXPECT_NE(h.find(j), std::string::npos);
  EXPECT_EQ(h.find("http://"), h.find("http://www.w3.org/2000/svg")) << "no external resources";
  EXPECT_EQ(h.find("src="), std::string::npos);
  EXPECT_NE(summary_line(r).find("PASS"), std::string::npos);
}

}  // namespace
}  // namespace vsock_soak
