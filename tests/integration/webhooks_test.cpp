// Webhooks: a receiver in the test process (cpp-httplib on 127.0.0.1) gets
// stream.live, stream.ended and recording.ready, signed; failures (an error
// status, a redirect, a refused connection, no answer within the deadline) are
// retried with backoff until delivered or out of attempts, and every attempt is
// visible to the stream's owner; at most 16 requests are open at once; a delivery
// pending or in flight when the server stops (SIGTERM or SIGKILL) is delivered by
// the next run.
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
#include <atomic>
#include <condition_variable>
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
  std::string target;  // path and query as requested
  std::string method;
  std::string body;
  json parsed;
  int answered = 0;  // the status the receiver answered (or will answer, when held)
};

// What a receiver does with one request: answers `status` (with a Location header
// when `location` is set), at once or, when `hold`, only after release() (or when
// the receiver closes).
struct Reply {
  int status = 200;
  bool hold = false;
  std::string location;
};
Reply answer(int status) {
  Reply r;
  r.status = status;
  return r;
}
Reply held() {
  Reply r;
  r.hold = true;
  return r;
}
Reply redirect(int status, std::string location) {
  Reply r;
  r.status = status;
  r.location = std::move(location);
  return r;
}

// An HTTP receiver in the test process on 127.0.0.1, on a port the kernel picked
// when it bound (so no other process can take it between a pick and a bind):
// POST /hooks (and GET, which a client that followed a redirect might send).
// `policy(request, n)` decides about the n-th request (1-based); it runs under the
// receiver's lock, so it must not call the receiver. The receiver knows when a
// request has arrived and counts those open at once (arrived, not yet answered).
class Receiver {
 public:
  using Policy = std::function<Reply(const Received&, int)>;

  explicit Receiver(Policy policy = [](const Received&, int) { return Reply{}; })
      : policy_(std::move(policy)) {
    // A thread per request the server may have open (16) and more: a held request
    // must never keep another one waiting in httplib's queue, or open() would count
    // what the pool took rather than what the server sent.
    server_.new_task_queue = [] { return new httplib::ThreadPool(48); };
    const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      on_request(req, res);
    };
    server_.Post("/hooks", handler);
    server_.Get("/hooks", handler);
    const int port = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    // httplib listens with a backlog of 5: of 16 connections made at once, some
    // would see their SYN dropped and retry a second or more later. Linux lets a
    // listening socket's backlog be raised by calling listen() again.
    REQUIRE(::listen(server_.socket(), 64) == 0);
    port_ = static_cast<std::uint16_t>(port);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop runs would not stop it.
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    if (!server_.is_running()) {
      server_.stop();
      thread_.join();
      FAIL("the test's webhook receiver did not start listening");
    }
  }
  ~Receiver() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    changed_.notify_all();
    server_.stop();
    thread_.join();
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& query = "") const { return origin() + "/hooks" + query; }
  // What GET .../webhook-deliveries shows of the URL.
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

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
  // Waits until `count` requests of `type` arrived (held ones too). The timeout is scaled().
  bool wait_for(const std::string& type, std::size_t count = 1,
                std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, scaled(timeout), [&] {
      return static_cast<std::size_t>(
                 std::count_if(received_.begin(), received_.end(),
                               [&](const Received& r) { return r.event == type; })) >= count;
    });
  }
  // Waits until `count` requests are open at once (arrived, not answered). The
  // timeout is not scaled here: callers that expect it to pass scale it.
  bool wait_open(int count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return open_ >= count; });
  }
  // Held requests, and those held from now on, are answered.
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
  }
  int open() {
    std::lock_guard lock(mutex_);
    return open_;
  }
  // The most requests that were open at once.
  int max_open() {
    std::lock_guard lock(mutex_);
    return max_open_;
  }

 private:
  void on_request(const httplib::Request& req, httplib::Response& res) {
    Received r{req.get_header_value("X-Souk-Event"),
               req.get_header_value("X-Souk-Delivery"),
               req.get_header_value("X-Souk-Signature"),
               req.get_header_value("Content-Type"),
               req.target,
               req.method,
               req.body,
               json::parse(req.body, nullptr, false)};
    std::unique_lock lock(mutex_);
    const auto reply = policy_(r, static_cast<int>(received_.size()) + 1);
    r.answered = reply.status;
    received_.push_back(std::move(r));
    max_open_ = std::max(max_open_, ++open_);
    changed_.notify_all();
    if (reply.hold) changed_.wait(lock, [this] { return released_ || closing_; });
    --open_;
    changed_.notify_all();
    lock.unlock();
    res.status = reply.status;
    if (!reply.location.empty()) res.set_header("Location", reply.location);
    res.set_content("{}", "application/json");
  }

  // httplib's server with its listening socket exposed.
  struct Server : httplib::Server {
    int socket() const { return svr_sock_; }
  };

  Server server_;
  Policy policy_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Received> received_;
  int open_ = 0;
  int max_open_ = 0;
  bool released_ = false;
  bool closing_ = false;
};

std::string hmac_sha256_hex(const std::string& key, const std::string& message) {
  REQUIRE(sodium_init() >= 0);
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
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

// A server posting to `urls` (comma-separated), signing with `secret`.
ServerOptions webhook_server(const std::string& urls, int max_attempts = 12,
                             int retry_base_ms = 100) {
  ServerOptions opts;
  opts.extra_args = {"--webhook-urls",          urls,
                     "--webhook-max-attempts",  std::to_string(max_attempts),
                     "--webhook-retry-base-ms", std::to_string(retry_base_ms)};
  opts.env = {{"SOUK_WEBHOOK_SECRET", secret}};
  return opts;
}

Response deliveries(ApiClient& client, const std::string& stream_id, const std::string& token) {
  return client.get(api_path("/streams/" + stream_id + "/webhook-deliveries"), token);
}

// Polls the owner's delivery list until `ready(deliveries)` or the timeout
// (scaled()); returns the last list.
json wait_deliveries(ApiClient& client, const Live& live,
                     const std::function<bool(const json&)>& ready,
                     std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
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

// The delivery of `type` in a list, or null.
json find_type(const json& list, const std::string& type) {
  for (const auto& d : list) {
    if (d["type"] == type) return d;
  }
  return nullptr;
}

// Readies for wait_deliveries.
auto all_with_status(std::size_t count, std::string status) {
  return [count, status = std::move(status)](const json& l) {
    return l.size() == count &&
           std::all_of(l.begin(), l.end(), [&](const json& d) { return d["status"] == status; });
  };
}
auto type_has_status(std::string type, std::string status) {
  return [type = std::move(type), status = std::move(status)](const json& l) {
    const auto d = find_type(l, type);
    return d.is_object() && d["status"] == status;
  };
}
auto type_attempted(std::string type, std::int64_t n) {
  return [type = std::move(type), n](const json& l) {
    const auto d = find_type(l, type);
    return d.is_object() && d["attemptCount"].get<std::int64_t>() >= n;
  };
}

// How many of `requests` were answered `status`.
std::size_t answered(const std::vector<Received>& requests, int status) {
  return static_cast<std::size_t>(std::count_if(
      requests.begin(), requests.end(), [&](const Received& r) { return r.answered == status; }));
}

// A port on 127.0.0.1 bound by the test and not listening: a connection to it is
// refused for as long as the test holds it, and no other process can take it.
class RefusingPort {
 public:
  RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string url() const { return origin() + "/hooks"; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("webhooks: stream.live, stream.ended and recording.ready arrive signed") {
  Receiver receiver;
  ServerProcess server(webhook_server(receiver.url("?token=operator-only")));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  // stream.live: the stream as GET /streams/{id} shows it, never its key.
  REQUIRE(receiver.wait_for("stream.live"));
  const auto went_live = receiver.of_type("stream.live").front();
  check_event(went_live, "stream.live", live.id);
  CHECK(went_live.method == "POST");
  CHECK(went_live.target == "/hooks?token=operator-only");
  const auto details = client.get(api_path("/streams/" + live.id));
  REQUIRE_STATUS(details, 200);
  CHECK(went_live.parsed["data"]["status"] == "live");
  CHECK(went_live.parsed["data"]["title"] == details.body["data"]["title"]);
  CHECK(went_live.parsed["data"]["seller"] == details.body["data"]["seller"]);
  CHECK(went_live.parsed["data"]["products"] == details.body["data"]["products"]);
  CHECK(went_live.body.find(live.stream_key) == std::string::npos);
  CHECK(went_live.body.find("streamKey") == std::string::npos);

  // Media, so that the end has a recording.
  const auto published =
      run_process(rtmp_publish(live.publish_url, {.timeout_ms = 5000}), scaled(20s));
  INFO("publisher: " << published.describe());
  REQUIRE(published.exit_code == 0);

  const auto ended =
      client.post(api_path("/streams/" + live.id + "/end"), json::object(), live.token);
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

  // The owner sees three delivered deliveries, newest first. Each is recorded
  // delivered only after the receiver answered it, so from here on the receiver
  // holds every request the server made.
  const auto list = wait_deliveries(client, live, all_with_status(3, "delivered"));
  INFO("deliveries: " << list.dump());
  REQUIRE(list.size() == 3);
  CHECK(list[0]["type"] == "recording.ready");
  CHECK(list[2]["type"] == "stream.live");
  CHECK(list[2]["id"] == went_live.delivery);
  CHECK(list[2]["eventId"] == went_live.parsed["id"]);
  for (const auto& d : list) {
    CHECK(d["attemptCount"] == 1);
    CHECK(d["nextAttemptAt"].is_null());
  }

  // One request per event, each its own delivery id; the events' ids differ too.
  const auto all = receiver.received();
  CHECK(all.size() == 3);
  std::set<std::string> delivery_ids, event_ids;
  for (const auto& r : all) {
    delivery_ids.insert(r.delivery);
    event_ids.insert(r.parsed["id"].get<std::string>());
  }
  CHECK(delivery_ids.size() == all.size());
  CHECK(event_ids.size() == all.size());
}

TEST_CASE("webhooks: a receiver that fails twice gets the event on the third attempt") {
  Receiver receiver([](const Received&, int n) { return answer(n <= 2 ? 500 : 200); });
  ServerProcess server(webhook_server(receiver.url("?token=operator-only")));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  const auto list = wait_deliveries(client, live, all_with_status(1, "delivered"));
  INFO("deliveries: " << list.dump());
  REQUIRE(list.size() == 1);
  // Recorded delivered after the third answer: the receiver has every request.
  const auto attempts = receiver.of_type("stream.live");
  REQUIRE(attempts.size() == 3);  // nothing after the 200
  CHECK(receiver.received().size() == 3);
  for (const auto& r : attempts) {
    check_event(r, "stream.live", live.id);
    // The same delivery and body each time; signed afresh.
    CHECK(r.delivery == attempts.front().delivery);
    CHECK(r.body == attempts.front().body);
  }

  const auto& d = list[0];
  CHECK(d["id"] == attempts.front().delivery);
  CHECK(d["type"] == "stream.live");
  CHECK(d["status"] == "delivered");
  CHECK(d["attemptCount"] == 3);
  // Only scheme, host and port: the path and query (where an operator's token
  // or a Slack-style secret lives) are not shown to sellers.
  CHECK(d["url"] == receiver.origin());
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

TEST_CASE("webhooks: after --webhook-max-attempts failed attempts a delivery is failed") {
  // One receiver answers 500, the other refuses connections: both are failures.
  Receiver failing([](const Received&, int) { return answer(500); });
  RefusingPort refusing;
  ServerProcess server(webhook_server(failing.url() + "," + refusing.url(), /*max_attempts=*/3));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  const auto list = wait_deliveries(client, live, all_with_status(2, "failed"));
  INFO("deliveries: " << list.dump());
  REQUIRE(list.size() == 2);
  for (const auto& d : list) {
    CHECK(d["attemptCount"] == 3);
    CHECK(d["nextAttemptAt"].is_null());
    CHECK(d["deliveredAt"].is_null());
    CHECK(d["attempts"].size() == 3);
  }
  // Recorded failed after its third answer: the receiver has every request, and
  // a failed delivery is not retried (no next attempt above).
  const auto received = failing.of_type("stream.live");
  REQUIRE(received.size() == 3);
  CHECK(failing.received().size() == 3);
  for (const auto& r : received) CHECK(r.delivery == received.front().delivery);

  for (const auto& d : list) {
    const bool answered_500 = d["url"] == failing.origin();
    INFO("delivery: " << d.dump());
    CHECK((answered_500 || d["url"] == refusing.origin()));
    if (answered_500) CHECK(d["id"] == received.front().delivery);
    for (const auto& a : d["attempts"]) {
      if (answered_500) {
        CHECK(a["httpStatus"] == 500);
        CHECK(a["error"].is_null());
      } else {
        CHECK(a["httpStatus"].is_null());
        CHECK(a["error"].get<std::string>().find("connect") != std::string::npos);
      }
    }
  }
  CHECK(server.wait_for_log("webhook failed for good"));
}

TEST_CASE("webhooks: redirects are not followed; a 3xx is a failed attempt") {
  // Every redirect status there is, each pointing at a second receiver.
  Receiver behind;
  const int redirect_status[] = {301, 302, 303, 307, 308};
  Receiver redirecting(
      [&](const Received&, int n) { return redirect(redirect_status[(n - 1) % 5], behind.url()); });
  ServerProcess server(webhook_server(redirecting.url(), /*max_attempts=*/5));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  const auto list = wait_deliveries(client, live, all_with_status(1, "failed"));
  INFO("deliveries: " << list.dump());
  REQUIRE(list.size() == 1);
  const auto& d = list[0];
  CHECK(d["attemptCount"] == 5);
  REQUIRE(d["attempts"].size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(d["attempts"][i]["httpStatus"] == redirect_status[i]);
    CHECK(d["attempts"][i]["error"].is_null());
  }
  CHECK(redirecting.received().size() == 5);
  CHECK(behind.received().empty());
}

TEST_CASE(
    "webhooks: a receiver that never answers: the attempt ends at the 10 s deadline and is "
    "retried") {
  // The first request is held for as long as the test runs; the next is answered.
  Receiver receiver([](const Received&, int n) { return n == 1 ? held() : answer(200); });
  ServerProcess server(webhook_server(receiver.url()));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  REQUIRE(receiver.wait_for("stream.live"));
  const auto list = wait_deliveries(client, live, all_with_status(1, "delivered"), 20s);
  INFO("deliveries: " << list.dump());
  REQUIRE(list.size() == 1);
  const auto& d = list[0];
  CHECK(d["attemptCount"] == 2);
  REQUIRE(d["attempts"].size() == 2);
  const auto& timed_out = d["attempts"][0];
  CHECK(timed_out["httpStatus"].is_null());
  CHECK(timed_out["error"] == "timed out");
  // Not before the deadline (a lower bound on a configured duration: unscaled);
  // not long after it either.
  CHECK(timed_out["durationMs"].get<std::int64_t>() >= 10000);
  CHECK(timed_out["durationMs"].get<std::int64_t>() <= 10000 + scaled(5s).count());
  CHECK(d["attempts"][1]["httpStatus"] == 200);

  const auto received = receiver.of_type("stream.live");
  REQUIRE(received.size() == 2);
  CHECK(received[1].delivery == received[0].delivery);
  CHECK(received[1].body == received[0].body);
  CHECK(receiver.open() == 1);  // the first is still held: the server gave up on it
}

TEST_CASE("webhooks: at most 16 requests are open at once") {
  // One event to 17 receiver URLs (one receiver, told apart by the query): 17
  // deliveries, due together. The receiver holds every request until released.
  Receiver receiver([](const Received&, int) { return held(); });
  std::string urls;
  for (int i = 1; i <= 17; ++i) {
    if (i > 1) urls += ',';
    urls += receiver.url("?n=" + std::to_string(i));
  }
  ServerProcess server(webhook_server(urls));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  // Sixteen arrive (well within the server's 10 s request deadline)...
  REQUIRE(receiver.wait_open(16, scaled(5s)));
  // ...and no seventeenth while they are open. An observation window, not a wait
  // for anything: a server without the cap sends all 17 together.
  CHECK_FALSE(receiver.wait_open(17, 1s));
  CHECK(receiver.received().size() == 16);
  receiver.release();

  const auto list = wait_deliveries(client, live, all_with_status(17, "delivered"));
  INFO("deliveries: " << list.dump());
  CHECK(list.size() == 17);
  const auto received = receiver.received();
  CHECK(received.size() == 17);
  std::set<std::string> targets;
  for (const auto& r : received) targets.insert(r.target);
  CHECK(targets.size() == 17);
  CHECK(receiver.max_open() == 16);
}

TEST_CASE("webhooks: a delivery pending across SIGTERM and SIGKILL is delivered by the next run") {
  // The receiver answers 503 until the test lets it accept.
  std::atomic<bool> accepting{false};
  Receiver receiver([&](const Received&, int) { return answer(accepting ? 200 : 503); });
  ServerProcess server(webhook_server(receiver.url(), /*max_attempts=*/100, /*retry_base_ms=*/200));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);

  // SIGTERM between retries.
  auto list = wait_deliveries(client, live, type_attempted("stream.live", 2));
  auto pending = find_type(list, "stream.live");
  INFO("deliveries: " << list.dump());
  REQUIRE(pending.is_object());
  const std::string live_delivery = pending["id"];
  CHECK(pending["status"] == "pending");
  CHECK(pending["attempts"][0]["httpStatus"] == 503);
  const auto stopped = server.stop();
  CHECK(stopped.exited);
  CHECK(stopped.exit_code == 0);
  CHECK(stopped.elapsed < scaled(5s));
  // From here only the next run can get a 200.
  accepting = true;
  const auto refused = receiver.of_type("stream.live").size();
  server.restart();

  list = wait_deliveries(client, live, type_has_status("stream.live", "delivered"));
  auto delivered = find_type(list, "stream.live");
  REQUIRE(delivered.is_object());
  CHECK(delivered["id"] == live_delivery);
  CHECK(delivered["status"] == "delivered");
  CHECK(delivered["nextAttemptAt"].is_null());
  CHECK(delivered["attempts"].back()["httpStatus"] == 200);
  auto received = receiver.of_type("stream.live");
  // Exactly once: one 200, after the 503s of the first run, the same delivery.
  REQUIRE(received.size() == refused + 1);
  CHECK(answered(received, 503) == refused);
  CHECK(received.back().answered == 200);
  for (const auto& r : received) {
    CHECK(r.delivery == live_delivery);
    CHECK(r.body == received.front().body);
  }
  check_event(received.back(), "stream.live", live.id);

  // SIGKILL between retries: stream.ended fails until the server is dead.
  accepting = false;
  REQUIRE_STATUS(client.end_stream(live), 200);
  list = wait_deliveries(client, live, type_attempted("stream.ended", 1));
  pending = find_type(list, "stream.ended");
  REQUIRE(pending.is_object());
  const std::string ended_delivery = pending["id"];
  CHECK(pending["status"] == "pending");
  REQUIRE(::kill(server.pid(), SIGKILL) == 0);
  const auto killed = server.stop();  // reaps it
  CHECK(killed.signal == SIGKILL);
  accepting = true;
  const auto failed = receiver.of_type("stream.ended").size();
  server.restart();

  list = wait_deliveries(client, live, type_has_status("stream.ended", "delivered"));
  delivered = find_type(list, "stream.ended");
  REQUIRE(delivered.is_object());
  CHECK(delivered["id"] == ended_delivery);
  CHECK(delivered["attempts"].back()["httpStatus"] == 200);
  received = receiver.of_type("stream.ended");
  REQUIRE(received.size() == failed + 1);
  CHECK(answered(received, 503) == failed);
  CHECK(received.back().answered == 200);
  for (const auto& r : received) CHECK(r.delivery == ended_delivery);
  check_event(received.back(), "stream.ended", live.id);
  // stream.live stays delivered: not sent again by either restart.
  CHECK(receiver.of_type("stream.live").size() == refused + 1);
}

TEST_CASE(
    "webhooks: SIGTERM does not wait for a request in flight; it is sent again after the restart") {
  // The receiver holds every request until released: the first one's arrival
  // means it is in flight.
  Receiver receiver([](const Received&, int) { return held(); });
  ServerProcess server(webhook_server(receiver.url()));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto live = client.go_live(seller);
  REQUIRE(receiver.wait_for("stream.live"));

  auto res = deliveries(client, live.id, live.token);
  REQUIRE_STATUS(res, 200);
  REQUIRE(res.body["data"]["deliveries"].size() == 1);
  const std::string delivery_id = res.body["data"]["deliveries"][0]["id"];
  CHECK(res.body["data"]["deliveries"][0]["attemptCount"] == 0);

  const auto stopped = server.stop();
  CHECK(stopped.exited);
  CHECK(stopped.exit_code == 0);
  CHECK(stopped.elapsed < scaled(5s));

  // Abandoned, not failed: sent again by the next run, and until answered still
  // pending with no attempt.
  server.restart();
  REQUIRE(receiver.wait_for("stream.live", 2));
  res = deliveries(client, live.id, live.token);
  REQUIRE_STATUS(res, 200);
  {
    const auto& d = res.body["data"]["deliveries"][0];
    INFO("delivery: " << d.dump());
    CHECK(d["id"] == delivery_id);
    CHECK(d["status"] == "pending");
    CHECK(d["attemptCount"] == 0);
    CHECK(d["attempts"].empty());
  }
  auto received = receiver.of_type("stream.live");
  REQUIRE(received.size() == 2);
  CHECK(received[0].delivery == delivery_id);
  CHECK(received[1].delivery == delivery_id);
  CHECK(received[1].body == received[0].body);
  check_event(received[1], "stream.live", live.id);

  receiver.release();
  const auto list = wait_deliveries(client, live, all_with_status(1, "delivered"));
  INFO("deliveries: " << list.dump());
  REQUIRE(list.size() == 1);
  CHECK(list[0]["attemptCount"] == 1);
  CHECK(list[0]["attempts"][0]["httpStatus"] == 200);
  CHECK(receiver.received().size() == 2);
}
