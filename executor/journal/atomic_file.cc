#include "journal/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/fd.h"

namespace phaedo::journal {
namespace {

Error io_error(const std::string& what, const std::string& path) {
  return make_error(ErrorKind::io, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Status write_file_atomically(const std::string& path, const std::string& content, Durability durability) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_error("cannot create", tmp);
    const char* p = content.data();
    size_t left = content.size();
    while (left > 0) {
      ssize_t n = ::write(fd.get(), p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        auto err = io_error("cannot write", tmp);
        ::unlink(tmp.c_str());
        return err;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (durability == Durability::fsync && ::fsync(fd.get()) != 0) {
      auto err = io_error("cannot fsync", tmp);
      ::unlink(tmp.c_str());
      return err;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = io_error("cannot rename onto", path);
    ::unlink(tmp.c_str());
    return err;
  }
  if (durability == Durability::atomic) return {};
  std::string dir = std::filesystem::path(path).parent_path().string();
  Fd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) ::fsync(dfd.get());
  return {};
}

Result<std::string> read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return make_error(ErrorKind::not_found, path + " does not exist");
    return io_error("cannot open", path);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace phaedo::journal
