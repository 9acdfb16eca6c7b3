// Image references, registry credentials and pulls for the docker sandbox.
//
// Credentials for an image's registry are looked up, first match wins, in:
//   1. the job variable DOCKER_AUTH_CONFIG (from JOB_RESPONSE_FILE, never CUSTOM_ENV_*),
//   2. the payload's `credentials` of type "registry" (GitLab's CI_REGISTRY token),
//   3. the profile's docker.auth_config (a docker config.json on the runner host).
// Config keys are matched by host[:port] (a scheme and path are ignored; Docker Hub's
// many spellings are one registry). Passwords go to the daemon in X-Registry-Auth
// only, and are registered with the redactor before anything can log them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "profile/profile.h"
#include "protocol/job_response.h"
#include "transport/http.h"

namespace phaedo::sandbox::docker {

struct ImageRef {
  std::string registry;    // "docker.io" when the reference names none
  std::string repository;  // everything before the tag or digest, as written (fromImage)
  std::string tag;         // "latest" when neither a tag nor a digest is given
  std::string digest;      // "sha256:…" or empty
};

[[nodiscard]] ImageRef parse_image_ref(const std::string& reference);

// Expands $VAR and ${VAR} from the payload's variables (as GitLab does for image
// and service names); unknown variables become empty.
[[nodiscard]] std::string expand_variables(const std::string& text, const protocol::JobResponse& job);

struct RegistryAuth {
  std::string username;
  std::string password;
  std::string server;  // the registry as the credentials name it
  std::string source;  // for messages: "DOCKER_AUTH_CONFIG", "the job's registry credentials", "docker.auth_config …"
};

// The credentials for `registry`, or nullopt. invalid_input when a source that is
// present cannot be parsed (the message names the source, never a secret).
Result<std::optional<RegistryAuth>> find_registry_auth(const std::string& registry, const protocol::JobResponse& job,
                                                       const profile::DockerSettings& settings);

// The X-Registry-Auth header value: base64url of {"username","password","serveraddress"}.
[[nodiscard]] std::string registry_auth_header(const RegistryAuth& auth);

// POST /images/create?fromImage=…&tag=… on `api_prefix` (e.g. "/v1.41"), sending the
// credentials when given. The daemon reports failures inside a 200 stream as well as
// with error statuses; both come back as peer errors naming the image and registry.
Status pull_image(transport::HttpClient& http, const std::string& api_prefix, const ImageRef& ref,
                  const std::optional<RegistryAuth>& auth, transport::CancelCheck cancelled);

}  // namespace phaedo::sandbox::docker
