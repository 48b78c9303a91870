// The Socket.IO events without a socket or a database: a fake socket, an
// in-memory store, the real rooms and a fan-out that records broadcasts.
#include "souk/api/realtime/events.hpp"

#include "realtime_fakes.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/sqlite.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

using namespace souk::api;
using namespace souk::api::test;
using nlohmann::json;

namespace {

const std::string live_id = "11111111-1111-4111-8111-111111111111";
const std::string ended_id = "22222222-2222-4222-8222-222222222222";
const std::string quiet_id = "33333333-3333-4333-8333-333333333333";  // chat off
const std::string unknown_id = "44444444-4444-4444-8444-444444444444";

struct Fixture {
  FakeStore store;
  std::shared_ptr<Rooms> rooms = std::make_shared<Rooms>();
  std::shared_ptr<RecordingFanout> fanout = std::make_shared<RecordingFanout>();
  RealtimeOptions options = [] {
    RealtimeOptions o;
    o.chat_per_minute = 3;
    o.estimated_latency_seconds = 4.5;
    return o;
  }();
  std::unique_ptr<RealtimeEvents> events;
  std::uint64_t next_ack = 1;

  Fixture() {
    store.tokens[souk::sha256("seller-token")] = {"seller-1", "sam",
                                                  std::string("https://img.example/sam.png")};
    store.tokens[souk::sha256("buyer-token")] = {"buyer-1", "bea", std::nullopt};
    store.streams[live_id] = {live_id, "seller-1", souk::storage::StreamStatus::live, true};
    store.streams[ended_id] = {ended_id, "seller-1", souk::storage::StreamStatus::ended, true};
    store.streams[quiet_id] = {quiet_id, "seller-1", souk::storage::StreamStatus::live, false};
    make_events();
  }

  void make_events() { events = std::make_unique<RealtimeEvents>(store, rooms, fanout, options); }

  std::shared_ptr<FakeSocket> connect(const std::string& token = "") {
    static int n = 0;
    auto s = std::make_shared<FakeSocket>("socket-" + std::to_string(++n));
    events->on_packet(s, token.empty() ? "0" : "0" + json{{"token", token}}.dump());
    const auto sent = s->take_sent();
    REQUIRE(sent.size() == 1);
    CHECK(decode_message(sent[0]).type == socketio::PacketType::connect);
    return s;
  }

  // Emits an event with an ack id; returns the ack's payload (the socket's
  // other packets stay in its log).
  json emit(const std::shared_ptr<FakeSocket>& s, const std::string& name, const json& payload) {
    const auto id = next_ack++;
    events->on_packet(s, "2" + std::to_string(id) + json::array({name, payload}).dump());
    auto sent = s->sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      const auto p = decode_message(*it);
      if (p.type == socketio::PacketType::ack && p.id == id) return p.data[0];
    }
    FAIL("no ack for " << name);
    return {};
  }

  static std::string error_code(const json& ack) {
    REQUIRE(ack.contains("ok"));
    CHECK(ack["ok"] == false);
    return ack["error"]["code"].get<std::string>();
  }

  // The events of the socket's packets, by name, in order.
  static std::vector<std::pair<std::string, json>> events_of(
      const std::vector<std::string>& texts) {
    std::vector<std::pair<std::string, json>> out;
    for (const auto& t : texts) {
      const auto p = decode_message(t);
      if (p.type == socketio::PacketType::event)
        out.emplace_back(p.data[0].get<std::string>(), p.data[1]);
    }
    return out;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "events: CONNECT anonymous, with a token, and refusals") {
  auto anonymous = connect();
  CHECK(anonymous->connected);
  CHECK_FALSE(anonymous->user);
  CHECK(anonymous->signed_in_user().empty());

  auto buyer = connect("buyer-token");
  REQUIRE(buyer->user);
  CHECK(buyer->user->id == "buyer-1");
  CHECK(buyer->signed_in_user() == "buyer-1");

  const auto refused = [&](const std::string& connect_text) {
    auto s = std::make_shared<FakeSocket>("refused");
    events->on_packet(s, connect_text);
    const auto sent = s->sent();
    REQUIRE(sent.size() == 1);
    const auto p = decode_message(sent[0]);
    CHECK(p.type == socketio::PacketType::connect_error);
    CHECK_FALSE(s->connected);
    return p.data["message"].get<std::string>();
  };
  CHECK(refused(R"(0{"token":"nope"})") == "invalid token: unknown, expired or revoked");
  CHECK(refused(R"(0{"token":""})") == "invalid token");
  CHECK(refused(R"(0{"token":5})") == "invalid token");
  CHECK(refused("0/admin,") == "Invalid namespace");
  store.fail = [] { throw std::runtime_error("database down"); };
  CHECK(refused(R"(0{"token":"buyer-token"})") ==
        "the server could not check the token; try again");
}

TEST_CASE_FIXTURE(Fixture, "events: packets before CONNECT or malformed close the socket") {
  auto s = std::make_shared<FakeSocket>("early");
  events->on_packet(s, R"(21["stream:join",{"stream_id":"x"}])");
  CHECK(s->closed() ==
        std::vector<std::string>{"packet for a namespace the client is not connected to"});

  auto t = connect();
  events->on_packet(t, "2not json");
  CHECK(t->closed() == std::vector<std::string>{"malformed packet"});
}

TEST_CASE_FIXTURE(
    Fixture, "events: unknown events and invalid payloads are refused, by ack or error event") {
  auto s = connect("buyer-token");
  CHECK(error_code(emit(s, "stream:dance", json::object())) == "unknown_event");
  CHECK(error_code(emit(s, "stream:join", json::object())) == "invalid_payload");
  CHECK(error_code(emit(s, "stream:join", {{"stream_id", 7}})) == "invalid_payload");
  CHECK(error_code(emit(s, "stream:join", "not an object")) == "invalid_payload");

  // Without an ack id, the refusal comes as an "error" event.
  s->take_sent();
  events->on_packet(s, R"(2["stream:leave",{"stream_id":"x"}])");
  const auto got = events_of(s->take_sent());
  REQUIRE(got.size() == 1);
  CHECK(got[0].first == "error");
  CHECK(got[0].second["code"] == "not_joined");
}

TEST_CASE_FIXTURE(
    Fixture, "events: join opens a viewer session, sends the room's state, announces the viewer") {
  store.chat[live_id].push_back(
      {"m1", live_id, "buyer-1", "bea", std::nullopt, "hello", 1'700'000'000'000});
  store.products[live_id].push_back({});
  store.products[live_id].back().product.id = "p1";

  auto s = connect("buyer-token");
  const auto ack = emit(s, "stream:join", {{"stream_id", live_id}});
  CHECK(ack == json{{"ok", true}, {"streamId", live_id}, {"viewerCount", 1}});

  REQUIRE(store.sessions_opened.size() == 1);
  CHECK(store.sessions_opened[0].socket_id == s->id());
  CHECK(store.sessions_opened[0].user_id == std::optional<std::string>("buyer-1"));
  CHECK(store.sessions_opened[0].viewer_key == "buyer-1");
  CHECK(store.sessions_opened[0].viewer_count == 1);
  CHECK(store.last_recent_chat == options.recent_chat_on_join);
  CHECK(s->rooms == std::map<std::string, std::int64_t>{{live_id, 1}});
  CHECK(rooms->members(live_id).size() == 1);

  const auto got = events_of(s->sent());
  REQUIRE(got.size() == 1);
  CHECK(got[0].first == "stream:joined");
  CHECK(got[0].second["viewerCount"] == 1);
  CHECK(got[0].second["recentChat"].size() == 1);
  CHECK(got[0].second["recentChat"][0]["message"] == "hello");
  CHECK(got[0].second["recentChat"][0]["avatarUrl"].is_null());
  CHECK(got[0].second["products"].size() == 1);

  auto broadcasts = fanout->take();
  REQUIRE(broadcasts.size() == 1);
  CHECK(broadcasts[0].first == live_id);
  CHECK(broadcasts[0].second ==
        "42" + json::array({"viewer:joined",
                            {{"streamId", live_id}, {"viewerCount", 1}, {"userId", "buyer-1"}}})
                   .dump());

  // Joining again (issue 21): only the ack; no second session, no announcement,
  // and not the room's state again (tens of KB each time, for nothing).
  s->take_sent();
  CHECK(emit(s, "stream:join", {{"stream_id", live_id}}) ==
        json{{"ok", true}, {"streamId", live_id}, {"viewerCount", 1}});
  CHECK(store.sessions_opened.size() == 1);
  CHECK(fanout->take().empty());
  CHECK(events_of(s->sent()).empty());

  // An anonymous viewer counts under its socket id.
  auto anonymous = connect();
  CHECK(emit(anonymous, "stream:join", {{"stream_id", live_id}})["viewerCount"] == 2);
  CHECK(store.sessions_opened.back().viewer_key == anonymous->id());
  CHECK_FALSE(store.sessions_opened.back().user_id);
  CHECK(fanout->take()[0].second.find("\"userId\":null") != std::string::npos);
}

TEST_CASE_FIXTURE(
    Fixture,
    "events: joining an unknown or malformed stream is stream_not_found and leaves no member") {
  auto s = connect();
  CHECK(error_code(emit(s, "stream:join", {{"stream_id", unknown_id}})) == "stream_not_found");
  CHECK(error_code(emit(s, "stream:join", {{"stream_id", "not-a-uuid"}})) == "stream_not_found");
  CHECK(rooms->counts().empty());
  CHECK(s->rooms.empty());
  CHECK(store.sessions_opened.empty());
  CHECK(fanout->take().empty());
}

TEST_CASE_FIXTURE(Fixture,
                  "events: leave closes the session and announces it; not_joined otherwise") {
  auto s = connect("buyer-token");
  CHECK(error_code(emit(s, "stream:leave", {{"stream_id", live_id}})) == "not_joined");
  emit(s, "stream:join", {{"stream_id", live_id}});
  auto other = connect();
  emit(other, "stream:join", {{"stream_id", live_id}});
  fanout->take();

  CHECK(emit(s, "stream:leave", {{"stream_id", live_id}}) ==
        json{{"ok", true}, {"streamId", live_id}, {"viewerCount", 1}});
  CHECK(store.sessions_closed == std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}});
  CHECK(s->rooms.empty());
  const auto broadcasts = fanout->take();
  REQUIRE(broadcasts.size() == 1);
  CHECK(broadcasts[0].second.find("viewer:left") != std::string::npos);
  CHECK(error_code(emit(s, "stream:leave", {{"stream_id", live_id}})) == "not_joined");

  // A closed session leaves every room it was in; the last one out removes the room.
  events->on_closed(other);
  CHECK(store.sessions_closed.back() == std::pair<std::int64_t, std::int64_t>{2, 0});
  CHECK(rooms->counts().empty());

  // A Socket.IO DISCONNECT leaves too, and the socket must CONNECT again.
  emit(s, "stream:join", {{"stream_id", live_id}});
  events->on_packet(s, "1");
  CHECK(s->rooms.empty());
  CHECK_FALSE(s->connected);
}

TEST_CASE_FIXTURE(
    Fixture, "events: chat is for signed-in users, validated, and stored before it is broadcast") {
  auto anonymous = connect();
  // Signed-out callers are refused before the payload is judged.
  CHECK(error_code(emit(anonymous, "stream:chat", json::object())) == "unauthorized");
  CHECK(error_code(emit(anonymous, "stream:reaction", {{"stream_id", live_id}})) == "unauthorized");
  CHECK(error_code(emit(anonymous, "stream:prepare", {{"stream_id", live_id}})) == "unauthorized");

  auto s = connect("seller-token");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", live_id}})) == "invalid_message");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", 3}})) ==
        "invalid_message");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "   "}})) ==
        "invalid_message");
  const auto too_long =
      emit(s, "stream:chat", {{"stream_id", live_id}, {"message", std::string(201, 'x')}});
  CHECK(error_code(too_long) == "invalid_message");
  CHECK(too_long["error"]["message"] == "a message is 1 to 200 characters");
  // 200 characters, not bytes: 200 two-byte letters pass.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";
  CHECK(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", accents}})["ok"] == true);
  fanout->take();

  const auto ack = emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "  hi there  "}});
  CHECK(ack["ok"] == true);
  REQUIRE(store.chat[live_id].size() == 2);
  const auto& stored = store.chat[live_id].back();
  CHECK(stored.message == "hi there");
  CHECK(ack["id"] == stored.id);
  const auto broadcasts = fanout->take();
  REQUIRE(broadcasts.size() == 1);
  const auto p = decode_message(broadcasts[0].second);
  CHECK(p.data[0] == "chat:message");
  CHECK(p.data[1]["username"] == "sam");
  CHECK(p.data[1]["avatarUrl"] == "https://img.example/sam.png");
  CHECK(p.data[1]["message"] == "hi there");
}

TEST_CASE_FIXTURE(Fixture, "events: chat refusals by the stream: not found, ended, chat off") {
  auto s = connect("buyer-token");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", unknown_id}, {"message", "a"}})) ==
        "stream_not_found");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", "bad"}, {"message", "a"}})) ==
        "stream_not_found");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", ended_id}, {"message", "a"}})) ==
        "stream_ended");
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", quiet_id}, {"message", "a"}})) ==
        "chat_disabled");
  CHECK(store.chat.empty());
  CHECK(fanout->take().empty());
  // Refused messages gave their rate-limit slots back: the full allowance is left.
  for (int i = 0; i < options.chat_per_minute; ++i) {
    CHECK(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "m"}})["ok"] == true);
  }
}

TEST_CASE_FIXTURE(Fixture, "events: the chat rate limit names the configured number (issue 19)") {
  auto s = connect("buyer-token");
  auto again = connect("buyer-token");  // the limit is per user, across sockets
  for (int i = 0; i < options.chat_per_minute; ++i) {
    CHECK(emit(i % 2 ? s : again, "stream:chat",
               {{"stream_id", live_id}, {"message", "m"}})["ok"] == true);
  }
  const auto refused =
      emit(again, "stream:chat", {{"stream_id", live_id}, {"message", "one more"}});
  CHECK(error_code(refused) == "rate_limited");
  CHECK(refused["error"]["message"] == "at most 3 messages a minute");
  // Another user has their own allowance.
  auto seller = connect("seller-token");
  CHECK(emit(seller, "stream:chat", {{"stream_id", live_id}, {"message", "m"}})["ok"] == true);

  options.chat_per_minute = 1;
  make_events();
  auto one = connect("buyer-token");
  CHECK(emit(one, "stream:chat", {{"stream_id", live_id}, {"message", "m"}})["ok"] == true);
  CHECK(emit(one, "stream:chat", {{"stream_id", live_id}, {"message", "m"}})["error"]["message"] ==
        "at most 1 message a minute");
}

TEST_CASE_FIXTURE(Fixture, "events: reactions take one of the six emojis, on a stream not ended") {
  auto s = connect("buyer-token");
  CHECK(error_code(emit(s, "stream:reaction", {{"stream_id", live_id}, {"emoji", "x"}})) ==
        "invalid_emoji");
  CHECK(error_code(emit(s, "stream:reaction", {{"stream_id", live_id}})) == "invalid_emoji");
  const std::string fire = "\U0001F525";
  CHECK(error_code(emit(s, "stream:reaction", {{"stream_id", ended_id}, {"emoji", fire}})) ==
        "stream_ended");
  CHECK(error_code(emit(s, "stream:reaction", {{"stream_id", unknown_id}, {"emoji", fire}})) ==
        "stream_not_found");
  CHECK(store.reactions.empty());

  CHECK(emit(s, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}}) ==
        json{{"ok", true}});
  CHECK(store.reactions == std::vector<std::string>{live_id + " buyer-1 " + fire});
  const auto broadcasts = fanout->take();
  REQUIRE(broadcasts.size() == 1);
  CHECK(decode_message(broadcasts[0].second).data ==
        json::array({"reaction:new",
                     {{"streamId", live_id}, {"emoji", fire}, {"userId", "buyer-1"}, {"count", 1}}}));
}

TEST_CASE_FIXTURE(Fixture, "events: prepare is the owner's, and answers stream:ready") {
  auto buyer = connect("buyer-token");
  CHECK(error_code(emit(buyer, "stream:prepare", {{"stream_id", live_id}})) == "forbidden");
  CHECK(error_code(emit(buyer, "stream:prepare", {{"stream_id", unknown_id}})) ==
        "stream_not_found");

  auto seller = connect("seller-token");
  const json ready = {{"streamId", live_id}, {"estimatedLatencySeconds", 4.5}};
  auto expected_ack = ready;
  expected_ack["ok"] = true;
  CHECK(emit(seller, "stream:prepare", {{"stream_id", live_id}}) == expected_ack);
  const auto got = events_of(seller->sent());
  REQUIRE(got.size() == 1);
  CHECK(got[0] == std::pair<std::string, json>{"stream:ready", ready});
}

TEST_CASE_FIXTURE(Fixture, "events: storage failures become storage_full or internal_error") {
  auto s = connect("buyer-token");
  store.fail = [] {
    throw souk::storage::SqliteError(13 /* SQLITE_FULL */, "database or disk is full");
  };
  CHECK(error_code(emit(s, "stream:join", {{"stream_id", live_id}})) == "storage_full");
  CHECK(rooms->counts().empty());  // the failed join left no member
  store.fail = [] { throw std::runtime_error("boom"); };
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "a"}})) ==
        "internal_error");
  store.fail = nullptr;
  // The failed chat gave its slot back.
  for (int i = 0; i < options.chat_per_minute; ++i) {
    CHECK(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "m"}})["ok"] == true);
  }
}

TEST_CASE_FIXTURE(Fixture, "events: viewer counts go to live streams' rooms only") {
  auto a = connect();
  auto b = connect();
  emit(a, "stream:join", {{"stream_id", live_id}});
  emit(b, "stream:join", {{"stream_id", live_id}});
  emit(a, "stream:join", {{"stream_id", ended_id}});
  fanout->take();

  events->send_viewer_counts();
  const auto broadcasts = fanout->take();
  REQUIRE(broadcasts.size() == 1);
  CHECK(broadcasts[0].first == live_id);
  CHECK(decode_message(broadcasts[0].second).data ==
        json::array({"stream:viewer-count", {{"streamId", live_id}, {"count", 2}}}));

  store.fail = [] { throw std::runtime_error("database down"); };
  events->send_viewer_counts();  // skipped, not thrown
  CHECK(fanout->take().empty());
}

TEST_CASE_FIXTURE(Fixture,
                  "events: stream-live notifications reach the notified users' sockets only") {
  auto buyer = connect("buyer-token");
  auto buyer_again = connect("buyer-token");
  auto seller = connect("seller-token");
  auto anonymous = connect();
  store.notifications = {{"n1", "buyer-1", 1'700'000'000'000}};
  const std::vector<std::shared_ptr<RealtimeSocket>> open = {buyer, buyer_again, seller, anonymous};
  events->notify_stream_live(live_id, [&] { return open; });
  for (const auto& s : {buyer, buyer_again}) {
    const auto got = events_of(s->sent());
    REQUIRE(got.size() == 1);
    CHECK(got[0].first == "notification:new");
    CHECK(got[0].second["notification"]["id"] == "n1");
    CHECK(got[0].second["notification"]["kind"] == "stream_live");
    CHECK(got[0].second["notification"]["streamId"] == live_id);
  }
  CHECK(seller->sent().empty());
  CHECK(anonymous->sent().empty());
}

// Issue 21: one buyer socket had 84k-129k reactions accepted in 5 s.
TEST_CASE_FIXTURE(Fixture, "events: reactions are rate limited per user, across their sockets") {
  options.reactions_per_second = 2;  // 4 at once
  make_events();
  const std::string fire = "\U0001F525";
  auto a = connect("buyer-token");
  auto b = connect("buyer-token");  // the same user's second socket
  for (int i = 0; i < 4; ++i) {
    CHECK(emit(i % 2 ? a : b, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}}) ==
          json{{"ok", true}});
  }
  const auto refused = emit(a, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}});
  CHECK(error_code(refused) == "rate_limited");
  CHECK(refused["error"]["message"] == "at most 2 reactions a second");
  CHECK(error_code(emit(b, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}})) ==
        "rate_limited");
  // Without an ack: the error event, as chat's limit sends it.
  b->take_sent();
  events->on_packet(b, "2" + json::array({"stream:reaction", {{"stream_id", live_id}, {"emoji", fire}}}).dump());
  const auto got = events_of(b->sent());
  REQUIRE(got.size() == 1);
  CHECK(got[0].first == "error");
  CHECK(got[0].second["code"] == "rate_limited");
  CHECK(store.reactions.size() == 4);  // nothing refused was stored

  // Another user has a bucket of their own.
  auto seller = connect("seller-token");
  CHECK(emit(seller, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}})["ok"] == true);
}

TEST_CASE_FIXTURE(Fixture, "events: a busy room's reactions go out as one count per emoji") {
  options.reactions_per_second = 100;
  make_events();
  const std::string fire = "\U0001F525";
  const std::string heart = "\u2764\uFE0F";
  auto buyer = connect("buyer-token");
  auto seller = connect("seller-token");
  CHECK(emit(buyer, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}})["ok"] == true);
  CHECK(fanout->take().size() == 1);  // the room was quiet: at once
  for (int i = 0; i < 30; ++i) {
    CHECK(emit(i < 20 ? buyer : seller, "stream:reaction",
               {{"stream_id", live_id}, {"emoji", i % 2 ? heart : fire}})["ok"] == true);
  }
  CHECK(fanout->take().empty());  // within the interval: they wait
  CHECK(store.reactions.size() == 31);  // each is stored, whatever its broadcast

  CHECK(events->flush_reactions(ReactionBatcher::Clock::now() + options.reaction_batch_interval));
  const auto broadcasts = fanout->take();
  REQUIRE(broadcasts.size() == 2);
  CHECK(decode_message(broadcasts[0].second).data ==
        json::array({"reaction:new",
                     {{"streamId", live_id}, {"emoji", fire}, {"userId", "seller-1"}, {"count", 15}}}));
  CHECK(decode_message(broadcasts[1].second).data ==
        json::array({"reaction:new",
                     {{"streamId", live_id}, {"emoji", heart}, {"userId", "seller-1"}, {"count", 15}}}));
}

// Issue 21: anonymous sockets cycling join/leave added a viewer session per cycle.
TEST_CASE_FIXTURE(Fixture, "events: rooms entered are rate limited per socket and per address") {
  options.joins_per_minute = 2;  // per socket; 20 per address
  make_events();
  auto s = connect();
  for (int i = 0; i < 2; ++i) {
    CHECK(emit(s, "stream:join", {{"stream_id", live_id}})["ok"] == true);
    CHECK(emit(s, "stream:leave", {{"stream_id", live_id}})["ok"] == true);
  }
  const auto refused = emit(s, "stream:join", {{"stream_id", live_id}});
  CHECK(error_code(refused) == "rate_limited");
  CHECK(refused["error"]["message"] == "at most 2 rooms entered a minute");
  CHECK(store.sessions_opened.size() == 2);
  CHECK(rooms->members(live_id).empty());

  // Joins that fail cost nothing: a fresh socket still has its two.
  auto t = connect();
  for (int i = 0; i < 5; ++i) {
    CHECK(error_code(emit(t, "stream:join", {{"stream_id", unknown_id}})) == "stream_not_found");
  }
  CHECK(emit(t, "stream:join", {{"stream_id", live_id}})["ok"] == true);
  CHECK(emit(t, "stream:join", {{"stream_id", quiet_id}})["ok"] == true);
  CHECK(emit(t, "stream:join", {{"stream_id", live_id}})["ok"] == true);  // a repeat: free

  // The address has 20 across its sockets (4 taken above); another address is apart.
  int entered = 0;
  for (int i = 0; i < 10; ++i) {
    auto u = connect();
    for (const auto& id : {live_id, quiet_id}) {
      if (emit(u, "stream:join", {{"stream_id", id}})["ok"] == true) ++entered;
    }
  }
  CHECK(entered == 16);
  auto elsewhere = std::make_shared<FakeSocket>("socket-elsewhere", "192.0.2.7");
  events->on_packet(elsewhere, "0");
  CHECK(emit(elsewhere, "stream:join", {{"stream_id", live_id}})["ok"] == true);
}

// Issue 21: on a full disk every reaction logged a line (74k in 5 s).
TEST_CASE_FIXTURE(Fixture, "events: failing storage logs one line per interval, not per event") {
  auto s = connect("buyer-token");
  store.fail = [] {
    throw souk::storage::SqliteError(13 /* SQLITE_FULL */, "database or disk is full");
  };
  souk::log::init(spdlog::level::trace, souk::log::Format::json);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(souk::log::make_formatter(souk::log::Format::json));
  spdlog::default_logger()->sinks() = {sink};
  for (int i = 0; i < 200; ++i) {
    CHECK(error_code(emit(s, "stream:join", {{"stream_id", live_id}})) == "storage_full");
  }
  souk::log::init(spdlog::level::off, souk::log::Format::text);
  int lines = 0;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) {
    if (line.find("realtime event failed") != std::string::npos) ++lines;
  }
  CHECK(lines == 1);
}

TEST_CASE_FIXTURE(Fixture, "events: a token revoked after CONNECT stops its chat and reactions, and the socket closes (issue 21)") {
  const std::string fire = "\U0001F525";
  store.tokens[souk::sha256("temp-token")] = {"buyer-2", "bo", std::nullopt};

  // Within the re-check interval the token is taken as checked at CONNECT.
  auto cached = connect("temp-token");
  store.tokens.erase(souk::sha256("temp-token"));
  CHECK(emit(cached, "stream:reaction", {{"stream_id", live_id}, {"emoji", fire}})["ok"] == true);

  // Past it (zero here), the next event checks again and finds it revoked.
  options.token_recheck = std::chrono::milliseconds(0);
  make_events();
  store.tokens[souk::sha256("temp-token")] = {"buyer-2", "bo", std::nullopt};
  auto s = connect("temp-token");
  CHECK(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "still here"}})["ok"] == true);
  store.tokens.erase(souk::sha256("temp-token"));  // logout, or the account disabled
  CHECK(error_code(emit(s, "stream:chat", {{"stream_id", live_id}, {"message", "and now?"}})) ==
        "unauthorized");
  CHECK(s->closed() == std::vector<std::string>{"token revoked"});
  CHECK_FALSE(s->user);
  CHECK(s->signed_in_user().empty());
  CHECK(store.chat[live_id].size() == 1);
}
