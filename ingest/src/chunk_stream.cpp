// RTMP chunk stream reassembly and chunking.
#include "souk/ingest/chunk_stream.hpp"

#include <algorithm>

namespace souk::ingest {
namespace {

// What a message's buffer starts with, at most (see parse_header).
constexpr std::size_t first_reserve = std::size_t{64} * 1024;
// The longest chunk header: a 3-byte basic header, an 11-byte message header and
// a 4-byte extended timestamp (5.3.1).
constexpr std::size_t max_header_size = 3 + 11 + 4;

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
    out.push_back(static_cast<std::uint8_t>((std::uint32_t{fmt} << 6) | csid));
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

const char* refusal_reason(ChunkError e) {
  switch (e) {
    case ChunkError::message_too_large: return "rtmp_message_size";
    case ChunkError::partial_bytes_exceeded: return "rtmp_partial_bytes";
    case ChunkError::too_many_streams: return "rtmp_chunk_streams";
    default: return nullptr;
  }
}

const char* to_string(ChunkError e) {
  switch (e) {
    case ChunkError::none: return "no error";
    case ChunkError::missing_header: return "chunk without a previous full header";
    case ChunkError::message_too_large: return "message larger than allowed";
    case ChunkError::too_many_streams: return "too many chunk streams";
    case ChunkError::bad_chunk_size: return "invalid chunk size";
    case ChunkError::length_changed: return "message length changed mid-message";
    case ChunkError::partial_bytes_exceeded: return "unfinished messages larger than allowed";
  }
  return "unknown";
}

ChunkError ChunkReader::feed(std::span<const std::uint8_t> bytes,
                             const std::function<void(RtmpMessage&&)>& on_message) {
  bytes_received_ += bytes.size();
  std::size_t pos = 0;
  for (;;) {
    if (open_) {
      const std::size_t take = std::min(open_->remaining, bytes.size() - pos);
      // Counted as it arrives, not as headers announce it: only bytes a peer
      // really sent can be held, and no more than this in all.
      if (take > limits_.max_partial_bytes - partial_bytes_) return ChunkError::partial_bytes_exceeded;
      partial_bytes_ += take;
      auto& payload = *open_->stream->partial;
      payload.insert(payload.end(), bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                     bytes.begin() + static_cast<std::ptrdiff_t>(pos + take));
      pos += take;
      open_->remaining -= take;
      if (open_->remaining > 0) return ChunkError::none;  // the rest comes with a later read
      if (const auto err = close_chunk(on_message); err != ChunkError::none) return err;
      continue;
    }
    if (pos == bytes.size()) return ChunkError::none;
    ChunkError err = ChunkError::none;
    const auto rest = bytes.subspan(pos);
    if (header_.empty()) {
      const std::size_t used = parse_header(rest, err);
      if (err != ChunkError::none) return err;
      if (used == 0) {  // a header cut by the end of this read: fewer than max_header_size bytes
        header_.assign(rest.begin(), rest.end());
        return ChunkError::none;
      }
      pos += used;
      continue;
    }
    // The end of a header the last read cut off: complete it from this read.
    const std::size_t before = header_.size();
    const std::size_t add = std::min(max_header_size - before, rest.size());
    header_.insert(header_.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(add));
    const std::size_t used = parse_header(header_, err);
    if (err != ChunkError::none) return err;
    if (used == 0) return ChunkError::none;  // still cut: this read held no more
    header_.clear();
    pos += used - before;
  }
}

std::size_t ChunkReader::parse_header(std::span<const std::uint8_t> in, ChunkError& err) {
  const std::uint8_t* p = in.data();
  const std::size_t avail = in.size();
  std::size_t n = 0;
  const auto need = [&](std::size_t k) { return n + k <= avail; };

  // Basic header: 1 to 3 bytes (5.3.1.1).
  if (!need(1)) return 0;
  const std::uint8_t fmt = p[0] >> 6;
  std::uint32_t csid = p[0] & 0x3f;
  n = 1;
  if (csid == 0) {
    if (!need(1)) return 0;
    csid = 64 + p[1];
    n = 2;
  } else if (csid == 1) {
    if (!need(2)) return 0;
    csid = 64 + p[1] + (std::uint32_t{p[2]} << 8);
    n = 3;
  }

  StreamState* const known = find_stream(csid);
  if (!known) {
    if (fmt != 0) {
      err = ChunkError::missing_header;
      return 0;
    }
    if (streams_.size() >= limits_.max_chunk_streams) {
      err = ChunkError::too_many_streams;
      return 0;
    }
  }
  // Read-only until the whole header is known to be here: a header cut by the
  // end of a read is parsed again, whole, with the next.
  static const StreamState fresh{};
  const StreamState& st = known ? *known : fresh;
  if (fmt != 0 && !st.has_header) {
    err = ChunkError::missing_header;
    return 0;
  }

  // Message header: 11, 7, 3 or 0 bytes (5.3.1.2).
  static constexpr std::size_t header_size[4] = {11, 7, 3, 0};
  if (!need(header_size[fmt])) return 0;
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
    if (!need(4)) return 0;
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
    return 0;
  }
  // A message longer than the partial budget could never be held whole either.
  if (length > message_limit_ || length > limits_.max_partial_bytes) {
    err = ChunkError::message_too_large;
    return 0;
  }

  // The whole header is here: commit it.
  StreamState& s = known ? *known : add_stream(csid);
  if (new_message) {
    switch (fmt) {
      case 0:
        s.timestamp = ts_value;
        s.delta = 0;
        break;
      case 1:
      case 2:
        s.delta = ts_value;
        s.timestamp += ts_value;
        break;
      case 3:
        s.timestamp += s.delta;  // a new message reuses the previous delta
        break;
    }
    s.partial = std::make_shared<std::vector<std::uint8_t>>();
    // Room for the whole of a usual frame at once (720p P-frames are 5-20 KB),
    // but past that grow with the data, not with what the header announces (a
    // hostile header could claim 16 MiB on each of many chunk streams), and never
    // past what the connection may still hold.
    s.partial->reserve(std::min({std::size_t{length}, std::max<std::size_t>(chunk_size_, first_reserve),
                                 limits_.max_partial_bytes - partial_bytes_}));
  }
  s.has_header = true;
  s.extended = extended;
  s.length = length;
  s.type = type;
  s.stream_id = stream_id;
  // Its payload: up to one chunk of what the message still lacks.
  open_ = OpenChunk{csid, &s, std::min<std::size_t>(chunk_size_, length - s.partial->size())};
  return n;
}

ChunkError ChunkReader::close_chunk(const std::function<void(RtmpMessage&&)>& on_message) {
  const std::uint32_t csid = open_->csid;
  StreamState& s = *open_->stream;
  open_.reset();
  if (s.partial->size() != s.length) return ChunkError::none;
  partial_bytes_ -= s.length;
  RtmpMessage done{csid, s.type, s.timestamp, s.stream_id, std::move(s.partial)};
  s.partial.reset();

  // Chunk-layer control messages act before the next chunk is read.
  if (done.type == msg_set_chunk_size && done.payload->size() >= 4) {
    const std::uint32_t size = be32(done.payload->data());
    if (size == 0 || (size & 0x80000000u) != 0) return ChunkError::bad_chunk_size;
    chunk_size_ = std::min(size, limits_.max_message_size);
  } else if (done.type == msg_abort && done.payload->size() >= 4) {
    StreamState* const aborted = find_stream(be32(done.payload->data()));
    if (aborted && aborted->partial) {
      partial_bytes_ -= aborted->partial->size();
      aborted->partial.reset();
    }
  }
  on_message(std::move(done));
  return ChunkError::none;
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
