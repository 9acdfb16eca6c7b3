#include "sandbox/sandbox.h"

#include "sandbox/docker/docker_sandbox.h"
#include "sandbox/host/host_sandbox.h"

namespace phaedo::sandbox {

Result<std::unique_ptr<Sandbox>> make_sandbox(const JobScope& scope) {
  switch (scope.profile.sandbox) {
    case profile::SandboxKind::host:
      return std::unique_ptr<Sandbox>(std::make_unique<host::HostSandbox>(scope));
    case profile::SandboxKind::docker:
      return std::unique_ptr<Sandbox>(std::make_unique<docker::DockerSandbox>(scope));
  }
  return make_error(ErrorKind::invalid_input, std::string("profile: sandbox \"") +
                                                  profile::to_string(scope.profile.sandbox) + "\" is not available");
}

}  // namespace phaedo::sandbox
