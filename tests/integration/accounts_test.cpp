// Accounts: register (validation, duplicates), login, the login rate limit,
// /users/me, logout; and that passwords and tokens never reach the log.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

using namespace souk_it;

namespace {

// Every password and token a test case used; its last subcase greps the log.
using Secrets = std::vector<std::string>;

Secrets& secrets() { return test_case_state<Secrets>("secrets"); }

const Account& remember(const Account& a) {
  secrets().push_back(a.password);
  secrets().push_back(a.token);
  return a;
}

void remember_token(const Response& login) {
  if (login.body.is_object() && login.body.contains("data") && login.body["data"].is_object() &&
      login.body["data"].contains("token") && login.body["data"]["token"].is_string()) {
    secrets().push_back(login.body["data"]["token"].get<std::string>());
  }
}

// The last subcase of a test case: stop the server (flushing its log) and look for
// every secret used.
void check_log_has_no_secrets(ServerProcess& server) {
  const auto stopped = server.stop();
  CHECK(stopped.exited);
  CHECK(stopped.exit_code == 0);
  const auto log = server.log_text();
  // A real access log was written (so the search below means something).
  CHECK(log.find("POST /api/v1/auth/") != std::string::npos);
  REQUIRE_FALSE(secrets().empty());
  for (const auto& s : secrets()) {
    REQUIRE(s.size() >= 8);
    CAPTURE(s);
    CHECK(log.find(s) == std::string::npos);
  }
}

json register_body(const std::string& role = "buyer") {
  return json{{"username", unique_username("r")}, {"password", unique_password()}, {"role", role}};
}

// The server's resident memory, from /proc/<pid>/status (VmRSS), in bytes.
std::int64_t resident_bytes(const ServerProcess& server) {
  std::ifstream in("/proc/" + std::to_string(server.pid()) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // in kB
  }
  FAIL("no VmRSS in /proc/" << server.pid() << "/status");
  return 0;
}

// souk_refused_total{reason} from GET /metrics (0 when absent).
double refused(ApiClient& client, const std::string& reason) {
  const auto text = client.get("/metrics").raw;
  const auto line = "souk_refused_total{reason=\"" + reason + "\"} ";
  const auto at = text.find(line);
  return at == std::string::npos ? 0 : std::stod(text.substr(at + line.size()));
}

void check_retry_after(const Response& res, long long at_least, long long at_most) {
  const auto retry = res.header("Retry-After");
  INFO("Retry-After: " << retry);
  REQUIRE_FALSE(retry.empty());
  REQUIRE(retry.find_first_not_of("0123456789") == std::string::npos);
  CHECK(std::stoll(retry) >= at_least);
  CHECK(std::stoll(retry) <= at_most);
}

void check_user_shape(const json& user, const std::string& username, const std::string& role) {
  INFO("user: " << user.dump());
  REQUIRE(user.is_object());
  REQUIRE(user["id"].is_string());
  CHECK(is_uuid(user["id"].get<std::string>()));
  CHECK(user["username"] == username);
  CHECK(user["role"] == role);
  CHECK(user.contains("displayName"));
  CHECK(user.contains("avatarUrl"));
  CHECK(user.contains("lat"));
  CHECK(user.contains("lon"));
  REQUIRE(user["createdAt"].is_string());
  const auto created = user["createdAt"].get<std::string>();
  CHECK(is_iso_millis_utc(created));
  CHECK(seconds_from_now(created) < 300);
  // Nothing secret in a user object.
  for (const auto& [key, value] : user.items()) {
    CAPTURE(key);
    CHECK(key.find("password") == std::string::npos);
    CHECK(key.find("Password") == std::string::npos);
    CHECK(key.find("hash") == std::string::npos);
    CHECK(key.find("Hash") == std::string::npos);
    CHECK(key.find("token") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("accounts: register") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const auto reg = api_path("/auth/register");

  SUBCASE("a buyer with only the required fields") {
    const auto body = register_body("buyer");
    secrets().push_back(body["password"].get<std::string>());
    const auto res = client.post(reg, body);
    REQUIRE_STATUS(res, 201);
    remember_token(res);
    const auto& data = res.body["data"];
    check_user_shape(data["user"], body["username"].get<std::string>(), "buyer");
    CHECK(data["user"]["displayName"] == body["username"]);  // defaults to the username
    CHECK(data["user"]["avatarUrl"].is_null());
    CHECK(data["user"]["lat"].is_null());
    CHECK(data["user"]["lon"].is_null());
    REQUIRE(data["token"].is_string());
    CHECK_FALSE(data["token"].get<std::string>().empty());
  }
  SUBCASE("a seller with every optional field") {
    auto body = register_body("seller");
    body["display_name"] = "Dar Zellige — فاس";
    body["avatar_url"] = "https://cdn.example/avatars/1.png";
    body["lat"] = 34.0331;
    body["lon"] = -5.0003;
    secrets().push_back(body["password"].get<std::string>());
    const auto res = client.post(reg, body);
    REQUIRE_STATUS(res, 201);
    remember_token(res);
    const auto& user = res.body["data"]["user"];
    check_user_shape(user, body["username"].get<std::string>(), "seller");
    CHECK(user["displayName"] == "Dar Zellige — فاس");
    CHECK(user["avatarUrl"] == "https://cdn.example/avatars/1.png");
    REQUIRE(user["lat"].is_number());
    REQUIRE(user["lon"].is_number());
    CHECK(user["lat"].get<double>() == doctest::Approx(34.0331));
    CHECK(user["lon"].get<double>() == doctest::Approx(-5.0003));
  }
  SUBCASE("values at the limits are accepted") {
    std::vector<json> bodies;
    auto b = register_body();
    b["username"] = "a-b";  // 3 chars (each test case has a fresh data dir)
    bodies.push_back(b);
    b = register_body();
    std::string name32 = unique_username("x.y-z");
    name32 += std::string(32 - name32.size(), '9');
    b["username"] = name32;
    bodies.push_back(b);
    b = register_body();
    b["password"] = "Ab3$efgh";  // 8 chars
    bodies.push_back(b);
    b = register_body();
    b["password"] = unique_password() + std::string(128 - unique_password().size(), 'p');
    bodies.push_back(b);
    b = register_body("seller");
    b["lat"] = 90;
    b["lon"] = -180;
    bodies.push_back(b);
    b = register_body("seller");
    b["lat"] = -90;
    b["lon"] = 180;
    bodies.push_back(b);
    b = register_body();
    b["avatar_url"] = "http://cdn.example/a.png";
    bodies.push_back(b);
    for (const auto& body : bodies) {
      CAPTURE(body.dump());
      secrets().push_back(body["password"].get<std::string>());
      const auto res = client.post(reg, body);
      CHECK_STATUS(res, 201);
      remember_token(res);
    }
  }
  SUBCASE("a missing required field is 400 missing_field") {
    for (const char* field : {"username", "password", "role"}) {
      CAPTURE(field);
      auto body = register_body();
      body.erase(field);
      CHECK_FIELD_ERROR(client.post(reg, body), 400, "missing_field", field);
    }
    const auto empty = client.post(reg, json::object());
    CHECK_ERROR(empty, 400, "missing_field");
    CHECK_FALSE(empty.error_field().empty());
  }
  SUBCASE("a wrong JSON type is 400 invalid_type") {
    const std::vector<std::pair<std::string, json>> cases{
        {"username", 5},        {"password", 12345678},      {"role", true},
        {"display_name", 7},    {"avatar_url", 1},           {"lat", "x"},
        {"lon", json::array()}, {"username", json::object()}};
    for (const auto& [field, value] : cases) {
      CAPTURE(field);
      CAPTURE(value.dump());
      auto body = register_body();
      body[field] = value;
      if (field == "lat") body["lon"] = 1.0;
      if (field == "lon") body["lat"] = 1.0;
      CHECK_FIELD_ERROR(client.post(reg, body), 400, "invalid_type", field);
    }
  }
  SUBCASE("an invalid value is 422 invalid_value naming the field") {
    struct Case {
      std::string field;
      json value;
    };
    const std::vector<Case> cases{
        {"username", "ab"},
        {"username", std::string(33, 'a')},
        {"username", "has space"},
        {"username", "semi;colon"},
        {"username", "slash/name"},
        {"username", "émile_x"},
        {"password", "Short7!"},
        {"password", std::string(129, 'p')},
        {"role", "admin"},
        {"role", "moderator"},
        {"avatar_url", "ftp://cdn.example/a.png"},
        {"avatar_url", "javascript:alert(1)"},
        {"avatar_url", "cdn.example/a.png"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.field);
      CAPTURE(c.value.dump());
      auto body = register_body();
      body[c.field] = c.value;
      CHECK_FIELD_ERROR(client.post(reg, body), 422, "invalid_value", c.field);
    }
  }
  SUBCASE("lat and lon outside their ranges are 422") {
    const std::vector<std::tuple<double, double, std::string>> cases{
        {90.5, 0, "lat"}, {-91, 0, "lat"}, {0, 180.5, "lon"}, {0, -181, "lon"}};
    for (const auto& [lat, lon, field] : cases) {
      CAPTURE(lat);
      CAPTURE(lon);
      auto body = register_body("seller");
      body["lat"] = lat;
      body["lon"] = lon;
      CHECK_FIELD_ERROR(client.post(reg, body), 422, "invalid_value", field);
    }
  }
  SUBCASE("only one of lat and lon is 422") {
    for (const char* only : {"lat", "lon"}) {
      CAPTURE(only);
      auto body = register_body("seller");
      body[only] = 12.5;
      const auto res = client.post(reg, body);
      CHECK_STATUS(res, 422);
      CHECK(res.error_code() == "invalid_value");
      CHECK_FALSE(res.error_field().empty());
    }
  }
  SUBCASE("a taken username is 409 username_taken, also differing only in case") {
    const auto name = "Taken_" + unique_username("").substr(1, 12);
    auto first = register_body();
    first["username"] = name;
    secrets().push_back(first["password"].get<std::string>());
    const auto created = client.post(reg, first);
    REQUIRE_STATUS(created, 201);
    remember_token(created);
    for (const auto& again :
         {name, std::string("taken_") + name.substr(6), std::string("TAKEN_") + name.substr(6)}) {
      CAPTURE(again);
      auto body = register_body("seller");
      body["username"] = again;
      CHECK_ERROR(client.post(reg, body), 409, "username_taken");
    }
  }
  SUBCASE("the log holds none of the passwords and tokens") { check_log_has_no_secrets(server); }
}

TEST_CASE("accounts: login, /users/me and logout") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& user = test_case_state<Account>("user");
  if (user.token.empty())
    user = remember(client.register_user("buyer", json{{"lat", 33.5}, {"lon", -7.6}}));

  SUBCASE("login returns the user and a new token each time") {
    const auto first = client.login(user.username, user.password);
    REQUIRE_STATUS(first, 200);
    remember_token(first);
    CHECK(first.body["data"]["user"] == user.user);
    REQUIRE(first.body["data"]["token"].is_string());
    const auto t1 = first.body["data"]["token"].get<std::string>();
    CHECK_FALSE(t1.empty());
    CHECK(t1 != user.token);

    const auto second = client.login(user.username, user.password);
    REQUIRE_STATUS(second, 200);
    remember_token(second);
    const auto t2 = second.body["data"]["token"].get<std::string>();
    CHECK(t2 != t1);
    // Every token works.
    for (const auto& t : {user.token, t1, t2})
      CHECK_STATUS(client.get(api_path("/users/me"), t), 200);
  }
  SUBCASE("a wrong password and an unknown user get the same 401") {
    secrets().push_back("Wrong-" + user.password);
    const auto wrong = client.login(user.username, "Wrong-" + user.password);
    const auto unknown = client.login(unique_username("ghost"), user.password);
    CHECK_ERROR(wrong, 401, "invalid_credentials");
    CHECK_ERROR(unknown, 401, "invalid_credentials");
    CHECK_NO_FIELD(wrong);
    CHECK(wrong.body["error"]["message"] == unknown.body["error"]["message"]);
  }
  SUBCASE("GET /users/me returns the caller") {
    const auto me = client.get(api_path("/users/me"), user.token);
    REQUIRE_STATUS(me, 200);
    CHECK(me.body["data"] == user.user);
    check_user_shape(me.body["data"], user.username, "buyer");
    CHECK(me.body["data"]["lat"].get<double>() == doctest::Approx(33.5));
  }
  SUBCASE("GET /users/me without a token is 401 unauthorized with WWW-Authenticate") {
    const auto res = client.get(api_path("/users/me"));
    CHECK_ERROR(res, 401, "unauthorized");
    CHECK_NO_FIELD(res);
    CHECK(res.has_header("WWW-Authenticate"));
  }
  SUBCASE("GET /users/me with a bad token is 401 invalid_token with WWW-Authenticate") {
    std::string flipped = user.token;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    for (const std::string& bad :
         std::vector<std::string>{"not-a-real-token", user.token + "x", flipped}) {
      CAPTURE(bad);
      const auto res = client.get(api_path("/users/me"), bad);
      CHECK_ERROR(res, 401, "invalid_token");
      CHECK(res.has_header("WWW-Authenticate"));
    }
  }
  SUBCASE("logout revokes only that token") {
    const auto other_login = client.login(user.username, user.password);
    REQUIRE_STATUS(other_login, 200);
    remember_token(other_login);
    const auto other = other_login.body["data"]["token"].get<std::string>();
    const auto victim_login = client.login(user.username, user.password);
    REQUIRE_STATUS(victim_login, 200);
    remember_token(victim_login);
    const auto victim = victim_login.body["data"]["token"].get<std::string>();

    const auto out = client.post(api_path("/auth/logout"), {}, victim);
    REQUIRE_STATUS(out, 200);
    CHECK(out.body == json{{"data", {{"loggedOut", true}}}});

    CHECK_ERROR(client.get(api_path("/users/me"), victim), 401, "invalid_token");
    CHECK_ERROR(client.post(api_path("/auth/logout"), {}, victim), 401, "invalid_token");
    CHECK_STATUS(client.get(api_path("/users/me"), other), 200);
    CHECK_STATUS(client.get(api_path("/users/me"), user.token), 200);
  }
  SUBCASE("logout without a token is 401 unauthorized") {
    CHECK_ERROR(client.post(api_path("/auth/logout")), 401, "unauthorized");
  }
  SUBCASE("the log holds none of the passwords and tokens") { check_log_has_no_secrets(server); }
}

TEST_CASE("accounts: 5 failed logins for a username are then refused with 429 (defaults)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const auto target = remember(client.register_user("buyer"));
  const auto bystander = remember(client.register_user("buyer"));

  for (int i = 1; i <= 5; ++i) {
    CAPTURE(i);
    CHECK_ERROR(client.login(target.username, "Wrong-password-" + std::to_string(i)), 401,
                "invalid_credentials");
  }
  // Even the right password is refused now.
  const auto limited = client.login(target.username, target.password);
  CHECK_ERROR(limited, 429, "rate_limited");
  CHECK_NO_FIELD(limited);
  const auto retry = limited.header("Retry-After");
  INFO("Retry-After: " << retry);
  REQUIRE_FALSE(retry.empty());
  REQUIRE(retry.find_first_not_of("0123456789") == std::string::npos);
  CHECK(std::stoll(retry) >= 1);
  CHECK(std::stoll(retry) <= 15 * 60);
  CHECK_ERROR(client.login(target.username, "Wrong-password-6"), 429, "rate_limited");

  // Another username is unaffected.
  const auto other = client.login(bystander.username, bystander.password);
  CHECK_STATUS(other, 200);
  remember_token(other);
  // Existing tokens of the limited user still work: the limit is on logins.
  CHECK_STATUS(client.get(api_path("/users/me"), target.token), 200);

  check_log_has_no_secrets(server);
}

TEST_CASE(
    "accounts: --login-max-failures 3 --login-window 2: 429, then a login after Retry-After") {
  ServerOptions opts;
  opts.extra_args = {"--login-max-failures", "3", "--login-window", "2"};
  auto& server = test_case_server("limited", opts);
  ApiClient client(server.http_port());
  const auto user = remember(client.register_user("seller"));

  for (int i = 1; i <= 3; ++i) {
    CAPTURE(i);
    CHECK_ERROR(client.login(user.username, "Wrong-password-" + std::to_string(i)), 401,
                "invalid_credentials");
  }
  const auto limited = client.login(user.username, user.password);
  CHECK_ERROR(limited, 429, "rate_limited");
  const auto retry = limited.header("Retry-After");
  INFO("Retry-After: " << retry);
  REQUIRE_FALSE(retry.empty());
  REQUIRE(retry.find_first_not_of("0123456789") == std::string::npos);
  const auto seconds = std::stoll(retry);
  CHECK(seconds >= 1);
  CHECK(seconds <= 2);

  std::this_thread::sleep_for(std::chrono::seconds(std::min<long long>(seconds, 5)) +
                              std::chrono::milliseconds(150));
  const auto again = client.login(user.username, user.password);
  CHECK_STATUS(again, 200);
  remember_token(again);

  check_log_has_no_secrets(server);
}

// Issue 21, finding 2: login never checked the username, and the limiter kept
// each failed one for the whole window: 150 failed logins with 1 MB usernames
// held 160 MB for 15 minutes.
TEST_CASE("accounts: 150 logins with 1 MB usernames are 422 at once and hold no memory (issue 21)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port(), /*keep_alive=*/true);
  const auto user = remember(client.register_user("buyer"));
  CHECK_STATUS(client.login(user.username, user.password), 200);  // the server's own memory settles
  const auto before = resident_bytes(server);

  const std::string huge(1000 * 1000, 'a');
  for (int i = 0; i < 150; ++i) {
    CAPTURE(i);
    const auto res = client.post(api_path("/auth/login"),
                                 json{{"username", huge + std::to_string(i)}, {"password", "whatever-password"}});
    CHECK_FIELD_ERROR(res, 422, "invalid_value", "username");
    if (res.status != 422) break;
  }
  // Nothing of them is kept: not even a failure against a username.
  const auto growth = resident_bytes(server) - before;
  MESSAGE("resident memory grew by " << growth / (1024 * 1024) << " MiB");
  CHECK(growth < 40 * 1024 * 1024);
  const auto res = client.login(user.username, user.password);
  CHECK_STATUS(res, 200);
  remember_token(res);
  // Usernames of other forms are refused as registration refuses them.
  for (const std::string& name : {std::string("ab"), std::string(33, 'a'), std::string("a b"),
                                  std::string("caf\xc3\xa9")}) {
    CAPTURE(name);
    CHECK_FIELD_ERROR(client.login(name, "whatever-password"), 422, "invalid_value", "username");
  }
}

// Issue 21, finding 6: 209 usernames were tried from one address in 7 s with no 429.
TEST_CASE("accounts: a spray of usernames from one address gets 429 (issue 21)") {
  ServerOptions opts;
  opts.extra_args = {"--login-failures-per-minute-per-address", "5"};
  auto& server = test_case_server("spray", opts);
  ApiClient client(server.http_port(), /*keep_alive=*/true);
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK_ERROR(client.login(unique_username("spray"), "Guess-password-1"), 401, "invalid_credentials");
  }
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto limited = client.login(unique_username("spray"), "Guess-password-1");
    CHECK_ERROR(limited, 429, "rate_limited");
    CHECK_NO_FIELD(limited);
    check_retry_after(limited, 1, 12);  // one failure's worth: 60 s / 5
  }
  // The operator sees it.
  CHECK(refused(client, "login_address_rate") == 3);
}

// Issue 21, finding 6: 5 bad passwords locked any account for 15 minutes, even
// with the right one. Now each failure past the free ones makes the next login
// wait longer (2 s, 4 s, ...): a guesser slows down, the owner who waits gets in.
TEST_CASE("accounts: after failures the rightful owner gets in after the wait; a guesser's waits grow (issue 21)") {
  ServerOptions opts;
  opts.extra_args = {"--login-max-failures", "2"};
  auto& server = test_case_server("delays", opts);
  ApiClient client(server.http_port(), /*keep_alive=*/true);
  const auto owner = remember(client.register_user("seller"));
  const auto guessed = remember(client.register_user("buyer"));

  // Someone guesses both accounts' passwords.
  for (const auto* account : {&owner, &guessed}) {
    for (int i = 1; i <= 2; ++i) {
      CHECK_ERROR(client.login(account->username, "Wrong-password-" + std::to_string(i)), 401,
                  "invalid_credentials");
    }
  }
  // During the wait nobody gets in, whatever the password (it is not checked).
  const auto waiting = client.login(owner.username, owner.password);
  CHECK_ERROR(waiting, 429, "rate_limited");
  check_retry_after(waiting, 1, 2);
  CHECK_ERROR(client.login(guessed.username, "Wrong-password-3"), 429, "rate_limited");

  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  // After it, the owner's right password works...
  const auto in = client.login(owner.username, owner.password);
  CHECK_STATUS(in, 200);
  remember_token(in);
  // ...and a guess is checked, fails, and doubles the wait.
  CHECK_ERROR(client.login(guessed.username, "Wrong-password-3"), 401, "invalid_credentials");
  const auto longer = client.login(guessed.username, guessed.password);
  CHECK_ERROR(longer, 429, "rate_limited");
  check_retry_after(longer, 3, 4);
  // The owner's success cleared their record: a typo now costs nothing.
  CHECK_ERROR(client.login(owner.username, "Wrong-password-4"), 401, "invalid_credentials");
  const auto again = client.login(owner.username, owner.password);
  CHECK_STATUS(again, 200);
  remember_token(again);
  check_log_has_no_secrets(server);
}

// Issue 21, finding 6: password hashing shared the request pool, so 16 parallel
// logins took GET /streams/{id} from 1.3 ms to 488 ms. Hashing now has its own
// bounded pool: logins past its queue get 503 at once, other requests keep going.
TEST_CASE("accounts: logins past the hashing pool's queue get 503; other requests are served meanwhile (issue 21)") {
  ServerOptions opts;
  opts.extra_args = {"--hash-threads", "1", "--hash-queue", "1"};
  auto& server = test_case_server("hashing", opts);
  ApiClient setup(server.http_port());
  const auto user = remember(setup.register_user("buyer"));

  constexpr int logins = 16;
  std::vector<Response> answers(logins);
  std::vector<std::thread> threads;
  for (int i = 0; i < logins; ++i) {
    threads.emplace_back([&, i] {
      ApiClient c(server.http_port());
      answers[static_cast<std::size_t>(i)] = c.login(user.username, user.password);
    });
  }
  // While they run: GETs are answered without waiting behind the hashes.
  double slowest_get = 0;
  std::thread getter([&] {
    ApiClient c(server.http_port(), /*keep_alive=*/true);
    for (int i = 0; i < 10; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto res = c.get("/healthz");
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      slowest_get = std::max(slowest_get, res.status == 200 ? seconds : 1e9);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (auto& t : threads) t.join();
  getter.join();

  int ok = 0, busy = 0;
  for (const auto& res : answers) {
    CAPTURE(res.describe());
    if (res.status == 200) {
      ++ok;
      remember_token(res);
    } else {
      CHECK_ERROR(res, 503, "server_busy");
      CHECK(res.header("Retry-After") == "1");
      ++busy;
    }
  }
  CHECK(ok >= 1);
  CHECK(busy >= 1);
  CHECK(ok + busy == logins);
  MESSAGE("slowest GET /healthz during the logins: " << slowest_get << " s; " << busy << " of " << logins
                                                       << " logins got 503");
  CHECK(slowest_get < std::chrono::duration<double>(scaled(std::chrono::milliseconds(250))).count());
  // Once the burst is over, logins are served again.
  const auto after = setup.login(user.username, user.password);
  CHECK_STATUS(after, 200);
  remember_token(after);
  CHECK(refused(setup, "hash_queue_full") == busy);
}
