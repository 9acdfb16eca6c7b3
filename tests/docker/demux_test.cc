// The multiplexed-stream demuxer, fed in every possible split. No daemon needed.
#include "docker/demux.h"

#include <gtest/gtest.h>

#include <string>

namespace phaedo::docker {
namespace {

std::string frame(unsigned char stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  auto n = static_cast<std::uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + payload;
}

struct Collected {
  std::string out;
  std::string err;
  int out_calls = 0;
  OutputSinks sinks() {
    return {[this](std::string_view b) {
              out += b;
              ++out_calls;
              return Status{};
            },
            [this](std::string_view b) {
              err += b;
              return Status{};
            }};
  }
};

const std::string kBig(70'000, 'x');  // a payload whose size uses three length bytes
const std::string kStream = frame(1, "out1\n") + frame(2, "err1\n") + frame(1, "") +
                            frame(0, "stdin-echo\n") + frame(2, kBig) + frame(1, "out2\n");

TEST(StreamDemuxer, FedOneByteAtATime) {
  Collected c;
  StreamDemuxer d(c.sinks());
  for (char b : kStream) ASSERT_TRUE(d.feed(std::string_view(&b, 1)).ok());
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(c.out, "out1\nstdin-echo\nout2\n");
  EXPECT_EQ(c.err, "err1\n" + kBig);
}

TEST(StreamDemuxer, EverySplitPointGivesTheSameStreams) {
  for (std::size_t cut = 0; cut <= kStream.size(); cut += 7) {
    Collected c;
    StreamDemuxer d(c.sinks());
    ASSERT_TRUE(d.feed(std::string_view(kStream).substr(0, cut)).ok());
    ASSERT_TRUE(d.feed(std::string_view(kStream).substr(cut)).ok());
    ASSERT_TRUE(d.finish().ok());
    ASSERT_EQ(c.out, "out1\nstdin-echo\nout2\n") << "cut at " << cut;
    ASSERT_EQ(c.err, "err1\n" + kBig) << "cut at " << cut;
  }
}

TEST(StreamDemuxer, DeliversPartialPayloadsAsTheyArrive) {
  Collected c;
  StreamDemuxer d(c.sinks());
  std::string f = frame(1, "hello world\n");
  ASSERT_TRUE(d.feed(std::string_view(f).substr(0, 8 + 5)).ok());
  EXPECT_EQ(c.out, "hello");  // not held back until the frame is complete
  EXPECT_FALSE(d.finish().ok());
  ASSERT_TRUE(d.feed(std::string_view(f).substr(13)).ok());
  EXPECT_EQ(c.out, "hello world\n");
  EXPECT_TRUE(d.finish().ok());
}

TEST(StreamDemuxer, EndInsideAHeaderIsAPeerError) {
  Collected c;
  StreamDemuxer d(c.sinks());
  ASSERT_TRUE(d.feed(frame(1, "x").substr(0, 3)).ok());
  Status s = d.finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::peer);
}

TEST(StreamDemuxer, UnknownStreamTypeIsAPeerError) {
  Collected c;
  StreamDemuxer d(c.sinks());
  Status s = d.feed(frame(7, "x"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::peer);
  EXPECT_NE(s.error().message.find("stream type 7"), std::string::npos);
}

TEST(StreamDemuxer, SinkErrorStopsTheStream) {
  int calls = 0;
  StreamDemuxer d(OutputSinks{[&](std::string_view) {
                                ++calls;
                                return Status(make_error(ErrorKind::cancelled, "enough"));
                              },
                              nullptr});
  Status s = d.feed(frame(2, "dropped") + frame(1, "a") + frame(1, "b"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace phaedo::docker
