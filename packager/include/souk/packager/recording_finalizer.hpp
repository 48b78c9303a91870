// A stream's fragmented-MP4 recording turned into its VOD: a regular MP4 with
// the index first, after whatever part an earlier run already finalized.
#pragma once

#include <filesystem>

namespace souk::packager {

// What finalize_recording made of a recording.
enum class Finalized {
  appended,          // the VOD at `out` now holds the recording, after any earlier part
  nothing_recorded,  // the recording held no media sample: removed, `out` left as it was
};

// Turns a fragmented recording into a regular MP4 with the index first
// (faststart), written under a temporary name and renamed; a VOD already at
// `out` (the part recorded before a restart) is kept, the recording following
// it. The fragmented file is removed on success.
//
// A recording without a single media sample (a crash before its first
// fragment reached the disk: the header alone, or the header cut short) never
// becomes or replaces a VOD: it is removed and nothing_recorded returned.
//
// The VOD has a video track if any part has one, and an audio track likewise;
// each track's codec parameters are those of the first part that has that
// track (MP4 keeps one sample description per track here, so a later part
// whose encoder settings changed is played with the earlier ones).
//
// An earlier VOD that cannot be read, or holds neither video nor audio, does
// not hold the new part back: it is renamed `<out>.broken` (or
// `<out>.broken.N`), logged, and the VOD made of the new part alone.
//
// Throws AvError (or a filesystem error) when the recording itself cannot be
// read or the VOD cannot be written; `out` and the recording are then left as
// they were. Counts VODs made and failures in souk_recordings_finalized_total
// (a recording with nothing in it is neither).
[[nodiscard]] Finalized finalize_recording(const std::filesystem::path& fragmented,
                                           const std::filesystem::path& out);

}  // namespace souk::packager
