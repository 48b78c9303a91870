// A stream's codecs as the muxers need them, learnt from its sequence headers:
// the parameters every output file is opened with, and what converting frames
// for MPEG-TS needs (ts_packets.hpp). Shared by every writer of the stream.
#pragma once

#include "souk/ingest/frame.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/ts_packets.hpp"

#include <optional>

namespace souk::packager {

struct MediaTracks {
  CodecParametersPtr video, audio;  // nullptr until the track's sequence header came
  std::optional<AvcStream> avc;     // the video's, for Annex B
  std::optional<AdtsStream> adts;   // the audio's ADTS header, when ADTS can carry it

  // Takes a sequence header (H.264 avcC or AAC AudioSpecificConfig), replacing
  // the track's earlier one. False, and the track unchanged, when the codec
  // parameters cannot be made from it.
  bool add_sequence_header(const ingest::Frame& f);
};

}  // namespace souk::packager
