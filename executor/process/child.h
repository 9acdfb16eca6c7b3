// Child processes with a move-only owner.
//
// spawn() forks and execs in a new process group (and optionally a cgroup, joined
// before exec so nothing escapes it). The Child destructor kills the whole group
// with SIGKILL and reaps the leader unless wait() already collected it, so an
// early return never leaks a running job.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/fd.h"
#include "core/result.h"

namespace phaedo::process {

struct ExitStatus {
  int code = 0;    // exit code when exited normally
  int signal = 0;  // terminating signal, 0 when exited normally

  // The code a shell would report: code, or 128 + signal.
  [[nodiscard]] int shell_code() const { return signal != 0 ? 128 + signal : code; }
};

struct SpawnOptions {
  std::vector<std::string> argv;
  std::vector<std::string> envp;     // "K=V"
  std::string cwd;                   // empty: inherit
  std::string cgroup_procs;          // path of a cgroup.procs file to join before exec (v1: through its
                                     // sibling tasks file, see child.cc); empty: none
  bool new_process_group = true;
  bool null_stdin = true;            // the runner gives stages /dev/null; so do we
};

class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  ~Child();

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running() const { return pid_ > 0 && !status_; }
  // Records the leader's status once the caller reaped it (e.g. with waitpid(-1)).
  void set_reaped(ExitStatus status) { status_ = status; }
  [[nodiscard]] const std::optional<ExitStatus>& status() const { return status_; }
  // Non-blocking reap of the leader.
  std::optional<ExitStatus> try_wait();
  // Sends `sig` to the child's process group.
  void signal_group(int sig) const;
  // A descriptor that becomes readable when the leader exits (a pidfd), so a
  // waiter can poll it next to other descriptors instead of sleeping. Invalid when
  // the kernel has no pidfd_open (before 5.3) or the child is not running: poll
  // with a timeout then.
  [[nodiscard]] Fd exit_notifier() const;

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

Result<Child> spawn(const SpawnOptions& options);

// Decodes a waitpid status.
ExitStatus decode_wait_status(int status);

}  // namespace phaedo::process
