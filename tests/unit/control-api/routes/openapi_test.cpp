// The OpenAPI document against the server: every route the router registers is
// documented and every documented operation is routed, with the same path
// parameters; the compiled-in bytes are control-api/openapi.json; and
// GET/HEAD /api/v1/openapi.json serve them with a validator.
#include "souk/api/api.hpp"
#include "souk/api/openapi.hpp"
#include "souk/storage/database.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace souk::api;
using nlohmann::json;

namespace {

// The operations of a path item (OpenAPI 3.1 §4.8.9), by their key.
const std::set<std::string> operation_keys = {"get",     "put",  "post",  "delete",
                                              "options", "head", "patch", "trace"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// "{id}" and "{pid}" in "/api/v1/streams/{id}/products/{pid}/tag".
std::set<std::string> template_names(const std::string& pattern) {
  std::set<std::string> names;
  for (auto open = pattern.find('{'); open != std::string::npos; open = pattern.find('{', open)) {
    const auto close = pattern.find('}', open);
    if (close == std::string::npos) break;
    names.insert(pattern.substr(open + 1, close - open - 1));
    open = close;
  }
  return names;
}

// A parameter object, following a "#/components/parameters/..." reference.
const json& resolve(const json& doc, const json& parameter) {
  if (!parameter.contains("$ref")) return parameter;
  const std::string ref = parameter["$ref"];
  return doc.at(json::json_pointer(ref.substr(1)));
}

// Names of the path parameters an operation declares (its own and its path item's).
std::set<std::string> declared_path_parameters(const json& doc, const json& item, const json& op) {
  std::set<std::string> names;
  for (const json* list : {&item, &op}) {
    for (const auto& p : list->value("parameters", json::array())) {
      const auto& param = resolve(doc, p);
      if (param.at("in") == "path") names.insert(param.at("name").get<std::string>());
    }
  }
  return names;
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

struct Fixture {
  souk::storage::Database db{":memory:"};
  souk::test::TempDir data_dir{"souk-api-test"};
  Api api{db, [this] {
            ApiOptions o;
            o.data_dir = data_dir.path();
            o.password_cost = PasswordCost::minimum();
            return o;
          }()};
  json doc = json::parse(openapi_document());

  HttpResponse call(const std::string& method, const std::string& if_none_match = {}) {
    HttpRequest req;
    req.method = method;
    req.target = req.path = "/api/v1/openapi.json";
    if (!if_none_match.empty()) req.headers["if-none-match"] = if_none_match;
    return api.handle(req);
  }
};

}  // namespace

TEST_CASE("openapi: the compiled-in document is control-api/openapi.json, OpenAPI 3.1") {
  std::ifstream in(std::string(SOUK_SOURCE_DIR) + "/control-api/openapi.json", std::ios::binary);
  REQUIRE(in);
  std::ostringstream file;
  file << in.rdbuf();
  // A stale build would serve another document than the repository's.
  CHECK(openapi_document() == file.str());
  const auto doc = json::parse(openapi_document());
  CHECK(doc.at("openapi").get<std::string>().starts_with("3.1."));
  CHECK(doc.at("components").at("securitySchemes").contains("bearerAuth"));
}

TEST_CASE_FIXTURE(Fixture, "openapi: documents exactly the router's routes, parameters included") {
  std::set<std::string> routed;      // "GET /api/v1/streams/{id}"
  std::set<std::string> documented;  // the same, from the document's paths
  for (const auto& r : api.routes()) routed.insert(r.method + " " + r.pattern);
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [key, op] : item.items()) {
      if (operation_keys.count(key) == 0) continue;
      documented.insert(upper(key) + " " + path);
      // The path's {names} are the parameters the operation declares in: path
      // (the router's names, as the patterns are compared whole below).
      const auto in_template = template_names(path);
      const auto declared = declared_path_parameters(doc, item, op);
      CHECK_MESSAGE(declared == in_template, upper(key), " ", path, " declares path parameters ",
                    joined(declared), "; its template has ", joined(in_template));
    }
  }
  REQUIRE_FALSE(routed.empty());
  for (const auto& r : routed) {
    if (documented.count(r) == 0) FAIL_CHECK("routed but missing from control-api/openapi.json: " << r);
  }
  for (const auto& d : documented) {
    if (routed.count(d) == 0) FAIL_CHECK("in control-api/openapi.json but not routed: " << d);
  }
}

TEST_CASE_FIXTURE(Fixture, "openapi: every operation has a unique operationId and a 2xx answer") {
  std::set<std::string> ids;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [key, op] : item.items()) {
      if (operation_keys.count(key) == 0) continue;
      const auto id = op.value("operationId", std::string());
      CHECK_MESSAGE(!id.empty(), key, " ", path, " has no operationId");
      CHECK_MESSAGE(ids.insert(id).second, "operationId ", id, " is used twice");
      const auto& responses = op.at("responses");
      CHECK_MESSAGE(std::any_of(responses.items().begin(), responses.items().end(),
                                [](const auto& r) { return r.key().starts_with("2"); }),
                    key, " ", path, " documents no success");
    }
  }
}

TEST_CASE_FIXTURE(Fixture, "openapi: GET serves the document as JSON with an ETag; HEAD the headers") {
  const auto res = call("GET");
  CHECK(res.status == 200);
  CHECK(res.body == openapi_document());
  CHECK(res.header("Content-Type") == "application/json");
  CHECK(res.header("Cache-Control") == "no-cache");
  const std::string etag(res.header("ETag"));
  REQUIRE(etag.size() == 2 + 64);  // a quoted SHA-256 in hex
  CHECK(etag.front() == '"');
  CHECK(etag.back() == '"');
  CHECK(call("GET").header("ETag") == etag);  // stable

  const auto head = call("HEAD");
  CHECK(head.status == 200);
  CHECK(head.head);
  CHECK(head.header("ETag") == etag);
  CHECK(head.header("Content-Type") == "application/json");
}

TEST_CASE_FIXTURE(Fixture, "openapi: If-None-Match gives 304 for the current tag only") {
  const std::string etag(call("GET").header("ETag"));
  for (const auto& matching : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    const auto res = call("GET", matching);
    CHECK_MESSAGE(res.status == 304, "If-None-Match: ", matching);
    CHECK(res.body.empty());
    CHECK(res.header("ETag") == etag);
  }
  CHECK(call("HEAD", etag).status == 304);
  const auto stale = call("GET", "\"0123\"");
  CHECK(stale.status == 200);
  CHECK(stale.body == openapi_document());
}

TEST_CASE_FIXTURE(Fixture, "openapi: other methods get 405 naming GET and HEAD") {
  const auto res = call("POST");
  CHECK(res.status == 405);
  CHECK(res.header("Allow") == "GET, HEAD");
}
