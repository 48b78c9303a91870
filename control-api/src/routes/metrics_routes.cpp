// GET /metrics: the process's metrics in the Prometheus text format 0.0.4.
#include "souk/api/api.hpp"
#include "souk/api/request_context.hpp"
#include "souk/metrics.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/streams.hpp"

namespace souk::api {

void add_metrics_routes(Api& api, Router<Api::Handler>& router) {
  auto& registry = metrics::Registry::global();
  // State read at scrape time, from the one place that knows it: the stream
  // lifecycle lives in the database.
  auto& live_streams =
      registry.gauge("souk_live_streams", "Streams whose status is live (from the database).").get();

  router.add("GET", "/metrics", [&api, &registry, &live_streams](RequestContext&) {
    const auto live = api.db().read(storage::streams::count_live);
    live_streams.set(static_cast<double>(live));
    HttpResponse res;
    res.body = registry.render();
    res.body += metrics::render_process_metrics();
    res.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.set_header("Cache-Control", "no-store");
    return res;
  });
}

}  // namespace souk::api
