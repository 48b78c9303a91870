// What the API asks the media plane about a live stream's publisher, for the
// `ingest` section of stream details. app/ implements it over the ingest hub.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace souk::api {

class IngestStatusSource {
 public:
  virtual ~IngestStatusSource() = default;
  // For a stream being published now: {video, audio, bitrateKbps} as docs/api.md
  // names them (null where unknown). nullopt when nobody publishes it.
  virtual std::optional<nlohmann::json> publishing(const std::string& stream_id) = 0;
  // Whether the stream was recorded, so that ending it will produce a VOD.
  virtual bool has_recording(const std::string& stream_id) = 0;
};

}  // namespace souk::api
