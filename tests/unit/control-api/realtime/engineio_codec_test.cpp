#include "souk/api/realtime/engineio_codec.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace souk::api::engineio;

namespace {

const std::string rs = "\x1e";  // the record separator between polling packets

Packet decoded(std::string_view text) {
  auto result = decode_packet(text);
  REQUIRE(std::holds_alternative<Packet>(result));
  return std::get<Packet>(std::move(result));
}

DecodeError error_of(std::string_view text) {
  const auto result = decode_packet(text);
  REQUIRE(std::holds_alternative<DecodeError>(result));
  return std::get<DecodeError>(result);
}

std::vector<Packet> decoded_payload(std::string_view body) {
  auto result = decode_payload(body);
  REQUIRE(std::holds_alternative<std::vector<Packet>>(result));
  return std::get<std::vector<Packet>>(std::move(result));
}

DecodeError payload_error_of(std::string_view body) {
  const auto result = decode_payload(body);
  REQUIRE(std::holds_alternative<DecodeError>(result));
  return std::get<DecodeError>(result);
}

}  // namespace

TEST_CASE("engine.io: every packet type round trips, with and without data") {
  for (const auto type : {PacketType::open, PacketType::close, PacketType::ping, PacketType::pong,
                          PacketType::message, PacketType::upgrade, PacketType::noop}) {
    for (const std::string_view data : {"", "probe", "2[\"x\"]"}) {
      CAPTURE(static_cast<char>(type));
      CAPTURE(data);
      const auto p = decoded(encode_packet(type, data));
      CHECK(p.type == type);
      CHECK(p.data == data);
    }
  }
}

TEST_CASE("engine.io: the packets of a v4 session as written on the wire") {
  // Heartbeat: the server pings, the client answers.
  CHECK(encode_packet(PacketType::ping) == "2");
  CHECK(decoded("3").type == PacketType::pong);
  CHECK(decoded("3").data.empty());
  // WebSocket upgrade: client "2probe", server "3probe", client "5"; "6" flushes a pending GET.
  const auto probe = decoded("2probe");
  CHECK(probe.type == PacketType::ping);
  CHECK(probe.data == "probe");
  CHECK(encode_packet(PacketType::pong, "probe") == "3probe");
  CHECK(decoded("5").type == PacketType::upgrade);
  CHECK(encode_packet(PacketType::noop) == "6");
  // A message carries Socket.IO text after the '4'; a client closing sends "1".
  const auto message = decoded(R"(42["stream:join",{"stream_id":"x"}])");
  CHECK(message.type == PacketType::message);
  CHECK(message.data == R"(2["stream:join",{"stream_id":"x"}])");
  CHECK(decoded("1").type == PacketType::close);
}

TEST_CASE("engine.io: the open packet lists its fields in the spec's order") {
  CHECK(
      encode_packet(PacketType::open, open_packet("lv9-p3Yz", true, 25000, 20000, 1000000)) ==
      R"(0{"sid":"lv9-p3Yz","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
  // Without the upgrade the client stays on long-polling.
  CHECK(open_packet("s", false, 1000, 500, 64) ==
        R"({"sid":"s","upgrades":[],"pingInterval":1000,"pingTimeout":500,"maxPayload":64})");
  // The sid is JSON-escaped, never spliced in raw.
  CHECK(open_packet("a\"b", false, 1, 1, 1) ==
        R"({"sid":"a\"b","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1})");
}

TEST_CASE("engine.io: a polling payload splits at record separators, UTF-8 intact") {
  // "4hello" RS "4❤️ live" RS "2"; ❤️ is U+2764 U+FE0F, bytes E2 9D A4 EF B8 8F.
  const auto packets = decoded_payload("4hello" + rs + "4\xe2\x9d\xa4\xef\xb8\x8f live" + rs + "2");
  REQUIRE(packets.size() == 3);
  CHECK(packets[0].type == PacketType::message);
  CHECK(packets[0].data == "hello");
  CHECK(packets[1].type == PacketType::message);
  CHECK(packets[1].data == "❤️ live");
  CHECK(packets[2].type == PacketType::ping);
  CHECK(packets[2].data.empty());

  const auto single = decoded_payload(R"(40{"token":"abc"})");
  REQUIRE(single.size() == 1);
  CHECK(single[0].data == R"(0{"token":"abc"})");
}

TEST_CASE("engine.io: a payload is its packets joined by record separators") {
  CHECK(encode_payload({}).empty());
  CHECK(encode_payload({"6"}) == "6");
  const std::string body =
      encode_payload({encode_packet(PacketType::message, "2[\"chat\",\"❤️\"]"),
                      encode_packet(PacketType::ping)});
  CHECK(body == "42[\"chat\",\"❤️\"]" + rs + "2");
  const auto packets = decoded_payload(body);
  REQUIRE(packets.size() == 2);
  CHECK(packets[0].data == "2[\"chat\",\"❤️\"]");
  CHECK(packets[1].type == PacketType::ping);
}

TEST_CASE("engine.io: malformed packets yield their specific error") {
  CHECK(error_of("") == DecodeError::empty);
  CHECK(error_of("9") == DecodeError::unknown_type);
  CHECK(error_of("7x") == DecodeError::unknown_type);
  CHECK(error_of("/") == DecodeError::unknown_type);  // the character before '0'
  CHECK(error_of("hello") == DecodeError::unknown_type);
  CHECK(error_of("bAQID") == DecodeError::binary_unsupported);  // base64 of 01 02 03
}

TEST_CASE("engine.io: a payload fails on its first bad packet") {
  CHECK(payload_error_of("") == DecodeError::empty);
  CHECK(payload_error_of("4a" + rs) == DecodeError::empty);  // a trailing separator: empty packet
  CHECK(payload_error_of(rs + "4a") == DecodeError::empty);
  CHECK(payload_error_of("4a" + rs + rs + "4b") == DecodeError::empty);
  CHECK(payload_error_of("4a" + rs + "9" + rs + "bAQID") == DecodeError::unknown_type);
  CHECK(payload_error_of("4hello" + rs + "bAQID") == DecodeError::binary_unsupported);
}

TEST_CASE("engine.io: every decode error has a description") {
  for (const auto e :
       {DecodeError::empty, DecodeError::unknown_type, DecodeError::binary_unsupported}) {
    CHECK(std::string(to_string(e)).size() > 0);
  }
  CHECK(std::string(to_string(DecodeError::empty)) != to_string(DecodeError::unknown_type));
}
