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

TEST_CASE("connect's app loses its query and trailing slashes; the log shows only ours whole") {
  Command c;
  c.object = amf0::Object{{{"app", "live/?token=1"}}};
  CHECK(connect_app(c) == "live");
  c.object = amf0::Object{{{"app", "live//"}}};
  CHECK(connect_app(c) == "live");
  CHECK(connect_app(Command{}).empty());
  CHECK(loggable_app("live", "live") == "live");
  CHECK(loggable_app("live/sk_abcdefgh", "live") == "live/sk_a\u2026");
  CHECK(loggable_app("secretkey", "live") == "secr\u2026");
  CHECK(loggable_app("abc", "live") == "abc");
}

TEST_CASE("metadata_of finds onMetaData, with or without @setDataFrame, and nothing else") {
  const amf0::Value meta = amf0::Object{{{"width", 1280.0}}};
  const auto encoded = [](std::initializer_list<amf0::Value> values) {
    std::vector<std::uint8_t> out;
    for (const auto& v : values) amf0::encode(v, out);
    return out;
  };
  const auto obs = metadata_of(encoded({"@setDataFrame", "onMetaData", meta}));
  REQUIRE(obs);
  CHECK(*obs->get("width")->as_number() == 1280.0);
  CHECK(metadata_of(encoded({"onMetaData", meta})));
  CHECK_FALSE(metadata_of(encoded({"onCuePoint", meta})));
  CHECK_FALSE(metadata_of(encoded({"@setDataFrame", "onMetaData"})));
  CHECK_FALSE(metadata_of(encoded({1.0, meta})));
  const std::vector<std::uint8_t> garbage{0x02, 0xff};
  CHECK_FALSE(metadata_of(garbage));
}
