#include "souk/ingest/rtmp_command.hpp"

#include <doctest/doctest.h>

using namespace souk::ingest;

TEST_CASE("commands: publish parses name, transaction and arguments") {
  const auto bytes = amf0::encode_all({"publish", 5.0, nullptr, "abc123?token=x", "live"});
  const auto c = parse_command(bytes);
  REQUIRE(c);
  CHECK(c->name == "publish");
  CHECK(c->transaction_id == 5.0);
  REQUIRE(c->args.size() == 2);
  CHECK(stream_key_of(*c->args[0].as_string()) == "abc123");
  CHECK(stream_key_of("plain") == "plain");
}

TEST_CASE("commands: not a command") {
  CHECK_FALSE(parse_command(amf0::encode_all({5.0, "x"})));
  CHECK_FALSE(parse_command(amf0::encode_all({"onlyname"})));
  CHECK_FALSE(parse_command(std::vector<std::uint8_t>{0x02, 0x00}));
}

TEST_CASE("control messages have the wire layout of RTMP spec 5.4 and 7.1.7") {
  CHECK(control::set_chunk_size(60000) == std::vector<std::uint8_t>{0, 0, 0xea, 0x60});
  CHECK(control::set_peer_bandwidth(2500000, 2) ==
        std::vector<std::uint8_t>{0x00, 0x26, 0x25, 0xa0, 2});
  CHECK(control::stream_begin(1) == std::vector<std::uint8_t>{0, 0, 0, 0, 0, 1});
  CHECK(control::ping_response(0x01020304) == std::vector<std::uint8_t>{0, 7, 1, 2, 3, 4});
}
