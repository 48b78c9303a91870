// StreamLifecycle over a real in-memory database, with fake observers, outbox and
// ingest status: go-live, end (and its refusals), end requests, the idle end,
// restart recovery, details and the public URLs.
#include "souk/api/stream_lifecycle.hpp"

#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/engagement.hpp"
#include "souk/storage/products.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"

#include <doctest/doctest.h>

#include <set>
#include <thread>

using namespace souk;
using namespace souk::api;
using storage::Connection;
using storage::IngestState;
using storage::StreamStatus;

namespace {

const std::string seller_id = "00000000-0000-4000-8000-0000000000a1";
const std::string other_id = "00000000-0000-4000-8000-0000000000a2";
const std::string follower_id = "00000000-0000-4000-8000-0000000000b1";
const std::string product_id = "00000000-0000-4000-8000-0000000000c1";
const std::string public_url = "http://example.test:8080";

struct RecordingObserver final : StreamObserver {
  std::vector<std::pair<std::string, std::vector<std::string>>> live;
  std::vector<std::pair<std::string, nlohmann::json>> ended;
  void stream_live(const std::string& id, const std::vector<std::string>& notified) override {
    live.emplace_back(id, notified);
  }
  void stream_ended(const std::string& id, const nlohmann::json& summary) override {
    ended.emplace_back(id, summary);
  }
  void product_tagged(const std::string&, const nlohmann::json&) override {}
};

struct FakeOutbox final : EventOutbox {
  struct Event {
    std::string type;
    std::string stream_id;
    nlohmann::json data;
  };
  std::vector<Event> events;
  int commits = 0;
  void enqueue(Connection&, const std::string& type, const std::string& stream_id,
               const nlohmann::json& data, UnixMillis) override {
    events.push_back({type, stream_id, data});
  }
  void committed() override { ++commits; }
};

struct FakeIngest final : IngestStatusSource {
  std::set<std::string> recorded;
  std::set<std::string> publishing_now;
  std::optional<nlohmann::json> publishing(const std::string& id) override {
    if (!publishing_now.count(id)) return std::nullopt;
    return nlohmann::json{{"video", nullptr}, {"audio", nullptr}, {"bitrateKbps", 2500}};
  }
  bool has_recording(const std::string& id) override { return recorded.count(id) > 0; }
};

// The id doubles as username and display name (unique, which is all that matters here).
storage::User user(const std::string& id, const std::string& role) {
  return storage::User{id,           id,           "h", role, id, std::nullopt, std::nullopt,
                       std::nullopt, 0,            std::nullopt};
}

// The refusal `f` throws; fails the test if it throws none.
template <class F>
LifecycleError refusal(F&& f) {
  try {
    f();
  } catch (const LifecycleError& e) {
    return e;
  }
  FAIL("no LifecycleError was thrown");
  throw std::logic_error("unreachable");
}

struct Fixture {
  storage::Database db{":memory:"};
  StreamLifecycle lifecycle{db, LifecycleOptions{public_url, 2000}};
  RecordingObserver observer;
  FakeOutbox outbox;
  FakeIngest ingest;
  storage::User seller = user(seller_id, "seller");
  storage::User other = user(other_id, "seller");

  Fixture() {
    lifecycle.add_observer(&observer);
    lifecycle.set_event_outbox(&outbox);
    lifecycle.set_ingest_status(&ingest);
    db.write([&](Connection& c) {
      storage::users::insert(c, seller);
      storage::users::insert(c, other);
      storage::users::insert(c, user(follower_id, "buyer"));
      storage::follows::add(c, follower_id, seller_id, 1);
      storage::products::insert(
          c, storage::Product{product_id, seller_id, "mug", 900, "EUR", std::nullopt, 1});
    });
  }

  // A scheduled stream of `seller`, with the product attached unless told otherwise.
  std::string make_stream(bool with_product = true) {
    storage::Stream s;
    s.id = uuid_v4();
    s.seller_id = seller_id;
    s.settings.title = "live sale";
    s.created_at = s.updated_at = now_millis();
    db.write([&](Connection& c) {
      storage::streams::insert(c, s);
      if (with_product) storage::stream_products::attach(c, s.id, product_id, s.created_at);
    });
    return s.id;
  }

  GoLiveResult go_live(const std::string& id) {
    return lifecycle.go_live(id, seller, [] { return GoLiveChecklist{true, true}; });
  }

  storage::Stream stored(const std::string& id) {
    return *db.read([&](Connection& c) { return storage::streams::find_by_id(c, id); });
  }

  std::int64_t open_sessions(const std::string& id) {
    return db.read([&](Connection& c) {
      auto q = c.query(
          "SELECT COUNT(*) FROM viewer_sessions WHERE stream_id = ? AND left_at IS NULL", id);
      q.next();
      return q->int64(0);
    });
  }
};

}  // namespace

TEST_CASE(
    "stream lifecycle: go-live stores a fresh key, notifies followers, tells observers and "
    "webhooks") {
  Fixture f;
  const auto id = f.make_stream();
  const auto live = f.go_live(id);
  CHECK(live.stream_id == id);
  CHECK(live.stream_key.size() >= 40);
  CHECK(live.notified == std::vector<std::string>{follower_id});
  CHECK(f.db.read([&](Connection& c) {
    return storage::streams::find_live_by_key_hash(c, sha256(live.stream_key));
  }) == id);
  const auto s = f.stored(id);
  CHECK(s.status == StreamStatus::live);
  CHECK(s.ingest_state == IngestState::waiting);
  CHECK(s.started_at == live.started_at);
  CHECK(s.notifications_sent == 1);

  REQUIRE(f.observer.live.size() == 1);
  CHECK(f.observer.live[0].first == id);
  CHECK(f.observer.live[0].second == live.notified);
  REQUIRE(f.outbox.events.size() == 1);
  CHECK(f.outbox.events[0].type == "stream.live");
  CHECK(f.outbox.events[0].data["status"] == "live");
  CHECK(f.outbox.events[0].data["hlsUrl"] == public_url + "/hls/" + id + "/index.m3u8");
  CHECK(f.outbox.events[0].data["ingest"]["state"] == "waiting");
  CHECK(f.outbox.commits == 1);
}

TEST_CASE("stream lifecycle: go-live refusals, ownership and state before the checklist") {
  Fixture f;
  const auto id = f.make_stream();
  bool checklist_read = false;
  const auto reading = [&checklist_read] {
    checklist_read = true;
    return GoLiveChecklist{true, true};
  };

  CHECK(refusal([&] { f.lifecycle.go_live(uuid_v4(), f.seller, reading); }).code() ==
        LifecycleErrc::stream_not_found);
  CHECK(refusal([&] { f.lifecycle.go_live("not-a-uuid", f.seller, reading); }).code() ==
        LifecycleErrc::stream_not_found);
  const auto stranger = refusal([&] { f.lifecycle.go_live(id, f.other, reading); });
  CHECK(stranger.code() == LifecycleErrc::not_owner);
  CHECK(std::string(stranger.what()) == "this stream is not yours");
  CHECK_FALSE(checklist_read);

  const auto camera = refusal([&] {
    f.lifecycle.go_live(id, f.seller, [] { return GoLiveChecklist{false, true}; });
  });
  CHECK(camera.code() == LifecycleErrc::camera_not_ready);
  CHECK(std::string(camera.what()) == "confirm the camera is ready");
  CHECK(refusal([&] {
          f.lifecycle.go_live(id, f.seller, [] { return GoLiveChecklist{true, false}; });
        }).code() == LifecycleErrc::checklist_incomplete);
  const auto bare = f.make_stream(/*with_product=*/false);
  CHECK(refusal([&] { f.go_live(bare); }).code() == LifecycleErrc::no_products);
  CHECK(f.stored(id).status == StreamStatus::scheduled);

  f.go_live(id);
  const auto again = refusal([&] { f.go_live(id); });
  CHECK(again.code() == LifecycleErrc::already_live);
  CHECK(std::string(again.what()) == "the stream is already live");

  f.lifecycle.end(id, seller_id, "test");
  const auto ended = refusal([&] { f.go_live(id); });
  CHECK(ended.code() == LifecycleErrc::not_scheduled);
  CHECK(ended.status() == StreamStatus::ended);
  CHECK(std::string(ended.what()) == "an ended stream cannot go live again (the stream is ended)");
  CHECK(f.observer.live.size() == 1);  // refusals tell no one
  CHECK(f.outbox.events.size() == 2);  // stream.live and stream.ended
}

TEST_CASE("stream lifecycle: the owner's end closes sessions, stores figures, tells everyone") {
  Fixture f;
  const auto id = f.make_stream();
  f.go_live(id);
  f.ingest.recorded.insert(id);
  f.db.write([&](Connection& c) {
    storage::viewer_sessions::open(c, id, "sock1", follower_id, follower_id, now_millis());
  });
  CHECK(f.open_sessions(id) == 1);

  const auto summary = f.lifecycle.end(id, seller_id, "the owner ended it");
  CHECK(summary["streamId"] == id);
  CHECK(summary["status"] == "ended");
  CHECK(summary["vodUrl"] == public_url + "/vod/" + id + ".mp4");
  CHECK(summary["stats"]["uniqueViewers"] == 1);
  CHECK(summary["durationSeconds"].get<std::int64_t>() >= 0);
  CHECK(f.open_sessions(id) == 0);

  const auto s = f.stored(id);
  CHECK(s.status == StreamStatus::ended);
  CHECK(s.ingest_state == IngestState::finished);
  REQUIRE(s.stats);
  CHECK(s.stats->unique_viewers == 1);

  REQUIRE(f.observer.ended.size() == 1);
  CHECK(f.observer.ended[0].first == id);
  CHECK(f.observer.ended[0].second == summary);
  REQUIRE(f.outbox.events.size() == 2);
  CHECK(f.outbox.events[1].type == "stream.ended");
  CHECK(f.outbox.events[1].data["vodUrl"] == summary["vodUrl"]);
  CHECK(f.outbox.events[1].data["stream"]["status"] == "ended");
  CHECK(f.outbox.events[1].data["stream"]["ingest"]["state"] == "finished");
  CHECK(f.outbox.commits == 2);
}

TEST_CASE("stream lifecycle: no VOD URL when nothing was recorded") {
  Fixture f;
  const auto id = f.make_stream();
  f.go_live(id);
  CHECK(f.lifecycle.end(id, std::nullopt, "test")["vodUrl"].is_null());
}

TEST_CASE("stream lifecycle: end refusals (unknown, not the owner, not live) change nothing") {
  Fixture f;
  const auto id = f.make_stream();
  CHECK(refusal([&] { f.lifecycle.end(uuid_v4(), seller_id, "test"); }).code() ==
        LifecycleErrc::stream_not_found);
  CHECK(refusal([&] { f.lifecycle.end("../etc", std::nullopt, "test"); }).code() ==
        LifecycleErrc::stream_not_found);

  const auto scheduled = refusal([&] { f.lifecycle.end(id, seller_id, "test"); });
  CHECK(scheduled.code() == LifecycleErrc::not_live);
  CHECK(scheduled.status() == StreamStatus::scheduled);
  CHECK(std::string(scheduled.what()) ==
        "only a live stream can be ended (the stream is scheduled)");

  f.go_live(id);
  CHECK(refusal([&] { f.lifecycle.end(id, other_id, "test"); }).code() == LifecycleErrc::not_owner);
  CHECK(f.stored(id).status == StreamStatus::live);

  f.lifecycle.end(id, seller_id, "test");
  const auto twice = refusal([&] { f.lifecycle.end(id, std::nullopt, "test"); });
  CHECK(twice.code() == LifecycleErrc::not_live);
  CHECK(twice.status() == StreamStatus::ended);
  CHECK(f.observer.ended.size() == 1);
}

TEST_CASE("stream lifecycle: an operator's end request is ended by end_requested, once") {
  Fixture f;
  const auto id = f.make_stream();
  const auto request = [&](const std::string& which) {
    f.db.write([&](Connection& c) { StreamLifecycle::request_end(c, which, now_millis()); });
  };
  const auto early = refusal([&] { request(id); });
  CHECK(early.code() == LifecycleErrc::not_live);
  CHECK(early.status() == StreamStatus::scheduled);
  CHECK(refusal([&] { request(uuid_v4()); }).code() == LifecycleErrc::stream_not_found);
  CHECK(f.lifecycle.end_requested() == 0);

  f.go_live(id);
  request(id);
  CHECK(f.stored(id).end_requested_at);
  CHECK(f.stored(id).status == StreamStatus::live);  // the server ends it, not the request
  CHECK(f.lifecycle.end_requested() == 1);
  CHECK(f.stored(id).status == StreamStatus::ended);
  REQUIRE(f.observer.ended.size() == 1);
  CHECK(f.observer.ended[0].first == id);
  CHECK(f.outbox.events.back().type == "stream.ended");
  CHECK(f.lifecycle.end_requested() == 0);
}

TEST_CASE(
    "stream lifecycle: the idle end takes live streams without a publisher, past the timeout") {
  Fixture f;
  const auto idle = f.make_stream();
  const auto sending = f.make_stream();
  f.go_live(idle);
  f.go_live(sending);
  f.db.write([&](Connection& c) {
    storage::streams::set_ingest_state(c, sending, IngestState::receiving, now_millis());
  });
  CHECK(f.lifecycle.end_idle(std::chrono::hours(1)) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(f.lifecycle.end_idle(std::chrono::milliseconds(1)) == 1);
  CHECK(f.stored(idle).status == StreamStatus::ended);
  CHECK(f.stored(sending).status == StreamStatus::live);
}

TEST_CASE(
    "stream lifecycle: after a restart, receiving streams are interrupted and sessions closed") {
  Fixture f;
  const auto id = f.make_stream();
  f.go_live(id);
  const auto now = now_millis();
  f.db.write([&](Connection& c) {
    storage::streams::set_ingest_state(c, id, IngestState::receiving, now);
    storage::viewer_sessions::open(c, id, "sock1", std::nullopt, "sock1", now);
  });
  CHECK(f.db.write([&](Connection& c) {
    return StreamLifecycle::recover_after_restart(c, now + 10);
  }) == 1);
  CHECK(f.stored(id).ingest_state == IngestState::interrupted);
  CHECK(f.stored(id).status == StreamStatus::live);  // the idle timeout decides its end
  CHECK(f.open_sessions(id) == 0);
}

TEST_CASE("stream lifecycle: public URLs and the ingest section of details") {
  Fixture f;
  CHECK(f.lifecycle.hls_url("abc") == public_url + "/hls/abc/index.m3u8");
  CHECK(f.lifecycle.vod_url("abc") == public_url + "/vod/abc.mp4");

  const auto id = f.make_stream();
  const auto details = [&] {
    const auto s = f.stored(id);
    return f.db.read([&](Connection& c) { return f.lifecycle.details(c, s); });
  };
  auto d = details();
  CHECK(d["hlsUrl"].is_null());  // scheduled: nowhere to watch yet
  CHECK(d["status"] == "scheduled");
  CHECK(d["products"].size() == 1);
  CHECK(d["ingest"]["state"] == "waiting");

  f.go_live(id);
  CHECK(details()["hlsUrl"] == f.lifecycle.hls_url(id));
  f.ingest.publishing_now.insert(id);
  d = details();
  CHECK(d["ingest"]["state"] == "receiving");
  CHECK(d["ingest"]["bitrateKbps"] == 2500);
  // Stored as receiving but nobody sends: the publisher just left.
  f.ingest.publishing_now.clear();
  f.db.write([&](Connection& c) {
    storage::streams::set_ingest_state(c, id, IngestState::receiving, now_millis());
  });
  CHECK(details()["ingest"]["state"] == "interrupted");
}
