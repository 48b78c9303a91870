// GET and HEAD /api/v1/openapi.json: the OpenAPI document compiled into the binary,
// with an ETag of its content so clients and caches revalidate instead of refetching.
#include "souk/api/api.hpp"
#include "souk/api/http/http_validators.hpp"
#include "souk/api/openapi.hpp"
#include "souk/api/request_context.hpp"
#include "souk/random.hpp"

#include <string>

namespace souk::api {
namespace {

// A strong tag: the document's SHA-256 in hex. It changes only with the document,
// that is with a build that changed it, so caches may keep it across restarts.
std::string document_etag() {
  constexpr const char* hex = "0123456789abcdef";
  std::string tag = "\"";
  for (const unsigned char b : sha256(openapi_document())) {
    tag += hex[b >> 4];
    tag += hex[b & 15];
  }
  tag += '"';
  return tag;
}

HttpResponse serve_document(RequestContext& ctx, const std::string& etag) {
  HttpResponse res;
  // Cacheable, but revalidated each use: a server upgrade may change the document.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", etag);
  if (none_match_hits(ctx.request().header("if-none-match"), etag)) {
    res.status = 304;
    return res;
  }
  res.set_header("Content-Type", "application/json");
  res.body = std::string(openapi_document());
  return res;
}

}  // namespace

void add_openapi_routes(Router<Api::Handler>& router) {
  const Api::Handler serve = [etag = document_etag()](RequestContext& ctx) {
    return serve_document(ctx, etag);
  };
  router.add("GET", "/api/v1/openapi.json", serve);
  // Api::handle drops the body of a HEAD's answer.
  router.add("HEAD", "/api/v1/openapi.json", serve);
}

}  // namespace souk::api
