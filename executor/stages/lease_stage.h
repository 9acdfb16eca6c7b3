// The node lease in the stages (profile lease = "kubernetes-node"); no-ops otherwise.
// The lease has its own journal (lease::journal_root) next to the sandbox's.
#pragma once

#include "core/result.h"
#include "stages/context.h"

namespace phaedo::stages {

// Prepare, after the sandbox: acquire a node and set the job up on it.
Status prepare_lease(StageContext& ctx, std::int64_t expires);
// Run, before the sandbox: adds KUBECONFIG and PHAEDO_LEASE_* to ctx.env.
Status add_lease_env(StageContext& ctx);
// Cleanup, after the sandbox: tears the lease down and erases its journal.
Status cleanup_lease(StageContext& ctx);

}  // namespace phaedo::stages
