// For the fuzz targets that reach the REST API: the real Api on an in-memory
// database (one per process, as in the server), logging off.
#pragma once

#include "souk/api/api.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"

namespace souk_fuzz {

inline souk::api::Api& api() {
  static const bool ready = [] {
    souk::init_crypto();
    souk::log::init(spdlog::level::off, souk::log::Format::text);
    return true;
  }();
  (void)ready;
  static souk::storage::Database db(":memory:");
  static souk::api::Api instance(db, [] {
    souk::api::ApiOptions o;
    o.data_dir = "/tmp";
    o.password_cost = souk::api::PasswordCost::minimum();
    return o;
  }());
  return instance;
}

}  // namespace souk_fuzz
