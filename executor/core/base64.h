// Base64 for credentials in configuration files (docker config.json "auth",
// kubeconfig "*-data") and Docker's X-Registry-Auth header.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace phaedo {

// Decodes standard or URL-safe base64, ignoring padding and line breaks/spaces.
// nullopt on any other character.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

// URL-safe alphabet ('-', '_') with '=' padding, as X-Registry-Auth expects.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);

}  // namespace phaedo
