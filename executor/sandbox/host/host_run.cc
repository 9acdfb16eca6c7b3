// HostSandbox::run: one sub-stage script as a tracked child process group.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/cancel.h"
#include "process/cgroup.h"
#include "process/child.h"
#include "process/stopper.h"
#include "process/tree.h"
#include "protocol/names.h"
#include "sandbox/host/host_sandbox.h"

namespace phaedo::sandbox::host {
namespace {

namespace fs = std::filesystem;

std::string find_shell(const std::string& name, const std::string& path_var) {
  std::string search = path_var.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_var;
  size_t start = 0;
  while (start <= search.size()) {
    size_t end = search.find(':', start);
    std::string dir = search.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "/bin/" + name;
}

// The script's environment: the runner's, minus what the driver must not hand on
// (CUSTOM_ENV_* duplicates of job variables, the payload path, internal state).
std::vector<std::string> script_env(const Environment& env, const Layout& layout, const std::string& path) {
  Environment out;
  for (const auto& [k, v] : env.vars()) {
    if (k.rfind(protocol::kCustomEnvPrefix, 0) == 0) continue;
    // PHAEDO_LEASE_*: set by the run stage for a node lease (lease/lease.h).
    bool driver_var = k.rfind("PHAEDO_", 0) == 0 && k.rfind("PHAEDO_LEASE_", 0) != 0;
    if (k == protocol::kJobResponseFile || k == protocol::kBuildExitCodeFile || driver_var) continue;
    out.set(k, v);
  }
  out.set(protocol::kTmpDir, layout.tmp_dir);
  if (!path.empty()) out.set("PATH", path);
  return out.to_envp();
}

// Collects exit statuses of any child (the script, or orphans reparented to us
// as subreaper); remembers the script's.
void reap_children(process::Child& script) {
  for (;;) {
    int st = 0;
    pid_t pid = ::waitpid(-1, &st, WNOHANG);
    if (pid <= 0) return;
    if (pid == script.pid()) script.set_reaped(process::decode_wait_status(st));
  }
}

}  // namespace

protocol::Outcome HostSandbox::run(const std::string& script, const std::string& stage) {
  std::error_code ec;
  if (!fs::is_directory(layout_.job_dir, ec)) {
    return protocol::SystemFailure{make_error(ErrorKind::not_found, "job " + scope_.id.key() +
                                                                        " is not prepared (no " + layout_.job_dir + ")")};
  }
  if (script.size() >= 4 && script.compare(script.size() - 4, 4, ".ps1") == 0) {
    return protocol::SystemFailure{make_error(ErrorKind::invalid_input,
                                              "PowerShell scripts are not supported: set shell = \"bash\" or \"sh\"")};
  }
  if (::access(script.c_str(), R_OK) != 0) {
    return protocol::SystemFailure{make_error(ErrorKind::not_found, "script " + script + " cannot be read")};
  }

  process::become_subreaper();
  const auto& env = scope_.env;
  std::string path = scope_.profile.host.path.empty() ? env.get_or("PATH", "") : scope_.profile.host.path;
  process::SpawnOptions opts;
  opts.argv = {find_shell(profile::to_string(scope_.profile.shell), path), script};
  opts.envp = script_env(env, layout_, path);
  opts.cwd = layout_.job_dir;
  process::Cgroup cgroup(layout_.cgroup);
  bool tracked_by_cgroup = cgroup.exists();
  if (tracked_by_cgroup) opts.cgroup_procs = cgroup.procs_file();

  auto child = process::spawn(opts);
  if (!child) return protocol::SystemFailure{child.error()};
  pid_t pgid = child->pid();
  scope_.log.admin(log::Level::info, "started sub-stage",
                   {{"sub_stage", stage}, {"child_pid", std::to_string(pgid)}});

  // Everything that belongs to this run: the cgroup when there is one, else the
  // script's process group plus whatever got reparented to us.
  auto job_pids = [&]() {
    std::vector<pid_t> pids = tracked_by_cgroup ? cgroup.pids() : process::members_of_group(pgid);
    if (!tracked_by_cgroup) {
      for (pid_t p : process::descendants_of(::getpid())) pids.push_back(p);
    }
    return pids;
  };
  auto reap = [&] { reap_children(*child); };

  bool cancelled = false;
  const Fd exited = child->exit_notifier();
  while (child->running()) {
    // The script's exit wakes this at once through the pidfd (a negative fd is
    // ignored by poll); the timeout only paces the reaping of reparented orphans,
    // and is the whole mechanism on a kernel without pidfds.
    pollfd fds[2] = {{CancelToken::fd(), POLLIN, 0}, {exited.get(), POLLIN, 0}};
    ::poll(fds, 2, exited.valid() ? 250 : 50);
    reap();
    if (child->running() && CancelToken::requested()) {
      cancelled = true;
      scope_.log.job(log::Level::info, "stopping the job's processes (signal " +
                                           std::to_string(CancelToken::signal_number()) + ")");
      if (auto s = process::stop_processes(job_pids, scope_.profile.kill_grace, reap); !s) {
        scope_.log.job(log::Level::error, s.error().message);
      }
      reap();
      break;
    }
  }
  // Nothing a sub-stage started may outlive it: leftovers would hold the runner's
  // output pipe open and keep running unaccounted for.
  if (!job_pids().empty()) {
    if (!cancelled) scope_.log.job(log::Level::info, "stopping processes the script left running");
    if (auto s = process::stop_processes(job_pids, scope_.profile.kill_grace, reap); !s) {
      return protocol::SystemFailure{s.error()};
    }
  }
  while (child->running()) {
    reap();
    if (child->running()) ::usleep(10000);
  }

  const auto& status = *child->status();
  scope_.log.admin(log::Level::info, "finished sub-stage",
                   {{"sub_stage", stage}, {"exit_code", std::to_string(status.shell_code())},
                    {"cancelled", cancelled ? "true" : "false"}});
  if (status.signal == 0 && status.code == 0 && !cancelled) return protocol::Success{};
  protocol::BuildFailure failure;
  failure.script_exit_code = status.shell_code() == 0 ? 1 : status.shell_code();
  if (cancelled) failure.reason = "stopped on request";
  else if (status.signal != 0) failure.reason = "killed by signal " + std::to_string(status.signal);
  return failure;
}

}  // namespace phaedo::sandbox::host
