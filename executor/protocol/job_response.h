// The job payload from JOB_RESPONSE_FILE, parsed at the boundary into typed data.
//
// This file is the trusted source for anything security-relevant (job id, token,
// image, which variables are secrets): CUSTOM_ENV_* values can be overridden by
// job authors, the payload cannot. It holds every secret of the job: never log it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/result.h"

namespace phaedo::protocol {

struct JobVariable {
  std::string key;
  std::string value;
  bool masked = false;
  bool file = false;
  bool is_public = false;
};

struct RegistryCredential {
  std::string type;
  std::string url;
  std::string username;
  std::string password;
};

struct JobService {
  std::string name;
  std::string alias;
};

struct JobResponse {
  std::int64_t id = 0;
  std::string token;
  std::string job_name;
  std::string project_path;       // job_info.project_full_path
  std::int64_t timeout_seconds = 0;  // runner_info.timeout; 0 when absent
  std::optional<std::string> image;  // image.name
  std::vector<JobService> services;
  std::vector<JobVariable> variables;
  std::vector<RegistryCredential> credentials;

  // The last value of `key` in the payload's variables (later entries win, as in the runner).
  [[nodiscard]] std::optional<std::string> variable(const std::string& key) const;
};

// Parses the JSON text of a job payload. Errors name the offending field.
Result<JobResponse> parse_job_response(const std::string& json_text);

// Reads and parses the file named by JOB_RESPONSE_FILE.
// not_found when the variable is unset or the file is missing.
Result<JobResponse> load_job_response(const Environment& env);

}  // namespace phaedo::protocol
