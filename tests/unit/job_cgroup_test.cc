// JobCgroup's decisions and paths; creating and removing the real directories is
// tested against the real daemon (tests/dockerscope, class JobCgroup).
#include "sandbox/docker/job_cgroup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace phaedo::sandbox::docker {
namespace {

using ::testing::HasSubstr;

TEST(JobCgroup, ParentIsPerJobUnderTheDriversDirectory) {
  EXPECT_EQ(JobCgroup("/sys/fs/cgroup", "r7-j42").docker_parent(), "/phaedo-docker/r7-j42");
}

TEST(JobCgroup, NeedsTheCgroupfsDriver) {
  auto why = JobCgroup("/sys/fs/cgroup", "r7-j42").applicable({"systemd", "1"});
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("\"systemd\""));
}

TEST(JobCgroup, NeedsCgroupV1) {
  auto why = JobCgroup("/sys/fs/cgroup", "r7-j42").applicable({"cgroupfs", "2"});
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("v2"));
}

TEST(JobCgroup, NeedsWritableHierarchies) {
  auto why = JobCgroup("/nonexistent-phaedo-cgroup-mount", "r7-j42").applicable({"cgroupfs", "1"});
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("/nonexistent-phaedo-cgroup-mount/memory"));
}

TEST(JobCgroup, NothingToRemoveIsFine) {
  JobCgroup cgroup("/nonexistent-phaedo-cgroup-mount", "r7-j42");
  EXPECT_TRUE(cgroup.existing().empty());
  EXPECT_TRUE(cgroup.remove().ok());
}

TEST(JobCgroupLimits, AnyLimit) {
  EXPECT_FALSE(JobCgroupLimits{}.any());
  EXPECT_TRUE((JobCgroupLimits{std::nullopt, 1.5, std::nullopt}.any()));
}

}  // namespace
}  // namespace phaedo::sandbox::docker
