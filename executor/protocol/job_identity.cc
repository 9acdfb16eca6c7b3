#include "protocol/job_identity.h"

#include "protocol/names.h"

namespace phaedo::protocol {

bool is_safe_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string JobIdentity::key() const { return "r" + runner_id + "-j" + std::to_string(job_id); }

Result<JobIdentity> identify_job(const JobResponse& job, const Environment& env,
                                 const std::string& runner_override) {
  JobIdentity id;
  id.job_id = job.id;
  id.runner_id = runner_override;
  if (id.runner_id.empty()) id.runner_id = job.variable("CI_RUNNER_ID").value_or("0");
  if (id.runner_id.empty()) id.runner_id = "0";
  if (!is_safe_name(id.runner_id)) {
    return make_error(ErrorKind::invalid_input,
                      "runner id \"" + id.runner_id + "\" must be 1-63 characters of [a-z0-9-]");
  }
  std::string prefix = kCustomEnvPrefix;
  id.concurrent_id = env.get_or(prefix + "CI_CONCURRENT_ID", "");
  id.project_path = job.project_path.empty() ? env.get_or(prefix + "CI_PROJECT_PATH", "") : job.project_path;
  id.job_name = job.job_name;
  return id;
}

}  // namespace phaedo::protocol
