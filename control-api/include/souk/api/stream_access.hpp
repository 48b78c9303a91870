// Loading a stream for a handler, with the API's answers for a missing stream
// (404), someone else's stream (403) and the wrong state (409).
#pragma once

#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"

#include <string_view>

namespace souk::api {

// 404 stream_not_found for an unknown or malformed id.
storage::Stream load_stream(storage::Connection& c, std::string_view id);
// As load_stream, then 403 unless `user` owns it.
storage::Stream load_owned_stream(storage::Connection& c, std::string_view id,
                                  const storage::User& user);
// 409 stream_not_<status> unless the stream is in `status`.
void require_status(const storage::Stream& s, storage::StreamStatus status, const char* message);

}  // namespace souk::api
