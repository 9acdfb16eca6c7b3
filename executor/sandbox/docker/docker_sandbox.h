// sandbox = "docker": each job runs in its own hardened container on its own
// bridge network, with a per-job builds volume, talking to the Docker Engine API
// over the profile's unix socket (docker/client.h).
//
// Journaled objects, in creation order: "network", "volume" (builds), one
// "service" per service container (phaedo-<key>-svc<N>, see services.h), "container"
// (name phaedo-<key>). Images are pulled as docker.pull_policy says, with
// credentials found as registry.h describes. All carry the labels phaedo.io/job, phaedo.io/runner and
// phaedo.io/expires; the shared cache volume (docker.cache_volume) is labelled
// phaedo.io/cache, never journaled and never removed.
//
// config(): builds_dir and cache_dir are paths inside the container.
// prepare(): tears down leftovers (journal and labels) first, so it is idempotent.
// run(): uploads the script into the builds volume (<builds_dir>/.phaedo/<n>/),
//   execs it through scripts::kRunScript with the profile's shell, streams
//   stdout/stderr to ours as it arrives; on CancelToken stops every job process in
//   the container (TERM, kill_grace, KILL) with a second exec.
// teardown(): the job's Docker API first (stopped, scope_proxy.h), the containers
//   the job made through it, the journal newest first, then the label backstop,
//   then the images the job built or tagged; retrying transient errors with
//   backoff on a fresh 30 s deadline; 404 counts as removed.
//
// docker.job_cgroup (job_cgroup.h): after the images, prepare journals and creates
// the job's cgroup and every container of the job gets it as its cgroup parent;
// teardown removes it after the containers.
//
// docker_api = "scoped": prepare starts the job's phaedo-dockerscope after the
// services and before the job container, which gets its socket directory bound at
// docker.api_socket_dir and DOCKER_HOST (and DOCKER_BUILDKIT=0) in its env.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "docker/client.h"
#include "protocol/job_response.h"
#include "sandbox/docker/names.h"
#include "sandbox/docker/services.h"
#include "sandbox/sandbox.h"
#include "transport/curl_http_client.h"

namespace phaedo::sandbox::docker {

class DockerSandbox final : public Sandbox {
 public:
  explicit DockerSandbox(const JobScope& scope);
  ~DockerSandbox() override;

  protocol::ConfigOutput config() const override;
  Status prepare(journal::Journal& journal) override;
  protocol::Outcome run(const std::string& script, const std::string& stage) override;
  TeardownReport teardown(journal::Journal& journal) override;

 private:
  enum class Cancellable { no, yes };
  // A client for the profile's socket; Cancellable::yes stops calls on CancelToken.
  // Connects (ping + version) on first use of each kind.
  Result<phaedo::docker::Client*> client(Cancellable cancellable);

  // Makes `image` present as docker.pull_policy says, pulling with the job's or
  // the profile's registry credentials (registry.h).
  Status ensure_image(phaedo::docker::Client& docker, const protocol::JobResponse& job, const std::string& image);
  Status create_services(phaedo::docker::Client& docker, journal::Journal& journal,
                         const std::vector<ServiceRequest>& services, long long expires);
  // Limits and hardening shared by the job and service containers.
  void harden(phaedo::docker::HostConfig& host) const;
  // The job's cgroup (job_cgroup.h) as docker.job_cgroup says; sets cgroup_parent_.
  Status create_job_cgroup(phaedo::docker::Client& docker, journal::Journal& journal);
  // Removes it once the job's containers are gone (teardown).
  void remove_job_cgroup(journal::Journal& journal, TeardownReport& report,
                         std::chrono::steady_clock::time_point deadline);
  Status create_network(phaedo::docker::Client& docker, journal::Journal& journal, long long expires);
  Status create_volume(phaedo::docker::Client& docker, journal::Journal& journal, long long expires);
  Status create_container(phaedo::docker::Client& docker, journal::Journal& journal, const std::string& image,
                          long long expires);
  phaedo::docker::ContainerSpec container_spec(const std::string& image, long long expires) const;

  // Removes one object of `kind` by name or id; not_found counts as done.
  Status remove_object(phaedo::docker::Client& docker, const std::string& kind, const std::string& name);
  // Stops every job process in the container after a cancel; never cancellable.
  void stop_processes(const std::string& container, const std::string& dir);
  // True when the container's memory cgroup recorded an OOM kill.
  bool oom_killed(phaedo::docker::Client& docker, const std::string& container);

  JobScope scope_;
  Names names_;
  std::string cgroup_parent_;  // HostConfig.CgroupParent of the job's containers; empty: none
  std::unique_ptr<transport::CurlHttpClient> http_;
  std::optional<phaedo::docker::Client> cancellable_;
  std::optional<phaedo::docker::Client> steady_;
};

}  // namespace phaedo::sandbox::docker
