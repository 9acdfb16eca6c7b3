// Which image a job runs in, and whether the profile allows it.
//
// Pure functions, no daemon. The job's image (image.name from JOB_RESPONSE_FILE,
// which job authors cannot override through CUSTOM_ENV_*) wins over
// docker.default_image. Only images named by the job are checked against
// docker.allowed_images (the administrator's default is trusted), as GitLab's
// Docker executor does; an empty list allows any image.
//
// Glob syntax: "*" matches any run of characters except '/', "**" matches any
// run including '/', "?" one character except '/'; everything else literally.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "profile/profile.h"

namespace phaedo::sandbox::docker {

struct ImageChoice {
  std::string name;
  bool from_job = false;
};

[[nodiscard]] bool glob_match(const std::string& pattern, const std::string& text);

// invalid_input when there is no image at all, or the job's image matches no rule;
// the message names docker.allowed_images and the profile file.
Result<ImageChoice> choose_image(const profile::Profile& profile, const std::optional<std::string>& job_image);

}  // namespace phaedo::sandbox::docker
