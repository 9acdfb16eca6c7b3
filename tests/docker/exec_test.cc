// Exec with demultiplexed, streamed output; archive upload; cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "daemon.h"
#include "docker/tar.h"

namespace phaedo::docker::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using Exec = DaemonTest;

TEST_F(Exec, SeparatesStdoutAndStderrAndReportsTheExitCode) {
  std::string id = start_sleeper("exec7");
  Captured c = sh(id, "echo out; echo err >&2; exit 7");
  EXPECT_EQ(c.out, "out\n");
  EXPECT_EQ(c.err, "err\n");
  EXPECT_EQ(c.exit_code, 7);
}

TEST_F(Exec, EnvWorkingDirAndUserApply) {
  std::string id = start_sleeper("execenv");
  std::string out;
  ExecSpec spec{{"sh", "-c", "echo $A; pwd; id -u"}, {"A=from-env"}, "/tmp", "nobody", Tty::off};
  Result<ExecInfo> info = docker().exec(id, spec,
                                        OutputSinks{[&](std::string_view b) {
                                                      out += b;
                                                      return Status{};
                                                    },
                                                    nullptr});
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(out, "from-env\n/tmp\n65534\n");
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_FALSE(info->running);
  EXPECT_GT(info->pid, 0);
}

TEST_F(Exec, LargeOutputArrivesIntact) {
  std::string id = start_sleeper("execbig");
  // 1 MiB on stdout and 256 KiB on stderr, interleaved by the daemon in frames.
  Captured c = sh(id, "head -c 1048576 /dev/zero | tr '\\0' a; head -c 262144 /dev/zero | tr '\\0' b >&2");
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(c.out, std::string(1 << 20, 'a'));
  EXPECT_EQ(c.err, std::string(1 << 18, 'b'));
}

TEST_F(Exec, TtyModeIsOneRawStream) {
  std::string id = start_sleeper("exectty");
  std::string out;
  ExecSpec spec{{"sh", "-c", "echo out; echo err >&2"}, {}, "", "", Tty::on};
  Result<ExecInfo> info = docker().exec(id, spec,
                                        OutputSinks{[&](std::string_view b) {
                                                      out += b;
                                                      return Status{};
                                                    },
                                                    nullptr});
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(out, "out\r\nerr\r\n");  // the pty merges the streams and maps \n to \r\n
}

TEST_F(Exec, OutputStreamsBeforeTheProcessEnds) {
  std::string id = start_sleeper("stream");
  const auto started = Clock::now();
  std::optional<Clock::time_point> first_line;
  std::string out;
  OutputSinks sinks{[&](std::string_view b) {
                      if (!first_line) first_line = Clock::now();
                      out += b;
                      return Status{};
                    },
                    nullptr};
  Result<ExecInfo> info = docker().exec(
      id, ExecSpec{{"sh", "-c", "echo first; sleep 3; echo second"}, {}, "", "", Tty::off}, sinks);
  const auto ended = Clock::now();
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(out, "first\nsecond\n");
  ASSERT_TRUE(first_line.has_value());
  EXPECT_LT(*first_line - started, 2s) << "the first line waited for the process";
  EXPECT_GE(ended - *first_line, 2500ms);
}

TEST_F(Exec, UploadedScriptRunsWithItsMode) {
  std::string id = start_sleeper("archive");
  Result<std::string> tar =
      tar_one_file("job.sh", "#!/bin/sh\necho \"running $0 as $(id -u)\"\nexit 3\n", 0750);
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  const std::uint64_t size = tar->size();
  Status up = docker().upload_archive(id, "/tmp", transport::body_from_string(std::move(tar).value()), size);
  ASSERT_TRUE(up.ok()) << up.error().message;
  Captured c = sh(id, "stat -c %a /tmp/job.sh && /tmp/job.sh");
  EXPECT_EQ(c.out, "750\nrunning /tmp/job.sh as 0\n");
  EXPECT_EQ(c.exit_code, 3);
}

TEST_F(Exec, ChunkedUploadFromASourceCallback) {
  std::string id = start_sleeper("chunked");
  TarWriter w;
  ASSERT_TRUE(w.add(TarEntry{"data", EntryType::directory, "", 0755, 0, 0, 0}).ok());
  ASSERT_TRUE(w.add(TarEntry{"data/blob", EntryType::file, std::string(300'000, 'q'), 0600, 0, 0, 0}).ok());
  const std::string tar = std::move(w).finish();
  std::size_t offset = 0;
  int calls = 0;
  // At most 1000 bytes per call and no declared size: sent with chunked encoding.
  transport::BodySource source = [&](char* buf, std::size_t cap) -> Result<std::size_t> {
    ++calls;
    std::size_t n = std::min({cap, std::size_t{1000}, tar.size() - offset});
    std::memcpy(buf, tar.data() + offset, n);
    offset += n;
    return n;
  };
  Status up = docker().upload_archive(id, "/tmp", source, std::nullopt);
  ASSERT_TRUE(up.ok()) << up.error().message;
  EXPECT_GT(calls, 300);
  Captured c = sh(id, "wc -c < /tmp/data/blob; stat -c %a /tmp/data/blob");
  EXPECT_EQ(c.out, "300000\n600\n");
}

TEST_F(Exec, UploadIntoAMissingDirectoryIsNotFound) {
  std::string id = start_sleeper("archive404");
  Result<std::string> tar = tar_one_file("x", "x", 0644);
  ASSERT_TRUE(tar.ok());
  const std::uint64_t size = tar->size();
  Status up =
      docker().upload_archive(id, "/nonexistent", transport::body_from_string(std::move(tar).value()), size);
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.error().kind, ErrorKind::not_found);
  EXPECT_NE(up.error().message.find("Could not find the file /nonexistent"), std::string::npos)
      << up.error().message;
}

TEST_F(Exec, CancellationAbortsAStreamingExecPromptly) {
  std::string id = start_sleeper("cancel");
  std::atomic<bool> cancel{false};
  Result<Client> client = Client::connect(http(), Options{30s, [&] { return cancel.load(); }});
  ASSERT_TRUE(client.ok()) << client.error().message;
  std::atomic<int> ticks{0};
  std::optional<Clock::time_point> cancelled_at;
  std::thread trigger;
  OutputSinks sinks{[&](std::string_view) {
                      if (ticks++ == 0) {
                        trigger = std::thread([&] {
                          std::this_thread::sleep_for(1s);
                          cancelled_at = Clock::now();
                          cancel = true;
                        });
                      }
                      return Status{};
                    },
                    nullptr};
  Result<ExecInfo> info = client->exec(
      id, ExecSpec{{"sh", "-c", "while true; do echo tick; sleep 1; done"}, {}, "", "", Tty::off}, sinks);
  const auto returned = Clock::now();
  if (trigger.joinable()) trigger.join();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::cancelled) << info.error().message;
  ASSERT_TRUE(cancelled_at.has_value());
  EXPECT_LT(returned - *cancelled_at, 2s);
  EXPECT_GE(ticks.load(), 1);
  // The stream is gone but the loop still runs in the container (documented).
  Captured c = sh(id, "ps | grep -c '[w]hile true'");
  EXPECT_EQ(c.out, "1\n");
}

TEST_F(Exec, CancellationAbortsASilentExec) {
  std::string id = start_sleeper("cancelquiet");
  std::atomic<bool> cancel{false};
  Result<Client> client = Client::connect(http(), Options{30s, [&] { return cancel.load(); }});
  ASSERT_TRUE(client.ok()) << client.error().message;
  std::thread trigger([&] {
    std::this_thread::sleep_for(1s);
    cancel = true;
  });
  const auto started = Clock::now();
  Result<ExecInfo> info = client->exec(id, ExecSpec{{"sleep", "60"}, {}, "", "", Tty::off}, OutputSinks{});
  const auto took = Clock::now() - started;
  trigger.join();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::cancelled) << info.error().message;
  EXPECT_LT(took, 4s);
}

TEST_F(Exec, ExecInAStoppedContainerIsAPeerError) {
  Result<CreatedContainer> created = docker().create_container(sleeper_spec("stopped"));
  ASSERT_TRUE(created.ok());
  Result<std::string> exec = docker().create_exec(created->id, ExecSpec{{"true"}, {}, "", "", Tty::off});
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.error().kind, ErrorKind::peer);
  EXPECT_NE(exec.error().message.find("HTTP 409"), std::string::npos) << exec.error().message;
}

}  // namespace
}  // namespace phaedo::docker::testing
