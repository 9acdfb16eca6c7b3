// The Kubernetes node lease (profile `lease = "kubernetes-node"`): one GPU node of a
// cluster per job, a scoped identity for the job, and a teardown that survives crashes.
//
// The interface other code and the tests rely on (keep it stable):
//
// Lease object, one per node: coordination.k8s.io/v1 Lease named after the node in
// `lease_namespace`; spec.holderIdentity = the job key (r<runner>-j<job>), or absent when
// free; leaseDurationSeconds; acquireTime/renewTime (MicroTime). Annotations:
//   phaedo.dev/phase      acquiring | active | teardown | released
//   phaedo.dev/host       the runner host holding it
//   phaedo.dev/namespace  the job namespace
//   phaedo.dev/since      RFC 3339 time of the last phase change
//   phaedo.dev/gpu        the node's allocatable GPUs when acquired (health check)
//   phaedo.dev/taint-key  the taint/label key in use (reapers with another profile)
//   phaedo.dev/reaper     who finishes a teardown of an expired holder (takeover, reap)
// A lease is held while holderIdentity is set and renewTime + duration is in the
// future; an expired held lease is taken over only after its holder's teardown has
// been finished from these annotations (takeover sets phase teardown and renews the
// lease while it works, so only one party tears down at a time).
//
// Node while held: taint <taint_key>=<job key>:NoSchedule and label <taint_key>=<job key>.
//
// The script's environment (run stage): KUBECONFIG (0600 file under
// <state_dir>/kube/, a TokenRequest token of the job's ServiceAccount bounded by the job
// timeout), PHAEDO_LEASE_NODE, PHAEDO_LEASE_NAMESPACE, PHAEDO_LEASE_TOLERATION (JSON
// toleration object for the taint), PHAEDO_LEASE_NODE_SELECTOR (JSON {"<taint_key>":
// "<job key>"}), PHAEDO_LEASE_JOB (the job key, for the phaedo.dev/job label).
//
// The job's identity: ServiceAccount phaedo-job in the job namespace bound to ClusterRole
// admin there; ClusterRole/ClusterRoleBinding phaedo-job-<key> (label phaedo.dev/job) with
// get/list/watch/create on the profile's allowed cluster-scoped kinds only (no update or
// delete: a job cannot touch another job's objects of those kinds). Cluster-scoped objects
// a job creates must carry label phaedo.dev/job=<job key>; teardown deletes those, and
// every webhook configuration whose webhooks call a service in the job namespace.
//
// The job namespace carries labels phaedo.dev/job=<key> and phaedo.dev/node=<node>; a
// cluster-wide ValidatingAdmissionPolicy (tests/cluster/manifests/job-pod-policy.yaml,
// applied by the administrator) uses them to keep the job's pods on its node.
//
// Journal: the lease keeps its own journal (journal::Journal under <state_dir>/lease), next
// to the sandbox's, so that each side replays only records it knows. Every step is
// journaled before it happens; records hold names and paths, never the token.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/result.h"
#include "journal/journal.h"
#include "k8s/types.h"
#include "log/logger.h"
#include "profile/profile.h"

namespace phaedo::lease {

inline constexpr const char* kPhaseAnnotation = "phaedo.dev/phase";
inline constexpr const char* kHostAnnotation = "phaedo.dev/host";
inline constexpr const char* kNamespaceAnnotation = "phaedo.dev/namespace";
inline constexpr const char* kSinceAnnotation = "phaedo.dev/since";
inline constexpr const char* kGpuAnnotation = "phaedo.dev/gpu";
inline constexpr const char* kTaintKeyAnnotation = "phaedo.dev/taint-key";
inline constexpr const char* kReaperAnnotation = "phaedo.dev/reaper";
inline constexpr const char* kJobLabel = "phaedo.dev/job";
inline constexpr const char* kNodeLabel = "phaedo.dev/node";  // on the job namespace

inline constexpr const char* kPhaseAcquiring = "acquiring";
inline constexpr const char* kPhaseActive = "active";
inline constexpr const char* kPhaseTeardown = "teardown";
inline constexpr const char* kPhaseReleased = "released";

// Who asks: the job and where its state lives.
struct JobRef {
  std::string key;                   // r<runner>-j<job>
  std::int64_t job_id = 0;
  std::string host;                  // this runner host's name
  std::int64_t timeout_seconds = 0;  // the job timeout
  std::string state_dir;             // the profile's state_dir
  std::string profile_path;          // for the renewer's command line
  std::string renewer;               // phaedo-admin to run as renewer; empty: next to this program
};

// What the job got; kept in the lease journal, read back by the run stage.
struct Grant {
  std::string node;
  std::string namespace_;
  std::string kubeconfig;  // path of the 0600 file
};

// The lease journal's state directory: <state_dir>/lease.
[[nodiscard]] std::string journal_root(const std::string& state_dir);

// The variables the script gets (see above).
[[nodiscard]] std::map<std::string, std::string> script_env(const Grant& grant,
                                                             const profile::KubernetesSettings& settings,
                                                             const std::string& key);
// The grant recorded in the lease journal; not_found when the job holds no lease.
[[nodiscard]] Result<Grant> granted(const journal::Journal& journal);

// Prepare: waits for a node (job log lines while waiting, every ~12 s), takes its lease,
// starts the renewer, taints and labels the node, creates the namespace, identity and
// kubeconfig. Leftovers in the journal from an earlier attempt are torn down first.
// Errors: cancelled (CancelToken), io/peer (the API server), and a timeout message
// naming wait_timeout and who held the nodes.
Result<Grant> acquire(const profile::KubernetesSettings& settings, const JobRef& job, journal::Journal& journal,
                      log::Logger& log);

// Cleanup: everything the journal names, in order (renewer, phase teardown, webhook
// configurations, other labelled cluster-scoped objects, ClusterRole/Binding, namespace
// until gone, leftover pods, node health, taint and label, lease release, kubeconfig),
// each step retried with backoff within teardown_timeout. Marks records removed as they
// finish; the caller erases the journal when this succeeds. On failure the node stays
// tainted and the lease stays for reaping.
Status teardown(const profile::KubernetesSettings& settings, const JobRef& job, journal::Journal& journal,
                log::Logger& log);

// --- reaping and administration (phaedo-admin) ---------------------------------------

struct LeaseRow {
  std::string node, holder, phase, since, namespace_, host;
  std::optional<std::int64_t> expires_in;  // seconds; negative: expired; nullopt: not held
};
Result<std::vector<LeaseRow>> list(const profile::KubernetesSettings& settings);

// For `phaedo-admin doctor`: the API server answers to the driver's credentials, the
// candidate nodes and the leases can be read. "v1.36.3: 2 candidate node(s), 1 held".
Result<std::string> check(const profile::KubernetesSettings& settings);

struct ReapResult {
  std::vector<std::string> reaped;   // "<node> (<holder>)"
  std::vector<std::string> skipped;  // "<node>: <why>"
  std::vector<std::string> failed;   // "<node>: <why>"
};
// Finishes the teardown of every expired or abandoned held lease, cluster-wide. Never
// touches a lease whose renewTime is still fresh. `me` names the reaper.
Result<ReapResult> reap(const profile::KubernetesSettings& settings, const std::string& me, log::Logger& log);
// Forced teardown of the lease of `node` (an administrator's call), whatever its state.
Status release(const profile::KubernetesSettings& settings, const std::string& node, const std::string& me,
               log::Logger& log);

// The renewer loop (phaedo-admin lease-renew): renews the lease of `node` for `holder`
// every lease_duration/3 until the lease is no longer the holder's or its phase is
// teardown/released, or a signal arrives. Returns the process exit code.
int run_renewer(const profile::KubernetesSettings& settings, const std::string& node, const std::string& holder,
                log::Logger& log);

}  // namespace phaedo::lease
