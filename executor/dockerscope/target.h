// A request target taken apart: the API version prefix, the decoded path segments
// and the decoded query, put back together canonically.
//
// The proxy forwards the target it rebuilt from what it inspected, never the raw
// one, so the daemon cannot read a path or query differently from the policy.
// Targets that could be read two ways are refused: percent signs in the path,
// empty, "." or ".." segments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "transport/http.h"

namespace phaedo::dockerscope {

struct Target {
  std::string version;                 // "v1.41", or empty when unversioned
  std::vector<std::string> segments;   // "/containers/abc/json" → {"containers", "abc", "json"}
  transport::Fields query;             // decoded; '+' is a space, as Go reads it

  static Result<Target> parse(std::string_view target);
  [[nodiscard]] std::string str() const;

  // Segment i, or "" past the end.
  [[nodiscard]] const std::string& seg(std::size_t i) const;
  // Segments [from, size() - drop_last) joined by '/' (image names contain '/').
  [[nodiscard]] std::string join(std::size_t from, std::size_t drop_last = 0) const;

  // The one value of query parameter `name`; invalid_input when it is given twice.
  [[nodiscard]] Result<std::optional<std::string>> param(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> params(std::string_view name) const;
  void set_param(std::string_view name, std::string value);
  void remove_param(std::string_view name);
};

// Go's httputils.BoolValue: anything but "", "0", "no", "false", "none" is true.
[[nodiscard]] bool query_true(const std::optional<std::string>& value);

}  // namespace phaedo::dockerscope
