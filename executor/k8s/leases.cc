// coordination.k8s.io/v1 Leases.
#include "k8s/client.h"
#include "k8s/codec.h"
#include "k8s/internal.h"

namespace phaedo::k8s {

using transport::Method;

namespace {

Result<std::string> lease_path(const std::string& namespace_, const std::string& name) {
  if (Status s = check_name("namespace", namespace_); !s) return s.error();
  std::string path = "/apis/coordination.k8s.io/v1/namespaces/" + namespace_ + "/leases";
  if (name.empty()) return path;
  if (Status s = check_name("lease", name); !s) return s.error();
  return path + "/" + name;
}

}  // namespace

Result<Lease> Client::get_lease(const std::string& namespace_, const std::string& name) {
  if (name.empty()) return make_error(ErrorKind::invalid_input, "lease: empty name");
  Result<std::string> path = lease_path(namespace_, name);
  if (!path) return path.error();
  return send_decoded<Lease>(request(Method::get, *path), codec::decode_lease);
}

Result<Lease> Client::create_lease(const Lease& lease) {
  if (Status s = check_name("lease", lease.meta.name); !s) return s.error();
  Result<std::string> path = lease_path(lease.meta.namespace_, "");
  if (!path) return path.error();
  Lease fresh = lease;
  fresh.meta.resource_version.clear();  // a create must not carry one
  fresh.meta.uid.clear();
  return send_decoded<Lease>(json_request(Method::post, *path, codec::encode_lease(fresh)),
                             codec::decode_lease);
}

Result<Lease> Client::update_lease(const Lease& lease) {
  if (lease.meta.resource_version.empty())
    return make_error(ErrorKind::invalid_input,
                      "lease " + lease.meta.name + ": an update needs the resourceVersion it read");
  Result<std::string> path = lease_path(lease.meta.namespace_, lease.meta.name);
  if (!path) return path.error();
  if (lease.meta.name.empty()) return make_error(ErrorKind::invalid_input, "lease: empty name");
  return send_decoded<Lease>(json_request(Method::put, *path, codec::encode_lease(lease)),
                             codec::decode_lease);
}

Result<std::vector<Lease>> Client::list_leases(const std::string& namespace_, const Selector& selector) {
  Result<std::string> path = lease_path(namespace_, "");
  if (!path) return path.error();
  transport::HttpRequest r = request(Method::get, *path);
  r.query = selector_query(selector);
  return send_decoded<std::vector<Lease>>(r, codec::decode_lease_list);
}

Status Client::delete_lease(const std::string& namespace_, const std::string& name,
                            const Preconditions& pre) {
  if (name.empty()) return make_error(ErrorKind::invalid_input, "lease: empty name");
  Result<std::string> path = lease_path(namespace_, name);
  if (!path) return path.error();
  return send_only(json_request(Method::del, *path,
                                codec::encode_delete_options(pre, Propagation::background, std::nullopt)));
}

}  // namespace phaedo::k8s
