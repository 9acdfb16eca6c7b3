#include "stages/stages.h"

#include <chrono>
#include <ctime>

#include "journal/journal.h"
#include "metrics/metrics.h"
#include "protocol/config_output.h"
#include "protocol/exit_code_file.h"
#include "stages/context.h"
#include "stages/lease_stage.h"

namespace phaedo::stages {
namespace {

using protocol::Outcome;
using protocol::Success;
using protocol::SystemFailure;

// A reaper may tear a job down this long after its timeout has passed.
constexpr std::int64_t kReapMarginSeconds = 15 * 60;
// The runner's job timeout when the payload gives none (GetBuildTimeout).
constexpr std::int64_t kDefaultJobTimeoutSeconds = 7200;

const char* outcome_name(const Outcome& outcome) {
  if (std::holds_alternative<Success>(outcome)) return "success";
  if (std::holds_alternative<protocol::BuildFailure>(outcome)) return "build_failure";
  return "system_failure";
}

// Metrics must never fail a job: a problem is noted in the admin log only.
void record_duration(StageContext& ctx, const char* stage, const Outcome& outcome,
                     std::chrono::steady_clock::time_point start) {
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  auto s = metrics::record_stage(ctx.profile.state_dir,
                                 {stage, outcome_name(outcome), ctx.profile.name, elapsed.count()});
  if (!s) ctx.log->admin(log::Level::warn, "metrics not recorded: " + s.error().message);
}

// Runs `body` with a context, turning every failure (and every exception that
// escaped a library) into a SystemFailure with a one-line message.
template <typename Body>
int with_context(const char* stage, const Environment& env, const std::string& profile_path, Body body) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<StageContext> ctx;
  try {
    auto opened = open_stage(stage, env, profile_path);
    if (!opened) return finish(SystemFailure{opened.error()}, env, nullptr);
    ctx = std::move(*opened);
    Outcome outcome = body(*ctx);
    int code = finish(outcome, env, ctx->log.get());
    record_duration(*ctx, stage, outcome, start);
    return code;
  } catch (const std::exception& e) {
    return finish(SystemFailure{make_error(ErrorKind::internal, std::string(stage) + ": unexpected error: " + e.what())},
                  env, ctx ? ctx->log.get() : nullptr);
  }
}

}  // namespace

int config(const Environment& env, const std::string& profile_path, std::ostream& out) {
  return with_context("config", env, profile_path, [&](StageContext& ctx) -> Outcome {
    auto cfg = ctx.sandbox->config();
    cfg.driver_name = "phaedo-executor";
    cfg.driver_version = driver_version();
    out << protocol::to_json(cfg) << "\n";
    out.flush();
    ctx.log->admin(log::Level::info, "config", {{"builds_dir", cfg.builds_dir}});
    return Success{};
  });
}

int prepare(const Environment& env, const std::string& profile_path) {
  return with_context("prepare", env, profile_path, [&](StageContext& ctx) -> Outcome {
    auto journal = journal::Journal::open(ctx.profile.state_dir, ctx.id.key(), journal::OpenMode::create_if_missing,
                                          ctx.id.job_id);
    if (!journal) return SystemFailure{journal.error()};
    // Written first: from here on a reaper knows when this job is certainly over.
    std::int64_t timeout = ctx.job.timeout_seconds > 0 ? ctx.job.timeout_seconds : kDefaultJobTimeoutSeconds;
    const std::int64_t expires = std::time(nullptr) + timeout + kReapMarginSeconds;
    if (auto s = journal->set_expires(expires); !s) {
      return SystemFailure{s.error()};
    }
    if (auto s = ctx.sandbox->prepare(*journal); !s) {
      if (s.error().kind != ErrorKind::rejected) return SystemFailure{s.error()};
      // The job author's mistake: fail the job without the runner's three retries.
      ctx.log->job(log::Level::error, s.error().message);
      return protocol::BuildFailure{1, ""};
    }
    if (auto s = prepare_lease(ctx, expires); !s) return SystemFailure{s.error()};
    ctx.log->job(log::Level::info, "prepared job " + ctx.id.key() + " (" + profile::to_string(ctx.profile.sandbox) +
                                       " sandbox, profile " + ctx.profile.name + ")");
    return Success{};
  });
}

int run(const Environment& env, const std::string& profile_path, const std::string& script,
        const std::string& sub_stage) {
  return with_context("run", env, profile_path, [&](StageContext& ctx) -> Outcome {
    ctx.log->set_field("sub_stage", sub_stage);
    // A stale code from an earlier sub-stage must never be re-reported.
    if (auto s = protocol::truncate_exit_code_file(env); !s) return SystemFailure{s.error()};
    if (auto s = add_lease_env(ctx); !s) return SystemFailure{s.error()};
    return ctx.sandbox->run(script, sub_stage);
  });
}

int cleanup(const Environment& env, const std::string& profile_path) {
  return with_context("cleanup", env, profile_path, [&](StageContext& ctx) -> Outcome {
    auto journal = journal::Journal::open(ctx.profile.state_dir, ctx.id.key(), journal::OpenMode::create_if_missing,
                                          ctx.id.job_id);
    if (!journal) return SystemFailure{journal.error()};
    auto report = ctx.sandbox->teardown(*journal);
    for (const auto& removed : report.removed) ctx.log->admin(log::Level::info, "removed " + removed);
    // After the sandbox: the job's processes are gone, so nothing recreates what the
    // lease teardown removes.
    if (auto s = cleanup_lease(ctx); !s) {
      (void)metrics::add_counter(ctx.profile.state_dir, "teardown_failures", ctx.profile.name, 1);
      return SystemFailure{s.error().context("node lease teardown: ")};
    }
    if (!report.clean()) {
      for (const auto& failed : report.failed) ctx.log->admin(log::Level::error, "could not remove " + failed);
      (void)metrics::add_counter(ctx.profile.state_dir, "teardown_failures", ctx.profile.name,
                                 static_cast<std::int64_t>(report.failed.size()));
      return SystemFailure{make_error(ErrorKind::io, "cleanup left " + std::to_string(report.failed.size()) +
                                                         " object(s) behind: " + report.failed.front())};
    }
    if (auto s = journal->erase(); !s) return SystemFailure{s.error()};
    ctx.log->admin(log::Level::info, "cleanup complete", {{"removed", std::to_string(report.removed.size())}});
    return Success{};
  });
}

}  // namespace phaedo::stages
