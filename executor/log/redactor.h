// Replaces secrets with [MASKED] in any text bound for a log, journal or metric.
//
// Secrets are the values of masked variables, the job token, registry passwords
// and anything added later (kube tokens). Known token shapes (glpat-…, glrt-…)
// are masked even when not registered. Very short values (< 4 chars) are not
// registered: masking them would shred unrelated text.
#pragma once

#include <string>
#include <vector>

#include "core/environment.h"
#include "protocol/job_response.h"

namespace phaedo::log {

class Redactor {
 public:
  void add(const std::string& secret);
  // Registers the job's secrets: masked variables, the job token, registry passwords.
  void add_job_secrets(const protocol::JobResponse& job);
  // Registers secrets visible only in the environment (CUSTOM_ENV_CI_JOB_TOKEN, …).
  void add_env_secrets(const Environment& env);

  [[nodiscard]] std::string redact(const std::string& text) const;

 private:
  std::vector<std::string> secrets_;
};

}  // namespace phaedo::log
