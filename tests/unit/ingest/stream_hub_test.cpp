#include "souk/ingest/stream_hub.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace souk::ingest;

namespace {

struct FakePublisher : Publisher {
  int kicked = 0;
  void kick(const char*) override { ++kicked; }
};

struct Recorder : FrameSink, IngestListener {
  std::vector<std::string> events;
  std::vector<FramePtr> frames;
  void publish_started(const std::string& id) override { events.push_back("sink-start " + id); }
  void on_frame(const FramePtr& f) override { frames.push_back(f); }
  void publish_stopped(const std::string& id) override { events.push_back("sink-stop " + id); }
  void publisher_started(const std::string& id) override { events.push_back("started " + id); }
  void publisher_stopped(const std::string& id) override { events.push_back("stopped " + id); }
};

FramePtr frame(const std::string& stream, MediaKind kind) {
  auto f = std::make_shared<Frame>();
  f->stream_id = stream;
  f->kind = kind;
  f->codec_id = kind == MediaKind::video ? codec_avc : codec_aac;
  f->buffer = std::make_shared<std::vector<std::uint8_t>>(100, 0);
  f->offset = 2;
  return f;
}

}  // namespace

TEST_CASE("hub: one publisher per stream; frames reach every sink as the same object") {
  StreamHub hub;
  Recorder rec, rec2;
  hub.add_sink(&rec);
  hub.add_sink(&rec2);
  hub.add_listener(&rec);
  auto a = std::make_shared<FakePublisher>();
  auto b = std::make_shared<FakePublisher>();
  CHECK(hub.claim("s1", a));
  CHECK_FALSE(hub.claim("s1", b));  // a has just started: not silent
  CHECK(hub.status("s1")->publishing);

  const auto f = frame("s1", MediaKind::video);
  hub.on_frame(a.get(), f);
  hub.on_frame(b.get(), frame("s1", MediaKind::video));  // not the publisher: ignored
  REQUIRE(rec.frames.size() == 1);
  CHECK(rec.frames[0] == f);
  CHECK(rec2.frames[0] == f);  // shared, not copied
  CHECK(hub.status("s1")->media.video->codec == "h264");

  hub.release("s1", b.get());  // not the publisher: no effect
  CHECK(hub.status("s1"));
  hub.release("s1", a.get());
  CHECK_FALSE(hub.status("s1"));
  CHECK(rec.events == std::vector<std::string>{"sink-start s1", "started s1", "sink-stop s1",
                                               "stopped s1"});
}

TEST_CASE("hub: a silent publisher is replaced at once") {
  StreamHub hub(std::chrono::milliseconds(20));
  Recorder rec;
  hub.add_listener(&rec);
  auto a = std::make_shared<FakePublisher>();
  auto b = std::make_shared<FakePublisher>();
  CHECK(hub.claim("s1", a));
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  CHECK(hub.claim("s1", b));
  CHECK(a->kicked == 1);
  hub.release("s1", a.get());  // the old session's late goodbye changes nothing
  CHECK(hub.status("s1"));
  // Listeners saw one continuous publication.
  CHECK(rec.events == std::vector<std::string>{"started s1"});
}

TEST_CASE("hub: kick disconnects the stream's publisher") {
  StreamHub hub;
  auto a = std::make_shared<FakePublisher>();
  hub.claim("s1", a);
  hub.kick("s1", "ended");
  hub.kick("unknown", "ended");
  CHECK(a->kicked == 1);
}
