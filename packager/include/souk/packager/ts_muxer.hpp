// One MPEG-TS muxer (libavformat's) for all the segments of one publish. Each
// segment is a file of its own, but the transport stream runs on across them,
// as FFmpeg's hls muxer and nginx-rtmp write it: the continuity counters and the
// muxer's clock carry over, so a player that reads the segments back to back
// sees one stream. (A muxer per segment restarts every counter: GStreamer's
// tsdemux warns "CONTINUITY: Mismatch" at each segment, issue 22.) Each segment
// still starts with PAT and PMT, so it can be decoded alone.
//
// Blocking (disk): runs on the stream's media strand, like its writer.
#pragma once

#include "souk/packager/av_util.hpp"

#include <filesystem>

namespace souk::packager {

class TsMuxer {
 public:
  // One output stream per given parameters (nullptr: none; its index is -1).
  TsMuxer(const AVCodecParameters* video, const AVCodecParameters* audio);
  ~TsMuxer();
  TsMuxer(const TsMuxer&) = delete;
  TsMuxer& operator=(const TsMuxer&) = delete;

  int video_index() const { return video_index_; }
  int audio_index() const { return audio_index_; }

  // Packets from now on go into a new file at `path` (created, or truncated),
  // PAT and PMT first. A segment must not be open.
  void open_segment(const std::filesystem::path& path);
  bool segment_open() const { return fd_ >= 0; }
  // Writes a packet for stream `index`, timestamps in milliseconds, into the
  // open segment, in the order given (the publisher's order: no interleaving).
  void write(int index, AVPacket* pkt);
  // Writes what the muxer still holds (audio waiting to fill a PES packet) into
  // the segment, and closes its file.
  void close_segment();

  // Each throws AvError when the file cannot be written (a full disk); the
  // muxer is then in no state to go on (bytes of the failed segment may wait in
  // it): the caller drops it, and the next segment starts a new one.

 private:
  // libavformat's write callback (FFmpeg 5.1's signature): into the open segment.
  static int write_packet(void* opaque, std::uint8_t* buf, int size);
  void close_file();

  AVFormatContext* ctx_ = nullptr;
  int video_index_ = -1;
  int audio_index_ = -1;
  int fd_ = -1;  // the open segment's file, or -1
};

}  // namespace souk::packager
