// Where the API writes the events it announces to the outside (webhooks): app/
// implements it over the outbox table and registers it with
// StreamLifecycle::set_event_outbox. enqueue() runs inside the write
// transaction that makes the change, so the event is stored with it or not at all.
#pragma once

#include "souk/time.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace souk::storage {
class Connection;
}

namespace souk::api {

class EventOutbox {
 public:
  virtual ~EventOutbox() = default;

  // Inside the caller's write transaction (blocking-work thread).
  virtual void enqueue(storage::Connection& c, const std::string& type,
                       const std::string& stream_id, const nlohmann::json& data, UnixMillis at) = 0;
  // After that transaction committed: deliver soon. Returns at once.
  virtual void committed() = 0;
};

}  // namespace souk::api
