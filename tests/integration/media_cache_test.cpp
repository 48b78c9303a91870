// The HLS cache over real HTTP: a file answered from memory (on the network thread)
// is byte for byte the response the disk path gives, for every kind of request;
// segments are read through into the cache; playlists come only from the packager,
// which replaces them as it writes, so a GET is never older than the file.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "raw_http.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace souk_it;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// One request on a fresh connection; the whole response as sent (status line,
// headers, body). With `close` the server ends the connection after it; otherwise
// the response is read by its Content-Length (none after HEAD or a 304).
std::string fetch_raw(std::uint16_t port, const std::string& request, bool head_or_304 = false) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  const bool http10 = request.find("HTTP/1.0\r\n") != std::string::npos;
  const bool until_close = request.find("Connection: close") != std::string::npos ||
                           (http10 && request.find("Connection: keep-alive") == std::string::npos);
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!until_close) {
      const auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        std::smatch m;
        const std::string head = out.substr(0, end);
        if (!head_or_304 && std::regex_search(head, m, std::regex("\r\nContent-Length: (\\d+)"))) {
          length = std::stoul(m[1]);
        }
        if (out.size() >= end + 4 + length) break;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[65536];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string header_of(const std::string& response, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(response, m, std::regex("\r\n" + name + ": ([^\r]*)\r\n"))) return "";
  return m[1];
}

int status_of(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}

struct Variant {
  std::string name;
  std::string request;
  bool head_or_304 = false;
};

// Every kind of request a player or CDN sends for `path`, given the file's
// validators and size: whole, HEAD, ranges (also past the end), conditionals,
// HTTP/1.0 with and without keep-alive, and Connection: close.
std::vector<Variant> variants(const std::string& path, const std::string& etag,
                              const std::string& last_modified, std::size_t size) {
  const auto req = [&](const std::string& method, std::vector<std::string> headers,
                       bool keep_alive = true) {
    return raw_request_text(method, path, std::nullopt, headers, keep_alive);
  };
  return {
      {"GET", req("GET", {})},
      {"GET, close", req("GET", {}, false)},
      {"GET, an origin", req("GET", {"Origin: https://shop.example.com"})},
      {"HEAD", req("HEAD", {}), true},
      {"range 0-99", req("GET", {"Range: bytes=0-99"})},
      {"range suffix", req("GET", {"Range: bytes=-100"})},
      {"range to the end", req("GET", {"Range: bytes=" + std::to_string(size / 2) + "-"})},
      {"range past the end (416)", req("GET", {"Range: bytes=" + std::to_string(size) + "-"})},
      {"HEAD with a range", req("HEAD", {"Range: bytes=5-9"}), true},
      {"several ranges", req("GET", {"Range: bytes=0-1,5-6"})},
      {"If-Range that matches", req("GET", {"Range: bytes=10-20", "If-Range: " + etag})},
      {"If-None-Match (304)", req("GET", {"If-None-Match: " + etag}), true},
      {"If-Modified-Since (304)", req("GET", {"If-Modified-Since: " + last_modified}), true},
      {"HEAD, If-None-Match", req("HEAD", {"If-None-Match: " + etag}), true},
      {"If-None-Match, another tag", req("GET", {"If-None-Match: \"other\""})},
      {"HTTP/1.0", "GET " + path + " HTTP/1.0\r\n\r\n"},
      {"HTTP/1.0 keep-alive", "GET " + path + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
  };
}

// The responses to every variant for each path, in order, as sent.
std::vector<std::string> responses(std::uint16_t port, const std::vector<std::string>& paths,
                                   const std::vector<std::vector<Variant>>& all) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    for (const auto& v : all[i]) out.push_back(fetch_raw(port, v.request, v.head_or_304));
  }
  return out;
}

void check_same(const std::vector<std::string>& got, const std::vector<std::string>& want,
                const std::vector<std::string>& paths,
                const std::vector<std::vector<Variant>>& all) {
  REQUIRE(got.size() == want.size());
  std::size_t k = 0;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    for (const auto& v : all[i]) {
      CAPTURE(paths[i]);
      CAPTURE(v.name);
      const auto& a = got[k];
      const auto& b = want[k];
      ++k;
      CHECK(status_of(a) != 0);
      if (a == b) continue;
      // Say where, not the megabytes.
      const auto head_a = a.substr(0, a.find("\r\n\r\n"));
      const auto head_b = b.substr(0, b.find("\r\n\r\n"));
      CHECK(head_a == head_b);
      CHECK(a.size() == b.size());
      CHECK(a == b);
    }
  }
}

std::string hls_path(const std::string& id, const std::string& name) {
  return "/hls/" + id + "/" + name;
}

// The highest segment number a playlist lists (-1 for none).
long last_segment(const std::string& playlist) {
  long last = -1;
  static const std::regex seg("seg-(\\d+)\\.ts");
  for (auto it = std::sregex_iterator(playlist.begin(), playlist.end(), seg);
       it != std::sregex_iterator(); ++it) {
    last = std::max(last, std::stol((*it)[1]));
  }
  return last;
}

std::vector<std::string> listed_segments(const std::string& playlist) {
  std::vector<std::string> out;
  static const std::regex seg("seg-\\d+\\.ts");
  for (auto it = std::sregex_iterator(playlist.begin(), playlist.end(), seg);
       it != std::sregex_iterator(); ++it) {
    out.push_back(it->str());
  }
  return out;
}

void write_file(const fs::path& path, const std::string& bytes, fs::file_time_type mtime) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  fs::last_write_time(path, mtime);
}

// Validators and variants of each path, from one server's first answers.
std::vector<std::vector<Variant>> variants_for(std::uint16_t port,
                                               const std::vector<std::string>& paths) {
  std::vector<std::vector<Variant>> all;
  for (const auto& p : paths) {
    const auto first = fetch_raw(port, raw_request_text("GET", p));
    REQUIRE(status_of(first) == 200);
    const auto size = std::stoul(header_of(first, "Content-Length"));
    all.push_back(variants(p, header_of(first, "ETag"), header_of(first, "Last-Modified"), size));
  }
  return all;
}

}  // namespace

TEST_CASE("media cache: a segment read through into memory is answered exactly as from disk") {
  // Two servers on the same files (same bytes, same modification time): one with
  // the cache, one without.
  auto& cached = test_case_server("cached");
  ServerOptions no_cache;
  no_cache.extra_args = {"--hls-cache-mb", "0"};
  auto& uncached = test_case_server("uncached", no_cache);
  const std::string id = "3c1e2b7a-5d4f-4e8a-9b6c-1f2e3d4c5b6a";
  std::string segment(1024 * 1024 + 333, '\0');
  for (std::size_t i = 0; i < segment.size(); ++i) {
    segment[i] = static_cast<char>((i * 2654435761U) >> 13);
  }
  // A small segment is kept as bytes and written from them; a large one is kept
  // in a memory file and sent with sendfile.
  const std::string small = segment.substr(1000, 100 * 1000);
  const std::string playlist =
      "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
      "#EXTINF:2.000,\nseg-000007.ts\n#EXTINF:2.000,\nseg-000008.ts\n";
  // Fixed: doctest runs this body once per subcase, and the cached server keeps
  // what it read in the first run (only the packager replaces files it caches).
  const auto mtime = std::chrono::file_clock::from_sys(
      std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} + 10h + 41min + 15s + 123456789ns);
  for (const auto* server : {&cached, &uncached}) {
    const auto dir = server->data_dir() / "hls" / id;
    write_file(dir / "seg-000007.ts", segment, mtime);
    write_file(dir / "seg-000008.ts", small, mtime);
    write_file(dir / "index.m3u8", playlist, mtime);
  }
  const std::vector<std::string> paths = {hls_path(id, "seg-000007.ts"), hls_path(id, "index.m3u8"),
                                          hls_path(id, "seg-000008.ts")};
  const auto all = variants_for(uncached.http_port(), paths);

  const auto from_disk = responses(uncached.http_port(), paths, all);
  CHECK(from_disk.front().ends_with(segment));
  // The first request reads the segment into memory; then the file goes: what
  // follows can only come from memory.
  const auto first = fetch_raw(cached.http_port(), all[0][0].request);
  CHECK(first == from_disk.front());
  CHECK(fetch_raw(cached.http_port(), all[2][4].request) ==
        from_disk[all[0].size() + all[1].size() + 4]);
  fs::remove(cached.data_dir() / "hls" / id / "seg-000007.ts");
  fs::remove(cached.data_dir() / "hls" / id / "seg-000008.ts");
  const auto from_memory = responses(cached.http_port(), paths, all);
  check_same(from_memory, from_disk, paths, all);
  CHECK(status_of(fetch_raw(uncached.http_port(), all[0][0].request)) == 200);

  SUBCASE("a playlist is never copied in by a reader: it is read from disk each time") {
    fs::remove(cached.data_dir() / "hls" / id / "index.m3u8");
    CHECK(status_of(fetch_raw(cached.http_port(), raw_request_text("GET", paths[1]))) == 404);
  }
  SUBCASE("without the cache, nothing is kept") {
    fs::remove(uncached.data_dir() / "hls" / id / "seg-000007.ts");
    CHECK(status_of(fetch_raw(uncached.http_port(), all[0][0].request)) == 404);
  }
  SUBCASE("the access log has a line for answers from memory too") {
    const auto before = cached.log_text();
    const auto n = [](const std::string& text, const std::string& needle) {
      std::size_t count = 0;
      for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++count;
      }
      return count;
    };
    const std::string line = "http GET " + paths[0] + " 206";
    fetch_raw(cached.http_port(), all[0][4].request);  // range 0-99, from memory
    CHECK(cached.wait_for_log(line));
    CHECK(n(cached.log_text(), line) == n(before, line) + 1);
  }
}

TEST_CASE("media cache: the packager's playlists and segments, from memory, as from disk") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = client.go_live(client.register_user("seller"));
  const auto playlist_file = server.data_dir() / "hls" / live.id / "index.m3u8";
  const auto playlist_path = hls_path(live.id, "index.m3u8");

  // While the packager writes, a GET is never older than the file was just before
  // it, and it is a version that was on disk.
  ChildProcess publisher(ffmpeg_publish(live.publish_url));
  std::set<std::string> seen;
  std::size_t checked = 0;
  while (publisher.running()) {
    const auto disk_before = read_whole_file(playlist_file);
    const auto res = fetch_raw(server.http_port(), raw_request_text("GET", playlist_path));
    const auto disk_after = read_whole_file(playlist_file);
    if (disk_before.empty() || status_of(res) != 200) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    const auto body = res.substr(res.find("\r\n\r\n") + 4);
    CAPTURE(body);
    CAPTURE(disk_before);
    CHECK(last_segment(body) >= last_segment(disk_before));
    if (last_segment(body) == last_segment(disk_before)) {
      CHECK((body == disk_before || body == disk_after));
    }
    seen.insert(body);
    ++checked;
    std::this_thread::sleep_for(10ms);
  }
  const auto published = publisher.wait(scaled(30s));
  INFO(published.describe());
  REQUIRE(published.exit_code == 0);
  CHECK(seen.size() >= 2);  // it was replaced while we read it (2 s segments, 6 s)
  CHECK(checked > 50);

  // /end replaces the cached playlist with one that ends.
  REQUIRE_STATUS(client.post(api_path("/streams/" + live.id + "/end"), Body(), live.token), 200);
  std::string ended;
  const auto ended_deadline = std::chrono::steady_clock::now() + scaled(5s);
  while (ended.find("#EXT-X-ENDLIST") == std::string::npos &&
         std::chrono::steady_clock::now() < ended_deadline) {
    std::this_thread::sleep_for(50ms);
    const auto res = fetch_raw(server.http_port(), raw_request_text("GET", playlist_path));
    ended = res.substr(res.find("\r\n\r\n") + 4);
  }
  CHECK(ended.find("#EXT-X-ENDLIST") != std::string::npos);
  CHECK(ended == read_whole_file(playlist_file));

  // Every kind of request for the playlist and two segments, answered from what
  // the packager put in memory...
  const auto segments = listed_segments(ended);
  REQUIRE(segments.size() >= 2);
  const std::vector<std::string> paths = {playlist_path, hls_path(live.id, segments.front()),
                                          hls_path(live.id, segments.back())};
  const auto all = variants_for(server.http_port(), paths);
  const auto from_packager = responses(server.http_port(), paths, all);
  CHECK(from_packager.front().ends_with(ended));

  // ...is what a server without the cache answers from the same files...
  server.stop();
  {
    ServerOptions options;
    options.data_dir_flag = false;
    options.extra_args = {"--data-dir", server.data_dir().string(), "--hls-cache-mb", "0"};
    ServerProcess disk_only(options);
    check_same(responses(disk_only.http_port(), paths, all), from_packager, paths, all);
  }
  // ...and what the server answers after a restart, from disk and then (segments)
  // from memory again.
  server.restart();
  check_same(responses(server.http_port(), paths, all), from_packager, paths, all);
  check_same(responses(server.http_port(), paths, all), from_packager, paths, all);
}
