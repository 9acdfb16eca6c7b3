#include "protocol/exit_code_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/fd.h"
#include "protocol/names.h"

namespace phaedo::protocol {
namespace {

Status write_all(const std::string& path, const std::string& data, int flags) {
  Fd fd(::open(path.c_str(), flags | O_WRONLY | O_CLOEXEC | O_TRUNC, 0600));
  if (!fd.valid()) {
    if (errno == ENOENT && !(flags & O_CREAT)) return {};
    return make_error(ErrorKind::io, "cannot open " + std::string(kBuildExitCodeFile) + " " + path + ": " +
                                         std::strerror(errno));
  }
  if (!data.empty() && ::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    return make_error(ErrorKind::io, "cannot write " + path + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

Status truncate_exit_code_file(const Environment& env) {
  auto path = env.get(kBuildExitCodeFile);
  if (!path || path->empty()) return {};
  return write_all(*path, "", 0);
}

Status write_exit_code_file(const Environment& env, int code) {
  auto path = env.get(kBuildExitCodeFile);
  if (!path || path->empty()) return {};
  return write_all(*path, std::to_string(code) + "\n", O_CREAT);
}

}  // namespace phaedo::protocol
