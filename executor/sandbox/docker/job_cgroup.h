// The job's cgroup: the docker sandbox's limits for the sum of a job's containers.
//
// Docker limits each container on its own. A job that starts containers through
// its scoped Docker API (or simply has services) could use the profile's memory,
// cpus and pids once per container. With a daemon on cgroup v1 and the cgroupfs
// driver, prepare makes one directory per job, <hierarchy>/phaedo-docker/<key>, in
// the memory, cpu and pids hierarchies and writes the job's limits there; every
// container of the job gets it as HostConfig.CgroupParent (the proxy forces it on
// the containers and builds the job starts), so the kernel counts them together.
//
// Journaled as kCgroupKind (names.h), id the job key, before the first directory exists.
// The daemon creates the other hierarchies' directories (cpuset, devices, …) for
// the containers' sake and removes only the containers' own; remove() takes the
// job's directory out of every v1 hierarchy once no container is left in it.
//
// Where it cannot work (cgroup v2, the systemd driver, no writable v1 memory
// hierarchy) applicable() says why; the profile's job_cgroup decides whether that
// fails prepare ("required") or leaves the per-container limits alone ("auto").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "docker/types.h"

namespace phaedo::sandbox::docker {

inline constexpr const char* kJobCgroupParent = "phaedo-docker";
inline constexpr const char* kCgroupMount = "/sys/fs/cgroup";

struct JobCgroupLimits {
  std::optional<std::int64_t> memory_bytes;  // also memory+swap: no swap on top
  std::optional<double> cpus;
  std::optional<std::int64_t> pids;

  [[nodiscard]] bool any() const { return memory_bytes || cpus || pids; }
};

class JobCgroup {
 public:
  // `mount`: where the v1 hierarchies are mounted (/sys/fs/cgroup).
  JobCgroup(std::string mount, std::string key) : mount_(std::move(mount)), key_(std::move(key)) {}

  // Empty when the job cgroup can be used with this daemon on this host; else why not.
  [[nodiscard]] std::optional<std::string> applicable(const phaedo::docker::SystemInfo& daemon) const;
  // HostConfig.CgroupParent for the job's containers: "/phaedo-docker/<key>".
  [[nodiscard]] std::string docker_parent() const;
  // Creates the directories and writes the limits; idempotent. io naming the file.
  Status create(const JobCgroupLimits& limits) const;
  // Directories of the job in any hierarchy (what remove() would take away).
  [[nodiscard]] std::vector<std::string> existing() const;
  // Removes the job's directory from every hierarchy; missing is fine. io (EBUSY)
  // while a container's cgroup is still inside.
  Status remove() const;

 private:
  [[nodiscard]] std::string dir(const std::string& hierarchy) const;

  std::string mount_;
  std::string key_;
};

}  // namespace phaedo::sandbox::docker
