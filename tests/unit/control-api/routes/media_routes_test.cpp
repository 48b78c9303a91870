// The media routes in process: files written to a temp data dir, requests into Api::handle.
#include "souk/api/api.hpp"

#include "souk/random.hpp"
#include "souk/storage/database.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace souk::api;
namespace fs = std::filesystem;

namespace {

// 2026-11-24 10:41:15.123456789 UTC, a Tuesday.
constexpr std::int64_t mtime_seconds = 1795516875;
constexpr auto mtime = std::chrono::sys_seconds(std::chrono::seconds(mtime_seconds)) +
                       std::chrono::nanoseconds(123456789);
constexpr const char* mtime_http = "Tue, 24 Nov 2026 10:41:15 GMT";

using Headers = std::vector<std::pair<std::string, std::string>>;

struct MediaFixture {
  fs::path data_dir = fs::temp_directory_path() / ("souk-media-test-" + souk::uuid_v4());
  souk::storage::Database db{":memory:"};
  Api api{db, [this] {
            ApiOptions o;
            o.data_dir = data_dir;
            o.password_cost = PasswordCost::minimum();
            return o;
          }()};
  std::string id = souk::uuid_v4();

  MediaFixture() { fs::create_directories(data_dir); }
  ~MediaFixture() {
    std::error_code ec;
    fs::remove_all(data_dir, ec);
  }
  MediaFixture(const MediaFixture&) = delete;
  MediaFixture& operator=(const MediaFixture&) = delete;

  // Writes `size` bytes at data_dir/relative with the fixed modification time.
  fs::path write(const std::string& relative, std::size_t size) {
    const auto path = data_dir / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << std::string(size, 'x');
    fs::last_write_time(path, std::chrono::file_clock::from_sys(mtime));
    return path;
  }
  fs::path write_hls(const std::string& name, std::size_t size) {
    return write("hls/" + id + "/" + name, size);
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const Headers& headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    split_target(target, req.path, req.query);
    for (const auto& [k, v] : headers) req.headers[k] = v;
    return api.handle(req);
  }
  HttpResponse get(const std::string& target, const Headers& headers = {}) {
    return call("GET", target, headers);
  }
  std::string hls(const std::string& name) const { return "/hls/" + id + "/" + name; }
};

std::string error_code(const HttpResponse& res) {
  const auto j = nlohmann::json::parse(res.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
}

void check_not_found(const HttpResponse& res) {
  CHECK(res.status == 404);
  CHECK(error_code(res) == "not_found");
  CHECK_FALSE(res.file);
}

void check_slice(const HttpResponse& res, const fs::path& path, std::uint64_t offset,
                 std::uint64_t length) {
  REQUIRE(res.file);
  CHECK(res.file->path == path.string());
  CHECK(res.file->offset == offset);
  CHECK(res.file->length == length);
  CHECK(res.body.empty());
}

}  // namespace

TEST_CASE_FIXTURE(MediaFixture, "media: content types, cache headers, validators, whole file") {
  struct Case {
    std::string target;
    fs::path path;
    std::string type, cache;
  };
  const std::string forever = "public, max-age=31536000, immutable";
  const std::vector<Case> cases = {
      {hls("index.m3u8"), write_hls("index.m3u8", 1000), "application/vnd.apple.mpegurl",
       "no-cache"},
      {hls("seg-000012.ts"), write_hls("seg-000012.ts", 1000), "video/mp2t", forever},
      {hls("seg_7.m4s"), write_hls("seg_7.m4s", 1000), "video/iso.segment", forever},
      {hls("init.mp4"), write_hls("init.mp4", 1000), "video/mp4", forever},
      {"/vod/" + id + ".mp4", write("vod/" + id + ".mp4", 1000), "video/mp4",
       "public, max-age=86400"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.target);
    const auto res = get(c.target);
    CHECK(res.status == 200);
    CHECK_FALSE(res.head);
    CHECK(res.header("Content-Type") == c.type);
    CHECK(res.header("Cache-Control") == c.cache);
    CHECK(res.header("ETag") == "\"3e8-18eaf515b9f3fb15\"");
    CHECK(res.header("Last-Modified") == mtime_http);
    CHECK(res.header("Accept-Ranges") == "bytes");
    CHECK(res.header("Access-Control-Expose-Headers") ==
          "Content-Length, Content-Range, Accept-Ranges, ETag");
    CHECK(res.header("Access-Control-Allow-Origin") == "*");
    CHECK(res.header("Content-Range").empty());
    if (c.target.ends_with(".m3u8")) {
      // Playlists are replaced while live: read whole at once, not streamed.
      CHECK_FALSE(res.file);
      CHECK(res.body.size() == 1000);
    } else {
      check_slice(res, c.path, 0, 1000);
    }
  }
  SUBCASE("a query string is ignored") {
    CHECK(get(hls("index.m3u8") + "?_HLS_msn=3").status == 200);
  }
  SUBCASE("an empty file is a 200 with an empty body") {
    write_hls("empty.ts", 0);
    const auto res = get(hls("empty.ts"));
    CHECK(res.status == 200);
    CHECK_FALSE(res.file);
    CHECK(res.body.empty());
  }
  SUBCASE("the ETag follows size and modification time") {
    const auto path = write_hls("index.m3u8", 1001);
    CHECK(get(hls("index.m3u8")).header("ETag") == "\"3e9-18eaf515b9f3fb15\"");
    fs::last_write_time(path, std::chrono::file_clock::from_sys(mtime + std::chrono::seconds(1)));
    CHECK(get(hls("index.m3u8")).header("ETag") == "\"3e9-18eaf515f58ec515\"");
  }
}

TEST_CASE_FIXTURE(MediaFixture, "media: single byte ranges give 206 with a slice") {
  const auto path = write_hls("seg-1.ts", 1000);
  struct Case {
    std::string range;
    std::uint64_t first, last;
  };
  for (const auto& c : std::vector<Case>{{"bytes=0-0", 0, 0},
                                         {"bytes=0-499", 0, 499},
                                         {"bytes=500-999", 500, 999},
                                         {"bytes=500-5000", 500, 999},  // clamped
                                         {"bytes=999-", 999, 999},
                                         {"bytes=10-", 10, 999},
                                         {"bytes=-1", 999, 999},
                                         {"bytes=-300", 700, 999},
                                         {"bytes=-5000", 0, 999},  // the whole file
                                         {"Bytes = 1-2", 1, 2}}) {
    CAPTURE(c.range);
    const auto res = get(hls("seg-1.ts"), {{"range", c.range}});
    CHECK(res.status == 206);
    CHECK(res.header("Content-Range") ==
          "bytes " + std::to_string(c.first) + "-" + std::to_string(c.last) + "/1000");
    CHECK(res.header("Content-Type") == "video/mp2t");
    CHECK(res.header("Accept-Ranges") == "bytes");
    CHECK_FALSE(res.header("ETag").empty());
    check_slice(res, path, c.first, c.last - c.first + 1);
  }
}

TEST_CASE_FIXTURE(MediaFixture, "media: unsatisfiable or malformed byte ranges give 416") {
  write_hls("seg-1.ts", 1000);
  write_hls("empty.ts", 0);
  for (const std::string range :
       {"bytes=1000-", "bytes=1000-2000", "bytes=5-4", "bytes=-0", "bytes=", "bytes=-", "bytes=a-b",
        "bytes=1", "bytes=1-2-3", "bytes=+1-2", "bytes=0x10-", "bytes=99999999999999999999-"}) {
    CAPTURE(range);
    const auto res = get(hls("seg-1.ts"), {{"range", range}});
    CHECK(res.status == 416);
    CHECK(error_code(res) == "range_not_satisfiable");
    CHECK(res.header("Content-Range") == "bytes */1000");
    CHECK_FALSE(res.file);
  }
  const auto empty = get(hls("empty.ts"), {{"range", "bytes=-1"}});
  CHECK(empty.status == 416);
  CHECK(empty.header("Content-Range") == "bytes */0");
}

TEST_CASE_FIXTURE(MediaFixture, "media: ranges that are ignored give the whole file") {
  const auto path = write_hls("seg-1.ts", 1000);
  const std::string etag(get(hls("seg-1.ts")).header("ETag"));
  const std::vector<Headers> cases = {
      Headers{{"range", "bytes=0-1,5-6"}},
      Headers{{"range", "bytes=0-1, 999999-"}},
      Headers{{"range", "items=0-1"}},
      Headers{{"range", "0-1"}},
      Headers{{"range", "bytes=0-1"}, {"if-range", "\"other\""}},
      Headers{{"range", "bytes=0-1"}, {"if-range", mtime_http}},
  };
  for (const auto& headers : cases) {
    CAPTURE(headers.front().second);
    const auto res = get(hls("seg-1.ts"), headers);
    CHECK(res.status == 200);
    CHECK(res.header("Content-Range").empty());
    check_slice(res, path, 0, 1000);
  }
  const auto matching = get(hls("seg-1.ts"), {{"range", "bytes=0-1"}, {"if-range", etag}});
  CHECK(matching.status == 206);
}

TEST_CASE_FIXTURE(MediaFixture, "media: conditional requests give 304") {
  write_hls("index.m3u8", 1000);
  const std::string etag = "\"3e8-18eaf515b9f3fb15\"";
  const auto not_modified = [this](const Headers& headers) {
    const auto res = get(hls("index.m3u8"), headers);
    if (res.status != 304) return false;
    CHECK(res.header("ETag") == "\"3e8-18eaf515b9f3fb15\"");
    CHECK(res.header("Cache-Control") == "no-cache");
    CHECK(res.body.empty());
    CHECK_FALSE(res.file);
    CHECK_FALSE(res.head);
    return true;
  };
  SUBCASE("by entity tag") {
    CHECK(not_modified({{"if-none-match", etag}}));
    CHECK(not_modified({{"if-none-match", "W/" + etag}}));
    CHECK(not_modified({{"if-none-match", "\"a\", " + etag + ", \"b\""}}));
    CHECK(not_modified({{"if-none-match", "*"}}));
    CHECK(not_modified({{"if-none-match", etag}, {"range", "bytes=0-1"}}));
    CHECK_FALSE(not_modified({{"if-none-match", "\"3e8-18eaf515b9f3fb14\""}}));
    CHECK_FALSE(not_modified({{"if-none-match", "3e8-18eaf515b9f3fb15"}}));  // unquoted
    // A failed If-None-Match wins over a matching date.
    CHECK_FALSE(not_modified({{"if-none-match", "\"x\""}, {"if-modified-since", mtime_http}}));
  }
  SUBCASE("by date, to the second") {
    CHECK(not_modified({{"if-modified-since", mtime_http}}));
    CHECK(not_modified({{"if-modified-since", "Tue, 24 Nov 2026 10:41:16 GMT"}}));
    CHECK(not_modified({{"if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT"}}));
    CHECK_FALSE(not_modified({{"if-modified-since", "Tue, 24 Nov 2026 10:41:14 GMT"}}));
    CHECK_FALSE(not_modified({{"if-modified-since", "Tuesday, 24-Nov-26 10:41:16 GMT"}}));
    CHECK_FALSE(not_modified({{"if-modified-since", "Tue, 24 Nov 2026 10:41:16 UTC"}}));
    CHECK_FALSE(not_modified({{"if-modified-since", "Tue, 31 Nov 2026 10:41:16 GMT"}}));
    CHECK_FALSE(not_modified({{"if-modified-since", "Tue, 24 Nov 2026 25:41:16 GMT"}}));
    CHECK_FALSE(not_modified({{"if-modified-since", "garbage"}}));
  }
}

TEST_CASE_FIXTURE(MediaFixture, "media: HEAD answers headers only") {
  const auto path = write_hls("seg-1.ts", 1000);
  auto res = call("HEAD", hls("seg-1.ts"));
  CHECK(res.status == 200);
  CHECK(res.head);
  CHECK(res.header("Content-Type") == "video/mp2t");
  check_slice(res, path, 0, 1000);

  res = call("HEAD", hls("seg-1.ts"), {{"range", "bytes=-10"}});
  CHECK(res.status == 206);
  CHECK(res.head);
  check_slice(res, path, 990, 10);

  res = call("HEAD", hls("seg-1.ts"), {{"range", "bytes=2000-"}});
  CHECK(res.status == 416);
  CHECK(res.head);

  res = call("HEAD", hls("missing.ts"));
  CHECK(res.status == 404);
  CHECK(res.head);

  res = call("HEAD", "/vod/" + id + ".mp4");
  CHECK(res.status == 404);
  CHECK(res.head);

  res = call("POST", hls("seg-1.ts"));
  CHECK(res.status == 405);
  CHECK(res.header("Allow") == "GET, HEAD");
}

TEST_CASE_FIXTURE(MediaFixture, "media: bad ids, bad names and traversal attempts are 404") {
  write_hls("index.m3u8", 10);
  write("vod/" + id + ".mp4", 10);
  write("secret.mp4", 10);
  write("hls/" + id + "/sub/index.m3u8", 10);
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  for (const std::string& target : std::vector<std::string>{
           "/hls/" + upper + "/index.m3u8",
           "/hls/not-a-uuid/index.m3u8",
           "/hls/../index.m3u8",
           "/hls/%2e%2e/index.m3u8",
           "/hls/" + id + "/..",
           "/hls/" + id + "/.",
           "/hls/" + id + "/%2e%2e",
           "/hls/" + id + "/..%2fsecret.mp4",
           "/hls/" + id + "/../../secret.mp4",
           "/hls/" + id + "/sub/index.m3u8",
           "/hls/" + id + "/sub%2findex.m3u8",
           "/hls/" + id + "/index.m3u8%00",
           "/hls/" + id + "/index.m3u8%00.ts",
           "/hls/" + id + "/index.m3u8" + std::string(1, '\0'),
           "/hls/" + id + "/index%2em3u8",
           "/hls/" + id + "/.m3u8",
           "/hls/" + id + "/index.M3U8",
           "/hls/" + id + "/index.m3u8.ts",
           "/hls/" + id + "/index.txt",
           "/hls/" + id + "/index",
           "/hls/" + id + "/a b.ts",
           "/hls/" + id + "/" + std::string(65, 'a') + ".ts",
           "/hls/" + id + "/" + std::string(5000, 'a') + ".ts",
           "/hls/" + id + "/",
           "/hls/" + id,
           "/vod/" + upper + ".mp4",
           "/vod/" + id + ".ts",
           "/vod/" + id,
           "/vod/" + id + ".mp4.mp4",
           "/vod/../secret.mp4",
           "/vod/secret.mp4",
           "/vod/%2e%2e%2fsecret.mp4",
           "/vod/" + id + ".mp4%00",
       }) {
    CAPTURE(target);
    check_not_found(get(target));
  }
  // The longest stem is fine.
  write_hls(std::string(64, 'a') + ".ts", 10);
  CHECK(get(hls(std::string(64, 'a') + ".ts")).status == 200);
}

TEST_CASE_FIXTURE(MediaFixture, "media: missing files are 404") {
  check_not_found(get(hls("index.m3u8")));  // no directory for the stream
  write_hls("index.m3u8", 10);
  check_not_found(get(hls("seg-000001.ts")));
  check_not_found(get("/vod/" + id + ".mp4"));
  fs::create_directories(data_dir / "hls" / id / "dir.ts");  // not a regular file
  check_not_found(get(hls("dir.ts")));
  fs::remove(data_dir / "hls" / id / "index.m3u8");
  check_not_found(get(hls("index.m3u8")));
  // The packager's working files: the playlist's previous version, a spare segment file.
  write_hls("index.m3u8.tmp", 10);
  write_hls("spare.ts.tmp", 10);
  check_not_found(get(hls("index.m3u8.tmp")));
  check_not_found(get(hls("spare.ts.tmp")));
}
