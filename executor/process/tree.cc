#include "process/tree.h"

#include <dirent.h>
#include <sys/prctl.h>

#include <fstream>
#include <map>
#include <string>

namespace phaedo::process {
namespace {

struct ProcInfo {
  pid_t ppid = 0;
  pid_t pgid = 0;
  char state = '?';
};

// pid → (ppid, pgid) for every process, read from /proc/<pid>/stat.
std::map<pid_t, ProcInfo> snapshot() {
  std::map<pid_t, ProcInfo> procs;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return procs;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) continue;
    ProcInfo info;
    long ppid = 0, pgid = 0;
    if (std::sscanf(line.c_str() + close + 2, "%c %ld %ld", &info.state, &ppid, &pgid) != 3) continue;
    info.ppid = static_cast<pid_t>(ppid);
    info.pgid = static_cast<pid_t>(pgid);
    procs[static_cast<pid_t>(pid)] = info;
  }
  ::closedir(dir);
  return procs;
}

}  // namespace

std::vector<pid_t> descendants_of(pid_t ancestor) {
  auto procs = snapshot();
  std::vector<pid_t> out;
  for (const auto& [pid, info] : procs) {
    if (info.state == 'Z') continue;
    pid_t p = info.ppid;
    for (int depth = 0; p > 1 && depth < 4096; ++depth) {
      if (p == ancestor) {
        out.push_back(pid);
        break;
      }
      auto it = procs.find(p);
      if (it == procs.end()) break;
      p = it->second.ppid;
    }
  }
  return out;
}

std::vector<pid_t> members_of_group(pid_t pgid) {
  std::vector<pid_t> out;
  for (const auto& [pid, info] : snapshot()) {
    if (info.pgid == pgid && info.state != 'Z') out.push_back(pid);
  }
  return out;
}

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

}  // namespace phaedo::process
