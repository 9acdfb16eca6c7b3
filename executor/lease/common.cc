// Connection, retries, lease field helpers, the script's environment.
#include <poll.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/cancel.h"
#include "core/clock.h"
#include "k8s/micro_time.h"
#include "lease/internal.h"

namespace phaedo::lease {

Result<Api> connect(const profile::KubernetesSettings& settings, bool cancellable) {
  Api api;
  Result<k8s::Connection> conn = settings.in_cluster ? k8s::in_cluster()
                                                      : k8s::load_kubeconfig(settings.kubeconfig, settings.context);
  if (!conn) return conn.error().context("kubernetes: ");
  api.connection = std::move(*conn);
  auto http = k8s::make_http_client(api.connection);
  if (!http) return http.error().context("kubernetes: ");
  api.http = std::move(*http);
  k8s::Options options;
  options.request_timeout = std::chrono::milliseconds(10'000);
  if (cancellable) options.cancelled = [] { return CancelToken::requested(); };
  auto client = k8s::Client::connect(*api.http, options);
  if (!client) return client.error().context("kubernetes API " + api.connection.server + ": ");
  api.client.emplace(std::move(*client));
  return api;
}

namespace {
bool retryable(const Error& e) {
  if (e.kind == ErrorKind::invalid_input || e.kind == ErrorKind::rejected || e.kind == ErrorKind::internal)
    return false;
  if (e.kind == ErrorKind::cancelled && CancelToken::requested()) return false;
  auto reason = k8s::api_reason(e);
  return reason != k8s::ApiReason::forbidden && reason != k8s::ApiReason::unauthorized &&
         reason != k8s::ApiReason::invalid;
}
}  // namespace

bool sleep_for(std::chrono::milliseconds d) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  auto jitter = std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(1, d.count() / 4))(rng);
  auto until = Clock::now() + d + std::chrono::milliseconds(jitter);
  while (Clock::now() < until) {
    if (CancelToken::requested()) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd pfd{CancelToken::fd(), POLLIN, 0};
    ::poll(&pfd, CancelToken::fd() >= 0 ? 1 : 0, static_cast<int>(std::clamp<std::int64_t>(left, 1, 200)));
  }
  return !CancelToken::requested();
}

Status retry(Clock::time_point deadline, log::Logger& log, const std::string& what,
             const std::function<Status()>& fn) {
  std::chrono::milliseconds backoff{200};
  int attempt = 0;
  for (;;) {
    Status s = fn();
    if (s) return s;
    ++attempt;
    if (!retryable(s.error()) || Clock::now() + backoff >= deadline) return s.error().context(what + ": ");
    if (attempt == 1 || attempt % 5 == 0) {
      log.admin(log::Level::warn, what + ": retrying", {{"attempt", std::to_string(attempt)}, {"error", s.error().message}});
    }
    // Teardown retries must not stop at a signal: sleep plainly.
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::milliseconds(5000));
  }
}

std::string utc_now() { return utc_now_string(); }

std::string annotation(const k8s::Lease& lease, const char* key) {
  auto it = lease.meta.annotations.find(key);
  return it == lease.meta.annotations.end() ? std::string() : it->second;
}

std::string holder_of(const k8s::Lease& lease) { return lease.spec.holder_identity.value_or(""); }

std::optional<std::int64_t> expires_in(const k8s::Lease& lease) {
  if (!lease.spec.renew_time) return std::nullopt;
  auto duration = std::chrono::seconds(lease.spec.lease_duration_seconds.value_or(0));
  auto end = *lease.spec.renew_time + duration;
  auto now = k8s::to_micro_time(std::chrono::system_clock::now());
  return std::chrono::duration_cast<std::chrono::seconds>(end - now).count();
}

std::string namespace_for(const profile::KubernetesSettings& settings, const std::string& key,
                          const std::string& node) {
  std::string out = settings.namespace_template;
  for (auto [token, value] : {std::pair<std::string, std::string>{"{job}", key}, {"{node}", node}}) {
    for (auto pos = out.find(token); pos != std::string::npos; pos = out.find(token, pos + value.size())) {
      out.replace(pos, token.size(), value);
    }
  }
  return out;
}

std::string cluster_role_name(const std::string& key) { return "phaedo-job-" + key; }

void stamp(k8s::Lease& lease, const char* phase) {
  auto now = k8s::to_micro_time(std::chrono::system_clock::now());
  lease.meta.annotations[kPhaseAnnotation] = phase;
  lease.meta.annotations[kSinceAnnotation] = utc_now();
  lease.spec.renew_time = now;
}

Status update_own_lease(Api& api, const std::string& lease_namespace, const std::string& node,
                        const std::string& holder, const std::function<bool(k8s::Lease&)>& change) {
  for (;;) {
    auto lease = api->get_lease(lease_namespace, node);
    if (!lease) return lease.error().kind == ErrorKind::not_found ? Status{} : Status{lease.error()};
    if (holder_of(*lease) != holder || !change(*lease)) return {};
    auto written = api->update_lease(*lease);
    if (written) return {};
    if (!k8s::is_conflict(written.error())) return written.error();
  }
}

Holder holder_from(const k8s::Lease& lease, const profile::KubernetesSettings& settings) {
  Holder h;
  h.key = holder_of(lease);
  h.node = lease.meta.name;
  h.namespace_ = annotation(lease, kNamespaceAnnotation);
  h.taint_key = annotation(lease, kTaintKeyAnnotation);
  if (h.taint_key.empty()) h.taint_key = settings.taint_key;
  std::string gpu = annotation(lease, kGpuAnnotation);
  std::int64_t n = 0;
  if (!gpu.empty() && std::from_chars(gpu.data(), gpu.data() + gpu.size(), n).ec == std::errc{}) h.gpu = n;
  return h;
}

std::string journal_root(const std::string& state_dir) { return state_dir + "/lease"; }

std::map<std::string, std::string> script_env(const Grant& grant, const profile::KubernetesSettings& settings,
                                              const std::string& key) {
  nlohmann::json toleration{
      {"key", settings.taint_key}, {"operator", "Equal"}, {"value", key}, {"effect", "NoSchedule"}};
  nlohmann::json selector{{settings.taint_key, key}};
  return {{"KUBECONFIG", grant.kubeconfig},
          {"PHAEDO_LEASE_NODE", grant.node},
          {"PHAEDO_LEASE_JOB", key},
          {"PHAEDO_LEASE_NAMESPACE", grant.namespace_},
          {"PHAEDO_LEASE_TOLERATION", toleration.dump()},
          {"PHAEDO_LEASE_NODE_SELECTOR", selector.dump()}};
}

Result<Grant> granted(const journal::Journal& journal) {
  const journal::Record* lease = nullptr;
  const journal::Record* kubeconfig = nullptr;
  for (const auto& r : journal.records()) {
    if (r.phase != journal::Phase::created) continue;
    if (r.kind == "k8s-lease") lease = &r;
    if (r.kind == "kubeconfig") kubeconfig = &r;
  }
  if (lease == nullptr || kubeconfig == nullptr) {
    return make_error(ErrorKind::not_found, "job " + journal.key() + " holds no node lease (prepare did not finish)");
  }
  auto ns = lease->attrs.find("namespace");
  return Grant{lease->id, ns == lease->attrs.end() ? std::string() : ns->second, kubeconfig->id};
}

}  // namespace phaedo::lease
