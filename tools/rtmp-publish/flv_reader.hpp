// FLV file reader for rtmp-publish: the 9-byte file header, then tags, each
// preceded by the PreviousTagSize of the one before (FLV spec v10.1, annex E).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtmp_publish {

inline constexpr std::uint8_t flv_tag_audio = 8;
inline constexpr std::uint8_t flv_tag_video = 9;
inline constexpr std::uint8_t flv_tag_script_data = 18;

struct FlvTag {
  std::uint8_t type = 0;        // flv_tag_audio, flv_tag_video or flv_tag_script_data
  std::uint32_t timestamp = 0;  // milliseconds: 24 bits plus the extended high byte
  std::string_view body;        // the tag's data, pointing into the parsed bytes
  std::size_t offset = 0;       // where the tag header starts in the file
};

struct FlvParseResult {
  std::vector<FlvTag> tags;      // audio, video and script data, in file order
  std::size_t skipped_tags = 0;  // tags of other types, left out
  std::string error;             // empty on success
};

// Parses a whole FLV file held in `bytes` (which must outlive the tags). A bad
// signature, a truncated tag, an encrypted tag or a PreviousTagSize that does not
// match the tag before it is an error naming the byte offset. A file may end right
// after a tag or after its PreviousTagSize.
FlvParseResult parse_flv(std::string_view bytes);

// Reads `path` into `bytes`; false (and `error` set) when it cannot be read.
bool read_file(const std::string& path, std::string& bytes, std::string& error);

}  // namespace rtmp_publish
