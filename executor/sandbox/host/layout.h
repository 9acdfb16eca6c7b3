// Where a job's things live on the host, derived only from the profile and the
// job key, so that every stage (and a reaper) computes the same paths.
#pragma once

#include <string>

#include "profile/profile.h"

namespace phaedo::sandbox::host {

struct Layout {
  std::string job_dir;     // <work_root>/<key>, mode 0700, the script's cwd
  std::string builds_dir;  // <job_dir>/builds, handed to the runner as builds_dir
  std::string tmp_dir;     // <job_dir>/tmp, the script's TMPDIR
  std::string cache_dir;   // shared by all jobs of the profile
  std::string cgroup;      // <cgroup_root>/<key>

  static Layout of(const profile::Profile& profile, const std::string& key);
  // True when `path` is a job directory this profile could have created for `key`
  // (guards recursive removal against a corrupt journal).
  [[nodiscard]] bool owns(const std::string& path) const { return path == job_dir; }
};

inline Layout Layout::of(const profile::Profile& profile, const std::string& key) {
  Layout l;
  l.job_dir = profile.host.work_root + "/" + key;
  l.builds_dir = l.job_dir + "/builds";
  l.tmp_dir = l.job_dir + "/tmp";
  l.cache_dir = profile.host.cache_dir;
  l.cgroup = profile.host.cgroup_root + "/" + key;
  return l;
}

}  // namespace phaedo::sandbox::host
