// Networks and volumes: create with labels, list by label, use, remove.
#include <gtest/gtest.h>

#include <cstdio>

#include "daemon.h"

namespace phaedo::docker::testing {
namespace {

using Objects = DaemonTest;

TEST_F(Objects, NetworkLifecycle) {
  NetworkSpec spec{name("net"), "bridge", Internal::yes, labels()};
  spec.labels["phaedo.io/job"] = "42";
  Result<std::string> id = docker().create_network(spec);
  ASSERT_TRUE(id.ok()) << id.error().message;

  Result<std::vector<NetworkInfo>> listed = docker().list_networks({label_filter()[0], "phaedo.io/job=42"});
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, *id);
  EXPECT_EQ((*listed)[0].name, spec.name);
  EXPECT_EQ((*listed)[0].driver, "bridge");
  EXPECT_TRUE((*listed)[0].internal);
  EXPECT_EQ((*listed)[0].labels.at("phaedo.io/job"), "42");

  Result<std::string> dup = docker().create_network(spec);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, ErrorKind::peer);
  EXPECT_NE(dup.error().message.find("HTTP 409"), std::string::npos) << dup.error().message;

  // A container on the network reaches a peer by alias; nothing beyond the host
  // answers. Beware: "internal" only stops forwarding. The host itself stays
  // reachable at the bridge's gateway address (Docker 20.10.24 installs a default
  // route and a TCP service bound to 0.0.0.0 on the host answered), so host
  // services must not listen on 0.0.0.0. Printed, not asserted.
  ContainerSpec server = sleeper_spec("net-server");
  server.host.network_mode = spec.name;
  server.network_aliases = {"server"};
  std::string server_id = start(server);
  ContainerSpec client = sleeper_spec("net-client");
  client.host.network_mode = spec.name;
  std::string client_id = start(client);
  Captured c = sh(client_id,
                  "ping -c 1 -W 2 server >/dev/null && echo reached; "
                  "ping -c 1 -W 1 1.1.1.1 >/dev/null 2>&1 || echo no-outside");
  EXPECT_EQ(c.out, "reached\nno-outside\n") << c.err;
  Captured gw =
      sh(client_id, "ping -c 1 -W 1 $(ip route | awk '/default/ {print $3}') >/dev/null 2>&1 && echo yes");
  std::printf("internal network: host gateway reachable from the container: %s\n",
              gw.out == "yes\n" ? "yes" : "no");

  Status busy = docker().remove_network(*id);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().kind, ErrorKind::peer) << busy.error().message;

  ASSERT_TRUE(docker().remove_container(server_id, Force::yes, AnonymousVolumes::remove).ok());
  ASSERT_TRUE(docker().remove_container(client_id, Force::yes, AnonymousVolumes::remove).ok());
  Status removed = docker().remove_network(*id);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  Result<std::vector<NetworkInfo>> after = docker().list_networks(label_filter());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  Status again = docker().remove_network(*id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::not_found) << again.error().message;
}

TEST_F(Objects, VolumeLifecycle) {
  VolumeSpec spec{name("vol"), "local", labels()};
  Result<VolumeInfo> created = docker().create_volume(spec);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->name, spec.name);
  EXPECT_EQ(created->driver, "local");
  EXPECT_EQ(created->labels.at(kTestLabel), run_id());

  Result<std::vector<VolumeInfo>> listed = docker().list_volumes(label_filter());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, spec.name);

  // Data written through one container is seen by the next.
  ContainerSpec writer = sleeper_spec("vol-writer");
  writer.host.mounts = {Mount{MountType::volume, spec.name, "/data", Access::read_write, {}, std::nullopt}};
  std::string writer_id = start(writer);
  EXPECT_EQ(sh(writer_id, "echo persisted > /data/f").exit_code, 0);

  Status in_use = docker().remove_volume(spec.name, Force::no);
  ASSERT_FALSE(in_use.ok());
  EXPECT_EQ(in_use.error().kind, ErrorKind::peer);
  EXPECT_NE(in_use.error().message.find("HTTP 409"), std::string::npos) << in_use.error().message;

  ASSERT_TRUE(docker().remove_container(writer_id, Force::yes, AnonymousVolumes::remove).ok());
  ContainerSpec reader = sleeper_spec("vol-reader");
  reader.host.mounts = {Mount{MountType::volume, spec.name, "/data", Access::read_only, {}, std::nullopt}};
  std::string reader_id = start(reader);
  Captured c = sh(reader_id, "cat /data/f; touch /data/g 2>/dev/null || echo read-only");
  EXPECT_EQ(c.out, "persisted\nread-only\n");
  ASSERT_TRUE(docker().remove_container(reader_id, Force::yes, AnonymousVolumes::remove).ok());

  Status removed = docker().remove_volume(spec.name, Force::no);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  Result<std::vector<VolumeInfo>> after = docker().list_volumes(label_filter());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  Status again = docker().remove_volume(spec.name, Force::no);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::not_found) << again.error().message;
}

TEST_F(Objects, AnonymousVolumesGoWithTheirContainer) {
  ContainerSpec spec = sleeper_spec("anon");
  spec.host.mounts = {Mount{MountType::volume, "", "/anon", Access::read_write, labels(), std::nullopt}};
  std::string id = start(spec);
  Result<std::vector<VolumeInfo>> before = docker().list_volumes(label_filter());
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 1u) << "the mount's VolumeOptions.Labels label the anonymous volume";
  ASSERT_TRUE(docker().remove_container(id, Force::yes, AnonymousVolumes::remove).ok());
  Result<std::vector<VolumeInfo>> after = docker().list_volumes(label_filter());
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

}  // namespace
}  // namespace phaedo::docker::testing
