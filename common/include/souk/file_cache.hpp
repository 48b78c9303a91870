// Hot files: whole files by path (as the writer names them), each with the
// modification time the file has on disk, bounded in bytes and evicted least
// recently used first; small ones in memory, large ones held open for sendfile.
// The packager keeps live HLS files here as it writes them; the HTTP server
// answers from it without a lookup on the disk. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace souk {

// A file's modification time, as cache entries and HTTP validators see it.
using FileTime = std::chrono::sys_time<std::chrono::nanoseconds>;

// The modification time of the file at `path`; nullopt when it cannot be read.
std::optional<FileTime> file_modified(const std::filesystem::path& path);

// A finished file held open: sendfile(2) hands its pages from the page cache to
// a socket, with no open, stat or copy per request, as nginx's open_file_cache
// does. Held files must not be written again: the packager never changes a
// segment once it is closed, and drops the cache's entry for a name before it
// writes that name anew. The descriptor keeps a deleted file readable until the
// entry goes.
class PinnedFile {
 public:
  // The file at `path`, which must be a regular file of exactly `size` bytes;
  // nullptr when it cannot be opened or has another size (another version).
  static std::shared_ptr<const PinnedFile> open(const std::filesystem::path& path,
                                                std::uint64_t size);

  ~PinnedFile();
  PinnedFile(const PinnedFile&) = delete;
  PinnedFile& operator=(const PinnedFile&) = delete;

  int fd() const { return fd_; }  // for sendfile(2), pread(2); never written
  std::size_t size() const { return size_; }
  // The bytes from `offset`, at most `length` of them (copied: for tests and checks).
  std::string read(std::size_t offset = 0, std::size_t length = SIZE_MAX) const;

 private:
  PinnedFile(int fd, std::size_t size) : fd_(fd), size_(size) {}
  int fd_;
  std::size_t size_;
};

class FileCache {
 public:
  // A whole file: its bytes in memory (small files that are replaced, such as
  // playlists) or held open (segments), and its modification time.
  struct Entry {
    std::shared_ptr<const std::string> bytes;
    std::shared_ptr<const PinnedFile> file;  // when bytes is null
    FileTime modified;                       // what the file's mtime is on disk

    std::size_t size() const { return bytes ? bytes->size() : file ? file->size() : 0; }
  };

  // 0 disables the cache: nothing is stored, every lookup misses.
  explicit FileCache(std::size_t capacity_bytes);
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  bool enabled() const { return capacity_ > 0; }
  std::size_t capacity() const { return capacity_; }
  // Whether a file of `size` bytes would be kept: at most a quarter of the
  // capacity, so one large file cannot flush everything else.
  bool admits(std::size_t size) const { return enabled() && size <= capacity_ / 4; }

  // The entry for `path`, now the most recently used; nullopt on a miss.
  std::optional<Entry> get(std::string_view path);
  // Stores `entry`, replacing any entry for `path`: the writer of the file says
  // what it now holds. Evicts the least recently used to fit. An entry the cache
  // does not admit only removes the old one.
  void put(std::string path, Entry entry);
  // Stores `entry` only when `path` has none: a reader's copy never replaces
  // what the writer put (it may have read the file before the writer finished).
  void put_if_absent(std::string path, Entry entry);
  void erase(std::string_view path);
  // Removes the entry for `path` and hands it over (nullopt when there was none),
  // so the caller can tell whether a reader still holds its file.
  std::optional<Entry> take(std::string_view path);

  // The file at `path`, which must hold exactly `size` bytes and have been
  // modified at `modified`, as an entry: held open when it is large enough for
  // sendfile to pay for the descriptor it holds (pinned_file_min_bytes, so a
  // cache of N MiB holds at most 4N descriptors), else read into bytes. nullopt
  // when it cannot be read or is not as said. Blocking (it opens or reads the disk).
  static std::optional<Entry> load(const std::filesystem::path& path, std::uint64_t size,
                                   FileTime modified);
  static constexpr std::size_t pinned_file_min_bytes = std::size_t{256} * 1024;

  std::size_t size_bytes() const;  // bytes held (entries' file sizes)
  std::size_t entries() const;

 private:
  struct Node {
    std::string path;
    Entry entry;
  };
  using Lru = std::list<Node>;  // most recently used first

  void store(std::string path, Entry entry, bool replace);
  // Removes the node; its bytes move to `dropped`, to be freed outside the lock.
  void remove(Lru::iterator it, Lru& dropped);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;  // keys view the nodes' paths
  std::size_t bytes_ = 0;
};

}  // namespace souk
