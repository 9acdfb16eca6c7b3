// Typed requests and answers of the Docker Engine API subset the driver uses.
//
// Plain structs, parsed at the boundary (codec.cc) so that no JSON crosses the
// client's interface. Optional fields left empty are not sent, and the daemon's
// defaults apply. Privileged mode and host namespaces are deliberately absent:
// the driver never asks for them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace phaedo::docker {

using Labels = std::map<std::string, std::string>;

// Filter terms for list calls: "key" (label present) or "key=value".
using LabelFilter = std::vector<std::string>;

struct VersionInfo {
  std::string version;          // engine version, e.g. "20.10.24+dfsg1"
  std::string api_version;      // highest API the daemon speaks, e.g. "1.41"
  std::string min_api_version;  // lowest API the daemon accepts, e.g. "1.12"
  std::string os;
  std::string arch;
  std::string kernel_version;
};

// The parts of GET /info the driver uses.
struct SystemInfo {
  std::string cgroup_driver;   // "cgroupfs" or "systemd"
  std::string cgroup_version;  // "1" or "2" ("" from daemons before API 1.40)
};

struct ImageInfo {
  std::string id;  // "sha256:…"
  std::vector<std::string> repo_tags;
  std::int64_t size = 0;
  Labels labels;
};

struct ImportSpec {
  std::string repo;                  // e.g. "phaedo-test/busybox"
  std::string tag;                   // e.g. "1"
  std::vector<std::string> changes;  // Dockerfile instructions, e.g. R"(CMD ["/bin/sh"])"
};

enum class MountType { bind, volume, tmpfs };
enum class Access { read_write, read_only };

struct Mount {
  MountType type = MountType::volume;
  std::string source;  // volume name or host path; empty for tmpfs
  std::string target;  // path in the container
  Access access = Access::read_write;
  Labels volume_labels;                          // volume: labels of a volume the mount creates
  std::optional<std::int64_t> tmpfs_size_bytes;  // tmpfs only
};

enum class RootFs { writable, read_only };
enum class Init { none, docker_init };  // docker_init: the daemon's tini as PID 1, reaps zombies

struct HostConfig {
  std::string network_mode;        // "" = daemon default ("bridge"); "none"; a network name
  std::vector<std::string> binds;  // "source:target[:options]"
  std::vector<Mount> mounts;
  std::optional<std::int64_t> memory_bytes;
  std::optional<std::int64_t> memory_swap_bytes;  // memory + swap; == memory_bytes: no swap
  std::optional<std::int64_t> nano_cpus;          // 1'000'000'000 = one CPU
  std::optional<std::int64_t> pids_limit;
  std::vector<std::string> cap_drop;  // e.g. {"ALL"}
  std::vector<std::string> cap_add;
  std::vector<std::string> security_opt;  // e.g. {"no-new-privileges"}
  RootFs rootfs = RootFs::writable;
  std::map<std::string, std::string> tmpfs;  // path → mount options, e.g. {"/tmp", "rw,size=64m"}
  Init init = Init::none;
  std::string cgroup_parent;  // "" = the daemon's default; cgroupfs: a path like "/phaedo-docker/r1-j2"
};

struct ContainerSpec {
  std::string name;  // empty: the daemon picks one
  std::string image;
  std::vector<std::string> cmd;
  std::optional<std::vector<std::string>> entrypoint;  // set (even empty) to override the image's
  std::vector<std::string> env;                        // "K=V"
  std::string working_dir;
  std::string user;
  std::string hostname;
  Labels labels;
  HostConfig host;
  std::vector<std::string> network_aliases;  // on host.network_mode, which must then be a network name
};

struct CreatedContainer {
  std::string id;
  std::vector<std::string> warnings;
};

struct ContainerState {
  std::string status;  // "created", "running", "exited", …
  bool running = false;
  bool paused = false;
  bool restarting = false;
  bool oom_killed = false;
  bool dead = false;
  std::int64_t pid = 0;
  int exit_code = 0;
  std::string error;
  std::string started_at;
  std::string finished_at;
};

struct ContainerInfo {
  std::string id;
  std::string name;   // without the leading '/'
  std::string image;  // image id
  Labels labels;
  ContainerState state;
  HostConfig host;  // the limits, network mode, capabilities and rootfs flag as applied
};

struct ContainerSummary {
  std::string id;
  std::vector<std::string> names;  // without leading '/'
  std::string image;
  std::string state;   // "running", "exited", …
  std::string status;  // human text, e.g. "Exited (0) 2 seconds ago"
  Labels labels;
};

enum class WaitCondition { not_running, next_exit, removed };

struct WaitResult {
  std::int64_t status_code = 0;
  std::string error;  // the daemon's wait error, if any
};

enum class Internal { no, yes };  // an internal network has no route outside

struct NetworkSpec {
  std::string name;
  std::string driver = "bridge";
  Internal internal = Internal::no;
  Labels labels;
};

struct NetworkInfo {
  std::string id;
  std::string name;
  std::string driver;
  bool internal = false;
  Labels labels;
};

struct VolumeSpec {
  std::string name;  // empty: the daemon picks one
  std::string driver = "local";
  Labels labels;
};

struct VolumeInfo {
  std::string name;
  std::string driver;
  std::string mountpoint;
  Labels labels;
};

enum class Tty { off, on };  // on: one raw stream; off: stdout and stderr multiplexed

struct ExecSpec {
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "K=V"
  std::string working_dir;
  std::string user;
  Tty tty = Tty::off;
};

struct ExecInfo {
  std::string id;
  std::string container_id;
  bool running = false;
  std::optional<int> exit_code;  // empty while running
  std::int64_t pid = 0;
};

// Where exec output goes as it arrives. An error from a sink aborts the stream and
// is returned with its kind kept. An empty sink drops that stream.
using OutputSink = std::function<Status(std::string_view bytes)>;
struct OutputSinks {
  OutputSink out;
  OutputSink err;
};

}  // namespace phaedo::docker
