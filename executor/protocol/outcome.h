// The result of a stage as the runner must see it, and the one mapping from
// outcomes to exit codes.
//
// A failing user script is an outcome (BuildFailure), not an error. Only
// infrastructure problems are SystemFailure. The process exit code is always
// BUILD_FAILURE_EXIT_CODE, SYSTEM_FAILURE_EXIT_CODE or 0, never anything else.
#pragma once

#include <string>
#include <variant>

#include "core/environment.h"
#include "core/result.h"

namespace phaedo::protocol {

struct Success {};
struct BuildFailure {
  int script_exit_code = 1;  // the real code, written to BUILD_EXIT_CODE_FILE
  std::string reason;        // shown in the job log, e.g. "killed by the memory limit"
};
struct SystemFailure {
  Error error;
};

using Outcome = std::variant<Success, BuildFailure, SystemFailure>;

struct ExitCodes {
  int build_failure = 1;
  int system_failure = 2;

  // Reads BUILD_FAILURE_EXIT_CODE / SYSTEM_FAILURE_EXIT_CODE, falling back to 1 and 2
  // when unset or not a small positive integer.
  static ExitCodes from(const Environment& env);
};

// The process exit code for an outcome.
[[nodiscard]] int exit_code_for(const Outcome& outcome, const ExitCodes& codes);

}  // namespace phaedo::protocol
