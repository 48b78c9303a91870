// Viewer sessions: closing those of one stream when it ends, and all at start-up.
#include "souk/storage/engagement.hpp"

#include "souk/storage/database.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;

namespace {

const std::string stream_a = "00000000-0000-4000-8000-00000000000a";
const std::string stream_b = "00000000-0000-4000-8000-00000000000b";
const std::string seller = "s";

void insert_stream(Connection& c, const std::string& id) {
  Stream s;
  s.id = id;
  s.seller_id = seller;
  s.settings.title = "t-" + id;
  streams::insert(c, s);
}

// left_at of each session of `stream_id`, in the order opened (-1 while open).
std::vector<std::int64_t> left_at(Connection& c, const std::string& stream_id) {
  auto q =
      c.query("SELECT COALESCE(left_at, -1) FROM viewer_sessions WHERE stream_id = ? ORDER BY id",
              stream_id);
  std::vector<std::int64_t> out;
  while (q.next()) out.push_back(q->int64(0));
  return out;
}

}  // namespace

TEST_CASE("viewer sessions: a stream's end closes its open sessions, no one else's") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, User{"s", "s", "h", "seller", "s", std::nullopt, std::nullopt, std::nullopt, 0,
                          std::nullopt});
    insert_stream(c, stream_a);
    insert_stream(c, stream_b);
    const auto gone = viewer_sessions::open(c, stream_a, "x1", std::nullopt, "x1", 100);
    viewer_sessions::close(c, gone, 200);
    viewer_sessions::open(c, stream_a, "x2", std::nullopt, "x2", 300);
    viewer_sessions::open(c, stream_a, "x3", std::nullopt, "x3", 400);
    viewer_sessions::open(c, stream_b, "x4", std::nullopt, "x4", 500);
  });
  db.write([](Connection& c) {
    CHECK(viewer_sessions::close_all_for_stream(c, stream_a, 1000) == 2);
    CHECK(left_at(c, stream_a) == std::vector<std::int64_t>{200, 1000, 1000});
    CHECK(left_at(c, stream_b) == std::vector<std::int64_t>{-1});
    CHECK(viewer_sessions::close_all_for_stream(c, stream_a, 2000) == 0);  // already closed
    CHECK(left_at(c, stream_a) == std::vector<std::int64_t>{200, 1000, 1000});
  });
}

TEST_CASE("viewer sessions: at start-up every open session ends, never before it began") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, User{"s", "s", "h", "seller", "s", std::nullopt, std::nullopt, std::nullopt, 0,
                          std::nullopt});
    insert_stream(c, stream_a);
    viewer_sessions::open(c, stream_a, "x1", std::nullopt, "x1", 100);
    viewer_sessions::open(c, stream_a, "x2", std::nullopt, "x2", 900);
  });
  db.write([](Connection& c) {
    CHECK(viewer_sessions::close_all_open(c, 500) == 2);
    CHECK(left_at(c, stream_a) == std::vector<std::int64_t>{500, 900});
  });
}
