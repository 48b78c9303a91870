// Wall-clock time as milliseconds since the Unix epoch, and its ISO-8601 form
// ("2026-11-24T10:26:20.123Z"), the one timestamp format of the API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace souk {

using UnixMillis = std::int64_t;

UnixMillis now_millis();

// Always UTC with exactly three fractional digits.
std::string format_iso8601(UnixMillis t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)"; nullopt when malformed
// or out of range.
std::optional<UnixMillis> parse_iso8601(std::string_view s);

}  // namespace souk
