// The libcurl implementation of HttpClient.
//
// Endpoints: a unix socket (the Docker Engine at /var/run/docker.sock) or a TCP
// base URL, optionally TLS with a CA, a client certificate and key, and a bearer
// token (the Kubernetes API). PEM material is given as file paths or in memory, so
// credentials from a kubeconfig need not be written to disk.
//
// Each send() uses its own easy handle; connections and TLS sessions are shared
// between calls through a lock-protected share handle, so send() may be called from
// several threads at once. Cancellation is polled from curl's progress callback,
// which curl calls about once a second even while no data flows; a cancelled call
// returns within about a second. Secrets (the token, key data) never appear in
// error messages.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <variant>

#include "core/result.h"
#include "transport/http.h"

namespace phaedo::transport {

struct UnixSocketEndpoint {
  std::string path;  // e.g. "/var/run/docker.sock"
};

enum class TlsVerify { peer_and_host, none };

struct TcpEndpoint {
  std::string base_url;          // "https://10.0.0.1:6443" or "http://127.0.0.1:2375"; no trailing '/'
  std::string ca_file;           // PEM bundle to trust; empty: ca_pem or the system store
  std::string ca_pem;            // in-memory alternative to ca_file
  std::string client_cert_file;  // PEM client certificate (mutual TLS)
  std::string client_cert_pem;
  std::string client_key_file;  // PEM private key of the client certificate
  std::string client_key_pem;
  std::string bearer_token;  // sent as "Authorization: Bearer <token>"; empty: none
  TlsVerify verify = TlsVerify::peer_and_host;
};

struct CurlOptions {
  std::variant<UnixSocketEndpoint, TcpEndpoint> endpoint;
  std::chrono::milliseconds connect_timeout{10'000};
  std::string user_agent = "phaedo-executor";
};

class CurlHttpClient final : public HttpClient {
 public:
  // Fails (internal) only if libcurl cannot be initialised.
  static Result<std::unique_ptr<CurlHttpClient>> create(CurlOptions options);

  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;
  ~CurlHttpClient() override;

  [[nodiscard]] Result<HttpResponse> send(const HttpRequest& request) override;

 private:
  struct Shared;
  explicit CurlHttpClient(CurlOptions options, std::unique_ptr<Shared> shared);

  CurlOptions options_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace phaedo::transport
