#include "transport/curl_library.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>

namespace phaedo::transport {
namespace {

constexpr const char* kSoname = "libcurl.so.4";

CurlLibrary g_library{};

template <typename F>
bool bind(void* handle, const char* name, F& slot, std::string& missing) {
  slot = reinterpret_cast<F>(::dlsym(handle, name));
  if (slot == nullptr && missing.empty()) missing = name;
  return slot != nullptr;
}

std::optional<Error> load() {
  // Never closed: the library stays for the life of the process, as if linked.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(ErrorKind::internal, std::string("cannot load ") + kSoname + " (install libcurl4): " +
                                               (why != nullptr ? why : "dlopen failed"));
  }
  std::string missing;
  CurlLibrary& l = g_library;
  bind(handle, "curl_easy_init", l.easy_init, missing);
  bind(handle, "curl_easy_cleanup", l.easy_cleanup, missing);
  bind(handle, "curl_easy_setopt", l.easy_setopt, missing);
  bind(handle, "curl_easy_getinfo", l.easy_getinfo, missing);
  bind(handle, "curl_easy_perform", l.easy_perform, missing);
  bind(handle, "curl_easy_strerror", l.easy_strerror, missing);
  bind(handle, "curl_share_init", l.share_init, missing);
  bind(handle, "curl_share_setopt", l.share_setopt, missing);
  bind(handle, "curl_share_cleanup", l.share_cleanup, missing);
  bind(handle, "curl_slist_append", l.slist_append, missing);
  bind(handle, "curl_slist_free_all", l.slist_free_all, missing);
  decltype(&::curl_global_init) global_init = nullptr;
  bind(handle, "curl_global_init", global_init, missing);
  if (!missing.empty()) return make_error(ErrorKind::internal, std::string(kSoname) + " has no symbol " + missing);
  // curl_global_init is not thread-safe; this runs once, under call_once.
  if (CURLcode c = global_init(CURL_GLOBAL_DEFAULT); c != CURLE_OK) {
    return make_error(ErrorKind::internal, std::string("curl_global_init: ") + l.easy_strerror(c));
  }
  return std::nullopt;
}

}  // namespace

Result<const CurlLibrary*> load_curl() {
  static std::once_flag once;
  static std::optional<Error> failure;
  std::call_once(once, [] { failure = load(); });
  if (failure) return *failure;
  return &g_library;
}

const CurlLibrary& curl() { return g_library; }

}  // namespace phaedo::transport
