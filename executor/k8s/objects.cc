// Pods, and any kind addressed by group/version/resource.
#include "k8s/client.h"
#include "k8s/codec.h"
#include "k8s/internal.h"

namespace phaedo::k8s {

using transport::Method;

namespace {

Result<std::string> collection_path(const ResourceKind& kind, const std::string& namespace_) {
  if (Status s = check_name("resource", kind.resource); !s) return s.error();
  if (Status s = check_name("version", kind.version); !s) return s.error();
  std::string path = kind.group.empty() ? "/api/" + kind.version : "/apis/" + kind.group + "/" + kind.version;
  if (!kind.group.empty()) {
    if (Status s = check_name("group", kind.group); !s) return s.error();
  }
  if (kind.namespaced) {
    if (Status s = check_name("namespace", namespace_); !s) return s.error();
    path += "/namespaces/" + namespace_;
  }
  return path + "/" + kind.resource;
}

const ResourceKind kPods{"", "v1", "pods", true};

}  // namespace

Result<std::vector<Pod>> Client::list_pods(const std::string& namespace_, const Selector& selector) {
  Result<std::string> path = namespace_.empty() ? Result<std::string>(std::string("/api/v1/pods"))
                                                : collection_path(kPods, namespace_);
  if (!path) return path.error();
  transport::HttpRequest r = request(Method::get, *path);
  r.query = selector_query(selector);
  return send_decoded<std::vector<Pod>>(r, codec::decode_pod_list);
}

Status Client::delete_pod(const std::string& namespace_, const std::string& name,
                          std::optional<std::int64_t> grace) {
  Result<std::string> path = collection_path(kPods, namespace_);
  if (!path) return path.error();
  if (Status s = check_name("pod", name); !s) return s.error();
  return send_only(json_request(Method::del, *path + "/" + name,
                                codec::encode_delete_options({}, Propagation::background, grace)));
}

Result<std::vector<ObjectMeta>> Client::list_objects(const ResourceKind& kind, const Selector& selector,
                                                     const std::string& namespace_) {
  Result<std::string> path = collection_path(kind, namespace_);
  if (!path) return path.error();
  transport::HttpRequest r = request(Method::get, *path);
  r.query = selector_query(selector);
  return send_decoded<std::vector<ObjectMeta>>(r, codec::decode_object_list);
}

Status Client::delete_object(const ResourceKind& kind, const std::string& name, const std::string& namespace_,
                             const Preconditions& pre, Propagation propagation) {
  Result<std::string> path = collection_path(kind, namespace_);
  if (!path) return path.error();
  if (Status s = check_name(kind.resource, name); !s) return s.error();
  return send_only(json_request(Method::del, *path + "/" + name,
                                codec::encode_delete_options(pre, propagation, std::nullopt)));
}

Result<std::vector<WebhookConfiguration>> Client::list_webhook_configurations(const ResourceKind& kind,
                                                                             const Selector& selector) {
  Result<std::string> path = collection_path(kind, "");
  if (!path) return path.error();
  transport::HttpRequest r = request(Method::get, *path);
  r.query = selector_query(selector);
  return send_decoded<std::vector<WebhookConfiguration>>(r, codec::decode_webhook_list);
}

Result<std::string> Client::preferred_version(const std::string& group) {
  if (group.empty()) return std::string("v1");
  if (Status s = check_name("group", group); !s) return s.error();
  return send_decoded<std::string>(request(Method::get, "/apis/" + group), codec::decode_api_group);
}

Result<std::vector<std::string>> Client::delete_by_selector(const ResourceKind& kind,
                                                            const Selector& selector,
                                                            const std::string& namespace_) {
  if (selector.labels.empty() && selector.fields.empty())
    return make_error(ErrorKind::invalid_input, "delete " + kind.resource + ": refusing an empty selector");
  Result<std::vector<ObjectMeta>> objects = list_objects(kind, selector, namespace_);
  if (!objects) return objects.error();
  std::vector<std::string> deleted;
  for (const ObjectMeta& o : *objects) {
    if (Status s = ignore_not_found(delete_object(kind, o.name, namespace_)); !s) return s.error();
    deleted.push_back(o.name);
  }
  return deleted;
}

}  // namespace phaedo::k8s
