// The write-ahead record of everything a job creates.
//
// Before a stage creates anything (a directory, a cgroup, a container, a lease…)
// it calls intend(); after success, created(); after removal, removed(). Each call
// rewrites <state_dir>/jobs/<key>/journal.json atomically and durably, so a crash
// at any point leaves a journal naming every object that may exist. Cleanup, a
// retried prepare and reapers replay it. Records hold object identifiers only,
// never secrets.
//
// A Journal holds an exclusive flock on the job's lock file for its lifetime, so
// concurrent stages of one job (the runner may start cleanup while a run stage is
// still dying) never interleave their writes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/fd.h"
#include "core/result.h"

namespace phaedo::journal {

enum class Phase { intended, created, removed };
const char* to_string(Phase phase);

struct Record {
  std::string kind;   // "workdir", "cgroup", "container", …
  std::string id;     // a path, an object id or name
  Phase phase = Phase::intended;
  std::map<std::string, std::string> attrs;
  std::string updated;  // UTC time of the last change
};

enum class OpenMode { create_if_missing, existing_only };
// wait: block until the lock is free. try_lock: ErrorKind::cancelled ("busy") when
// another stage of the job holds it (reapers skip jobs that are being worked on).
enum class LockWait { wait, try_lock };

class Journal {
 public:
  // Opens the journal of `key`. existing_only: not_found when there is none.
  static Result<Journal> open(const std::string& state_dir, const std::string& key, OpenMode mode,
                              std::int64_t job_id = 0, LockWait wait = LockWait::wait);

  Journal(Journal&&) = default;
  Journal& operator=(Journal&&) = default;

  const std::string& key() const { return key_; }
  const std::string& dir() const { return dir_; }
  std::int64_t job_id() const { return job_id_; }
  const std::vector<Record>& records() const { return records_; }
  const std::string& created_at() const { return created_; }
  // Unix time after which the job is certainly over (its timeout plus a margin) and a
  // reaper may tear it down; 0 when unknown.
  std::int64_t expires() const { return expires_; }
  Status set_expires(std::int64_t unix_seconds);

  // Write-ahead: call before creating the object. Idempotent for a (kind, id).
  Status intend(const std::string& kind, const std::string& id, std::map<std::string, std::string> attrs = {});
  Status created(const std::string& kind, const std::string& id);
  Status removed(const std::string& kind, const std::string& id);

  // Records not yet removed, newest first (the order teardown needs).
  [[nodiscard]] std::vector<Record> live() const;
  // The first live record of `kind`, if any.
  [[nodiscard]] const Record* find_live(const std::string& kind) const;

  // Deletes the journal and its directory. Call only when live() is empty.
  Status erase();

  // Keys of every job that has a journal under state_dir (for reapers and `jobs`).
  static std::vector<std::string> list(const std::string& state_dir);

 private:
  Journal() = default;
  Status lock(OpenMode mode, LockWait wait);
  Status load();
  Status save();
  Status set_phase(const std::string& kind, const std::string& id, Phase phase);

  std::string key_;
  std::string dir_;
  std::string path_;
  std::int64_t job_id_ = 0;
  std::string created_;
  std::int64_t expires_ = 0;
  Fd lock_;
  std::vector<Record> records_;
};

}  // namespace phaedo::journal
