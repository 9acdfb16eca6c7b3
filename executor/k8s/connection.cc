#include "k8s/connection.h"

#include "core/base64.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace phaedo::k8s {
namespace {

namespace fs = std::filesystem;

Result<std::string> read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorKind::not_found, what + " " + path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(ErrorKind::io, what + " " + path + ": read error");
  return text;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

// The entry of `list` (clusters, users, contexts) whose name is `name`.
YAML::Node find_named(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const YAML::Node& entry : list) {
    if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>() == name) return entry;
  }
  return YAML::Node();
}

std::string scalar(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return {};
  YAML::Node v = map[key];
  if (!v || !v.IsScalar()) return {};
  return v.as<std::string>();
}

Result<Connection> parse_kubeconfig(const std::string& path, const std::string& text,
                                    const std::string& wanted) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::invalid_input, "kubeconfig " + path + ": " + why);
  };
  const fs::path base = fs::path(path).parent_path();
  auto resolve = [&](const std::string& p) {
    return fs::path(p).is_absolute() || base.empty() ? p : (base / p).string();
  };

  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // e.what() quotes no document content beyond a position.
    return bad(std::string("not YAML: line ") + std::to_string(e.mark.line + 1));
  }
  if (!root.IsMap()) return bad("not a kubeconfig (expected a mapping)");
  try {
    const std::string context_name = wanted.empty() ? scalar(root, "current-context") : wanted;
    if (context_name.empty()) return bad("no current-context and no context given");
    YAML::Node ctx = find_named(root["contexts"], context_name);
    if (!ctx) return bad("no context '" + context_name + "'");
    YAML::Node c = ctx["context"];
    const std::string cluster_name = scalar(c, "cluster");
    const std::string user_name = scalar(c, "user");
    YAML::Node cluster = find_named(root["clusters"], cluster_name)["cluster"];
    if (!cluster) return bad("context '" + context_name + "': no cluster '" + cluster_name + "'");

    Connection conn;
    conn.server = scalar(cluster, "server");
    while (!conn.server.empty() && conn.server.back() == '/') conn.server.pop_back();
    if (conn.server.empty()) return bad("cluster '" + cluster_name + "': no server");
    if (std::string ca = scalar(cluster, "certificate-authority"); !ca.empty()) conn.ca_file = resolve(ca);
    if (std::string data = scalar(cluster, "certificate-authority-data"); !data.empty()) {
      std::optional<std::string> pem = base64_decode(data);
      if (!pem) return bad("cluster '" + cluster_name + "': certificate-authority-data is not base64");
      conn.ca_pem = std::move(*pem);
    }
    conn.insecure_skip_tls_verify = scalar(cluster, "insecure-skip-tls-verify") == "true";
    conn.namespace_ = scalar(c, "namespace");
    if (conn.namespace_.empty()) conn.namespace_ = "default";
    conn.user = user_name;

    if (!user_name.empty()) {
      YAML::Node user = find_named(root["users"], user_name)["user"];
      if (!user) return bad("context '" + context_name + "': no user '" + user_name + "'");
      if (user["exec"] || user["auth-provider"])
        return bad("user '" + user_name + "': exec and auth-provider plugins are not supported");
      conn.token = scalar(user, "token");
      if (std::string file = scalar(user, "tokenFile"); conn.token.empty() && !file.empty()) {
        Result<std::string> token = read_text(resolve(file), "token file");
        if (!token) return token.error().context("kubeconfig " + path + ": user '" + user_name + "': ");
        conn.token = trim(std::move(token).value());
      }
      if (std::string f = scalar(user, "client-certificate"); !f.empty()) conn.client_cert_file = resolve(f);
      if (std::string f = scalar(user, "client-key"); !f.empty()) conn.client_key_file = resolve(f);
      if (std::string d = scalar(user, "client-certificate-data"); !d.empty()) {
        std::optional<std::string> pem = base64_decode(d);
        if (!pem) return bad("user '" + user_name + "': client-certificate-data is not base64");
        conn.client_cert_pem = std::move(*pem);
      }
      if (std::string d = scalar(user, "client-key-data"); !d.empty()) {
        std::optional<std::string> pem = base64_decode(d);
        if (!pem) return bad("user '" + user_name + "': client-key-data is not base64");
        conn.client_key_pem = std::move(*pem);
      }
      const bool has_cert = !conn.client_cert_file.empty() || !conn.client_cert_pem.empty();
      const bool has_key = !conn.client_key_file.empty() || !conn.client_key_pem.empty();
      if (has_cert != has_key)
        return bad("user '" + user_name + "': a client certificate needs its key and vice versa");
    }
    return conn;
  } catch (const YAML::Exception& e) {
    return bad(std::string("malformed at line ") + std::to_string(e.mark.line + 1));
  }
}

}  // namespace

std::string Connection::describe() const {
  std::string how = !token.empty()                                            ? "token"
                    : (!client_cert_file.empty() || !client_cert_pem.empty()) ? "client certificate"
                                                                              : "no credentials";
  return server + " as " + (user.empty() ? std::string("<unnamed>") : user) + " (" + how + ")";
}

Result<Connection> load_kubeconfig(const std::string& path, const std::string& context) {
  Result<std::string> text = read_text(path, "kubeconfig");
  if (!text) return text.error();
  return parse_kubeconfig(path, *text, context);
}

Result<Connection> in_cluster(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0')
    return make_error(ErrorKind::not_found,
                      "in-cluster: KUBERNETES_SERVICE_HOST/PORT not set (not in a pod)");
  Result<std::string> token = read_text(dir + "/token", "in-cluster: token");
  if (!token) return token.error();
  Connection conn;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  conn.server = "https://" + h + ":" + port;
  conn.token = trim(std::move(token).value());
  conn.ca_file = dir + "/ca.crt";
  if (Result<std::string> ns = read_text(dir + "/namespace", "in-cluster: namespace"))
    conn.namespace_ = trim(*ns);
  if (conn.namespace_.empty()) conn.namespace_ = "default";
  conn.user = "serviceaccount";
  return conn;
}

Connection explicit_connection(std::string server, std::string ca_file, std::string token) {
  Connection conn;
  conn.server = std::move(server);
  while (!conn.server.empty() && conn.server.back() == '/') conn.server.pop_back();
  conn.ca_file = std::move(ca_file);
  conn.token = std::move(token);
  conn.namespace_ = "default";
  return conn;
}

transport::CurlOptions curl_options(const Connection& c) {
  transport::TcpEndpoint ep;
  ep.base_url = c.server;
  ep.ca_file = c.ca_file;
  ep.ca_pem = c.ca_pem;
  ep.client_cert_file = c.client_cert_file;
  ep.client_cert_pem = c.client_cert_pem;
  ep.client_key_file = c.client_key_file;
  ep.client_key_pem = c.client_key_pem;
  ep.bearer_token = c.token;
  ep.verify = c.insecure_skip_tls_verify ? transport::TlsVerify::none : transport::TlsVerify::peer_and_host;
  transport::CurlOptions options;
  options.endpoint = std::move(ep);
  return options;
}

Result<std::unique_ptr<transport::CurlHttpClient>> make_http_client(const Connection& connection) {
  return transport::CurlHttpClient::create(curl_options(connection));
}

}  // namespace phaedo::k8s
