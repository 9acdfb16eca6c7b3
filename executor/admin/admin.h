// What phaedo-admin does, callable in-process: list jobs, reap abandoned ones,
// force-release one, check the host.
//
// Reaping is safe to run from a timer on every runner host at once: a job whose
// journal lock is held (a stage is working on it) is skipped, and only jobs whose
// journal says they are certainly over (job timeout + margin, set by prepare) are
// torn down unless the administrator names one explicitly (release).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/environment.h"
#include "core/result.h"
#include "log/logger.h"
#include "profile/profile.h"

namespace phaedo::admin {

struct JobSummary {
  std::string key;
  std::int64_t job_id = 0;
  std::string created;
  std::int64_t expires = 0;        // unix seconds, 0 unknown
  bool busy = false;               // a stage holds the journal right now
  std::vector<std::string> live;   // "<kind> <id> (<phase>)"
};

// Every job with a journal under the profile's state_dir.
Result<std::vector<JobSummary>> list_jobs(const profile::Profile& profile);

enum class Select { expired, one };

struct ReapOptions {
  Select select = Select::expired;
  std::string key;        // Select::one
  bool dry_run = false;
  std::int64_t now = 0;   // unix seconds; 0: the current time
};

struct ReapReport {
  std::vector<std::string> reaped;   // keys torn down completely
  std::vector<std::string> skipped;  // "<key>: <why>"
  std::vector<std::string> failed;   // "<key>: <what is left>"
  std::int64_t objects_removed = 0;
};

Result<ReapReport> reap(const profile::Profile& profile, const Environment& env, log::Logger& log,
                        const ReapOptions& options);

// Node leases (profile lease = "kubernetes-node"), see lease/lease.h. Lease journals of
// this host whose jobs are certainly over (skipping busy ones) get their lease teardown;
// then every expired or abandoned lease of the cluster is finished (never a fresh one).
// Select::one with `key` = a node name: that node's lease, forced.
Result<ReapReport> reap_leases(const profile::Profile& profile, log::Logger& log, const ReapOptions& options);

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

// Checks the host for the profile: state_dir writable, shell present, and per
// sandbox the cgroup hierarchy (host) or the Docker daemon and its API (docker).
std::vector<Check> doctor(const profile::Profile& profile, const Environment& env);

}  // namespace phaedo::admin
