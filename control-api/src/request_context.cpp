// Caller identity from the bearer token.
#include "souk/api/request_context.hpp"

#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/random.hpp"
#include "souk/storage/auth_tokens.hpp"
#include "souk/storage/database.hpp"

namespace souk::api {

std::optional<std::string_view> RequestContext::bearer_token() const {
  const auto h = request_.header("authorization");
  if (h.empty()) return std::nullopt;
  constexpr std::string_view scheme = "bearer ";
  if (h.size() <= scheme.size()) return std::string_view();
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i]) return std::string_view();
  }
  auto token = h.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

const storage::User* RequestContext::optional_user() {
  if (!user_loaded_) {
    user_loaded_ = true;
    const auto token = bearer_token();
    if (!token) return nullptr;
    if (token->empty()) throw ApiError::invalid_token();
    const auto hash = sha256(*token);
    user_ = api_.db().read([&](storage::Connection& c) -> std::optional<storage::User> {
      const auto user_id = storage::auth_tokens::find_user(c, hash, now_millis());
      if (!user_id) return std::nullopt;
      return storage::users::find_by_id(c, *user_id);
    });
    if (!user_) throw ApiError::invalid_token();
  }
  return user_ ? &*user_ : nullptr;
}

const storage::User& RequestContext::user() {
  const auto* u = optional_user();
  if (!u) throw ApiError::unauthorized();
  return *u;
}

}  // namespace souk::api
