// docker::Client over the replaying fake: negotiation rules, error mapping and
// decoding, with answers shaped like the ones recorded from Docker 20.10.24.
#include <gtest/gtest.h>

#include <string>

#include "docker/client.h"
#include "transport/fake_http_client.h"

namespace phaedo::docker {
namespace {

using transport::Exchange;
using transport::HttpResponse;
using transport::Method;
using transport::ReplayHttpClient;

HttpResponse answer(long status, std::string body, transport::Fields headers = {}) {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

std::vector<Exchange> handshake(const std::string& api, const std::string& min_api) {
  return {
      {Method::get, "/_ping", answer(200, "OK", {{"api-version", api}, {"ostype", "linux"}})},
      {Method::get, "/version",
       answer(200, R"({"Version":"20.10.24+dfsg1","ApiVersion":")" + api + R"(","MinAPIVersion":")" +
                       min_api + R"(","Os":"linux","Arch":"amd64","KernelVersion":"6.1.0"})")},
  };
}

std::vector<Exchange> plus(std::vector<Exchange> a, std::vector<Exchange> b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Negotiation, UsesTheDaemonVersionWhenOlder) {
  ReplayHttpClient http(
      plus(handshake("1.41", "1.12"), {{Method::get, "/v1.41/containers/json", answer(200, "[]")}}));
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->api_version().str(), "1.41");
  EXPECT_EQ(c->daemon().version, "20.10.24+dfsg1");
  ASSERT_TRUE(c->list_containers({"a=b"}).ok());
  EXPECT_TRUE(http.finished());
  EXPECT_EQ(http.requests().back().query.back().second, R"({"label":["a=b"]})");
}

TEST(Negotiation, PingOnlyUsesTheHeaderAndSkipsVersion) {
  ReplayHttpClient http({{Method::get, "/_ping", answer(200, "OK", {{"api-version", "1.41"}})},
                         {Method::get, "/v1.41/containers/json", answer(200, "[]")}});
  Options options;
  options.negotiation = Negotiation::ping;
  Result<Client> c = Client::connect(http, options);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->api_version().str(), "1.41");
  EXPECT_EQ(c->daemon().api_version, "1.41");
  ASSERT_TRUE(c->list_containers({}).ok());
  EXPECT_TRUE(http.finished()) << "no /version request";
}

TEST(Negotiation, PingOnlyFallsBackToVersionWithoutTheHeader) {
  auto exchanges = handshake("1.43", "1.12");
  exchanges[0].response.headers.clear();
  ReplayHttpClient http(exchanges);
  Options options;
  options.negotiation = Negotiation::ping;
  Result<Client> c = Client::connect(http, options);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->api_version().str(), "1.43");
  EXPECT_EQ(c->daemon().version, "20.10.24+dfsg1");
}

TEST(Negotiation, PingOnlyRefusesADaemonBelowOurMinimum) {
  ReplayHttpClient http({{Method::get, "/_ping", answer(200, "OK", {{"api-version", "1.40"}})}});
  Options options;
  options.negotiation = Negotiation::ping;
  Result<Client> c = Client::connect(http, options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::peer);
}

TEST(Negotiation, CapsAtTheClientMaximum) {
  ReplayHttpClient http(handshake("1.51", "1.24"));
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->api_version(), kMaxApi);
}

TEST(Negotiation, FailsWhenTheDaemonRaisedItsMinimumAboveOurs) {
  ReplayHttpClient http(handshake("1.52", "1.46"));
  Result<Client> c = Client::connect(http);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::peer);
  EXPECT_NE(c.error().message.find("requires API >= 1.46"), std::string::npos) << c.error().message;
}

TEST(Negotiation, FailsWhenTheDaemonIsTooOld) {
  ReplayHttpClient http(handshake("1.39", "1.12"));
  Result<Client> c = Client::connect(http);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("needs >= 1.41"), std::string::npos) << c.error().message;
}

TEST(Negotiation, MalformedVersionNamesTheField) {
  ReplayHttpClient http(
      {handshake("1.41", "1.12")[0], {Method::get, "/version", answer(200, R"({"Version":"x"})")}});
  Result<Client> c = Client::connect(http);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::peer);
  EXPECT_EQ(c.error().message, "docker: GET /version: malformed answer: field ApiVersion is missing");
}

TEST(Errors, CarryStatusAndDaemonMessage) {
  ReplayHttpClient http(plus(
      handshake("1.41", "1.12"),
      {{Method::post, "/v1.41/containers/create",
        answer(
            409,
            R"({"message":"Conflict. The container name \"/x\" is already in use by container \"abc\"."})")},
       {Method::del, "/v1.41/containers/x", answer(404, R"({"message":"No such container: x"})")},
       {Method::get, "/v1.41/containers/x/json", answer(500, "plain text\nsecond line")}}));
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok());
  ContainerSpec spec;
  spec.name = "x";
  spec.image = "img";
  Result<CreatedContainer> created = c->create_container(spec);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().kind, ErrorKind::peer);
  EXPECT_EQ(
      created.error().message,
      "docker: POST /v1.41/containers/create: HTTP 409: Conflict. The container name \"/x\" is already in "
      "use by container \"abc\".");
  Status removed = c->remove_container("x", Force::yes, AnonymousVolumes::remove);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().kind, ErrorKind::not_found);
  EXPECT_TRUE(ignore_not_found(removed).ok());
  Result<ContainerInfo> info = c->inspect_container("x");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().message, "docker: GET /v1.41/containers/x/json: HTTP 500: plain text");
}

TEST(Errors, MalformedAnswerNamesTheField) {
  ReplayHttpClient http(plus(handshake("1.41", "1.12"),
                             {{Method::get, "/v1.41/containers/x/json",
                               answer(200, R"({"Id":"abc","State":{"Running":true,"ExitCode":"zero"}})")}}));
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok());
  Result<ContainerInfo> info = c->inspect_container("x");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::peer);
  EXPECT_EQ(
      info.error().message,
      "docker: GET /v1.41/containers/x/json: malformed answer: field State.ExitCode: expected a number");
}

TEST(Errors, IdsThatWouldChangeTheUrlAreRefused) {
  ReplayHttpClient http(handshake("1.41", "1.12"));
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok());
  for (std::string bad : {"", "a/b", "a?b", "../x", "a b"}) {
    Status s = c->remove_container(bad, Force::yes, AnonymousVolumes::remove);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().kind, ErrorKind::invalid_input) << bad;
  }
  EXPECT_EQ(http.requests().size(), 2u);  // nothing was sent
}

TEST(ReplayedImport, ErrorInsideA200StreamIsAPeerError) {
  ReplayHttpClient http(plus(
      handshake("1.41", "1.12"),
      {{Method::post, "/v1.41/images/create",
        answer(200,
               "{\"status\":\"Downloading\"}\r\n{\"errorDetail\":{\"message\":\"archive/tar: invalid tar "
               "header\"},\"error\":\"archive/tar: invalid tar header\"}\r\n")}}));
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok());
  Result<std::string> id = c->import_image({"r", "t", {}}, transport::body_from_string("not a tar"), 9);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().kind, ErrorKind::peer);
  EXPECT_NE(id.error().message.find("archive/tar: invalid tar header"), std::string::npos);
  EXPECT_EQ(http.requests().back().body, "not a tar");
  EXPECT_EQ(http.requests().back().query[0], (transport::Fields::value_type{"fromSrc", "-"}));
}

// The recorded exec stream of `echo out; echo err >&2; exit 7`, replayed one byte
// per callback.
TEST(ReplayedExec, DemultiplexesAStreamSplitIntoSingleBytes) {
  const std::string stream = std::string(
                                 "\x01\0\0\0\0\0\0\x04"
                                 "out\n",
                                 12) +
                             std::string(
                                 "\x02\0\0\0\0\0\0\x04"
                                 "err\n",
                                 12);
  ReplayHttpClient http(
      plus(handshake("1.41", "1.12"),
           {{Method::post, "/v1.41/containers/c1/exec", answer(201, R"({"Id":"e1"})")},
            {Method::post, "/v1.41/exec/e1/start", answer(200, stream)},
            {Method::get, "/v1.41/exec/e1/json",
             answer(200, R"({"ID":"e1","Running":true,"ExitCode":null,"Pid":9})")},
            {Method::get, "/v1.41/exec/e1/json",
             answer(200, R"({"ID":"e1","Running":false,"ExitCode":7,"Pid":9,"ContainerID":"c1"})")}}),
      1);
  Result<Client> c = Client::connect(http);
  ASSERT_TRUE(c.ok());
  std::string out, err;
  int out_calls = 0;
  OutputSinks sinks{[&](std::string_view b) {
                      out += b;
                      ++out_calls;
                      return Status{};
                    },
                    [&](std::string_view b) {
                      err += b;
                      return Status{};
                    }};
  ExecSpec spec;
  spec.cmd = {"sh", "-c", "echo out; echo err >&2; exit 7"};
  Result<ExecInfo> info = c->exec("c1", spec, sinks);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
  EXPECT_EQ(out_calls, 4);
  EXPECT_EQ(info->exit_code, 7);
  EXPECT_TRUE(http.finished());
}

}  // namespace
}  // namespace phaedo::docker
