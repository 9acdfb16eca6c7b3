// A fake HttpClient that replays recorded answers, for testing API clients
// without a daemon.
//
// It holds a script of exchanges: each send() must match the next one's method and
// path (the query is not compared, but recorded), else it returns an internal
// error naming both. The scripted response is returned as the real client would:
// 2xx bodies go to on_body when set, cut into pieces of `chunk_size` bytes so
// tests exercise frames split across callbacks. Request bodies (also from
// body_source) are drained and kept in requests() for assertions.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

#include "transport/http.h"

namespace phaedo::transport {

struct Exchange {
  Method method = Method::get;
  std::string path;
  HttpResponse response;
};

class ReplayHttpClient final : public HttpClient {
 public:
  explicit ReplayHttpClient(std::vector<Exchange> script,
                            std::size_t chunk_size = std::numeric_limits<std::size_t>::max());

  [[nodiscard]] Result<HttpResponse> send(const HttpRequest& request) override;

  // Every request received so far; body_source drained into body.
  [[nodiscard]] const std::vector<HttpRequest>& requests() const { return requests_; }
  // True once every scripted exchange was used.
  [[nodiscard]] bool finished() const { return next_ == script_.size(); }

 private:
  std::vector<Exchange> script_;
  std::size_t chunk_size_;
  std::size_t next_ = 0;
  std::vector<HttpRequest> requests_;
};

}  // namespace phaedo::transport
