// Who a job is, derived once per stage from trusted sources.
//
// The job id comes from JOB_RESPONSE_FILE (not overridable by job authors); the
// runner id from the profile when set, else from the payload. key() names every
// per-job resource (directories, journal, cgroup, containers), so it is unique per
// runner and job and safe to use in paths and object names.
#pragma once

#include <cstdint>
#include <string>

#include "core/environment.h"
#include "core/result.h"
#include "protocol/job_response.h"

namespace phaedo::protocol {

struct JobIdentity {
  std::int64_t job_id = 0;
  std::string runner_id;      // digits or [a-z0-9-], never empty
  std::string concurrent_id;  // CI_CONCURRENT_ID, informational only
  std::string project_path;   // informational only
  std::string job_name;       // informational only

  // "r<runner>-j<job>", e.g. "r12-j1001".
  [[nodiscard]] std::string key() const;
};

// runner_override: the profile's runner_id, empty when unset.
Result<JobIdentity> identify_job(const JobResponse& job, const Environment& env,
                                 const std::string& runner_override);

// True when `s` is a non-empty string of [a-z0-9-] (safe in paths and names).
[[nodiscard]] bool is_safe_name(const std::string& s);

}  // namespace phaedo::protocol
