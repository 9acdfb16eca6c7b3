#include "docker/tar.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

namespace phaedo::docker {
namespace {

constexpr std::size_t kBlock = 512;
using Header = std::array<char, kBlock>;

// Writes `value` as zero-padded octal with a NUL terminator into `width` bytes.
bool put_octal(Header& h, std::size_t offset, std::size_t width, std::uint64_t value) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1),
                        static_cast<unsigned long long>(value));
  if (n < 0 || static_cast<std::size_t>(n) != width - 1) return false;  // too large for the field
  std::memcpy(h.data() + offset, buf, width);                           // includes the NUL
  return true;
}

void put_text(Header& h, std::size_t offset, std::string_view text) {
  std::memcpy(h.data() + offset, text.data(), text.size());
}

// Splits `path` into (prefix, name) so that name ≤ 100 and prefix ≤ 155 bytes.
std::optional<std::pair<std::string, std::string>> split_path(const std::string& path) {
  if (path.size() <= 100) return std::pair<std::string, std::string>{"", path};
  for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    if (slash <= 155 && path.size() - slash - 1 <= 100 && slash + 1 < path.size()) {
      return std::pair<std::string, std::string>{path.substr(0, slash), path.substr(slash + 1)};
    }
  }
  return std::nullopt;
}

}  // namespace

Status TarWriter::add(const TarEntry& entry) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorKind::invalid_input, "tar: " + entry.path + ": " + why);
  };
  if (entry.path.empty() || entry.path.front() == '/') return bad("path must be relative and non-empty");
  if (entry.mode > 07777) return bad("mode out of range");
  std::string path = entry.path;
  if (entry.type == EntryType::directory && path.back() != '/') path += '/';
  auto split = split_path(path);
  if (!split) return bad("path too long for ustar");
  if (entry.type == EntryType::symlink && entry.content.size() > 100) return bad("symlink target too long");

  const std::uint64_t size = entry.type == EntryType::file ? entry.content.size() : 0;
  Header h{};
  put_text(h, 0, split->second);
  bool ok = put_octal(h, 100, 8, entry.mode) && put_octal(h, 108, 8, entry.uid) &&
            put_octal(h, 116, 8, entry.gid) && put_octal(h, 124, 12, size) &&
            put_octal(h, 136, 12, static_cast<std::uint64_t>(entry.mtime < 0 ? 0 : entry.mtime));
  if (!ok) return bad("size, owner or mtime too large for ustar");
  h[156] = entry.type == EntryType::file ? '0' : entry.type == EntryType::directory ? '5' : '2';
  if (entry.type == EntryType::symlink) put_text(h, 157, entry.content);
  put_text(h, 257,
           std::string_view("ustar\0"
                            "00",
                            8));
  put_text(h, 345, split->first);

  // The checksum is computed with its own field read as eight spaces.
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  put_octal(h, 148, 7, sum);  // six digits and a NUL; the eighth byte stays a space

  data_.append(h.data(), h.size());
  if (size > 0) {
    data_ += entry.content;
    data_.append((kBlock - size % kBlock) % kBlock, '\0');
  }
  return {};
}

std::string TarWriter::finish() && {
  data_.append(2 * kBlock, '\0');
  return std::move(data_);
}

Result<std::string> tar_one_file(const std::string& path, std::string content, std::uint32_t mode) {
  TarWriter writer;
  TarEntry entry;
  entry.path = path;
  entry.content = std::move(content);
  entry.mode = mode;
  entry.mtime = static_cast<std::int64_t>(std::time(nullptr));
  if (Status s = writer.add(entry); !s) return s.error();
  return std::move(writer).finish();
}

}  // namespace phaedo::docker
