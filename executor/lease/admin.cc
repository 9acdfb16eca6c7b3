// phaedo-admin's view of the leases: list, reap expired ones, force-release one.
#include <unistd.h>

#include <map>

#include "lease/internal.h"

namespace phaedo::lease {
namespace {

// Taints of taint_key on nodes whose lease does not name that holder: a job that lost
// its lease record (deleted by hand). Returns node → holder. The leases are read after
// the nodes: a holder creates its lease before it taints and untaints before it
// releases, so a live job's taint is never mistaken for an orphan.
std::map<std::string, std::string> orphan_taints(Api& api, const profile::KubernetesSettings& settings) {
  std::map<std::string, std::string> out;
  auto nodes = api->list_nodes();
  if (!nodes) return out;
  auto leases = api->list_leases(settings.lease_namespace);
  if (!leases) return out;
  std::map<std::string, std::string> holders;
  for (const auto& l : *leases) holders[l.meta.name] = holder_of(l);
  for (const auto& n : nodes->items) {
    for (const auto& t : n.taints) {
      if (t.key == settings.taint_key && holders[n.meta.name] != t.value) out[n.meta.name] = t.value;
    }
  }
  return out;
}

Status teardown_orphan(Api& api, const profile::KubernetesSettings& settings, const std::string& node,
                       const std::string& holder, log::Logger& log) {
  Holder h{holder, node, namespace_for(settings, holder, node), std::nullopt, settings.taint_key};
  return teardown_holder(api, settings, h, Clock::now() + settings.teardown_timeout, log, nullptr);
}

}  // namespace

Result<std::vector<LeaseRow>> list(const profile::KubernetesSettings& settings) {
  auto api = connect(settings, true);
  if (!api) return api.error();
  auto leases = (*api)->list_leases(settings.lease_namespace);
  if (!leases) return leases.error();
  std::vector<LeaseRow> rows;
  for (const auto& l : *leases) {
    LeaseRow r;
    r.node = l.meta.name;
    r.holder = holder_of(l);
    r.phase = annotation(l, kPhaseAnnotation);
    r.since = annotation(l, kSinceAnnotation);
    r.namespace_ = annotation(l, kNamespaceAnnotation);
    r.host = annotation(l, kHostAnnotation);
    if (!r.holder.empty()) r.expires_in = expires_in(l);
    rows.push_back(std::move(r));
  }
  return rows;
}

Result<std::string> check(const profile::KubernetesSettings& settings) {
  auto api = connect(settings, true);
  if (!api) return api.error();
  std::string selector;
  for (const auto& kv : settings.node_selector) selector += (selector.empty() ? "" : ",") + kv;
  auto nodes = (*api)->list_nodes({selector, ""});
  if (!nodes) return nodes.error();
  auto leases = (*api)->list_leases(settings.lease_namespace);
  if (!leases) return leases.error();
  std::size_t held = 0;
  for (const auto& l : *leases) held += holder_of(l).empty() ? 0 : 1;
  return (*api)->server().git_version + ": " + std::to_string(nodes->items.size()) + " candidate node(s), " +
         std::to_string(held) + " held";
}

Result<ReapResult> reap(const profile::KubernetesSettings& settings, const std::string& me, log::Logger& log) {
  auto api = connect(settings, true);
  if (!api) return api.error();
  auto leases = (*api)->list_leases(settings.lease_namespace);
  if (!leases) return leases.error();
  ReapResult out;
  for (const auto& l : *leases) {
    std::string holder = holder_of(l);
    if (holder.empty()) continue;
    auto left = expires_in(l);
    if (!left || *left >= 0) {
      out.skipped.push_back(l.meta.name + ": held by " + holder + " (live)");
      continue;
    }
    log.set_field("job", holder);
    auto released = finish_holder(*api, settings, l, me, log);
    if (!released) {
      if (k8s::is_conflict(released.error())) {
        out.skipped.push_back(l.meta.name + ": someone else is working on it");
      } else {
        out.failed.push_back(l.meta.name + ": " + released.error().message);
      }
      continue;
    }
    out.reaped.push_back(l.meta.name + " (" + holder + ")");
  }
  for (const auto& [node, holder] : orphan_taints(*api, settings)) {
    if (auto s = teardown_orphan(*api, settings, node, holder, log); !s) {
      out.failed.push_back(node + ": taint of " + holder + ": " + s.error().message);
    } else {
      out.reaped.push_back(node + " (" + holder + ", taint without lease)");
    }
  }
  return out;
}

Status release(const profile::KubernetesSettings& settings, const std::string& node, const std::string& me,
               log::Logger& log) {
  auto api = connect(settings, false);
  if (!api) return api.error();
  for (;;) {
    auto lease = (*api)->get_lease(settings.lease_namespace, node);
    if (!lease && lease.error().kind != ErrorKind::not_found) return lease.error();
    if (!lease || holder_of(*lease).empty()) {
      auto orphans = orphan_taints(*api, settings);
      auto it = orphans.find(node);
      if (it == orphans.end()) return {};  // nothing held
      return teardown_orphan(*api, settings, node, it->second, log);
    }
    auto released = finish_holder(*api, settings, *lease, me, log);
    if (released) return {};
    if (!k8s::is_conflict(released.error())) return released.error();
  }
}

}  // namespace phaedo::lease
