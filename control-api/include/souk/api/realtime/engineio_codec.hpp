// Engine.IO protocol v4 packet and payload codec (pure: text in, packets out, and back).
// Spec: github.com/socketio/engine.io-protocol (v4). Only text packets are supported;
// Socket.IO runs on top of the `message` packet.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace souk::api::engineio {

// The type is the packet's first character on the wire.
enum class PacketType : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6',
};

struct Packet {
  PacketType type;
  std::string data;  // the text after the type digit ("probe" for a probe ping)
};

enum class DecodeError {
  empty,               // no type character
  unknown_type,        // a first character other than '0'..'6' or 'b'
  binary_unsupported,  // 'b' + base64: binary data over long-polling
};

// One packet as it travels in a WebSocket text frame or between record separators.
std::variant<Packet, DecodeError> decode_packet(std::string_view text);
std::string encode_packet(PacketType type, std::string_view data = {});

// An HTTP long-polling body: packets joined by the record separator '\x1e'.
// Fails on the first bad packet; an empty body (or an empty packet) is DecodeError::empty.
std::variant<std::vector<Packet>, DecodeError> decode_payload(std::string_view body);
// Joins already encoded packets with '\x1e'.
std::string encode_payload(const std::vector<std::string>& encoded_packets);

// The open packet's JSON (without the '0'), keys in the spec's order:
// {"sid":"...","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}.
// "upgrades" is [] when the WebSocket upgrade is not offered.
std::string open_packet(std::string_view sid, bool allow_websocket_upgrade, int ping_interval_ms,
                        int ping_timeout_ms, std::size_t max_payload);

const char* to_string(DecodeError e);

}  // namespace souk::api::engineio
