// What every stage needs, assembled from the environment and the profile.
#pragma once

#include <memory>
#include <string>

#include "core/environment.h"
#include "log/logger.h"
#include "profile/profile.h"
#include "protocol/job_identity.h"
#include "protocol/job_response.h"
#include "protocol/outcome.h"
#include "sandbox/sandbox.h"

namespace phaedo::stages {

struct StageContext {
  Environment env;
  profile::Profile profile;
  protocol::JobResponse job;
  protocol::JobIdentity id;
  std::unique_ptr<log::Logger> log;
  std::unique_ptr<sandbox::Sandbox> sandbox;
};

// Loads profile and payload, identifies the job, registers its secrets with the
// logger and picks the sandbox. On failure the error names the field at fault.
Result<std::unique_ptr<StageContext>> open_stage(const std::string& stage, const Environment& env,
                                                 const std::string& profile_path);

// Maps an outcome to the exit code, writing BUILD_EXIT_CODE_FILE or the one-line
// error as the protocol requires. `log` may be null before a logger exists.
int finish(const protocol::Outcome& outcome, const Environment& env, log::Logger* log);

// The driver's version string ("0.1.0").
const char* driver_version();

}  // namespace phaedo::stages
