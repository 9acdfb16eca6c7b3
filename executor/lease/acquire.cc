// Prepare: wait for a healthy free node, take its Lease, then set the job up on it.
#include <algorithm>
#include <map>

#include "core/cancel.h"
#include "k8s/micro_time.h"
#include "lease/internal.h"
#include "lease/setup.h"

namespace phaedo::lease {
namespace {

using std::chrono::seconds;

std::string node_selector(const profile::KubernetesSettings& settings) {
  std::string out;
  for (const auto& kv : settings.node_selector) out += (out.empty() ? "" : ",") + kv;
  return out;
}

// Why a node cannot be used; empty when it can.
std::string unusable(const k8s::Node& node, const profile::KubernetesSettings& settings) {
  if (node.ready != k8s::ConditionStatus::true_) return "not Ready";
  if (node.unschedulable) return "cordoned";
  auto gpus = node.allocatable_count(settings.gpu_resource).value_or(0);
  if (gpus < settings.gpu_min) {
    return std::to_string(gpus) + " allocatable " + settings.gpu_resource + " < " + std::to_string(settings.gpu_min);
  }
  return {};
}

k8s::Lease fresh_lease(const profile::KubernetesSettings& settings, const k8s::Node& node) {
  k8s::Lease l;
  l.meta.name = node.meta.name;
  l.meta.namespace_ = settings.lease_namespace;
  return l;
}

// Fills `l` as held by `job` in phase acquiring.
void hold(k8s::Lease& l, const profile::KubernetesSettings& settings, const JobRef& job, const k8s::Node& node) {
  auto now = k8s::to_micro_time(std::chrono::system_clock::now());
  bool transition = l.spec.holder_identity.value_or("") != job.key;
  l.spec.holder_identity = job.key;
  l.spec.lease_duration_seconds = static_cast<std::int32_t>(settings.lease_duration.count());
  l.spec.acquire_time = now;
  if (transition) l.spec.lease_transitions = l.spec.lease_transitions.value_or(0) + 1;
  stamp(l, kPhaseAcquiring);
  l.meta.annotations[kHostAnnotation] = job.host;
  l.meta.annotations[kNamespaceAnnotation] = namespace_for(settings, job.key, node.meta.name);
  l.meta.annotations[kTaintKeyAnnotation] = settings.taint_key;
  l.meta.annotations[kGpuAnnotation] = std::to_string(node.allocatable_count(settings.gpu_resource).value_or(0));
  l.meta.annotations.erase(kReaperAnnotation);
}

enum class Try { won, lost };

// One attempt on one node; journaled before the write.
Result<Try> try_node(Api& api, const profile::KubernetesSettings& settings, const JobRef& job,
                     journal::Journal& journal, log::Logger& log, const k8s::Node& node,
                     std::optional<k8s::Lease> existing) {
  k8s::Lease l = existing ? *existing : fresh_lease(settings, node);
  if (existing && !holder_of(*existing).empty() && holder_of(*existing) != job.key) {
    // Expired holder: finish its teardown first, then take the released lease.
    auto released = finish_holder(api, settings, *existing, job.key, log);
    if (!released) {
      if (k8s::is_conflict(released.error())) return Try::lost;
      log.job(log::Level::warn, "could not finish the teardown of " + holder_of(*existing) + " on " +
                                    node.meta.name + ": " + released.error().message);
      return Try::lost;
    }
    if (!holder_of(*released).empty()) return Try::lost;  // someone else's now
    l = *released;
  }
  hold(l, settings, job, node);
  std::map<std::string, std::string> attrs{{"lease_namespace", settings.lease_namespace},
                                           {"namespace", l.meta.annotations[kNamespaceAnnotation]},
                                           {"gpu", l.meta.annotations[kGpuAnnotation]}};
  if (auto s = journal.intend("k8s-lease", node.meta.name, attrs); !s) return s.error();
  auto written = existing ? api->update_lease(l) : api->create_lease(l);
  if (!written) {
    if (k8s::is_conflict(written.error()) || k8s::is_already_exists(written.error())) {
      (void)journal.removed("k8s-lease", node.meta.name);
      return Try::lost;
    }
    return written.error();  // the write may have happened: the record stays for cleanup
  }
  if (auto s = journal.created("k8s-lease", node.meta.name); !s) return s.error();
  return Try::won;
}

struct Candidate {
  const k8s::Node* node;
  std::optional<k8s::Lease> lease;
  int rank;  // 0 ours already, 1 free, 2 released, 3 expired holder
};

}  // namespace

Result<Grant> acquire(const profile::KubernetesSettings& settings, const JobRef& job, journal::Journal& journal,
                      log::Logger& log) {
  if (!journal.live().empty()) {
    log.job(log::Level::info, "releasing the node lease of an earlier attempt");
    if (auto s = teardown(settings, job, journal, log); !s) return s.error();
  }
  auto api = connect(settings, true);
  if (!api) return api.error();
  const auto start = Clock::now();
  const auto deadline = start + settings.wait_timeout;
  auto next_report = start + seconds(12);
  std::string waiting_for;
  for (;;) {
    if (CancelToken::requested()) return make_error(ErrorKind::cancelled, "cancelled while waiting for a node");
    auto nodes = (*api)->list_nodes({node_selector(settings), ""});
    auto leases = (*api)->list_leases(settings.lease_namespace);
    std::vector<Candidate> candidates;
    std::vector<std::string> busy;
    if (nodes && leases) {
      std::map<std::string, const k8s::Lease*> by_node;
      for (const auto& l : *leases) by_node[l.meta.name] = &l;
      for (const auto& n : nodes->items) {
        if (auto why = unusable(n, settings); !why.empty()) {
          busy.push_back(n.meta.name + " " + why);
          continue;
        }
        auto it = by_node.find(n.meta.name);
        const k8s::Lease* l = it == by_node.end() ? nullptr : it->second;
        std::string holder = l == nullptr ? std::string() : holder_of(*l);
        auto left = l == nullptr ? std::nullopt : expires_in(*l);
        std::string foreign_taint;
        for (const auto& t : n.taints) {
          if (t.key == settings.taint_key && t.value != job.key && t.value != holder) foreign_taint = t.value;
        }
        if (!foreign_taint.empty()) {
          // A taint without a held lease: leave it to reap or the administrator.
          busy.push_back(n.meta.name + " tainted by " + foreign_taint + " without a lease");
        } else if (l == nullptr) {
          candidates.push_back({&n, std::nullopt, 1});
        } else if (holder == job.key) {
          candidates.push_back({&n, *l, 0});
        } else if (holder.empty()) {
          candidates.push_back({&n, *l, 2});
        } else if (left && *left < 0) {
          candidates.push_back({&n, *l, 3});
        } else {
          std::string held = "?";
          if (l->spec.acquire_time) {
            held = std::to_string(std::chrono::duration_cast<seconds>(
                                      k8s::to_micro_time(std::chrono::system_clock::now()) - *l->spec.acquire_time)
                                      .count());
          }
          busy.push_back(n.meta.name + " held by " + holder + " for " + held + " s (" +
                         annotation(*l, kPhaseAnnotation) + ", expires in " + (left ? std::to_string(*left) : "?") +
                         " s)");
        }
      }
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Candidate& a, const Candidate& b) { return a.rank < b.rank; });
      for (const auto& c : candidates) {
        auto got = try_node(*api, settings, job, journal, log, *c.node, c.lease);
        if (!got) return got.error();
        if (*got == Try::won) {
          auto waited = std::chrono::duration<double>(Clock::now() - start).count();
          log.job(log::Level::info, "leased node " + c.node->meta.name + " (waited " +
                                        std::to_string(static_cast<std::int64_t>(waited)) + " s)");
          return set_up(*api, settings, job, journal, log, *c.node);
        }
      }
      waiting_for = busy.empty() ? "no node matches the selector" : "";
      for (const auto& b : busy) waiting_for += (waiting_for.empty() ? "" : "; ") + b;
    } else {
      waiting_for = "API server: " + (nodes ? leases.error().message : nodes.error().message);
      if (CancelToken::requested()) continue;
    }
    if (Clock::now() >= deadline) {
      return make_error(ErrorKind::peer, "no GPU node became free within wait_timeout " +
                                             std::to_string(settings.wait_timeout.count()) + " s: " + waiting_for);
    }
    if (Clock::now() >= next_report) {
      log.job(log::Level::info, "waiting for a node: " + waiting_for);
      next_report = Clock::now() + seconds(12);
    }
    sleep_for(std::chrono::milliseconds(1000));
  }
}

}  // namespace phaedo::lease
