#include "stages/lease_stage.h"

#include <unistd.h>

#include "lease/lease.h"

namespace phaedo::stages {
namespace {

bool leased(const StageContext& ctx) { return ctx.profile.lease == profile::LeaseKind::kubernetes_node; }

lease::JobRef job_of(const StageContext& ctx) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return lease::JobRef{ctx.id.key(), ctx.id.job_id, host, ctx.job.timeout_seconds, ctx.profile.state_dir,
                       ctx.profile.source, ""};
}

}  // namespace

Status prepare_lease(StageContext& ctx, std::int64_t expires) {
  if (!leased(ctx)) return {};
  auto j = journal::Journal::open(lease::journal_root(ctx.profile.state_dir), ctx.id.key(),
                                  journal::OpenMode::create_if_missing, ctx.id.job_id);
  if (!j) return j.error();
  if (auto s = j->set_expires(expires); !s) return s;
  auto grant = lease::acquire(ctx.profile.kubernetes, job_of(ctx), *j, *ctx.log);
  if (!grant) return grant.error();
  return {};
}

Status add_lease_env(StageContext& ctx) {
  if (!leased(ctx)) return {};
  lease::Grant grant;
  {
    auto j = journal::Journal::open(lease::journal_root(ctx.profile.state_dir), ctx.id.key(),
                                    journal::OpenMode::existing_only, ctx.id.job_id);
    if (!j) return make_error(ErrorKind::not_found, "job " + ctx.id.key() + " holds no node lease (was prepare run?)");
    auto g = lease::granted(*j);
    if (!g) return g.error();
    grant = *g;
  }
  // Only the driver's values: nothing of that name inherited from the runner's environment.
  std::vector<std::string> inherited;
  for (const auto& entry : ctx.env.vars()) {
    if (entry.first.rfind("PHAEDO_LEASE_", 0) == 0) inherited.push_back(entry.first);
  }
  for (const auto& k : inherited) ctx.env.erase(k);
  for (const auto& [k, v] : lease::script_env(grant, ctx.profile.kubernetes, ctx.id.key())) ctx.env.set(k, v);
  return {};
}

Status cleanup_lease(StageContext& ctx) {
  if (!leased(ctx)) return {};
  auto j = journal::Journal::open(lease::journal_root(ctx.profile.state_dir), ctx.id.key(),
                                  journal::OpenMode::existing_only, ctx.id.job_id);
  if (!j) return j.error().kind == ErrorKind::not_found ? Status{} : Status{j.error()};
  if (auto s = lease::teardown(ctx.profile.kubernetes, job_of(ctx), *j, *ctx.log); !s) return s;
  return j->erase();
}

}  // namespace phaedo::stages
