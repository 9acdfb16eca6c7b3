// Shared by the lease's .cc files: the API connection owner, deadlines with retries,
// and the view of a holder that teardown works from. Private to lease/.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "journal/journal.h"
#include "k8s/client.h"
#include "k8s/connection.h"
#include "lease/lease.h"
#include "log/logger.h"
#include "profile/profile.h"
#include "transport/curl_http_client.h"

namespace phaedo::lease {

using Clock = std::chrono::steady_clock;

// Move-only owner of the driver's connection and a client over it.
struct Api {
  k8s::Connection connection;  // holds the driver's secrets: never log it
  std::unique_ptr<transport::CurlHttpClient> http;
  std::optional<k8s::Client> client;
  k8s::Client* operator->() { return &*client; }
};

// cancellable: API calls end early when CancelToken fires (prepare's wait); teardown
// passes false so that a cancelled job is still cleaned up.
Result<Api> connect(const profile::KubernetesSettings& settings, bool cancellable);

// Calls fn until it succeeds, a non-retryable error comes back (invalid_input,
// forbidden, rejected) or `deadline` passes; backoff 200 ms doubling to 5 s with jitter.
// API server errors, timeouts and unreachable servers are retried.
Status retry(Clock::time_point deadline, log::Logger& log, const std::string& what,
             const std::function<Status()>& fn);

// Sleeps `d` (with up to 25% jitter added), returning early (false) when CancelToken fires.
bool sleep_for(std::chrono::milliseconds d);

std::string utc_now();
std::string annotation(const k8s::Lease& lease, const char* key);
std::string holder_of(const k8s::Lease& lease);
// Seconds until the lease expires (negative: expired); nullopt when it has no renewTime.
std::optional<std::int64_t> expires_in(const k8s::Lease& lease);
std::string namespace_for(const profile::KubernetesSettings& settings, const std::string& key,
                          const std::string& node);
std::string cluster_role_name(const std::string& key);  // phaedo-job-<key>
inline constexpr const char* kServiceAccount = "phaedo-job";
inline constexpr const char* kAdminBinding = "phaedo-job-admin";

// Read-modify-write of the lease of `node` while it names `holder`: `change` edits it
// (returns false when there is nothing to do); Conflict → re-read and re-decide. Done
// (nothing written) when the lease is gone or names someone else.
Status update_own_lease(Api& api, const std::string& lease_namespace, const std::string& node,
                        const std::string& holder, const std::function<bool(k8s::Lease&)>& change);

// Sets holder/phase fields for a phase change and stamps since/renewTime.
void stamp(k8s::Lease& lease, const char* phase);

// A holder to tear down, from the journal (cleanup) or a Lease's annotations (takeover,
// reap, release).
struct Holder {
  std::string key;
  std::string node;
  std::string namespace_;
  std::optional<std::int64_t> gpu;  // allocatable GPUs at acquire
  std::string taint_key;
};
Holder holder_from(const k8s::Lease& lease, const profile::KubernetesSettings& settings);

// The teardown steps for `h` (see lease.h), each idempotent and retried until
// `deadline`. Node-level steps (health, taint, release) act only while the lease still
// names h.key (or the taint carries h.key). journal: progress records, may be null.
Status teardown_holder(Api& api, const profile::KubernetesSettings& settings, const Holder& h,
                       Clock::time_point deadline, log::Logger& log, journal::Journal* journal);

// Takeover/reap/release: claims an expired (or, forced, any) held lease for teardown,
// tears its holder down, releases it. Returns the released lease (for a takeover's
// update) or Conflict when someone else got there first.
Result<k8s::Lease> finish_holder(Api& api, const profile::KubernetesSettings& settings, k8s::Lease lease,
                                 const std::string& me, log::Logger& log);

// Renewer processes of `holder` on this host: stops them (TERM, then KILL after 2 s).
void stop_renewers(const std::string& holder, log::Logger& log);
// Starts a detached `phaedo-admin --profile P lease-renew --node N --holder K`.
Result<pid_t> spawn_renewer(const JobRef& job, const std::string& node);

}  // namespace phaedo::lease
