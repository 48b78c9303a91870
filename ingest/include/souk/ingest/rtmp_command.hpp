// RTMP commands and protocol control messages: decoding what a publisher sends,
// building what the server answers. Pure.
#pragma once

#include "souk/ingest/amf0.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
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
