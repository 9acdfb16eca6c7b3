// Prometheus metrics shared by every stage process of a host.
//
// Each stage is a short-lived process, so metrics live in <state_dir>/metrics.json
// (updated under an flock) and are rendered after every update, atomically, to
// <state_dir>/metrics.prom in the Prometheus text format — ready for node_exporter's
// textfile collector — and printed by `phaedo-admin metrics`. Labels carry only
// stage, outcome and profile names: never job data, never secrets.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace phaedo::metrics {

// Upper bounds (seconds) of the stage duration histogram buckets.
inline constexpr double kDurationBuckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800};

struct StageSample {
  std::string stage;    // config, prepare, run, cleanup, reap
  std::string outcome;  // success, build_failure, system_failure
  std::string profile;
  double seconds = 0;
};

// Adds one observation to phaedo_stage_duration_seconds.
Status record_stage(const std::string& state_dir, const StageSample& sample);

// Counters: "teardown_failures" (objects cleanup could not remove), "orphans_reaped"
// (objects removed by a reaper), "jobs_reaped".
Status add_counter(const std::string& state_dir, const std::string& name, const std::string& profile,
                   std::int64_t delta);

// The current metrics in the Prometheus text exposition format.
Result<std::string> render(const std::string& state_dir);

}  // namespace phaedo::metrics
