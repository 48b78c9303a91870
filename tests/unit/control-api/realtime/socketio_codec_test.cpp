#include "souk/api/realtime/socketio_codec.hpp"

#include "souk/api/realtime/engineio_codec.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace souk::api::socketio;
using nlohmann::json;
namespace engineio = souk::api::engineio;

namespace {

Packet decoded(std::string_view text) {
  auto result = decode(text);
  REQUIRE(std::holds_alternative<Packet>(result));
  return std::get<Packet>(std::move(result));
}

DecodeError error_of(std::string_view text, int max_json_depth = 32) {
  const auto result = decode(text, max_json_depth);
  REQUIRE(std::holds_alternative<DecodeError>(result));
  return std::get<DecodeError>(result);
}

// A WebSocket text frame from socket.io-client: an Engine.IO message ('4') around the packet.
Packet from_client(std::string_view frame) {
  auto message = engineio::decode_packet(frame);
  REQUIRE(std::holds_alternative<engineio::Packet>(message));
  const auto& eio = std::get<engineio::Packet>(message);
  REQUIRE(eio.type == engineio::PacketType::message);
  return decoded(eio.data);
}

std::string to_client(const std::string& socketio_text) {
  return engineio::encode_packet(engineio::PacketType::message, socketio_text);
}

void check_round_trip(const Packet& p) {
  const auto back = decoded(encode(p));
  CHECK(back.type == p.type);
  CHECK(back.nsp == p.nsp);
  CHECK(back.id == p.id);
  CHECK(back.data == p.data);
}

}  // namespace

TEST_CASE("socket.io: every non-binary type round trips, on / and on a namespace") {
  for (const std::string nsp : {"/", "/admin"}) {
    CAPTURE(nsp);
    check_round_trip({PacketType::connect, nsp, std::nullopt, nullptr});
    check_round_trip({PacketType::connect, nsp, std::nullopt, json{{"token", "abc"}}});
    check_round_trip({PacketType::disconnect, nsp, std::nullopt, nullptr});
    check_round_trip({PacketType::event, nsp, std::nullopt, json::array({"stream:chat", "hi"})});
    check_round_trip(
        {PacketType::event, nsp, 7, json::array({"stream:join", {{"stream_id", "x"}}})});
    check_round_trip({PacketType::ack, nsp, 0, json::array()});
    check_round_trip({PacketType::ack, nsp, 12, json::array({{{"ok", true}}})});
    check_round_trip({PacketType::connect_error, nsp, std::nullopt, json{{"message", "denied"}}});
  }
}

TEST_CASE("socket.io: the frames socket.io-client v4 sends") {
  // 4 (engine.io message) 0 (CONNECT), no auth
  auto p = from_client("40");
  CHECK(p.type == PacketType::connect);
  CHECK(p.nsp == "/");
  CHECK_FALSE(p.id);
  CHECK(p.data.is_null());

  // 4 0 {auth}
  p = from_client(R"(40{"token":"abc"})");
  CHECK(p.type == PacketType::connect);
  CHECK(p.data == json{{"token", "abc"}});

  // 4 0 /admin , {auth}
  p = from_client("40/admin,{}");
  CHECK(p.type == PacketType::connect);
  CHECK(p.nsp == "/admin");
  CHECK(p.data == json::object());

  // 4 2 ["event", arg]
  p = from_client(R"(42["stream:join",{"stream_id":"x"}])");
  CHECK(p.type == PacketType::event);
  CHECK_FALSE(p.id);
  CHECK(p.data == json::array({"stream:join", {{"stream_id", "x"}}}));

  // 4 2 1 (ack id) ["event", arg]
  p = from_client(R"(421["stream:chat",{"stream_id":"x","text":"❤️"}])");
  CHECK(p.type == PacketType::event);
  CHECK(p.id == 1u);
  CHECK(p.data[0] == "stream:chat");
  CHECK(p.data[1]["text"] == "❤️");

  // 4 3 15 (ack id) [reply]: the client answering a server event sent with an ack id
  p = from_client(R"(4315["ok"])");
  CHECK(p.type == PacketType::ack);
  CHECK(p.id == 15u);
  CHECK(p.data == json::array({"ok"}));

  // 4 1: leaving "/"; 4 1 /admin , : leaving /admin
  p = from_client("41");
  CHECK(p.type == PacketType::disconnect);
  CHECK(p.nsp == "/");
  p = from_client("41/admin,");
  CHECK(p.type == PacketType::disconnect);
  CHECK(p.nsp == "/admin");

  // 4 2 /admin , 3 (ack id) [...]
  p = from_client(R"(42/admin,3["kick","u1"])");
  CHECK(p.nsp == "/admin");
  CHECK(p.id == 3u);
  CHECK(p.data == json::array({"kick", "u1"}));
}

TEST_CASE("socket.io: the frames the server sends") {
  CHECK(to_client(encode_connect("Yz7-kP2q")) == R"(40{"sid":"Yz7-kP2q"})");
  CHECK(to_client(encode_ack(1, {{"ok", true}})) == R"(431[{"ok":true}])");
  CHECK(to_client(encode_event("stream:viewers", {{"count", 3}})) ==
        R"(42["stream:viewers",{"count":3}])");
  CHECK(to_client(encode_connect_error("/", "unauthorized")) == R"(44{"message":"unauthorized"})");
  CHECK(to_client(encode_connect_error("/admin", "unauthorized")) ==
        R"(44/admin,{"message":"unauthorized"})");
  CHECK(to_client(encode({PacketType::disconnect, "/", std::nullopt, nullptr})) == "41");
  CHECK(encode({PacketType::ack, "/admin", 2, json::array()}) == "3/admin,2[]");
}

TEST_CASE("socket.io: encoding keeps UTF-8 and never fails on invalid UTF-8") {
  CHECK(encode_event("stream:chat", {{"text", "❤️"}}) ==
        R"(2["stream:chat",{"text":"❤️"}])");
  // A lone 0xFF byte cannot be JSON: it becomes U+FFFD (EF BF BD) instead of throwing.
  CHECK(encode_event("stream:chat", "a\xff") == "2[\"stream:chat\",\"a\xef\xbf\xbd\"]");
  // Quotes in the sid or message are escaped.
  CHECK(encode_connect("a\"b") == R"(0{"sid":"a\"b"})");
}

TEST_CASE("socket.io: ack ids up to 2^53 - 1") {
  CHECK(decoded(R"(39007199254740991[])").id == 9007199254740991u);
  CHECK(decoded(R"(2007["x"])").id == 7u);  // leading zeros, as Number("007") reads them
  CHECK(error_of(R"(39007199254740992[])") == DecodeError::bad_ack_id);
  CHECK(error_of(R"(3123456789012345678901234567890[])") == DecodeError::bad_ack_id);
  CHECK(error_of(R"(2123456789012345678901234567890["x"])") == DecodeError::bad_ack_id);
  CHECK(error_of("3[]") == DecodeError::bad_ack_id);  // an ACK must say what it answers
}

TEST_CASE("socket.io: malformed packets yield their specific error") {
  CHECK(error_of("") == DecodeError::empty);
  CHECK(error_of("9") == DecodeError::unknown_type);
  CHECK(error_of("x[]") == DecodeError::unknown_type);
  CHECK(error_of(R"(51-["up",{"_placeholder":true,"num":0}])") == DecodeError::binary_unsupported);
  CHECK(error_of("61-0[{\"_placeholder\":true,\"num\":0}]") == DecodeError::binary_unsupported);
  CHECK(error_of("0/admin") == DecodeError::bad_namespace);
  CHECK(error_of(R"(2/admin["x"])") == DecodeError::bad_namespace);
  CHECK(error_of(R"(2["x",)") == DecodeError::malformed_json);
  CHECK(error_of(R"(2["x"] trailing)") == DecodeError::malformed_json);
  CHECK(error_of("0{token}") == DecodeError::malformed_json);
  CHECK(error_of("2[\"\xff\"]") == DecodeError::malformed_json);  // invalid UTF-8
}

TEST_CASE("socket.io: data of the wrong shape for its type is a bad payload") {
  CHECK(error_of(R"(2{"name":"x"})") == DecodeError::bad_payload);  // EVENT: not an array
  CHECK(error_of(R"(2"x")") == DecodeError::bad_payload);
  CHECK(error_of("2[]") == DecodeError::bad_payload);               // EVENT: no name
  CHECK(error_of("2[1]") == DecodeError::bad_payload);              // EVENT: name not a string
  CHECK(error_of("2") == DecodeError::bad_payload);                 // EVENT: no data
  CHECK(error_of(R"(0["token"])") == DecodeError::bad_payload);     // CONNECT: an array
  CHECK(error_of("0null") == DecodeError::bad_payload);             // CONNECT: present but null
  CHECK(error_of("1{}") == DecodeError::bad_payload);               // DISCONNECT: any data
  CHECK(error_of(R"(31{"ok":true})") == DecodeError::bad_payload);  // ACK: not an array
  CHECK(error_of("31") == DecodeError::bad_payload);                // ACK: no data
  CHECK(error_of(R"(4"denied")") == DecodeError::bad_payload);      // CONNECT_ERROR: not an object
  CHECK(error_of("4") == DecodeError::bad_payload);
}

TEST_CASE("socket.io: nesting is limited before parsing") {
  const auto nested = [](int depth) {
    return "2[\"x\"," + std::string(static_cast<std::size_t>(depth - 1), '[') +
           std::string(static_cast<std::size_t>(depth), ']');
  };
  CHECK(decoded(nested(32)).data[0] == "x");  // 32 levels, counting the arguments array
  CHECK(error_of(nested(33)) == DecodeError::too_deep);
  CHECK(error_of(nested(3), 2) == DecodeError::too_deep);
  // A million-level attack is refused without reaching the parser (it is not even closed).
  CHECK(error_of("2" + std::string(100000, '[')) == DecodeError::too_deep);
  CHECK(error_of("0" + std::string(100000, '{')) == DecodeError::too_deep);
  // Brackets inside strings, after escaped quotes too, do not count.
  const std::string brackets(100, '[');
  CHECK(decoded("2[\"x\",\"" + brackets + "\"]").data[1] == brackets);
  CHECK(decoded("2[\"x\",\"\\\"" + brackets + "\"]").data[1] == "\"" + brackets);
}

TEST_CASE("socket.io: every prefix of a client packet decodes or fails cleanly") {
  const std::string frame = R"(2/admin,12["stream:chat",{"text":"❤️ \"hi\""}])";
  for (std::size_t n = 0; n <= frame.size(); ++n) {
    CAPTURE(n);
    const auto result = decode(std::string_view(frame).substr(0, n));
    CHECK((n == frame.size()) == std::holds_alternative<Packet>(result));
  }
}

TEST_CASE("socket.io: every decode error has a distinct description") {
  const DecodeError all[] = {
      DecodeError::empty,         DecodeError::unknown_type, DecodeError::binary_unsupported,
      DecodeError::bad_namespace, DecodeError::bad_ack_id,   DecodeError::malformed_json,
      DecodeError::too_deep,      DecodeError::bad_payload};
  for (const auto a : all) {
    for (const auto b : all) {
      if (a != b) CHECK(std::string(to_string(a)) != to_string(b));
    }
  }
}
