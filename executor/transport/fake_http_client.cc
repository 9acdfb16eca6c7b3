#include "transport/fake_http_client.h"

#include <algorithm>
#include <array>
#include <utility>

namespace phaedo::transport {

ReplayHttpClient::ReplayHttpClient(std::vector<Exchange> script, std::size_t chunk_size)
    : script_(std::move(script)), chunk_size_(std::max<std::size_t>(chunk_size, 1)) {}

Result<HttpResponse> ReplayHttpClient::send(const HttpRequest& request) {
  const std::string what = std::string(to_string(request.method)) + " " + request.path;
  HttpRequest recorded = request;
  if (request.body_source) {
    recorded.body.clear();
    std::array<char, 4096> buffer{};
    for (;;) {
      Result<std::size_t> n = request.body_source(buffer.data(), buffer.size());
      if (!n) return n.error();
      if (*n == 0) break;
      recorded.body.append(buffer.data(), *n);
    }
    recorded.body_source = nullptr;
  }
  requests_.push_back(std::move(recorded));

  if (next_ >= script_.size()) return make_error(ErrorKind::internal, "replay: unexpected request " + what);
  const Exchange& ex = script_[next_];
  if (ex.method != request.method || ex.path != request.path) {
    return make_error(ErrorKind::internal,
                      "replay: got " + what + ", expected " + to_string(ex.method) + " " + ex.path);
  }
  ++next_;
  if (request.cancelled && request.cancelled()) return make_error(ErrorKind::cancelled, what + ": cancelled");

  HttpResponse response = ex.response;
  if (request.on_body && response.success()) {
    std::string_view rest = response.body;
    while (!rest.empty()) {
      std::size_t n = std::min(chunk_size_, rest.size());
      if (Status s = request.on_body(rest.substr(0, n)); !s) return s.error();
      rest.remove_prefix(n);
    }
    response.body.clear();
  }
  return response;
}

}  // namespace phaedo::transport
