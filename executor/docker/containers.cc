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
  return send_decoded<CreatedContainer>(r, codec::decode_created_container);
}

Status Client::start_container(const std::string& id) {
  if (Status s = check_segment("container", id); !s) return s;
  return send_only(request(Method::post, "/containers/" + id + "/start"), {304});
}

Result<ContainerInfo> Client::inspect_container(const std::string& id) {
  if (Status s = check_segment("container", id); !s) return s.error();
  HttpRequest r = request(Method::get, "/containers/" + id + "/json");
  return send_decoded<ContainerInfo>(r, codec::decode_container_info);
}

Status Client::kill_container(const std::string& id, const std::string& signal) {
  if (Status s = check_segment("container", id); !s) return s;
  HttpRequest r = request(Method::post, "/containers/" + id + "/kill");
  r.query.emplace_back("signal", signal);
  return send_only(r);
}

Status Client::remove_container(const std::string& id, Force force, AnonymousVolumes volumes) {
  if (Status s = check_segment("container", id); !s) return s;
  HttpRequest r = request(Method::del, "/containers/" + id);
  r.query.emplace_back("force", force == Force::yes ? "1" : "0");
  r.query.emplace_back("v", volumes == AnonymousVolumes::remove ? "1" : "0");
  return send_only(r);
}

Result<WaitResult> Client::wait_container(const std::string& id, WaitCondition condition,
                                          std::chrono::milliseconds timeout) {
  if (Status s = check_segment("container", id); !s) return s.error();
  HttpRequest r = request(Method::post, "/containers/" + id + "/wait");
  r.query.emplace_back("condition", condition_name(condition));
  r.timeout = timeout;
  return send_decoded<WaitResult>(r, codec::decode_wait);
}

Result<std::vector<ContainerSummary>> Client::list_containers(const LabelFilter& labels) {
  HttpRequest r = request(Method::get, "/containers/json");
  r.query.emplace_back("all", "1");
  if (!labels.empty()) r.query.emplace_back("filters", codec::label_filter(labels));
  return send_decoded<std::vector<ContainerSummary>>(r, codec::decode_container_list);
}

}  // namespace phaedo::docker
