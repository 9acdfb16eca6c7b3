// The k8s client against a real kube-apiserver 1.36 with kwok GPU nodes, as the
// least-privilege driver identity of tests/cluster/manifests/driver-rbac.yaml.
#include "cluster.h"

#include <chrono>
#include <thread>

#include "k8s/micro_time.h"

namespace phaedo::k8s::testing {
namespace {

using namespace std::chrono_literals;

const std::string kGpu = "nvidia.com/gpu";

TEST_F(ClusterTest, ConnectsWithTheDriverKubeconfig) {
  EXPECT_EQ(driver().server().git_version.rfind("v1.36", 0), 0u) << driver().server().git_version;
  Result<Connection> conn = load_kubeconfig(cluster().at("PHAEDO_K8S_DRIVER_KUBECONFIG"));
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->server, cluster().at("PHAEDO_K8S_API_URL"));
  EXPECT_EQ(conn->describe().find(cluster().at("PHAEDO_K8S_DRIVER_TOKEN")), std::string::npos);
}

TEST_F(ClusterTest, ExplicitConnectionAndRefusedToken) {
  Result<Connected> ok =
      connect(explicit_connection(cluster().at("PHAEDO_K8S_API_URL"), cluster().at("PHAEDO_K8S_CA"),
                                  cluster().at("PHAEDO_K8S_DRIVER_TOKEN")));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  Result<Connected> bad = connect(explicit_connection(cluster().at("PHAEDO_K8S_API_URL"),
                                                      cluster().at("PHAEDO_K8S_CA"), "not-a-token-xyz"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(api_reason(bad.error()), ApiReason::unauthorized) << bad.error().message;
  EXPECT_EQ(bad.error().message.find("not-a-token-xyz"), std::string::npos);
}

TEST_F(ClusterTest, ReadsTheGpuNodes) {
  Result<NodeList> nodes = driver().list_nodes({cluster().at("PHAEDO_K8S_GPU_NODE_SELECTOR"), ""});
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  ASSERT_EQ(nodes->items.size(), 2u);
  EXPECT_FALSE(nodes->resource_version.empty());
  for (const Node& n : nodes->items) {
    EXPECT_EQ(n.allocatable_count(kGpu), 8) << n.meta.name;
    EXPECT_EQ(n.ready, ConditionStatus::true_) << n.meta.name;
    EXPECT_FALSE(n.meta.resource_version.empty());
    EXPECT_EQ(n.meta.labels.at("nvidia.com/gpu.present"), "true");
    EXPECT_EQ(n.allocatable_count("cpu"), 32);
    bool tainted = false;
    for (const Taint& t : n.taints) tainted |= t == Taint{kGpu, "present", "NoSchedule"};
    EXPECT_TRUE(tainted) << n.meta.name;
  }
  Result<Node> one = driver().get_node("gpu-node-1");
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->meta.name, "gpu-node-1");
  Result<Node> none = driver().get_node("no-such-node");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::not_found);
}

TEST_F(ClusterTest, LeaseCreateConflictRenewDelete) {
  const std::string ns = cluster().at("PHAEDO_K8S_LEASE_NAMESPACE");
  const auto now = to_micro_time(std::chrono::system_clock::now());
  Lease lease;
  lease.meta.name = name("gpu-node-1");
  lease.meta.namespace_ = ns;
  lease.meta.labels = {{"phaedo.dev/node", "gpu-node-1"}};
  lease.spec = {"job-1", 60, now, now, 0};
  Result<Lease> created = driver().create_lease(lease);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->spec.renew_time, now);  // microseconds survive the round trip
  EXPECT_EQ(created->spec.holder_identity, "job-1");

  Lease rival = lease;
  rival.spec.holder_identity = "job-2";
  Result<Lease> second = driver().create_lease(rival);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(is_already_exists(second.error())) << second.error().message;
  EXPECT_FALSE(is_conflict(second.error()));

  // Renew with the version read.
  Lease renew = *created;
  renew.spec.renew_time = now + 1500ms;
  Result<Lease> renewed = driver().update_lease(renew);
  ASSERT_TRUE(renewed.ok()) << renewed.error().message;
  EXPECT_NE(renewed->meta.resource_version, created->meta.resource_version);
  EXPECT_EQ(renewed->spec.renew_time, now + 1500ms);

  // A takeover from the stale version loses.
  Lease stale = *created;
  stale.spec.holder_identity = "job-2";
  stale.spec.lease_transitions = 1;
  Result<Lease> lost = driver().update_lease(stale);
  ASSERT_FALSE(lost.ok());
  EXPECT_TRUE(is_conflict(lost.error())) << lost.error().message;
  EXPECT_FALSE(is_already_exists(lost.error()));

  Result<Lease> read = driver().get_lease(ns, lease.meta.name);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->spec.holder_identity, "job-1");

  // Release with preconditions: the stale version is refused, the current one deletes.
  Status wrong = driver().delete_lease(ns, lease.meta.name, {read->meta.uid, created->meta.resource_version});
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(is_conflict(wrong.error())) << wrong.error().message;
  Status released = driver().delete_lease(ns, lease.meta.name, {read->meta.uid, read->meta.resource_version});
  ASSERT_TRUE(released.ok()) << released.error().message;
  Result<Lease> gone = driver().get_lease(ns, lease.meta.name);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().kind, ErrorKind::not_found);
  EXPECT_EQ(driver().delete_lease(ns, lease.meta.name).error().kind, ErrorKind::not_found);
}

TEST_F(ClusterTest, LeasesOutsideTheLeaseNamespaceAreForbidden) {
  Lease lease;
  lease.meta.name = name("x");
  lease.meta.namespace_ = "default";
  lease.spec.holder_identity = "job-1";
  Result<Lease> created = driver().create_lease(lease);
  ASSERT_FALSE(created.ok());
  EXPECT_TRUE(is_forbidden(created.error())) << created.error().message;
}

TEST_F(ClusterTest, NodeLabelAndTaintPatchIsGuardedByResourceVersion) {
  const std::string node = "gpu-node-2";
  Result<Node> before = driver().get_node(node);
  ASSERT_TRUE(before.ok()) << before.error().message;
  const std::string label = "phaedo.dev/lease-" + name("holder");

  NodePatch take;
  take.resource_version = before->meta.resource_version;
  take.labels[label] = "job-1";
  std::vector<Taint> taints = before->taints;
  taints.push_back({"phaedo.dev/lease", "job-1", "NoSchedule"});
  take.taints = taints;
  Result<Node> taken = driver().patch_node(node, take);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken->meta.labels.at(label), "job-1");
  EXPECT_EQ(taken->taints, taints);

  // A concurrent writer that read the same version loses.
  NodePatch rival = take;
  rival.labels[label] = "job-2";
  Result<Node> lost = driver().patch_node(node, rival);
  ASSERT_FALSE(lost.ok());
  EXPECT_TRUE(is_conflict(lost.error())) << lost.error().message;

  // Restore from the current version: label removed, taints as before.
  NodePatch restore;
  restore.resource_version = taken->meta.resource_version;
  restore.labels[label] = std::nullopt;
  restore.taints = before->taints;
  Result<Node> restored = driver().patch_node(node, restore);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->meta.labels.count(label), 0u);
  EXPECT_EQ(restored->taints, before->taints);
}

TEST_F(ClusterTest, NamespaceCreateDeleteWaitGone) {
  const std::string ns = name("ns");
  Result<Namespace> created = driver().create_namespace(ns, {{"phaedo.dev/job", "1"}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->phase, "Active");
  Result<Namespace> again = driver().create_namespace(ns);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(is_already_exists(again.error())) << again.error().message;

  ASSERT_TRUE(driver().delete_namespace(ns).ok());
  const auto t0 = std::chrono::steady_clock::now();
  Status gone = driver().wait_namespace_gone(ns, 60s);
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  RecordProperty("namespace_gone_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                           std::chrono::steady_clock::now() - t0)
                                                           .count()));
  EXPECT_EQ(driver().get_namespace(ns).error().kind, ErrorKind::not_found);
  EXPECT_TRUE(driver().wait_namespace_gone(ns, 1s).ok());  // already gone
  EXPECT_EQ(driver().delete_namespace(ns).error().kind, ErrorKind::not_found);
}

TEST_F(ClusterTest, JobIdentityIsAdminInItsNamespaceOnly) {
  const std::string ns = name("job");
  ASSERT_TRUE(driver().create_namespace(ns).ok());
  Status sa = driver().create_service_account(ns, "job", {{"phaedo.dev/job", "1"}});
  ASSERT_TRUE(sa.ok()) << sa.error().message;
  Binding binding;
  binding.meta.name = "job-admin";
  binding.meta.namespace_ = ns;
  binding.role_ref = {RoleKind::cluster_role, "admin"};
  binding.subjects = {{"job", ns}};
  Status bound = driver().create_binding(binding);
  ASSERT_TRUE(bound.ok()) << bound.error().message;

  // The driver holds no bind right on cluster-admin: escalation is refused.
  Binding escalate = binding;
  escalate.meta.name = "job-cluster-admin";
  escalate.role_ref.name = "cluster-admin";
  Status refused = driver().create_binding(escalate);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(is_forbidden(refused.error())) << refused.error().message;

  EXPECT_EQ(driver().request_token(ns, "job", {{}, 599}).error().kind, ErrorKind::invalid_input);
  const auto asked = std::chrono::system_clock::now();
  Result<IssuedToken> token = driver().request_token(ns, "job", {{}, 600});
  ASSERT_TRUE(token.ok()) << token.error().message;
  EXPECT_FALSE(token->token.empty());
  EXPECT_GT(token->expiration, asked + 590s);
  EXPECT_LT(token->expiration, asked + 3700s);

  Result<Connected> job = connect(
      explicit_connection(cluster().at("PHAEDO_K8S_API_URL"), cluster().at("PHAEDO_K8S_CA"), token->token));
  ASSERT_TRUE(job.ok()) << job.error().message;
  ConfigMap inside{{}, {{"k", "v"}}};
  inside.meta.name = "hello";
  inside.meta.namespace_ = ns;
  Result<ConfigMap> made = job->client->create_config_map(inside);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->data.at("k"), "v");

  ConfigMap outside = inside;
  outside.meta.namespace_ = "default";
  Result<ConfigMap> denied = job->client->create_config_map(outside);
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(is_forbidden(denied.error())) << denied.error().message;
  EXPECT_EQ(denied.error().message.find(token->token), std::string::npos);
  Status other_ns = job->client->delete_namespace("phaedo-leases");
  ASSERT_FALSE(other_ns.ok());
  EXPECT_TRUE(is_forbidden(other_ns.error())) << other_ns.error().message;

  ASSERT_TRUE(driver().delete_namespace(ns).ok());
  Status gone = driver().wait_namespace_gone(ns, 60s);
  EXPECT_TRUE(gone.ok()) << gone.error().message;
}

TEST_F(ClusterTest, ClusterScopedKindsListAndDeleteByLabel) {
  const std::string job = name("sel");
  ClusterRole role;
  role.meta.name = name("webhooks");
  role.meta.labels = {{"phaedo.dev/job", job}};
  role.rules = {{{"admissionregistration.k8s.io"}, {"mutatingwebhookconfigurations"}, {"get", "list"}, {}}};
  Status made = driver().create_cluster_role(role);
  ASSERT_TRUE(made.ok()) << made.error().message;
  Binding crb;
  crb.meta.name = name("webhooks");
  crb.meta.labels = role.meta.labels;
  crb.role_ref = {RoleKind::cluster_role, role.meta.name};
  crb.subjects = {{"job", "default"}};
  Status bound = driver().create_binding(crb);
  ASSERT_TRUE(bound.ok()) << bound.error().message;

  const Selector sel{"phaedo.dev/job=" + job, ""};
  for (const ResourceKind* kind : {&kClusterRoles, &kClusterRoleBindings}) {
    Result<std::vector<ObjectMeta>> listed = driver().list_objects(*kind, sel);
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    ASSERT_EQ(listed->size(), 1u) << kind->resource;
    EXPECT_EQ(listed->front().name, role.meta.name);
  }
  for (const ResourceKind* kind : {&kMutatingWebhookConfigurations, &kValidatingWebhookConfigurations}) {
    Result<std::vector<ObjectMeta>> listed = driver().list_objects(*kind, sel);
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    EXPECT_TRUE(listed->empty());
  }
  for (const ResourceKind* kind : {&kClusterRoleBindings, &kClusterRoles}) {
    Result<std::vector<std::string>> deleted = driver().delete_by_selector(*kind, sel);
    ASSERT_TRUE(deleted.ok()) << deleted.error().message;
    EXPECT_EQ(deleted->size(), 1u);
    EXPECT_TRUE(driver().list_objects(*kind, sel)->empty());
  }
  EXPECT_EQ(driver().delete_by_selector(kClusterRoles, {}).error().kind, ErrorKind::invalid_input);
}

TEST_F(ClusterTest, PodsListedAndDeletedBySelector) {
  Result<std::vector<Pod>> pods = driver().list_pods("kube-system", {"", "spec.nodeName=gpu-node-1"});
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  for (const Pod& p : *pods) EXPECT_EQ(p.node_name, "gpu-node-1");
  Status none = driver().delete_pod("default", name("no-such-pod"), 0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::not_found);
}

}  // namespace
}  // namespace phaedo::k8s::testing
