// Durable whole-file replacement: write a temp file, fsync it, rename it over the
// target, fsync the directory. A crash leaves either the old or the new content.
#pragma once

#include <string>

#include "core/result.h"

namespace phaedo::journal {

// Replaces `path` with `content`, mode 0600.
Status write_file_atomically(const std::string& path, const std::string& content);

// The whole content of `path`; not_found when it does not exist.
Result<std::string> read_file(const std::string& path);

}  // namespace phaedo::journal
