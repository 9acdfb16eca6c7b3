// Splits Docker's multiplexed attach/exec stream (Tty off) into stdout and stderr.
//
// Each frame is an 8-byte header — stream (0 stdin, 1 stdout, 2 stderr), three
// zero bytes, payload size as uint32 big-endian — then the payload. The transport
// hands over bytes in arbitrary pieces, so headers and payloads may be split
// across feed() calls; payload bytes are passed on as soon as they arrive, not
// when a frame is complete. Stream 0 (stdin echo) is delivered as stdout, as the
// Docker CLI does.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/result.h"
#include "docker/types.h"

namespace phaedo::docker {

class StreamDemuxer {
 public:
  explicit StreamDemuxer(OutputSinks sinks) : sinks_(std::move(sinks)) {}

  // Consumes bytes. Errors: peer for an unknown stream type; whatever a sink returns.
  Status feed(std::string_view bytes);
  // Call at the end of the stream: peer error when it ended inside a frame.
  [[nodiscard]] Status finish() const;

 private:
  OutputSinks sinks_;
  std::array<unsigned char, 8> header_{};
  std::size_t header_len_ = 0;
  std::uint32_t remaining_ = 0;  // payload bytes still due in the current frame
  unsigned char stream_ = 0;
};

}  // namespace phaedo::docker
