// Errors as values. Result<T> holds either a T or an Error{kind, message}.
//
// Library code returns Result instead of throwing; exceptions from third-party
// libraries (nlohmann_json, std::filesystem, toml++) are caught where the data is
// handled and turned into an Error. Each main has one last-resort catch.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace phaedo {

// What went wrong, coarse enough for callers to branch on.
enum class ErrorKind {
  invalid_input,   // a malformed profile, environment value, job payload or argument
  not_found,       // a file, job or object that should exist does not
  io,              // a filesystem or syscall failure
  peer,            // a daemon, API server or child process answered badly
  cancelled,       // stopped by a signal or a deadline
  rejected,        // the job asked for something the profile forbids: the job author's error
  internal,        // a bug: an invariant did not hold
};

const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // one line, names the field or value at fault

  // Prefixes context ("profile: ") to the message, keeping the kind.
  [[nodiscard]] Error context(const std::string& prefix) const { return {kind, prefix + message}; }
};

[[nodiscard]] inline Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}     // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that yields nothing but success.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(failed_); return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace phaedo
