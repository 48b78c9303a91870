// What the control API tells the rest of the server about a stream's lifecycle.
// The realtime plane (Socket.IO rooms) and the media plane (ingest, HLS,
// recording) implement it; app/ registers them with
// StreamLifecycle::add_observer. Calls come from a blocking-work thread after
// the change is committed; an implementation must return quickly (post to its
// own executor).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace souk::api {

class StreamObserver {
 public:
  virtual ~StreamObserver() = default;

  // The stream went live; `notified` holds the users who got a notification row.
  virtual void stream_live(const std::string& stream_id, const std::vector<std::string>& notified) = 0;
  // The stream ended; `summary` is the /end response's data.
  virtual void stream_ended(const std::string& stream_id, const nlohmann::json& summary) = 0;
  // The owner tagged a product; `tag` is {streamId, productId, x, y, timestampSeconds}.
  virtual void product_tagged(const std::string& stream_id, const nlohmann::json& tag) = 0;
};

}  // namespace souk::api
