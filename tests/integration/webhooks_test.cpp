// Webhooks: a receiver in the test process (cpp-httplib on 127.0.0.1) gets
// stream.live, stream.ended and recording.ready, signed; failures are retried
// with backoff and every attempt is visible to the stream's owner; a delivery
// pending when the server stops (SIGTERM or SIGKILL) arrives after the restart.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

const std::string secret = "it-webhook-secret-0123456789";

struct Received {
  std::string event;      // X-Souk-Event
  std::string delivery;   // X-Souk-Delivery
  std::string signature;  // X-Souk-Signature
  std::string content_type;
  std::string body;
  json parsed;
};

// An HTTP receiver on 127.0.0.1:port, POST /hooks. `answer(n)` is the status of
// the n-th request (1-based).
class Receiver {
 public:
  explicit Receiver(std::uint16_t port, std::function<int(int)> answer = [](int) { return 200; })
      : answer_(std::move(answer)) {
    server_.Post("/hooks", [this](const httplib::Request& req, httplib::Response& res) {
      Received r{req.get_header_value("X-Souk-Event"), req.get_header_value("X-Souk-Delivery"),
                 req.get_header_value("X-Souk-Signature"), req.get_header_value("Content-Type"),
                 req.body, json::parse(req.body, nullptr, false)};
      int n = 0;
      {
        std::lock_guard lock(mutex_);
        received_.push_back(std::move(r));
        n = static_cast<int>(received_.size());
      }
      res.status = answer_(n);
      res.set_content("{}", "application/json");
    });
    REQUIRE(server_.bind_to_port("127.0.0.1", port));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }

  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<Received> of_type(const std::string& type) {
    std::vector<Received> out;
    for (auto& r : received()) {
      if (r.event == type) out.push_back(std::move(r));
    }
    return out;
  }
  // Waits until `count` requests of `type` arrived.
  bool wait_for(const std::string& type, std::size_t count = 1, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (of_type(type).size() >= count) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  httplib::Server server_;
  std::function<int(int)> answer_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Received> received_;
};

std::string hmac_sha256_hex(const std::string& key, const std::string& message) {
  REQUIRE(sodium_init() >= 0);
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  char hex[sizeof mac * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

// What a receiver does (docs/operations.md, "Webhooks"): t within 5 minutes of its clock, and
// v1 = HMAC-SHA256(secret, "<t>.<raw body>").
void check_signature(const Received& r) {
  INFO("X-Souk-Signature: " << r.signature);
  const auto comma = r.signature.find(",v1=");
  REQUIRE(r.signature.rfind("t=", 0) == 0);
  REQUIRE(comma != std::string::npos);
  const auto t = r.signature.substr(2, comma - 2);
  const auto v1 = r.signature.substr(comma + 4);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  CHECK(std::llabs(std::stoll(t) - now) <= 300);
  CHECK(v1 == hmac_sha256_hex(secret, t + "." + r.body));
  CHECK(v1 != hmac_sha256_hex(secret + "x", t + "." + r.body));
}

// The envelope every event has.
void check_event(const Received& r, const std::string& type, const std::string& stream_id) {
  INFO("body: " << r.body);
  CHECK(r.event == type);
  CHECK(r.content_type == "application/json");
  CHECK(is_uuid(r.delivery));
  REQUIRE(r.parsed.is_object());
  CHECK(is_uuid(r.parsed["id"].get<std::string>()));
  CHECK(r.parsed["type"] == type);
  CHECK(is_iso_millis_utc(r.parsed["createdAt"].get<std::string>()));
  REQUIRE(r.parsed["data"].is_object());
  const auto& data = r.parsed["data"];
  CHECK(data.value("streamId", std::string()) == stream_id);
  check_signature(r);
}

std::vector<std::string> webhook_args(std::uint16_t receiver_port, int max_attempts = 12,
                                      int retry_base_ms = 100) {
  return {"--webhook-urls",
          "http://127.0.0.1:" + std::to_string(receiver_port) + "/hooks?token=operator-only",
          "--webhook-max-attempts", std::to_string(max_attempts),
          "--webhook-retry-base-ms", std::to_string(retry_base_ms)};
}

ServerOptions webhook_server(std::uint16_t receiver_port, int max_attempts = 12,
                             int retry_base_ms = 100) {
  ServerOptions opts;
  opts.extra_args = webhook_args(receiver_port, max_attempts, retry_base_ms);
  opts.env = {{"SOUK_WEBHOOK_SECRET", secret}};
  return opts;
}

Response deliveries(ApiClient& client, const std::string& stream_id, const std::string& token) {
  return client.get(api_path("/streams/" + stream_id + "/webhook-deliveries"), token);
}

// Polls the owner's delivery list until `ready(deliveries)` or the timeout; returns
// the last list.
json wait_deliveries(ApiClient& client, const Live& live,
                     const std::function<bool(const json&)>& ready,
                     std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  json list;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto res = deliveries(client, live.id, live.token);
    REQUIRE_STATUS(res, 200);
    list = res.body["data"]["deliveries"];
    if (ready(list)) break;
    std::this_thread::sleep_for(50ms);
  }
  return list;
}

}  // namespace

TEST_CASE("webhooks: stream.live, stream.ended and recording.ready arrive signed") {
  const auto receiver_port = free_port();
  Receiver receiver(receiver_port);
  ServerProcess server(webhook_server(receiver_port));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  // stream.live: the stream as GET /streams/{id} shows it, never its key.
  REQUIRE(receiver.wait_for("stream.live"));
  const auto went_live = receiver.of_type("stream.live").front();
  check_event(went_live, "stream.live", live.id);
  const auto details = client.get(api_path("/streams/" + live.id));
  REQUIRE_STATUS(details, 200);
  CHECK(went_live.parsed["data"]["status"] == "live");
  CHECK(went_live.parsed["data"]["title"] == details.body["data"]["title"]);
  CHECK(went_live.parsed["data"]["seller"] == details.body["data"]["seller"]);
  CHECK(went_live.parsed["data"]["products"] == details.body["data"]["products"]);
  CHECK(went_live.body.find(live.stream_key) == std::string::npos);
  CHECK(went_live.body.find("streamKey") == std::string::npos);

  // Media, so that the end has a recording.
  const auto published = run_process(rtmp_publish(live.publish_url, {.timeout_ms = 5000}), 20s);
  INFO("publisher: " << published.describe());
  REQUIRE(published.exit_code == 0);

  const auto ended = client.post(api_path("/streams/" + live.id + "/end"), json::object(), live.token);
  REQUIRE_STATUS(ended, 200);
  const auto& summary = ended.body["data"];
  REQUIRE(summary["vodUrl"].is_string());

  // stream.ended: the /end figures and the stream.
  REQUIRE(receiver.wait_for("stream.ended"));
  const auto end_event = receiver.of_type("stream.ended").front();
  check_event(end_event, "stream.ended", live.id);
  const auto& end_data = end_event.parsed["data"];
  CHECK(end_data["status"] == "ended");
  CHECK(end_data["endedAt"] == summary["endedAt"]);
  CHECK(end_data["durationSeconds"] == summary["durationSeconds"]);
  CHECK(end_data["stats"] == summary["stats"]);
  CHECK(end_data["vodUrl"] == summary["vodUrl"]);
  CHECK(end_data["stream"]["status"] == "ended");

  // recording.ready once the file is finalized, with a vodUrl that serves it.
  REQUIRE(receiver.wait_for("recording.ready", 1, 20s));
  const auto ready = receiver.of_type("recording.ready").front();
  check_event(ready, "recording.ready", live.id);
  const std::string vod_url = ready.parsed["data"]["vodUrl"];
  CHECK(vod_url == summary["vodUrl"]);
  const auto prefix = "http://" + server.http_address();
  REQUIRE(vod_url.rfind(prefix, 0) == 0);
  const auto vod = client.get(vod_url.substr(prefix.size()));
  INFO("vod: " << vod.describe());
  CHECK(vod.status == 200);
  CHECK(vod.header("Content-Type") == "video/mp4");
  CHECK(vod.raw.size() > 10000);

  // One delivery per event, each its own id; the events' ids differ too.
  std::this_thread::sleep_for(300ms);
  const auto all = receiver.received();
  CHECK(all.size() == 3);
  std::set<std::string> delivery_ids, event_ids;
  for (const auto& r : all) {
    delivery_ids.insert(r.delivery);
    event_ids.insert(r.parsed["id"].get<std::string>());
  }
  CHECK(delivery_ids.size() == all.size());
  CHECK(event_ids.size() == all.size());

  // The owner sees three delivered deliveries, newest first.
  const auto list = wait_deliveries(client, live, [](const json& l) {
    return l.size() == 3 && std::all_of(l.begin(), l.end(), [](const json& d) {
             return d["status"] == "delivered";
           });
  });
  REQUIRE(list.size() == 3);
  CHECK(list[0]["type"] == "recording.ready");
  CHECK(list[2]["type"] == "stream.live");
  CHECK(list[2]["id"] == went_live.delivery);
  CHECK(list[2]["eventId"] == went_live.parsed["id"]);
}

TEST_CASE("webhooks: a receiver that fails twice gets the event on the third attempt") {
  const auto receiver_port = free_port();
  Receiver receiver(receiver_port, [](int n) { return n <= 2 ? 500 : 200; });
  ServerProcess server(webhook_server(receiver_port));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  REQUIRE(receiver.wait_for("stream.live", 3));
  const auto attempts = receiver.of_type("stream.live");
  for (const auto& r : attempts) {
    check_event(r, "stream.live", live.id);
    // The same delivery and body each time; signed afresh.
    CHECK(r.delivery == attempts.front().delivery);
    CHECK(r.body == attempts.front().body);
  }

  const auto list = wait_deliveries(client, live, [](const json& l) {
    return l.size() == 1 && l[0]["status"] == "delivered";
  });
  REQUIRE(list.size() == 1);
  const auto& d = list[0];
  INFO("delivery: " << d.dump());
  CHECK(d["id"] == attempts.front().delivery);
  CHECK(d["type"] == "stream.live");
  CHECK(d["status"] == "delivered");
  CHECK(d["attemptCount"] == 3);
  // The query string (an operator's token) is not shown to sellers.
  CHECK(d["url"] == "http://127.0.0.1:" + std::to_string(receiver_port) + "/hooks");
  CHECK(d["nextAttemptAt"].is_null());
  CHECK(is_iso_millis_utc(d["deliveredAt"].get<std::string>()));
  REQUIRE(d["attempts"].size() == 3);
  const int want_status[] = {500, 500, 200};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& a = d["attempts"][i];
    CHECK(a["number"] == i + 1);
    CHECK(a["httpStatus"] == want_status[i]);
    CHECK(a["error"].is_null());
    CHECK(a["durationMs"].get<int>() >= 0);
    CHECK(is_iso_millis_utc(a["attemptedAt"].get<std::string>()));
  }
  std::this_thread::sleep_for(300ms);
  CHECK(receiver.of_type("stream.live").size() == 3);  // nothing after the 200

  // Only the owner may look.
  const auto buyer = client.register_user("buyer");
  const auto other = client.register_user("seller");
  CHECK_ERROR(deliveries(client, live.id, ""), 401, "unauthorized");
  CHECK_ERROR(deliveries(client, live.id, buyer.token), 403, "forbidden");
  CHECK_ERROR(deliveries(client, live.id, other.token), 403, "forbidden");
  CHECK_ERROR(deliveries(client, "00000000-0000-4000-8000-000000000000", live.token), 404,
              "stream_not_found");
  CHECK_ERROR(deliveries(client, "not-a-stream", live.token), 404, "stream_not_found");
}

TEST_CASE("webhooks: a delivery pending across SIGTERM and SIGKILL arrives after the restart") {
  // The receiver's port, with nobody listening yet: every attempt is refused.
  const auto receiver_port = free_port();
  ServerProcess server(webhook_server(receiver_port, /*max_attempts=*/100, /*retry_base_ms=*/200));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  const auto attempted = [](std::size_t n) {
    return [n](const json& l) { return l.size() == 1 && l[0]["attemptCount"].get<std::size_t>() >= n; };
  };
  auto list = wait_deliveries(client, live, attempted(2));
  REQUIRE(list.size() == 1);
  const std::string delivery_id = list[0]["id"];
  CHECK(list[0]["status"] == "pending");
  CHECK(list[0]["attempts"][0]["httpStatus"].is_null());
  CHECK(list[0]["attempts"][0]["error"].get<std::string>().find("connect") != std::string::npos);

  // SIGTERM: the dispatcher stops within the shutdown budget; the delivery stays pending.
  const auto stopped = server.stop();
  CHECK(stopped.exited);
  CHECK(stopped.exit_code == 0);
  CHECK(stopped.elapsed < 5s);
  server.restart();
  const auto before = wait_deliveries(client, live, attempted(1))[0]["attemptCount"].get<std::size_t>();
  // It resumes after the restart.
  list = wait_deliveries(client, live, attempted(before + 1));
  CHECK(list[0]["status"] == "pending");

  // SIGKILL mid-retry, then the receiver comes up and the server restarts.
  REQUIRE(::kill(server.pid(), SIGKILL) == 0);
  Receiver receiver(receiver_port);
  server.restart();
  REQUIRE(receiver.wait_for("stream.live"));
  list = wait_deliveries(client, live, [](const json& l) { return l.size() == 1 && l[0]["status"] == "delivered"; });
  REQUIRE(list.size() == 1);
  CHECK(list[0]["status"] == "delivered");
  CHECK(list[0]["id"] == delivery_id);
  CHECK(list[0]["attempts"].back()["httpStatus"] == 200);

  const auto received = receiver.of_type("stream.live");
  REQUIRE(received.size() == 1);  // it was never answered before: no duplicate
  CHECK(received[0].delivery == delivery_id);
  check_event(received[0], "stream.live", live.id);

  // Events after the restart flow as usual.
  const auto ended = client.post(api_path("/streams/" + live.id + "/end"), json::object(), live.token);
  REQUIRE_STATUS(ended, 200);
  REQUIRE(receiver.wait_for("stream.ended"));
  CHECK(receiver.of_type("stream.ended").size() == 1);
}

TEST_CASE("webhooks: SIGTERM does not wait for a receiver that never answers") {
  // A listening socket nobody accepts on: the kernel completes the connection and
  // takes the request, and no answer ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const auto silent_port = ntohs(addr.sin_port);

  ServerProcess server(webhook_server(silent_port));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);
  // The request is in flight (within its 10 s deadline): no attempt recorded yet.
  std::this_thread::sleep_for(500ms);
  auto res = deliveries(client, live.id, live.token);
  REQUIRE_STATUS(res, 200);
  REQUIRE(res.body["data"]["deliveries"].size() == 1);
  CHECK(res.body["data"]["deliveries"][0]["attemptCount"] == 0);

  const auto stopped = server.stop();
  CHECK(stopped.exited);
  CHECK(stopped.exit_code == 0);
  CHECK(stopped.elapsed < 5s);

  // Abandoned, not failed: still pending, with no attempt, sent again after the restart.
  server.restart();
  res = deliveries(client, live.id, live.token);
  REQUIRE_STATUS(res, 200);
  const auto& d = res.body["data"]["deliveries"][0];
  CHECK(d["status"] == "pending");
  CHECK(d["attemptCount"] == 0);
  CHECK(d["attempts"].empty());
  ::close(fd);
}
