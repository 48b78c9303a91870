// The publishers' command lines (see publishers.hpp).
#include "publishers.hpp"

#include "media_fixtures.hpp"

namespace souk_it {
namespace {

// The input file, or the fixture when none was named.
std::string input_or_fixture(const std::filesystem::path& input) {
  return input.empty() ? media_fixtures().flv.string() : input.string();
}

void append(std::vector<std::string>& args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
}

}  // namespace

std::vector<std::string> ffmpeg_publish(const std::string& url, const FfmpegPublish& options) {
  // -nostdin: ffmpeg would otherwise read keys from stdin (/dev/null here anyway).
  std::vector<std::string> args{ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel",
                                options.log_level};
  if (options.realtime) args.emplace_back("-re");
  if (options.loop_forever) append(args, {"-stream_loop", "-1"});
  append(args, options.input_options);
  append(args, {"-i", input_or_fixture(options.input), "-c", "copy", "-f", "flv", url});
  return args;
}

std::vector<std::string> ffmpeg_encode_test_pattern(const std::string& output,
                                                    const TestPatternEncode& options) {
  std::vector<std::string> args{ffmpeg_binary(), "-hide_banner",    "-nostdin",
                                "-loglevel",     options.log_level, "-y"};
  if (options.realtime) args.emplace_back("-re");
  append(args, {"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i",
                options.audio_source, "-t", std::to_string(options.seconds)});
  if (options.video) {
    append(args, {"-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p"});
    append(args, options.video_options);
  } else {
    args.emplace_back("-vn");
  }
  if (options.audio) {
    append(args, {"-c:a", "aac"});
    append(args, options.audio_options);
  } else {
    args.emplace_back("-an");
  }
  append(args, {"-f", "flv", output});
  return args;
}

std::vector<std::string> rtmp_publish(const std::string& url, const RtmpPublish& options) {
  std::vector<std::string> args{rtmp_publish_binary()};
  if (options.timeout_ms != 0) append(args, {"--timeout-ms", std::to_string(options.timeout_ms)});
  if (options.realtime) args.emplace_back("--realtime");
  if (options.loop != 1) append(args, {"--loop", std::to_string(options.loop)});
  if (options.chunk_size != 0) append(args, {"--chunk-size", std::to_string(options.chunk_size)});
  append(args, {input_or_fixture(options.input), url});
  return args;
}

}  // namespace souk_it
