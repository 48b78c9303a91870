// FLV parsing for rtmp-publish (see flv_reader.hpp).
#include "flv_reader.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rtmp_publish {
namespace {

std::uint32_t be24(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2]));
}

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) | be24(b, at + 1);
}

FlvParseResult fail(FlvParseResult r, const std::string& what, std::size_t offset) {
  r.tags.clear();
  r.error = what + " at byte " + std::to_string(offset);
  return r;
}

}  // namespace

FlvParseResult parse_flv(std::string_view bytes) {
  FlvParseResult result;
  // Header: "FLV", version 1, flags (audio 0x04, video 0x01), DataOffset (u32 BE).
  constexpr std::size_t header_size = 9;
  if (bytes.size() < header_size || bytes.substr(0, 3) != "FLV") {
    return fail(std::move(result), "not an FLV file (no 'FLV' signature)", 0);
  }
  if (static_cast<unsigned char>(bytes[3]) != 1) {
    return fail(std::move(result),
                "unsupported FLV version " + std::to_string(static_cast<unsigned char>(bytes[3])),
                3);
  }
  const std::uint32_t data_offset = be32(bytes, 5);
  if (data_offset < header_size || data_offset > bytes.size()) {
    return fail(std::move(result), "bad FLV DataOffset " + std::to_string(data_offset), 5);
  }

  // Body: PreviousTagSize0 (0), then per tag an 11-byte header, its data, and the
  // PreviousTagSize (11 + data size) that follows it.
  std::size_t pos = data_offset;
  std::uint32_t expected_previous = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) return fail(std::move(result), "truncated PreviousTagSize", pos);
    const std::uint32_t previous = be32(bytes, pos);
    if (previous != expected_previous) {
      return fail(std::move(result),
                  "PreviousTagSize " + std::to_string(previous) + " (expected " +
                      std::to_string(expected_previous) + ")",
                  pos);
    }
    pos += 4;
    if (pos == bytes.size()) break;

    constexpr std::size_t tag_header_size = 11;
    if (bytes.size() - pos < tag_header_size) {
      return fail(std::move(result), "truncated tag header", pos);
    }
    const auto first = static_cast<unsigned char>(bytes[pos]);
    // TagType byte: 2 reserved bits, the Filter bit (encrypted), 5 bits of type.
    if ((first & 0x20) != 0) return fail(std::move(result), "encrypted FLV tag", pos);
    const auto type = static_cast<std::uint8_t>(first & 0x1f);
    const std::uint32_t data_size = be24(bytes, pos + 1);
    // Timestamp: 24 low bits, then TimestampExtended as the high 8 bits.
    const std::uint32_t timestamp =
        be24(bytes, pos + 4) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos + 7])) << 24);
    if (bytes.size() - pos - tag_header_size < data_size) {
      return fail(std::move(result),
                  "truncated tag (" + std::to_string(data_size) + " bytes of data announced)", pos);
    }
    if (type == flv_tag_audio || type == flv_tag_video || type == flv_tag_script_data) {
      result.tags.push_back(
          FlvTag{type, timestamp, bytes.substr(pos + tag_header_size, data_size), pos});
    } else {
      ++result.skipped_tags;
    }
    pos += tag_header_size + data_size;
    expected_previous = static_cast<std::uint32_t>(tag_header_size + data_size);
  }
  return result;
}

bool read_file(const std::string& path, std::string& bytes, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "cannot read " + path;
    return false;
  }
  bytes = std::move(ss).str();
  return true;
}

}  // namespace rtmp_publish
