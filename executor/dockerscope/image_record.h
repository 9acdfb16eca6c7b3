// The images a job made through its scoped API: ids it built, committed or
// imported, and references (repo:tag) it created by tag, build -t, commit or import.
//
// Pulled images are not recorded: they are the shared cache every job starts from.
// The record is a small JSON file rewritten atomically on every change, so the
// job may remove only these, a restarted proxy keeps them, and cleanup (which runs
// in another process) can remove them. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace phaedo::dockerscope {

// "busybox" → "busybox:latest"; "docker.io/library/x:1" → "x:1"; digests kept.
[[nodiscard]] std::string normalize_ref(std::string_view ref);

class ImageRecord {
 public:
  // Loads `path` when it exists; an empty path keeps the record in memory only.
  static Result<std::unique_ptr<ImageRecord>> open(std::string path);

  [[nodiscard]] bool owns_id(const std::string& id) const;
  [[nodiscard]] bool owns_ref(const std::string& ref) const;  // normalized inside
  Status add(const std::vector<std::string>& ids, const std::vector<std::string>& refs);
  Status forget(const std::vector<std::string>& ids, const std::vector<std::string>& refs);
  [[nodiscard]] std::vector<std::string> ids() const;
  [[nodiscard]] std::vector<std::string> refs() const;

 private:
  explicit ImageRecord(std::string path) : path_(std::move(path)) {}
  Status save();  // with mutex_ held

  std::string path_;
  mutable std::mutex mutex_;
  std::set<std::string> ids_;
  std::set<std::string> refs_;
};

}  // namespace phaedo::dockerscope
