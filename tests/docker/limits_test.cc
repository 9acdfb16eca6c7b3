// Resource limits enforced by the daemon: memory (OOM kill) and pids.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "daemon.h"

namespace phaedo::docker::testing {
namespace {

using namespace std::chrono_literals;

using Limits = DaemonTest;

// busybox `tail /dev/zero` keeps one ever-growing "line" (no newline ever comes)
// in memory: a reliable allocator. Verified on cgroup v1 with Docker 20.10.24.
TEST_F(Limits, MemoryLimitOomKillIsVisibleInInspect) {
  ContainerSpec spec = sleeper_spec("oom");
  spec.cmd = {"tail", "/dev/zero"};
  spec.host.init = Init::none;
  spec.host.memory_bytes = 32 << 20;
  spec.host.memory_swap_bytes = 32 << 20;  // no swap on top
  std::string id = start(spec);
  Result<WaitResult> w = docker().wait_container(id, WaitCondition::not_running, 60s);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->status_code, 137);
  Result<ContainerInfo> info = docker().inspect_container(id);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->state.oom_killed);
  EXPECT_EQ(info->state.exit_code, 137);
  EXPECT_EQ(info->host.memory_bytes, 32 << 20);
  EXPECT_EQ(info->host.memory_swap_bytes, 32 << 20);
}

// An exec that is OOM-killed leaves the container running and exits 137. Docker
// 20.10.24 does not set State.OOMKilled while the container runs (it records the
// event only in the container's exit status); once the container stops, OOMKilled
// is true.
TEST_F(Limits, OomKilledExecReports137AndMarksTheContainerWhenItStops) {
  ContainerSpec spec = sleeper_spec("oomexec");
  spec.host.memory_bytes = 32 << 20;
  spec.host.memory_swap_bytes = 32 << 20;
  std::string id = start(spec);
  Captured c = sh(id, "tail /dev/zero");
  EXPECT_EQ(c.exit_code, 137);
  Result<ContainerInfo> running = docker().inspect_container(id);
  ASSERT_TRUE(running.ok()) << running.error().message;
  EXPECT_TRUE(running->state.running);
  std::printf("OOMKilled while the container still runs: %s\n", running->state.oom_killed ? "true" : "false");
  ASSERT_TRUE(docker().kill_container(id).ok());
  ASSERT_TRUE(docker().wait_container(id, WaitCondition::not_running, 60s).ok());
  Result<ContainerInfo> stopped = docker().inspect_container(id);
  ASSERT_TRUE(stopped.ok()) << stopped.error().message;
  EXPECT_TRUE(stopped->state.oom_killed);
}

// A fork loop that would start 200 processes is stopped by pids_limit: busybox sh
// exits with "can't fork" once the cgroup is full.
TEST_F(Limits, PidsLimitStopsAForkBomb) {
  ContainerSpec spec = sleeper_spec("pids");
  spec.host.pids_limit = 16;
  std::string id = start(spec);
  Captured c = sh(id,
                  "i=0; while [ $i -lt 200 ]; do sleep 120 >/dev/null 2>&1 & i=$((i+1)); echo $i; done; "
                  "echo spawned-all");
  EXPECT_NE(c.exit_code, 0);
  EXPECT_NE(c.err.find("can't fork"), std::string::npos) << c.err;
  EXPECT_EQ(c.out.find("spawned-all"), std::string::npos);
  std::size_t started = static_cast<std::size_t>(std::count(c.out.begin(), c.out.end(), '\n'));
  EXPECT_LT(started, 16u) << c.out;
  Result<ContainerInfo> info = docker().inspect_container(id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->host.pids_limit, 16);
  // The full cgroup does not stop teardown.
  auto t0 = std::chrono::steady_clock::now();
  Status removed = docker().remove_container(id, Force::yes, AnonymousVolumes::remove);
  EXPECT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
}

// The classic recursive bomb, as the container's command: the limit holds, the
// daemon stays responsive and force-removal works.
TEST_F(Limits, PidsLimitContainsARecursiveForkBomb) {
  ContainerSpec spec = sleeper_spec("bomb");
  spec.cmd = {"sh", "-c", "b() { b | b & }; b; sleep 600"};
  spec.host.pids_limit = 32;
  std::string id = start(spec);
  std::this_thread::sleep_for(2s);
  Result<ContainerInfo> info = docker().inspect_container(id);
  ASSERT_TRUE(info.ok()) << info.error().message;
  Status removed = docker().remove_container(id, Force::yes, AnonymousVolumes::remove);
  EXPECT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(docker().inspect_container(id).error().kind, ErrorKind::not_found);
}

}  // namespace
}  // namespace phaedo::docker::testing
