// The media every rtmp-load connection replays: an FLV file read once, its tags
// turned into RTMP message bodies already cut into chunks, shared read-only by all
// connections (each adds only its own 12-byte message header).
#pragma once

#include "flv_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rtmp_load {

// The chunk stream id media goes out on (librtmp's RTMP_Write uses the same).
inline constexpr std::uint8_t media_csid = 4;

struct MediaTag {
  std::uint8_t type = 0;         // rtmp_publish::flv_tag_audio, _video or _script_data
  std::uint32_t timestamp = 0;   // ms from the file's first tag
  std::uint32_t size = 0;        // RTMP message length
  bool keyframe = false;         // a video keyframe carrying a picture (not a sequence header)
  bool first_pass_only = false;  // script data and sequence headers: sent once, not per loop
  // The message body as it goes on the wire after the first chunk's header: the
  // body cut every chunk_size bytes, a one-byte format 3 header (csid 4) between.
  std::string wire;
};

struct Media {
  std::vector<MediaTag> tags;    // file order (decode order)
  std::uint32_t pass_ms = 0;     // one pass over the file: where the next loop starts
  std::uint32_t chunk_size = 0;  // outgoing chunk size the bodies are cut for
  std::size_t trimmed_tags = 0;  // tags at or after pass_ms, and AVC end of sequence: never sent
  std::uint64_t bytes_per_pass = 0;  // wire bytes of the tags every loop sends
  std::size_t keyframes_per_pass = 0;
};

// Builds the shared media from parsed FLV tags. Script data gets the
// "@setDataFrame" prefix an RTMP publisher sends. The pass lasts the video's
// length (last video timestamp plus its mean frame step), or the audio's in an
// audio-only file, so looping keeps each track's cadence; tags past it (audio
// encoder tail) and an AVC end-of-sequence tag are dropped. Returns false with `error` set if
// nothing is left.
bool build_media(const std::vector<rtmp_publish::FlvTag>& tags, std::uint32_t chunk_size,
                 Media& media, std::string& error);

}  // namespace rtmp_load
