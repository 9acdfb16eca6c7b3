// Finding processes by relationship, from /proc.
#pragma once

#include <sys/types.h>

#include <vector>

namespace phaedo::process {

// Every live process whose parent chain leads to `ancestor` (not including it).
[[nodiscard]] std::vector<pid_t> descendants_of(pid_t ancestor);
// Every live process in process group `pgid`.
[[nodiscard]] std::vector<pid_t> members_of_group(pid_t pgid);
// Makes this process the reaper of orphaned descendants (PR_SET_CHILD_SUBREAPER),
// so that double-forked children stay findable with descendants_of(getpid()).
void become_subreaper();

}  // namespace phaedo::process
