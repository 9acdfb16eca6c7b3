// The driver profile: a TOML file an administrator passes with --profile FILE.
//
// Parsed strictly at the boundary: unknown keys, wrong types and bad values are
// errors whose one-line message names the file, the key and the value. Defaults
// give a working host sandbox; see runner-config/*.toml for commented examples.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace phaedo::profile {

enum class SandboxKind { host, docker };
enum class LeaseKind { none, kubernetes_node };
enum class Shell { bash, sh };
enum class CgroupMode { automatic, required, off };
enum class PullPolicy { never, if_not_present, always };

const char* to_string(SandboxKind kind);
const char* to_string(LeaseKind kind);
const char* to_string(Shell shell);
const char* to_string(PullPolicy policy);

struct HostSettings {
  std::string work_root;        // per-job directories live under it; default <state_dir>/work
  std::string cache_dir;        // shared across jobs; default <state_dir>/cache
  std::string cgroup_root = "/sys/fs/cgroup/pids/phaedo";  // cgroup v1 pids hierarchy
  CgroupMode cgroup = CgroupMode::automatic;
  std::int64_t pids_max = 0;    // 0: no limit
  std::string path;             // PATH for job scripts; empty keeps the runner's
};

// sandbox = "docker": one hardened container per job on a per-job bridge network.
// Paths builds_dir and cache_dir are inside the container.
struct DockerSettings {
  std::string socket = "/var/run/docker.sock";
  std::string default_image;                 // used when the job names no image
  std::vector<std::string> allowed_images;   // globs for job images; empty: any ("*" no '/', "**" any)
  PullPolicy pull_policy = PullPolicy::if_not_present;
  std::optional<double> cpus;                // e.g. 1.5
  std::optional<std::int64_t> memory_bytes;  // "512m" or bytes; swap is not added on top
  std::optional<std::int64_t> pids_limit;
  std::vector<std::string> cap_add;          // added back after cap-drop ALL, e.g. "CHOWN"
  bool read_only_rootfs = false;
  std::string builds_dir = "/builds";        // the per-job builds volume is mounted here
  std::string cache_dir = "/cache";          // cache_volume is mounted here (when set)
  std::string cache_volume;                  // shared by all jobs, never removed; empty: none
  std::string runner_binary;                 // host gitlab-runner, bound read-only; empty: none
  std::string auth_config;                   // docker config.json with registry credentials; empty: none
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
  DockerSettings docker;
};

// Parses TOML text. `source` only labels messages.
Result<Profile> parse_profile(const std::string& toml_text, const std::string& source);
// Reads and parses a file.
Result<Profile> load_profile(const std::string& path);

}  // namespace phaedo::profile
