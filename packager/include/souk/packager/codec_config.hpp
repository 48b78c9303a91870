// Codec parameters for the muxers, from the publisher's sequence headers: the
// AVC decoder configuration record (H.264) and the AudioSpecificConfig (AAC).
#pragma once

#include "souk/packager/av_util.hpp"

#include <cstdint>
#include <span>

namespace souk::packager {

// nullptr if the record is malformed. Width and height come from the SPS.
CodecParametersPtr h264_parameters(std::span<const std::uint8_t> avcc);
// nullptr if the config is malformed.
CodecParametersPtr aac_parameters(std::span<const std::uint8_t> audio_specific_config);

}  // namespace souk::packager
