// The header block of a response whose body is in memory or in a pinned file,
// rendered by hand (no Beast in this header): the hot path of cached HLS files.
#pragma once

#include "souk/api/http/http_types.hpp"

#include <cstddef>
#include <string>

namespace souk::api {

// The header block Beast's serializer writes for a response: the status line,
// Server, the handler's fields in order, Connection as message::keep_alive() sets
// it (HTTP/1.1 says only "close", 1.0 only "keep-alive"), then Content-Length.
// Written by hand for bodies in memory, the hot path, where walking Beast's buffer
// sequences cost more than the rest of the request; the media tests compare the
// two byte for byte.
// `out` is cleared first and its capacity reused.
void render_head(std::string& out, const HttpResponse& res, unsigned version, bool keep_alive,
                 std::size_t content_length);

}  // namespace souk::api
