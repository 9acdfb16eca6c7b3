// Networks, volumes, filters, builds, and the helpers the container checks share.
#include <algorithm>

#include "dockerscope/json_body.h"
#include "dockerscope/policy.h"
#include "dockerscope/policy_internal.h"

namespace phaedo::dockerscope {

using json_body::json;

Error refusal(const std::string& rule, const std::string& detail) {
  return make_error(ErrorKind::rejected, rule + " refused: " + detail);
}

Error in_field(const Error& error, const std::string& field) {
  if (error.kind == ErrorKind::rejected) return {error.kind, error.message + " (" + field + ")"};
  return error.context(field + ": ");
}

Status check_name(const std::string& kind, const std::string& name) {
  std::string n = !name.empty() && name[0] == '/' ? name.substr(1) : name;
  if (n.rfind(kReservedNamePrefix, 0) == 0)
    return refusal("name", kind + " name " + n + " (names starting with " + kReservedNamePrefix + " are the driver's)");
  return {};
}

namespace internal {

Status inject_labels(json& obj, std::string_view where, const Scope& scope) {
  Result<json*> labels = json_body::object_member(obj, "Labels", where);
  if (!labels) return labels.error();
  for (auto it = (*labels)->begin(); it != (*labels)->end(); ++it) {
    if (!it->is_string()) return make_error(ErrorKind::invalid_input, "body: Labels must be a map of strings");
    if (it.key().rfind(kReservedLabelPrefix, 0) == 0) return refusal("label", it.key() + " is reserved");
  }
  for (const auto& [k, v] : scope.labels()) (**labels)[k] = v;
  return {};
}

Status check_driver_options(const std::string& driver, const std::map<std::string, std::string>& options) {
  if (!driver.empty() && driver != "local") return refusal("volume driver", driver);
  if (options.empty()) return {};
  auto type = options.find("type");
  auto device = options.find("device");
  auto o = options.find("o");
  bool tmpfs_only = type != options.end() && type->second == "tmpfs" && device != options.end() &&
                    device->second == "tmpfs" &&
                    std::all_of(options.begin(), options.end(),
                                [](const auto& kv) { return kv.first == "type" || kv.first == "device" || kv.first == "o"; });
  if (!tmpfs_only || (o != options.end() && o->second.find("bind") != std::string::npos)) {
    std::string shown;
    for (const auto& [k, v] : options) shown += (shown.empty() ? "" : ",") + k + "=" + v;
    return refusal("volume driver options", shown);
  }
  return {};
}

Status check_volume_driver(json& volume_options, std::string_view where, std::string_view field) {
  Result<json*> config = json_body::member(volume_options, field, where);
  if (!config) return config.error();
  if (*config == nullptr) return {};
  std::string inner = std::string(where) + "." + std::string(field);
  Result<std::optional<std::string>> name = json_body::get_string(**config, "Name", inner);
  if (!name) return name.error();
  Result<std::map<std::string, std::string>> options = json_body::get_string_map(**config, "Options", inner);
  if (!options) return options.error();
  return check_driver_options(name->value_or(""), *options);
}

Status apply_limits(json& r, const JobLimits& limits, LimitMode mode) {
  const bool create = mode == LimitMode::create;
  auto get = [&](const char* field) { return json_body::get_int(r, field, "limits"); };

  if (limits.memory_bytes) {
    const std::int64_t job_swap = limits.memory_swap_bytes.value_or(*limits.memory_bytes);
    Result<std::optional<std::int64_t>> memory = get("Memory");
    if (!memory) return memory.error();
    std::int64_t m = memory->value_or(0);
    if (m < 0 || m > *limits.memory_bytes)
      return refusal("memory limit", std::to_string(m) + " bytes (the job's is " + std::to_string(*limits.memory_bytes) + ")");
    if (m == 0 && create) r["Memory"] = *limits.memory_bytes;
    Result<std::optional<std::int64_t>> swap = get("MemorySwap");
    if (!swap) return swap.error();
    std::int64_t s = swap->value_or(0);
    if (s < 0 || s > job_swap)
      return refusal("memory+swap limit", std::to_string(s) + " bytes (the job's is " + std::to_string(job_swap) + ")");
    if (s == 0 && create) r["MemorySwap"] = job_swap;
  }
  if (limits.nano_cpus) {
    Result<std::optional<std::int64_t>> nano = get("NanoCpus");
    if (!nano) return nano.error();
    Result<std::optional<std::int64_t>> quota = get("CpuQuota");
    if (!quota) return quota.error();
    Result<std::optional<std::int64_t>> period = get("CpuPeriod");
    if (!period) return period.error();
    std::int64_t n = nano->value_or(0);
    if (n < 0 || n > *limits.nano_cpus)
      return refusal("CPU limit", std::to_string(n) + " nano CPUs (the job's is " + std::to_string(*limits.nano_cpus) + ")");
    std::int64_t q = quota->value_or(0);
    std::int64_t p = period->value_or(0) > 0 ? **period : 100'000;
    if (q > 0 && q * 1'000'000'000 / p > *limits.nano_cpus)
      return refusal("CPU limit", "CpuQuota " + std::to_string(q) + "/" + std::to_string(p));
    if (q < 0 && !create) return refusal("CPU limit", "CpuQuota " + std::to_string(q) + " (unlimited)");
    if (n == 0 && q <= 0 && create) {
      r["NanoCpus"] = *limits.nano_cpus;
      r.erase("CpuQuota");  // -1 "unlimited" would conflict with NanoCpus
    }
  }
  if (limits.pids) {
    Result<std::optional<std::int64_t>> pids = get("PidsLimit");
    if (!pids) return pids.error();
    if (pids->has_value()) {
      std::int64_t p = **pids;
      if (p > *limits.pids || (!create && p <= 0))
        return refusal("pids limit", std::to_string(p) + " (the job's is " + std::to_string(*limits.pids) + ")");
      if (p <= 0) r["PidsLimit"] = *limits.pids;
    } else if (create) {
      r["PidsLimit"] = *limits.pids;
    }
  }
  return {};
}

}  // namespace internal

namespace {

Status check_body_name(json& body, const std::string& kind) {
  Result<std::optional<std::string>> name = json_body::get_string(body, "Name", "");
  if (!name) return name.error();
  return check_name(kind, name->value_or(""));
}

}  // namespace

Result<std::string> network_create(std::string_view text, const Scope& scope) {
  Result<json> doc = json_body::parse_object(text);
  if (!doc) return doc.error();
  json& body = *doc;
  if (Status s = check_body_name(body, "network"); !s) return s.error();
  Result<std::optional<std::string>> driver = json_body::get_string(body, "Driver", "");
  if (!driver) return driver.error();
  if (!(driver->value_or("").empty() || **driver == "bridge")) return refusal("network driver", **driver);
  for (const auto& [field, rule] : std::initializer_list<std::pair<const char*, const char*>>{
           {"Ingress", "ingress network"}, {"ConfigFrom", "network config-from"}, {"ConfigOnly", "network config-only"}}) {
    Result<bool> set = json_body::is_set(body, field, "");
    if (!set) return set.error();
    if (*set) return refusal(rule, field);
  }
  Result<std::optional<std::string>> net_scope = json_body::get_string(body, "Scope", "");
  if (!net_scope) return net_scope.error();
  if (!(net_scope->value_or("").empty() || **net_scope == "local")) return refusal("network scope", **net_scope);
  // Bridge options can name an existing host bridge (com.docker.network.bridge.name).
  Result<std::map<std::string, std::string>> options = json_body::get_string_map(body, "Options", "");
  if (!options) return options.error();
  for (const auto& [k, v] : *options) {
    if (k != "com.docker.network.driver.mtu" && k != "com.docker.network.bridge.enable_icc")
      return refusal("network option", k + "=" + v);
  }
  Result<json*> ipam = json_body::member(body, "IPAM", "");
  if (!ipam) return ipam.error();
  if (*ipam != nullptr) {
    Result<std::optional<std::string>> ipam_driver = json_body::get_string(**ipam, "Driver", "IPAM");
    if (!ipam_driver) return ipam_driver.error();
    if (!(ipam_driver->value_or("").empty() || **ipam_driver == "default")) return refusal("IPAM driver", **ipam_driver);
    // An explicit subnet can shadow a route of the host (its LAN, another job's network).
    for (const char* field : {"Config", "Options"}) {
      Result<bool> set = json_body::is_set(**ipam, field, "IPAM");
      if (!set) return set.error();
      if (*set) return refusal("IPAM", std::string("IPAM.") + field + " (explicit subnets)");
    }
  }
  if (Status s = internal::inject_labels(body, "", scope); !s) return s.error();
  return body.dump();
}

Result<std::string> volume_create(std::string_view text, const Scope& scope) {
  Result<json> doc = json_body::parse_object(text);
  if (!doc) return doc.error();
  json& body = *doc;
  if (Status s = check_body_name(body, "volume"); !s) return s.error();
  Result<std::optional<std::string>> driver = json_body::get_string(body, "Driver", "");
  if (!driver) return driver.error();
  Result<std::map<std::string, std::string>> options = json_body::get_string_map(body, "DriverOpts", "");
  if (!options) return options.error();
  if (Status s = internal::check_driver_options(driver->value_or(""), *options); !s) return s.error();
  Result<bool> cluster = json_body::is_set(body, "ClusterVolumeSpec", "");
  if (!cluster) return cluster.error();
  if (*cluster) return refusal("cluster volume", "ClusterVolumeSpec");
  if (Status s = internal::inject_labels(body, "", scope); !s) return s.error();
  return body.dump();
}

Result<std::string> network_connect(std::string_view text, Owner& owner) {
  Result<json> doc = json_body::parse(text);
  if (!doc) return doc.error();
  Result<std::optional<std::string>> container = json_body::get_string(*doc, "Container", "");
  if (!container) return container.error();
  if (!container->has_value()) return make_error(ErrorKind::invalid_input, "body: Container is missing");
  Result<std::string> id = owner.container(**container);
  if (!id) return id.error();
  (*doc)["Container"] = *id;
  return doc->dump();
}

Result<std::string> scoped_filters(const std::optional<std::string>& filters, const Scope& scope) {
  json doc = json::object();
  if (filters && !filters->empty()) {
    Result<json> parsed = json_body::parse(*filters);
    if (!parsed) return in_field(parsed.error(), "filters");
    if (!parsed->is_object()) return make_error(ErrorKind::invalid_input, "filters: not a JSON object");
    doc = std::move(parsed).value();
  }
  // Both forms the daemon accepts ({"label":["a"]} and {"label":{"a":true}}) become
  // the map form with the job's term added; terms of one key are ANDed for labels.
  json labels = json::object();
  Result<json*> given = json_body::member(doc, "label", "filters");
  if (!given) return given.error();
  if (*given != nullptr) {
    if ((*given)->is_array()) {
      for (const json& term : **given) {
        if (!term.is_string()) return make_error(ErrorKind::invalid_input, "filters: label terms must be strings");
        labels[term.get<std::string>()] = true;
      }
    } else if ((*given)->is_object()) {
      labels = **given;
    } else {
      return make_error(ErrorKind::invalid_input, "filters: label must be a list or a map");
    }
  }
  labels[scope.filter_term()] = true;
  doc["label"] = labels;
  return doc.dump();
}

Status build_query(Target& target, const Scope& scope, Owner& owner) {
  auto one = [&](const char* name) { return target.param(name); };
  for (const auto& [param, rule] : std::initializer_list<std::pair<const char*, const char*>>{
           {"remote", "remote build context"}, {"cgroupparent", "cgroup parent"}}) {
    Result<std::optional<std::string>> v = one(param);
    if (!v) return v.error();
    if (v->has_value() && !(*v)->empty()) return refusal(rule, std::string(param) + "=" + **v);
  }
  if (!scope.cgroup_parent.empty()) target.set_param("cgroupparent", scope.cgroup_parent);
  Result<std::optional<std::string>> version = one("version");
  if (!version) return version.error();
  if (version->value_or("1") != "1") return refusal("BuildKit", "version=" + **version + " (only the legacy builder is inspected)");
  Result<std::optional<std::string>> isolation = one("isolation");
  if (!isolation) return isolation.error();
  if (!(isolation->value_or("").empty() || **isolation == "default")) return refusal("isolation", **isolation);

  Result<std::optional<std::string>> network = one("networkmode");
  if (!network) return network.error();
  std::string n = network->value_or("");
  if (n.empty() || n == "default" || n == "bridge") {
    if (!scope.network.empty()) target.set_param("networkmode", scope.network);
  } else if (n != "none") {
    if (n == "host" || n.find(':') != std::string::npos) return refusal("build network", "networkmode=" + n);
    Result<std::string> id = owner.network(n);
    if (!id) return in_field(id.error(), "networkmode");
  }

  // Limits of the build's RUN containers, as for containers.
  json limits = json::object();
  for (const auto& [param, field] : std::initializer_list<std::pair<const char*, const char*>>{
           {"memory", "Memory"}, {"memswap", "MemorySwap"}, {"cpuquota", "CpuQuota"}, {"cpuperiod", "CpuPeriod"}}) {
    Result<std::optional<std::string>> v = one(param);
    if (!v) return v.error();
    if (!v->has_value() || (*v)->empty()) continue;
    try {
      limits[field] = std::stoll(**v);
    } catch (const std::exception&) {
      return make_error(ErrorKind::invalid_input, std::string("query: ") + param + " is not a number");
    }
  }
  JobLimits memory_only{scope.limits.memory_bytes, scope.limits.memory_swap_bytes, std::nullopt, std::nullopt};
  if (Status s = internal::apply_limits(limits, memory_only, internal::LimitMode::create); !s) return s;
  if (scope.limits.nano_cpus) {
    JobLimits cpu_only{std::nullopt, std::nullopt, scope.limits.nano_cpus, std::nullopt};
    if (Status s = internal::apply_limits(limits, cpu_only, internal::LimitMode::update); !s) return s;
  }
  if (limits.contains("Memory")) target.set_param("memory", std::to_string(limits["Memory"].get<std::int64_t>()));
  if (limits.contains("MemorySwap")) target.set_param("memswap", std::to_string(limits["MemorySwap"].get<std::int64_t>()));

  // Image labels under phaedo.io/ are refused like container labels, but the job's
  // own label is not added: with `labels` set, the legacy builder spends seconds per
  // 256 MiB of context (measured: 1.6-2.0 s without, 5.0 s with), so built images
  // are known by the image record instead.
  Result<std::optional<std::string>> labels_text = one("labels");
  if (!labels_text) return labels_text.error();
  if (labels_text->has_value() && !(*labels_text)->empty()) {
    Result<json> labels = json_body::parse_object(**labels_text);
    if (!labels) return in_field(labels.error(), "labels");
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      if (it.key().rfind(kReservedLabelPrefix, 0) == 0) return refusal("label", it.key() + " is reserved");
    }
  }
  return {};
}

}  // namespace phaedo::dockerscope
