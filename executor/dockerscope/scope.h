// What one job may do through its scoped Docker API: its identity, its network,
// its limits and its capability allow-list. Fixed when the proxy starts.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "docker/types.h"

namespace phaedo::dockerscope {

inline constexpr const char* kJobLabel = "phaedo.io/job";        // ownership: the job key
inline constexpr const char* kRunnerLabel = "phaedo.io/runner";  // for reapers
inline constexpr const char* kOriginLabel = "phaedo.io/origin";  // "dockerscope": made through the proxy
inline constexpr const char* kReservedLabelPrefix = "phaedo.io/";
// Names the driver gives its own objects ("phaedo-r1-j2"); a job may not take them.
inline constexpr const char* kReservedNamePrefix = "phaedo-";

struct JobLimits {
  std::optional<std::int64_t> memory_bytes;
  std::optional<std::int64_t> memory_swap_bytes;  // memory + swap; default: memory_bytes (no swap)
  std::optional<std::int64_t> nano_cpus;
  std::optional<std::int64_t> pids;
};

// Docker's default capability set: re-adding one after --cap-drop ALL grants nothing
// a default container lacks.
inline const std::set<std::string> kDefaultCapabilities = {
    "AUDIT_WRITE", "CHOWN",  "DAC_OVERRIDE", "FOWNER",     "FSETID",           "KILL",       "MKNOD",
    "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"};

struct Scope {
  std::string job_key;    // r<runner>-j<job>
  std::string runner_id;
  std::string network;    // the job's network, forced on containers that ask for the default; empty: none
  JobLimits limits;
  // The job's cgroup (sandbox/docker/job_cgroup.h): forced as HostConfig.CgroupParent
  // of every container and as cgroupparent of every build, so the limits also hold
  // for the sum of them; empty: none (each container is limited alone).
  std::string cgroup_parent;
  std::set<std::string> cap_allow = kDefaultCapabilities;  // upper case, without "CAP_"

  [[nodiscard]] docker::Labels labels() const {
    return {{kJobLabel, job_key}, {kRunnerLabel, runner_id}, {kOriginLabel, "dockerscope"}};
  }
  [[nodiscard]] std::string filter_term() const { return std::string(kJobLabel) + "=" + job_key; }
};

}  // namespace phaedo::dockerscope
