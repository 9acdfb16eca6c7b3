#include "dockerscope/ownership.h"

#include <algorithm>
#include <cctype>

#include "dockerscope/json_body.h"

namespace phaedo::dockerscope {

using json_body::json;

namespace {

constexpr std::chrono::milliseconds kTimeout{30'000};

std::string label_of(const json& labels) {
  if (!labels.is_object()) return {};
  auto it = labels.find(kJobLabel);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<json> parse_answer(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return make_error(ErrorKind::peer, "docker: " + what + ": answer is not JSON");
  }
}

}  // namespace

bool safe_ref(const std::string& ref) {
  if (ref.empty() || ref.size() > 512 || ref.find("..") != std::string::npos || ref.front() == '/') return false;
  return std::all_of(ref.begin(), ref.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == ':' || c == '/' || c == '@';
  });
}

Result<std::string> DaemonOwner::get(const std::string& path, const std::string& what, const std::string& ref) {
  transport::HttpRequest request;
  request.path = path;
  request.timeout = kTimeout;
  Result<transport::HttpResponse> response = http_->send(request);
  if (!response) return response.error();
  if (response->status == 404) return make_error(ErrorKind::not_found, "No such " + what + ": " + ref);
  if (!response->success())
    return make_error(ErrorKind::peer, "docker: GET " + path + ": HTTP " + std::to_string(response->status));
  return response->body;
}

Result<std::string> DaemonOwner::container(const std::string& raw_ref) {
  std::string ref = !raw_ref.empty() && raw_ref[0] == '/' ? raw_ref.substr(1) : raw_ref;
  if (!safe_ref(ref) || ref.find('/') != std::string::npos)
    return make_error(ErrorKind::invalid_input, "container reference " + ref + " is not a name or id");
  Result<std::string> text = get("/containers/" + ref + "/json", "container", ref);
  if (!text) return text.error();
  Result<json> doc = parse_answer(*text, "container " + ref);
  if (!doc) return doc.error();
  if (!doc->contains("Config") || label_of((*doc)["Config"].value("Labels", json())) != scope_->job_key)
    return refusal("ownership", "container " + ref + " is not this job's");
  return doc->value("Id", std::string());
}

Result<std::string> DaemonOwner::network(const std::string& ref) {
  if (!safe_ref(ref) || ref.find('/') != std::string::npos)
    return make_error(ErrorKind::invalid_input, "network reference " + ref + " is not a name or id");
  Result<std::string> text = get("/networks/" + ref, "network", ref);
  if (!text) return text.error();
  Result<json> doc = parse_answer(*text, "network " + ref);
  if (!doc) return doc.error();
  const std::string name = doc->value("Name", std::string());
  const bool job_network = !scope_->network.empty() && name == scope_->network;
  if (!job_network && label_of(doc->value("Labels", json())) != scope_->job_key)
    return refusal("ownership", "network " + ref + " is not this job's");
  return doc->value("Id", std::string());
}

Result<VolumeState> DaemonOwner::volume(const std::string& name) {
  if (!safe_ref(name) || name.find('/') != std::string::npos || name.find(':') != std::string::npos)
    return make_error(ErrorKind::invalid_input, "volume name " + name + " is not a name");
  Result<std::string> text = get("/volumes/" + name, "volume", name);
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) {
      if (Status s = check_name("volume", name); !s) return s.error();
      return VolumeState::absent;
    }
    return text.error();
  }
  Result<json> doc = parse_answer(*text, "volume " + name);
  if (!doc) return doc.error();
  if (label_of(doc->value("Labels", json())) != scope_->job_key)
    return refusal("ownership", "volume " + name + " is not this job's");
  return VolumeState::owned;
}

Result<std::string> DaemonOwner::exec(const std::string& id) {
  if (!safe_ref(id) || id.find('/') != std::string::npos)
    return make_error(ErrorKind::invalid_input, "exec id " + id + " is not an id");
  Result<std::string> text = get("/exec/" + id + "/json", "exec instance", id);
  if (!text) return text.error();
  Result<json> doc = parse_answer(*text, "exec " + id);
  if (!doc) return doc.error();
  Result<std::string> container_id = container(doc->value("ContainerID", std::string()));
  if (!container_id) {
    if (container_id.error().kind == ErrorKind::rejected)
      return refusal("ownership", "exec " + id + " runs in a container that is not this job's");
    return container_id.error();
  }
  return doc->value("ID", id);
}

Result<std::optional<ImageFacts>> DaemonOwner::image(const std::string& ref) {
  if (!safe_ref(ref)) return make_error(ErrorKind::invalid_input, "image reference " + ref + " is not a reference");
  Result<std::string> text = get("/images/" + ref + "/json", "image", ref);
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) return std::optional<ImageFacts>();
    return text.error();
  }
  Result<json> doc = parse_answer(*text, "image " + ref);
  if (!doc) return doc.error();
  ImageFacts facts;
  facts.id = doc->value("Id", std::string());
  for (const char* field : {"RepoTags", "RepoDigests"}) {
    const json list = doc->value(field, json::array());
    auto& out = std::string(field) == "RepoTags" ? facts.repo_tags : facts.repo_digests;
    if (list.is_array()) {
      for (const json& item : list) {
        if (item.is_string()) out.push_back(item.get<std::string>());
      }
    }
  }
  return std::optional<ImageFacts>(std::move(facts));
}

Status DaemonOwner::create_volume(const std::string& name) {
  json body = {{"Name", name}, {"Labels", json::object()}};
  for (const auto& [k, v] : scope_->labels()) body["Labels"][k] = v;
  transport::HttpRequest request;
  request.method = transport::Method::post;
  request.path = "/volumes/create";
  request.headers = {{"Content-Type", "application/json"}};
  request.body = body.dump();
  request.timeout = kTimeout;
  Result<transport::HttpResponse> response = http_->send(request);
  if (!response) return response.error();
  if (!response->success())
    return make_error(ErrorKind::peer, "docker: POST /volumes/create: HTTP " + std::to_string(response->status));
  // Creating an existing name returns that volume: another job may have taken the
  // name since volume() saw it absent.
  Result<json> doc = parse_answer(response->body, "volume " + name);
  if (!doc) return doc.error();
  if (label_of(doc->value("Labels", json())) != scope_->job_key)
    return refusal("ownership", "volume " + name + " is not this job's");
  return {};
}

}  // namespace phaedo::dockerscope
