// Products attached to a stream: order, tag position, and the per-product
// counters that product events feed.
#pragma once

#include "souk/storage/products.hpp"
#include "souk/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

struct ProductTag {
  double x = 0;
  double y = 0;
  double timestamp_seconds = 0;
};

struct ProductCounters {
  std::int64_t clicks = 0;
  std::int64_t views = 0;
  std::int64_t inquiries = 0;
  std::int64_t purchases = 0;
  std::int64_t revenue_cents = 0;
};

struct StreamProduct {
  Product product;
  std::optional<ProductTag> tag;
  ProductCounters counters;
};

// What the counters hold, so every sum of them fits in 64 bits: a purchase is at
// most 10^10 cents (the highest product price) and a product's revenue in one
// stream at most 10^15, so even 9,000 products' revenues add up without
// overflow. The schema's CHECK constraints say the same (migration 4).
inline constexpr std::int64_t max_purchase_cents = 10'000'000'000;
inline constexpr std::int64_t max_revenue_cents = 1'000'000'000'000'000;

// The sum of the products' revenues; std::overflow_error past max 64 bits
// (never, for fewer than 9,000 products within max_revenue_cents).
std::int64_t total_revenue_cents(const std::vector<StreamProduct>& products);

enum class ProductEventType { click, view, inquiry, purchase };
std::optional<ProductEventType> parse_product_event_type(std::string_view s);
const char* to_string(ProductEventType t);

namespace stream_products {

// Appends after the last attached product; false if it was already attached.
bool attach(Connection& c, std::string_view stream_id, std::string_view product_id, UnixMillis now);
bool is_attached(Connection& c, std::string_view stream_id, std::string_view product_id);
std::int64_t count(Connection& c, std::string_view stream_id);
// In attach order.
std::vector<StreamProduct> list(Connection& c, std::string_view stream_id);
void set_tag(Connection& c, std::string_view stream_id, std::string_view product_id,
             const ProductTag& tag, UnixMillis now);

// Stores the event and bumps the product's counter (and revenue for a purchase).
// False, with nothing written, when the amount is outside 0..max_purchase_cents
// or would take the product's revenue past max_revenue_cents.
[[nodiscard]] bool record_event(Connection& c, std::string_view stream_id, std::string_view product_id,
                  const std::optional<std::string>& user_id, ProductEventType type,
                  std::int64_t amount_cents, UnixMillis now);

}  // namespace stream_products

}  // namespace souk::storage
