// TsMuxer: libavformat's mpegts muxer writing through a callback into one
// segment file after another.
#include "souk/packager/ts_muxer.hpp"

extern "C" {
#include <libavutil/opt.h>
}

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace souk::packager {
namespace {

// libavformat's own default for files (IO_BUFFER_SIZE, aviobuf.c).
constexpr int io_buffer_size = 32768;

}  // namespace

TsMuxer::TsMuxer(const AVCodecParameters* video, const AVCodecParameters* audio) {
  check_av(avformat_alloc_output_context2(&ctx_, nullptr, "mpegts", nullptr), "allocate muxer");
  try {
    if (video) video_index_ = add_output_stream(ctx_, video);
    if (audio) audio_index_ = add_output_stream(ctx_, audio);
    auto* buffer = static_cast<unsigned char*>(av_malloc(io_buffer_size));
    if (!buffer) throw AvError("allocate output buffer", AVERROR(ENOMEM));
    ctx_->pb = avio_alloc_context(buffer, io_buffer_size, 1, this, nullptr, &TsMuxer::write_packet, nullptr);
    if (!ctx_->pb) {
      av_free(buffer);
      throw AvError("allocate output", AVERROR(ENOMEM));
    }
    ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;
    // Written when the buffer fills and at each segment's close, not after every
    // packet (a write(2) per frame).
    ctx_->flush_packets = 0;
    // mpegts writes nothing here (PAT and PMT come with the first packet), and
    // may change each stream's time base to 90 kHz.
    check_av(avformat_write_header(ctx_, nullptr), "write header");
  } catch (...) {
    if (ctx_->pb) {
      av_freep(&ctx_->pb->buffer);
      avio_context_free(&ctx_->pb);
    }
    avformat_free_context(ctx_);
    ctx_ = nullptr;
    throw;
  }
}

TsMuxer::~TsMuxer() {
  // No trailer: whatever the muxer still holds belonged to a segment already
  // closed or abandoned.
  close_file();
  av_freep(&ctx_->pb->buffer);
  avio_context_free(&ctx_->pb);
  avformat_free_context(ctx_);
}

void TsMuxer::open_segment(const std::filesystem::path& path) {
  if (fd_ >= 0) throw std::logic_error("TsMuxer: a segment is already open");
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw AvError("open output", AVERROR(errno));
  // PAT and PMT (and SDT) before the segment's first packet, once.
  check_av(av_opt_set(ctx_->priv_data, "mpegts_flags", "+resend_headers", 0), "resend headers");
}

void TsMuxer::write(int index, AVPacket* pkt) {
  pkt->stream_index = index;
  av_packet_rescale_ts(pkt, AVRational{1, 1000}, ctx_->streams[index]->time_base);
  pkt->pos = -1;
  check_av(av_write_frame(ctx_, pkt), "write packet");
}

void TsMuxer::close_segment() {
  if (fd_ < 0) return;
  // Flushes the muxer's held PES data, then the AVIO buffer, into this file.
  int err = av_write_frame(ctx_, nullptr);
  if (err >= 0) {
    avio_flush(ctx_->pb);
    err = ctx_->pb->error;
  }
  // The file is whole (or failed) either way; closing it cannot lose more.
  const int closed = ::close(fd_);
  const int close_errno = errno;
  fd_ = -1;
  check_av(err, "close segment");
  if (closed != 0) throw AvError("close segment", AVERROR(close_errno));
}

void TsMuxer::close_file() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

int TsMuxer::write_packet(void* opaque, std::uint8_t* buf, int size) {
  auto* self = static_cast<TsMuxer*>(opaque);
  if (self->fd_ < 0) return AVERROR(EBADF);  // bytes with no segment to go to
  int done = 0;
  while (done < size) {
    const ssize_t n = ::write(self->fd_, buf + done, static_cast<std::size_t>(size - done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return AVERROR(errno);
    }
    done += static_cast<int>(n);
  }
  return size;
}

}  // namespace souk::packager
