#include "souk/ingest/chunk_stream.hpp"

#include <doctest/doctest.h>

using namespace souk::ingest;

namespace {

std::vector<RtmpMessage> read_all(ChunkReader& r, const std::vector<std::uint8_t>& bytes,
                                  bool byte_by_byte, ChunkError* err = nullptr) {
  std::vector<RtmpMessage> out;
  const auto sink = [&](RtmpMessage&& m) { out.push_back(std::move(m)); };
  ChunkError e = ChunkError::none;
  if (byte_by_byte) {
    for (auto b : bytes) {
      e = r.feed(std::span(&b, 1), sink);
      if (e != ChunkError::none) break;
    }
  } else {
    e = r.feed(bytes, sink);
  }
  if (err) *err = e;
  return out;
}

std::vector<std::uint8_t> payload_of(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i);
  return p;
}

}  // namespace

TEST_CASE("chunks: writer output reassembles, whole and byte by byte") {
  for (bool bytewise : {false, true}) {
    CAPTURE(bytewise);
    ChunkWriter w;
    std::vector<std::uint8_t> wire;
    const auto a = payload_of(300, 1);   // three chunks at 128
    const auto b = payload_of(0, 0);     // empty message
    const auto c = payload_of(128, 9);   // exactly one chunk
    w.write(4, msg_audio, 1000, 1, a, wire);
    w.write(4, msg_audio, 1023, 1, b, wire);
    w.write(70, msg_video, 5, 1, c, wire);      // two-byte basic header
    w.write(400, msg_video, 7, 1, c, wire);     // three-byte basic header
    ChunkReader r;
    const auto msgs = read_all(r, wire, bytewise);
    REQUIRE(msgs.size() == 4);
    CHECK(msgs[0].csid == 4);
    CHECK(msgs[0].timestamp == 1000);
    CHECK(*msgs[0].payload == a);
    CHECK(msgs[1].payload->empty());
    CHECK(msgs[2].csid == 70);
    CHECK(*msgs[2].payload == c);
    CHECK(msgs[3].csid == 400);
    CHECK(msgs[3].stream_id == 1);
  }
}

TEST_CASE("chunks: chunk stream ids either side of 64 are told apart (one-byte 63, two-byte 64), continuations included") {
  // The reader looks ids below 64 up in a table and the rest in a map: a
  // message on each, cut into chunks that interleave, must land on its own.
  ChunkWriter w;
  std::vector<std::uint8_t> first_63, first_64, rest_63, rest_64;
  const auto a = payload_of(200, 3);
  const auto b = payload_of(200, 77);
  w.write(63, msg_audio, 10, 1, a, first_63);
  w.write(64, msg_video, 20, 1, b, first_64);
  // Each writes a 128-byte chunk then a format 3 continuation: send both first chunks, then both rests.
  const auto split = [](const std::vector<std::uint8_t>& wire, std::size_t header) {
    return std::pair(std::vector<std::uint8_t>(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(header + 128)),
                     std::vector<std::uint8_t>(wire.begin() + static_cast<std::ptrdiff_t>(header + 128), wire.end()));
  };
  const auto [head_63, tail_63] = split(first_63, 12);  // 1-byte basic + 11-byte message header
  const auto [head_64, tail_64] = split(first_64, 13);  // 2-byte basic header
  std::vector<std::uint8_t> wire;
  for (const auto* part : {&head_63, &head_64, &tail_63, &tail_64}) wire.insert(wire.end(), part->begin(), part->end());
  ChunkReader r;
  const auto msgs = read_all(r, wire, false);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].csid == 63);
  CHECK(msgs[0].timestamp == 10);
  CHECK(*msgs[0].payload == a);
  CHECK(msgs[1].csid == 64);
  CHECK(msgs[1].timestamp == 20);
  CHECK(*msgs[1].payload == b);
}

TEST_CASE("chunks: reads cut anywhere give the same messages as one read") {
  // As a publisher's stream arrives: audio and video interleaved, chunk size
  // 4096, a keyframe larger than what a message's buffer first reserves.
  ChunkWriter w;
  w.set_chunk_size(4096);
  std::vector<std::uint8_t> wire;
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint8_t i = 0; i < 6; ++i) {
    sent.push_back(payload_of(i == 0 ? 150 * 1024 : 9000 + 777 * i, i));
    w.write(6, msg_video, 33u * i, 1, sent.back(), wire);
    sent.push_back(payload_of(380, static_cast<std::uint8_t>(100 + i)));
    w.write(4, msg_audio, 21u * i, 1, sent.back(), wire);
  }
  ChunkWriter set_size;
  std::vector<std::uint8_t> prefix;
  set_size.write(2, msg_set_chunk_size, 0, 0, std::vector<std::uint8_t>{0, 0, 0x10, 0}, prefix);
  wire.insert(wire.begin(), prefix.begin(), prefix.end());

  for (std::size_t piece : {1u, 7u, 4096u, 4097u, 65536u}) {
    CAPTURE(piece);
    ChunkReader r;
    std::vector<std::vector<std::uint8_t>> got;
    ChunkError err = ChunkError::none;
    for (std::size_t at = 0; at < wire.size() && err == ChunkError::none; at += piece) {
      const auto n = std::min(piece, wire.size() - at);
      err = r.feed(std::span(wire).subspan(at, n), [&](RtmpMessage&& m) {
        if (m.type != msg_set_chunk_size) got.push_back(*m.payload);
      });
    }
    CHECK(err == ChunkError::none);
    CHECK(got == sent);
    CHECK(r.bytes_received() == wire.size());
  }
}

TEST_CASE("chunks: each header and each body in a read of its own, as ffmpeg writes them") {
  // ffmpeg's rtmppkt.c writes a message's header, then each chunk's payload,
  // then the 1-byte header of the next chunk, each in a call of its own; with
  // Nagle the server reads them apart. Extended timestamps make 16-byte headers.
  constexpr std::uint32_t chunk = 4096;
  struct Sent {
    std::uint32_t csid;
    std::uint8_t type;
    std::uint32_t timestamp;
    std::vector<std::uint8_t> payload;
  };
  const std::vector<Sent> sent = {
      {6, msg_video, 0x1000000, payload_of(3 * chunk + 5, 1)},  // extended: 4 more bytes per header
      {4, msg_audio, 0x1000015, payload_of(380, 2)},
      {6, msg_video, 40, payload_of(chunk, 3)},  // exactly one chunk
      {4, msg_audio, 61, payload_of(0, 4)},      // empty: a header and no body
  };
  struct Read {
    bool header;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Read> reads(1, Read{false, {}});
  ChunkWriter size_writer;
  size_writer.write(2, msg_set_chunk_size, 0, 0, std::vector<std::uint8_t>{0, 0, 0x10, 0}, reads.back().bytes);
  for (const auto& m : sent) {
    const std::size_t ext = m.timestamp >= 0xffffff ? 4 : 0;
    std::size_t offset = 0;
    bool first = true;
    do {
      // Header (12 bytes, or 1 for a continuation, plus the extended timestamp), then body.
      std::vector<std::uint8_t> header{static_cast<std::uint8_t>((first ? 0 : 0xc0) | m.csid)};
      if (first) {
        const std::uint32_t ts = ext ? 0xffffff : m.timestamp;
        const auto size = static_cast<std::uint32_t>(m.payload.size());
        header.insert(header.end(), {static_cast<std::uint8_t>(ts >> 16), static_cast<std::uint8_t>(ts >> 8),
                                     static_cast<std::uint8_t>(ts), static_cast<std::uint8_t>(size >> 16),
                                     static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size),
                                     m.type, 1, 0, 0, 0});
      }
      if (ext) {
        for (int i = 3; i >= 0; --i) header.push_back(static_cast<std::uint8_t>(m.timestamp >> (8 * i)));
      }
      reads.push_back({true, header});
      const std::size_t take = std::min<std::size_t>(chunk, m.payload.size() - offset);
      if (take > 0) {
        reads.push_back({false, {m.payload.begin() + static_cast<std::ptrdiff_t>(offset),
                                 m.payload.begin() + static_cast<std::ptrdiff_t>(offset + take)}});
      }
      offset += take;
      first = false;
    } while (offset < m.payload.size());
  }

  // Fed as read, and again with every header itself cut in two.
  for (const bool cut_headers : {false, true}) {
    CAPTURE(cut_headers);
    ChunkReader r;
    std::vector<Sent> got;
    std::size_t total = 0;
    for (const auto& read : reads) {
      total += read.bytes.size();
      const std::size_t half = cut_headers && read.header ? read.bytes.size() / 2 : read.bytes.size();
      const std::span<const std::uint8_t> bytes(read.bytes);
      for (const auto& piece : {bytes.first(half), bytes.subspan(half)}) {
        if (piece.empty()) continue;
        REQUIRE(r.feed(piece, [&](RtmpMessage&& m) {
          if (m.type != msg_set_chunk_size) got.push_back({m.csid, m.type, m.timestamp, *m.payload});
        }) == ChunkError::none);
      }
    }
    REQUIRE(got.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].csid == sent[i].csid);
      CHECK(got[i].type == sent[i].type);
      CHECK(got[i].timestamp == sent[i].timestamp);
      CHECK(got[i].payload == sent[i].payload);
    }
    CHECK(r.bytes_received() == total);
  }
}

TEST_CASE("chunks: formats 1, 2 and 3 inherit and add deltas (RTMP spec 5.3.2.2)") {
  // csid 4: fmt0 ts=1000 len=2 type=8 sid=1; fmt2 delta=20; fmt3 (reuses delta);
  // fmt1 delta=5 len=1 type=9.
  const std::vector<std::uint8_t> wire = {
      0x04, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x02, 0x08, 0x01, 0x00, 0x00, 0x00, 0xaa, 0xbb,  // fmt 0
      0x84, 0x00, 0x00, 0x14, 0xcc, 0xdd,                                                  // fmt 2
      0xc4, 0xee, 0xff,                                                                    // fmt 3
      0x44, 0x00, 0x00, 0x05, 0x00, 0x00, 0x01, 0x09, 0x11,                                // fmt 1
  };
  for (bool bytewise : {false, true}) {
    ChunkReader r;
    const auto m = read_all(r, wire, bytewise);
    REQUIRE(m.size() == 4);
    CHECK(m[0].timestamp == 1000);
    CHECK(m[1].timestamp == 1020);
    CHECK(*m[1].payload == std::vector<std::uint8_t>{0xcc, 0xdd});
    CHECK(m[2].timestamp == 1040);
    CHECK(m[3].timestamp == 1045);
    CHECK(m[3].type == msg_video);
    CHECK(m[3].stream_id == 1);
  }
}

TEST_CASE("chunks: extended timestamps, also on format 3 continuation chunks") {
  ChunkWriter w;
  std::vector<std::uint8_t> wire;
  const auto big = payload_of(200, 3);  // two chunks
  w.write(6, msg_video, 0x01000000, 1, big, wire);
  // fmt0 header has 0xffffff then a 4-byte timestamp; the fmt3 chunk repeats it.
  CHECK(wire[1] == 0xff);
  CHECK(wire[12] == 0x01);
  const std::size_t second = 1 + 11 + 4 + 128;
  CHECK(wire[second] == 0xc6);
  CHECK(wire[second + 1] == 0x01);  // the repeated extended timestamp
  for (bool bytewise : {false, true}) {
    ChunkReader r;
    const auto m = read_all(r, wire, bytewise);
    REQUIRE(m.size() == 1);
    CHECK(m[0].timestamp == 0x01000000);
    CHECK(*m[0].payload == big);
  }
}

TEST_CASE("chunks: Set Chunk Size applies to the chunks after it; interleaving works") {
  ChunkWriter small, large;
  large.set_chunk_size(4096);
  std::vector<std::uint8_t> wire;
  small.write(2, msg_set_chunk_size, 0, 0, std::vector<std::uint8_t>{0, 0, 0x10, 0}, wire);
  const auto a = payload_of(5000, 1);
  const auto b = payload_of(10, 2);
  // Interleave by hand: first chunk of a (4096), all of b, rest of a (fmt 3).
  std::vector<std::uint8_t> msg_a, msg_b;
  large.write(4, msg_video, 0, 1, a, msg_a);
  large.write(5, msg_audio, 0, 1, b, msg_b);
  const std::size_t first_chunk = 1 + 11 + 4096;
  wire.insert(wire.end(), msg_a.begin(), msg_a.begin() + first_chunk);
  wire.insert(wire.end(), msg_b.begin(), msg_b.end());
  wire.insert(wire.end(), msg_a.begin() + first_chunk, msg_a.end());
  ChunkReader r;
  const auto m = read_all(r, wire, false);
  REQUIRE(m.size() == 3);
  CHECK(r.chunk_size() == 4096);
  CHECK(*m[1].payload == b);
  CHECK(*m[2].payload == a);
}

TEST_CASE("chunks: Abort drops the partial message of its chunk stream") {
  ChunkWriter w;
  std::vector<std::uint8_t> partial, rest_of_wire;
  w.write(4, msg_video, 0, 1, payload_of(300, 1), partial);
  partial.resize(1 + 11 + 128);  // only the first chunk
  w.write(2, msg_abort, 0, 0, std::vector<std::uint8_t>{0, 0, 0, 4}, rest_of_wire);
  w.write(4, msg_video, 10, 1, payload_of(5, 1), rest_of_wire);
  partial.insert(partial.end(), rest_of_wire.begin(), rest_of_wire.end());
  ChunkReader r;
  const auto m = read_all(r, partial, false);
  REQUIRE(m.size() == 2);
  CHECK(m[0].type == msg_abort);
  CHECK(m[1].payload->size() == 5);
}

TEST_CASE("chunks: protocol violations are specific errors") {
  ChunkError e;
  {
    ChunkReader r;
    read_all(r, {0x44, 0, 0, 0, 0, 0, 1, 9, 0}, false, &e);  // fmt 1 first
    CHECK(e == ChunkError::missing_header);
  }
  {
    ChunkReader r({1000, 64});
    read_all(r, {0x04, 0, 0, 0, 0x00, 0x10, 0x00, 9, 1, 0, 0, 0}, false, &e);  // 4096 > 1000
    CHECK(e == ChunkError::message_too_large);
  }
  {
    ChunkReader r({16 * 1024 * 1024, 2});
    std::vector<std::uint8_t> wire;
    ChunkWriter w;
    for (std::uint32_t csid = 3; csid < 6; ++csid) w.write(csid, msg_audio, 0, 1, payload_of(1, 0), wire);
    read_all(r, wire, false, &e);
    CHECK(e == ChunkError::too_many_streams);
  }
  {
    ChunkReader r;
    std::vector<std::uint8_t> wire;
    ChunkWriter().write(2, msg_set_chunk_size, 0, 0, std::vector<std::uint8_t>{0, 0, 0, 0}, wire);
    read_all(r, wire, false, &e);
    CHECK(e == ChunkError::bad_chunk_size);
  }
}

namespace {

// A type 0 chunk header (RTMP spec 5.3.1): one-byte basic header (fmt 0, csid <
// 64), timestamp 0, the message length, its type, message stream 1.
std::vector<std::uint8_t> fmt0_header(std::uint8_t csid, std::uint32_t length, std::uint8_t type) {
  return {csid,                                         // fmt 0 | csid
          0x00, 0x00, 0x00,                             // timestamp
          static_cast<std::uint8_t>(length >> 16),      // message length, 24 bits
          static_cast<std::uint8_t>(length >> 8),
          static_cast<std::uint8_t>(length),
          type,                                         // message type id
          0x01, 0x00, 0x00, 0x00};                      // message stream id, little-endian
}

std::vector<std::uint8_t> concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

// Regression (issue 21): a connection that never sent connect announced 16 MiB
// messages on 59 chunk streams and sent all but their last byte: ~1 GB held.
TEST_CASE("chunks: unfinished messages hold at most max_partial_bytes, whole or byte by byte") {
  ChunkLimits limits;
  limits.max_partial_bytes = 300;
  const auto chunk = payload_of(128, 1);  // one chunk at the initial chunk size
  for (bool bytewise : {false, true}) {
    CAPTURE(bytewise);
    {
      // Three messages of 200 bytes, each cut after its first chunk: 128 + 128
      // are held, the third chunk would make 384.
      const auto wire = concat({fmt0_header(4, 200, msg_video), chunk,     // held 128
                                fmt0_header(5, 200, msg_video), chunk,     // held 256
                                fmt0_header(6, 200, msg_video), chunk});   // 384 > 300
      ChunkReader r(limits);
      ChunkError e = ChunkError::none;
      const auto m = read_all(r, wire, bytewise, &e);
      CHECK(m.empty());
      CHECK(e == ChunkError::partial_bytes_exceeded);
      CHECK(r.partial_bytes() <= 300);
    }
    {
      // Finished messages give their bytes back: five of 200 bytes one after
      // the other (1,000 in all) pass.
      std::vector<std::uint8_t> wire;
      for (int i = 0; i < 5; ++i) {
        const auto rest = payload_of(72, 2);
        wire = concat({wire, fmt0_header(4, 200, msg_video), chunk,
                       {0xc4}, rest});  // fmt 3 continuation on csid 4: the last 72 bytes
      }
      ChunkReader r(limits);
      ChunkError e = ChunkError::none;
      const auto m = read_all(r, wire, bytewise, &e);
      CHECK(e == ChunkError::none);
      CHECK(m.size() == 5);
      CHECK(r.partial_bytes() == 0);
    }
    {
      // Abort (type 2, on csid 2, naming csid 4) gives the aborted message's bytes back.
      const auto wire = concat({fmt0_header(4, 200, msg_video), chunk,           // held 128
                                fmt0_header(2, 4, msg_abort), {0, 0, 0, 4},      // abort csid 4
                                fmt0_header(5, 200, msg_video), chunk});         // held 128 again
      ChunkReader r(limits);
      ChunkError e = ChunkError::none;
      const auto m = read_all(r, wire, bytewise, &e);
      CHECK(e == ChunkError::none);
      REQUIRE(m.size() == 1);
      CHECK(m[0].type == msg_abort);
      CHECK(r.partial_bytes() == 128);
    }
    {
      // One message longer than the whole budget is refused at its header, before
      // any of its payload is taken.
      ChunkReader r(limits);
      ChunkError e = ChunkError::none;
      read_all(r, concat({fmt0_header(4, 301, msg_video), chunk}), bytewise, &e);
      CHECK(e == ChunkError::message_too_large);
      CHECK(r.partial_bytes() == 0);
    }
  }
}

TEST_CASE("chunks: set_message_limit refuses longer messages from the next header; raising it lets them in") {
  for (bool bytewise : {false, true}) {
    CAPTURE(bytewise);
    ChunkReader r;  // 16 MiB by default
    r.set_message_limit(64 * 1024);
    ChunkError e = ChunkError::none;
    // 64 KiB exactly is allowed (its first chunk arrives, the rest would follow).
    read_all(r, concat({fmt0_header(4, 64 * 1024, msg_data_amf0), payload_of(128, 3)}), bytewise, &e);
    CHECK(e == ChunkError::none);
    // One byte more is not: refused at the header, with nothing of it read.
    read_all(r, fmt0_header(5, 64 * 1024 + 1, msg_data_amf0), bytewise, &e);
    CHECK(e == ChunkError::message_too_large);

    ChunkLimits limits;
    limits.max_message_size = 1024 * 1024;
    for (const std::uint32_t length : {1024u * 1024, 1024u * 1024 + 1}) {
      CAPTURE(length);
      ChunkReader raised(limits);
      raised.set_message_limit(64 * 1024);
      raised.set_message_limit(16 * 1024 * 1024);  // as when a publish is accepted: up to the maximum
      read_all(raised, fmt0_header(5, length, msg_video), bytewise, &e);
      // Never past the reader's own maximum.
      CHECK(e == (length <= limits.max_message_size ? ChunkError::none : ChunkError::message_too_large));
    }
  }
}
