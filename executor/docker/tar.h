// A small ustar writer, for archive uploads (PUT /containers/{id}/archive) and
// image imports (POST /images/create?fromSrc=-).
//
// Entries are regular files, directories and symlinks with explicit mode, owner
// and mtime; the daemon keeps the mode. Paths are relative ("bin/sh", no leading
// '/'); paths longer than 100 bytes are split into ustar's prefix and name fields.
// The archive is built in memory: it is meant for scripts and small rootfs
// images, not for large payloads.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace phaedo::docker {

enum class EntryType { file, directory, symlink };

struct TarEntry {
  std::string path;  // relative, '/'-separated
  EntryType type = EntryType::file;
  std::string content;        // file: the bytes; symlink: the target
  std::uint32_t mode = 0644;  // permission bits (and setuid/setgid/sticky)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::int64_t mtime = 0;  // seconds since the epoch
};

class TarWriter {
 public:
  // Errors: invalid_input for an empty, absolute or too long path, a symlink target
  // over 100 bytes, a mode over 07777, or a file of 8 GiB or more.
  Status add(const TarEntry& entry);
  // Appends the two zero blocks that end an archive and hands the bytes over.
  [[nodiscard]] std::string finish() &&;

 private:
  std::string data_;
};

// An archive holding one regular file.
Result<std::string> tar_one_file(const std::string& path, std::string content, std::uint32_t mode);

}  // namespace phaedo::docker
