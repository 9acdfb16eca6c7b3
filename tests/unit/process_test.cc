#include "process/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "process/cgroup.h"
#include "process/stopper.h"
#include "process/tree.h"
#include "test_support.h"

namespace phaedo::process {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;

Child spawn_sh(const std::string& script, const std::string& cwd = "", std::vector<std::string> envp = {}) {
  SpawnOptions opts;
  opts.argv = {"/bin/sh", "-c", script};
  opts.envp = std::move(envp);
  opts.cwd = cwd;
  auto child = spawn(opts);
  if (!child.ok()) throw std::runtime_error(child.error().message);
  return std::move(*child);
}

std::optional<ExitStatus> wait_for(Child& child, std::chrono::milliseconds timeout = 5000ms) {
  phaedo_test::eventually([&] { return child.try_wait().has_value(); }, timeout);
  return child.status();
}

// True while `pid` exists and is not a zombie (zombies are dead but not yet reaped).
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  phaedo_test::eventually([&] {
    std::ifstream in(path);
    return static_cast<bool>(in >> pid);
  });
  return pid;
}

TEST(Spawn, PassesEnvironmentAndWorkingDirectory) {
  phaedo_test::TempDir dir;
  Child child = spawn_sh("echo \"$GREETING\" > out; pwd >> out", dir.path(), {"GREETING=hello world"});
  auto st = wait_for(child);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code, 0);
  std::string expected_cwd = std::filesystem::canonical(dir.path()).string();
  EXPECT_EQ(phaedo_test::read_text(dir.file("out")), "hello world\n" + expected_cwd + "\n");
}

TEST(Spawn, EnvironmentIsExactlyTheOneGiven) {
  phaedo_test::TempDir dir;
  ::setenv("PHAEDO_UNIT_LEAK", "leaked", 1);
  Child child = spawn_sh("echo \"[${PHAEDO_UNIT_LEAK-unset}]\" > out", dir.path(), {"A=1"});
  ::unsetenv("PHAEDO_UNIT_LEAK");
  ASSERT_TRUE(wait_for(child).has_value());
  EXPECT_EQ(phaedo_test::read_text(dir.file("out")), "[unset]\n");
}

TEST(Spawn, StdinIsDevNull) {
  phaedo_test::TempDir dir;
  // Give ourselves a recognisable stdin, so the test cannot pass by inheritance.
  phaedo_test::write_text(dir.file("our-stdin"), "");
  int saved = ::dup(STDIN_FILENO);
  int ours = ::open(dir.file("our-stdin").c_str(), O_RDONLY);
  ASSERT_GE(ours, 0);
  ::dup2(ours, STDIN_FILENO);
  ::close(ours);
  Child child = spawn_sh("readlink /proc/self/fd/0 > out", dir.path(), {"PATH=/usr/bin:/bin"});
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  ASSERT_TRUE(wait_for(child).has_value());
  EXPECT_EQ(phaedo_test::read_text(dir.file("out")), "/dev/null\n");
}

TEST(Spawn, DecodesExitCodes) {
  Child child = spawn_sh("exit 3");
  auto st = wait_for(child);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code, 3);
  EXPECT_EQ(st->signal, 0);
  EXPECT_EQ(st->shell_code(), 3);
}

TEST(Spawn, DecodesSignals) {
  Child child = spawn_sh("kill -TERM $$");
  auto st = wait_for(child);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->signal, SIGTERM);
  EXPECT_EQ(st->shell_code(), 128 + SIGTERM);
}

TEST(Spawn, MissingBinaryIsAnErrorNamingIt) {
  SpawnOptions opts;
  opts.argv = {"/nonexistent/phaedo-no-such-binary", "x"};
  auto child = spawn(opts);
  ASSERT_FALSE(child.ok());
  EXPECT_THAT(child.error().message, HasSubstr("/nonexistent/phaedo-no-such-binary"));
}

TEST(Spawn, MissingWorkingDirectoryIsAnErrorNamingIt) {
  phaedo_test::TempDir dir;
  SpawnOptions opts;
  opts.argv = {"/bin/true"};
  opts.cwd = dir.file("absent");
  auto child = spawn(opts);
  ASSERT_FALSE(child.ok());
  EXPECT_THAT(child.error().message, HasSubstr(dir.file("absent")));
}

TEST(Spawn, ChildLeadsANewProcessGroup) {
  Child child = spawn_sh("exec sleep 100", "", {"PATH=/usr/bin:/bin"});
  EXPECT_EQ(::getpgid(child.pid()), child.pid());
  EXPECT_NE(::getpgid(child.pid()), ::getpgrp());
}

TEST(Child, DestructorKillsTheWholeGroup) {
  phaedo_test::TempDir dir;
  pid_t leader = 0;
  pid_t background = 0;
  {
    Child child = spawn_sh("sleep 100 & echo $! > bg; sleep 100", dir.path(), {"PATH=/usr/bin:/bin"});
    leader = child.pid();
    background = read_pid(dir.file("bg"));
    ASSERT_GT(background, 0);
    ASSERT_TRUE(alive(leader));
    ASSERT_TRUE(alive(background));
  }
  EXPECT_TRUE(phaedo_test::eventually([&] { return !alive(leader); })) << "leader " << leader;
  EXPECT_TRUE(phaedo_test::eventually([&] { return !alive(background); })) << "background " << background;
}

TEST(Child, SignalGroupReachesEveryMember) {
  phaedo_test::TempDir dir;
  Child child = spawn_sh("sleep 100 & echo $! > bg; wait", dir.path(), {"PATH=/usr/bin:/bin"});
  pid_t background = read_pid(dir.file("bg"));
  ASSERT_GT(background, 0);
  child.signal_group(SIGKILL);
  auto st = wait_for(child);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->signal, SIGKILL);
  EXPECT_TRUE(phaedo_test::eventually([&] { return !alive(background); }));
}

TEST(StopProcesses, SendsTermThenKillAfterTheGrace) {
  phaedo_test::TempDir dir;
  // The trap records SIGTERM and keeps running: only SIGKILL can end it.
  Child child = spawn_sh("trap 'echo term >> got' TERM; echo ready > ready; while :; do sleep 0.02; done",
                         dir.path(), {"PATH=/usr/bin:/bin"});
  ASSERT_TRUE(phaedo_test::eventually([&] { return std::filesystem::exists(dir.file("ready")); }));
  PidSource source = [&] { return child.running() ? std::vector<pid_t>{child.pid()} : std::vector<pid_t>{}; };
  Reaper reap = [&] { child.try_wait(); };

  const auto grace = 300ms;
  auto start = std::chrono::steady_clock::now();
  Status s = stop_processes(source, grace, reap);
  auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(child.status().has_value());
  EXPECT_EQ(child.status()->signal, SIGKILL);
  EXPECT_THAT(phaedo_test::read_text(dir.file("got")), HasSubstr("term")) << "SIGTERM was not sent first";
  EXPECT_GE(elapsed, grace);
  EXPECT_LT(elapsed, grace + 1500ms);
}

TEST(StopProcesses, ReturnsEarlyWhenTermIsHonoured) {
  Child child = spawn_sh("exec sleep 100", "", {"PATH=/usr/bin:/bin"});
  PidSource source = [&] { return child.running() ? std::vector<pid_t>{child.pid()} : std::vector<pid_t>{}; };
  auto start = std::chrono::steady_clock::now();
  Status s = stop_processes(source, 10s, [&] { child.try_wait(); });
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  ASSERT_TRUE(child.status().has_value());
  EXPECT_EQ(child.status()->signal, SIGTERM);
}

TEST(StopProcesses, NothingToStopIsOk) {
  int calls = 0;
  Status s = stop_processes([&] { ++calls; return std::vector<pid_t>{}; }, 1000ms, nullptr);
  EXPECT_TRUE(s.ok());
  EXPECT_GE(calls, 1);
}

TEST(Tree, SubreaperFindsDoubleForkedGrandchild) {
  become_subreaper();
  phaedo_test::TempDir dir;
  // The subshell forks sleep and exits at once: sleep is orphaned and reparented to us.
  Child child = spawn_sh("(sleep 100 & echo $! > gc)", dir.path(), {"PATH=/usr/bin:/bin"});
  ASSERT_TRUE(wait_for(child).has_value());
  pid_t grandchild = read_pid(dir.file("gc"));
  ASSERT_GT(grandchild, 0);

  EXPECT_THAT(descendants_of(::getpid()), Contains(grandchild));
  EXPECT_THAT(members_of_group(child.pid()), Contains(grandchild)) << "it kept the job's process group";

  ::kill(grandchild, SIGKILL);
  ::waitpid(grandchild, nullptr, 0);  // ours now, thanks to the subreaper bit
  EXPECT_THAT(descendants_of(::getpid()), ::testing::Not(Contains(grandchild)));
}

// ---- Cgroup (v1 pids hierarchy) ----------------------------------------------------------

constexpr const char* kPidsHierarchy = "/sys/fs/cgroup/pids";

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// CI machines must have the cgroup: a silent skip there would hide a broken setup.
#define REQUIRE_CGROUP_OR_SKIP(root)                                                            \
  do {                                                                                          \
    if (!Cgroup::available(root)) {                                                             \
      if (in_ci()) FAIL() << "CI=true but the pids cgroup " << (root) << " is not writable";   \
      GTEST_SKIP() << "pids cgroup " << (root) << " is not writable (needs root and cgroup v1)"; \
    }                                                                                           \
  } while (0)

class CgroupTest : public ::testing::Test {
 protected:
  std::string root = std::string(kPidsHierarchy) + "/phaedo-unit-test-" + std::to_string(::getpid());

  void TearDown() override {
    for (const std::string& dir : {root + "/job", root}) {
      Cgroup cg(dir);
      for (pid_t pid : cg.pids()) ::kill(pid, SIGKILL);
      phaedo_test::eventually([&] { return cg.pids().empty(); });
      ::rmdir(dir.c_str());
    }
  }
};

TEST_F(CgroupTest, CreateListRemove) {
  REQUIRE_CGROUP_OR_SKIP(root);
  auto cg = Cgroup::create(root, "job", 64);
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  EXPECT_EQ(cg->path(), root + "/job");
  EXPECT_TRUE(cg->exists());
  EXPECT_EQ(phaedo_test::read_text(cg->path() + "/pids.max"), "64\n");
  EXPECT_TRUE(cg->pids().empty());
  EXPECT_TRUE(Cgroup::create(root, "job", 64).ok()) << "create must be idempotent";

  ASSERT_TRUE(cg->remove().ok());
  EXPECT_FALSE(cg->exists());
  EXPECT_TRUE(cg->pids().empty());
  EXPECT_TRUE(cg->remove().ok()) << "removing a missing cgroup is fine";
}

TEST_F(CgroupTest, SpawnedChildJoinsTheCgroup) {
  REQUIRE_CGROUP_OR_SKIP(root);
  auto cg = Cgroup::create(root, "job", 0);
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  {
    SpawnOptions opts;
    opts.argv = {"/bin/sh", "-c", "sleep 100 & exec sleep 100"};
    opts.envp = {"PATH=/usr/bin:/bin"};
    opts.cgroup_procs = cg->procs_file();
    auto child = spawn(opts);
    ASSERT_TRUE(child.ok()) << child.error().message;
    EXPECT_THAT(cg->pids(), Contains(child->pid()));
    // The background sleep forked after the join, so it is a member too.
    EXPECT_TRUE(phaedo_test::eventually([&] { return cg->pids().size() == 2; }));
    EXPECT_THAT(phaedo_test::read_text("/proc/" + std::to_string(child->pid()) + "/cgroup"),
                HasSubstr("pids:/phaedo-unit-test-" + std::to_string(::getpid()) + "/job\n"));

    Status busy = cg->remove();
    EXPECT_FALSE(busy.ok()) << "a cgroup with members cannot be removed";
  }
  // The Child destructor killed the group.
  EXPECT_TRUE(phaedo_test::eventually([&] { return cg->pids().empty(); }));
  EXPECT_TRUE(cg->remove().ok());
}

TEST_F(CgroupTest, SpawnFailsWhenTheCgroupIsGone) {
  REQUIRE_CGROUP_OR_SKIP(root);
  auto cg = Cgroup::create(root, "gone", 0);
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  ASSERT_TRUE(cg->remove().ok());
  SpawnOptions opts;
  opts.argv = {"/bin/true"};
  opts.cgroup_procs = cg->procs_file();
  auto child = spawn(opts);
  ASSERT_FALSE(child.ok()) << "a process that cannot be tracked must not run";
  EXPECT_THAT(child.error().message, HasSubstr("join cgroup"));
}

TEST(CgroupAvailable, FalseForAMissingHierarchy) {
  EXPECT_FALSE(Cgroup::available("/nonexistent-phaedo-hierarchy/phaedo"));
}

}  // namespace
}  // namespace phaedo::process
