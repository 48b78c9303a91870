// Stream product queries.
#include "souk/storage/stream_products.hpp"

#include "souk/storage/sqlite.hpp"

#include <stdexcept>

namespace souk::storage {

std::optional<ProductEventType> parse_product_event_type(std::string_view s) {
  if (s == "click") return ProductEventType::click;
  if (s == "view") return ProductEventType::view;
  if (s == "inquiry") return ProductEventType::inquiry;
  if (s == "purchase") return ProductEventType::purchase;
  return std::nullopt;
}

const char* to_string(ProductEventType t) {
  switch (t) {
    case ProductEventType::click: return "click";
    case ProductEventType::view: return "view";
    case ProductEventType::inquiry: return "inquiry";
    case ProductEventType::purchase: return "purchase";
  }
  return "click";
}

std::int64_t total_revenue_cents(const std::vector<StreamProduct>& products) {
  std::int64_t total = 0;
  for (const auto& sp : products) {
    if (__builtin_add_overflow(total, sp.counters.revenue_cents, &total)) {
      throw std::overflow_error("the products' revenues add up past 64 bits");
    }
  }
  return total;
}

namespace stream_products {

bool attach(Connection& c, std::string_view stream_id, std::string_view product_id, UnixMillis now) {
  return c.execute(
             "INSERT INTO stream_products (stream_id, product_id, position, created_at, updated_at)"
             " VALUES (?1, ?2, (SELECT COALESCE(MAX(position), 0) + 1 FROM stream_products"
             " WHERE stream_id = ?1), ?3, ?3) ON CONFLICT DO NOTHING",
             stream_id, product_id, now) > 0;
}

bool is_attached(Connection& c, std::string_view stream_id, std::string_view product_id) {
  auto q = c.query("SELECT 1 FROM stream_products WHERE stream_id = ? AND product_id = ?",
                   stream_id, product_id);
  return q.next();
}

std::int64_t count(Connection& c, std::string_view stream_id) {
  auto q = c.query("SELECT COUNT(*) FROM stream_products WHERE stream_id = ?", stream_id);
  q.next();
  return q->int64(0);
}

std::vector<StreamProduct> list(Connection& c, std::string_view stream_id) {
  auto q = c.query(
      "SELECT p.id, p.seller_id, p.title, p.price_cents, p.currency, p.image_url, p.created_at,"
      " sp.tag_x, sp.tag_y, sp.tag_timestamp_seconds, sp.clicks, sp.views, sp.inquiries,"
      " sp.purchases, sp.revenue_cents"
      " FROM stream_products sp JOIN products p ON p.id = sp.product_id"
      " WHERE sp.stream_id = ? ORDER BY sp.position",
      stream_id);
  std::vector<StreamProduct> out;
  while (q.next()) {
    const Statement& r = q.row();
    StreamProduct sp;
    sp.product = Product{r.text(0), r.text(1),     r.text(2), r.int64(3),
                         r.text(4), r.opt_text(5), r.int64(6)};
    if (!r.is_null(7)) sp.tag = ProductTag{r.real(7), r.real(8), r.real(9)};
    sp.counters = ProductCounters{r.int64(10), r.int64(11), r.int64(12), r.int64(13), r.int64(14)};
    out.push_back(std::move(sp));
  }
  return out;
}

void set_tag(Connection& c, std::string_view stream_id, std::string_view product_id,
             const ProductTag& tag, UnixMillis now) {
  c.execute(
      "UPDATE stream_products SET tag_x = ?, tag_y = ?, tag_timestamp_seconds = ?, tagged_at = ?,"
      " updated_at = ? WHERE stream_id = ? AND product_id = ?",
      tag.x, tag.y, tag.timestamp_seconds, now, now, stream_id, product_id);
}

bool record_event(Connection& c, std::string_view stream_id, std::string_view product_id,
                  const std::optional<std::string>& user_id, ProductEventType type,
                  std::int64_t amount_cents, UnixMillis now) {
  if (amount_cents < 0 || amount_cents > max_purchase_cents) return false;
  if (type == ProductEventType::purchase) {
    // Checked here rather than left to SQLite, whose integer sum past 64 bits
    // turns into a REAL (and the schema's CHECK would fail the transaction).
    auto q = c.query("SELECT revenue_cents FROM stream_products WHERE stream_id = ? AND product_id = ?",
                     stream_id, product_id);
    if (!q.next()) return false;
    std::int64_t revenue = 0;
    if (__builtin_add_overflow(q->int64(0), amount_cents, &revenue) || revenue > max_revenue_cents) {
      return false;
    }
  }
  c.execute(
      "INSERT INTO product_events (stream_id, product_id, user_id, type, amount_cents, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?)",
      stream_id, product_id, user_id, to_string(type), amount_cents, now);
  // One statement per counter: the column name is never spliced from input.
  const char* sql = nullptr;
  switch (type) {
    case ProductEventType::click:
      sql = "UPDATE stream_products SET clicks = clicks + 1, updated_at = ?"
            " WHERE stream_id = ? AND product_id = ?";
      break;
    case ProductEventType::view:
      sql = "UPDATE stream_products SET views = views + 1, updated_at = ?"
            " WHERE stream_id = ? AND product_id = ?";
      break;
    case ProductEventType::inquiry:
      sql = "UPDATE stream_products SET inquiries = inquiries + 1, updated_at = ?"
            " WHERE stream_id = ? AND product_id = ?";
      break;
    case ProductEventType::purchase:
      sql = "UPDATE stream_products SET purchases = purchases + 1,"
            " revenue_cents = revenue_cents + ?4, updated_at = ?1"
            " WHERE stream_id = ?2 AND product_id = ?3";
      break;
  }
  if (type == ProductEventType::purchase) {
    c.execute(sql, now, stream_id, product_id, amount_cents);
  } else {
    c.execute(sql, now, stream_id, product_id);
  }
  return true;
}

}  // namespace stream_products

}  // namespace souk::storage
