#include "docker/demux.h"

#include <algorithm>
#include <string>

namespace phaedo::docker {

Status StreamDemuxer::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (remaining_ == 0) {
      std::size_t take = std::min(header_.size() - header_len_, bytes.size());
      std::copy_n(bytes.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(header_len_));
      header_len_ += take;
      bytes.remove_prefix(take);
      if (header_len_ < header_.size()) return {};
      header_len_ = 0;
      stream_ = header_[0];
      if (stream_ > 2) {
        return make_error(ErrorKind::peer,
                          "exec stream: unknown stream type " + std::to_string(stream_) + " in frame header");
      }
      remaining_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                   (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      continue;
    }
    std::size_t take = std::min<std::size_t>(remaining_, bytes.size());
    const OutputSink& sink = stream_ == 2 ? sinks_.err : sinks_.out;
    if (sink) {
      if (Status s = sink(bytes.substr(0, take)); !s) return s;
    }
    remaining_ -= static_cast<std::uint32_t>(take);
    bytes.remove_prefix(take);
  }
  return {};
}

Status StreamDemuxer::finish() const {
  if (header_len_ != 0 || remaining_ != 0) {
    return make_error(ErrorKind::peer, "exec stream: ended inside a frame (" + std::to_string(header_len_) +
                                           " header bytes, " + std::to_string(remaining_) +
                                           " payload bytes missing)");
  }
  return {};
}

}  // namespace phaedo::docker
