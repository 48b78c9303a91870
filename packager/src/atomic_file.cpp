// write_file_atomically: a temporary file, then renameat2(RENAME_EXCHANGE).
#include "souk/packager/atomic_file.hpp"

#include <fcntl.h>  // AT_FDCWD

#include <cerrno>
#include <cstdio>  // renameat2, RENAME_EXCHANGE (glibc, _GNU_SOURCE)
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace souk::packager {
namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::string& text,
                           const std::function<void(const fs::path& written)>& before_rename) {
  const auto tmp = fs::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      const int err = errno;
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      throw std::runtime_error("write " + tmp.string() + " failed: " + std::strerror(err));
    }
  }
  if (before_rename) before_rename(tmp);
  // Readers see the old contents or the new, never half. Exchanging the names
  // keeps the old version as the next temporary file, so a live playlist,
  // rewritten every segment, allocates and frees no inode: on ext4 without a
  // journal each allocation scans past every inode freed in the last half
  // minute (with the segments' files, a tenth of ingest's CPU at 50
  // publishers; see SegmentFiles::retire_file). A reader still holding
  // the version before the last finds it overwritten; nothing reads a playlist
  // file for that long (the HTTP server reads it whole, or from the cache).
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) return;
  fs::rename(tmp, path);  // the first version, or a file system that cannot exchange
}

}  // namespace souk::packager
