// The packager's metrics: all four series exist (by these names) once any is used.
#include "souk/packager/packager_metrics.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace souk;
using namespace souk::packager;

TEST_CASE(
    "packager metrics: segments, availability and both recording results are registered together") {
  // Only the first call registers: the integration tests read "failed" as 0
  // before any recording has failed.
  CHECK(&packager_metrics() == &packager_metrics());
  const auto text = metrics::Registry::global().render();
  for (const char* name :
       {"souk_hls_segments_written_total", "souk_hls_segment_availability_seconds_bucket",
        "souk_recordings_finalized_total{result=\"ok\"}",
        "souk_recordings_finalized_total{result=\"failed\"}"}) {
    CAPTURE(name);
    CHECK(text.find(name) != std::string::npos);
  }
}
