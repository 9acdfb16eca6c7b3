// Service containers (`services:` of .gitlab-ci.yml) for the docker sandbox.
//
// Only the trusted payload (JOB_RESPONSE_FILE) says which services a job has;
// CUSTOM_ENV_CI_JOB_SERVICES can be overridden by job authors and is not read.
// Each service runs as container phaedo-<key>-svc<N> on the job network, under its
// `alias` (a comma- or space-separated list) plus the aliases GitLab derives from
// the image name: the name without tag or digest with '/' replaced by "__" and by
// "-" (e.g. "registry.example.com/tools/db:1" → "registry.example.com__tools__db"
// and "registry.example.com-tools-db").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/result.h"
#include "protocol/job_response.h"

namespace phaedo::sandbox::docker {

struct ServiceRequest {
  std::string image;  // variables expanded
  std::vector<std::string> aliases;
  std::optional<std::vector<std::string>> entrypoint;
  std::vector<std::string> command;
};

// Network aliases for a service image and its `alias` field, without duplicates;
// names that are not valid DNS-ish labels ([A-Za-z0-9_.-]) are dropped.
[[nodiscard]] std::vector<std::string> service_aliases(const std::string& image, const std::string& alias);

// The services of the job payload at JOB_RESPONSE_FILE, with command and entrypoint.
Result<std::vector<ServiceRequest>> load_services(const Environment& env, const protocol::JobResponse& job);

}  // namespace phaedo::sandbox::docker
