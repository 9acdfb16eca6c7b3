#include "protocol/config_output.h"

#include <nlohmann/json.hpp>

namespace phaedo::protocol {

std::string to_json(const ConfigOutput& out) {
  nlohmann::json j;
  j["builds_dir"] = out.builds_dir;
  j["cache_dir"] = out.cache_dir;
  j["builds_dir_is_shared"] = out.builds_dir_is_shared;
  j["hostname"] = out.hostname;
  j["driver"] = {{"name", out.driver_name}, {"version", out.driver_version}};
  j["job_env"] = out.job_env;
  j["shell"] = out.shell;
  return j.dump();
}

}  // namespace phaedo::protocol
