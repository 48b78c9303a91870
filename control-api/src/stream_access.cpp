// Stream loading with ownership and state checks.
#include "souk/api/stream_access.hpp"

#include "souk/api/api_error.hpp"
#include "souk/random.hpp"

namespace souk::api {

storage::Stream load_stream(storage::Connection& c, std::string_view id) {
  auto s = is_uuid(id) ? storage::streams::find_by_id(c, id) : std::nullopt;
  if (!s) throw ApiError::not_found("stream_not_found", "no such stream");
  return std::move(*s);
}

storage::Stream load_owned_stream(storage::Connection& c, std::string_view id,
                                  const storage::User& user) {
  auto s = load_stream(c, id);
  if (s.seller_id != user.id) throw ApiError::forbidden("this stream is not yours");
  return s;
}

void require_status(const storage::Stream& s, storage::StreamStatus status, const char* message) {
  if (s.status != status) {
    throw ApiError::conflict("stream_not_" + std::string(to_string(status)),
                             std::string(message) + " (the stream is " +
                                 std::string(to_string(s.status)) + ")");
  }
}

}  // namespace souk::api
