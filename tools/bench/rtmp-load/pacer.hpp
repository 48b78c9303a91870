// When one publishing session hands each tag to its socket (--pace-ms), and its
// place in the looping media. Two clocks of real clients:
//
//   0 (librtmp and tag patterns): each tag at its timestamp, as an encoder sends a
//     frame when it comes out (rtmp-publish --realtime measures the same).
//   N > 0 (ffmpeg pattern, 10): ffmpeg -re's read loop (fftools/ffmpeg.c 5.1).
//     get_input_packet reads the next packet only while no stream's last read
//     packet is ahead of the clock; otherwise transcode() sleeps 10 ms and looks
//     again. The muxer's interleaver then holds each packet until every stream has
//     one queued. So packets leave in groups on a ~10 ms grid, some ahead of time:
//     about 53 groups a second for the 720p30 fixture instead of 77 tags.
#pragma once

#include "media.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace rtmp_load {

struct TimedTag {
  const MediaTag* tag = nullptr;
  std::uint64_t time_ms = 0;  // the tag's timestamp plus the passes before it
};

class Pacer {
 public:
  // Tags from media time 0 up to (not including) `end_ms`.
  Pacer(const Media& media, std::uint32_t pace_ms, std::uint64_t end_ms);

  // Appends, in sending order, the tags to send once `elapsed_us` have passed
  // since the session started; with `ahead_us` (--batch-ms) also those due that
  // much later (at-timestamp pacing only).
  void take(std::int64_t elapsed_us, std::int64_t ahead_us, std::vector<TimedTag>& out);
  // When to look again, in µs since the start; meaningful while !done().
  std::int64_t next_look_us(std::int64_t elapsed_us) const;
  // Every tag before end_ms has been handed out.
  bool done() const { return read_all_ && held_.empty(); }

 private:
  TimedTag read();
  bool may_read(std::int64_t elapsed_us) const;
  void release(bool everything, std::vector<TimedTag>& out);

  const Media& media_;
  const std::uint32_t pace_ms_;
  const std::uint64_t end_ms_;
  std::size_t position_ = 0;  // index into media_.tags of the next tag to read
  std::uint32_t loop_ = 0;
  std::uint64_t next_time_ = 0;  // media time of that tag
  bool read_all_ = false;        // that tag is at or past end_ms

  // ffmpeg -re, per stream (0 audio, 1 video): present in the media, the media
  // time of its last read packet (-1: none yet), its packets in the interleaver.
  std::array<bool, 2> present_{};
  std::array<std::int64_t, 2> last_read_{-1, -1};
  std::array<std::size_t, 2> held_count_{};
  std::deque<TimedTag> held_;
};

}  // namespace rtmp_load
