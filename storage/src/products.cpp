// Product queries.
#include "souk/storage/products.hpp"

#include "souk/storage/sqlite.hpp"

namespace souk::storage::products {

void insert(Connection& c, const Product& p) {
  c.execute(
      "INSERT INTO products (id, seller_id, title, price_cents, currency, image_url, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?)",
      p.id, p.seller_id, p.title, p.price_cents, p.currency, p.image_url, p.created_at);
}

std::optional<Product> find_by_id(Connection& c, std::string_view id) {
  auto q = c.query(
      "SELECT id, seller_id, title, price_cents, currency, image_url, created_at FROM products"
      " WHERE id = ?",
      id);
  if (!q.next()) return std::nullopt;
  const Statement& r = q.row();
  return Product{r.text(0), r.text(1), r.text(2), r.int64(3), r.text(4), r.opt_text(5), r.int64(6)};
}

}  // namespace souk::storage::products
