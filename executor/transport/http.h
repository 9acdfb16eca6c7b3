// The HTTP seam: what the Docker and Kubernetes clients send, and what comes back.
//
// HttpClient is abstract so API clients can be tested against a fake that replays
// recorded answers (fake_http_client.h); the one real implementation is
// CurlHttpClient (curl_http_client.h). Nothing above transport/ includes curl.
//
// Contract of send():
//  * Any HTTP status is a successful exchange: the response carries it and the API
//    client decides what 404 or 409 means. Only failures to exchange are errors:
//      io        — connect, TLS, read or write failure, a malformed HTTP answer;
//      cancelled — the request's `cancelled` predicate turned true, or its timeout
//                  expired (the message says which);
//      any kind  — returned by the request's body source or body sink, unchanged.
//  * The response body is buffered in HttpResponse::body unless `on_body` is set and
//    the status is 2xx; then bytes go to `on_body` as they arrive and `body` stays
//    empty. Error answers (non-2xx) are always buffered so the caller can read the
//    peer's message.
//  * The request body is `body`, or, when `body_source` is set, whatever the source
//    produces (sent chunked unless `body_size` is known).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace phaedo::transport {

enum class Method { get, head, post, put, patch, del };
const char* to_string(Method method);

using Fields = std::vector<std::pair<std::string, std::string>>;

// Fills up to `capacity` bytes at `buffer`; returns how many, 0 at the end.
using BodySource = std::function<Result<std::size_t>(char* buffer, std::size_t capacity)>;
// Receives response bytes as they arrive; an error aborts the transfer.
using BodySink = std::function<Status(std::string_view bytes)>;
// Polled during the transfer (at least about once a second); true aborts it.
using CancelCheck = std::function<bool()>;

struct HttpRequest {
  Method method = Method::get;
  std::string path;  // starts with '/', not encoded further; e.g. "/v1.41/containers/abc/json"
  Fields query;      // names and values are percent-encoded by the client; repeats allowed
  Fields headers;    // e.g. {"Content-Type", "application/json"}
  std::string body;
  BodySource body_source;                  // when set, replaces `body`
  std::optional<std::uint64_t> body_size;  // length of body_source's output, if known
  BodySink on_body;                        // when set, 2xx bodies stream here
  std::chrono::milliseconds timeout{0};    // whole exchange; 0 = no limit (streams, waits)
  CancelCheck cancelled;                   // empty = never cancelled
};

struct HttpResponse {
  long status = 0;
  Fields headers;    // names lower-cased, in arrival order
  std::string body;  // empty when streamed to on_body

  [[nodiscard]] bool success() const { return status >= 200 && status < 300; }
  // The first header with this (case-insensitive) name.
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  [[nodiscard]] virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

// "a b/c" → "a%20b%2Fc" (RFC 3986 unreserved characters stay).
std::string percent_encode(std::string_view text);
// "?k=v&k2=v2" from fields (empty string for no fields).
std::string encode_query(const Fields& query);
// A source that yields `data` once; pair with body_size = data.size().
BodySource body_from_string(std::string data);

}  // namespace phaedo::transport
