#include "metrics/metrics.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fd.h"
#include "journal/atomic_file.h"

namespace phaedo::metrics {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Holds the metrics lock for one read-modify-write.
class MetricsFile {
 public:
  static Result<MetricsFile> open(const std::string& state_dir) {
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    MetricsFile f;
    f.dir_ = state_dir;
    std::string lock_path = state_dir + "/metrics.lock";
    f.lock_ = Fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!f.lock_.valid()) return make_error(ErrorKind::io, "cannot open " + lock_path + ": " + std::strerror(errno));
    while (::flock(f.lock_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return make_error(ErrorKind::io, "cannot lock " + lock_path + ": " + std::strerror(errno));
    }
    auto text = journal::read_file(state_dir + "/metrics.json");
    f.data_ = text ? json::parse(*text, nullptr, false) : json::object();
    if (f.data_.is_discarded() || !f.data_.is_object()) f.data_ = json::object();  // start over
    return f;
  }

  json& data() { return data_; }

  Status save() {
    // Metrics are cheap to lose in a host crash; fsyncs would slow down every stage.
    constexpr auto kAtomic = journal::Durability::atomic;
    if (auto s = journal::write_file_atomically(dir_ + "/metrics.json", data_.dump(), kAtomic); !s) return s;
    return journal::write_file_atomically(dir_ + "/metrics.prom", to_prometheus(data_), kAtomic);
  }

  static std::string to_prometheus(const json& data);

 private:
  std::string dir_;
  Fd lock_;
  json data_;
};

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string fmt_double(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string MetricsFile::to_prometheus(const json& data) {
  std::ostringstream out;
  out << "# HELP phaedo_stage_duration_seconds Wall time of phaedo stage programs.\n"
      << "# TYPE phaedo_stage_duration_seconds histogram\n";
  const json stages = data.contains("stages") ? data.at("stages") : json::object();
  for (const auto& [key, h] : stages.items()) {
    std::string labels = "stage=\"" + escape(h.value("stage", "")) + "\",outcome=\"" +
                         escape(h.value("outcome", "")) + "\",profile=\"" + escape(h.value("profile", "")) + "\"";
    const auto& counts = h.at("buckets");
    for (size_t i = 0; i < std::size(kDurationBuckets); ++i) {
      out << "phaedo_stage_duration_seconds_bucket{" << labels << ",le=\"" << fmt_double(kDurationBuckets[i])
          << "\"} " << counts.at(i).get<std::int64_t>() << "\n";
    }
    out << "phaedo_stage_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << h.value("count", 0) << "\n"
        << "phaedo_stage_duration_seconds_sum{" << labels << "} " << fmt_double(h.value("sum", 0.0)) << "\n"
        << "phaedo_stage_duration_seconds_count{" << labels << "} " << h.value("count", 0) << "\n";
  }
  static const std::map<std::string, std::string> help = {
      {"teardown_failures", "Objects a cleanup or reap could not remove."},
      {"orphans_reaped", "Objects of abandoned jobs removed by phaedo-admin reap."},
      {"jobs_reaped", "Abandoned jobs torn down by phaedo-admin reap."}};
  const json counters = data.contains("counters") ? data.at("counters") : json::object();
  for (const auto& [name, text] : help) {
    out << "# HELP phaedo_" << name << "_total " << text << "\n# TYPE phaedo_" << name << "_total counter\n";
    const json by_profile = counters.contains(name) ? counters.at(name) : json::object();
    for (const auto& [profile, value] : by_profile.items()) {
      out << "phaedo_" << name << "_total{profile=\"" << escape(profile) << "\"} " << value.get<std::int64_t>()
          << "\n";
    }
  }
  return out.str();
}

}  // namespace

Status record_stage(const std::string& state_dir, const StageSample& sample) {
  auto file = MetricsFile::open(state_dir);
  if (!file) return file.error();
  json& stages = file->data()["stages"];
  if (!stages.is_object()) stages = json::object();
  json& h = stages[sample.stage + "|" + sample.outcome + "|" + sample.profile];
  if (!h.is_object() || !h.contains("buckets")) {
    h = {{"stage", sample.stage}, {"outcome", sample.outcome}, {"profile", sample.profile},
         {"buckets", std::vector<std::int64_t>(std::size(kDurationBuckets), 0)}, {"sum", 0.0}, {"count", 0}};
  }
  for (size_t i = 0; i < std::size(kDurationBuckets); ++i) {
    if (sample.seconds <= kDurationBuckets[i]) h["buckets"][i] = h["buckets"][i].get<std::int64_t>() + 1;
  }
  h["sum"] = h["sum"].get<double>() + sample.seconds;
  h["count"] = h["count"].get<std::int64_t>() + 1;
  return file->save();
}

Status add_counter(const std::string& state_dir, const std::string& name, const std::string& profile,
                   std::int64_t delta) {
  auto file = MetricsFile::open(state_dir);
  if (!file) return file.error();
  json& c = file->data()["counters"][name][profile];
  c = (c.is_number_integer() ? c.get<std::int64_t>() : 0) + delta;
  return file->save();
}

Result<std::string> render(const std::string& state_dir) {
  auto file = MetricsFile::open(state_dir);
  if (!file) return file.error();
  return MetricsFile::to_prometheus(file->data());
}

}  // namespace phaedo::metrics
