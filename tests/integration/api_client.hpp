// JSON API client for the tests (cpp-httplib underneath), plus the helpers and
// doctest checks every test file uses.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace souk_it {

using nlohmann::json;

inline constexpr const char* api = "/api/v1";

struct Response {
  int status = 0;  // 0 when no HTTP response arrived (see transport_error)
  json body;       // parsed body, or null when empty / not JSON
  std::string raw;
  httplib::Headers headers;
  std::string transport_error;

  std::string header(const std::string& name) const;  // "" when absent
  bool has_header(const std::string& name) const;
  // body["error"]["code"] or "" (handy in CHECK messages).
  std::string error_code() const;
  std::string error_field() const;
  // A short description for failure messages.
  std::string describe() const;
};

// Request body: a JSON value (serialized) or raw text.
struct Body {
  Body() = default;
  Body(json j) : text(j.dump()), present(true) {}  // NOLINT(google-explicit-constructor)
  static Body raw(std::string s) {
    Body b;
    b.text = std::move(s);
    b.present = true;
    return b;
  }
  std::string text;
  bool present = false;
};

struct Account {
  json user;
  std::string id;
  std::string username;
  std::string password;
  std::string token;
};

// A stream taken live by its seller: one product attached, go-live done.
struct Live {
  std::string id;
  std::string token;        // the seller's
  std::string rtmp_url;     // rtmpUrl: rtmp://host:port/live
  std::string stream_key;   // streamKey
  std::string publish_url;  // rtmpUrl + "/" + streamKey
  std::string hls_url;
};

class ApiClient {
 public:
  explicit ApiClient(std::uint16_t port, bool keep_alive = false);

  // Paths are taken as given: api_path("/users/me") or "/healthz". An empty token
  // sends no Authorization header; an empty content_type sends httplib's default.
  Response get(const std::string& path, const std::string& token = {},
               const httplib::Headers& extra = {});
  Response post(const std::string& path, const Body& body = {}, const std::string& token = {},
                const std::string& content_type = "application/json",
                const httplib::Headers& extra = {});
  Response patch(const std::string& path, const Body& body = {}, const std::string& token = {});
  Response del(const std::string& path, const Body& body = {}, const std::string& token = {});
  Response options(const std::string& path, const httplib::Headers& headers);
  // Any method, for 405 checks.
  Response request(const std::string& method, const std::string& path, const Body& body = {},
                   const std::string& token = {},
                   const std::string& content_type = "application/json",
                   const httplib::Headers& extra = {});

  // Registers a user with a fresh unique username; throws if the server does not
  // answer 201.
  Account register_user(const std::string& role, json extra_fields = json::object());
  Response login(const std::string& username, const std::string& password);

  // Creates a product and a scheduled stream with it for `seller`; the stream's id
  // (REQUIREs every step).
  std::string create_stream(const Account& seller);
  // Takes the seller's scheduled stream live (REQUIREs 200).
  Live go_live(const Account& seller, const std::string& stream_id);
  // Both: a new stream, live.
  Live go_live(const Account& seller);
  // POST /streams/{id}/end as the stream's seller.
  Response end_stream(const Live& live);

  // GET /streams/{id}'s data (REQUIREs 200).
  json stream_details(const std::string& id);
  // stream_details every 100 ms until `done` holds or scaled(timeout) passes; the
  // last details seen.
  json wait_stream_details(const std::string& id, const std::function<bool(const json&)>& done,
                           std::chrono::milliseconds timeout);

  httplib::Client& http() { return client_; }

 private:
  httplib::Client client_;
};

// For wait_stream_details: the publisher's state ("waiting", "receiving",
// "interrupted", "finished") is `state`.
std::function<bool(const json&)> ingest_state_is(std::string state);
// For wait_stream_details: the recording is ready to download (vodUrl is set).
bool vod_ready(const json& details);

// "/api/v1" + suffix ("/users/me").
std::string api_path(std::string_view suffix);

// A unique username (3..32 chars of [a-z0-9_]) starting with `prefix`.
std::string unique_username(const std::string& prefix = "u");
// A password unlikely to appear in a log by accident.
std::string unique_password();

bool is_uuid(const std::string& s);
// ISO-8601 UTC with milliseconds: 2026-11-24T10:26:20.123Z
bool is_iso_millis_utc(const std::string& s);
// Seconds between an ISO timestamp as above and now (absolute value).
double seconds_from_now(const std::string& iso);

// Lowercased comma-separated header value tokens contain `token` (case-insensitive).
bool header_list_contains(const std::string& value, const std::string& token);

}  // namespace souk_it

// Checks of the error envelope. The macros keep doctest's file:line of the caller.
#define CHECK_ERROR(res, want_status, want_code)                                  \
  do {                                                                            \
    const auto& souk_r_ = (res);                                                  \
    INFO("response: " << souk_r_.describe());                                     \
    CHECK(souk_r_.status == (want_status));                                       \
    CHECK(souk_r_.error_code() == std::string(want_code));                        \
    CHECK(souk_r_.body.is_object());                                              \
    if (souk_r_.body.is_object()) {                                               \
      CHECK_FALSE(souk_r_.body.contains("data"));                                 \
      CHECK(souk_r_.body["error"]["message"].is_string());                        \
      if (souk_r_.body["error"]["message"].is_string()) {                         \
        CHECK_FALSE(souk_r_.body["error"]["message"].get<std::string>().empty()); \
      }                                                                           \
    }                                                                             \
  } while (false)

// A validation error: status, code and field.
#define CHECK_FIELD_ERROR(res, want_status, want_code, want_field) \
  do {                                                             \
    const auto& souk_rf_ = (res);                                  \
    CHECK_ERROR(souk_rf_, want_status, want_code);                 \
    INFO("response: " << souk_rf_.describe());                     \
    CHECK(souk_rf_.error_field() == std::string(want_field));      \
  } while (false)

// Not a validation error: the envelope has no "field".
#define CHECK_NO_FIELD(res)                                             \
  do {                                                                  \
    const auto& souk_rn_ = (res);                                       \
    INFO("response: " << souk_rn_.describe());                          \
    if (souk_rn_.body.is_object() && souk_rn_.body.contains("error")) { \
      CHECK_FALSE(souk_rn_.body["error"].contains("field"));            \
    }                                                                   \
  } while (false)

#define CHECK_STATUS(res, want_status)         \
  do {                                         \
    const auto& souk_rs_ = (res);              \
    INFO("response: " << souk_rs_.describe()); \
    CHECK(souk_rs_.status == (want_status));   \
  } while (false)

#define REQUIRE_STATUS(res, want_status)       \
  do {                                         \
    const auto& souk_rq_ = (res);              \
    INFO("response: " << souk_rq_.describe()); \
    REQUIRE(souk_rq_.status == (want_status)); \
  } while (false)

namespace souk_it {

// Milliseconds since the Unix epoch of an ISO-8601 UTC time with milliseconds
// (is_iso_millis_utc), -1 when it is not one.
std::int64_t unix_millis(const std::string& iso);

}  // namespace souk_it
