// Products a seller offers.
#pragma once

#include "souk/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace souk::storage {

class Connection;

struct Product {
  std::string id;
  std::string seller_id;
  std::string title;
  std::int64_t price_cents = 0;
  std::string currency;
  std::optional<std::string> image_url;
  UnixMillis created_at = 0;
};

namespace products {

void insert(Connection& c, const Product& p);
std::optional<Product> find_by_id(Connection& c, std::string_view id);

}  // namespace products

}  // namespace souk::storage
