// The packager's series in the global metrics registry.
#include "souk/packager/packager_metrics.hpp"

namespace souk::packager {

PackagerMetrics& packager_metrics() {
  static PackagerMetrics m = [] {
    auto& r = metrics::Registry::global();
    auto& recordings =
        r.counter("souk_recordings_finalized_total",
                  "Recordings turned into a VOD file, by result (ok, failed).", {"result"}, 2);
    return PackagerMetrics{
        r.counter("souk_hls_segments_written_total", "HLS segments written whole and listed.")
            .get(),
        r.histogram("souk_hls_segment_availability_seconds",
                    "Time from the arrival of the keyframe that closes a segment to the playlist "
                    "listing it.",
                    metrics::latency_buckets())
            .get(),
        recordings.with({"ok"}), recordings.with({"failed"})};
  }();
  return m;
}

}  // namespace souk::packager
