// The HttpClient the gate asks its questions with: one short request per fresh
// connection to the daemon's unix socket, over this directory's own HTTP code.
//
// Not CurlHttpClient: the proxy calls it from many connection threads at once,
// and a hung or hijacked exchange on one thread must never hold a lock another
// thread needs (with curl's shared connection cache, a second thread's inspect
// stalled while the first thread relayed an attach). Supports buffered bodies only
// (no body_source, no on_body): internal error if a request sets them.
#pragma once

#include <sys/un.h>

#include <string>

#include "core/fd.h"
#include "transport/http.h"

namespace phaedo::dockerscope {

class UnixHttpClient final : public transport::HttpClient {
 public:
  explicit UnixHttpClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  [[nodiscard]] Result<transport::HttpResponse> send(const transport::HttpRequest& request) override;

 private:
  std::string socket_path_;
};

// The address of a unix socket path; invalid_input when empty or too long.
Result<sockaddr_un> unix_address(const std::string& path);
// A connected unix stream socket; io error naming the path.
Result<Fd> connect_unix(const std::string& path);

}  // namespace phaedo::dockerscope
