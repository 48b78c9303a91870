// How the tests publish: the command line of each real publisher (ffmpeg sending a
// file, ffmpeg encoding a test pattern live, rtmp-publish over librtmp), built here
// and nowhere else. Run them with ChildProcess or run_process (media_fixtures.hpp).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace souk_it {

// ffmpeg sending a file as it is (-c copy, FLV), as a file-fed encoder would.
// Every member has a default, so callers name only what differs:
// ffmpeg_publish(url, {.loop_forever = true}).
struct FfmpegPublish {
  std::filesystem::path input{};             // empty: the FLV fixture (media_fixtures())
  bool realtime = true;                      // -re: at the file's own pace
  bool loop_forever = false;                 // -stream_loop -1: until killed or dropped
  std::vector<std::string> input_options{};  // before -i, e.g. {"-t", "3"}
  std::string log_level = "error";
};
std::vector<std::string> ffmpeg_publish(const std::string& url, const FfmpegPublish& options = {});

// ffmpeg encoding lavfi's testsrc2 (640x360, 30 fps) and a tone: H.264 (libx264
// ultrafast, GOP 60, yuv420p) and AAC, in FLV, to a file or an RTMP URL. The
// defaults are the ingest issue's command, which makes the FLV fixture.
struct TestPatternEncode {
  int seconds = 6;  // -t
  std::string audio_source = "sine=frequency=440:sample_rate=48000";
  std::vector<std::string> video_options{"-tune", "zerolatency"};  // beyond the above
  std::vector<std::string> audio_options{"-b:a", "64k", "-ar", "48000", "-ac", "2"};
  bool realtime = true;  // -re: as fast as a camera, not as fast as the CPU
  std::string log_level = "error";
  bool video = true;  // false: -vn, an audio-only stream
  bool audio = true;  // false: -an, a video-only stream
};
std::vector<std::string> ffmpeg_encode_test_pattern(const std::string& output,
                                                    const TestPatternEncode& options = {});

// rtmp-publish (tools/rtmp-publish: librtmp, the library OBS's output derives from)
// sending a file; options left at their defaults are not passed.
struct RtmpPublish {
  std::filesystem::path input{};  // empty: the FLV fixture
  bool realtime = false;          // --realtime: each tag when due, like a live encoder
  int loop = 1;                   // --loop N: the file N times (0: until dropped)
  int chunk_size = 0;             // --chunk-size N (0: librtmp's 128 bytes)
  int timeout_ms = 0;             // --timeout-ms (0: the tool's 10 s)
};
std::vector<std::string> rtmp_publish(const std::string& url, const RtmpPublish& options = {});

}  // namespace souk_it
