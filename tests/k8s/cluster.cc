#include "cluster.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

namespace phaedo::k8s::testing {
namespace {

const std::string kRepo = PHAEDO_SOURCE_DIR;

bool ci() {
  const char* v = std::getenv("CI");
  return v != nullptr && std::string(v) == "true";
}

// Runs a shell command; returns the last line of its stdout, or nullopt on failure.
// stdout is never echoed (up.sh prints the env file, tokens included).
std::optional<std::string> last_line_of(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string last;
  char line[4096];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::string l(line);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    if (!l.empty()) last = l;
  }
  if (::pclose(p) != 0 || last.empty()) return std::nullopt;
  return last;
}

std::map<std::string, std::string> parse_env_file(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

void init(Cluster& c) {
  if (const char* given = std::getenv("PHAEDO_CLUSTER_ENV"); given != nullptr && *given != '\0') {
    c.env = parse_env_file(given);
    if (c.env.empty()) c.problem = std::string("PHAEDO_CLUSTER_ENV ") + given + ": empty or unreadable";
    return;
  }
  std::string bin;
  if (const char* b = std::getenv("PHAEDO_K8S_BIN"); b != nullptr && *b != '\0') {
    bin = b;
  } else {
    const std::string build =
        kRepo + "/tests/peers/kubernetes/build.sh" + (ci() ? "" : " --check 2>/dev/null");
    std::optional<std::string> found = last_line_of(build);
    if (!found) {
      c.problem =
          "Kubernetes peers not built; run tests/peers/kubernetes/build.sh (or set PHAEDO_K8S_BIN / "
          "PHAEDO_CLUSTER_ENV)";
      return;
    }
    bin = *found;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<std::string> env_file =
      last_line_of("PHAEDO_K8S_BIN='" + bin + "' '" + kRepo +
                   "/tests/cluster/up.sh' 2>/tmp/phaedo-k8s-tests-up." + std::to_string(::getpid()) + ".log");
  c.up_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!env_file) {
    c.problem =
        "tests/cluster/up.sh failed; see /tmp/phaedo-k8s-tests-up." + std::to_string(::getpid()) + ".log";
    return;
  }
  c.env = parse_env_file(*env_file);
  c.dir = c.at("PHAEDO_CLUSTER_DIR");
  if (c.env.empty() || c.dir.empty()) c.problem = "up.sh wrote an unreadable env file " + *env_file;
  std::fprintf(stderr, "k8s test cluster up in %.1f s\n", c.up_seconds);
}

Cluster& instance() {
  static Cluster c;
  return c;
}
std::once_flag started;

// Tears the cluster down after the last test.
class StopCluster : public ::testing::Environment {
 public:
  void TearDown() override { Cluster::stop(); }
};
[[maybe_unused]] ::testing::Environment* const kStopCluster =
    ::testing::AddGlobalTestEnvironment(new StopCluster);

}  // namespace

Cluster& Cluster::get() {
  std::call_once(started, [] { init(instance()); });
  return instance();
}

void Cluster::stop() {
  Cluster& c = instance();
  if (c.dir.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string cmd = "'" + kRepo + "/tests/cluster/down.sh' '" + c.dir + "' >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  std::fprintf(stderr, "k8s test cluster down (rc %d) in %.1f s\n", rc,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  c.dir.clear();
}

Result<Connected> connect(const Connection& connection) {
  Connected out;
  Result<std::unique_ptr<transport::CurlHttpClient>> http = make_http_client(connection);
  if (!http) return http.error();
  out.http = std::move(http).value();
  Result<Client> client = Client::connect(*out.http);
  if (!client) return client.error();
  out.client.emplace(std::move(client).value());
  return out;
}

void ClusterTest::SetUp() {
  const Cluster& c = Cluster::get();
  if (!c.problem.empty()) {
    if (ci()) GTEST_FAIL() << "Kubernetes test cluster required under CI=true: " << c.problem;
    GTEST_SKIP() << "no test cluster: " << c.problem;
  }
  Result<Connection> conn = load_kubeconfig(c.at("PHAEDO_K8S_DRIVER_KUBECONFIG"));
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  Result<Connected> connected = connect(*conn);
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  driver_ = std::move(connected).value();
}

std::string ClusterTest::name(const std::string& suffix) const {
  return "t" + std::to_string(::getpid()) + "-" + suffix;
}

}  // namespace phaedo::k8s::testing
