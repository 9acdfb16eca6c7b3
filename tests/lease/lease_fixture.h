// Fixture for the lease tests: a throw-away state dir and profile per test (driver
// kubeconfig of the test cluster), job references, journals, kubectl as a job, and
// probes of the cluster state that teardown must restore.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster.h"
#include "journal/journal.h"
#include "lease/lease.h"
#include "log/logger.h"
#include "profile/profile.h"

namespace phaedo::lease::testing {

// The node the default profile selects.
inline const std::string kNode = "gpu-node-1";

// What teardown must give back: the node's taints and labels, the lease's holder.
struct NodeState {
  std::vector<k8s::Taint> taints;
  k8s::Labels labels;
  bool operator==(const NodeState&) const = default;
};

class LeaseTest : public k8s::testing::ClusterTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A profile for gpu-node-1 only unless `selector` says otherwise.
  profile::Profile make_profile(const std::string& extra = "",
                                const std::string& selector = "kubernetes.io/hostname=gpu-node-1",
                                int wait_timeout_s = 60);
  JobRef job(const profile::Profile& p, int n);
  journal::Journal open_journal(const JobRef& j);

  NodeState node_state(const std::string& node);
  std::optional<k8s::Lease> lease_of(const std::string& node);
  bool namespace_exists(const std::string& name);
  // kubectl with KUBECONFIG=kubeconfig; returns exit code, output in *out.
  int kubectl(const std::string& kubeconfig, const std::string& args, std::string* out = nullptr,
              const std::string& stdin_text = "");
  // SIGKILLs the renewer of `holder` (a crash); returns how many were killed.
  int kill_renewer(const std::string& holder);
  int renewers(const std::string& holder);
  // A MutatingWebhookConfiguration manifest calling a service in `ns`, labelled or not.
  static std::string webhook_yaml(const std::string& name, const std::string& ns, const std::string& job_label);

  std::string dir_;
  log::Logger log_{"test", ""};
};

}  // namespace phaedo::lease::testing
