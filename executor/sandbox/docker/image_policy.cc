#include "sandbox/docker/image_policy.h"

namespace phaedo::sandbox::docker {
namespace {

bool match_at(const std::string& p, std::size_t pi, const std::string& t, std::size_t ti) {
  while (pi < p.size()) {
    if (p.compare(pi, 2, "**") == 0) {
      for (std::size_t k = ti; k <= t.size(); ++k) {
        if (match_at(p, pi + 2, t, k)) return true;
      }
      return false;
    }
    if (p[pi] == '*') {
      for (std::size_t k = ti; k <= t.size(); ++k) {
        if (match_at(p, pi + 1, t, k)) return true;
        if (k < t.size() && t[k] == '/') return false;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (p[pi] == '?' ? t[ti] == '/' : p[pi] != t[ti]) return false;
    ++pi;
    ++ti;
  }
  return ti == t.size();
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) { return match_at(pattern, 0, text, 0); }

Result<ImageChoice> choose_image(const profile::Profile& profile, const std::optional<std::string>& job_image) {
  const auto& d = profile.docker;
  if (!job_image || job_image->empty()) {
    if (d.default_image.empty()) {
      return make_error(ErrorKind::invalid_input, "the job names no image and docker.default_image is not set in " +
                                                      profile.source);
    }
    return ImageChoice{d.default_image, false};
  }
  if (d.allowed_images.empty()) return ImageChoice{*job_image, true};
  std::string rules;
  for (const auto& pattern : d.allowed_images) {
    if (glob_match(pattern, *job_image)) return ImageChoice{*job_image, true};
    rules += (rules.empty() ? "\"" : ", \"") + pattern + "\"";
  }
  return make_error(ErrorKind::rejected, "image \"" + *job_image + "\" is not allowed: it matches none of " +
                                                  "docker.allowed_images [" + rules + "] in " + profile.source);
}

}  // namespace phaedo::sandbox::docker
