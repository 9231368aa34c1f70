// Metrics in Prometheus' text exposition format (version 0.0.4): the counters amlcore's processes keep and the
// writer that turns them into one scrape. Names and labels follow Prometheus' conventions: counters end in
// `_total`, durations are histograms in seconds, sizes are bytes; a family with no sample is left out of the
// scrape, so that series which can only be zero do not exist.
//
//   prometheus::TextWriter out;
//   out.Family("amlcore_fe_requests_total", prometheus::kCounter, "Scoring requests answered, by status code.");
//   out.Sample({{"service", "diabetes"}, {"code", "200"}}, 12);
//   prometheus::AppendProcessMetrics(out);
//   std::string body = std::move(out).Text();
#ifndef AMLCORE_COMMON_PROMETHEUS_H_
#define AMLCORE_COMMON_PROMETHEUS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace amlcore::prometheus {

inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr char kCounter[] = "counter";
inline constexpr char kGauge[] = "gauge";
inline constexpr char kHistogram[] = "histogram";

using Labels = std::vector<std::pair<std::string, std::string>>;

// Durations in seconds in fixed buckets, lock-free: requests from 1 ms to 10 s, or operations from 0.1 s to
// 10 min.
class Histogram {
 public:
  enum class Scale { kRequests, kOperations };
  static constexpr std::array<double, 13> kRequestBuckets = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,  0.5,   1,     2.5,  5,     10};
  static constexpr std::array<double, 13> kOperationBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,  10,
                                                               30,  60,   120, 300, 600, 1800};
  explicit Histogram(Scale scale = Scale::kRequests) : scale_(scale) {}
  void Observe(std::chrono::nanoseconds duration);
  const std::array<double, 13>& Bounds() const {
    return scale_ == Scale::kRequests ? kRequestBuckets : kOperationBuckets;
  }
  // Counts per bucket (not cumulative), the last one past the highest bound; the sum in seconds.
  std::array<uint64_t, 14> Buckets() const;
  double SumSeconds() const;
  uint64_t Count() const;

 private:
  Scale scale_;
  std::array<std::atomic<uint64_t>, 14> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// Responses counted by HTTP status code (100 to 599); lock-free.
class StatusCounts {
 public:
  void Add(int status);
  // Every status counted at least once, in increasing order.
  std::vector<std::pair<int, uint64_t>> NonZero() const;

 private:
  static constexpr int kFirst = 100;
  std::array<std::atomic<uint64_t>, 500> counts_{};
};

// Counters told apart by the values of fixed labels (a reason, an operation's kind and result), for events
// that are not on a hot path.
class LabeledCounters {
 public:
  void Add(const std::vector<std::string>& values, uint64_t n = 1);
  std::map<std::vector<std::string>, uint64_t> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, uint64_t> counts_;
};

// Histograms told apart by the values of fixed labels; not for hot paths.
class LabeledHistograms {
 public:
  explicit LabeledHistograms(Histogram::Scale scale) : scale_(scale) {}
  void Observe(const std::vector<std::string>& values, std::chrono::nanoseconds duration);
  // Calls `visit` with each one's label values, in order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const Histogram&)>& visit) const;

 private:
  Histogram::Scale scale_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Histogram>> histograms_;
};

// Zips label names with values: Zip({"kind", "result"}, {"ServiceCreate", "Succeeded"}).
Labels Zip(const std::vector<std::string>& names, const std::vector<std::string>& values);

class TextWriter {
 public:
  // Starts a family. Its HELP and TYPE lines are written with its first sample.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  // A sample of the current family (a counter or a gauge).
  void Sample(const Labels& labels, double value);
  void Sample(const Labels& labels, uint64_t value);
  void Sample(const Labels& labels, int64_t value) { Sample(labels, static_cast<double>(value)); }
  void Sample(const Labels& labels, int value) { Sample(labels, static_cast<double>(value)); }
  // The _bucket, _sum and _count samples of a histogram family.
  void Sample(const Labels& labels, const Histogram& histogram);
  std::string Text() &&;

 private:
  void Line(absl::string_view suffix, const Labels& labels, absl::string_view value, const char* extra_label = nullptr,
            absl::string_view extra_value = {});
  std::string out_;
  std::string name_, type_, help_;
  bool described_ = false;
};

// The process_* metrics of this process that Prometheus' client libraries export (CPU time, resident and
// virtual memory, open and maximum file descriptors, start time) and its thread count, from /proc/self.
void AppendProcessMetrics(TextWriter& out);

}  // namespace amlcore::prometheus

#endif  // AMLCORE_COMMON_PROMETHEUS_H_
