// Process lifecycle: the startup summary, the access log, SIGTERM shutdown (also
// with an idle keep-alive connection open) and persistence across a restart.
#include "api_client.hpp"
#include "raw_http.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <sqlite3.h>

#include <cstdio>

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
