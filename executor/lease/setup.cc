#include "lease/setup.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "journal/atomic_file.h"
#include "lease/internal.h"

namespace phaedo::lease {
namespace {

Status taint_node(Api& api, const profile::KubernetesSettings& settings, const JobRef& job,
                  const std::string& node) {
  for (;;) {
    auto n = api->get_node(node);
    if (!n) return n.error();
    k8s::Taint mine{settings.taint_key, job.key, "NoSchedule"};
    bool tainted = std::find(n->taints.begin(), n->taints.end(), mine) != n->taints.end();
    auto label = n->meta.labels.find(settings.taint_key);
    bool labelled = label != n->meta.labels.end() && label->second == job.key;
    if (tainted && labelled) return {};
    k8s::NodePatch patch;
    patch.resource_version = n->meta.resource_version;
    if (!tainted) {
      std::vector<k8s::Taint> taints = n->taints;
      taints.push_back(mine);
      patch.taints = taints;
    }
    patch.labels[settings.taint_key] = job.key;
    auto written = api->patch_node(node, patch);
    if (written) return {};
    if (!k8s::is_conflict(written.error())) return written.error();  // Conflict: re-read, re-apply
  }
}

Status allow_exists(Status s) {
  if (!s && k8s::is_already_exists(s.error())) return {};
  return s;
}

Status create_namespace(Api& api, const std::string& ns, const std::string& key, const std::string& node) {
  // phaedo.dev/node: what the cluster's job pod policy pins pods to (tests/cluster/manifests).
  auto created = api->create_namespace(ns, {{kJobLabel, key}, {kNodeLabel, node}});
  if (created) return {};
  if (!k8s::is_already_exists(created.error())) return created.error();
  auto existing = api->get_namespace(ns);
  if (!existing) return existing.error();
  auto label = existing->meta.labels.find(kJobLabel);
  if (label == existing->meta.labels.end() || label->second != key || existing->meta.deletion_timestamp) {
    return make_error(ErrorKind::peer, "namespace " + ns + " already exists and is not this job's (check namespace_template)");
  }
  return {};
}

Status create_identity(Api& api, const profile::KubernetesSettings& settings, const std::string& ns,
                       const std::string& key, journal::Journal& journal) {
  k8s::Labels labels{{kJobLabel, key}};
  if (auto s = allow_exists(api->create_service_account(ns, kServiceAccount, labels)); !s) return s;
  k8s::Binding admin;
  admin.meta.name = kAdminBinding;
  admin.meta.namespace_ = ns;
  admin.meta.labels = labels;
  admin.role_ref = {k8s::RoleKind::cluster_role, "admin"};
  admin.subjects = {{kServiceAccount, ns}};
  if (auto s = allow_exists(api->create_binding(admin)); !s) return s;
  if (settings.allowed_cluster_kinds.empty()) return {};
  k8s::ClusterRole role;
  role.meta.name = cluster_role_name(key);
  role.meta.labels = labels;
  for (const auto& entry : settings.allowed_cluster_kinds) {
    auto slash = entry.find('/');
    if (slash == std::string::npos) return make_error(ErrorKind::invalid_input, "allowed_cluster_kinds: " + entry);
    // No update/patch/delete: a job cannot touch other jobs' objects of these kinds;
    // teardown removes its own.
    role.rules.push_back({{entry.substr(0, slash)}, {entry.substr(slash + 1)}, {"get", "list", "watch", "create"}, {}});
  }
  if (auto s = journal.intend("k8s-clusterrole", role.meta.name); !s) return s;
  if (auto s = allow_exists(api->create_cluster_role(role)); !s) return s;
  if (auto s = journal.created("k8s-clusterrole", role.meta.name); !s) return s;
  k8s::Binding binding;
  binding.meta.name = role.meta.name;
  binding.meta.labels = labels;
  binding.role_ref = {k8s::RoleKind::cluster_role, role.meta.name};
  binding.subjects = {{kServiceAccount, ns}};
  if (auto s = journal.intend("k8s-clusterrolebinding", binding.meta.name); !s) return s;
  if (auto s = allow_exists(api->create_binding(binding)); !s) return s;
  return journal.created("k8s-clusterrolebinding", binding.meta.name);
}

Status set_active(Api& api, const profile::KubernetesSettings& settings, const JobRef& job, const std::string& node) {
  bool ours = false;
  auto s = update_own_lease(api, settings.lease_namespace, node, job.key, [&](k8s::Lease& lease) {
    ours = true;
    stamp(lease, kPhaseActive);
    return true;
  });
  if (s && !ours) return make_error(ErrorKind::peer, "lost the lease of node " + node + " before the job started");
  return s;
}

std::string standard_base64(std::string_view bytes) {
  std::string s = base64url_encode(bytes);
  std::replace(s.begin(), s.end(), '-', '+');
  std::replace(s.begin(), s.end(), '_', '/');
  return s;
}

}  // namespace

Status write_kubeconfig(const Api& api, const std::string& path, const std::string& token,
                        const std::string& namespace_, const std::string& key) {
  nlohmann::json cluster{{"server", api.connection.server}};
  std::string ca = api.connection.ca_pem;
  if (ca.empty() && !api.connection.ca_file.empty()) {
    auto read = journal::read_file(api.connection.ca_file);
    if (!read) return read.error();
    ca = *read;
  }
  if (!ca.empty()) cluster["certificate-authority-data"] = standard_base64(ca);
  if (api.connection.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
  nlohmann::json config{
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", {{{"name", "phaedo"}, {"cluster", cluster}}}},
      {"users", {{{"name", key}, {"user", {{"token", token}}}}}},
      {"contexts", {{{"name", key}, {"context", {{"cluster", "phaedo"}, {"user", key}, {"namespace", namespace_}}}}}},
      {"current-context", key}};
  return journal::write_file_atomically(path, config.dump(2) + "\n", journal::Durability::atomic);
}

Result<Grant> set_up(Api& api, const profile::KubernetesSettings& settings, const JobRef& job,
                     journal::Journal& journal, log::Logger& log, const k8s::Node& node) {
  const std::string& name = node.meta.name;
  const std::string ns = namespace_for(settings, job.key, name);
  // The renewer first: the steps below may take longer than the lease duration.
  if (auto s = journal.intend("lease-renewer", name, {{"holder", job.key}}); !s) return s.error();
  auto pid = spawn_renewer(job, name);
  if (!pid) return pid.error();
  if (auto s = journal.created("lease-renewer", name); !s) return s.error();
  if (auto s = journal.intend("lease-renewer-pid", std::to_string(*pid), {{"holder", job.key}}); !s) return s.error();
  if (auto s = journal.created("lease-renewer-pid", std::to_string(*pid)); !s) return s.error();

  auto deadline = Clock::now() + std::chrono::seconds(120);
  if (auto s = journal.intend("k8s-node-taint", name, {{"taint_key", settings.taint_key}}); !s) return s.error();
  if (auto s = retry(deadline, log, "taint node " + name, [&] { return taint_node(api, settings, job, name); }); !s)
    return s.error();
  if (auto s = journal.created("k8s-node-taint", name); !s) return s.error();

  if (auto s = journal.intend("k8s-namespace", ns); !s) return s.error();
  if (auto s = retry(deadline, log, "namespace " + ns, [&] { return create_namespace(api, ns, job.key, name); }); !s)
    return s.error();
  if (auto s = journal.created("k8s-namespace", ns); !s) return s.error();
  if (auto s = retry(deadline, log, "job identity", [&] { return create_identity(api, settings, ns, job.key, journal); });
      !s)
    return s.error();

  std::int64_t timeout = job.timeout_seconds > 0 ? job.timeout_seconds : 3600;
  k8s::TokenRequest request{{}, std::max<std::int64_t>(600, timeout + 600)};
  Result<k8s::IssuedToken> token = make_error(ErrorKind::internal, "no token");
  if (auto s = retry(deadline, log, "token",
                     [&]() -> Status {
                       token = api->request_token(ns, kServiceAccount, request);
                       return token ? Status{} : Status{token.error()};
                     });
      !s)
    return s.error();
  log.redactor().add(token->token);

  const std::string dir = job.state_dir + "/kube";
  ::mkdir(job.state_dir.c_str(), 0700);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error(ErrorKind::io, "cannot create " + dir + ": " + std::strerror(errno));
  }
  const std::string path = dir + "/" + job.key + ".kubeconfig";
  if (auto s = journal.intend("kubeconfig", path); !s) return s.error();
  if (auto s = write_kubeconfig(api, path, token->token, ns, job.key); !s) return s.error();
  if (auto s = journal.created("kubeconfig", path); !s) return s.error();

  if (auto s = retry(deadline, log, "lease phase", [&] { return set_active(api, settings, job, name); }); !s)
    return s.error();
  log.job(log::Level::info, "node " + name + " is this job's: namespace " + ns + ", KUBECONFIG " + path);
  return Grant{name, ns, path};
}

}  // namespace phaedo::lease
