// Test fixture for the real Docker daemon at /var/run/docker.sock.
//
// Once per process: connect through CurlHttpClient, negotiate, and make sure the
// offline test image exists (a busybox-static rootfs imported through the client's
// own import_image, reused when already present). Each test process has a run id;
// everything a test creates is named "<run id>-…" and labelled
// phaedo.io/test=<run id>, and TearDown removes exactly that.
//
// No daemon: tests skip, or fail when the environment has CI=true.
// PHAEDO_TEST_DOCKER_SOCKET overrides the socket path (e.g. to check that rule).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "docker/client.h"
#include "transport/curl_http_client.h"

namespace phaedo::docker::testing {

inline constexpr const char* kDefaultSocket = "/var/run/docker.sock";
inline constexpr const char* kImage = "phaedo-test/busybox:1";
inline constexpr const char* kTestLabel = "phaedo.io/test";

// What the process-wide setup produced.
struct Daemon {
  std::unique_ptr<transport::CurlHttpClient> http;
  std::optional<Client> client;
  std::string run_id;
  std::string problem;  // why the daemon cannot be used; empty when it can

  static Daemon& get();
};

struct Captured {
  std::string out;
  std::string err;
  int exit_code = -1;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  Client& docker() { return *Daemon::get().client; }
  transport::HttpClient& http() { return *Daemon::get().http; }
  const std::string& run_id() { return Daemon::get().run_id; }
  // "<run id>-<suffix>"
  std::string name(const std::string& suffix) { return run_id() + "-" + suffix; }
  Labels labels() { return {{kTestLabel, run_id()}}; }
  LabelFilter label_filter() { return {std::string(kTestLabel) + "=" + run_id()}; }

  // A labelled container of the test image running `sleep 600`, started.
  ContainerSpec sleeper_spec(const std::string& suffix);
  std::string start(const ContainerSpec& spec);
  std::string start_sleeper(const std::string& suffix) { return start(sleeper_spec(suffix)); }
  // Runs `sh -c script` in the container, capturing both streams.
  Captured sh(const std::string& container, const std::string& script);
};

}  // namespace phaedo::docker::testing
