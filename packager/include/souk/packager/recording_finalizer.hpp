// A stream's fragmented-MP4 recording turned into its VOD: a regular MP4 with
// the index first, after whatever part an earlier run already finalized.
#pragma once

#include <filesystem>

namespace souk::packager {

// Turns a fragmented recording into a regular MP4 with the index first
// (faststart), written under a temporary name and renamed; a VOD already at
// `out` (the part recorded before a restart) is kept, the recording following
// it. The fragmented file is removed on success. Throws AvError (or a
// filesystem error); counts both outcomes in souk_recordings_finalized_total.
void finalize_recording(const std::filesystem::path& fragmented, const std::filesystem::path& out);

}  // namespace souk::packager
