#include "souk/api/router.hpp"

#include <doctest/doctest.h>

using souk::api::Router;
using Outcome = Router<int>::Outcome;

namespace {

Router<int> make_router() {
  Router<int> r;
  r.add("GET", "/api/v1/streams", 1);
  r.add("POST", "/api/v1/streams", 2);
  r.add("GET", "/api/v1/streams/{id}", 3);
  r.add("POST", "/api/v1/streams/{id}/products/{pid}/tag", 4);
  r.add("DELETE", "/api/v1/users/{id}/follow", 5);
  r.add("POST", "/api/v1/users/{id}/follow", 6);
  return r;
}

}  // namespace

TEST_CASE("router: literal and parameter routes") {
  const auto r = make_router();
  auto m = r.match("GET", "/api/v1/streams");
  REQUIRE(m.outcome == Outcome::found);
  CHECK(*m.handler == 1);

  m = r.match("POST", "/api/v1/streams/s-1/products/p-2/tag");
  REQUIRE(m.outcome == Outcome::found);
  CHECK(*m.handler == 4);
  CHECK(m.params.get("id") == "s-1");
  CHECK(m.params.get("pid") == "p-2");
  CHECK(m.params.get("missing").empty());
}

TEST_CASE("router: the same path with two methods") {
  const auto r = make_router();
  CHECK(*r.match("POST", "/api/v1/users/u/follow").handler == 6);
  CHECK(*r.match("DELETE", "/api/v1/users/u/follow").handler == 5);
}

TEST_CASE("router: wrong method gives 405 with the allowed list") {
  const auto r = make_router();
  const auto m = r.match("PUT", "/api/v1/streams");
  CHECK(m.outcome == Outcome::method_not_allowed);
  CHECK(m.handler == nullptr);
  CHECK(m.allowed == std::vector<std::string>{"GET", "POST"});
}

TEST_CASE("router: unknown paths, empty parameters and trailing slashes do not match") {
  const auto r = make_router();
  for (const char* path : {"/", "", "/api/v1", "/api/v1/streams/", "/api/v1/streams//products/p/tag",
                           "/api/v1/streams/a/b", "api/v1/streams", "/API/V1/STREAMS"}) {
    CAPTURE(path);
    CHECK(r.match("GET", path).outcome == Outcome::not_found);
  }
}

TEST_CASE("router: entries lists every route as added, in order") {
  const auto entries = make_router().entries();
  REQUIRE(entries.size() == 6);
  CHECK(entries[0].method == "GET");
  CHECK(entries[0].pattern == "/api/v1/streams");
  CHECK(entries[3].method == "POST");
  CHECK(entries[3].pattern == "/api/v1/streams/{id}/products/{pid}/tag");
  CHECK(entries[4].method == "DELETE");
  CHECK(entries[4].pattern == "/api/v1/users/{id}/follow");
}

TEST_CASE("router: a match names the pattern it matched (the metrics' route template)") {
  const auto r = make_router();
  CHECK(r.match("GET", "/api/v1/streams/abc").pattern == "/api/v1/streams/{id}");
  CHECK(r.match("POST", "/api/v1/streams/s/products/p/tag").pattern ==
        "/api/v1/streams/{id}/products/{pid}/tag");
  // 405: the path's pattern all the same.
  CHECK(r.match("PUT", "/api/v1/users/u/follow").pattern == "/api/v1/users/{id}/follow");
  CHECK(r.match("GET", "/nope").pattern.empty());
  // The same pattern, whatever the id: one stable string.
  CHECK(r.match("GET", "/api/v1/streams/a").pattern.data() ==
        r.match("GET", "/api/v1/streams/b").pattern.data());
}
