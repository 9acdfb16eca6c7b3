#include "sandbox/docker/services.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "sandbox/docker/registry.h"

namespace phaedo::sandbox::docker {
namespace {

using nlohmann::json;

bool valid_alias(const std::string& a) {
  if (a.empty() || a.size() > 253 || a.front() == '-' || a.front() == '.') return false;
  return std::all_of(a.begin(), a.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::string replace_all(std::string text, char from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, 1, to);
  }
  return text;
}

// A list of strings at `key` of service `s`, or an error naming the field.
Result<std::optional<std::vector<std::string>>> strings_at(const json& s, const char* key, const std::string& where) {
  auto it = s.find(key);
  if (it == s.end() || it->is_null()) return std::optional<std::vector<std::string>>{};
  std::vector<std::string> out;
  bool ok = it->is_array();
  for (const auto& v : ok ? *it : json::array()) {
    ok = ok && v.is_string();
    if (ok) out.push_back(v.get<std::string>());
  }
  if (!ok) return make_error(ErrorKind::invalid_input, where + key + " must be an array of strings");
  return std::optional<std::vector<std::string>>{std::move(out)};
}

}  // namespace

std::vector<std::string> service_aliases(const std::string& image, const std::string& alias) {
  std::vector<std::string> out;
  auto add = [&](const std::string& a) {
    if (valid_alias(a) && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  std::string token;
  for (char c : alias + ",") {
    if (c == ',' || c == ' ') {
      add(token);
      token.clear();
    } else {
      token.push_back(c);
    }
  }
  const std::string repository = parse_image_ref(image).repository;
  add(replace_all(repository, '/', "__"));
  add(replace_all(repository, '/', "-"));
  return out;
}

Result<std::vector<ServiceRequest>> load_services(const Environment& env, const protocol::JobResponse& job) {
  std::vector<ServiceRequest> out;
  if (job.services.empty()) return out;
  auto path = env.get("JOB_RESPONSE_FILE");
  if (!path) return make_error(ErrorKind::not_found, "JOB_RESPONSE_FILE is not set");
  std::ifstream in(*path, std::ios::binary);
  json root = json::parse(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), nullptr,
                          false);
  if (!in.good() && !in.eof()) return make_error(ErrorKind::io, "cannot read JOB_RESPONSE_FILE " + *path);
  const json& raw = root.is_object() && root.contains("services") ? root["services"] : json::array();
  for (std::size_t i = 0; i < job.services.size(); ++i) {
    ServiceRequest r;
    r.image = expand_variables(job.services[i].name, job);
    if (r.image.empty()) {
      return make_error(ErrorKind::invalid_input, "job response: services[" + std::to_string(i) + "] names no image");
    }
    r.aliases = service_aliases(r.image, expand_variables(job.services[i].alias, job));
    if (i < raw.size() && raw[i].is_object()) {
      std::string where = "job response: services[" + std::to_string(i) + "].";
      auto entrypoint = strings_at(raw[i], "entrypoint", where);
      if (!entrypoint) return entrypoint.error();
      auto command = strings_at(raw[i], "command", where);
      if (!command) return command.error();
      if (*entrypoint && !(*entrypoint)->empty()) r.entrypoint = std::move(**entrypoint);
      if (*command) r.command = std::move(**command);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace phaedo::sandbox::docker
