#include "process/stopper.h"

#include <signal.h>

#include <string>
#include <thread>

namespace phaedo::process {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(20);

bool signal_all(const PidSource& source, int sig) {
  auto pids = source();
  for (pid_t pid : pids) ::kill(pid, sig);
  return !pids.empty();
}

bool wait_until_empty(const PidSource& source, const Reaper& reap, std::chrono::milliseconds limit, int resend) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (reap) reap();
    auto pids = source();
    if (pids.empty()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (resend != 0) {
      for (pid_t pid : pids) ::kill(pid, resend);
    }
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace

Status stop_processes(const PidSource& source, std::chrono::milliseconds grace, const Reaper& reap,
                      std::chrono::milliseconds kill_timeout) {
  if (!signal_all(source, SIGTERM)) return {};
  // Paused processes would never act on SIGTERM.
  signal_all(source, SIGCONT);
  if (wait_until_empty(source, reap, grace, 0)) return {};
  if (wait_until_empty(source, reap, kill_timeout, SIGKILL)) return {};
  std::string survivors;
  for (pid_t pid : source()) survivors += " " + std::to_string(pid);
  return make_error(ErrorKind::io, "processes survived SIGKILL:" + survivors);
}

}  // namespace phaedo::process
