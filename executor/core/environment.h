// An immutable snapshot of a process environment, so that stage logic can be
// tested in-process with a hand-made environment instead of the real one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace phaedo {

class Environment {
 public:
  Environment() = default;
  explicit Environment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}

  // Copies `environ` of the current process.
  static Environment from_process();

  // The value of `name`, or nullopt when unset. An empty value is a value.
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  // The value of `name`, or `fallback` when unset or empty.
  [[nodiscard]] std::string get_or(const std::string& name, const std::string& fallback) const;

  void set(const std::string& name, std::string value) { vars_[name] = std::move(value); }
  void erase(const std::string& name) { vars_.erase(name); }
  const std::map<std::string, std::string>& vars() const { return vars_; }

  // "K=V" strings for execve.
  [[nodiscard]] std::vector<std::string> to_envp() const;

 private:
  std::map<std::string, std::string> vars_;
};

}  // namespace phaedo
