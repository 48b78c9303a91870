#include "souk/storage/webhook_deliveries.hpp"

#include "souk/storage/database.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;
namespace wd = souk::storage::webhook_deliveries;

namespace {

WebhookDelivery delivery(const std::string& id, souk::UnixMillis created) {
  WebhookDelivery d;
  d.id = id;
  d.event_id = "ev-" + id;
  d.event_type = "recording.ready";
  d.url = "http://127.0.0.1:9/hooks";
  d.body = R"({"id":"ev"})";
  d.created_at = created;
  return d;  // no stream: the rows stand alone
}

}  // namespace

TEST_CASE("webhook deliveries: due, attempts, retry, delivered, failed") {
  Database db(":memory:");
  db.write([](Connection& c) {
    wd::insert(c, delivery("a", 1000));
    wd::insert(c, delivery("b", 2000));
    wd::insert(c, delivery("c", 3000));
  });
  db.read([](Connection& c) {
    CHECK(wd::next_due_at(c) == 1000);
    CHECK(wd::due(c, 999, 10).empty());
    const auto due = wd::due(c, 2500, 10);
    REQUIRE(due.size() == 2);
    CHECK(due[0].id == "a");
    CHECK(due[0].status == "pending");
    CHECK(due[0].attempts == 0);
    CHECK(wd::due(c, 5000, 1).size() == 1);
  });

  db.write([](Connection& c) {
    wd::record_attempt(c, "a", WebhookAttempt{1, 1000, 12, 500, std::nullopt},
                       wd::AttemptOutcome::retry, 4000);
    wd::record_attempt(c, "b", WebhookAttempt{1, 2000, 7, 204, std::nullopt},
                       wd::AttemptOutcome::delivered, std::nullopt);
    wd::record_attempt(c, "c", WebhookAttempt{1, 3000, 10000, std::nullopt, "timed out"},
                       wd::AttemptOutcome::failed, std::nullopt);
  });
  db.read([](Connection& c) {
    // Only a, now due at 4000.
    CHECK(wd::next_due_at(c) == 4000);
    CHECK(wd::due(c, 3999, 10).empty());
    REQUIRE(wd::due(c, 4000, 10).size() == 1);

    const auto a = wd::find_by_id(c, "a");
    REQUIRE(a);
    CHECK(a->status == "pending");
    CHECK(a->attempts == 1);
    CHECK(a->next_attempt_at == 4000);
    CHECK_FALSE(a->delivered_at);

    const auto b = wd::find_by_id(c, "b");
    CHECK(b->status == "delivered");
    CHECK(b->delivered_at == 2007);
    CHECK_FALSE(b->next_attempt_at);

    const auto failed = wd::find_by_id(c, "c");
    CHECK(failed->status == "failed");
    CHECK_FALSE(failed->next_attempt_at);
    const auto attempts = wd::attempts(c, "c");
    REQUIRE(attempts.size() == 1);
    CHECK(attempts[0].error == "timed out");
    CHECK_FALSE(attempts[0].http_status);
    CHECK(attempts[0].duration_ms == 10000);
  });

  // The second attempt is numbered after the first; a duplicate number is refused.
  db.write([](Connection& c) {
    wd::record_attempt(c, "a", WebhookAttempt{2, 4000, 3, 200, std::nullopt},
                       wd::AttemptOutcome::delivered, std::nullopt);
  });
  CHECK_THROWS_AS(db.write([](Connection& c) {
                    wd::record_attempt(c, "a", WebhookAttempt{2, 5000, 3, 200, std::nullopt},
                                       wd::AttemptOutcome::delivered, std::nullopt);
                  }),
                  SqliteError);
  db.read([](Connection& c) {
    const auto attempts = wd::attempts(c, "a");
    REQUIRE(attempts.size() == 2);
    CHECK(attempts[0].http_status == 500);
    CHECK(attempts[1].http_status == 200);
    CHECK(wd::find_by_id(c, "a")->attempts == 2);
    CHECK_FALSE(wd::next_due_at(c));
  });
}
