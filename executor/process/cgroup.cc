#include "process/cgroup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace phaedo::process {

bool Cgroup::available(const std::string& root) {
  std::string parent = root.substr(0, root.find_last_of('/'));
  std::string probe = (::access(root.c_str(), F_OK) == 0) ? root : parent;
  return ::access((probe + "/cgroup.procs").c_str(), W_OK) == 0;
}

Result<Cgroup> Cgroup::create(const std::string& root, const std::string& name, long pids_max) {
  if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST) {
    return make_error(ErrorKind::io, "cannot create cgroup " + root + ": " + std::strerror(errno));
  }
  Cgroup cg(root + "/" + name);
  if (::mkdir(cg.path_.c_str(), 0755) != 0 && errno != EEXIST) {
    return make_error(ErrorKind::io, "cannot create cgroup " + cg.path_ + ": " + std::strerror(errno));
  }
  if (pids_max > 0) {
    std::ofstream out(cg.path_ + "/pids.max");
    out << pids_max << std::flush;
    if (!out) return make_error(ErrorKind::io, "cannot set pids.max in " + cg.path_);
  }
  return cg;
}

bool Cgroup::exists() const { return ::access(path_.c_str(), F_OK) == 0; }

std::vector<pid_t> Cgroup::pids() const {
  std::vector<pid_t> out;
  std::ifstream in(procs_file());
  long pid;
  while (in >> pid) out.push_back(static_cast<pid_t>(pid));
  return out;
}

Status Cgroup::remove() const {
  if (::rmdir(path_.c_str()) != 0 && errno != ENOENT) {
    return make_error(ErrorKind::io, "cannot remove cgroup " + path_ + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace phaedo::process
