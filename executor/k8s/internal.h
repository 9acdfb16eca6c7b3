// Helpers shared by the client's .cc files. Private to k8s/.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "k8s/client.h"
#include "transport/http.h"

namespace phaedo::k8s {

// invalid_input unless `value` is a plausible object name for a URL path segment:
// non-empty, no '/', '?', '#', '%', whitespace or control bytes, not "." or "..".
Status check_name(std::string_view what, std::string_view value);

// "k8s: POST /api/v1/namespaces" — the start of every error message.
std::string describe(const transport::HttpRequest& request);

// Adds the request to a decoding error of its answer.
Error answer_error(const transport::HttpRequest& request, const Error& error);

// Query fields for a selector.
transport::Fields selector_query(const Selector& selector);

template <typename T, typename Decode>
Result<T> Client::send_decoded(const transport::HttpRequest& request, Decode decode) {
  Result<transport::HttpResponse> response = send(request);
  if (!response) return response.error();
  Result<T> value = decode(response->body);
  if (!value) return answer_error(request, value.error());
  return value;
}

}  // namespace phaedo::k8s
