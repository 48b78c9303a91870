// Where a stream's media lives: the paths other parts (HTTP, recovery) rely on.
#include "souk/packager/packager_options.hpp"

#include <doctest/doctest.h>

using namespace souk::packager;

TEST_CASE(
    "packager options: a stream's HLS directory, live recording and VOD under the data directory") {
  PackagerOptions o;
  o.data_dir = "/data";
  CHECK(hls_dir(o, "abc") == std::filesystem::path("/data/hls/abc"));
  CHECK(recording_path(o, "abc") == std::filesystem::path("/data/vod/abc.rec.mp4"));
  CHECK(vod_path(o, "abc") == std::filesystem::path("/data/vod/abc.mp4"));
}
