// The media every rtmp-load connection replays: an FLV file read once, its tags
// turned into RTMP message bodies, shared read-only by all connections (each adds
// only its own chunk headers, as its write pattern says: write_pattern.hpp).
#pragma once

#include "flv_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rtmp_load {

struct MediaTag {
  std::uint8_t type = 0;         // rtmp_publish::flv_tag_audio, _video or _script_data
  std::uint32_t timestamp = 0;   // ms from the file's first tag
  std::uint32_t size = 0;        // RTMP message length
  bool keyframe = false;         // a video keyframe carrying a picture (not a sequence header)
  bool first_pass_only = false;  // script data and sequence headers: sent once, not per loop
  std::string body;              // the RTMP message body
};

struct Media {
  std::vector<MediaTag> tags;    // file order (decode order)
  std::uint32_t pass_ms = 0;     // one pass over the file: where the next loop starts
  std::size_t trimmed_tags = 0;  // tags at or after pass_ms, and AVC end of sequence: never sent
  std::uint64_t bytes_per_pass = 0;  // message bytes (no chunk headers) every loop sends
  std::size_t keyframes_per_pass = 0;
};

// Builds the shared media from parsed FLV tags. Script data gets the
// "@setDataFrame" prefix an RTMP publisher sends. The pass lasts the video's
// length (last video timestamp plus its mean frame step), or the audio's in an
// audio-only file, so looping keeps each track's cadence; tags past it (audio
// encoder tail) and an AVC end-of-sequence tag are dropped. Returns false with `error` set if
// nothing is left.
bool build_media(const std::vector<rtmp_publish::FlvTag>& tags, Media& media, std::string& error);

}  // namespace rtmp_load
