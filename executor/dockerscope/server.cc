#include "dockerscope/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "dockerscope/upstream_client.h"

namespace phaedo::dockerscope {
namespace {

// Large socket buffers let the relay keep reading from one side while the other
// drains: a 1 GiB build context then flows at nearly the speed of a direct
// connection instead of in lock-step. Capped by net.core.[rw]mem_max; best effort.
void widen_buffers(int fd) {
  int size = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

Error sys_error(const std::string& what) { return make_error(ErrorKind::io, what + ": " + std::strerror(errno)); }

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::rejected:
      return 403;
    case ErrorKind::invalid_input:
      return 400;
    case ErrorKind::not_found:
      return 404;
    default:
      return 502;
  }
}

const char* reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    default:
      return "Bad Gateway";
  }
}

std::string error_answer(int status, const std::string& message, bool close, bool head_request = false) {
  // 404s keep the daemon's own wording ("No such container: x"); others say who refused.
  std::string text = status == 404 ? message : "phaedo: " + message;
  std::string body = nlohmann::json{{"message", text}}.dump() + "\n";
  ResponseHead head{"HTTP/1.1", status, reason(status),
                    {{"Content-Type", "application/json"},
                     {"Content-Length", std::to_string(body.size())},
                     {"Api-Version", "1.41"}}};
  if (close) head.headers.emplace_back("Connection", "close");
  return serialize(head) + (head_request ? "" : body);  // a HEAD answer has no body
}

}  // namespace

Result<std::unique_ptr<Server>> Server::listen(ServerOptions options, Gate& gate, RefusalLog log) {
  std::unique_ptr<Server> server(new Server(std::move(options), gate, std::move(log)));
  Result<sockaddr_un> addr = unix_address(server->options_.socket_path);
  if (!addr) return addr.error();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return sys_error("pipe");
  server->stop_read_ = Fd(pipe_fds[0]);
  server->stop_write_ = Fd(pipe_fds[1]);

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("socket");
  struct stat st {};
  if (::lstat(server->options_.socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(ErrorKind::invalid_input, server->options_.socket_path + " exists and is not a socket");
    ::unlink(server->options_.socket_path.c_str());
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
    return sys_error("bind " + server->options_.socket_path);
  if (::chmod(server->options_.socket_path.c_str(), server->options_.socket_mode) != 0)
    return sys_error("chmod " + server->options_.socket_path);
  if (::listen(fd.get(), 64) != 0) return sys_error("listen");
  server->listen_ = std::move(fd);
  return server;
}

Server::~Server() { stop(); }

void Server::stop() {
  stopping_ = true;
  if (stop_write_.valid()) (void)!::write(stop_write_.get(), "x", 1);
}

void Server::track(int fd, bool add) {
  std::lock_guard lock(mutex_);
  if (add) {
    open_fds_.insert(fd);
  } else {
    open_fds_.erase(fd);
  }
}

void Server::run() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;
    Fd client(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client.valid()) continue;
    widen_buffers(client.get());
    {
      std::lock_guard lock(mutex_);
      ++active_;
      open_fds_.insert(client.get());
    }
    std::thread([this, c = std::move(client)]() mutable { serve(std::move(c)); }).detach();
  }
  stopping_ = true;
  listen_.reset();
  ::unlink(options_.socket_path.c_str());
  std::unique_lock lock(mutex_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void Server::serve(Fd client_fd) {
  const int fd = client_fd.get();
  Conn client(std::move(client_fd));
  {
    Upstream upstream(*this);
    while (!stopping_ && exchange(client, upstream)) {
    }
  }
  std::lock_guard lock(mutex_);
  open_fds_.erase(fd);
  client.close();  // under the lock: run() never shuts down a reused fd number
  --active_;
  idle_.notify_all();
}

Result<Conn> Server::connect_upstream() const {
  Result<Fd> fd = connect_unix(options_.upstream_socket);
  if (!fd) return fd.error();
  widen_buffers(fd->get());
  return Conn(std::move(fd).value());
}

Result<Conn*> Server::Upstream::get(bool& reused) {
  reused = false;
  if (conn_) {
    // Between requests an idle connection has nothing to read: readable means the
    // daemon closed it (or broke the protocol), so it is not used again.
    pollfd p{conn_->fd(), POLLIN, 0};
    if (!conn_->has_buffered() && ::poll(&p, 1, 0) == 0) {
      reused = true;
      return &*conn_;
    }
    drop();
  }
  Result<Conn> fresh = server_->connect_upstream();
  if (!fresh) return fresh.error();
  conn_.emplace(std::move(fresh).value());
  server_->track(conn_->fd(), true);
  return &*conn_;
}

void Server::Upstream::drop() {
  if (!conn_) return;
  server_->track(conn_->fd(), false);
  conn_.reset();
}

Result<Conn*> Server::send_upstream(Upstream& upstream, const std::string& bytes) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    Result<Conn*> conn = upstream.get(reused);
    if (!conn) return conn;
    Status sent = (*conn)->write_all(bytes);
    if (sent) return conn;
    upstream.drop();
    // Nothing of this request reached a daemon that had closed the connection.
    if (!reused || attempt > 0) return sent.error();
  }
}

bool Server::exchange(Conn& client, Upstream& upstream_slot) {
  Result<std::optional<std::string>> text = client.read_head();
  if (!text || !text->has_value()) return false;
  Result<RequestHead> head = parse_request_head(**text);
  Result<BodyFraming> framing = head ? request_framing(*head) : Result<BodyFraming>(head.error());
  if (!framing) {
    (void)client.write_all(error_answer(400, framing.error().message, true));
    return false;
  }
  const bool expects_continue = header_has_token(head->headers, "Expect", "100-continue");
  auto send_continue = [&] {
    if (expects_continue) (void)client.write_all("HTTP/1.1 100 Continue\r\n\r\n");
  };

  std::optional<std::string> read;  // the body, when the gate read it
  BodyReader reader = [&]() -> Result<std::string> {
    send_continue();
    Result<std::string> body = read_body(client, *framing, options_.inspected_body_limit);
    if (body) read = *body;
    return body;
  };
  Result<Plan> plan = gate_->decide(*head, reader);
  if (!plan) {
    const int status = http_status(plan.error().kind);
    if (log_) log_(head->method, head->target, status, plan.error().message);
    // Answer first, then drop the unread body: a client still writing it (an image
    // load, a build context) would otherwise see a broken pipe instead of the answer.
    const bool body_left = !read && framing->kind != Framing::none;
    if (!client.write_all(error_answer(status, plan.error().message, false, head->method == "HEAD"))) return false;
    return !body_left || discard_body(client, *framing).ok();
  }

  RequestHead& out = plan->head;
  remove_header(out.headers, "Expect");
  if (!plan->body && read) plan->body = std::move(read);
  std::string request = [&] {
    if (!plan->body) return serialize(out);
    remove_header(out.headers, "Transfer-Encoding");
    set_header(out.headers, "Content-Length", std::to_string(plan->body->size()));
    return serialize(out) + *plan->body;
  }();
  Result<Conn*> sent = send_upstream(upstream_slot, request);
  if (!sent) {
    (void)client.write_all(error_answer(502, "upstream: " + sent.error().message, true));
    return false;
  }
  Conn* upstream = *sent;
  // Any early return from here on leaves the upstream connection mid-exchange.
  struct DropUnlessKept {
    Upstream& slot;
    bool keep = false;
    ~DropUnlessKept() {
      if (!keep) slot.drop();
    }
  } guard{upstream_slot};
  if (!plan->body) {
    send_continue();
    if (!relay_body(client, *upstream, *framing)) return false;
  }

  Result<std::optional<std::string>> answer_text = upstream->read_head();
  if (!answer_text || !answer_text->has_value()) {
    (void)client.write_all(error_answer(502, "upstream: the daemon closed the connection", true));
    return false;
  }
  Result<ResponseHead> answer = parse_response_head(**answer_text);
  Result<BodyFraming> answer_framing =
      answer ? response_framing(*answer, head->method) : Result<BodyFraming>(answer.error());
  if (!answer_framing) {
    (void)client.write_all(error_answer(502, "upstream: " + answer_framing.error().message, true));
    return false;
  }
  const bool raw = answer->status == 101 || answer_framing->kind == Framing::until_close;
  if (plan->buffer_response && !raw) {
    Result<std::string> body = read_body(*upstream, *answer_framing, options_.inspected_body_limit);
    if (!body) return false;
    if (plan->finish) plan->finish(answer->status, *body);
    if (plan->rewrite && answer->status >= 200 && answer->status < 300) *body = plan->rewrite(*body);
    remove_header(answer->headers, "Transfer-Encoding");
    set_header(answer->headers, "Content-Length", std::to_string(body->size()));
    if (!client.write_all(serialize(*answer) + *body)) return false;
  } else {
    if (plan->finish) plan->finish(answer->status, "");
    if (raw) {
      if (!client.write_all(serialize(*answer))) return false;
      // Hijacked (attach, exec start) or a raw stream: bytes both ways until both end.
      relay_both_ways(client, *upstream);
      return false;
    }
    if (!relay_body(*upstream, client, *answer_framing, plan->observe, serialize(*answer))) return false;
  }
  const bool daemon_closes = answer->version == "HTTP/1.0" || header_has_token(answer->headers, "Connection", "close");
  guard.keep = !daemon_closes;
  const bool close = head->version == "HTTP/1.0" || header_has_token(head->headers, "Connection", "close") || daemon_closes;
  return !close;
}

}  // namespace phaedo::dockerscope
