// Namespaces (create, delete, wait until gone), ServiceAccounts, TokenRequest, RBAC,
// ConfigMaps.
#include <algorithm>

#include "k8s/client.h"
#include "k8s/codec.h"
#include "k8s/internal.h"

namespace phaedo::k8s {

using transport::Method;
using namespace std::chrono;

Result<Namespace> Client::create_namespace(const std::string& name, const Labels& labels) {
  if (Status s = check_name("namespace", name); !s) return s.error();
  return send_decoded<Namespace>(
      json_request(Method::post, "/api/v1/namespaces", codec::encode_namespace(name, labels)),
      codec::decode_namespace);
}

Result<Namespace> Client::get_namespace(const std::string& name) {
  if (Status s = check_name("namespace", name); !s) return s.error();
  return send_decoded<Namespace>(request(Method::get, "/api/v1/namespaces/" + name), codec::decode_namespace);
}

Status Client::delete_namespace(const std::string& name) {
  if (Status s = check_name("namespace", name); !s) return s.error();
  return send_only(json_request(Method::del, "/api/v1/namespaces/" + name,
                                codec::encode_delete_options({}, Propagation::background, std::nullopt)));
}

Status Client::wait_namespace_gone(const std::string& name, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::string last_phase;
  for (;;) {
    Result<Namespace> ns = get_namespace(name);
    if (!ns && ns.error().kind == ErrorKind::not_found) return {};
    if (!ns) return ns.error();
    last_phase = ns->phase;
    const auto remaining = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (remaining <= milliseconds(0)) {
      return make_error(ErrorKind::cancelled, "namespace " + name + " still exists after " +
                                                  std::to_string(timeout.count()) + " ms (phase " +
                                                  last_phase + ")");
    }
    // Watch from the version just read: a DELETED event ends the wait; anything else
    // (the server's timeout, a 410, a dropped stream) goes round to the GET again.
    transport::HttpRequest watch = request(Method::get, "/api/v1/namespaces");
    const long long watch_seconds =
        std::clamp<long long>(duration_cast<std::chrono::seconds>(remaining).count() + 1, 1, 300);
    watch.query = {{"fieldSelector", "metadata.name=" + name},
                   {"watch", "1"},
                   {"resourceVersion", ns->meta.resource_version},
                   {"timeoutSeconds", std::to_string(watch_seconds)}};
    watch.timeout = remaining + milliseconds(1000);
    bool gone = false;
    std::string buffer;
    watch.on_body = [&](std::string_view bytes) -> Status {
      buffer.append(bytes);
      for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (line.empty()) continue;
        Result<codec::WatchEvent> event = codec::decode_watch_event(line);
        if (!event) return event.error();
        if (event->type == "DELETED" && event->meta.name == name) {
          gone = true;
          return make_error(ErrorKind::cancelled, "watch: done");  // ends the transfer
        }
        if (event->type == "ERROR") return make_error(ErrorKind::peer, "watch: restart");
      }
      return {};
    };
    Result<transport::HttpResponse> answer = http_->send(watch);
    if (gone) return {};
    if (options_.cancelled && options_.cancelled())
      return make_error(ErrorKind::cancelled,
                        describe(watch) + ": cancelled while waiting for namespace " + name);
    if (answer && !answer->success() && answer->status != 410)
      return answer_error(watch, make_error(ErrorKind::peer, "HTTP " + std::to_string(answer->status)));
    // Otherwise: re-GET (covers deletion between the GET and the watch, 410, timeouts).
  }
}

Status Client::create_service_account(const std::string& namespace_, const std::string& name,
                                      const Labels& labels) {
  if (Status s = check_name("namespace", namespace_); !s) return s.error();
  if (Status s = check_name("serviceaccount", name); !s) return s.error();
  return send_only(json_request(Method::post, "/api/v1/namespaces/" + namespace_ + "/serviceaccounts",
                                codec::encode_service_account(namespace_, name, labels)));
}

Status Client::create_binding(const Binding& binding) {
  if (Status s = check_name("binding", binding.meta.name); !s) return s.error();
  if (Status s = check_name("role", binding.role_ref.name); !s) return s.error();
  std::string path = "/apis/rbac.authorization.k8s.io/v1/";
  if (binding.meta.namespace_.empty()) {
    if (binding.role_ref.kind != RoleKind::cluster_role)
      return make_error(ErrorKind::invalid_input,
                        "clusterrolebinding " + binding.meta.name + ": roleRef must be a ClusterRole");
    path += "clusterrolebindings";
  } else {
    if (Status s = check_name("namespace", binding.meta.namespace_); !s) return s.error();
    path += "namespaces/" + binding.meta.namespace_ + "/rolebindings";
  }
  return send_only(json_request(Method::post, path, codec::encode_binding(binding)));
}

Status Client::create_cluster_role(const ClusterRole& role) {
  if (Status s = check_name("clusterrole", role.meta.name); !s) return s.error();
  return send_only(json_request(Method::post, "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                                codec::encode_cluster_role(role)));
}

Result<IssuedToken> Client::request_token(const std::string& namespace_, const std::string& service_account,
                                          const TokenRequest& token_request) {
  if (Status s = check_name("namespace", namespace_); !s) return s.error();
  if (Status s = check_name("serviceaccount", service_account); !s) return s.error();
  if (token_request.expiration_seconds < 600)
    return make_error(ErrorKind::invalid_input, "token request: expirationSeconds " +
                                                    std::to_string(token_request.expiration_seconds) +
                                                    " is below 600");
  // The answer holds the token: decoding errors name fields, never the body.
  return send_decoded<IssuedToken>(
      json_request(Method::post,
                   "/api/v1/namespaces/" + namespace_ + "/serviceaccounts/" + service_account + "/token",
                   codec::encode_token_request(token_request)),
      codec::decode_token_request);
}

Result<ConfigMap> Client::create_config_map(const ConfigMap& config_map) {
  if (Status s = check_name("namespace", config_map.meta.namespace_); !s) return s.error();
  if (Status s = check_name("configmap", config_map.meta.name); !s) return s.error();
  return send_decoded<ConfigMap>(
      json_request(Method::post, "/api/v1/namespaces/" + config_map.meta.namespace_ + "/configmaps",
                   codec::encode_config_map(config_map)),
      codec::decode_config_map);
}

}  // namespace phaedo::k8s
