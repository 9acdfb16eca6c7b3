#include "profile/profile.h"

#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "protocol/job_identity.h"

namespace phaedo::profile {
namespace {

// Reads typed values out of one TOML table, remembering which keys were used so
// that leftovers (typos) can be reported.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix, std::string source)
      : table_(table), prefix_(std::move(prefix)), source_(std::move(source)) {}

  Error error(const std::string& key, const std::string& what) const {
    return make_error(ErrorKind::invalid_input, "profile " + source_ + ": " + prefix_ + key + ": " + what);
  }

  Status string(const char* key, std::string& out) {
    used_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return {};
    auto value = node->value<std::string>();
    if (!node->is_string() || !value) return error(key, "must be a string");
    out = *value;
    return {};
  }

  Status integer(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max) {
    used_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return {};
    if (!node->is_integer()) return error(key, "must be an integer");
    auto value = *node->value<std::int64_t>();
    if (value < min || value > max) {
      return error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                            " (got " + std::to_string(value) + ")");
    }
    out = value;
    return {};
  }

  template <typename Enum>
  Status choice(const char* key, Enum& out, std::initializer_list<std::pair<const char*, Enum>> options) {
    std::string raw;
    if (auto s = string(key, raw); !s) return s;
    if (table_.get(key) == nullptr) return {};
    std::string names;
    for (const auto& [name, value] : options) {
      if (raw == name) {
        out = value;
        return {};
      }
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    return error(key, "must be one of " + names + " (got \"" + raw + "\")");
  }

  const toml::table* subtable(const char* key, Status& status) {
    used_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      status = error(key, "must be a table");
      return nullptr;
    }
    return node->as_table();
  }

  // An error for the first key that nobody asked for.
  Status reject_unknown() const {
    for (const auto& [key, node] : table_) {
      std::string k(key.str());
      if (!used_.count(k)) return error(k, "unknown key");
    }
    return {};
  }

 private:
  const toml::table& table_;
  std::string prefix_;
  std::string source_;
  std::set<std::string> used_;
};

Status require_absolute(TableReader& r, const char* key, const std::string& path) {
  if (!path.empty() && path.front() != '/') return r.error(key, "must be an absolute path (got \"" + path + "\")");
  return {};
}

Status read_host(TableReader& top, const toml::table* table, Profile& p) {
  if (table == nullptr) return {};
  TableReader r(*table, "host.", p.source);
  Status s;
  std::string cgroup_mode;
  if (!(s = r.string("work_root", p.host.work_root))) return s;
  if (!(s = require_absolute(r, "work_root", p.host.work_root))) return s;
  if (!(s = r.string("cache_dir", p.host.cache_dir))) return s;
  if (!(s = require_absolute(r, "cache_dir", p.host.cache_dir))) return s;
  if (!(s = r.string("cgroup_root", p.host.cgroup_root))) return s;
  if (!(s = require_absolute(r, "cgroup_root", p.host.cgroup_root))) return s;
  if (!(s = r.choice("cgroup", p.host.cgroup, {{"auto", CgroupMode::automatic},
                                                {"required", CgroupMode::required},
                                                {"off", CgroupMode::off}}))) return s;
  if (!(s = r.integer("pids_max", p.host.pids_max, 0, 4194304))) return s;
  if (!(s = r.string("path", p.host.path))) return s;
  (void)top;
  return r.reject_unknown();
}

Status read_top(const toml::table& root, Profile& p) {
  TableReader r(root, "", p.source);
  Status s;
  if (!(s = r.string("name", p.name))) return s;
  if (!(s = r.choice("sandbox", p.sandbox, {{"host", SandboxKind::host}, {"docker", SandboxKind::docker}}))) return s;
  if (!(s = r.choice("lease", p.lease, {{"none", LeaseKind::none}, {"kubernetes-node", LeaseKind::kubernetes_node}}))) return s;
  if (!(s = r.choice("shell", p.shell, {{"bash", Shell::bash}, {"sh", Shell::sh}}))) return s;
  if (!(s = r.string("state_dir", p.state_dir))) return s;
  if (p.state_dir.empty() || p.state_dir.front() != '/') {
    return r.error("state_dir", "must be an absolute path (got \"" + p.state_dir + "\")");
  }
  if (!(s = r.string("log_file", p.log_file))) return s;
  if (!(s = require_absolute(r, "log_file", p.log_file))) return s;
  if (!(s = r.string("runner_id", p.runner_id))) return s;
  if (!p.runner_id.empty() && !protocol::is_safe_name(p.runner_id)) {
    return r.error("runner_id", "must be 1-63 characters of [a-z0-9-] (got \"" + p.runner_id + "\")");
  }
  std::int64_t grace_ms = p.kill_grace.count();
  if (!(s = r.integer("kill_grace_ms", grace_ms, 0, 60000))) return s;
  p.kill_grace = std::chrono::milliseconds(grace_ms);

  const toml::table* host = r.subtable("host", s);
  if (!s) return s;
  if (!(s = read_host(r, host, p))) return s;
  if (!(s = r.reject_unknown())) return s;

  if (p.sandbox != SandboxKind::host) {
    return r.error("sandbox", std::string("\"") + to_string(p.sandbox) + "\" is not available in this build yet");
  }
  if (p.lease != LeaseKind::none) {
    return r.error("lease", std::string("\"") + to_string(p.lease) + "\" is not available in this build yet");
  }
  return {};
}

void apply_defaults(Profile& p) {
  if (p.log_file.empty()) p.log_file = p.state_dir + "/admin.log";
  if (p.host.work_root.empty()) p.host.work_root = p.state_dir + "/work";
  if (p.host.cache_dir.empty()) p.host.cache_dir = p.state_dir + "/cache";
}

}  // namespace

const char* to_string(SandboxKind kind) { return kind == SandboxKind::host ? "host" : "docker"; }
const char* to_string(LeaseKind kind) { return kind == LeaseKind::none ? "none" : "kubernetes-node"; }
const char* to_string(Shell shell) { return shell == Shell::bash ? "bash" : "sh"; }

Result<Profile> parse_profile(const std::string& toml_text, const std::string& source) {
  Profile p;
  p.source = source;
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return make_error(ErrorKind::invalid_input, "profile " + source + ": line " + std::to_string(where.line) +
                                                    ": " + std::string(e.description()));
  }
  if (auto s = read_top(root, p); !s) return s.error();
  apply_defaults(p);
  return p;
}

Result<Profile> load_profile(const std::string& path) {
  if (path.empty()) return make_error(ErrorKind::invalid_input, "--profile is required");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorKind::not_found, "profile " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_profile(text.str(), path);
}

}  // namespace phaedo::profile
