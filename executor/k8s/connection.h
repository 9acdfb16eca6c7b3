// Where the API server is and who we are: from a kubeconfig file, from the pod's
// service account (in-cluster), or given explicitly.
//
// A Connection holds secrets (token, key). Its error messages and describe() never
// contain them: they name files, users, contexts and the server only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "transport/curl_http_client.h"

namespace phaedo::k8s {

struct Connection {
  std::string server;   // "https://127.0.0.1:6443"; no trailing '/'
  std::string ca_file;  // PEM to trust; or ca_pem; both empty: the system store
  std::string ca_pem;
  std::string token;  // bearer token; a secret
  std::string client_cert_file, client_cert_pem;
  std::string client_key_file, client_key_pem;  // a secret
  bool insecure_skip_tls_verify = false;
  std::string namespace_;  // the context's default namespace ("default" when unset)
  std::string user;        // the kubeconfig user name, for messages

  // "https://127.0.0.1:6443 as user phaedo-driver (token)" — no secrets.
  [[nodiscard]] std::string describe() const;
};

// Reads a kubeconfig (YAML or JSON). `context` empty: current-context. Supported
// users: token, tokenFile, client-certificate(-data) + client-key(-data); exec and
// auth-provider plugins are refused (invalid_input). Relative file paths are relative
// to the kubeconfig's directory. Errors: not_found (the file), invalid_input (naming
// the file and the field or context).
[[nodiscard]] Result<Connection> load_kubeconfig(const std::string& path, const std::string& context = {});

// The pod's service account: KUBERNETES_SERVICE_HOST/_PORT, and token, ca.crt and
// namespace under `dir`. not_found outside a pod.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
[[nodiscard]] Result<Connection> in_cluster(const std::string& dir = kServiceAccountDir);

// Explicit {server, CA file, token}.
[[nodiscard]] Connection explicit_connection(std::string server, std::string ca_file, std::string token);

[[nodiscard]] transport::CurlOptions curl_options(const Connection& connection);
// A CurlHttpClient for the connection.
[[nodiscard]] Result<std::unique_ptr<transport::CurlHttpClient>> make_http_client(
    const Connection& connection);

}  // namespace phaedo::k8s
