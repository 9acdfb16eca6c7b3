#include "journal/journal.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "journal/atomic_file.h"
#include "test_support.h"

namespace phaedo::journal {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

class JournalTest : public ::testing::Test {
 protected:
  phaedo_test::TempDir state;

  Journal open(const std::string& key = "r1-j10", OpenMode mode = OpenMode::create_if_missing,
               std::int64_t job_id = 0) {
    auto j = Journal::open(state.path(), key, mode, job_id);
    if (!j.ok()) throw std::runtime_error(j.error().message);
    return std::move(*j);
  }
  std::string journal_dir(const std::string& key = "r1-j10") const { return state.path() + "/jobs/" + key; }
};

std::vector<std::string> ids(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.id);
  return out;
}

TEST_F(JournalTest, PhasesPersistAcrossReopen) {
  {
    Journal j = open("r1-j10", OpenMode::create_if_missing, 10);
    ASSERT_TRUE(j.intend("workdir", "/work/r1-j10", {{"owner", "phaedo"}}).ok());
    ASSERT_TRUE(j.intend("cgroup", "/sys/fs/cgroup/pids/phaedo/r1-j10").ok());
  }
  {
    Journal j = open();
    EXPECT_EQ(j.job_id(), 10);
    ASSERT_EQ(j.records().size(), 2u);
    EXPECT_EQ(j.records()[0].phase, Phase::intended);
    EXPECT_EQ(j.records()[0].attrs.at("owner"), "phaedo");
    EXPECT_FALSE(j.records()[0].updated.empty());
    ASSERT_TRUE(j.created("workdir", "/work/r1-j10").ok());
  }
  {
    Journal j = open();
    EXPECT_EQ(j.records()[0].phase, Phase::created);
    EXPECT_EQ(j.records()[1].phase, Phase::intended);
    ASSERT_TRUE(j.removed("workdir", "/work/r1-j10").ok());
  }
  Journal j = open();
  EXPECT_EQ(j.records()[0].phase, Phase::removed);
  EXPECT_EQ(j.records()[0].kind, "workdir");
}

TEST_F(JournalTest, IntendIsIdempotent) {
  Journal j = open();
  ASSERT_TRUE(j.intend("workdir", "/w").ok());
  ASSERT_TRUE(j.created("workdir", "/w").ok());
  ASSERT_TRUE(j.intend("workdir", "/w").ok());  // a retried prepare
  ASSERT_EQ(j.records().size(), 1u);
  EXPECT_EQ(j.records()[0].phase, Phase::created) << "re-intending must not forget that the object exists";
}

TEST_F(JournalTest, PhaseChangeOfUnknownRecordFails) {
  Journal j = open();
  EXPECT_FALSE(j.created("workdir", "/never-intended").ok());
  EXPECT_FALSE(j.removed("workdir", "/never-intended").ok());
}

TEST_F(JournalTest, LiveIsNewestFirstWithoutRemoved) {
  Journal j = open();
  ASSERT_TRUE(j.intend("workdir", "a").ok());
  ASSERT_TRUE(j.intend("cgroup", "b").ok());
  ASSERT_TRUE(j.intend("proxy", "c").ok());
  ASSERT_TRUE(j.removed("cgroup", "b").ok());
  EXPECT_THAT(ids(j.live()), ElementsAre("c", "a"));
  ASSERT_NE(j.find_live("workdir"), nullptr);
  EXPECT_EQ(j.find_live("workdir")->id, "a");
  EXPECT_EQ(j.find_live("cgroup"), nullptr);
}

TEST_F(JournalTest, ExistingOnlyOnMissingJournalIsNotFound) {
  auto j = Journal::open(state.path(), "r1-j99", OpenMode::existing_only);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().kind, ErrorKind::not_found);
  EXPECT_FALSE(fs::exists(journal_dir("r1-j99"))) << "a lookup must not create anything";
}

TEST_F(JournalTest, EraseRefusesWhileLiveRecordsRemain) {
  Journal j = open();
  ASSERT_TRUE(j.intend("workdir", "/w").ok());
  EXPECT_FALSE(j.erase().ok());
  EXPECT_TRUE(fs::exists(journal_dir() + "/journal.json"));

  ASSERT_TRUE(j.removed("workdir", "/w").ok());
  ASSERT_TRUE(j.erase().ok());
  EXPECT_FALSE(fs::exists(journal_dir()));
  EXPECT_TRUE(Journal::list(state.path()).empty());
}

TEST_F(JournalTest, CorruptJournalIsInvalidInput) {
  fs::create_directories(journal_dir());
  for (const char* text : {"{not json", "[]", R"({"records": [{"kind": "workdir", "id": "/w", "phase": "gone"}]})",
                           R"({"records": [{"kind": 5, "id": "/w", "phase": "created"}]})"}) {
    phaedo_test::write_text(journal_dir() + "/journal.json", text);
    auto j = Journal::open(state.path(), "r1-j10", OpenMode::existing_only);
    ASSERT_FALSE(j.ok()) << text;
    EXPECT_EQ(j.error().kind, ErrorKind::invalid_input) << text;
  }
}

TEST_F(JournalTest, ListGivesKeysOfJournalDirectories) {
  EXPECT_TRUE(Journal::list(state.path()).empty());
  open("r2-j5");
  open("r1-j7");
  phaedo_test::write_text(state.path() + "/jobs/stray-file", "x");
  EXPECT_THAT(Journal::list(state.path()), ElementsAre("r1-j7", "r2-j5"));
}

TEST(AtomicFile, WritesWithMode0600AndLeavesNoTempFiles) {
  phaedo_test::TempDir dir;
  std::string path = dir.file("journal.json");
  phaedo_test::write_text(path, "old content that is longer");
  ::chmod(path.c_str(), 0644);

  ASSERT_TRUE(write_file_atomically(path, "new").ok());
  EXPECT_EQ(phaedo_test::read_text(path), "new");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  EXPECT_THAT(names, ElementsAre("journal.json"));
}

TEST(AtomicFile, AtomicOnlyDurabilityReplacesTheSameWay) {
  phaedo_test::TempDir dir;
  std::string path = dir.file("metrics.prom");
  phaedo_test::write_text(path, "old content that is longer");
  ASSERT_TRUE(write_file_atomically(path, "new", Durability::atomic).ok());
  EXPECT_EQ(phaedo_test::read_text(path), "new");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  EXPECT_THAT(names, ElementsAre("metrics.prom"));
}

TEST(AtomicFile, ReadFileOfMissingPathIsNotFound) {
  phaedo_test::TempDir dir;
  auto r = read_file(dir.file("absent"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
}

// True when `pid` is queued for an flock held by someone else (a "->" line in /proc/locks).
bool waiting_for_flock(pid_t pid) {
  std::istringstream in(phaedo_test::read_text("/proc/locks"));
  std::string line;
  const std::string needle = " " + std::to_string(pid) + " ";
  while (std::getline(in, line)) {
    if (line.find("-> FLOCK") != std::string::npos && line.find(needle) != std::string::npos) return true;
  }
  return false;
}

// A forked process that opens the journal and records one object, reporting over a
// pipe: 'A' when that worked, 'E' when it did not. No sleeps: the parent reads
// /proc/locks to know when the child is blocked, and polls the pipe.
class Contender {
 public:
  // Forks before the parent takes the lock: a child forked later would inherit the
  // parent's lock descriptor and keep the lock alive after the parent releases it.
  Contender(const std::string& state_dir, const std::string& key) {
    if (::pipe(go_) != 0 || ::pipe(report_) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::close(go_[1]);
      ::close(report_[0]);
      char c;
      if (::read(go_[0], &c, 1) != 1) ::_exit(1);
      auto j = Journal::open(state_dir, key, OpenMode::create_if_missing);
      bool ok = j.ok() && j->intend("proxy", "contender").ok();
      [[maybe_unused]] auto n = ::write(report_[1], ok ? "A" : "E", 1);
      ::_exit(0);
    }
    ::close(go_[0]);
    ::close(report_[1]);
  }
  ~Contender() {
    ::kill(pid_, SIGKILL);  // no-op when it already exited; frees a stuck child
    ::waitpid(pid_, nullptr, 0);
    ::close(go_[1]);
    ::close(report_[0]);
  }
  Contender(const Contender&) = delete;
  Contender& operator=(const Contender&) = delete;

  void start() const { [[maybe_unused]] auto n = ::write(go_[1], "g", 1); }
  bool blocked() const { return phaedo_test::eventually([&] { return waiting_for_flock(pid_); }); }
  std::optional<char> result(int timeout_ms) const {
    pollfd pfd{report_[0], POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) != 1) return std::nullopt;
    char c;
    if (::read(report_[0], &c, 1) != 1) return std::nullopt;
    return c;
  }

 private:
  pid_t pid_ = -1;
  int go_[2] = {-1, -1};
  int report_[2] = {-1, -1};
};

TEST_F(JournalTest, LockIsExclusiveAcrossProcesses) {
  Contender other(state.path(), "r1-j10");
  std::optional<Journal> held(open());
  ASSERT_TRUE(held->intend("workdir", "/w").ok());
  other.start();
  ASSERT_TRUE(other.blocked()) << "the second open never queued on the lock";
  EXPECT_EQ(other.result(0), std::nullopt) << "the second open got the journal while we held it";
  held.reset();
  ASSERT_EQ(other.result(5000), std::optional<char>('A')) << "the second open did not proceed after release";

  Journal after = open();
  EXPECT_THAT(ids(after.records()), ElementsAre("/w", "contender")) << "writes were serialised, none lost";
}

// The runner may start cleanup while a run stage still waits for the journal: once
// cleanup erases it, the waiting stage must still be able to record what it creates.
TEST_F(JournalTest, OpenWaitingWhileJournalIsErasedCanStillWrite) {
  Contender other(state.path(), "r1-j10");
  std::optional<Journal> held(open());
  other.start();
  ASSERT_TRUE(other.blocked()) << "the second open never queued on the lock";
  ASSERT_TRUE(held->erase().ok());
  held.reset();
  EXPECT_EQ(other.result(5000), std::optional<char>('A')) << "intend() failed in the process that waited";
  EXPECT_TRUE(fs::exists(journal_dir() + "/journal.json"));
}

}  // namespace
}  // namespace phaedo::journal
