// GET /healthz (the process answers) and GET /readyz (database and disk usable).
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/request_context.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

namespace souk::api {
namespace {

// Writes and removes a small file in the data directory.
bool disk_writable(const std::filesystem::path& dir) {
  const auto probe = dir / (".readyz-" + random_token(6));
  {
    std::ofstream out(probe, std::ios::binary);
    if (!out) return false;
    out << "ok";
    out.flush();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::remove(probe, ec);
  return true;
}

}  // namespace

void add_health_routes(Api& api, Router<Api::Handler>& router) {
  router.add("GET", "/healthz", [](RequestContext&) {
    return data_response({{"status", "ok"}});
  });

  router.add("GET", "/readyz", [&api](RequestContext&) {
    if (!api.db().ping()) throw ApiError(503, "not_ready", "the database is not reachable");
    if (!disk_writable(api.options().data_dir)) {
      throw ApiError(503, "not_ready", "the data directory is not writable");
    }
    return data_response({{"status", "ready"}, {"schemaVersion", api.db().schema_version()}});
  });
}

}  // namespace souk::api
