// sandbox = "host": the script runs as a child process group of phaedo-run in a
// per-job directory, like GitLab's shell executor, but tracked by a per-job
// cgroup so that nothing it starts (setsid, double fork) outlives the job.
//
// Journaled objects: "workdir" (the job directory tree) and "cgroup".
// Without a writable cgroup hierarchy (cgroup = "auto"), run falls back to the
// process group plus a child subreaper; then processes that escape while
// phaedo-run itself is SIGKILLed cannot be found by cleanup.
#pragma once

#include "sandbox/host/layout.h"
#include "sandbox/sandbox.h"

namespace phaedo::sandbox::host {

class HostSandbox final : public Sandbox {
 public:
  explicit HostSandbox(const JobScope& scope);

  protocol::ConfigOutput config() const override;
  Status prepare(journal::Journal& journal) override;
  protocol::Outcome run(const std::string& script, const std::string& stage) override;
  TeardownReport teardown(journal::Journal& journal) override;

 private:
  Status create_workdir(journal::Journal& journal);
  Status create_cgroup(journal::Journal& journal);
  Status remove_object(const journal::Record& record);

  JobScope scope_;
  Layout layout_;
};

}  // namespace phaedo::sandbox::host
