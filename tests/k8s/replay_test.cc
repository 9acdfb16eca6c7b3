// k8s::Client over the replaying fake and pure units: MicroTime on the wire, error
// mapping (404 / AlreadyExists / Conflict / Forbidden), kubeconfig parsing. Answers
// are shaped like kube-apiserver 1.36's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "k8s/client.h"
#include "k8s/connection.h"
#include "k8s/micro_time.h"
#include "transport/fake_http_client.h"

namespace phaedo::k8s {
namespace {

using namespace std::chrono;
using transport::Exchange;
using transport::HttpResponse;
using transport::Method;
using transport::ReplayHttpClient;

HttpResponse answer(long status, std::string body) {
  return HttpResponse{status, {}, std::move(body)};
}

const Exchange kVersion{
    Method::get, "/version",
    answer(200, R"({"major":"1","minor":"36","gitVersion":"v1.36.3","platform":"linux/amd64"})")};

std::string status_body(long code, const std::string& reason, const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" + message +
         R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

const std::string kLeasePath = "/apis/coordination.k8s.io/v1/namespaces/phaedo-leases/leases";

TEST(MicroTime, SixFractionalDigitsAlways) {
  const MicroTime whole{sys_days{2026y / 11 / 28} + 22h + 26min + 39s};
  EXPECT_EQ(format_micro_time(whole), "2026-11-28T22:26:39.000000Z");
  EXPECT_EQ(format_micro_time(whole + 123456us), "2026-11-28T22:26:39.123456Z");
  EXPECT_EQ(format_micro_time(whole + 7us), "2026-11-28T22:26:39.000007Z");
  EXPECT_EQ(format_micro_time(MicroTime{sys_days{1999y / 1 / 2}}), "1999-01-02T00:00:00.000000Z");
}

TEST(MicroTime, ParsesWhatServersWrite) {
  const MicroTime base{sys_days{2026y / 11 / 28} + 22h + 26min + 39s};
  EXPECT_EQ(*parse_micro_time("2026-11-28T22:26:39.123456Z"), base + 123456us);
  EXPECT_EQ(*parse_micro_time("2026-11-28T22:26:39Z"), base);
  EXPECT_EQ(*parse_micro_time("2026-11-28T22:26:39.5Z"), base + 500000us);
  EXPECT_EQ(*parse_micro_time("2026-11-28T22:26:39.123456789Z"), base + 123456us);
  EXPECT_EQ(*parse_micro_time("2026-11-29T00:26:39.000001+02:00"), base + 1us);
  for (const char* bad : {"", "2026-11-28", "2026-11-28T22:26:39", "2026-13-28T22:26:39Z",
                          "2026-11-28T22:26:39.Z", "2026-11-28T22:26:39Zjunk"}) {
    EXPECT_FALSE(parse_micro_time(bad).ok()) << bad;
  }
  const auto now = to_micro_time(system_clock::now());
  EXPECT_EQ(*parse_micro_time(format_micro_time(now)), now);
}

TEST(Replay, LeaseBodyCarriesMicroTimesAndResourceVersion) {
  const std::string body =
      R"({"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{"name":"gpu-node-1","namespace":"phaedo-leases","uid":"u-1","resourceVersion":"42"},)"
      R"("spec":{"holderIdentity":"job-1","leaseDurationSeconds":60,"acquireTime":"2026-11-28T22:26:39.000000Z","renewTime":"2026-11-28T22:26:40.250000Z","leaseTransitions":0}})";
  ReplayHttpClient http({kVersion, {Method::put, kLeasePath + "/gpu-node-1", answer(200, body)}});
  Result<Client> client = Client::connect(http);
  ASSERT_TRUE(client.ok()) << client.error().message;
  EXPECT_EQ(client->server().git_version, "v1.36.3");

  const MicroTime t{sys_days{2026y / 11 / 28} + 22h + 26min + 39s};
  Lease lease;
  lease.meta = {"gpu-node-1", "phaedo-leases", "u-1", "41", {}, {}, "", std::nullopt};
  lease.spec = {"job-1", 60, t, t + 1250ms, 0};
  Result<Lease> updated = client->update_lease(lease);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->meta.resource_version, "42");
  EXPECT_EQ(updated->spec.renew_time, t + 1250ms);

  const std::string& sent = http.requests().back().body;
  EXPECT_NE(sent.find(R"("acquireTime":"2026-11-28T22:26:39.000000Z")"), std::string::npos) << sent;
  EXPECT_NE(sent.find(R"("renewTime":"2026-11-28T22:26:40.250000Z")"), std::string::npos) << sent;
  EXPECT_NE(sent.find(R"("resourceVersion":"41")"), std::string::npos) << sent;
  EXPECT_TRUE(http.finished());
}

TEST(Replay, ListsForTheLeaseTeardown) {
  const std::string hooks =
      R"({"kind":"MutatingWebhookConfigurationList","items":[)"
      R"({"metadata":{"name":"a","labels":{"phaedo.dev/job":"r1-j2"}},"webhooks":[{"name":"x","clientConfig":{"url":"https://x"}}]},)"
      R"({"metadata":{"name":"b"},"webhooks":[{"name":"y","clientConfig":{"service":{"name":"s","namespace":"phaedo-r1-j2"}}},)"
      R"({"name":"z","clientConfig":{"service":{"name":"t","namespace":"other"}}}]},)"
      R"({"metadata":{"name":"c"}}]})";
  ReplayHttpClient http(
      {kVersion,
       {Method::get, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", answer(200, hooks)},
       {Method::get, "/apis/admissionregistration.k8s.io",
        answer(200, R"({"kind":"APIGroup","name":"admissionregistration.k8s.io","preferredVersion":{"groupVersion":"admissionregistration.k8s.io/v1","version":"v1"}})")},
       {Method::get, "/apis/scheduling.k8s.io", answer(404, status_body(404, "NotFound", "the server could not find the requested resource"))},
       {Method::get, kLeasePath,
        answer(200, R"({"items":[{"metadata":{"name":"gpu-node-1","resourceVersion":"7"},"spec":{"holderIdentity":"r1-j2","leaseDurationSeconds":60,"renewTime":"2026-11-28T22:26:40.250000Z"}},{"metadata":{"name":"gpu-node-2"},"spec":{}}]})")},
       {Method::get, "/api/v1/pods", answer(200, R"({"items":[{"metadata":{"name":"p","namespace":"n"},"spec":{"nodeName":"gpu-node-1"},"status":{"phase":"Running"}}]})")}});
  Result<Client> client = Client::connect(http);
  ASSERT_TRUE(client.ok()) << client.error().message;

  auto listed = client->list_webhook_configurations(kMutatingWebhookConfigurations);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].meta.labels.at("phaedo.dev/job"), "r1-j2");
  EXPECT_TRUE((*listed)[0].service_namespaces.empty());
  EXPECT_EQ((*listed)[1].service_namespaces, (std::vector<std::string>{"phaedo-r1-j2", "other"}));
  EXPECT_TRUE((*listed)[2].service_namespaces.empty());

  EXPECT_EQ(*client->preferred_version("admissionregistration.k8s.io"), "v1");
  EXPECT_EQ(*client->preferred_version(""), "v1");  // the core group: no request
  auto missing = client->preferred_version("scheduling.k8s.io");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);

  auto leases = client->list_leases("phaedo-leases");
  ASSERT_TRUE(leases.ok()) << leases.error().message;
  ASSERT_EQ(leases->size(), 2u);
  EXPECT_EQ((*leases)[0].spec.holder_identity.value_or(""), "r1-j2");
  EXPECT_EQ((*leases)[0].meta.resource_version, "7");
  EXPECT_FALSE((*leases)[1].spec.holder_identity);

  auto pods = client->list_pods("", {"phaedo.dev/job=r1-j2", "spec.nodeName=gpu-node-1"});
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  ASSERT_EQ(pods->size(), 1u);
  EXPECT_EQ((*pods)[0].meta.namespace_, "n");
  EXPECT_EQ(http.requests().back().query.size(), 2u);
  EXPECT_TRUE(http.finished());
}

TEST(Replay, ErrorMapping) {
  ReplayHttpClient http({
      kVersion,
      {Method::post, kLeasePath,
       answer(409, status_body(409, "AlreadyExists", R"(leases.coordination.k8s.io \"n\" already exists)"))},
      {Method::put, kLeasePath + "/n",
       answer(409,
              status_body(
                  409, "Conflict",
                  "Operation cannot be fulfilled on leases.coordination.k8s.io \\\"n\\\": the object has "
                  "been modified; please apply your changes to the latest version and try again"))},
      {Method::get, kLeasePath + "/n",
       answer(404, status_body(404, "NotFound", R"(leases.coordination.k8s.io \"n\" not found)"))},
      {Method::del, kLeasePath + "/n",
       answer(403, status_body(403, "Forbidden", "User \\\"x\\\" cannot delete"))},
      {Method::get, "/api/v1/nodes/n1", answer(500, "plain text failure\nsecond line")},
      {Method::get, "/api/v1/nodes/n2", answer(200, "{not json")},
  });
  Result<Client> client = Client::connect(http);
  ASSERT_TRUE(client.ok());
  Lease lease;
  lease.meta.name = "n";
  lease.meta.namespace_ = "phaedo-leases";
  lease.meta.resource_version = "7";

  Result<Lease> exists = client->create_lease(lease);
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.error().kind, ErrorKind::peer);
  EXPECT_TRUE(is_already_exists(exists.error()));
  EXPECT_FALSE(is_conflict(exists.error()));
  EXPECT_EQ(exists.error().message.rfind("k8s: POST " + kLeasePath + ": HTTP 409 AlreadyExists: ", 0), 0u)
      << exists.error().message;
  // A create never carries the version it was given.
  EXPECT_EQ(http.requests().back().body.find("resourceVersion"), std::string::npos);

  Result<Lease> conflict = client->update_lease(lease);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(is_conflict(conflict.error()));
  EXPECT_FALSE(is_already_exists(conflict.error()));
  // Context added by a caller keeps the reason recoverable.
  EXPECT_TRUE(is_conflict(conflict.error().context("lease gpu-node-1: ")));

  Result<Lease> missing = client->get_lease("phaedo-leases", "n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_EQ(api_reason(missing.error()), ApiReason::not_found);
  EXPECT_TRUE(ignore_not_found(Status(missing.error())).ok());

  Status forbidden = client->delete_lease("phaedo-leases", "n", {"u-1", "7"});
  ASSERT_FALSE(forbidden.ok());
  EXPECT_TRUE(is_forbidden(forbidden.error()));
  const std::string& del = http.requests().back().body;
  EXPECT_NE(del.find(R"("preconditions":{"resourceVersion":"7","uid":"u-1"})"), std::string::npos) << del;

  Result<Node> text = client->get_node("n1");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message, "k8s: GET /api/v1/nodes/n1: HTTP 500: plain text failure");
  EXPECT_EQ(api_reason(text.error()), ApiReason::other);

  Result<Node> garbled = client->get_node("n2");
  ASSERT_FALSE(garbled.ok());
  EXPECT_EQ(garbled.error().kind, ErrorKind::peer);
  EXPECT_EQ(api_reason(garbled.error()), ApiReason::none);

  EXPECT_EQ(client->get_node("../x").error().kind, ErrorKind::invalid_input);
  EXPECT_TRUE(http.finished());
}

TEST(Replay, NodePatchIsAConditionalMergePatch) {
  const std::string node =
      R"({"metadata":{"name":"g","resourceVersion":"9","labels":{"a":"b"}},)"
      R"("spec":{"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},)"
      R"("status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"32","memory":"256Gi","x":"500m"},)"
      R"("conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True","reason":"KubeletReady"}]}})";
  ReplayHttpClient http({kVersion, {Method::patch, "/api/v1/nodes/g", answer(200, node)}});
  Result<Client> client = Client::connect(http);
  ASSERT_TRUE(client.ok());
  NodePatch patch;
  patch.resource_version = "8";
  patch.labels = {{"add", "1"}, {"drop", std::nullopt}};
  patch.taints = std::vector<Taint>{};
  Result<Node> n = client->patch_node("g", patch);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->allocatable_count("nvidia.com/gpu"), 8);
  EXPECT_EQ(n->allocatable_count("memory"), std::int64_t{256} << 30);
  EXPECT_EQ(n->allocatable_count("x"), std::nullopt);
  EXPECT_EQ(n->allocatable_count("absent"), std::nullopt);
  EXPECT_EQ(n->ready, ConditionStatus::true_);
  EXPECT_EQ(n->taints, (std::vector<Taint>{{"k", "v", "NoSchedule"}}));

  const transport::HttpRequest& sent = http.requests().back();
  EXPECT_EQ(
      sent.body,
      R"({"metadata":{"labels":{"add":"1","drop":null},"resourceVersion":"8"},"spec":{"taints":null}})");
  bool merge = false;
  for (const auto& [k, v] : sent.headers) merge |= k == "Content-Type" && v == "application/merge-patch+json";
  EXPECT_TRUE(merge);
  EXPECT_EQ(client->patch_node("g", NodePatch{}).error().kind, ErrorKind::invalid_input);
}

TEST(Replay, TokenRequest) {
  const std::string path = "/api/v1/namespaces/j/serviceaccounts/job/token";
  ReplayHttpClient http(
      {kVersion,
       {Method::post, path,
        answer(201, R"({"kind":"TokenRequest","spec":{"expirationSeconds":600},)"
                    R"("status":{"token":"eyJsecret","expirationTimestamp":"2026-11-28T22:36:39Z"}})")}});
  Result<Client> client = Client::connect(http);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->request_token("j", "job", {{}, 599}).error().kind, ErrorKind::invalid_input);
  Result<IssuedToken> t = client->request_token("j", "job", {{"api"}, 600});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->token, "eyJsecret");
  EXPECT_EQ(t->expiration, sys_days{2026y / 11 / 28} + 22h + 36min + 39s);
  EXPECT_EQ(
      http.requests().back().body,
      R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["api"],"expirationSeconds":600}})");
}

class Kubeconfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("phaedo-kubeconfig-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(Kubeconfig, TokenUserWithCaFileAndCurrentContext) {
  const std::string path = write("config", R"(apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: pki/ca.crt
users:
- name: driver
  user:
    token: s3cr3t-token
- name: other
  user:
    tokenFile: other.token
contexts:
- name: main
  context: {cluster: c, user: driver, namespace: jobs}
- name: second
  context: {cluster: c, user: other}
current-context: main
)");
  write("other.token", "file-token\n");
  Result<Connection> c = load_kubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_file, (dir_ / "pki/ca.crt").string());
  EXPECT_EQ(c->token, "s3cr3t-token");
  EXPECT_EQ(c->namespace_, "jobs");
  EXPECT_EQ(c->describe().find("s3cr3t"), std::string::npos);
  Result<Connection> second = load_kubeconfig(path, "second");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->token, "file-token");
  EXPECT_EQ(second->namespace_, "default");
  Result<Connection> none = load_kubeconfig(path, "third");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(none.error().message.find("third"), std::string::npos);
}

TEST_F(Kubeconfig, InlineCertificatesAndJson) {
  // base64("CA PEM") / ("CERT") / ("KEY")
  const std::string path = write("config.json", R"({"apiVersion":"v1","kind":"Config",
    "clusters":[{"name":"c","cluster":{"server":"https://k:6443","certificate-authority-data":"Q0EgUEVN"}}],
    "users":[{"name":"u","user":{"client-certificate-data":"Q0VSVA==","client-key-data":"S0VZ"}}],
    "contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],"current-context":"x"})");
  Result<Connection> c = load_kubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_NE(c->describe().find("client certificate"), std::string::npos);
  const auto opts = curl_options(*c);
  EXPECT_EQ(std::get<transport::TcpEndpoint>(opts.endpoint).ca_pem, "CA PEM");
}

TEST_F(Kubeconfig, RefusesPluginsAndBrokenFilesWithoutLeakingSecrets) {
  const std::string exec = write("exec", R"(clusters: [{name: c, cluster: {server: "https://k"}}]
users: [{name: u, user: {token: tok-123, exec: {command: aws}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
)");
  Result<Connection> c = load_kubeconfig(exec);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("exec"), std::string::npos);
  EXPECT_EQ(c.error().message.find("tok-123"), std::string::npos);

  const std::string broken = write("broken", "users: [ {name: u, user: {token: tok-456}\n");
  Result<Connection> b = load_kubeconfig(broken);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(b.error().message.find("tok-456"), std::string::npos) << b.error().message;

  EXPECT_EQ(load_kubeconfig((dir_ / "absent").string()).error().kind, ErrorKind::not_found);
}

TEST_F(Kubeconfig, InCluster) {
  write("token", "sa-token\n");
  write("namespace", "ci");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  Result<Connection> c = in_cluster(dir_.string());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->token, "sa-token");
  EXPECT_EQ(c->ca_file, (dir_ / "ca.crt").string());
  EXPECT_EQ(c->namespace_, "ci");
  EXPECT_EQ(in_cluster(dir_.string()).error().kind, ErrorKind::not_found);
}

}  // namespace
}  // namespace phaedo::k8s
