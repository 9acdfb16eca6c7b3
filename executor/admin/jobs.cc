// admin::list_jobs and admin::reap.
#include <algorithm>
#include <ctime>
#include <regex>

#include "admin/admin.h"
#include "journal/journal.h"
#include "lease/lease.h"
#include "metrics/metrics.h"
#include "protocol/job_identity.h"
#include "sandbox/sandbox.h"

namespace phaedo::admin {
namespace {

// "r<runner>-j<job>" back into an identity; nullopt for names we did not make.
std::optional<protocol::JobIdentity> identity_of(const std::string& key) {
  static const std::regex pattern("^r([a-z0-9-]+)-j([0-9]{1,18})$");
  std::smatch m;
  if (!std::regex_match(key, m, pattern)) return std::nullopt;
  protocol::JobIdentity id;
  id.runner_id = m[1];
  id.job_id = std::stoll(m[2]);
  return id;
}

}  // namespace

Result<std::vector<JobSummary>> list_jobs(const profile::Profile& profile) {
  std::vector<JobSummary> out;
  // The sandbox's journals, then the node lease's (lease/lease.h), merged by job key.
  for (const auto& [root, prefix] : {std::pair<std::string, std::string>{profile.state_dir, ""},
                                     {lease::journal_root(profile.state_dir), "lease: "}}) {
    for (const auto& key : journal::Journal::list(root)) {
      auto it = std::find_if(out.begin(), out.end(), [&](const JobSummary& s) { return s.key == key; });
      if (it == out.end()) {
        out.push_back(JobSummary{key, 0, "", 0, false, {}});
        it = out.end() - 1;
      }
      JobSummary& summary = *it;
      auto j = journal::Journal::open(root, key, journal::OpenMode::existing_only, 0, journal::LockWait::try_lock);
      if (!j) {
        if (j.error().kind == ErrorKind::cancelled) {
          summary.busy = true;
        } else if (j.error().kind != ErrorKind::not_found) {
          summary.live.push_back(prefix + "unreadable journal: " + j.error().message);
        }
        continue;
      }
      if (summary.job_id == 0) summary.job_id = j->job_id();
      if (summary.created.empty()) summary.created = j->created_at();
      summary.expires = std::max(summary.expires, j->expires());
      for (const auto& r : j->live()) {
        summary.live.push_back(prefix + r.kind + " " + r.id + " (" + journal::to_string(r.phase) + ")");
      }
    }
  }
  // Journals erased meanwhile leave empty, idle entries: drop them.
  std::erase_if(out, [](const JobSummary& s) { return !s.busy && s.live.empty() && s.created.empty(); });
  return out;
}

Result<ReapReport> reap(const profile::Profile& profile, const Environment& env, log::Logger& log,
                        const ReapOptions& options) {
  ReapReport report;
  const std::int64_t now = options.now != 0 ? options.now : static_cast<std::int64_t>(std::time(nullptr));
  std::vector<std::string> keys = options.select == Select::one ? std::vector<std::string>{options.key}
                                                                 : journal::Journal::list(profile.state_dir);
  for (const auto& key : keys) {
    auto id = identity_of(key);
    if (!id) {
      report.skipped.push_back(key + ": not a job key of phaedo-executor");
      continue;
    }
    // An explicit release waits for a running stage; a timer-driven reap never does.
    auto wait = options.select == Select::one ? journal::LockWait::wait : journal::LockWait::try_lock;
    auto j = journal::Journal::open(profile.state_dir, key, journal::OpenMode::create_if_missing, id->job_id, wait);
    if (!j) {
      report.skipped.push_back(key + ": " + j.error().message);
      continue;
    }
    if (options.select == Select::expired && (j->expires() == 0 || j->expires() > now)) {
      report.skipped.push_back(key + ": not expired");
      continue;
    }
    if (options.dry_run) {
      report.reaped.push_back(key + " (dry run: " + std::to_string(j->live().size()) + " live objects)");
      continue;
    }
    log.set_field("job", key);
    auto sb = sandbox::make_sandbox(sandbox::JobScope{env, profile, *id, log});
    if (!sb) return sb.error();
    auto teardown = (*sb)->teardown(*j);
    report.objects_removed += static_cast<std::int64_t>(teardown.removed.size());
    for (const auto& r : teardown.removed) log.admin(log::Level::info, "reaped " + r);
    if (!teardown.clean()) {
      for (const auto& f : teardown.failed) log.admin(log::Level::error, "could not reap " + f);
      report.failed.push_back(key + ": " + teardown.failed.front());
      (void)metrics::add_counter(profile.state_dir, "teardown_failures", profile.name,
                                 static_cast<std::int64_t>(teardown.failed.size()));
      continue;
    }
    if (auto s = j->erase(); !s) {
      report.failed.push_back(key + ": " + s.error().message);
      continue;
    }
    report.reaped.push_back(key);
  }
  if (!options.dry_run) {
    (void)metrics::add_counter(profile.state_dir, "orphans_reaped", profile.name, report.objects_removed);
    (void)metrics::add_counter(profile.state_dir, "jobs_reaped", profile.name,
                               static_cast<std::int64_t>(report.reaped.size()));
  }
  return report;
}

}  // namespace phaedo::admin
