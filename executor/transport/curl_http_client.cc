#include "transport/curl_http_client.h"

#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "transport/curl_owner.h"

namespace phaedo::transport {
namespace {

// Per-call state the C callbacks reach through their user pointer.
struct Transfer {
  const HttpRequest* request = nullptr;
  CURL* easy = nullptr;
  HttpResponse response;
  std::optional<Error> callback_error;  // from the caller's source or sink
  bool cancelled = false;
};

Error callback_threw(const char* what) {
  return make_error(ErrorKind::internal, std::string("http callback threw: ") + what);
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * count;
  if (t->request->on_body) {
    long code = 0;
    curl().easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      try {
        Status s = t->request->on_body(std::string_view(data, len));
        if (!s) {
          t->callback_error = s.error();
          return 0;  // any count but len makes curl stop with CURLE_WRITE_ERROR
        }
      } catch (const std::exception& e) {
        t->callback_error = callback_threw(e.what());
        return 0;
      }
      return len;
    }
  }
  t->response.body.append(data, len);
  return len;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {
    Result<std::size_t> n = t->request->body_source(buffer, size * count);
    if (!n) {
      t->callback_error = n.error();
      return CURL_READFUNC_ABORT;
    }
    return *n;
  } catch (const std::exception& e) {
    t->callback_error = callback_threw(e.what());
    return CURL_READFUNC_ABORT;
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * count;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response (after 100 Continue) starts over
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name = trim(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t->response.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  try {
    if (t->request->cancelled && t->request->cancelled()) {
      t->cancelled = true;
      return 1;
    }
  } catch (const std::exception& e) {
    t->callback_error = callback_threw(e.what());
    return 1;
  }
  return 0;
}

// Sets an option; remembers the first failure so setup can be checked once.
class Setter {
 public:
  explicit Setter(CURL* easy) : easy_(easy) {}
  template <typename V>
  void operator()(CURLoption option, V value) {
    CURLcode c = curl().easy_setopt(easy_, option, value);
    if (c != CURLE_OK && first_ == CURLE_OK) first_ = c;
  }
  void blob(CURLoption option, const std::string& pem) {
    curl_blob b{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
    (*this)(option, &b);
  }
  [[nodiscard]] CURLcode first_error() const { return first_; }

 private:
  CURL* easy_;
  CURLcode first_ = CURLE_OK;
};

void set_tls(Setter& set, const TcpEndpoint& tcp) {
  if (!tcp.ca_file.empty()) set(CURLOPT_CAINFO, tcp.ca_file.c_str());
  if (!tcp.ca_pem.empty()) set.blob(CURLOPT_CAINFO_BLOB, tcp.ca_pem);
  if (!tcp.client_cert_file.empty()) set(CURLOPT_SSLCERT, tcp.client_cert_file.c_str());
  if (!tcp.client_cert_pem.empty()) set.blob(CURLOPT_SSLCERT_BLOB, tcp.client_cert_pem);
  if (!tcp.client_key_file.empty()) set(CURLOPT_SSLKEY, tcp.client_key_file.c_str());
  if (!tcp.client_key_pem.empty()) set.blob(CURLOPT_SSLKEY_BLOB, tcp.client_key_pem);
  const long verify = tcp.verify == TlsVerify::peer_and_host ? 1L : 0L;
  set(CURLOPT_SSL_VERIFYPEER, verify);
  set(CURLOPT_SSL_VERIFYHOST, verify * 2L);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
}

}  // namespace

struct CurlHttpClient::Shared {
  ShareHandle share;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
};

namespace {

void lock_share(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).lock();
}

void unlock_share(CURL*, curl_lock_data data, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).unlock();
}

}  // namespace

Result<std::unique_ptr<CurlHttpClient>> CurlHttpClient::create(CurlOptions options) {
  if (Result<const CurlLibrary*> loaded = load_curl(); !loaded) return loaded.error();
  auto shared = std::make_unique<Shared>();
  shared->share.reset(curl().share_init());
  if (!shared->share) return make_error(ErrorKind::internal, "curl_share_init failed");
  CURLSH* sh = shared->share.get();
  curl().share_setopt(sh, CURLSHOPT_LOCKFUNC, lock_share);
  curl().share_setopt(sh, CURLSHOPT_UNLOCKFUNC, unlock_share);
  curl().share_setopt(sh, CURLSHOPT_USERDATA, &shared->locks);
  curl().share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl().share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl().share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  return std::unique_ptr<CurlHttpClient>(new CurlHttpClient(std::move(options), std::move(shared)));
}

CurlHttpClient::CurlHttpClient(CurlOptions options, std::unique_ptr<Shared> shared)
    : options_(std::move(options)), shared_(std::move(shared)) {}

CurlHttpClient::~CurlHttpClient() = default;

Result<HttpResponse> CurlHttpClient::send(const HttpRequest& request) {
  const std::string what = std::string(to_string(request.method)) + " " + request.path;
  if (request.cancelled && request.cancelled()) return make_error(ErrorKind::cancelled, what + ": cancelled");

  EasyHandle easy(curl().easy_init());
  if (!easy) return make_error(ErrorKind::internal, what + ": curl_easy_init failed");
  Transfer t;
  t.request = &request;
  t.easy = easy.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  Setter set(easy.get());

  std::string url;
  if (const auto* unix_socket = std::get_if<UnixSocketEndpoint>(&options_.endpoint)) {
    set(CURLOPT_UNIX_SOCKET_PATH, unix_socket->path.c_str());
    url = "http://localhost";  // the host part is ignored on a unix socket
  } else {
    const auto& tcp = std::get<TcpEndpoint>(options_.endpoint);
    url = tcp.base_url;
    set_tls(set, tcp);
  }
  url += request.path + encode_query(request.query);
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_ERRORBUFFER, errbuf);
  set(CURLOPT_SHARE, shared_->share.get());
  set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  if (request.timeout.count() > 0) set(CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  set(CURLOPT_WRITEFUNCTION, on_write);
  set(CURLOPT_WRITEDATA, &t);
  set(CURLOPT_HEADERFUNCTION, on_header);
  set(CURLOPT_HEADERDATA, &t);
  set(CURLOPT_NOPROGRESS, 0L);
  set(CURLOPT_XFERINFOFUNCTION, on_progress);
  set(CURLOPT_XFERINFODATA, &t);

  HeaderList headers;
  bool headers_ok = headers.append("Expect:");  // no 100-continue round trip for uploads
  for (const auto& [k, v] : request.headers)
    headers_ok = headers_ok && headers.append((k + ": " + v).c_str());
  if (const auto* tcp = std::get_if<TcpEndpoint>(&options_.endpoint); tcp && !tcp->bearer_token.empty()) {
    headers_ok = headers_ok && headers.append(("Authorization: Bearer " + tcp->bearer_token).c_str());
  }

  switch (request.method) {
    case Method::get:
      set(CURLOPT_HTTPGET, 1L);
      break;
    case Method::head:
      set(CURLOPT_NOBODY, 1L);
      break;
    default:
      set(CURLOPT_CUSTOMREQUEST, to_string(request.method));
      break;
  }
  if (request.body_source) {
    set(CURLOPT_UPLOAD, 1L);  // the method string above still wins over UPLOAD's PUT
    set(CURLOPT_READFUNCTION, on_read);
    set(CURLOPT_READDATA, &t);
    if (request.body_size) {
      set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(*request.body_size));
    } else {
      headers_ok = headers_ok && headers.append("Transfer-Encoding: chunked");
    }
  } else if (request.method != Method::get && request.method != Method::head &&
             (!request.body.empty() || request.method != Method::del)) {
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, request.body.data());
  }
  if (!headers_ok) return make_error(ErrorKind::internal, what + ": cannot build the header list");
  set(CURLOPT_HTTPHEADER, headers.get());
  if (set.first_error() != CURLE_OK) {
    return make_error(ErrorKind::internal,
                      what + ": curl_easy_setopt: " + curl().easy_strerror(set.first_error()));
  }

  const auto started = std::chrono::steady_clock::now();
  CURLcode code = curl().easy_perform(easy.get());
  if (code == CURLE_OK) {
    curl().easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &t.response.status);
    return std::move(t.response);
  }
  if (t.callback_error) return *t.callback_error;
  if (t.cancelled) return make_error(ErrorKind::cancelled, what + ": cancelled");
  std::string detail = errbuf[0] != '\0' ? errbuf : curl().easy_strerror(code);
  if (const auto* unix_socket = std::get_if<UnixSocketEndpoint>(&options_.endpoint);
      unix_socket && code == CURLE_COULDNT_CONNECT) {
    // curl names "localhost port 80" here; the socket and errno say more.
    long os_errno = 0;
    curl().easy_getinfo(easy.get(), CURLINFO_OS_ERRNO, &os_errno);
    detail = "cannot connect to unix socket " + unix_socket->path +
             (os_errno != 0 ? std::string(": ") + std::strerror(static_cast<int>(os_errno)) : std::string());
  }
  if (code == CURLE_OPERATION_TIMEDOUT && request.timeout.count() > 0 &&
      std::chrono::steady_clock::now() - started >= request.timeout * 9 / 10) {
    return make_error(ErrorKind::cancelled,
                      what + ": timed out after " + std::to_string(request.timeout.count()) + " ms");
  }
  return make_error(ErrorKind::io, what + ": " + detail);
}

}  // namespace phaedo::transport
