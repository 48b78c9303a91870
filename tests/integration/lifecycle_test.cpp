// Process lifecycle: the startup summary, the access log, SIGTERM shutdown (also
// with an idle keep-alive connection open) and persistence across a restart.
#include "api_client.hpp"
#include "raw_http.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

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
  CHECK(r.elapsed < std::chrono::seconds(5));
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
  // Registering hashes the password with argon2id (tens of milliseconds), so the
  // request is still being handled when the signal arrives.
  RawConnection conn(server.http_port());
  const json body = {{"username", unique_username("inflight")},
                     {"password", unique_password()},
                     {"role", "buyer"}};
  REQUIRE(conn.send(raw_request_text("POST", "/api/v1/auth/register", body.dump())));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto stopped = std::async(std::launch::async, [&] { return server.stop(); });
  const auto res = conn.read_response();
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
