#include "docker/codec.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>

namespace phaedo::docker::codec {
namespace {

using nlohmann::json;

// Thrown by the field readers below, caught in decode(): never leaves this file.
struct Malformed {
  std::string what;
};

enum class Need { optional, required };

std::string join(const std::string& at, const char* key) {
  return at.empty() ? key : at + "." + key;
}

// The value of `key`, or nullptr when absent or null.
const json* find(const json& obj, const char* key, const std::string& at, Need need) {
  if (obj.is_object()) {
    auto it = obj.find(key);
    if (it != obj.end() && !it->is_null()) return &*it;
  }
  if (need == Need::required) throw Malformed{"field " + join(at, key) + " is missing"};
  return nullptr;
}

std::string get_string(const json& obj, const char* key, const std::string& at = "",
                       Need need = Need::optional) {
  const json* v = find(obj, key, at, need);
  if (v == nullptr) return {};
  if (!v->is_string()) throw Malformed{"field " + join(at, key) + ": expected a string"};
  return v->get<std::string>();
}

bool get_bool(const json& obj, const char* key, const std::string& at = "") {
  const json* v = find(obj, key, at, Need::optional);
  if (v == nullptr) return false;
  if (!v->is_boolean()) throw Malformed{"field " + join(at, key) + ": expected true or false"};
  return v->get<bool>();
}

std::optional<std::int64_t> get_int(const json& obj, const char* key, const std::string& at = "",
                                    Need need = Need::optional) {
  const json* v = find(obj, key, at, need);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<std::int64_t>();
  if (v->is_number_float()) return static_cast<std::int64_t>(v->get<double>());
  throw Malformed{"field " + join(at, key) + ": expected a number"};
}

std::vector<std::string> get_strings(const json& obj, const char* key, const std::string& at = "") {
  const json* v = find(obj, key, at, Need::optional);
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (!v->is_array()) throw Malformed{"field " + join(at, key) + ": expected a list of strings"};
  for (const json& item : *v) {
    if (!item.is_string()) throw Malformed{"field " + join(at, key) + ": expected a list of strings"};
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> get_string_map(const json& obj, const char* key,
                                                  const std::string& at = "") {
  const json* v = find(obj, key, at, Need::optional);
  std::map<std::string, std::string> out;
  if (v == nullptr) return out;
  if (!v->is_object()) throw Malformed{"field " + join(at, key) + ": expected an object of strings"};
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) throw Malformed{"field " + join(at, key) + "." + k + ": expected a string"};
    out.emplace(k, item.get<std::string>());
  }
  return out;
}

const json& get_object(const json& obj, const char* key, const std::string& at = "") {
  static const json empty = json::object();
  const json* v = find(obj, key, at, Need::optional);
  if (v == nullptr) return empty;
  if (!v->is_object()) throw Malformed{"field " + join(at, key) + ": expected an object"};
  return *v;
}

const json& expect_array(const json& j, const char* what) {
  if (!j.is_array()) throw Malformed{std::string(what) + ": expected a list"};
  return j;
}

// Parses `body` and runs `f` on it, turning every failure into a peer error.
template <typename F>
auto decode(std::string_view body, F&& f) -> Result<std::invoke_result_t<F, const json&>> {
  try {
    const json j = json::parse(body);
    return f(j);
  } catch (const Malformed& m) {
    return make_error(ErrorKind::peer, "malformed answer: " + m.what);
  } catch (const json::exception& e) {
    return make_error(ErrorKind::peer, std::string("malformed answer: ") + e.what());
  }
}

// Job-supplied strings (env values) may be invalid UTF-8: replace, never throw.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string first_line(std::string_view text) {
  auto nl = text.find('\n');
  if (nl != std::string_view::npos) text = text.substr(0, nl);
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() > 200) return std::string(text.substr(0, 200)) + "…";
  return std::string(text);
}

const char* mount_type(MountType type) {
  switch (type) {
    case MountType::bind:
      return "bind";
    case MountType::volume:
      return "volume";
    case MountType::tmpfs:
      return "tmpfs";
  }
  return "volume";
}

json encode_host_config(const HostConfig& h) {
  json j = json::object();
  if (!h.network_mode.empty()) j["NetworkMode"] = h.network_mode;
  if (!h.binds.empty()) j["Binds"] = h.binds;
  if (!h.mounts.empty()) {
    json mounts = json::array();
    for (const Mount& m : h.mounts) {
      json mj = {
          {"Type", mount_type(m.type)}, {"Target", m.target}, {"ReadOnly", m.access == Access::read_only}};
      if (!m.source.empty()) mj["Source"] = m.source;
      if (m.type == MountType::volume && !m.volume_labels.empty())
        mj["VolumeOptions"] = {{"Labels", m.volume_labels}};
      if (m.type == MountType::tmpfs && m.tmpfs_size_bytes)
        mj["TmpfsOptions"] = {{"SizeBytes", *m.tmpfs_size_bytes}};
      mounts.push_back(std::move(mj));
    }
    j["Mounts"] = std::move(mounts);
  }
  if (h.memory_bytes) j["Memory"] = *h.memory_bytes;
  if (h.memory_swap_bytes) j["MemorySwap"] = *h.memory_swap_bytes;
  if (h.nano_cpus) j["NanoCpus"] = *h.nano_cpus;
  if (h.pids_limit) j["PidsLimit"] = *h.pids_limit;
  if (!h.cap_drop.empty()) j["CapDrop"] = h.cap_drop;
  if (!h.cap_add.empty()) j["CapAdd"] = h.cap_add;
  if (!h.security_opt.empty()) j["SecurityOpt"] = h.security_opt;
  if (h.rootfs == RootFs::read_only) j["ReadonlyRootfs"] = true;
  if (!h.tmpfs.empty()) j["Tmpfs"] = h.tmpfs;
  if (h.init == Init::docker_init) j["Init"] = true;
  if (!h.cgroup_parent.empty()) j["CgroupParent"] = h.cgroup_parent;
  j["Privileged"] = false;
  j["AutoRemove"] = false;
  return j;
}

HostConfig decode_host_config(const json& j) {
  const std::string at = "HostConfig";
  HostConfig h;
  h.network_mode = get_string(j, "NetworkMode", at);
  h.binds = get_strings(j, "Binds", at);
  if (const json* mounts = find(j, "Mounts", at, Need::optional)) {
    for (const json& m : expect_array(*mounts, "field HostConfig.Mounts")) {
      Mount mount;
      std::string type = get_string(m, "Type", at + ".Mounts");
      mount.type = type == "bind" ? MountType::bind : type == "tmpfs" ? MountType::tmpfs : MountType::volume;
      mount.source = get_string(m, "Source", at + ".Mounts");
      mount.target = get_string(m, "Target", at + ".Mounts");
      mount.access = get_bool(m, "ReadOnly", at + ".Mounts") ? Access::read_only : Access::read_write;
      h.mounts.push_back(std::move(mount));
    }
  }
  auto positive = [](std::optional<std::int64_t> v) { return v && *v > 0 ? v : std::nullopt; };
  h.memory_bytes = positive(get_int(j, "Memory", at));
  auto swap = get_int(j, "MemorySwap", at);
  if (swap && *swap != 0) h.memory_swap_bytes = swap;
  h.nano_cpus = positive(get_int(j, "NanoCpus", at));
  h.pids_limit = positive(get_int(j, "PidsLimit", at));
  h.cap_drop = get_strings(j, "CapDrop", at);
  h.cap_add = get_strings(j, "CapAdd", at);
  h.security_opt = get_strings(j, "SecurityOpt", at);
  h.rootfs = get_bool(j, "ReadonlyRootfs", at) ? RootFs::read_only : RootFs::writable;
  h.tmpfs = get_string_map(j, "Tmpfs", at);
  h.init = get_bool(j, "Init", at) ? Init::docker_init : Init::none;
  h.cgroup_parent = get_string(j, "CgroupParent", at);
  return h;
}

}  // namespace

std::string daemon_message(std::string_view body) {
  if (body.empty()) return {};
  try {
    const json j = json::parse(body);
    if (j.is_object()) {
      auto it = j.find("message");
      if (it != j.end() && it->is_string()) return first_line(it->get<std::string>());
    }
  } catch (const json::exception&) {
    // not JSON: fall through to the raw text
  }
  return first_line(body);
}

std::string label_filter(const LabelFilter& labels) {
  return dump(json{{"label", labels}});
}

Result<VersionInfo> decode_version(std::string_view body) {
  return decode(body, [](const json& j) {
    VersionInfo v;
    v.version = get_string(j, "Version");
    v.api_version = get_string(j, "ApiVersion", "", Need::required);
    v.min_api_version = get_string(j, "MinAPIVersion");
    v.os = get_string(j, "Os");
    v.arch = get_string(j, "Arch");
    v.kernel_version = get_string(j, "KernelVersion");
    return v;
  });
}

Result<SystemInfo> decode_system_info(std::string_view body) {
  return decode(body, [](const json& j) {
    SystemInfo info;
    info.cgroup_driver = get_string(j, "CgroupDriver");
    info.cgroup_version = get_string(j, "CgroupVersion");
    return info;
  });
}

Result<ImageInfo> decode_image(std::string_view body) {
  return decode(body, [](const json& j) {
    ImageInfo image;
    image.id = get_string(j, "Id", "", Need::required);
    image.repo_tags = get_strings(j, "RepoTags");
    image.size = get_int(j, "Size").value_or(0);
    image.labels = get_string_map(get_object(j, "Config"), "Labels", "Config");
    return image;
  });
}

Result<std::string> decode_import_stream(std::string_view body) {
  std::string id;
  while (!body.empty()) {
    auto nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    Result<std::pair<std::string, std::string>> msg = decode(line, [](const json& j) {
      std::string error = get_string(j, "error");
      if (error.empty()) error = get_string(get_object(j, "errorDetail"), "message", "errorDetail");
      return std::pair<std::string, std::string>{get_string(j, "status"), error};
    });
    if (!msg) return msg.error();
    if (!msg->second.empty()) return make_error(ErrorKind::peer, first_line(msg->second));
    if (!msg->first.empty()) id = msg->first;
  }
  if (id.empty()) return make_error(ErrorKind::peer, "malformed answer: the import reported no image id");
  return id;
}

std::string encode_container_spec(const ContainerSpec& spec) {
  json j = {{"Image", spec.image}, {"Tty", false}, {"OpenStdin", false}, {"AttachStdin", false}};
  if (!spec.cmd.empty()) j["Cmd"] = spec.cmd;
  if (spec.entrypoint) j["Entrypoint"] = *spec.entrypoint;
  if (!spec.env.empty()) j["Env"] = spec.env;
  if (!spec.working_dir.empty()) j["WorkingDir"] = spec.working_dir;
  if (!spec.user.empty()) j["User"] = spec.user;
  if (!spec.hostname.empty()) j["Hostname"] = spec.hostname;
  if (!spec.labels.empty()) j["Labels"] = spec.labels;
  j["HostConfig"] = encode_host_config(spec.host);
  if (!spec.network_aliases.empty() && !spec.host.network_mode.empty()) {
    j["NetworkingConfig"] = {
        {"EndpointsConfig", {{spec.host.network_mode, {{"Aliases", spec.network_aliases}}}}}};
  }
  return dump(j);
}

Result<CreatedContainer> decode_created_container(std::string_view body) {
  return decode(body, [](const json& j) {
    return CreatedContainer{get_string(j, "Id", "", Need::required), get_strings(j, "Warnings")};
  });
}

Result<ContainerInfo> decode_container_info(std::string_view body) {
  return decode(body, [](const json& j) {
    ContainerInfo c;
    c.id = get_string(j, "Id", "", Need::required);
    c.name = get_string(j, "Name");
    if (c.name.starts_with('/')) c.name.erase(0, 1);
    c.image = get_string(j, "Image");
    c.labels = get_string_map(get_object(j, "Config"), "Labels", "Config");
    const json& s = get_object(j, "State");
    const std::string at = "State";
    c.state.status = get_string(s, "Status", at);
    c.state.running = get_bool(s, "Running", at);
    c.state.paused = get_bool(s, "Paused", at);
    c.state.restarting = get_bool(s, "Restarting", at);
    c.state.oom_killed = get_bool(s, "OOMKilled", at);
    c.state.dead = get_bool(s, "Dead", at);
    c.state.pid = get_int(s, "Pid", at).value_or(0);
    c.state.exit_code = static_cast<int>(get_int(s, "ExitCode", at).value_or(0));
    c.state.error = get_string(s, "Error", at);
    c.state.started_at = get_string(s, "StartedAt", at);
    c.state.finished_at = get_string(s, "FinishedAt", at);
    c.host = decode_host_config(get_object(j, "HostConfig"));
    return c;
  });
}

Result<std::vector<ContainerSummary>> decode_container_list(std::string_view body) {
  return decode(body, [](const json& j) {
    std::vector<ContainerSummary> out;
    for (const json& item : expect_array(j, "container list")) {
      ContainerSummary c;
      c.id = get_string(item, "Id", "", Need::required);
      for (std::string name : get_strings(item, "Names")) {
        if (name.starts_with('/')) name.erase(0, 1);
        c.names.push_back(std::move(name));
      }
      c.image = get_string(item, "Image");
      c.state = get_string(item, "State");
      c.status = get_string(item, "Status");
      c.labels = get_string_map(item, "Labels");
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<WaitResult> decode_wait(std::string_view body) {
  return decode(body, [](const json& j) {
    WaitResult w;
    w.status_code = *get_int(j, "StatusCode", "", Need::required);
    w.error = get_string(get_object(j, "Error"), "Message", "Error");
    return w;
  });
}

std::string encode_network_spec(const NetworkSpec& spec, bool check_duplicate) {
  json j = {{"Name", spec.name}, {"Driver", spec.driver}, {"Internal", spec.internal == Internal::yes}};
  if (!spec.labels.empty()) j["Labels"] = spec.labels;
  if (check_duplicate) j["CheckDuplicate"] = true;
  return dump(j);
}

Result<std::string> decode_network_id(std::string_view body) {
  return decode(body, [](const json& j) { return get_string(j, "Id", "", Need::required); });
}

Result<std::vector<NetworkInfo>> decode_network_list(std::string_view body) {
  return decode(body, [](const json& j) {
    std::vector<NetworkInfo> out;
    for (const json& item : expect_array(j, "network list")) {
      NetworkInfo n;
      n.id = get_string(item, "Id", "", Need::required);
      n.name = get_string(item, "Name");
      n.driver = get_string(item, "Driver");
      n.internal = get_bool(item, "Internal");
      n.labels = get_string_map(item, "Labels");
      out.push_back(std::move(n));
    }
    return out;
  });
}

std::string encode_volume_spec(const VolumeSpec& spec) {
  json j = {{"Driver", spec.driver}};
  if (!spec.name.empty()) j["Name"] = spec.name;
  if (!spec.labels.empty()) j["Labels"] = spec.labels;
  return dump(j);
}

namespace {
VolumeInfo volume_from(const json& j) {
  VolumeInfo v;
  v.name = get_string(j, "Name", "", Need::required);
  v.driver = get_string(j, "Driver");
  v.mountpoint = get_string(j, "Mountpoint");
  v.labels = get_string_map(j, "Labels");
  return v;
}
}  // namespace

Result<VolumeInfo> decode_volume(std::string_view body) {
  return decode(body, volume_from);
}

Result<std::vector<VolumeInfo>> decode_volume_list(std::string_view body) {
  return decode(body, [](const json& j) {
    std::vector<VolumeInfo> out;
    if (const json* volumes = find(j, "Volumes", "", Need::optional)) {
      for (const json& item : expect_array(*volumes, "field Volumes")) out.push_back(volume_from(item));
    }
    return out;
  });
}

std::string encode_exec_spec(const ExecSpec& spec) {
  json j = {{"AttachStdin", false},       {"AttachStdout", true}, {"AttachStderr", true},
            {"Tty", spec.tty == Tty::on}, {"Privileged", false},  {"Cmd", spec.cmd}};
  if (!spec.env.empty()) j["Env"] = spec.env;
  if (!spec.working_dir.empty()) j["WorkingDir"] = spec.working_dir;
  if (!spec.user.empty()) j["User"] = spec.user;
  return dump(j);
}

std::string encode_exec_start(Tty tty) {
  return dump(json{{"Detach", false}, {"Tty", tty == Tty::on}});
}

Result<std::string> decode_exec_id(std::string_view body) {
  return decode(body, [](const json& j) { return get_string(j, "Id", "", Need::required); });
}

Result<ExecInfo> decode_exec_info(std::string_view body) {
  return decode(body, [](const json& j) {
    ExecInfo e;
    e.id = get_string(j, "ID");
    e.container_id = get_string(j, "ContainerID");
    e.running = get_bool(j, "Running");
    if (auto code = get_int(j, "ExitCode")) e.exit_code = static_cast<int>(*code);
    e.pid = get_int(j, "Pid").value_or(0);
    return e;
  });
}

}  // namespace phaedo::docker::codec
