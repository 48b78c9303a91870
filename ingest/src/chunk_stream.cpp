// RTMP chunk stream reassembly and chunking.
#include "souk/ingest/chunk_stream.hpp"

#include <algorithm>

namespace souk::ingest {
namespace {

std::uint32_t be24(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

void put_be(std::vector<std::uint8_t>& out, std::uint32_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_basic_header(std::vector<std::uint8_t>& out, std::uint8_t fmt, std::uint32_t csid) {
  if (csid < 64) {
    out.push_back(static_cast<std::uint8_t>((fmt << 6) | csid));
  } else if (csid < 64 + 256) {
    out.push_back(static_cast<std::uint8_t>(fmt << 6));
    out.push_back(static_cast<std::uint8_t>(csid - 64));
  } else {
    out.push_back(static_cast<std::uint8_t>((fmt << 6) | 1));
    out.push_back(static_cast<std::uint8_t>((csid - 64) & 0xff));
    out.push_back(static_cast<std::uint8_t>((csid - 64) >> 8));
  }
}

}  // namespace

const char* to_string(ChunkError e) {
  switch (e) {
    case ChunkError::none: return "no error";
    case ChunkError::missing_header: return "chunk without a previous full header";
    case ChunkError::message_too_large: return "message larger than allowed";
    case ChunkError::too_many_streams: return "too many chunk streams";
    case ChunkError::bad_chunk_size: return "invalid chunk size";
    case ChunkError::length_changed: return "message length changed mid-message";
  }
  return "unknown";
}

ChunkError ChunkReader::feed(std::span<const std::uint8_t> bytes,
                             const std::function<void(RtmpMessage&&)>& on_message) {
  bytes_received_ += bytes.size();
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  ChunkError err = ChunkError::none;
  while (parse_chunk(err, on_message)) {
    if (err != ChunkError::none) return err;
  }
  if (err != ChunkError::none) return err;
  // Keep only the unparsed tail.
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(pos_));
  pos_ = 0;
  return ChunkError::none;
}

bool ChunkReader::parse_chunk(ChunkError& err,
                              const std::function<void(RtmpMessage&&)>& on_message) {
  const std::uint8_t* p = buffer_.data() + pos_;
  const std::size_t avail = buffer_.size() - pos_;
  std::size_t n = 0;
  const auto need = [&](std::size_t k) { return n + k <= avail; };

  // Basic header: 1 to 3 bytes (5.3.1.1).
  if (!need(1)) return false;
  const std::uint8_t fmt = p[0] >> 6;
  std::uint32_t csid = p[0] & 0x3f;
  n = 1;
  if (csid == 0) {
    if (!need(1)) return false;
    csid = 64 + p[1];
    n = 2;
  } else if (csid == 1) {
    if (!need(2)) return false;
    csid = 64 + p[1] + (std::uint32_t{p[2]} << 8);
    n = 3;
  }

  auto it = streams_.find(csid);
  if (it == streams_.end()) {
    if (fmt != 0) {
      err = ChunkError::missing_header;
      return true;
    }
    if (streams_.size() >= limits_.max_chunk_streams) {
      err = ChunkError::too_many_streams;
      return true;
    }
  }
  StreamState probe = it == streams_.end() ? StreamState{} : it->second;
  StreamState& st = probe;
  if (fmt != 0 && !st.has_header) {
    err = ChunkError::missing_header;
    return true;
  }

  // Message header: 11, 7, 3 or 0 bytes (5.3.1.2).
  static constexpr std::size_t header_size[4] = {11, 7, 3, 0};
  if (!need(header_size[fmt])) return false;
  const std::uint8_t* h = p + n;
  n += header_size[fmt];
  const bool new_message = !st.partial;
  std::uint32_t ts_field = 0;
  if (fmt <= 2) ts_field = be24(h);
  bool extended = fmt <= 2 ? ts_field == 0xffffff : st.extended;
  std::uint32_t ext = 0;
  if (extended) {
    // Present after every header of this chunk stream while the timestamp needs
    // it, format 3 chunks included (5.3.1.3).
    if (!need(4)) return false;
    ext = be32(p + n);
    n += 4;
  }
  const std::uint32_t ts_value = extended ? ext : ts_field;

  std::uint32_t length = st.length;
  std::uint8_t type = st.type;
  std::uint32_t stream_id = st.stream_id;
  if (fmt <= 1) {
    length = be24(h + 3);
    type = h[6];
  }
  if (fmt == 0) stream_id = le32(h + 7);
  if (!new_message && fmt <= 1 && length != st.length) {
    err = ChunkError::length_changed;
    return true;
  }
  if (length > limits_.max_message_size) {
    err = ChunkError::message_too_large;
    return true;
  }

  // Payload: up to one chunk of what the message still lacks.
  const std::size_t have = st.partial ? st.partial->size() : 0;
  const std::size_t take = std::min<std::size_t>(chunk_size_, length - have);
  if (!need(take)) return false;

  // The whole chunk is here: commit the header.
  if (new_message) {
    switch (fmt) {
      case 0:
        st.timestamp = ts_value;
        st.delta = 0;
        break;
      case 1:
      case 2:
        st.delta = ts_value;
        st.timestamp += ts_value;
        break;
      case 3:
        st.timestamp += st.delta;  // a new message reuses the previous delta
        break;
    }
    st.partial = std::make_shared<std::vector<std::uint8_t>>();
    // Grow with the data, not with what the header announces (a hostile header
    // could claim 16 MiB on each of many chunk streams).
    st.partial->reserve(std::min<std::size_t>(length, chunk_size_));
  }
  st.has_header = true;
  st.extended = extended;
  st.length = length;
  st.type = type;
  st.stream_id = stream_id;
  st.partial->insert(st.partial->end(), p + n, p + n + take);
  n += take;
  pos_ += n;

  RtmpMessage done;
  const bool complete = st.partial->size() == st.length;
  if (complete) {
    done = RtmpMessage{csid, st.type, st.timestamp, st.stream_id, std::move(st.partial)};
    st.partial.reset();
  }
  streams_[csid] = std::move(st);
  if (!complete) return true;

  // Chunk-layer control messages act before the next chunk is read.
  if (done.type == msg_set_chunk_size && done.payload->size() >= 4) {
    const std::uint32_t size = be32(done.payload->data());
    if (size == 0 || (size & 0x80000000u) != 0) {
      err = ChunkError::bad_chunk_size;
      return true;
    }
    chunk_size_ = std::min(size, limits_.max_message_size);
  } else if (done.type == msg_abort && done.payload->size() >= 4) {
    auto aborted = streams_.find(be32(done.payload->data()));
    if (aborted != streams_.end()) aborted->second.partial.reset();
  }
  on_message(std::move(done));
  return true;
}

void ChunkWriter::write(std::uint32_t csid, std::uint8_t type, std::uint32_t timestamp,
                        std::uint32_t stream_id, std::span<const std::uint8_t> payload,
                        std::vector<std::uint8_t>& out) const {
  const bool extended = timestamp >= 0xffffff;
  std::size_t offset = 0;
  bool first = true;
  do {
    put_basic_header(out, first ? 0 : 3, csid);
    if (first) {
      put_be(out, extended ? 0xffffff : timestamp, 3);
      put_be(out, static_cast<std::uint32_t>(payload.size()), 3);
      out.push_back(type);
      for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(stream_id >> (8 * i)));
    }
    if (extended) put_be(out, timestamp, 4);
    const std::size_t take = std::min<std::size_t>(chunk_size_, payload.size() - offset);
    out.insert(out.end(), payload.begin() + static_cast<std::ptrdiff_t>(offset),
               payload.begin() + static_cast<std::ptrdiff_t>(offset + take));
    offset += take;
    first = false;
  } while (offset < payload.size());
}

}  // namespace souk::ingest
