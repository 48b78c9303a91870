// Process lifecycle: the startup summary, the access log, SIGTERM shutdown (also
// with an idle keep-alive connection open, and with a request in flight),
// persistence across a restart, and what a crash (SIGKILL) leaves behind.
#include "api_client.hpp"
#include "raw_http.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <optional>

#include <future>
#include <regex>
#include <thread>
#include <sstream>

using namespace souk_it;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

void check_clean_exit(const StopResult& r) {
  INFO("exited: " << r.exited << ", exit code: " << r.exit_code << ", signal: " << r.signal
                  << ", took " << r.elapsed.count() << " ms");
  CHECK(r.exited);
  CHECK(r.exit_code == 0);
  CHECK(r.elapsed < scaled(std::chrono::seconds(5)));
}

// Polls /proc/net/tcp until it lists at least one established connection on
// 127.0.0.1:`port` and none of them has bytes the server has not read yet
// (rx_queue, the fifth column's second half, is 0 on the server's end).
bool wait_requests_read(std::uint16_t port, std::chrono::milliseconds timeout) {
  char local[16];
  std::snprintf(local, sizeof local, "0100007F:%04X", static_cast<unsigned>(port));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int established = 0;
    int unread = 0;
    std::istringstream table(read_whole_file("/proc/net/tcp"));
    std::string line;
    std::getline(table, line);  // the header
    while (std::getline(table, line)) {
      std::istringstream fields(line);
      std::string slot, local_address, remote_address, state, queues;
      fields >> slot >> local_address >> remote_address >> state >> queues;
      if (local_address != local || state != "01") continue;  // 01: ESTABLISHED
      ++established;
      const auto colon = queues.find(':');
      if (colon == std::string::npos || std::stoul(queues.substr(colon + 1), nullptr, 16) != 0) {
        ++unread;
      }
    }
    if (established > 0 && unread == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

TEST_CASE(
    "lifecycle: the startup log has a summary line with address, data dir and schema version") {
  ServerProcess server;
  const auto log = server.log_text();
  INFO("log:\n" << log);
  const std::regex schema(R"(schema[ _-]?version)", std::regex::icase);
  bool found = false;
  for (const auto& line : lines_of(log)) {
    if (line.find(server.http_address()) != std::string::npos &&
        line.find(server.data_dir().string()) != std::string::npos &&
        std::regex_search(line, schema)) {
      found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("lifecycle: SIGTERM stops an idle server with status 0 within 5 s") {
  ServerProcess server;
  check_clean_exit(server.stop());
  CHECK_FALSE(server.running());
}

TEST_CASE(
    "lifecycle: SIGTERM stops the server within 5 s while an idle keep-alive connection is open") {
  ServerProcess server;
  RawConnection conn(server.http_port());
  REQUIRE(conn.send(raw_request_text("GET", "/healthz")));
  const auto res = conn.read_response();
  REQUIRE(res.has_value());
  CHECK(res->status == 200);
  // Also one httplib keep-alive client with a finished request.
  ApiClient keep(server.http_port(), /*keep_alive=*/true);
  CHECK_STATUS(keep.get("/healthz"), 200);

  check_clean_exit(server.stop());
  // The server closed the idle connection on its way out.
  CHECK(conn.wait_closed(std::chrono::seconds(1)));
}

TEST_CASE("lifecycle: SIGTERM lets a request in flight finish before exiting") {
  ServerProcess server;
  // The test holds the database's write lock: a registration can be read and
  // hashed but not stored, so it stays in flight (the server waits up to its
  // 5 s busy timeout) until the lock is released.
  sqlite3* lock = nullptr;
  REQUIRE(sqlite3_open_v2((server.data_dir() / "souk.db").c_str(), &lock, SQLITE_OPEN_READWRITE,
                          nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(lock, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  RawConnection conn(server.http_port());
  const json body = {{"username", unique_username("inflight")},
                     {"password", unique_password()},
                     {"role", "buyer"}};
  REQUIRE(conn.send(raw_request_text("POST", "/api/v1/auth/register", body.dump())));
  // The server has read the whole request: the kernel holds no unread byte on
  // its end of the connection. Only then is the request in the handler (a
  // request still being received counts as an idle connection, closed at once).
  INFO("connections to the HTTP port: " << read_whole_file("/proc/net/tcp"));
  REQUIRE(wait_requests_read(server.http_port(), scaled(std::chrono::seconds(3))));

  auto stopped = std::async(std::launch::async, [&] { return server.stop(); });
  REQUIRE(server.wait_for_log("shutting down"));
  REQUIRE(sqlite3_exec(lock, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(lock);
  const auto res = conn.read_response(scaled(std::chrono::seconds(5)));
  REQUIRE(res.has_value());
  CHECK(res->status == 201);
  check_clean_exit(stopped.get());
}

TEST_CASE("lifecycle: the access log has method, path, status and duration") {
  ServerProcess server;
  ApiClient client(server.http_port());
  CHECK_STATUS(client.get(api_path("/users/me")), 401);
  const std::string needle = "GET /api/v1/users/me 401";
  CHECK(server.wait_for_log(needle));
  const auto log = server.log_text();
  INFO("log:\n" << log);
  // On the same line: a duration (a "duration" field, or a number with a unit).
  const std::regex duration(R"(duration|\b\d+(\.\d+)?\s?(ms|us|µs|s)\b)", std::regex::icase);
  bool found = false;
  for (const auto& line : lines_of(log)) {
    if (line.find(needle) != std::string::npos && std::regex_search(line, duration)) found = true;
  }
  CHECK(found);
}

TEST_CASE("lifecycle: users, products and tokens survive a restart on the same data dir") {
  ServerProcess server;
  Account seller;
  json product;
  {
    ApiClient client(server.http_port());
    seller = client.register_user("seller", json{{"display_name", "Dar Souk"}});
    const auto created = client.post(
        api_path("/products"),
        json{{"title", "Brass lantern"}, {"price_cents", 4500}, {"currency", "MAD"}}, seller.token);
    REQUIRE_STATUS(created, 201);
    product = created.body["data"];
  }

  check_clean_exit(server.stop());
  server.restart();

  ApiClient client(server.http_port());
  const auto login = client.login(seller.username, seller.password);
  REQUIRE_STATUS(login, 200);
  CHECK(login.body["data"]["user"] == seller.user);

  const auto got = client.get(api_path("/products/" + product["id"].get<std::string>()));
  REQUIRE_STATUS(got, 200);
  CHECK(got.body["data"] == product);

  const auto me = client.get(api_path("/users/me"), seller.token);
  REQUIRE_STATUS(me, 200);
  CHECK(me.body["data"] == seller.user);

  check_clean_exit(server.stop());
}

namespace {

// A Socket.IO viewer over HTTP long-polling (Engine.IO 4), just enough to sign
// in (or not) and join a stream's room.
class PollingViewer {
 public:
  explicit PollingViewer(std::uint16_t port, const std::string& token = {}) : http_(port) {
    const auto open = http_.get("/socket.io/?EIO=4&transport=polling");
    REQUIRE_STATUS(open, 200);
    REQUIRE(open.raw.starts_with("0{"));
    sid_ = json::parse(open.raw.substr(1)).at("sid").get<std::string>();
    send(token.empty() ? std::string("40") : "40" + json{{"token", token}}.dump());
    REQUIRE(next_packet_with("40{").has_value());
  }

  // stream:join with an ack; the ack's result ({ok, streamId, viewerCount}).
  json join(const std::string& stream_id) {
    send("421" + json::array({"stream:join", {{"stream_id", stream_id}}}).dump());
    const auto ack = next_packet_with("431[");
    REQUIRE(ack.has_value());
    return json::parse(ack->substr(3)).at(0);
  }

 private:
  std::string path() const { return "/socket.io/?EIO=4&transport=polling&sid=" + sid_; }

  void send(const std::string& packet) {
    REQUIRE_STATUS(http_.post(path(), Body::raw(packet), {}, "text/plain;charset=UTF-8"), 200);
  }

  // Polls (each poll returns as soon as a packet waits) until a packet starts
  // with `prefix`; the server pings only every 25 s, so a few polls suffice.
  std::optional<std::string> next_packet_with(const std::string& prefix) {
    for (int poll = 0; poll < 10; ++poll) {
      const auto r = http_.get(path());
      if (r.status != 200) return std::nullopt;
      std::istringstream packets(r.raw);
      for (std::string p; std::getline(packets, p, '\x1e');) {
        if (p.starts_with(prefix)) return p;
      }
    }
    return std::nullopt;
  }

  ApiClient http_;
  std::string sid_;
};

struct ViewerSession {
  std::string viewer_key;
  std::int64_t joined_at = 0;
  std::optional<std::int64_t> left_at;
};

std::vector<ViewerSession> viewer_sessions(const std::filesystem::path& db_path, const std::string& stream_id) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT viewer_key, joined_at, left_at FROM viewer_sessions WHERE stream_id = ?"
                                 " ORDER BY id",
                             -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_text(st, 1, stream_id.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<ViewerSession> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    ViewerSession s;
    s.viewer_key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    s.joined_at = sqlite3_column_int64(st, 1);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) s.left_at = sqlite3_column_int64(st, 2);
    out.push_back(s);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::int64_t unix_millis_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE(
    "lifecycle: viewer sessions a crash left open are closed at the next start; the viewer count "
    "restarts at 0 and the figures count those viewers up to the restart") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto buyer = client.register_user("buyer");
  const auto live = client.go_live(seller);
  {
    PollingViewer signed_in(server.http_port(), buyer.token);
    CHECK(signed_in.join(live.id)["viewerCount"] == 1);
    PollingViewer anonymous(server.http_port());
    CHECK(anonymous.join(live.id)["viewerCount"] == 2);
    CHECK(client.stream_details(live.id)["viewerCount"] == 2);

    // The process dies with both viewers in the room: nothing closes their sessions.
    const auto killed_at = unix_millis_now();
    REQUIRE(::kill(server.pid(), SIGKILL) == 0);
    server.restart();
    const auto ready_at = unix_millis_now();

    const auto sessions = viewer_sessions(server.data_dir() / "souk.db", live.id);
    REQUIRE(sessions.size() == 2);
    for (const auto& s : sessions) {
      REQUIRE(s.left_at.has_value());
      CHECK(*s.left_at >= killed_at);
      CHECK(*s.left_at <= ready_at);
    }
  }
  CHECK(client.stream_details(live.id)["viewerCount"] == 0);
  PollingViewer back(server.http_port(), buyer.token);
  CHECK(back.join(live.id)["viewerCount"] == 1);

  // Time passes before the end: sessions still open from the crash would keep
  // counting it (deliberate, not a wait for an event).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto ended = client.end_stream(live);
  REQUIRE_STATUS(ended, 200);
  const auto& stats = ended.body["data"]["stats"];

  // The figures of docs/api.md from the stored sessions: two viewers (the buyer
  // twice, without overlap; the anonymous socket once), at most two at once.
  const auto sessions = viewer_sessions(server.data_dir() / "souk.db", live.id);
  REQUIRE(sessions.size() == 3);
  std::int64_t total_ms = 0;
  for (const auto& s : sessions) {
    REQUIRE(s.left_at.has_value());
    total_ms += *s.left_at - s.joined_at;
  }
  CHECK(sessions[0].viewer_key == buyer.id);
  CHECK(sessions[2].viewer_key == buyer.id);
  CHECK(*sessions[0].left_at <= sessions[2].joined_at);
  const auto rounded = [](std::int64_t ms) { return (ms + 500) / 1000; };
  INFO("stats: " << stats.dump() << "; total watch " << total_ms << " ms");
  CHECK(stats["peakViewers"] == 2);
  CHECK(stats["uniqueViewers"] == 2);
  CHECK(stats["totalWatchTimeSeconds"] == rounded(total_ms));
  CHECK(stats["averageWatchTimeSeconds"] == rounded(total_ms / 2));

  const auto analytics = client.get(api_path("/streams/" + live.id + "/analytics"), seller.token);
  REQUIRE_STATUS(analytics, 200);
  const auto& basic = analytics.body["data"]["basicStats"];
  CHECK(basic["peakViewers"] == 2);
  CHECK(basic["uniqueViewers"] == 2);
  CHECK(basic["totalWatchTimeSeconds"] == rounded(total_ms));
  CHECK(basic["averageWatchTimeSeconds"] == rounded(total_ms / 2));
}

TEST_CASE("lifecycle: /readyz answers 503 not_ready while the data directory cannot be written, 200 once it can") {
  ServerProcess server;
  ApiClient client(server.http_port());
  CHECK_STATUS(client.get("/readyz"), 200);

  // The data directory goes away (a volume unmounted under the server): the
  // database stays open, but nothing new can be written there.
  const auto moved = server.dir() / "data.moved";
  std::filesystem::rename(server.data_dir(), moved);
  const auto not_ready = client.get("/readyz");
  CHECK_ERROR(not_ready, 503, "not_ready");
  CHECK_STATUS(client.get("/healthz"), 200);  // the process itself still answers

  std::filesystem::rename(moved, server.data_dir());
  const auto ready = client.get("/readyz");
  CHECK_STATUS(ready, 200);
  CHECK(ready.body["data"]["status"] == "ready");
}
