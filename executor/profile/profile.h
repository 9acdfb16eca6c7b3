// The driver profile: a TOML file an administrator passes with --profile FILE.
//
// Parsed strictly at the boundary: unknown keys, wrong types and bad values are
// errors whose one-line message names the file, the key and the value. Defaults
// give a working host sandbox; see runner-config/*.toml for commented examples.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/result.h"

namespace phaedo::profile {

enum class SandboxKind { host, docker };
enum class LeaseKind { none, kubernetes_node };
enum class Shell { bash, sh };
enum class CgroupMode { automatic, required, off };

const char* to_string(SandboxKind kind);
const char* to_string(LeaseKind kind);
const char* to_string(Shell shell);

struct HostSettings {
  std::string work_root;        // per-job directories live under it; default <state_dir>/work
  std::string cache_dir;        // shared across jobs; default <state_dir>/cache
  std::string cgroup_root = "/sys/fs/cgroup/pids/phaedo";  // cgroup v1 pids hierarchy
  CgroupMode cgroup = CgroupMode::automatic;
  std::int64_t pids_max = 0;    // 0: no limit
  std::string path;             // PATH for job scripts; empty keeps the runner's
};

struct Profile {
  std::string source;           // the file it came from, for messages
  std::string name;
  SandboxKind sandbox = SandboxKind::host;
  LeaseKind lease = LeaseKind::none;
  Shell shell = Shell::bash;
  std::string state_dir = "/var/lib/phaedo-executor";
  std::string log_file;         // admin log (JSON lines); default <state_dir>/admin.log
  std::string runner_id;        // overrides CI_RUNNER_ID in resource names; empty: from the job
  std::chrono::milliseconds kill_grace{3000};  // TERM → KILL grace when a stage is stopped
  HostSettings host;
};

// Parses TOML text. `source` only labels messages.
Result<Profile> parse_profile(const std::string& toml_text, const std::string& source);
// Reads and parses a file.
Result<Profile> load_profile(const std::string& path);

}  // namespace phaedo::profile
