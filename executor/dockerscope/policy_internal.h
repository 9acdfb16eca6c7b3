// Pieces shared by the policy's files. Internal to dockerscope/.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "dockerscope/json_body.h"
#include "dockerscope/scope.h"

namespace phaedo::dockerscope::internal {

// Refuses labels under phaedo.io/ in obj.Labels, then adds the scope's labels.
Status inject_labels(json_body::json& obj, std::string_view where, const Scope& scope);
// VolumeOptions.DriverConfig {Name, Options} of a mount.
Status check_volume_driver(json_body::json& volume_options, std::string_view where, std::string_view field);
// A volume driver and its options: only "local", and only tmpfs options (a local
// volume with o=bind or a device path mounts a host path).
Status check_driver_options(const std::string& driver, const std::map<std::string, std::string>& options);

enum class LimitMode { create, update };  // create: add the job's limits where absent
// Memory, MemorySwap, NanoCpus, CpuQuota/CpuPeriod and PidsLimit of a HostConfig
// or an update body: no larger than the job's.
Status apply_limits(json_body::json& resources, const JobLimits& limits, LimitMode mode);

}  // namespace phaedo::dockerscope::internal
