#include "dockerscope/upstream_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "dockerscope/wire.h"

namespace phaedo::dockerscope {

constexpr std::size_t kAnswerLimit = 64 << 20;

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return make_error(ErrorKind::invalid_input, "socket path " + path + " is empty or too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Result<Fd> connect_unix(const std::string& path) {
  Result<sockaddr_un> addr = unix_address(path);
  if (!addr) return addr.error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_error(ErrorKind::io, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
    return make_error(ErrorKind::io, "connect " + path + ": " + std::strerror(errno));
  return fd;
}

Result<transport::HttpResponse> UnixHttpClient::send(const transport::HttpRequest& request) {
  if (request.body_source || request.on_body)
    return make_error(ErrorKind::internal, "UnixHttpClient: streamed bodies are not supported");
  Result<Fd> fd = connect_unix(socket_path_);
  if (!fd) return fd.error();
  if (request.timeout.count() > 0) {
    timeval tv{static_cast<time_t>(request.timeout.count() / 1000),
               static_cast<suseconds_t>((request.timeout.count() % 1000) * 1000)};
    ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  Conn conn(std::move(fd).value());
  RequestHead head{transport::to_string(request.method), request.path + transport::encode_query(request.query),
                   "HTTP/1.1", {{"Host", "docker"}, {"User-Agent", "phaedo-dockerscope"}, {"Connection", "close"}}};
  std::transform(head.method.begin(), head.method.end(), head.method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& h : request.headers) head.headers.push_back(h);
  if (!request.body.empty() || request.method == transport::Method::post || request.method == transport::Method::put)
    head.headers.emplace_back("Content-Length", std::to_string(request.body.size()));
  if (Status s = conn.write_all(serialize(head) + request.body); !s) return s.error();

  Result<std::optional<std::string>> text = conn.read_head();
  if (!text) return text.error();
  if (!text->has_value()) return make_error(ErrorKind::io, "docker: the daemon closed the connection");
  Result<ResponseHead> answer = parse_response_head(**text);
  if (!answer) return answer.error();
  Result<BodyFraming> framing = response_framing(*answer, head.method);
  if (!framing) return framing.error();
  Result<std::string> body = read_body(conn, *framing, kAnswerLimit);
  if (!body) return body.error();
  transport::HttpResponse response;
  response.status = answer->status;
  for (auto [name, value] : answer->headers) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    response.headers.emplace_back(std::move(name), std::move(value));
  }
  response.body = std::move(body).value();
  return response;
}

}  // namespace phaedo::dockerscope
