// Rooms: membership, counts, and the fan-out's ordering when several threads
// broadcast to one room at once (also run under ThreadSanitizer).
#include "souk/api/realtime/rooms.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

using namespace souk::api;

namespace {

SharedText text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

class Recorder final : public RoomMember {
 public:
  void deliver(std::span<const SharedText> packets) override {
    std::lock_guard lock(mutex_);
    for (const auto& p : packets) got_.push_back(*p);
    threads_.push_back(std::this_thread::get_id());
  }
  std::vector<std::string> got() const {
    std::lock_guard lock(mutex_);
    return got_;
  }
  std::vector<std::thread::id> threads() const {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> got_;
  std::vector<std::thread::id> threads_;
};

}  // namespace

TEST_CASE("rooms: join and leave keep counts; an empty room is gone") {
  Rooms rooms;
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  CHECK(rooms.join("s1", a).fresh);
  CHECK(rooms.join("s1", a).count == 1);
  CHECK_FALSE(rooms.join("s1", a).fresh);  // already in
  const auto joined = rooms.join("s1", b);
  CHECK(joined.fresh);
  CHECK(joined.count == 2);
  CHECK(rooms.join("s2", b).count == 1);
  CHECK(rooms.counts() == std::vector<std::pair<std::string, std::int64_t>>{{"s1", 2}, {"s2", 1}});
  CHECK(rooms.members("s1").size() == 2);
  CHECK(rooms.members("nowhere").empty());

  CHECK(rooms.leave("s1", a) == 1);
  CHECK(rooms.leave("s1", a) == 1);  // not a member: nothing changes
  CHECK(rooms.leave("nowhere", a) == 0);
  CHECK(rooms.leave("s1", b) == 0);
  CHECK(rooms.counts() == std::vector<std::pair<std::string, std::int64_t>>{{"s2", 1}});
}

TEST_CASE(
    "rooms: a broadcast reaches every member of its room only, on the caller's thread when quiet") {
  Rooms rooms;
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  auto elsewhere = std::make_shared<Recorder>();
  rooms.join("s1", a);
  rooms.join("s1", b);
  rooms.join("s2", elsewhere);
  rooms.broadcast("s1", text("one"));
  rooms.broadcast("s1", text("two"));
  rooms.broadcast("empty", text("lost"));  // nobody there: dropped, no room made
  CHECK(a->got() == std::vector<std::string>{"one", "two"});
  CHECK(b->got() == std::vector<std::string>{"one", "two"});
  CHECK(elsewhere->got().empty());
  CHECK(a->threads() == std::vector<std::thread::id>(2, std::this_thread::get_id()));
  CHECK(rooms.counts().size() == 2);

  // The one packet object is shared by all recipients, never copied per member.
  struct Pointers final : RoomMember {
    std::vector<const std::string*> seen;
    void deliver(std::span<const SharedText> packets) override {
      for (const auto& p : packets) seen.push_back(p.get());
    }
  };
  auto p1 = std::make_shared<Pointers>();
  auto p2 = std::make_shared<Pointers>();
  rooms.join("s3", p1);
  rooms.join("s3", p2);
  const auto packet = text("shared");
  rooms.broadcast("s3", packet);
  CHECK(p1->seen == std::vector<const std::string*>{packet.get()});
  CHECK(p2->seen == std::vector<const std::string*>{packet.get()});
}

TEST_CASE("rooms: concurrent broadcasts reach every member completely, in one order for all") {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  Rooms rooms;
  std::vector<std::shared_ptr<Recorder>> members;
  for (int i = 0; i < 8; ++i) {
    members.push_back(std::make_shared<Recorder>());
    rooms.join("busy", members.back());
  }
  std::atomic<bool> go{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i)
        rooms.broadcast("busy", text(std::to_string(t) + ":" + std::to_string(i)));
    });
  }
  // A member joins and one leaves while the room is busy: neither may break a pass.
  auto late = std::make_shared<Recorder>();
  go = true;
  rooms.join("busy", late);
  rooms.leave("busy", members.back());
  for (auto& s : senders) s.join();

  const auto reference = members.front()->got();
  REQUIRE(reference.size() == static_cast<std::size_t>(threads * per_thread));
  // Each sender's packets arrive in the order it sent them.
  std::map<int, int> next;
  for (const auto& p : reference) {
    const auto colon = p.find(':');
    const int t = std::stoi(p.substr(0, colon));
    const int i = std::stoi(p.substr(colon + 1));
    CHECK(i == next[t]);
    next[t] = i + 1;
  }
  // Every member that stayed sees the same sequence; the one that left and the
  // one that came see a contiguous part of it.
  for (std::size_t m = 1; m + 1 < members.size(); ++m) CHECK(members[m]->got() == reference);
  for (const auto& partial : {members.back()->got(), late->got()}) {
    if (partial.empty()) continue;
    const auto start = std::find(reference.begin(), reference.end(), partial.front());
    REQUIRE(start != reference.end());
    REQUIRE(static_cast<std::size_t>(reference.end() - start) >= partial.size());
    CHECK(std::equal(partial.begin(), partial.end(), start));
  }
}
