// A routing table with path parameters: "/streams/{id}/products/{pid}/tag".
// Pure: matching is a function of method and path only.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace souk::api {

class PathParams {
 public:
  void add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
  }
  // Empty when absent.
  std::string_view get(std::string_view name) const {
    for (const auto& [k, v] : items_) {
      if (k == name) return v;
    }
    return {};
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

template <class Handler>
class Router {
 public:
  enum class Outcome { found, not_found, method_not_allowed };

  struct Match {
    Outcome outcome = Outcome::not_found;
    const Handler* handler = nullptr;
    PathParams params;
    std::vector<std::string> allowed;  // methods the path accepts (for 405 and OPTIONS)
    // The pattern the path matched ("/streams/{id}"), empty when none did. Points
    // into the router, which outlives every request (metrics label requests with it).
    std::string_view pattern;
  };

  // A registered route as it was added: ("GET", "/api/v1/streams/{id}").
  struct Entry {
    std::string method;
    std::string pattern;
  };

  void add(std::string method, std::string_view pattern, Handler handler) {
    routes_.push_back(
        Route{std::move(method), std::string(pattern), split(pattern), std::move(handler)});
  }

  // Every route in the order added (for the OpenAPI document's test).
  std::vector<Entry> entries() const {
    std::vector<Entry> out;
    out.reserve(routes_.size());
    for (const Route& r : routes_) out.push_back(Entry{r.method, r.pattern});
    return out;
  }

  Match match(std::string_view method, std::string_view path) const {
    Match m;
    const auto segments = split(path);
    for (const Route& r : routes_) {
      PathParams params;
      if (!matches(r.segments, segments, params)) continue;
      if (m.pattern.empty()) m.pattern = r.pattern;
      if (std::find(m.allowed.begin(), m.allowed.end(), r.method) == m.allowed.end()) {
        m.allowed.push_back(r.method);
      }
      if (r.method == method && m.outcome != Outcome::found) {
        m.outcome = Outcome::found;
        m.handler = &r.handler;
        m.params = std::move(params);
      }
    }
    if (m.outcome != Outcome::found && !m.allowed.empty()) {
      m.outcome = Outcome::method_not_allowed;
    }
    return m;
  }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };

  // "/a/b/" -> {"a", "b", ""}: a trailing slash is a distinct (empty) segment.
  static std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    if (path.empty() || path.front() != '/') {
      out.emplace_back(path);
      return out;
    }
    std::size_t start = 1;
    while (true) {
      const auto slash = path.find('/', start);
      out.emplace_back(path.substr(start, slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return out;
  }

  static bool matches(const std::vector<std::string>& pattern,
                      const std::vector<std::string>& segments, PathParams& params) {
    if (pattern.size() != segments.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      const std::string& p = pattern[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        if (segments[i].empty()) return false;
        params.add(p.substr(1, p.size() - 2), segments[i]);
      } else if (p != segments[i]) {
        return false;
      }
    }
    return true;
  }

  std::vector<Route> routes_;
};

}  // namespace souk::api
