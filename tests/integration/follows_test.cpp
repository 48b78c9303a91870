// Following sellers: POST/DELETE /users/{id}/follow, idempotent, with counts.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

using namespace souk_it;

namespace {

struct People {
  Account seller, other_seller, buyer, buyer2;
};

std::string follow_path(const std::string& id) { return api_path("/users/" + id + "/follow"); }

void check_follow(const Response& res, const std::string& seller_id, bool following, int count) {
  INFO("response: " << res.describe());
  REQUIRE(res.status == 200);
  const auto& d = res.body["data"];
  CHECK(d["sellerId"] == seller_id);
  CHECK(d["following"] == following);
  CHECK(d["followerCount"] == count);
}

}  // namespace

TEST_CASE("follows: follow and unfollow a seller") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& p = test_case_state<People>("people");
  if (p.seller.token.empty()) {
    p.seller = client.register_user("seller");
    p.other_seller = client.register_user("seller");
    p.buyer = client.register_user("buyer");
    p.buyer2 = client.register_user("buyer");
  }

  SUBCASE("follow is idempotent and counts followers; unfollow too") {
    const auto path = follow_path(p.seller.id);
    check_follow(client.post(path, {}, p.buyer.token), p.seller.id, true, 1);
    check_follow(client.post(path, {}, p.buyer.token), p.seller.id, true, 1);
    check_follow(client.post(path, {}, p.buyer2.token), p.seller.id, true, 2);
    // A seller may follow another seller.
    check_follow(client.post(path, {}, p.other_seller.token), p.seller.id, true, 3);
    check_follow(client.del(path, {}, p.other_seller.token), p.seller.id, false, 2);
    check_follow(client.del(path, {}, p.buyer2.token), p.seller.id, false, 1);
    check_follow(client.del(path, {}, p.buyer2.token), p.seller.id, false, 1);
    check_follow(client.del(path, {}, p.buyer.token), p.seller.id, false, 0);
    check_follow(client.del(path, {}, p.buyer.token), p.seller.id, false, 0);
  }
  SUBCASE("unfollowing a seller never followed is 200 following false") {
    check_follow(client.del(follow_path(p.other_seller.id), {}, p.buyer.token), p.other_seller.id,
                 false, 0);
  }
  SUBCASE("an unknown or malformed id is 404 user_not_found") {
    for (const std::string id : {"00000000-0000-4000-8000-000000000000",
                                 "3f0b9a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "not-a-uuid", "12345"}) {
      CAPTURE(id);
      CHECK_ERROR(client.post(follow_path(id), {}, p.buyer.token), 404, "user_not_found");
      CHECK_ERROR(client.del(follow_path(id), {}, p.buyer.token), 404, "user_not_found");
    }
  }
  SUBCASE("following a buyer is 422 not_a_seller") {
    CHECK_ERROR(client.post(follow_path(p.buyer2.id), {}, p.buyer.token), 422, "not_a_seller");
  }
  SUBCASE("following yourself is 422 cannot_follow_self") {
    CHECK_ERROR(client.post(follow_path(p.seller.id), {}, p.seller.token), 422,
                "cannot_follow_self");
  }
  SUBCASE("without a token is 401") {
    const auto res = client.post(follow_path(p.seller.id));
    CHECK_ERROR(res, 401, "unauthorized");
    CHECK(res.has_header("WWW-Authenticate"));
    CHECK_ERROR(client.del(follow_path(p.seller.id)), 401, "unauthorized");
    CHECK_ERROR(client.post(follow_path(p.seller.id), {}, "not-a-real-token"), 401,
                "invalid_token");
  }
}
