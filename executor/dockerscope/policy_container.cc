// Container create and update: the checks that keep a job's containers inside the
// job (see policy.h for the contract, ARCHITECTURE.md for the rule list).
#include <algorithm>
#include <cctype>

#include "dockerscope/json_body.h"
#include "dockerscope/policy.h"
#include "dockerscope/policy_internal.h"

namespace phaedo::dockerscope {

using json_body::json;

namespace {

constexpr const char* kHc = "HostConfig";

// A namespace mode: "host" is refused, "container:<id>" must name the job's
// container (rewritten to its full id), other values must be in `allowed`.
Status check_namespace(json& hc, const char* field, std::initializer_list<const char*> allowed,
                       bool container_ok, Owner& owner) {
  Result<std::optional<std::string>> mode = json_body::get_string(hc, field, kHc);
  if (!mode) return mode.error();
  if (!*mode) return {};
  const std::string& m = **mode;
  if (m.rfind("container:", 0) == 0) {
    if (!container_ok) return refusal(field, m);
    Result<std::string> id = owner.container(m.substr(10));
    if (!id) return in_field(id.error(), field);
    hc[field] = "container:" + *id;
    return {};
  }
  if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return m == a; }) == allowed.end())
    return refusal(field, m);
  return {};
}

Status check_binds(json& hc, Owner& owner, std::vector<std::string>& to_create) {
  Result<std::vector<std::string>> binds = json_body::get_strings(hc, "Binds", kHc);
  if (!binds) return binds.error();
  for (const std::string& bind : *binds) {
    std::size_t colon = bind.find(':');
    if (colon == std::string::npos) continue;  // "/path": an anonymous volume
    std::string source = bind.substr(0, colon);
    if (source.empty() || source.find('/') != std::string::npos || source[0] == '.' || source[0] == '~')
      return refusal("bind mount", bind);
    Result<VolumeState> state = owner.volume(source);
    if (!state) return in_field(state.error(), "Binds");
    if (*state == VolumeState::absent &&
        std::find(to_create.begin(), to_create.end(), source) == to_create.end())
      to_create.push_back(source);
  }
  return {};
}

Status check_mounts(json& hc, const Scope& scope, Owner& owner) {
  Result<json*> mounts = json_body::member(hc, "Mounts", kHc);
  if (!mounts) return mounts.error();
  if (*mounts == nullptr) return {};
  if (!(*mounts)->is_array()) return make_error(ErrorKind::invalid_input, "body: HostConfig.Mounts must be a list");
  for (json& mount : **mounts) {
    const char* where = "HostConfig.Mounts[]";
    Result<std::optional<std::string>> type = json_body::get_string(mount, "Type", where);
    if (!type) return type.error();
    Result<std::optional<std::string>> source = json_body::get_string(mount, "Source", where);
    if (!source) return source.error();
    std::string t = type->value_or("");
    if (t == "bind") return refusal("bind mount", "--mount type=bind,source=" + source->value_or(""));
    if (t == "tmpfs") {
      if (source->value_or("").empty()) continue;
      return refusal("tmpfs mount", "source " + **source);
    }
    if (t != "volume") return refusal("mount type", t.empty() ? "(none)" : t);
    Result<json*> options = json_body::object_member(mount, "VolumeOptions", where);
    if (!options) return options.error();
    if (Status s = internal::check_volume_driver(**options, "HostConfig.Mounts[].VolumeOptions", "DriverConfig");
        !s)
      return s;
    if (source->has_value() && !(*source)->empty()) {
      Result<VolumeState> state = owner.volume(**source);
      if (!state) return in_field(state.error(), "Mounts");
    }
    // Labels for the volume the daemon creates when the source does not exist yet.
    if (Status s = internal::inject_labels(**options, "HostConfig.Mounts[].VolumeOptions", scope); !s) return s;
  }
  return {};
}

Status check_networks(json& body, json& hc, const Scope& scope, Owner& owner) {
  Result<std::optional<std::string>> mode = json_body::get_string(hc, "NetworkMode", kHc);
  if (!mode) return mode.error();
  std::string m = mode->value_or("");
  bool is_default = m.empty() || m == "default" || m == "bridge";
  if (is_default && !scope.network.empty()) {
    hc["NetworkMode"] = scope.network;
  } else if (m == "host") {
    return refusal("network mode", "host");
  } else if (m.rfind("container:", 0) == 0) {
    Result<std::string> id = owner.container(m.substr(10));
    if (!id) return in_field(id.error(), "NetworkMode");
    hc["NetworkMode"] = "container:" + *id;
  } else if (!is_default && m != "none") {
    if (m.find(':') != std::string::npos) return refusal("network mode", m);
    Result<std::string> id = owner.network(m);
    if (!id) return in_field(id.error(), "NetworkMode");
  }

  Result<json*> networking = json_body::member(body, "NetworkingConfig", "");
  if (!networking) return networking.error();
  if (*networking == nullptr) return {};
  Result<json*> endpoints = json_body::member(**networking, "EndpointsConfig", "NetworkingConfig");
  if (!endpoints) return endpoints.error();
  if (*endpoints == nullptr) return {};
  if (!(*endpoints)->is_object())
    return make_error(ErrorKind::invalid_input, "body: NetworkingConfig.EndpointsConfig must be an object");
  json rewritten = json::object();
  for (auto it = (*endpoints)->begin(); it != (*endpoints)->end(); ++it) {
    std::string name = it.key();
    if ((name == "default" || name == "bridge") && !scope.network.empty()) {
      name = scope.network;
    } else if (name == "host") {
      return refusal("network", "host");
    } else if (name != "default" && name != "bridge" && name != "none") {
      Result<std::string> id = owner.network(name);
      if (!id) return in_field(id.error(), "EndpointsConfig");
    }
    rewritten[name] = *it;
  }
  **endpoints = std::move(rewritten);
  return {};
}

Status check_capabilities(json& hc, const Scope& scope) {
  Result<std::vector<std::string>> add = json_body::get_strings(hc, "CapAdd", kHc);
  if (!add) return add.error();
  for (std::string cap : *add) {
    std::transform(cap.begin(), cap.end(), cap.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (cap.rfind("CAP_", 0) == 0) cap = cap.substr(4);
    if (scope.cap_allow.count(cap) == 0) return refusal("capability", cap);
  }
  Result<bool> caps = json_body::is_set(hc, "Capabilities", kHc);
  if (!caps) return caps.error();
  if (*caps) return refusal("capability", "Capabilities replaces the whole set");
  return {};
}

Status check_security_opts(json& hc) {
  Result<std::vector<std::string>> opts = json_body::get_strings(hc, "SecurityOpt", kHc);
  if (!opts) return opts.error();
  for (const std::string& opt : *opts) {
    // Allow-list: only no-new-privileges. Every seccomp, apparmor, label or
    // systempaths option either loosens confinement or names a host profile.
    if (opt == "no-new-privileges" || opt == "no-new-privileges=true" || opt == "no-new-privileges:true" ||
        opt == "no-new-privileges=false" || opt == "no-new-privileges:false")
      continue;
    std::string shown = opt.size() > 60 ? opt.substr(0, 60) + "…" : opt;
    return refusal("security option", shown);
  }
  return {};
}

// Fields that may only be absent or empty, with the rule that refuses them.
Status check_must_be_unset(json& hc) {
  static const std::pair<const char*, const char*> kFields[] = {
      {"Privileged", "privileged"},
      {"Devices", "device"},
      {"DeviceRequests", "device request"},
      {"DeviceCgroupRules", "device cgroup rule"},
      {"Sysctls", "sysctl"},
      {"CgroupParent", "cgroup parent"},
      {"PublishAllPorts", "port publishing"},
      {"OomKillDisable", "OOM kill disable"},
      {"StorageOpt", "storage option"},
      {"BlkioDeviceReadBps", "device"},
      {"BlkioDeviceWriteBps", "device"},
      {"BlkioDeviceReadIOps", "device"},
      {"BlkioDeviceWriteIOps", "device"},
      {"BlkioWeightDevice", "device"},
      {"CpuRealtimePeriod", "realtime scheduling"},
      {"CpuRealtimeRuntime", "realtime scheduling"},
  };
  for (const auto& [field, rule] : kFields) {
    Result<bool> set = json_body::is_set(hc, field, kHc);
    if (!set) return set.error();
    if (*set) return refusal(rule, std::string("HostConfig.") + field);
  }
  // MaskedPaths/ReadonlyPaths: even an empty list unmasks /proc (systempaths=unconfined).
  for (const char* field : {"MaskedPaths", "ReadonlyPaths"}) {
    Result<json*> m = json_body::member(hc, field, kHc);
    if (!m) return m.error();
    if (*m != nullptr) return refusal("system paths", std::string("HostConfig.") + field);
  }
  return {};
}

Status check_misc(json& hc, Owner& owner) {
  Result<std::optional<std::string>> runtime = json_body::get_string(hc, "Runtime", kHc);
  if (!runtime) return runtime.error();
  if (runtime->has_value() && !(*runtime)->empty() && **runtime != "runc") return refusal("runtime", **runtime);

  Result<std::optional<std::string>> driver = json_body::get_string(hc, "VolumeDriver", kHc);
  if (!driver) return driver.error();
  if (driver->has_value() && !(*driver)->empty() && **driver != "local") return refusal("volume driver", **driver);

  Result<json*> ports = json_body::member(hc, "PortBindings", kHc);
  if (!ports) return ports.error();
  if (*ports != nullptr && (*ports)->is_object()) {
    for (const json& bindings : **ports) {
      if (bindings.is_array() && !bindings.empty()) return refusal("port publishing", "HostConfig.PortBindings");
    }
  }

  Result<std::optional<std::int64_t>> oom = json_body::get_int(hc, "OomScoreAdj", kHc);
  if (!oom) return oom.error();
  if (oom->value_or(0) < 0) return refusal("OOM score", std::to_string(**oom) + " (below 0)");

  Result<json*> log = json_body::member(hc, "LogConfig", kHc);
  if (!log) return log.error();
  if (*log != nullptr) {
    Result<std::optional<std::string>> type = json_body::get_string(**log, "Type", "HostConfig.LogConfig");
    if (!type) return type.error();
    std::string t = type->value_or("");
    if (!(t.empty() || t == "json-file" || t == "local" || t == "none")) return refusal("log driver", t);
  }

  Result<std::optional<std::string>> isolation = json_body::get_string(hc, "Isolation", kHc);
  if (!isolation) return isolation.error();
  if (isolation->has_value() && !(*isolation)->empty() && **isolation != "default")
    return refusal("isolation", **isolation);

  Result<std::vector<std::string>> from = json_body::get_strings(hc, "VolumesFrom", kHc);
  if (!from) return from.error();
  json rewritten_from = json::array();
  for (const std::string& entry : *from) {
    std::size_t colon = entry.find(':');
    Result<std::string> id = owner.container(entry.substr(0, colon));
    if (!id) return in_field(id.error(), "VolumesFrom");
    rewritten_from.push_back(*id + (colon == std::string::npos ? "" : entry.substr(colon)));
  }
  if (!from->empty()) hc["VolumesFrom"] = rewritten_from;

  Result<std::vector<std::string>> links = json_body::get_strings(hc, "Links", kHc);
  if (!links) return links.error();
  for (const std::string& link : *links) {
    std::string name = link.substr(0, link.find(':'));
    if (!name.empty() && name[0] == '/') name = name.substr(1);
    Result<std::string> id = owner.container(name);
    if (!id) return in_field(id.error(), "Links");
  }
  return {};
}

}  // namespace

Result<CreateBody> container_create(std::string_view text, const Scope& scope, Owner& owner) {
  Result<json> doc = json_body::parse_object(text);
  if (!doc) return doc.error();
  json& body = *doc;
  if (Status s = internal::inject_labels(body, "", scope); !s) return s.error();
  Result<json*> hc_member = json_body::object_member(body, kHc, "");
  if (!hc_member) return hc_member.error();
  json& hc = **hc_member;

  CreateBody out;
  for (Status s : {check_must_be_unset(hc), check_binds(hc, owner, out.volumes_to_create),
                   check_mounts(hc, scope, owner), check_networks(body, hc, scope, owner)}) {
    if (!s) return s.error();
  }
  if (Status s = check_namespace(hc, "PidMode", {""}, true, owner); !s) return s.error();
  if (Status s = check_namespace(hc, "IpcMode", {"", "private", "shareable", "none"}, true, owner); !s)
    return s.error();
  if (Status s = check_namespace(hc, "UTSMode", {""}, false, owner); !s) return s.error();
  if (Status s = check_namespace(hc, "UsernsMode", {""}, false, owner); !s) return s.error();
  if (Status s = check_namespace(hc, "CgroupnsMode", {"", "private"}, false, owner); !s) return s.error();
  if (Status s = check_namespace(hc, "Cgroup", {""}, true, owner); !s) return s.error();
  for (Status s : {check_capabilities(hc, scope), check_security_opts(hc), check_misc(hc, owner),
                   internal::apply_limits(hc, scope.limits, internal::LimitMode::create)}) {
    if (!s) return s.error();
  }
  // The job may not choose one (check_must_be_unset); the job's own is set here.
  if (!scope.cgroup_parent.empty()) hc["CgroupParent"] = scope.cgroup_parent;
  out.body = body.dump();
  return out;
}

Result<std::string> container_update(std::string_view text, const Scope& scope) {
  Result<json> doc = json_body::parse_object(text);
  if (!doc) return doc.error();
  json& body = *doc;
  for (const auto& [field, rule] : std::initializer_list<std::pair<const char*, const char*>>{
           {"Devices", "device"},
           {"DeviceRequests", "device request"},
           {"DeviceCgroupRules", "device cgroup rule"},
           {"CgroupParent", "cgroup parent"},
           {"OomKillDisable", "OOM kill disable"},
           {"CpuRealtimeRuntime", "realtime scheduling"}}) {
    Result<bool> set = json_body::is_set(body, field, "");
    if (!set) return set.error();
    if (*set) return refusal(rule, field);
  }
  if (Status s = internal::apply_limits(body, scope.limits, internal::LimitMode::update); !s) return s.error();
  return body.dump();
}

Result<std::string> exec_create(std::string_view text) {
  Result<json> doc = json_body::parse(text);
  if (!doc) return doc.error();
  Result<std::optional<bool>> privileged = json_body::get_bool(*doc, "Privileged", "");
  if (!privileged) return privileged.error();
  if (privileged->value_or(false)) return refusal("privileged", "exec --privileged");
  return doc->dump();
}

}  // namespace phaedo::dockerscope
