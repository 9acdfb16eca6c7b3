#include "stages/stages.h"

#include "journal/journal.h"
#include "protocol/config_output.h"
#include "protocol/exit_code_file.h"
#include "stages/context.h"

namespace phaedo::stages {
namespace {

using protocol::Outcome;
using protocol::Success;
using protocol::SystemFailure;

// Runs `body` with a context, turning every failure (and every exception that
// escaped a library) into a SystemFailure with a one-line message.
template <typename Body>
int with_context(const char* stage, const Environment& env, const std::string& profile_path, Body body) {
  std::unique_ptr<StageContext> ctx;
  try {
    auto opened = open_stage(stage, env, profile_path);
    if (!opened) return finish(SystemFailure{opened.error()}, env, nullptr);
    ctx = std::move(*opened);
    Outcome outcome = body(*ctx);
    return finish(outcome, env, ctx->log.get());
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
    if (auto s = ctx.sandbox->prepare(*journal); !s) {
      if (s.error().kind != ErrorKind::rejected) return SystemFailure{s.error()};
      // The job author's mistake: fail the job without the runner's three retries.
      ctx.log->job(log::Level::error, s.error().message);
      return protocol::BuildFailure{1, ""};
    }
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
    if (!report.clean()) {
      for (const auto& failed : report.failed) ctx.log->admin(log::Level::error, "could not remove " + failed);
      return SystemFailure{make_error(ErrorKind::io, "cleanup left " + std::to_string(report.failed.size()) +
                                                         " object(s) behind: " + report.failed.front())};
    }
    if (auto s = journal->erase(); !s) return SystemFailure{s.error()};
    ctx.log->admin(log::Level::info, "cleanup complete", {{"removed", std::to_string(report.removed.size())}});
    return Success{};
  });
}

}  // namespace phaedo::stages
