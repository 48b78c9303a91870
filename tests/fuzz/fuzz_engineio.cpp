// Fuzz target: an Engine.IO polling body, and the Socket.IO packet in each
// message; what decodes must survive an encode/decode round trip.
#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/realtime/socketio_codec.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace souk::api;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto payload = engineio::decode_payload(text);
  if (!std::holds_alternative<std::vector<engineio::Packet>>(payload)) return 0;
  for (const auto& p : std::get<std::vector<engineio::Packet>>(payload)) {
    if (p.type != engineio::PacketType::message) continue;
    const auto decoded = socketio::decode(p.data);
    if (!std::holds_alternative<socketio::Packet>(decoded)) continue;
    const auto again = socketio::decode(socketio::encode(std::get<socketio::Packet>(decoded)));
    if (!std::holds_alternative<socketio::Packet>(again)) __builtin_trap();
  }
  return 0;
}
