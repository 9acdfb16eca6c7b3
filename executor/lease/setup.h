// After the lease is won: renewer, node taint and label, namespace, identity, token,
// kubeconfig, phase active. Each object journaled before it is created. Private to lease/.
#pragma once

#include "lease/internal.h"

namespace phaedo::lease {

Result<Grant> set_up(Api& api, const profile::KubernetesSettings& settings, const JobRef& job,
                     journal::Journal& journal, log::Logger& log, const k8s::Node& node);

// Writes the job's kubeconfig (0600): the API server and CA of `api`, the token, the
// job namespace as default.
Status write_kubeconfig(const Api& api, const std::string& path, const std::string& token,
                        const std::string& namespace_, const std::string& key);

}  // namespace phaedo::lease
