// Shared command-line handling for the stage programs: --profile, --help,
// --version, and the last-resort catch that keeps every exit code within the
// protocol (0, build failure, system failure).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace phaedo::cli {

struct StageArgs {
  std::string profile;
  std::vector<std::string> positional;
};

// Parses argv for program `name`; `positional_names` documents the positional
// arguments the stage expects (exactly that many). Calls `body` and returns its
// exit code; usage errors exit SYSTEM_FAILURE_EXIT_CODE with a one-line message.
int stage_main(int argc, char** argv, const std::string& name, const std::string& description,
               const std::vector<std::string>& positional_names,
               const std::function<int(const StageArgs&)>& body);

}  // namespace phaedo::cli
