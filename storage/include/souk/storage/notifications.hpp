// Notifications: at go-live, one row per recipient (followers and/or neighbours
// of the seller, narrowed by the stream's audience).
#pragma once

#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"
#include "souk/time.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

namespace notifications {

// Users other than `exclude_id` within radius_m of (lat, lon), found through
// the users_location index and decided by great-circle distance.
std::vector<std::string> users_near(Connection& c, double lat, double lon, double radius_m,
                                    std::string_view exclude_id);

// Writes a "stream_live" notification for each recipient of this go-live and
// returns their user ids. Idempotent per (stream, user).
std::vector<std::string> create_for_go_live(Connection& c, const Stream& stream,
                                            const User& seller, double neighborhood_radius_m,
                                            UnixMillis now);

std::int64_t count_for_stream(Connection& c, std::string_view stream_id);

}  // namespace notifications

}  // namespace souk::storage
