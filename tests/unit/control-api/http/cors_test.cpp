// The CORS helper shared by REST and realtime responses.
#include "souk/api/http/cors.hpp"

#include <doctest/doctest.h>

namespace cors = souk::api::cors;
using souk::api::HttpResponse;

TEST_CASE("cors: * allows every origin, without Vary") {
  const std::vector<std::string> any{"*"};
  CHECK(cors::headers_for(any, "https://shop.example") ==
        cors::Headers{{"Access-Control-Allow-Origin", "*"}});
  CHECK(cors::headers_for(any, "") == cors::Headers{{"Access-Control-Allow-Origin", "*"}});
  // "*" anywhere in the list wins over the listed origins.
  const std::vector<std::string> mixed{"https://a.example", "*"};
  CHECK(cors::headers_for(mixed, "https://b.example") ==
        cors::Headers{{"Access-Control-Allow-Origin", "*"}});
}

TEST_CASE("cors: an allow-list echoes a listed origin, always with Vary: Origin") {
  const std::vector<std::string> list{"https://a.example", "https://shop.example"};
  CHECK(cors::headers_for(list, "https://shop.example") ==
        cors::Headers{{"Vary", "Origin"}, {"Access-Control-Allow-Origin", "https://shop.example"}});
  // Another origin, a prefix of a listed one, or none: no Allow-Origin, still Vary.
  CHECK(cors::headers_for(list, "https://evil.example") == cors::Headers{{"Vary", "Origin"}});
  CHECK(cors::headers_for(list, "https://shop.example.evil") == cors::Headers{{"Vary", "Origin"}});
  CHECK(cors::headers_for(list, "") == cors::Headers{{"Vary", "Origin"}});
  // An empty list allows nobody.
  CHECK(cors::headers_for({}, "https://a.example") == cors::Headers{{"Vary", "Origin"}});
}

TEST_CASE("cors: add_headers and preflight headers go on the response") {
  HttpResponse res;
  const std::vector<std::string> list{"https://shop.example"};
  cors::add_headers(list, "https://shop.example", res);
  CHECK(res.header("Access-Control-Allow-Origin") == "https://shop.example");
  CHECK(res.header("Vary") == "Origin");

  cors::add_preflight_headers({"GET, POST, OPTIONS", "Content-Type", 0}, res);
  CHECK(res.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
  CHECK(res.header("Access-Control-Allow-Headers") == "Content-Type");
  CHECK(res.header("Access-Control-Max-Age").empty());  // none unless asked

  HttpResponse rest;
  cors::add_preflight_headers({"GET, OPTIONS", "Authorization, Content-Type", 600}, rest);
  CHECK(rest.header("Access-Control-Max-Age") == "600");
}
