#include "common/prometheus.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace amlcore::prometheus {
namespace {

std::string Number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);  // shortest that reads back the same
  return std::string(buffer, end);
}

std::string Escaped(absl::string_view text, bool help) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && !help) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

void Histogram::Observe(std::chrono::nanoseconds duration) {
  double seconds = std::chrono::duration<double>(duration).count();
  const auto& bounds = Bounds();
  size_t bucket = 0;
  while (bucket < bounds.size() && seconds > bounds[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, duration.count())), std::memory_order_relaxed);
}

std::array<uint64_t, 14> Histogram::Buckets() const {
  std::array<uint64_t, 14> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

double Histogram::SumSeconds() const { return sum_ns_.load(std::memory_order_relaxed) / 1e9; }

uint64_t Histogram::Count() const {
  uint64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

void StatusCounts::Add(int status) {
  int index = std::clamp(status, kFirst, kFirst + static_cast<int>(counts_.size()) - 1) - kFirst;
  counts_[index].fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::pair<int, uint64_t>> StatusCounts::NonZero() const {
  std::vector<std::pair<int, uint64_t>> out;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (uint64_t n = counts_[i].load(std::memory_order_relaxed)) out.emplace_back(kFirst + static_cast<int>(i), n);
  }
  return out;
}

void LabeledCounters::Add(const std::vector<std::string>& values, uint64_t n) {
  std::lock_guard lock(mu_);
  counts_[values] += n;
}

std::map<std::vector<std::string>, uint64_t> LabeledCounters::Snapshot() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void LabeledHistograms::Observe(const std::vector<std::string>& values, std::chrono::nanoseconds duration) {
  std::lock_guard lock(mu_);
  auto& histogram = histograms_[values];
  if (!histogram) histogram = std::make_unique<Histogram>(scale_);
  histogram->Observe(duration);
}

void LabeledHistograms::ForEach(
    const std::function<void(const std::vector<std::string>&, const Histogram&)>& visit) const {
  std::lock_guard lock(mu_);
  for (const auto& [values, histogram] : histograms_) visit(values, *histogram);
}

Labels Zip(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  Labels labels;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) labels.emplace_back(names[i], values[i]);
  return labels;
}

void TextWriter::Family(absl::string_view name, absl::string_view type, absl::string_view help) {
  name_ = std::string(name);
  type_ = std::string(type);
  help_ = std::string(help);
  described_ = false;
}

void TextWriter::Line(absl::string_view suffix, const Labels& labels, absl::string_view value, const char* extra_label,
                      absl::string_view extra_value) {
  if (!described_) {
    absl::StrAppend(&out_, "# HELP ", name_, " ", Escaped(help_, true), "\n# TYPE ", name_, " ", type_, "\n");
    described_ = true;
  }
  absl::StrAppend(&out_, name_, suffix);
  if (!labels.empty() || extra_label) {
    out_.push_back('{');
    bool first = true;
    for (const auto& [key, text] : labels) {
      absl::StrAppend(&out_, first ? "" : ",", key, "=\"", Escaped(text, false), "\"");
      first = false;
    }
    if (extra_label) absl::StrAppend(&out_, first ? "" : ",", extra_label, "=\"", extra_value, "\"");
    out_.push_back('}');
  }
  absl::StrAppend(&out_, " ", value, "\n");
}

void TextWriter::Sample(const Labels& labels, double value) { Line("", labels, Number(value)); }

void TextWriter::Sample(const Labels& labels, uint64_t value) { Line("", labels, absl::StrCat(value)); }

void TextWriter::Sample(const Labels& labels, const Histogram& histogram) {
  auto buckets = histogram.Buckets();
  const auto& bounds = histogram.Bounds();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    Line("_bucket", labels, absl::StrCat(cumulative), "le", Number(bounds[i]));
  }
  cumulative += buckets[bounds.size()];
  Line("_bucket", labels, absl::StrCat(cumulative), "le", "+Inf");
  Line("_sum", labels, Number(histogram.SumSeconds()));
  Line("_count", labels, absl::StrCat(cumulative));
}

std::string TextWriter::Text() && { return std::move(out_); }

void AppendProcessMetrics(TextWriter& out) {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces: field 3 (state) is first.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  auto field = [&](size_t number) -> double {  // numbered as in proc(5)
    double value = 0;
    if (number >= 3 && number - 3 < fields.size()) (void)absl::SimpleAtod(fields[number - 3], &value);
    return value;
  };
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);) {
    if (absl::StartsWith(line, "btime ")) (void)absl::SimpleAtod(line.substr(6), &boot_time);
  }
  int open_fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++open_fds;
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);

  out.Family("process_cpu_seconds_total", kCounter, "User and system CPU time spent, in seconds.");
  out.Sample({}, (field(14) + field(15)) / ticks);
  out.Family("process_resident_memory_bytes", kGauge, "Resident memory size in bytes.");
  out.Sample({}, field(24) * page);
  out.Family("process_virtual_memory_bytes", kGauge, "Virtual memory size in bytes.");
  out.Sample({}, field(23));
  out.Family("process_start_time_seconds", kGauge, "Start time of the process since the Unix epoch, in seconds.");
  out.Sample({}, boot_time + field(22) / ticks);
  out.Family("process_open_fds", kGauge, "Open file descriptors.");
  out.Sample({}, open_fds);
  out.Family("process_max_fds", kGauge, "The most file descriptors the process may open.");
  out.Sample({}, static_cast<double>(files.rlim_cur));
  out.Family("process_threads", kGauge, "Threads of the process.");
  out.Sample({}, field(20));
}

}  // namespace amlcore::prometheus
