// GET /healthz (the process answers) and GET /readyz (database and disk usable).
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/disk_probe.hpp"
#include "souk/api/request_context.hpp"
#include "souk/storage/database.hpp"

#include <nlohmann/json.hpp>

namespace souk::api {

void add_health_routes(Api& api, Router<Api::Handler>& router) {
  router.add("GET", "/healthz", [](RequestContext&) {
    return data_response({{"status", "ok"}});
  });

  router.add("GET", "/readyz", [&api](RequestContext&) {
    if (!api.db().ping()) throw ApiError(503, "not_ready", "the database is not reachable");
    if (!directory_writable(api.options().data_dir)) {
      throw ApiError(503, "not_ready", "the data directory is not writable");
    }
    return data_response({{"status", "ready"}, {"schemaVersion", api.db().schema_version()}});
  });
}

}  // namespace souk::api
