// Helpers shared by the client's .cc files. Private to docker/.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "docker/client.h"
#include "transport/http.h"

namespace phaedo::docker {

enum class Slashes { refuse, allow };  // image references contain '/', ids and names do not

// invalid_input unless `value` is non-empty and free of characters that would change
// the URL ('?', '#', '%', whitespace, control bytes) and of ".." segments.
Status check_segment(std::string_view what, std::string_view value, Slashes slashes = Slashes::refuse);

// "docker: POST /v1.41/containers/create" — the start of every error message.
std::string describe(const transport::HttpRequest& request);

// Adds the request to a decoding error of its answer.
Error answer_error(const transport::HttpRequest& request, const Error& error);

template <typename T, typename Decode>
Result<T> Client::send_decoded(const transport::HttpRequest& request, Decode decode) {
  Result<transport::HttpResponse> response = send(request);
  if (!response) return response.error();
  Result<T> value = decode(response->body);
  if (!value) return answer_error(request, value.error());
  return value;
}

}  // namespace phaedo::docker
