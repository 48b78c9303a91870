// Small RAII owners and helpers over FFmpeg's C API (libavformat/libavcodec).
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace souk::ingest {
struct Frame;
}

namespace souk::packager {

// Sends FFmpeg's own log lines (warnings and errors) through souk::log, one
// line each, tagged with the FFmpeg component that wrote them.
void route_ffmpeg_logs();

// "what: FFmpeg's message" for a negative AVERROR.
std::string av_error_text(int err);

class AvError : public std::runtime_error {
 public:
  AvError(const std::string& what, int err) : std::runtime_error(what + ": " + av_error_text(err)), code(err) {}
  int code;
};

inline void check_av(int err, const char* what) {
  if (err < 0) throw AvError(what, err);
}

struct CodecParametersDeleter {
  void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); }
};
using CodecParametersPtr = std::unique_ptr<AVCodecParameters, CodecParametersDeleter>;

struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;

// The frame's payload, copied, as a packet in milliseconds: dts shifted by
// `offset_ms`, pts likewise but never before dts; flagged key for a keyframe.
PacketPtr packet_of(const ingest::Frame& f, std::int64_t offset_ms = 0);

// Adds an output stream to `ctx` with a copy of `par` (the muxer picks the
// codec tag; timestamps come in milliseconds); returns its index.
int add_output_stream(AVFormatContext* ctx, const AVCodecParameters* par);

// An output file: muxer context and its AVIO, closed (trailer written) by finish()
// or abandoned by the destructor.
class OutputFile {
 public:
  // Opens `path` with `format` ("mpegts", "mp4"); one output stream per given
  // parameters (nullptr entries are skipped and get index -1). Packets reach
  // the muxer interleaved by dts across streams (av_interleaved_write_frame,
  // which queues them).
  OutputFile(const std::string& path, const char* format, const AVCodecParameters* video,
             const AVCodecParameters* audio, AVDictionary** options = nullptr);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int video_index() const { return video_index_; }
  int audio_index() const { return audio_index_; }
  AVStream* stream(int index) const { return ctx_->streams[index]; }

  // Writes a packet for stream `index` whose timestamps are in `time_base`
  // (milliseconds unless told).
  void write(int index, AVPacket* pkt, AVRational time_base = AVRational{1, 1000});
  void finish();  // writes the trailer and closes the file
  // Bytes handed to the file so far (all of them, when the muxer flushes each packet).
  std::int64_t bytes_written() const { return ctx_ && ctx_->pb ? avio_tell(ctx_->pb) : 0; }

 private:
  AVFormatContext* ctx_ = nullptr;
  int video_index_ = -1;
  int audio_index_ = -1;
  bool finished_ = false;
};

}  // namespace souk::packager
