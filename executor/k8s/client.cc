#include "k8s/client.h"

#include <charconv>

#include "k8s/codec.h"
#include "k8s/internal.h"

namespace phaedo::k8s {

using transport::HttpRequest;
using transport::HttpResponse;
using transport::Method;

Status check_name(std::string_view what, std::string_view value) {
  auto bad = [&](const char* why) {
    return make_error(ErrorKind::invalid_input, std::string(what) + " '" + std::string(value) + "': " + why);
  };
  if (value.empty()) return bad("empty");
  if (value == "." || value == "..") return bad("not a name");
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '/' || c == '?' || c == '#' || c == '%')
      return bad("contains a character not allowed in a name");
  }
  return {};
}

std::string describe(const HttpRequest& request) {
  return std::string("k8s: ") + transport::to_string(request.method) + " " + request.path;
}

Error answer_error(const HttpRequest& request, const Error& error) {
  return error.context(describe(request) + ": ");
}

transport::Fields selector_query(const Selector& selector) {
  transport::Fields q;
  if (!selector.labels.empty()) q.emplace_back("labelSelector", selector.labels);
  if (!selector.fields.empty()) q.emplace_back("fieldSelector", selector.fields);
  return q;
}

namespace {

Error status_error(const HttpRequest& request, const HttpResponse& response) {
  codec::StatusInfo info = codec::decode_status(response.body);
  std::string message = describe(request) + ": HTTP " + std::to_string(response.status);
  if (!info.reason.empty()) message += " " + info.reason;
  if (!info.message.empty()) message += ": " + info.message;
  return make_error(response.status == 404 ? ErrorKind::not_found : ErrorKind::peer, std::move(message));
}

}  // namespace

ApiReason api_reason(const Error& error) {
  if (error.kind == ErrorKind::not_found) return ApiReason::not_found;
  if (error.kind != ErrorKind::peer) return ApiReason::none;
  // Paths hold no spaces, so the first ": HTTP " is the status written by status_error.
  std::string_view m = error.message;
  std::size_t at = m.find(": HTTP ");
  if (at == std::string_view::npos) return ApiReason::none;
  m.remove_prefix(at + 7);
  long code = 0;
  auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), code);
  if (ec != std::errc{}) return ApiReason::none;
  m.remove_prefix(static_cast<std::size_t>(end - m.data()));
  std::string_view reason;
  if (m.starts_with(" ")) {
    m.remove_prefix(1);
    reason = m.substr(0, m.find(':'));
  }
  if (reason == "AlreadyExists") return ApiReason::already_exists;
  if (reason == "Conflict") return ApiReason::conflict;
  switch (code) {
    case 401:
      return ApiReason::unauthorized;
    case 403:
      return ApiReason::forbidden;
    case 409:
      return ApiReason::conflict;
    case 410:
      return ApiReason::gone;
    case 422:
      return ApiReason::invalid;
    default:
      return ApiReason::other;
  }
}

Result<Client> Client::connect(transport::HttpClient& http, Options options) {
  HttpRequest version;
  version.path = "/version";
  version.timeout = options.request_timeout;
  version.cancelled = options.cancelled;
  version.headers = {{"Accept", "application/json"}};
  Result<HttpResponse> answer = http.send(version);
  if (!answer) return answer.error().context("k8s: ");
  if (!answer->success()) return status_error(version, *answer);
  Result<ServerVersion> server = codec::decode_version(answer->body);
  if (!server) return answer_error(version, server.error());
  return Client(http, std::move(options), std::move(server).value());
}

HttpRequest Client::request(Method method, std::string path) const {
  HttpRequest r;
  r.method = method;
  r.path = std::move(path);
  r.timeout = options_.request_timeout;
  r.cancelled = options_.cancelled;
  r.headers = {{"Accept", "application/json"}};
  return r;
}

HttpRequest Client::json_request(Method method, std::string path, std::string body,
                                 const char* content_type) const {
  HttpRequest r = request(method, std::move(path));
  r.headers.emplace_back("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

Result<HttpResponse> Client::send(const HttpRequest& request) {
  Result<HttpResponse> response = http_->send(request);
  if (!response) return response.error().context(describe(request) + ": ");
  if (!response->success()) return status_error(request, *response);
  return response;
}

Status Client::send_only(const HttpRequest& request) {
  Result<HttpResponse> response = send(request);
  if (!response) return response.error();
  return {};
}

}  // namespace phaedo::k8s
