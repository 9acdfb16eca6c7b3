#include "sandbox/host/host_sandbox.h"

#include <unistd.h>

#include <filesystem>

#include "process/cgroup.h"
#include "process/stopper.h"

namespace phaedo::sandbox::host {
namespace {

namespace fs = std::filesystem;
constexpr const char* kWorkdir = "workdir";
constexpr const char* kCgroup = "cgroup";

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

Status make_private_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return make_error(ErrorKind::io, "cannot create " + path + ": " + ec.message());
  fs::permissions(path, fs::perms::owner_all, ec);
  if (ec) return make_error(ErrorKind::io, "cannot restrict " + path + ": " + ec.message());
  return {};
}

}  // namespace

HostSandbox::HostSandbox(const JobScope& scope)
    : scope_(scope), layout_(Layout::of(scope.profile, scope.id.key())) {}

protocol::ConfigOutput HostSandbox::config() const {
  protocol::ConfigOutput out;
  out.builds_dir = layout_.builds_dir;
  out.cache_dir = layout_.cache_dir;
  out.builds_dir_is_shared = false;  // the builds dir is already per job
  out.hostname = host_name();
  out.shell = profile::to_string(scope_.profile.shell);
  out.job_env["PHAEDO_JOB_KEY"] = scope_.id.key();
  return out;
}

Status HostSandbox::create_workdir(journal::Journal& journal) {
  if (auto s = journal.intend(kWorkdir, layout_.job_dir); !s) return s;
  std::error_code ec;
  fs::create_directories(scope_.profile.host.work_root, ec);
  if (ec) return make_error(ErrorKind::io, "cannot create work_root " + scope_.profile.host.work_root + ": " + ec.message());
  for (const auto& dir : {layout_.job_dir, layout_.builds_dir, layout_.tmp_dir}) {
    if (auto s = make_private_dir(dir); !s) return s;
  }
  // The cache is shared between jobs and outlives them: not journaled.
  fs::create_directories(layout_.cache_dir, ec);
  if (ec) return make_error(ErrorKind::io, "cannot create cache_dir " + layout_.cache_dir + ": " + ec.message());
  return journal.created(kWorkdir, layout_.job_dir);
}

Status HostSandbox::create_cgroup(journal::Journal& journal) {
  const auto& settings = scope_.profile.host;
  if (settings.cgroup == profile::CgroupMode::off) return {};
  if (!process::Cgroup::available(settings.cgroup_root)) {
    if (settings.cgroup == profile::CgroupMode::required) {
      return make_error(ErrorKind::io, "host.cgroup_root " + settings.cgroup_root +
                                           " is not a writable cgroup v1 pids hierarchy (host.cgroup = \"required\")");
    }
    scope_.log.job(log::Level::warn, "no writable cgroup at " + settings.cgroup_root +
                                         ": tracking job processes by process group only");
    return {};
  }
  if (auto s = journal.intend(kCgroup, layout_.cgroup); !s) return s;
  auto name = scope_.id.key();
  auto cg = process::Cgroup::create(settings.cgroup_root, name, static_cast<long>(settings.pids_max));
  if (!cg) return cg.error();
  return journal.created(kCgroup, layout_.cgroup);
}

Status HostSandbox::prepare(journal::Journal& journal) {
  if (!journal.live().empty()) {
    scope_.log.job(log::Level::info, "removing leftovers of an earlier attempt");
    auto report = teardown(journal);
    if (!report.clean()) {
      return make_error(ErrorKind::io, "leftovers of an earlier attempt could not be removed: " + report.failed.front());
    }
  }
  if (auto s = create_workdir(journal); !s) return s;
  return create_cgroup(journal);
}

Status HostSandbox::remove_object(const journal::Record& record) {
  if (record.kind == kCgroup) {
    if (record.id != layout_.cgroup) return make_error(ErrorKind::invalid_input, "journal names a foreign cgroup");
    process::Cgroup cg(record.id);
    if (!cg.exists()) return {};
    if (auto s = process::stop_processes([&] { return cg.pids(); }, scope_.profile.kill_grace, nullptr); !s) return s;
    return cg.remove();
  }
  if (record.kind == kWorkdir) {
    // Never follow a corrupt journal outside this job's own directory.
    if (!layout_.owns(record.id)) return make_error(ErrorKind::invalid_input, "journal names a foreign directory");
    std::error_code ec;
    fs::remove_all(record.id, ec);
    // A path under a missing or non-directory parent was never created: nothing to remove.
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
      return make_error(ErrorKind::io, ec.message());
    }
    return {};
  }
  return make_error(ErrorKind::invalid_input, "unknown journal record kind \"" + record.kind + "\"");
}

TeardownReport HostSandbox::teardown(journal::Journal& journal) {
  TeardownReport report;
  // Processes first (the cgroup), then files they may still be writing: the
  // journal's newest-first order gives exactly that.
  for (const auto& record : journal.live()) {
    auto what = record.kind + " " + record.id;
    if (auto s = remove_object(record); !s) {
      report.failed.push_back(what + ": " + s.error().message);
      continue;
    }
    if (auto s = journal.removed(record.kind, record.id); !s) {
      report.failed.push_back(what + ": " + s.error().message);
      continue;
    }
    report.removed.push_back(what);
  }
  // Backstop for a lost journal: the same names, found by computation.
  for (const journal::Record& guess : {journal::Record{kCgroup, layout_.cgroup, journal::Phase::created, {}, {}},
                                       journal::Record{kWorkdir, layout_.job_dir, journal::Phase::created, {}, {}}}) {
    std::error_code ec;
    if (!fs::exists(guess.id, ec)) continue;
    if (auto s = remove_object(guess); !s) {
      report.failed.push_back(guess.kind + " " + guess.id + ": " + s.error().message);
    } else {
      report.removed.push_back(guess.kind + " " + guess.id + " (found without journal record)");
    }
  }
  return report;
}

}  // namespace phaedo::sandbox::host
