// docker_api = "scoped": the job's own phaedo-dockerscope (executor/dockerscope/
// service.h) as a journaled object of the docker sandbox.
//
// Layout under <state_dir>/dockerscope/<key>/ (0700, never visible to the job):
//   images.json  the proxy's image record (what teardown may remove)
//   proxy.log    the proxy's stdout and stderr
//   sock/        0755, bind-mounted into the job container at docker.api_socket_dir
//     docker.sock  0666, so the container's user connects whatever its uid
// The container gets DOCKER_HOST=unix://<api_socket_dir>/docker.sock.
//
// Journal records: "dockerscope-dir" <dir> before the directory is made;
// "dockerscope" <pid> {start, socket} while the process is held before exec
// (detached.h), created once GET /_ping answers through the socket.
//
// Teardown (stop → objects → images → dir), each step resumable:
//   stop()          TERM, kill_grace, KILL — only a process whose start time and
//                   command line (--socket <socket>) match; then any process found
//                   by that argument (a lost journal); the record goes.
//   remove_images() recorded tags are untagged first, then recorded ids removed,
//                   never forced and with noprune (parents are the shared layer
//                   cache); an image still in use by someone else (409) stays and
//                   is logged, not failed.
//   remove_dir()    the directory and its record.
#pragma once

#include <string>

#include "journal/journal.h"
#include "sandbox/docker/names.h"
#include "sandbox/sandbox.h"
#include "transport/http.h"

namespace phaedo::sandbox::docker {

inline constexpr const char* kScopeDirKind = "dockerscope-dir";
inline constexpr const char* kScopeProcessKind = "dockerscope";

struct ScopePaths {
  std::string dir;
  std::string sock_dir;
  std::string socket;
  std::string images;
  std::string log;

  static ScopePaths of(const std::string& state_dir, const std::string& key);
};

class ScopeProxy {
 public:
  ScopeProxy(const JobScope& scope, const Names& names)
      : scope_(scope), names_(names), paths_(ScopePaths::of(scope.profile.state_dir, names.key)) {}

  [[nodiscard]] const ScopePaths& paths() const { return paths_; }
  // The DOCKER_HOST value inside the container.
  [[nodiscard]] std::string docker_host() const;

  // Makes the directory, starts the proxy detached and waits (10 s) for its /_ping.
  // The job's network must exist. `cgroup_parent` (job_cgroup.h), when not empty,
  // is forced on every container and build the job starts.
  Status start(journal::Journal& journal, const std::string& cgroup_parent);

  void stop(journal::Journal& journal, TeardownReport& report);
  // `api` is the daemon's version prefix, e.g. "/v1.41". False when something
  // failed: the record (and so the directory) must stay for the next teardown.
  bool remove_images(transport::HttpClient& daemon, const std::string& api, TeardownReport& report);
  // Removes the directory, then every "dockerscope-dir" record.
  void remove_dir(journal::Journal& journal, TeardownReport& report);

 private:
  Result<std::string> binary() const;
  std::vector<std::string> argv(const std::string& binary, const std::string& cgroup_parent) const;
  Status make_dir(journal::Journal& journal);
  Status wait_ready(pid_t pid);

  const JobScope& scope_;
  const Names& names_;
  ScopePaths paths_;
};

}  // namespace phaedo::sandbox::docker
