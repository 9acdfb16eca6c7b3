#include "sandbox/docker/job_cgroup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace phaedo::sandbox::docker {
namespace {

namespace fs = std::filesystem;

Error sys_error(const std::string& what) { return make_error(ErrorKind::io, what + ": " + std::strerror(errno)); }

Status write_value(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return make_error(ErrorKind::io, "cannot open " + path);
  out << value;
  out.flush();
  if (!out) return make_error(ErrorKind::io, "cannot write " + value + " to " + path);
  return {};
}

// The hierarchies under `mount` the daemon may have made directories in: real
// directories holding cgroup.procs (a co-mounted "cpu,cpuacct" appears once; its
// "cpu" and "cpuacct" symlinks are skipped), including the v2 "unified" mount of a
// hybrid host, where runc mirrors the path too.
std::vector<std::string> hierarchies(const std::string& mount) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(mount, ec)) {
    if (entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    const std::string name = entry.path().filename().string();
    if (fs::exists(entry.path() / "cgroup.procs", ec)) out.push_back(name);
  }
  return out;
}

}  // namespace

std::optional<std::string> JobCgroup::applicable(const phaedo::docker::SystemInfo& daemon) const {
  if (daemon.cgroup_driver != "cgroupfs") {
    return "the daemon's cgroup driver is \"" + daemon.cgroup_driver + "\" (needs cgroupfs)";
  }
  if (!daemon.cgroup_version.empty() && daemon.cgroup_version != "1") {
    return "the daemon runs on cgroup v" + daemon.cgroup_version + " (needs v1)";
  }
  for (const char* h : {"memory", "cpu", "pids"}) {
    const std::string procs = mount_ + "/" + h + "/cgroup.procs";
    if (::access(procs.c_str(), W_OK) != 0) return "no writable cgroup v1 " + std::string(h) + " hierarchy at " + mount_ + "/" + h;
  }
  return std::nullopt;
}

std::string JobCgroup::docker_parent() const { return std::string("/") + kJobCgroupParent + "/" + key_; }

std::string JobCgroup::dir(const std::string& hierarchy) const {
  return mount_ + "/" + hierarchy + "/" + kJobCgroupParent + "/" + key_;
}

Status JobCgroup::create(const JobCgroupLimits& limits) const {
  for (const char* h : {"memory", "cpu", "pids"}) {
    const std::string parent = mount_ + "/" + h + "/" + kJobCgroupParent;
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("mkdir " + parent);
    const std::string d = dir(h);
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("mkdir " + d);
  }
  if (limits.memory_bytes) {
    const std::string v = std::to_string(*limits.memory_bytes);
    // memory first: memory+swap may never be below it.
    if (Status s = write_value(dir("memory") + "/memory.limit_in_bytes", v); !s) return s;
    const std::string memsw = dir("memory") + "/memory.memsw.limit_in_bytes";
    if (::access(memsw.c_str(), F_OK) == 0) {
      if (Status s = write_value(memsw, v); !s) return s;
    }
  }
  if (limits.cpus) {
    constexpr std::int64_t kPeriod = 100000;  // Docker's default CFS period, µs
    const auto quota = static_cast<std::int64_t>(std::llround(*limits.cpus * kPeriod));
    if (Status s = write_value(dir("cpu") + "/cpu.cfs_period_us", std::to_string(kPeriod)); !s) return s;
    if (Status s = write_value(dir("cpu") + "/cpu.cfs_quota_us", std::to_string(std::max<std::int64_t>(quota, 1000)));
        !s)
      return s;
  }
  if (limits.pids) {
    if (Status s = write_value(dir("pids") + "/pids.max", std::to_string(*limits.pids)); !s) return s;
  }
  return {};
}

std::vector<std::string> JobCgroup::existing() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const std::string& h : hierarchies(mount_)) {
    if (fs::is_directory(dir(h), ec)) out.push_back(dir(h));
  }
  return out;
}

Status JobCgroup::remove() const {
  std::optional<Error> first;
  for (const std::string& d : existing()) {
    if (::rmdir(d.c_str()) != 0 && errno != ENOENT && !first) first = sys_error("rmdir " + d);
  }
  if (first) return *first;
  return {};
}

}  // namespace phaedo::sandbox::docker
