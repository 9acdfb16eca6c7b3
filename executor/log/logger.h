// The driver's two logs.
//
// Job log: short lines prefixed "phaedo: " on stderr, which the runner copies
// into the job trace (config, prepare, run stages). Admin log: one JSON object
// per line in the profile's log_file, for operators. Every message goes through
// the Redactor first; nothing here ever dumps the environment or the job payload.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "log/redactor.h"

namespace spdlog {
class logger;
}

namespace phaedo::log {

enum class Level { debug, info, warn, error };

class Logger {
 public:
  // stage: "config", "prepare", …; admin_path: empty disables the admin log.
  // If the admin log cannot be opened, a warning goes to the job log and the
  // driver carries on: logging must not fail a job.
  Logger(std::string stage, const std::string& admin_path);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  Redactor& redactor() { return redactor_; }
  // Fields added to every admin record from now on (job key, job id, …).
  void set_field(const std::string& key, const std::string& value) { fields_[key] = value; }

  // A line in the job log, and the same event in the admin log.
  void job(Level level, const std::string& message);
  // The admin log only (details an operator wants but the job author does not).
  void admin(Level level, const std::string& message, const std::map<std::string, std::string>& extra = {});

 private:
  std::string stage_;
  Redactor redactor_;
  std::map<std::string, std::string> fields_;
  std::shared_ptr<spdlog::logger> admin_;
};

}  // namespace phaedo::log
