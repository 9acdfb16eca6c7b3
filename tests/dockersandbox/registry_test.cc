// Pure units of the docker sandbox's registry and service code: references,
// variable expansion, credentials lookup, the auth header, service aliases.
#include <gtest/gtest.h>

#include "sandbox/docker/registry.h"
#include "sandbox/docker/services.h"

namespace phaedo::sandbox::docker {
namespace {

protocol::JobResponse job_with(std::vector<protocol::JobVariable> variables) {
  protocol::JobResponse job;
  job.variables = std::move(variables);
  return job;
}

TEST(ImageRef, RegistryRepositoryTagAndDigest) {
  auto a = parse_image_ref("busybox");
  EXPECT_EQ(a.registry, "docker.io");
  EXPECT_EQ(a.repository, "busybox");
  EXPECT_EQ(a.tag, "latest");
  auto b = parse_image_ref("127.0.0.1:5000/phaedo/busybox:1");
  EXPECT_EQ(b.registry, "127.0.0.1:5000");
  EXPECT_EQ(b.repository, "127.0.0.1:5000/phaedo/busybox");
  EXPECT_EQ(b.tag, "1");
  auto c = parse_image_ref("localhost/x@sha256:abc");
  EXPECT_EQ(c.registry, "localhost");
  EXPECT_EQ(c.digest, "sha256:abc");
  EXPECT_EQ(c.tag, "");
  EXPECT_EQ(parse_image_ref("local/debian-minbase:12").registry, "docker.io");
}

TEST(ExpandVariables, DollarAndBracesFromThePayload) {
  auto job = job_with({{"REG", "r.example:5000", false, false, true}, {"T", "2", false, false, true}});
  EXPECT_EQ(expand_variables("$REG/img:${T}", job), "r.example:5000/img:2");
  EXPECT_EQ(expand_variables("a$MISSING-b", job), "a-b");
  EXPECT_EQ(expand_variables("price$", job), "price$");
}

TEST(RegistryAuth, DockerAuthConfigThenCredentialsThenNothing) {
  // "u:p" in base64 under a key with scheme and path.
  auto job = job_with({{"DOCKER_AUTH_CONFIG", R"({"auths":{"https://r.example:5000/v2/":{"auth":"dTpw"}}})", false,
                        false, false}});
  job.credentials.push_back({"registry", "other.example", "ci", "tok"});
  profile::DockerSettings settings;
  auto a = find_registry_auth("r.example:5000", job, settings);
  ASSERT_TRUE(a);
  ASSERT_TRUE(*a);
  EXPECT_EQ((*a)->username, "u");
  EXPECT_EQ((*a)->password, "p");
  EXPECT_EQ((*a)->source, "the job variable DOCKER_AUTH_CONFIG");
  auto b = find_registry_auth("other.example", job, settings);
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->password, "tok");
  auto c = find_registry_auth("docker.io", job, settings);
  ASSERT_TRUE(c);
  EXPECT_FALSE(*c);
}

TEST(RegistryAuth, MalformedConfigNamesTheSourceNotTheSecret) {
  auto job = job_with({{"DOCKER_AUTH_CONFIG", R"({"auths":{"r":{"auth":"!!secret!!"}}})", false, false, false}});
  auto a = find_registry_auth("r", job, {});
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("DOCKER_AUTH_CONFIG"), std::string::npos);
  EXPECT_EQ(a.error().message.find("secret"), std::string::npos);
}

TEST(RegistryAuth, HeaderIsBase64UrlJson) {
  // {"password":"p?>","serveraddress":"s","username":"u"} has '?' '>' → '/' '+' in base64.
  std::string header = registry_auth_header({"u", "p?>", "s", "x"});
  EXPECT_EQ(header.find_first_of("+/"), std::string::npos);
  EXPECT_EQ(header.size() % 4, 0u);
}

TEST(ServiceAliases, ExplicitThenDerivedFromTheName) {
  EXPECT_EQ(service_aliases("registry.example.com/tools/db:1", "db, cache"),
            (std::vector<std::string>{"db", "cache", "registry.example.com__tools__db", "registry.example.com-tools-db"}));
  EXPECT_EQ(service_aliases("postgres:15", ""), (std::vector<std::string>{"postgres"}));
  EXPECT_EQ(service_aliases("x/y@sha256:ab", "bad/alias"), (std::vector<std::string>{"x__y", "x-y"}));
}

}  // namespace
}  // namespace phaedo::sandbox::docker
