// Every name and number the GitLab Runner custom-executor protocol defines.
// See ../shared/docs/custom-executor-protocol.md; nothing else in the code spells these.
#pragma once

namespace phaedo::protocol {

// Variables the runner sets, unprefixed, for every stage.
inline constexpr const char* kBuildFailureExitCode = "BUILD_FAILURE_EXIT_CODE";
inline constexpr const char* kSystemFailureExitCode = "SYSTEM_FAILURE_EXIT_CODE";
inline constexpr const char* kBuildExitCodeFile = "BUILD_EXIT_CODE_FILE";  // runner 17.9+
inline constexpr const char* kJobResponseFile = "JOB_RESPONSE_FILE";      // runner 14.1+
inline constexpr const char* kTmpDir = "TMPDIR";

// Job variables reach the driver with this prefix; all of them are user-overridable.
inline constexpr const char* kCustomEnvPrefix = "CUSTOM_ENV_";

// The runner's constants (fixed since 12.1); the variables above only report them.
inline constexpr int kDefaultBuildFailureExitCode = 1;
inline constexpr int kDefaultSystemFailureExitCode = 2;

// Sub-stage names. The set is open-ended: any name, known or not, runs the script.
inline constexpr const char* kStagePrepareScript = "prepare_script";
inline constexpr const char* kStageGetSources = "get_sources";
inline constexpr const char* kStageBuildScript = "build_script";
inline constexpr const char* kStageStepScript = "step_script";
inline constexpr const char* kStageAfterScript = "after_script";
inline constexpr const char* kStageCleanupFileVariables = "cleanup_file_variables";

}  // namespace phaedo::protocol
