// The OpenAPI 3.1 document of this API: control-api/openapi.json, compiled into
// the binary at build time (embed_openapi.cmake) and served at /api/v1/openapi.json.
#pragma once

#include <string_view>

namespace souk::api {

// The document's bytes, exactly as in the file.
std::string_view openapi_document();

}  // namespace souk::api
