// Incoming RTMP chunks for rtmp-load (see chunk_reader.hpp).
#include "chunk_reader.hpp"

#include <algorithm>

namespace rtmp_load {
namespace {

std::uint32_t be(std::string_view b, std::size_t at, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

std::uint32_t le32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 4; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

}  // namespace

void ChunkReader::seed(const Seed& s) {
  Stream& st = streams_[s.csid];
  st.length = s.length;
  st.type = s.type;
  st.stream_id = s.stream_id;
  st.extended_timestamp = s.extended_timestamp;
  st.has_header = true;
  st.body.clear();
}

std::string ChunkReader::feed(std::string_view bytes,
                              const std::function<void(const RtmpMessage&)>& on_message) {
  pending_.append(bytes);
  std::size_t at = 0;
  std::string error;
  for (;;) {
    const Step step = read_chunk(at, error, on_message);
    if (step == Step::error) return error;
    if (step == Step::need_more) break;
  }
  pending_.erase(0, at);
  return {};
}

// Basic header (fmt, csid in 1-3 bytes), message header of 11, 7, 3 or 0 bytes by
// fmt, the extended timestamp when the 24-bit field is 0xFFFFFF (and on format 3
// chunks of such a message), then up to chunk_size bytes of payload.
ChunkReader::Step ChunkReader::read_chunk(
    std::size_t& at, std::string& error,
    const std::function<void(const RtmpMessage&)>& on_message) {
  const std::string_view b(pending_);
  std::size_t p = at;
  if (b.size() - p < 1) return Step::need_more;
  const unsigned fmt = static_cast<unsigned char>(b[p]) >> 6;
  std::uint32_t csid = static_cast<unsigned char>(b[p]) & 0x3f;
  ++p;
  if (csid == 0) {
    if (b.size() - p < 1) return Step::need_more;
    csid = 64 + static_cast<unsigned char>(b[p]);
    p += 1;
  } else if (csid == 1) {
    if (b.size() - p < 2) return Step::need_more;
    csid = 64 + static_cast<unsigned char>(b[p]) + 256u * static_cast<unsigned char>(b[p + 1]);
    p += 2;
  }
  static constexpr std::size_t header_sizes[4] = {11, 7, 3, 0};
  const std::size_t header_size = header_sizes[fmt];
  if (b.size() - p < header_size) return Step::need_more;

  auto found = streams_.find(csid);
  if (found == streams_.end()) {
    if (fmt != 0) {
      error =
          "format " + std::to_string(fmt) + " chunk on new chunk stream " + std::to_string(csid);
      return Step::error;
    }
    if (streams_.size() >= max_chunk_streams) {
      error = "more than " + std::to_string(max_chunk_streams) + " chunk streams";
      return Step::error;
    }
  }
  Stream next = found == streams_.end()
                    ? Stream{}
                    : Stream{found->second.length,     found->second.type,
                             found->second.stream_id,  found->second.extended_timestamp,
                             found->second.has_header, {}};
  const bool continuing = found != streams_.end() && !found->second.body.empty();
  if (fmt < 3 && continuing) {
    error = "new message header in the middle of a message on chunk stream " + std::to_string(csid);
    return Step::error;
  }
  if (fmt == 3 && !next.has_header) {
    error = "format 3 chunk without a previous header on chunk stream " + std::to_string(csid);
    return Step::error;
  }
  std::uint32_t timestamp_field = 0;
  if (fmt <= 2) timestamp_field = be(b, p, 3);
  if (fmt <= 1) {
    next.length = be(b, p + 3, 3);
    next.type = static_cast<std::uint8_t>(b[p + 6]);
  }
  if (fmt == 0) next.stream_id = le32(b, p + 7);
  p += header_size;
  if (fmt <= 2) next.extended_timestamp = timestamp_field == 0xFFFFFF;
  if (next.extended_timestamp) {
    if (b.size() - p < 4) return Step::need_more;
    p += 4;  // timestamps do not matter to a publisher
  }
  if (next.length > max_message_size) {
    error = "message of " + std::to_string(next.length) + " bytes on chunk stream " +
            std::to_string(csid);
    return Step::error;
  }
  const std::size_t already = continuing ? found->second.body.size() : 0;
  const std::size_t take = std::min<std::size_t>(next.length - already, chunk_size_);
  if (b.size() - p < take) return Step::need_more;

  // The whole chunk is here: commit it.
  Stream& st = streams_[csid];
  if (!continuing) {
    st.length = next.length;
    st.type = next.type;
    st.stream_id = next.stream_id;
    st.extended_timestamp = next.extended_timestamp;
    st.has_header = true;
    st.body.clear();
  }
  st.body.append(b.substr(p, take));
  p += take;
  at = p;
  if (st.body.size() < st.length) return Step::chunk;

  const std::string body = std::move(st.body);
  st.body.clear();
  if (st.type == 1 && body.size() >= 4) {
    // Set Chunk Size: 31 bits (RTMP spec 5.4.1); applies to the next chunk.
    const std::uint32_t size = be(body, 0, 4) & 0x7FFFFFFF;
    if (size == 0) {
      error = "Set Chunk Size 0";
      return Step::error;
    }
    chunk_size_ = size;
  } else if (st.type == 2 && body.size() >= 4) {
    // Abort: drop the partial message on that chunk stream (RTMP spec 5.4.2).
    if (auto s = streams_.find(be(body, 0, 4)); s != streams_.end()) s->second.body.clear();
  }
  on_message(RtmpMessage{csid, st.type, st.stream_id, body});
  return Step::chunk;
}

}  // namespace rtmp_load
