#include "profile/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace phaedo::profile {
namespace {

using ::testing::HasSubstr;

TEST(Profile, EmptyProfileGetsDefaults) {
  auto p = parse_profile("", "p.toml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->source, "p.toml");
  EXPECT_EQ(p->sandbox, SandboxKind::host);
  EXPECT_EQ(p->lease, LeaseKind::none);
  EXPECT_EQ(p->shell, Shell::bash);
  EXPECT_EQ(p->state_dir, "/var/lib/phaedo-executor");
  EXPECT_EQ(p->log_file, "/var/lib/phaedo-executor/admin.log");
  EXPECT_EQ(p->host.work_root, "/var/lib/phaedo-executor/work");
  EXPECT_EQ(p->host.cache_dir, "/var/lib/phaedo-executor/cache");
  EXPECT_EQ(p->host.cgroup, CgroupMode::automatic);
  EXPECT_EQ(p->kill_grace, std::chrono::milliseconds(3000));
  EXPECT_TRUE(p->runner_id.empty());
}

TEST(Profile, DerivedDefaultsFollowStateDir) {
  auto p = parse_profile("state_dir = \"/srv/phaedo\"\n", "p.toml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->log_file, "/srv/phaedo/admin.log");
  EXPECT_EQ(p->host.work_root, "/srv/phaedo/work");
  EXPECT_EQ(p->host.cache_dir, "/srv/phaedo/cache");
}

TEST(Profile, FullValidProfile) {
  const char* text = R"(
name = "ci-host"
sandbox = "host"
lease = "none"
shell = "sh"
state_dir = "/srv/phaedo"
log_file = "/var/log/phaedo.log"
runner_id = "runner-7"
kill_grace_ms = 500

[host]
work_root = "/scratch/work"
cache_dir = "/scratch/cache"
cgroup_root = "/sys/fs/cgroup/pids/ci"
cgroup = "required"
pids_max = 2048
path = "/usr/local/bin:/usr/bin:/bin"
)";
  auto p = parse_profile(text, "full.toml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->name, "ci-host");
  EXPECT_EQ(p->shell, Shell::sh);
  EXPECT_EQ(p->state_dir, "/srv/phaedo");
  EXPECT_EQ(p->log_file, "/var/log/phaedo.log");  // explicit values are not overwritten by defaults
  EXPECT_EQ(p->runner_id, "runner-7");
  EXPECT_EQ(p->kill_grace, std::chrono::milliseconds(500));
  EXPECT_EQ(p->host.work_root, "/scratch/work");
  EXPECT_EQ(p->host.cache_dir, "/scratch/cache");
  EXPECT_EQ(p->host.cgroup_root, "/sys/fs/cgroup/pids/ci");
  EXPECT_EQ(p->host.cgroup, CgroupMode::required);
  EXPECT_EQ(p->host.pids_max, 2048);
  EXPECT_EQ(p->host.path, "/usr/local/bin:/usr/bin:/bin");
}

struct BadProfile {
  const char* label;
  const char* toml;
  std::vector<const char*> expected;  // substrings the message must contain (besides the file name)
};

void PrintTo(const BadProfile& c, std::ostream* os) { *os << c.label; }

class ProfileErrors : public ::testing::TestWithParam<BadProfile> {};

TEST_P(ProfileErrors, IsInvalidInputNamingFileAndKey) {
  const BadProfile& c = GetParam();
  auto p = parse_profile(c.toml, "/etc/phaedo/bad.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, ErrorKind::invalid_input);
  const std::string& msg = p.error().message;
  EXPECT_THAT(msg, HasSubstr("/etc/phaedo/bad.toml"));
  for (const char* s : c.expected) EXPECT_THAT(msg, HasSubstr(s));
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ProfileErrors,
    ::testing::Values(
        BadProfile{"unknown_top_level_key", "nmae = \"x\"\n", {"nmae", "unknown key"}},
        BadProfile{"unknown_host_key", "[host]\nshel = \"bash\"\n", {"host.shel", "unknown key"}},
        BadProfile{"string_expected", "name = 5\n", {"name", "must be a string"}},
        BadProfile{"integer_expected", "kill_grace_ms = \"3000\"\n", {"kill_grace_ms", "must be an integer"}},
        BadProfile{"table_expected", "host = \"yes\"\n", {"host", "must be a table"}},
        BadProfile{"bad_shell", "shell = \"zsh\"\n", {"shell", "bash, sh", "\"zsh\""}},
        BadProfile{"bad_cgroup_mode", "[host]\ncgroup = \"sometimes\"\n",
                   {"host.cgroup", "auto, required, off", "\"sometimes\""}},
        BadProfile{"bad_sandbox", "sandbox = \"vm\"\n", {"sandbox", "host, docker", "\"vm\""}},
        BadProfile{"relative_state_dir", "state_dir = \"var/lib/phaedo\"\n", {"state_dir", "absolute", "var/lib/phaedo"}},
        BadProfile{"relative_log_file", "log_file = \"admin.log\"\n", {"log_file", "absolute"}},
        BadProfile{"relative_work_root", "[host]\nwork_root = \"work\"\n", {"host.work_root", "absolute"}},
        BadProfile{"relative_cache_dir", "[host]\ncache_dir = \"cache\"\n", {"host.cache_dir", "absolute"}},
        BadProfile{"runner_id_uppercase", "runner_id = \"Runner1\"\n", {"runner_id", "Runner1"}},
        BadProfile{"runner_id_path", "runner_id = \"../etc\"\n", {"runner_id", "../etc"}},
        BadProfile{"kill_grace_too_big", "kill_grace_ms = 60001\n", {"kill_grace_ms", "60001"}},
        BadProfile{"kill_grace_negative", "kill_grace_ms = -1\n", {"kill_grace_ms", "-1"}},
        BadProfile{"pids_max_negative", "[host]\npids_max = -5\n", {"host.pids_max", "-5"}},
        BadProfile{"toml_syntax", "name = \"ok\"\nshell = \n", {"line 2"}},
        BadProfile{"docker_bad_pull_policy", "sandbox = \"docker\"\n[docker]\npull_policy = \"sometimes\"\n",
                   {"docker.pull_policy", "never, if-not-present, always", "\"sometimes\""}},
        BadProfile{"docker_bad_memory", "[docker]\nmemory = \"12x\"\n", {"docker.memory", "12x"}},
        BadProfile{"docker_refused_capability", "[docker]\ncap_add = [\"SYS_ADMIN\"]\n", {"docker.cap_add", "SYS_ADMIN", "refused"}},
        BadProfile{"docker_unknown_key", "[docker]\nprivileged = true\n", {"docker.privileged", "unknown key"}},
        BadProfile{"lease_needs_kubernetes_table", "lease = \"kubernetes-node\"\n", {"kubernetes", "required"}},
        BadProfile{"lease_needs_credentials", "lease = \"kubernetes-node\"\n[kubernetes]\ngpu_min = 1\n",
                   {"kubernetes.kubeconfig", "in_cluster"}},
        BadProfile{"kubernetes_relative_kubeconfig", "[kubernetes]\nkubeconfig = \"kc\"\n", {"kubernetes.kubeconfig", "absolute"}},
        BadProfile{"kubernetes_bad_selector", "[kubernetes]\nnode_selector = [\"gpu\"]\n", {"kubernetes.node_selector", "\"gpu\""}},
        BadProfile{"kubernetes_refused_kind", "[kubernetes]\nallowed_cluster_kinds = [\"rbac.authorization.k8s.io/clusterrolebindings\"]\n",
                   {"kubernetes.allowed_cluster_kinds", "clusterrolebindings", "refused"}},
        BadProfile{"kubernetes_kind_shape", "[kubernetes]\nallowed_cluster_kinds = [\"MutatingWebhookConfiguration\"]\n",
                   {"kubernetes.allowed_cluster_kinds", "group/resource"}},
        BadProfile{"kubernetes_lease_too_short", "[kubernetes]\nlease_duration_s = 2\n", {"kubernetes.lease_duration_s", "(got 2)"}},
        BadProfile{"kubernetes_template_without_job", "[kubernetes]\nnamespace_template = \"ci\"\n", {"kubernetes.namespace_template", "{job}"}},
        BadProfile{"kubernetes_unknown_key", "[kubernetes]\nnode = \"gpu-1\"\n", {"kubernetes.node", "unknown key"}},
        BadProfile{"docker_api_bad", "sandbox = \"docker\"\n[docker]\ndocker_api = \"host\"\n", {"docker.docker_api", "none, scoped", "\"host\""}},
        BadProfile{"job_cgroup_bad", "sandbox = \"docker\"\n[docker]\njob_cgroup = \"yes\"\n", {"docker.job_cgroup", "auto, required, off", "\"yes\""}},
        BadProfile{"docker_api_needs_docker_sandbox", "[docker]\ndocker_api = \"scoped\"\n", {"docker.docker_api", "sandbox"}}),
    [](const ::testing::TestParamInfo<BadProfile>& param_info) { return std::string(param_info.param.label); });

TEST(Profile, KubernetesLeaseSettings) {
  auto p = parse_profile(
      "lease = \"kubernetes-node\"\n[kubernetes]\nkubeconfig = \"/etc/phaedo/driver.kubeconfig\"\n"
      "node_selector = [\"phaedo.dev/pool=gpu\"]\ngpu_min = 2\nlease_duration_s = 30\nwait_timeout_s = 600\n"
      "allowed_cluster_kinds = [\"admissionregistration.k8s.io/mutatingwebhookconfigurations\"]\n",
      "cnl.toml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->lease, LeaseKind::kubernetes_node);
  EXPECT_EQ(p->kubernetes.kubeconfig, "/etc/phaedo/driver.kubeconfig");
  EXPECT_EQ(p->kubernetes.node_selector, std::vector<std::string>{"phaedo.dev/pool=gpu"});
  EXPECT_EQ(p->kubernetes.gpu_min, 2);
  EXPECT_EQ(p->kubernetes.gpu_resource, "nvidia.com/gpu");
  EXPECT_EQ(p->kubernetes.lease_duration, std::chrono::seconds(30));
  EXPECT_EQ(p->kubernetes.wait_timeout, std::chrono::seconds(600));
  EXPECT_EQ(p->kubernetes.lease_namespace, "phaedo-leases");
  EXPECT_EQ(p->kubernetes.namespace_template, "phaedo-{job}");
}

TEST(Profile, ScopedDockerApi) {
  auto p = parse_profile("sandbox = \"docker\"\n[docker]\ndocker_api = \"scoped\"\n", "nimbus.toml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->docker.api, DockerApi::scoped);
  EXPECT_EQ(p->docker.api_socket_dir, "/var/run/phaedo");
  EXPECT_EQ(p->docker.job_cgroup, CgroupMode::automatic) << "the job's limits hold for its containers' sum by default";
  auto off = parse_profile("sandbox = \"docker\"\n[docker]\njob_cgroup = \"off\"\n", "nimbus.toml");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_EQ(off->docker.job_cgroup, CgroupMode::off);
}

TEST(Profile, LoadMissingFileIsNotFound) {
  phaedo_test::TempDir dir;
  auto p = load_profile(dir.file("absent.toml"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().kind, ErrorKind::not_found);
  EXPECT_THAT(p.error().message, HasSubstr(dir.file("absent.toml")));
}

TEST(Profile, LoadReadsFileAndLabelsErrorsWithItsPath) {
  phaedo_test::TempDir dir;
  phaedo_test::write_text(dir.file("good.toml"), "shell = \"sh\"\n");
  auto good = load_profile(dir.file("good.toml"));
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->shell, Shell::sh);
  EXPECT_EQ(good->source, dir.file("good.toml"));

  phaedo_test::write_text(dir.file("bad.toml"), "[host]\nshel = \"bash\"\n");
  auto bad = load_profile(dir.file("bad.toml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::invalid_input);
  EXPECT_THAT(bad.error().message, HasSubstr(dir.file("bad.toml")));
  EXPECT_THAT(bad.error().message, HasSubstr("host.shel"));
}

}  // namespace
}  // namespace phaedo::profile
