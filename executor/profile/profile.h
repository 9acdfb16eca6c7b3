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
enum class DockerApi { none, scoped };

const char* to_string(SandboxKind kind);
const char* to_string(LeaseKind kind);
const char* to_string(Shell shell);
const char* to_string(PullPolicy policy);
const char* to_string(DockerApi api);

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
  // docker_api = "scoped": the job gets DOCKER_HOST on a per-job socket served by
  // phaedo-dockerscope (see executor/dockerscope/service.h); "none": no Docker API.
  DockerApi api = DockerApi::none;
  std::string dockerscope_binary;            // empty: phaedo-dockerscope next to the stage program
  std::string api_socket_dir = "/var/run/phaedo";  // where the job's socket is mounted in the container
  // job_cgroup: one cgroup per job (cgroup v1, cgroupfs driver) holding cpus, memory
  // and pids_limit for the sum of the job's containers: the job container, its
  // services and what it starts through the scoped API (sandbox/docker/job_cgroup.h).
  // "auto": used where the daemon allows it, else each container is limited alone;
  // "required": prepare fails where it cannot be used; "off": never.
  CgroupMode job_cgroup = CgroupMode::automatic;
};

// lease = "kubernetes-node": one node of a Kubernetes cluster per job (see lease/).
// Credentials come from `kubeconfig` (optionally `context`) or, with in_cluster, from
// the pod's service account.
struct KubernetesSettings {
  std::string kubeconfig;                    // the driver's kubeconfig; required unless in_cluster
  std::string context;                       // kubeconfig context; empty: current-context
  bool in_cluster = false;
  std::vector<std::string> node_selector;    // "key=value" labels candidate nodes must carry
  std::string gpu_resource = "nvidia.com/gpu";
  std::int64_t gpu_min = 1;                  // allocatable GPUs a node needs
  std::string lease_namespace = "phaedo-leases";
  std::chrono::seconds lease_duration{60};   // renewed every third of it
  std::chrono::seconds wait_timeout{1800};   // prepare gives up (system failure) after it
  std::chrono::seconds teardown_timeout{300};  // one cleanup's budget before leaving it to reap
  // Cluster-scoped kinds a job may create, as "group/resource" (core group: "/resource"),
  // e.g. "admissionregistration.k8s.io/mutatingwebhookconfigurations".
  std::vector<std::string> allowed_cluster_kinds;
  std::string namespace_template = "phaedo-{job}";  // {job}: the job key, {node}: the node
  std::string taint_key = "phaedo.dev/lease";        // NoSchedule taint and label key on the node
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
  KubernetesSettings kubernetes;
};

// Parses TOML text. `source` only labels messages.
Result<Profile> parse_profile(const std::string& toml_text, const std::string& source);
// Reads and parses a file.
Result<Profile> load_profile(const std::string& path);

}  // namespace phaedo::profile
