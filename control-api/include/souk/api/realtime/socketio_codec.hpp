// Socket.IO protocol v5 packet codec (pure: the text of an Engine.IO message in, a packet out,
// and back). Spec: github.com/socketio/socket.io-protocol (v5). Binary packets are refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace souk::api::socketio {

enum class PacketType {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct Packet {
  PacketType type = PacketType::event;
  std::string nsp = "/";            // namespace; starts with '/'
  std::optional<std::uint64_t> id;  // ack id, at most 2^53 - 1
  nlohmann::json data;              // null when absent
};

enum class DecodeError {
  empty,               // no type digit
  unknown_type,        // a first character other than '0'..'6'
  binary_unsupported,  // BINARY_EVENT / BINARY_ACK (attachments travel in separate frames)
  bad_namespace,       // "/nsp" not ended by ','
  bad_ack_id,          // more than 2^53 - 1, or an ACK without an id
  malformed_json,      // the data is not one JSON value
  too_deep,            // JSON nested deeper than max_json_depth
  bad_payload,         // valid JSON of the wrong shape for the packet type
};

// Decodes the text of an Engine.IO message packet (without its '4'):
//   <type digit>[<nsp>,][<ack id>][<JSON>]
// Data rules: CONNECT absent or an object; DISCONNECT none; EVENT a non-empty array whose first
// element is a string (the event name); ACK an array (and an id); CONNECT_ERROR an object.
// Nesting is checked before parsing, so hostile input cannot exhaust the stack.
std::variant<Packet, DecodeError> decode(std::string_view text, int max_json_depth = 32);

// Never fails: invalid UTF-8 in strings is replaced with U+FFFD; null data is left out.
std::string encode(const Packet& p);

const char* to_string(DecodeError e);

// Builders for what the server sends, on the default namespace unless stated.
// 2["event",payload]
std::string encode_event(std::string_view event, const nlohmann::json& payload);
// 3<id>[payload]
std::string encode_ack(std::uint64_t id, const nlohmann::json& payload);
// 0{"sid":"..."}
std::string encode_connect(std::string_view sid);
// 4{"message":"..."}, or 4/nsp,{"message":"..."} when nsp != "/".
std::string encode_connect_error(std::string_view nsp, std::string_view message);

}  // namespace souk::api::socketio
