#include "docker/client.h"

#include <algorithm>
#include <charconv>

#include "docker/codec.h"
#include "docker/internal.h"

namespace phaedo::docker {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Method;

std::optional<ApiVersion> ApiVersion::parse(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size()) return std::nullopt;
  ApiVersion v;
  auto major = std::from_chars(text.data(), text.data() + dot, v.major);
  auto minor = std::from_chars(text.data() + dot + 1, text.data() + text.size(), v.minor);
  if (major.ec != std::errc{} || major.ptr != text.data() + dot || minor.ec != std::errc{} ||
      minor.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

std::string ApiVersion::str() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

namespace {

Error status_error(const HttpRequest& request, const HttpResponse& response) {
  std::string message = describe(request) + ": HTTP " + std::to_string(response.status);
  if (std::string daemon = codec::daemon_message(response.body); !daemon.empty()) message += ": " + daemon;
  return make_error(response.status == 404 ? ErrorKind::not_found : ErrorKind::peer, std::move(message));
}

}  // namespace

Result<Client> Client::connect(transport::HttpClient& http, Options options) {
  HttpRequest ping;
  ping.path = "/_ping";
  ping.timeout = options.request_timeout;
  ping.cancelled = options.cancelled;
  Result<HttpResponse> pong = http.send(ping);
  if (!pong) return pong.error().context("docker: ");
  if (!pong->success()) return status_error(ping, *pong);

  if (options.negotiation == Negotiation::ping) {
    std::optional<std::string> header = pong->header("api-version");
    std::optional<ApiVersion> server = header ? ApiVersion::parse(*header) : std::nullopt;
    if (server) {
      const ApiVersion chosen = std::min(kMaxApi, *server);
      if (chosen < kMinApi) {
        return make_error(ErrorKind::peer, "docker: the daemon speaks API up to " + server->str() +
                                               ", this client needs >= " + kMinApi.str());
      }
      VersionInfo info;
      info.api_version = *header;
      return Client(http, std::move(options), chosen, std::move(info));
    }
  }

  HttpRequest version = ping;
  version.path = "/version";
  Result<HttpResponse> answer = http.send(version);
  if (!answer) return answer.error().context("docker: ");
  if (!answer->success()) return status_error(version, *answer);
  Result<VersionInfo> info = codec::decode_version(answer->body);
  if (!info) return answer_error(version, info.error());

  std::optional<ApiVersion> server = ApiVersion::parse(info->api_version);
  if (!server) {
    return make_error(ErrorKind::peer, describe(version) + ": malformed answer: field ApiVersion: '" +
                                           info->api_version + "'");
  }
  // Daemons too old to report a minimum accept everything down to 1.12.
  std::optional<ApiVersion> server_min =
      info->min_api_version.empty() ? ApiVersion{1, 12} : ApiVersion::parse(info->min_api_version);
  if (!server_min) {
    return make_error(ErrorKind::peer, describe(version) + ": malformed answer: field MinAPIVersion: '" +
                                           info->min_api_version + "'");
  }
  const ApiVersion chosen = std::min(kMaxApi, *server);
  if (chosen < *server_min) {
    return make_error(ErrorKind::peer, "docker: the daemon (engine " + info->version + ") requires API >= " +
                                           server_min->str() + ", this client speaks up to " + kMaxApi.str());
  }
  if (chosen < kMinApi) {
    return make_error(ErrorKind::peer, "docker: the daemon (engine " + info->version + ") speaks API up to " +
                                           server->str() + ", this client needs >= " + kMinApi.str());
  }
  return Client(http, std::move(options), chosen, std::move(info).value());
}

HttpRequest Client::request(Method method, std::string path) const {
  HttpRequest r;
  r.method = method;
  r.path = "/v" + api_.str() + path;
  r.timeout = options_.request_timeout;
  r.cancelled = options_.cancelled;
  return r;
}

Status Client::send_only(const HttpRequest& request, std::initializer_list<long> also_ok) {
  Result<HttpResponse> response = send(request, also_ok);
  if (!response) return response.error();
  return {};
}

Result<HttpResponse> Client::send(const HttpRequest& request, std::initializer_list<long> also_ok) {
  Result<HttpResponse> response = http_->send(request);
  if (!response) return response.error().context("docker: ");
  if (!response->success() && std::find(also_ok.begin(), also_ok.end(), response->status) == also_ok.end()) {
    return status_error(request, *response);
  }
  return response;
}

}  // namespace phaedo::docker
