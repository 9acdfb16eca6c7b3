#include "k8s/codec.h"

#include <nlohmann/json.hpp>

#include "k8s/micro_time.h"

namespace phaedo::k8s::codec {
namespace {

using nlohmann::json;

Error field_error(const std::string& field, const char* what) {
  return make_error(ErrorKind::peer, "malformed answer: field " + field + ": " + what);
}

// Parses `body` and runs `fn(json)`, turning JSON exceptions into peer errors.
template <typename T, typename Fn>
Result<T> with_json(std::string_view body, Fn fn) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ErrorKind::peer, "malformed answer: not a JSON object");
  try {
    return fn(j);
  } catch (const json::exception& e) {
    return make_error(ErrorKind::peer, std::string("malformed answer: ") + e.what());
  }
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Labels string_map(const json& j, const char* key) {
  Labels out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

ObjectMeta decode_meta(const json& object) {
  ObjectMeta m;
  auto it = object.find("metadata");
  if (it == object.end() || !it->is_object()) return m;
  const json& md = *it;
  m.name = str(md, "name");
  m.namespace_ = str(md, "namespace");
  m.uid = str(md, "uid");
  m.resource_version = str(md, "resourceVersion");
  m.labels = string_map(md, "labels");
  m.annotations = string_map(md, "annotations");
  m.creation_timestamp = str(md, "creationTimestamp");
  if (std::string d = str(md, "deletionTimestamp"); !d.empty()) m.deletion_timestamp = d;
  return m;
}

json encode_meta(const ObjectMeta& m) {
  json md = json::object();
  md["name"] = m.name;
  if (!m.namespace_.empty()) md["namespace"] = m.namespace_;
  if (!m.resource_version.empty()) md["resourceVersion"] = m.resource_version;
  if (!m.uid.empty()) md["uid"] = m.uid;
  if (!m.labels.empty()) md["labels"] = m.labels;
  if (!m.annotations.empty()) md["annotations"] = m.annotations;
  return md;
}

Node node_from(const json& j) {
  Node n;
  n.meta = decode_meta(j);
  if (auto spec = j.find("spec"); spec != j.end() && spec->is_object()) {
    n.unschedulable = spec->value("unschedulable", false);
    if (auto taints = spec->find("taints"); taints != spec->end() && taints->is_array()) {
      for (const json& t : *taints) n.taints.push_back({str(t, "key"), str(t, "value"), str(t, "effect")});
    }
  }
  if (auto status = j.find("status"); status != j.end() && status->is_object()) {
    n.capacity = string_map(*status, "capacity");
    n.allocatable = string_map(*status, "allocatable");
    if (auto conds = status->find("conditions"); conds != status->end() && conds->is_array()) {
      for (const json& c : *conds) {
        if (str(c, "type") != "Ready") continue;
        const std::string s = str(c, "status");
        n.ready = s == "True"    ? ConditionStatus::true_
                  : s == "False" ? ConditionStatus::false_
                                 : ConditionStatus::unknown;
        n.ready_reason = str(c, "reason");
      }
    }
  }
  return n;
}

Result<Lease> lease_from(const json& j) {
  Lease l;
  l.meta = decode_meta(j);
  auto spec = j.find("spec");
  if (spec == j.end() || !spec->is_object()) return l;
  const json& s = *spec;
  if (auto it = s.find("holderIdentity"); it != s.end() && it->is_string())
    l.spec.holder_identity = it->get<std::string>();
  if (auto it = s.find("leaseDurationSeconds"); it != s.end() && it->is_number_integer())
    l.spec.lease_duration_seconds = it->get<std::int32_t>();
  if (auto it = s.find("leaseTransitions"); it != s.end() && it->is_number_integer())
    l.spec.lease_transitions = it->get<std::int32_t>();
  for (auto [key, target] :
       {std::pair{"acquireTime", &l.spec.acquire_time}, {"renewTime", &l.spec.renew_time}}) {
    auto it = s.find(key);
    if (it == s.end() || it->is_null()) continue;
    if (!it->is_string()) return field_error(std::string("spec.") + key, "expected a string");
    Result<MicroTime> t = parse_micro_time(it->get<std::string>());
    if (!t) return field_error(std::string("spec.") + key, "not an RFC 3339 time");
    *target = *t;
  }
  return l;
}

}  // namespace

StatusInfo decode_status(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.value("kind", "") == "Status") {
    return {str(j, "reason"), str(j, "message")};
  }
  std::string line(body.substr(0, body.find('\n')));
  if (line.size() > 200) line = line.substr(0, 200) + "…";
  return {"", line};
}

Result<ServerVersion> decode_version(std::string_view body) {
  return with_json<ServerVersion>(body, [](const json& j) -> Result<ServerVersion> {
    ServerVersion v{str(j, "major"), str(j, "minor"), str(j, "gitVersion")};
    if (v.git_version.empty()) return field_error("gitVersion", "missing");
    return v;
  });
}

Result<Node> decode_node(std::string_view body) {
  return with_json<Node>(body, [](const json& j) -> Result<Node> { return node_from(j); });
}

Result<NodeList> decode_node_list(std::string_view body) {
  return with_json<NodeList>(body, [](const json& j) -> Result<NodeList> {
    NodeList list;
    if (auto md = j.find("metadata"); md != j.end() && md->is_object())
      list.resource_version = str(*md, "resourceVersion");
    auto items = j.find("items");
    if (items == j.end() || !(items->is_array() || items->is_null()))
      return field_error("items", "expected an array");
    if (items->is_array())
      for (const json& item : *items) list.items.push_back(node_from(item));
    return list;
  });
}

std::string encode_node_patch(const NodePatch& patch) {
  json md = json::object();
  md["resourceVersion"] = patch.resource_version;
  if (!patch.labels.empty()) {
    json labels = json::object();
    for (const auto& [k, v] : patch.labels) labels[k] = v ? json(*v) : json(nullptr);
    md["labels"] = labels;
  }
  json p = {{"metadata", md}};
  if (patch.taints) {
    json taints = json::array();
    for (const Taint& t : *patch.taints) {
      json tj = {{"key", t.key}, {"effect", t.effect}};
      if (!t.value.empty()) tj["value"] = t.value;
      taints.push_back(tj);
    }
    // A merge patch replaces lists; null clears the field entirely.
    p["spec"] = {{"taints", taints.empty() ? json(nullptr) : taints}};
  }
  return p.dump();
}

std::string encode_lease(const Lease& lease) {
  json spec = json::object();
  const LeaseSpec& s = lease.spec;
  if (s.holder_identity) spec["holderIdentity"] = *s.holder_identity;
  if (s.lease_duration_seconds) spec["leaseDurationSeconds"] = *s.lease_duration_seconds;
  if (s.acquire_time) spec["acquireTime"] = format_micro_time(*s.acquire_time);
  if (s.renew_time) spec["renewTime"] = format_micro_time(*s.renew_time);
  if (s.lease_transitions) spec["leaseTransitions"] = *s.lease_transitions;
  json j = {{"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", encode_meta(lease.meta)},
            {"spec", spec}};
  return j.dump();
}

Result<Lease> decode_lease(std::string_view body) {
  return with_json<Lease>(body, [](const json& j) { return lease_from(j); });
}

std::string encode_delete_options(const Preconditions& pre, Propagation propagation,
                                  std::optional<std::int64_t> grace_seconds) {
  json j = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  json p = json::object();
  if (pre.uid) p["uid"] = *pre.uid;
  if (pre.resource_version) p["resourceVersion"] = *pre.resource_version;
  if (!p.empty()) j["preconditions"] = p;
  j["propagationPolicy"] = propagation == Propagation::foreground ? "Foreground"
                           : propagation == Propagation::orphan   ? "Orphan"
                                                                  : "Background";
  if (grace_seconds) j["gracePeriodSeconds"] = *grace_seconds;
  return j.dump();
}

std::string encode_namespace(const std::string& name, const Labels& labels) {
  ObjectMeta m;
  m.name = name;
  m.labels = labels;
  return json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", encode_meta(m)}}.dump();
}

Result<Namespace> decode_namespace(std::string_view body) {
  return with_json<Namespace>(body, [](const json& j) -> Result<Namespace> {
    Namespace ns{decode_meta(j), ""};
    if (auto st = j.find("status"); st != j.end() && st->is_object()) ns.phase = str(*st, "phase");
    return ns;
  });
}

Result<WatchEvent> decode_watch_event(std::string_view line) {
  return with_json<WatchEvent>(line, [](const json& j) -> Result<WatchEvent> {
    WatchEvent e;
    e.type = str(j, "type");
    if (e.type.empty()) return field_error("type", "missing");
    auto obj = j.find("object");
    if (obj != j.end() && obj->is_object()) {
      if (e.type == "ERROR") {
        e.code = obj->value("code", 0L);
        e.message = str(*obj, "message");
      } else {
        e.meta = decode_meta(*obj);
      }
    }
    return e;
  });
}

std::string encode_service_account(const std::string& namespace_, const std::string& name,
                                   const Labels& labels) {
  ObjectMeta m;
  m.name = name;
  m.namespace_ = namespace_;
  m.labels = labels;
  return json{{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", encode_meta(m)}}.dump();
}

std::string encode_binding(const Binding& b) {
  json subjects = json::array();
  for (const ServiceAccountSubject& s : b.subjects)
    subjects.push_back({{"kind", "ServiceAccount"}, {"name", s.name}, {"namespace", s.namespace_}});
  json j = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", b.meta.namespace_.empty() ? "ClusterRoleBinding" : "RoleBinding"},
            {"metadata", encode_meta(b.meta)},
            {"roleRef",
             {{"apiGroup", "rbac.authorization.k8s.io"},
              {"kind", b.role_ref.kind == RoleKind::role ? "Role" : "ClusterRole"},
              {"name", b.role_ref.name}}},
            {"subjects", subjects}};
  return j.dump();
}

std::string encode_cluster_role(const ClusterRole& role) {
  json rules = json::array();
  for (const PolicyRule& r : role.rules) {
    json rj = {{"apiGroups", r.api_groups}, {"resources", r.resources}, {"verbs", r.verbs}};
    if (!r.resource_names.empty()) rj["resourceNames"] = r.resource_names;
    rules.push_back(rj);
  }
  return json{{"apiVersion", "rbac.authorization.k8s.io/v1"},
              {"kind", "ClusterRole"},
              {"metadata", encode_meta(role.meta)},
              {"rules", rules}}
      .dump();
}

std::string encode_token_request(const TokenRequest& request) {
  json spec = {{"expirationSeconds", request.expiration_seconds}};
  spec["audiences"] = request.audiences;  // [] = the API server's audiences
  return json{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}}.dump();
}

Result<IssuedToken> decode_token_request(std::string_view body) {
  return with_json<IssuedToken>(body, [](const json& j) -> Result<IssuedToken> {
    auto st = j.find("status");
    if (st == j.end() || !st->is_object()) return field_error("status", "missing");
    IssuedToken t;
    t.token = str(*st, "token");
    if (t.token.empty()) return field_error("status.token", "missing");
    Result<MicroTime> exp = parse_micro_time(str(*st, "expirationTimestamp"));
    if (!exp) return field_error("status.expirationTimestamp", "not an RFC 3339 time");
    t.expiration = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*exp);
    return t;
  });
}

std::string encode_config_map(const ConfigMap& cm) {
  return json{
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", encode_meta(cm.meta)}, {"data", cm.data}}
      .dump();
}

Result<ConfigMap> decode_config_map(std::string_view body) {
  return with_json<ConfigMap>(body, [](const json& j) -> Result<ConfigMap> {
    return ConfigMap{decode_meta(j), string_map(j, "data")};
  });
}

Result<std::vector<Pod>> decode_pod_list(std::string_view body) {
  return with_json<std::vector<Pod>>(body, [](const json& j) -> Result<std::vector<Pod>> {
    std::vector<Pod> pods;
    auto items = j.find("items");
    if (items == j.end() || !items->is_array()) return pods;
    for (const json& item : *items) {
      Pod p{decode_meta(item), "", ""};
      if (auto spec = item.find("spec"); spec != item.end() && spec->is_object())
        p.node_name = str(*spec, "nodeName");
      if (auto st = item.find("status"); st != item.end() && st->is_object()) p.phase = str(*st, "phase");
      pods.push_back(std::move(p));
    }
    return pods;
  });
}

Result<std::vector<ObjectMeta>> decode_object_list(std::string_view body) {
  return with_json<std::vector<ObjectMeta>>(body, [](const json& j) -> Result<std::vector<ObjectMeta>> {
    std::vector<ObjectMeta> out;
    auto items = j.find("items");
    if (items == j.end() || !items->is_array()) return out;
    for (const json& item : *items) out.push_back(decode_meta(item));
    return out;
  });
}

Result<std::vector<Lease>> decode_lease_list(std::string_view body) {
  return with_json<std::vector<Lease>>(body, [](const json& j) -> Result<std::vector<Lease>> {
    std::vector<Lease> out;
    auto items = j.find("items");
    if (items == j.end() || !items->is_array()) return out;
    for (const json& item : *items) {
      Result<Lease> l = lease_from(item);
      if (!l) return l.error();
      out.push_back(std::move(*l));
    }
    return out;
  });
}

Result<std::vector<WebhookConfiguration>> decode_webhook_list(std::string_view body) {
  using Out = std::vector<WebhookConfiguration>;
  return with_json<Out>(body, [](const json& j) -> Result<Out> {
    Out out;
    auto items = j.find("items");
    if (items == j.end() || !items->is_array()) return out;
    for (const json& item : *items) {
      WebhookConfiguration w{decode_meta(item), {}};
      auto hooks = item.find("webhooks");
      if (hooks != item.end() && hooks->is_array()) {
        for (const json& h : *hooks) {
          const json* svc = nullptr;
          if (auto cc = h.find("clientConfig"); cc != h.end() && cc->is_object()) {
            if (auto s = cc->find("service"); s != cc->end() && s->is_object()) svc = &*s;
          }
          if (svc != nullptr) w.service_namespaces.push_back(str(*svc, "namespace"));
        }
      }
      out.push_back(std::move(w));
    }
    return out;
  });
}

Result<std::string> decode_api_group(std::string_view body) {
  return with_json<std::string>(body, [](const json& j) -> Result<std::string> {
    auto pv = j.find("preferredVersion");
    if (pv == j.end() || !pv->is_object()) return field_error("preferredVersion", "missing");
    std::string v = str(*pv, "version");
    if (v.empty()) return field_error("preferredVersion.version", "missing");
    return v;
  });
}

}  // namespace phaedo::k8s::codec
