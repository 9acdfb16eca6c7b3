// Durable whole-file replacement: write a temp file, fsync it, rename it over the
// target, fsync the directory. A crash leaves either the old or the new content.
#pragma once

#include <string>

#include "core/result.h"

namespace phaedo::journal {

enum class Durability {
  fsync,   // survives a crash of the host: for the journal
  atomic,  // readers see old or new content, never a mix, but a host crash may lose it:
           // for data that is cheap to lose (metrics), where fsyncs would cost every stage
};

// Replaces `path` with `content`, mode 0600.
Status write_file_atomically(const std::string& path, const std::string& content,
                             Durability durability = Durability::fsync);

// The whole content of `path`; not_found when it does not exist.
Result<std::string> read_file(const std::string& path);

}  // namespace phaedo::journal
