// Media for the packager's tests: an x264 avcC, an AAC config, frames made of
// them, temporary directories, and reading back what a muxer wrote.
#pragma once

#include "souk/ingest/frame.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/media_tracks.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace souk::packager::test {

using Bytes = std::vector<std::uint8_t>;

inline std::string contents(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline ino_t inode(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

// An empty directory under the temporary one, unique to this process.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// An avcC record x264 wrote (Constrained Baseline 640x360).
inline const Bytes avcc = {0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x42,
                           0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00,
                           0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf2, 0x3c,
                           0x58, 0xba, 0x80, 0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8};
// An AudioSpecificConfig: AAC LC (object type 2), 44.1 kHz (index 4), stereo.
inline const Bytes aac_config = {0x12, 0x10};

inline ingest::Frame video(std::int64_t dts, bool keyframe, Bytes payload,
                           bool sequence_header = false) {
  ingest::Frame f;
  f.stream_id.push_back('s');  // (not = "s": GCC 12 warns -Wrestrict on that, GCC bug 105329)
  f.kind = ingest::MediaKind::video;
  f.codec_id = ingest::codec_avc;
  f.dts_ms = f.pts_ms = dts;
  f.keyframe = keyframe;
  f.sequence_header = sequence_header;
  f.buffer = std::make_shared<const Bytes>(std::move(payload));
  return f;
}

inline ingest::Frame audio(std::int64_t dts, Bytes payload, bool sequence_header = false) {
  ingest::Frame f;
  f.stream_id.push_back('s');  // (not = "s": GCC 12 warns -Wrestrict on that, GCC bug 105329)
  f.kind = ingest::MediaKind::audio;
  f.codec_id = ingest::codec_aac;
  f.dts_ms = f.pts_ms = dts;
  f.sequence_header = sequence_header;
  f.buffer = std::make_shared<const Bytes>(std::move(payload));
  return f;
}

// One NAL unit of `bytes` (an IDR picture or another slice), length-prefixed.
inline Bytes picture(bool idr, std::size_t bytes) {
  Bytes out = {static_cast<std::uint8_t>(bytes >> 24), static_cast<std::uint8_t>(bytes >> 16),
               static_cast<std::uint8_t>(bytes >> 8), static_cast<std::uint8_t>(bytes)};
  out.push_back(idr ? 0x65 : 0x41);
  out.resize(4 + bytes, 0x5a);
  return out;
}

// A packet as a demuxer read it back: its stream's type and its timestamps in
// milliseconds.
struct ReadPacket {
  AVMediaType type;
  std::int64_t dts_ms;
  bool keyframe;
};

// Every packet of a media file, in file order; REQUIREs that it opens.
inline std::vector<ReadPacket> read_packets(const std::filesystem::path& path) {
  AVFormatContext* ctx = nullptr;
  // (No avformat_find_stream_info: MP4 and TS headers name the streams, and
  // decoding the tests' made-up pictures would only fill the log.)
  REQUIRE(avformat_open_input(&ctx, path.c_str(), nullptr, nullptr) == 0);
  std::vector<ReadPacket> out;
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(ctx, pkt) >= 0) {
    const auto* st = ctx->streams[pkt->stream_index];
    out.push_back({st->codecpar->codec_type,
                   av_rescale_q(pkt->dts, st->time_base, AVRational{1, 1000}),
                   (pkt->flags & AV_PKT_FLAG_KEY) != 0});
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&ctx);
  return out;
}

// A fragmented MP4 as the recorder writes it: `frames` of 25 fps video from dts
// 0, a keyframe (and so a fragment) each second, and with `with_audio` an AAC
// frame beside each picture; with `video_track` false, audio only. Without
// `closed`, the muxer is abandoned as a kill leaves it: what reached the file
// stays, nothing more.
inline void write_fragmented(const std::filesystem::path& path, int frames, bool with_audio = false,
                      bool video_track = true, bool closed = true) {
  MediaTracks tracks;
  if (video_track) REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  if (with_audio) REQUIRE(tracks.add_sequence_header(audio(0, aac_config, true)));
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  OutputFile file(path.string(), "mp4", tracks.video.get(), tracks.audio.get(), &opts);
  av_dict_free(&opts);
  for (int i = 0; i < frames; ++i) {
    const bool keyframe = i % 25 == 0;
    if (video_track) {
      const auto pkt = packet_of(video(i * 40, keyframe, picture(keyframe, 500)));
      file.write(file.video_index(), pkt.get());
    }
    if (with_audio) {
      const auto pkt = packet_of(audio(i * 40, Bytes(100, 0x21)));
      file.write(file.audio_index(), pkt.get());
    }
  }
  if (closed) file.finish();
}

}  // namespace souk::packager::test
