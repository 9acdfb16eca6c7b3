// The docker sandbox's image choice and allowed_images globs (no daemon needed).
#include "sandbox/docker/image_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace phaedo::sandbox::docker {
namespace {

using ::testing::HasSubstr;

TEST(Glob, StarStopsAtSlashDoubleStarDoesNot) {
  EXPECT_TRUE(glob_match("local/*", "local/bb:1"));
  EXPECT_FALSE(glob_match("local/*", "local/a/bb:1"));
  EXPECT_TRUE(glob_match("registry.x/ci/**", "registry.x/ci/a/b:2"));
  EXPECT_TRUE(glob_match("*/busybox:?", "phaedo-test/busybox:1"));
  EXPECT_FALSE(glob_match("busybox", "busybox:1"));
  EXPECT_TRUE(glob_match("busybox*", "busybox:1"));
  EXPECT_FALSE(glob_match("?", "/"));
}

profile::Profile docker_profile(std::vector<std::string> allowed, std::string default_image) {
  profile::Profile p;
  p.source = "test.toml";
  p.sandbox = profile::SandboxKind::docker;
  p.docker.allowed_images = std::move(allowed);
  p.docker.default_image = std::move(default_image);
  return p;
}

TEST(ChooseImage, JobImageWinsAndIsChecked) {
  auto p = docker_profile({"local/*"}, "local/default:1");
  auto ok = choose_image(p, std::string("local/bb:1"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->name, "local/bb:1");
  EXPECT_TRUE(ok->from_job);
  auto refused = choose_image(p, std::string("evil/bb:1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("docker.allowed_images"));
  EXPECT_THAT(refused.error().message, HasSubstr("\"local/*\""));
  EXPECT_THAT(refused.error().message, HasSubstr("evil/bb:1"));
}

TEST(ChooseImage, DefaultImageIsTrusted) {
  auto p = docker_profile({"nothing-matches"}, "local/default:1");
  auto chosen = choose_image(p, std::nullopt);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->name, "local/default:1");
  EXPECT_FALSE(chosen->from_job);
}

TEST(ChooseImage, NoImageAtAllIsAnError) {
  auto chosen = choose_image(docker_profile({}, ""), std::nullopt);
  ASSERT_FALSE(chosen.ok());
  EXPECT_THAT(chosen.error().message, HasSubstr("docker.default_image"));
}

TEST(ChooseImage, EmptyAllowListAllowsAnyJobImage) {
  EXPECT_TRUE(choose_image(docker_profile({}, ""), std::string("any/image:1")).ok());
}

}  // namespace
}  // namespace phaedo::sandbox::docker
