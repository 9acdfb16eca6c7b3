#include "docker/internal.h"

namespace phaedo::docker {

Status check_segment(std::string_view what, std::string_view value, Slashes slashes) {
  auto bad = [&](const char* why) {
    return make_error(ErrorKind::invalid_input, std::string(what) + " '" + std::string(value) + "': " + why);
  };
  if (value.empty()) return bad("empty");
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '?' || c == '#' || c == '%')
      return bad("contains a character not allowed in a URL path");
    if (c == '/' && slashes == Slashes::refuse) return bad("contains '/'");
  }
  if (value == ".." || value.starts_with("../") || value.ends_with("/..") ||
      value.find("/../") != std::string_view::npos) {
    return bad("contains a '..' segment");
  }
  return {};
}

std::string describe(const transport::HttpRequest& request) {
  return std::string("docker: ") + transport::to_string(request.method) + " " + request.path;
}

Error answer_error(const transport::HttpRequest& request, const Error& error) {
  return error.context(describe(request) + ": ");
}

}  // namespace phaedo::docker
