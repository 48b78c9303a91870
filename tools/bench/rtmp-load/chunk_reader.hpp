// The incoming half of RTMP for a publisher that has taken its socket back from
// librtmp: chunks in, whole messages out (RTMP spec 5.3). Pure: no sockets, no
// clock. What a server sends a publisher after NetStream.Publish.Start is small
// (Acknowledgements, pings, a status or a close), so messages are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rtmp_load {

struct RtmpMessage {
  std::uint32_t csid = 0;
  std::uint8_t type = 0;
  std::uint32_t stream_id = 0;
  std::string_view payload;
};

class ChunkReader {
 public:
  static constexpr std::uint32_t max_message_size = 1 << 20;
  static constexpr std::size_t max_chunk_streams = 64;

  // Header state of a chunk stream as the previous owner of the connection
  // (librtmp) left it, so formats 1-3 that refer back to it still decode.
  struct Seed {
    std::uint32_t csid = 0;
    std::uint32_t length = 0;
    std::uint8_t type = 0;
    std::uint32_t stream_id = 0;
    bool extended_timestamp = false;
  };

  void set_chunk_size(std::uint32_t size) { chunk_size_ = size; }
  std::uint32_t chunk_size() const { return chunk_size_; }
  void seed(const Seed& s);

  // Takes `bytes` and calls `on_message` for each message they complete (a Set
  // Chunk Size is applied before the next chunk is read). Returns an error
  // description, or an empty string.
  std::string feed(std::string_view bytes,
                   const std::function<void(const RtmpMessage&)>& on_message);

 private:
  struct Stream {
    std::uint32_t length = 0;
    std::uint8_t type = 0;
    std::uint32_t stream_id = 0;
    bool extended_timestamp = false;
    bool has_header = false;
    std::string body;  // the message being assembled
  };
  enum class Step { need_more, chunk, error };
  Step read_chunk(std::size_t& at, std::string& error,
                  const std::function<void(const RtmpMessage&)>& on_message);

  std::uint32_t chunk_size_ = 128;  // RTMP spec 5.4.1: until told otherwise
  std::unordered_map<std::uint32_t, Stream> streams_;
  std::string pending_;  // bytes of an incomplete chunk
};

}  // namespace rtmp_load
