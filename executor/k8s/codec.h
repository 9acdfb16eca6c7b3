// JSON ⇄ typed structs for the Kubernetes API. The only k8s/ file that knows JSON
// (codec.cc); the interface is strings in, structs out.
//
// Decoders return ErrorKind::peer naming the field at fault; callers add which
// request it was. Unknown fields are ignored; missing optional fields keep defaults.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "k8s/client.h"
#include "k8s/types.h"

namespace phaedo::k8s::codec {

// The reason and message of a metav1.Status error answer; for a body that is not a
// Status, reason "" and the body's first line (shortened).
struct StatusInfo {
  std::string reason;  // "AlreadyExists", "Conflict", "Forbidden", …
  std::string message;
};
StatusInfo decode_status(std::string_view body);

Result<ServerVersion> decode_version(std::string_view body);

Result<Node> decode_node(std::string_view body);
Result<NodeList> decode_node_list(std::string_view body);
std::string encode_node_patch(const NodePatch& patch);

std::string encode_lease(const Lease& lease);
Result<Lease> decode_lease(std::string_view body);
Result<std::vector<Lease>> decode_lease_list(std::string_view body);

std::string encode_delete_options(const Preconditions& pre, Propagation propagation,
                                  std::optional<std::int64_t> grace_seconds);

std::string encode_namespace(const std::string& name, const Labels& labels);
Result<Namespace> decode_namespace(std::string_view body);

// One line of a watch stream.
struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  ObjectMeta meta;   // of the object (empty for ERROR)
  long code = 0;     // ERROR: the Status code (410 = resourceVersion too old)
  std::string message;
};
Result<WatchEvent> decode_watch_event(std::string_view line);

std::string encode_service_account(const std::string& namespace_, const std::string& name,
                                   const Labels& labels);
std::string encode_binding(const Binding& binding);
std::string encode_cluster_role(const ClusterRole& role);
std::string encode_token_request(const TokenRequest& request);
Result<IssuedToken> decode_token_request(std::string_view body);

std::string encode_config_map(const ConfigMap& config_map);
Result<ConfigMap> decode_config_map(std::string_view body);

Result<std::vector<Pod>> decode_pod_list(std::string_view body);
Result<std::vector<ObjectMeta>> decode_object_list(std::string_view body);
Result<std::vector<WebhookConfiguration>> decode_webhook_list(std::string_view body);
// An APIGroup answer: its preferredVersion.version.
Result<std::string> decode_api_group(std::string_view body);

}  // namespace phaedo::k8s::codec
