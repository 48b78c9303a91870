// Socket.IO v5 packets: "<type digit>[<attachments>-][<nsp>,][<ack id>][<JSON>]".
#include "souk/api/realtime/socketio_codec.hpp"

namespace souk::api::socketio {
namespace {

using nlohmann::json;

// Socket.IO ids are JavaScript numbers; larger ones would lose precision in the client.
constexpr std::uint64_t max_ack_id = (std::uint64_t{1} << 53) - 1;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Deepest nesting of '[' and '{' outside strings. Stops counting once past `limit`, so the
// caller can refuse a million '[' without handing them to the parser.
int json_depth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced input is the parser's to reject
    }
  }
  return deepest;
}

bool valid_data(PacketType type, bool present, const json& data) {
  switch (type) {
    case PacketType::connect:
      return !present || data.is_object();
    case PacketType::disconnect:
      return !present;
    case PacketType::event:
      return data.is_array() && !data.empty() && data.front().is_string();
    case PacketType::ack:
      return data.is_array();
    case PacketType::connect_error:
      return data.is_object();
    case PacketType::binary_event:
    case PacketType::binary_ack:
      return false;  // refused before the data is read
  }
  return false;
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::variant<Packet, DecodeError> decode(std::string_view text, int max_json_depth) {
  if (text.empty()) return DecodeError::empty;
  const char type_char = text.front();
  if (type_char < '0' || type_char > '6') return DecodeError::unknown_type;
  Packet p;
  p.type = static_cast<PacketType>(type_char - '0');
  // Binary packets announce attachments sent as separate binary frames, which we do not take.
  if (p.type == PacketType::binary_event || p.type == PacketType::binary_ack) {
    return DecodeError::binary_unsupported;
  }
  text.remove_prefix(1);

  // A namespace other than "/" is written "/name," (the encoder always adds the comma).
  if (!text.empty() && text.front() == '/') {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos) return DecodeError::bad_namespace;
    p.nsp = std::string(text.substr(0, comma));
    text.remove_prefix(comma + 1);
  }

  // The ack id: a run of digits right before the JSON.
  if (!text.empty() && is_digit(text.front())) {
    std::uint64_t id = 0;
    while (!text.empty() && is_digit(text.front())) {
      id = id * 10 + static_cast<std::uint64_t>(text.front() - '0');
      if (id > max_ack_id) return DecodeError::bad_ack_id;  // checked per digit: no overflow
      text.remove_prefix(1);
    }
    p.id = id;
  }
  if (p.type == PacketType::ack && !p.id) return DecodeError::bad_ack_id;

  const bool present = !text.empty();
  if (present) {
    if (json_depth(text, max_json_depth) > max_json_depth) return DecodeError::too_deep;
    p.data = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (p.data.is_discarded()) return DecodeError::malformed_json;
  }
  if (!valid_data(p.type, present, p.data)) return DecodeError::bad_payload;
  return p;
}

std::string encode(const Packet& p) {
  std::string out(1, static_cast<char>('0' + static_cast<int>(p.type)));
  // Attachments are not modelled: a binary packet is written with none, which is well formed.
  if (p.type == PacketType::binary_event || p.type == PacketType::binary_ack) out += "0-";
  if (!p.nsp.empty() && p.nsp != "/") {
    out += p.nsp;
    out += ',';
  }
  if (p.id) out += std::to_string(*p.id);
  if (!p.data.is_null()) out += dump(p.data);
  return out;
}

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::empty:
      return "empty socket.io packet";
    case DecodeError::unknown_type:
      return "unknown socket.io packet type";
    case DecodeError::binary_unsupported:
      return "binary socket.io packets are not supported";
    case DecodeError::bad_namespace:
      return "socket.io namespace not followed by ','";
    case DecodeError::bad_ack_id:
      return "bad socket.io ack id";
    case DecodeError::malformed_json:
      return "malformed JSON in socket.io packet";
    case DecodeError::too_deep:
      return "JSON nested too deeply in socket.io packet";
    case DecodeError::bad_payload:
      return "socket.io packet data has the wrong shape for its type";
  }
  return "unknown socket.io decode error";
}

std::string encode_event(std::string_view event, const nlohmann::json& payload) {
  json args = json::array();
  args.push_back(event);
  args.push_back(payload);
  return encode(Packet{PacketType::event, "/", std::nullopt, std::move(args)});
}

std::string encode_ack(std::uint64_t id, const nlohmann::json& payload) {
  json args = json::array();
  args.push_back(payload);
  return encode(Packet{PacketType::ack, "/", id, std::move(args)});
}

std::string encode_connect(std::string_view sid) {
  return encode(Packet{PacketType::connect, "/", std::nullopt, json{{"sid", sid}}});
}

std::string encode_connect_error(std::string_view nsp, std::string_view message) {
  return encode(Packet{PacketType::connect_error, std::string(nsp), std::nullopt,
                       json{{"message", message}}});
}

}  // namespace souk::api::socketio
