// Container calls of docker::Client.
#include "docker/client.h"
#include "docker/codec.h"
#include "docker/internal.h"

namespace phaedo::docker {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Method;

namespace {

const char* condition_name(WaitCondition condition) {
  switch (condition) {
    case WaitCondition::not_running:
      return "not-running";
    case WaitCondition::next_exit:
      return "next-exit";
    case WaitCondition::removed:
      return "removed";
  }
  return "not-running";
}

}  // namespace

Result<CreatedContainer> Client::create_container(const ContainerSpec& spec) {
  if (Status s = check_segment("image", spec.image, Slashes::allow); !s) return s.error();
  HttpRequest r = request(Method::post, "/containers/create");
  if (!spec.name.empty()) r.query.emplace_back("name", spec.name);
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_container_spec(spec);
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<CreatedContainer> created = codec::decode_created_container(response->body);
  if (!created) return answer_error(r, created.error());
  return created;
}

Status Client::start_container(const std::string& id) {
  if (Status s = check_segment("container", id); !s) return s;
  Result<HttpResponse> response = send(request(Method::post, "/containers/" + id + "/start"), {304});
  if (!response) return response.error();
  return {};
}

Result<ContainerInfo> Client::inspect_container(const std::string& id) {
  if (Status s = check_segment("container", id); !s) return s.error();
  HttpRequest r = request(Method::get, "/containers/" + id + "/json");
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<ContainerInfo> info = codec::decode_container_info(response->body);
  if (!info) return answer_error(r, info.error());
  return info;
}

Status Client::kill_container(const std::string& id, const std::string& signal) {
  if (Status s = check_segment("container", id); !s) return s;
  HttpRequest r = request(Method::post, "/containers/" + id + "/kill");
  r.query.emplace_back("signal", signal);
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  return {};
}

Status Client::remove_container(const std::string& id, Force force, AnonymousVolumes volumes) {
  if (Status s = check_segment("container", id); !s) return s;
  HttpRequest r = request(Method::del, "/containers/" + id);
  r.query.emplace_back("force", force == Force::yes ? "1" : "0");
  r.query.emplace_back("v", volumes == AnonymousVolumes::remove ? "1" : "0");
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  return {};
}

Result<WaitResult> Client::wait_container(const std::string& id, WaitCondition condition,
                                          std::chrono::milliseconds timeout) {
  if (Status s = check_segment("container", id); !s) return s.error();
  HttpRequest r = request(Method::post, "/containers/" + id + "/wait");
  r.query.emplace_back("condition", condition_name(condition));
  r.timeout = timeout;
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<WaitResult> result = codec::decode_wait(response->body);
  if (!result) return answer_error(r, result.error());
  return result;
}

Result<std::vector<ContainerSummary>> Client::list_containers(const LabelFilter& labels) {
  HttpRequest r = request(Method::get, "/containers/json");
  r.query.emplace_back("all", "1");
  if (!labels.empty()) r.query.emplace_back("filters", codec::label_filter(labels));
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<std::vector<ContainerSummary>> list = codec::decode_container_list(response->body);
  if (!list) return answer_error(r, list.error());
  return list;
}

}  // namespace phaedo::docker
