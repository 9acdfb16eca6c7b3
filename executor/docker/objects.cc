// Image, network, volume and archive calls of docker::Client.
#include "docker/client.h"
#include "docker/codec.h"
#include "docker/internal.h"

namespace phaedo::docker {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Method;

Result<ImageInfo> Client::inspect_image(const std::string& reference) {
  if (Status s = check_segment("image", reference, Slashes::allow); !s) return s.error();
  HttpRequest r = request(Method::get, "/images/" + reference + "/json");
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<ImageInfo> image = codec::decode_image(response->body);
  if (!image) return answer_error(r, image.error());
  return image;
}

Result<std::string> Client::import_image(const ImportSpec& spec, transport::BodySource tar,
                                         std::optional<std::uint64_t> tar_size,
                                         std::chrono::milliseconds timeout) {
  HttpRequest r = request(Method::post, "/images/create");
  r.query.emplace_back("fromSrc", "-");
  if (!spec.repo.empty()) r.query.emplace_back("repo", spec.repo);
  if (!spec.tag.empty()) r.query.emplace_back("tag", spec.tag);
  for (const std::string& change : spec.changes) r.query.emplace_back("changes", change);
  r.headers.emplace_back("Content-Type", "application/x-tar");
  r.body_source = std::move(tar);
  r.body_size = tar_size;
  r.timeout = timeout;
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<std::string> id = codec::decode_import_stream(response->body);
  if (!id) return answer_error(r, id.error());
  return id;
}

Result<std::string> Client::create_network(const NetworkSpec& spec) {
  HttpRequest r = request(Method::post, "/networks/create");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_network_spec(spec, api_ < ApiVersion{1, 44});
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<std::string> id = codec::decode_network_id(response->body);
  if (!id) return answer_error(r, id.error());
  return id;
}

Status Client::remove_network(const std::string& id_or_name) {
  if (Status s = check_segment("network", id_or_name); !s) return s;
  Result<HttpResponse> response = send(request(Method::del, "/networks/" + id_or_name));
  if (!response) return response.error();
  return {};
}

Result<std::vector<NetworkInfo>> Client::list_networks(const LabelFilter& labels) {
  HttpRequest r = request(Method::get, "/networks");
  if (!labels.empty()) r.query.emplace_back("filters", codec::label_filter(labels));
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<std::vector<NetworkInfo>> list = codec::decode_network_list(response->body);
  if (!list) return answer_error(r, list.error());
  return list;
}

Result<VolumeInfo> Client::create_volume(const VolumeSpec& spec) {
  HttpRequest r = request(Method::post, "/volumes/create");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_volume_spec(spec);
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<VolumeInfo> volume = codec::decode_volume(response->body);
  if (!volume) return answer_error(r, volume.error());
  return volume;
}

Status Client::remove_volume(const std::string& name, Force force) {
  if (Status s = check_segment("volume", name); !s) return s;
  HttpRequest r = request(Method::del, "/volumes/" + name);
  if (force == Force::yes) r.query.emplace_back("force", "1");
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  return {};
}

Result<std::vector<VolumeInfo>> Client::list_volumes(const LabelFilter& labels) {
  HttpRequest r = request(Method::get, "/volumes");
  if (!labels.empty()) r.query.emplace_back("filters", codec::label_filter(labels));
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  Result<std::vector<VolumeInfo>> list = codec::decode_volume_list(response->body);
  if (!list) return answer_error(r, list.error());
  return list;
}

Status Client::upload_archive(const std::string& container_id, const std::string& path,
                              transport::BodySource tar, std::optional<std::uint64_t> tar_size,
                              std::chrono::milliseconds timeout) {
  if (Status s = check_segment("container", container_id); !s) return s;
  HttpRequest r = request(Method::put, "/containers/" + container_id + "/archive");
  r.query.emplace_back("path", path);
  r.headers.emplace_back("Content-Type", "application/x-tar");
  r.body_source = std::move(tar);
  r.body_size = tar_size;
  r.timeout = timeout;
  Result<HttpResponse> response = send(r);
  if (!response) return response.error();
  return {};
}

}  // namespace phaedo::docker
