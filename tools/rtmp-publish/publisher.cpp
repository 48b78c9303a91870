// The librtmp publisher of rtmp-publish (see publisher.hpp).
//
// What goes over the wire once the handshake is done (librtmp sends the client's
// half; this file reads the server's half, so a refusal is seen as it arrives):
//
//   client                                   server
//   connect(app "live") ───────────────────►
//                       ◄─────────────────── _result(connect)
//   releaseStream, FCPublish, createStream ─►
//                       ◄─────────────────── _result(createStream) = stream id
//   publish(key, "live") ──────────────────►
//                       ◄─────────────────── onStatus NetStream.Publish.Start    (accepted)
//                                         or onStatus level "error" (NetStream.Publish.BadName)
//                                            and the connection closed            (refused)
//   @setDataFrame onMetaData, audio, video ─►  (until the file ends)
//   FCUnpublish, deleteStream, close ──────►
#include "publisher.hpp"

#include <librtmp/amf.h>
#include <librtmp/log.h>
#include <librtmp/rtmp.h>

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

namespace rtmp_publish {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

volatile std::sig_atomic_t stop_requested = 0;

// librtmp logs through this callback: its last error goes into our one-line
// message; with --verbose every line is printed.
std::string last_librtmp_error;
bool verbose_log = false;

void on_librtmp_log(int level, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  if (level <= RTMP_LOGERROR) last_librtmp_error = line;
  if (verbose_log) std::fprintf(stderr, "librtmp: %s\n", line);
}

std::string librtmp_detail() {
  return last_librtmp_error.empty() ? std::string() : " (librtmp: " + last_librtmp_error + ")";
}

std::string to_string(const AVal& v) {
  if (v.av_val == nullptr || v.av_len <= 0) return {};
  return std::string(v.av_val, static_cast<std::size_t>(v.av_len));
}

// librtmp's AVal takes a char*; it only reads names we pass.
AVal aval(const char* s) { return AVal{const_cast<char*>(s), static_cast<int>(std::strlen(s))}; }

struct RtmpDeleter {
  void operator()(RTMP* r) const {
    RTMP_Close(r);
    RTMP_Free(r);
  }
};
using RtmpPtr = std::unique_ptr<RTMP, RtmpDeleter>;

// Owns a packet's body (allocated by RTMPPacket_Alloc or RTMP_ReadPacket).
struct PacketGuard {
  RTMPPacket packet{};
  PacketGuard() = default;
  PacketGuard(const PacketGuard&) = delete;
  PacketGuard& operator=(const PacketGuard&) = delete;
  ~PacketGuard() { RTMPPacket_Free(&packet); }
};

PublishReport report(int code, std::string message) {
  PublishReport r;
  r.exit_code = code;
  r.message = std::move(message);
  return r;
}

PublishReport interrupted() { return report(exit_interrupted, "interrupted; connection closed"); }

// A command from the server that decides the publish: onStatus, _error or close.
struct ServerCommand {
  std::string name;
  std::string level;
  std::string code;
  std::string description;
};

// Decodes an AMF0 command (message type 20, or 17 = a 0 byte then AMF0) into its
// name and, for onStatus/_error(txn, null, {level, code, description}), the info
// object's fields. Other messages give nullopt.
std::optional<ServerCommand> decode_command(const RTMPPacket& p) {
  if (p.m_body == nullptr || p.m_nBodySize == 0) return std::nullopt;
  const char* body = p.m_body;
  std::uint32_t size = p.m_nBodySize;
  if (p.m_packetType == RTMP_PACKET_TYPE_FLEX_MESSAGE) {
    ++body;
    --size;
  } else if (p.m_packetType != RTMP_PACKET_TYPE_INVOKE) {
    return std::nullopt;
  }
  if (size == 0 || body[0] != AMF_STRING) return std::nullopt;

  AMFObject obj{};
  const int decoded = AMF_Decode(&obj, body, static_cast<int>(size), FALSE);
  if (decoded < 0) {
    AMF_Reset(&obj);
    return std::nullopt;
  }
  ServerCommand c;
  AVal v{};
  AMFProp_GetString(AMF_GetProp(&obj, nullptr, 0), &v);
  c.name = to_string(v);
  AMFObject info{};
  AMFProp_GetObject(AMF_GetProp(&obj, nullptr, 3), &info);
  const auto field = [&info](const char* name) {
    const AVal key = aval(name);
    AVal value{};
    AMFProp_GetString(AMF_GetProp(&info, &key, -1), &value);
    return to_string(value);
  };
  c.level = field("level");
  c.code = field("code");
  c.description = field("description");
  AMF_Reset(&obj);  // frees `info` too: it is a shallow copy of a property
  return c;
}

enum class Wait { readable, timed_out, interrupted, failed };

// Waits until the server has sent something (or librtmp already holds unread
// bytes), at most `timeout_ms` (0: just look).
Wait wait_readable(RTMP* r, int timeout_ms) {
  if (r->m_sb.sb_size > 0) return Wait::readable;
  pollfd p{RTMP_Socket(r), POLLIN, 0};
  const int n = ::poll(&p, 1, std::max(timeout_ms, 0));
  if (n < 0) return errno == EINTR ? Wait::interrupted : Wait::failed;
  return n > 0 ? Wait::readable : Wait::timed_out;
}

enum class Read { nothing, message, closed, timed_out };

struct ServerState {
  bool publish_started = false;
  std::optional<ServerCommand> refusal;  // an error status, _error or close
};

// Reads one chunk. When it completes a message, notes a decision (Publish.Start, an
// error status) and lets librtmp answer the rest (results, pings, chunk size).
Read read_one(RTMP* r, ServerState& state) {
  PacketGuard g;
  if (!RTMP_ReadPacket(r, &g.packet)) {
    return r->m_sb.sb_timedout ? Read::timed_out : Read::closed;
  }
  if (!RTMPPacket_IsReady(&g.packet) || g.packet.m_nBodySize == 0) return Read::nothing;
  if (auto c = decode_command(g.packet)) {
    if (c->name == "onStatus" && c->code == "NetStream.Publish.Start") {
      state.publish_started = true;
    } else if (c->name == "_error" || c->name == "close" ||
               (c->name == "onStatus" && c->level == "error")) {
      state.refusal = std::move(*c);
      return Read::message;
    }
  }
  RTMP_ClientPacket(r, &g.packet);
  return Read::message;
}

std::string describe_refusal(const ServerCommand& c) {
  std::string what = c.code.empty() ? c.name : c.code;
  if (!c.description.empty()) what += " (" + c.description + ")";
  return what;
}

int ms_until(Clock::time_point t) {
  const auto left = std::chrono::duration_cast<milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 24LL * 3600 * 1000));
}

bool connect_tcp(RTMP* r, const PublishOptions& o, PublishReport& failure) {
  const std::string host = to_string(r->Link.hostname);
  const unsigned short port = r->Link.port;
  const std::string where = host + ":" + std::to_string(port);
  // librtmp's RTMP_Connect speaks IPv4 only; resolve the same way, but here, so a
  // refused TCP connection is told apart from a refused publish.
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    failure = report(exit_unreachable, "cannot resolve " + host + ": " + ::gai_strerror(rc));
    return false;
  }
  sockaddr_in service{};
  std::memcpy(&service, found->ai_addr, sizeof service);
  ::freeaddrinfo(found);
  service.sin_port = htons(port);
  if (!RTMP_Connect0(r, reinterpret_cast<sockaddr*>(&service))) {
    failure = report(exit_unreachable, "cannot connect to " + where + librtmp_detail());
    return false;
  }
  // Millisecond timeouts on every read and write from here on (librtmp set whole
  // seconds for reads only).
  const auto ms = o.timeout.count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  const int fd = RTMP_Socket(r);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    failure = report(exit_unreachable, std::string("setsockopt: ") + std::strerror(errno));
    return false;
  }
  r->m_bSendCounter = 1;  // what RTMP_Connect sets between its two halves
  if (!RTMP_Connect1(r, nullptr)) {
    if (stop_requested) {
      failure = interrupted();
    } else if (r->m_sb.sb_timedout) {
      failure = report(exit_unreachable, "no RTMP handshake answer from " + where + " within " +
                                             std::to_string(ms) + " ms");
    } else {
      failure = report(exit_refused, "the server at " + where +
                                         " closed the connection during the RTMP handshake" +
                                         librtmp_detail());
    }
    return false;
  }
  return true;
}

// Set Chunk Size (message type 1 on chunk stream 2), as OBS and ffmpeg send before
// media; librtmp's default is 128-byte chunks.
bool send_chunk_size(RTMP* r, std::uint32_t size) {
  PacketGuard g;
  if (!RTMPPacket_Alloc(&g.packet, 4)) return false;
  g.packet.m_nChannel = 0x02;
  g.packet.m_headerType = RTMP_PACKET_SIZE_LARGE;
  g.packet.m_packetType = RTMP_PACKET_TYPE_CHUNK_SIZE;
  g.packet.m_nBodySize = 4;
  AMF_EncodeInt32(g.packet.m_body, g.packet.m_body + 4, size);
  if (!RTMP_SendPacket(r, &g.packet, FALSE)) return false;
  r->m_outChunkSize = static_cast<int>(size);
  return true;
}

// Reads what the server sends until it has answered the publish request.
std::optional<PublishReport> wait_for_publish_start(RTMP* r, const PublishOptions& o) {
  const auto deadline = Clock::now() + o.timeout;
  ServerState state;
  while (!state.publish_started) {
    if (stop_requested) return interrupted();
    if (!RTMP_IsConnected(r)) {
      return report(exit_refused,
                    "the server closed the connection before accepting the publish (no "
                    "NetStream.Publish.Start)" +
                        librtmp_detail());
    }
    if (Clock::now() >= deadline) {
      return report(exit_unreachable, "no answer to the publish request within " +
                                          std::to_string(o.timeout.count()) + " ms");
    }
    const Wait w = wait_readable(r, ms_until(deadline));
    if (w == Wait::timed_out || w == Wait::interrupted) continue;
    if (w == Wait::failed)
      return report(exit_refused, std::string("poll: ") + std::strerror(errno));
    const Read got = read_one(r, state);
    if (stop_requested) return interrupted();
    if (state.refusal) {
      return report(exit_refused,
                    "the server refused the publish: " + describe_refusal(*state.refusal));
    }
    if (got == Read::closed) {
      return report(exit_refused,
                    "the server closed the connection before accepting the publish (no "
                    "NetStream.Publish.Start)" +
                        librtmp_detail());
    }
    if (got == Read::timed_out) {
      return report(exit_unreachable, "the server stopped in the middle of a message for " +
                                          std::to_string(o.timeout.count()) + " ms");
    }
  }
  return std::nullopt;
}

// Handles what the server sends until `until` (now: only what has arrived).
// Returns a report when the publish is over: an error status, or a closed connection.
std::optional<PublishReport> serve_incoming(RTMP* r, Clock::time_point until,
                                            const PublishOptions& o) {
  ServerState state;
  while (!stop_requested) {
    if (!RTMP_IsConnected(r)) {
      return report(exit_refused, "the server closed the connection" + librtmp_detail());
    }
    const Wait w = wait_readable(r, ms_until(until));
    if (w == Wait::timed_out) return std::nullopt;
    if (w == Wait::interrupted) continue;
    if (w == Wait::failed)
      return report(exit_refused, std::string("poll: ") + std::strerror(errno));
    const Read got = read_one(r, state);
    if (state.refusal) {
      return report(exit_refused,
                    "the server ended the publish: " + describe_refusal(*state.refusal));
    }
    if (got == Read::closed) {
      return report(exit_refused, "the server closed the connection" + librtmp_detail());
    }
    if (got == Read::timed_out) {
      return report(exit_unreachable, "the server stopped in the middle of a message for " +
                                          std::to_string(o.timeout.count()) + " ms");
    }
  }
  return std::nullopt;
}

// Sends one FLV tag as an RTMP message on chunk stream 4, as librtmp's RTMP_Write
// (the path OBS's output takes) does: script data goes out as
// "@setDataFrame" + the tag's onMetaData; a full (type 0) header starts the chunk
// stream and is used at timestamp 0 or when time goes back, otherwise a type 1
// header carries the delta from the previous message.
bool send_tag(RTMP* r, const FlvTag& tag, std::uint32_t timestamp, bool first,
              std::uint32_t previous_timestamp, std::string& error) {
  static constexpr char set_data_frame[] = "\x02\x00\x0d@setDataFrame";  // AMF0 string
  constexpr std::size_t prefix_size = sizeof set_data_frame - 1;
  const bool script = tag.type == flv_tag_script_data;
  const bool add_prefix =
      script && tag.body.substr(0, prefix_size) != std::string_view(set_data_frame, prefix_size);
  const std::size_t size = tag.body.size() + (add_prefix ? prefix_size : 0);
  if (size > 0xFFFFFF) {
    error = "tag too large for an RTMP message";
    return false;
  }
  PacketGuard g;
  if (!RTMPPacket_Alloc(&g.packet, static_cast<std::uint32_t>(size))) {
    error = "out of memory";
    return false;
  }
  char* out = g.packet.m_body;
  if (add_prefix) out = std::copy_n(set_data_frame, prefix_size, out);
  std::copy(tag.body.begin(), tag.body.end(), out);

  g.packet.m_nChannel = 0x04;
  g.packet.m_nInfoField2 = r->m_stream_id;
  g.packet.m_packetType = tag.type;
  g.packet.m_nTimeStamp = timestamp;
  g.packet.m_nBodySize = static_cast<std::uint32_t>(size);
  const bool full_header = first || script || timestamp == 0 || timestamp < previous_timestamp;
  g.packet.m_headerType = full_header ? RTMP_PACKET_SIZE_LARGE : RTMP_PACKET_SIZE_MEDIUM;
  if (!RTMP_SendPacket(r, &g.packet, FALSE)) {
    error = "send failed" + librtmp_detail();
    return false;
  }
  return true;
}

// The media time one pass over the file lasts: last timestamp minus first, plus
// one video frame (the smallest step between video timestamps; 40 ms if none).
std::uint64_t pass_duration(const std::vector<FlvTag>& tags) {
  std::uint32_t first = tags.front().timestamp;
  std::uint32_t last = first;
  std::uint32_t frame = 0;
  std::optional<std::uint32_t> previous_video;
  for (const auto& t : tags) {
    first = std::min(first, t.timestamp);
    last = std::max(last, t.timestamp);
    if (t.type == flv_tag_video) {
      if (previous_video && t.timestamp > *previous_video) {
        const std::uint32_t step = t.timestamp - *previous_video;
        frame = frame == 0 ? step : std::min(frame, step);
      }
      previous_video = t.timestamp;
    }
  }
  return static_cast<std::uint64_t>(last - first) + (frame == 0 ? 40 : frame);
}

PublishReport send_tags(RTMP* r, const std::vector<FlvTag>& tags, const PublishOptions& o) {
  PublishReport progress;
  if (tags.empty()) return progress;
  const std::uint64_t pass = pass_duration(tags);
  const std::uint32_t first_timestamp = tags.front().timestamp;
  const auto start = Clock::now();
  std::uint32_t previous = 0;
  bool first = true;
  for (std::uint32_t loop = 0; o.loops == 0 || loop < o.loops; ++loop) {
    for (const auto& tag : tags) {
      const std::uint64_t media_time = tag.timestamp + loop * pass;
      const auto timestamp = static_cast<std::uint32_t>(media_time);  // wraps after 49 days
      // Pace like a live encoder: a tag leaves when the wall clock reaches its time.
      // Waiting is spent reading the server, so a refusal or close shows at once.
      auto due = Clock::now();
      if (o.realtime && media_time > first_timestamp) {
        due = start + milliseconds(media_time - first_timestamp);
      }
      if (auto done = serve_incoming(r, due, o)) {
        done->tags_sent = progress.tags_sent;
        done->bytes_sent = progress.bytes_sent;
        done->message += " after " + std::to_string(progress.tags_sent) + " tags (" +
                         std::to_string(progress.last_timestamp_ms) + " ms of media)";
        return *done;
      }
      if (stop_requested) return interrupted();
      std::string error;
      if (!send_tag(r, tag, timestamp, first, previous, error)) {
        if (stop_requested) return interrupted();
        auto failed = report(exit_refused, "the connection was lost while sending tag " +
                                               std::to_string(progress.tags_sent + 1) + " (" +
                                               std::to_string(timestamp) + " ms): " + error);
        failed.tags_sent = progress.tags_sent;
        failed.bytes_sent = progress.bytes_sent;
        return failed;
      }
      first = false;
      previous = timestamp;
      ++progress.tags_sent;
      progress.bytes_sent += tag.body.size();
      progress.last_timestamp_ms = timestamp;
    }
  }
  // Anything the server said at the very end (an error status, a close) counts.
  if (auto done = serve_incoming(r, Clock::now(), o)) {
    done->tags_sent = progress.tags_sent;
    done->bytes_sent = progress.bytes_sent;
    return *done;
  }
  if (stop_requested) return interrupted();
  return progress;
}

}  // namespace

void request_stop() {
  stop_requested = 1;
  RTMP_UserInterrupt();  // librtmp stops retrying reads and writes cut by the signal
}

PublishReport publish(const std::vector<FlvTag>& tags, const PublishOptions& o) {
  verbose_log = o.verbose;
  RTMP_LogSetCallback(on_librtmp_log);
  RTMP_LogSetLevel(o.verbose ? RTMP_LOGDEBUG : RTMP_LOGERROR);

  RtmpPtr rtmp(RTMP_Alloc());
  if (!rtmp) return report(exit_unreachable, "RTMP_Alloc failed");
  RTMP* r = rtmp.get();
  RTMP_Init(r);
  // librtmp keeps pointers into the URL buffer: it lives as long as the session.
  std::vector<char> url(o.url.begin(), o.url.end());
  url.push_back('\0');
  if (!RTMP_SetupURL(r, url.data())) {
    return report(exit_usage, "cannot parse the RTMP URL" + librtmp_detail());
  }
  if (r->Link.playpath.av_len <= 0) {
    return report(exit_usage, "the RTMP URL has no stream key (rtmp://host:port/app/KEY)");
  }
  if (r->Link.protocol != RTMP_PROTOCOL_RTMP) {
    return report(exit_usage, "only plain rtmp:// URLs are supported");
  }
  const auto timeout_s = (o.timeout.count() + 999) / 1000;
  r->Link.timeout = static_cast<int>(std::max<long long>(1, timeout_s));
  RTMP_EnableWrite(r);

  PublishReport failure;
  if (!connect_tcp(r, o, failure)) return failure;
  if (o.chunk_size != 0 && !send_chunk_size(r, o.chunk_size)) {
    return report(exit_refused,
                  "the connection was lost sending Set Chunk Size" + librtmp_detail());
  }
  if (auto refused = wait_for_publish_start(r, o)) return *refused;

  PublishReport result = send_tags(r, tags, o);
  // RTMP_Close (in the deleter) sends FCUnpublish and deleteStream while the
  // connection is up, then closes the socket.
  return result;
}

}  // namespace rtmp_publish
