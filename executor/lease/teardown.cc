// Teardown of one holder: cluster-scoped objects, namespace, pods, node health, taint,
// lease release. Every step is idempotent, so a crash anywhere is resumed by running
// the whole sequence again (cleanup, a retried prepare, a takeover or a reaper).
#include <filesystem>
#include <thread>

#include "k8s/micro_time.h"
#include "lease/internal.h"

namespace phaedo::lease {
namespace {

namespace fs = std::filesystem;

std::string job_selector(const std::string& key) { return std::string(kJobLabel) + "=" + key; }

Status record_step(journal::Journal* j, const std::string& step, bool done) {
  if (j == nullptr) return {};
  return done ? j->removed("k8s-teardown-step", step) : j->intend("k8s-teardown-step", step);
}

// Renews the lease while we work on it (only while it still names h.key), so that no
// one else starts tearing the same holder down. Best effort.
void touch(Api& api, const profile::KubernetesSettings& settings, const Holder& h) {
  auto lease = api->get_lease(settings.lease_namespace, h.node);
  if (!lease || holder_of(*lease) != h.key) return;
  lease->spec.renew_time = k8s::to_micro_time(std::chrono::system_clock::now());
  (void)api->update_lease(*lease);
}

Status delete_webhooks(Api& api, const Holder& h) {
  for (const auto& kind : {k8s::kMutatingWebhookConfigurations, k8s::kValidatingWebhookConfigurations}) {
    auto all = api->list_webhook_configurations(kind);
    if (!all) return all.error();
    for (const auto& w : *all) {
      bool labelled = w.meta.labels.count(kJobLabel) != 0 && w.meta.labels.at(kJobLabel) == h.key;
      bool calls_job = false;
      for (const auto& ns : w.service_namespaces) calls_job = calls_job || (!h.namespace_.empty() && ns == h.namespace_);
      if (!labelled && !calls_job) continue;
      if (auto s = k8s::ignore_not_found(api->delete_object(kind, w.meta.name)); !s) return s;
    }
  }
  return {};
}

Status delete_labelled_cluster_objects(Api& api, const profile::KubernetesSettings& settings, const Holder& h) {
  for (const auto& entry : settings.allowed_cluster_kinds) {
    auto slash = entry.find('/');
    if (slash == std::string::npos) return make_error(ErrorKind::invalid_input, "allowed_cluster_kinds: " + entry);
    std::string group = entry.substr(0, slash);
    auto version = api->preferred_version(group);
    if (!version) {
      if (version.error().kind == ErrorKind::not_found) continue;  // not served: nothing of it exists
      return version.error();
    }
    k8s::ResourceKind kind{group, *version, entry.substr(slash + 1), false};
    if (auto deleted = api->delete_by_selector(kind, {job_selector(h.key), ""}); !deleted) return deleted.error();
  }
  return {};
}

Status delete_identity(Api& api, const Holder& h) {
  std::string name = cluster_role_name(h.key);
  if (auto s = k8s::ignore_not_found(api->delete_object(k8s::kClusterRoleBindings, name)); !s) return s;
  return k8s::ignore_not_found(api->delete_object(k8s::kClusterRoles, name));
}

Status delete_namespace(Api& api, const Holder& h, Clock::time_point deadline) {
  if (h.namespace_.empty()) return {};
  auto ns = api->get_namespace(h.namespace_);
  if (!ns) return ns.error().kind == ErrorKind::not_found ? Status{} : Status{ns.error()};
  // Never delete a namespace that is not this job's (a template collision, a foreign name).
  auto label = ns->meta.labels.find(kJobLabel);
  if (label == ns->meta.labels.end() || label->second != h.key) {
    return make_error(ErrorKind::rejected, "namespace " + h.namespace_ + " does not carry " + job_selector(h.key));
  }
  if (auto s = k8s::ignore_not_found(api->delete_namespace(h.namespace_)); !s) return s;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (api->wait_namespace_gone(h.namespace_, std::min<std::chrono::milliseconds>(left, std::chrono::seconds(20)))) return {};
  // Pods whose node never confirms their end hold the namespace: end them now.
  auto pods = api->list_pods(h.namespace_);
  if (pods) {
    for (const auto& p : *pods) (void)k8s::ignore_not_found(api->delete_pod(h.namespace_, p.meta.name, 0));
  }
  left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return api->wait_namespace_gone(h.namespace_, std::max<std::chrono::milliseconds>(left, std::chrono::milliseconds(1)));
}

Status delete_pods_on_node(Api& api, const Holder& h) {
  auto pods = api->list_pods("", {job_selector(h.key), "spec.nodeName=" + h.node});
  if (!pods) return pods.error();
  for (const auto& p : *pods) {
    if (auto s = k8s::ignore_not_found(api->delete_pod(p.meta.namespace_, p.meta.name, 0)); !s) return s;
  }
  return {};
}

Status check_node(Api& api, const profile::KubernetesSettings& settings, const Holder& h) {
  // Someone else's node by now (taken over after expiry): not ours to judge.
  auto lease = api->get_lease(settings.lease_namespace, h.node);
  if (!lease) return lease.error().kind == ErrorKind::not_found ? Status{} : Status{lease.error()};
  if (holder_of(*lease) != h.key) return {};
  auto node = api->get_node(h.node);
  if (!node) return node.error();
  if (node->ready != k8s::ConditionStatus::true_) {
    return make_error(ErrorKind::peer, "node " + h.node + " is not Ready (" + node->ready_reason + ")");
  }
  if (h.gpu) {
    auto now = node->allocatable_count(settings.gpu_resource).value_or(-1);
    if (now != *h.gpu) {
      return make_error(ErrorKind::peer, "node " + h.node + " has " + std::to_string(now) + " allocatable " +
                                             settings.gpu_resource + ", " + std::to_string(*h.gpu) + " before the job");
    }
  }
  return {};
}

Status untaint(Api& api, const Holder& h) {
  for (;;) {
    auto node = api->get_node(h.node);
    if (!node) return node.error().kind == ErrorKind::not_found ? Status{} : Status{node.error()};
    k8s::NodePatch patch;
    patch.resource_version = node->meta.resource_version;
    std::vector<k8s::Taint> taints;
    bool changed = false;
    for (const auto& t : node->taints) {
      if (t.key == h.taint_key && t.value == h.key) {
        changed = true;
        continue;
      }
      taints.push_back(t);
    }
    if (changed) patch.taints = taints;
    auto label = node->meta.labels.find(h.taint_key);
    if (label != node->meta.labels.end() && label->second == h.key) {
      patch.labels[h.taint_key] = std::nullopt;
      changed = true;
    }
    if (!changed) return {};
    auto written = api->patch_node(h.node, patch);
    if (written) return {};
    if (!k8s::is_conflict(written.error())) return written.error();
  }
}

Status release_lease(Api& api, const profile::KubernetesSettings& settings, const Holder& h) {
  return update_own_lease(api, settings.lease_namespace, h.node, h.key, [](k8s::Lease& lease) {
    lease.spec.holder_identity.reset();
    stamp(lease, kPhaseReleased);
    lease.meta.annotations.erase(kNamespaceAnnotation);
    lease.meta.annotations.erase(kReaperAnnotation);
    return true;
  });
}

Status set_phase_teardown(Api& api, const profile::KubernetesSettings& settings, const Holder& h) {
  return update_own_lease(api, settings.lease_namespace, h.node, h.key, [](k8s::Lease& lease) {
    if (annotation(lease, kPhaseAnnotation) == kPhaseTeardown) return false;
    stamp(lease, kPhaseTeardown);
    return true;
  });
}

}  // namespace

Status teardown_holder(Api& api, const profile::KubernetesSettings& settings, const Holder& h,
                       Clock::time_point deadline, log::Logger& log, journal::Journal* journal) {
  struct Step {
    const char* name;
    std::function<Status()> run;
    bool node_level;
  };
  const std::vector<Step> steps = {
      {"phase-teardown", [&] { return set_phase_teardown(api, settings, h); }, true},
      {"webhook-configurations", [&] { return delete_webhooks(api, h); }, false},
      {"cluster-objects", [&] { return delete_labelled_cluster_objects(api, settings, h); }, false},
      {"cluster-role", [&] { return delete_identity(api, h); }, false},
      {"namespace", [&] { return delete_namespace(api, h, deadline); }, false},
      {"pods-on-node", [&] { return delete_pods_on_node(api, h); }, true},
      {"node-health", [&] { return check_node(api, settings, h); }, true},
      {"taint", [&] { return untaint(api, h); }, true},
      {"release", [&] { return release_lease(api, settings, h); }, true},
  };
  for (const auto& step : steps) {
    if (h.node.empty() && step.node_level) continue;
    if (auto s = record_step(journal, step.name, false); !s) return s;
    if (auto s = retry(deadline, log, std::string("teardown of ") + h.key + ": " + step.name, step.run); !s) {
      return s;
    }
    if (auto s = record_step(journal, step.name, true); !s) return s;
    if (!h.node.empty()) touch(api, settings, h);
  }
  log.admin(log::Level::info, "lease teardown complete", {{"holder", h.key}, {"node", h.node}});
  return {};
}

Result<k8s::Lease> finish_holder(Api& api, const profile::KubernetesSettings& settings, k8s::Lease lease,
                                 const std::string& me, log::Logger& log) {
  Holder h = holder_from(lease, settings);
  // Claim: from now on the lease looks fresh (phase teardown), so no one else starts.
  stamp(lease, kPhaseTeardown);
  lease.meta.annotations[kReaperAnnotation] = me;
  auto claimed = api->update_lease(lease);
  if (!claimed) return claimed.error();
  log.job(log::Level::info, "tearing down what " + h.key + " left on node " + h.node + " (its lease expired)");
  stop_renewers(h.key, log);
  auto deadline = Clock::now() + settings.teardown_timeout;
  if (auto s = teardown_holder(api, settings, h, deadline, log, nullptr); !s) return s.error();
  return api->get_lease(settings.lease_namespace, h.node);
}

Status teardown(const profile::KubernetesSettings& settings, const JobRef& job, journal::Journal& journal,
                log::Logger& log) {
  auto deadline = Clock::now() + settings.teardown_timeout;
  stop_renewers(job.key, log);
  for (const auto& r : journal.live()) {
    if (r.kind == "lease-renewer" || r.kind == "lease-renewer-pid") {
      if (auto s = journal.removed(r.kind, r.id); !s) return s;
    }
  }
  if (journal.live().empty()) return {};
  Result<Api> api = make_error(ErrorKind::io, "");
  for (;;) {  // the API server may be down right now
    api = connect(settings, false);
    if (api || Clock::now() + std::chrono::seconds(1) >= deadline) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (!api) return api.error();
  // One holder per lease record (normally one); without one, the job-scoped steps still run.
  std::vector<Holder> holders;
  for (const auto& r : journal.live()) {
    if (r.kind != "k8s-lease") continue;
    Holder h{job.key, r.id, r.attrs.count("namespace") ? r.attrs.at("namespace") : "", std::nullopt, settings.taint_key};
    if (r.attrs.count("gpu")) h.gpu = std::stoll(r.attrs.at("gpu"));
    holders.push_back(h);
  }
  if (holders.empty()) {
    Holder h{job.key, "", "", std::nullopt, settings.taint_key};
    if (const auto* ns = journal.find_live("k8s-namespace")) h.namespace_ = ns->id;
    holders.push_back(h);
  }
  for (const auto& h : holders) {
    if (auto s = teardown_holder(*api, settings, h, deadline, log, &journal); !s) return s;
  }
  for (const auto& r : journal.live()) {
    if (r.kind == "kubeconfig") {
      // Never follow a corrupt journal outside the driver's own kubeconfig directory.
      if (r.id.rfind(job.state_dir + "/kube/", 0) != 0 || r.id.find("..") != std::string::npos) {
        return make_error(ErrorKind::invalid_input, "journal names a foreign kubeconfig " + r.id);
      }
      std::error_code ec;
      fs::remove(r.id, ec);
      if (ec) return make_error(ErrorKind::io, "cannot remove " + r.id + ": " + ec.message());
    }
    if (auto s = journal.removed(r.kind, r.id); !s) return s;
  }
  return {};
}

}  // namespace phaedo::lease
