// The authorization matrix: every REST endpoint of docs/api.md (as its endpoint
// table lists it, plus HLS and VOD serving) called as anonymous, a buyer, another
// seller and the resource's owner, and also with a garbage token and the owner's
// revoked token, against the status docs/api.md gives. One table drives every call.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>

using namespace souk_it;

namespace {

// The four principals of each row, then two that must fare as anonymous does
// (401 wherever anonymous gets 401, since the token names nobody).
enum class Principal { anonymous, buyer, other_seller, owner, garbage_token, revoked_token };

constexpr std::array all_principals = {Principal::anonymous,     Principal::buyer,
                                       Principal::other_seller,  Principal::owner,
                                       Principal::garbage_token, Principal::revoked_token};

const char* name(Principal p) {
  switch (p) {
    case Principal::anonymous:
      return "anonymous";
    case Principal::buyer:
      return "buyer";
    case Principal::other_seller:
      return "another seller";
    case Principal::owner:
      return "owner";
    case Principal::garbage_token:
      return "garbage token";
    case Principal::revoked_token:
      return "revoked token (owner's, after logout)";
  }
  return "?";
}

// What a row needs before each call, made fresh for every call so that a call
// that changes state (go-live, end, attach) never affects the next one.
enum class Fixture {
  none,              // {owner} is the owning seller's id
  product,           // {product}: one of the owner's products
  scheduled_stream,  // {stream} scheduled with {product} attached; {spare} not attached
  live_stream,       // the same, after go-live
  media_files,       // a live stream whose HLS playlist, segment and VOD file are on disk
};

struct Target {
  std::string owner_id, owner_username, owner_password;
  std::string stream_id, product_id, spare_product_id;
};

// An expected answer; a null code means: "unauthorized" (no token) or
// "invalid_token" (a token) for 401, "forbidden" for 403, none checked otherwise.
struct Expect {
  int status;
  const char* code = nullptr;
};

using BodyFactory = json (*)(const Target&);

struct Row {
  const char* method;
  const char* path;  // {owner}, {product}, {spare}, {stream} from the Target; {missing}: no stream
  Fixture fixture;
  BodyFactory body;  // null: no body
  Expect anonymous, buyer, other_seller, owner;
  bool fresh_login = false;  // the principal logs in first and calls with that new token
};

const json checklist = json{{"camera_ready", true}, {"checklist_complete", true}};

// The table. Statuses from docs/api.md: "user" is any valid token (else 401), "seller"
// is 403 for a buyer, "owner" is 403 for anyone else who is signed in, "anyone" is
// public. Owners' calls succeed, so each 2xx is a real state change.
// clang-format off
const Row rows[] = {
    // Operations.
    {"GET", "/healthz", Fixture::none, nullptr, {200}, {200}, {200}, {200}},
    {"GET", "/readyz", Fixture::none, nullptr, {200}, {200}, {200}, {200}},
    // Public by design: operators restrict it at the proxy (docs/operations.md, "Metrics").
    {"GET", "/metrics", Fixture::none, nullptr, {200}, {200}, {200}, {200}},

    // Accounts: anyone registers and logs in; logout and /users/me need a user.
    {"POST", "/api/v1/auth/register", Fixture::none,
     [](const Target&) {
       return json{{"username", unique_username("r")}, {"password", unique_password()},
                   {"role", "buyer"}};
     },
     {201}, {201}, {201}, {201}},
    {"POST", "/api/v1/auth/login", Fixture::none,
     [](const Target& t) {
       return json{{"username", t.owner_username}, {"password", t.owner_password}};
     },
     {200}, {200}, {200}, {200}},
    {"POST", "/api/v1/auth/logout", Fixture::none, [](const Target&) { return json::object(); },
     {401}, {200}, {200}, {200}, /*fresh_login=*/true},
    {"GET", "/api/v1/users/me", Fixture::none, nullptr, {401}, {200}, {200}, {200}},

    // Follows: any user follows a seller; the seller cannot follow themself (docs/api.md:
    // "Only sellers can be followed, and not by themselves"); unfollow is idempotent.
    {"POST", "/api/v1/users/{owner}/follow", Fixture::none,
     [](const Target&) { return json::object(); },
     {401}, {200}, {200}, {422, "cannot_follow_self"}},
    {"DELETE", "/api/v1/users/{owner}/follow", Fixture::none, nullptr, {401}, {200}, {200}, {200}},

    // Products: sellers create; anyone reads.
    {"POST", "/api/v1/products", Fixture::none,
     [](const Target&) {
       return json{{"title", "Brass lantern"}, {"price_cents", 1500}, {"currency", "MAD"}};
     },
     {401}, {403}, {201}, {201}},
    {"GET", "/api/v1/products/{product}", Fixture::product, nullptr, {200}, {200}, {200}, {200}},

    // Streams (docs/api.md #1): sellers create, with their own products only.
    {"POST", "/api/v1/streams", Fixture::none,
     [](const Target&) { return json{{"title", "Souk tour"}}; }, {401}, {403}, {201}, {201}},
    {"POST", "/api/v1/streams", Fixture::product,
     [](const Target& t) { return json{{"title", "Souk tour"}, {"product_ids", {t.product_id}}}; },
     {401}, {403}, {403, "forbidden"}, {201}},
    // Discovery and details (#6, #8): public.
    {"GET", "/api/v1/streams", Fixture::live_stream, nullptr, {200}, {200}, {200}, {200}},
    {"GET", "/api/v1/streams?status=live&seller_id={owner}&limit=5", Fixture::live_stream, nullptr,
     {200}, {200}, {200}, {200}},
    {"GET", "/api/v1/streams/{stream}", Fixture::live_stream, nullptr, {200}, {200}, {200}, {200}},
    {"GET", "/api/v1/streams/{stream}/products", Fixture::live_stream, nullptr,
     {200}, {200}, {200}, {200}},

    // The owner's lifecycle (#2, #3, #4, #5, #7, #9).
    {"POST", "/api/v1/streams/{stream}/products", Fixture::scheduled_stream,
     [](const Target& t) { return json{{"product_ids", {t.spare_product_id}}}; },
     {401}, {403}, {403}, {200}},
    {"PATCH", "/api/v1/streams/{stream}/settings", Fixture::scheduled_stream,
     [](const Target&) { return json{{"title", "Renamed"}, {"enable_chat", false}}; },
     {401}, {403}, {403}, {200}},
    {"POST", "/api/v1/streams/{stream}/go-live", Fixture::scheduled_stream,
     [](const Target&) { return checklist; }, {401}, {403}, {403}, {200}},
    {"POST", "/api/v1/streams/{stream}/end", Fixture::live_stream,
     [](const Target&) { return json::object(); }, {401}, {403}, {403}, {200}},
    {"POST", "/api/v1/streams/{stream}/products/{product}/tag", Fixture::live_stream,
     [](const Target&) { return json{{"x", 0.25}, {"y", 0.75}, {"timestamp_seconds", 12}}; },
     {401}, {403}, {403}, {200}},
    {"GET", "/api/v1/streams/{stream}/analytics", Fixture::live_stream, nullptr,
     {401}, {403}, {403}, {200}},
    {"GET", "/api/v1/streams/{stream}/webhook-deliveries", Fixture::live_stream, nullptr,
     {401}, {403}, {403}, {200}},

    // Product events: any user, once live.
    {"POST", "/api/v1/streams/{stream}/products/{product}/events", Fixture::live_stream,
     [](const Target&) { return json{{"type", "purchase"}, {"amount_cents", 900}}; },
     {401}, {201}, {201}, {201}},

    // Who may call is decided before the body or the state is judged: others get 401
    // or 403 whatever they send (docs/api.md: go-live checks ownership, state, checklist);
    // only the owner hears about the body or the state.
    {"POST", "/api/v1/products", Fixture::none, [](const Target&) { return json::object(); },
     {401}, {403}, {400, "missing_field"}, {400, "missing_field"}},
    {"POST", "/api/v1/streams", Fixture::none, [](const Target&) { return json{{"title", ""}}; },
     {401}, {403}, {422, "invalid_value"}, {422, "invalid_value"}},
    {"POST", "/api/v1/streams/{stream}/products", Fixture::scheduled_stream,
     [](const Target&) { return json{{"product_ids", json::array()}}; },
     {401}, {403}, {403}, {422, "invalid_value"}},
    {"POST", "/api/v1/streams/{stream}/products", Fixture::live_stream,
     [](const Target& t) { return json{{"product_ids", {t.spare_product_id}}}; },
     {401}, {403}, {403}, {409, "stream_not_scheduled"}},
    {"PATCH", "/api/v1/streams/{stream}/settings", Fixture::scheduled_stream,
     [](const Target&) { return json{{"estimated_duration", 1}}; },
     {401}, {403}, {403}, {422, "invalid_value"}},
    {"PATCH", "/api/v1/streams/{stream}/settings", Fixture::live_stream,
     [](const Target&) { return json{{"title", "Too late"}}; },
     {401}, {403}, {403}, {409, "stream_not_scheduled"}},
    {"POST", "/api/v1/streams/{stream}/go-live", Fixture::scheduled_stream,
     [](const Target&) { return json{{"camera_ready", false}, {"checklist_complete", true}}; },
     {401}, {403}, {403}, {422, "checklist_incomplete"}},
    {"POST", "/api/v1/streams/{stream}/go-live", Fixture::scheduled_stream,
     [](const Target&) { return json{{"camera_ready", "yes"}, {"checklist_complete", true}}; },
     {401}, {403}, {403}, {400, "invalid_type"}},
    {"POST", "/api/v1/streams/{stream}/go-live", Fixture::live_stream,
     [](const Target&) { return checklist; }, {401}, {403}, {403}, {409, "stream_already_live"}},
    {"POST", "/api/v1/streams/{stream}/end", Fixture::scheduled_stream,
     [](const Target&) { return json::object(); }, {401}, {403}, {403}, {409, "stream_not_live"}},
    {"POST", "/api/v1/streams/{stream}/products/{product}/tag", Fixture::live_stream,
     [](const Target&) { return json{{"x", 1.5}, {"y", 0.5}, {"timestamp_seconds", 0}}; },
     {401}, {403}, {403}, {422, "invalid_value"}},
    {"POST", "/api/v1/streams/{stream}/products/{spare}/tag", Fixture::live_stream,
     [](const Target&) { return json{{"x", 0.5}, {"y", 0.5}, {"timestamp_seconds", 0}}; },
     {401}, {403}, {403}, {404, "product_not_in_stream"}},
    {"POST", "/api/v1/streams/{stream}/products/{product}/events", Fixture::live_stream,
     [](const Target&) { return json{{"type", "like"}}; },
     {401}, {422, "invalid_value"}, {422, "invalid_value"}, {422, "invalid_value"}},
    {"POST", "/api/v1/streams/{stream}/products/{product}/events", Fixture::scheduled_stream,
     [](const Target&) { return json{{"type", "view"}}; },
     {401}, {409, "stream_not_started"}, {409, "stream_not_started"}, {409, "stream_not_started"}},
    // An unknown stream is 404 for anyone who may ask (where a user is needed,
    // anonymous is 401 first).
    {"GET", "/api/v1/streams/{missing}", Fixture::none, nullptr, {404, "stream_not_found"},
     {404, "stream_not_found"}, {404, "stream_not_found"}, {404, "stream_not_found"}},
    {"GET", "/api/v1/streams/{missing}/analytics", Fixture::none, nullptr,
     {401}, {404, "stream_not_found"}, {404, "stream_not_found"}, {404, "stream_not_found"}},
    {"GET", "/api/v1/streams/{missing}/webhook-deliveries", Fixture::none, nullptr,
     {401}, {404, "stream_not_found"}, {404, "stream_not_found"}, {404, "stream_not_found"}},
    {"POST", "/api/v1/streams/{missing}/end", Fixture::none,
     [](const Target&) { return json::object(); },
     {401}, {404, "stream_not_found"}, {404, "stream_not_found"}, {404, "stream_not_found"}},

    // HLS and VOD: public files (docs/api.md, "HLS and VOD").
    {"GET", "/hls/{stream}/index.m3u8", Fixture::media_files, nullptr, {200}, {200}, {200}, {200}},
    {"HEAD", "/hls/{stream}/index.m3u8", Fixture::media_files, nullptr, {200}, {200}, {200}, {200}},
    {"GET", "/hls/{stream}/seg-000000.ts", Fixture::media_files, nullptr,
     {200}, {200}, {200}, {200}},
    {"GET", "/vod/{stream}.mp4", Fixture::media_files, nullptr, {200}, {200}, {200}, {200}},
    {"HEAD", "/vod/{stream}.mp4", Fixture::media_files, nullptr, {200}, {200}, {200}, {200}},
};
// clang-format on

Expect expected(const Row& row, Principal p) {
  switch (p) {
    case Principal::anonymous:
      return row.anonymous;
    case Principal::buyer:
      return row.buyer;
    case Principal::other_seller:
      return row.other_seller;
    case Principal::owner:
      return row.owner;
    case Principal::garbage_token:
    case Principal::revoked_token:
      // A token that names nobody: refused where a user is needed, otherwise the
      // endpoint is public and answers as it does without a token.
      return row.anonymous.status == 401 ? Expect{401, "invalid_token"} : row.anonymous;
  }
  return {0};
}

std::string expected_code(const Expect& e, Principal p) {
  if (e.code) return e.code;
  if (e.status == 401) return p == Principal::anonymous ? "unauthorized" : "invalid_token";
  if (e.status == 403) return "forbidden";
  return {};
}

struct Cast {
  Account buyer, other_seller, owner;
  std::string revoked_token;
};

Cast& cast(ApiClient& client) {
  auto& c = test_case_state<Cast>("cast");
  if (c.owner.token.empty()) {
    c.buyer = client.register_user("buyer");
    c.other_seller = client.register_user("seller");
    c.owner = client.register_user("seller");
    // A second session of the owner, logged out: a token that was valid for exactly
    // the user every owner-only row would let through.
    const auto login = client.login(c.owner.username, c.owner.password);
    REQUIRE_STATUS(login, 200);
    c.revoked_token = login.body["data"]["token"];
    REQUIRE_STATUS(client.post(api_path("/auth/logout"), json::object(), c.revoked_token), 200);
  }
  return c;
}

std::string create_product(ApiClient& client, const Account& seller) {
  const auto r = client.post(
      api_path("/products"),
      json{{"title", "Cedar box"}, {"price_cents", 2200}, {"currency", "MAD"}}, seller.token);
  REQUIRE_STATUS(r, 201);
  return r.body["data"]["id"];
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

Target make_fixture(ApiClient& client, const ServerProcess& server, const Cast& c, Fixture f) {
  Target t{c.owner.id, c.owner.username, c.owner.password, {}, {}, {}};
  if (f == Fixture::none) return t;
  t.product_id = create_product(client, c.owner);
  if (f == Fixture::product) return t;
  t.spare_product_id = create_product(client, c.owner);
  const auto stream =
      client.post(api_path("/streams"), json{{"title", "Matrix"}, {"product_ids", {t.product_id}}},
                  c.owner.token);
  REQUIRE_STATUS(stream, 201);
  t.stream_id = stream.body["data"]["streamId"];
  if (f == Fixture::scheduled_stream) return t;
  REQUIRE_STATUS(
      client.post(api_path("/streams/" + t.stream_id + "/go-live"), checklist, c.owner.token), 200);
  if (f == Fixture::live_stream) return t;
  // Served straight from the data directory, as the packager would leave them.
  const auto hls = server.data_dir() / "hls" / t.stream_id;
  write_file(hls / "index.m3u8",
             "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
             "#EXTINF:2.000,\nseg-000000.ts\n");
  write_file(hls / "seg-000000.ts", std::string(188, 'G'));
  write_file(server.data_dir() / "vod" / (t.stream_id + ".mp4"), std::string(64, 'v'));
  return t;
}

std::string fill(std::string path, const Target& t) {
  static const std::string missing = "00000000-0000-4000-8000-000000000000";
  const std::pair<const char*, const std::string*> slots[] = {{"{owner}", &t.owner_id},
                                                              {"{product}", &t.product_id},
                                                              {"{spare}", &t.spare_product_id},
                                                              {"{stream}", &t.stream_id},
                                                              {"{missing}", &missing}};
  for (const auto& [slot, value] : slots) {
    for (auto at = path.find(slot); at != std::string::npos; at = path.find(slot)) {
      REQUIRE_FALSE(value->empty());
      path.replace(at, std::strlen(slot), *value);
    }
  }
  return path;
}

std::string token_of(ApiClient& client, const Cast& c, const Row& row, Principal p) {
  const Account* account = nullptr;
  switch (p) {
    case Principal::anonymous:
      return {};
    case Principal::garbage_token:
      return "not-a-token-" + unique_password();
    case Principal::revoked_token:
      return c.revoked_token;
    case Principal::buyer:
      account = &c.buyer;
      break;
    case Principal::other_seller:
      account = &c.other_seller;
      break;
    case Principal::owner:
      account = &c.owner;
      break;
  }
  if (!row.fresh_login) return account->token;
  const auto login = client.login(account->username, account->password);
  REQUIRE_STATUS(login, 200);
  return login.body["data"]["token"];
}

std::string row_name(const Row& row, const Body& body) {
  std::string s = std::string(row.method) + " " + row.path;
  if (body.present) s += " " + body.text;
  return s;
}

// The stream as anyone sees it; a refused call must leave it as it was.
json stream_snapshot(ApiClient& client, const Target& t) {
  if (t.stream_id.empty()) return nullptr;
  const auto r = client.get(api_path("/streams/" + t.stream_id));
  REQUIRE_STATUS(r, 200);
  return r.body["data"];
}

// "/api/v1/users/{id}/follow" and "/api/v1/users/{owner}/follow?x" compare equal.
std::string route_shape(const std::string& path) {
  static const std::regex placeholder(R"(\{[^}]*\})");
  return std::regex_replace(path.substr(0, path.find('?')), placeholder, "{}");
}

std::string source_dir() {
#ifdef SOUK_SOURCE_DIR
  return SOUK_SOURCE_DIR;
#else
  return ".";
#endif
}

}  // namespace

TEST_CASE("authz: every REST endpoint x {anonymous, buyer, another seller, owner, bad tokens}") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const auto& c = cast(client);

  int cells = 0;
  for (const auto& row : rows) {
    for (const auto p : all_principals) {
      const auto want = expected(row, p);
      const auto target = make_fixture(client, server, c, row.fixture);
      const auto token = token_of(client, c, row, p);
      const auto path = fill(row.path, target);
      const Body body = row.body ? Body(row.body(target)) : Body();
      INFO("row: " << row_name(row, body) << "; as " << std::string(name(p)) << "; expecting "
                   << want.status);
      const auto before = stream_snapshot(client, target);

      const auto res = client.request(row.method, path, body, token);
      ++cells;
      INFO("response: " << res.describe());
      CHECK(res.status == want.status);
      const auto code = expected_code(want, p);
      if (!code.empty()) CHECK(res.error_code() == code);
      if (std::string_view(row.method) == "HEAD" || path.rfind("/api/", 0) != 0) continue;
      if (want.status < 300) {
        CHECK(res.body.is_object());
        CHECK(res.body.contains("data"));
      } else {
        CHECK(res.body.contains("error"));
        // Refused means nothing happened to the stream (settings, status, products,
        // tags, counters).
        if (!before.is_null()) CHECK(stream_snapshot(client, target) == before);
      }
    }
  }
  CHECK(cells == static_cast<int>(std::size(rows) * all_principals.size()));
  MESSAGE("authz matrix: " << std::size(rows) << " rows x " << all_principals.size()
                           << " principals = " << cells << " calls");
}

// The matrix goes stale when an endpoint is added without a row: every route of
// docs/api.md's endpoint table must have one.
TEST_CASE("authz: the matrix has a row for every endpoint docs/api.md lists") {
  std::ifstream in(std::filesystem::path(source_dir()) / "docs" / "api.md");
  REQUIRE(in.good());
  std::set<std::string> covered;
  for (const auto& row : rows)
    covered.insert(std::string(row.method) + " " + route_shape(row.path));

  static const std::regex endpoint(R"(^\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)` \|)");
  std::string line;
  int listed = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, endpoint)) continue;
    ++listed;
    const auto key = m[1].str() + " " + route_shape(m[2].str());
    INFO("docs/api.md endpoint: " << key);
    CHECK(covered.count(key) == 1);
  }
  // The table has 23 such endpoints today; a parse that finds none proves nothing.
  CHECK(listed >= 21);
}
