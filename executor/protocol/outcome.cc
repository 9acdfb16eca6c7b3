#include "protocol/outcome.h"

#include <charconv>

#include "protocol/names.h"

namespace phaedo::protocol {
namespace {

int small_positive_or(const Environment& env, const char* name, int fallback) {
  auto raw = env.get(name);
  if (!raw) return fallback;
  int value = 0;
  auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), value);
  if (ec != std::errc{} || ptr != raw->data() + raw->size() || value <= 0 || value > 255) return fallback;
  return value;
}

}  // namespace

ExitCodes ExitCodes::from(const Environment& env) {
  ExitCodes codes;
  codes.build_failure = small_positive_or(env, kBuildFailureExitCode, kDefaultBuildFailureExitCode);
  codes.system_failure = small_positive_or(env, kSystemFailureExitCode, kDefaultSystemFailureExitCode);
  return codes;
}

int exit_code_for(const Outcome& outcome, const ExitCodes& codes) {
  if (std::holds_alternative<Success>(outcome)) return 0;
  if (std::holds_alternative<BuildFailure>(outcome)) return codes.build_failure;
  return codes.system_failure;
}

}  // namespace phaedo::protocol
