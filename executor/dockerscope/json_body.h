// Strict reading of JSON request bodies for the policy (see policy.h for why).
// Internal to dockerscope/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace phaedo::dockerscope::json_body {

using nlohmann::json;

// A JSON document; invalid_input when malformed, when an object has two keys equal
// but for case, or when a key is not printable ASCII. An empty body is {}.
Result<json> parse(std::string_view body);
// parse(), and invalid_input unless the document is an object.
Result<json> parse_object(std::string_view body);

// Member `name` of object `obj`, nullptr when absent or null. invalid_input when a
// member matches `name` only case-insensitively (Go would read it as `name`).
// `where` names the object in messages ("HostConfig").
Result<json*> member(json& obj, std::string_view name, std::string_view where);

// Typed views; invalid_input naming `where.name` when the type is wrong.
Result<std::optional<bool>> get_bool(json& obj, std::string_view name, std::string_view where);
Result<std::optional<std::string>> get_string(json& obj, std::string_view name, std::string_view where);
Result<std::optional<std::int64_t>> get_int(json& obj, std::string_view name, std::string_view where);
Result<std::vector<std::string>> get_strings(json& obj, std::string_view name, std::string_view where);
// A map of strings (Labels, DriverOpts, Sysctls).
Result<std::map<std::string, std::string>> get_string_map(json& obj, std::string_view name,
                                                          std::string_view where);
// The member as an object, created empty when absent.
Result<json*> object_member(json& obj, std::string_view name, std::string_view where);
// True when the member is present and not null, false, 0, "" or empty.
Result<bool> is_set(json& obj, std::string_view name, std::string_view where);

}  // namespace phaedo::dockerscope::json_body
