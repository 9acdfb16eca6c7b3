#include "profile/profile.h"

#include <cctype>
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

  Status boolean(const char* key, bool& out) {
    used_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return {};
    if (!node->is_boolean()) return error(key, "must be true or false");
    out = *node->value<bool>();
    return {};
  }

  // A float or an integer, within [min, max].
  Status number(const char* key, std::optional<double>& out, double min, double max) {
    used_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return {};
    if (!node->is_floating_point() && !node->is_integer()) return error(key, "must be a number");
    double value = *node->value<double>();
    if (!(value >= min && value <= max)) {
      return error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " (got " +
                            std::to_string(value) + ")");
    }
    out = value;
    return {};
  }

  Status string_list(const char* key, std::vector<std::string>& out) {
    used_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return {};
    const toml::array* array = node->as_array();
    if (array == nullptr) return error(key, "must be an array of strings");
    std::vector<std::string> values;
    for (const toml::node& item : *array) {
      auto value = item.value<std::string>();
      if (!item.is_string() || !value) return error(key, "must be an array of strings");
      values.push_back(*value);
    }
    out = std::move(values);
    return {};
  }

  // The raw node, for values that take several forms (e.g. memory).
  const toml::node* raw(const char* key) {
    used_.insert(key);
    return table_.get(key);
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

// "512m", "2g", "1024k", "100b" or a plain integer: bytes (binary units, like docker).
Status read_memory(TableReader& r, std::optional<std::int64_t>& out) {
  const toml::node* node = r.raw("memory");
  if (node == nullptr) return {};
  std::int64_t bytes = 0;
  if (node->is_integer()) {
    bytes = *node->value<std::int64_t>();
  } else if (node->is_string()) {
    std::string text = *node->value<std::string>();
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    std::string unit = text.substr(digits);
    std::int64_t scale = 0;
    if (unit.empty() || unit == "b" || unit == "B") scale = 1;
    else if (unit == "k" || unit == "K") scale = 1LL << 10;
    else if (unit == "m" || unit == "M") scale = 1LL << 20;
    else if (unit == "g" || unit == "G") scale = 1LL << 30;
    if (digits == 0 || digits > 12 || scale == 0) {
      return r.error("memory", "must be bytes or a number with b, k, m or g (got \"" + text + "\")");
    }
    bytes = std::stoll(text.substr(0, digits)) * scale;
  } else {
    return r.error("memory", "must be an integer (bytes) or a string like \"512m\"");
  }
  if (bytes < (6LL << 20)) return r.error("memory", "must be at least 6m (got " + std::to_string(bytes) + " bytes)");
  out = bytes;
  return {};
}

// Capabilities that amount to privileged mode or reach into the host: never added.
Status check_capabilities(TableReader& r, const std::vector<std::string>& caps) {
  static const std::set<std::string> refused = {"ALL",          "SYS_ADMIN", "SYS_MODULE",      "SYS_RAWIO",
                                                "SYS_BOOT",     "SYS_PTRACE", "MAC_ADMIN",      "MAC_OVERRIDE",
                                                "DAC_READ_SEARCH", "BPF",    "PERFMON",         "SYSLOG",
                                                "NET_ADMIN",    "SYS_TIME"};
  for (const auto& cap : caps) {
    bool shaped = !cap.empty() && cap.size() < 32;
    for (char c : cap) shaped = shaped && (std::isupper(static_cast<unsigned char>(c)) || c == '_');
    if (!shaped) return r.error("cap_add", "\"" + cap + "\" is not a capability name like \"CHOWN\"");
    if (refused.count(cap)) return r.error("cap_add", "\"" + cap + "\" is refused: it breaks the job's isolation");
  }
  return {};
}

Status read_docker(const toml::table* table, Profile& p) {
  if (table == nullptr) return {};
  TableReader r(*table, "docker.", p.source);
  auto& d = p.docker;
  Status s;
  std::int64_t pids = 0;
  if (!(s = r.string("socket", d.socket))) return s;
  if (d.socket.empty() || d.socket.front() != '/') return r.error("socket", "must be an absolute path (got \"" + d.socket + "\")");
  if (!(s = r.string("default_image", d.default_image))) return s;
  if (!(s = r.string_list("allowed_images", d.allowed_images))) return s;
  if (!(s = r.choice("pull_policy", d.pull_policy, {{"never", PullPolicy::never},
                                                     {"if-not-present", PullPolicy::if_not_present},
                                                     {"always", PullPolicy::always}}))) return s;
  if (!(s = r.number("cpus", d.cpus, 0.01, 1024))) return s;
  if (!(s = read_memory(r, d.memory_bytes))) return s;
  if (!(s = r.integer("pids_limit", pids, 1, 4194304))) return s;
  if (table->get("pids_limit") != nullptr) d.pids_limit = pids;
  if (!(s = r.string_list("cap_add", d.cap_add))) return s;
  if (!(s = check_capabilities(r, d.cap_add))) return s;
  if (!(s = r.boolean("read_only_rootfs", d.read_only_rootfs))) return s;
  if (!(s = r.string("builds_dir", d.builds_dir))) return s;
  if (d.builds_dir.size() < 2 || d.builds_dir.front() != '/') return r.error("builds_dir", "must be an absolute path other than / (got \"" + d.builds_dir + "\")");
  if (!(s = r.string("cache_dir", d.cache_dir))) return s;
  if (d.cache_dir.size() < 2 || d.cache_dir.front() != '/') return r.error("cache_dir", "must be an absolute path other than / (got \"" + d.cache_dir + "\")");
  if (!(s = r.string("cache_volume", d.cache_volume))) return s;
  for (char c : d.cache_volume) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return r.error("cache_volume", "must be a volume name of [A-Za-z0-9_.-] (got \"" + d.cache_volume + "\")");
    }
  }
  if (!(s = r.string("runner_binary", d.runner_binary))) return s;
  if (!(s = require_absolute(r, "runner_binary", d.runner_binary))) return s;
  if (!(s = r.string("auth_config", d.auth_config))) return s;
  if (!(s = require_absolute(r, "auth_config", d.auth_config))) return s;
  if (!(s = r.choice("docker_api", d.api, {{"none", DockerApi::none}, {"scoped", DockerApi::scoped}}))) return s;
  if (!(s = r.string("dockerscope_binary", d.dockerscope_binary))) return s;
  if (!(s = require_absolute(r, "dockerscope_binary", d.dockerscope_binary))) return s;
  if (!(s = r.string("api_socket_dir", d.api_socket_dir))) return s;
  if (d.api_socket_dir.size() < 2 || d.api_socket_dir.front() != '/') {
    return r.error("api_socket_dir", "must be an absolute path other than / (got \"" + d.api_socket_dir + "\")");
  }
  if (!(s = r.choice("job_cgroup", d.job_cgroup, {{"auto", CgroupMode::automatic},
                                                  {"required", CgroupMode::required},
                                                  {"off", CgroupMode::off}}))) return s;
  return r.reject_unknown();
}

bool is_label_name(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '/') return false;
  }
  return std::isalnum(static_cast<unsigned char>(s.front())) && std::isalnum(static_cast<unsigned char>(s.back()));
}

Status read_seconds(TableReader& r, const char* key, std::chrono::seconds& out, std::int64_t min, std::int64_t max) {
  std::int64_t value = out.count();
  if (auto s = r.integer(key, value, min, max); !s) return s;
  out = std::chrono::seconds(value);
  return {};
}

Status read_kubernetes(const toml::table* table, Profile& p) {
  if (table == nullptr) return {};
  TableReader r(*table, "kubernetes.", p.source);
  auto& k = p.kubernetes;
  Status s;
  if (!(s = r.string("kubeconfig", k.kubeconfig))) return s;
  if (!(s = require_absolute(r, "kubeconfig", k.kubeconfig))) return s;
  if (!(s = r.string("context", k.context))) return s;
  if (!(s = r.boolean("in_cluster", k.in_cluster))) return s;
  if (!(s = r.string_list("node_selector", k.node_selector))) return s;
  for (const auto& term : k.node_selector) {
    auto eq = term.find('=');
    if (eq == std::string::npos || !is_label_name(term.substr(0, eq)) ||
        term.find('=', eq + 1) != std::string::npos || term.find(',') != std::string::npos) {
      return r.error("node_selector", "\"" + term + "\" is not a label term like \"phaedo.dev/pool=gpu\"");
    }
  }
  if (!(s = r.string("gpu_resource", k.gpu_resource))) return s;
  if (!is_label_name(k.gpu_resource)) {
    return r.error("gpu_resource", "must be a resource name like \"nvidia.com/gpu\" (got \"" + k.gpu_resource + "\")");
  }
  if (!(s = r.integer("gpu_min", k.gpu_min, 0, 1024))) return s;
  if (!(s = r.string("lease_namespace", k.lease_namespace))) return s;
  if (!protocol::is_safe_name(k.lease_namespace)) {
    return r.error("lease_namespace", "must be 1-63 characters of [a-z0-9-] (got \"" + k.lease_namespace + "\")");
  }
  if (!(s = read_seconds(r, "lease_duration_s", k.lease_duration, 10, 3600))) return s;
  if (!(s = read_seconds(r, "wait_timeout_s", k.wait_timeout, 1, 7 * 86400))) return s;
  if (!(s = read_seconds(r, "teardown_timeout_s", k.teardown_timeout, 10, 3600))) return s;
  if (!(s = r.string_list("allowed_cluster_kinds", k.allowed_cluster_kinds))) return s;
  for (const auto& kind : k.allowed_cluster_kinds) {
    auto slash = kind.find('/');
    bool ok = slash != std::string::npos && slash + 1 < kind.size() && kind.find('/', slash + 1) == std::string::npos;
    for (char c : kind) ok = ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '/');
    if (!ok) {
      return r.error("allowed_cluster_kinds", "\"" + kind + "\" is not \"group/resource\" like "
                     "\"admissionregistration.k8s.io/mutatingwebhookconfigurations\"");
    }
    static const std::set<std::string> refused = {
        "/nodes", "/namespaces", "/persistentvolumes", "rbac.authorization.k8s.io/clusterroles",
        "rbac.authorization.k8s.io/clusterrolebindings", "coordination.k8s.io/leases",
        "certificates.k8s.io/certificatesigningrequests", "apiextensions.k8s.io/customresourcedefinitions"};
    if (refused.count(kind)) {
      return r.error("allowed_cluster_kinds", "\"" + kind + "\" is refused: it would let a job reach beyond its lease");
    }
  }
  if (!(s = r.string("namespace_template", k.namespace_template))) return s;
  if (k.namespace_template.find("{job}") == std::string::npos) {
    return r.error("namespace_template", "must contain {job} (got \"" + k.namespace_template + "\")");
  }
  if (!(s = r.string("taint_key", k.taint_key))) return s;
  if (!is_label_name(k.taint_key)) {
    return r.error("taint_key", "must be a label key like \"phaedo.dev/lease\" (got \"" + k.taint_key + "\")");
  }
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
  const toml::table* docker = r.subtable("docker", s);
  if (!s) return s;
  if (!(s = read_docker(docker, p))) return s;
  const toml::table* kubernetes = r.subtable("kubernetes", s);
  if (!s) return s;
  if (!(s = read_kubernetes(kubernetes, p))) return s;
  if (!(s = r.reject_unknown())) return s;

  if (p.lease == LeaseKind::kubernetes_node) {
    if (kubernetes == nullptr) return r.error("kubernetes", "is required with lease = \"kubernetes-node\"");
    if (p.kubernetes.kubeconfig.empty() == !p.kubernetes.in_cluster) {
      return r.error("kubernetes.kubeconfig", "set exactly one of kubernetes.kubeconfig and kubernetes.in_cluster = true");
    }
    if (p.sandbox != SandboxKind::host) {
      return r.error("lease", "\"kubernetes-node\" needs sandbox = \"host\" in this version");
    }
  }
  if (p.docker.api == DockerApi::scoped && p.sandbox != SandboxKind::docker) {
    return r.error("docker.docker_api", "\"scoped\" needs sandbox = \"docker\"");
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
const char* to_string(DockerApi api) { return api == DockerApi::scoped ? "scoped" : "none"; }
const char* to_string(PullPolicy policy) {
  switch (policy) {
    case PullPolicy::never: return "never";
    case PullPolicy::if_not_present: return "if-not-present";
    case PullPolicy::always: return "always";
  }
  return "?";
}

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
