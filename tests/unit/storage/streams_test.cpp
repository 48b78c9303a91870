#include "souk/storage/streams.hpp"

#include "souk/storage/database.hpp"
#include "souk/storage/notifications.hpp"
#include "souk/storage/products.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/stream_stats.hpp"
#include "souk/storage/users.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

using namespace souk::storage;

namespace {

User user(const std::string& id, const std::string& role, std::optional<double> lat = std::nullopt,
          std::optional<double> lon = std::nullopt) {
  return User{id, id, "h", role, id, std::nullopt, lat, lon, 0, std::nullopt};
}

Stream stream(const std::string& id, const std::string& seller, souk::UnixMillis created) {
  Stream s;
  s.id = id;
  s.seller_id = seller;
  s.settings.title = "t-" + id;
  s.created_at = s.updated_at = created;
  return s;
}

// created_at ties are broken by insertion order.
const std::string ids[] = {"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002",
                           "00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000004"};

}  // namespace

TEST_CASE("stream status and ingest state: stored spellings, both ways") {
  for (const auto s : {StreamStatus::scheduled, StreamStatus::live, StreamStatus::ended}) {
    CHECK(parse_stream_status(to_string(s)) == s);
  }
  CHECK(to_string(StreamStatus::scheduled) == "scheduled");
  CHECK(to_string(StreamStatus::live) == "live");
  CHECK(to_string(StreamStatus::ended) == "ended");
  CHECK_FALSE(parse_stream_status("Live"));
  CHECK_FALSE(parse_stream_status(""));
  CHECK_FALSE(parse_stream_status("live "));
  for (const auto s : {IngestState::waiting, IngestState::receiving, IngestState::interrupted,
                       IngestState::finished}) {
    CHECK(parse_ingest_state(to_string(s)) == s);
  }
  CHECK(to_string(IngestState::waiting) == "waiting");
  CHECK(to_string(IngestState::receiving) == "receiving");
  CHECK(to_string(IngestState::interrupted) == "interrupted");
  CHECK(to_string(IngestState::finished) == "finished");
  CHECK_FALSE(parse_ingest_state("stopped"));
}

TEST_CASE("streams: insert, settings, live, ended") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s", "seller"));
    streams::insert(c, stream(ids[0], "s", 100));
  });
  db.write([](Connection& c) {
    auto s = streams::find_by_id(c, ids[0]);
    REQUIRE(s);
    CHECK(s->status == StreamStatus::scheduled);
    CHECK(s->ingest_state == IngestState::waiting);
    CHECK(s->settings.audience == "everyone");
    CHECK(s->settings.notify_followers);
    CHECK_FALSE(s->settings.notify_neighborhood);
    s->settings.audience = "followers";
    s->settings.estimated_duration = 45;
    streams::update_settings(c, ids[0], s->settings, 200);

    const auto key = souk::sha256("the-key");
    CHECK_FALSE(streams::find_live_by_key_hash(c, key));
    CHECK(streams::set_live(c, ids[0], key, 300, 7));
    CHECK_FALSE(streams::set_live(c, ids[0], key, 301, 7));  // only from scheduled
    CHECK(streams::find_live_by_key_hash(c, key) == ids[0]);
    CHECK_FALSE(streams::find_live_by_key_hash(c, souk::sha256("other-key")));

    const auto live = streams::find_by_id(c, ids[0]);
    CHECK(live->status == StreamStatus::live);
    CHECK(live->started_at == 300);
    CHECK(live->notifications_sent == 7);
    CHECK(live->settings.audience == "followers");
    CHECK(live->settings.estimated_duration == 45);

    CHECK(streams::set_ended(c, ids[0], 900, StoredStats{1, 2, 3, 4, 5, 6, 7}, std::nullopt));
    CHECK_FALSE(streams::set_ended(c, ids[0], 901, StoredStats{}, std::nullopt));
    // An ended stream's key no longer publishes.
    CHECK_FALSE(streams::find_live_by_key_hash(c, key));
    const auto ended = streams::find_by_id(c, ids[0]);
    CHECK(ended->status == StreamStatus::ended);
    CHECK(ended->ingest_state == IngestState::finished);
    REQUIRE(ended->stats);
    CHECK(ended->stats->peak_viewers == 2);
    CHECK(ended->stats->total_watch_time == 7);
  });
}

TEST_CASE("streams: list is newest first, filtered and paged by cursor") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s1", "seller"));
    users::insert(c, user("s2", "seller"));
    streams::insert(c, stream(ids[0], "s1", 100));
    streams::insert(c, stream(ids[1], "s2", 200));
    streams::insert(c, stream(ids[2], "s1", 200));  // same time as ids[1]
    streams::insert(c, stream(ids[3], "s1", 300));
    streams::set_live(c, ids[3], souk::sha256("k"), 400, 0);
  });
  db.read([](Connection& c) {
    const auto all = streams::list(c, {});
    REQUIRE(all.size() == 4);
    CHECK(all[0].id == ids[3]);
    CHECK(all[1].id == ids[2]);  // same created_at as ids[1], inserted later
    CHECK(all[2].id == ids[1]);
    CHECK(all[3].id == ids[0]);

    StreamFilter page{std::nullopt, std::nullopt, std::nullopt, 2};
    auto first = streams::list(c, page);
    REQUIRE(first.size() == 2);
    page.after = StreamCursor{first.back().created_at, first.back().seq};
    auto second = streams::list(c, page);
    REQUIRE(second.size() == 2);
    CHECK(second[0].id == ids[1]);
    CHECK(second[1].id == ids[0]);

    CHECK(streams::list(c, {StreamStatus::live, std::nullopt, std::nullopt, 20}).size() == 1);
    CHECK(streams::list(c, {std::nullopt, std::string("s2"), std::nullopt, 20}).size() == 1);
    CHECK(streams::list(c, {StreamStatus::scheduled, std::string("s1"), std::nullopt, 20}).size() == 2);
  });
}

TEST_CASE("stream products: attach order, skip duplicates, tags, events") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s", "seller"));
    users::insert(c, user("b", "buyer"));
    products::insert(c, Product{"p1", "s", "one", 1000, "USD", std::nullopt, 0});
    products::insert(c, Product{"p2", "s", "two", 2500, "USD", std::nullopt, 0});
    streams::insert(c, stream(ids[0], "s", 1));
  });
  db.write([](Connection& c) {
    CHECK(stream_products::attach(c, ids[0], "p2", 5));
    CHECK(stream_products::attach(c, ids[0], "p1", 6));
    CHECK_FALSE(stream_products::attach(c, ids[0], "p2", 7));
    CHECK(stream_products::count(c, ids[0]) == 2);
    stream_products::set_tag(c, ids[0], "p1", ProductTag{0.25, 0.75, 12.5}, 8);
    CHECK(stream_products::record_event(c, ids[0], "p1", std::string("b"), ProductEventType::view, 0, 9));
    CHECK(stream_products::record_event(c, ids[0], "p1", std::string("b"), ProductEventType::click, 0, 9));
    CHECK(stream_products::record_event(c, ids[0], "p1", std::nullopt, ProductEventType::purchase, 1000, 9));
    CHECK(stream_products::record_event(c, ids[0], "p1", std::string("b"), ProductEventType::purchase, 900, 9));
    CHECK(stream_products::record_event(c, ids[0], "p2", std::string("b"), ProductEventType::inquiry, 0, 9));
  });
  const auto list = db.read([](Connection& c) { return stream_products::list(c, ids[0]); });
  REQUIRE(list.size() == 2);
  CHECK(list[0].product.id == "p2");
  CHECK_FALSE(list[0].tag);
  CHECK(list[0].counters.inquiries == 1);
  CHECK(list[1].product.id == "p1");
  REQUIRE(list[1].tag);
  CHECK(list[1].tag->x == 0.25);
  CHECK(list[1].tag->timestamp_seconds == 12.5);
  CHECK(list[1].counters.views == 1);
  CHECK(list[1].counters.clicks == 1);
  CHECK(list[1].counters.purchases == 2);
  CHECK(list[1].counters.revenue_cents == 1900);
}

// Issue 21, finding 9: two purchases of 2^63-1 cents turned a product's revenue
// into a REAL, and adding two products' revenues overflowed.
TEST_CASE("stream products: purchases are bounded and sums are checked") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s", "seller"));
    users::insert(c, user("b", "buyer"));
    products::insert(c, Product{"p1", "s", "one", 1000, "USD", std::nullopt, 0});
    streams::insert(c, stream(ids[0], "s", 1));
    CHECK(stream_products::attach(c, ids[0], "p1", 2));
  });
  const auto revenue = [&db] {
    return db.read([](Connection& c) { return stream_products::list(c, ids[0]).at(0).counters; });
  };
  static constexpr auto max_int64 = std::numeric_limits<std::int64_t>::max();
  db.write([&](Connection& c) {
    const auto purchase = [&](std::int64_t cents) {
      return stream_products::record_event(c, ids[0], "p1", std::string("b"), ProductEventType::purchase, cents, 3);
    };
    CHECK_FALSE(purchase(max_int64));
    CHECK_FALSE(purchase(max_purchase_cents + 1));
    CHECK_FALSE(purchase(-1));
    CHECK(purchase(max_purchase_cents));
    CHECK(purchase(0));
  });
  CHECK(revenue().purchases == 2);
  CHECK(revenue().revenue_cents == max_purchase_cents);

  // Near the cap on a product's revenue: what would pass it is refused, whole.
  db.write([](Connection& c) {
    c.execute("UPDATE stream_products SET revenue_cents = ? WHERE stream_id = ?", max_revenue_cents - 5, ids[0]);
  });
  db.write([](Connection& c) {
    CHECK_FALSE(stream_products::record_event(c, ids[0], "p1", std::string("b"), ProductEventType::purchase, 6, 4));
    CHECK(stream_products::record_event(c, ids[0], "p1", std::string("b"), ProductEventType::purchase, 5, 4));
  });
  CHECK(revenue().revenue_cents == max_revenue_cents);
  CHECK(revenue().purchases == 3);
  CHECK(db.read([](Connection& c) {
    auto q = c.query("SELECT COUNT(*) FROM product_events WHERE stream_id = ?", ids[0]);
    q.next();
    return q->int64(0);
  }) == 3);

  // The schema says the same, whoever writes.
  CHECK_THROWS_AS(db.write([](Connection& c) {
    c.execute("INSERT INTO product_events (stream_id, product_id, type, amount_cents, created_at)"
              " VALUES (?, 'p1', 'purchase', ?, 5)", ids[0], max_int64);
  }), SqliteError);
  CHECK_THROWS_AS(db.write([](Connection& c) {
    c.execute("UPDATE stream_products SET revenue_cents = revenue_cents + ? WHERE stream_id = ?", max_int64, ids[0]);
  }), SqliteError);
  CHECK(revenue().revenue_cents == max_revenue_cents);
}

TEST_CASE("stream products: the total revenue is checked arithmetic") {
  StreamProduct a, b;
  a.counters.revenue_cents = max_revenue_cents;
  b.counters.revenue_cents = 7;
  CHECK(total_revenue_cents({a, b}) == max_revenue_cents + 7);
  CHECK(total_revenue_cents({}) == 0);
  a.counters.revenue_cents = std::numeric_limits<std::int64_t>::max();
  CHECK_THROWS_AS(total_revenue_cents({a, b}), std::overflow_error);
}

TEST_CASE("notifications: followers, neighbours within 2 km, narrowed by audience") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("seller", "seller", 48.8566, 2.3522));
    users::insert(c, user("f1", "buyer"));
    users::insert(c, user("f2", "buyer", 48.8570, 2.3530));   // follower and neighbour
    users::insert(c, user("n1", "buyer", 48.8600, 2.3600));   // ~0.7 km
    users::insert(c, user("far", "buyer", 48.8566, 2.3930));  // ~3 km
    follows::add(c, "f1", "seller", 0);
    follows::add(c, "f2", "seller", 0);
  });
  const auto seller = *db.read([](Connection& c) { return users::find_by_id(c, "seller"); });
  const auto run = [&](const std::string& id, const std::string& audience, bool followers,
                       bool neighbours) {
    return db.write([&](Connection& c) {
      auto s = stream(id, "seller", 1);
      s.settings.audience = audience;
      s.settings.notify_followers = followers;
      s.settings.notify_neighborhood = neighbours;
      streams::insert(c, s);
      auto out = notifications::create_for_go_live(c, s, seller, 2000, 5);
      CHECK(notifications::count_for_stream(c, id) == static_cast<std::int64_t>(out.size()));
      std::sort(out.begin(), out.end());
      return out;
    });
  };
  using V = std::vector<std::string>;
  CHECK(run(ids[0], "everyone", true, true) == V{"f1", "f2", "n1"});
  CHECK(run(ids[1], "followers", true, true) == V{"f1", "f2"});
  CHECK(run(ids[2], "neighborhood", true, true) == V{"f2", "n1"});
  CHECK(run(ids[3], "everyone", false, false).empty());
}

TEST_CASE("notifications: the neighbour search uses the location index") {
  Database db(":memory:");
  db.read([](Connection& c) {
    auto q = c.query(
        "EXPLAIN QUERY PLAN SELECT id, lat, lon FROM users WHERE lat BETWEEN ? AND ? AND lon"
        " BETWEEN ? AND ?",
        1.0, 2.0, 3.0, 4.0);
    std::string plan;
    while (q.next()) plan += q->text(3) + "\n";
    CAPTURE(plan);
    CHECK(plan.find("users_location") != std::string::npos);
  });
}

TEST_CASE("stream figures from stored rows") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s", "seller"));
    users::insert(c, user("a", "buyer"));
    streams::insert(c, stream(ids[0], "s", 0));
    c.execute("INSERT INTO viewer_sessions (stream_id, socket_id, user_id, viewer_key, joined_at, left_at)"
              " VALUES (?, 'x1', 'a', 'a', 1000, 4000), (?, 'x2', NULL, 'x2', 2000, NULL)",
              ids[0], ids[0]);
    c.execute("INSERT INTO reactions (stream_id, user_id, emoji, created_at) VALUES"
              " (?, 'a', '\xF0\x9F\x94\xA5', 1), (?, 'a', '\xF0\x9F\x94\xA5', 2), (?, 'a', 'x', 3)",
              ids[0], ids[0], ids[0]);
    c.execute("INSERT INTO chat_messages (id, stream_id, user_id, message, created_at) VALUES"
              " ('m1', ?, 'a', 'hi', 1)", ids[0]);
  });
  const auto f = db.read([](Connection& c) { return compute_stream_figures(c, ids[0], 1000, 11000); });
  CHECK(f.duration_seconds == 10);
  CHECK(f.peak_viewers == 2);
  CHECK(f.unique_viewers == 2);
  CHECK(f.total_watch_seconds == 12);     // 3 s + 9 s
  CHECK(f.average_watch_seconds == 6);
  CHECK(f.total_likes == 3);
  CHECK(f.reactions.at("\xF0\x9F\x94\xA5") == 2);
  CHECK(f.chat_messages == 1);
}

TEST_CASE("streams: an operator's end request is kept until the stream ends") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s1", "seller"));
    streams::insert(c, stream(ids[0], "s1", 1000));
    streams::insert(c, stream(ids[1], "s1", 1001));
  });
  db.write([](Connection& c) {
    CHECK_FALSE(streams::request_end(c, ids[0], 1500));  // scheduled: nothing to end
    CHECK(streams::set_live(c, ids[0], souk::sha256("k0"), 2000, 0));
    CHECK(streams::request_end(c, ids[0], 2500));
    CHECK(streams::request_end(c, ids[0], 2600));  // asked again: the first time is kept
    CHECK(streams::find_by_id(c, ids[0])->end_requested_at == 2500);
    CHECK_FALSE(streams::find_by_id(c, ids[1])->end_requested_at);
    CHECK(streams::end_requested(c) == std::vector<std::string>{ids[0]});
    CHECK(streams::set_ended(c, ids[0], 3000, StoredStats{}, std::nullopt));
    CHECK(streams::end_requested(c).empty());
  });
}

TEST_CASE("streams: a disabled seller's key no longer publishes, and their live streams are asked to end") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s1", "seller"));
    users::insert(c, user("s2", "seller"));
    streams::insert(c, stream(ids[0], "s1", 1000));
    streams::insert(c, stream(ids[1], "s1", 1001));
    streams::insert(c, stream(ids[2], "s2", 1002));
    CHECK(streams::set_live(c, ids[0], souk::sha256("k0"), 2000, 0));
    CHECK(streams::set_live(c, ids[2], souk::sha256("k2"), 2000, 0));
  });
  db.write([](Connection& c) {
    users::set_disabled(c, "s1", 2500);
    // Disabled: the key is refused at once, before the stream is ended.
    CHECK_FALSE(streams::find_live_by_key_hash(c, souk::sha256("k0")));
    CHECK(streams::find_live_by_key_hash(c, souk::sha256("k2")) == ids[2]);
    // Only s1's live stream: not the scheduled one, not another seller's.
    CHECK(streams::request_end_for_seller(c, "s1", 2600) == 1);
    CHECK(streams::end_requested(c) == std::vector<std::string>{ids[0]});
    users::set_disabled(c, "s1", std::nullopt);
    CHECK(streams::find_live_by_key_hash(c, souk::sha256("k0")) == ids[0]);
  });
}

TEST_CASE("streams: live count, ingest state, and the restart's interruption") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, user("s1", "seller"));
    for (int i = 0; i < 3; ++i) streams::insert(c, stream(ids[i], "s1", 1000 + i));
  });
  db.write([](Connection& c) {
    CHECK(streams::count_live(c) == 0);
    CHECK(streams::set_live(c, ids[0], souk::sha256("k0"), 2000, 0));
    CHECK(streams::set_live(c, ids[1], souk::sha256("k1"), 2000, 0));
    CHECK(streams::count_live(c) == 2);

    streams::set_ingest_state(c, ids[0], IngestState::receiving, 2100);
    streams::set_ingest_state(c, ids[2], IngestState::receiving, 2100);  // scheduled: ignored
    CHECK(streams::find_by_id(c, ids[0])->ingest_state == IngestState::receiving);
    CHECK(streams::find_by_id(c, ids[1])->ingest_state == IngestState::waiting);
    CHECK(streams::find_by_id(c, ids[2])->ingest_state == IngestState::waiting);

    CHECK(streams::interrupt_all_receiving(c, 2200) == 1);
    CHECK(streams::find_by_id(c, ids[0])->ingest_state == IngestState::interrupted);
    CHECK(streams::find_by_id(c, ids[1])->ingest_state == IngestState::waiting);

    CHECK(streams::set_ended(c, ids[1], 3000, StoredStats{}, std::nullopt));
    CHECK(streams::count_live(c) == 1);
  });
}
