// JSON views of stored records, in the API's camelCase.
#pragma once

#include "souk/storage/products.hpp"
#include "souk/storage/users.hpp"

#include <nlohmann/json.hpp>

namespace souk::api {

// Everything about the caller themself (register, login, /users/me).
nlohmann::json self_json(const storage::User& u);
// What anyone may see of a user.
nlohmann::json public_user_json(const storage::User& u);
nlohmann::json product_json(const storage::Product& p);

}  // namespace souk::api
