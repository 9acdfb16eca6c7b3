#include "log/redactor.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "log/logger.h"
#include "test_support.h"

namespace phaedo::log {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

protocol::JobResponse job_with_secrets() {
  protocol::JobResponse job;
  job.id = 1001;
  job.token = "job-token-1001";
  job.variables = {
      {"MY_SECRET", "s3cr3t-value", /*masked=*/true, /*file=*/false, /*is_public=*/false},
      {"CI_REGISTRY_PASSWORD", "reg-password-1", false, false, false},  // a secret by name, even unmasked
      {"PLAIN", "visible-value", false, false, true},
  };
  job.credentials = {{"registry", "registry.example.com", "gitlab-ci-token", "cred-password-9"}};
  return job;
}

TEST(Redactor, MasksJobSecrets) {
  Redactor r;
  r.add_job_secrets(job_with_secrets());
  EXPECT_EQ(r.redact("var=s3cr3t-value;"), "var=[MASKED];");
  EXPECT_EQ(r.redact("token job-token-1001 used"), "token [MASKED] used");
  EXPECT_EQ(r.redact("login cred-password-9"), "login [MASKED]");
  EXPECT_EQ(r.redact("pw reg-password-1"), "pw [MASKED]");
  EXPECT_EQ(r.redact("s3cr3t-value and again s3cr3t-value"), "[MASKED] and again [MASKED]");
  EXPECT_EQ(r.redact("plain visible-value"), "plain visible-value");
}

TEST(Redactor, MasksEnvironmentOnlySecrets) {
  Redactor r;
  r.add_env_secrets(phaedo_test::env_of({{"CUSTOM_ENV_CI_JOB_TOKEN", "env-job-token-77"}, {"CUSTOM_ENV_OTHER", "harmless"}}));
  EXPECT_EQ(r.redact("x env-job-token-77 y"), "x [MASKED] y");
  EXPECT_EQ(r.redact("harmless"), "harmless");
}

TEST(Redactor, IgnoresValuesShorterThanFourCharacters) {
  Redactor r;
  r.add("abc");
  protocol::JobResponse job;
  job.variables = {{"SHORT", "on", true, false, false}};
  r.add_job_secrets(job);
  EXPECT_EQ(r.redact("abc on contact"), "abc on contact");
  r.add("abcd");
  EXPECT_EQ(r.redact("abcd"), "[MASKED]");
}

TEST(Redactor, MasksASecretContainingAnotherFully) {
  Redactor r;
  r.add("secret");  // registered first on purpose: the longer one must still win
  r.add("secret-value-long");
  EXPECT_EQ(r.redact("a secret-value-long b secret c"), "a [MASKED] b [MASKED] c");
}

TEST(Redactor, MasksPartiallyOverlappingSecretsWithoutLeavingAFragment) {
  Redactor r;
  r.add("abcd1234");
  r.add("1234wxyz");
  std::string out = r.redact("<abcd1234wxyz>");
  EXPECT_THAT(out, Not(HasSubstr("abcd"))) << out;
  EXPECT_THAT(out, Not(HasSubstr("wxyz"))) << out;
}

TEST(Redactor, MasksTokenShapesEvenWhenUnregistered) {
  Redactor r;
  EXPECT_EQ(r.redact("auth glpat-AbCdEfGhIjKlMnOpQrSt done"), "auth [MASKED] done");
  EXPECT_EQ(r.redact("glrt-t1_AbCdEfGhIjKlMnOp"), "[MASKED]");
  EXPECT_EQ(r.redact("see glrt- docs"), "see glrt- docs");
}

// ---- Logger -----------------------------------------------------------------------------

std::vector<nlohmann::json> read_records(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(phaedo_test::read_text(path));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(j.is_object()) << line;
    out.push_back(j);
  }
  return out;
}

TEST(Logger, WritesOneJsonObjectPerLineWithStandardFields) {
  phaedo_test::TempDir dir;
  std::string path = dir.file("logs/admin.log");  // the directory is created on demand
  {
    Logger log("prepare", path);
    log.set_field("job", "r12-j1001");
    log.admin(Level::info, "first");
    log.admin(Level::warn, "two\nlines and \"quotes\"");
    log.admin(Level::debug, "third", {{"detail", "x"}});
  }
  auto records = read_records(path);
  ASSERT_EQ(records.size(), 3u);
  const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  for (const auto& rec : records) {
    ASSERT_TRUE(rec.contains("time") && rec["time"].is_string()) << rec.dump();
    EXPECT_TRUE(std::regex_match(rec["time"].get<std::string>(), rfc3339)) << rec["time"];
    EXPECT_EQ(rec["stage"], "prepare");
    EXPECT_EQ(rec["job"], "r12-j1001");
  }
  EXPECT_EQ(records[0]["level"], "info");
  EXPECT_EQ(records[0]["msg"], "first");
  EXPECT_EQ(records[1]["level"], "warn");
  EXPECT_EQ(records[1]["msg"], "two\nlines and \"quotes\"");
  EXPECT_EQ(records[2]["level"], "debug");
  EXPECT_EQ(records[2]["detail"], "x");

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the admin log may hold job details: owner only";
}

TEST(Logger, MasksSecretsInMessageAndFields) {
  phaedo_test::TempDir dir;
  std::string path = dir.file("admin.log");
  {
    Logger log("run", path);
    log.redactor().add_job_secrets(job_with_secrets());
    log.set_field("auth", "Bearer job-token-1001");
    log.admin(Level::error, "value s3cr3t-value leaked?", {{"cmd", "login -p cred-password-9"}});
  }
  std::string raw = phaedo_test::read_text(path);
  for (const char* secret : {"s3cr3t-value", "job-token-1001", "cred-password-9"}) {
    EXPECT_THAT(raw, Not(HasSubstr(secret)));
  }
  auto records = read_records(path);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["msg"], "value [MASKED] leaked?");
  EXPECT_EQ(records[0]["auth"], "Bearer [MASKED]");
  EXPECT_EQ(records[0]["cmd"], "login -p [MASKED]");
}

TEST(Logger, JobMessagesGoToStderrAndTheAdminLogMasked) {
  phaedo_test::TempDir dir;
  std::string path = dir.file("admin.log");
  ::testing::internal::CaptureStderr();
  {
    Logger log("config", path);
    log.redactor().add("hunter2-secret");
    log.job(Level::error, "bad password hunter2-secret");
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "phaedo: error: bad password [MASKED]\n");
  auto records = read_records(path);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["level"], "error");
  EXPECT_EQ(records[0]["msg"], "bad password [MASKED]");
}

TEST(Logger, UnusableAdminPathWarnsAndCarriesOn) {
  phaedo_test::TempDir dir;
  phaedo_test::write_text(dir.file("plain-file"), "");
  ::testing::internal::CaptureStderr();
  {
    Logger log("cleanup", dir.file("plain-file/admin.log"));
    log.job(Level::info, "still here");
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("admin log"));
  EXPECT_THAT(err, HasSubstr("phaedo: still here\n"));
}

}  // namespace
}  // namespace phaedo::log
