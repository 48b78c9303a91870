// The readiness probe's disk check.
#include "souk/api/disk_probe.hpp"

#include "souk/random.hpp"

#include <fstream>
#include <system_error>

namespace souk::api {

bool directory_writable(const std::filesystem::path& dir) {
  const auto probe = dir / (".readyz-" + random_token(6));
  bool written = false;
  {
    std::ofstream out(probe, std::ios::binary);
    if (out) {
      out << "ok";
      out.flush();
      written = static_cast<bool>(out);
    }
  }
  // Also when the write failed (a full disk creates the file, then refuses its
  // bytes): a probe every few seconds must not leave a file each time.
  std::error_code ec;
  std::filesystem::remove(probe, ec);
  return written;
}

}  // namespace souk::api
