#include "protocol/job_response.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "protocol/names.h"

namespace phaedo::protocol {
namespace {

using nlohmann::json;

// Reads an optional string member; a present member of another type is an error.
Result<std::string> string_at(const json& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return make_error(ErrorKind::invalid_input, where + field + " must be a string");
  }
  return it->get<std::string>();
}

bool bool_at(const json& obj, const char* field) {
  auto it = obj.find(field);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

Result<std::vector<JobVariable>> parse_variables(const json& root) {
  std::vector<JobVariable> out;
  auto it = root.find("variables");
  if (it == root.end() || it->is_null()) return out;
  if (!it->is_array()) return make_error(ErrorKind::invalid_input, "job response: variables must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    std::string where = "job response: variables[" + std::to_string(i) + "].";
    if (!v.is_object()) return make_error(ErrorKind::invalid_input, where.substr(0, where.size() - 1) + " must be an object");
    auto key = string_at(v, "key", where);
    if (!key) return key.error();
    auto value = string_at(v, "value", where);
    if (!value) return value.error();
    out.push_back(JobVariable{*key, *value, bool_at(v, "masked"), bool_at(v, "file"), bool_at(v, "public")});
  }
  return out;
}

Result<std::vector<RegistryCredential>> parse_credentials(const json& root) {
  std::vector<RegistryCredential> out;
  auto it = root.find("credentials");
  if (it == root.end() || it->is_null()) return out;
  if (!it->is_array()) return make_error(ErrorKind::invalid_input, "job response: credentials must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& c = (*it)[i];
    std::string where = "job response: credentials[" + std::to_string(i) + "].";
    if (!c.is_object()) continue;
    RegistryCredential cred;
    for (auto [field, dest] : {std::pair{"type", &cred.type}, {"url", &cred.url},
                               {"username", &cred.username}, {"password", &cred.password}}) {
      auto s = string_at(c, field, where);
      if (!s) return s.error();
      *dest = *s;
    }
    out.push_back(std::move(cred));
  }
  return out;
}

Result<std::vector<JobService>> parse_services(const json& root) {
  std::vector<JobService> out;
  auto it = root.find("services");
  if (it == root.end() || it->is_null()) return out;
  if (!it->is_array()) return make_error(ErrorKind::invalid_input, "job response: services must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& s = (*it)[i];
    std::string where = "job response: services[" + std::to_string(i) + "].";
    if (!s.is_object()) continue;
    auto name = string_at(s, "name", where);
    if (!name) return name.error();
    auto alias = string_at(s, "alias", where);
    if (!alias) return alias.error();
    out.push_back(JobService{*name, *alias});
  }
  return out;
}

}  // namespace

std::optional<std::string> JobResponse::variable(const std::string& key) const {
  std::optional<std::string> found;
  for (const auto& v : variables) {
    if (v.key == key) found = v.value;
  }
  return found;
}

Result<JobResponse> parse_job_response(const std::string& json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return make_error(ErrorKind::invalid_input, "job response: not valid JSON");
  if (!root.is_object()) return make_error(ErrorKind::invalid_input, "job response: top level must be an object");

  JobResponse job;
  auto id = root.find("id");
  if (id == root.end() || !id->is_number_integer() || id->get<std::int64_t>() <= 0) {
    return make_error(ErrorKind::invalid_input, "job response: id must be a positive integer");
  }
  job.id = id->get<std::int64_t>();

  auto token = string_at(root, "token", "job response: ");
  if (!token) return token.error();
  job.token = *token;

  if (auto info = root.find("job_info"); info != root.end() && info->is_object()) {
    auto name = string_at(*info, "name", "job response: job_info.");
    if (!name) return name.error();
    job.job_name = *name;
    auto path = string_at(*info, "project_full_path", "job response: job_info.");
    if (!path) return path.error();
    job.project_path = *path;
  }
  if (auto info = root.find("runner_info"); info != root.end() && info->is_object()) {
    auto t = info->find("timeout");
    if (t != info->end() && !t->is_null()) {
      if (!t->is_number_integer()) {
        return make_error(ErrorKind::invalid_input, "job response: runner_info.timeout must be an integer");
      }
      job.timeout_seconds = t->get<std::int64_t>();
    }
  }
  if (auto image = root.find("image"); image != root.end() && image->is_object()) {
    auto name = string_at(*image, "name", "job response: image.");
    if (!name) return name.error();
    if (!name->empty()) job.image = *name;
  }

  auto vars = parse_variables(root);
  if (!vars) return vars.error();
  job.variables = std::move(*vars);
  auto creds = parse_credentials(root);
  if (!creds) return creds.error();
  job.credentials = std::move(*creds);
  auto services = parse_services(root);
  if (!services) return services.error();
  job.services = std::move(*services);
  return job;
}

Result<JobResponse> load_job_response(const Environment& env) {
  auto path = env.get(kJobResponseFile);
  if (!path || path->empty()) {
    return make_error(ErrorKind::not_found, std::string(kJobResponseFile) + " is not set (gitlab-runner 14.1+ required)");
  }
  std::ifstream in(*path, std::ios::binary);
  if (!in) return make_error(ErrorKind::not_found, std::string(kJobResponseFile) + " " + *path + " cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_job_response(text.str());
}

}  // namespace phaedo::protocol
