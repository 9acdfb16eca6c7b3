// Teardown under faults: the cleanup process killed in the middle (resumed from the
// journal), and the API server frozen for 30 s while cleanup runs.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "lease_fixture.h"

namespace phaedo::lease::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(LeaseTest, TeardownResumesAfterACrashInTheMiddle) {
  auto p = make_profile();
  JobRef a = job(p, 61);
  NodeState before = node_state(kNode);
  Grant grant;
  {
    auto ja = open_journal(a);
    auto g = acquire(p.kubernetes, a, ja, log_);
    ASSERT_TRUE(g.ok()) << g.error().message;
    grant = *g;
  }  // journal closed: the child takes its lock
  std::string out;
  ASSERT_EQ(kubectl(grant.kubeconfig, "apply -f -", &out, webhook_yaml("hook-" + a.key, grant.namespace_, a.key)), 0)
      << out;
  ASSERT_EQ(kubectl(grant.kubeconfig, "create deployment web --image=busybox", &out), 0) << out;

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    log::Logger log("child", "");
    auto ja = journal::Journal::open(journal_root(a.state_dir), a.key, journal::OpenMode::existing_only);
    if (!ja) ::_exit(3);
    ::_exit(teardown(p.kubernetes, a, *ja, log) ? 0 : 4);
  }
  // Kill it while it waits for the namespace to go (the namespace controller takes
  // seconds): the namespace step is then recorded and not finished, whatever the load.
  for (int i = 0; i < 500; ++i) {
    std::this_thread::sleep_for(20ms);
    auto ns = driver().get_namespace(grant.namespace_);
    if (!ns || ns->phase == "Terminating") break;
  }
  ::kill(child, SIGKILL);
  int st = 0;
  ::waitpid(child, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the teardown finished before it could be interrupted";
  // Interrupted in the middle: the node is still the job's.
  EXPECT_EQ(lease_of(kNode)->spec.holder_identity.value_or(""), a.key);
  EXPECT_EQ(node_state(kNode).labels.at("phaedo.dev/lease"), a.key);

  auto ja = open_journal(a);
  bool step_recorded = false;
  for (const auto& r : ja.live()) step_recorded = step_recorded || r.kind == "k8s-teardown-step";
  EXPECT_TRUE(step_recorded) << "the interrupted step is in the journal";
  Status resumed = teardown(p.kubernetes, a, ja, log_);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_TRUE(ja.live().empty());
  EXPECT_EQ(node_state(kNode), before);
  EXPECT_FALSE(lease_of(kNode)->spec.holder_identity);
  EXPECT_FALSE(namespace_exists(grant.namespace_));
}

TEST_F(LeaseTest, CleanupRetriesThroughThirtySecondsOfApiServerOutage) {
  const std::string dir = cluster().at("PHAEDO_CLUSTER_DIR");
  ASSERT_FALSE(dir.empty());
  const std::string ctl = std::string(PHAEDO_SOURCE_DIR) + "/tests/cluster/ctl.sh '" + dir + "' ";
  auto p = make_profile();
  JobRef a = job(p, 71);
  NodeState before = node_state(kNode);
  auto ja = open_journal(a);
  auto g = acquire(p.kubernetes, a, ja, log_);
  ASSERT_TRUE(g.ok()) << g.error().message;

  ASSERT_EQ(std::system((ctl + "pause kube-apiserver").c_str()), 0);
  auto t0 = std::chrono::steady_clock::now();
  std::optional<Status> result;
  std::thread cleanup([&] { result.emplace(teardown(p.kubernetes, a, ja, log_)); });
  std::this_thread::sleep_for(30s);
  bool finished_early = result.has_value();
  ASSERT_EQ(std::system((ctl + "resume kube-apiserver").c_str()), 0);
  cleanup.join();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "cleanup through a 30 s outage took %.1f s\n", took);
  EXPECT_FALSE(finished_early);
  ASSERT_TRUE(result->ok()) << result->error().message;
  EXPECT_TRUE(ja.live().empty());
  EXPECT_EQ(node_state(kNode), before);
  EXPECT_FALSE(lease_of(kNode)->spec.holder_identity);
  EXPECT_FALSE(namespace_exists(g->namespace_));
}

}  // namespace
}  // namespace phaedo::lease::testing
