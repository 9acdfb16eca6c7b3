// The four stage algorithms, callable in-process. The stage mains only parse
// their arguments and call these.
//
// Each returns the process exit code: 0, BUILD_FAILURE_EXIT_CODE or
// SYSTEM_FAILURE_EXIT_CODE (from the environment), never anything else, and
// catches everything: a malformed profile, environment or payload becomes one
// "phaedo: error: ..." line on stderr and SYSTEM_FAILURE_EXIT_CODE.
#pragma once

#include <ostream>
#include <string>

#include "core/environment.h"

namespace phaedo::stages {

// Prints the config JSON object on `out` (and nothing else).
int config(const Environment& env, const std::string& profile_path, std::ostream& out);
// Creates the job's environment. Idempotent.
int prepare(const Environment& env, const std::string& profile_path);
// Runs `script` for sub-stage `sub_stage` (any name).
int run(const Environment& env, const std::string& profile_path, const std::string& script,
        const std::string& sub_stage);
// Removes everything the job created. Idempotent; works without a prior prepare.
int cleanup(const Environment& env, const std::string& profile_path);

}  // namespace phaedo::stages
