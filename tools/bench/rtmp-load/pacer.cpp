// Pacing of one rtmp-load session (see pacer.hpp).
#include "pacer.hpp"

namespace rtmp_load {
namespace {

// The interleaver's stream of a tag: 0 audio, 1 video.
std::size_t stream_of(const MediaTag& tag) {
  return tag.type == rtmp_publish::flv_tag_video ? 1 : 0;
}

}  // namespace

Pacer::Pacer(const Media& media, std::uint32_t pace_ms, std::uint64_t end_ms)
    : media_(media), pace_ms_(pace_ms), end_ms_(end_ms) {
  for (const auto& tag : media.tags) {
    if (!tag.first_pass_only && tag.type != rtmp_publish::flv_tag_script_data) {
      present_[stream_of(tag)] = true;
    }
  }
  next_time_ = media.tags.empty() ? 0 : media.tags.front().timestamp;
  read_all_ = media.tags.empty();
}

// The tag at the position; then on to the next one to send: the sequence headers
// and metadata only on the first pass, and a new pass pass_ms later so timestamps
// keep rising.
TimedTag Pacer::read() {
  const auto& tags = media_.tags;
  const TimedTag t{&tags[position_], next_time_};
  for (;;) {
    if (++position_ == tags.size()) {
      position_ = 0;
      ++loop_;
    }
    if (loop_ == 0 || !tags[position_].first_pass_only) break;
  }
  next_time_ = tags[position_].timestamp + std::uint64_t{loop_} * media_.pass_ms;
  read_all_ = next_time_ >= end_ms_;
  return t;
}

void Pacer::take(std::int64_t elapsed_us, std::int64_t ahead_us, std::vector<TimedTag>& out) {
  if (pace_ms_ == 0) {
    while (!read_all_ && static_cast<std::int64_t>(next_time_) * 1000 <= elapsed_us + ahead_us) {
      out.push_back(read());
    }
    return;
  }
  while (!read_all_ && may_read(elapsed_us)) {
    const TimedTag t = read();
    if (t.tag->first_pass_only || t.tag->type == rtmp_publish::flv_tag_script_data) {
      out.push_back(t);  // what ffmpeg sends from avformat_write_header, before any packet
      continue;
    }
    const std::size_t stream = stream_of(*t.tag);
    last_read_[stream] = static_cast<std::int64_t>(t.time_ms);
    held_.push_back(t);
    ++held_count_[stream];
    release(false, out);
  }
  if (read_all_) release(true, out);  // av_write_trailer flushes the interleaver
}

// ffmpeg -re: no stream's last read packet is ahead of the clock.
bool Pacer::may_read(std::int64_t elapsed_us) const {
  for (std::size_t k = 0; k < present_.size(); ++k) {
    if (present_[k] && last_read_[k] * 1000 > elapsed_us) return false;
  }
  return true;
}

// The interleaver writes its oldest packet once every stream has one queued
// (the file is in timestamp order, so the oldest is the first held).
void Pacer::release(bool everything, std::vector<TimedTag>& out) {
  while (!held_.empty()) {
    if (!everything) {
      for (std::size_t k = 0; k < present_.size(); ++k) {
        if (present_[k] && held_count_[k] == 0) return;
      }
    }
    const TimedTag t = held_.front();
    held_.pop_front();
    --held_count_[stream_of(*t.tag)];
    out.push_back(t);
  }
}

std::int64_t Pacer::next_look_us(std::int64_t elapsed_us) const {
  if (pace_ms_ == 0) return static_cast<std::int64_t>(next_time_) * 1000;
  return elapsed_us + std::int64_t{pace_ms_} * 1000;
}

}  // namespace rtmp_load
