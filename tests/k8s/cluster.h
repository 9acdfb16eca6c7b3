// Test fixture for a real loopback control plane (tests/cluster/up.sh).
//
// Once per test process, on first use: find the peer binaries (PHAEDO_K8S_BIN, else
// tests/peers/kubernetes/build.sh --check; under CI=true build.sh builds them), run
// up.sh, read its env file; a global environment runs down.sh at the end. With
// PHAEDO_CLUSTER_ENV set, that running cluster is used and left alone.
//
// No peers: tests skip, or fail when CI=true. Tokens from the env file are never
// printed.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "k8s/client.h"
#include "k8s/connection.h"
#include "transport/curl_http_client.h"

namespace phaedo::k8s::testing {

struct Cluster {
  std::map<std::string, std::string> env;  // the env file
  std::string dir;                         // to pass to down.sh; empty when not ours
  std::string problem;                     // why there is no cluster; empty when there is
  double up_seconds = 0;

  std::string at(const std::string& key) const {
    auto it = env.find(key);
    return it == env.end() ? std::string() : it->second;
  }
  static Cluster& get();
  static void stop();  // down.sh, if this process started the cluster
};

// A client over a fresh CurlHttpClient.
struct Connected {
  std::unique_ptr<transport::CurlHttpClient> http;
  std::optional<Client> client;
};
Result<Connected> connect(const Connection& connection);

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;

  const Cluster& cluster() { return Cluster::get(); }
  // The least-privilege driver identity, from driver.kubeconfig.
  Client& driver() { return *driver_.client; }
  // "t<pid>-<suffix>": names unique to this process.
  std::string name(const std::string& suffix) const;

  Connected driver_;
};

}  // namespace phaedo::k8s::testing
