#include "core/environment.h"

#include <unistd.h>

namespace phaedo {

Environment Environment::from_process() {
  std::map<std::string, std::string> vars;
  for (char** e = ::environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    vars.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return Environment(std::move(vars));
}

std::optional<std::string> Environment::get(const std::string& name) const {
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

std::string Environment::get_or(const std::string& name, const std::string& fallback) const {
  auto it = vars_.find(name);
  if (it == vars_.end() || it->second.empty()) return fallback;
  return it->second;
}

std::vector<std::string> Environment::to_envp() const {
  std::vector<std::string> out;
  out.reserve(vars_.size());
  for (const auto& [k, v] : vars_) out.push_back(k + "=" + v);
  return out;
}

}  // namespace phaedo
