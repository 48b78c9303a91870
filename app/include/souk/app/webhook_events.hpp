// The API's event outbox over the webhook tables: each event becomes one delivery
// per configured receiver, in the caller's transaction, and the dispatcher is
// woken once it commits.
#pragma once

#include "souk/api/event_outbox.hpp"
#include "souk/webhooks/outbox.hpp"

#include <string>
#include <vector>

namespace souk::app {

class WebhookEvents final : public api::EventOutbox {
 public:
  WebhookEvents(std::vector<std::string> urls, webhooks::Dispatcher& dispatcher)
      : urls_(std::move(urls)), dispatcher_(dispatcher) {}

  void enqueue(storage::Connection& c, const std::string& type, const std::string& stream_id,
               const nlohmann::json& data, UnixMillis at) override {
    webhooks::enqueue(c, urls_, type, stream_id, data, at);
  }
  void committed() override { dispatcher_.wake(); }

 private:
  std::vector<std::string> urls_;
  webhooks::Dispatcher& dispatcher_;
};

}  // namespace souk::app
