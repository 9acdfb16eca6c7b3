// CurlHttpClient against the real daemon socket: raw exchanges, streamed bodies,
// timeouts, cancellation and transport failures.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "daemon.h"
#include "transport/curl_http_client.h"

namespace phaedo::docker::testing {
namespace {

using namespace std::chrono_literals;
using transport::HttpRequest;
using transport::Method;

using TransportTest = DaemonTest;

TEST_F(TransportTest, PingAnswersWithTheApiVersionHeader) {
  HttpRequest r;
  r.path = "/_ping";
  r.timeout = 10s;
  auto response = http().send(r);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "OK");
  EXPECT_TRUE(response->header("Api-Version").has_value());
}

TEST_F(TransportTest, ErrorStatusIsAnAnswerNotAnError) {
  HttpRequest r;
  r.path = "/v" + docker().api_version().str() + "/containers/" + name("absent") + "/json";
  std::string streamed;
  r.on_body = [&](std::string_view b) {
    streamed += b;
    return Status{};
  };
  auto response = http().send(r);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 404);
  EXPECT_TRUE(streamed.empty());  // error answers are buffered, not streamed
  EXPECT_NE(response->body.find("No such container"), std::string::npos);
}

TEST_F(TransportTest, PerCallTimeoutEndsALongWait) {
  std::string id = start_sleeper("wait");
  auto started = std::chrono::steady_clock::now();
  Result<WaitResult> w = docker().wait_container(id, WaitCondition::not_running, 500ms);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::cancelled) << w.error().message;
  EXPECT_NE(w.error().message.find("timed out"), std::string::npos) << w.error().message;
  EXPECT_LT(took, 3s);
}

TEST_F(TransportTest, CancelCheckStopsAnIdleRequest) {
  std::string id = start_sleeper("cancelwait");
  std::atomic<bool> cancel{false};
  HttpRequest r;
  r.method = Method::post;
  r.path = "/v" + docker().api_version().str() + "/containers/" + id + "/wait";
  r.cancelled = [&] { return cancel.load(); };
  std::thread trigger([&] {
    std::this_thread::sleep_for(500ms);
    cancel = true;
  });
  auto started = std::chrono::steady_clock::now();
  auto response = http().send(r);
  auto took = std::chrono::steady_clock::now() - started;
  trigger.join();
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::cancelled);
  EXPECT_LT(took, 3s) << "no data flows during a wait: curl polls about once a second";
}

TEST_F(TransportTest, SinkErrorAbortsTheTransferWithItsKind) {
  HttpRequest r;
  r.path = "/v" + docker().api_version().str() + "/images/json";
  r.on_body = [](std::string_view) { return Status(make_error(ErrorKind::invalid_input, "sink says no")); };
  auto response = http().send(r);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(response.error().message, "sink says no");
}

TEST(Transport, MissingSocketIsAnIoError) {
  auto http = transport::CurlHttpClient::create({transport::UnixSocketEndpoint{"/nonexistent/docker.sock"}});
  ASSERT_TRUE(http.ok());
  HttpRequest r;
  r.path = "/_ping";
  auto response = (*http)->send(r);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::io);
  EXPECT_NE(response.error().message.find("GET /_ping"), std::string::npos) << response.error().message;
}

TEST(Transport, RefusedTcpConnectionIsAnIoErrorWithoutTheToken) {
  transport::TcpEndpoint tcp;
  tcp.base_url = "https://127.0.0.1:1";  // nothing listens on port 1
  tcp.bearer_token = "secret-token-value";
  auto http = transport::CurlHttpClient::create({tcp, std::chrono::milliseconds(2000)});
  ASSERT_TRUE(http.ok());
  HttpRequest r;
  r.path = "/api";
  auto response = (*http)->send(r);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::io);
  EXPECT_EQ(response.error().message.find("secret-token-value"), std::string::npos);
}

TEST(Transport, AlreadyCancelledSendsNothing) {
  auto http = transport::CurlHttpClient::create({transport::UnixSocketEndpoint{"/nonexistent/docker.sock"}});
  ASSERT_TRUE(http.ok());
  HttpRequest r;
  r.path = "/_ping";
  r.cancelled = [] { return true; };
  auto response = (*http)->send(r);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().kind, ErrorKind::cancelled);
}

}  // namespace
}  // namespace phaedo::docker::testing
