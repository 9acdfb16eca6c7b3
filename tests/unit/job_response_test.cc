#include "protocol/job_response.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "protocol/job_identity.h"
#include "test_support.h"

namespace phaedo::protocol {
namespace {

using ::testing::HasSubstr;

// Shaped like the runner's re-encoded payload (protocol doc section 11.4).
constexpr const char* kPayload = R"({
  "id": 1001,
  "token": "job-token-1001",
  "allow_git_fetch": false,
  "job_info": {"name": "test", "stage": "test", "project_id": 7, "project_full_path": "grp/proj"},
  "git_info": {"repo_url": "http://127.0.0.1:9/grp/proj.git", "ref": "main"},
  "runner_info": {"timeout": 600},
  "variables": [
    {"key": "CI_JOB_ID", "value": "1001", "public": true, "masked": false},
    {"key": "CI_JOB_TOKEN", "value": "job-token-1001", "public": false, "masked": true},
    {"key": "CI_RUNNER_ID", "value": "12", "public": true},
    {"key": "MY_SECRET", "value": "s3cr3t-value", "public": false, "masked": true},
    {"key": "MY_FILE", "value": "file contents\n", "public": false, "file": true},
    {"key": "DUP", "value": "first", "public": true},
    {"key": "DUP", "value": "second", "public": true}
  ],
  "steps": [{"name": "script", "script": ["echo hello"], "timeout": 600}],
  "image": {"name": "alpine:3.20"},
  "services": [{"name": "postgres:16", "alias": "db"}, {"name": "redis:7"}],
  "credentials": [{"type": "registry", "url": "registry.example.com", "username": "gitlab-ci-token",
                   "password": "registry-pass-xyz"}],
  "features": {"trace_sections": true}
})";

const JobVariable* find_var(const JobResponse& job, const std::string& key) {
  for (const auto& v : job.variables) {
    if (v.key == key) return &v;
  }
  return nullptr;
}

TEST(JobResponse, ParsesRealisticPayload) {
  auto job = parse_job_response(kPayload);
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_EQ(job->id, 1001);
  EXPECT_EQ(job->token, "job-token-1001");
  EXPECT_EQ(job->job_name, "test");
  EXPECT_EQ(job->project_path, "grp/proj");
  EXPECT_EQ(job->timeout_seconds, 600);
  EXPECT_EQ(job->image, std::optional<std::string>("alpine:3.20"));

  ASSERT_EQ(job->services.size(), 2u);
  EXPECT_EQ(job->services[0].name, "postgres:16");
  EXPECT_EQ(job->services[0].alias, "db");
  EXPECT_EQ(job->services[1].name, "redis:7");
  EXPECT_EQ(job->services[1].alias, "");

  ASSERT_EQ(job->variables.size(), 7u);
  const JobVariable* secret = find_var(*job, "MY_SECRET");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret->value, "s3cr3t-value");
  EXPECT_TRUE(secret->masked);
  EXPECT_FALSE(secret->file);
  EXPECT_FALSE(secret->is_public);
  const JobVariable* file = find_var(*job, "MY_FILE");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->value, "file contents\n");
  EXPECT_TRUE(file->file);
  EXPECT_FALSE(file->masked);
  const JobVariable* job_id = find_var(*job, "CI_JOB_ID");
  ASSERT_NE(job_id, nullptr);
  EXPECT_TRUE(job_id->is_public);

  ASSERT_EQ(job->credentials.size(), 1u);
  EXPECT_EQ(job->credentials[0].type, "registry");
  EXPECT_EQ(job->credentials[0].url, "registry.example.com");
  EXPECT_EQ(job->credentials[0].username, "gitlab-ci-token");
  EXPECT_EQ(job->credentials[0].password, "registry-pass-xyz");
}

TEST(JobResponse, OptionalPartsMayBeAbsent) {
  auto job = parse_job_response(R"({"id": 5})");
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_EQ(job->id, 5);
  EXPECT_EQ(job->timeout_seconds, 0);
  EXPECT_FALSE(job->image.has_value());
  EXPECT_TRUE(job->variables.empty());
  EXPECT_TRUE(job->services.empty());
  EXPECT_TRUE(job->credentials.empty());
}

TEST(JobResponse, VariableReturnsLastDuplicate) {
  auto job = parse_job_response(kPayload);
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_EQ(job->variable("DUP"), std::optional<std::string>("second"));
  EXPECT_EQ(job->variable("CI_RUNNER_ID"), std::optional<std::string>("12"));
  EXPECT_EQ(job->variable("NOT_THERE"), std::nullopt);
}

struct BadPayload {
  const char* label;
  const char* json;
  const char* expected;  // substring of the message
};

void PrintTo(const BadPayload& c, std::ostream* os) { *os << c.label; }

class JobResponseErrors : public ::testing::TestWithParam<BadPayload> {};

TEST_P(JobResponseErrors, AreInvalidInputNamingTheField) {
  auto job = parse_job_response(GetParam().json);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.error().kind, ErrorKind::invalid_input);
  EXPECT_THAT(job.error().message, HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, JobResponseErrors,
    ::testing::Values(
        BadPayload{"invalid_json", R"({"id": 1,)", "not valid JSON"},
        BadPayload{"not_an_object", R"([1, 2])", "top level"},
        BadPayload{"id_missing", R"({"token": "t"})", "id"},
        BadPayload{"id_zero", R"({"id": 0})", "id must be a positive integer"},
        BadPayload{"id_negative", R"({"id": -4})", "id must be a positive integer"},
        BadPayload{"id_string", R"({"id": "1001"})", "id must be a positive integer"},
        BadPayload{"id_float", R"({"id": 10.5})", "id must be a positive integer"},
        BadPayload{"token_not_string", R"({"id": 1, "token": 42})", "token must be a string"},
        BadPayload{"timeout_not_integer", R"({"id": 1, "runner_info": {"timeout": "600"}})", "runner_info.timeout"},
        BadPayload{"variables_not_array", R"({"id": 1, "variables": {"A": "b"}})", "variables must be an array"},
        BadPayload{"variable_not_object", R"({"id": 1, "variables": ["A=b"]})", "variables[0]"},
        BadPayload{"variable_key_not_string", R"({"id": 1, "variables": [{"key": "A", "value": "x"}, {"key": 7, "value": "y"}]})",
                   "variables[1].key"},
        BadPayload{"variable_value_not_string", R"({"id": 1, "variables": [{"key": "A", "value": 3}]})",
                   "variables[0].value"},
        BadPayload{"credential_password_not_string", R"({"id": 1, "credentials": [{"password": 1}]})",
                   "credentials[0].password"}),
    [](const ::testing::TestParamInfo<BadPayload>& param_info) { return std::string(param_info.param.label); });

TEST(LoadJobResponse, UnsetVariableIsNotFound) {
  auto job = load_job_response(Environment{});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.error().kind, ErrorKind::not_found);
  EXPECT_THAT(job.error().message, HasSubstr("JOB_RESPONSE_FILE"));
}

TEST(LoadJobResponse, MissingFileIsNotFound) {
  phaedo_test::TempDir dir;
  auto job = load_job_response(phaedo_test::env_of({{"JOB_RESPONSE_FILE", dir.file("response.json")}}));
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.error().kind, ErrorKind::not_found);
}

TEST(LoadJobResponse, ReadsTheNamedFile) {
  phaedo_test::TempDir dir;
  phaedo_test::write_text(dir.file("response.json"), kPayload);
  auto job = load_job_response(phaedo_test::env_of({{"JOB_RESPONSE_FILE", dir.file("response.json")}}));
  ASSERT_TRUE(job.ok()) << job.error().message;
  EXPECT_EQ(job->id, 1001);
}

JobResponse job_with_runner(const char* runner_id) {
  JobResponse job;
  job.id = 1001;
  job.job_name = "test";
  job.project_path = "grp/proj";
  if (runner_id != nullptr) job.variables.push_back(JobVariable{"CI_RUNNER_ID", runner_id});
  return job;
}

TEST(IdentifyJob, KeyCombinesRunnerAndJob) {
  auto id = identify_job(job_with_runner("12"), phaedo_test::env_of({{"CUSTOM_ENV_CI_CONCURRENT_ID", "3"}}), "");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->job_id, 1001);
  EXPECT_EQ(id->runner_id, "12");
  EXPECT_EQ(id->key(), "r12-j1001");
  EXPECT_EQ(id->concurrent_id, "3");
  EXPECT_EQ(id->project_path, "grp/proj");
  EXPECT_EQ(id->job_name, "test");
}

TEST(IdentifyJob, ProfileOverrideWins) {
  auto id = identify_job(job_with_runner("12"), Environment{}, "edge-1");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->key(), "redge-1-j1001");
}

TEST(IdentifyJob, RunnerIdComesFromPayloadNotFromOverridableEnv) {
  auto id = identify_job(job_with_runner("12"), phaedo_test::env_of({{"CUSTOM_ENV_CI_RUNNER_ID", "999"}}), "");
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->runner_id, "12");
}

TEST(IdentifyJob, DefaultsToZeroWithoutRunnerId) {
  auto absent = identify_job(job_with_runner(nullptr), Environment{}, "");
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_EQ(absent->key(), "r0-j1001");
  auto empty = identify_job(job_with_runner(""), Environment{}, "");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->key(), "r0-j1001");
}

TEST(IdentifyJob, RefusesUnsafeRunnerId) {
  for (const char* bad : {"../../etc", "12 34", "Runner", "a/b"}) {
    auto from_payload = identify_job(job_with_runner(bad), Environment{}, "");
    ASSERT_FALSE(from_payload.ok()) << bad;
    EXPECT_EQ(from_payload.error().kind, ErrorKind::invalid_input);
    EXPECT_THAT(from_payload.error().message, HasSubstr(bad));
    EXPECT_FALSE(identify_job(job_with_runner("12"), Environment{}, bad).ok()) << bad;
  }
}

TEST(IsSafeName, AcceptsLowercaseDigitsAndDashUpTo63) {
  EXPECT_TRUE(is_safe_name("r12-j1001"));
  EXPECT_TRUE(is_safe_name("0"));
  EXPECT_TRUE(is_safe_name(std::string(63, 'a')));
  EXPECT_FALSE(is_safe_name(std::string(64, 'a')));
  EXPECT_FALSE(is_safe_name(""));
  for (const char* bad : {"A", "a_b", "a.b", "..", "a/b", "a b", "a\nb", "é"}) EXPECT_FALSE(is_safe_name(bad)) << bad;
}

}  // namespace
}  // namespace phaedo::protocol
