// Hot files, LRU by bytes: small ones in memory, large ones held open for sendfile.
#include "souk/file_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace souk {
namespace {

// Closes a descriptor unless released.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

}  // namespace

std::shared_ptr<const PinnedFile> PinnedFile::open(const std::filesystem::path& path,
                                                   std::uint64_t size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != size) {
    return nullptr;  // not the version the caller stat'ed
  }
  return std::shared_ptr<const PinnedFile>(new PinnedFile(fd.release(), static_cast<std::size_t>(size)));
}

PinnedFile::~PinnedFile() { ::close(fd_); }

std::string PinnedFile::read(std::size_t offset, std::size_t length) const {
  if (offset >= size_) return {};
  std::string out(std::min(length, size_ - offset), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

std::optional<FileTime> file_modified(const std::filesystem::path& path) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(
      std::chrono::file_clock::to_sys(mtime));
}

FileCache::FileCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

std::optional<FileCache::Entry> FileCache::load(const std::filesystem::path& path,
                                                std::uint64_t size, FileTime modified) {
  if (size >= pinned_file_min_bytes) {
    auto file = PinnedFile::open(path, size);
    if (!file) return std::nullopt;
    return Entry{nullptr, std::move(file), modified};
  }
  Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return std::nullopt;
  auto bytes = std::make_shared<std::string>(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < size) {
    const auto n = ::read(in.fd, bytes->data() + done, bytes->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // an error, or shorter than said
    done += static_cast<std::size_t>(n);
  }
  char extra = 0;
  if (::read(in.fd, &extra, 1) != 0) return std::nullopt;  // longer than said
  return Entry{std::move(bytes), nullptr, modified};
}

std::optional<FileCache::Entry> FileCache::get(std::string_view path) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto it = index_.find(path);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->entry;
}

void FileCache::put(std::string path, Entry entry) {
  store(std::move(path), std::move(entry), true);
}

void FileCache::put_if_absent(std::string path, Entry entry) {
  store(std::move(path), std::move(entry), false);
}

void FileCache::store(std::string path, Entry entry, bool replace) {
  if (!enabled() || (!entry.bytes && !entry.file)) return;
  const std::size_t size = entry.size();
  Lru dropped;  // freed after the lock is released
  Lru fresh;
  if (admits(size)) fresh.push_back(Node{std::move(path), std::move(entry)});
  {
    std::lock_guard lock(mutex_);
    // `path` was moved from only when `fresh` holds it (NOLINT: tidy cannot see that).
    const auto existing = index_.find(
        fresh.empty() ? std::string_view(path)  // NOLINT(bugprone-use-after-move)
                      : std::string_view(fresh.front().path));
    if (existing != index_.end()) {
      if (!replace) return;
      remove(existing->second, dropped);
    }
    if (fresh.empty()) return;
    while (bytes_ + size > capacity_ && !lru_.empty()) remove(std::prev(lru_.end()), dropped);
    lru_.splice(lru_.begin(), fresh);
    index_.emplace(lru_.front().path, lru_.begin());
    bytes_ += size;
  }
}

void FileCache::erase(std::string_view path) { take(path); }

std::optional<FileCache::Entry> FileCache::take(std::string_view path) {
  if (!enabled()) return std::nullopt;
  Lru dropped;  // freed after the lock is released
  {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(path);
    if (it == index_.end()) return std::nullopt;
    remove(it->second, dropped);
  }
  return std::move(dropped.front().entry);
}

void FileCache::remove(Lru::iterator it, Lru& dropped) {
  index_.erase(std::string_view(it->path));
  bytes_ -= it->entry.size();
  dropped.splice(dropped.end(), lru_, it);
}

std::size_t FileCache::size_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t FileCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace souk
