// HTTP/1.1 on the wire, for a proxy that must see every request and never hold a
// whole body.
//
// Conn owns one connected stream socket and a read buffer. Heads (request line or
// status line plus headers) are parsed into structs that keep header names as sent,
// so a forwarded head differs from the original only where the proxy changed it.
// Bodies are relayed piece by piece in the framing they arrived in (Content-Length,
// chunked, or until the peer closes); only bodies the proxy must inspect (small JSON
// documents) are read whole, up to a limit.
//
// Errors: io for socket failures and early EOF; invalid_input for malformed or
// ambiguous framing (both Content-Length and Transfer-Encoding, a non-chunked
// Transfer-Encoding, a bad chunk size) — the request-smuggling shapes a proxy must
// not pass on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/fd.h"
#include "core/result.h"

namespace phaedo::dockerscope {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The first header called `name` (case-insensitive).
[[nodiscard]] std::optional<std::string> find_header(const Headers& headers, std::string_view name);
// Removes every header called `name`, then appends one with `value`.
void set_header(Headers& headers, std::string_view name, std::string value);
void remove_header(Headers& headers, std::string_view name);
// True when a comma-separated header (Connection, Upgrade) lists `token`.
[[nodiscard]] bool header_has_token(const Headers& headers, std::string_view name, std::string_view token);

struct RequestHead {
  std::string method;  // "GET", "POST", …
  std::string target;  // origin-form: "/v1.41/containers/json?all=1"
  std::string version; // "HTTP/1.1"
  Headers headers;
};

struct ResponseHead {
  std::string version;
  int status = 0;
  std::string reason;
  Headers headers;
};

Result<RequestHead> parse_request_head(std::string_view text);
Result<ResponseHead> parse_response_head(std::string_view text);
[[nodiscard]] std::string serialize(const RequestHead& head);
[[nodiscard]] std::string serialize(const ResponseHead& head);

enum class Framing { none, length, chunked, until_close };
struct BodyFraming {
  Framing kind = Framing::none;
  std::uint64_t length = 0;  // Framing::length only
};

// Requests never use until_close. invalid_input on ambiguous framing.
Result<BodyFraming> request_framing(const RequestHead& head);
// HEAD answers, 1xx, 204 and 304 have no body; otherwise chunked, length, or until close.
Result<BodyFraming> response_framing(const ResponseHead& head, std::string_view request_method);

class Conn {
 public:
  explicit Conn(Fd fd) : fd_(std::move(fd)) {}
  Conn(Conn&&) = default;
  Conn& operator=(Conn&&) = default;

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] bool open() const { return fd_.valid(); }
  void close() { fd_.reset(); }

  // The next head (without its blank line); nullopt on EOF before its first byte.
  // invalid_input when it exceeds `limit` bytes.
  Result<std::optional<std::string>> read_head(std::size_t limit = 64 * 1024);
  // Up to `capacity` bytes, buffered ones first; 0 at EOF.
  Result<std::size_t> read_some(char* buffer, std::size_t capacity);
  Status read_exact(char* buffer, std::size_t size);
  // One line without its CRLF (chunk sizes, trailers).
  Result<std::string> read_line(std::size_t limit = 4096);
  Status write_all(std::string_view bytes);
  // Half-close: the peer reads EOF, this side can still read.
  void shutdown_write();
  // Bytes read from the socket but not consumed yet (handed over on a hijack).
  [[nodiscard]] bool has_buffered() const { return pos_ < end_; }
  [[nodiscard]] std::size_t buffered() const { return end_ - pos_; }
  // True when a whole line (CRLF) is buffered: read_line() will not wait.
  [[nodiscard]] bool has_line() const { return unread().find("\r\n") != std::string_view::npos; }
  std::string take_buffered();

 private:
  Result<std::size_t> fill();
  [[nodiscard]] std::string_view unread() const { return {buffer_.data() + pos_, end_ - pos_}; }

  Fd fd_;
  // Bytes [pos_, end_) are read but not consumed. The buffer is allocated (and
  // zeroed) once when it grows, not on every read: a small request costs no
  // large memset.
  std::string buffer_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
};

// Sees payload bytes as they pass (after chunk decoding).
using Observer = std::function<void(std::string_view bytes)>;

// Copies one body from `in` to `out` in the same framing, chunk by chunk.
// `observe`, when set, sees the payload.
// `head`, when given, is written first, in the same send as the first payload bytes
// that are already at hand (never held while the relay waits for the peer).
Status relay_body(Conn& in, Conn& out, const BodyFraming& framing, const Observer& observe = {},
                  std::string head = {});
// Reads a whole body; invalid_input when it is longer than `limit`.
Result<std::string> read_body(Conn& in, const BodyFraming& framing, std::size_t limit);
// Reads and drops a body (so a keep-alive connection can carry on).
Status discard_body(Conn& in, const BodyFraming& framing);
// After a hijack: copies bytes both ways until both directions reached EOF,
// passing each EOF on as a half-close. Returns when both sides are done.
void relay_both_ways(Conn& a, Conn& b);

}  // namespace phaedo::dockerscope
