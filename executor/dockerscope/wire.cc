#include "dockerscope/wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <span>

namespace phaedo::dockerscope {
namespace {

constexpr std::size_t kChunk = 256 * 1024;
// A connection's read buffer starts at kFirstBuffer (heads and small bodies fit)
// and doubles when less than kMinRead is free after compaction.
constexpr std::size_t kFirstBuffer = 64 * 1024;
constexpr std::size_t kMinRead = 16 * 1024;
// A relay writes when this much is pending or before it would wait for input.
constexpr std::size_t kCoalesce = 256 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Error bad(std::string message) { return make_error(ErrorKind::invalid_input, "http: " + std::move(message)); }

// Splits a head into its first line and its headers.
Result<std::pair<std::string_view, Headers>> split_head(std::string_view text) {
  std::size_t eol = text.find("\r\n");
  std::string_view first = text.substr(0, eol);
  Headers headers;
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 2);
    eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') return bad("folded header lines are not accepted");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("header without a name: " + std::string(line));
    std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return bad("space in header name");
    headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  return std::pair{first, std::move(headers)};
}

std::string serialize_headers(const Headers& headers) {
  std::string out;
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view text, int base) {
  std::uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

void remove_header(Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
}

void set_header(Headers& headers, std::string_view name, std::string value) {
  remove_header(headers, name);
  headers.emplace_back(std::string(name), std::move(value));
}

bool header_has_token(const Headers& headers, std::string_view name, std::string_view token) {
  for (const auto& [n, v] : headers) {
    if (!iequals(n, name)) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      if (iequals(trim(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

Result<RequestHead> parse_request_head(std::string_view text) {
  auto split = split_head(text);
  if (!split) return split.error();
  auto& [line, headers] = *split;
  std::size_t a = line.find(' ');
  std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos || line.find(' ', b + 1) != std::string_view::npos)
    return bad("malformed request line");
  RequestHead head{std::string(line.substr(0, a)), std::string(line.substr(a + 1, b - a - 1)),
                   std::string(line.substr(b + 1)), std::move(headers)};
  if (head.version != "HTTP/1.1" && head.version != "HTTP/1.0") return bad("unsupported version " + head.version);
  if (head.target.empty() || head.target.front() != '/') return bad("request target must start with '/'");
  return head;
}

Result<ResponseHead> parse_response_head(std::string_view text) {
  auto split = split_head(text);
  if (!split) return split.error();
  auto& [line, headers] = *split;
  std::size_t a = line.find(' ');
  if (a == std::string_view::npos) return bad("malformed status line");
  std::string_view rest = line.substr(a + 1);
  std::size_t b = rest.find(' ');
  std::optional<std::uint64_t> status = parse_u64(rest.substr(0, b), 10);
  if (!status || *status < 100 || *status > 999) return bad("malformed status line");
  ResponseHead head;
  head.version = std::string(line.substr(0, a));
  head.status = static_cast<int>(*status);
  head.reason = b == std::string_view::npos ? "" : std::string(rest.substr(b + 1));
  head.headers = std::move(headers);
  return head;
}

std::string serialize(const RequestHead& head) {
  return head.method + " " + head.target + " " + head.version + "\r\n" + serialize_headers(head.headers);
}

std::string serialize(const ResponseHead& head) {
  return head.version + " " + std::to_string(head.status) + " " + head.reason + "\r\n" +
         serialize_headers(head.headers);
}

namespace {

Result<BodyFraming> framing_of(const Headers& headers, bool response) {
  std::optional<std::string> te = find_header(headers, "Transfer-Encoding");
  std::size_t lengths = std::count_if(headers.begin(), headers.end(),
                                      [](const auto& h) { return iequals(h.first, "Content-Length"); });
  if (te) {
    if (lengths > 0) return bad("both Content-Length and Transfer-Encoding");
    if (!iequals(trim(*te), "chunked")) return bad("unsupported Transfer-Encoding " + *te);
    return BodyFraming{Framing::chunked, 0};
  }
  if (lengths > 1) return bad("more than one Content-Length");
  if (lengths == 1) {
    std::optional<std::uint64_t> n = parse_u64(trim(*find_header(headers, "Content-Length")), 10);
    if (!n) return bad("malformed Content-Length");
    return BodyFraming{*n == 0 ? Framing::none : Framing::length, *n};
  }
  return BodyFraming{response ? Framing::until_close : Framing::none, 0};
}

}  // namespace

Result<BodyFraming> request_framing(const RequestHead& head) { return framing_of(head.headers, false); }

Result<BodyFraming> response_framing(const ResponseHead& head, std::string_view request_method) {
  if (request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304)
    return BodyFraming{Framing::none, 0};
  return framing_of(head.headers, true);
}

// --- Conn -------------------------------------------------------------------

Result<std::size_t> Conn::fill() {
  if (pos_ == end_) pos_ = end_ = 0;
  if (buffer_.size() - end_ < kMinRead) {
    if (pos_ > 0) {  // move the unread bytes to the front
      std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (buffer_.size() - end_ < kMinRead) buffer_.resize(std::max(buffer_.size() * 2, end_ + kFirstBuffer));
  }
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buffer_.data() + end_, buffer_.size() - end_, 0);
    if (n >= 0) {
      end_ += static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    return make_error(ErrorKind::io, std::string("recv: ") + std::strerror(errno));
  }
}

Result<std::optional<std::string>> Conn::read_head(std::size_t limit) {
  std::size_t scanned = 0;  // bytes after pos_ already searched (fill() may move pos_)
  for (;;) {
    std::size_t from = scanned > 3 ? scanned - 3 : 0;
    std::size_t end = unread().find("\r\n\r\n", from);
    if (end != std::string_view::npos) {
      std::string head(unread().substr(0, end));
      pos_ += end + 4;
      return std::optional<std::string>(std::move(head));
    }
    scanned = end_ - pos_;
    if (scanned > limit) return bad("head longer than " + std::to_string(limit) + " bytes");
    Result<std::size_t> n = fill();
    if (!n) return n.error();
    if (*n == 0) {
      if (end_ == pos_) return std::optional<std::string>();
      return make_error(ErrorKind::io, "http: connection closed inside a head");
    }
  }
}

Result<std::size_t> Conn::read_some(char* buffer, std::size_t capacity) {
  if (pos_ == end_) {
    // Large reads go straight to the caller's buffer: no copy for bulk bodies.
    pos_ = end_ = 0;
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buffer, capacity, 0);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      return make_error(ErrorKind::io, std::string("recv: ") + std::strerror(errno));
    }
  }
  std::size_t n = std::min(capacity, end_ - pos_);
  std::memcpy(buffer, buffer_.data() + pos_, n);
  pos_ += n;
  return n;
}

Status Conn::read_exact(char* buffer, std::size_t size) {
  while (size > 0) {
    Result<std::size_t> n = read_some(buffer, size);
    if (!n) return n.error();
    if (*n == 0) return make_error(ErrorKind::io, "http: connection closed inside a body");
    buffer += *n;
    size -= *n;
  }
  return {};
}

Result<std::string> Conn::read_line(std::size_t limit) {
  for (;;) {
    std::size_t end = unread().find("\r\n");
    if (end != std::string_view::npos) {
      std::string line(unread().substr(0, end));
      pos_ += end + 2;
      return line;
    }
    if (end_ - pos_ > limit) return bad("line longer than " + std::to_string(limit) + " bytes");
    Result<std::size_t> n = fill();
    if (!n) return n.error();
    if (*n == 0) return make_error(ErrorKind::io, "http: connection closed inside a chunked body");
  }
}

Status Conn::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorKind::io, std::string("send: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

void Conn::shutdown_write() {
  if (fd_.valid()) ::shutdown(fd_.get(), SHUT_WR);
}

std::string Conn::take_buffered() {
  std::string rest(unread());
  pos_ = end_ = 0;
  return rest;
}

// --- bodies -----------------------------------------------------------------

namespace {

// Calls `piece` for each payload piece of the body and `raw` with the chunked
// framing (size lines, CRLFs, trailers) so relays can re-frame; `idle` before any
// read that may wait for the peer (a relay flushes what it holds).
template <typename Piece>
Status walk_body(Conn& in, const BodyFraming& framing, Piece&& piece,
                 const std::function<Status(std::string_view)>& raw, const std::function<Status()>& idle = {}) {
  auto before_wait = [&](bool would_wait) -> Status { return would_wait && idle ? idle() : Status{}; };
  if (framing.kind == Framing::none || (framing.kind == Framing::length && framing.length == 0)) return {};
  // Uninitialised and no larger than the body: a small answer costs a small buffer.
  const std::size_t capacity =
      framing.kind == Framing::length ? static_cast<std::size_t>(std::min<std::uint64_t>(framing.length, kChunk)) : kChunk;
  std::unique_ptr<char[]> owner(new char[capacity]);
  std::span<char> buffer(owner.get(), capacity);
  switch (framing.kind) {
    case Framing::none:
      return {};
    case Framing::length:
    case Framing::until_close: {
      std::uint64_t left = framing.length;
      for (;;) {
        std::size_t want = buffer.size();
        if (framing.kind == Framing::length) {
          if (left == 0) return {};
          want = static_cast<std::size_t>(std::min<std::uint64_t>(left, want));
        }
        if (Status s = before_wait(!in.has_buffered()); !s) return s;
        Result<std::size_t> n = in.read_some(buffer.data(), want);
        if (!n) return n.error();
        if (*n == 0) {
          if (framing.kind == Framing::until_close) return {};
          return make_error(ErrorKind::io, "http: connection closed inside a body");
        }
        left -= *n;
        if (Status s = piece(std::string_view(buffer.data(), *n)); !s) return s;
      }
    }
    case Framing::chunked:
      for (;;) {
        if (Status s = before_wait(!in.has_line()); !s) return s;
        Result<std::string> line = in.read_line();
        if (!line) return line.error();
        std::string_view size_text = *line;
        size_text = trim(size_text.substr(0, size_text.find(';')));
        std::optional<std::uint64_t> size = parse_u64(size_text, 16);
        if (!size) return bad("malformed chunk size");
        if (raw) {
          if (Status s = raw(*line + "\r\n"); !s) return s;
        }
        if (*size == 0) {
          for (;;) {  // trailers, then the empty line
            if (Status s = before_wait(!in.has_line()); !s) return s;
            Result<std::string> trailer = in.read_line();
            if (!trailer) return trailer.error();
            if (raw) {
              if (Status s = raw(*trailer + "\r\n"); !s) return s;
            }
            if (trailer->empty()) return {};
          }
        }
        std::uint64_t left = *size;
        while (left > 0) {
          std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
          if (Status s = before_wait(!in.has_buffered()); !s) return s;
          Result<std::size_t> n = in.read_some(buffer.data(), want);
          if (!n) return n.error();
          if (*n == 0) return make_error(ErrorKind::io, "http: connection closed inside a chunk");
          left -= *n;
          if (Status s = piece(std::string_view(buffer.data(), *n)); !s) return s;
        }
        if (Status s = before_wait(in.buffered() < 2); !s) return s;
        char crlf[2];
        if (Status s = in.read_exact(crlf, 2); !s) return s;
        if (crlf[0] != '\r' || crlf[1] != '\n') return bad("chunk not followed by CRLF");
        if (raw) {
          if (Status s = raw("\r\n"); !s) return s;
        }
      }
  }
  return {};
}

}  // namespace

Status relay_body(Conn& in, Conn& out, const BodyFraming& framing, const Observer& observe, std::string head) {
  // Writes are coalesced (the head, a chunk's size line, data and CRLF go out in
  // one send) but never held while the relay waits for more input: streams stay live.
  std::string pending = std::move(head);
  auto flush = [&]() -> Status {
    if (pending.empty()) return {};
    Status s = out.write_all(pending);
    pending.clear();
    return s;
  };
  auto add = [&](std::string_view bytes) -> Status {
    if (pending.empty() && bytes.size() >= kCoalesce) return out.write_all(bytes);
    pending.append(bytes);
    return pending.size() >= kCoalesce ? flush() : Status{};
  };
  Status s = walk_body(
      in, framing,
      [&](std::string_view bytes) {
        if (observe) observe(bytes);
        return add(bytes);
      },
      add, flush);
  if (!s) return s;
  return flush();
}

Result<std::string> read_body(Conn& in, const BodyFraming& framing, std::size_t limit) {
  std::string body;
  Status s = walk_body(
      in, framing,
      [&](std::string_view bytes) -> Status {
        if (body.size() + bytes.size() > limit) return bad("body longer than " + std::to_string(limit) + " bytes");
        body.append(bytes);
        return {};
      },
      {});
  if (!s) return s.error();
  return body;
}

Status discard_body(Conn& in, const BodyFraming& framing) {
  return walk_body(in, framing, [](std::string_view) { return Status{}; }, {});
}

void relay_both_ways(Conn& a, Conn& b) {
  // Bytes already buffered on either side go first.
  if (a.has_buffered() && !b.write_all(a.take_buffered())) return;
  if (b.has_buffered() && !a.write_all(b.take_buffered())) return;
  bool open[2] = {true, true};  // side i still sends
  Conn* side[2] = {&a, &b};
  std::unique_ptr<char[]> owner(new char[kChunk]);
  std::span<char> buffer(owner.get(), kChunk);
  while (open[0] || open[1]) {
    // A side that reached EOF is polled for nothing but POLLHUP, which means the
    // socket is shut in both directions: nothing can flow through it any more.
    pollfd fds[2] = {{a.fd(), static_cast<short>(open[0] ? POLLIN : 0), 0},
                     {b.fd(), static_cast<short>(open[1] ? POLLIN : 0), 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      Conn& from = *side[i];
      Conn& to = *side[1 - i];
      if (open[i] && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        Result<std::size_t> n = from.read_some(buffer.data(), buffer.size());
        if (!n || *n == 0) {
          open[i] = false;
          to.shutdown_write();
          continue;
        }
        if (!to.write_all(std::string_view(buffer.data(), *n))) return;
      } else if (!open[i] && (fds[i].revents & (POLLHUP | POLLERR)) != 0) {
        return;  // the peer is gone entirely (closed, not just half-closed)
      }
    }
  }
}

}  // namespace phaedo::dockerscope
