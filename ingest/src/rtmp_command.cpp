// RTMP command decoding and control message encoding.
#include "souk/ingest/rtmp_command.hpp"

namespace souk::ingest {
namespace {

std::vector<std::uint8_t> be32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::vector<std::uint8_t> user_control(std::uint16_t event, std::uint32_t value) {
  auto out = be32(value);
  out.insert(out.begin(), {static_cast<std::uint8_t>(event >> 8), static_cast<std::uint8_t>(event)});
  return out;
}

}  // namespace

std::string connect_app(const Command& connect) {
  std::string app;
  if (const auto* a = connect.object.get("app"); a && a->as_string()) app = *a->as_string();
  app = app.substr(0, app.find('?'));
  while (!app.empty() && app.back() == '/') app.pop_back();
  return app;
}

std::string loggable_app(std::string_view app, const std::string& ours) {
  const auto redacted = [](std::string_view s) {
    return s.size() <= 4 ? std::string(s) : std::string(s.substr(0, 4)) + "\u2026";
  };
  if (app.size() > ours.size() && app.substr(0, ours.size()) == ours && app[ours.size()] == '/') {
    return ours + "/" + redacted(app.substr(ours.size() + 1));
  }
  return redacted(app);
}

std::optional<amf0::Value> metadata_of(std::span<const std::uint8_t> payload) {
  auto values = amf0::decode_all(payload);
  if (!values || values->empty()) return std::nullopt;
  const auto* first = (*values)[0].as_string();
  if (!first) return std::nullopt;
  const std::size_t at = *first == "@setDataFrame" ? 1 : 0;
  if (values->size() <= at + 1) return std::nullopt;
  const auto* name = (*values)[at].as_string();
  if (!name || *name != "onMetaData") return std::nullopt;
  return std::move((*values)[at + 1]);
}

std::optional<Command> parse_command(std::span<const std::uint8_t> payload) {
  auto values = amf0::decode_all(payload);
  if (!values || values->size() < 2) return std::nullopt;
  const auto* name = (*values)[0].as_string();
  const auto* txn = (*values)[1].as_number();
  if (!name || !txn) return std::nullopt;
  Command c;
  c.name = *name;
  c.transaction_id = *txn;
  if (values->size() > 2) c.object = std::move((*values)[2]);
  for (std::size_t i = 3; i < values->size(); ++i) c.args.push_back(std::move((*values)[i]));
  return c;
}

std::string stream_key_of(const std::string& publish_name) {
  return publish_name.substr(0, publish_name.find('?'));
}

namespace control {
std::vector<std::uint8_t> set_chunk_size(std::uint32_t size) { return be32(size & 0x7fffffffu); }
std::vector<std::uint8_t> window_ack_size(std::uint32_t size) { return be32(size); }
std::vector<std::uint8_t> set_peer_bandwidth(std::uint32_t size, std::uint8_t limit_type) {
  auto out = be32(size);
  out.push_back(limit_type);
  return out;
}
std::vector<std::uint8_t> acknowledgement(std::uint32_t sequence) { return be32(sequence); }
std::vector<std::uint8_t> stream_begin(std::uint32_t stream_id) { return user_control(0, stream_id); }
std::vector<std::uint8_t> ping_response(std::uint32_t timestamp) { return user_control(7, timestamp); }
}  // namespace control

amf0::Value status_object(const char* level, const char* code, const std::string& description) {
  return amf0::Object{{{"level", level}, {"code", code}, {"description", description}}};
}

}  // namespace souk::ingest
