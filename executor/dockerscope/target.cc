#include "dockerscope/target.h"

#include <algorithm>
#include <cctype>

namespace phaedo::dockerscope {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0)
        return make_error(ErrorKind::invalid_input, "query: malformed percent escape");
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

bool is_version(std::string_view s) {
  return s.size() > 1 && s[0] == 'v' &&
         std::all_of(s.begin() + 1, s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

}  // namespace

Result<Target> Target::parse(std::string_view target) {
  Target t;
  std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path.find('%') != std::string_view::npos || path.find('#') != std::string_view::npos)
    return make_error(ErrorKind::invalid_input, "path: escapes are not accepted: " + std::string(path));
  if (path.empty() || path.front() != '/') return make_error(ErrorKind::invalid_input, "path: must start with '/'");
  std::string_view rest = path.substr(1);
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty() && slash == std::string_view::npos && !t.segments.empty()) {
      return make_error(ErrorKind::invalid_input, "path: trailing '/' is not accepted");
    }
    if (seg.empty() || seg == "." || seg == "..")
      return make_error(ErrorKind::invalid_input, "path: not canonical: " + std::string(path));
    t.segments.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (!t.segments.empty() && is_version(t.segments.front())) {
    t.version = t.segments.front();
    t.segments.erase(t.segments.begin());
  }
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      std::size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      if (!pair.empty()) {
        std::size_t eq = pair.find('=');
        Result<std::string> k = decode_component(pair.substr(0, eq));
        if (!k) return k.error();
        Result<std::string> v = decode_component(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!v) return v.error();
        t.query.emplace_back(std::move(k).value(), std::move(v).value());
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return t;
}

std::string Target::str() const {
  std::string out = version.empty() ? "" : "/" + version;
  for (const std::string& s : segments) out += "/" + s;
  if (out.empty()) out = "/";
  return out + transport::encode_query(query);
}

const std::string& Target::seg(std::size_t i) const {
  static const std::string kEmpty;
  return i < segments.size() ? segments[i] : kEmpty;
}

std::string Target::join(std::size_t from, std::size_t drop_last) const {
  std::string out;
  for (std::size_t i = from; i + drop_last < segments.size(); ++i) out += (out.empty() ? "" : "/") + segments[i];
  return out;
}

Result<std::optional<std::string>> Target::param(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [k, v] : query) {
    if (k != name) continue;
    if (found) return make_error(ErrorKind::invalid_input, "query: " + std::string(name) + " given twice");
    found = v;
  }
  return found;
}

std::vector<std::string> Target::params(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

void Target::set_param(std::string_view name, std::string value) {
  remove_param(name);
  query.emplace_back(std::string(name), std::move(value));
}

void Target::remove_param(std::string_view name) {
  std::erase_if(query, [&](const auto& kv) { return kv.first == name; });
}

bool query_true(const std::optional<std::string>& value) {
  if (!value) return false;
  std::string v = *value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return !(v.empty() || v == "0" || v == "no" || v == "false" || v == "none");
}

}  // namespace phaedo::dockerscope
