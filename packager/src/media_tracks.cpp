// MediaTracks: codec parameters and conversion state from sequence headers.
#include "souk/packager/media_tracks.hpp"

#include "souk/packager/codec_config.hpp"

#include <utility>

namespace souk::packager {
using ingest::MediaKind;

bool MediaTracks::add_sequence_header(const ingest::Frame& f) {
  auto par = f.kind == MediaKind::video ? h264_parameters(f.data()) : aac_parameters(f.data());
  if (!par) return false;
  (f.kind == MediaKind::video ? video : audio) = std::move(par);
  if (f.kind == MediaKind::video) {
    avc = AvcStream::from_avcc(f.data());
  } else {
    adts = AdtsStream::from_audio_specific_config(f.data());
  }
  return true;
}

}  // namespace souk::packager
