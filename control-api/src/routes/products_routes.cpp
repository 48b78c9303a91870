// Products: a seller creates them; anyone reads them.
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/request_context.hpp"
#include "souk/api/validate.hpp"
#include "souk/api/views.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/products.hpp"

#include <nlohmann/json.hpp>

namespace souk::api {
namespace {

using storage::Connection;

// Ten billion: above any real price, far below int64 overflow in sums.
constexpr std::int64_t max_price_cents = 10'000'000'000;

bool is_currency_code(const std::string& s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

HttpResponse create_product(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  if (me.role != "seller") throw ApiError::forbidden("only sellers can create products");
  const auto body = ctx.body();
  storage::Product p;
  p.title = body.required_string("title");
  p.price_cents = body.required_int("price_cents");
  p.currency = body.required_string("currency");
  p.image_url = body.optional_string("image_url");

  p.title = validate::text("title", p.title, 1, 200);
  if (p.price_cents < 0 || p.price_cents > max_price_cents) {
    throw ApiError::invalid_value("price_cents", "'price_cents' must be between 0 and 10000000000");
  }
  if (!is_currency_code(p.currency)) {
    throw ApiError::invalid_value("currency", "'currency' must be a three-letter code such as \"USD\"");
  }
  if (p.image_url) validate::http_url("image_url", *p.image_url);

  p.id = uuid_v4();
  p.seller_id = me.id;
  p.created_at = now_millis();
  api.db().write([&](Connection& c) { storage::products::insert(c, p); });
  return data_response(product_json(p), 201);
}

HttpResponse get_product(Api& api, RequestContext& ctx) {
  const std::string id(ctx.param("id"));
  std::optional<storage::Product> p;
  if (is_uuid(id)) {
    p = api.db().read([&](Connection& c) { return storage::products::find_by_id(c, id); });
  }
  if (!p) throw ApiError::not_found("product_not_found", "no such product");
  return data_response(product_json(*p));
}

}  // namespace

void add_product_routes(Api& api, Router<Api::Handler>& router) {
  router.add("POST", "/api/v1/products",
             [&api](RequestContext& ctx) { return create_product(api, ctx); });
  router.add("GET", "/api/v1/products/{id}",
             [&api](RequestContext& ctx) { return get_product(api, ctx); });
}

}  // namespace souk::api
