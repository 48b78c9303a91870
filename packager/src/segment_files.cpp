// SegmentFiles: segment names, retirement with a grace time, the spare file, the cache.
#include "souk/packager/segment_files.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <utility>

namespace souk::packager {
namespace fs = std::filesystem;

std::string segment_name(std::uint64_t sequence) {
  char name[32];
  std::snprintf(name, sizeof name, "seg-%06llu.ts", static_cast<unsigned long long>(sequence));
  return name;
}

std::optional<std::uint64_t> segment_sequence(std::string_view name) {
  constexpr std::string_view prefix = "seg-", suffix = ".ts";
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
  const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return std::nullopt;
  return n;
}

SegmentFiles::SegmentFiles(fs::path dir, const PackagerOptions& options)
    : dir_(std::move(dir)),
      cache_(options.cache),
      background_(options.background),
      window_(options.playlist_window) {}

void SegmentFiles::retire(const std::vector<HlsSegment>& gone) {
  // A player that loaded the previous playlist may still fetch what just left
  // it: keep one more window's worth before deleting.
  for (const auto& s : gone) retired_.push_back(s.uri);
  while (retired_.size() > window_) {
    retire_file(dir_ / retired_.front());
    retired_.erase(retired_.begin());
  }
}

void SegmentFiles::adopt_retired(std::string_view first_listed) {
  // Segments the last run had retired but not yet deleted: retired again, oldest
  // first, so they go (or are reused) as the window moves, instead of staying.
  const auto first = segment_sequence(first_listed);
  if (!first) return;
  std::vector<std::pair<std::uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    auto name = e.path().filename().string();
    const auto n = segment_sequence(name);
    if (n && *n < *first) found.emplace_back(*n, std::move(name));
  }
  std::sort(found.begin(), found.end());
  for (auto& f : found) retired_.push_back(std::move(f.second));
}

fs::path SegmentFiles::spare_path() const { return dir_ / "spare.ts.tmp"; }

void SegmentFiles::retire_file(const fs::path& path) {
  std::error_code ec;
  const bool cached = cache_enabled();
  if (!has_spare_ && cached) {
    fs::rename(path, spare_path(), ec);  // the name goes first: no reader can open it now
  }
  if (has_spare_ || !cached || ec) {
    fs::remove(path, ec);
    uncache(path);
    return;
  }
  // Our readers of a cached segment go through its entry: bytes are copies, and
  // a held file that nobody else shares has no reader left. A file the cache
  // does not hold may be being streamed from disk: it is deleted instead.
  const auto entry = cache_->take(path.string());
  has_spare_ = entry && (entry->bytes || entry->file.use_count() == 1);
  if (!has_spare_) fs::remove(spare_path(), ec);
}

void SegmentFiles::take_spare(const fs::path& path) {
  if (!std::exchange(has_spare_, false)) return;
  std::error_code ec;
  fs::rename(spare_path(), path, ec);  // the muxer truncates it; on failure it creates the file
  if (ec) fs::remove(spare_path(), ec);
}

void SegmentFiles::drop_spare() {
  if (!std::exchange(has_spare_, false)) return;
  std::error_code ec;
  fs::remove(spare_path(), ec);
}

void SegmentFiles::cache_file(const fs::path& path) {
  if (!cache_enabled()) return;
  // Size and time first: the bytes read after them are this version's, as the
  // file is finished (a size that no longer matches keeps it out). A request
  // before this is done reads the segment through, as after a restart.
  auto load = [cache = cache_, path] {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto modified = file_modified(path);
    auto entry = !ec && modified && cache->admits(size) ? FileCache::load(path, size, *modified)
                                                        : std::nullopt;
    if (entry) {
      cache->put(path.string(), std::move(*entry));
    } else {
      cache->erase(path.string());
    }
  };
  if (background_) {
    background_(std::move(load));
  } else {
    load();
  }
}

void SegmentFiles::cache_text(const fs::path& path, std::shared_ptr<const std::string> text,
                              const fs::path& written) {
  if (!cache_enabled()) return;
  if (const auto modified = file_modified(written)) {
    cache_->put(path.string(), {std::move(text), nullptr, *modified});
  } else {
    uncache(path);
  }
}

void SegmentFiles::uncache(const fs::path& path) {
  if (cache_ != nullptr) cache_->erase(path.string());
}

}  // namespace souk::packager
