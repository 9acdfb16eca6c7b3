// DockerSandbox: construction, config() and the daemon connection.
#include "sandbox/docker/docker_sandbox.h"

#include "core/cancel.h"

namespace phaedo::sandbox::docker {

DockerSandbox::DockerSandbox(const JobScope& scope) : scope_(scope), names_(Names::of(scope.id)) {}

// The clients refer to http_: destroy them first.
DockerSandbox::~DockerSandbox() {
  cancellable_.reset();
  steady_.reset();
}

protocol::ConfigOutput DockerSandbox::config() const {
  const auto& d = scope_.profile.docker;
  protocol::ConfigOutput out;
  out.builds_dir = d.builds_dir;  // inside the container; the volume is per job
  out.cache_dir = d.cache_dir;
  out.builds_dir_is_shared = false;
  out.hostname = names_.container;
  out.shell = profile::to_string(scope_.profile.shell);
  out.job_env["PHAEDO_JOB_KEY"] = names_.key;
  return out;
}

Result<phaedo::docker::Client*> DockerSandbox::client(Cancellable cancellable) {
  auto& slot = cancellable == Cancellable::yes ? cancellable_ : steady_;
  if (slot) return &*slot;
  const std::string& socket = scope_.profile.docker.socket;
  if (!http_) {
    auto http = transport::CurlHttpClient::create({transport::UnixSocketEndpoint{socket}});
    if (!http) return http.error();
    http_ = std::move(*http);
  }
  phaedo::docker::Options options;
  // Stage processes are short-lived: /_ping alone is enough (see Negotiation).
  options.negotiation = phaedo::docker::Negotiation::ping;
  if (cancellable == Cancellable::yes) options.cancelled = [] { return CancelToken::requested(); };
  auto connected = phaedo::docker::Client::connect(*http_, options);
  if (!connected) return connected.error().context("docker.socket " + socket + ": ");
  slot.emplace(std::move(*connected));
  return &*slot;
}

}  // namespace phaedo::sandbox::docker
