// GET and HEAD /hls/{id}/{file} and /vod/{id}.mp4: media files from disk or from the
// cache of hot HLS files, with validators and ranges, answered alike from either.
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/http/http_validators.hpp"
#include "souk/api/request_context.hpp"
#include "souk/file_cache.hpp"
#include "souk/random.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace souk::api {
namespace {

namespace fs = std::filesystem;
namespace chr = std::chrono;

struct MediaType {
  std::string_view extension;
  std::string_view content_type;
  std::string_view cache_control;
};

// A playlist changes with every segment, so players refetch it (a CDN may revalidate);
// a segment's name is never reused, so it is cached for good.
constexpr std::string_view forever = "public, max-age=31536000, immutable";
constexpr MediaType hls_types[] = {
    {"m3u8", "application/vnd.apple.mpegurl", "no-cache"},
    {"ts", "video/mp2t", forever},
    {"m4s", "video/iso.segment", forever},
    {"mp4", "video/mp4", forever},  // an fMP4 init segment
};
constexpr MediaType vod_type = {"mp4", "video/mp4", "public, max-age=86400"};

constexpr std::size_t max_stem = 64;
constexpr std::string_view exposed_headers = "Content-Length, Content-Range, Accept-Ranges, ETag";

ApiError missing() { return ApiError::not_found("not_found", "no such media file"); }

bool is_lowercase_uuid(std::string_view s) {
  return is_uuid(s) &&
         std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'F'; });
}

bool is_stem_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The type of an HLS file named [A-Za-z0-9_-]{1,64}.(m3u8|ts|m4s|mp4); null for any other
// name, so no '.', '/', '%' or NUL ever reaches a path.
const MediaType* hls_type(std::string_view name) {
  const auto dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > max_stem) return nullptr;
  if (!std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(dot), is_stem_char)) {
    return nullptr;
  }
  const auto extension = name.substr(dot + 1);
  for (const auto& type : hls_types) {
    if (type.extension == extension) return &type;
  }
  return nullptr;
}

struct FileInfo {
  std::uint64_t size = 0;
  FileTime modified;
};

// Size and modification time of a regular file; nullopt if it is missing (or vanished).
std::optional<FileInfo> stat_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;
  const auto mtime = file_modified(path);
  if (!mtime) return std::nullopt;
  return FileInfo{size, *mtime};
}

void append_hex(std::string& out, std::uint64_t v) {
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0 && n < sizeof digits);
  while (n > 0) out += digits[--n];
}

// A strong tag: it changes whenever the size or the modification time does.
// "size-mtime" in lowercase hex, without printf: it runs for every request of a hot file.
std::string etag_of(const FileInfo& file) {
  std::string tag;
  tag.reserve(36);
  tag += '"';
  append_hex(tag, file.size);
  tag += '-';
  append_hex(tag, static_cast<std::uint64_t>(file.modified.time_since_epoch().count()));
  tag += '"';
  return tag;
}

constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(chr::sys_seconds t) {
  const auto day = chr::floor<chr::days>(t);
  const chr::year_month_day ymd(day);
  const chr::hh_mm_ss hms(t - day);
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return "Thu, 01 Jan 1970 00:00:00 GMT";  // no such files
  std::string out = "Sun, 00 Jan 0000 00:00:00 GMT";
  const auto put2 = [&out](std::size_t at, unsigned v) {
    out[at] = static_cast<char>('0' + v / 10 % 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  out.replace(0, 3, day_names[chr::weekday(day).c_encoding()]);
  put2(5, static_cast<unsigned>(ymd.day()));
  out.replace(8, 3, month_names[static_cast<unsigned>(ymd.month()) - 1]);
  put2(12, static_cast<unsigned>(year) / 100);
  put2(14, static_cast<unsigned>(year) % 100);
  put2(17, static_cast<unsigned>(hms.hours().count()));
  put2(20, static_cast<unsigned>(hms.minutes().count()));
  put2(23, static_cast<unsigned>(hms.seconds().count()));
  return out;
}

// Digits only, all of `s`; nullopt otherwise (or on overflow).
std::optional<std::uint64_t> parse_uint(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// IMF-fixdate only (what current clients send); nullopt for anything else.
std::optional<chr::sys_seconds> parse_http_date(std::string_view s) {
  constexpr std::string_view layout = "___, 00 ___ 0000 00:00:00 GMT";  // '_' any, '0' a digit
  if (s.size() != layout.size()) return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (layout[i] == '0' ? !digit : layout[i] != '_' && layout[i] != s[i]) return std::nullopt;
  }
  const auto month = std::find(std::begin(month_names), std::end(month_names), s.substr(8, 3));
  if (month == std::end(month_names)) return std::nullopt;
  const auto field = [s](std::size_t at, std::size_t n) { return *parse_uint(s.substr(at, n)); };
  const chr::year_month_day ymd{chr::year(static_cast<int>(field(12, 4))),
                                chr::month(static_cast<unsigned>(month - month_names + 1)),
                                chr::day(static_cast<unsigned>(field(5, 2)))};
  const auto h = field(17, 2), m = field(20, 2), sec = field(23, 2);
  if (!ymd.ok() || h > 23 || m > 59 || sec > 60) return std::nullopt;
  return chr::sys_days(ymd) + chr::hours(h) + chr::minutes(m) + chr::seconds(sec);
}

struct Validators {
  std::string etag;
  chr::sys_seconds modified;  // what Last-Modified says
};

// If-Modified-Since counts only without If-None-Match (RFC 7232 §3.3).
bool not_modified(const HttpRequest& req, const Validators& v) {
  const auto none_match = req.header("if-none-match");
  if (!none_match.empty()) return none_match_hits(none_match, v.etag);
  const auto since = parse_http_date(req.header("if-modified-since"));
  return since && v.modified <= *since;
}

struct ByteRange {
  enum class Kind { none, satisfiable, unsatisfiable };
  Kind kind = Kind::none;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};

ByteRange satisfiable(std::uint64_t first, std::uint64_t last) {
  return {ByteRange::Kind::satisfiable, first, last};
}

// One range of a "bytes=" header: "a-b", "a-" or "-n", against a file of `size` bytes.
ByteRange parse_range_spec(std::string_view spec, std::uint64_t size) {
  const ByteRange bad{ByteRange::Kind::unsatisfiable};
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return bad;
  const auto last = spec.substr(dash + 1);
  if (dash == 0) {
    const auto suffix = parse_uint(last);
    if (!suffix || *suffix == 0 || size == 0) return bad;
    return satisfiable(size - std::min(*suffix, size), size - 1);
  }
  const auto first = parse_uint(spec.substr(0, dash));
  if (!first || *first >= size) return bad;
  if (last.empty()) return satisfiable(*first, size - 1);
  const auto end = parse_uint(last);
  if (!end || *end < *first) return bad;
  return satisfiable(*first, std::min(*end, size - 1));
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x >= 'A' && x <= 'Z' ? static_cast<char>(x - 'A' + 'a') : x) == y;
  });
}

// The Range header as far as we honour it: other units, several ranges, or an If-Range
// that does not name this version all mean the whole file (RFC 7233 §3.1, §3.2).
ByteRange requested_range(const HttpRequest& req, std::string_view etag, std::uint64_t size) {
  const auto header = req.header("range");
  const auto if_range = req.header("if-range");
  if (header.empty() || (!if_range.empty() && if_range != etag)) return {};
  const auto eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim_ows(header.substr(0, eq)), "bytes")) return {};
  const auto spec = trim_ows(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return {};
  return parse_range_spec(spec, size);
}

void add_common_headers(HttpResponse& res, const MediaType& type, const Validators& v) {
  res.set_header("Cache-Control", std::string(type.cache_control));
  res.set_header("ETag", v.etag);
  res.set_header("Access-Control-Expose-Headers", std::string(exposed_headers));
}

HttpResponse not_modified_response(const MediaType& type, const Validators& v) {
  HttpResponse res;
  res.status = 304;
  add_common_headers(res, type, v);
  return res;
}

ApiError range_not_satisfiable(std::uint64_t size) {
  ApiError e(416, "range_not_satisfiable",
             "the requested range is not within the file's " + std::to_string(size) + " bytes");
  e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
  e.headers.emplace_back("Accept-Ranges", "bytes");
  e.headers.emplace_back("Access-Control-Expose-Headers", std::string(exposed_headers));
  return e;
}

HttpResponse file_response(const MediaType& type, const Validators& v) {
  HttpResponse res;
  res.headers.reserve(10);  // these, Content-Range and CORS's
  res.set_header("Content-Type", std::string(type.content_type));
  add_common_headers(res, type, v);
  res.set_header("Last-Modified", http_date(v.modified));
  res.set_header("Accept-Ranges", "bytes");
  return res;
}

// The response to a request for a file, all but its body: 304, 416 (thrown), or
// 200/206 with the headers and the bytes [first, first + length) to send. Files on
// disk and in memory both go through here, so both are answered byte for byte alike.
struct Answer {
  HttpResponse res;
  bool has_body = false;
  std::uint64_t first = 0;
  std::uint64_t length = 0;
};

Answer answer(const HttpRequest& req, const MediaType& type, const FileInfo& file) {
  const Validators v{etag_of(file), chr::floor<chr::seconds>(file.modified)};
  if (not_modified(req, v)) {
    Answer a;
    a.res = not_modified_response(type, v);
    return a;
  }

  const auto range = requested_range(req, v.etag, file.size);
  if (range.kind == ByteRange::Kind::unsatisfiable) throw range_not_satisfiable(file.size);
  Answer a{file_response(type, v), file.size > 0, 0, file.size};
  if (range.kind == ByteRange::Kind::satisfiable) {
    a.res.status = 206;
    a.res.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                          std::to_string(range.last) + "/" +
                                          std::to_string(file.size));
    a.has_body = true;
    a.first = range.first;
    a.length = range.last - range.first + 1;
  }
  return a;
}

HttpResponse with_shared_body(Answer a, const FileCache::Entry& entry) {
  if (a.has_body) {
    a.res.shared = SharedSlice{entry.bytes, entry.file, static_cast<std::size_t>(a.first),
                               static_cast<std::size_t>(a.length)};
  }
  return std::move(a.res);
}

// The cache's key for an HLS file: its path as the packager names it,
// data_dir / "hls" / id / name (`hls_root` is data_dir / "hls").
void hls_cache_key(std::string& key, const std::string& hls_root, std::string_view id,
                   std::string_view name) {
  key.assign(hls_root);
  key += '/';
  key += id;
  key += '/';
  key += name;
}

// Reads a whole segment into the cache (read-through: the packager put it there
// when it was written, but a restart or eviction lost it). Playlists are never
// copied in by readers: only the packager, which replaces them, puts them there.
// nullopt when the cache is off, the file too big for it, or not as `file` says
// (it changed since the stat: then it is served from disk, uncached).
std::optional<FileCache::Entry> read_into_cache(FileCache* cache, const std::string& key,
                                                const fs::path& path, const FileInfo& file) {
  if (cache == nullptr || !cache->admits(file.size)) return std::nullopt;
  auto entry = FileCache::load(path, file.size, file.modified);
  if (entry) cache->put_if_absent(key, *entry);
  return entry;
}

// The file, or the part of it the request asks for: a segment through the cache,
// anything else streamed from disk by the server, never loaded (but a playlist).
HttpResponse serve_file(const HttpRequest& req, const fs::path& path, const MediaType& type,
                        FileCache* cache = nullptr, const std::string& cache_key = {}) {
  const auto file = stat_file(path);
  if (!file) throw missing();
  Answer a = answer(req, type, *file);
  if (!a.has_body) return std::move(a.res);
  if (const auto entry = read_into_cache(cache, cache_key, path, *file)) {
    return with_shared_body(std::move(a), *entry);
  }
  if (a.res.status == 200 && type.extension == "m3u8") {
    // A live playlist is replaced (renamed over) every segment: read it now, in
    // one go, rather than stream a file that may change between stat and open.
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw missing();
    a.res.body = text.str();
  } else {
    a.res.file = FileSlice{path.string(), a.first, a.length};
  }
  return std::move(a.res);
}

HttpResponse get_hls(Api& api, RequestContext& ctx) {
  const auto id = ctx.param("id");
  const auto name = ctx.param("file");
  const MediaType* type = hls_type(name);
  if (!is_lowercase_uuid(id) || type == nullptr) throw missing();
  const auto path = api.options().data_dir / "hls" / id / name;
  if (type->extension == "m3u8") return serve_file(ctx.request(), path, *type);
  std::string key;
  hls_cache_key(key, api.hls_root(), id, name);
  return serve_file(ctx.request(), path, *type, api.options().hls_cache, key);
}

HttpResponse get_vod(Api& api, RequestContext& ctx) {
  const auto name = ctx.param("file");
  constexpr std::string_view suffix = ".mp4";
  if (!name.ends_with(suffix) || !is_lowercase_uuid(name.substr(0, name.size() - suffix.size()))) {
    throw missing();
  }
  return serve_file(ctx.request(), api.options().data_dir / "vod" / name, vod_type);
}

// HEAD answers as GET would, headers only; errors too, so no JSON body follows a HEAD.
// A 304 has no body either way and keeps the plain path (Content-Length: 0).
Api::Handler head_of(Api::Handler get) {
  return [get = std::move(get)](RequestContext& ctx) {
    HttpResponse res;
    try {
      res = get(ctx);
    } catch (const ApiError& e) {
      res = error_response(e);
    }
    res.head = res.status != 304;
    return res;
  };
}

}  // namespace

std::optional<HttpResponse> cached_media_response(const Api& api, const HttpRequest& req) {
  FileCache* cache = api.options().hls_cache;
  constexpr std::string_view prefix = "/hls/";
  if (cache == nullptr || !cache->enabled() || !req.path.starts_with(prefix)) return std::nullopt;
  // "/hls/{id}/{file}", checked as the route checks it; anything else is the
  // route's to answer (with its 404s).
  const auto rest = std::string_view(req.path).substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto id = rest.substr(0, slash);
  const auto name = rest.substr(slash + 1);
  const MediaType* type = hls_type(name);
  if (type == nullptr || !is_lowercase_uuid(id)) return std::nullopt;
  thread_local std::string key;  // no allocation per request
  hls_cache_key(key, api.hls_root(), id, name);
  const auto entry = cache->get(key);
  if (!entry) return std::nullopt;
  const FileInfo file{entry->size(), entry->modified};
  return with_shared_body(answer(req, *type, file), *entry);
}

void add_media_routes(Api& api, Router<Api::Handler>& router) {
  const Api::Handler hls = [&api](RequestContext& ctx) { return get_hls(api, ctx); };
  const Api::Handler vod = [&api](RequestContext& ctx) { return get_vod(api, ctx); };
  router.add("GET", "/hls/{id}/{file}", hls);
  router.add("HEAD", "/hls/{id}/{file}", head_of(hls));
  router.add("GET", "/vod/{file}", vod);
  router.add("HEAD", "/vod/{file}", head_of(vod));
}

}  // namespace souk::api
