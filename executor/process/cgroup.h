// A per-job cgroup (v1 pids hierarchy): the one reliable record of every process
// a job started, including ones that called setsid or double-forked.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/result.h"

namespace phaedo::process {

class Cgroup {
 public:
  // A handle on an existing (or intended) cgroup directory; no syscalls.
  explicit Cgroup(std::string path) : path_(std::move(path)) {}

  // True when `root`'s hierarchy is mounted and writable by us.
  static bool available(const std::string& root);
  // Creates <root>/<name> (and root if needed); idempotent. pids_max 0: no limit.
  static Result<Cgroup> create(const std::string& root, const std::string& name, long pids_max);

  const std::string& path() const { return path_; }
  std::string procs_file() const { return path_ + "/cgroup.procs"; }
  [[nodiscard]] bool exists() const;
  // Current member pids; empty when the cgroup is gone.
  [[nodiscard]] std::vector<pid_t> pids() const;
  // Removes the directory; fails (EBUSY) while processes remain. Missing is fine.
  Status remove() const;

 private:
  std::string path_;
};

}  // namespace phaedo::process
