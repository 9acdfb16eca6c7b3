// A typed Kubernetes API client over the HttpClient seam, for the node lease.
//
// The client holds a reference to the HttpClient (which must outlive it) and no
// other mutable state: it is as thread-safe as its HttpClient.
//
// Errors of every call:
//   not_found     — the server answered 404 (no such object, or no such namespace).
//                   For deletions this means "already gone"; see ignore_not_found().
//   peer          — any other non-2xx answer, or an answer that could not be decoded.
//                   409s are told apart by api_reason(): AlreadyExists (a create lost:
//                   the name is taken) versus Conflict (a resourceVersion or delete
//                   precondition no longer matches: re-read and re-decide).
//                   403 Forbidden is api_reason() == forbidden.
//   io            — the server could not be reached or the exchange broke.
//   cancelled     — Options::cancelled turned true, or the call's timeout expired.
//   invalid_input — a name that cannot be put in a URL path, or a bad argument.
// Messages read "k8s: <METHOD> <path>: HTTP <status> <Reason>: <server message>".
// They never contain the bearer token or request bodies.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "k8s/types.h"
#include "transport/http.h"

namespace phaedo::k8s {

// The Status reason of a failed call, recovered from its Error.
enum class ApiReason {
  none,
  already_exists,
  conflict,
  forbidden,
  unauthorized,
  gone,
  invalid,
  not_found,
  other
};
[[nodiscard]] ApiReason api_reason(const Error& error);
[[nodiscard]] inline bool is_conflict(const Error& e) {
  return api_reason(e) == ApiReason::conflict;
}
[[nodiscard]] inline bool is_already_exists(const Error& e) {
  return api_reason(e) == ApiReason::already_exists;
}
[[nodiscard]] inline bool is_forbidden(const Error& e) {
  return api_reason(e) == ApiReason::forbidden;
}

// Turns not_found into success: for teardown, where "already gone" is done.
[[nodiscard]] inline Status ignore_not_found(Status status) {
  if (!status && status.error().kind == ErrorKind::not_found) return {};
  return status;
}

struct Options {
  std::chrono::milliseconds request_timeout{30'000};
  transport::CancelCheck cancelled;  // e.g. &CancelToken::requested; empty = never
};

enum class Propagation { background, foreground, orphan };

class Client {
 public:
  // GET /version: is an API server there, which release. Errors as above (401 when
  // the credentials are refused: peer, api_reason unauthorized).
  static Result<Client> connect(transport::HttpClient& http, Options options = {});

  [[nodiscard]] const ServerVersion& server() const { return server_; }

  // --- nodes ------------------------------------------------------------------------
  Result<Node> get_node(const std::string& name);
  Result<NodeList> list_nodes(const Selector& selector = {});
  // Conditional merge patch (labels, taints) of a node; returns the node as written.
  // Conflict when the node changed since patch.resource_version was read.
  Result<Node> patch_node(const std::string& name, const NodePatch& patch);

  // --- leases ------------------------------------------------------------------------
  Result<Lease> get_lease(const std::string& namespace_, const std::string& name);
  // AlreadyExists when the name is taken: someone else acquired first.
  Result<Lease> create_lease(const Lease& lease);
  // PUT of the whole lease with lease.meta.resource_version (required);
  // Conflict when someone wrote since.
  Result<Lease> update_lease(const Lease& lease);
  // Every Lease in the namespace.
  Result<std::vector<Lease>> list_leases(const std::string& namespace_, const Selector& selector = {});
  // Conflict when a precondition no longer holds; not_found when already gone.
  Status delete_lease(const std::string& namespace_, const std::string& name, const Preconditions& pre = {});

  // --- namespaces ---------------------------------------------------------------------
  // AlreadyExists when taken.
  Result<Namespace> create_namespace(const std::string& name, const Labels& labels = {});
  Result<Namespace> get_namespace(const std::string& name);
  // Starts deletion (the namespace controller finishes it); not_found when gone.
  Status delete_namespace(const std::string& name);
  // Returns once the namespace no longer exists (a watch for its DELETED event,
  // re-checked by GET), or cancelled at `timeout`.
  Status wait_namespace_gone(const std::string& name, std::chrono::milliseconds timeout);

  // --- identities and RBAC --------------------------------------------------------------
  Status create_service_account(const std::string& namespace_, const std::string& name,
                                const Labels& labels = {});
  // Binding with meta.namespace_ → RoleBinding, else ClusterRoleBinding.
  Status create_binding(const Binding& binding);
  Status create_cluster_role(const ClusterRole& role);
  // invalid_input when expiration_seconds < 600 (the server would refuse it).
  Result<IssuedToken> request_token(const std::string& namespace_, const std::string& service_account,
                                    const TokenRequest& request);

  // --- config maps (what a job identity is tested with) ----------------------------------
  Result<ConfigMap> create_config_map(const ConfigMap& config_map);

  // --- pods ------------------------------------------------------------------------------
  // namespace_ empty: pods of every namespace (e.g. with fields "spec.nodeName=N").
  Result<std::vector<Pod>> list_pods(const std::string& namespace_, const Selector& selector = {});
  // grace: nullopt = the pod's own; 0 = immediately.
  Status delete_pod(const std::string& namespace_, const std::string& name,
                    std::optional<std::int64_t> grace_seconds = std::nullopt);

  // --- any kind by group/version/resource ---------------------------------------------------
  // namespace_ is ignored for cluster-scoped kinds and required for namespaced ones.
  Result<std::vector<ObjectMeta>> list_objects(const ResourceKind& kind, const Selector& selector,
                                               const std::string& namespace_ = {});
  Status delete_object(const ResourceKind& kind, const std::string& name, const std::string& namespace_ = {},
                       const Preconditions& pre = {}, Propagation propagation = Propagation::background);
  // Webhook configurations of `kind` (kMutating/kValidatingWebhookConfigurations).
  Result<std::vector<WebhookConfiguration>> list_webhook_configurations(const ResourceKind& kind,
                                                                       const Selector& selector = {});
  // The preferred version of an API group (GET /apis/<group>); "v1" for the core group "".
  // not_found when the server does not serve the group.
  Result<std::string> preferred_version(const std::string& group);
  // list_objects + delete_object of each; already-gone objects count as deleted.
  // Returns the names deleted.
  Result<std::vector<std::string>> delete_by_selector(const ResourceKind& kind, const Selector& selector,
                                                      const std::string& namespace_ = {});

 private:
  Client(transport::HttpClient& http, Options options, ServerVersion server)
      : http_(&http), options_(std::move(options)), server_(std::move(server)) {}

  [[nodiscard]] transport::HttpRequest request(transport::Method method, std::string path) const;
  [[nodiscard]] transport::HttpRequest json_request(transport::Method method, std::string path,
                                                    std::string body,
                                                    const char* content_type = "application/json") const;
  Result<transport::HttpResponse> send(const transport::HttpRequest& request);
  Status send_only(const transport::HttpRequest& request);
  template <typename T, typename Decode>
  Result<T> send_decoded(const transport::HttpRequest& request, Decode decode);

  transport::HttpClient* http_;
  Options options_;
  ServerVersion server_;
};

}  // namespace phaedo::k8s
