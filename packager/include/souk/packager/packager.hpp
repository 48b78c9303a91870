// The packager as the ingest hub sees it: a FrameSink that gives every stream
// its own StreamPackager on a strand of the media pool, behind a bounded queue,
// so a slow disk delays that stream's files but never an RTMP read.
#pragma once

#include "souk/ingest/stream_hub.hpp"
#include "souk/metrics.hpp"
#include "souk/packager/stream_packager.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace souk::packager {

// Told when a stream's VOD file is complete.
class RecordingSink {
 public:
  virtual ~RecordingSink() = default;
  virtual void recording_ready(const std::string& stream_id, const std::filesystem::path& path) = 0;
};

class Packager final : public ingest::FrameSink {
 public:
  // `should_record(stream_id)` may block (it is asked on the media pool).
  Packager(boost::asio::thread_pool& media_pool, PackagerOptions options,
           std::function<bool(const std::string&)> should_record, RecordingSink& recordings);
  ~Packager() override;

  void publish_started(const std::string& stream_id) override;
  void on_frame(const ingest::FramePtr& frame) override;
  void publish_stopped(const std::string& stream_id) override;

  // The stream ended: ENDLIST, finalize the recording. Asynchronous.
  void end_stream(const std::string& stream_id);
  // Whether a recording of the stream has started (and will become a VOD).
  bool has_recording(const std::string& stream_id) const;

  // Repairs what a previous run (crash or kill) left half done: fragmented
  // recordings are finalized (and announced unless the stream is still live, in
  // which case a later part will follow them; one without media is removed and
  // leaves the VOD as it was, announced only if there is one), and playlists of
  // streams that ended get their ENDLIST. Blocking: call at start-up, before
  // publishers arrive.
  void recover(const std::function<bool(const std::string&)>& still_live);

  // Frames dropped because a stream's queue was full.
  std::uint64_t dropped_frames() const { return dropped_.load(); }
  // What waits for a stream's packager: frames and their payload bytes.
  struct Backlog {
    std::size_t frames = 0;
    std::size_t bytes = 0;
  };
  Backlog backlog(const std::string& stream_id) const;

 private:
  // What reaches a lane, in the order the hub said it: a publisher's start and
  // stop go through the same queue as its frames, so a new publisher's sequence
  // headers never arrive before its packager exists (nor an old one's last frames
  // after the next one started).
  struct Queued {
    enum class Kind { started, frame, stopped };
    Kind kind = Kind::frame;
    ingest::FramePtr frame;
    std::int64_t wall_clock_ms = 0;  // when it arrived: now_millis()
    std::int64_t arrival_ms = 0;     // the same on the steady clock (lag)
  };
  struct Lane {
    Lane(boost::asio::thread_pool& pool, std::string id)
        : strand(boost::asio::make_strand(pool)), stream_id(std::move(id)) {}
    boost::asio::strand<boost::asio::thread_pool::executor_type> strand;
    const std::string stream_id;
    std::unique_ptr<StreamPackager> packager;  // touched only on the strand
    std::atomic<std::size_t> queued{0};        // frames in the inbox or posted
    std::atomic<std::size_t> queued_bytes{0};  // their payload bytes
    // When the oldest frame not yet packaged arrived, or the last packaged one
    // when none waits: how far behind the lane is (steady clock, milliseconds).
    std::atomic<std::int64_t> front_arrival_ms{0};
    std::atomic<bool> dropping{false};   // on the hub's side: skipping until the next keyframe
    std::atomic<bool> has_video{false};  // on the hub's side: a video frame came
    bool ended = false;
    std::mutex inbox_mutex;
    std::vector<Queued> inbox;     // frames not yet handed to the strand
    // The batch drain() works through (on the strand); swapped with the inbox,
    // so the two vectors' capacity is reused instead of grown anew each batch.
    std::vector<Queued> draining;
    bool drain_pending = false;    // the lane is in ready_ or its drain is posted
  };

  std::shared_ptr<Lane> lane(const std::string& stream_id, bool create);
  // Whether the lane is past 1/divisor of its bounds: frames, bytes or wait.
  bool behind(const Lane& lane, std::int64_t now_ms, std::size_t divisor) const;
  // Handles what waits in the lane's inbox, in order (on its strand).
  void drain(Lane& lane);
  void post_drain(const std::shared_ptr<Lane>& lane);  // drain on the lane's strand
  // Queues `q`; drains the lane now when `urgent`, else with the next batch.
  void enqueue(const std::shared_ptr<Lane>& lane, Queued q, bool urgent = false);
  void schedule_drain(const std::shared_ptr<Lane>& lane);
  // Appends ENDLIST to a playlist left without one (blocking).
  void end_playlist_file(const std::string& stream_id);
  void ensure_packager(Lane& lane, const std::string& stream_id);

  boost::asio::thread_pool& pool_;
  PackagerOptions options_;
  std::function<bool(const std::string&)> should_record_;
  RecordingSink& recordings_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Lane>> lanes_;
  std::set<std::string> recording_;
  std::atomic<std::uint64_t> dropped_{0};  // by this packager (the metric: by all)
  metrics::Counter& dropped_metric_;

  std::mutex ready_mutex_;  // ready_, batch_armed_ and batch_timer_
  std::vector<std::shared_ptr<Lane>> ready_;
  bool batch_armed_ = false;
  boost::asio::steady_timer batch_timer_;
};

}  // namespace souk::packager
