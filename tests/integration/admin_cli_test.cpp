// The admin CLI (souk-live user|stream|db|migrate) against the real binary, on
// the data directory of a real running server where it matters: accounts it
// makes log in over the API, disabling locks an account out at once, a backup
// taken while the server writes is sound, and `stream end` ends a live stream
// with a publisher as POST /end does.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// `souk-live <args> --data-dir <dir>`.
RunResult admin(const std::filesystem::path& data_dir, std::vector<std::string> args,
                const std::string& input = {}) {
  args.insert(args.end(), {"--data-dir", data_dir.string()});
  return run_binary(args, {}, 20s, input);
}

#define CHECK_RUN(r, want_code)                                                          \
  do {                                                                                   \
    const auto& souk_run_ = (r);                                                         \
    INFO("exit " << souk_run_.exit_code << " stdout [" << souk_run_.out << "] stderr [" \
                 << souk_run_.err << "]");                                               \
    CHECK_FALSE(souk_run_.timed_out);                                                    \
    CHECK(souk_run_.exit_code == (want_code));                                           \
  } while (false)

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One line on stderr, "souk-live: ...", mentioning `needle`.
void check_one_error_line(const RunResult& r, const std::string& needle) {
  INFO("stderr [" << r.err << "]");
  CHECK(r.err.rfind("souk-live: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(needle) != std::string::npos);
}

// The schema version recorded in a database file (sqlite3 directly, as an
// operator's tool would see it).
int file_schema_version(const std::filesystem::path& db) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT MAX(version) FROM schema_migrations", -1, &st, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

void exec_sql(const std::filesystem::path& db, const char* sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql, nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

std::string integrity_of(const std::filesystem::path& db) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

std::int64_t count_rows(const std::filesystem::path& db, const char* table) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, (std::string("SELECT COUNT(*) FROM ") + table).c_str(), -1, &st,
                             nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const auto n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

}  // namespace

TEST_CASE("admin cli: user create, list, set-role; the account logs in over the API") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto dir = server.data_dir();
  const auto name = unique_username("cli");
  const auto password = unique_password();

  const auto created = admin(dir, {"user", "create", "--username", name, "--role", "buyer",
                                   "--display-name", "Cli Buyer", "--password-stdin"},
                             password + "\n");
  CHECK_RUN(created, 0);
  const auto id = trimmed(created.out);
  CHECK(is_uuid(id));
  CHECK(created.out.find(password) == std::string::npos);

  const auto login = client.login(name, password);
  REQUIRE_STATUS(login, 200);
  CHECK(login.body["data"]["user"]["id"] == id);
  CHECK(login.body["data"]["user"]["role"] == "buyer");
  CHECK(login.body["data"]["user"]["displayName"] == "Cli Buyer");

  // The same rules as /auth/register.
  const auto taken = admin(dir, {"user", "create", "--username", name, "--role", "buyer", "--password-stdin"},
                           password + "\n");
  CHECK_RUN(taken, 1);
  check_one_error_line(taken, "taken");
  const auto short_pw = admin(
      dir, {"user", "create", "--username", unique_username("cli"), "--role", "buyer", "--password-stdin"},
      "short\n");
  CHECK_RUN(short_pw, 2);
  check_one_error_line(short_pw, "password");
  // Without --password-stdin and without a terminal there is no way to ask.
  const auto no_pw = admin(dir, {"user", "create", "--username", unique_username("cli"), "--role", "buyer"});
  CHECK_RUN(no_pw, 2);
  check_one_error_line(no_pw, "--password-stdin");

  const auto set = admin(dir, {"user", "set-role", name, "seller"});
  CHECK_RUN(set, 0);
  const auto me = client.get(api_path("/users/me"), login.body["data"]["token"].get<std::string>());
  REQUIRE_STATUS(me, 200);
  CHECK(me.body["data"]["role"] == "seller");

  const auto list = admin(dir, {"user", "list", "--json", "--role", "seller"});
  CHECK_RUN(list, 0);
  const auto users = json::parse(list.out);
  REQUIRE(users.is_array());
  REQUIRE(users.size() == 1);
  CHECK(users[0]["id"] == id);
  CHECK(users[0]["disabledAt"].is_null());
  const auto table = admin(dir, {"user", "list"});
  CHECK_RUN(table, 0);
  CHECK(table.out.rfind("ID", 0) == 0);
  CHECK(table.out.find(name) != std::string::npos);

  CHECK_RUN(admin(dir, {"user", "set-role", "nobody-here", "seller"}), 1);
  CHECK_RUN(admin(dir, {"user", "set-role", name, "admin"}), 2);
}

TEST_CASE("admin cli: a disabled account cannot log in and its token stops working at once") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto account = client.register_user("buyer");
  REQUIRE_STATUS(client.get(api_path("/users/me"), account.token), 200);

  const auto r = admin(server.data_dir(), {"user", "disable", account.username});
  CHECK_RUN(r, 0);
  CHECK(r.out.find("1 token revoked") != std::string::npos);

  CHECK_ERROR(client.get(api_path("/users/me"), account.token), 401, "invalid_token");
  CHECK_ERROR(client.login(account.username, account.password), 403, "account_disabled");
  // A wrong password still gets the ordinary answer: nothing about the account leaks.
  CHECK_ERROR(client.login(account.username, "wrong-password-1"), 401, "invalid_credentials");

  const auto list = admin(server.data_dir(), {"user", "list", "--json"});
  CHECK_RUN(list, 0);
  const auto users = json::parse(list.out);
  REQUIRE(users.size() == 1);
  CHECK(users[0]["disabledAt"].is_string());

  CHECK_RUN(admin(server.data_dir(), {"user", "enable", account.id}), 0);
  REQUIRE_STATUS(client.login(account.username, account.password), 200);
}

TEST_CASE("admin cli: db backup while the server takes writes; db check") {
  ServerProcess server;
  ApiClient writer_client(server.http_port());
  const auto seller = writer_client.register_user("seller");
  const auto dir = server.data_dir();

  // Products are written the whole time the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    ApiClient c(server.http_port());
    while (!stop) {
      const auto r = c.post(api_path("/products"),
                            json{{"title", "Lamp"}, {"price_cents", 1200}, {"currency", "MAD"}}, seller.token);
      if (r.status == 201) ++written;
    }
  });
  // Twenty products stored before the backup starts (each a few milliseconds).
  const auto deadline = Clock::now() + scaled(20s);
  while (written < 20 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  if (written < 20) {
    stop = true;
    writer.join();
    FAIL("only " << written.load() << " of 20 products were created within " << scaled(20s).count()
                 << " ms; log tail:\n" << server.log_tail());
  }
  TempDir out;
  const auto file = out.path() / "backup.db";
  const int at_start = written;
  const auto r = admin(dir, {"db", "backup", file.string()});
  const int at_end = written;
  stop = true;
  writer.join();
  CHECK_RUN(r, 0);
  CHECK(r.out.find("bytes") != std::string::npos);
  CHECK(at_end > at_start);  // the server kept writing while the backup ran
  REQUIRE(std::filesystem::exists(file));
  CHECK_FALSE(std::filesystem::exists(file.string() + ".partial"));
  CHECK(integrity_of(file) == "ok");
  const auto products = count_rows(file, "products");
  CHECK(products >= 20);
  CHECK(products <= written);
  CHECK(count_rows(file, "users") == 1);

  // Not over an existing file, unless --force; never over the database itself.
  const auto again = admin(dir, {"db", "backup", file.string()});
  CHECK_RUN(again, 1);
  check_one_error_line(again, "--force");
  CHECK_RUN(admin(dir, {"db", "backup", file.string(), "--force"}), 0);
  CHECK_RUN(admin(dir, {"db", "backup", (dir / "souk.db").string(), "--force"}), 1);

  const auto check = admin(dir, {"db", "check"});
  CHECK_RUN(check, 0);
  CHECK(trimmed(check.out) == "ok");

  // A row pointing at a missing user: foreign_key_check finds it.
  exec_sql(file,
           "PRAGMA foreign_keys = OFF; INSERT INTO products (id, seller_id, title, price_cents, currency,"
           " created_at) VALUES ('p-orphan', 'no-such-user', 'x', 1, 'MAD', 0);");
  std::filesystem::create_directories(out.path() / "restored");
  std::filesystem::copy_file(file, out.path() / "restored" / "souk.db");
  const auto bad = admin(out.path() / "restored", {"db", "check"});
  CHECK_RUN(bad, 1);
  CHECK(bad.out.find("foreign key: products") != std::string::npos);
  CHECK(bad.err.find("1 problem") != std::string::npos);
}

TEST_CASE("admin cli: stream end on a live stream with a publisher, through the running server") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);
  ChildProcess publisher(ffmpeg_publish(live.publish_url, {.loop_forever = true}));
  const auto receiving = client.wait_stream_details(live.id, ingest_state_is("receiving"), 8s);
  REQUIRE(receiving["ingest"]["state"] == "receiving");
  // A segment listed, so a recording is under way too.
  const auto segment_deadline = Clock::now() + scaled(10s);
  std::string playlist;
  while (playlist.find("#EXTINF") == std::string::npos && Clock::now() < segment_deadline) {
    playlist = client.get("/hls/" + live.id + "/index.m3u8").raw;
    if (playlist.find("#EXTINF") == std::string::npos) std::this_thread::sleep_for(100ms);
  }
  INFO("playlist: " << playlist);
  REQUIRE(playlist.find("#EXTINF") != std::string::npos);

  const auto listed = admin(server.data_dir(), {"stream", "list", "--status", "live", "--json"});
  CHECK_RUN(listed, 0);
  const auto streams = json::parse(listed.out);
  REQUIRE(streams.size() == 1);
  CHECK(streams[0]["id"] == live.id);
  CHECK(streams[0]["seller"] == seller.username);

  const auto started = Clock::now();
  const auto wait = std::to_string(static_cast<double>(scaled(5s).count()) / 1000.0);
  const auto r = admin(server.data_dir(), {"stream", "end", live.id, "--wait", wait});
  CHECK_RUN(r, 0);
  CHECK(r.out.find("ended at") != std::string::npos);
  // The sweep runs every second: ended within a sweep or two, not --wait's 5 s.
  CHECK(Clock::now() - started < scaled(4s));

  // As POST /end: the publisher is dropped, the playlist ends, the VOD appears,
  // the figures are stored.
  const auto exited = publisher.wait(5s);
  CHECK_FALSE(exited.timed_out);
  const auto d = client.wait_stream_details(live.id, vod_ready, 15s);
  CHECK(d["status"] == "ended");
  CHECK(d["vodUrl"] == "http://127.0.0.1:" + std::to_string(server.http_port()) + "/vod/" + live.id + ".mp4");
  CHECK(client.get("/hls/" + live.id + "/index.m3u8").raw.find("#EXT-X-ENDLIST") != std::string::npos);
  CHECK_STATUS(client.get("/vod/" + live.id + ".mp4"), 200);
  const auto analytics = client.get(api_path("/streams/" + live.id + "/analytics"), seller.token);
  CHECK_STATUS(analytics, 200);
  CHECK(server.log_text().find("souk-live stream end") != std::string::npos);

  // Ending it again: it is not live.
  const auto twice = admin(server.data_dir(), {"stream", "end", live.id});
  CHECK_RUN(twice, 1);
  check_one_error_line(twice, "not live");
  CHECK_RUN(admin(server.data_dir(), {"stream", "end", "no-such-stream"}), 1);
}

TEST_CASE("admin cli: disabling a seller who is live ends the stream and drops the publisher") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);
  ChildProcess publisher(ffmpeg_publish(live.publish_url, {.loop_forever = true}));
  const auto receiving = client.wait_stream_details(live.id, ingest_state_is("receiving"), 8s);
  REQUIRE(receiving["ingest"]["state"] == "receiving");

  const auto r = admin(server.data_dir(), {"user", "disable", seller.username});
  CHECK_RUN(r, 0);
  CHECK(r.out.find("1 live stream to be ended") != std::string::npos);
  // The sweep (every second) ends it as /end does: the publisher is dropped.
  const auto exited = publisher.wait(scaled(5s));
  CHECK_FALSE(exited.timed_out);
  const auto d = client.wait_stream_details(live.id, [](const json& j) { return j["status"] == "ended"; }, 8s);
  CHECK(d["status"] == "ended");
  // And the key publishes no more.
  const auto again = run_process(ffmpeg_publish(live.publish_url, {}), scaled(10s));
  CHECK_FALSE(again.timed_out);
  CHECK(again.exit_code != 0);
}

TEST_CASE("admin cli: stream end while the server is down is finished by the next start") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = client.go_live(client.register_user("seller"));
  REQUIRE(server.stop().exited);

  const auto r = admin(server.data_dir(), {"stream", "end", live.id, "--wait", "0"});
  CHECK_RUN(r, 0);
  CHECK(r.out.find("next start") != std::string::npos);
  const auto table = admin(server.data_dir(), {"stream", "list"});
  CHECK(table.out.find("end requested") != std::string::npos);

  server.restart();
  ApiClient after(server.http_port());
  // Ended during start-up, before the server answered its first request.
  CHECK(after.stream_details(live.id)["status"] == "ended");
}

TEST_CASE("admin cli: migrate on an old and on a newer database") {
  TempDir dir;
  const auto data = dir.path() / "data";
  const auto db = data / "souk.db";

  // Nothing there yet: pending; migrate creates the schema.
  CHECK_RUN(admin(data, {"migrate", "--check"}), 1);
  const auto made = admin(data, {"migrate"});
  CHECK_RUN(made, 0);
  CHECK(made.out.find("0 -> ") != std::string::npos);
  const int latest = file_schema_version(db);
  CHECK(latest >= 2);
  const auto check = admin(data, {"migrate", "--check"});
  CHECK_RUN(check, 0);
  CHECK(check.out.find("up to date") != std::string::npos);

  // A database of version 1 (before the admin columns and the webhook outbox):
  // the other commands ask for migrate; migrate brings it up.
  exec_sql(db,
           "DROP TABLE webhook_attempts; DROP TABLE webhook_deliveries;"
           " DROP INDEX streams_end_requested; ALTER TABLE streams DROP COLUMN end_requested_at;"
           " ALTER TABLE users DROP COLUMN disabled_at; DELETE FROM schema_migrations WHERE version > 1;");
  const auto old_list = admin(data, {"user", "list"});
  CHECK_RUN(old_list, 1);
  check_one_error_line(old_list, "souk-live migrate");
  CHECK_RUN(admin(data, {"db", "check"}), 1);
  CHECK_RUN(admin(data, {"migrate", "--check"}), 1);
  const auto up = admin(data, {"migrate"});
  CHECK_RUN(up, 0);
  CHECK(up.out.find("1 -> " + std::to_string(latest)) != std::string::npos);
  CHECK_RUN(admin(data, {"user", "list"}), 0);

  // Written by a newer binary: refused, exit 1, nothing changed.
  exec_sql(db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0);");
  const auto newer = admin(data, {"migrate"});
  CHECK_RUN(newer, 1);
  check_one_error_line(newer, "newer");
  CHECK_RUN(admin(data, {"migrate", "--check"}), 1);
  CHECK_RUN(admin(data, {"user", "list"}), 1);
  CHECK(file_schema_version(db) == 999);
}

TEST_CASE("admin cli: bad usage exits 2 with one line on stderr") {
  TempDir dir;
  const auto data = dir.path() / "data";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"user"},
           {"user", "create", "--role", "buyer"},
           {"user", "frobnicate"},
           {"stream", "end"},
           {"db", "backup"},
           {"migrate", "--bogus"},
       }) {
    CAPTURE(args.size() > 1 ? args[1] : args[0]);
    const auto r = admin(data, args);
    CHECK_RUN(r, 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  const auto status = admin(data, {"stream", "list", "--status", "paused"});
  CHECK_RUN(status, 2);
  check_one_error_line(status, "--status");
  // The data directory comes from SOUK_DATA_DIR and --config as for serve; a bad one is a usage error.
  const auto env_dir = run_binary({"user", "list"}, {{"SOUK_DATA_DIR", data.string()}});
  CHECK_RUN(env_dir, 1);
  check_one_error_line(env_dir, data.string());
  const auto cfg = dir.write_file("souk.toml", "data_dir = \"" + data.string() + "\"\n");
  CHECK_RUN(admin(data, {"migrate"}), 0);
  CHECK_RUN(run_binary({"user", "list", "--config", cfg.string()}), 0);
  CHECK_RUN(run_binary({"user", "list", "--config", (dir.path() / "missing.toml").string()}), 2);
  const auto bad_cfg = dir.write_file("bad.toml", "data_dir = 5\nbogus = 1\n");
  CHECK_RUN(run_binary({"user", "list", "--config", bad_cfg.string()}), 2);
}
