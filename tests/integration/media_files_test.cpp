// Media files over real HTTP: HLS playlists and segments, byte ranges across the server's
// 256 KiB chunks, HEAD, 304, traversal attempts and a large VOD, from files the test writes.
#include "api_client.hpp"
#include "raw_http.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace souk_it;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t chunk = 256 * 1024;  // what the server reads and writes at a time
const std::string stream_id = "0b6f3c2e-4a1d-4f7e-9c3b-2d5e8a7f1c40";

const std::string playlist =
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12\n"
    "#EXTINF:2.000,\nseg-000012.ts\n#EXT-X-ENDLIST\n";

// Deterministic bytes (xorshift64), different for each seed.
std::string pattern_bytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (std::size_t i = 0; i < size; i += sizeof x) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min(sizeof x, size - i));
  }
  return out;
}

void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// "" when equal; else where they first differ (never the megabytes themselves).
std::string difference(const std::string& got, const std::string& want) {
  if (got == want) return {};
  const auto at = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  return "got " + std::to_string(got.size()) + " bytes, want " + std::to_string(want.size()) +
         "; first difference at " + std::to_string(at.first - got.begin());
}

struct Media {
  std::string segment = pattern_bytes(3 * 1024 * 1024 + 17, 1);
};

// The files, written once per TEST_CASE after its server started.
const Media& hls_files(const ServerProcess& server) {
  auto& media = test_case_state<Media>("media");
  const auto dir = server.data_dir() / "hls" / stream_id;
  if (!fs::exists(dir / "index.m3u8")) {
    write_file(dir / "index.m3u8", playlist);
    write_file(dir / "seg-000012.ts", media.segment);
  }
  return media;
}

std::string hls(const std::string& name) { return "/hls/" + stream_id + "/" + name; }

}  // namespace

TEST_CASE("media files: HLS over HTTP") {
  auto& server = test_case_server();
  const auto& media = hls_files(server);
  const auto size = media.segment.size();
  ApiClient client(server.http_port());

  SUBCASE("the playlist and a 3 MB segment, whole") {
    auto res = client.get(hls("index.m3u8"));
    REQUIRE_STATUS(res, 200);
    CHECK(res.raw == playlist);
    CHECK(res.header("Content-Type") == "application/vnd.apple.mpegurl");
    CHECK(res.header("Cache-Control") == "no-cache");
    CHECK(res.header("Access-Control-Allow-Origin") == "*");

    res = client.get(hls("seg-000012.ts"));
    REQUIRE_STATUS(res, 200);
    CHECK(difference(res.raw, media.segment) == "");
    CHECK(res.header("Content-Length") == std::to_string(size));
    CHECK(res.header("Content-Type") == "video/mp2t");
    CHECK(res.header("Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(res.header("Accept-Ranges") == "bytes");
    CHECK(header_list_contains(res.header("Access-Control-Expose-Headers"), "content-range"));
    CHECK(res.header("ETag").size() > 2);
    CHECK(res.header("Last-Modified").ends_with(" GMT"));
  }

  SUBCASE("byte ranges return exactly the bytes asked for") {
    struct Case {
      std::string range;
      std::size_t first, last;
    };
    for (const auto& c : std::vector<Case>{
             {"bytes=0-0", 0, 0},
             {"bytes=0-99", 0, 99},
             {"bytes=" + std::to_string(chunk - 5) + "-" + std::to_string(chunk + 4), chunk - 5,
              chunk + 4},
             {"bytes=100000-900000", 100000, 900000},  // spans three chunk boundaries
             {"bytes=" + std::to_string(chunk) + "-" + std::to_string(3 * chunk - 1), chunk,
              3 * chunk - 1},
             {"bytes=3000000-", 3000000, size - 1},
             {"bytes=-300000", size - 300000, size - 1},
             {"bytes=-1", size - 1, size - 1},
             {"bytes=" + std::to_string(size - 10) + "-" + std::to_string(size + 1000), size - 10,
              size - 1},
         }) {
      CAPTURE(c.range);
      const auto res = client.get(hls("seg-000012.ts"), {}, {{"Range", c.range}});
      REQUIRE_STATUS(res, 206);
      CHECK(res.header("Content-Range") == "bytes " + std::to_string(c.first) + "-" +
                                               std::to_string(c.last) + "/" + std::to_string(size));
      CHECK(res.header("Content-Length") == std::to_string(c.last - c.first + 1));
      CHECK(difference(res.raw, media.segment.substr(c.first, c.last - c.first + 1)) == "");
    }
  }

  SUBCASE("a range past the end is 416 with the size") {
    const auto res =
        client.get(hls("seg-000012.ts"), {}, {{"Range", "bytes=" + std::to_string(size) + "-"}});
    CHECK_ERROR(res, 416, "range_not_satisfiable");
    CHECK(res.header("Content-Range") == "bytes */" + std::to_string(size));
  }

  SUBCASE("several ranges give the whole file") {
    const auto res = client.get(hls("seg-000012.ts"), {}, {{"Range", "bytes=0-9,20-29"}});
    REQUIRE_STATUS(res, 200);
    CHECK(difference(res.raw, media.segment) == "");
  }

  SUBCASE("HEAD gives the length and no body; the connection stays usable") {
    ApiClient keep(server.http_port(), true);
    auto res = keep.request("HEAD", hls("seg-000012.ts"));
    REQUIRE_STATUS(res, 200);
    CHECK(res.header("Content-Length") == std::to_string(size));
    CHECK(res.header("Content-Type") == "video/mp2t");
    CHECK(res.raw.empty());
    res = keep.request("HEAD", hls("missing.ts"));
    CHECK_STATUS(res, 404);
    CHECK(res.raw.empty());
    res = keep.get(hls("index.m3u8"));
    REQUIRE_STATUS(res, 200);
    CHECK(res.raw == playlist);
  }

  SUBCASE("If-None-Match with the ETag gives 304 with no body") {
    const auto etag = client.get(hls("index.m3u8")).header("ETag");
    REQUIRE_FALSE(etag.empty());
    RawConnection conn(server.http_port());
    REQUIRE(conn.send(
        raw_request_text("GET", hls("index.m3u8"), std::nullopt, {"If-None-Match: " + etag})));
    auto res = conn.read_response();
    REQUIRE(res);
    CHECK(res->status == 304);
    CHECK(res->header("ETag") == etag);
    CHECK(res->header("Cache-Control") == "no-cache");
    // Nothing follows the 304: the next response on the connection is the next request's.
    REQUIRE(conn.send(raw_request_text("GET", hls("index.m3u8"))));
    res = conn.read_response();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == playlist);
  }

  SUBCASE("traversal attempts are 404, sent raw") {
    fs::create_directories(server.data_dir() / "hls" / stream_id / "sub");
    write_file(server.data_dir() / "hls" / stream_id / "sub" / "x.ts", "NESTED-FILE-CONTENT");
    write_file(server.data_dir() / "secret.ts", "SECRET-FILE-CONTENT");
    const auto base = "/hls/" + stream_id + "/";
    for (const std::string& path : std::vector<std::string>{
             "/hls/../../secret.ts",
             "/hls/" + stream_id + "/../../secret.ts",
             base + "..%2f..%2fsecret.ts",
             base + "%2e%2e%2f%2e%2e%2fsecret.ts",
             "/hls/%2e%2e/%2e%2e/secret.ts",
             "/hls/..%2f/secret.ts",
             base + "sub/x.ts",
             base + "sub%2fx.ts",
             base + "./index.m3u8",
             "/hls/" + stream_id + "//index.m3u8",
             base + "index.m3u8%00",
             base + "index.m3u8%00.ts",
             base + std::string(300, 'a') + ".ts",
             "/hls/" + std::string(36, '.') + "/index.m3u8",
             "/vod/..%2fsecret.ts",
             "/vod/../secret.ts",
             "/vod/" + stream_id + ".mp4%00",
         }) {
      CAPTURE(path);
      const auto res = raw_exchange(server.http_port(), raw_request_text("GET", path));
      REQUIRE(res);
      CHECK(res->status == 404);
      CHECK(res->json["error"]["code"] == "not_found");
      CHECK(res->body.find("FILE-CONTENT") == std::string::npos);
    }
  }

  SUBCASE("keep-alive across a file response, a range and a JSON request") {
    RawConnection conn(server.http_port());
    REQUIRE(conn.send(raw_request_text("GET", hls("seg-000012.ts"))));
    auto res = conn.read_response(std::chrono::seconds(10));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(difference(res->body, media.segment) == "");

    REQUIRE(conn.send(raw_request_text("GET", hls("seg-000012.ts"), std::nullopt,
                                       {"Range: bytes=" + std::to_string(chunk - 1) + "-"})));
    res = conn.read_response(std::chrono::seconds(10));
    REQUIRE(res);
    CHECK(res->status == 206);
    CHECK(difference(res->body, media.segment.substr(chunk - 1)) == "");

    REQUIRE(conn.send(raw_request_text("GET", "/healthz")));
    res = conn.read_response();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->json["data"]["status"] == "ok");
  }
}

TEST_CASE("media files: a 40 MB VOD is served whole") {
  auto& server = test_case_server();
  const auto vod = pattern_bytes(40 * 1024 * 1024 + 3, 2);
  write_file(server.data_dir() / "vod" / (stream_id + ".mp4"), vod);
  ApiClient client(server.http_port());
  const auto path = "/vod/" + stream_id + ".mp4";

  auto res = client.get(path);
  REQUIRE_STATUS(res, 200);
  CHECK(res.header("Content-Type") == "video/mp4");
  CHECK(res.header("Cache-Control") == "public, max-age=86400");
  CHECK(res.header("Content-Length") == std::to_string(vod.size()));
  CHECK(difference(res.raw, vod) == "");

  // A player seeking near the end.
  res = client.get(path, {}, {{"Range", "bytes=-1000000"}});
  REQUIRE_STATUS(res, 206);
  CHECK(difference(res.raw, vod.substr(vod.size() - 1000000)) == "");
  CHECK_ERROR(client.get("/vod/" + stream_id + ".ts"), 404, "not_found");
}
