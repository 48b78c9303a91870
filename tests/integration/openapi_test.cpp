// The OpenAPI document against the running server: GET /api/v1/openapi.json serves
// control-api/openapi.json byte for byte (with its validator), and real answers of
// every kind of operation, successes and failures, have a status the document lists
// for that operation and a body its schema accepts.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace souk_it;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string openapi_file() {
  return read_file(std::filesystem::path(SOUK_SOURCE_DIR) / "control-api" / "openapi.json");
}

// The JSON Schema keywords the document uses, enough to catch a document that
// drifted from the server: $ref, allOf, oneOf, type, required, properties, items,
// enum, const, additionalProperties: false.
class SchemaCheck {
 public:
  explicit SchemaCheck(const json& doc) : doc_(doc) {}

  const json& resolve(const json& node) const {
    if (!node.is_object() || !node.contains("$ref")) return node;
    return resolve(doc_.at(json::json_pointer(node["$ref"].get<std::string>().substr(1))));
  }

  // Problems with `value` at `where` ("" when it conforms).
  void check(const json& schema_node, const json& value, const std::string& where,
             std::vector<std::string>& problems) const {
    const json& schema = resolve(schema_node);
    if (schema.contains("allOf")) {
      for (const auto& part : schema["allOf"]) check(part, value, where, problems);
    }
    if (schema.contains("oneOf")) {
      int matches = 0;
      for (const auto& option : schema["oneOf"]) {
        std::vector<std::string> sub;
        check(option, value, where, sub);
        matches += sub.empty();
      }
      if (matches != 1) problems.push_back(where + ": matches " + std::to_string(matches) + " of oneOf");
    }
    if (schema.contains("type") && !type_matches(schema["type"], value)) {
      problems.push_back(where + ": " + value.dump() + " is not of type " + schema["type"].dump());
      return;
    }
    if (schema.contains("enum") &&
        std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) {
      problems.push_back(where + ": " + value.dump() + " is not in " + schema["enum"].dump());
    }
    if (schema.contains("const") && schema["const"] != value) {
      problems.push_back(where + ": " + value.dump() + " is not " + schema["const"].dump());
    }
    if (value.is_object()) {
      for (const auto& name : schema.value("required", json::array())) {
        if (!value.contains(name.get<std::string>())) {
          problems.push_back(where + ": required " + name.get<std::string>() + " is missing");
        }
      }
      const auto properties = schema.value("properties", json::object());
      for (const auto& [name, v] : value.items()) {
        if (properties.contains(name)) {
          check(properties[name], v, where + "." + name, problems);
        } else if (schema.value("additionalProperties", true) == false) {
          problems.push_back(where + ": " + name + " is not allowed");
        }
      }
    }
    if (value.is_array() && schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check(schema["items"], value[i], where + "[" + std::to_string(i) + "]", problems);
      }
    }
  }

 private:
  static bool type_is(const std::string& type, const json& v) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    return false;
  }
  static bool type_matches(const json& type, const json& v) {
    if (type.is_string()) return type_is(type.get<std::string>(), v);
    return std::any_of(type.begin(), type.end(), [&](const json& t) { return type_is(t, v); });
  }

  const json& doc_;
};

// Checks a real answer of `method path_template` against the document.
void check_answer(const json& doc, const std::string& method, const std::string& path_template,
                  const Response& res) {
  INFO(method << " " << path_template << " answered " << res.describe());
  std::string key = method;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  // CHECKs, not REQUIREs: one run reports every answer the document gets wrong.
  const bool documented = doc["paths"].contains(path_template) && doc["paths"][path_template].contains(key);
  CHECK_MESSAGE(documented, "the operation is not documented");
  if (!documented) return;
  const auto& responses = doc["paths"][path_template][key]["responses"];
  const auto status = std::to_string(res.status);
  CHECK_MESSAGE(responses.contains(status), "status " << status << " is not documented");
  if (!responses.contains(status)) return;
  const SchemaCheck schemas(doc);
  const json& response = schemas.resolve(responses[status]);
  const auto content = response.value("content", json::object());
  if (!content.contains("application/json")) return;
  std::vector<std::string> problems;
  schemas.check(content["application/json"]["schema"], res.body, "body", problems);
  std::string all;
  for (const auto& p : problems) all += "\n  " + p;
  CHECK_MESSAGE(problems.empty(), "the body does not match the document:" << all);
}

}  // namespace

TEST_CASE("openapi: the server serves control-api/openapi.json with an ETag, 304 and HEAD") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto file = openapi_file();
  REQUIRE_FALSE(file.empty());

  const auto res = client.get(api_path("/openapi.json"));
  REQUIRE(res.status == 200);
  CHECK(res.raw == file);
  CHECK(res.header("Content-Type") == "application/json");
  const auto etag = res.header("ETag");
  CHECK_FALSE(etag.empty());

  const auto again = client.get(api_path("/openapi.json"), {}, {{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.raw.empty());

  const auto head = client.request("HEAD", api_path("/openapi.json"));
  CHECK(head.status == 200);
  CHECK(head.raw.empty());
  CHECK(head.header("Content-Length") == std::to_string(file.size()));
  CHECK(head.header("ETag") == etag);
}

TEST_CASE("openapi: real answers have documented statuses and bodies the schemas accept") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto doc = json::parse(openapi_file());
  const auto check = [&](const std::string& method, const std::string& tmpl, const Response& r) {
    check_answer(doc, method, tmpl, r);
  };

  check("GET", "/healthz", client.get("/healthz"));
  check("GET", "/readyz", client.get("/readyz"));

  // Accounts.
  const auto seller_name = unique_username("s");
  const auto password = unique_password();
  const auto registered = client.post(api_path("/auth/register"),
                                      json{{"username", seller_name}, {"password", password},
                                           {"role", "seller"}, {"lat", 36.8}, {"lon", 10.18}});
  check("POST", "/api/v1/auth/register", registered);
  const std::string seller_token = registered.body["data"]["token"];
  const std::string seller_id = registered.body["data"]["user"]["id"];
  check("POST", "/api/v1/auth/register",
        client.post(api_path("/auth/register"),
                    json{{"username", seller_name}, {"password", password}, {"role", "seller"}}));
  check("POST", "/api/v1/auth/register",
        client.post(api_path("/auth/register"), Body::raw("{not json")));
  check("POST", "/api/v1/auth/register",
        client.post(api_path("/auth/register"),
                    json{{"username", "x"}, {"password", password}, {"role", "buyer"}}));
  check("POST", "/api/v1/auth/login", client.login(seller_name, password));
  check("POST", "/api/v1/auth/login", client.login(seller_name, "wrong-password"));
  const auto buyer = client.register_user("buyer");
  check("GET", "/api/v1/users/me", client.get(api_path("/users/me"), buyer.token));
  check("GET", "/api/v1/users/me", client.get(api_path("/users/me")));
  const auto follow = api_path("/users/" + seller_id + "/follow");
  check("POST", "/api/v1/users/{id}/follow", client.post(follow, {}, buyer.token));
  check("DELETE", "/api/v1/users/{id}/follow", client.del(follow, {}, buyer.token));
  check("POST", "/api/v1/users/{id}/follow", client.post(follow, {}, seller_token));
  check("POST", "/api/v1/users/{id}/follow",
        client.post(api_path("/users/" + buyer.id + "/follow"), {}, seller_token));

  // Products.
  const auto product_body = json{{"title", "Lamp"}, {"price_cents", 1500}, {"currency", "TND"}};
  const auto product = client.post(api_path("/products"), product_body, seller_token);
  check("POST", "/api/v1/products", product);
  const std::string product_id = product.body["data"]["id"];
  const auto second = client.post(api_path("/products"), product_body, seller_token);
  const std::string second_id = second.body["data"]["id"];
  check("POST", "/api/v1/products", client.post(api_path("/products"), product_body, buyer.token));
  check("GET", "/api/v1/products/{id}", client.get(api_path("/products/" + product_id)));
  check("GET", "/api/v1/products/{id}", client.get(api_path("/products/nope")));

  // A stream's whole life.
  const auto created = client.post(api_path("/streams"),
                                   json{{"title", "Evening sale"}, {"product_ids", {product_id}}},
                                   seller_token);
  check("POST", "/api/v1/streams", created);
  const std::string id = created.body["data"]["id"];
  const auto stream = api_path("/streams/" + id);
  check("GET", "/api/v1/streams", client.get(api_path("/streams?limit=1")));
  check("GET", "/api/v1/streams", client.get(api_path("/streams?limit=0")));
  check("GET", "/api/v1/streams/{id}", client.get(stream));
  check("GET", "/api/v1/streams/{id}", client.get(api_path("/streams/nope")));
  check("POST", "/api/v1/streams/{id}/products",
        client.post(stream + "/products", json{{"product_ids", {product_id, second_id}}}, seller_token));
  check("PATCH", "/api/v1/streams/{id}/settings",
        client.patch(stream + "/settings", json{{"estimated_duration", 30}}, seller_token));
  check("PATCH", "/api/v1/streams/{id}/settings",
        client.patch(stream + "/settings", json{{"estimated_duration", 1}}, seller_token));
  check("POST", "/api/v1/streams/{id}/go-live",
        client.post(stream + "/go-live", json{{"camera_ready", true}}, seller_token));
  check("POST", "/api/v1/streams/{id}/go-live",
        client.post(stream + "/go-live", json{{"camera_ready", true}, {"checklist_complete", true}},
                    seller_token));
  check("POST", "/api/v1/streams/{id}/go-live",
        client.post(stream + "/go-live", json{{"camera_ready", true}, {"checklist_complete", true}},
                    seller_token));
  check("PATCH", "/api/v1/streams/{id}/settings",
        client.patch(stream + "/settings", json{{"title", "Later"}}, seller_token));
  check("GET", "/api/v1/streams/{id}", client.get(stream));
  const auto product_path = stream + "/products/" + product_id;
  check("POST", "/api/v1/streams/{id}/products/{pid}/tag",
        client.post(product_path + "/tag", json{{"x", 0.5}, {"y", 0.25}, {"timestamp_seconds", 12}},
                    seller_token));
  check("POST", "/api/v1/streams/{id}/products/{pid}/tag",
        client.post(product_path + "/tag", json{{"x", 2}, {"y", 0.25}, {"timestamp_seconds", 12}},
                    seller_token));
  check("POST", "/api/v1/streams/{id}/products/{pid}/events",
        client.post(product_path + "/events", json{{"type", "purchase"}}, buyer.token));
  check("POST", "/api/v1/streams/{id}/products/{pid}/events",
        client.post(stream + "/products/" + buyer.id + "/events", json{{"type", "view"}}, buyer.token));
  check("GET", "/api/v1/streams/{id}/products", client.get(stream + "/products"));
  check("GET", "/api/v1/streams/{id}/analytics", client.get(stream + "/analytics", seller_token));
  check("GET", "/api/v1/streams/{id}/analytics", client.get(stream + "/analytics", buyer.token));
  check("POST", "/api/v1/streams/{id}/end", client.post(stream + "/end", {}, seller_token));
  check("POST", "/api/v1/streams/{id}/end", client.post(stream + "/end", {}, seller_token));
  check("GET", "/api/v1/streams/{id}", client.get(stream));
  check("GET", "/api/v1/streams", client.get(api_path("/streams?status=ended")));
  check("POST", "/api/v1/auth/logout", client.post(api_path("/auth/logout"), {}, buyer.token));
  check("POST", "/api/v1/auth/logout", client.post(api_path("/auth/logout"), {}, buyer.token));

  // Media: no publisher ever sent, so no files (their 404s are documented too).
  check("GET", "/hls/{id}/{file}", client.get("/hls/" + id + "/index.m3u8"));
  check("GET", "/vod/{file}", client.get("/vod/" + id + ".mp4"));
}
