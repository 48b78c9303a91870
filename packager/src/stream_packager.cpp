// HLS segments and playlist, and the fMP4 recording, for one stream.
#include "souk/packager/stream_packager.hpp"

#include "souk/log.hpp"
#include "souk/metrics.hpp"
#include "souk/time.hpp"
#include "souk/packager/codec_config.hpp"

#include <fcntl.h>  // AT_FDCWD

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace souk::packager {
namespace fs = std::filesystem;
using ingest::Frame;
using ingest::MediaKind;

namespace {

// Process-wide media metrics (every stream's packager adds to the same series).
struct PackagerMetrics {
  metrics::Counter& segments_written;
  metrics::Histogram& segment_availability;
  metrics::Counter& recordings_finalized;
  metrics::Counter& recordings_failed;
};

// The fragmented recording `fragmented` as a plain MP4 at `out` (after what
// `out` already holds). Throws on failure.
void append_recording(const fs::path& fragmented, const fs::path& out);

PackagerMetrics& packager_metrics() {
  static PackagerMetrics m = [] {
    auto& r = metrics::Registry::global();
    auto& recordings = r.counter("souk_recordings_finalized_total",
                                 "Recordings turned into a VOD file, by result (ok, failed).",
                                 {"result"}, 2);
    return PackagerMetrics{
        r.counter("souk_hls_segments_written_total", "HLS segments written whole and listed.").get(),
        r.histogram("souk_hls_segment_availability_seconds",
                    "Time from the arrival of the keyframe that closes a segment to the playlist listing it.",
                    metrics::latency_buckets())
            .get(),
        recordings.with({"ok"}), recordings.with({"failed"})};
  }();
  return m;
}


// Waiting longer than this for the second codec's sequence header means the
// stream has only one kind of media.
constexpr std::int64_t codec_wait_ms = 1000;

PacketPtr packet_of(const Frame& f, std::int64_t offset_ms = 0) {
  PacketPtr pkt(av_packet_alloc());
  const auto data = f.data();
  check_av(av_new_packet(pkt.get(), static_cast<int>(data.size())), "allocate packet");
  std::memcpy(pkt->data, data.data(), data.size());
  pkt->dts = f.dts_ms + offset_ms;
  pkt->pts = std::max(f.pts_ms, f.dts_ms) + offset_ms;
  if (f.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
  return pkt;
}

// A segment's file name: seg-NNNNNN.ts, its sequence number zero-padded to six digits.
std::string segment_name(std::uint64_t sequence) {
  char name[32];
  std::snprintf(name, sizeof name, "seg-%06llu.ts", static_cast<unsigned long long>(sequence));
  return name;
}

// The sequence number in a segment's name (seg-NNNNNN.ts); nullopt for other names.
std::optional<std::uint64_t> segment_sequence(std::string_view name) {
  constexpr std::string_view prefix = "seg-", suffix = ".ts";
  if (!name.starts_with(prefix) || !name.ends_with(suffix)) return std::nullopt;
  const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::string& text,
                           const std::function<void(const fs::path& written)>& before_rename) {
  const auto tmp = fs::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      const int err = errno;
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      throw std::runtime_error("write " + tmp.string() + " failed: " + std::strerror(err));
    }
  }
  if (before_rename) before_rename(tmp);
  // Readers see the old contents or the new, never half. Exchanging the names
  // keeps the old version as the next temporary file, so a live playlist,
  // rewritten every segment, allocates and frees no inode: on ext4 without a
  // journal each allocation scans past every inode freed in the last half
  // minute (with the segments' files, a tenth of ingest's CPU at 50
  // publishers; see retire_file). A reader still holding
  // the version before the last finds it overwritten; nothing reads a playlist
  // file for that long (the HTTP server reads it whole, or from the cache).
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) return;
  fs::rename(tmp, path);  // the first version, or a file system that cannot exchange
}

fs::path hls_dir(const PackagerOptions& o, const std::string& id) { return o.data_dir / "hls" / id; }
fs::path recording_path(const PackagerOptions& o, const std::string& id) {
  return o.data_dir / "vod" / (id + ".rec.mp4");
}
fs::path vod_path(const PackagerOptions& o, const std::string& id) {
  return o.data_dir / "vod" / (id + ".mp4");
}

StreamPackager::StreamPackager(std::string stream_id, const PackagerOptions& options, bool record)
    : id_(std::move(stream_id)),
      options_(options),
      record_(record),
      dir_(hls_dir(options, id_)),
      playlist_(options.segment_seconds, options.playlist_window) {
  fs::create_directories(dir_);
  if (record_) fs::create_directories(options_.data_dir / "vod");
  // After a restart the stream continues the playlist it had (the next
  // publisher starts after a discontinuity).
  std::ifstream in(dir_ / "index.m3u8", std::ios::binary);
  if (in) {
    std::ostringstream text;
    text << in.rdbuf();
    if (playlist_.restore(text.str()) && !playlist_.segments().empty()) {
      published_before_ = true;
      adopt_retired_files();
      log::info("packager: continuing the playlist",
                {{"stream_id", id_}, {"next_sequence", static_cast<std::uint64_t>(playlist_.next_sequence())}});
    }
  }
}

StreamPackager::~StreamPackager() = default;

void StreamPackager::publish_started() {
  // A publisher after the first continues the same playlist, marked as a
  // discontinuity (new timestamps, maybe new encoder settings).
  if (published_before_) discontinuity_next_ = true;
  published_before_ = true;
  record_resync_ = recording_ != nullptr;
}

void StreamPackager::frame(const Frame& f, std::int64_t wall_clock_ms) {
  if (f.sequence_header) {
    auto par = f.kind == MediaKind::video ? h264_parameters(f.data()) : aac_parameters(f.data());
    if (!par) {
      log::warn("packager: unusable sequence header", {{"stream_id", id_},
                                                      {"track", f.kind == MediaKind::video ? "video" : "audio"}});
      return;
    }
    (f.kind == MediaKind::video ? video_par_ : audio_par_) = std::move(par);
    if (f.kind == MediaKind::video) {
      avc_ = AvcStream::from_avcc(f.data());
    } else {
      adts_ = AdtsStream::from_audio_specific_config(f.data());
    }
    return;
  }
  if ((f.kind == MediaKind::video && f.codec_id != ingest::codec_avc) ||
      (f.kind == MediaKind::audio && f.codec_id != ingest::codec_aac)) {
    return;  // only H.264 and AAC are packaged
  }
  if (!outputs_ready_) {
    pending_.push_back({f, wall_clock_ms});
    const bool both = video_par_ && audio_par_;
    const bool waited = pending_.back().frame.dts_ms - pending_.front().frame.dts_ms >= codec_wait_ms;
    if (!video_par_ && !audio_par_) {
      // No usable sequence header (yet): keep only the last moments, not all.
      while (pending_.size() > 1 &&
             pending_.back().frame.dts_ms - pending_.front().frame.dts_ms > codec_wait_ms) {
        pending_.erase(pending_.begin());
      }
      return;
    }
    if (!both && !waited) return;
    set_up_outputs();
    auto pending = std::move(pending_);
    pending_.clear();
    for (const auto& p : pending) frame(p.frame, p.wall_clock_ms);
    return;
  }
  write_hls(f, wall_clock_ms);
  if (recording_) write_recording(f);
}

void StreamPackager::set_up_outputs() {
  outputs_ready_ = true;
  if (!record_) return;
  AVDictionary* opts = nullptr;
  // Fragment at each keyframe and flush each packet, so a crash loses at most
  // the fragment being written.
  av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  av_dict_set(&opts, "flush_packets", "1", 0);
  try {
    recording_ = std::make_unique<OutputFile>(recording_path(options_, id_).string(), "mp4",
                                              video_par_.get(), audio_par_.get(), &opts);
    recording_whole_bytes_ = static_cast<std::uintmax_t>(recording_->bytes_written());
  } catch (const AvError& e) {
    log::error("packager: cannot start the recording", {{"stream_id", id_}, {"error", e.what()}});
  }
  av_dict_free(&opts);
}

void StreamPackager::write_hls(const Frame& f, std::int64_t wall_clock_ms) {
  const bool has_video = video_par_ != nullptr;
  const bool cut_point = has_video ? (f.kind == MediaKind::video && f.keyframe) : true;
  if (segment_ && cut_point &&
      static_cast<double>(f.dts_ms - segment_start_dts_) >= options_.segment_seconds * 1000) {
    close_segment(f.dts_ms, wall_clock_ms);
  }
  if (!segment_) {
    if (hls_failing_ && !cut_point) return;  // after a failed write, try again at a keyframe
    open_segment(f, wall_clock_ms);
  }
  if (!segment_) return;
  const int index = f.kind == MediaKind::video ? segment_->video_index() : segment_->audio_index();
  if (index < 0) return;
  // Video before the segment's first keyframe cannot be decoded: drop it. Audio
  // is kept, so audio that precedes the first keyframe is not lost.
  if (f.kind == MediaKind::video) {
    if (!f.keyframe && !segment_has_keyframe_) return;
    segment_has_keyframe_ = true;
  }
  try {
    auto pkt = hls_packet(f);
    if (!pkt) return;  // NAL lengths that run past the frame: nothing a player could decode
    segment_->write(index, pkt.get());
    last_dts_ = std::max(last_dts_, f.dts_ms);
  } catch (const AvError& e) {
    abandon_segment("write", e.what());
  }
}

PacketPtr StreamPackager::hls_packet(const Frame& f) const {
  PacketPtr pkt;
  if (f.kind == MediaKind::video) {
    if (!avc_) return nullptr;  // h264_parameters accepted no record it rejects
    pkt = annexb_packet(f.data(), *avc_);
  } else {
    pkt = adts_ ? adts_->packet(f.data()) : packet_of(f);  // the muxer adds ADTS itself
  }
  if (!pkt) return nullptr;
  pkt->dts = f.dts_ms;
  pkt->pts = std::max(f.pts_ms, f.dts_ms);
  if (f.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
  return pkt;
}

void StreamPackager::open_segment(const Frame& f, std::int64_t wall_clock_ms) {
  segment_uri_ = segment_name(playlist_.next_sequence());
  // The cache may hold a file of this name (one abandoned, then read by a client
  // that guessed it): it goes before the file is written anew.
  uncache(dir_ / segment_uri_);
  take_spare(dir_ / segment_uri_);
  try {
    // Frames arrive in the publisher's order: no interleaving queue to hold them.
    segment_ = std::make_unique<OutputFile>((dir_ / segment_uri_).string(), "mpegts",
                                            video_par_.get(), audio_par_.get(), nullptr,
                                            OutputFile::Order::as_written);
  } catch (const AvError& e) {
    abandon_segment("open", e.what());
    return;
  }
  segment_start_dts_ = f.dts_ms;
  last_dts_ = f.dts_ms;
  segment_wall_clock_ = wall_clock_ms;
  segment_has_keyframe_ = false;
}

void StreamPackager::close_segment(std::int64_t end_dts_ms, std::int64_t closing_arrival_ms) {
  if (!segment_) return;
  try {
    segment_->finish();
  } catch (const AvError& e) {
    return abandon_segment("close", e.what());
  }
  segment_.reset();
  cache_file(dir_ / segment_uri_);
  HlsSegment s;
  s.uri = segment_uri_;
  s.duration = static_cast<double>(std::max<std::int64_t>(end_dts_ms - segment_start_dts_, 1)) / 1000.0;
  s.wall_clock_ms = segment_wall_clock_;
  s.discontinuity = discontinuity_next_;
  discontinuity_next_ = false;
  remove_old_segments(playlist_.add(std::move(s)));
  const bool listed = write_playlist();
  auto& m = packager_metrics();
  m.segments_written.inc();
  if (listed && closing_arrival_ms > 0) {
    // Wall-clock milliseconds at both ends (the frame's arrival is stamped so).
    m.segment_availability.observe(
        static_cast<double>(std::max<std::int64_t>(now_millis() - closing_arrival_ms, 0)) / 1000.0);
  }
}

bool StreamPackager::write_playlist() {
  const auto path = dir_ / "index.m3u8";
  const auto text = std::make_shared<const std::string>(playlist_.render());
  try {
    write_file_atomically(path, *text, [&](const fs::path& written) {
      // The cached copy goes in just before the rename, with the modification time
      // the file keeps across it: the cache is never older than the file, and both
      // give the same ETag and Last-Modified.
      if (options_.cache == nullptr || !options_.cache->enabled()) return;
      if (const auto modified = file_modified(written)) {
        options_.cache->put(path.string(), {text, nullptr, *modified});
      } else {
        uncache(path);
      }
    });
  } catch (const std::exception& e) {
    // Players keep the previous playlist (from disk: a copy cached before a failed
    // rename is not on disk); the next segment's write tries again.
    uncache(path);
    hls_failed("playlist", e.what());
    return false;
  }
  if (hls_failing_) {
    hls_failing_ = false;
    log::info("packager: HLS resumed", {{"stream_id", id_}});
  }
  return true;
}

void StreamPackager::abandon_segment(const char* step, const std::string& error) {
  // A segment that could not be written whole is never listed: its file goes
  // (which also gives back the space), and the playlist marks the gap.
  segment_.reset();
  std::error_code ec;
  fs::remove(dir_ / segment_uri_, ec);
  uncache(dir_ / segment_uri_);  // a reader may have copied part of it
  discontinuity_next_ = true;
  hls_failed(step, error);
}

void StreamPackager::hls_failed(const char* step, const std::string& error) {
  if (hls_failing_) return;  // said once per outage, not once per frame
  hls_failing_ = true;
  log::error("packager: HLS paused, media cannot be written; retrying at each keyframe",
             {{"stream_id", id_}, {"step", step}, {"error", error}});
}

void StreamPackager::remove_old_segments(const std::vector<HlsSegment>& gone) {
  // A player that loaded the previous playlist may still fetch what just left
  // it: keep one more window's worth before deleting.
  for (const auto& s : gone) retired_.push_back(s.uri);
  while (retired_.size() > options_.playlist_window) {
    retire_file(dir_ / retired_.front());
    retired_.erase(retired_.begin());
  }
}

void StreamPackager::adopt_retired_files() {
  // Segments the last run had retired but not yet deleted: retired again, oldest
  // first, so they go (or are reused) as the window moves, instead of staying.
  const auto first_listed = segment_sequence(playlist_.segments().front().uri);
  if (!first_listed) return;
  std::vector<std::pair<std::uint64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    auto name = e.path().filename().string();
    const auto n = segment_sequence(name);
    if (n && *n < *first_listed) found.emplace_back(*n, std::move(name));
  }
  std::sort(found.begin(), found.end());
  for (auto& f : found) retired_.push_back(std::move(f.second));
}

fs::path StreamPackager::spare_path() const { return dir_ / "spare.ts.tmp"; }

void StreamPackager::retire_file(const fs::path& path) {
  std::error_code ec;
  const bool cached = options_.cache != nullptr && options_.cache->enabled();
  if (!has_spare_ && cached) {
    fs::rename(path, spare_path(), ec);  // the name goes first: no reader can open it now
  }
  if (has_spare_ || !cached || ec) {
    fs::remove(path, ec);
    uncache(path);
    return;
  }
  // Our readers of a cached segment go through its entry: bytes are copies, and
  // a held file that nobody else shares has no reader left. A file the cache
  // does not hold may be being streamed from disk: it is deleted instead.
  const auto entry = options_.cache->take(path.string());
  has_spare_ = entry && (entry->bytes || entry->file.use_count() == 1);
  if (!has_spare_) fs::remove(spare_path(), ec);
}

void StreamPackager::take_spare(const fs::path& path) {
  if (!std::exchange(has_spare_, false)) return;
  std::error_code ec;
  fs::rename(spare_path(), path, ec);  // the muxer truncates it; on failure it creates the file
  if (ec) fs::remove(spare_path(), ec);
}

void StreamPackager::drop_spare() {
  if (!std::exchange(has_spare_, false)) return;
  std::error_code ec;
  fs::remove(spare_path(), ec);
}

void StreamPackager::cache_file(const fs::path& path) {
  auto* cache = options_.cache;
  if (cache == nullptr || !cache->enabled()) return;
  // Size and time first: the bytes read after them are this version's, as the
  // file is finished (a size that no longer matches keeps it out). A request
  // before this is done reads the segment through, as after a restart.
  auto load = [cache, path] {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto modified = file_modified(path);
    auto entry = !ec && modified && cache->admits(size) ? FileCache::load(path, size, *modified)
                                                        : std::nullopt;
    if (entry) {
      cache->put(path.string(), std::move(*entry));
    } else {
      cache->erase(path.string());
    }
  };
  if (options_.background) {
    options_.background(std::move(load));
  } else {
    load();
  }
}

void StreamPackager::uncache(const fs::path& path) {
  if (options_.cache != nullptr) options_.cache->erase(path.string());
}

void StreamPackager::write_recording(const Frame& f) {
  const int index = f.kind == MediaKind::video ? recording_->video_index() : recording_->audio_index();
  if (index < 0) return;
  if (record_resync_) {
    // A new publisher starts its clock again: continue the recording's clock.
    // It starts one frame after the last one, not at the same instant.
    record_offset_ms_ = record_last_dts_ + record_frame_ms_ - f.dts_ms;
    record_resync_ = false;
  }
  const std::int64_t dts = f.dts_ms + record_offset_ms_;
  if (dts < 0) return;
  try {
    auto pkt = packet_of(f, record_offset_ms_);
    recording_->write(index, pkt.get());
    if (f.kind == MediaKind::video && dts > record_last_video_dts_ && record_last_video_dts_ >= 0 &&
        dts - record_last_video_dts_ <= 1000) {
      record_frame_ms_ = dts - record_last_video_dts_;
    }
    if (f.kind == MediaKind::video) record_last_video_dts_ = std::max(record_last_video_dts_, dts);
    record_last_dts_ = std::max(record_last_dts_, dts);
    recording_whole_bytes_ = static_cast<std::uintmax_t>(recording_->bytes_written());
  } catch (const AvError& e) {
    // The muxer's output is unusable after a failed write. Every fragment
    // flushed before it is whole: cut the file back to them (which also gives
    // back the space), and the VOD is made from those.
    recording_.reset();
    std::error_code ec;
    fs::resize_file(recording_path(options_, id_), recording_whole_bytes_, ec);
    log::error("packager: recording stopped, the VOD keeps what was written before",
               {{"stream_id", id_}, {"error", e.what()}});
  }
}

void StreamPackager::publish_stopped() {
  close_segment(last_dts_ + 1);
}

std::optional<fs::path> StreamPackager::end() {
  close_segment(last_dts_ + 1);
  playlist_.end();
  if (published_before_) write_playlist();
  drop_spare();
  if (recording_) {
    try {
      recording_->finish();
    } catch (const AvError& e) {
      log::warn("packager: recording close failed", {{"stream_id", id_}, {"error", e.what()}});
    }
    recording_.reset();
  }
  const auto part = recording_path(options_, id_);
  std::error_code ec;
  if (!record_ || !fs::exists(part, ec)) return std::nullopt;
  const auto out = vod_path(options_, id_);
  try {
    finalize_recording(part, out);
  } catch (const std::exception& e) {
    log::error("packager: recording finalize failed", {{"stream_id", id_}, {"error", e.what()}});
    return std::nullopt;
  }
  return out;
}

namespace {

// An input file opened for reading, closed with its owner.
struct InputFile {
  explicit InputFile(const fs::path& path) {
    check_av(avformat_open_input(&ctx, path.c_str(), nullptr, nullptr), "open recording");
    if (const int err = avformat_find_stream_info(ctx, nullptr); err < 0) {
      avformat_close_input(&ctx);
      throw AvError("read recording", err);
    }
  }
  ~InputFile() { avformat_close_input(&ctx); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int first_stream(AVMediaType type) const {
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
      if (ctx->streams[i]->codecpar->codec_type == type) return static_cast<int>(i);
    }
    return -1;
  }

  AVFormatContext* ctx = nullptr;
};

}  // namespace

// Counted here, so a recording finalized at end and one after a restart both are.
void finalize_recording(const fs::path& fragmented, const fs::path& out) {
  try {
    append_recording(fragmented, out);
  } catch (...) {
    packager_metrics().recordings_failed.inc();
    throw;
  }
  packager_metrics().recordings_finalized.inc();
}

namespace {

void append_recording(const fs::path& fragmented, const fs::path& out) {
  // A VOD already there is the part recorded before a restart: the new part
  // follows it in the same file.
  std::vector<std::unique_ptr<InputFile>> inputs;
  std::error_code ec;
  if (fs::exists(out, ec)) inputs.push_back(std::make_unique<InputFile>(out));
  inputs.push_back(std::make_unique<InputFile>(fragmented));

  const auto& first = *inputs.front();
  const int video_first = first.first_stream(AVMEDIA_TYPE_VIDEO);
  const int audio_first = first.first_stream(AVMEDIA_TYPE_AUDIO);
  const auto tmp = fs::path(out.string() + ".tmp");
  struct DictionaryOwner {
    AVDictionary* d = nullptr;
    ~DictionaryOwner() { av_dict_free(&d); }
  } opts;
  av_dict_set(&opts.d, "movflags", "faststart", 0);  // moov before mdat: seekable at once
  try {
    OutputFile file(tmp.string(), "mp4",
                    video_first >= 0 ? first.ctx->streams[video_first]->codecpar : nullptr,
                    audio_first >= 0 ? first.ctx->streams[audio_first]->codecpar : nullptr, &opts.d);
    PacketPtr pkt(av_packet_alloc());
    std::int64_t offset_ms = 0;  // where the current input starts in the output
    for (const auto& input : inputs) {
      const int video_in = input->first_stream(AVMEDIA_TYPE_VIDEO);
      const int audio_in = input->first_stream(AVMEDIA_TYPE_AUDIO);
      std::int64_t end_ms = offset_ms;
      while (true) {
        const int err = av_read_frame(input->ctx, pkt.get());
        if (err < 0) break;  // end of file, or a truncated last fragment: the recording ends there
        const int si = pkt->stream_index;
        const int out_index = si == video_in ? file.video_index() : si == audio_in ? file.audio_index() : -1;
        // A sample cut short (a crash mid-fragment) is dropped, not decoded as garbage.
        if (out_index < 0 || pkt->dts == AV_NOPTS_VALUE || (pkt->flags & AV_PKT_FLAG_CORRUPT)) {
          av_packet_unref(pkt.get());
          continue;
        }
        const AVRational tb = input->ctx->streams[si]->time_base;
        const auto shift = av_rescale_q(offset_ms, AVRational{1, 1000}, tb);
        pkt->dts += shift;
        if (pkt->pts != AV_NOPTS_VALUE) pkt->pts += shift;
        end_ms = std::max(end_ms, av_rescale_q(pkt->dts + std::max<std::int64_t>(pkt->duration, 0), tb,
                                               AVRational{1, 1000}));
        file.write(out_index, pkt.get(), tb);
      }
      offset_ms = end_ms + 1;
    }
    file.finish();
  } catch (...) {
    fs::remove(tmp, ec);  // a full disk leaves no half-written VOD behind
    throw;
  }
  inputs.clear();
  fs::rename(tmp, out);
  fs::remove(fragmented, ec);
}

}  // namespace

}  // namespace souk::packager
