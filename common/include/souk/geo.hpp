// Great-circle distance and the latitude/longitude box that bounds a circle, for
// "users within 2 km" queries: the box narrows an indexed scan, the distance decides.
#pragma once

#include <cmath>
#include <utility>
#include <vector>

namespace souk::geo {

inline constexpr double earth_radius_m = 6371008.8;  // IUGG mean radius
inline constexpr double pi = 3.14159265358979323846;

inline double radians(double deg) { return deg * pi / 180.0; }

// Haversine formula: accurate to well under a metre at city distances.
inline double distance_m(double lat1, double lon1, double lat2, double lon2) {
  const double dlat = radians(lat2 - lat1);
  const double dlon = radians(lon2 - lon1);
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(radians(lat1)) * std::cos(radians(lat2)) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * earth_radius_m * std::asin(std::sqrt(std::min(1.0, a)));
}

struct Box {
  double min_lat, max_lat;
  // One or two longitude ranges (two when the circle crosses the antimeridian).
  std::vector<std::pair<double, double>> lon_ranges;
};

// A box containing every point within radius_m of (lat, lon).
inline Box bounding_box(double lat, double lon, double radius_m) {
  const double dlat = radius_m / earth_radius_m * 180.0 / pi;
  Box box{std::max(-90.0, lat - dlat), std::min(90.0, lat + dlat), {}};
  const double cos_lat = std::cos(radians(std::max(std::abs(box.min_lat), std::abs(box.max_lat))));
  if (box.min_lat <= -90.0 || box.max_lat >= 90.0 || cos_lat < 1e-9) {
    box.lon_ranges = {{-180.0, 180.0}};  // the circle covers a pole
    return box;
  }
  const double dlon = dlat / cos_lat;
  if (dlon >= 180.0) {
    box.lon_ranges = {{-180.0, 180.0}};
  } else if (lon - dlon < -180.0) {
    box.lon_ranges = {{-180.0, lon + dlon}, {lon - dlon + 360.0, 180.0}};
  } else if (lon + dlon > 180.0) {
    box.lon_ranges = {{lon - dlon, 180.0}, {-180.0, lon + dlon - 360.0}};
  } else {
    box.lon_ranges = {{lon - dlon, lon + dlon}};
  }
  return box;
}

}  // namespace souk::geo
