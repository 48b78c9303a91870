# Writes OUTPUT, a C++ file defining souk::api::openapi_document(), from the bytes
# of INPUT (control-api/openapi.json). Run at build time (cmake -P), so an edit of
# the document rebuilds the binary. Bytes, not a string literal: the document is
# longer than the 64 KiB literal -Wpedantic (-Woverlength-strings) accepts.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
if(hex_length EQUAL 0)
  message(FATAL_ERROR "embed_openapi: ${INPUT} is empty")
endif()
# Sixteen bytes (32 hex digits) a line; CMake's regular expressions have no {n}.
string(REGEX REPLACE "(................................)" "\\1\n    " hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}"
"// Generated from control-api/openapi.json by control-api/embed_openapi.cmake: do not edit.
#include \"souk/api/openapi.hpp\"

namespace souk::api {
namespace {

constexpr unsigned char document_bytes[] = {
    ${bytes}
};

}  // namespace

std::string_view openapi_document() {
  return {reinterpret_cast<const char*>(document_bytes), sizeof document_bytes};
}

}  // namespace souk::api
")
