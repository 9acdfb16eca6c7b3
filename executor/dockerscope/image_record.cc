#include "dockerscope/image_record.h"

#include <nlohmann/json.hpp>

#include "journal/atomic_file.h"

namespace phaedo::dockerscope {

using nlohmann::json;

std::string normalize_ref(std::string_view ref) {
  std::string r(ref);
  for (const char* prefix : {"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"}) {
    if (r.rfind(prefix, 0) == 0) {
      r = r.substr(std::string_view(prefix).size());
      break;
    }
  }
  std::size_t slash = r.rfind('/');
  std::string_view last = std::string_view(r).substr(slash == std::string::npos ? 0 : slash + 1);
  if (last.find(':') == std::string_view::npos && last.find('@') == std::string_view::npos) r += ":latest";
  return r;
}

Result<std::unique_ptr<ImageRecord>> ImageRecord::open(std::string path) {
  std::unique_ptr<ImageRecord> record(new ImageRecord(std::move(path)));
  if (record->path_.empty()) return record;
  Result<std::string> text = journal::read_file(record->path_);
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) return record;
    return text.error();
  }
  try {
    json doc = json::parse(*text);
    for (const json& id : doc.at("images")) record->ids_.insert(id.get<std::string>());
    for (const json& ref : doc.at("tags")) record->refs_.insert(ref.get<std::string>());
  } catch (const json::exception& e) {
    return make_error(ErrorKind::invalid_input, record->path_ + ": not an image record: " + e.what());
  }
  return record;
}

bool ImageRecord::owns_id(const std::string& id) const {
  std::lock_guard lock(mutex_);
  return ids_.count(id) > 0;
}

bool ImageRecord::owns_ref(const std::string& ref) const {
  std::lock_guard lock(mutex_);
  return refs_.count(normalize_ref(ref)) > 0;
}

Status ImageRecord::add(const std::vector<std::string>& ids, const std::vector<std::string>& refs) {
  std::lock_guard lock(mutex_);
  for (const std::string& id : ids) ids_.insert(id);
  for (const std::string& ref : refs) refs_.insert(normalize_ref(ref));
  return save();
}

Status ImageRecord::forget(const std::vector<std::string>& ids, const std::vector<std::string>& refs) {
  std::lock_guard lock(mutex_);
  for (const std::string& id : ids) ids_.erase(id);
  for (const std::string& ref : refs) refs_.erase(normalize_ref(ref));
  return save();
}

std::vector<std::string> ImageRecord::ids() const {
  std::lock_guard lock(mutex_);
  return {ids_.begin(), ids_.end()};
}

std::vector<std::string> ImageRecord::refs() const {
  std::lock_guard lock(mutex_);
  return {refs_.begin(), refs_.end()};
}

Status ImageRecord::save() {
  if (path_.empty()) return {};
  json doc = {{"images", ids_}, {"tags", refs_}};
  return journal::write_file_atomically(path_, doc.dump(2) + "\n");
}

}  // namespace phaedo::dockerscope
