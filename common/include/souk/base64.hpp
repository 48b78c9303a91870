// Unpadded base64url, for opaque tokens and cursors.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace souk {

std::string base64url_encode(std::string_view bytes);
// nullopt when `text` is not unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace souk
