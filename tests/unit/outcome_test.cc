#include "protocol/outcome.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "protocol/config_output.h"
#include "protocol/exit_code_file.h"
#include "test_support.h"

namespace phaedo::protocol {
namespace {

TEST(ExitCodeFor, MapsEachOutcomeToItsCode) {
  ExitCodes codes{.build_failure = 10, .system_failure = 20};
  EXPECT_EQ(exit_code_for(Success{}, codes), 0);
  EXPECT_EQ(exit_code_for(BuildFailure{.script_exit_code = 42, .reason = "exit 42"}, codes), 10)
      << "the script's own code goes to BUILD_EXIT_CODE_FILE, never to the exit status";
  EXPECT_EQ(exit_code_for(SystemFailure{make_error(ErrorKind::io, "disk")}, codes), 20);
}

TEST(ExitCodes, ReadsTheEnvironment) {
  auto codes = ExitCodes::from(phaedo_test::env_of({{"BUILD_FAILURE_EXIT_CODE", "5"}, {"SYSTEM_FAILURE_EXIT_CODE", "255"}}));
  EXPECT_EQ(codes.build_failure, 5);
  EXPECT_EQ(codes.system_failure, 255);
}

TEST(ExitCodes, FallsBackToOneAndTwo) {
  auto unset = ExitCodes::from(Environment{});
  EXPECT_EQ(unset.build_failure, 1);
  EXPECT_EQ(unset.system_failure, 2);
  for (const char* bad : {"", "abc", "3x", " 3", "0", "-1", "256", "99999999999", "1.5"}) {
    auto codes = ExitCodes::from(phaedo_test::env_of({{"BUILD_FAILURE_EXIT_CODE", bad}, {"SYSTEM_FAILURE_EXIT_CODE", bad}}));
    EXPECT_EQ(codes.build_failure, 1) << "\"" << bad << "\"";
    EXPECT_EQ(codes.system_failure, 2) << "\"" << bad << "\"";
  }
}

class ExitCodeFile : public ::testing::Test {
 protected:
  phaedo_test::TempDir dir;
  std::string path = dir.file("build_exit_code");
  Environment env = phaedo_test::env_of({{"BUILD_EXIT_CODE_FILE", path}});

  bool dir_is_empty() const { return std::filesystem::is_empty(dir.path()); }
};

TEST_F(ExitCodeFile, UnsetVariableIsANoOp) {
  EXPECT_TRUE(write_exit_code_file(Environment{}, 7).ok());
  EXPECT_TRUE(truncate_exit_code_file(Environment{}).ok());
  EXPECT_TRUE(write_exit_code_file(phaedo_test::env_of({{"BUILD_EXIT_CODE_FILE", ""}}), 7).ok());
  EXPECT_TRUE(dir_is_empty());
}

TEST_F(ExitCodeFile, WriteGivesCodeAndNewline) {
  ASSERT_TRUE(write_exit_code_file(env, 7).ok());
  EXPECT_EQ(phaedo_test::read_text(path), "7\n");
}

TEST_F(ExitCodeFile, WriteReplacesLongerContent) {
  phaedo_test::write_text(path, "12345\n");
  ASSERT_TRUE(write_exit_code_file(env, 42).ok());
  EXPECT_EQ(phaedo_test::read_text(path), "42\n");
}

TEST_F(ExitCodeFile, TruncateEmptiesAnExistingFile) {
  phaedo_test::write_text(path, "42\n");
  ASSERT_TRUE(truncate_exit_code_file(env).ok());
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST_F(ExitCodeFile, TruncateDoesNotCreateAMissingFile) {
  ASSERT_TRUE(truncate_exit_code_file(env).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(ExitCodeFile, WriteIntoMissingDirectoryIsAnIoError) {
  auto s = write_exit_code_file(phaedo_test::env_of({{"BUILD_EXIT_CODE_FILE", dir.file("gone/build_exit_code")}}), 3);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::io);
}

ConfigOutput sample_config() {
  ConfigOutput out;
  out.builds_dir = "/builds/r12-j1001";
  out.cache_dir = "/cache";
  out.builds_dir_is_shared = false;
  out.hostname = "ci-host";
  out.driver_name = "phaedo";
  out.driver_version = "0.1.0";
  out.job_env = {{"PHAEDO_JOB_KEY", "r12-j1001"}, {"QUOTED", "a \"b\"\nc"}};
  out.shell = "bash";
  return out;
}

TEST(ConfigOutputJson, IsOneObjectWithExactlyTheProtocolKeys) {
  std::string text = to_json(sample_config());
  EXPECT_EQ(text.find('\n'), std::string::npos) << "must be one line: " << text;
  // parse() rejects trailing data, so this also proves there is exactly one value.
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << text;
  ASSERT_TRUE(j.is_object());

  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"builds_dir", "cache_dir", "builds_dir_is_shared", "hostname", "driver",
                                         "job_env", "shell"}));

  EXPECT_EQ(j["builds_dir"], "/builds/r12-j1001");
  EXPECT_EQ(j["cache_dir"], "/cache");
  ASSERT_TRUE(j["builds_dir_is_shared"].is_boolean()) << "a string \"false\" is a parse error in the runner";
  EXPECT_FALSE(j["builds_dir_is_shared"].get<bool>());
  EXPECT_EQ(j["hostname"], "ci-host");
  EXPECT_EQ(j["driver"], (nlohmann::json{{"name", "phaedo"}, {"version", "0.1.0"}}));
  ASSERT_TRUE(j["job_env"].is_object());
  EXPECT_EQ(j["job_env"]["PHAEDO_JOB_KEY"], "r12-j1001");
  EXPECT_EQ(j["job_env"]["QUOTED"], "a \"b\"\nc");
  EXPECT_EQ(j["shell"], "bash");
}

TEST(ConfigOutputJson, SharedFlagIsTrueBoolean) {
  ConfigOutput out = sample_config();
  out.builds_dir_is_shared = true;
  auto j = nlohmann::json::parse(to_json(out));
  EXPECT_EQ(j["builds_dir_is_shared"], nlohmann::json(true));
}

TEST(ConfigOutputJson, EmptyJobEnvIsAnObject) {
  ConfigOutput out = sample_config();
  out.job_env.clear();
  auto j = nlohmann::json::parse(to_json(out));
  EXPECT_TRUE(j["job_env"].is_object()) << "job_env must be object string->string, got " << j["job_env"].dump();
}

}  // namespace
}  // namespace phaedo::protocol
