// Replacing a small file (a playlist) so that readers see the old contents or
// the new, never half, without allocating an inode per version.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace souk::packager {

// Writes a file under a temporary name (`path` + ".tmp"), then exchanges the two
// names, so readers see the old contents or the new, never half; the old version
// stays under the temporary name, to be overwritten by the next. `before_rename`,
// when given, is called with the written temporary file just before it takes
// `path`'s place.
void write_file_atomically(
    const std::filesystem::path& path, const std::string& text,
    const std::function<void(const std::filesystem::path& written)>& before_rename = {});

}  // namespace souk::packager
