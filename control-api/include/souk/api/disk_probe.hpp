// Whether a directory takes writes now (GET /readyz): a small file written,
// flushed and removed, and removed whatever happened on the way.
#pragma once

#include <filesystem>

namespace souk::api {

bool directory_writable(const std::filesystem::path& dir);

}  // namespace souk::api
