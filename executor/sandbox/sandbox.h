// The seam between the stage algorithms and where a job actually runs.
//
// One implementation per profile `sandbox` value (host now; docker later). The
// stages call config() once, prepare() once per runner attempt, run() once per
// sub-stage and teardown() from cleanup, each in a separate process: a sandbox
// keeps no state in memory between calls, only in the journal.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/result.h"
#include "journal/journal.h"
#include "log/logger.h"
#include "profile/profile.h"
#include "protocol/config_output.h"
#include "protocol/job_identity.h"
#include "protocol/outcome.h"

namespace phaedo::sandbox {

struct JobScope {
  const Environment& env;
  const profile::Profile& profile;
  const protocol::JobIdentity& id;
  log::Logger& log;
};

struct TeardownReport {
  std::vector<std::string> removed;  // "<kind> <id>" of each object removed
  std::vector<std::string> failed;   // "<kind> <id>: <why>" of each object left behind
  [[nodiscard]] bool clean() const { return failed.empty(); }
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;

  // Fills builds_dir, cache_dir, shell and job_env of the config output. Creates nothing.
  virtual protocol::ConfigOutput config() const = 0;

  // Creates the job's environment, journaling every object before creating it.
  // Idempotent: leftovers of an earlier attempt are torn down first.
  // ErrorKind::rejected means the job itself asked for something the profile forbids
  // (e.g. a disallowed image): a build failure, which the runner does not retry.
  virtual Status prepare(journal::Journal& journal) = 0;

  // Runs one sub-stage script (any stage name) and reports the outcome. Stops the
  // script's processes within the profile's grace period when CancelToken fires.
  // The journal lock is not held while the script runs.
  virtual protocol::Outcome run(const std::string& script, const std::string& stage) = 0;

  // Removes what the journal names, newest first, then looks for the job's objects
  // by name as a backstop. Tolerates absent and half-created objects.
  virtual TeardownReport teardown(journal::Journal& journal) = 0;
};

// The sandbox the profile asks for.
Result<std::unique_ptr<Sandbox>> make_sandbox(const JobScope& scope);

}  // namespace phaedo::sandbox
