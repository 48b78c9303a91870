// finalize_recording: fragmented MP4 (plus an earlier VOD part) -> faststart MP4.
#include "souk/packager/recording_finalizer.hpp"

#include "souk/packager/av_util.hpp"
#include "souk/packager/packager_metrics.hpp"

#include <algorithm>
#include <memory>
#include <vector>

namespace souk::packager {
namespace fs = std::filesystem;

namespace {

// An input file opened for reading, closed with its owner.
struct InputFile {
  explicit InputFile(const fs::path& path) {
    check_av(avformat_open_input(&ctx, path.c_str(), nullptr, nullptr), "open recording");
    if (const int err = avformat_find_stream_info(ctx, nullptr); err < 0) {
      avformat_close_input(&ctx);
      throw AvError("read recording", err);
    }
  }
  ~InputFile() { avformat_close_input(&ctx); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int first_stream(AVMediaType type) const {
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
      if (ctx->streams[i]->codecpar->codec_type == type) return static_cast<int>(i);
    }
    return -1;
  }

  AVFormatContext* ctx = nullptr;
};

// The fragmented recording `fragmented` as a plain MP4 at `out` (after what
// `out` already holds). Throws on failure.
void append_recording(const fs::path& fragmented, const fs::path& out) {
  // A VOD already there is the part recorded before a restart: the new part
  // follows it in the same file.
  std::vector<std::unique_ptr<InputFile>> inputs;
  std::error_code ec;
  if (fs::exists(out, ec)) inputs.push_back(std::make_unique<InputFile>(out));
  inputs.push_back(std::make_unique<InputFile>(fragmented));

  const auto& first = *inputs.front();
  const int video_first = first.first_stream(AVMEDIA_TYPE_VIDEO);
  const int audio_first = first.first_stream(AVMEDIA_TYPE_AUDIO);
  const auto tmp = fs::path(out.string() + ".tmp");
  struct DictionaryOwner {
    AVDictionary* d = nullptr;
    ~DictionaryOwner() { av_dict_free(&d); }
  } opts;
  av_dict_set(&opts.d, "movflags", "faststart", 0);  // moov before mdat: seekable at once
  try {
    OutputFile file(
        tmp.string(), "mp4", video_first >= 0 ? first.ctx->streams[video_first]->codecpar : nullptr,
        audio_first >= 0 ? first.ctx->streams[audio_first]->codecpar : nullptr, &opts.d);
    PacketPtr pkt(av_packet_alloc());
    std::int64_t offset_ms = 0;  // where the current input starts in the output
    for (const auto& input : inputs) {
      const int video_in = input->first_stream(AVMEDIA_TYPE_VIDEO);
      const int audio_in = input->first_stream(AVMEDIA_TYPE_AUDIO);
      std::int64_t end_ms = offset_ms;
      while (true) {
        const int err = av_read_frame(input->ctx, pkt.get());
        if (err < 0) break;  // end of file, or a truncated last fragment: the recording ends there
        const int si = pkt->stream_index;
        const int out_index = si == video_in   ? file.video_index()
                              : si == audio_in ? file.audio_index()
                                               : -1;
        // A sample cut short (a crash mid-fragment) is dropped, not decoded as garbage.
        if (out_index < 0 || pkt->dts == AV_NOPTS_VALUE || (pkt->flags & AV_PKT_FLAG_CORRUPT)) {
          av_packet_unref(pkt.get());
          continue;
        }
        const AVRational tb = input->ctx->streams[si]->time_base;
        const auto shift = av_rescale_q(offset_ms, AVRational{1, 1000}, tb);
        pkt->dts += shift;
        if (pkt->pts != AV_NOPTS_VALUE) pkt->pts += shift;
        end_ms = std::max(end_ms, av_rescale_q(pkt->dts + std::max<std::int64_t>(pkt->duration, 0),
                                               tb, AVRational{1, 1000}));
        file.write(out_index, pkt.get(), tb);
      }
      offset_ms = end_ms + 1;
    }
    file.finish();
  } catch (...) {
    fs::remove(tmp, ec);  // a full disk leaves no half-written VOD behind
    throw;
  }
  inputs.clear();
  fs::rename(tmp, out);
  fs::remove(fragmented, ec);
}

}  // namespace

// Counted here, so a recording finalized at end and one after a restart both are.
void finalize_recording(const fs::path& fragmented, const fs::path& out) {
  try {
    append_recording(fragmented, out);
  } catch (...) {
    packager_metrics().recordings_failed.inc();
    throw;
  }
  packager_metrics().recordings_finalized.inc();
}

}  // namespace souk::packager
