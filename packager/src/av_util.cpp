// FFmpeg RAII helpers (the shape of doc/examples/remux.c, with owners instead of goto).
#include "souk/packager/av_util.hpp"

#include "souk/ingest/frame.hpp"
#include "souk/log.hpp"
#include "souk/refusals.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace souk::packager {
namespace {

// At most one line per interval for each format string of FFmpeg's (and level),
// with the count left unlogged: a decoder or muxer that complains about every
// frame (a corrupt packet, a timestamp it does not like) would otherwise write a
// line per frame (issue 21: 2,000 lines for 2,000 frames). The format is what
// repeats; the text differs by its numbers.
class RepeatThrottle {
 public:
  // nullopt: drop this line; else log it with the count suppressed before it.
  std::optional<std::uint64_t> admit(const char* fmt, int level) {
    std::lock_guard lock(mutex_);
    // The set of format strings is FFmpeg's, small and fixed; a cap guards the rest.
    const Key key{fmt, level};
    auto it = by_format_.find(key);
    if (it == by_format_.end()) {
      if (by_format_.size() >= max_formats) return overflow_.admit();
      it = by_format_.try_emplace(key).first;
    }
    return it->second.admit();
  }

 private:
  static constexpr std::size_t max_formats = 256;
  using Key = std::pair<const char*, int>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<const char*>()(k.first) ^ static_cast<std::size_t>(k.second);
    }
  };
  std::mutex mutex_;  // av_log is called from every packager worker
  std::unordered_map<Key, LogThrottle, KeyHash> by_format_;
  LogThrottle overflow_;
};

void ffmpeg_log(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  static RepeatThrottle throttle;
  const auto suppressed = throttle.admit(fmt, level);
  if (!suppressed) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  // Muxer warnings (durations estimated, moov moved) are routine: debug level.
  if (level <= AV_LOG_ERROR) {
    log::warn("ffmpeg", {{"message", text}, {"suppressed", *suppressed}});
  } else {
    log::debug("ffmpeg", {{"message", text}, {"suppressed", *suppressed}});
  }
}

}  // namespace

void route_ffmpeg_logs() { av_log_set_callback(ffmpeg_log); }

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

int add_output_stream(AVFormatContext* ctx, const AVCodecParameters* par) {
  AVStream* st = avformat_new_stream(ctx, nullptr);
  if (!st) throw AvError("new stream", AVERROR(ENOMEM));
  check_av(avcodec_parameters_copy(st->codecpar, par), "copy codec parameters");
  st->codecpar->codec_tag = 0;  // let the muxer pick its tag
  st->time_base = AVRational{1, 1000};
  return st->index;
}

OutputFile::OutputFile(const std::string& path, const char* format, const AVCodecParameters* video,
                       const AVCodecParameters* audio, AVDictionary** options) {
  check_av(avformat_alloc_output_context2(&ctx_, nullptr, format, path.c_str()), "allocate muxer");
  try {
    if (video) video_index_ = add_output_stream(ctx_, video);
    if (audio) audio_index_ = add_output_stream(ctx_, audio);
    check_av(avio_open(&ctx_->pb, path.c_str(), AVIO_FLAG_WRITE), "open output");
    // The muxer may change each stream's time base here.
    check_av(avformat_write_header(ctx_, options), "write header");
  } catch (...) {
    if (ctx_->pb) avio_closep(&ctx_->pb);
    avformat_free_context(ctx_);
    ctx_ = nullptr;
    throw;
  }
}

OutputFile::~OutputFile() {
  if (!ctx_) return;
  if (ctx_->pb) avio_closep(&ctx_->pb);
  avformat_free_context(ctx_);
}

void OutputFile::write(int index, AVPacket* pkt, AVRational time_base) {
  pkt->stream_index = index;
  av_packet_rescale_ts(pkt, time_base, ctx_->streams[index]->time_base);
  pkt->pos = -1;
  // Takes the packet's contents; interleaves audio and video by dts.
  check_av(av_interleaved_write_frame(ctx_, pkt), "write packet");
}

void OutputFile::finish() {
  if (finished_ || !ctx_) return;
  finished_ = true;
  check_av(av_write_trailer(ctx_), "write trailer");
  check_av(avio_closep(&ctx_->pb), "close output");
}

PacketPtr packet_of(const ingest::Frame& f, std::int64_t offset_ms) {
  PacketPtr pkt(av_packet_alloc());
  const auto data = f.data();
  check_av(av_new_packet(pkt.get(), static_cast<int>(data.size())), "allocate packet");
  std::memcpy(pkt->data, data.data(), data.size());
  pkt->dts = f.dts_ms + offset_ms;
  pkt->pts = std::max(f.pts_ms, f.dts_ms) + offset_ms;
  if (f.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
  return pkt;
}

}  // namespace souk::packager
