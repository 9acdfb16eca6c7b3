// Image, network, volume and archive calls of docker::Client.
#include "docker/client.h"
#include "docker/codec.h"
#include "docker/internal.h"

namespace phaedo::docker {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Method;

Result<SystemInfo> Client::system_info() {
  HttpRequest r = request(Method::get, "/info");
  return send_decoded<SystemInfo>(r, codec::decode_system_info);
}

Result<ImageInfo> Client::inspect_image(const std::string& reference) {
  if (Status s = check_segment("image", reference, Slashes::allow); !s) return s.error();
  HttpRequest r = request(Method::get, "/images/" + reference + "/json");
  return send_decoded<ImageInfo>(r, codec::decode_image);
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
  return send_decoded<std::string>(r, codec::decode_import_stream);
}

Result<std::string> Client::create_network(const NetworkSpec& spec) {
  HttpRequest r = request(Method::post, "/networks/create");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_network_spec(spec, api_ < ApiVersion{1, 44});
  return send_decoded<std::string>(r, codec::decode_network_id);
}

Status Client::remove_network(const std::string& id_or_name) {
  if (Status s = check_segment("network", id_or_name); !s) return s;
  return send_only(request(Method::del, "/networks/" + id_or_name));
}

Result<std::vector<NetworkInfo>> Client::list_networks(const LabelFilter& labels) {
  HttpRequest r = request(Method::get, "/networks");
  if (!labels.empty()) r.query.emplace_back("filters", codec::label_filter(labels));
  return send_decoded<std::vector<NetworkInfo>>(r, codec::decode_network_list);
}

Result<VolumeInfo> Client::create_volume(const VolumeSpec& spec) {
  HttpRequest r = request(Method::post, "/volumes/create");
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = codec::encode_volume_spec(spec);
  return send_decoded<VolumeInfo>(r, codec::decode_volume);
}

Status Client::remove_volume(const std::string& name, Force force) {
  if (Status s = check_segment("volume", name); !s) return s;
  HttpRequest r = request(Method::del, "/volumes/" + name);
  if (force == Force::yes) r.query.emplace_back("force", "1");
  return send_only(r);
}

Result<std::vector<VolumeInfo>> Client::list_volumes(const LabelFilter& labels) {
  HttpRequest r = request(Method::get, "/volumes");
  if (!labels.empty()) r.query.emplace_back("filters", codec::label_filter(labels));
  return send_decoded<std::vector<VolumeInfo>>(r, codec::decode_volume_list);
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
  return send_only(r);
}

}  // namespace phaedo::docker
