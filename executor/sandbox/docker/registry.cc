#include "sandbox/docker/registry.h"

#include "core/base64.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

namespace phaedo::sandbox::docker {
namespace {

using nlohmann::json;

constexpr const char* kDockerHub = "docker.io";

// "https://index.docker.io/v1/" → "docker.io"; "127.0.0.1:5000/" → "127.0.0.1:5000".
std::string normalize_registry(std::string server) {
  if (auto scheme = server.find("://"); scheme != std::string::npos) server.erase(0, scheme + 3);
  if (auto slash = server.find('/'); slash != std::string::npos) server.erase(slash);
  if (server == "index.docker.io" || server == "registry-1.docker.io" || server == "registry.hub.docker.com") {
    return kDockerHub;
  }
  return server;
}

// The entry for `registry` in a docker config.json text, or nullopt.
Result<std::optional<RegistryAuth>> from_config_json(const std::string& text, const std::string& registry,
                                                     const std::string& source) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorKind::invalid_input, source + " is not a JSON object");
  }
  auto auths = doc.find("auths");
  if (auths == doc.end()) return std::optional<RegistryAuth>{};
  if (!auths->is_object()) return make_error(ErrorKind::invalid_input, source + ": \"auths\" must be an object");
  for (const auto& [server, entry] : auths->items()) {
    if (normalize_registry(server) != registry) continue;
    if (!entry.is_object()) {
      return make_error(ErrorKind::invalid_input, source + ": auths[\"" + server + "\"] must be an object");
    }
    RegistryAuth auth{"", "", server, source};
    if (auto a = entry.find("auth"); a != entry.end() && a->is_string()) {
      auto decoded = base64_decode(a->get<std::string>());
      auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return make_error(ErrorKind::invalid_input,
                          source + ": auths[\"" + server + "\"].auth is not base64 of \"user:password\"");
      }
      auth.username = decoded->substr(0, colon);
      auth.password = decoded->substr(colon + 1);
    } else {
      auth.username = entry.value("username", "");
      auth.password = entry.value("password", "");
    }
    if (auth.username.empty()) {
      return make_error(ErrorKind::invalid_input, source + ": auths[\"" + server + "\"] has no username");
    }
    return std::optional<RegistryAuth>{std::move(auth)};
  }
  return std::optional<RegistryAuth>{};
}

}  // namespace

ImageRef parse_image_ref(const std::string& reference) {
  ImageRef ref;
  std::string rest = reference;
  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.erase(at);
  }
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.erase(colon);
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  ref.repository = rest;
  auto first_slash = rest.find('/');
  std::string head = first_slash == std::string::npos ? "" : rest.substr(0, first_slash);
  bool names_registry = head.find_first_of(".:") != std::string::npos || head == "localhost";
  ref.registry = names_registry ? normalize_registry(head) : kDockerHub;
  return ref;
}

std::string expand_variables(const std::string& text, const protocol::JobResponse& job) {
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out.push_back(text[i]);
      continue;
    }
    std::string name;
    std::size_t end = i + 1;
    if (text[end] == '{') {
      auto close = text.find('}', end);
      if (close == std::string::npos) {
        out.push_back(text[i]);
        continue;
      }
      name = text.substr(end + 1, close - end - 1);
      end = close + 1;
    } else {
      while (end < text.size() && is_name(text[end])) name.push_back(text[end++]);
    }
    if (name.empty()) {
      out.push_back(text[i]);
      continue;
    }
    out += job.variable(name).value_or("");
    i = end - 1;
  }
  return out;
}

Result<std::optional<RegistryAuth>> find_registry_auth(const std::string& registry, const protocol::JobResponse& job,
                                                       const profile::DockerSettings& settings) {
  if (auto config = job.variable("DOCKER_AUTH_CONFIG"); config && !config->empty()) {
    auto found = from_config_json(*config, registry, "the job variable DOCKER_AUTH_CONFIG");
    if (!found || *found) return found;
  }
  for (const auto& c : job.credentials) {
    if (c.type == "registry" && normalize_registry(c.url) == registry) {
      return std::optional<RegistryAuth>{RegistryAuth{c.username, c.password, c.url, "the job's registry credentials"}};
    }
  }
  if (!settings.auth_config.empty()) {
    std::string source = "docker.auth_config " + settings.auth_config;
    std::ifstream in(settings.auth_config, std::ios::binary);
    if (!in) return make_error(ErrorKind::not_found, source + " cannot be read");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return from_config_json(text, registry, source);
  }
  return std::optional<RegistryAuth>{};
}

std::string registry_auth_header(const RegistryAuth& auth) {
  json body = {{"username", auth.username}, {"password", auth.password}, {"serveraddress", auth.server}};
  return base64url_encode(body.dump());
}

Status pull_image(transport::HttpClient& http, const std::string& api_prefix, const ImageRef& ref,
                  const std::optional<RegistryAuth>& auth, transport::CancelCheck cancelled) {
  const std::string image = ref.repository + (ref.digest.empty() ? ":" + ref.tag : "@" + ref.digest);
  const std::string what = "pulling image \"" + image + "\" from registry " + ref.registry +
                           (auth ? " with credentials from " + auth->source : std::string(" without credentials"));
  transport::HttpRequest request;
  request.method = transport::Method::post;
  request.path = api_prefix + "/images/create";
  request.query = {{"fromImage", ref.digest.empty() ? ref.repository : image}};
  if (ref.digest.empty()) request.query.push_back({"tag", ref.tag});
  if (auth) request.headers.push_back({"X-Registry-Auth", registry_auth_header(*auth)});
  request.cancelled = std::move(cancelled);
  // Progress arrives as JSON lines; a line with "error" is the pull's failure.
  std::string pending;
  std::string failure;
  request.on_body = [&](std::string_view bytes) {
    pending.append(bytes);
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      json line = json::parse(pending.substr(0, nl), nullptr, false);
      pending.erase(0, nl + 1);
      if (line.is_object() && line.contains("error") && line["error"].is_string()) {
        failure = line["error"].get<std::string>();
      }
    }
    return Status{};
  };
  auto response = http.send(request);
  if (!response) return response.error().context(what + ": ");
  if (!response->success()) {
    json body = json::parse(response->body, nullptr, false);
    std::string message = body.is_object() && body.contains("message") && body["message"].is_string()
                              ? body["message"].get<std::string>()
                              : response->body;
    return make_error(response->status == 404 ? ErrorKind::not_found : ErrorKind::peer,
                      what + ": HTTP " + std::to_string(response->status) + ": " + message);
  }
  if (!failure.empty()) return make_error(ErrorKind::peer, what + ": " + failure);
  return {};
}

}  // namespace phaedo::sandbox::docker
