// finalize_recording: fragmented MP4 (plus an earlier VOD part) -> faststart MP4.
#include "souk/packager/recording_finalizer.hpp"

#include "souk/log.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/packager_metrics.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace souk::packager {
namespace fs = std::filesystem;

namespace {

// An input file opened for reading, closed with its owner; its first video and
// first audio stream are the ones kept.
struct InputFile {
  explicit InputFile(const fs::path& path) {
    check_av(avformat_open_input(&ctx, path.c_str(), nullptr, nullptr), "open recording");
    if (const int err = avformat_find_stream_info(ctx, nullptr); err < 0) {
      avformat_close_input(&ctx);
      throw AvError("read recording", err);
    }
    video = first_stream(AVMEDIA_TYPE_VIDEO);
    audio = first_stream(AVMEDIA_TYPE_AUDIO);
  }
  ~InputFile() { avformat_close_input(&ctx); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const AVCodecParameters* parameters(int index) const {
    return index >= 0 ? ctx->streams[index]->codecpar : nullptr;
  }

  // Whether a sample of a kept stream is left; reads it ahead for next_sample().
  bool has_sample() {
    if (ahead_) return true;
    PacketPtr pkt(av_packet_alloc());
    if (!read_sample(pkt.get())) return false;
    ahead_ = std::move(pkt);
    return true;
  }

  // The next sample of a kept stream, into `pkt`; false at the end.
  bool next_sample(AVPacket* pkt) {
    if (!ahead_) return read_sample(pkt);
    av_packet_move_ref(pkt, ahead_.get());
    ahead_.reset();
    return true;
  }

  AVFormatContext* ctx = nullptr;
  int video = -1;  // stream indexes, -1 when the file has none of that kind
  int audio = -1;

 private:
  // Reads on to the next sample of a kept stream; false at the end of the file,
  // or at a truncated last fragment (the recording ends there). A sample cut
  // short (a crash mid-fragment) is dropped, not decoded as garbage.
  bool read_sample(AVPacket* pkt) {
    while (av_read_frame(ctx, pkt) >= 0) {
      const int si = pkt->stream_index;
      if ((si == video || si == audio) && pkt->dts != AV_NOPTS_VALUE &&
          (pkt->flags & AV_PKT_FLAG_CORRUPT) == 0) {
        return true;
      }
      av_packet_unref(pkt);
    }
    return false;
  }

  int first_stream(AVMediaType type) const {
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
      if (ctx->streams[i]->codecpar->codec_type == type) return static_cast<int>(i);
    }
    return -1;
  }

  PacketPtr ahead_;  // a sample has_sample() read, not yet taken
};

// Whether `path` is a recording's beginning and no more: shorter than a box
// header, or MP4 boxes from `ftyp` on (the last one perhaps cut short) without
// a fragment (`moof`) or media data (`mdat`). What the recorder leaves when
// killed before its first fragment reached the disk; a file that does not
// start with `ftyp` is no recording at all.
bool header_only(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bool first = true;
  while (true) {
    std::array<unsigned char, 16> head{};
    in.read(reinterpret_cast<char*>(head.data()), 8);
    if (in.gcount() < 8) return true;  // the end, or a box header cut short
    const std::string type(reinterpret_cast<const char*>(head.data()) + 4, 4);
    if (first && type != "ftyp") return false;
    if (type == "moof" || type == "mdat") return false;
    first = false;
    std::uint64_t size = 0;
    for (int i = 0; i < 4; ++i) size = size << 8 | head[static_cast<std::size_t>(i)];
    std::uint64_t header = 8;
    if (size == 1) {  // a 64-bit size follows the type
      in.read(reinterpret_cast<char*>(head.data()) + 8, 8);
      if (in.gcount() < 8) return true;
      size = 0;
      for (std::size_t i = 8; i < 16; ++i) size = size << 8 | head[i];
      header = 16;
    }
    if (size == 0) return true;       // the box runs to the end of the file
    if (size < header) return false;  // not MP4
    in.seekg(static_cast<std::streamoff>(size - header), std::ios::cur);
    if (!in) return true;
    if (in.peek() == std::char_traits<char>::eof()) return true;
  }
}

// The earlier VOD part at `out`, or nullptr when there is none or it is of no
// use (unreadable, or neither video nor audio): then it is set aside as
// `<out>.broken` (`.broken.N` if taken) once the new VOD is ready, so what it
// holds can still be looked at, and `set_aside` names where it goes.
std::unique_ptr<InputFile> open_earlier_part(const fs::path& out, fs::path& set_aside) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return nullptr;
  std::string problem;
  try {
    auto part = std::make_unique<InputFile>(out);
    if (part->video >= 0 || part->audio >= 0) return part;
    problem = "neither video nor audio";
  } catch (const std::exception& e) {
    problem = e.what();
  }
  set_aside = fs::path(out.string() + ".broken");
  for (int n = 1; fs::exists(set_aside, ec); ++n) {
    set_aside = fs::path(out.string() + ".broken." + std::to_string(n));
  }
  log::error("packager: the earlier VOD part is unusable; the VOD is made without it",
             {{"path", out.string()}, {"error", problem}, {"kept_as", set_aside.string()}});
  return nullptr;
}

// The fragmented recording `fragmented` as a plain MP4 at `out` (after what
// `out` already holds). Throws on failure.
Finalized append_recording(const fs::path& fragmented, const fs::path& out) {
  std::error_code ec;
  std::unique_ptr<InputFile> part;
  try {
    part = std::make_unique<InputFile>(fragmented);
  } catch (const AvError&) {
    if (!header_only(fragmented)) throw;
  }
  // Without a sample in the new part there is nothing to add: the VOD stays
  // as it is (or absent).
  if (!part || !part->has_sample()) {
    part.reset();
    fs::remove(fragmented);
    return Finalized::nothing_recorded;
  }

  // A VOD already there is the part recorded before a restart: the new part
  // follows it in the same file.
  fs::path set_aside;
  std::vector<std::unique_ptr<InputFile>> inputs;
  if (auto earlier = open_earlier_part(out, set_aside)) inputs.push_back(std::move(earlier));
  inputs.push_back(std::move(part));

  // Each track's parameters from the first part that has it.
  const AVCodecParameters* video = nullptr;
  const AVCodecParameters* audio = nullptr;
  for (const auto& input : inputs) {
    if (!video) video = input->parameters(input->video);
    if (!audio) audio = input->parameters(input->audio);
  }
  const auto tmp = fs::path(out.string() + ".tmp");
  struct DictionaryOwner {
    AVDictionary* d = nullptr;
    ~DictionaryOwner() { av_dict_free(&d); }
  } opts;
  av_dict_set(&opts.d, "movflags", "faststart", 0);  // moov before mdat: seekable at once
  try {
    OutputFile file(tmp.string(), "mp4", video, audio, &opts.d);
    PacketPtr pkt(av_packet_alloc());
    std::int64_t offset_ms = 0;  // where the current input starts in the output
    for (const auto& input : inputs) {
      std::int64_t end_ms = offset_ms;
      while (input->next_sample(pkt.get())) {
        const int si = pkt->stream_index;
        const int out_index = si == input->video ? file.video_index() : file.audio_index();
        const AVRational tb = input->ctx->streams[si]->time_base;
        const auto shift = av_rescale_q(offset_ms, AVRational{1, 1000}, tb);
        pkt->dts += shift;
        if (pkt->pts != AV_NOPTS_VALUE) pkt->pts += shift;
        end_ms = std::max(end_ms, av_rescale_q(pkt->dts + std::max<std::int64_t>(pkt->duration, 0),
                                               tb, AVRational{1, 1000}));
        file.write(out_index, pkt.get(), tb);
        av_packet_unref(pkt.get());
      }
      offset_ms = end_ms + 1;
    }
    file.finish();
  } catch (...) {
    fs::remove(tmp, ec);  // a full disk leaves no half-written VOD behind
    throw;
  }
  inputs.clear();
  if (!set_aside.empty()) fs::rename(out, set_aside);
  fs::rename(tmp, out);
  fs::remove(fragmented, ec);
  return Finalized::appended;
}

}  // namespace

// Counted here, so a recording finalized at end and one after a restart both are.
Finalized finalize_recording(const fs::path& fragmented, const fs::path& out) {
  Finalized made{};
  try {
    made = append_recording(fragmented, out);
  } catch (...) {
    packager_metrics().recordings_failed.inc();
    throw;
  }
  if (made == Finalized::appended) packager_metrics().recordings_finalized.inc();
  return made;
}

}  // namespace souk::packager
