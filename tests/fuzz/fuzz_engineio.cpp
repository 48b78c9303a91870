// Fuzz target: an Engine.IO polling body, and the Socket.IO packet in each
// message. Oracles: the Engine.IO framing is lossless (re-encoding the decoded
// packets gives back the body byte for byte); a decoded Socket.IO packet
// re-encodes to one that decodes to the same packet (type, namespace, ack id,
// data), and that encoding is canonical (encoding it again changes nothing).
#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/realtime/socketio_codec.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace souk::api;

bool same(const socketio::Packet& a, const socketio::Packet& b) {
  return a.type == b.type && a.nsp == b.nsp && a.id == b.id && a.data == b.data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto payload = engineio::decode_payload(text);
  if (!std::holds_alternative<std::vector<engineio::Packet>>(payload)) return 0;
  const auto& packets = std::get<std::vector<engineio::Packet>>(payload);
  std::vector<std::string> encoded;
  for (const auto& p : packets) encoded.push_back(engineio::encode_packet(p.type, p.data));
  if (engineio::encode_payload(encoded) != text) __builtin_trap();

  for (const auto& p : packets) {
    if (p.type != engineio::PacketType::message) continue;
    const auto decoded = socketio::decode(p.data);
    if (!std::holds_alternative<socketio::Packet>(decoded)) continue;
    const auto& packet = std::get<socketio::Packet>(decoded);
    const auto once = socketio::encode(packet);
    const auto again = socketio::decode(once);
    if (!std::holds_alternative<socketio::Packet>(again)) __builtin_trap();
    if (!same(packet, std::get<socketio::Packet>(again))) __builtin_trap();
    if (socketio::encode(std::get<socketio::Packet>(again)) != once) __builtin_trap();
  }
  return 0;
}
