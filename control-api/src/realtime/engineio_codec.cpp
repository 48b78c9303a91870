// Engine.IO v4 packets: "<type digit><data>"; long-polling payloads join them with '\x1e'.
#include "souk/api/realtime/engineio_codec.hpp"

#include <nlohmann/json.hpp>

namespace souk::api::engineio {
namespace {

// ASCII "record separator": never part of a UTF-8 multi-byte sequence, so byte splitting is safe.
constexpr char record_separator = '\x1e';

}  // namespace

std::variant<Packet, DecodeError> decode_packet(std::string_view text) {
  if (text.empty()) return DecodeError::empty;
  const char first = text.front();
  // 'b' marks base64 binary data in a polling payload (v4 sends raw binary over WebSocket).
  if (first == 'b') return DecodeError::binary_unsupported;
  if (first < '0' || first > '6') return DecodeError::unknown_type;
  return Packet{static_cast<PacketType>(first), std::string(text.substr(1))};
}

std::string encode_packet(PacketType type, std::string_view data) {
  std::string out;
  out.reserve(1 + data.size());
  out += static_cast<char>(type);
  out += data;
  return out;
}

std::variant<std::vector<Packet>, DecodeError> decode_payload(std::string_view body) {
  if (body.empty()) return DecodeError::empty;
  std::vector<Packet> packets;
  for (;;) {
    const auto end = body.find(record_separator);
    auto decoded = decode_packet(body.substr(0, end));
    if (const auto* error = std::get_if<DecodeError>(&decoded)) return *error;
    packets.push_back(std::move(std::get<Packet>(decoded)));
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 1);
  }
  return packets;
}

std::string encode_payload(const std::vector<std::string>& encoded_packets) {
  std::size_t size = encoded_packets.size();
  for (const auto& packet : encoded_packets) size += packet.size();
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < encoded_packets.size(); ++i) {
    if (i > 0) out += record_separator;
    out += encoded_packets[i];
  }
  return out;
}

std::string open_packet(std::string_view sid, bool allow_websocket_upgrade, int ping_interval_ms,
                        int ping_timeout_ms, std::size_t max_payload) {
  // ordered_json keeps the spec's key order, which makes the packet easy to compare in logs.
  nlohmann::ordered_json open;
  open["sid"] = sid;
  open["upgrades"] = allow_websocket_upgrade ? nlohmann::ordered_json::array({"websocket"})
                                             : nlohmann::ordered_json::array();
  open["pingInterval"] = ping_interval_ms;
  open["pingTimeout"] = ping_timeout_ms;
  open["maxPayload"] = max_payload;
  return open.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::empty:
      return "empty engine.io packet";
    case DecodeError::unknown_type:
      return "unknown engine.io packet type";
    case DecodeError::binary_unsupported:
      return "binary engine.io packets are not supported";
  }
  return "unknown engine.io decode error";
}

}  // namespace souk::api::engineio
