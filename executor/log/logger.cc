#include "log/logger.h"

#include "core/clock.h"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

namespace phaedo::log {
namespace {

const char* level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

void write_stderr(const std::string& line) {
  std::string text = line + "\n";
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

Logger::Logger(std::string stage, const std::string& admin_path) : stage_(std::move(stage)) {
  if (admin_path.empty()) return;
  try {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(admin_path).parent_path(), ec);
    // A private logger object (not registered globally): each stage process owns one.
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(admin_path, /*truncate=*/false);
    admin_ = std::make_shared<spdlog::logger>("admin", std::move(sink));
    admin_->set_pattern("%v");
    admin_->flush_on(spdlog::level::trace);
    std::filesystem::permissions(admin_path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 ec);
  } catch (const std::exception& e) {
    admin_.reset();
    write_stderr(std::string("phaedo: warning: admin log ") + admin_path + " unavailable: " + e.what());
  }
}

Logger::~Logger() = default;

void Logger::job(Level level, const std::string& message) {
  std::string text = redactor_.redact(message);
  std::string prefix = level == Level::warn ? "phaedo: warning: " : level == Level::error ? "phaedo: error: " : "phaedo: ";
  write_stderr(prefix + text);
  admin(level, message);
}

void Logger::admin(Level level, const std::string& message, const std::map<std::string, std::string>& extra) {
  if (!admin_) return;
  nlohmann::json record;
  record["time"] = utc_now_string();
  record["level"] = level_name(level);
  record["stage"] = stage_;
  record["pid"] = static_cast<long>(::getpid());
  for (const auto& [k, v] : fields_) record[k] = redactor_.redact(v);
  for (const auto& [k, v] : extra) record[k] = redactor_.redact(v);
  record["msg"] = redactor_.redact(message);
  admin_->info(record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace phaedo::log
