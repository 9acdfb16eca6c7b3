// Acquire, contention, takeover, renewal and the wait timeout, on the real cluster.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "k8s/micro_time.h"
#include "lease_fixture.h"
#include <fstream>

namespace phaedo::lease::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(LeaseTest, AcquiresAFreeNodeAndTeardownGivesItBack) {
  auto p = make_profile();
  auto j = job(p, 1);
  auto journal = open_journal(j);
  NodeState before = node_state(kNode);

  auto grant = acquire(p.kubernetes, j, journal, log_);
  ASSERT_TRUE(grant.ok()) << grant.error().message;
  EXPECT_EQ(grant->node, kNode);
  EXPECT_EQ(grant->namespace_, "phaedo-" + j.key);

  auto l = lease_of(kNode);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->spec.holder_identity.value_or(""), j.key);
  EXPECT_EQ(l->spec.lease_duration_seconds.value_or(0), 10);
  EXPECT_TRUE(l->spec.acquire_time && l->spec.renew_time);
  EXPECT_EQ(l->meta.annotations.at(kPhaseAnnotation), kPhaseActive);
  EXPECT_EQ(l->meta.annotations.at(kHostAnnotation), "test-host");
  EXPECT_EQ(l->meta.annotations.at(kNamespaceAnnotation), grant->namespace_);
  EXPECT_FALSE(l->meta.annotations.at(kSinceAnnotation).empty());

  NodeState held = node_state(kNode);
  EXPECT_NE(std::find(held.taints.begin(), held.taints.end(), k8s::Taint{"phaedo.dev/lease", j.key, "NoSchedule"}),
            held.taints.end());
  EXPECT_EQ(held.labels.at("phaedo.dev/lease"), j.key);
  EXPECT_TRUE(namespace_exists(grant->namespace_));
  EXPECT_EQ(renewers(j.key), 1);

  struct stat st{};
  ASSERT_EQ(::stat(grant->kubeconfig.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The journal names the kubeconfig, never the token.
  std::string kc_text;
  {
    std::ifstream in(grant->kubeconfig);
    kc_text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto token = nlohmann::json::parse(kc_text)["users"][0]["user"]["token"].get<std::string>();
  std::ifstream jf(journal.dir() + "/journal.json");
  std::string journal_text((std::istreambuf_iterator<char>(jf)), {});
  EXPECT_EQ(journal_text.find(token), std::string::npos);

  auto env = script_env(*grant, p.kubernetes, j.key);
  EXPECT_EQ(env.at("KUBECONFIG"), grant->kubeconfig);
  EXPECT_EQ(env.at("PHAEDO_LEASE_NODE"), kNode);
  EXPECT_EQ(nlohmann::json::parse(env.at("PHAEDO_LEASE_TOLERATION")),
            nlohmann::json({{"key", "phaedo.dev/lease"}, {"operator", "Equal"}, {"value", j.key}, {"effect", "NoSchedule"}}));
  EXPECT_EQ(nlohmann::json::parse(env.at("PHAEDO_LEASE_NODE_SELECTOR")), nlohmann::json({{"phaedo.dev/lease", j.key}}));

  // The job identity works in its namespace and nowhere else.
  std::string out;
  EXPECT_EQ(kubectl(grant->kubeconfig, "create configmap c1 --from-literal=a=b", &out), 0) << out;
  EXPECT_NE(kubectl(grant->kubeconfig, "-n default create configmap c1 --from-literal=a=b", &out), 0);
  EXPECT_NE(out.find("forbidden"), std::string::npos) << out;

  auto t0 = std::chrono::steady_clock::now();
  Status torn = teardown(p.kubernetes, j, journal, log_);
  ASSERT_TRUE(torn.ok()) << torn.error().message;
  std::fprintf(stderr, "teardown took %.2f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_TRUE(journal.live().empty());
  EXPECT_EQ(node_state(kNode), before);
  l = lease_of(kNode);
  ASSERT_TRUE(l);
  EXPECT_FALSE(l->spec.holder_identity);
  EXPECT_EQ(l->meta.annotations.at(kPhaseAnnotation), kPhaseReleased);
  EXPECT_FALSE(namespace_exists(grant->namespace_));
  EXPECT_FALSE(std::filesystem::exists(grant->kubeconfig));
  EXPECT_EQ(renewers(j.key), 0);
  EXPECT_FALSE(driver().list_objects(k8s::kClusterRoles, {"phaedo.dev/job=" + j.key, ""})->size() > 0);
}

// Two prepares race for the only matching node: once for a lease that does not exist
// yet (create: AlreadyExists), once for a released one (update: Conflict).
TEST_F(LeaseTest, TwoContendersForOneNodeExactlyOneWins) {
  auto p = make_profile("", "kubernetes.io/hostname=gpu-node-1", 4);
  for (bool fresh : {true, false}) {
    if (fresh) (void)driver().delete_lease(cluster().at("PHAEDO_K8S_LEASE_NAMESPACE"), kNode);
    JobRef a = job(p, fresh ? 21 : 23), b = job(p, fresh ? 22 : 24);
    auto ja = open_journal(a);
    auto jb = open_journal(b);
    std::optional<Result<Grant>> ra, rb;
    log::Logger la("a", ""), lb("b", "");
    std::thread ta([&] { ra.emplace(acquire(p.kubernetes, a, ja, la)); });
    std::thread tb([&] { rb.emplace(acquire(p.kubernetes, b, jb, lb)); });
    ta.join();
    tb.join();
    ASSERT_NE(ra->ok(), rb->ok()) << "exactly one must win (fresh=" << fresh << ")";
    const JobRef& winner = ra->ok() ? a : b;
    const Error& lost = ra->ok() ? rb->error() : ra->error();
    EXPECT_NE(lost.message.find("wait_timeout 4 s"), std::string::npos) << lost.message;
    EXPECT_NE(lost.message.find("held by " + winner.key), std::string::npos) << lost.message;
    EXPECT_EQ(lease_of(kNode)->spec.holder_identity.value_or(""), winner.key);
    ASSERT_TRUE(teardown(p.kubernetes, a, ja, log_).ok());
    ASSERT_TRUE(teardown(p.kubernetes, b, jb, log_).ok());
    EXPECT_FALSE(lease_of(kNode)->spec.holder_identity);
  }
}

// A holder that crashed (renewer killed) leaves namespace, webhook and taint; the next
// job takes the node only after that teardown is finished.
TEST_F(LeaseTest, ExpiredLeaseIsTakenOverOnlyAfterTheHoldersTeardown) {
  auto p = make_profile();
  JobRef a = job(p, 31), b = job(p, 32);
  auto ja = open_journal(a);
  auto ga = acquire(p.kubernetes, a, ja, log_);
  ASSERT_TRUE(ga.ok()) << ga.error().message;
  std::string out;
  ASSERT_EQ(kubectl(ga->kubeconfig, "apply -f -", &out, webhook_yaml("hook-" + a.key, ga->namespace_, a.key)), 0) << out;
  ASSERT_EQ(kubectl(ga->kubeconfig, "create configmap left --from-literal=a=b", &out), 0) << out;
  ASSERT_EQ(kill_renewer(a.key), 1);
  auto transitions = lease_of(kNode)->spec.lease_transitions.value_or(0);

  // Watch (by polling) when A's namespace is gone and when B holds the lease.
  std::atomic<bool> stop{false};
  std::optional<std::chrono::steady_clock::time_point> ns_gone, b_holds, webhook_gone;
  std::thread watcher([&] {
    auto conn = k8s::load_kubeconfig(cluster().at("PHAEDO_K8S_DRIVER_KUBECONFIG"));
    auto c = k8s::testing::connect(*conn);
    while (!stop) {
      auto now = std::chrono::steady_clock::now();
      if (!ns_gone && !c->client->get_namespace(ga->namespace_).ok()) ns_gone = now;
      auto hooks = c->client->list_objects(k8s::kMutatingWebhookConfigurations, {"phaedo.dev/job=" + a.key, ""});
      if (!webhook_gone && hooks && hooks->empty()) webhook_gone = now;
      auto l = c->client->get_lease(cluster().at("PHAEDO_K8S_LEASE_NAMESPACE"), kNode);
      if (!b_holds && l && l->spec.holder_identity.value_or("") == b.key) b_holds = now;
      std::this_thread::sleep_for(50ms);
    }
  });
  auto jb = open_journal(b);
  auto t0 = std::chrono::steady_clock::now();
  auto gb = acquire(p.kubernetes, b, jb, log_);
  stop = true;
  watcher.join();
  ASSERT_TRUE(gb.ok()) << gb.error().message;
  std::fprintf(stderr, "takeover after %.1f s (lease duration 10 s)\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  ASSERT_TRUE(ns_gone && b_holds && webhook_gone);
  EXPECT_LE(*ns_gone, *b_holds);
  EXPECT_LE(*webhook_gone, *b_holds);
  auto l = lease_of(kNode);
  EXPECT_EQ(l->spec.holder_identity.value_or(""), b.key);
  EXPECT_GT(l->spec.lease_transitions.value_or(0), transitions);
  NodeState held = node_state(kNode);
  for (const auto& t : held.taints) EXPECT_NE(t.value, a.key);
  EXPECT_EQ(held.labels.at("phaedo.dev/lease"), b.key);

  // A's own cleanup, late: it must not touch B's lease, taint or label.
  ASSERT_TRUE(teardown(p.kubernetes, a, ja, log_).ok());
  EXPECT_EQ(lease_of(kNode)->spec.holder_identity.value_or(""), b.key);
  EXPECT_EQ(node_state(kNode).labels.at("phaedo.dev/lease"), b.key);
  EXPECT_TRUE(namespace_exists(gb->namespace_));
  ASSERT_TRUE(teardown(p.kubernetes, b, jb, log_).ok());
}

TEST_F(LeaseTest, RenewerKeepsTheLeaseAlivePastItsDuration) {
  auto p = make_profile();
  JobRef a = job(p, 41);
  auto ja = open_journal(a);
  ASSERT_TRUE(acquire(p.kubernetes, a, ja, log_).ok());
  auto first = lease_of(kNode)->spec.renew_time;
  std::this_thread::sleep_for(25s);  // 2.5 lease durations
  auto l = lease_of(kNode);
  EXPECT_EQ(l->spec.holder_identity.value_or(""), a.key);
  EXPECT_GT(*l->spec.renew_time, *first);
  auto left = std::chrono::duration_cast<std::chrono::seconds>(*l->spec.renew_time + 10s - k8s::to_micro_time(std::chrono::system_clock::now()));
  EXPECT_GT(left.count(), 0) << "lease expired although the renewer runs";
  ASSERT_TRUE(teardown(p.kubernetes, a, ja, log_).ok());
  EXPECT_EQ(renewers(a.key), 0);
}

// Another writer changes the node and the lease all the time: every read-modify-write of
// the driver (taint, label, phase, renewal, release) meets 409 Conflicts, re-reads and
// keeps the other writer's changes.
TEST_F(LeaseTest, ConcurrentWritersCauseConflictsThatAreRetried) {
  auto p = make_profile();
  const std::string ns = cluster().at("PHAEDO_K8S_LEASE_NAMESPACE");
  std::atomic<bool> stop{false};
  std::atomic<int> node_writes{0}, lease_writes{0};
  std::thread writer([&] {
    auto conn = k8s::load_kubeconfig(cluster().at("PHAEDO_K8S_DRIVER_KUBECONFIG"));
    auto c = k8s::testing::connect(*conn);
    for (int i = 0; !stop; ++i) {
      if (auto n = c->client->get_node(kNode)) {
        k8s::NodePatch patch;
        patch.resource_version = n->meta.resource_version;
        patch.labels["phaedo.test/churn"] = std::to_string(i);
        if (c->client->patch_node(kNode, patch)) ++node_writes;
      }
      if (auto l = c->client->get_lease(ns, kNode)) {
        l->meta.annotations["phaedo.test/churn"] = std::to_string(i);
        if (c->client->update_lease(*l)) ++lease_writes;
      }
    }
  });
  for (int round = 0; round < 2; ++round) {
    JobRef a = job(p, 81 + round);
    auto ja = open_journal(a);
    auto g = acquire(p.kubernetes, a, ja, log_);
    ASSERT_TRUE(g.ok()) << g.error().message;
    NodeState held = node_state(kNode);
    EXPECT_EQ(held.labels.at("phaedo.dev/lease"), a.key);
    EXPECT_NE(std::find(held.taints.begin(), held.taints.end(), k8s::Taint{"phaedo.dev/lease", a.key, "NoSchedule"}),
              held.taints.end());
    EXPECT_EQ(lease_of(kNode)->meta.annotations.at(kPhaseAnnotation), kPhaseActive);
    Status torn = teardown(p.kubernetes, a, ja, log_);
    ASSERT_TRUE(torn.ok()) << torn.error().message;
    NodeState after = node_state(kNode);
    EXPECT_EQ(after.labels.count("phaedo.dev/lease"), 0u);
    for (const auto& t : after.taints) EXPECT_NE(t.key, "phaedo.dev/lease");
    EXPECT_FALSE(lease_of(kNode)->spec.holder_identity);
  }
  stop = true;
  writer.join();
  std::fprintf(stderr, "concurrent writes: %d to the node, %d to the lease\n", node_writes.load(), lease_writes.load());
  EXPECT_GT(node_writes.load(), 10);
  EXPECT_GT(lease_writes.load(), 10);
  // The other writer's label survived the driver's patches.
  EXPECT_EQ(node_state(kNode).labels.count("phaedo.test/churn"), 1u);
  auto n = driver().get_node(kNode);
  k8s::NodePatch undo;
  undo.resource_version = n->meta.resource_version;
  undo.labels["phaedo.test/churn"] = std::nullopt;
  ASSERT_TRUE(driver().patch_node(kNode, undo).ok());
}

TEST_F(LeaseTest, WaitTimeoutIsASystemFailureSayingSo) {
  auto p = make_profile("", "phaedo.dev/pool=none", 2);
  JobRef a = job(p, 51);
  auto ja = open_journal(a);
  auto t0 = std::chrono::steady_clock::now();
  auto g = acquire(p.kubernetes, a, ja, log_);
  ASSERT_FALSE(g.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
  EXPECT_NE(g.error().message.find("wait_timeout 2 s"), std::string::npos) << g.error().message;
  EXPECT_NE(g.error().message.find("no node matches"), std::string::npos) << g.error().message;
  EXPECT_TRUE(ja.live().empty());
}

}  // namespace
}  // namespace phaedo::lease::testing
