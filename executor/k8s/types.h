// Typed Kubernetes API objects: only the fields the node lease reads or writes.
// No JSON here; k8s/codec.cc converts.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace phaedo::k8s {

using Labels = std::map<std::string, std::string>;

// metav1.MicroTime: RFC 3339 UTC with exactly six fractional digits on the wire
// (see micro_time.h).
using MicroTime = std::chrono::sys_time<std::chrono::microseconds>;

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects
  std::string uid;
  std::string resource_version;  // opaque: compare for equality only
  Labels labels;
  Labels annotations;
  std::string creation_timestamp;                 // RFC 3339, as the server wrote it
  std::optional<std::string> deletion_timestamp;  // set while the object is being deleted
};

// Label and field selectors of list and delete calls, in the API's own syntax
// ("a=b,c!=d"); empty = no selection.
struct Selector {
  std::string labels;
  std::string fields;
};

// --- nodes -----------------------------------------------------------------------------

struct Taint {
  std::string key;
  std::string value;   // may be empty
  std::string effect;  // NoSchedule, PreferNoSchedule or NoExecute
  bool operator==(const Taint&) const = default;
};

enum class ConditionStatus { true_, false_, unknown };

struct Node {
  ObjectMeta meta;
  std::vector<Taint> taints;
  bool unschedulable = false;
  // Quantities as the server wrote them ("8", "32", "256Gi", "500m"), by resource name;
  // extended resources such as nvidia.com/gpu included.
  std::map<std::string, std::string> capacity;
  std::map<std::string, std::string> allocatable;
  ConditionStatus ready = ConditionStatus::unknown;  // the Ready condition; unknown when absent
  std::string ready_reason;

  // An integral quantity of `resource` in allocatable ("8" → 8, "2k" → 2000);
  // nullopt when absent, fractional or not a plain integer quantity.
  [[nodiscard]] std::optional<std::int64_t> allocatable_count(const std::string& resource) const;
};

struct NodeList {
  std::vector<Node> items;
  std::string resource_version;  // of the list, for a later watch
};

// A conditional merge patch of a node's labels and taints. The server applies it only
// when the node's resourceVersion still equals `resource_version` (else 409 Conflict).
struct NodePatch {
  std::string resource_version;  // required: what the caller read
  // Labels to set (a value) or remove (nullopt); labels not named stay.
  std::map<std::string, std::optional<std::string>> labels;
  // The node's complete new taint list (taints have no merge key: the list is
  // replaced); nullopt leaves the taints alone.
  std::optional<std::vector<Taint>> taints;
};

// --- leases (coordination.k8s.io/v1) -------------------------------------------------------

struct LeaseSpec {
  std::optional<std::string> holder_identity;
  std::optional<std::int32_t> lease_duration_seconds;
  std::optional<MicroTime> acquire_time;
  std::optional<MicroTime> renew_time;
  std::optional<std::int32_t> lease_transitions;
};

struct Lease {
  ObjectMeta meta;  // name and namespace_ required; resource_version required for update
  LeaseSpec spec;
};

// DeleteOptions.preconditions: the delete happens only if these still match (else 409).
struct Preconditions {
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
};

// --- namespaces, identities, RBAC ---------------------------------------------------------

struct Namespace {
  ObjectMeta meta;
  std::string phase;  // "Active" or "Terminating"
};

struct PolicyRule {
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> verbs;
  std::vector<std::string> resource_names;  // empty = all
};

struct ClusterRole {
  ObjectMeta meta;  // name, labels
  std::vector<PolicyRule> rules;
};

enum class RoleKind { role, cluster_role };

struct RoleRef {
  RoleKind kind = RoleKind::cluster_role;
  std::string name;
};

struct ServiceAccountSubject {
  std::string name;
  std::string namespace_;
};

// A RoleBinding (meta.namespace_ set) or a ClusterRoleBinding (meta.namespace_ empty;
// role_ref must then name a ClusterRole).
struct Binding {
  ObjectMeta meta;
  RoleRef role_ref;
  std::vector<ServiceAccountSubject> subjects;
};

struct TokenRequest {
  std::vector<std::string> audiences;      // empty: the API server's own audience
  std::int64_t expiration_seconds = 3600;  // the server refuses < 600
};

struct IssuedToken {
  std::string token;                                 // a secret: never log it
  std::chrono::system_clock::time_point expiration;  // what the server granted
};

struct ConfigMap {
  ObjectMeta meta;
  std::map<std::string, std::string> data;
};

// --- pods and generic objects ---------------------------------------------------------------

struct Pod {
  ObjectMeta meta;
  std::string node_name;  // spec.nodeName; empty until scheduled
  std::string phase;      // status.phase
};

// A kind addressed by group/version/resource, e.g. {"admissionregistration.k8s.io",
// "v1", "mutatingwebhookconfigurations"}; group "" is the core API.
struct ResourceKind {
  std::string group;
  std::string version;
  std::string resource;
  bool namespaced = false;
  bool operator==(const ResourceKind&) const = default;
};

inline const ResourceKind kMutatingWebhookConfigurations{"admissionregistration.k8s.io", "v1",
                                                         "mutatingwebhookconfigurations"};
inline const ResourceKind kValidatingWebhookConfigurations{"admissionregistration.k8s.io", "v1",
                                                           "validatingwebhookconfigurations"};
inline const ResourceKind kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
inline const ResourceKind kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"};

// A Mutating- or ValidatingWebhookConfiguration: only what teardown needs to decide
// whether it belongs to a job (its labels, and the namespaces of the services its
// webhooks call).
struct WebhookConfiguration {
  ObjectMeta meta;
  std::vector<std::string> service_namespaces;  // webhooks[].clientConfig.service.namespace
};

struct ServerVersion {
  std::string major;
  std::string minor;
  std::string git_version;  // "v1.36.3"
};

}  // namespace phaedo::k8s
