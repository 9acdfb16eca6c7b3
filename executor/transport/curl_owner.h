// Move-only owners of libcurl handles. Private to transport/: include only from
// .cc files here, so that no other layer sees curl.
#pragma once

#include <curl/curl.h>

#include "transport/curl_library.h"

#include <utility>

namespace phaedo::transport {

// Owns one handle and frees it with `Free`; empty after a move.
template <typename T, void (*Free)(T*)>
class CurlOwner {
 public:
  CurlOwner() = default;
  explicit CurlOwner(T* handle) : handle_(handle) {}
  CurlOwner(const CurlOwner&) = delete;
  CurlOwner& operator=(const CurlOwner&) = delete;
  CurlOwner(CurlOwner&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CurlOwner& operator=(CurlOwner&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~CurlOwner() { reset(); }

  [[nodiscard]] T* get() const { return handle_; }
  [[nodiscard]] explicit operator bool() const { return handle_ != nullptr; }
  void reset(T* handle = nullptr) {
    if (handle_ != nullptr) Free(handle_);
    handle_ = handle;
  }

 private:
  T* handle_ = nullptr;
};

inline void free_easy(CURL* h) {
  curl().easy_cleanup(h);
}
inline void free_share(CURLSH* h) {
  curl().share_cleanup(h);
}

using EasyHandle = CurlOwner<CURL, free_easy>;
using ShareHandle = CurlOwner<CURLSH, free_share>;

// A header list grows by append(); curl_slist_append may return a new head.
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  HeaderList(HeaderList&& other) noexcept : head_(std::exchange(other.head_, nullptr)) {}
  HeaderList& operator=(HeaderList&& other) noexcept {
    if (this != &other) {
      if (head_ != nullptr) curl().slist_free_all(head_);
      head_ = std::exchange(other.head_, nullptr);
    }
    return *this;
  }
  ~HeaderList() {
    if (head_ != nullptr) curl().slist_free_all(head_);
  }

  // False when curl could not allocate; the list is unchanged then.
  [[nodiscard]] bool append(const char* line) {
    curl_slist* next = curl().slist_append(head_, line);
    if (next == nullptr) return false;
    head_ = next;
    return true;
  }
  [[nodiscard]] curl_slist* get() const { return head_; }

 private:
  curl_slist* head_ = nullptr;
};

}  // namespace phaedo::transport
