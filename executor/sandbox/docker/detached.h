// Detached helper processes that outlive the stage which starts them (the job's
// phaedo-dockerscope), and telling such a process apart from a reused pid.
//
// spawn_detached() double-forks: the helper gets its own session (the runner may
// kill the stage's process group) and is re-parented away from the stage. It is
// held before exec until `before_exec(pid, start)` returns, so the caller can journal
// it first: if the caller fails (or dies) then, the helper exits without running.
// The helper inherits no descriptor but stdin (/dev/null) and stdout/stderr (the
// `output` file, appended), has an empty signal mask and default dispositions.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace phaedo::sandbox::docker {

// A process as it was when started: pid plus its start time in clock ticks since
// boot (/proc/<pid>/stat field 22), which a later process reusing the pid cannot share.
struct ProcessIdentity {
  pid_t pid = 0;
  std::string start;
};

// The start time of `pid`, or nullopt when it does not exist (or is a zombie's).
[[nodiscard]] std::optional<std::string> process_start_time(pid_t pid);
// True while `who` still runs and its command line holds `marker` as one argument
// (a zombie or a reused pid is not it).
[[nodiscard]] bool is_running(const ProcessIdentity& who, const std::string& marker);
// Every live process whose command line holds `marker` as one argument (a backstop
// for a helper the journal lost).
[[nodiscard]] std::vector<ProcessIdentity> find_by_argument(const std::string& marker);

using BeforeExec = std::function<Status(const ProcessIdentity& helper)>;

// Starts argv[0] (an absolute path) detached as described above. On error no
// helper runs.
Result<ProcessIdentity> spawn_detached(const std::vector<std::string>& argv, const std::string& output,
                                       const BeforeExec& before_exec);

// TERM, `grace`, then KILL, while `who` is_running with `marker`; an error when it
// survives KILL by 5 s. A process that is already gone is success.
Status stop_detached(const ProcessIdentity& who, const std::string& marker, std::chrono::milliseconds grace);

}  // namespace phaedo::sandbox::docker
