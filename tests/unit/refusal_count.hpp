// For unit tests of bounds: what souk_refused_total{reason} says in the
// process's registry now (0 if the reason was never counted).
#pragma once

#include "souk/metrics.hpp"

#include <string>

namespace souk::test {

inline double refusal_count(const std::string& reason) {
  const auto text = metrics::Registry::global().render();
  const auto line = "souk_refused_total{reason=\"" + reason + "\"} ";
  const auto at = text.find(line);
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + line.size()));
}

}  // namespace souk::test
