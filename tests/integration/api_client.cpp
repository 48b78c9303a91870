// JSON API client and small checks shared by the test files.
#include "api_client.hpp"

#include "server_process.hpp"

#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace souk_it {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return {};
  const auto b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

std::string random_hex(std::size_t n) {
  static std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(::getpid())};
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += digits[rng() % 16];
  return out;
}

}  // namespace

std::string Response::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (lower(k) == lower(name)) return v;
  }
  return {};
}

bool Response::has_header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (lower(k) == lower(name)) return true;
  }
  return false;
}

std::string Response::error_code() const {
  if (body.is_object() && body.contains("error") && body["error"].is_object() &&
      body["error"].contains("code") && body["error"]["code"].is_string()) {
    return body["error"]["code"].get<std::string>();
  }
  return {};
}

std::string Response::error_field() const {
  if (body.is_object() && body.contains("error") && body["error"].is_object() &&
      body["error"].contains("field") && body["error"]["field"].is_string()) {
    return body["error"]["field"].get<std::string>();
  }
  return {};
}

std::string Response::describe() const {
  if (status == 0) return "no response (" + transport_error + ")";
  std::string text = raw.size() > 600 ? raw.substr(0, 600) + "..." : raw;
  return std::to_string(status) + " " + text;
}

ApiClient::ApiClient(std::uint16_t port, bool keep_alive) : client_("127.0.0.1", port) {
  client_.set_keep_alive(keep_alive);
  client_.set_connection_timeout(std::chrono::seconds(5));
  client_.set_read_timeout(std::chrono::seconds(15));
  client_.set_write_timeout(std::chrono::seconds(15));
}

Response ApiClient::request(const std::string& method, const std::string& path, const Body& body,
                            const std::string& token, const std::string& content_type,
                            const httplib::Headers& extra) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = extra;
  if (!token.empty()) req.headers.emplace("Authorization", "Bearer " + token);
  if (body.present) {
    req.body = body.text;
    if (!content_type.empty()) req.headers.emplace("Content-Type", content_type);
  }
  Response out;
  auto res = client_.send(req);
  if (!res) {
    out.transport_error = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.raw = res->body;
  out.headers = res->headers;
  out.body = json::parse(res->body, nullptr, false);
  if (out.body.is_discarded()) out.body = nullptr;
  return out;
}

Response ApiClient::get(const std::string& path, const std::string& token,
                        const httplib::Headers& extra) {
  return request("GET", path, {}, token, "application/json", extra);
}

Response ApiClient::post(const std::string& path, const Body& body, const std::string& token,
                         const std::string& content_type, const httplib::Headers& extra) {
  return request("POST", path, body, token, content_type, extra);
}

Response ApiClient::patch(const std::string& path, const Body& body, const std::string& token) {
  return request("PATCH", path, body, token);
}

Response ApiClient::del(const std::string& path, const Body& body, const std::string& token) {
  return request("DELETE", path, body, token);
}

Response ApiClient::options(const std::string& path, const httplib::Headers& headers) {
  return request("OPTIONS", path, {}, {}, {}, headers);
}

Account ApiClient::register_user(const std::string& role, json extra_fields) {
  Account a;
  a.username = extra_fields.contains("username") ? extra_fields["username"].get<std::string>()
                                                 : unique_username(role.substr(0, 1));
  a.password = extra_fields.contains("password") ? extra_fields["password"].get<std::string>()
                                                 : unique_password();
  json body = extra_fields;
  body["username"] = a.username;
  body["password"] = a.password;
  body["role"] = role;
  const auto res = post(api_path("/auth/register"), body);
  if (res.status != 201 || !res.body.is_object() || !res.body.contains("data") ||
      !res.body["data"].is_object() || !res.body["data"].contains("token") ||
      !res.body["data"].contains("user")) {
    throw std::runtime_error("register " + a.username + " failed: " + res.describe());
  }
  a.user = res.body["data"]["user"];
  a.token = res.body["data"]["token"].get<std::string>();
  a.id = a.user.value("id", std::string());
  return a;
}

std::string ApiClient::create_stream(const Account& seller) {
  const auto product = post(api_path("/products"),
                            json{{"title", "Tea set"}, {"price_cents", 3000}, {"currency", "MAD"}},
                            seller.token);
  REQUIRE_STATUS(product, 201);
  const auto stream = post(api_path("/streams"),
                           json{{"title", "Live"}, {"product_ids", {product.body["data"]["id"]}}},
                           seller.token);
  REQUIRE_STATUS(stream, 201);
  return stream.body["data"]["streamId"].get<std::string>();
}

Live ApiClient::go_live(const Account& seller, const std::string& stream_id) {
  const auto live = post(api_path("/streams/" + stream_id + "/go-live"),
                         json{{"camera_ready", true}, {"checklist_complete", true}}, seller.token);
  REQUIRE_STATUS(live, 200);
  const auto& d = live.body["data"];
  Live out;
  out.id = stream_id;
  out.token = seller.token;
  out.rtmp_url = d["rtmpUrl"].get<std::string>();
  out.stream_key = d["streamKey"].get<std::string>();
  out.publish_url = out.rtmp_url + "/" + out.stream_key;
  out.hls_url = d["hlsUrl"].get<std::string>();
  return out;
}

Live ApiClient::go_live(const Account& seller) { return go_live(seller, create_stream(seller)); }

Response ApiClient::end_stream(const Live& live) {
  return post(api_path("/streams/" + live.id + "/end"), json::object(), live.token);
}

json ApiClient::stream_details(const std::string& id) {
  const auto r = get(api_path("/streams/" + id));
  REQUIRE_STATUS(r, 200);
  return r.body["data"];
}

json ApiClient::wait_stream_details(const std::string& id,
                                    const std::function<bool(const json&)>& done,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  json d = stream_details(id);
  while (!done(d) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    d = stream_details(id);
  }
  return d;
}

std::function<bool(const json&)> ingest_state_is(std::string state) {
  return [state = std::move(state)](const json& d) {
    const json::json_pointer p("/ingest/state");
    return d.is_object() && d.contains(p) && d.at(p) == state;
  };
}

bool vod_ready(const json& details) {
  return details.is_object() && details.contains("vodUrl") && details["vodUrl"].is_string();
}

Response ApiClient::login(const std::string& username, const std::string& password) {
  return post(api_path("/auth/login"), json{{"username", username}, {"password", password}});
}

std::string api_path(std::string_view suffix) { return std::string(api) + std::string(suffix); }

std::string unique_username(const std::string& prefix) {
  static std::atomic<int> counter{0};
  // prefix (short) + counter + random: unique across tests and across runs.
  std::string name = prefix.substr(0, 8) + "_" + std::to_string(++counter) + "_" + random_hex(8);
  return name.substr(0, 32);
}

std::string unique_password() { return "pw-Secret-" + random_hex(16); }

bool is_uuid(const std::string& s) {
  static const std::regex re(
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(s, re);
}

bool is_iso_millis_utc(const std::string& s) {
  static const std::regex re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  return std::regex_match(s, re);
}

double seconds_from_now(const std::string& iso) {
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return 1e12;
  const std::time_t t = ::timegm(&tm);
  const auto now = std::chrono::system_clock::now();
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  return std::fabs(now_s - static_cast<double>(t));
}

bool header_list_contains(const std::string& value, const std::string& token) {
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (lower(trim(item)) == lower(token)) return true;
  }
  return false;
}

}  // namespace souk_it

namespace souk_it {

std::int64_t unix_millis(const std::string& iso) {
  if (!is_iso_millis_utc(iso)) return -1;
  std::tm tm{};
  std::istringstream in(iso);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return -1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + std::stoll(iso.substr(20, 3));
}

}  // namespace souk_it
