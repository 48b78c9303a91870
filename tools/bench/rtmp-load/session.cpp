// librtmp connection set-up for rtmp-load (see session.hpp).
//
//   client (librtmp, blocking)                   server
//   TCP connect, handshake C0-C2 ─────────────►
//   connect(app) ─────────────────────────────►
//                         ◄──────────────────── Window Ack Size, Peer BW, Chunk Size,
//                                               _result(connect)
//   releaseStream, FCPublish, createStream ───►
//                         ◄──────────────────── _result(createStream) = stream id
//   publish(key, "live") ─────────────────────►
//                         ◄──────────────────── onStatus NetStream.Publish.Start
//                                            or onStatus level "error" + close (refused)
//   Set Chunk Size ───────────────────────────►
//   ---- hand-over: O_NONBLOCK, our own writer and ChunkReader from here on ----
#include "session.hpp"

#include <librtmp/amf.h>
#include <librtmp/log.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>

namespace rtmp_load {
namespace {

thread_local std::string last_librtmp_error;
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

AVal aval(const char* s) { return AVal{const_cast<char*>(s), static_cast<int>(std::strlen(s))}; }

struct PacketGuard {
  RTMPPacket packet{};
  PacketGuard() = default;
  PacketGuard(const PacketGuard&) = delete;
  PacketGuard& operator=(const PacketGuard&) = delete;
  ~PacketGuard() { RTMPPacket_Free(&packet); }
};

int ms_until(Clock::time_point t) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 3600LL * 1000));
}

bool set_timeouts(int fd, std::uint32_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
         ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
}

// Reads until NetStream.Publish.Start; anything else decisive is an error.
bool wait_for_publish_start(RTMP* r, std::uint32_t timeout_ms, std::string& error) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (!RTMP_IsConnected(r)) {
      error = "closed by the server before NetStream.Publish.Start" + librtmp_detail();
      return false;
    }
    if (r->m_sb.sb_size <= 0) {
      const int wait = ms_until(deadline);
      if (wait == 0) {
        error = "no NetStream.Publish.Start within " + std::to_string(timeout_ms) + " ms";
        return false;
      }
      pollfd p{RTMP_Socket(r), POLLIN, 0};
      const int n = ::poll(&p, 1, wait);
      if (n < 0 && errno != EINTR) {
        error = std::string("poll: ") + std::strerror(errno);
        return false;
      }
      if (n <= 0) continue;
    }
    PacketGuard g;
    if (!RTMP_ReadPacket(r, &g.packet)) {
      error = r->m_sb.sb_timedout
                  ? "the server stopped in the middle of a message"
                  : "closed by the server before NetStream.Publish.Start" + librtmp_detail();
      return false;
    }
    if (!RTMPPacket_IsReady(&g.packet) || g.packet.m_nBodySize == 0) continue;
    const std::string_view payload(g.packet.m_body, g.packet.m_nBodySize);
    if (auto s = decode_status(g.packet.m_packetType, payload)) {
      if (s->name == "onStatus" && s->code == "NetStream.Publish.Start") return true;
      if (s->is_refusal()) {
        error = "publish refused: " + (s->code.empty() ? s->name : s->code);
        return false;
      }
    }
    RTMP_ClientPacket(r, &g.packet);
  }
}

// Set Chunk Size (type 1, chunk stream 2) before any media, as OBS and ffmpeg do.
bool send_chunk_size(RTMP* r, std::uint32_t size) {
  PacketGuard g;
  if (!RTMPPacket_Alloc(&g.packet, 4)) return false;
  g.packet.m_nChannel = 0x02;
  g.packet.m_headerType = RTMP_PACKET_SIZE_LARGE;
  g.packet.m_packetType = RTMP_PACKET_TYPE_CHUNK_SIZE;
  g.packet.m_nBodySize = 4;
  AMF_EncodeInt32(g.packet.m_body, g.packet.m_body + 4, static_cast<int>(size));
  if (!RTMP_SendPacket(r, &g.packet, FALSE)) return false;
  r->m_outChunkSize = static_cast<int>(size);
  return true;
}

// What librtmp read and knows that our reader must continue from.
void hand_over_incoming(RTMP* r, Session& s) {
  if (r->m_sb.sb_size > 0) {
    s.leftover.assign(r->m_sb.sb_start, static_cast<std::size_t>(r->m_sb.sb_size));
    r->m_sb.sb_size = 0;
  }
  s.reader.set_chunk_size(static_cast<std::uint32_t>(std::max(r->m_inChunkSize, 1)));
  for (int csid = 0; csid < r->m_channelsAllocatedIn; ++csid) {
    const RTMPPacket* p = r->m_vecChannelsIn[csid];
    if (p == nullptr) continue;
    ChunkReader::Seed seed;
    seed.csid = static_cast<std::uint32_t>(csid);
    seed.length = p->m_nBodySize;
    seed.type = p->m_packetType;
    seed.stream_id = static_cast<std::uint32_t>(p->m_nInfoField2);
    seed.extended_timestamp = p->m_nTimeStamp >= 0xFFFFFF;
    s.reader.seed(seed);
  }
  s.window = r->m_nServerBW > 0 ? static_cast<std::uint32_t>(r->m_nServerBW) : 0;
  s.bytes_in = static_cast<std::uint64_t>(std::max(r->m_nBytesIn, 0));
  s.last_ack = static_cast<std::uint64_t>(std::max(r->m_nBytesInSent, 0));
}

}  // namespace

std::optional<ServerStatus> decode_status(std::uint8_t type, std::string_view payload) {
  if (type == RTMP_PACKET_TYPE_FLEX_MESSAGE && !payload.empty()) {
    payload.remove_prefix(1);
  } else if (type != RTMP_PACKET_TYPE_INVOKE) {
    return std::nullopt;
  }
  if (payload.empty() || payload[0] != AMF_STRING) return std::nullopt;
  AMFObject obj{};
  if (AMF_Decode(&obj, payload.data(), static_cast<int>(payload.size()), FALSE) < 0) {
    AMF_Reset(&obj);
    return std::nullopt;
  }
  ServerStatus s;
  AVal v{};
  AMFProp_GetString(AMF_GetProp(&obj, nullptr, 0), &v);
  s.name = to_string(v);
  AMFObject info{};
  AMFProp_GetObject(AMF_GetProp(&obj, nullptr, 3), &info);
  const auto field = [&info](const char* name) {
    const AVal key = aval(name);
    AVal value{};
    AMFProp_GetString(AMF_GetProp(&info, &key, -1), &value);
    return to_string(value);
  };
  s.level = field("level");
  s.code = field("code");
  AMF_Reset(&obj);  // frees `info` too: a shallow copy of a property
  return s;
}

void RtmpDeleter::operator()(RTMP* r) const {
  RTMP_Close(r);
  RTMP_Free(r);
}

void install_librtmp_log(bool verbose) {
  verbose_log = verbose;
  RTMP_LogSetCallback(on_librtmp_log);
  RTMP_LogSetLevel(verbose ? RTMP_LOGDEBUG : RTMP_LOGERROR);
}

std::unique_ptr<Session> connect_publisher(Slot& slot, const ConnectSettings& settings,
                                           std::string& error) {
  last_librtmp_error.clear();
  auto s = std::make_unique<Session>();
  s->slot = &slot;
  s->rtmp.reset(RTMP_Alloc());
  if (!s->rtmp) {
    error = "RTMP_Alloc failed";
    return nullptr;
  }
  RTMP* r = s->rtmp.get();
  RTMP_Init(r);
  s->url.assign(slot.url.begin(), slot.url.end());
  s->url.push_back('\0');
  if (!RTMP_SetupURL(r, s->url.data()) || r->Link.playpath.av_len <= 0 ||
      r->Link.protocol != RTMP_PROTOCOL_RTMP) {
    error = "bad URL (expected rtmp://host:port/app/key)";
    return nullptr;
  }
  r->Link.timeout =
      static_cast<int>(std::max<std::uint32_t>(1, (settings.timeout_ms + 999) / 1000));
  RTMP_EnableWrite(r);

  // Resolve here (getaddrinfo is thread-safe; librtmp's own lookup may not be),
  // IPv4 as librtmp's RTMP_Connect0 takes.
  const std::string host = to_string(r->Link.hostname);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    error = "cannot resolve the host: " + std::string(::gai_strerror(rc));
    return nullptr;
  }
  sockaddr_in service{};
  std::memcpy(&service, found->ai_addr, sizeof service);
  ::freeaddrinfo(found);
  service.sin_port = htons(r->Link.port);
  if (!RTMP_Connect0(r, reinterpret_cast<sockaddr*>(&service))) {
    error = "TCP connect failed" + librtmp_detail();
    return nullptr;
  }
  s->fd = RTMP_Socket(r);
  if (settings.nagle) {
    // RTMP_Connect0 set TCP_NODELAY; ffmpeg's tcp.c leaves it off (tcp_nodelay=0), so
    // its 8-byte header writes wait for the previous segment's ACK and often leave
    // with the body: fewer, larger segments reach the server than ffmpeg writes.
    const int off = 0;
    ::setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &off, sizeof off);
  }
  if (settings.sndbuf > 0) {
    // Room for a few seconds of media, so bursts (keyframes) go out in one write
    // and a server that reads late costs us no extra wake-ups.
    ::setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &settings.sndbuf, sizeof settings.sndbuf);
  }
  if (!set_timeouts(s->fd, settings.timeout_ms)) {
    error = std::string("setsockopt: ") + std::strerror(errno);
    return nullptr;
  }
  r->m_bSendCounter = 1;  // what RTMP_Connect sets between its two halves
  if (!RTMP_Connect1(r, nullptr)) {
    error = r->m_sb.sb_timedout ? "RTMP handshake timed out"
                                : "RTMP handshake or connect failed" + librtmp_detail();
    return nullptr;
  }
  if (!wait_for_publish_start(r, settings.timeout_ms, error)) return nullptr;
  if (!send_chunk_size(r, settings.chunk_size)) {
    error = "connection lost sending Set Chunk Size" + librtmp_detail();
    return nullptr;
  }
  s->stream_id = static_cast<std::uint32_t>(std::max(r->m_stream_id, 0));
  hand_over_incoming(r, *s);
  const int flags = ::fcntl(s->fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    error = std::string("fcntl: ") + std::strerror(errno);
    return nullptr;
  }
  return s;
}

}  // namespace rtmp_load
