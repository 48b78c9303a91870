#include "souk/packager/packager.hpp"

#include <doctest/doctest.h>

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

using namespace souk;
using namespace souk::packager;

namespace {

struct NoRecordings : RecordingSink {
  void recording_ready(const std::string&, const std::filesystem::path&) override {}
};

ingest::FramePtr video_frame(const std::string& id, std::int64_t dts, bool keyframe, std::size_t bytes) {
  auto f = std::make_shared<ingest::Frame>();
  f->stream_id = id;
  f->kind = ingest::MediaKind::video;
  f->codec_id = ingest::codec_avc;
  f->dts_ms = f->pts_ms = dts;
  f->keyframe = keyframe;
  f->buffer = std::make_shared<const std::vector<std::uint8_t>>(bytes, std::uint8_t{0});
  return f;
}

ingest::FramePtr audio_frame(const std::string& id, std::int64_t dts) {
  auto f = std::make_shared<ingest::Frame>();
  f->stream_id = id;
  f->kind = ingest::MediaKind::audio;
  f->codec_id = ingest::codec_aac;
  f->dts_ms = f->pts_ms = dts;
  f->buffer = std::make_shared<const std::vector<std::uint8_t>>(200, std::uint8_t{0});
  return f;
}

PackagerOptions options_in(const std::string& name) {
  PackagerOptions options;
  options.data_dir = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  return options;
}

// A max_lag that tests reach by sleeping a little past it.
PackagerOptions short_lag_options(const std::string& name) {
  auto options = options_in(name);
  options.max_lag = std::chrono::milliseconds(200);
  return options;
}

// Keeps the pool's thread busy (a slow disk) until the returned promise is set.
std::promise<void> occupy(boost::asio::thread_pool& pool) {
  std::promise<void> release;
  boost::asio::post(pool, [done = release.get_future().share()] { done.wait(); });
  return release;
}

// A packager that records nothing, on a media pool of one thread; its data
// directory goes with it. Members go in reverse: the packager (and its batch
// timer) before the pool.
struct OneThreadPackager {
  explicit OneThreadPackager(PackagerOptions o)
      : options(std::move(o)), packager(pool, options, [](const std::string&) { return false; }, recordings) {}
  ~OneThreadPackager() { std::filesystem::remove_all(options.data_dir); }
  PackagerOptions options;
  boost::asio::thread_pool pool{1};
  NoRecordings recordings;
  Packager packager;
};

// Waits up to 5 s for the lane's queue to empty; whether it did.
bool drained(const Packager& packager, const std::string& id) {
  for (int tries = 0; tries < 500 && packager.backlog(id).frames > 0; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return packager.backlog(id).frames == 0;
}

}  // namespace

TEST_CASE("packager: a lane that falls behind drops by bytes as well as frames, and resumes at a keyframe") {
  OneThreadPackager t(options_in("souk-packager-queue"));
  auto& packager = t.packager;

  // The media pool is busy (a slow disk): nothing is drained meanwhile.
  auto release = occupy(t.pool);

  packager.publish_started("s");
  // 100 KB frames: the 3 MB bound is reached long before the 1000-frame one.
  std::int64_t dts = 0;
  for (int i = 0; i < 40; ++i) packager.on_frame(video_frame("s", dts += 33, i == 0, 100 * 1024));
  const auto dropped = packager.dropped_frames();
  CHECK(dropped >= 8);   // 31 frames fill 3 MB: the rest are dropped
  CHECK(dropped <= 10);
  // Still behind: not even a keyframe is taken until the backlog halves.
  packager.on_frame(video_frame("s", dts += 33, true, 100 * 1024));
  CHECK(packager.dropped_frames() == dropped + 1);

  CHECK(packager.backlog("s").bytes >= 3u * 1024 * 1024);

  release.set_value();
  REQUIRE(drained(packager, "s"));
  // Caught up, but a delta frame cannot start a picture: dropped until a keyframe.
  packager.on_frame(video_frame("s", dts += 33, false, 1000));
  CHECK(packager.dropped_frames() == dropped + 2);
  packager.on_frame(video_frame("s", dts += 33, true, 1000));
  packager.on_frame(video_frame("s", dts += 33, false, 1000));
  CHECK(packager.dropped_frames() == dropped + 2);  // resumed at the keyframe
  t.pool.join();
}

TEST_CASE("packager: a lane whose oldest frame has waited max_lag drops, however little it holds") {
  OneThreadPackager t(short_lag_options("souk-packager-lag"));
  auto& packager = t.packager;

  auto release = occupy(t.pool);
  packager.publish_started("s");
  std::int64_t dts = 0;
  packager.on_frame(video_frame("s", dts, true, 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  // Two small frames queued, far under the frame and byte bounds, but 250 ms behind.
  packager.on_frame(video_frame("s", dts += 33, false, 1000));
  packager.on_frame(video_frame("s", dts += 33, true, 1000));
  CHECK(packager.dropped_frames() == 2);
  CHECK(packager.backlog("s").frames == 1);

  release.set_value();
  REQUIRE(drained(packager, "s"));
  packager.on_frame(video_frame("s", dts += 33, true, 1000));
  CHECK(packager.dropped_frames() == 2);  // caught up: resumed at the keyframe
  CHECK(drained(packager, "s"));
  t.pool.join();
}

TEST_CASE("packager: a publisher's pause is not lag") {
  auto options = short_lag_options("souk-packager-pause");
  options.batch_interval = std::chrono::hours(1);  // delta frames wait in the inbox
  OneThreadPackager t(options);
  auto& packager = t.packager;
  packager.publish_started("s");
  std::int64_t dts = 0;
  packager.on_frame(video_frame("s", dts, true, 1000));
  REQUIRE(drained(packager, "s"));
  // The publisher goes quiet for longer than max_lag, then sends on: the frames
  // after the pause have not waited, though the last one packaged is old.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  packager.on_frame(video_frame("s", dts += 250, false, 1000));
  packager.on_frame(video_frame("s", dts += 33, false, 1000));
  CHECK(packager.dropped_frames() == 0);
  CHECK(packager.backlog("s").frames == 2);
  // No join: the batch timer, an hour away, goes with the packager.
}

TEST_CASE("packager: an audio-only lane that fell behind resumes at an audio frame") {
  OneThreadPackager t(short_lag_options("souk-packager-audio-lag"));
  auto& packager = t.packager;

  auto release = occupy(t.pool);
  packager.publish_started("a");
  packager.on_frame(audio_frame("a", 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  packager.on_frame(audio_frame("a", 21));
  CHECK(packager.dropped_frames() == 1);

  release.set_value();
  REQUIRE(drained(packager, "a"));
  packager.on_frame(audio_frame("a", 42));  // there is no keyframe to wait for
  CHECK(packager.dropped_frames() == 1);
  CHECK(drained(packager, "a"));
  t.pool.join();
}

TEST_CASE("packager: a lane stuck on a slow disk does not hold up the others") {
  const auto options = options_in("souk-packager-stall");
  boost::asio::thread_pool pool(2);
  NoRecordings recordings;
  // Asked on the media pool when a lane's packager starts: "stuck" blocks there,
  // as a stream whose disk stopped answering would in a write.
  std::promise<void> release;
  auto released = release.get_future().share();
  Packager packager(pool, options,
                    [released](const std::string& id) {
                      if (id == "stuck") released.wait();
                      return false;
                    },
                    recordings);

  // Both lanes come due in the same tick, "stuck" first: the thread that takes
  // it stalls, and the other media thread must still get to "fine".
  packager.publish_started("stuck");
  packager.publish_started("fine");
  std::int64_t dts = 0;
  for (int i = 0; i < 5; ++i) {
    packager.on_frame(video_frame("stuck", dts, i == 0, 1000));
    packager.on_frame(video_frame("fine", dts, i == 0, 1000));
    dts += 33;
  }
  CHECK(drained(packager, "fine"));
  // And frames that arrive later still go through.
  packager.on_frame(video_frame("fine", dts += 33, false, 1000));
  CHECK(drained(packager, "fine"));
  CHECK(packager.backlog("stuck").frames == 5);

  release.set_value();
  CHECK(drained(packager, "stuck"));
  pool.join();
  std::filesystem::remove_all(options.data_dir);
}

TEST_CASE("packager: a frame that may close a segment reaches its lane at once, with those before it") {
  auto options = options_in("souk-packager-urgent");
  options.batch_interval = std::chrono::hours(1);  // batches never come due here
  OneThreadPackager t(options);
  auto& packager = t.packager;
  packager.publish_started("v");
  packager.publish_started("a");

  // Video: audio and delta frames wait for the batch; a keyframe takes them along.
  std::int64_t dts = 0;
  for (int i = 0; i < 3; ++i) {
    packager.on_frame(video_frame("v", dts += 33, false, 1000));
    packager.on_frame(audio_frame("v", dts));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(packager.backlog("v").frames == 6);
  packager.on_frame(video_frame("v", dts += 33, true, 1000));
  CHECK(drained(packager, "v"));
  // Once a stream has video, its audio waits.
  packager.on_frame(audio_frame("v", dts += 21));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(packager.backlog("v").frames == 1);

  // Audio only: any audio frame may close a segment.
  packager.on_frame(audio_frame("a", 0));
  CHECK(drained(packager, "a"));
  // No join: the batch timer, an hour away, goes with the packager.
}
