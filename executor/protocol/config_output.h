// The JSON object phaedo-config prints: the only thing it ever writes to stdout.
#pragma once

#include <map>
#include <string>

namespace phaedo::protocol {

struct ConfigOutput {
  std::string builds_dir;   // never empty: an empty value wipes the runner's setting
  std::string cache_dir;    // never empty
  bool builds_dir_is_shared = false;
  std::string hostname;
  std::string driver_name;
  std::string driver_version;
  std::map<std::string, std::string> job_env;  // unprefixed in every later stage
  std::string shell;        // "bash" or "sh"
};

// One line of JSON, without a trailing newline.
[[nodiscard]] std::string to_json(const ConfigOutput& out);

}  // namespace phaedo::protocol
