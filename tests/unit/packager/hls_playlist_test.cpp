#include "souk/packager/hls_playlist.hpp"

#include <doctest/doctest.h>

using namespace souk::packager;

namespace {

HlsSegment seg(const char* uri, double d, bool disc = false) {
  HlsSegment s;
  s.uri = uri;
  s.duration = d;
  s.wall_clock_ms = 1795515980123;
  s.discontinuity = disc;
  return s;
}

}  // namespace

TEST_CASE("playlist: header, PDT and EXTINF per segment, ENDLIST at the end") {
  HlsPlaylist p(2.0, 6);
  p.add(seg("seg-000000.ts", 2.021));
  p.add(seg("seg-000001.ts", 1.99));
  CHECK(p.render() ==
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:26:20.123Z\n#EXTINF:2.021,\nseg-000000.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T10:26:20.123Z\n#EXTINF:1.990,\nseg-000001.ts\n");
  p.end();
  CHECK(p.render().ends_with("seg-000001.ts\n#EXT-X-ENDLIST\n"));
}

TEST_CASE("playlist: the window slides and the media sequence follows") {
  HlsPlaylist p(2.0, 3);
  for (int i = 0; i < 5; ++i) {
    // (Appending, not "s" + to_string(i): GCC 12 warns -Wrestrict on that, GCC bug 105329.)
    std::string name = "seg-";
    name += std::to_string(i);
    const auto gone = p.add(seg(name.c_str(), 2.0));
    CHECK(gone.size() == (i >= 3 ? 1u : 0u));
  }
  CHECK(p.segments().size() == 3);
  CHECK(p.segments().front().sequence == 2);
  CHECK(p.render().find("#EXT-X-MEDIA-SEQUENCE:2\n") != std::string::npos);
}

TEST_CASE("playlist: discontinuities are tagged and counted when they slide out") {
  HlsPlaylist p(2.0, 2);
  p.add(seg("a", 2.0));
  p.add(seg("b", 2.0, true));
  CHECK(p.render().find("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME") != std::string::npos);
  p.add(seg("c", 2.0));
  p.add(seg("d", 2.0));  // b (a discontinuity) leaves the window
  const auto text = p.render();
  CHECK(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n") != std::string::npos);
  CHECK(text.find("#EXT-X-DISCONTINUITY\n") == std::string::npos);
}

TEST_CASE("playlist: the target duration covers every EXTINF and never shrinks") {
  HlsPlaylist p(2.0, 6);
  p.add(seg("a", 4.4));
  CHECK(p.target_duration() == 4);
  p.add(seg("b", 1.0));
  CHECK(p.target_duration() == 4);
  p.add(seg("c", 5.6));
  CHECK(p.target_duration() == 6);
}

TEST_CASE("playlist: restore continues a rendered playlist after a restart") {
  HlsPlaylist before(2.0, 3);
  before.add(seg("seg-0", 2.0));
  before.add(seg("seg-1", 2.0, true));
  before.add(seg("seg-2", 3.4));
  before.add(seg("seg-3", 2.0));  // seg-0 slides out

  HlsPlaylist after(2.0, 3);
  REQUIRE(after.restore(before.render()));
  CHECK(after.render() == before.render());
  CHECK(after.next_sequence() == 4);
  CHECK(after.target_duration() == 3);
  CHECK(after.segments().front().sequence == 1);
  CHECK(after.segments().front().discontinuity);
  CHECK(after.segments().front().wall_clock_ms == 1795515980123);

  after.add(seg("seg-4", 2.0, true));
  CHECK(after.render().find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n") != std::string::npos);

  HlsPlaylist junk(2.0, 3);
  CHECK_FALSE(junk.restore("not a playlist"));
  CHECK_FALSE(junk.restore("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n"));
  CHECK(junk.next_sequence() == 0);
}
