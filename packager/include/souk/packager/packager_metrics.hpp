// The media metrics every stream's writers add to (process-wide series).
#pragma once

#include "souk/metrics.hpp"

namespace souk::packager {

struct PackagerMetrics {
  metrics::Counter& segments_written;
  metrics::Histogram& segment_availability;
  metrics::Counter& recordings_finalized;
  metrics::Counter& recordings_failed;
};

// Registers all four series together on first use, so /metrics lists them all
// from the first stream on, whichever writer touches them first.
PackagerMetrics& packager_metrics();

}  // namespace souk::packager
