// FFmpeg RAII helpers (the shape of doc/examples/remux.c, with owners instead of goto).
#include "souk/packager/av_util.hpp"

#include "souk/ingest/frame.hpp"
#include "souk/log.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <string>

namespace souk::packager {
namespace {

void ffmpeg_log(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  // Muxer warnings (durations estimated, moov moved) are routine: debug level.
  if (level <= AV_LOG_ERROR) {
    log::warn("ffmpeg", {{"message", text}});
  } else {
    log::debug("ffmpeg", {{"message", text}});
  }
}

}  // namespace

void route_ffmpeg_logs() { av_log_set_callback(ffmpeg_log); }

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

OutputFile::OutputFile(const std::string& path, const char* format, const AVCodecParameters* video,
                       const AVCodecParameters* audio, AVDictionary** options, Order order)
    : order_(order) {
  check_av(avformat_alloc_output_context2(&ctx_, nullptr, format, path.c_str()), "allocate muxer");
  try {
    const auto add = [&](const AVCodecParameters* par) {
      AVStream* st = avformat_new_stream(ctx_, nullptr);
      if (!st) throw AvError("new stream", AVERROR(ENOMEM));
      check_av(avcodec_parameters_copy(st->codecpar, par), "copy codec parameters");
      st->codecpar->codec_tag = 0;  // let the muxer pick its tag
      st->time_base = AVRational{1, 1000};
      return st->index;
    };
    if (video) video_index_ = add(video);
    if (audio) audio_index_ = add(audio);
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
  if (order_ == Order::interleaved) {
    // Takes the packet's contents; interleaves audio and video by dts.
    check_av(av_interleaved_write_frame(ctx_, pkt), "write packet");
  } else {
    check_av(av_write_frame(ctx_, pkt), "write packet");
  }
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
