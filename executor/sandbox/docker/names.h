// The names and labels of one job's Docker objects, derived only from the
// profile and the job identity, so every stage (and a reaper) computes the same.
//
// Names embed the job key r<runner>-j<job>: unique per runner and job, so retries
// reuse them (and find leftovers) while concurrent jobs never collide.
#pragma once

#include <string>

#include "docker/types.h"
#include "protocol/job_identity.h"

namespace phaedo::sandbox::docker {

inline constexpr const char* kJobLabel = "phaedo.io/job";
inline constexpr const char* kRunnerLabel = "phaedo.io/runner";
inline constexpr const char* kExpiresLabel = "phaedo.io/expires";
inline constexpr const char* kCacheLabel = "phaedo.io/cache";
// "dockerscope" on objects a job made through its scoped Docker API (dockerscope/scope.h).
inline constexpr const char* kOriginLabel = "phaedo.io/origin";

// Journal record kinds, in creation order.
inline constexpr const char* kCgroupKind = "cgroup";  // the job's cgroup (job_cgroup.h), id: the key
inline constexpr const char* kNetworkKind = "network";
inline constexpr const char* kVolumeKind = "volume";
inline constexpr const char* kServiceKind = "service";  // a service container
inline constexpr const char* kContainerKind = "container";

struct Names {
  std::string key;        // r<runner>-j<job>
  std::string runner;     // the runner id
  std::string container;  // phaedo-<key>
  std::string network;    // phaedo-<key>
  std::string volume;     // phaedo-<key>-builds

  // The container of the job's service number `index` (0-based).
  [[nodiscard]] std::string service(std::size_t index) const { return container + "-svc" + std::to_string(index); }

  static Names of(const protocol::JobIdentity& id) {
    Names n;
    n.key = id.key();
    n.runner = id.runner_id;
    n.container = "phaedo-" + n.key;
    n.network = "phaedo-" + n.key;
    n.volume = "phaedo-" + n.key + "-builds";
    return n;
  }

  // The one name this job may have for an object of `kind`: a corrupt or foreign
  // journal is never followed to somebody else's object.
  [[nodiscard]] bool owns(const std::string& kind, const std::string& name) const {
    if (kind == kNetworkKind) return name == network;
    if (kind == kCgroupKind) return name == key;
    if (kind == kVolumeKind) return name == volume;
    if (kind == kContainerKind) return name == container;
    if (kind == kServiceKind) {
      const std::string prefix = container + "-svc";
      return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
             name.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
    }
    return false;
  }

  // Labels of every object of the job; `expires` is a unix time.
  [[nodiscard]] phaedo::docker::Labels labels(long long expires) const {
    return {{kJobLabel, key}, {kRunnerLabel, runner}, {kExpiresLabel, std::to_string(expires)}};
  }
  [[nodiscard]] phaedo::docker::LabelFilter filter() const { return {std::string(kJobLabel) + "=" + key}; }
};

}  // namespace phaedo::sandbox::docker
