#include "stages/context.h"

#include <unistd.h>

#include "protocol/exit_code_file.h"
#include "stages/version.h"

namespace phaedo::stages {

const char* driver_version() { return kDriverVersion; }

Result<std::unique_ptr<StageContext>> open_stage(const std::string& stage, const Environment& env,
                                                 const std::string& profile_path) {
  auto ctx = std::make_unique<StageContext>();
  ctx->env = env;
  auto profile = profile::load_profile(profile_path);
  if (!profile) return profile.error();
  ctx->profile = std::move(*profile);
  ctx->log = std::make_unique<log::Logger>(stage, ctx->profile.log_file);

  auto job = protocol::load_job_response(env);
  if (!job) return job.error();
  ctx->job = std::move(*job);
  ctx->log->redactor().add_job_secrets(ctx->job);
  ctx->log->redactor().add_env_secrets(env);

  auto id = protocol::identify_job(ctx->job, env, ctx->profile.runner_id);
  if (!id) return id.error();
  ctx->id = std::move(*id);
  ctx->log->set_field("job", ctx->id.key());
  ctx->log->set_field("job_id", std::to_string(ctx->id.job_id));
  ctx->log->set_field("profile", ctx->profile.name);

  auto sb = sandbox::make_sandbox(sandbox::JobScope{ctx->env, ctx->profile, ctx->id, *ctx->log});
  if (!sb) return sb.error();
  ctx->sandbox = std::move(*sb);
  return ctx;
}

int finish(const protocol::Outcome& outcome, const Environment& env, log::Logger* log) {
  auto codes = protocol::ExitCodes::from(env);
  if (const auto* failure = std::get_if<protocol::BuildFailure>(&outcome)) {
    if (auto s = protocol::write_exit_code_file(env, failure->script_exit_code); !s) {
      // The runner would misreport the job without the file: that is a system failure.
      return finish(protocol::SystemFailure{s.error()}, env, log);
    }
    if (log != nullptr && !failure->reason.empty()) {
      log->job(log::Level::info, "script " + failure->reason + " (exit code " +
                                     std::to_string(failure->script_exit_code) + ")");
    }
  }
  if (const auto* failure = std::get_if<protocol::SystemFailure>(&outcome)) {
    if (log != nullptr) {
      log->job(log::Level::error, failure->error.message);
    } else {
      log::Logger bare("driver", "");
      bare.job(log::Level::error, failure->error.message);
    }
  }
  return protocol::exit_code_for(outcome, codes);
}

}  // namespace phaedo::stages
