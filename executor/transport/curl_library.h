// libcurl, bound at first use instead of at program start. Private to transport/.
//
// Linked the usual way, libcurl and the thirty-odd libraries it needs (TLS,
// Kerberos, LDAP, IDN, HTTP/2, …) are mapped and relocated in every stage program
// before main runs: measured on the CI machine, 7 ms of CPU, about 450 page faults
// and 6.4 MB of resident memory per process, even in host-sandbox stages that never
// make a request. So no program links libcurl: the first CurlHttpClient::create()
// dlopens libcurl.so.4 (the ABI of Debian's libcurl4 packages, whose headers we
// compile against), runs curl_global_init once, and every call goes through the
// table below.
#pragma once

#include <curl/curl.h>

#include "core/result.h"

namespace phaedo::transport {

struct CurlLibrary {
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_share_init) share_init;
  decltype(&::curl_share_setopt) share_setopt;
  decltype(&::curl_share_cleanup) share_cleanup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// Loads the library once per process (thread-safe) and initialises it. internal
// error naming libcurl.so.4 and the loader's message when it cannot be loaded, a
// symbol is missing or curl_global_init fails; the same error on every later call.
Result<const CurlLibrary*> load_curl();

// The loaded library. Only after load_curl() succeeded: every handle owner exists
// because it did.
const CurlLibrary& curl();

}  // namespace phaedo::transport
