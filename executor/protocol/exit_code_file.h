// BUILD_EXIT_CODE_FILE handling (runner 17.9+).
//
// The file is per job, not per sub-stage, so every run call truncates it first;
// otherwise a later plain failure would re-report an earlier stage's code.
// Both functions do nothing when the variable is unset (older runners).
#pragma once

#include "core/environment.h"
#include "core/result.h"

namespace phaedo::protocol {

// Empties the file if the runner asked for one and it exists.
Status truncate_exit_code_file(const Environment& env);
// Writes "<code>\n". Called only for BuildFailure outcomes.
Status write_exit_code_file(const Environment& env, int code);

}  // namespace phaedo::protocol
