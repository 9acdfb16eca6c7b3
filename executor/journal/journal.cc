#include "journal/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "journal/atomic_file.h"

namespace phaedo::journal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFileName = "journal.json";
constexpr const char* kLockName = "lock";

Result<Phase> phase_from(const std::string& s) {
  if (s == "intended") return Phase::intended;
  if (s == "created") return Phase::created;
  if (s == "removed") return Phase::removed;
  return make_error(ErrorKind::invalid_input, "journal: unknown phase \"" + s + "\"");
}

}  // namespace

const char* to_string(Phase phase) {
  switch (phase) {
    case Phase::intended: return "intended";
    case Phase::created: return "created";
    case Phase::removed: return "removed";
  }
  return "intended";
}

Result<Journal> Journal::open(const std::string& state_dir, const std::string& key, OpenMode mode,
                              std::int64_t job_id, LockWait wait) {
  Journal j;
  j.key_ = key;
  j.dir_ = state_dir + "/jobs/" + key;
  j.path_ = j.dir_ + "/" + kFileName;
  j.job_id_ = job_id;

  if (auto s = j.lock(mode, wait); !s) return s.error();
  if (auto s = j.load(); !s) return s.error();
  std::error_code ec;
  if (mode == OpenMode::existing_only && j.records_.empty() && !fs::exists(j.path_, ec)) {
    return make_error(ErrorKind::not_found, "no journal for job " + key);
  }
  if (j.created_.empty()) j.created_ = utc_now_string();
  return j;
}

Status Journal::lock(OpenMode mode, LockWait wait) {
  const std::string lock_path = dir_ + "/" + kLockName;
  // erase() unlinks the lock file while holding it; a waiter that then wins the
  // flock holds a dead inode. Retry until the lock we hold is the file at the path.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::error_code ec;
    if (!fs::exists(dir_, ec)) {
      if (mode == OpenMode::existing_only) return make_error(ErrorKind::not_found, "no journal for job " + key_);
      fs::create_directories(dir_, ec);
      if (ec) return make_error(ErrorKind::io, "cannot create journal directory " + dir_ + ": " + ec.message());
      fs::permissions(dir_, fs::perms::owner_all, ec);
    }
    Fd fd(::open(lock_path.c_str(), O_RDWR | O_CLOEXEC | O_CREAT, 0600));
    if (!fd.valid()) {
      if (errno == ENOENT) {
        if (mode == OpenMode::existing_only) return make_error(ErrorKind::not_found, "no journal for job " + key_);
        continue;  // the directory was erased between our check and open: start over
      }
      return make_error(ErrorKind::io, "cannot open journal lock " + lock_path + ": " + std::strerror(errno));
    }
    const int op = wait == LockWait::wait ? LOCK_EX : LOCK_EX | LOCK_NB;
    while (::flock(fd.get(), op) != 0) {
      if (errno == EWOULDBLOCK) return make_error(ErrorKind::cancelled, "journal of job " + key_ + " is busy");
      if (errno != EINTR) return make_error(ErrorKind::io, "cannot lock " + lock_path + ": " + std::strerror(errno));
    }
    struct stat held {}, current {};
    if (::fstat(fd.get(), &held) == 0 && ::stat(lock_path.c_str(), &current) == 0 &&
        held.st_ino == current.st_ino && held.st_dev == current.st_dev) {
      lock_ = std::move(fd);
      return {};
    }
  }
  return make_error(ErrorKind::io, "cannot lock journal " + lock_path + ": it keeps being removed");
}

Status Journal::load() {
  auto text = read_file(path_);
  if (!text) return text.error().kind == ErrorKind::not_found ? Status{} : Status{text.error()};
  json root = json::parse(*text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return make_error(ErrorKind::invalid_input, "journal " + path_ + " is corrupt (not a JSON object)");
  }
  try {
    if (root.contains("job_id") && job_id_ == 0) job_id_ = root.at("job_id").get<std::int64_t>();
    created_ = root.value("created", "");
    expires_ = root.value("expires", std::int64_t{0});
    for (const auto& r : root.at("records")) {
      Record rec;
      rec.kind = r.at("kind").get<std::string>();
      rec.id = r.at("id").get<std::string>();
      auto phase = phase_from(r.at("phase").get<std::string>());
      if (!phase) return phase.error();
      rec.phase = *phase;
      rec.updated = r.value("updated", "");
      if (r.contains("attrs")) rec.attrs = r.at("attrs").get<std::map<std::string, std::string>>();
      records_.push_back(std::move(rec));
    }
  } catch (const json::exception& e) {
    return make_error(ErrorKind::invalid_input, "journal " + path_ + " is corrupt: " + e.what());
  }
  return {};
}

Status Journal::save() {
  json root;
  root["version"] = 1;
  root["key"] = key_;
  root["job_id"] = job_id_;
  root["created"] = created_;
  root["expires"] = expires_;
  root["records"] = json::array();
  for (const auto& r : records_) {
    root["records"].push_back({{"kind", r.kind}, {"id", r.id}, {"phase", to_string(r.phase)},
                               {"attrs", r.attrs}, {"updated", r.updated}});
  }
  return write_file_atomically(path_, root.dump(2) + "\n");
}

Status Journal::intend(const std::string& kind, const std::string& id, std::map<std::string, std::string> attrs) {
  for (auto& r : records_) {
    if (r.kind == kind && r.id == id) {
      if (r.phase == Phase::removed) {
        r.phase = Phase::intended;
        r.attrs = std::move(attrs);
        r.updated = utc_now_string();
        return save();
      }
      return {};
    }
  }
  records_.push_back(Record{kind, id, Phase::intended, std::move(attrs), utc_now_string()});
  return save();
}

Status Journal::set_phase(const std::string& kind, const std::string& id, Phase phase) {
  for (auto& r : records_) {
    if (r.kind == kind && r.id == id) {
      if (r.phase == phase) return {};
      r.phase = phase;
      r.updated = utc_now_string();
      return save();
    }
  }
  return make_error(ErrorKind::internal, "journal: no record " + kind + " " + id);
}

Status Journal::set_expires(std::int64_t unix_seconds) {
  if (expires_ == unix_seconds) return {};
  expires_ = unix_seconds;
  return save();
}

Status Journal::created(const std::string& kind, const std::string& id) { return set_phase(kind, id, Phase::created); }
Status Journal::removed(const std::string& kind, const std::string& id) { return set_phase(kind, id, Phase::removed); }

std::vector<Record> Journal::live() const {
  std::vector<Record> out;
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->phase != Phase::removed) out.push_back(*it);
  }
  return out;
}

const Record* Journal::find_live(const std::string& kind) const {
  for (const auto& r : records_) {
    if (r.kind == kind && r.phase != Phase::removed) return &r;
  }
  return nullptr;
}

Status Journal::erase() {
  if (!live().empty()) return make_error(ErrorKind::internal, "journal " + key_ + " still has live records");
  // The lock file goes last but one, while we still hold it; waiters notice (see lock()).
  for (const std::string& path : {path_, dir_ + "/" + kLockName, dir_}) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) return make_error(ErrorKind::io, "cannot remove " + path + ": " + ec.message());
  }
  records_.clear();
  return {};
}

std::vector<std::string> Journal::list(const std::string& state_dir) {
  std::vector<std::string> keys;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_dir + "/jobs", ec)) {
    if (entry.is_directory(ec)) keys.push_back(entry.path().filename().string());
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace phaedo::journal
