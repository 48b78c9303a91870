// Sender threads of rtmp-load (see worker.hpp).
#include "worker.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace rtmp_load {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::uint64_t wake_id = 0;
// Enough for a keyframe of the tag pattern in one writev: a header, then a body
// and a format 3 header per chunk.
constexpr std::size_t max_iov = 256;
constexpr auto idle_wait = milliseconds(100);  // re-check stop and inbox at least this often

// RTMP message types and User Control events we answer (RTMP spec 5.4, 6.2).
constexpr std::uint8_t msg_acknowledgement = 3;
constexpr std::uint8_t msg_user_control = 4;
constexpr std::uint8_t msg_window_ack_size = 5;
constexpr std::uint16_t event_ping_request = 6;
constexpr std::uint16_t event_ping_response = 7;

std::int64_t realtime_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void put_be(std::uint8_t* out, std::uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
}

// A format 0 chunk header: fmt 0 + csid, timestamp, length, type, stream id (LE).
void put_full_header(std::uint8_t* out, std::uint8_t csid, std::uint32_t length,
                     std::uint8_t type) {
  out[0] = csid;
  put_be(out + 1, 0, 3);
  put_be(out + 4, length, 3);
  out[7] = type;
  put_be(out + 8, 0, 4);
}

std::uint32_t be32(std::string_view b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

}  // namespace

Worker::Worker(const Media& media, const WorkerSettings& settings, Totals& totals,
               SessionOver on_over)
    : media_(media),
      settings_(settings),
      totals_(totals),
      on_over_(std::move(on_over)),
      read_buffer_(64 * 1024) {}

Worker::~Worker() {
  if (thread_.joinable()) {
    stop();
    join();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Worker::start(std::string& error) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    error = std::string("epoll/eventfd: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    error = std::string("epoll_ctl: ") + std::strerror(errno);
    return false;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void Worker::adopt(std::unique_ptr<Session> session) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(session));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void Worker::stop() {
  stop_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  std::vector<epoll_event> events(512);
  while (!stop_.load(std::memory_order_relaxed)) {
    closed_.clear();
    take_inbox();
    run_due_timers();

    auto wait = idle_wait;
    if (!timers_.empty()) {
      const auto left = timers_.top().when - Clock::now();
      // Round up: waking a little after the due time, never spinning before it.
      wait =
          std::min(wait, std::chrono::ceil<milliseconds>(std::max(left, Clock::duration::zero())));
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(wait.count()));
    ++wakeups_;
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
      const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      if (id == wake_id) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      auto found = sessions_.find(id);
      if (found == sessions_.end()) continue;  // closed earlier in this batch
      Session& s = *found->second;
      // Read first: a status or close from the server explains an error that follows.
      if ((what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && !read_incoming(id, s)) {
        continue;
      }
      if ((what & EPOLLERR) != 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        drop(id, s, std::string("socket error: ") + std::strerror(err != 0 ? err : EIO));
        continue;
      }
      if ((what & EPOLLOUT) != 0 && !s.queue.empty() && !flush(id, s)) continue;
      if (s.pacer->done() && s.queue.empty()) finish(id, s);
    }
  }
  // Stopped: close what is still open, as an encoder that is switched off would.
  open_at_stop_ = sessions_.size();
  std::vector<std::uint64_t> ids;
  ids.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  for (const auto id : ids) close_session(id, *sessions_.at(id), true);
  std::lock_guard lock(inbox_mutex_);
  open_at_stop_ += inbox_.size();
  inbox_.clear();
}

void Worker::take_inbox() {
  std::vector<std::unique_ptr<Session>> arrived;
  {
    std::lock_guard lock(inbox_mutex_);
    arrived.swap(inbox_);
  }
  for (auto& session : arrived) {
    const std::uint64_t id = next_id_++;
    Session& s = *session;
    epoll_event ev{};
    // Edge-triggered: reads go on until EAGAIN, writes until EAGAIN or an empty queue.
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = id;
    sessions_.emplace(id, std::move(session));
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
      drop(id, s, std::string("epoll_ctl: ") + std::strerror(errno));
      continue;
    }
    s.start = Clock::now();
    s.pacer.emplace(media_, settings_.pace_ms, s.end_ms);
    if (!s.leftover.empty()) {
      // Bytes librtmp had already read: the server's first messages after the publish.
      std::string bytes = std::move(s.leftover);
      s.leftover.clear();
      bool alive = true;
      const std::string error = s.reader.feed(bytes, [&](const RtmpMessage& m) {
        if (alive) alive = handle_message(id, s, m);
      });
      if (!alive) continue;
      if (!error.empty()) {
        drop(id, s, "protocol error from the server: " + error);
        continue;
      }
    }
    schedule(id, s, s.start);
  }
}

void Worker::schedule(std::uint64_t id, Session& s, Clock::time_point when) {
  ++s.generation;
  timers_.push(Due{when, id, s.generation});
}

void Worker::run_due_timers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().when <= now) {
    const Due due = timers_.top();
    timers_.pop();
    auto found = sessions_.find(due.id);
    if (found == sessions_.end() || found->second->generation != due.generation) continue;
    service(due.id, *found->second, due.when, now);
    now = Clock::now();
  }
}

// A session's timer fired (it was set for `look`): queue what its pacer hands
// out now, write, and set the next timer.
void Worker::service(std::uint64_t id, Session& s, Clock::time_point look, Clock::time_point now) {
  Pacer& pacer = *s.pacer;
  const auto elapsed = duration_cast<microseconds>(now - s.start).count();
  released_.clear();
  pacer.take(elapsed, std::int64_t{settings_.batch_ms} * 1000, released_);
  for (const TimedTag& t : released_) queue_media(s, t, look, now);
  if (!s.queue.empty() && !flush(id, s)) return;
  if (!s.queue.empty() && now - s.queue.front().due > milliseconds(settings_.max_backlog_ms)) {
    drop(id, s, "send backlog over --max-backlog-ms (the server stopped reading)");
    return;
  }
  if (pacer.done() && s.queue.empty()) {
    finish(id, s);
    return;
  }
  // Media left: the pacer's next look; only draining: look at the backlog again soon.
  schedule(id, s,
           pacer.done() ? now + idle_wait : s.start + microseconds(pacer.next_look_us(elapsed)));
}

// Queues one tag behind its chunk header, as the pattern's client would write it.
// Timestamps stay below 0xFFFFFF (--duration is capped): no extended field.
void Worker::queue_media(Session& s, const TimedTag& t, Clock::time_point look,
                         Clock::time_point now) {
  const MediaTag& tag = *t.tag;
  Pending p;
  std::uint8_t csid = 0;
  const MessageInfo info{tag.type, tag.size, static_cast<std::uint32_t>(t.time_ms), s.stream_id};
  p.head_size =
      static_cast<std::uint8_t>(s.headers.encode(settings_.pattern, info, p.head.data(), csid));
  p.marker = static_cast<std::uint8_t>(0xC0 | csid);
  p.chunk_size = settings_.chunk_size;
  p.tag = &tag;
  p.timestamp = static_cast<std::uint32_t>(t.time_ms);
  p.due = s.start + milliseconds(t.time_ms);
  s.queue.push_back(p);
  // The generator's own lag: from when the tag was due, or the pacer meant to look
  // if that is later (ffmpeg -re's grid), to now.
  schedule_lateness_.add(duration_cast<microseconds>(now - std::max(p.due, look)).count());
}

// Writes queued messages until the queue is empty or the socket is full: one
// syscall per piece the pattern cuts a message into (a partial write goes on
// from where it stopped, the pieces after it unchanged), or for `tag` as many
// whole messages as one writev takes.
bool Worker::flush(std::uint64_t id, Session& s) {
  const Pattern pattern = settings_.pattern;
  while (!s.queue.empty()) {
    iovec iov[max_iov];
    std::size_t count = 0;
    for (auto it = s.queue.begin(); it != s.queue.end() && count < max_iov; ++it) {
      const WireMessage m = it->wire();
      const std::size_t end = write_end(pattern, m, it->written);
      count += gather(m, it->written, end, iov + count, max_iov - count);
      if (!coalesces(pattern) || end < m.size()) break;
    }
    const ssize_t n = ::writev(s.fd, iov, static_cast<int>(count));
    ++writes_;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_backlogged(s, true);
        return true;  // EPOLLOUT (edge) brings us back when there is room
      }
      drop(id, s, std::string("write: ") + std::strerror(errno));
      return false;
    }
    const auto now = Clock::now();
    auto left = static_cast<std::size_t>(n);
    s.slot->bytes_sent += left;
    totals_.bytes_sent.fetch_add(left, std::memory_order_relaxed);
    while (left > 0 && !s.queue.empty()) {
      Pending& front = s.queue.front();
      const std::size_t rest = front.wire().size() - front.written;
      if (left < rest) {
        front.written += left;
        break;
      }
      left -= rest;
      if (front.tag != nullptr) {
        ++s.slot->tags_sent;
        totals_.tags_sent.fetch_add(1, std::memory_order_relaxed);
        write_lateness_.add(duration_cast<microseconds>(now - front.due).count());
        if (front.tag->keyframe) {
          s.slot->keyframes.push_back(KeyframeRecord{s.number, front.timestamp, realtime_ms()});
        }
      }
      s.queue.pop_front();
    }
  }
  set_backlogged(s, false);
  return true;
}

void Worker::set_backlogged(Session& s, bool backlogged) {
  if (s.backlogged == backlogged) return;
  s.backlogged = backlogged;
  if (backlogged) {
    totals_.backlogged.fetch_add(1, std::memory_order_relaxed);
  } else {
    totals_.backlogged.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool Worker::read_incoming(std::uint64_t id, Session& s) {
  for (;;) {
    const ssize_t n = ::recv(s.fd, read_buffer_.data(), read_buffer_.size(), 0);
    if (n == 0) {
      drop(id, s, "closed by the server");
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      drop(id, s, std::string("read: ") + std::strerror(errno));
      return false;
    }
    s.bytes_in += static_cast<std::uint64_t>(n);
    bool alive = true;
    const std::string error =
        s.reader.feed(std::string_view(read_buffer_.data(), static_cast<std::size_t>(n)),
                      [&](const RtmpMessage& m) {
                        if (alive) alive = handle_message(id, s, m);
                      });
    if (!alive) return false;
    if (!error.empty()) {
      drop(id, s, "protocol error from the server: " + error);
      return false;
    }
    // Acknowledge each window's worth of bytes received (RTMP spec 5.4.3).
    if (s.window > 0 && s.bytes_in - s.last_ack >= s.window) {
      std::uint8_t body[4];
      put_be(body, static_cast<std::uint32_t>(s.bytes_in), 4);
      queue_control(s, msg_acknowledgement, body, 4);
      s.last_ack = s.bytes_in;
      if (!flush(id, s)) return false;
    }
  }
}

// One message from the server. False when it ended the session.
bool Worker::handle_message(std::uint64_t id, Session& s, const RtmpMessage& m) {
  if (m.type == msg_window_ack_size && m.payload.size() >= 4) {
    s.window = be32(m.payload, 0);
  } else if (m.type == msg_user_control && m.payload.size() >= 6) {
    const auto event = static_cast<std::uint16_t>((static_cast<unsigned char>(m.payload[0]) << 8) |
                                                  static_cast<unsigned char>(m.payload[1]));
    if (event == event_ping_request) {
      // nginx-rtmp drops a client that does not answer its pings.
      std::uint8_t body[6];
      put_be(body, event_ping_response, 2);
      std::memcpy(body + 2, m.payload.data() + 2, 4);
      queue_control(s, msg_user_control, body, 6);
      return flush(id, s);
    }
  } else if (auto status = decode_status(m.type, m.payload); status && status->is_refusal()) {
    drop(id, s,
         "the server ended the publish: " + (status->code.empty() ? status->name : status->code));
    return false;
  }
  return true;
}

// A control message on chunk stream 2, stream 0, queued behind whole messages so
// it never lands inside a media message's chunks. One write in every pattern
// (ffmpeg would make it two): one every acknowledgement window or ping.
void Worker::queue_control(Session& s, std::uint8_t type, const std::uint8_t* body,
                           std::uint8_t size) {
  Pending p;
  put_full_header(p.head.data(), 2, size, type);
  std::memcpy(p.head.data() + 12, body, size);
  p.head_size = static_cast<std::uint8_t>(12 + size);
  p.due = Clock::now();
  s.queue.push_back(p);
}

void Worker::drop(std::uint64_t id, Session& s, const std::string& reason) {
  Slot& slot = *s.slot;
  ++slot.drops;
  slot.last_error = reason;
  drop_reasons_.add(reason);
  totals_.dropped.fetch_add(1, std::memory_order_relaxed);
  close_session(id, s, false);
  on_over_(slot, true);
}

void Worker::finish(std::uint64_t id, Session& s) {
  Slot& slot = *s.slot;
  ++slot.completed;
  totals_.completed.fetch_add(1, std::memory_order_relaxed);
  close_session(id, s, true);
  on_over_(slot, false);
}

// Clean: librtmp sends FCUnpublish and deleteStream (the queue is empty, or the
// stream is being stopped) and closes. Otherwise the socket is closed without a
// word, since a half-written message may be in flight.
void Worker::close_session(std::uint64_t id, Session& s, bool clean) {
  set_backlogged(s, false);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
  RTMP* r = s.rtmp.get();
  const bool mid_message = !s.queue.empty() && s.queue.front().written > 0;
  if (!clean || mid_message) r->m_stream_id = 0;  // RTMP_Close then sends nothing
  s.rtmp.reset();                                 // RTMP_Close + RTMP_Free
  totals_.active.fetch_sub(1, std::memory_order_relaxed);
  auto found = sessions_.find(id);
  closed_.push_back(std::move(found->second));
  sessions_.erase(found);
}

}  // namespace rtmp_load
