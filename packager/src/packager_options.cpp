// Where a stream's media lives under the data directory.
#include "souk/packager/packager_options.hpp"

namespace souk::packager {
namespace fs = std::filesystem;

fs::path hls_dir(const PackagerOptions& o, const std::string& id) {
  return o.data_dir / "hls" / id;
}
fs::path recording_path(const PackagerOptions& o, const std::string& id) {
  return o.data_dir / "vod" / (id + ".rec.mp4");
}
fs::path vod_path(const PackagerOptions& o, const std::string& id) {
  return o.data_dir / "vod" / (id + ".mp4");
}

}  // namespace souk::packager
