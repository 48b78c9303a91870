// The files of a stream's HLS directory over their life: segment names, the
// grace time of a segment that left the playlist, the recycling of its file for
// a later segment (the "spare"), and the hot-file cache's copies of each file.
// Blocking (disk): runs on the stream's media strand, like its writer.
#pragma once

#include "souk/file_cache.hpp"
#include "souk/packager/hls_playlist.hpp"
#include "souk/packager/packager_options.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::packager {

// A segment's file name: seg-NNNNNN.ts, its sequence number zero-padded to six digits.
std::string segment_name(std::uint64_t sequence);
// The sequence number in a segment's name (seg-NNNNNN.ts); nullopt for other names.
std::optional<std::uint64_t> segment_sequence(std::string_view name);

class SegmentFiles {
 public:
  // `dir`: the stream's HLS directory. Uses the options' cache (when enabled),
  // background runner and playlist window (the grace time, in segments).
  SegmentFiles(std::filesystem::path dir, const PackagerOptions& options);

  // After a restart: the segment files older than the restored playlist's
  // first (`first_listed`, a segment name), as retired, oldest first.
  void adopt_retired(std::string_view first_listed);
  // Segments that left the playlist: each file is kept one more window, for a
  // player that loaded the previous playlist, then retired.
  void retire(const std::vector<HlsSegment>& gone);
  // Renames the spare, if there is one, to `path`, the next segment's file.
  void take_spare(const std::filesystem::path& path);
  // Deletes the spare (the stream ended: no next segment will take it).
  void drop_spare();

  // Puts a finished segment into the cache (read back from disk, in the
  // background), replacing what a reader may have copied while it was written.
  void cache_file(const std::filesystem::path& path);
  // Puts `text`, about to replace the file at `path` from `written` (its
  // temporary file), into the cache with `written`'s modification time, which
  // the rename keeps: the cache is never older than the file, and both give the
  // same ETag and Last-Modified.
  void cache_text(const std::filesystem::path& path, std::shared_ptr<const std::string> text,
                  const std::filesystem::path& written);
  void uncache(const std::filesystem::path& path);

 private:
  // A segment file past its grace time: kept as the spare when nothing can still
  // be reading it and there is none yet, else deleted.
  void retire_file(const std::filesystem::path& path);
  std::filesystem::path spare_path() const;
  bool cache_enabled() const { return cache_ != nullptr && cache_->enabled(); }

  std::filesystem::path dir_;
  FileCache* cache_;
  std::function<void(std::function<void()>)> background_;
  std::size_t window_;
  std::vector<std::string> retired_;  // segment files out of the window, deleted later
  // A retired segment's file, renamed to spare_path(), that the next segment
  // takes over: a rename and a truncation instead of a deletion and a creation,
  // which on ext4 without a journal scans past every inode freed in the last
  // half minute (see write_file_atomically).
  bool has_spare_ = false;
};

}  // namespace souk::packager
