// admin::reap_leases: the node lease side of `reap` and `release`.
#include <unistd.h>

#include <ctime>

#include "admin/admin.h"
#include "journal/journal.h"
#include "lease/lease.h"

namespace phaedo::admin {
namespace {

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "localhost";
  return host;
}

}  // namespace

Result<ReapReport> reap_leases(const profile::Profile& profile, log::Logger& log, const ReapOptions& options) {
  ReapReport report;
  const std::string me = "reaper@" + host_name();
  const std::string root = lease::journal_root(profile.state_dir);
  if (options.select == Select::one) {
    // A job key with a lease journal here: that job's lease; else a node name.
    auto j = journal::Journal::open(root, options.key, journal::OpenMode::existing_only);
    if (j) {
      lease::JobRef job{options.key, j->job_id(), host_name(), 0, profile.state_dir, profile.source, ""};
      Status s = lease::teardown(profile.kubernetes, job, *j, log);
      if (s) s = j->erase();
      if (!s) {
        report.failed.push_back(options.key + ": " + s.error().message);
      } else {
        report.reaped.push_back("lease of " + options.key);
      }
      return report;
    }
    if (auto s = lease::release(profile.kubernetes, options.key, me, log); !s) {
      report.failed.push_back(options.key + ": " + s.error().message);
    } else {
      report.reaped.push_back(options.key);
    }
    return report;
  }
  const std::int64_t now = options.now != 0 ? options.now : static_cast<std::int64_t>(std::time(nullptr));
  for (const auto& key : journal::Journal::list(root)) {
    auto j = journal::Journal::open(root, key, journal::OpenMode::existing_only, 0, journal::LockWait::try_lock);
    if (!j) {
      report.skipped.push_back("lease of " + key + ": " + j.error().message);
      continue;
    }
    if (j->expires() == 0 || j->expires() > now) {
      report.skipped.push_back("lease of " + key + ": not expired");
      continue;
    }
    if (options.dry_run) {
      report.reaped.push_back("lease of " + key + " (dry run)");
      continue;
    }
    lease::JobRef job{key, j->job_id(), host_name(), 0, profile.state_dir, profile.source, ""};
    if (auto s = lease::teardown(profile.kubernetes, job, *j, log); !s) {
      report.failed.push_back("lease of " + key + ": " + s.error().message);
      continue;
    }
    if (auto s = j->erase(); !s) {
      report.failed.push_back("lease of " + key + ": " + s.error().message);
      continue;
    }
    report.reaped.push_back("lease of " + key);
  }
  if (options.dry_run) return report;
  auto cluster = lease::reap(profile.kubernetes, me, log);
  if (!cluster) return cluster.error();
  for (const auto& r : cluster->reaped) report.reaped.push_back("node " + r);
  for (const auto& r : cluster->skipped) report.skipped.push_back("node " + r);
  for (const auto& r : cluster->failed) report.failed.push_back("node " + r);
  return report;
}

}  // namespace phaedo::admin
