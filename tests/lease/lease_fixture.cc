#include "lease_fixture.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace phaedo::lease::testing {
namespace fs = std::filesystem;

void LeaseTest::SetUp() {
  ClusterTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  char tmpl[] = "/tmp/phaedo-lease-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
}

void LeaseTest::TearDown() {
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

profile::Profile LeaseTest::make_profile(const std::string& extra, const std::string& selector, int wait_timeout_s) {
  static int n = 0;
  std::string path = dir_ + "/profile" + std::to_string(++n) + ".toml";
  std::ofstream(path) << "name = \"lease-test\"\nsandbox = \"host\"\nlease = \"kubernetes-node\"\n"
                      << "state_dir = \"" << dir_ << "/state\"\n"
                      << "[kubernetes]\nkubeconfig = \"" << cluster().at("PHAEDO_K8S_DRIVER_KUBECONFIG") << "\"\n"
                      << "node_selector = [\"" << selector << "\"]\n"
                      << "lease_duration_s = 10\nwait_timeout_s = " << wait_timeout_s << "\nteardown_timeout_s = 120\n"
                      << "allowed_cluster_kinds = [\"admissionregistration.k8s.io/mutatingwebhookconfigurations\", "
                         "\"admissionregistration.k8s.io/validatingwebhookconfigurations\"]\n"
                      << extra;
  auto p = profile::load_profile(path);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p ? *p : profile::Profile{};
}

JobRef LeaseTest::job(const profile::Profile& p, int n) {
  return JobRef{"r" + std::to_string(::getpid()) + "-j" + std::to_string(n), n, "test-host", 600, p.state_dir,
                p.source, PHAEDO_ADMIN_PROGRAM};
}

journal::Journal LeaseTest::open_journal(const JobRef& j) {
  auto opened = journal::Journal::open(journal_root(j.state_dir), j.key, journal::OpenMode::create_if_missing, j.job_id);
  if (!opened) throw std::runtime_error(opened.error().message);
  return std::move(*opened);
}

NodeState LeaseTest::node_state(const std::string& node) {
  auto n = driver().get_node(node);
  EXPECT_TRUE(n.ok());
  if (!n) return {};
  return {n->taints, n->meta.labels};
}

std::optional<k8s::Lease> LeaseTest::lease_of(const std::string& node) {
  auto l = driver().get_lease(cluster().at("PHAEDO_K8S_LEASE_NAMESPACE"), node);
  if (!l) return std::nullopt;
  return *l;
}

bool LeaseTest::namespace_exists(const std::string& name) { return driver().get_namespace(name).ok(); }

int LeaseTest::kubectl(const std::string& kubeconfig, const std::string& args, std::string* out,
                       const std::string& stdin_text) {
  std::string input = dir_ + "/kubectl-stdin";
  std::ofstream(input) << stdin_text;
  std::string cmd = "KUBECONFIG='" + kubeconfig + "' '" + cluster().at("PHAEDO_K8S_BIN") + "/kubectl' " + args +
                    " <'" + input + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  while (std::size_t got = std::fread(buf, 1, sizeof buf, p)) text.append(buf, got);
  int st = ::pclose(p);
  if (out != nullptr) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

namespace {
std::vector<pid_t> renewer_pids(const std::string& holder) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.find(std::string("lease-renew") + '\0') != std::string::npos &&
        all.find(std::string("--holder") + '\0' + holder + '\0') != std::string::npos) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}
}  // namespace

int LeaseTest::kill_renewer(const std::string& holder) {
  auto pids = renewer_pids(holder);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  return static_cast<int>(pids.size());
}

int LeaseTest::renewers(const std::string& holder) { return static_cast<int>(renewer_pids(holder).size()); }

std::string LeaseTest::webhook_yaml(const std::string& name, const std::string& ns, const std::string& job_label) {
  std::ostringstream y;
  y << "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: " << name
    << "\n";
  if (!job_label.empty()) y << "  labels:\n    phaedo.dev/job: " << job_label << "\n";
  y << "webhooks:\n- name: " << name << ".phaedo.dev\n  admissionReviewVersions: [v1]\n  sideEffects: None\n"
    << "  failurePolicy: Ignore\n  clientConfig:\n    service:\n      name: hook\n      namespace: " << ns
    << "\n      path: /mutate\n  rules:\n  - operations: [CREATE]\n    apiGroups: [\"\"]\n    apiVersions: [v1]\n"
    << "    resources: [configmaps]\n  objectSelector:\n    matchLabels:\n      never: matches\n";
  return y.str();
}

}  // namespace phaedo::lease::testing
