#include "dockerscope/json_body.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace phaedo::dockerscope::json_body {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Error invalid(std::string message) { return make_error(ErrorKind::invalid_input, "body: " + std::move(message)); }

std::string dotted(std::string_view where, std::string_view name) {
  return where.empty() ? std::string(name) : std::string(where) + "." + std::string(name);
}

}  // namespace

Result<json> parse(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  std::vector<std::set<std::string>> keys;  // per open object: lower-cased keys seen
  std::string problem;
  auto check = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        bool ascii = std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
        if (!ascii && problem.empty()) problem = "a key is not printable ASCII";
        if (!keys.empty() && !keys.back().insert(lower(key)).second && problem.empty())
          problem = "key \"" + key + "\" appears twice (names are matched regardless of case)";
        break;
      }
      default:
        break;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(body.begin(), body.end(), check);
  } catch (const json::exception& e) {
    return invalid(std::string("not JSON: ") + e.what());
  }
  if (!problem.empty()) return invalid(problem);
  return doc;
}

Result<json> parse_object(std::string_view body) {
  Result<json> doc = parse(body);
  if (doc && !doc->is_object()) return invalid("not a JSON object");
  return doc;
}

Result<json*> member(json& obj, std::string_view name, std::string_view where) {
  if (!obj.is_object()) return invalid(std::string(where.empty() ? "the body" : where) + " is not an object");
  std::string want = lower(name);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (lower(it.key()) != want) continue;
    if (it.key() != name)
      return invalid(dotted(where, it.key()) + " must be spelled " + std::string(name));
    if (it->is_null()) return static_cast<json*>(nullptr);
    return &*it;
  }
  return static_cast<json*>(nullptr);
}

Result<std::optional<bool>> get_bool(json& obj, std::string_view name, std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  if (*m == nullptr) return std::optional<bool>();
  if (!(*m)->is_boolean()) return invalid(dotted(where, name) + " must be a boolean");
  return std::optional<bool>((*m)->get<bool>());
}

Result<std::optional<std::string>> get_string(json& obj, std::string_view name, std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  if (*m == nullptr) return std::optional<std::string>();
  if (!(*m)->is_string()) return invalid(dotted(where, name) + " must be a string");
  return std::optional<std::string>((*m)->get<std::string>());
}

Result<std::optional<std::int64_t>> get_int(json& obj, std::string_view name, std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  if (*m == nullptr) return std::optional<std::int64_t>();
  if (!(*m)->is_number_integer()) return invalid(dotted(where, name) + " must be an integer");
  return std::optional<std::int64_t>((*m)->get<std::int64_t>());
}

Result<std::vector<std::string>> get_strings(json& obj, std::string_view name, std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  std::vector<std::string> out;
  if (*m == nullptr) return out;
  if (!(*m)->is_array()) return invalid(dotted(where, name) + " must be a list of strings");
  for (const json& item : **m) {
    if (!item.is_string()) return invalid(dotted(where, name) + " must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> get_string_map(json& obj, std::string_view name,
                                                          std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  std::map<std::string, std::string> out;
  if (*m == nullptr) return out;
  if (!(*m)->is_object()) return invalid(dotted(where, name) + " must be a map of strings");
  for (auto it = (*m)->begin(); it != (*m)->end(); ++it) {
    if (!it->is_string()) return invalid(dotted(where, name) + " must be a map of strings");
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

Result<json*> object_member(json& obj, std::string_view name, std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  if (*m == nullptr) {
    obj[std::string(name)] = json::object();
    return &obj[std::string(name)];
  }
  if (!(*m)->is_object()) return invalid(dotted(where, name) + " must be an object");
  return *m;
}

Result<bool> is_set(json& obj, std::string_view name, std::string_view where) {
  Result<json*> m = member(obj, name, where);
  if (!m) return m.error();
  const json* v = *m;
  if (v == nullptr) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number()) return v->get<double>() != 0;
  if (v->is_string()) return !v->get<std::string>().empty();
  if (v->is_array() || v->is_object()) return !v->empty();
  return true;
}

}  // namespace phaedo::dockerscope::json_body
