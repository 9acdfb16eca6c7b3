// DockerSandbox::teardown: the job's Docker API, journal newest first, the label
// backstop, then the images the job made (scope_proxy.h).
#include <chrono>
#include <thread>

#include "sandbox/docker/docker_sandbox.h"
#include "sandbox/docker/job_cgroup.h"
#include "sandbox/docker/scope_proxy.h"

namespace phaedo::sandbox::docker {
namespace {

namespace api = phaedo::docker;
using Clock = std::chrono::steady_clock;

// Each teardown gets its own deadline, however late in the job it runs.
constexpr auto kTeardownBudget = std::chrono::seconds(30);

// Retries `attempt` on errors that may pass (daemon busy or restarting, a network
// still detaching) with doubling pauses until `deadline`.
template <typename Attempt>
Status with_retries(Clock::time_point deadline, Attempt attempt) {
  auto pause = std::chrono::milliseconds(100);
  for (;;) {
    Status s = attempt();
    if (s || s.error().kind == ErrorKind::invalid_input || Clock::now() + pause >= deadline) return s;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace

Status DockerSandbox::remove_object(api::Client& docker, const std::string& kind, const std::string& name) {
  if (kind == kContainerKind || kind == kServiceKind) {
    return api::ignore_not_found(docker.remove_container(name, api::Force::yes, api::AnonymousVolumes::remove));
  }
  if (kind == kNetworkKind) return api::ignore_not_found(docker.remove_network(name));
  return api::ignore_not_found(docker.remove_volume(name, api::Force::yes));
}

void DockerSandbox::remove_job_cgroup(journal::Journal& journal, TeardownReport& report, Clock::time_point deadline) {
  // Whether or not the journal says so: the directories are named by the job key.
  const JobCgroup cgroup(kCgroupMount, names_.key);
  const bool recorded = [&] {
    for (const auto& record : journal.live()) {
      if (record.kind == kCgroupKind) return true;
    }
    return false;
  }();
  if (!recorded && cgroup.existing().empty()) return;
  // A container's own cgroup leaves a moment after the container: EBUSY passes.
  Status s = with_retries(deadline, [&] { return cgroup.remove(); });
  if (s && recorded) s = journal.removed(kCgroupKind, names_.key);
  if (!s) {
    report.failed.push_back(std::string(kCgroupKind) + " " + names_.key + ": " + s.error().message);
  } else {
    report.removed.push_back(std::string(kCgroupKind) + " " + cgroup.docker_parent());
  }
}

TeardownReport DockerSandbox::teardown(journal::Journal& journal) {
  TeardownReport report;
  const auto deadline = Clock::now() + kTeardownBudget;
  // The job's Docker API stops first: nothing may create objects while they go.
  ScopeProxy proxy(scope_, names_);
  proxy.stop(journal, report);
  // The daemon may be restarting: keep trying to reach it until the deadline.
  Result<api::Client*> docker = make_error(ErrorKind::io, "not connected");
  (void)with_retries(deadline, [&]() -> Status {
    docker = client(Cancellable::no);
    if (!docker) return docker.error();
    return {};
  });
  if (!docker) {
    // Without the daemon nothing can be confirmed gone: keep the journal.
    report.failed.push_back("docker daemon: " + docker.error().message);
    return report;
  }

  // Whatever carries this job's label (which names runner and job, so it is this
  // job's whatever its name): the backstop for a lost or partial journal, and how
  // the objects the job made through its Docker API are found.
  auto sweep = [&](const std::string& kind, const api::LabelFilter& filter, auto list, auto name_of) {
    Result<std::vector<std::string>> found = [&]() -> Result<std::vector<std::string>> {
      auto items = list(filter);
      if (!items) return items.error();
      std::vector<std::string> names;
      for (const auto& item : *items) names.push_back(name_of(item));
      return names;
    }();
    if (!found) {
      report.failed.push_back("listing " + kind + "s by label " + filter.back() + ": " + found.error().message);
      return;
    }
    for (const auto& name : *found) {
      Status s = with_retries(deadline, [&] { return remove_object(**docker, kind, name); });
      if (!s) {
        report.failed.push_back(kind + " " + name + ": " + s.error().message);
      } else {
        report.removed.push_back(kind + " " + name + " (found by label)");
      }
    }
  };
  auto& d = **docker;
  auto containers = [&](const api::LabelFilter& filter) {
    sweep(
        kContainerKind, filter, [&](const api::LabelFilter& f) { return d.list_containers(f); },
        [](const api::ContainerSummary& c) { return c.names.empty() ? c.id : c.names.front(); });
  };
  // Containers the job started through its API may sit on the job's network,
  // which cannot go while they are attached.
  auto made_by_job = names_.filter();
  made_by_job.push_back(std::string(kOriginLabel) + "=dockerscope");
  containers(made_by_job);

  for (const auto& record : journal.live()) {
    if (record.kind == kScopeProcessKind || record.kind == kScopeDirKind) continue;  // the proxy's, below
    if (record.kind == kCgroupKind) continue;  // once the containers are gone, below
    auto what = record.kind + " " + record.id;
    // Never follow a corrupt or foreign journal to somebody else's object.
    Status s = names_.owns(record.kind, record.id)
                   ? with_retries(deadline, [&] { return remove_object(**docker, record.kind, record.id); })
                   : Status(make_error(ErrorKind::invalid_input, "journal names a foreign " + record.kind));
    if (s) s = journal.removed(record.kind, record.id);
    if (!s) {
      report.failed.push_back(what + ": " + s.error().message);
    } else {
      report.removed.push_back(what);
    }
  }

  // Containers first: networks and volumes cannot go while one is attached.
  containers(names_.filter());
  sweep(
      kNetworkKind, names_.filter(), [&](const api::LabelFilter& f) { return d.list_networks(f); },
      [](const api::NetworkInfo& n) { return n.name; });
  sweep(
      kVolumeKind, names_.filter(), [&](const api::LabelFilter& f) { return d.list_volumes(f); },
      [](const api::VolumeInfo& v) { return v.name; });
  remove_job_cgroup(journal, report, deadline);
  // Images last: a container of the job may have been using one.
  if (proxy.remove_images(*http_, "/v" + d.api_version().str(), report)) proxy.remove_dir(journal, report);
  return report;
}

}  // namespace phaedo::sandbox::docker
