#include "log/redactor.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace phaedo::log {
namespace {

constexpr const char* kMask = "[MASKED]";

// GitLab token prefixes (personal, runner, CI job, deploy, feed, …).
constexpr std::array<const char*, 9> kTokenPrefixes = {"glpat-", "glrt-", "glcbt-", "gldt-", "glft-",
                                                       "glimt-", "glptt-", "glsoat-", "glrtr-"};

bool token_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; }

std::string mask_token_shapes(std::string text) {
  for (const char* prefix : kTokenPrefixes) {
    std::string p(prefix);
    size_t pos = 0;
    while ((pos = text.find(p, pos)) != std::string::npos) {
      size_t end = pos + p.size();
      while (end < text.size() && token_char(text[end])) ++end;
      if (end - pos - p.size() >= 8) {
        text.replace(pos, end - pos, kMask);
        pos += std::char_traits<char>::length(kMask);
      } else {
        pos = end;
      }
    }
  }
  return text;
}

}  // namespace

void Redactor::add(const std::string& secret) {
  if (secret.size() < 4) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.push_back(secret);
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

void Redactor::add_job_secrets(const protocol::JobResponse& job) {
  add(job.token);
  for (const auto& v : job.variables) {
    if (v.masked || v.key == "CI_JOB_TOKEN" || v.key == "CI_REGISTRY_PASSWORD" ||
        v.key == "CI_DEPENDENCY_PROXY_PASSWORD" || v.key == "CI_BUILD_TOKEN") {
      add(v.value);
    }
  }
  for (const auto& c : job.credentials) add(c.password);
}

void Redactor::add_env_secrets(const Environment& env) {
  for (const char* key : {"CUSTOM_ENV_CI_JOB_TOKEN", "CUSTOM_ENV_CI_BUILD_TOKEN", "CUSTOM_ENV_CI_REGISTRY_PASSWORD",
                          "CUSTOM_ENV_CI_DEPENDENCY_PROXY_PASSWORD"}) {
    if (auto v = env.get(key)) add(*v);
  }
}

std::string Redactor::redact(const std::string& text) const {
  // Mark every byte covered by any secret in the original text, then replace each
  // maximal covered run once: overlapping secrets cannot leave fragments behind.
  std::vector<bool> covered(text.size(), false);
  bool any = false;
  for (const auto& secret : secrets_) {
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 1)) {
      std::fill(covered.begin() + static_cast<std::ptrdiff_t>(pos),
                covered.begin() + static_cast<std::ptrdiff_t>(pos + secret.size()), true);
      any = true;
    }
  }
  if (!any) return mask_token_shapes(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (!covered[i]) {
      out.push_back(text[i++]);
      continue;
    }
    while (i < text.size() && covered[i]) ++i;
    out += kMask;
  }
  return mask_token_shapes(std::move(out));
}

}  // namespace phaedo::log
