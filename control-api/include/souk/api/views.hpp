// JSON views of stored records, in the API's camelCase.
#pragma once

#include "souk/storage/products.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/stream_stats.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace souk::api {

// Everything about the caller themself (register, login, /users/me).
nlohmann::json self_json(const storage::User& u);
// What anyone may see of a user.
nlohmann::json public_user_json(const storage::User& u);
nlohmann::json product_json(const storage::Product& p);

// The six reactions of docs/api.md, in its order.
const std::vector<std::string>& reaction_emojis();

// A product as attached to a stream: the product, its tag and its counters.
nlohmann::json stream_product_json(const storage::StreamProduct& sp);

// A stream as discovery lists it (no product list). `hls_url` is where it plays
// (StreamLifecycle::hls_url), shown once the stream has gone live.
nlohmann::json stream_summary_json(const storage::Stream& s, const storage::User& seller,
                                   std::int64_t product_count, std::string_view hls_url);

// {peakViewers, uniqueViewers, totalLikes, chatMessages, averageWatchTimeSeconds,
//  totalWatchTimeSeconds, reactions} as /end returns it.
nlohmann::json end_stats_json(const storage::StreamFigures& f);

}  // namespace souk::api
