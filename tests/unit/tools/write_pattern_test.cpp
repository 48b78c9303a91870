// rtmp-load's write patterns (tools/bench/rtmp-load/write_pattern.hpp): each
// message goes out in the syscalls of the client the pattern stands for (as
// strace showed them: docs/BENCHMARKS.md), and what every pattern writes is a
// chunk stream the server's own reader turns back into the messages sent.
#include "write_pattern.hpp"

#include "souk/ingest/chunk_stream.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace {

using namespace rtmp_load;
using souk::ingest::ChunkReader;
using souk::ingest::ChunkWriter;
using souk::ingest::RtmpMessage;

constexpr std::uint8_t audio = 8;
constexpr std::uint8_t video = 9;

std::vector<std::uint8_t> body_of(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

// The bytes of each syscall the pattern makes for one message.
std::vector<std::vector<std::uint8_t>> writes_of(Pattern p, ChunkHeaders& headers, const MessageInfo& info,
                                                 const std::vector<std::uint8_t>& body) {
  std::array<std::uint8_t, ChunkHeaders::max_size> head{};
  std::uint8_t csid = 0;
  WireMessage m;
  m.head = head.data();
  m.head_size = headers.encode(p, info, head.data(), csid);
  const auto marker = static_cast<std::uint8_t>(0xc0 | csid);
  m.marker = &marker;
  m.body = reinterpret_cast<const char*>(body.data());
  m.body_size = body.size();
  m.chunk_size = default_chunk_size(p);
  std::vector<std::vector<std::uint8_t>> writes;
  for (std::size_t at = 0; at < m.size();) {
    const std::size_t end = write_end(p, m, at);
    REQUIRE(end > at);
    std::array<iovec, 64> iov{};
    const std::size_t n = gather(m, at, end, iov.data(), iov.size());
    std::vector<std::uint8_t> bytes;
    for (std::size_t i = 0; i < n; ++i) {
      const auto* b = static_cast<const std::uint8_t*>(iov[i].iov_base);
      bytes.insert(bytes.end(), b, b + iov[i].iov_len);
    }
    REQUIRE(bytes.size() == end - at);
    writes.push_back(std::move(bytes));
    at = end;
  }
  return writes;
}

std::vector<std::size_t> sizes(const std::vector<std::vector<std::uint8_t>>& writes) {
  std::vector<std::size_t> out;
  for (const auto& w : writes) out.push_back(w.size());
  return out;
}

}  // namespace

TEST_CASE("rtmp-load ffmpeg pattern: the chunk header alone, then each body, a 1-byte header between") {
  ChunkHeaders headers;
  // The first video message at timestamp 0 has a full header (12 bytes) ...
  CHECK(sizes(writes_of(Pattern::ffmpeg, headers, {video, 100000, 0, 1}, body_of(100000, 1))) ==
        std::vector<std::size_t>{12, 60000, 1, 40000});
  // ... later ones a format 1 (8 bytes), then 2 (4) when the length repeats.
  CHECK(sizes(writes_of(Pattern::ffmpeg, headers, {video, 9000, 33, 1}, body_of(9000, 2))) ==
        std::vector<std::size_t>{8, 9000});
  CHECK(sizes(writes_of(Pattern::ffmpeg, headers, {video, 9000, 67, 1}, body_of(9000, 3))) ==
        std::vector<std::size_t>{4, 9000});
}

TEST_CASE("rtmp-load librtmp pattern: one write per chunk, each with its header") {
  ChunkHeaders headers;
  CHECK(sizes(writes_of(Pattern::librtmp, headers, {video, 10000, 0, 1}, body_of(10000, 1))) ==
        std::vector<std::size_t>{12 + 4096, 1 + 4096, 1 + 1808});
  // Audio shares chunk stream 4 with video: a format 1 header (a new length and type).
  CHECK(sizes(writes_of(Pattern::librtmp, headers, {audio, 380, 21, 1}, body_of(380, 2))) ==
        std::vector<std::size_t>{8 + 380});
  // A step back in time on the shared stream: a full header, not a negative delta.
  CHECK(sizes(writes_of(Pattern::librtmp, headers, {video, 5000, 10, 1}, body_of(5000, 3))) ==
        std::vector<std::size_t>{12 + 4096, 1 + 904});
}

TEST_CASE("rtmp-load tag pattern: a whole message in one write") {
  ChunkHeaders headers;
  CHECK(sizes(writes_of(Pattern::tag, headers, {video, 10000, 0, 1}, body_of(10000, 1))) ==
        std::vector<std::size_t>{12 + 10000 + 2});
}

TEST_CASE("rtmp-load: every pattern writes a chunk stream the server reassembles, read as written") {
  struct Sent {
    MessageInfo info;
    std::vector<std::uint8_t> body;
  };
  std::vector<Sent> sent;
  std::uint8_t seed = 0;
  // In DTS order, as an FLV file and a publisher send them: a keyframe past one
  // 60000-byte chunk, P-frames of repeating and changing sizes, audio frames of
  // one size with a steady step (formats 2 and 3), interleaved by time.
  for (std::uint32_t ms = 0; ms < 400; ++ms) {
    if (ms % 33 == 0) {
      const std::uint32_t i = ms / 33;
      const std::size_t size = i == 0 ? 130000 : (i % 3 == 0 ? 7000 : 5000 + 100 * i);
      sent.push_back({{video, static_cast<std::uint32_t>(size), ms, 1}, body_of(size, ++seed)});
    }
    if (ms % 21 == 0) sent.push_back({{audio, 371, ms, 1}, body_of(371, ++seed)});
  }
  for (const Pattern p : {Pattern::ffmpeg, Pattern::librtmp, Pattern::tag}) {
    CAPTURE(pattern_name(p));
    ChunkReader reader;
    std::vector<RtmpMessage> got;
    const auto feed = [&](const std::vector<std::uint8_t>& bytes) {
      REQUIRE(reader.feed(bytes, [&](RtmpMessage&& m) {
        if (m.type == audio || m.type == video) got.push_back(std::move(m));
      }) == souk::ingest::ChunkError::none);
    };
    // Set Chunk Size first, as each client sends it.
    std::vector<std::uint8_t> set_size;
    const std::uint32_t size = default_chunk_size(p);
    ChunkWriter().write(2, souk::ingest::msg_set_chunk_size, 0, 0,
                        std::vector<std::uint8_t>{static_cast<std::uint8_t>(size >> 24),
                                                  static_cast<std::uint8_t>(size >> 16),
                                                  static_cast<std::uint8_t>(size >> 8),
                                                  static_cast<std::uint8_t>(size)},
                        set_size);
    feed(set_size);
    ChunkHeaders headers;
    for (const auto& s : sent) {
      for (const auto& w : writes_of(p, headers, s.info, s.body)) feed(w);  // one read per write
    }
    REQUIRE(got.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].type == sent[i].info.type);
      CHECK(got[i].timestamp == sent[i].info.timestamp);
      CHECK(got[i].stream_id == sent[i].info.stream_id);
      CHECK(*got[i].payload == sent[i].body);
    }
  }
}
