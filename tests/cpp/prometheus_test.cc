// The Prometheus text writer: families described once and only with samples, escaping, cumulative buckets.
#include "common/prometheus.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace amlcore::prometheus {
namespace {

using namespace std::chrono_literals;

TEST(PrometheusTest, AFamilyWithoutSamplesIsLeftOut) {
  TextWriter out;
  out.Family("amlcore_empty_total", kCounter, "Never sampled.");
  out.Family("amlcore_things_total", kCounter, "Things.");
  out.Sample({{"kind", "a"}}, uint64_t{3});
  out.Sample({{"kind", "b"}}, uint64_t{12345678901});
  EXPECT_EQ(std::move(out).Text(),
            "# HELP amlcore_things_total Things.\n"
            "# TYPE amlcore_things_total counter\n"
            "amlcore_things_total{kind=\"a\"} 3\n"
            "amlcore_things_total{kind=\"b\"} 12345678901\n");
}

TEST(PrometheusTest, LabelValuesAndHelpAreEscaped) {
  TextWriter out;
  out.Family("amlcore_x", kGauge, "A \\ and a\nnewline; \"quotes\" stay.");
  out.Sample({{"name", "a\"b\\c\nd"}}, 0.25);
  EXPECT_EQ(std::move(out).Text(),
            "# HELP amlcore_x A \\\\ and a\\nnewline; \"quotes\" stay.\n"
            "# TYPE amlcore_x gauge\n"
            "amlcore_x{name=\"a\\\"b\\\\c\\nd\"} 0.25\n");
}

TEST(PrometheusTest, HistogramBucketsAreCumulative) {
  Histogram h;
  h.Observe(500us);   // le 0.001
  h.Observe(3ms);     // le 0.005
  h.Observe(20s);     // past the last bound
  TextWriter out;
  out.Family("amlcore_seconds", kHistogram, "Durations.");
  out.Sample({{"v", "1"}}, h);
  std::string text = std::move(out).Text();
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_bucket{v=\"1\",le=\"0.001\"} 1\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_bucket{v=\"1\",le=\"0.002\"} 1\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_bucket{v=\"1\",le=\"0.005\"} 2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_bucket{v=\"1\",le=\"10\"} 2\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_bucket{v=\"1\",le=\"+Inf\"} 3\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_count{v=\"1\"} 3\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "amlcore_seconds_sum{v=\"1\"} 20.0035\n")) << text;
}

TEST(PrometheusTest, StatusCountsListOnlyCodesSeen) {
  StatusCounts counts;
  counts.Add(200);
  counts.Add(200);
  counts.Add(413);
  EXPECT_EQ(counts.NonZero(), (std::vector<std::pair<int, uint64_t>>{{200, 2}, {413, 1}}));
}

TEST(PrometheusTest, ProcessMetricsDescribeThisProcess) {
  TextWriter out;
  AppendProcessMetrics(out);
  std::string text = std::move(out).Text();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_start_time_seconds", "process_open_fds", "process_max_fds", "process_threads"}) {
    EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\n", name, " "))) << name << "\n" << text;
  }
}

}  // namespace
}  // namespace amlcore::prometheus
