// RTMP commands and protocol control messages: decoding what a publisher sends,
// building what the server answers. Pure.
#pragma once

#include "souk/ingest/amf0.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace souk::ingest {

// A command message (type 20): name, transaction id, command object, arguments.
struct Command {
  std::string name;
  double transaction_id = 0;
  amf0::Value object;
  std::vector<amf0::Value> args;
};

std::optional<Command> parse_command(std::span<const std::uint8_t> payload);

// The onMetaData object of a data message (type 18): `onMetaData, {…}` or, as
// OBS and ffmpeg send it, `@setDataFrame, onMetaData, {…}`. None for any other
// data message, or one that does not decode.
std::optional<amf0::Value> metadata_of(std::span<const std::uint8_t> payload);

// The application a connect command asks for: its command object's `app`,
// without a query string or trailing slashes ("live/?x=1" is "live").
std::string connect_app(const Command& connect);

// The app as the log may show it: a stream key pasted into OBS's Server field
// (rtmp://host/live/KEY) comes as "live/KEY", and any other unknown app may be a
// key too, so only `ours` is shown whole; the rest as its first 4 characters.
std::string loggable_app(std::string_view app, const std::string& ours);

// The stream name of a publish command is the key; anything after '?' is ignored
// (OBS and some apps append query parameters).
std::string stream_key_of(const std::string& publish_name);

namespace control {
std::vector<std::uint8_t> set_chunk_size(std::uint32_t size);
std::vector<std::uint8_t> window_ack_size(std::uint32_t size);
std::vector<std::uint8_t> set_peer_bandwidth(std::uint32_t size, std::uint8_t limit_type);
std::vector<std::uint8_t> acknowledgement(std::uint32_t sequence);
// User Control events (RTMP spec 7.1.7).
std::vector<std::uint8_t> stream_begin(std::uint32_t stream_id);
std::vector<std::uint8_t> ping_response(std::uint32_t timestamp);
}  // namespace control

// {level, code, description} as onStatus and _result carry it.
amf0::Value status_object(const char* level, const char* code, const std::string& description);

}  // namespace souk::ingest
