// Version negotiation, images and the container lifecycle against the real daemon.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "daemon.h"
#include "transport/http.h"

namespace phaedo::docker::testing {
namespace {

using namespace std::chrono_literals;

// Forwards to the real client and remembers the paths, to see the version prefix.
class PathRecorder final : public transport::HttpClient {
 public:
  explicit PathRecorder(transport::HttpClient& real) : real_(real) {}
  Result<transport::HttpResponse> send(const transport::HttpRequest& r) override {
    paths.push_back(r.path);
    return real_.send(r);
  }
  std::vector<std::string> paths;

 private:
  transport::HttpClient& real_;
};

using Containers = DaemonTest;

TEST_F(Containers, NegotiatesTheLowerOfBothVersions) {
  PathRecorder recorder(http());
  Result<Client> c = Client::connect(recorder);
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto server = ApiVersion::parse(c->daemon().api_version);
  auto server_min = ApiVersion::parse(c->daemon().min_api_version);
  ASSERT_TRUE(server && server_min);
  EXPECT_EQ(c->api_version(), std::min(kMaxApi, *server));
  EXPECT_GE(c->api_version(), *server_min);
  ASSERT_TRUE(c->list_containers(label_filter()).ok());
  ASSERT_EQ(recorder.paths.size(), 3u);
  EXPECT_EQ(recorder.paths[0], "/_ping");
  EXPECT_EQ(recorder.paths[1], "/version");
  EXPECT_EQ(recorder.paths[2], "/v" + c->api_version().str() + "/containers/json");
  RecordProperty("engine", c->daemon().version);
  RecordProperty("api", c->api_version().str());
  std::printf("engine %s, daemon API %s (min %s), negotiated %s\n", c->daemon().version.c_str(),
              c->daemon().api_version.c_str(), c->daemon().min_api_version.c_str(),
              c->api_version().str().c_str());
}

TEST_F(Containers, PingOnlyNegotiationAgreesWithFullNegotiation) {
  Result<Client> full = Client::connect(http());
  ASSERT_TRUE(full.ok()) << full.error().message;
  PathRecorder recorder(http());
  Options options;
  options.negotiation = Negotiation::ping;
  Result<Client> fast = Client::connect(recorder, options);
  ASSERT_TRUE(fast.ok()) << fast.error().message;
  EXPECT_EQ(fast->api_version(), full->api_version());
  ASSERT_TRUE(fast->list_containers(label_filter()).ok());
  EXPECT_EQ(recorder.paths, (std::vector<std::string>{"/_ping", "/v" + full->api_version().str() + "/containers/json"}));
}

TEST_F(Containers, TestImageWasImportedThroughTheClient) {
  Result<ImageInfo> image = docker().inspect_image(kImage);
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_TRUE(image->id.starts_with("sha256:"));
  EXPECT_NE(std::find(image->repo_tags.begin(), image->repo_tags.end(), kImage), image->repo_tags.end());
  EXPECT_EQ(image->labels["phaedo.io/test-fixture"], "busybox");
}

TEST_F(Containers, CreateStartWaitReportsTheExitCode) {
  ContainerSpec spec = sleeper_spec("exit5");
  spec.cmd = {"sh", "-c", "echo $GREETING > /tmp/g; exit 5"};
  spec.env = {"GREETING=hi"};
  spec.working_dir = "/tmp";
  std::string id = start(spec);
  Result<WaitResult> w = docker().wait_container(id, WaitCondition::not_running, 60s);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->status_code, 5);
  Result<ContainerInfo> info = docker().inspect_container(id);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->name, spec.name);
  EXPECT_FALSE(info->state.running);
  EXPECT_EQ(info->state.status, "exited");
  EXPECT_EQ(info->state.exit_code, 5);
  EXPECT_FALSE(info->state.oom_killed);
  EXPECT_EQ(info->labels[kTestLabel], run_id());
}

TEST_F(Containers, HostConfigIsApplied) {
  ContainerSpec spec = sleeper_spec("hostcfg");
  spec.user = "nobody";
  spec.host.network_mode = "none";
  spec.host.memory_bytes = 64 << 20;
  spec.host.nano_cpus = 500'000'000;
  spec.host.pids_limit = 50;
  spec.host.cap_drop = {"ALL"};
  spec.host.cap_add = {"CHOWN"};
  spec.host.security_opt = {"no-new-privileges"};
  spec.host.rootfs = RootFs::read_only;
  spec.host.tmpfs = {{"/scratch", "rw,size=8m"}};
  spec.host.mounts = {Mount{MountType::tmpfs, "", "/work", Access::read_write, {}, 4 << 20}};
  std::string id = start(spec);
  Result<ContainerInfo> info = docker().inspect_container(id);
  ASSERT_TRUE(info.ok()) << info.error().message;
  const HostConfig& h = info->host;
  EXPECT_EQ(h.network_mode, "none");
  EXPECT_EQ(h.memory_bytes, 64 << 20);
  EXPECT_EQ(h.nano_cpus, 500'000'000);
  EXPECT_EQ(h.pids_limit, 50);
  EXPECT_EQ(h.cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(h.cap_add, std::vector<std::string>{"CHOWN"});
  EXPECT_EQ(h.security_opt, std::vector<std::string>{"no-new-privileges"});
  EXPECT_EQ(h.rootfs, RootFs::read_only);
  EXPECT_EQ(h.init, Init::docker_init);
  ASSERT_EQ(h.mounts.size(), 1u);
  EXPECT_EQ(h.mounts[0].target, "/work");
  Captured c =
      sh(id,
         "id -u; touch /ro 2>/dev/null && echo writable-root; touch /scratch/a /work/b && echo tmpfs-ok; "
         "grep CapEff /proc/self/status");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("65534\n"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("writable-root"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("tmpfs-ok"), std::string::npos) << c.out << c.err;
  EXPECT_NE(c.out.find("CapEff:\t0000000000000000"), std::string::npos)
      << c.out;  // non-root: no effective caps
}

TEST_F(Containers, StartTwiceIsFineAndKillStopsIt) {
  std::string id = start_sleeper("kill");
  EXPECT_TRUE(docker().start_container(id).ok());
  Status killed = docker().kill_container(id);
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  Result<WaitResult> w = docker().wait_container(id, WaitCondition::not_running, 60s);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->status_code, 137);
  Status again = docker().kill_container(id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::peer);
  EXPECT_NE(again.error().message.find("HTTP 409"), std::string::npos) << again.error().message;
}

TEST_F(Containers, ListByLabelFindsOnlyOurs) {
  std::string a = start_sleeper("list-a");
  ContainerSpec other = sleeper_spec("list-b");
  other.labels["phaedo.io/role"] = "b";
  Result<CreatedContainer> b = docker().create_container(other);  // created, not started
  ASSERT_TRUE(b.ok()) << b.error().message;

  Result<std::vector<ContainerSummary>> all = docker().list_containers(label_filter());
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  Result<std::vector<ContainerSummary>> only_b =
      docker().list_containers({label_filter()[0], "phaedo.io/role=b"});
  ASSERT_TRUE(only_b.ok());
  ASSERT_EQ(only_b->size(), 1u);
  EXPECT_EQ((*only_b)[0].id, b->id);
  EXPECT_EQ((*only_b)[0].names, std::vector<std::string>{other.name});
  EXPECT_EQ((*only_b)[0].state, "created");
  Result<std::vector<ContainerSummary>> none =
      docker().list_containers({std::string(kTestLabel) + "=" + name("nobody")});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(Containers, RemoveOfAMissingContainerIsNotFound) {
  std::string id = start_sleeper("remove");
  ASSERT_TRUE(docker().remove_container(id, Force::yes, AnonymousVolumes::remove).ok());
  Status again = docker().remove_container(id, Force::yes, AnonymousVolumes::remove);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::not_found);
  EXPECT_NE(again.error().message.find("No such container"), std::string::npos) << again.error().message;
  EXPECT_TRUE(ignore_not_found(std::move(again)).ok());
  Result<ContainerInfo> info = docker().inspect_container(name("never-existed"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::not_found);
}

TEST_F(Containers, RemoveWithoutForceRefusesARunningContainer) {
  std::string id = start_sleeper("noforce");
  Status s = docker().remove_container(id, Force::no, AnonymousVolumes::remove);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::peer);
  EXPECT_NE(s.error().message.find("HTTP 409"), std::string::npos) << s.error().message;
}

TEST_F(Containers, BadRequestIsAPeerErrorWithTheDaemonMessage) {
  ContainerSpec spec = sleeper_spec("bad");
  spec.name = "bad name!";
  Result<CreatedContainer> c = docker().create_container(spec);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::peer);
  EXPECT_NE(c.error().message.find("HTTP 400: Invalid container name (bad name!)"), std::string::npos)
      << c.error().message;
}

TEST_F(Containers, MissingImageIsNotFoundWithTheDaemonMessageAndNoPull) {
  ContainerSpec spec = sleeper_spec("noimage");
  spec.image = "phaedo-test/does-not-exist:0";
  auto started = std::chrono::steady_clock::now();
  Result<CreatedContainer> c = docker().create_container(spec);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::not_found);
  EXPECT_NE(c.error().message.find("No such image: phaedo-test/does-not-exist:0"), std::string::npos)
      << c.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  Result<ImageInfo> image = docker().inspect_image(spec.image);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().kind, ErrorKind::not_found);
}

TEST_F(Containers, NameConflictIsAPeerError) {
  ContainerSpec spec = sleeper_spec("dup");
  ASSERT_TRUE(docker().create_container(spec).ok());
  Result<CreatedContainer> second = docker().create_container(spec);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::peer);
  EXPECT_NE(second.error().message.find("HTTP 409: Conflict"), std::string::npos) << second.error().message;
}

}  // namespace
}  // namespace phaedo::docker::testing
