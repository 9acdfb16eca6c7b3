// Stopping a set of processes: SIGTERM, a grace period, then SIGKILL until none
// are left. The set is re-read on every pass, so processes forked while we are
// stopping them are caught too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <vector>

#include "core/result.h"

namespace phaedo::process {

using PidSource = std::function<std::vector<pid_t>()>;

// Called between passes so the caller can reap its own children (zombies of
// our children would otherwise look alive to kill(pid, 0)).
using Reaper = std::function<void()>;

// Stops every process `source` reports. Returns an error naming the survivors
// when some are still there `kill_timeout` after SIGKILL.
Status stop_processes(const PidSource& source, std::chrono::milliseconds grace, const Reaper& reap,
                      std::chrono::milliseconds kill_timeout = std::chrono::milliseconds(5000));

}  // namespace phaedo::process
